//! Statistics over repeated trials: the mean of a metric with its confidence interval
//! (Student t, or a seeded bootstrap), the paired difference of two policies measured in the
//! same trials with a two-sided t test, Holm's correction across several comparisons, and
//! how many trials a difference of a given size needs.
//!
//! Pure and deterministic: the bootstrap draws from a ChaCha8 stream of the given seed, and
//! every transcendental function is `libm`'s, so native and wasm32 agree.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Student's t: mean ± t(1 - α/2, n - 1) · s / √n.
    StudentT,
    /// Percentile bootstrap of the mean (seeded resampling of the trials' values).
    Bootstrap,
}

/// A mean with its two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// The mean of the values.
    pub mean: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// The sample standard deviation of the values (n - 1 in the denominator).
    pub sd: f64,
    /// How many values.
    pub n: u32,
    /// How the interval was computed.
    pub method: IntervalMethod,
}

impl Interval {
    /// Half the interval's width (for `mean ± half_width`; for a bootstrap interval, which
    /// need not be symmetric, the larger distance from the mean).
    pub fn half_width(&self) -> f64 {
        (self.high - self.mean).max(self.mean - self.low)
    }
}

/// The difference `a - b` of paired values (the same trials under two policies), with its
/// confidence interval and a two-sided paired t test of "no difference".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PairedDifference {
    /// Mean of the differences.
    pub mean: f64,
    /// Lower end of its confidence interval.
    pub low: f64,
    /// Upper end of its confidence interval.
    pub high: f64,
    /// Sample standard deviation of the differences.
    pub sd: f64,
    /// Number of pairs.
    pub n: u32,
    /// Two-sided p-value of the paired t test (1 when every difference is 0).
    pub p_value: f64,
}

/// The arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation (n - 1); `None` for fewer than two values.
pub fn sample_sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some(libm::sqrt(ss / (values.len() - 1) as f64))
}

/// The mean with its Student-t interval at `confidence` (e.g. 0.95); `None` for fewer than
/// two values (no interval can be given from one trial) or non-finite values.
pub fn t_interval(values: &[f64], confidence: f64) -> Option<Interval> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len();
    let m = mean(values)?;
    let sd = sample_sd(values)?;
    let half = t_quantile(0.5 + confidence / 2.0, (n - 1) as f64) * sd / libm::sqrt(n as f64);
    Some(Interval {
        mean: m,
        low: m - half,
        high: m + half,
        sd,
        n: n as u32,
        method: IntervalMethod::StudentT,
    })
}

/// Resamples drawn by [`bootstrap_interval`].
pub const BOOTSTRAP_RESAMPLES: u32 = 4000;

/// The mean with a percentile-bootstrap interval at `confidence`: `resamples` means of
/// `n` values drawn with replacement from a ChaCha8 stream seeded with `seed`. For metrics
/// whose trial values are far from normal (tail percentiles across few trials). `None` for
/// fewer than two values or non-finite values.
pub fn bootstrap_interval(
    values: &[f64],
    confidence: f64,
    resamples: u32,
    seed: u64,
) -> Option<Interval> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) || resamples == 0 {
        return None;
    }
    let n = values.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let sum: f64 = (0..n)
                .map(|_| values[((u128::from(rng.next_u64()) * n as u128) >> 64) as usize])
                .sum();
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = 1.0 - confidence;
    let at = |q: f64| {
        let i = libm::floor(q * (means.len() - 1) as f64 + 0.5) as usize;
        means[i.min(means.len() - 1)]
    };
    Some(Interval {
        mean: mean(values)?,
        low: at(alpha / 2.0),
        high: at(1.0 - alpha / 2.0),
        sd: sample_sd(values)?,
        n: n as u32,
        method: IntervalMethod::Bootstrap,
    })
}

