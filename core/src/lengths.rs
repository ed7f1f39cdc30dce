//! Token-length distributions and the seeded samplers behind every random draw of a workload.
//!
//! The samplers are written here rather than taken from a distributions crate so that a
//! sample depends only on the ChaCha8 stream and IEEE-754 arithmetic: every transcendental
//! function goes through `libm`, so the same seed gives bit-identical values on `x86_64` and
//! `wasm32`. Each sampler documents how many 64-bit words it consumes.

use crate::config::ConfigProblem;
use rand_core::Rng;
use serde::{Deserialize, Serialize};

/// The largest token length a distribution may produce (1 Mi tokens); larger values would make
/// multi-gigabyte prompts.
pub const MAX_LENGTH_TOKENS: u32 = 1 << 20;

/// A distribution of token lengths (prompt, output or embedding-input lengths).
///
/// Serialized with a `dist` tag, e.g. `{dist: lognormal, mean: 256, sigma: 0.5, min: 16,
/// max: 2048}`. Every sampled value is rounded to the nearest integer and clamped to
/// `[min, max]`; all lengths are at least 1 token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "dist", rename_all = "snake_case", try_from = "RawLength")]
pub enum LengthDist {
    /// Always `value` tokens.
    Fixed {
        /// The length.
        value: u32,
    },
    /// Uniform over the integers `min..=max`.
    Uniform {
        /// Smallest length.
        min: u32,
        /// Largest length.
        max: u32,
    },
    /// Normal with the given mean and standard deviation, rounded and clamped to
    /// `[min, max]`.
    Normal {
        /// Mean before clamping, tokens.
        mean: f64,
        /// Standard deviation, tokens.
        stddev: f64,
        /// Smallest length.
        min: u32,
        /// Largest length.
        max: u32,
    },
    /// Log-normal whose **mean** (not median) is `mean` and whose underlying normal has
    /// standard deviation `sigma`, so `mu = ln(mean) - sigma^2 / 2` (median
    /// `mean * exp(-sigma^2 / 2)`). Rounded and clamped to `[min, max]`; clamping moves the
    /// realized mean when the bounds cut into the tails.
    Lognormal {
        /// Mean of the unclamped distribution, tokens.
        mean: f64,
        /// Standard deviation of `ln(length)`.
        sigma: f64,
        /// Smallest length.
        min: u32,
        /// Largest length.
        max: u32,
    },
    /// Taken from the dataset: prompt lengths (and prompt texts) for `prompt_length`, the
    /// dataset's reply lengths for `output_length`, dataset prompts as inputs for
    /// `embedding_input_length`. Requires a dataset.
    Empirical,
}

/// The names of [`LengthDist`]'s variants, as the `dist` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum LengthKind {
    Fixed,
    Uniform,
    Normal,
    Lognormal,
    Empirical,
}

/// The wire shape of a [`LengthDist`]: every key optional, checked against the tag in
/// `TryFrom`, so a key that does not belong to the distribution is an error (serde's own
/// internally tagged enums silently accept extra keys on unit variants).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLength {
    dist: LengthKind,
    value: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
    mean: Option<f64>,
    stddev: Option<f64>,
    sigma: Option<f64>,
}

impl TryFrom<RawLength> for LengthDist {
    type Error = String;

