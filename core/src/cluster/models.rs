//! The models the cluster knows and the instances built for them from a spec.

use super::ClusterSpec;
use super::embedding::{BatchCost, EmbeddingInstance};
use super::index::{EmbIdx, IdxVec, LlmIdx, ModelIdx};
use super::instance::LlmInstance;
use super::spec::StepCost;
use crate::text::mix64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A model the cluster knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Whether it is an LLM (else an embedding model).
    pub is_llm: bool,
    /// Whether some instance serves it under the current policy.
    pub served: bool,
}

/// The step model used to judge whether an LLM request can meet its deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefStep {
    pub(crate) step: StepCost,
    /// Prompt tokens one step can prefill (`max_num_batched_tokens`).
    pub(crate) token_budget: u32,
}

/// One model of the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) name: String,
    pub(crate) is_llm: bool,
    /// LLM instances whose own model this is.
    pub(crate) home_instances: Vec<LlmIdx>,
    /// Embedding servers of this model.
    pub(crate) emb_instances: Vec<EmbIdx>,
    /// Step model for deadline feasibility: the first home instance's, or the pool entry's.
    pub(crate) ref_step: Option<RefStep>,
    /// Batch model of the embedding model (its first server's).
    pub(crate) batch: Option<BatchCost>,
}

/// The models of a spec and the instances that serve them.
pub(crate) struct Fleet {
    pub(crate) models: IdxVec<ModelIdx, Model>,
    pub(crate) model_index: BTreeMap<String, ModelIdx>,
    pub(crate) llm: IdxVec<LlmIdx, LlmInstance>,
    pub(crate) emb: IdxVec<EmbIdx, EmbeddingInstance>,
}

impl Fleet {
    /// Numbers the models in the order of first mention (LLM instances, pool models,
    /// embedding servers) and builds every instance; `seed` seeds their step-time jitter.
    pub(crate) fn build(spec: &ClusterSpec, seed: u64) -> Self {
        let mut models: IdxVec<ModelIdx, Model> = IdxVec::new();
        let mut model_index = BTreeMap::new();
        let mut add = |name: &str, is_llm: bool, models: &mut IdxVec<ModelIdx, Model>| {
            *model_index.entry(name.to_string()).or_insert_with(|| {
                models.push(Model {
                    name: name.to_string(),
                    is_llm,
                    home_instances: Vec::new(),
                    emb_instances: Vec::new(),
                    ref_step: None,
                    batch: None,
                })
            })
        };
        for inst in &spec.llm_instances {
            add(&inst.model, true, &mut models);
        }
        for pm in &spec.pool_models {
            add(&pm.name, true, &mut models);
        }
        for inst in &spec.embedding_instances {
            add(&inst.model, false, &mut models);
        }
        let n_models = models.len();
        // The step model of each LLM: its first home instance's, else the pool entry's.
        let mut step_of: IdxVec<ModelIdx, Option<StepCost>> = IdxVec::filled(None, n_models);
        for inst in &spec.llm_instances {
            step_of[model_index[&inst.model]].get_or_insert(inst.step);
        }
        for pm in &spec.pool_models {
            step_of[model_index[&pm.name]] = Some(pm.step);
        }
        let jitter = spec.scheduler.step_jitter;
        let mut llm = IdxVec::new();
        for (n, inst) in spec.llm_instances.iter().enumerate() {
            let home = model_index[&inst.model];
            let profiles = step_of
                .iter_enumerated()
                .map(|(m, &step)| if m == home { Some(inst.step) } else { step })
                .collect();
            let i = llm.push(LlmInstance::new(
                inst,
                home,
                profiles,
                spec.scheduler.tbt_target_ms,
                jitter,
                mix64(seed ^ mix64(n as u64 + 1)),
            ));
            let model = &mut models[home];
            model.home_instances.push(i);
            model.ref_step.get_or_insert(RefStep {
                step: inst.step,
                token_budget: inst.max_num_batched_tokens,
            });
        }
        for pm in &spec.pool_models {
            let token_budget = spec
                .llm_instances
                .iter()
                .map(|i| i.max_num_batched_tokens)
                .max()
                .unwrap_or(1);
            models[model_index[&pm.name]].ref_step = Some(RefStep {
                step: pm.step,
                token_budget,
            });
        }
        let mut emb = IdxVec::new();
        for (n, inst) in spec.embedding_instances.iter().enumerate() {
            let m = model_index[&inst.model];
            let server =
                EmbeddingInstance::new(inst, m, jitter, mix64(seed ^ mix64(0x1_0000 + n as u64)));
            let cost = server.cost;
            let i = emb.push(server);
            models[m].emb_instances.push(i);
            models[m].batch.get_or_insert(cost);
        }
        Self {
            models,
            model_index,
            llm,
            emb,
        }
    }
}
