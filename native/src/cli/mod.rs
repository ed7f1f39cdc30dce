//! Command-line interface (clap derive). Parsing only: [`crate::plan`] turns the parsed
//! options (and a config file) into one validated run plan, the one place where defaults
//! are applied and values are checked; [`crate::commands`] dispatches.
//!
//! The benchmarking commands (`run`, `compare`, `sweep`, `experiment`) share one argument
//! group, [`BenchArgs`]; `simulate` shares its workload, policy, cluster and output parts.
//! Flags whose default depends on a config file or on the command are `Option`s here: their
//! defaults live in [`crate::plan::defaults`] (and in `BenchmarkConfig::default` for workload
//! values), and [`command`] writes them into the help text.

use crate::gpu::GpuMode;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

mod commands;

/// Benchmark the scheduling policies of an LLM control plane.
///
/// Every run sends a deterministic, seeded workload open-loop to a control plane and measures
/// every request from its intended send time. Without --control-plane, an embedded reference
/// control plane (simulated GPUs) is started on 127.0.0.1 and an ephemeral port, and measured
/// over real HTTP.
#[derive(Debug, Parser)]
#[command(name = "sage-cp-bench", version, about, long_about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// How much the tool logs about what it does.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Log verbosity, for every command (see [`crate::logging`]).
#[derive(Debug, Clone, Args, Default)]
pub struct LogArgs {
    /// Log more on stderr: -v info, -vv debug (connections, retries, policy switches,
    /// polls), -vvv trace (every request). Also SAGE_LOG_LEVEL or RUST_LOG.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log level: off, error, warn, info, debug, trace (overrides -v).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

impl Cli {
    /// Parses a command line (the first item is the program name) with the help text that
    /// [`command`] gives; `Err` holds clap's message and exit code (help and version too).
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = command().try_get_matches_from(args)?;
        Self::from_arg_matches(&matches)
    }
}

/// The clap command of [`Cli`], with the defaults that are resolved in
/// [`crate::plan::defaults`] shown in the help of the flags they belong to.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (sub, defaults) in crate::plan::defaults::shown_in_help() {
        cmd = cmd.mut_subcommand(sub, |mut s| {
            for (id, value) in defaults {
                if s.get_arguments().any(|a| a.get_id() == id) {
                    s = s.mut_arg(id, |a| {
                        let help = a.get_help().map(ToString::to_string).unwrap_or_default();
                        a.help(format!("{help} [default: {value}]"))
                    });
                }
            }
            s
        });
    }
    cmd
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the benchmark for a single scheduling policy.
    Run(BenchArgs),
    /// Compare several scheduling policies on the identical request stream.
    Compare(BenchArgs),
    /// Sweep one policy across several request rates.
    Sweep(SweepArgs),
    /// Run a predefined experiment: throughput, latency, slo or mixed_ratio.
    Experiment(ExperimentArgs),
    /// Show or save an example configuration.
    Config(ConfigArgs),
    /// Validate a configuration file and print its workload hash.
    Validate(ValidateArgs),
    /// Run the reference control plane (simulated GPU cluster) over HTTP.
    Serve(ServeArgs),
    /// Run a workload through the simulated cluster in virtual time (no HTTP, no waiting).
    Simulate(SimulateArgs),
    /// Write the HTML and Markdown reports and the SVG/PNG charts of a result file.
    Visualize(VisualizeArgs),
    /// Merge the results of the N shards of one sharded invocation (--shard I/N) into one.
    Merge(MergeArgs),
}

/// Benchmark mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// LLM requests only.
    Llm,
    /// LLM and embedding requests mixed (see --llm-ratio).
    Hybrid,
}

/// How results are printed on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FormatArg {
    /// The comparison table.
    #[default]
    Table,
    /// The whole result as JSON on stdout.
    Json,
}

/// `--http-client`: which HTTP implementation carries the measured requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum HttpClientArg {
    /// builtin for http://, reqwest for https://.
    #[default]
    Auto,
    /// The builtin HTTP/1.1 client (http:// only).
    Builtin,
    /// reqwest (HTTP/1.1, TLS for https://).
    Reqwest,
}

