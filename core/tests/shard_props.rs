//! Sharding: the N shards of a workload hold every request of it exactly once, with its id
//! and time, each spanning the whole schedule at about 1/N of the rate; and the runs of
//! shards, their accumulators written out ([`AccumulatorState`], as a shard result carries
//! them) and read back, merge into what one accumulator of every record gives.
#![cfg(not(target_arch = "wasm32"))]

use cpbench_core::config::BenchmarkConfig;
use cpbench_core::metrics::{
    AccumulatorState, DEFAULT_SAMPLE_LIMIT, MeasureWindow, RunAccumulator,
};
use cpbench_core::workload::{WorkloadData, generate};
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;
use common::{record_strategy, targets};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn shards_cover_the_workload_once(seed in any::<u64>(), n in 1u64..6, requests in 1u64..400) {
        let c = BenchmarkConfig { seed, num_requests: requests, warmup_requests: 0, request_rate: 50.0, ..BenchmarkConfig::default() };
        let w = generate(&c, &WorkloadData::none()).unwrap();
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for i in 0..n {
            let s = w.shard(i, n);
            for r in &s.requests {
                prop_assert_eq!(r.id % n, i);
                *seen.entry(r.id).or_default() += 1;
            }
            // Ids and times are the full workload's.
            for r in &s.requests {
                let full = w.requests.iter().find(|f| f.id == r.id).unwrap();
                prop_assert_eq!(full, r);
            }
            // Each shard spans the schedule: its share of requests is about 1/n.
            let expected = w.requests.len() as f64 / n as f64;
            prop_assert!((s.requests.len() as f64 - expected).abs() <= 1.0);
        }
        prop_assert_eq!(seen.len(), w.requests.len());
        prop_assert!(seen.values().all(|k| *k == 1));
    }

    #[test]
    fn shard_states_merge_into_the_whole_run(
        records in prop::collection::vec(record_strategy(), 0..200),
        n in 1usize..5,
    ) {
        let t = targets();
        let mut whole = RunAccumulator::new(&t, Some(DEFAULT_SAMPLE_LIMIT));
        for r in &records {
            whole.add(r);
        }
        let mut parts: Vec<RunAccumulator> =
            (0..n).map(|_| RunAccumulator::new(&t, Some(DEFAULT_SAMPLE_LIMIT))).collect();
        for r in &records {
            parts[(r.id % n as u64) as usize].add(r);
        }
        let mut merged: Option<RunAccumulator> = None;
        for p in parts {
            let state: AccumulatorState = p.state();
            let sample = p.finish(MeasureWindow::UntilLastEnd).records_sample;
            let json = serde_json::to_string(&state).unwrap();
            let back: AccumulatorState = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &state);
            let a = RunAccumulator::from_state(back, sample.as_ref());
            match &mut merged {
                Some(m) => m.merge(a),
                None => merged = Some(a),
            }
        }
        let merged = merged.unwrap().finish(MeasureWindow::UntilLastEnd);
        let whole = whole.finish(MeasureWindow::UntilLastEnd);
        prop_assert_eq!(merged, whole);
    }
}

#[test]
fn an_empty_state_reads_back() {
    let acc = RunAccumulator::new(&targets(), None);
    let s = acc.state();
    let back: AccumulatorState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}
