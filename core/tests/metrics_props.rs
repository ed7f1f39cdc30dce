//! Property tests of the metric math: histograms against exact sorts, merging, and summary
//! invariants over arbitrary record sets.
#![cfg(not(target_arch = "wasm32"))]

use cpbench_core::histogram::LatencyHistogram;
use cpbench_core::metrics::{Breakdowns, LatencyHistograms, MeasureWindow, Summary, TimeSeries};
use cpbench_core::record::RequestRecord;
use cpbench_core::report::{PolicyRun, PolicySwitch, RunParams};
use cpbench_core::slo::meets_slo;
use proptest::prelude::*;

mod common;
use common::{record_strategy, targets};

/// Latency-like values: mostly small, some spanning many orders of magnitude.
fn value_us() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..5_000, 0u64..10_000_000, 0u64..(1u64 << 40)]
}

/// The exact nearest-rank percentile, defined as HdrHistogram defines its rank.
fn exact_percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn histogram_of(values: &[u64]) -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    for &v in values {
        h.record(v);
    }
    h
}

fn assert_finite(s: &Summary) {
    let floats = [
        s.duration_s,
        s.request_throughput_rps,
        s.output_tokens_per_s,
        s.total_tokens_per_s,
        s.slo_compliance,
        s.goodput_rps,
        s.error_rate,
        s.timeout_rate,
    ];
    assert!(floats.iter().all(|x| x.is_finite() && *x >= 0.0), "{s:?}");
    for stats in [s.ttft, s.itl, s.tpot, s.e2e, s.lateness, s.queue_time]
        .into_iter()
        .flatten()
    {
        let v = [
            stats.mean_ms,
            stats.min_ms,
            stats.max_ms,
            stats.stddev_ms,
            stats.p50_ms,
            stats.p90_ms,
            stats.p95_ms,
            stats.p99_ms,
            stats.p999_ms,
        ];
        assert!(v.iter().all(|x| x.is_finite()), "{stats:?}");
        assert!(stats.count > 0);
        assert!(stats.min_ms <= stats.p50_ms && stats.p50_ms <= stats.p90_ms);
        assert!(stats.p90_ms <= stats.p95_ms && stats.p95_ms <= stats.p99_ms);
        assert!(stats.p99_ms <= stats.p999_ms && stats.p999_ms <= stats.max_ms);
    }
}

proptest! {
    // Histogram scans are slow in debug builds; 64 cases keep the run short.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_equals_recording_all_into_one(
        a in proptest::collection::vec(value_us(), 0..300),
        b in proptest::collection::vec(value_us(), 0..300),
    ) {
        let mut merged = histogram_of(&a);
        merged.merge(&histogram_of(&b));
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let one = histogram_of(&all);
        prop_assert_eq!(&merged, &one);
        prop_assert_eq!(merged.count(), all.len() as u64);
        for p in [0.0, 50.0, 99.0, 100.0] {
            prop_assert_eq!(merged.percentile_us(p), one.percentile_us(p));
        }
    }

    #[test]
    fn percentiles_agree_with_exact_sort_within_precision(
        mut values in proptest::collection::vec(value_us(), 1..500),
        p in 0.0f64..=100.0,
    ) {
        let h = histogram_of(&values);
        values.sort_unstable();
        for p in [p, 0.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            let exact = exact_percentile(&values, p);
            let got = h.percentile_us(p);
            // Nearest rank, rounded up to the bucket's highest value: never below the exact
            // value, and above it by less than 1/1024 of it (exact below 2048 µs).
            prop_assert!(got >= exact, "p{} got {} exact {}", p, got, exact);
            prop_assert!((got - exact) as f64 <= exact as f64 / 1024.0, "p{} got {} exact {}", p, got, exact);
            if exact < 2048 {
                prop_assert_eq!(got, exact);
            }
        }
        let ps = [p, 0.0, 50.0, 90.0, 99.0, 99.9, 100.0];
        let one_pass = h.percentiles_us(&ps);
        for (i, &p) in ps.iter().enumerate() {
            prop_assert_eq!(one_pass[i], h.percentile_us(p));
        }
        let min = values[0];
        let max = *values.last().unwrap();
        prop_assert!(h.min_ms() * 1000.0 <= min as f64 + 0.5);
        prop_assert!(h.max_ms() * 1000.0 + 0.5 >= max as f64);
        prop_assert!((h.max_ms() * 1000.0 - max as f64) <= max as f64 / 1024.0 + 0.5);
    }

    #[test]
    fn serialized_form_round_trips(values in proptest::collection::vec(value_us(), 0..300)) {
        let h = histogram_of(&values);
        let json = serde_json::to_string(&h).unwrap();
        let back: LatencyHistogram = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &h);
        for p in [0.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            prop_assert_eq!(back.percentile_us(p), h.percentile_us(p));
        }
        prop_assert_eq!(back.mean_ms(), h.mean_ms());
        prop_assert_eq!(back.stddev_ms(), h.stddev_ms());
    }

}

