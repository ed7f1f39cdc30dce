//! Where a dispatched request goes: which instances may serve a model under the policy, and
//! which of them gets the request.

use super::Cluster;
use super::index::{EmbIdx, LlmIdx, ModelIdx};
use super::policy::{Routing, cache_aware_balance_threshold};
use super::queue::Pending;

impl Cluster {
    /// LLM instances that may serve `model` under the current policy: every LLM instance
    /// in the `aegaeon` pool, else the model's own instances.
    pub(crate) fn eligible(&self, model: ModelIdx) -> &[LlmIdx] {
        if self.behaviour.routing == Routing::Pool {
            if self.models[model].is_llm {
                &self.all_llm
            } else {
                &[]
            }
        } else {
            &self.models[model].home_instances
        }
    }

    /// Whether some instance that may serve `model` can take another request of it.
    pub(crate) fn llm_has_room(&self, model: ModelIdx, backlog: usize) -> bool {
        self.eligible(model)
            .iter()
            .any(|&i| self.llm[i].has_room(model, backlog))
    }

    /// Picks the instance for an LLM request (at least one eligible instance has room);
    /// ties go to the lower instance index.
    pub(crate) fn route_llm(&self, m: ModelIdx, p: &Pending, t: u64, backlog: usize) -> LlmIdx {
        let cands = self
            .eligible(m)
            .iter()
            .copied()
            .filter(|&i| self.llm[i].has_room(m, backlog));
        let predict =
            |i: LlmIdx| self.llm[i].predict_completion_us(t, m, p.prompt_tokens, p.deadline_tokens);
        let chosen = match self.behaviour.routing {
            Routing::LeastLoaded => cands.min_by_key(|&i| (self.llm[i].load(), i)),
            Routing::EarliestCompletion => cands.min_by_key(|&i| (predict(i), i)),
            Routing::MarginalCost => {
                let all: Vec<LlmIdx> = cands.collect();
                let feasible = all.iter().copied().filter(|&i| predict(i) <= p.deadline_us);
                let cost = |i: LlmIdx| {
                    let inst = &self.llm[i];
                    inst.marginal_busy_us(m, p.prompt_tokens, p.max_tokens) as f64
                        * inst.cost_per_hour_usd
                };
                feasible
                    .min_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(a.cmp(&b)))
                    .or_else(|| all.iter().copied().min_by_key(|&i| (predict(i), i)))
            }
            Routing::Pool => cands.min_by_key(|&i| {
                // Keep as few models per instance as possible; among equals, the earliest
                // predicted completion (which counts a model switch and the batch joined).
                let inst = &self.llm[i];
                let models_after = inst.active_models() + usize::from(inst.work_of(m) == 0);
                (models_after, predict(i), i)
            }),
            Routing::CacheAware => self.route_cache_aware(m, p, cands),
        };
        chosen.unwrap_or(self.eligible(m)[0])
    }

    /// `cache_aware`: the candidate holding the longest prefix of the prompt (ties to the less
    /// loaded, then the lower index), unless it holds more than the balance threshold beyond
    /// the least-loaded candidate, which then gets it (as it does when nothing is held).
    fn route_cache_aware(
        &self,
        m: ModelIdx,
        p: &Pending,
        cands: impl Iterator<Item = LlmIdx>,
    ) -> Option<LlmIdx> {
        let scored: Vec<(LlmIdx, usize, usize)> = cands
            .map(|i| {
                let inst = &self.llm[i];
                (
                    i,
                    inst.cached_prefix_blocks(m, &p.prefix_blocks),
                    inst.load(),
                )
            })
            .collect();
        let (least, _, least_load) = *scored.iter().min_by_key(|&&(i, _, load)| (load, i))?;
        let (best, hits, best_load) = *scored
            .iter()
            .min_by_key(|&&(i, hits, load)| (std::cmp::Reverse(hits), load, i))?;
        let slack = cache_aware_balance_threshold(self.llm[best].max_num_seqs());
        if hits == 0 || best_load > least_load + slack {
            Some(least)
        } else {
            Some(best)
        }
    }

    /// Whether some embedding server of `model` can take another request.
    pub(crate) fn emb_has_room(&self, model: ModelIdx) -> bool {
        self.models[model]
            .emb_instances
            .iter()
            .any(|&i| self.emb[i].has_room())
    }

    /// The least-loaded server of `model` with room (inputs waiting plus requests in its
    /// batch; ties to the lower index), or its first server.
    pub(crate) fn route_emb(&self, model: ModelIdx) -> EmbIdx {
        let servers = &self.models[model].emb_instances;
        servers
            .iter()
            .copied()
            .filter(|&i| self.emb[i].has_room())
            .min_by_key(|&i| {
                let e = &self.emb[i];
                (e.queued_inputs() + e.running_len() as u64, i)
            })
            .unwrap_or(servers[0])
    }

    /// The LLM instance to co-locate an embedding batch on: the least-loaded one without a
    /// co-located batch (ties to the lower index).
    pub(crate) fn colocation_host(&self) -> Option<LlmIdx> {
        self.all_llm
            .iter()
            .copied()
            .filter(|&j| !self.llm[j].has_colocated())
            .min_by_key(|&j| (self.llm[j].load(), j))
    }
}
