//! Statistical and structural properties of generated workloads.
//!
//! Statistical bounds are 5 sigma for the sample size, and every random input comes from a
//! fixed seed (fixed workload seeds, and a fixed proptest RNG seed), so these tests are
//! deterministic: they cannot flake, and a failure is a real change.
#![cfg(not(target_arch = "wasm32"))]

use cpbench_core::arrival::{ArrivalConfig, offsets_us};
use cpbench_core::config::{BenchmarkConfig, Mode};
use cpbench_core::lengths::LengthDist;
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::workload::{Workload, WorkloadData, generate};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        rng_seed: RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A config whose requests are cheap to build (one-token prompts and outputs).
fn tiny(n: u64, seed: u64) -> BenchmarkConfig {
    BenchmarkConfig {
        num_requests: n,
        warmup_requests: 0,
        seed,
        prompt_length: LengthDist::Fixed { value: 1 },
        output_length: LengthDist::Fixed { value: 1 },
        embedding_input_length: LengthDist::Fixed { value: 1 },
        embedding_batch_sizes: vec![1],
        ..BenchmarkConfig::default()
    }
}

fn gen_ok(c: &BenchmarkConfig) -> Workload {
    generate(c, &WorkloadData::none()).expect("valid config generates")
}

/// Checks that the last offset of `n` requests (the sum of `n - 1` gaps) is within 5 sigma
/// of `(n - 1) / rate`, where `gap_sd_s` is the standard deviation of one gap.
fn assert_span(w: &Workload, rate: f64, gap_sd_s: f64, slack_s: f64, what: &str) {
    let gaps = (w.len() - 1) as f64;
    let span_s = w.duration_us() as f64 / 1e6;
    let expected = gaps / rate;
    let bound = 5.0 * gap_sd_s * gaps.sqrt() + slack_s + 1e-6;
    assert!(
        (span_s - expected).abs() <= bound,
        "{what}: span {span_s} s, expected {expected} +- {bound}"
    );
}

#[test]
fn arrivals_hit_the_mean_rate_for_fixed_seeds() {
    // The arrival process alone, on a large sample: 5 sigma is about 2% of the span for
    // poisson and about 3% for gamma with burstiness 0.25, so a rate off by 4% fails.
    let n = 100_000usize;
    for (seed, rate) in [(0u64, 2.0), (1, 1_000.0)] {
        for (pattern, gap_sd, slack) in [
            (ArrivalConfig::Poisson, 1.0 / rate, 0.0),
            (ArrivalConfig::Gamma { burstiness: 0.25 }, 2.0 / rate, 0.0),
            (ArrivalConfig::Gamma { burstiness: 4.0 }, 0.5 / rate, 0.0),
            (
                // periods of ~200 requests; on-time gaps have sd 1/rate_on and the wall
                // clock stretches on-time by (on + off) / on = 4; a partial off-period
                // adds up to off_s.
                ArrivalConfig::Burst {
                    on_s: 50.0 / rate,
                    off_s: 150.0 / rate,
                },
                1.0 / rate,
                150.0 / rate,
            ),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let offsets = offsets_us(&pattern, rate, n, &mut rng).unwrap();
            let gaps = (n - 1) as f64;
            let span_s = offsets[n - 1] as f64 / 1e6;
            let expected = gaps / rate;
            let bound = 5.0 * gap_sd * gaps.sqrt() + slack;
            assert!(
                (span_s - expected).abs() <= bound,
                "{pattern:?} at {rate}/s, seed {seed}: span {span_s}, expected {expected} +- {bound}"
            );
            assert!(bound / expected < 0.04, "the test can see a 4% rate error");
        }
    }
}

#[test]
fn workload_arrivals_hit_the_mean_rate_for_fixed_seeds() {
    let n = 2_000;
    for seed in 0..2u64 {
        for rate in [2.0, 50.0, 1_000.0] {
            for (pattern, gap_sd, slack) in [
                (ArrivalConfig::Poisson, 1.0 / rate, 0.0),
                (ArrivalConfig::Constant, 0.0, 1e-6),
                (
                    ArrivalConfig::Gamma { burstiness: 0.25 },
                    1.0 / (rate * 0.25f64.sqrt()),
                    0.0,
                ),
                (
                    ArrivalConfig::Gamma { burstiness: 4.0 },
                    1.0 / (rate * 2.0),
                    0.0,
                ),
                (
                    // on-time gaps have sd 1/rate_on; the wall clock stretches on-time by
                    // (on + off) / on = 4, and a partial off-period adds up to off_s.
                    ArrivalConfig::Burst {
                        on_s: 0.5,
                        off_s: 1.5,
                    },
                    4.0 / (rate * 4.0),
                    1.5,
                ),
            ] {
                let mut c = tiny(n, seed);
                c.request_rate = rate;
                c.arrival = pattern.clone();
                let w = gen_ok(&c);
                assert_eq!(w.requests[0].offset_us, 0);
                assert_span(
                    &w,
                    rate,
                    gap_sd,
                    slack,
                    &format!("{pattern:?} at {rate}/s, seed {seed}"),
                );
            }
        }
    }
}