/// The paired difference `a[i] - b[i]` with its t interval at `confidence` and the p-value of
/// a two-sided paired t test. `None` when the lengths differ, there are fewer than two pairs,
/// or a value is not finite. Every difference 0: mean 0, interval [0, 0], p 1. Every
/// difference the same non-zero value: that value, a zero-width interval, p 0.
pub fn paired_difference(a: &[f64], b: &[f64], confidence: f64) -> Option<PairedDifference> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    if d.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = d.len();
    let m = mean(&d)?;
    let sd = sample_sd(&d)?;
    let df = (n - 1) as f64;
    let se = sd / libm::sqrt(n as f64);
    if se == 0.0 {
        let p_value = if m == 0.0 { 1.0 } else { 0.0 };
        return Some(PairedDifference {
            mean: m,
            low: m,
            high: m,
            sd,
            n: n as u32,
            p_value,
        });
    }
    let half = t_quantile(0.5 + confidence / 2.0, df) * se;
    let t = m / se;
    let p_value = (2.0 * (1.0 - t_cdf(libm::fabs(t), df))).clamp(0.0, 1.0);
    Some(PairedDifference {
        mean: m,
        low: m - half,
        high: m + half,
        sd,
        n: n as u32,
        p_value,
    })
}

/// Holm's step-down adjustment of p-values (family-wise error control across the
/// comparisons of several policies with one baseline). Returns the adjusted p-values in the
/// input's order; a comparison is significant at level α when its adjusted p-value is at most
/// α.
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]).then(i.cmp(&j)));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        let a = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(a);
        adjusted[i] = running;
    }
    adjusted
}

/// How many trials a paired comparison needs to detect a true mean difference of `delta`
/// with a two-sided test at level `alpha` and the given `power`, when the differences have
/// standard deviation `sd` (the smallest n with
/// `n ≥ ((t(1 - α/2, n - 1) + t(power, n - 1)) · sd / delta)²`, at least 2). `None` when
/// `delta` is 0 or not finite, or more than a million trials would be needed.
pub fn trials_needed(sd: f64, delta: f64, alpha: f64, power: f64) -> Option<u32> {
    let delta = libm::fabs(delta);
    if !(delta.is_finite() && delta > 0.0 && sd.is_finite() && sd >= 0.0) {
        return None;
    }
    if sd == 0.0 {
        return Some(2);
    }
    (2..=1_000_000u32).find(|&n| {
        let df = f64::from(n - 1);
        let k = (t_quantile(1.0 - alpha / 2.0, df) + t_quantile(power, df)) * sd / delta;
        f64::from(n) >= k * k
    })
}

/// The cumulative distribution function of Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_incomplete_beta(x, df / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The quantile (inverse CDF) of Student's t with `df` degrees of freedom at probability
/// `p` in (0, 1), to about 1e-12 relative precision (bisection on [`t_cdf`]).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let mut hi = 1.0;
    while t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
