//! Admission: whether an arriving request may wait in the control-plane queue, and when it
//! becomes hopeless there.

use super::index::ModelIdx;
use super::prefix::BLOCK_TOKENS;
use super::queue::Pending;
use super::timing::ms_to_us;
use super::{Cluster, ClusterRequest};

impl Cluster {
    /// Checks an arriving request in the order of the module docs; a refused one gets its
    /// `Rejected` event and `None`. An admitted one arrives now and takes the next arrival
    /// number.
    pub(crate) fn admit(&mut self, req: ClusterRequest) -> Option<Pending> {
        let t = self.clock_us;
        if self.locations.contains_key(&req.key) {
            self.reject(
                req.key,
                400,
                format!("request key {} is already in flight", req.key),
            );
            return None;
        }
        let Some(&m) = self.model_index.get(&req.model) else {
            let known: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            self.reject(
                req.key,
                404,
                format!(
                    "The model `{}` does not exist. Available models: {}",
                    req.model,
                    known.join(", ")
                ),
            );
            return None;
        };
        let model = &self.models[m];
        if req.kind.is_llm() != model.is_llm {
            let what = if model.is_llm {
                "an LLM; send it to /v1/chat/completions or /v1/completions"
            } else {
                "an embedding model; send it to /v1/embeddings"
            };
            self.reject(req.key, 400, format!("model `{}` is {what}", req.model));
            return None;
        }
        let prompt = req.prompt_tokens.max(1);
        let max_tokens = if req.kind.is_llm() {
            req.max_tokens.max(1)
        } else {
            0
        };
        // A TTFT target: schedule for the first token by it (what queueing decides).
        let ttft = req.ttft_deadline_ms.filter(|_| req.kind.is_llm());
        let deadline_tokens = if ttft.is_some() { 1 } else { max_tokens };
        let num_inputs = if req.kind.is_llm() {
            0
        } else {
            req.num_inputs.max(1)
        };
        let min_service_us = if req.kind.is_llm() {
            let eligible = self.eligible(m);
            if eligible.is_empty() {
                let msg = format!(
                    "no instance serves model `{}` under policy `{}` (only the aegaeon pool loads it)",
                    req.model,
                    self.policy.as_str()
                );
                self.reject(req.key, 503, msg);
                return None;
            }
            let kv = eligible
                .iter()
                .map(|&i| self.llm[i].kv_cap)
                .max()
                .unwrap_or(0);
            if u64::from(prompt) + u64::from(max_tokens) > kv {
                let msg = format!(
                    "prompt ({prompt} tokens) plus max_tokens ({max_tokens}) exceed the KV cache of every instance serving `{}` ({kv} tokens)",
                    req.model
                );
                self.reject(req.key, 400, msg);
                return None;
            }
            if self.queued_llm >= self.spec.scheduler.max_queue_llm as usize {
                let msg = format!(
                    "LLM queue full ({} requests waiting); retry later",
                    self.queued_llm
                );
                self.reject(req.key, 429, msg);
                return None;
            }
            self.min_llm_service_us(m, prompt, deadline_tokens)
        } else {
            if self.queued_emb >= self.spec.scheduler.max_queue_embedding as usize {
                let msg = format!(
                    "embedding queue full ({} requests waiting); retry later",
                    self.queued_emb
                );
                self.reject(req.key, 429, msg);
                return None;
            }
            self.models[m].batch.map_or(0, |b| {
                ms_to_us(b.batch_ms(u64::from(num_inputs), u64::from(prompt)))
            })
        };
        let deadline_us = t.saturating_add(ttft.unwrap_or(req.deadline_ms).saturating_mul(1000));
        let mut prefix_blocks = req.prefix_blocks;
        prefix_blocks.truncate(if req.kind.is_llm() {
            (prompt / BLOCK_TOKENS) as usize
        } else {
            0
        });
        let seq = self.seq;
        self.seq += 1;
        Some(Pending {
            key: req.key,
            model: m,
            priority: req.priority,
            arrival_us: t,
            deadline_us,
            deadline_tokens,
            hopeless_at_us: deadline_us.saturating_sub(min_service_us),
            hopeless: false,
            prompt_tokens: prompt,
            max_tokens,
            num_inputs,
            prefix_blocks,
            seq,
        })
    }

    /// The fastest a request could be served (one sequence alone on the instance).
    fn min_llm_service_us(&self, model: ModelIdx, prompt: u32, max_tokens: u32) -> u64 {
        let Some(reference) = self.models[model].ref_step else {
            return 0;
        };
        let step = reference.step;
        let chunks = u64::from(prompt)
            .div_ceil(u64::from(reference.token_budget.max(1)))
            .max(1);
        let ms = chunks as f64 * step.base_ms
            + f64::from(prompt) * step.prefill_ms_per_token
            + f64::from(max_tokens.saturating_sub(1)) * (step.base_ms + step.decode_ms_per_seq);
        ms_to_us(ms)
    }
}
