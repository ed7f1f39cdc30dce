//! From parsed flags (and a config file) to one validated [`Plan`]: the one place where
//! command-line options become settings. Parsed once ([`crate::cli`]), resolved once here,
//! passed down: [`crate::bench`] runs a plan and nothing after this module reads a flag.
//!
//! Order of precedence for workload values: a flag given on the command line, then the
//! config file (`--config`), then the command's default ([`defaults`]), then the config's
//! default (`BenchmarkConfig::default`). Every problem is a [`UsageError`] (exit code 2)
//! naming the flag or field and what is accepted.

pub mod defaults;
pub mod shard;
mod target;
mod workload_flags;

use crate::admin_token::AdminToken;
use crate::cli::{
    BenchArgs, ExperimentArgs, FormatArg, OutputArgs, SimulateArgs, SweepArgs, TrialArgs,
    TrialSeedsArg, WorkloadArgs,
};
use crate::client::Transport;
use crate::control::SwitchMode;
use crate::runner::{Step, Target};
use crate::server::NamedCluster;
use crate::settings::{self, Resolved};
use crate::telemetry::TelemetryOptions;
use anyhow::Result;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::experiment::{ExperimentName, ThroughputCriteria};
use cpbench_core::report::{ReportKind, RunParams, TrialSeeds, TrialWorkload};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use target::{base_url, seconds};
pub use workload_flags::apply_workload_flags;

/// A mistake in how the tool was called (exit code 2), as opposed to a failed run (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as an `anyhow::Error`.
pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Everything a benchmarking command will do, checked before anything is sent.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What kind of report it writes.
    pub kind: ReportKind,
    /// The resolved config (written into the report; each step carries its own variant).
    pub config: BenchmarkConfig,
    /// The measured runs, in order: in each trial, each policy on each workload variant.
    pub steps: Vec<Step>,
    /// The repeated trials.
    pub trials: TrialsPlan,
    /// Over HTTP or in virtual time.
    pub execution: Execution,
    /// Result files and terminal output.
    pub output: OutputPlan,
    /// The experiment's summary to compute, for `experiment`.
    pub experiment: Option<ExperimentPlan>,
    /// Notes for the report made while resolving (for instance models fitted to a cluster).
    pub notes: Vec<String>,
    /// With `--shard`: which shard this process sends, and the shared timeline.
    pub shard: Option<shard::ShardPlan>,
    /// The config and its folder, to generate the steps' workloads again (models fitted).
    resolved: Resolved,
    /// What distinguishes the steps' workloads.
    variants: Variants,
}

impl Plan {
    /// Fits the workload's models to those a control plane serves (`GET /v1/models` of the
    /// control plane at `url`): nothing to do when it serves them; when the config asks for
    /// the default models (no `--model`, no `model_distribution`), the served ones instead,
    /// with equal weights (the steps' workloads are generated again and a note says so);
    /// otherwise a usage error naming what is not served and listing what is.
    pub fn fit_models(&mut self, served: &[String], url: &str) -> Result<()> {
        let c = &self.resolved.config;
        let hybrid = c
            .kinds()
            .contains(&cpbench_core::request::RequestKind::Embedding);
        let is_served = |m: &str| served.iter().any(|s| s == m);
        let mut missing: Vec<String> = c
            .model_distribution
            .keys()
            .filter(|m| !is_served(m))
            .cloned()
            .collect();
        if hybrid && !is_served(&c.embedding_model) {
            missing.push(c.embedding_model.clone());
        }
        if missing.is_empty() || served.is_empty() {
            return Ok(());
        }
        let defaults = BenchmarkConfig::default();
        let chosen = c.model_distribution != defaults.model_distribution;
        let list = served.join(", ");
        if chosen || (hybrid && !is_served(&c.embedding_model)) {
            return Err(usage(format!(
                "the control plane at {url} does not serve {} (GET /v1/models lists: {list}); \
                 choose served models with --model NAME (repeatable){}",
                missing.join(", "),
                if hybrid {
                    " and embedding_model in a config file"
                } else {
                    ""
                }
            )));
        }
        let llms: std::collections::BTreeMap<String, f64> = served
            .iter()
            .filter(|m| !hybrid || **m != c.embedding_model)
            .map(|m| (m.clone(), 1.0))
            .collect();
        if llms.is_empty() {
            return Err(usage(format!(
                "the control plane at {url} serves no LLM model to send (GET /v1/models lists: {list})"
            )));
        }
        let names = llms.keys().cloned().collect::<Vec<_>>().join(", ");
        self.resolved.config.model_distribution = llms.clone();
        self.config.model_distribution = llms;
        self.trials.workloads.clear();
        self.steps = steps(&self.resolved, &self.variants, &mut self.trials)?;
        if let Some(s) = &mut self.shard {
            shard::apply(s, &mut self.steps)?;
        }
        self.notes.push(format!(
            "the workload sends the models the control plane serves ({names}): no --model was given and it does not serve the default ones"
        ));
        Ok(())
    }
}