/// `--policy-switch`: how the policy under test is put in place on the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PolicySwitchArg {
    /// POST /admin/set_policy, then verify it took effect (fails if it cannot be verified).
    #[default]
    Admin,
    /// Do not switch: measure the control plane as it runs (one policy only).
    None,
}

/// The options of `run`, `compare`, `sweep` and `experiment`: which policies, which
/// workload, which control plane, where the results go, and what is observed beside them.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which policies.
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// Repeated trials.
    #[command(flatten)]
    pub trials: TrialArgs,
    /// The workload.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// The control plane and how requests reach it.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Result files and terminal output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// GPU sampling and metrics polling.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Sharding over several processes and the shared timeline.
    #[command(flatten)]
    pub shard: ShardArgs,
}

/// `--shard`, `--start-at`, `--phase-gap`: one workload sent by several processes (on one
/// machine or many), each its shard, on a timeline they share; `merge` combines their
/// results.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Sharding")]
pub struct ShardArgs {
    /// Send shard I of N of the workload (0 <= I < N): the requests whose id modulo N is I,
    /// each at its own time, so every shard spans the whole schedule at 1/N of the rate. The
    /// result is a shard result for `sage-cp-bench merge`. Not with --launch: the shards
    /// share one control plane.
    #[arg(long, value_name = "I/N", conflicts_with = "launch")]
    pub shard: Option<String>,
    /// Start of the shared timeline of the shards: RFC 3339 (2026-12-06T12:00:00Z, or with
    /// an offset such as +01:00) or unix milliseconds. Every phase (policy, rate, trial) gets
    /// a fixed slot from it; without it a shard starts at once, on its own timeline.
    #[arg(long, value_name = "RFC3339|UNIX_MS", requires = "shard")]
    pub start_at: Option<String>,
    /// Gap before each phase of a sharded run, in seconds: the previous phase drains and
    /// shard 0 switches the policy, which every shard confirms before the phase's slot.
    #[arg(
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        requires = "shard"
    )]
    pub phase_gap: Option<f64>,
}

/// `-p/--policy/--policies`: one flag for one or several policies.
#[derive(Debug, Clone, Args, Default)]
pub struct PolicyArgs {
    /// Scheduling policy, or comma-separated policies to compare on the identical workload
    /// (run and sweep take one). Without it: the config file's policies, else the command's
    /// default.
    #[arg(
        short = 'p',
        long = "policies",
        visible_alias = "policy",
        value_delimiter = ',',
        value_name = "POLICY[,POLICY...]"
    )]
    pub policies: Option<Vec<String>>,
}

/// Repeated trials: every policy on the identical workload in each trial, in an order that
/// rotates from trial to trial; means with confidence intervals and verdicts over trials.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Trials")]
pub struct TrialArgs {
    /// Repeat the whole comparison this many times (intervals and significance need at least
    /// 2; 5 or more give useful intervals).
    #[arg(long, value_name = "N")]
    pub trials: Option<u32>,
    /// Workload seed of each trial: vary (trial k uses seed + k - 1, so verdicts hold beyond
    /// one workload) or same (every trial sends the identical workload).
    #[arg(long, value_enum, value_name = "same|vary")]
    pub trial_seeds: Option<TrialSeedsArg>,
    /// The policy every other is compared with [default: the first policy].
    #[arg(long, value_name = "POLICY")]
    pub baseline: Option<String>,
}

/// `--trial-seeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrialSeedsArg {
    /// Trial k uses seed + k - 1.
    Vary,
    /// Every trial uses the same seed.
    Same,
}

/// `--cluster`: the simulated cluster of the reference control plane.
#[derive(Debug, Clone, Args, Default)]
pub struct ClusterArgs {
    /// Cluster of the reference control plane (embedded, served or simulated): a preset
    /// name (default, single, pool, tiny) or a YAML file.
    #[arg(long, value_name = "PRESET|FILE")]
    pub cluster: Option<String>,
}