    fn try_from(r: RawLength) -> Result<Self, String> {
        let (name, allowed): (&str, &[&str]) = match r.dist {
            LengthKind::Fixed => ("fixed", &["value"]),
            LengthKind::Uniform => ("uniform", &["min", "max"]),
            LengthKind::Normal => ("normal", &["mean", "stddev", "min", "max"]),
            LengthKind::Lognormal => ("lognormal", &["mean", "sigma", "min", "max"]),
            LengthKind::Empirical => ("empirical", &[]),
        };
        let present = [
            ("value", r.value.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("mean", r.mean.is_some()),
            ("stddev", r.stddev.is_some()),
            ("sigma", r.sigma.is_some()),
        ];
        if let Some(msg) =
            crate::config::tagged_fields_error(&format!("dist `{name}`"), allowed, &present)
        {
            return Err(msg);
        }
        let (min, max) = (r.min.unwrap_or(0), r.max.unwrap_or(0));
        let (mean, stddev, sigma) = (
            r.mean.unwrap_or(0.0),
            r.stddev.unwrap_or(0.0),
            r.sigma.unwrap_or(0.0),
        );
        Ok(match r.dist {
            LengthKind::Fixed => Self::Fixed {
                value: r.value.unwrap_or(0),
            },
            LengthKind::Uniform => Self::Uniform { min, max },
            LengthKind::Normal => Self::Normal {
                mean,
                stddev,
                min,
                max,
            },
            LengthKind::Lognormal => Self::Lognormal {
                mean,
                sigma,
                min,
                max,
            },
            LengthKind::Empirical => Self::Empirical,
        })
    }
}

impl LengthDist {
    /// The name of the variant as written in a config (`fixed`, `uniform`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fixed { .. } => "fixed",
            Self::Uniform { .. } => "uniform",
            Self::Normal { .. } => "normal",
            Self::Lognormal { .. } => "lognormal",
            Self::Empirical => "empirical",
        }
    }

    /// Whether this distribution reads lengths from a dataset.
    pub fn is_empirical(&self) -> bool {
        matches!(self, Self::Empirical)
    }

    /// The `[min, max]` bounds of a parametric distribution (`None` for `empirical`).
    pub fn bounds(&self) -> Option<(u32, u32)> {
        match *self {
            Self::Fixed { value } => Some((value, value)),
            Self::Uniform { min, max }
            | Self::Normal { min, max, .. }
            | Self::Lognormal { min, max, .. } => Some((min, max)),
            Self::Empirical => None,
        }
    }

    /// Checks the parameters; `field` is this distribution's dotted path in the config
    /// (`prompt_length`), used to name each problem (`prompt_length.min`).
    pub fn check(&self, field: &str) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut push = |name: &str, value: String, expected: String| {
            out.push(ConfigProblem::new(
                format!("{field}.{name}"),
                value,
                expected,
            ));
        };
        fn check_len(push: &mut dyn FnMut(&str, String, String), name: &str, v: u32) {
            if v == 0 {
                push(name, v.to_string(), "at least 1 token".to_string());
            } else if v > MAX_LENGTH_TOKENS {
                push(
                    name,
                    v.to_string(),
                    format!("at most {MAX_LENGTH_TOKENS} tokens"),
                );
            }
        }
        match *self {
            Self::Fixed { value } => check_len(&mut push, "value", value),
            Self::Uniform { min, max }
            | Self::Normal { min, max, .. }
            | Self::Lognormal { min, max, .. } => {
                check_len(&mut push, "min", min);
                check_len(&mut push, "max", max);
                if min > max {
                    push("min", min.to_string(), format!("at most max ({max})"));
                }
            }
            Self::Empirical => {}
        }
        match *self {
            Self::Normal { mean, stddev, .. } => {
                if !mean.is_finite() {
                    push("mean", mean.to_string(), "a finite number".to_string());
                }
                if !(stddev.is_finite() && stddev >= 0.0) {
                    push(
                        "stddev",
                        stddev.to_string(),
                        "a finite number >= 0".to_string(),
                    );
                }
            }
            Self::Lognormal { mean, sigma, .. } => {
                if !(mean.is_finite() && mean > 0.0) {
                    push("mean", mean.to_string(), "a finite number > 0".to_string());
                }
                if !(sigma.is_finite() && sigma >= 0.0) {
                    push(
                        "sigma",
                        sigma.to_string(),
                        "a finite number >= 0".to_string(),
                    );
                }
            }
            _ => {}
        }
        out
    }

    /// Draws one length. Returns `None` for `empirical` (the caller takes it from the dataset).
    ///
    /// Consumes a fixed number of words per call for each variant (`fixed`: 0, `uniform`: 1,
    /// `normal`/`lognormal`: 2), so the stream stays aligned from request to request.
    /// Parameters are assumed valid ([`LengthDist::check`]).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<u32> {
        match *self {
            Self::Fixed { value } => Some(value),
            Self::Uniform { min, max } => Some(uniform_u32(rng, min, max)),
            Self::Normal {
                mean,
                stddev,
                min,
                max,
            } => Some(round_clamp(mean + stddev * standard_normal(rng), min, max)),
            Self::Lognormal {
                mean,
                sigma,
                min,
                max,
            } => {
                let mu = libm::log(mean) - sigma * sigma / 2.0;
                let x = libm::exp(mu + sigma * standard_normal(rng));
                Some(round_clamp(x, min, max))
            }
            Self::Empirical => None,
        }
    }
}

