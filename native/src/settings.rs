//! Files behind a config: reading a config file, the dataset and trace files it names (core
//! never opens files), and generating the config's [`Workload`]. Flags are applied in
//! [`crate::plan`].

use anyhow::{Context, Result};
use cpbench_core::arrival::Trace;
use cpbench_core::cluster::ClusterSpec;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::dataset::Dataset;
use cpbench_core::workload::{Workload, WorkloadData, generate};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A config ready to run, with the folder its relative paths are relative to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The validated config.
    pub config: BenchmarkConfig,
    /// Folder of the config file (or the current folder): base of relative dataset paths.
    pub base_dir: PathBuf,
}

/// Reads and parses a config file (no validation), naming the file in errors.
pub fn read_config_file(path: &Path) -> Result<BenchmarkConfig> {
    read_config_file_keys(path).map(|(c, _)| c)
}

/// [`read_config_file`], with the top-level keys the file gives (to tell the file's values
/// from defaults).
pub fn read_config_file_keys(path: &Path) -> Result<(BenchmarkConfig, BTreeSet<String>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config: cannot read {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str());
    let c = BenchmarkConfig::from_text(&text, ext)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((c, BenchmarkConfig::given_keys(&text)))
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
            if c.replays_conversations() {
                Dataset::parse_conversations(&bytes, format)
            } else {
                Dataset::parse(&bytes, format)
            }
            .with_context(|| format!("dataset {}", path.display()))?
            .into(),
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
