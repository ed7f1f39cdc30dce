//! A small sparse histogram for the per-second percentiles of a [`TimeSeries`]: the buckets of
//! a [`LatencyHistogram`] (3 significant digits: exact below 2,048 µs, within 1/1024 above),
//! kept as a sorted list of the non-empty ones, so a second with few requests costs a few bytes
//! instead of a full HdrHistogram's counts array.
//!
//! [`TimeSeries`]: super::TimeSeries
//! [`LatencyHistogram`]: crate::histogram::LatencyHistogram

/// Values below this many µs have a bucket of their own (HdrHistogram's sub-bucket count for 3
/// significant digits).
const EXACT_BELOW: u64 = 2048;
/// Buckets per power of two above [`EXACT_BELOW`].
const HALF: u64 = EXACT_BELOW / 2;
/// The largest value recorded (larger ones are recorded as it), like `LatencyHistogram`.
const MAX_US: u64 = u64::MAX / 2;

/// The index of the bucket holding `value_us` (a value above `u64::MAX / 2` is taken as that).
pub(crate) fn bucket_index(value_us: u64) -> u32 {
    let v = value_us.min(MAX_US);
    if v < EXACT_BELOW {
        return v as u32;
    }
    // v in [2^k, 2^(k+1)) with k >= 11: 1024 buckets of width 2^(k-10).
    let k = u64::from(63 - v.leading_zeros());
    let shift = k - 10;
    let sub = v >> shift; // 1024..=2047
    (EXACT_BELOW + (k - 11) * HALF + (sub - HALF)) as u32
}

/// The highest value of bucket `index` in µs (what `LatencyHistogram` reports for it).
pub(crate) fn bucket_highest_us(index: u32) -> u64 {
    let i = u64::from(index);
    if i < EXACT_BELOW {
        return i;
    }
    let above = i - EXACT_BELOW;
    let shift = above / HALF + 1;
    let sub = above % HALF + HALF;
    ((sub + 1) << shift) - 1
}

/// Counts by bucket, sorted by bucket index; only non-empty buckets are kept.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct SparseHistogram {
    buckets: Vec<(u32, u32)>,
    count: u64,
}

impl SparseHistogram {
    /// Records one value in µs.
    pub(crate) fn record(&mut self, value_us: u64) {
        let index = bucket_index(value_us);
        match self.buckets.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(at) => self.buckets[at].1 += 1,
            Err(at) => self.buckets.insert(at, (index, 1)),
        }
        self.count += 1;
    }

    /// Adds the counts of `other`.
    pub(crate) fn merge(&mut self, other: &SparseHistogram) {
        if other.count == 0 {
            return;
        }
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&(i, c)), Some(&&(j, d))) if i == j => {
                    a.next();
                    b.next();
                    (i, c + d)
                }
                (Some(&&x), Some(&&y)) if x.0 < y.0 => {
                    a.next();
                    x
                }
                (_, Some(&&y)) => {
                    b.next();
                    y
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        self.buckets = merged;
        self.count += other.count;
    }

    /// The nearest-rank percentile `p` (0 to 100) in µs, as the highest value of its bucket;
    /// `None` when empty. The rank is `ceil(p / 100 × n)`, at least 1.
    pub(crate) fn percentile_us(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = (((p / 100.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for &(index, c) in &self.buckets {
            seen += u64::from(c);
            if seen >= rank {
                return Some(bucket_highest_us(index));
            }
        }
        unreachable!("the counts add up to the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::LatencyHistogram;

    #[test]
    fn buckets_are_the_latency_histograms() {
        let mut values: Vec<u64> = (0..5000).collect();
        for k in 11..63 {
            let base = 1u64 << k;
            values.extend([base - 1, base, base + 1, base + (base >> 1), base * 2 - 1]);
        }
        values.extend([u64::MAX / 2, u64::MAX / 2 + 7, u64::MAX]);
        for v in values {
            let mut h = LatencyHistogram::new();
            h.record(v);
            let (highest, _) = h.buckets().next().unwrap();
            let i = bucket_index(v);
            assert_eq!(bucket_highest_us(i), highest, "value {v}");
            assert!(bucket_index(highest) == i, "value {v}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_on_buckets() {
        let mut h = SparseHistogram::default();
        assert_eq!(h.percentile_us(50.0), None);
        for v in [5, 1, 4, 2, 3] {
            h.record(v);
        }
        assert_eq!(h.percentile_us(50.0), Some(3));
        assert_eq!(h.percentile_us(99.0), Some(5));
        assert_eq!(h.percentile_us(0.0), Some(1));
        h.record(3000);
        // 3000 µs lies in a bucket 2 µs wide: 3000..=3001.
        assert_eq!(h.percentile_us(100.0), Some(3001));
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let values: Vec<u64> = (0..400).map(|i| (i * i * 7919) % 90_000).collect();
        for split in [0, 1, 57, 200, 400] {
            let mut a = SparseHistogram::default();
            let mut b = SparseHistogram::default();
            let mut all = SparseHistogram::default();
            for (i, &v) in values.iter().enumerate() {
                if i < split { &mut a } else { &mut b }.record(v);
                all.record(v);
            }
            let mut ab = a.clone();
            ab.merge(&b);
            b.merge(&a);
            assert_eq!(ab, all, "split {split}");
            assert_eq!(b, all, "split {split}");
        }
    }
}
