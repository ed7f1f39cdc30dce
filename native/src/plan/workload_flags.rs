//! The workload flags over a config file (or the defaults): one validated
//! [`BenchmarkConfig`]. Precedence: a flag, then the file, then the command's default, then
//! the config's default.

use super::usage;
use crate::cli::{ModeArg, WorkloadArgs};
use crate::settings::{self, Resolved};
use anyhow::{Context, Result, bail};
use cpbench_core::arrival::ArrivalConfig;
use cpbench_core::config::{BenchmarkConfig, DatasetRef, HYBRID_DEFAULT_LLM_RATIO, Mode};
use cpbench_core::lengths::LengthDist;
use cpbench_core::request::{PerPriority, Priority};
use cpbench_core::slo::LlmSloDefinition;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Llm => Mode::Llm,
            ModeArg::Hybrid => Mode::Hybrid,
        }
    }
}

/// Values a command sets when neither a flag nor the config file does.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CommandDefaults {
    /// Measured requests.
    pub(super) num_requests: Option<u64>,
    /// Request rate, req/s.
    pub(super) request_rate: Option<f64>,
}

/// Builds the config: the file's values (or the defaults), the command's defaults where the
/// file is silent, then every flag given on the command line on top, then validation (all
/// problems at once). Every error is a usage error naming the flag, file or field.
pub(super) fn resolve(args: &WorkloadArgs, command: CommandDefaults) -> Result<Resolved> {
    let (mut c, given, base_dir) = match &args.config {
        Some(path) => {
            let (c, given) =
                settings::read_config_file_keys(path).map_err(|e| usage(format!("{e:#}")))?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (c, given, dir)
        }
        None => {
            let mode = args.mode.map(Mode::from).unwrap_or(Mode::Llm);
            (
                BenchmarkConfig::for_mode(mode),
                BTreeSet::new(),
                PathBuf::from("."),
            )
        }
    };
    if let Some(n) = command
        .num_requests
        .filter(|_| !given.contains("num_requests"))
    {
        c.num_requests = n;
    }
    if let Some(r) = command
        .request_rate
        .filter(|_| !given.contains("request_rate"))
    {
        c.request_rate = r;
    }
    apply_workload_flags(&mut c, args).map_err(|e| usage(format!("{e:#}")))?;
    c.validate()
        .map_err(|e| usage(format!("invalid configuration:\n{e}")))?;
    Ok(Resolved {
        config: c,
        base_dir,
    })
}