proptest! {
    // A run's summary, breakdowns and series hold about 60 histograms: fewer, larger cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn summary_invariants(records in proptest::collection::vec(record_strategy(), 0..80)) {
        let t = targets();
        let (s, hist) = Summary::from_records(&records, &t, MeasureWindow::UntilLastEnd);
        assert_finite(&s);
        prop_assert_eq!(s.requests_total, records.len() as u64);
        prop_assert_eq!(s.requests_succeeded + s.requests_failed, s.requests_total);
        prop_assert_eq!(s.errors_by_kind.values().sum::<u64>(), s.requests_failed);
        prop_assert!(s.slo_met <= s.requests_succeeded);
        prop_assert_eq!(s.slo_met, records.iter().filter(|r| meets_slo(r, &t)).count() as u64);
        prop_assert!(s.slo_compliance <= 1.0 && s.error_rate <= 1.0 && s.timeout_rate <= s.error_rate);
        prop_assert!(s.goodput_rps <= s.request_throughput_rps);
        prop_assert_eq!(hist.e2e.count(), s.requests_succeeded);

        // Every breakdown partitions the set.
        let b = Breakdowns::from_records(&records, &t, MeasureWindow::UntilLastEnd);
        for groups in [&b.by_priority, &b.by_model, &b.by_kind] {
            prop_assert_eq!(groups.values().map(|g| g.requests_total).sum::<u64>(), s.requests_total);
            prop_assert_eq!(groups.values().map(|g| g.slo_met).sum::<u64>(), s.slo_met);
            prop_assert_eq!(groups.values().map(|g| g.output_tokens_total).sum::<u64>(), s.output_tokens_total);
            let rps: f64 = groups.values().map(|g| g.request_throughput_rps).sum();
            prop_assert!((rps - s.request_throughput_rps).abs() <= 1e-9 * (1.0 + rps));
            for g in groups.values() {
                assert_finite(g);
                prop_assert_eq!(g.duration_s, s.duration_s);
            }
        }

        // The per-second series accounts for every request once.
        let ts = TimeSeries::from_records(&records, &t);
        prop_assert!(ts.seconds.iter().enumerate().all(|(i, b)| b.t_s == i as u64));
        prop_assert_eq!(ts.seconds.iter().map(|b| b.sent).sum::<u64>(), s.requests_total);
        prop_assert_eq!(ts.seconds.iter().map(|b| b.completed).sum::<u64>(), s.requests_succeeded);
        prop_assert_eq!(ts.seconds.iter().map(|b| b.errors).sum::<u64>(), s.requests_failed);
        prop_assert_eq!(ts.seconds.iter().map(|b| b.slo_met).sum::<u64>(), s.slo_met);
        prop_assert_eq!(ts.seconds.iter().map(|b| b.output_tokens).sum::<u64>(), s.output_tokens_total);
    }

    #[test]
    fn shards_merge_and_order_does_not_matter(
        records in proptest::collection::vec(record_strategy(), 0..60),
        split in 0usize..60,
    ) {
        let split = split.min(records.len());
        let mut merged = LatencyHistograms::from_records(&records[..split]);
        merged.merge(&LatencyHistograms::from_records(&records[split..]));
        prop_assert_eq!(&merged, &LatencyHistograms::from_records(&records));

        // Workload ids are unique; the run sorts its records by id.
        let records: Vec<RequestRecord> = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| RequestRecord { id: i as u64, ..r })
            .collect();
        let t = targets();
        let mut reversed = records.clone();
        reversed.reverse();
        let a = PolicyRun::from_records("p", PolicySwitch::Simulated, RunParams::default(), records, &t, true);
        let b = PolicyRun::from_records("p", PolicySwitch::Simulated, RunParams::default(), reversed, &t, true);
        prop_assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }
}
