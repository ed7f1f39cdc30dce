//! The options of the commands that are not benchmarking runs: `merge`, `sweep`'s and
//! `experiment`'s own, `simulate`, `config`, `validate`, `serve`, `visualize`.

use super::{BenchArgs, ClusterArgs, ModeArg, OutputArgs, PolicyArgs, TrialArgs, WorkloadArgs};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// `merge` options.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shard results (report_<stamp>.json of each shard), one per shard, or folders
    /// holding them (searched with their subfolders, one level down; results that are not
    /// shards' are skipped there).
    #[arg(required = true, value_name = "SHARD_RESULT|DIR")]
    pub inputs: Vec<PathBuf>,
    /// Output folder of the merged result.
    #[arg(short = 'o', long, default_value = crate::plan::defaults::OUTPUT_DIR, value_name = "DIR")]
    pub output: PathBuf,
    /// Write the JSON result pretty-printed (indented) rather than compact.
    #[arg(long)]
    pub pretty: bool,
    /// Do not write the HTML and Markdown reports and the charts beside the JSON result.
    #[arg(long)]
    pub no_visualize: bool,
}

/// `sweep` options.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Comma-separated request rates in req/s.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub rates: Option<Vec<f64>>,
    /// The benchmarking options.
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// `experiment` options. Every policy runs on the identical workload at each load or ratio.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// Experiment: throughput (max sustained rate per policy over a rate sweep), latency (the
    /// percentile spectrum at one load), slo (compliance per policy, priority and type across
    /// loads), mixed_ratio (per-type metrics across LLM/embedding ratios, hybrid mode).
    #[arg(short = 'e', long)]
    pub name: String,
    /// Comma-separated rates in req/s, for throughput [default: rate/4, rate/2, rate,
    /// 2*rate] and slo [default: rate/2, rate, 1.5*rate].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub rates: Option<Vec<f64>>,
    /// Comma-separated LLM ratios for mixed_ratio.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub ratios: Option<Vec<f64>>,
    /// Throughput: achieved may be this fraction below offered and still count as sustained.
    #[arg(long, allow_negative_numbers = true)]
    pub tolerance: Option<f64>,
    /// Throughput: minimum SLO compliance (0 to 1) of a sustained rate.
    #[arg(long, allow_negative_numbers = true)]
    pub slo_threshold: Option<f64>,
    /// The benchmarking options.
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// `simulate` options: the workload through the reference cluster in virtual time.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Which policies.
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// Repeated trials.
    #[command(flatten)]
    pub trials: TrialArgs,
    /// The simulated cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The workload.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Result files and terminal output.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `config` options.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Which example to show.
    #[arg(short = 'm', long, value_enum, default_value_t = ModeArg::Llm)]
    pub mode: ModeArg,
    /// Save the example to this file instead of printing it (a file, as in the original
    /// tool; the result-writing commands take a folder).
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
    #[arg(long, default_value = crate::plan::defaults::SERVE_HOST)]
    pub host: String,
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = crate::plan::defaults::SERVE_PORT)]
    pub port: u16,
    /// Initial scheduling policy.
    #[arg(short = 'p', long, default_value = crate::plan::defaults::SERVE_POLICY)]
    pub policy: String,
    /// The simulated cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Seed of the generated text and embeddings.
    #[arg(long, default_value_t = crate::plan::defaults::SERVE_SEED)]
    pub seed: u64,
    /// Require this token on every /admin/* request (`Authorization: Bearer TOKEN` or
    /// `X-Admin-Token: TOKEN`; 401 otherwise). Never written to any output.
    #[arg(
        long,
        env = crate::admin_token::ENV,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
}

/// Which visualizations `visualize` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum VisualFormatArg {
    /// SVG and PNG files of every chart.
    Charts,
    /// The self-contained HTML report: the interactive viewer with the result embedded (the
    /// static report, charts inline as SVG, with --static or when scripts are blocked).
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
    /// The result file (report_<timestamp>.json), or another tool's: `vllm bench serve
    /// --save-result` JSON, a GuideLLM report (JSON or YAML), AIPerf's
    /// profile_export_aiperf.json (with the profile_export.jsonl beside it) or
    /// profile_export.jsonl.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output folder.
    #[arg(short = 'o', long, default_value = crate::plan::defaults::VISUALIZE_DIR, value_name = "DIR")]
    pub output: PathBuf,
    /// What to write.
    #[arg(short = 'f', long, value_enum, default_value_t)]
    pub format: VisualFormatArg,
    /// Write the HTML report as the static report only (charts as SVG, no script), not the
    /// interactive viewer with the result embedded.
    #[arg(long = "static")]
    pub static_html: bool,
}