/// Repeated trials of the whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialsPlan {
    /// How many (1: a single run of each policy, no statistics).
    pub count: u32,
    /// How their workloads are seeded.
    pub seeds: TrialSeeds,
    /// The policy the others are compared with; `None`: the first.
    pub baseline: Option<String>,
    /// Each trial's seed and workload hash (of the first variant).
    pub workloads: Vec<TrialWorkload>,
}

/// How the steps are run.
#[derive(Debug, Clone)]
pub enum Execution {
    /// Sent over HTTP to a control plane.
    Http(Box<HttpPlan>),
    /// Through the reference cluster in virtual time (`simulate`).
    Simulated(NamedCluster),
}

/// How requests reach the control plane, and what is observed beside them.
#[derive(Debug, Clone)]
pub struct HttpPlan {
    /// The control plane.
    pub target: Target,
    /// How each policy is put in place.
    pub switch: SwitchMode,
    /// Bearer token for the control plane.
    pub api_key: Option<String>,
    /// Token of the control plane's admin API (`--admin-token`, `SAGE_ADMIN_TOKEN`).
    pub admin_token: Option<AdminToken>,
    /// Longest wait for queues to drain between runs.
    pub drain: Duration,
    /// URLs POSTed before each run to clear the serving engines' caches (`--reset-url`).
    pub reset_urls: Vec<String>,
    /// Longest wait for a launched control plane to become healthy.
    pub launch_timeout: Duration,
    /// How a control plane's readiness is checked.
    pub health: crate::control::HealthCheck,
    /// Most connections to the control plane.
    pub max_connections: usize,
    /// Largest response body accepted, bytes.
    pub max_response_bytes: u64,
    /// The model's tokenizer, for output tokens where the server sends no `usage`.
    pub tokenizer: Option<Arc<tokenizers::Tokenizer>>,
    /// Which HTTP implementation carries the measured requests.
    pub transport: Transport,
    /// Sending threads.
    pub client_threads: usize,
    /// GPU sampling and metrics polling.
    pub telemetry: TelemetryOptions,
}

/// Where results go and what the terminal shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPlan {
    /// Output folder.
    pub dir: PathBuf,
    /// Terminal output.
    pub format: FormatArg,
    /// No progress output.
    pub quiet: bool,
    /// Keep a sample of the per-request records in the result, and write the records files
    /// (Parquet; CSV too with `records_csv`).
    pub keep_records: bool,
    /// Write the records as CSV too (`--records-csv`).
    pub records_csv: bool,
    /// Write the HTML and Markdown reports and the charts.
    pub visualize: bool,
    /// Pretty-print the JSON result.
    pub pretty: bool,
    /// A run whose error rate is above this fraction fails the invocation (exit code 1).
    pub max_error_rate: Option<f64>,
}

impl OutputPlan {
    fn resolve(o: &OutputArgs) -> Result<Self> {
        if let Some(r) = o.max_error_rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err(usage(format!(
                "--max-error-rate: {r} is not accepted; give a fraction from 0 to 1 (e.g. 0.01 for 1 %)"
            )));
        }
        if o.no_records && o.records_csv {
            return Err(usage(
                "--records-csv: no records file is written with --no-records; give one of them",
            ));
        }
        Ok(Self {
            dir: o.output.clone(),
            format: o.format,
            quiet: o.quiet,
            keep_records: !o.no_records,
            records_csv: o.records_csv || defaults::RECORDS_CSV,
            visualize: !o.no_visualize,
            pretty: o.pretty,
            max_error_rate: o.max_error_rate,
        })
    }
}

/// A predefined experiment's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExperimentPlan {
    /// Which experiment.
    pub name: ExperimentName,
    /// The throughput experiment's criteria of a sustained rate.
    pub criteria: ThroughputCriteria,
}

