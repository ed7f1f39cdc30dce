//! The shape of a simulated cluster: instances, their step-time models, and scheduler knobs.
//!
//! A [`ClusterSpec`] is plain data (serde, YAML or JSON, unknown fields rejected). Start from a
//! preset ([`ClusterSpec::preset`], numbers and sources in [`super::presets`]) or write one:
//!
//! ```yaml
//! name: my-cluster
//! llm_instances:
//!   - id: llm-0
//!     model: Qwen/Qwen2.5-7B-Instruct
//!     gpu: A100-80GB
//!     cost_per_hour_usd: 1.79
//!     step: { base_ms: 10.0, prefill_ms_per_token: 0.0976, decode_ms_per_seq: 0.0976, kv_read_ms_per_1k_tokens: 0.0281 }
//!     max_num_seqs: 256
//!     max_num_batched_tokens: 2048
//!     kv_cache_tokens: 1016000
//!     model_switch_ms: 610.0
//! embedding_instances:
//!   - { id: emb-0, model: BAAI/bge-m3, gpu: L4, cost_per_hour_usd: 0.71, base_ms: 4.0, ms_per_token: 0.0125, max_batch: 32 }
//! ```

use super::ClusterError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The step-time model of one LLM on one GPU (vLLM-style continuous batching).
///
/// One engine step takes `base_ms + prefill_ms_per_token * prefill_tokens +
/// decode_ms_per_seq * decode_seqs + kv_read_ms_per_1k_tokens * context_tokens / 1000`, where `context_tokens` is the KV cache the step's attention reads (the tokens already
/// computed for every sequence in the batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StepCost {
    /// Fixed cost of a step: reading the weights once from HBM, plus launch overhead.
    pub base_ms: f64,
    /// Cost of each prompt token computed in the step (chunked prefill).
    pub prefill_ms_per_token: f64,
    /// Cost of each sequence decoding one token in the step.
    pub decode_ms_per_seq: f64,
    /// Cost of reading 1,000 tokens of KV cache (attention over the context).
    #[serde(default)]
    pub kv_read_ms_per_1k_tokens: f64,
}

impl StepCost {
    /// The duration of one step in milliseconds.
    pub fn step_ms(&self, prefill_tokens: u64, decode_seqs: u64, context_tokens: u64) -> f64 {
        self.base_ms
            + self.prefill_ms_per_token * prefill_tokens as f64
            + self.decode_ms_per_seq * decode_seqs as f64
            + self.kv_read_ms_per_1k_tokens * context_tokens as f64 / 1000.0
    }

    fn validate(&self, field: &str) -> Result<(), ClusterError> {
        non_negative(&format!("{field}.base_ms"), self.base_ms)?;
        non_negative(
            &format!("{field}.prefill_ms_per_token"),
            self.prefill_ms_per_token,
        )?;
        non_negative(
            &format!("{field}.decode_ms_per_seq"),
            self.decode_ms_per_seq,
        )?;
        non_negative(
            &format!("{field}.kv_read_ms_per_1k_tokens"),
            self.kv_read_ms_per_1k_tokens,
        )?;
        if self.base_ms + self.prefill_ms_per_token + self.decode_ms_per_seq <= 0.0 {
            return Err(invalid(
                &format!("{field}.base_ms"),
                "0",
                "a step that takes time: base_ms, prefill_ms_per_token and decode_ms_per_seq are all 0",
            ));
        }
        Ok(())
    }
}

/// One simulated vLLM instance serving an LLM on one GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LlmInstanceSpec {
    /// Instance id, reported in `X-Backend-Instance` (unique across the cluster).
    pub id: String,
    /// The model this instance serves (its "home" model; the only one outside `aegaeon`).
    pub model: String,
    /// GPU type, informational (`A100-80GB`).
    pub gpu: String,
    /// Price of the instance per hour; cost is charged for busy time only.
    pub cost_per_hour_usd: f64,
    /// Step-time model of `model` on this GPU.
    pub step: StepCost,
    /// Most sequences in a batch (vLLM `--max-num-seqs`).
    pub max_num_seqs: u32,
    /// Token budget of one step, prefill chunks included (vLLM `--max-num-batched-tokens`).
    pub max_num_batched_tokens: u32,
    /// KV-cache capacity in tokens; when it runs out the newest sequence is preempted
    /// (recompute).
    pub kv_cache_tokens: u32,
    /// Time to load another model's weights onto this GPU (used by `aegaeon`).
    pub model_switch_ms: f64,
}

