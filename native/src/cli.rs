//! Command-line interface (clap derive). Parsing only: each command hands its options to the
//! library (`commands`), which is also the test surface.

use crate::telemetry::TelemetryArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Benchmark the scheduling policies of an LLM control plane.
///
/// Every run sends a deterministic, seeded workload open-loop to a control plane and measures
/// every request from its intended send time. Without --control-plane, an embedded reference
/// control plane (simulated GPUs) is started on 127.0.0.1 and measured over real HTTP.
#[derive(Debug, Parser)]
#[command(name = "sage-cp-bench", version, about, long_about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the benchmark for a single scheduling policy.
    Run(RunArgs),
    /// Compare several scheduling policies on the identical request stream.
    Compare(CompareArgs),
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

/// How the policy under test is put in place on the control plane.
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

impl From<HttpClientArg> for crate::client::Transport {
    fn from(a: HttpClientArg) -> Self {
        match a {
            HttpClientArg::Auto => Self::Auto,
            HttpClientArg::Builtin => Self::Builtin,
            HttpClientArg::Reqwest => Self::Reqwest,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PolicySwitchArg {
    /// POST /admin/set_policy, then verify it took effect (fails if it cannot be verified).
    #[default]
    Admin,
    /// Do not switch: measure the control plane as it runs (one policy only).
    None,
}

/// Options shared by the commands that generate and send a workload.
///
/// Command-line flags override the values of a --config file (the original tool did the
/// reverse).
#[derive(Debug, Clone, Args, Default)]
pub struct WorkloadArgs {
    /// Load the configuration from a YAML or JSON file; flags given on the command line
    /// override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Benchmark mode [default: llm].
    #[arg(short = 'm', long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Number of measured requests [default: 100].
    #[arg(short = 'n', long, value_name = "INTEGER")]
    pub requests: Option<u64>,
    /// Request rate in requests per second [default: 10].
    #[arg(short = 'r', long, value_name = "FLOAT", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Fraction of LLM requests in hybrid mode, 0..1; embeddings get the rest [default: 0.5].
    #[arg(long, value_name = "FLOAT", allow_negative_numbers = true)]
    pub llm_ratio: Option<f64>,
    /// Warmup requests sent before measuring (not measured) [default: 10].
    #[arg(short = 'w', long, value_name = "INTEGER")]
    pub warmup: Option<u64>,
    /// Per-request timeout in seconds [default: 60].
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout: Option<f64>,
    /// Seed of the workload: the same seed and config give the same requests [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Arrival process: poisson, constant (alias uniform), gamma, burst [default: poisson].
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
    /// End-to-end SLO of LLM requests in ms, per priority: HIGH,NORMAL,LOW [default: 500,1000,2000].
    #[arg(long, value_name = "H,N,L")]
    pub llm_slo_ms: Option<String>,
    /// End-to-end SLO of embedding requests in ms, per priority: HIGH,NORMAL,LOW [default: 100,200,500].
    #[arg(long, value_name = "H,N,L")]
    pub embedding_slo_ms: Option<String>,
    /// Optional time-to-first-token SLO in ms, per priority: HIGH,NORMAL,LOW.
    #[arg(long, value_name = "H,N,L")]
    pub ttft_slo_ms: Option<String>,
    /// Optional time-per-output-token SLO in ms.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub tpot_slo_ms: Option<f64>,
}

/// Options shared by the commands that send to a control plane.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Control plane URL. Without it (and without SAGE_CONTROL_PLANE_URL) the embedded
    /// reference control plane is started on 127.0.0.1 and an ephemeral port.
    #[arg(short = 'c', long, env = "SAGE_CONTROL_PLANE_URL", value_name = "URL")]
    pub control_plane: Option<String>,
    /// Cluster of the embedded control plane: a preset name or a YAML file [default: default].
    #[arg(long, value_name = "PRESET|FILE")]
    pub cluster: Option<String>,
    /// How each policy is put in place: admin (POST /admin/set_policy, verified) or none.
    #[arg(long, value_enum, default_value_t)]
    pub policy_switch: PolicySwitchArg,
    /// Start the control plane once per policy from this command; {policy} is replaced by the
    /// policy name and {port} by a free port. Its log is kept next to the result.
    #[arg(long, value_name = "COMMAND")]
    pub launch: Option<String>,
    /// How long to wait for a launched control plane's /health, in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub launch_timeout: f64,
    /// Between policies without /admin/reset: wait at most this long for queues to drain.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub drain: f64,
    /// Most connections to the control plane (HTTP/1.1 keep-alive, reused), shared out among
    /// the sending threads (each gets N / threads, rounded up). A request that finds its
    /// thread's connections all busy waits, and the wait counts as send lateness.
    #[arg(long, default_value_t = crate::sender::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub connections: usize,
    /// HTTP client for the measured requests: auto (builtin for http://, reqwest for
    /// https://), builtin (a lean HTTP/1.1 client built for measuring at high rates) or
    /// reqwest (general-purpose, with TLS).
    #[arg(long, value_enum, default_value_t)]
    pub http_client: HttpClientArg,
    /// Sending threads, each with its own event loop and connections. One sustains 10,000
    /// streamed requests/s on one core; add more for higher rates on machines with cores to
    /// spare (the requests are dealt out round-robin).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub client_threads: u16,
    /// API key sent as a bearer token (never written to any output).
    #[arg(
        long,
        env = "OPENAI_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
}

/// Options shared by the commands that write results.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output folder for the result files.
    #[arg(
        short = 'o',
        long,
        default_value = "./benchmark_results",
        value_name = "DIR"
    )]
    pub output: PathBuf,
    /// Terminal output: the table or the whole result as JSON.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
    /// Suppress progress output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Leave the per-request records out of the JSON result (and so write no per-request CSV).
    #[arg(long)]
    pub no_records: bool,
    /// Do not write the HTML and Markdown reports and the charts beside the JSON result.
    #[arg(long)]
    pub no_visualize: bool,
}