/// Rounds to the nearest integer (halves away from zero) and clamps into `[min, max]`;
/// NaN goes to `min`.
pub fn round_clamp(x: f64, min: u32, max: u32) -> u32 {
    let r = x.round();
    if r.is_nan() || r <= f64::from(min) {
        min
    } else if r >= f64::from(max) {
        max
    } else {
        r as u32
    }
}

/// A uniform `f64` in `[0, 1)` with 53 random bits (one word).
pub fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform `f64` in `(0, 1]` (one word): safe to take the logarithm of.
pub fn uniform01_open_low<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    1.0 - uniform01(rng)
}

/// A uniform index in `0..n` by multiply-and-shift (one word); `n` must be > 0.
pub fn uniform_index<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// A uniform integer in `min..=max` (one word); requires `min <= max`.
pub fn uniform_u32<R: Rng + ?Sized>(rng: &mut R, min: u32, max: u32) -> u32 {
    let span = u64::from(max - min) + 1;
    min + uniform_index(rng, span) as u32
}

/// An exponential variate with the given rate (mean `1 / rate`), by inversion (one word).
pub fn exponential<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    -libm::log(uniform01_open_low(rng)) / rate
}

/// A standard normal variate by the Box-Muller transform (two words; the second variate of
/// the pair is discarded so every call consumes the same amount).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = uniform01_open_low(rng);
    let u2 = uniform01(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
}