/// Puts every workload flag given on the command line into `c` (no validation; the error
/// names the flag).
pub fn apply_workload_flags(c: &mut BenchmarkConfig, a: &WorkloadArgs) -> Result<()> {
    if let Some(m) = a.mode {
        let mode = Mode::from(m);
        if mode != c.mode {
            c.mode = mode;
            match mode {
                Mode::Hybrid => c.set_llm_ratio(HYBRID_DEFAULT_LLM_RATIO),
                Mode::Llm => c.set_llm_ratio(1.0),
            }
        }
    }
    if let Some(n) = a.requests {
        c.num_requests = n;
    }
    if let Some(r) = a.rate {
        c.request_rate = r;
    }
    if let Some(r) = a.llm_ratio {
        if c.mode != Mode::Hybrid {
            bail!(
                "--llm-ratio is for hybrid mode; add --mode hybrid (or mode: hybrid in the config)"
            );
        }
        c.set_llm_ratio(r);
    }
    if let Some(w) = a.warmup {
        c.warmup_requests = w;
    }
    if let Some(t) = a.timeout {
        c.timeout_s = t;
    }
    if let Some(s) = a.seed {
        c.seed = s;
    }
    if let Some(p) = &a.arrival {
        c.arrival = match p.trim().to_ascii_lowercase().as_str() {
            "poisson" => ArrivalConfig::Poisson,
            "constant" | "uniform" => ArrivalConfig::Constant,
            "gamma" => ArrivalConfig::Gamma {
                burstiness: a.burstiness.unwrap_or(1.0),
            },
            "burst" => ArrivalConfig::Burst {
                on_s: 1.0,
                off_s: 1.0,
            },
            other => bail!(
                "--arrival: unknown pattern {other:?}; expected poisson, constant (or uniform), gamma, burst \
                 (trace replay is set in a config file)"
            ),
        };
    }
    if let Some(b) = a.burstiness {
        match &mut c.arrival {
            ArrivalConfig::Gamma { burstiness } => *burstiness = b,
            _ => bail!("--burstiness applies to the gamma arrival process; add --arrival gamma"),
        }
    }
    if let Some(d) = &a.dataset {
        c.dataset = Some(DatasetRef {
            path: d.to_string_lossy().into_owned(),
            format: None,
        });
        c.prompt_length = LengthDist::Empirical;
    }
    if let Some(m) = a.max_concurrency {
        c.max_concurrency = Some(m);
    }
    if a.no_stream {
        c.stream = false;
    }
    if !a.models.is_empty() {
        c.model_distribution = parse_weights("--model", &a.models)?;
    }
    if let Some(mix) = &a.priority_mix {
        let parts: Vec<String> = mix.split(',').map(str::to_owned).collect();
        let named = parse_weights("--priority-mix", &parts)?;
        let mut out = BTreeMap::new();
        for (k, v) in named {
            let p = Priority::parse(&k).with_context(|| {
                format!("--priority-mix: unknown priority {k:?}; expected HIGH, NORMAL, LOW")
            })?;
            out.insert(p, v);
        }
        c.priority_distribution = out;
    }
    if let Some(s) = &a.llm_slo_ms {
        c.slo.llm_deadline_ms = parse_per_priority("--llm-slo-ms", s)?;
        c.slo.llm_definition = LlmSloDefinition::EndToEnd;
        if a.ttft_slo_ms.is_none() {
            c.slo.ttft_ms = None;
        }
        if a.tpot_slo_ms.is_none() {
            c.slo.tpot_ms = None;
        }
    }
    if let Some(s) = &a.embedding_slo_ms {
        c.slo.embedding_deadline_ms = parse_per_priority("--embedding-slo-ms", s)?;
    }
    if let Some(s) = &a.ttft_slo_ms {
        c.slo.ttft_ms = Some(parse_per_priority("--ttft-slo-ms", s)?);
    }
    if let Some(t) = &a.tpot_slo_ms {
        c.slo.tpot_ms = Some(parse_tpot(t)?);
    }
    Ok(())
}

/// `NAME` or `NAME=WEIGHT` items to weights (a bare name weighs 1).
fn parse_weights(flag: &str, items: &[String]) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for item in items {
        let item = item.trim();
        let (name, weight) = match item.rsplit_once('=') {
            Some((n, w)) => {
                let w: f64 = w.trim().parse().with_context(|| {
                    format!("{flag}: weight {w:?} of {n:?} is not a number; expected NAME=WEIGHT with WEIGHT >= 0")
                })?;
                (n.trim(), w)
            }
            None => (item, 1.0),
        };
        if name.is_empty() {
            bail!("{flag}: empty name in {item:?}; expected NAME or NAME=WEIGHT");
        }
        out.insert(name.to_string(), weight);
    }
    Ok(out)
}

/// `--tpot-slo-ms`: one number of ms for every priority, or `H,N,L`.
fn parse_tpot(s: &str) -> Result<PerPriority<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("--tpot-slo-ms: {s:?} is not a number of ms or three (HIGH,NORMAL,LOW), e.g. 100 or 75,100,150")
        })?;
    match v.as_slice() {
        [x] => Ok(PerPriority {
            high: *x,
            normal: *x,
            low: *x,
        }),
        [h, n, l] => Ok(PerPriority {
            high: *h,
            normal: *n,
            low: *l,
        }),
        _ => bail!(
            "--tpot-slo-ms: {s:?} has {} values; expected one, or three (HIGH,NORMAL,LOW), e.g. 100 or 75,100,150",
            v.len()
        ),
    }
}

/// `H,N,L` milliseconds.
fn parse_per_priority(flag: &str, s: &str) -> Result<PerPriority<u64>> {
    let v: Vec<u64> = s
        .split(',')
        .map(|x| x.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{flag}: {s:?} is not three integers; expected HIGH,NORMAL,LOW in ms, e.g. 500,1000,2000"))?;
    match v.as_slice() {
        [h, n, l] => Ok(PerPriority {
            high: *h,
            normal: *n,
            low: *l,
        }),
        _ => bail!(
            "{flag}: {s:?} has {} values; expected three, HIGH,NORMAL,LOW in ms, e.g. 500,1000,2000",
            v.len()
        ),
    }
}