fn weighted_counts_within_bounds<K: Ord + std::fmt::Debug>(
    counts: &BTreeMap<K, u64>,
    weights: &BTreeMap<K, f64>,
    n: u64,
) -> Result<(), TestCaseError> {
    let total: f64 = weights.values().sum();
    for (k, w) in weights {
        let p = w / total;
        let got = counts.get(k).copied().unwrap_or(0) as f64;
        let mean = n as f64 * p;
        let bound = 5.0 * (n as f64 * p * (1.0 - p)).sqrt() + 1.0;
        prop_assert!(
            (got - mean).abs() <= bound,
            "{:?}: {} of {}, expected {} +- {}",
            k,
            got,
            n,
            mean,
            bound
        );
    }
    for k in counts.keys() {
        prop_assert!(weights.get(k).is_some_and(|w| *w > 0.0), "{:?} drawn", k);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_rate_and_burstiness_keeps_the_mean(
        seed in any::<u64>(),
        rate in 0.5f64..500.0,
        burstiness in 0.2f64..5.0,
    ) {
        let mut c = tiny(1_500, seed);
        c.request_rate = rate;
        for (pattern, gap_sd) in [
            (ArrivalConfig::Poisson, 1.0 / rate),
            (ArrivalConfig::Gamma { burstiness }, 1.0 / (rate * burstiness.sqrt())),
            (ArrivalConfig::Constant, 0.0),
        ] {
            c.arrival = pattern;
            let w = gen_ok(&c);
            assert_span(&w, rate, gap_sd, 1e-6, &format!("{:?}", c.arrival));
            prop_assert!(w.requests.windows(2).all(|p| p[0].offset_us <= p[1].offset_us));
        }
    }

    #[test]
    fn lengths_honour_bounds(
        seed in any::<u64>(),
        a in 1u32..3_000,
        b in 1u32..3_000,
        mean in 1.0f64..5_000.0,
        spread in 0.0f64..3.0,
    ) {
        let (min, max) = (a.min(b), a.max(b));
        let dists = [
            LengthDist::Fixed { value: a },
            LengthDist::Uniform { min, max },
            LengthDist::Normal { mean, stddev: spread * mean, min, max },
            LengthDist::Lognormal { mean, sigma: spread, min, max },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for d in &dists {
            prop_assert!(d.check("d").is_empty());
            let (lo, hi) = d.bounds().unwrap();
            for _ in 0..300 {
                let x = d.sample(&mut rng).unwrap();
                prop_assert!(x >= lo && x <= hi, "{:?} gave {}", d, x);
            }
        }
        // Through a workload: max_tokens is the sampled output length exactly; the prompt is
        // synthetic text whose estimate reaches its target and overshoots by at most a word.
        let mut c = tiny(60, seed);
        c.output_length = dists[3].clone();
        c.prompt_length = LengthDist::Uniform { min: min.min(400), max: max.min(400) };
        let w = gen_ok(&c);
        for r in &w.requests {
            prop_assert!(r.max_tokens >= min && r.max_tokens <= max);
            prop_assert!(r.prompt_tokens_est >= min.min(400));
            prop_assert!(r.prompt_tokens_est <= max.min(400) + 4);
        }
    }

    #[test]
    fn mixes_match_their_weights(
        seed in any::<u64>(),
        wp in prop::array::uniform3(0u8..10),
        wm in prop::array::uniform2(1u8..10),
        llm_twentieths in 0u8..=20,
        completions_tenths in 0u8..=10,
    ) {
        prop_assume!(wp.iter().any(|w| *w > 0));
        let n = 3_000u64;
        let mut c = tiny(n, seed);
        c.mode = Mode::Hybrid;
        c.set_llm_ratio(f64::from(llm_twentieths) / 20.0);
        c.completions_ratio = f64::from(completions_tenths) / 10.0;
        c.priority_distribution = Priority::ALL.into_iter().zip(wp.map(f64::from)).collect();
        c.model_distribution =
            [("a".to_string(), f64::from(wm[0])), ("b".to_string(), f64::from(wm[1]))].into();
        let w = gen_ok(&c);

        let mut prio = BTreeMap::new();
        let mut models = BTreeMap::new();
        let mut kinds = BTreeMap::new();
        for r in &w.requests {
            *prio.entry(r.priority).or_insert(0) += 1;
            *kinds.entry(r.kind).or_insert(0) += 1;
            if r.kind.is_llm() {
                *models.entry(w.model(r).to_owned()).or_insert(0) += 1;
            }
        }
        weighted_counts_within_bounds(&prio, &c.priority_distribution, n)?;
        let llm_n: u64 = models.values().sum();
        if llm_n > 0 {
            weighted_counts_within_bounds(&models, &c.model_distribution, llm_n)?;
        }
        let l = c.llm_ratio;
        let q = c.completions_ratio;
        let kind_weights: BTreeMap<RequestKind, f64> = [
            (RequestKind::LlmChat, l * (1.0 - q)),
            (RequestKind::LlmGenerate, l * q),
            (RequestKind::Embedding, c.embedding_ratio),
        ]
        .into();
        weighted_counts_within_bounds(&kinds, &kind_weights, n)?;
    }

    #[test]
    fn same_config_and_seed_give_the_same_workload(
        seed in any::<u64>(),
        hybrid in any::<bool>(),
        burstiness in 0.1f64..3.0,
    ) {
        let mut c = if hybrid {
            BenchmarkConfig::for_mode(Mode::Hybrid)
        } else {
            BenchmarkConfig::default()
        };
        c.seed = seed;
        c.num_requests = 20;
        c.warmup_requests = 2;
        c.arrival = ArrivalConfig::Gamma { burstiness };
        let a = gen_ok(&c);
        let b = gen_ok(&c);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.hash(), b.hash());
        c.seed = seed.wrapping_add(1);
        let other = gen_ok(&c);
        prop_assert_ne!(a.hash(), other.hash());
    }

    #[test]
    fn shards_partition_the_workload(seed in any::<u64>(), count in 1u64..8, n in 1u64..200) {
        let mut c = tiny(n, seed);
        c.warmup_requests = n / 3;
        let w = gen_ok(&c);
        let shards: Vec<Workload> = (0..count).map(|i| w.shard(i, count)).collect();
        let mut ids: Vec<u64> = shards
            .iter()
            .flat_map(|s| s.requests.iter().map(|r| r.id))
            .collect();
        prop_assert_eq!(ids.len(), w.len(), "disjoint and complete");
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..n).collect::<Vec<_>>());
        let warmup: usize = shards.iter().map(|s| s.warmup.len()).sum();
        prop_assert_eq!(warmup, w.warmup.len());
        for (i, s) in shards.iter().enumerate() {
            prop_assert!(s.requests.windows(2).all(|p| p[0].offset_us <= p[1].offset_us));
            for r in &s.requests {
                prop_assert_eq!(r.id % count, i as u64);
                prop_assert_eq!(r, &w.requests[r.id as usize]);
            }
        }
    }

    #[test]
    fn one_aspect_does_not_move_the_others(
        seed in any::<u64>(),
        wp in prop::array::uniform3(1u8..10),
        rate in 1.0f64..100.0,
    ) {
        let mut c = tiny(300, seed);
        c.mode = Mode::Hybrid;
        c.set_llm_ratio(0.6);
        let base = gen_ok(&c);

        // New priority mix: arrival times, kinds, models and texts stay.
        let mut p = c.clone();
        p.priority_distribution = Priority::ALL.into_iter().zip(wp.map(f64::from)).collect();
        let w = gen_ok(&p);
        for (x, y) in base.requests.iter().zip(&w.requests) {
            prop_assert_eq!(x.offset_us, y.offset_us);
            prop_assert_eq!(x.kind, y.kind);
            prop_assert_eq!(base.model(x), w.model(y));
            prop_assert_eq!(base.text(x), w.text(y));
        }

        // New rate and arrival pattern: every request but its offset stays.
        let mut a = c.clone();
        a.request_rate = rate;
        a.arrival = ArrivalConfig::Gamma { burstiness: 0.5 };
        let w = gen_ok(&a);
        for (x, y) in base.requests.iter().zip(&w.requests) {
            prop_assert_eq!((x.kind, x.priority, base.model(x)), (y.kind, y.priority, w.model(y)));
            prop_assert_eq!(base.text(x).prompt, w.text(y).prompt);
        }

        // New output lengths: offsets and priorities stay.
        let mut o = c;
        o.output_length = LengthDist::Uniform { min: 5, max: 50 };
        let w = gen_ok(&o);
        for (x, y) in base.requests.iter().zip(&w.requests) {
            prop_assert_eq!((x.offset_us, x.priority), (y.offset_us, y.priority));
        }
    }
}
