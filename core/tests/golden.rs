//! Golden hashes of representative workloads, checked natively and on `wasm32` (under node):
//! the same config and seed must give the same requests, byte for byte, on every platform.
//!
//! When a change to workload generation is intended, update the constants here and say why in
//! the commit: every result file records its workload hash, and a changed hash means old
//! results were measured on different requests.

use cpbench_core::arrival::{ArrivalConfig, Trace};
use cpbench_core::config::{BenchmarkConfig, DatasetRef, Mode, TraceRef, example_yaml};
use cpbench_core::dataset::{Dataset, DatasetFormat};
use cpbench_core::lengths::LengthDist;
use cpbench_core::request::RequestKind;
use cpbench_core::workload::{Workload, WorkloadData, generate};

const SHAREGPT: &str = include_str!("data/sharegpt_small.json");
const TRACE: &str = include_str!("data/trace_small.jsonl");

const LLM_DEFAULT_HASH: &str = "bbc60dcc53038be36769fa9298da89fc2d561ec336c490ba3ab3dbcd1693231f";
const HYBRID_EXAMPLE_HASH: &str =
    "1f8fefb25579eee83340cecb12e8e0b136e2b5e93ad5eb804030b23117b33a27";
const GAMMA_DATASET_HASH: &str = "f9a1847f0c04ae085d8cdbd862c4e01f52042d46aab467b2201ab9e249b62178";
const TRACE_REPLAY_HASH: &str = "d6f3c83fbb61967f6254baf5399ba1df196efdec7ea7e8c5f4c81046fe8c8619";

fn check(w: &Workload, expected: &str, name: &str) {
    assert_eq!(w.hash(), expected, "{name}: workload hash changed");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn llm_default() {
    let c = BenchmarkConfig::from_yaml("").unwrap();
    let w = generate(&c, &WorkloadData::none()).unwrap();
    assert_eq!((w.len(), w.warmup.len()), (100, 10));
    check(&w, LLM_DEFAULT_HASH, "llm default");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hybrid_example() {
    let mut c = BenchmarkConfig::from_yaml(&example_yaml(Mode::Hybrid)).unwrap();
    c.num_requests = 80;
    c.completions_ratio = 0.25;
    c.arrival = ArrivalConfig::Burst {
        on_s: 1.0,
        off_s: 2.0,
    };
    let w = generate(&c, &WorkloadData::none()).unwrap();
    assert!(w.requests.iter().any(|r| r.kind == RequestKind::Embedding));
    assert!(
        w.requests
            .iter()
            .any(|r| r.kind == RequestKind::LlmGenerate)
    );
    check(&w, HYBRID_EXAMPLE_HASH, "hybrid example");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn gamma_with_dataset() {
    let c = BenchmarkConfig::from_yaml(
        "num_requests: 50\nrequest_rate: 25\nseed: 7\n\
         arrival: {pattern: gamma, burstiness: 0.3}\n\
         dataset: {path: data/sharegpt_small.json}\n\
         prompt_length: {dist: empirical}\noutput_length: {dist: empirical}\n",
    )
    .unwrap();
    let format = c.dataset.as_ref().and_then(DatasetRef::resolved_format);
    assert_eq!(format, Some(DatasetFormat::Sharegpt));
    let dataset = Dataset::parse(SHAREGPT.as_bytes(), format.unwrap()).unwrap();
    assert_eq!((dataset.len(), dataset.skipped), (6, 2));
    let w = generate(
        &c,
        &WorkloadData {
            dataset: Some(dataset),
            trace: None,
        },
    )
    .unwrap();
    check(&w, GAMMA_DATASET_HASH, "gamma with dataset");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn trace_replay() {
    let mut c = BenchmarkConfig::for_mode(Mode::Hybrid);
    c.num_requests = 12;
    c.warmup_requests = 2;
    c.seed = 2024;
    c.arrival = ArrivalConfig::Trace {
        timestamps_ms: vec![],
    };
    c.trace = Some(TraceRef {
        path: "data/trace_small.jsonl".into(),
    });
    c.output_length = LengthDist::Normal {
        mean: 64.0,
        stddev: 16.0,
        min: 4,
        max: 256,
    };
    let trace = Trace::parse_jsonl(TRACE.as_bytes()).unwrap();
    let w = generate(
        &c,
        &WorkloadData {
            dataset: None,
            trace: Some(trace),
        },
    )
    .unwrap();
    assert_eq!(w.requests[0].offset_us, 0);
    assert_eq!(w.duration_us(), 3_500_000);
    check(&w, TRACE_REPLAY_HASH, "trace replay");
}