/// `run` options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Scheduling policy [default: fifo].
    #[arg(short = 'p', long)]
    pub policy: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub telemetry: TelemetryArgs,
}

/// `compare` options.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Comma-separated policies [default: fifo,priority,slo_aware].
    #[arg(short = 'p', long, value_delimiter = ',')]
    pub policies: Option<Vec<String>>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub telemetry: TelemetryArgs,
}

/// `sweep` options.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Policy to test [default: fifo].
    #[arg(short = 'p', long)]
    pub policy: Option<String>,
    /// Comma-separated request rates in req/s.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,200")]
    pub rates: Vec<f64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub telemetry: TelemetryArgs,
}

/// `experiment` options. Every policy runs on the identical workload at each load or ratio.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// Experiment: throughput (max sustained rate per policy over a rate sweep), latency (the
    /// percentile spectrum at one load), slo (compliance per policy, priority and type across
    /// loads), mixed_ratio (per-type metrics across LLM/embedding ratios, hybrid mode).
    #[arg(short = 'e', long)]
    pub name: String,
    /// Comma-separated policies [default: fifo,priority,slo_aware].
    #[arg(short = 'p', long, value_delimiter = ',')]
    pub policies: Option<Vec<String>>,
    /// Rates for throughput [default: rate/4, rate/2, rate, 2*rate] and slo [rate/2, rate, 1.5*rate].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub rates: Option<Vec<f64>>,
    /// LLM ratios for mixed_ratio [default: 0,0.25,0.5,0.75,1].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub ratios: Option<Vec<f64>>,
    /// Throughput: achieved may be this fraction below offered and still count as sustained.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub tolerance: f64,
    /// Throughput: minimum SLO compliance (0 to 1) of a sustained rate.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub slo_threshold: f64,
    /// Requests per run [default: 500]; rate [default: 100]; other workload options as for run.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub target: TargetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub telemetry: TelemetryArgs,
}

/// `config` options.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Which example to show.
    #[arg(short = 'm', long, value_enum, default_value_t = ModeArg::Llm)]
    pub mode: ModeArg,
    /// Save the example to this file instead of printing it.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the workload hash of this config file (with its seed, or --seed) and exit.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    pub hash: Option<PathBuf>,
    /// Seed for --hash (overrides the file's seed).
    #[arg(long, requires = "hash")]
    pub seed: Option<u64>,
}

/// `validate` options.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// The configuration file (YAML or JSON).
    pub file: PathBuf,
    /// Check it as this mode (overrides the file's mode).
    #[arg(short = 'm', long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Also check that the policies are ones the reference control plane implements.
    #[arg(long)]
    pub reference: bool,
}

/// `serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Initial scheduling policy.
    #[arg(short = 'p', long, default_value = "fifo")]
    pub policy: String,
    /// Cluster: a preset name or a YAML file.
    #[arg(long, default_value = "default", value_name = "PRESET|FILE")]
    pub cluster: String,
    /// Seed of the generated text and embeddings.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `simulate` options.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Comma-separated policies [default: the config's policies].
    #[arg(short = 'p', long, value_delimiter = ',')]
    pub policies: Option<Vec<String>>,
    /// Cluster: a preset name or a YAML file.
    #[arg(long, default_value = "default", value_name = "PRESET|FILE")]
    pub cluster: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

/// Which visualizations `visualize` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum VisualFormatArg {
    /// SVG and PNG files of every chart.
    Charts,
    /// The self-contained HTML report (charts inline).
    Html,
    /// The Markdown report and the PNG charts it shows.
    Markdown,
    /// All of them.
    #[default]
    All,
}

/// `visualize` options.
#[derive(Debug, Clone, Args)]
pub struct VisualizeArgs {
    /// The result file (report_<timestamp>.json).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output folder.
    #[arg(
        short = 'o',
        long,
        default_value = "./visualizations",
        value_name = "DIR"
    )]
    pub output: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value_t)]
    pub format: VisualFormatArg,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_readme_flags_parse() {
        let c = Cli::try_parse_from([
            "sage-cp-bench",
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
        .unwrap();
        let Command::Run(r) = c.command else { panic!() };
        assert_eq!(r.policy.as_deref(), Some("fifo"));
        assert_eq!(r.workload.requests, Some(100));
        let c = Cli::try_parse_from([
            "sage-cp-bench",
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
        .unwrap();
        let Command::Compare(r) = c.command else {
            panic!()
        };
        assert_eq!(r.policies.unwrap(), vec!["fifo", "hybrid_slo"]);
        assert_eq!(r.workload.llm_ratio, Some(0.7));
        let c = Cli::try_parse_from(["sage-cp-bench", "sweep", "--rates", "10,50"]).unwrap();
        let Command::Sweep(s) = c.command else {
            panic!()
        };
        assert_eq!(s.rates, vec![10.0, 50.0]);
    }
}
