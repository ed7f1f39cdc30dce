//! Latency histograms: HdrHistograms of integer microseconds, mergeable and serializable.
//!
//! # Precision
//! Every [`LatencyHistogram`] keeps **3 significant decimal digits**: values up to 2,047 µs are
//! stored exactly (1 µs resolution); a larger value `v` is stored in a bucket whose width is at
//! most `v / 1024`, so any statistic read back (percentile, min, max) is within **0.1 %** of the
//! exact value. Percentiles use the *nearest-rank* definition: `percentile_ms(p)` is the
//! smallest recorded value (rounded up to its bucket's highest equivalent value) such that at
//! least `p` % of all recorded values are at or below it. (vLLM's benchmark interpolates linearly
//! between ranks instead; the two agree on large samples.)
//!
//! By default the histogram grows to fit any value (auto-resize); [`LatencyHistogram::with_max_us`]
//! fixes the highest trackable value instead, and records larger values *at* that maximum.
//!
//! # Serialized form
//! The report stores a histogram as [`HistogramData`]: the significant digits and a sparse list
//! `[[value_us, count], ...]` of the non-empty buckets in ascending order, where `value_us` is
//! the bucket's **highest equivalent value** (what HdrHistogram's `iter_recorded` reports).
//! Re-recording each `value_us` `count` times lands every count in the bucket it came from, so the
//! histogram read back gives exactly the same percentiles, min, max, mean and standard deviation
//! (tested below).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Significant decimal digits kept by every [`LatencyHistogram`].
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// The largest value HdrHistogram can track, in µs (about 292,000 years).
const MAX_TRACKABLE_US: u64 = u64::MAX / 2;

/// A histogram of latencies in integer microseconds with 3 significant digits: exact below
/// 2,048 µs, within 0.1 % above (see the module docs).
///
/// Serializes as `HistogramData`: the significant digits and the sparse non-empty buckets.
/// Two histograms are equal when they hold the same counts in the same buckets.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(into = "HistogramData", try_from = "HistogramData")]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
}

/// A point of a cumulative distribution, for charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CdfPoint {
    /// The value, in milliseconds (a bucket's highest equivalent value).
    pub value_ms: f64,
    /// Fraction of all recorded values at or below `value_ms`, in `(0, 1]`.
    pub fraction: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("buckets_us", &self.to_data().buckets_us)
            .finish()
    }
}

impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.inner.sigfig() == other.inner.sigfig()
            && self.inner.len() == other.inner.len()
            && self.buckets().eq(other.buckets())
    }
}

impl LatencyHistogram {
    /// An empty histogram that grows to fit any value.
    pub fn new() -> Self {
        Self {
            inner: Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits are valid"),
        }
    }

    /// An empty histogram with a fixed highest trackable value (at least 2 µs). Values above it
    /// are recorded as `max_us`: the histogram never resizes, and outliers beyond the maximum
    /// are hidden in its top bucket.
    pub fn with_max_us(max_us: u64) -> Self {
        let high = max_us.clamp(2, MAX_TRACKABLE_US);
        Self {
            inner: Histogram::new_with_bounds(1, high, SIGNIFICANT_DIGITS)
                .expect("bounds 1..=high with high >= 2 and 3 significant digits are valid"),
        }
    }

    /// Records one value in µs.
    pub fn record(&mut self, value_us: u64) {
        self.record_n(value_us, 1);
    }

    /// Records `count` occurrences of one value in µs.
    pub fn record_n(&mut self, value_us: u64, count: u64) {
        if count == 0 {
            return;
        }
        let value_us = value_us.min(MAX_TRACKABLE_US);
        // With auto-resize, only a value beyond the counts array's addressable size can fail;
        // it is clamped like a value above a fixed maximum.
        if self.inner.is_auto_resize() && self.inner.record_n(value_us, count).is_ok() {
            return;
        }
        self.inner.saturating_record_n(value_us, count);
    }

