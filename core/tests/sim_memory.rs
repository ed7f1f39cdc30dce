//! A simulated run's memory does not grow with its number of requests: `sim::simulate_with`
//! keeps only the requests in flight, and a [`RunAccumulator`] keeps aggregates and a bounded
//! sample, so the records of a run are never all held.
//!
//! Measured as resident memory (the peak, `VmHWM` of `/proc/self/status`) of a child process
//! (this test binary run again for one length), from after the workload is built to the end
//! of the run, at two lengths: 30,000 and 300,000 requests. The schedule itself (80 bytes a
//! request) is built before the measurement starts; what the run adds must not grow with the
//! number of requests beyond what is kept per second of the run (the per-second series and
//! the cluster's snapshots, which grow with its duration); keeping every record, as before,
//! added about 700 bytes a request, ten times as much for ten times the requests. Not
//! timing-based: only memory is compared.

#![cfg(target_os = "linux")]

use cpbench_core::cluster::presets;
use cpbench_core::metrics::{DEFAULT_SAMPLE_LIMIT, MeasureWindow, RunAccumulator};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::sim::simulate_with;
use cpbench_core::slo::SloTargets;
use cpbench_core::text::mix64;
use cpbench_core::workload::{RequestSpec, TextSource, Workload};
use std::process::Command;

/// The environment variable that makes the child test run a simulation of this many requests.
const CHILD_ENV: &str = "CPBENCH_SIM_MEMORY_REQUESTS";

/// Requests per second: below what the `default` preset serves for these lengths, so queues
/// stay short and the run's length in seconds grows with its requests as a real run's does.
const RATE_PER_S: u64 = 100;

/// A workload of `n` requests: 80 % chat (short prompts and answers, to keep a debug build
/// quick) over the `default` preset's two LLMs, 20 % single-input embeddings.
fn workload(n: u64) -> Workload {
    let gap_us = 1_000_000 / RATE_PER_S;
    let requests = (0..n)
        .map(|id| {
            let h = mix64(0x5EED ^ id);
            let offset_us = id * gap_us + h % gap_us;
            let priority = Priority::ALL[(h >> 20) as usize % 3];
            let tokens = 16 + (h >> 8) as u32 % 32;
            if h.is_multiple_of(5) {
                RequestSpec {
                    id,
                    offset_us,
                    kind: RequestKind::Embedding,
                    model: 2,
                    priority,
                    slo_deadline_ms: 200,
                    slo_ttft_ms: None,
                    prompt_tokens_est: tokens,
                    max_tokens: 0,
                    text: TextSource::FixedInputs {
                        seed: h,
                        inputs: 1,
                        tokens,
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
                    prompt_tokens_est: tokens,
                    max_tokens: 4 + (h >> 50) as u32 % 12,
                    text: TextSource::Synthetic { seed: h, tokens },
                }
            }
        })
        .collect();
    let models = vec![
        "Qwen/Qwen2.5-7B-Instruct".to_owned(),
        "meta-llama/Llama-2-13b-chat-hf".to_owned(),
        "BAAI/bge-m3".to_owned(),
    ];
    Workload::from_requests(1, models, requests)
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a number in {line:?}"));
    kb * 1024
}

/// Runs the child test for `n` requests and gives what the run added to the peak resident
/// memory, in bytes.
fn run_growth(n: u64) -> u64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_simulates", "--ignored", "--nocapture"])
        .env(CHILD_ENV, n.to_string())
        .output()
        .expect("running the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child for {n} requests failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("rss growth bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no growth reported by the child: {stdout}"))
}

#[test]
fn a_simulated_runs_memory_does_not_grow_with_its_requests() {
    let (small_n, large_n) = (30_000, 300_000);
    let small = run_growth(small_n);
    let large = run_growth(large_n);
    eprintln!(
        "peak resident growth: {small_n} requests {:.1} MB, {large_n} requests {:.1} MB",
        small as f64 / 1e6,
        large as f64 / 1e6
    );
    // The 10,000-record sample is full at both lengths; what grows is kept per second of the
    // run (3,000 seconds against 300: the per-second series and the cluster's snapshots),
    // about 13 MB here. Keeping every record would add some 190 MB more.
    assert!(
        (large as f64) < 3.0 * (small.max(1 << 20) as f64),
        "ten times the requests took {large} bytes against {small}: memory grows with the run"
    );
    assert!(
        large < 100 * (1 << 20),
        "{large} bytes for {large_n} requests beyond the schedule"
    );
}

/// The child: simulates `CPBENCH_SIM_MEMORY_REQUESTS` requests into an accumulator and prints
/// how much the peak resident memory grew during the run. Run by the test above.
#[test]
#[ignore = "run as a child process by a_simulated_runs_memory_does_not_grow_with_its_requests"]
fn child_simulates() {
    let Some(n) = std::env::var(CHILD_ENV).ok().and_then(|v| v.parse().ok()) else {
        return;
    };
    let w = workload(n);
    let spec = presets::default_cluster();
    let before = status_bytes("VmRSS:");
    let mut acc = RunAccumulator::new(&SloTargets::default(), Some(DEFAULT_SAMPLE_LIMIT));
    let metrics = simulate_with(&w, &spec, "fifo", 1, |r| acc.push(r)).unwrap();
    let aggregates = acc.finish(MeasureWindow::UntilLastEnd);
    assert_eq!(aggregates.summary.requests_total, n);
    assert_eq!(metrics.metrics.requests.completed, n);
    let peak = status_bytes("VmHWM:");
    println!("rss growth bytes: {}", peak.saturating_sub(before));
}
