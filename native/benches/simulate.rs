//! How long a 100,000-request virtual-time simulation takes.
//!
//! `cargo bench -p sage-cp-bench --bench simulate`
//!
//! `simulate_100k`: the workload is built here (not by the workload generator) so the number
//! measures only the cluster and the driver: 80% chat requests spread over the `default`
//! preset's two LLMs (prompts of 64-1,023 tokens, 32-255 output tokens), 20% single-input
//! embeddings, arriving evenly at 10 requests/s with seeded jitter: about 10,000 s of virtual
//! time.
//!
//! `simulate_command_100k`: what `simulate -n 100000 -p fifo --no-records` does before
//! writing its files: the default config's workload generated, hashed and simulated into a
//! report. The goal is a million requests in 3 s, so 0.3 s here.

use cpbench_core::cluster::{ClusterSpec, POLICY_NAMES};
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::sim::simulate;
use cpbench_core::text::mix64;
use cpbench_core::workload::{RequestSpec, TextSource, Workload, WorkloadData, generate};
use criterion::{Criterion, criterion_group, criterion_main};
use sage_cp_bench::simulate::simulate_report;
use std::hint::black_box;
use std::time::Duration;

const REQUESTS: u64 = 100_000;
const RATE_PER_S: u64 = 10;

/// The model names, indexed by `RequestSpec::model`.
const MODELS: [&str; 3] = [
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-2-13b-chat-hf",
    "BAAI/bge-m3",
];

fn workload() -> Vec<RequestSpec> {
    let gap_us = 1_000_000 / RATE_PER_S;
    (0..REQUESTS)
        .map(|id| {
            let h = mix64(0xBE4C ^ id);
            let offset_us = id * gap_us + h % gap_us;
            let priority = Priority::ALL[(h >> 20) as usize % 3];
            if h.is_multiple_of(5) {
                RequestSpec {
                    id,
                    offset_us,
                    kind: RequestKind::Embedding,
                    model: 2,
                    priority,
                    slo_deadline_ms: 200,
                    slo_ttft_ms: None,
                    prompt_tokens_est: 64 + (h >> 8) as u32 % 448,
                    max_tokens: 0,
                    text: TextSource::FixedInputs {
                        seed: h,
                        inputs: 1,
                        tokens: 64 + (h >> 8) as u32 % 448,
                    },
                }
            } else {
                RequestSpec {
                    id,
                    offset_us,
                    kind: RequestKind::LlmChat,
                    model: (h >> 40) as u32 % 2,
                    priority,
                    slo_deadline_ms: 5_000,
                    slo_ttft_ms: None,
                    prompt_tokens_est: 64 + (h >> 8) as u32 % 960,
                    max_tokens: 32 + (h >> 30) as u32 % 224,
                    text: TextSource::Synthetic {
                        seed: h,
                        tokens: 64 + (h >> 8) as u32 % 960,
                    },
                }
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let models: Vec<String> = MODELS.iter().map(|m| m.to_string()).collect();
    let w = Workload::from_requests(1, models, workload());
    let spec = ClusterSpec::preset("default").expect("preset");
    let mut group = c.benchmark_group("simulate_100k");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for policy in ["fifo", "slo_aware", "aegaeon", "hybrid_slo"] {
        assert!(POLICY_NAMES.contains(&policy));
        group.bench_function(policy, |b| {
            b.iter(|| {
                let out = simulate(black_box(&w), &spec, policy, 1).expect("simulate");
                black_box(out.records.len())
            })
        });
    }
    group.finish();
}

fn bench_command(c: &mut Criterion) {
    let config = BenchmarkConfig {
        num_requests: REQUESTS,
        policies: vec!["fifo".to_owned()],
        ..BenchmarkConfig::default()
    };
    let spec = ClusterSpec::preset("default").expect("preset");
    let mut group = c.benchmark_group("simulate_command_100k");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("fifo", |b| {
        b.iter(|| {
            let w = generate(black_box(&config), &WorkloadData::none()).expect("workload");
            let report =
                simulate_report(&config, &w, &spec, "default", String::new(), false).unwrap();
            black_box(report.runs.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_command);
criterion_main!(benches);