    /// Adds every count of `other` into this histogram (histograms from different shards or
    /// threads merge into the histogram of all their values).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if self.inner.add(&other.inner).is_err() {
            // A fixed maximum smaller than `other`'s values: clamp bucket by bucket.
            for (value_us, count) in other.buckets() {
                self.inner.saturating_record_n(value_us, count);
            }
        }
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.inner.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The smallest recorded value in ms (its bucket's lowest equivalent value, so at most the
    /// exact minimum); 0 when empty.
    pub fn min_ms(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        us_to_ms(self.inner.min())
    }

    /// The largest recorded value in ms (its bucket's highest equivalent value); 0 when empty.
    pub fn max_ms(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        us_to_ms(self.inner.max())
    }

    /// The mean in ms (each value taken at its bucket's middle); 0 when empty.
    pub fn mean_ms(&self) -> f64 {
        self.moments_us().0 / 1000.0
    }

    /// The population standard deviation in ms (each value taken at its bucket's middle);
    /// 0 when empty.
    pub fn stddev_ms(&self) -> f64 {
        self.moments_us().1 / 1000.0
    }

    /// Mean and population standard deviation in µs, each value taken at its bucket's middle;
    /// one pass over the counts. `(0, 0)` when empty.
    pub fn moments_us(&self) -> (f64, f64) {
        let total = self.count();
        if total == 0 {
            return (0.0, 0.0);
        }
        let mids: Vec<(f64, f64)> = self
            .buckets()
            .map(|(v, c)| (self.inner.median_equivalent(v) as f64, c as f64))
            .collect();
        let total = total as f64;
        let mean = mids.iter().map(|(v, c)| v * c).sum::<f64>() / total;
        let var = mids
            .iter()
            .map(|(v, c)| (v - mean) * (v - mean) * c)
            .sum::<f64>()
            / total;
        (mean, var.sqrt())
    }

    /// The nearest-rank percentile `p` (0 to 100; clamped to that range; NaN reads as 0) in ms;
    /// 0 when empty. See the [module docs](self) for the definition.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        us_to_ms(self.percentile_us(p))
    }

    /// The nearest-rank percentile `p` in µs (see [`percentile_ms`](Self::percentile_ms)).
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.is_empty() {
            return 0;
        }
        // HdrHistogram answers quantile 0 with the lowest equivalent value; every other rank
        // with the highest. Use the highest for all, so percentile 0 is rank 1 like the others.
        self.inner
            .highest_equivalent(self.inner.value_at_quantile(clamp_percentile(p) / 100.0))
    }

    /// Several nearest-rank percentiles in µs, in the order given, with one pass over the
    /// counts; each equals [`percentile_us`](Self::percentile_us) of the same `p`.
    pub fn percentiles_us(&self, ps: &[f64]) -> Vec<u64> {
        let total = self.count();
        if total == 0 {
            return vec![0; ps.len()];
        }
        let mut order: Vec<(usize, u64)> = ps
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                // The same rank HdrHistogram computes: ceil(q * n), at least 1.
                let rank = ((clamp_percentile(p) / 100.0 * total as f64).ceil() as u64).max(1);
                (i, rank)
            })
            .collect();
        order.sort_by_key(|&(_, rank)| rank);
        let mut out = vec![0; ps.len()];
        let mut buckets = self.buckets();
        let (mut value, mut seen) = (0u64, 0u64);
        for (i, rank) in order {
            while seen < rank {
                let Some((v, c)) = buckets.next() else { break };
                value = v;
                seen += c;
            }
            out[i] = value;
        }
        out
    }

    /// The non-empty buckets in ascending order, as `(highest equivalent value in µs, count)`.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.inner
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
    }

    /// The cumulative distribution: one point per non-empty bucket, ascending; empty when the
    /// histogram is.
    pub fn cdf_ms(&self) -> Vec<CdfPoint> {
        let total = self.count();
        let mut seen = 0u64;
        self.buckets()
            .map(|(value_us, count)| {
                seen += count;
                CdfPoint {
                    value_ms: us_to_ms(value_us),
                    fraction: seen as f64 / total as f64,
                }
            })
            .collect()
    }

    /// The cumulative distribution thinned to at most `max_points` points (at least 2 when the
    /// histogram has 2 or more buckets): points are kept at evenly spaced ranks and the last point
    /// (fraction 1) is always kept. For drawing long-tailed CDFs without thousands of points.
    pub fn cdf_ms_thinned(&self, max_points: usize) -> Vec<CdfPoint> {
        let full = self.cdf_ms();
        let max_points = max_points.max(2);
        if full.len() <= max_points {
            return full;
        }
        let last = full.len() - 1;
        let mut out: Vec<CdfPoint> = (0..max_points)
            .map(|i| full[i * last / (max_points - 1)])
            .collect();
        out.dedup_by(|a, b| a.value_ms == b.value_ms);
        out
    }

    /// The serialized form (see [`HistogramData`]).
    pub fn to_data(&self) -> HistogramData {
        HistogramData {
            significant_digits: self.inner.sigfig(),
            buckets_us: self.buckets().map(|(v, c)| [v, c]).collect(),
        }
    }

    /// Rebuilds a histogram from its serialized form; the result grows to fit any value.
    ///
    /// At most [`SIGNIFICANT_DIGITS`] digits are read (what this tool writes): each digit more
    /// multiplies the memory of a histogram by up to ten, so a small file of 5-digit histograms
    /// holding large values would take gigabytes to load.
    pub fn from_data(data: &HistogramData) -> Result<Self, HistogramDataError> {
        if data.significant_digits > SIGNIFICANT_DIGITS {
            return Err(HistogramDataError::SignificantDigits(
                data.significant_digits,
            ));
        }
        let mut inner: Histogram<u64> =
            Histogram::new(data.significant_digits).expect("0 to 3 significant digits are valid");
        for (index, &[value_us, count]) in data.buckets_us.iter().enumerate() {
            if value_us > MAX_TRACKABLE_US {
                return Err(HistogramDataError::ValueTooLarge { index, value_us });
            }
            if count > 0 {
                inner
                    .record_n(value_us, count)
                    .map_err(|_| HistogramDataError::ValueTooLarge { index, value_us })?;
            }
        }
        Ok(Self { inner })
    }
}

