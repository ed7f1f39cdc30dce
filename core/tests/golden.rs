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

const LLM_DEFAULT_HASH: &str = "e384cd2396bbc675982fe80400a9c8a48b865e5c8f350cf22f20adc7cc2ebf2b";
const HYBRID_EXAMPLE_HASH: &str =
    "c8df048f2ff13a810005f9e415ff1b78adf87af95495aea72e52b8dc43c3ea0d";
const GAMMA_DATASET_HASH: &str = "9f1fc35c0ff36aceded023831155fb9d6946637b4d6ca4efa53ac8c5abae7801";
const TRACE_REPLAY_HASH: &str = "3ce44f87069c78ba6272f327445badb8d76dd0010bf620160d65c36f4b29a3a2";

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
            dataset: Some(dataset.into()),
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