/// The workload options. Flags given on the command line override the values of a --config
/// file (the original tool did the reverse); the defaults are the config's.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Workload")]
pub struct WorkloadArgs {
    /// Load the configuration from a YAML or JSON file; flags given on the command line
    /// override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Benchmark mode.
    #[arg(short = 'm', long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Number of measured requests (per policy, rate or ratio).
    #[arg(short = 'n', long, value_name = "INTEGER")]
    pub requests: Option<u64>,
    /// Mean request rate in requests per second.
    #[arg(short = 'r', long, value_name = "FLOAT", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Fraction of LLM requests in hybrid mode, 0..1; embeddings get the rest.
    #[arg(long, value_name = "FLOAT", allow_negative_numbers = true)]
    pub llm_ratio: Option<f64>,
    /// Warmup requests sent before measuring (not measured).
    #[arg(short = 'w', long, value_name = "INTEGER")]
    pub warmup: Option<u64>,
    /// Per-request timeout in seconds.
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<f64>,
    /// Seed of the workload: the same seed and config give the same requests.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Arrival process: poisson, constant (alias uniform), gamma, burst.
    #[arg(long, value_name = "PATTERN")]
    pub arrival: Option<String>,
    /// Burstiness of the gamma arrival process (1.0 = poisson, smaller = burstier).
    #[arg(long, value_name = "FLOAT", allow_negative_numbers = true)]
    pub burstiness: Option<f64>,
    /// Prompts (and, with empirical lengths, lengths) from a dataset: ShareGPT JSON or JSONL.
    #[arg(long, value_name = "FILE")]
    pub dataset: Option<PathBuf>,
    /// Cap on requests in flight; the excess waits for a slot and the wait is recorded.
    #[arg(long, value_name = "INTEGER")]
    pub max_concurrency: Option<u64>,
    /// Do not stream LLM responses (TTFT then equals end-to-end latency).
    #[arg(long)]
    pub no_stream: bool,
    /// Model to send, repeatable; NAME or NAME=WEIGHT (replaces the model distribution).
    #[arg(long = "model", value_name = "NAME[=WEIGHT]")]
    pub models: Vec<String>,
    /// Priority mix, e.g. HIGH=0.2,NORMAL=0.5,LOW=0.3.
    #[arg(long, value_name = "MIX")]
    pub priority_mix: Option<String>,
    /// Judge LLM requests end to end instead of per token: a deadline in ms per priority,
    /// HIGH,NORMAL,LOW (the TTFT and TPOT targets then apply only when given too).
    #[arg(long, value_name = "H,N,L")]
    pub llm_slo_ms: Option<String>,
    /// End-to-end SLO of embedding requests in ms, per priority: HIGH,NORMAL,LOW.
    #[arg(long, value_name = "H,N,L")]
    pub embedding_slo_ms: Option<String>,
    /// Time-to-first-token target of LLM requests in ms, per priority: HIGH,NORMAL,LOW.
    #[arg(long, value_name = "H,N,L")]
    pub ttft_slo_ms: Option<String>,
    /// Time-per-output-token target of LLM requests in ms: one number, or HIGH,NORMAL,LOW.
    #[arg(long, value_name = "MS|H,N,L", allow_hyphen_values = true)]
    pub tpot_slo_ms: Option<String>,
}