/// A parsed command line of a benchmarking command, to resolve.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// `run`: one policy.
    Run(&'a BenchArgs),
    /// `compare`: several policies.
    Compare(&'a BenchArgs),
    /// `sweep`: one policy at several rates.
    Sweep(&'a SweepArgs),
    /// `experiment`.
    Experiment(&'a ExperimentArgs),
    /// `simulate`: virtual time.
    Simulate(&'a SimulateArgs),
}

/// What distinguishes the workloads of a plan's steps.
#[derive(Debug, Clone)]
enum Variants {
    /// Every policy on the one workload of the config.
    One,
    /// Every policy at each rate.
    Rates(Vec<f64>),
    /// Every policy at each LLM ratio (hybrid mode).
    Ratios(Vec<f64>),
}

/// Resolves a benchmarking command into its plan: config file and flags, the target, the
/// workloads of every step, telemetry and output settings, each checked.
pub fn resolve(request: Request<'_>) -> Result<Plan> {
    let (kind, bench, experiment) = match request {
        Request::Run(b) => (ReportKind::Run, Some(b), None),
        Request::Compare(b) => (ReportKind::Compare, Some(b), None),
        Request::Sweep(s) => (ReportKind::Sweep, Some(&s.bench), None),
        Request::Experiment(e) => (
            ReportKind::Experiment,
            Some(&e.bench),
            Some(experiment_plan(e)?),
        ),
        Request::Simulate(_) => (ReportKind::Simulation, None, None),
    };
    let (policy_flag, trial_args, workload_args, output) = match request {
        Request::Simulate(s) => (&s.policies, &s.trials, &s.workload, &s.output),
        _ => {
            let b = bench.expect("every other command has the benchmarking options");
            (&b.policies, &b.trials, &b.workload, &b.output)
        }
    };
    let single = matches!(request, Request::Run(_) | Request::Sweep(_));
    let (workload_args, command_defaults) =
        command_workload_defaults(workload_args, experiment.as_ref())?;
    let mut resolved = workload_flags::resolve(&workload_args, command_defaults)?;
    resolved.config.policies = policies(
        policy_flag.policies.as_deref(),
        workload_args.config.is_some(),
        &resolved.config.policies,
        single,
        match request {
            Request::Run(_) => "run",
            Request::Sweep(_) => "sweep",
            _ => "",
        },
    )?;

    let mut notes = Vec::new();
    let execution = match request {
        Request::Simulate(s) => {
            let cluster = target::cluster(s.cluster.cluster.as_deref())?;
            reference_fit(&mut resolved.config, &cluster, "simulated", &mut notes)?;
            Execution::Simulated(cluster)
        }
        _ => {
            let b = bench.expect("every other command has the benchmarking options");
            let http = target::http(&b.target, &b.telemetry, &resolved.config)?;
            if let Target::Embedded(cluster) = &http.target {
                reference_fit(&mut resolved.config, cluster, "embedded", &mut notes)?;
            }
            Execution::Http(Box::new(http))
        }
    };

    let variants = match request {
        Request::Sweep(s) => Variants::Rates(checked_rates(
            s.rates
                .clone()
                .unwrap_or_else(|| defaults::SWEEP_RATES.to_vec()),
        )?),
        Request::Experiment(e) => experiment_variants(e, &resolved.config)?,
        _ => Variants::One,
    };
    let mut trials = trials_plan(trial_args, &resolved.config.policies)?;
    let mut steps = steps(&resolved, &variants, &mut trials)?;
    let shard = match bench {
        Some(b) => shard::resolve(&b.shard, &mut steps, shard::now_unix_ms())?,
        None => None,
    };
    if let Some(s) = &shard {
        notes.push(match s.start_at_ms {
            Some(_) => format!(
                "shard {}/{} of the workload on a timeline shared with the other shards (--start-at), {} ms gap before each phase; warmup requests are not sent",
                s.index, s.count, s.phase_gap_ms
            ),
            None => format!(
                "shard {}/{} of the workload, started at once on its own timeline (no --start-at: for running the shards one after the other or alone on one machine), {} ms gap before each phase; warmup requests are not sent",
                s.index, s.count, s.phase_gap_ms
            ),
        });
    }
    Ok(Plan {
        shard,
        kind,
        config: resolved.config.clone(),
        resolved,
        variants,
        steps,
        trials,
        execution,
        output: OutputPlan::resolve(output)?,
        experiment,
        notes,
    })
}

/// The workload flags and defaults of the command: `experiment` sends
/// [`defaults::EXPERIMENT_REQUESTS`] at [`defaults::EXPERIMENT_RATE`] unless a flag or the
/// config file says otherwise, and `mixed_ratio` runs in hybrid mode.
fn command_workload_defaults(
    args: &WorkloadArgs,
    experiment: Option<&ExperimentPlan>,
) -> Result<(WorkloadArgs, workload_flags::CommandDefaults)> {
    let mut w = args.clone();
    let Some(e) = experiment else {
        return Ok((w, workload_flags::CommandDefaults::default()));
    };
    if e.name == ExperimentName::MixedRatio {
        if w.mode == Some(crate::cli::ModeArg::Llm) {
            return Err(usage(
                "--name mixed_ratio mixes LLM and embedding requests: it runs in hybrid mode, not --mode llm",
            ));
        }
        w.mode = Some(crate::cli::ModeArg::Hybrid);
    }
    let d = workload_flags::CommandDefaults {
        num_requests: Some(defaults::EXPERIMENT_REQUESTS),
        request_rate: Some(defaults::EXPERIMENT_RATE),
    };
    Ok((w, d))
}

/// The policies to run: the flag's, else the config file's, else the command's default.
/// `run` and `sweep` measure one policy: several on the command line are an error, a config
/// file's list gives its first.
fn policies(
    flag: Option<&[String]>,
    from_file: bool,
    config: &[String],
    single: bool,
    command: &str,
) -> Result<Vec<String>> {
    let mut p: Vec<String> = match flag {
        Some(v) => v.iter().map(|s| s.trim().to_string()).collect(),
        None if from_file => config.to_vec(),
        None => defaults::policies(single),
    };
    if let Some(i) = p.iter().position(String::is_empty) {
        return Err(usage(format!(
            "--policies: item {} is empty; give policy names separated by commas, e.g. fifo,priority",
            i + 1
        )));
    }
    if single {
        if flag.is_some() && p.len() > 1 {
            return Err(usage(format!(
                "--policy: {command} measures one policy, got {} ({}); use compare for several",
                p.len(),
                p.join(",")
            )));
        }
        p.truncate(1);
    }
    if p.is_empty() {
        return Err(usage(
            "no policy to run: give --policies, or policies in the config file",
        ));
    }
    Ok(p)
}

/// Checks a config against the reference control plane (its policies) and fits the models
/// to the cluster when the config asks for the defaults; the note says what was changed.
fn reference_fit(
    config: &mut BenchmarkConfig,
    cluster: &NamedCluster,
    which: &str,
    notes: &mut Vec<String>,
) -> Result<()> {
    config.validate_for_reference().map_err(|e| {
        usage(format!(
            "invalid configuration for the {which} reference control plane:\n{e}"
        ))
    })?;
    notes.extend(settings::fit_models_to_cluster(config, &cluster.spec));
    Ok(())
}

fn experiment_plan(e: &ExperimentArgs) -> Result<ExperimentPlan> {
    let name = ExperimentName::parse(&e.name).ok_or_else(|| {
        usage(format!(
            "--name: unknown experiment {:?}; expected one of: {}",
            e.name,
            ExperimentName::ALL.map(|e| e.as_str()).join(", ")
        ))
    })?;
    let d = ThroughputCriteria::default();
    let criteria = ThroughputCriteria {
        tolerance: e.tolerance.unwrap_or(d.tolerance),
        slo_threshold: e.slo_threshold.unwrap_or(d.slo_threshold),
    };
    if !(0.0..1.0).contains(&criteria.tolerance) {
        return Err(usage(format!(
            "--tolerance: got {}, expected a fraction in [0, 1)",
            criteria.tolerance
        )));
    }
    if !(0.0..=1.0).contains(&criteria.slo_threshold) {
        return Err(usage(format!(
            "--slo-threshold: got {}, expected a fraction in [0, 1]",
            criteria.slo_threshold
        )));
    }
    Ok(ExperimentPlan { name, criteria })
}

fn experiment_variants(e: &ExperimentArgs, config: &BenchmarkConfig) -> Result<Variants> {
    let name = experiment_plan(e)?.name;
    let rate = config.request_rate;
    let scaled = |factors: &[f64]| factors.iter().map(|f| rate * f).collect::<Vec<_>>();
    Ok(match name {
        ExperimentName::Throughput => Variants::Rates(checked_rates(
            e.rates
                .clone()
                .unwrap_or_else(|| scaled(&defaults::THROUGHPUT_RATE_FACTORS)),
        )?),
        ExperimentName::Slo => Variants::Rates(checked_rates(
            e.rates
                .clone()
                .unwrap_or_else(|| scaled(&defaults::SLO_RATE_FACTORS)),
        )?),
        ExperimentName::Latency => Variants::One,
        ExperimentName::MixedRatio => {
            let ratios = e
                .ratios
                .clone()
                .unwrap_or_else(|| defaults::MIXED_RATIOS.to_vec());
            if ratios.is_empty() {
                return Err(usage("--ratios: give at least one ratio, e.g. 0,0.5,1"));
            }
            if let Some(i) = ratios.iter().position(|x| !(0.0..=1.0).contains(x)) {
                return Err(usage(format!(
                    "--ratios: value {} ({}) is not between 0 and 1",
                    i + 1,
                    ratios[i]
                )));
            }
            Variants::Ratios(ratios)
        }
    })
}

/// `--trials`, `--trial-seeds`, `--baseline`, checked (the workloads come with the steps).
fn trials_plan(a: &TrialArgs, policies: &[String]) -> Result<TrialsPlan> {
    let count = a.trials.unwrap_or(defaults::TRIALS);
    if !(1..=defaults::MAX_TRIALS).contains(&count) {
        return Err(usage(format!(
            "--trials: {count} is not accepted; give 1 to {} (5 or more for useful intervals)",
            defaults::MAX_TRIALS
        )));
    }
    if let Some(b) = &a.baseline
        && !policies.contains(b)
    {
        return Err(usage(format!(
            "--baseline: {b:?} is not one of the policies run ({})",
            policies.join(", ")
        )));
    }
    Ok(TrialsPlan {
        count,
        seeds: match a.trial_seeds {
            Some(TrialSeedsArg::Same) => TrialSeeds::Same,
            Some(TrialSeedsArg::Vary) | None => TrialSeeds::Vary,
        },
        baseline: a.baseline.clone(),
        workloads: Vec::new(),
    })
}

/// `--rates`: at least one, each a finite number > 0.
fn checked_rates(rates: Vec<f64>) -> Result<Vec<f64>> {
    if rates.is_empty() {
        return Err(usage("--rates: give at least one rate, e.g. 10,50,100"));
    }
    if let Some(i) = rates.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(usage(format!(
            "--rates: value {} ({}) is not a finite number > 0",
            i + 1,
            rates[i]
        )));
    }
    Ok(rates)
}

/// The steps: per trial, one workload per variant (rate or ratio), shared by all policies of
/// the trial, which run in an order rotated by one from trial to trial (a cyclic Latin
/// square: over as many trials as policies, each policy runs once in each position, so drift
/// and warm-up hit every policy alike). Records each trial's seed and workload hash.
fn steps(resolved: &Resolved, variants: &Variants, trials: &mut TrialsPlan) -> Result<Vec<Step>> {
    let configs: Vec<(RunParams, Resolved)> = match variants {
        Variants::One => vec![(RunParams::default(), resolved.clone())],
        Variants::Rates(rates) => rates
            .iter()
            .map(|&rate| {
                let mut r = resolved.clone();
                r.config.request_rate = rate;
                let params = RunParams {
                    request_rate_rps: Some(rate),
                    ..RunParams::default()
                };
                (params, r)
            })
            .collect(),
        Variants::Ratios(ratios) => ratios
            .iter()
            .map(|&ratio| {
                let mut r = resolved.clone();
                r.config.set_llm_ratio(ratio);
                let params = RunParams {
                    llm_ratio: Some(ratio),
                    ..RunParams::default()
                };
                (params, r)
            })
            .collect(),
    };
    for (_, r) in &configs {
        r.config
            .validate()
            .map_err(|e| usage(format!("invalid configuration:\n{e}")))?;
    }
    let mut steps = Vec::new();
    // With the same seed in every trial, each variant's workload is generated once.
    let mut same: Vec<Option<Arc<cpbench_core::workload::Workload>>> = vec![None; configs.len()];
    for k in 0..trials.count {
        let seed = match trials.seeds {
            TrialSeeds::Vary => resolved.config.seed.wrapping_add(u64::from(k)),
            TrialSeeds::Same => resolved.config.seed,
        };
        for (v, (params, r)) in configs.iter().enumerate() {
            let mut r = r.clone();
            r.config.seed = seed;
            let w = match &same[v] {
                Some(w) => Arc::clone(w),
                None => {
                    let w = Arc::new(settings::workload(&r).map_err(|e| usage(format!("{e:#}")))?);
                    if trials.seeds == TrialSeeds::Same {
                        same[v] = Some(Arc::clone(&w));
                    }
                    w
                }
            };
            if v == 0 {
                trials.workloads.push(TrialWorkload {
                    trial: k + 1,
                    seed,
                    workload_hash: w.hash(),
                });
            }
            let params = RunParams {
                trial: (trials.count > 1).then_some(k + 1),
                ..params.clone()
            };
            let policies = &r.config.policies;
            let n = policies.len();
            for i in 0..n {
                let p = &policies[(i + k as usize) % n];
                steps.push(Step {
                    policy: p.clone(),
                    params: params.clone(),
                    config: r.config.clone(),
                    workload: Arc::clone(&w),
                });
            }
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests;