/// One simulated embedding server (TEI-like dynamic batching).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EmbeddingInstanceSpec {
    /// Instance id (unique across the cluster).
    pub id: String,
    /// The embedding model served.
    pub model: String,
    /// GPU type, informational.
    pub gpu: String,
    /// Price of the instance per hour; cost is charged for busy time only.
    pub cost_per_hour_usd: f64,
    /// Fixed cost of one batch.
    pub base_ms: f64,
    /// Cost per input token in the batch.
    pub ms_per_token: f64,
    /// Most inputs in one batch. A request with more inputs runs alone, in
    /// `ceil(inputs / max_batch)` passes.
    pub max_batch: u32,
}

/// An LLM that no instance serves by default but that the `aegaeon` pool can load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PoolModelSpec {
    /// Model name.
    pub name: String,
    /// Step-time model of this model on the pool's GPUs.
    pub step: StepCost,
}

/// Scheduler knobs shared by the policies. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSpec {
    /// Most LLM requests waiting in the control plane; beyond it arrivals get 429.
    pub max_queue_llm: u32,
    /// Most embedding requests waiting in the control plane; beyond it arrivals get 429.
    pub max_queue_embedding: u32,
    /// Requests an LLM instance may hold waiting beyond what it runs, so the policy (not the
    /// instance) decides the order of everything else (at least 1).
    pub instance_backlog: u32,
    /// `hybrid`/`hybrid_slo`: longest time an embedding request waits for its batch to fill.
    pub embedding_batch_wait_ms: f64,
    /// `hybrid`/`hybrid_slo`: how much faster an embedding batch runs on an LLM instance's
    /// GPU than on the embedding server's (its batch time is divided by this).
    pub colocated_embedding_speedup: f64,
    /// `aegaeon`: time-between-tokens target each model's decode slices are sized for.
    pub tbt_target_ms: f64,
    /// `adaptive`: LLM queue length at which the load counts as high.
    pub adaptive_high_queue: u32,
    /// `adaptive`: LLM queue length at which the load counts as low again (hysteresis).
    pub adaptive_low_queue: u32,
    /// `adaptive`: shortest time between two evaluations (and so between two switches).
    pub adaptive_interval_ms: f64,
    /// Multiplicative step-time noise: each step or batch takes `(1 + jitter * u)` times its
    /// modelled time, `u` uniform in `[-1, 1)` from a per-instance ChaCha8 stream seeded by
    /// the cluster seed. 0 (the default) makes step times exact.
    pub step_jitter: f64,
}

impl Default for SchedulerSpec {
    fn default() -> Self {
        Self {
            max_queue_llm: 100_000,
            max_queue_embedding: 100_000,
            instance_backlog: 2,
            embedding_batch_wait_ms: 5.0,
            colocated_embedding_speedup: 1.0,
            tbt_target_ms: 100.0,
            adaptive_high_queue: 32,
            adaptive_low_queue: 4,
            adaptive_interval_ms: 100.0,
            step_jitter: 0.0,
        }
    }
}

/// A whole simulated cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Name of the cluster (a preset's name, or the user's).
    pub name: String,
    /// LLM instances.
    #[serde(default)]
    pub llm_instances: Vec<LlmInstanceSpec>,
    /// Embedding servers.
    #[serde(default)]
    pub embedding_instances: Vec<EmbeddingInstanceSpec>,
    /// Extra LLMs the `aegaeon` pool can load (other policies answer 503 for them).
    #[serde(default)]
    pub pool_models: Vec<PoolModelSpec>,
    /// Scheduler knobs.
    #[serde(default)]
    pub scheduler: SchedulerSpec,
}

