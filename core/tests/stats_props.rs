//! Properties of the trial statistics: identical inputs give no difference, intervals
//! contain their mean, shifting every value shifts the interval.

use cpbench_core::stats::{holm_adjust, paired_difference, t_interval, t_quantile};
use proptest::prelude::*;

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e6f64..1e6, 2..12)
}

proptest! {
    #[test]
    fn identical_inputs_are_never_significant(v in values()) {
        let d = paired_difference(&v, &v, 0.95).unwrap();
        prop_assert_eq!(d.mean, 0.0);
        prop_assert_eq!((d.low, d.high), (0.0, 0.0));
        prop_assert_eq!(d.p_value, 1.0);
        prop_assert!(holm_adjust(&[d.p_value, d.p_value])[0] > 0.05);
    }

    #[test]
    fn intervals_contain_the_mean_and_follow_a_shift(v in values(), shift in -1e3f64..1e3) {
        let i = t_interval(&v, 0.95).unwrap();
        prop_assert!(i.low <= i.mean && i.mean <= i.high);
        let shifted: Vec<f64> = v.iter().map(|x| x + shift).collect();
        let j = t_interval(&shifted, 0.95).unwrap();
        let tol = 1e-6 * (1.0 + i.mean.abs() + shift.abs());
        prop_assert!((j.mean - i.mean - shift).abs() <= tol);
        prop_assert!(((j.high - j.low) - (i.high - i.low)).abs() <= tol * 10.0);
    }

    #[test]
    fn paired_difference_is_antisymmetric(a in values(), seed in 0u64..1000) {
        let b: Vec<f64> = a.iter().enumerate().map(|(i, x)| x * 0.5 + (seed + i as u64) as f64).collect();
        let ab = paired_difference(&a, &b, 0.95).unwrap();
        let ba = paired_difference(&b, &a, 0.95).unwrap();
        prop_assert!((ab.mean + ba.mean).abs() <= 1e-6 * (1.0 + ab.mean.abs()));
        prop_assert!((ab.p_value - ba.p_value).abs() <= 1e-9);
        prop_assert!((0.0..=1.0).contains(&ab.p_value));
    }

    #[test]
    fn t_quantile_inverts_the_cdf(p in 0.51f64..0.999, df in 1.0f64..200.0) {
        let t = t_quantile(p, df);
        prop_assert!((cpbench_core::stats::t_cdf(t, df) - p).abs() < 1e-9);
    }
}
