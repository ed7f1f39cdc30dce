//! Every default of a flag that is not a workload value, defined once; the workload's
//! defaults are `BenchmarkConfig::default()` (core), and the few that differ by command
//! (policies, `experiment`'s requests and rate, sweep rates) are here. The clap types refer
//! to these constants, and [`shown_in_help`] puts the resolved ones into `--help`.

use cpbench_core::config::{BenchmarkConfig, HYBRID_DEFAULT_LLM_RATIO};
use cpbench_core::experiment::ThroughputCriteria;

/// The longest duration any flag or config accepts, seconds (a day): longer values are
/// mistakes, and huge ones cannot be represented as a duration.
pub const MAX_DURATION_S: f64 = 86_400.0;
/// `--launch-timeout`: how long a launched control plane may take to become healthy, s.
pub const LAUNCH_TIMEOUT_S: f64 = 120.0;
/// `--phase-gap`: the gap before each phase of a sharded run (draining the previous phase,
/// switching the policy, confirming it), s.
pub const PHASE_GAP_S: f64 = 3.0;
/// Without `--start-at`, a shard's first slot starts this long after it is ready, ms.
pub const SHARD_LEAD_MS: u64 = 500;
/// `--drain`: the longest wait for the control plane's queues to drain between runs, s.
pub const DRAIN_S: f64 = 10.0;
/// `--reset-url`: how long each reset call may take before the run fails, s.
pub const RESET_TIMEOUT_S: f64 = 120.0;
/// `--connections`: most connections to the control plane.
pub const CONNECTIONS: usize = 1024;
/// `--max-response-mib`: the largest response body accepted.
pub const MAX_RESPONSE_MIB: u64 = 64;
/// The most `--max-response-mib` accepted (4 GiB).
pub const MAX_MAX_RESPONSE_MIB: u64 = 4096;
/// `--client-threads`: sending threads.
pub const CLIENT_THREADS: u16 = 1;
/// The most `--client-threads` accepted.
pub const MAX_CLIENT_THREADS: i64 = 64;
/// `--output` of the result-writing commands.
pub const OUTPUT_DIR: &str = "./benchmark_results";
/// Whether the per-request records are also written as CSV beside the Parquet file
/// (`--records-csv` turns it on).
pub const RECORDS_CSV: bool = false;
/// `visualize --output`.
pub const VISUALIZE_DIR: &str = "./visualizations";
/// `--gpu-interval`, ms.
pub const GPU_INTERVAL_MS: u64 = 500;
/// The shortest `--gpu-interval` accepted, ms.
pub const MIN_GPU_INTERVAL_MS: u64 = 10;
/// `--cp-metrics-interval`, s.
pub const CP_METRICS_INTERVAL_S: f64 = 1.0;
/// The shortest non-zero `--cp-metrics-interval` accepted, s.
pub const MIN_CP_METRICS_INTERVAL_S: f64 = 0.01;
/// `--cluster`: the reference control plane's cluster preset.
pub const CLUSTER: &str = "default";
/// `serve --host`.
pub const SERVE_HOST: &str = "127.0.0.1";
/// `serve --port`.
pub const SERVE_PORT: u16 = 8080;
/// `serve --policy`.
pub const SERVE_POLICY: &str = "fifo";
/// `serve --seed`.
pub const SERVE_SEED: u64 = 42;
/// `--trials`.
pub const TRIALS: u32 = 1;
/// The most `--trials` accepted.
pub const MAX_TRIALS: u32 = 1000;
/// `sweep --rates`, req/s.
pub const SWEEP_RATES: [f64; 4] = [10.0, 50.0, 100.0, 200.0];
/// `experiment --requests` (the original tool's).
pub const EXPERIMENT_REQUESTS: u64 = 500;
/// `experiment --rate`, req/s (the original tool's).
pub const EXPERIMENT_RATE: f64 = 100.0;
/// `experiment --name mixed_ratio --ratios`.
pub const MIXED_RATIOS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
/// `experiment --name throughput --rates`, as multiples of `--rate`.
pub const THROUGHPUT_RATE_FACTORS: [f64; 4] = [0.25, 0.5, 1.0, 2.0];
/// `experiment --name slo --rates`, as multiples of `--rate`.
pub const SLO_RATE_FACTORS: [f64; 3] = [0.5, 1.0, 1.5];