/// Lentz), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges
/// slowly.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b)
        + a * libm::log(x)
        + b * libm::log(1.0 - x);
    let front = libm::exp(ln_front);
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let nonzero = |v: f64| if libm::fabs(v) < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - qab * x / qap);
    let mut h = d;
    // One Lentz step with coefficient `aa`: returns the factor h is multiplied by.
    let step = |aa: f64, c: &mut f64, d: &mut f64| {
        *d = 1.0 / nonzero(1.0 + aa * *d);
        *c = nonzero(1.0 + aa / *c);
        *d * *c
    };
    for m in 1..=10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        let del = step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= del;
        if libm::fabs(del - 1.0) < EPS {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_published_tables() {
        // Two-sided 95 % critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
        for (df, want) in [
            (1.0, 12.706),
            (2.0, 4.303),
            (3.0, 3.182),
            (4.0, 2.776),
            (5.0, 2.571),
            (9.0, 2.262),
            (10.0, 2.228),
            (29.0, 2.045),
            (100.0, 1.984),
        ] {
            let got = t_quantile(0.975, df);
            assert!(close(got, want, 0.0006), "df {df}: {got} vs {want}");
        }
        // One-sided 80 % (for power) and 99.5 %.
        assert!(close(t_quantile(0.80, 4.0), 0.941, 0.0006));
        assert!(close(t_quantile(0.995, 5.0), 4.032, 0.0006));
        // Large df tends to the normal quantile 1.959964.
        assert!(close(t_quantile(0.975, 1e7), 1.959964, 1e-5));
        // Cauchy (df 1) in closed form: tan(pi (p - 1/2)).
        let p = 0.9;
        assert!(close(
            t_quantile(p, 1.0),
            (std::f64::consts::PI * (p - 0.5)).tan(),
            1e-9
        ));
        assert_eq!(t_quantile(0.5, 3.0), 0.0);
        assert!(close(t_quantile(0.025, 4.0), -2.776, 0.0006));
        assert!(t_quantile(1.0, 3.0).is_nan());
    }

    #[test]
    fn t_cdf_is_symmetric_and_matches_closed_forms() {
        // df 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
        for t in [-3.0_f64, -0.5, 0.0, 0.7, 4.0] {
            let want = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!(close(t_cdf(t, 2.0), want, 1e-12), "t {t}");
            assert!(close(t_cdf(t, 7.0) + t_cdf(-t, 7.0), 1.0, 1e-12));
        }
    }

    #[test]
    fn t_interval_by_hand() {
        // 10, 12, 14: mean 12, sd 2, se 2/sqrt(3), t(0.975, 2) = 4.302653.
        let i = t_interval(&[10.0, 12.0, 14.0], 0.95).unwrap();
        assert_eq!(i.mean, 12.0);
        assert!(close(i.sd, 2.0, 1e-12));
        let half = 4.302_652_729_911_275 * 2.0 / 3f64.sqrt();
        assert!(close(i.high - i.mean, half, 1e-9), "{i:?}");
        assert!(close(i.half_width(), 4.9683, 1e-4));
        assert_eq!(i.method, IntervalMethod::StudentT);
        assert!(
            t_interval(&[1.0], 0.95).is_none(),
            "no interval from one trial"
        );
        assert!(t_interval(&[1.0, f64::NAN], 0.95).is_none());
    }

    #[test]
    fn paired_t_test_matches_a_textbook_example() {
        // Differences 1, 2, 3, 4, 5 (mean 3, sd 1.5811, se 0.7071, t 4.2426, df 4):
        // two-sided p = 0.01324 (e.g. scipy.stats.ttest_rel).
        let a = [11.0, 22.0, 33.0, 44.0, 55.0];
        let b = [10.0, 20.0, 30.0, 40.0, 50.0];
        let d = paired_difference(&a, &b, 0.95).unwrap();
        assert_eq!(d.mean, 3.0);
        assert!(close(d.p_value, 0.013_24, 2e-5), "{d:?}");
        assert!(close(
            d.high - d.mean,
            2.776_445 * std::f64::consts::FRAC_1_SQRT_2,
            1e-5
        ));
        // Constant differences: exact.
        let d = paired_difference(&[2.0, 3.0], &[1.0, 2.0], 0.95).unwrap();
        assert_eq!((d.mean, d.low, d.high, d.p_value), (1.0, 1.0, 1.0, 0.0));
        assert!(paired_difference(&[1.0], &[1.0], 0.95).is_none());
        assert!(paired_difference(&[1.0, 2.0], &[1.0], 0.95).is_none());
    }

    #[test]
    fn holm_adjusts_step_down() {
        // p = 0.01, 0.04, 0.03 with m = 3: sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04
        // -> monotone 0.03, 0.06, 0.06.
        let adj = holm_adjust(&[0.01, 0.04, 0.03]);
        assert!(close(adj[0], 0.03, 1e-12));
        assert!(close(adj[1], 0.06, 1e-12));
        assert!(close(adj[2], 0.06, 1e-12));
        assert_eq!(holm_adjust(&[0.9]), vec![0.9]);
        assert!(holm_adjust(&[]).is_empty());
        assert_eq!(holm_adjust(&[0.6, 0.7]), vec![1.0, 1.0]);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let v = [3.0, 5.0, 4.0, 8.0, 6.0];
        let a = bootstrap_interval(&v, 0.95, 2000, 7).unwrap();
        let b = bootstrap_interval(&v, 0.95, 2000, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.mean, 5.2);
        assert!(a.low < a.mean && a.mean < a.high, "{a:?}");
        assert!(a.low >= 3.0 && a.high <= 8.0);
        assert_eq!(a.method, IntervalMethod::Bootstrap);
        assert_ne!(bootstrap_interval(&v, 0.95, 2000, 8).unwrap(), a);
    }

    #[test]
    fn trials_needed_grows_with_noise() {
        // sd equal to delta: n >= (t(.975) + t(.8))^2 -> 10 (normal approximation gives 7.85,
        // t with few degrees of freedom more).
        let n = trials_needed(1.0, 1.0, 0.05, 0.8).unwrap();
        assert_eq!(n, 10);
        assert!(trials_needed(2.0, 1.0, 0.05, 0.8).unwrap() > n);
        assert_eq!(trials_needed(0.0, 1.0, 0.05, 0.8), Some(2));
        assert_eq!(trials_needed(1.0, 0.0, 0.05, 0.8), None);
    }
}
