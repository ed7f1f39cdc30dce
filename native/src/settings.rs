//! From command-line flags and an optional config file to one validated
//! [`BenchmarkConfig`], and from the config to a generated [`Workload`] (reading the dataset
//! and trace files it names: core never opens files).

use crate::cli::{ModeArg, WorkloadArgs};
use anyhow::{Context, Result, bail};
use cpbench_core::arrival::{ArrivalConfig, Trace};
use cpbench_core::cluster::ClusterSpec;
use cpbench_core::config::{BenchmarkConfig, DatasetRef, Mode};
use cpbench_core::dataset::Dataset;
use cpbench_core::lengths::LengthDist;
use cpbench_core::request::{PerPriority, Priority};
use cpbench_core::workload::{Workload, WorkloadData, generate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A config ready to run, with the folder its relative paths are relative to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The validated config.
    pub config: BenchmarkConfig,
    /// Folder of the config file (or the current folder): base of relative dataset paths.
    pub base_dir: PathBuf,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Llm => Mode::Llm,
            ModeArg::Hybrid => Mode::Hybrid,
        }
    }
}

/// Reads and parses a config file (no validation), naming the file in errors.
pub fn read_config_file(path: &Path) -> Result<BenchmarkConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config: cannot read {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str());
    BenchmarkConfig::from_text(&text, ext).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Builds the config: the file's values (or the defaults), then every flag given on the
/// command line on top, then validation (all problems at once).
pub fn resolve(args: &WorkloadArgs, policies: Option<Vec<String>>) -> Result<Resolved> {
    let (mut c, base_dir) = match &args.config {
        Some(path) => {
            let c = read_config_file(path)?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (c, dir)
        }
        None => {
            let mode = args.mode.map(Mode::from).unwrap_or(Mode::Llm);
            (BenchmarkConfig::for_mode(mode), PathBuf::from("."))
        }
    };
    apply_flags(&mut c, args)?;
    if let Some(p) = policies {
        c.policies = p.into_iter().map(|s| s.trim().to_string()).collect();
    }
    c.validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    Ok(Resolved {
        config: c,
        base_dir,
    })
}

fn apply_flags(c: &mut BenchmarkConfig, a: &WorkloadArgs) -> Result<()> {
    if let Some(m) = a.mode {
        let mode = Mode::from(m);
        if mode != c.mode {
            c.mode = mode;
            match mode {
                Mode::Hybrid => c.set_llm_ratio(cpbench_core::config::HYBRID_DEFAULT_LLM_RATIO),
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
    }
    if let Some(s) = &a.embedding_slo_ms {
        c.slo.embedding_deadline_ms = parse_per_priority("--embedding-slo-ms", s)?;
    }
    if let Some(s) = &a.ttft_slo_ms {
        c.slo.ttft_ms = Some(parse_per_priority("--ttft-slo-ms", s)?);
    }
    if let Some(t) = a.tpot_slo_ms {
        c.slo.tpot_ms = Some(t);
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

/// When the config asks for the default models and the embedded cluster serves others, use
/// the cluster's models instead (its LLMs with equal weights, its first embedding model).
/// Returns a note saying what was changed, for the report.
pub fn fit_models_to_cluster(c: &mut BenchmarkConfig, spec: &ClusterSpec) -> Option<String> {
    let defaults = BenchmarkConfig::default();
    let llms: BTreeMap<String, f64> = spec
        .llm_instances
        .iter()
        .map(|i| (i.model.clone(), 1.0))
        .collect();
    let mut changed = Vec::new();
    if c.model_distribution == defaults.model_distribution
        && !llms.is_empty()
        && !c.model_distribution.keys().all(|m| llms.contains_key(m))
    {
        c.model_distribution = llms;
        changed.push(format!(
            "LLM models {}",
            c.model_distribution
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if c.embedding_model == defaults.embedding_model
        && let Some(e) = spec.embedding_instances.first()
        && !spec
            .embedding_instances
            .iter()
            .any(|i| i.model == c.embedding_model)
    {
        c.embedding_model = e.model.clone();
        changed.push(format!("embedding model {}", e.model));
    }
    (!changed.is_empty()).then(|| {
        format!(
            "the workload uses the models of cluster {}: {}",
            spec.name,
            changed.join("; ")
        )
    })
}

/// Reads and parses the dataset and trace files a config names.
pub fn load_data(resolved: &Resolved) -> Result<WorkloadData> {
    let c = &resolved.config;
    let mut data = WorkloadData::none();
    if let Some(d) = &c.dataset {
        let path = resolved.base_dir.join(&d.path);
        let format = d.resolved_format().with_context(|| {
            format!("dataset {}: cannot tell the format from the extension; set dataset.format to sharegpt or jsonl", d.path)
        })?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("dataset: cannot read {}", path.display()))?;
        data.dataset = Some(
            Dataset::parse(&bytes, format)
                .with_context(|| format!("dataset {}", path.display()))?,
        );
    }
    if let Some(t) = &c.trace {
        let path = resolved.base_dir.join(&t.path);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("trace: cannot read {}", path.display()))?;
        data.trace =
            Some(Trace::parse_jsonl(&bytes).with_context(|| format!("trace {}", path.display()))?);
    }
    Ok(data)
}

/// Generates the workload of a resolved config.
pub fn workload(resolved: &Resolved) -> Result<Workload> {
    let data = load_data(resolved)?;
    generate(&resolved.config, &data).context("generating the workload")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults_and_errors_name_the_flag() {
        let args = WorkloadArgs {
            requests: Some(20),
            rate: Some(5.0),
            seed: Some(7),
            priority_mix: Some("HIGH=1,low=3".into()),
            llm_slo_ms: Some("100,200,300".into()),
            ..Default::default()
        };
        let r = resolve(&args, Some(vec!["fifo".into(), " priority".into()])).unwrap();
        assert_eq!(r.config.num_requests, 20);
        assert_eq!(r.config.seed, 7);
        assert_eq!(r.config.policies, vec!["fifo", "priority"]);
        assert_eq!(
            r.config.priority_distribution.get(&Priority::Low),
            Some(&3.0)
        );
        assert_eq!(r.config.slo.llm_deadline_ms.normal, 200);

        let bad = WorkloadArgs {
            llm_slo_ms: Some("1,2".into()),
            ..Default::default()
        };
        let e = resolve(&bad, None).unwrap_err().to_string();
        assert!(e.contains("--llm-slo-ms"), "{e}");
        let bad = WorkloadArgs {
            llm_ratio: Some(0.5),
            ..Default::default()
        };
        assert!(
            resolve(&bad, None)
                .unwrap_err()
                .to_string()
                .contains("--llm-ratio")
        );
        let bad = WorkloadArgs {
            rate: Some(-1.0),
            ..Default::default()
        };
        assert!(
            resolve(&bad, None)
                .unwrap_err()
                .to_string()
                .contains("request_rate")
        );
    }
}