/// The control plane to measure and how requests reach it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Control plane")]
pub struct TargetArgs {
    /// Control plane URL. Without it (and without SAGE_CONTROL_PLANE_URL or the config's
    /// control_plane_url) the embedded reference control plane is started on 127.0.0.1 and an
    /// ephemeral port.
    #[arg(short = 'c', long, env = "SAGE_CONTROL_PLANE_URL", value_name = "URL")]
    pub control_plane: Option<String>,
    /// The embedded control plane's cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// How each policy is put in place: admin (POST /admin/set_policy, verified) or none.
    #[arg(long, value_enum, default_value_t)]
    pub policy_switch: PolicySwitchArg,
    /// Start the control plane once per policy from this command, e.g.
    /// 'vllm-router --policy {policy} --port {port} ...': {policy} is replaced by the policy
    /// name and {port} by a free port (the URL measured is http://127.0.0.1:{port}). Its log
    /// is kept next to the result; the child is stopped on every way out.
    #[arg(long, value_name = "COMMAND")]
    pub launch: Option<String>,
    /// The port a --launch command listens on, for a command without {port}.
    #[arg(long, value_name = "PORT", requires = "launch")]
    pub launch_port: Option<u16>,
    /// How to tell the control plane is ready: a path to GET (e.g. /health, /v1/models), or
    /// none to skip the check. Without it: /health, and where the server has none,
    /// /v1/models.
    #[arg(long, value_name = "PATH|none")]
    pub health_path: Option<String>,
    /// How long to wait for a launched control plane's /health, in seconds.
    #[arg(long, default_value_t = crate::plan::defaults::LAUNCH_TIMEOUT_S, value_name = "SECONDS",
          allow_negative_numbers = true)]
    pub launch_timeout: f64,
    /// Before each run (each policy, each trial), POST `{}` to this URL to clear the serving
    /// engines' caches, e.g. vLLM's http://HOST:8000/reset_prefix_cache or SGLang's
    /// http://HOST:30000/flush_cache; repeatable. A non-2xx answer, or none, fails the run.
    #[arg(long = "reset-url", value_name = "URL")]
    pub reset_url: Vec<String>,
    /// Between policies without /admin/reset: wait at most this long for queues to drain, in
    /// seconds.
    #[arg(long, default_value_t = crate::plan::defaults::DRAIN_S, value_name = "SECONDS",
          allow_negative_numbers = true)]
    pub drain: f64,
    /// Most connections to the control plane (HTTP/1.1 keep-alive, reused), shared out among
    /// the sending threads (each gets N / threads, rounded up). A request that finds its
    /// thread's connections all busy waits, and the wait counts as send lateness.
    #[arg(long, default_value_t = crate::plan::defaults::CONNECTIONS, value_name = "N")]
    pub connections: usize,
    /// HTTP client for the measured requests: auto (builtin for http://, reqwest for
    /// https://), builtin (a lean HTTP/1.1 client built for measuring at high rates) or
    /// reqwest (general-purpose, with TLS).
    #[arg(long, value_enum, default_value_t)]
    pub http_client: HttpClientArg,
    /// Sending threads, each with its own event loop and connections. One sustains 10,000
    /// streamed requests/s on one core; add more for higher rates on machines with cores to
    /// spare (the requests are dealt out round-robin).
    #[arg(long, default_value_t = crate::plan::defaults::CLIENT_THREADS, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=crate::plan::defaults::MAX_CLIENT_THREADS))]
    pub client_threads: u16,
    /// Largest response body accepted, in MiB; a larger response (or an SSE event over 1
    /// MiB) is cut and counted as a failure of kind too_large.
    #[arg(long, default_value_t = crate::plan::defaults::MAX_RESPONSE_MIB, value_name = "MIB",
          value_parser = clap::value_parser!(u64).range(1..=crate::plan::defaults::MAX_MAX_RESPONSE_MIB))]
    pub max_response_mib: u64,
    /// The model's tokenizer (a Hugging Face tokenizer.json, read from this local file): counts
    /// output tokens exactly where the server sends no usage (otherwise they are estimated
    /// from the text, and labelled so).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// API key sent as a bearer token (never written to any output).
    #[arg(
        long,
        env = "OPENAI_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Token of the control plane's admin API, sent with every /admin/* call (set_policy,
    /// policy, reset, metrics) as `Authorization: Bearer TOKEN`, never with the measured
    /// requests. Never written to any output.
    #[arg(
        long,
        env = crate::admin_token::ENV,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
}

/// Where results go and what the terminal shows.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output folder for the result files.
    #[arg(short = 'o', long, default_value = crate::plan::defaults::OUTPUT_DIR, value_name = "DIR")]
    pub output: PathBuf,
    /// Terminal output: the table or the whole result as JSON.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
    /// Suppress progress output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Leave the per-request records out: no sample of them in the JSON result (up to 10,000
    /// per run, chosen by request id) and no records files (`requests_<stamp>.parquet`,
    /// every request, nor the CSV of `--records-csv`).
    #[arg(long)]
    pub no_records: bool,
    /// Also write the per-request records as CSV, `requests_<stamp>.csv` (the Parquet file's
    /// columns but the inter-token gaps), beside `requests_<stamp>.parquet`.
    #[arg(long)]
    pub records_csv: bool,
    /// Do not write the HTML and Markdown reports and the charts beside the JSON result.
    #[arg(long)]
    pub no_visualize: bool,
    /// Write the JSON result pretty-printed (indented) rather than compact.
    #[arg(long)]
    pub pretty: bool,
    /// Exit with code 1 when a run's share of failed requests is above this fraction (0 to
    /// 1); the results are written either way. Without it, only a run in which every
    /// measured request failed is a failure.
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    pub max_error_rate: Option<f64>,
}