impl ClusterSpec {
    /// Parses a spec from YAML (or JSON, a subset) and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, ClusterError> {
        let spec: Self =
            serde_yaml_ng::from_str(text).map_err(|e| ClusterError::Yaml(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Serializes the spec as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Checks every field; the error names the first bad one, its value and what is accepted.
    pub fn validate(&self) -> Result<(), ClusterError> {
        if self.llm_instances.is_empty() && self.embedding_instances.is_empty() {
            return Err(invalid(
                "llm_instances",
                "[]",
                "at least one LLM or embedding instance",
            ));
        }
        let mut ids = BTreeSet::new();
        let mut llm_models = BTreeSet::new();
        for (i, inst) in self.llm_instances.iter().enumerate() {
            let f = format!("llm_instances[{i}]");
            check_identity(&f, &inst.id, &inst.model, &mut ids)?;
            llm_models.insert(inst.model.as_str());
            non_negative(&format!("{f}.cost_per_hour_usd"), inst.cost_per_hour_usd)?;
            inst.step.validate(&format!("{f}.step"))?;
            at_least_one(&format!("{f}.max_num_seqs"), inst.max_num_seqs)?;
            at_least_one(
                &format!("{f}.max_num_batched_tokens"),
                inst.max_num_batched_tokens,
            )?;
            at_least_one(&format!("{f}.kv_cache_tokens"), inst.kv_cache_tokens)?;
            non_negative(&format!("{f}.model_switch_ms"), inst.model_switch_ms)?;
        }
        let mut emb_models = BTreeSet::new();
        for (i, inst) in self.embedding_instances.iter().enumerate() {
            let f = format!("embedding_instances[{i}]");
            check_identity(&f, &inst.id, &inst.model, &mut ids)?;
            if llm_models.contains(inst.model.as_str()) {
                return Err(invalid(
                    &format!("{f}.model"),
                    &inst.model,
                    "a model name not also served as an LLM",
                ));
            }
            emb_models.insert(inst.model.as_str());
            non_negative(&format!("{f}.cost_per_hour_usd"), inst.cost_per_hour_usd)?;
            non_negative(&format!("{f}.base_ms"), inst.base_ms)?;
            non_negative(&format!("{f}.ms_per_token"), inst.ms_per_token)?;
            if inst.base_ms + inst.ms_per_token <= 0.0 {
                return Err(invalid(
                    &format!("{f}.base_ms"),
                    "0",
                    "a batch that takes time: base_ms and ms_per_token are both 0",
                ));
            }
            at_least_one(&format!("{f}.max_batch"), inst.max_batch)?;
        }
        let mut pool = BTreeSet::new();
        for (i, m) in self.pool_models.iter().enumerate() {
            let f = format!("pool_models[{i}]");
            check_name(&format!("{f}.name"), &m.name)?;
            if llm_models.contains(m.name.as_str())
                || emb_models.contains(m.name.as_str())
                || !pool.insert(m.name.as_str())
            {
                return Err(invalid(
                    &format!("{f}.name"),
                    &m.name,
                    "a model no instance serves and no other pool model names",
                ));
            }
            m.step.validate(&format!("{f}.step"))?;
        }
        if !self.pool_models.is_empty() && self.llm_instances.is_empty() {
            return Err(invalid(
                "pool_models",
                &format!("{} models", self.pool_models.len()),
                "LLM instances to load them on",
            ));
        }
        let s = &self.scheduler;
        at_least_one("scheduler.max_queue_llm", s.max_queue_llm)?;
        at_least_one("scheduler.max_queue_embedding", s.max_queue_embedding)?;
        at_least_one("scheduler.instance_backlog", s.instance_backlog)?;
        non_negative(
            "scheduler.embedding_batch_wait_ms",
            s.embedding_batch_wait_ms,
        )?;
        if !(s.colocated_embedding_speedup.is_finite() && s.colocated_embedding_speedup > 0.0) {
            return Err(invalid(
                "scheduler.colocated_embedding_speedup",
                &s.colocated_embedding_speedup.to_string(),
                "a finite number > 0",
            ));
        }
        if !(s.tbt_target_ms.is_finite() && s.tbt_target_ms > 0.0) {
            return Err(invalid(
                "scheduler.tbt_target_ms",
                &s.tbt_target_ms.to_string(),
                "a finite number > 0",
            ));
        }
        if s.adaptive_low_queue >= s.adaptive_high_queue {
            return Err(invalid(
                "scheduler.adaptive_low_queue",
                &s.adaptive_low_queue.to_string(),
                &format!(
                    "a value below scheduler.adaptive_high_queue ({})",
                    s.adaptive_high_queue
                ),
            ));
        }
        non_negative("scheduler.adaptive_interval_ms", s.adaptive_interval_ms)?;
        if !(s.step_jitter.is_finite() && (0.0..1.0).contains(&s.step_jitter)) {
            return Err(invalid(
                "scheduler.step_jitter",
                &s.step_jitter.to_string(),
                "a number in [0, 1)",
            ));
        }
        Ok(())
    }
}

/// Checks the `id` and `model` of instance `f`: names, the id one no other instance has
/// (the ids seen so far are in `ids`, which gets this one).
fn check_identity<'a>(
    f: &str,
    id: &'a str,
    model: &str,
    ids: &mut BTreeSet<&'a str>,
) -> Result<(), ClusterError> {
    check_name(&format!("{f}.id"), id)?;
    if !ids.insert(id) {
        return Err(invalid(
            &format!("{f}.id"),
            id,
            "an id no other instance has",
        ));
    }
    check_name(&format!("{f}.model"), model)
}

fn invalid(field: &str, value: &str, expected: &str) -> ClusterError {
    ClusterError::InvalidSpec {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), ClusterError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(field, &v.to_string(), "a finite number >= 0"))
    }
}

fn at_least_one(field: &str, v: u32) -> Result<(), ClusterError> {
    if v >= 1 {
        Ok(())
    } else {
        Err(invalid(field, &v.to_string(), "an integer >= 1"))
    }
}

fn check_name(field: &str, v: &str) -> Result<(), ClusterError> {
    if v.trim().is_empty() || v.trim() != v {
        Err(invalid(
            field,
            &format!("{v:?}"),
            "a non-empty name without surrounding spaces",
        ))
    } else {
        Ok(())
    }
}