/// A gamma variate with the given shape `k > 0` and scale `theta > 0` (mean `k * theta`), by
/// Marsaglia and Tsang's method; for `k < 1` it samples shape `k + 1` and multiplies by
/// `U^(1/k)`. Rejection sampling: the number of words consumed varies.
pub fn gamma<R: Rng + ?Sized>(rng: &mut R, shape: f64, scale: f64) -> f64 {
    if shape < 1.0 {
        let g = gamma(rng, shape + 1.0, 1.0);
        let u = uniform01_open_low(rng);
        return g * libm::pow(u, 1.0 / shape) * scale;
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let z = standard_normal(rng);
        let t = 1.0 + c * z;
        if t <= 0.0 {
            continue;
        }
        let v = t * t * t;
        let u = uniform01_open_low(rng);
        if libm::log(u) < 0.5 * z * z + d - d * v + d * libm::log(v) {
            return d * v * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn mean_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| f()).sum::<f64>() / n as f64
    }

    #[test]
    fn uniform01_is_in_range_and_centred() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let u = uniform01(&mut rng);
            assert!((0.0..1.0).contains(&u));
            let v = uniform01_open_low(&mut rng);
            assert!(v > 0.0 && v <= 1.0);
        }
        let m = mean_of(40_000, || uniform01(&mut rng));
        // sd of the mean: sqrt(1/12 / 40000) ~ 0.00144; 5 sigma.
        assert!((m - 0.5).abs() < 0.0073, "{m}");
    }

    #[test]
    fn exponential_and_gamma_have_their_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 40_000;
        let m = mean_of(n, || exponential(&mut rng, 4.0));
        // mean 0.25, sd 0.25 / sqrt(n) = 0.00125
        assert!((m - 0.25).abs() < 5.0 * 0.00125, "{m}");
        for shape in [0.3, 1.0, 2.5] {
            let scale = 2.0;
            let m = mean_of(n, || gamma(&mut rng, shape, scale));
            let sd = (shape * scale * scale / n as f64).sqrt();
            assert!(
                (m - shape * scale).abs() < 5.0 * sd,
                "shape {shape}: mean {m}"
            );
        }
    }

    #[test]
    fn standard_normal_has_mean_zero_variance_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let xs: Vec<f64> = (0..40_000).map(|_| standard_normal(&mut rng)).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
        assert!(m.abs() < 5.0 / 200.0, "{m}");
        assert!((v - 1.0).abs() < 0.04, "{v}");
    }

    #[test]
    fn lognormal_mean_is_the_distribution_mean() {
        let d = LengthDist::Lognormal {
            mean: 200.0,
            sigma: 0.5,
            min: 1,
            max: MAX_LENGTH_TOKENS,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let m = mean_of(40_000, || f64::from(d.sample(&mut rng).unwrap()));
        // sd of lognormal: mean * sqrt(exp(sigma^2) - 1) ~ 106; of the mean ~ 0.53.
        assert!((m - 200.0).abs() < 3.0, "{m}");
    }

    #[test]
    fn samples_respect_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let dists = [
            LengthDist::Fixed { value: 7 },
            LengthDist::Uniform { min: 3, max: 9 },
            LengthDist::Normal {
                mean: 5.0,
                stddev: 50.0,
                min: 2,
                max: 12,
            },
            LengthDist::Lognormal {
                mean: 100.0,
                sigma: 2.0,
                min: 10,
                max: 300,
            },
        ];
        for d in &dists {
            let (lo, hi) = d.bounds().unwrap();
            let mut seen_lo = false;
            let mut seen_hi = false;
            for _ in 0..5_000 {
                let x = d.sample(&mut rng).unwrap();
                assert!(x >= lo && x <= hi, "{d:?} gave {x}");
                seen_lo |= x == lo;
                seen_hi |= x == hi;
            }
            assert!(seen_lo && seen_hi, "{d:?} never reached a bound");
        }
        assert_eq!(LengthDist::Empirical.sample(&mut rng), None);
    }

    #[test]
    fn check_names_bad_parameters() {
        let bad = LengthDist::Lognormal {
            mean: -1.0,
            sigma: -0.5,
            min: 10,
            max: 5,
        };
        let fields: Vec<String> = bad.check("p").into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["p.min", "p.mean", "p.sigma"]);
        let zero = LengthDist::Fixed { value: 0 }.check("output_length");
        assert_eq!(zero[0].field, "output_length.value");
        assert_eq!(zero[0].expected, "at least 1 token");
        assert!(LengthDist::Uniform { min: 1, max: 1 }.check("p").is_empty());
        assert!(LengthDist::Empirical.check("p").is_empty());
    }

    #[test]
    fn round_clamp_handles_edges() {
        assert_eq!(round_clamp(f64::NAN, 3, 9), 3);
        assert_eq!(round_clamp(-1e300, 3, 9), 3);
        assert_eq!(round_clamp(1e300, 3, 9), 9);
        assert_eq!(round_clamp(4.5, 3, 9), 5);
        assert_eq!(round_clamp(4.49, 3, 9), 4);
    }

    #[test]
    fn uniform_u32_covers_full_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        assert_eq!(uniform_u32(&mut rng, 5, 5), 5);
        let x = uniform_u32(&mut rng, 0, u32::MAX);
        let _ = x;
        let mut counts = [0u32; 4];
        for _ in 0..4_000 {
            counts[uniform_u32(&mut rng, 0, 3) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