/// What is observed beside each measured run.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Telemetry")]
pub struct TelemetryArgs {
    /// Sample the GPUs of the machine running the benchmark with NVML during each measured
    /// run: auto (when NVML loads; otherwise the result says why not), off, or required (fail
    /// before sending anything when NVML cannot be used).
    #[arg(long, value_enum, default_value_t)]
    pub gpu_monitor: GpuMode,
    /// Time between GPU samples, in milliseconds.
    #[arg(long, default_value_t = crate::plan::defaults::GPU_INTERVAL_MS, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(crate::plan::defaults::MIN_GPU_INTERVAL_MS..))]
    pub gpu_interval: u64,
    /// Load NVML from this file instead of the system's libnvidia-ml.so.
    #[arg(long, value_name = "PATH")]
    pub nvml_lib: Option<PathBuf>,
    /// Poll the control plane's /admin/metrics every this many seconds during each measured
    /// run; 0 turns it off.
    #[arg(
        long,
        default_value_t = crate::plan::defaults::CP_METRICS_INTERVAL_S,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub cp_metrics_interval: f64,
    /// Also read this Prometheus endpoint (e.g. a vLLM instance's http://HOST:8000/metrics)
    /// every --cp-metrics-interval during each measured run; repeatable. A URL without a path
    /// reads /metrics.
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
}

pub use commands::{
    ConfigArgs, ExperimentArgs, MergeArgs, ServeArgs, SimulateArgs, SweepArgs, ValidateArgs,
    VisualFormatArg, VisualizeArgs,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_args(std::iter::once("sage-cp-bench").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn seed_readme_flags_parse() {
        let Command::Run(r) = parse(&[
            "run",
            "--mode",
            "llm",
            "--policy",
            "fifo",
            "--requests",
            "100",
            "--rate",
            "10",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(r.policies.policies, Some(vec!["fifo".to_string()]));
        assert_eq!(r.workload.requests, Some(100));
        let Command::Compare(r) = parse(&[
            "compare",
            "-m",
            "hybrid",
            "-p",
            "fifo,hybrid_slo",
            "--llm-ratio",
            "0.7",
            "-n",
            "500",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(r.policies.policies.unwrap(), vec!["fifo", "hybrid_slo"]);
        assert_eq!(r.workload.llm_ratio, Some(0.7));
        let Command::Sweep(s) = parse(&["sweep", "--rates", "10,50"]).command else {
            panic!()
        };
        assert_eq!(s.rates, Some(vec![10.0, 50.0]));
        let Command::Compare(c) = parse(&["compare", "--policies", "fifo,priority"]).command else {
            panic!()
        };
        assert_eq!(c.policies.policies.unwrap(), vec!["fifo", "priority"]);
        let Command::Visualize(v) = parse(&["visualize", "-i", "x.json", "-f", "html"]).command
        else {
            panic!()
        };
        assert_eq!(v.format, VisualFormatArg::Html);
        assert!(!v.static_html);
        let Command::Visualize(v) = parse(&["visualize", "-i", "x.json", "--static"]).command
        else {
            panic!()
        };
        assert!(v.static_html);
    }

    #[test]
    fn help_shows_the_resolved_defaults() {
        let mut cmd = command();
        let help = cmd
            .find_subcommand_mut("experiment")
            .unwrap()
            .render_help()
            .to_string();
        assert!(help.contains("[default: 500]"), "{help}");
        let help = command()
            .find_subcommand_mut("run")
            .unwrap()
            .render_help()
            .to_string();
        assert!(help.contains("[default: 100]"), "{help}");
        assert!(help.contains("[default: fifo]"), "{help}");
    }
}