/// The policies a command runs when neither `--policies` nor a config file names any:
/// `run` and `sweep` the first of the config's default list, the others the whole list.
pub fn policies(single: bool) -> Vec<String> {
    let mut p = BenchmarkConfig::default().policies;
    if single {
        p.truncate(1);
    }
    p
}

/// Per subcommand, the defaults that are resolved here or in the config rather than by clap,
/// as `(argument id, value shown)`, for the help text.
pub fn shown_in_help() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let config = BenchmarkConfig::default();
    let join = |v: &[String]| v.join(",");
    let workload = |c: &BenchmarkConfig| -> Vec<(&'static str, String)> {
        let slo = |p: &cpbench_core::request::PerPriority<u64>| {
            format!("{},{},{}", p.high, p.normal, p.low)
        };
        vec![
            ("mode", c.mode.to_string()),
            ("requests", c.num_requests.to_string()),
            ("rate", c.request_rate.to_string()),
            ("llm_ratio", HYBRID_DEFAULT_LLM_RATIO.to_string()),
            ("warmup", c.warmup_requests.to_string()),
            ("timeout", c.timeout_s.to_string()),
            ("seed", c.seed.to_string()),
            ("arrival", c.arrival.name().to_string()),
            (
                "llm_slo_ms",
                "none, LLM requests are judged per token".into(),
            ),
            (
                "ttft_slo_ms",
                c.slo.ttft_ms.as_ref().map(slo).unwrap_or_default(),
            ),
            (
                "tpot_slo_ms",
                c.slo
                    .tpot_ms
                    .as_ref()
                    .map(|p| format!("{},{},{}", p.high, p.normal, p.low))
                    .unwrap_or_default(),
            ),
            ("embedding_slo_ms", slo(&c.slo.embedding_deadline_ms)),
            ("cluster", CLUSTER.to_string()),
            ("phase_gap", PHASE_GAP_S.to_string()),
            ("trials", TRIALS.to_string()),
            (
                "trial_seeds",
                cpbench_core::report::TrialSeeds::default().as_str().into(),
            ),
        ]
    };
    let with = |mut v: Vec<(&'static str, String)>, extra: Vec<(&'static str, String)>| {
        v.extend(extra);
        v
    };
    let experiment_config = BenchmarkConfig {
        num_requests: EXPERIMENT_REQUESTS,
        request_rate: EXPERIMENT_RATE,
        ..config.clone()
    };
    let criteria = ThroughputCriteria::default();
    let numbers = |v: &[f64]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    vec![
        (
            "run",
            with(workload(&config), vec![("policies", join(&policies(true)))]),
        ),
        (
            "compare",
            with(
                workload(&config),
                vec![("policies", join(&policies(false)))],
            ),
        ),
        (
            "sweep",
            with(
                workload(&config),
                vec![
                    ("policies", join(&policies(true))),
                    ("rates", numbers(&SWEEP_RATES)),
                ],
            ),
        ),
        (
            "experiment",
            with(
                workload(&experiment_config),
                vec![
                    ("policies", join(&policies(false))),
                    ("ratios", numbers(&MIXED_RATIOS)),
                    ("tolerance", criteria.tolerance.to_string()),
                    ("slo_threshold", criteria.slo_threshold.to_string()),
                ],
            ),
        ),
        (
            "simulate",
            with(
                workload(&config),
                vec![("policies", join(&config.policies))],
            ),
        ),
        ("serve", vec![("cluster", CLUSTER.to_string())]),
    ]
}