/// A percentile clamped to 0..=100, NaN read as 0.
fn clamp_percentile(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The serialized form of a [`LatencyHistogram`]: sparse, non-empty buckets only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HistogramData {
    /// Significant decimal digits of the histogram (3 for every histogram this tool writes).
    pub significant_digits: u8,
    /// Non-empty buckets in ascending order, each `[value_us, count]`: `value_us` is the
    /// bucket's highest equivalent value in microseconds, `count` how many values fell in it.
    pub buckets_us: Vec<[u64; 2]>,
}

impl From<LatencyHistogram> for HistogramData {
    fn from(h: LatencyHistogram) -> Self {
        h.to_data()
    }
}

impl TryFrom<HistogramData> for LatencyHistogram {
    type Error = HistogramDataError;
    fn try_from(data: HistogramData) -> Result<Self, Self::Error> {
        Self::from_data(&data)
    }
}

/// A serialized histogram that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HistogramDataError {
    /// `significant_digits` outside 0..=[`SIGNIFICANT_DIGITS`].
    #[error("histogram significant_digits is {0}; accepted: 0 to {SIGNIFICANT_DIGITS}")]
    SignificantDigits(u8),
    /// A bucket value beyond what a histogram can track.
    #[error(
        "histogram buckets_us[{index}] has value_us {value_us}; accepted: at most {MAX_TRACKABLE_US}"
    )]
    ValueTooLarge {
        /// Position in `buckets_us`.
        index: usize,
        /// The value found.
        value_us: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(values: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for &v in values {
            h.record(v);
        }
        h
    }

    #[test]
    fn empty_reads_zero_never_nan() {
        let h = LatencyHistogram::new();
        assert_eq!(h.count(), 0);
        for x in [
            h.min_ms(),
            h.max_ms(),
            h.mean_ms(),
            h.stddev_ms(),
            h.percentile_ms(50.0),
            h.percentile_ms(100.0),
        ] {
            assert_eq!(x, 0.0);
        }
        assert!(h.cdf_ms().is_empty());
        assert!(h.to_data().buckets_us.is_empty());
    }

    #[test]
    fn small_values_are_exact() {
        let h = filled(&[1000, 2000, 3000, 4000]);
        assert_eq!(h.count(), 4);
        assert_eq!(h.min_ms(), 1.0);
        assert_eq!(h.percentile_ms(50.0), 2.0);
        // 3000 and 4000 µs are past the exact range: their buckets are 2 µs wide.
        assert_eq!(h.percentile_ms(75.0), 3.001);
        assert!((h.max_ms() - 4.0).abs() <= 0.002);
        assert!((h.mean_ms() - 2.5).abs() < 0.002);
        // Population standard deviation of 1, 2, 3, 4 ms.
        assert!((h.stddev_ms() - 1.25f64.sqrt()).abs() < 0.002);
    }

    #[test]
    fn percentile_is_nearest_rank_and_clamped() {
        let h = filled(&(1..=100).collect::<Vec<_>>());
        assert_eq!(h.percentile_us(0.0), 1);
        assert_eq!(h.percentile_us(1.0), 1);
        assert_eq!(h.percentile_us(1.5), 2);
        assert_eq!(h.percentile_us(50.0), 50);
        assert_eq!(h.percentile_us(99.0), 99);
        assert_eq!(h.percentile_us(99.9), 100);
        assert_eq!(h.percentile_us(100.0), 100);
        assert_eq!(h.percentile_us(250.0), 100);
        assert_eq!(h.percentile_us(-3.0), 1);
        assert_eq!(h.percentile_us(f64::NAN), 1);
        let ps = [99.9, 0.0, 50.0, 1.5, 250.0, f64::NAN];
        let one_by_one: Vec<u64> = ps.iter().map(|&p| h.percentile_us(p)).collect();
        assert_eq!(h.percentiles_us(&ps), one_by_one);
        assert_eq!(LatencyHistogram::new().percentiles_us(&ps), vec![0; 6]);
    }

    #[test]
    fn large_values_within_precision() {
        let h = filled(&[123_456_789]);
        let p = h.percentile_us(50.0);
        assert!(
            p >= 123_456_789 && p - 123_456_789 <= 123_456_789 / 1024,
            "{p}"
        );
    }

    #[test]
    fn record_n_and_zero_count() {
        let mut h = LatencyHistogram::new();
        h.record_n(10, 5);
        h.record_n(20, 0);
        assert_eq!(h.count(), 5);
        assert_eq!(h.to_data().buckets_us, vec![[10, 5]]);
    }

    #[test]
    fn fixed_max_clamps_and_merges() {
        let mut h = LatencyHistogram::with_max_us(10_000);
        h.record(5_000);
        h.record(1_000_000);
        assert_eq!(h.count(), 2);
        assert!(h.max_ms() <= 10.01 && h.max_ms() >= 10.0, "{}", h.max_ms());
        let big = filled(&[5_000_000, 7]);
        h.merge(&big);
        assert_eq!(h.count(), 4);
        assert_eq!(h.min_ms(), 0.007);
        assert!(h.max_ms() <= 10.01);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = filled(&[1, 2, 3]);
        let b = filled(&[1_000_000, 2]);
        a.merge(&b);
        assert_eq!(a, filled(&[1, 2, 3, 1_000_000, 2]));
        assert_eq!(a.count(), 5);
        a.merge(&LatencyHistogram::new());
        assert_eq!(a.count(), 5);
    }

    #[test]
    fn data_round_trips_with_same_statistics() {
        let values: Vec<u64> = (0..5000u64).map(|i| (i * i * 37) % 9_000_001).collect();
        let h = filled(&values);
        let data = h.to_data();
        assert_eq!(data.significant_digits, 3);
        assert!(data.buckets_us.windows(2).all(|w| w[0][0] < w[1][0]));
        let back = LatencyHistogram::from_data(&data).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.count(), h.count());
        for p in [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(back.percentile_us(p), h.percentile_us(p), "p{p}");
        }
        assert_eq!(back.min_ms(), h.min_ms());
        assert_eq!(back.max_ms(), h.max_ms());
        assert_eq!(back.mean_ms(), h.mean_ms());
        assert_eq!(back.stddev_ms(), h.stddev_ms());
        assert_eq!(back.to_data(), data);
    }

    #[test]
    fn serde_uses_sparse_form() {
        let h = filled(&[5, 5, 3000]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            r#"{"significant_digits":3,"buckets_us":[[5,2],[3001,1]]}"#
        );
        let back: LatencyHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn bad_data_is_refused_with_field_and_value() {
        let err =
            serde_json::from_str::<LatencyHistogram>(r#"{"significant_digits":9,"buckets_us":[]}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("significant_digits is 9"), "{err}");
        let data = HistogramData {
            significant_digits: 3,
            buckets_us: vec![[1, 1], [u64::MAX, 1]],
        };
        let err = LatencyHistogram::from_data(&data).unwrap_err();
        assert_eq!(
            err,
            HistogramDataError::ValueTooLarge {
                index: 1,
                value_us: u64::MAX
            }
        );
    }

    /// Bug: histograms of 4 or 5 significant digits were read, and one of 5 holding a value
    /// near the largest trackable one takes about 50 MB: a result file of a few kilobytes took
    /// gigabytes to load.
    #[test]
    fn histograms_of_more_digits_than_written_are_refused() {
        for digits in [4, 5] {
            let json = format!(
                r#"{{"significant_digits":{digits},"buckets_us":[[{MAX_TRACKABLE_US},1]]}}"#
            );
            let err = serde_json::from_str::<LatencyHistogram>(&json)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("significant_digits is {digits}; accepted: 0 to 3")),
                "{err}"
            );
        }
        let json = format!(r#"{{"significant_digits":3,"buckets_us":[[{MAX_TRACKABLE_US},1]]}}"#);
        let h: LatencyHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(h.count(), 1);
    }

    #[test]
    fn cdf_is_ascending_and_ends_at_one() {
        let h = filled(&[1, 1, 2, 4]);
        let cdf = h.cdf_ms();
        assert_eq!(
            cdf,
            vec![
                CdfPoint {
                    value_ms: 0.001,
                    fraction: 0.5
                },
                CdfPoint {
                    value_ms: 0.002,
                    fraction: 0.75
                },
                CdfPoint {
                    value_ms: 0.004,
                    fraction: 1.0
                },
            ]
        );
        let many = filled(&(0..10_000u64).map(|i| i * 97).collect::<Vec<_>>());
        let thin = many.cdf_ms_thinned(50);
        assert!(thin.len() <= 50 && thin.len() >= 2);
        assert_eq!(thin.last().unwrap().fraction, 1.0);
        assert!(thin.windows(2).all(|w| w[0].value_ms < w[1].value_ms));
        assert!(thin.windows(2).all(|w| w[0].fraction <= w[1].fraction));
    }
}
