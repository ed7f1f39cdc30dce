//! `hybrid` and `hybrid_slo`: embedding requests wait in the control plane and leave as
//! batches (when full, or when their wait bound or deadline says so), for a free embedding
//! server or, co-located, for an LLM instance between two of its steps.

use super::embedding::{BatchCost, EmbItem};
use super::index::{EmbIdx, LlmIdx, ModelIdx};
use super::instance::ColocatedBatch;
use super::policy::Policy;
use super::queue::{LateLane, Pending};
use super::timing::ms_to_us;
use super::{Cluster, Location};

/// Where a ready embedding batch runs.
#[derive(Debug, Clone, Copy)]
enum BatchTarget {
    /// A free embedding server of the model.
    Server(EmbIdx),
    /// An LLM instance, between two of its steps.
    Colocated(LlmIdx),
}

impl Cluster {
    /// When a batch is ready (full, or its wait bound reached) sends it to a free embedding
    /// server, or co-locates it on an LLM instance when the servers are saturated
    /// (`hybrid`) or it would miss its deadline waiting (`hybrid_slo`).
    pub(crate) fn dispatch_emb_batched(&mut self, t: u64) {
        for n in 0..self.emb_models.len() {
            let m = self.emb_models[n];
            let Some(cost) = self.models[m].batch else {
                continue;
            };
            let max = u64::from(cost.max_batch);
            loop {
                let q = &self.queues[m];
                if q.is_empty() {
                    break;
                }
                let full = q.inputs >= max;
                if !full && self.emb_due_us(m).is_none_or(|due| due > t) {
                    break;
                }
                let free = self.models[m]
                    .emb_instances
                    .iter()
                    .copied()
                    .find(|&i| self.emb[i].is_free());
                let target = match free {
                    Some(i) => Some(BatchTarget::Server(i)),
                    None if self.should_colocate(m, full, cost) => {
                        self.colocation_host().map(BatchTarget::Colocated)
                    }
                    None => None,
                };
                let Some(target) = target else {
                    break;
                };
                let batch = self.take_batch(m, max);
                let items: Vec<EmbItem> = batch.iter().map(Pending::emb_item).collect();
                let (instance, location) = match target {
                    BatchTarget::Server(i) => {
                        for it in items {
                            self.emb[i].push(it);
                        }
                        (self.emb[i].id.clone(), Location::Emb(i))
                    }
                    BatchTarget::Colocated(j) => {
                        let speedup = self.spec.scheduler.colocated_embedding_speedup;
                        let dur_us = ms_to_us(cost.batch_us(&items) as f64 / 1000.0 / speedup);
                        self.llm[j].push_colocated(ColocatedBatch { items, dur_us });
                        self.counters.colocated_batches += 1;
                        (self.llm[j].id.clone(), Location::Colocated(j))
                    }
                };
                for p in batch {
                    self.locations.insert(p.key, location);
                    self.push_dispatched(&p, instance.clone(), t);
                }
            }
        }
    }

    /// Whether a ready embedding batch should run on an LLM instance (all servers busy).
    fn should_colocate(&self, m: ModelIdx, full: bool, cost: BatchCost) -> bool {
        if self.llm.is_empty() {
            return false;
        }
        if full {
            return true;
        }
        if self.policy != Policy::HybridSlo {
            return false;
        }
        // hybrid_slo: would the earliest deadline be missed waiting for a server?
        let q = &self.queues[m];
        let Some((_, p)) = q.main.first_key_value() else {
            return false;
        };
        let server_free = self.models[m]
            .emb_instances
            .iter()
            .filter_map(|&i| self.emb[i].next_event_us())
            .min()
            .unwrap_or(self.clock_us);
        let est = ms_to_us(cost.batch_ms(q.inputs.min(u64::from(cost.max_batch)), 0));
        server_free + est > p.deadline_us
    }

    /// When the embedding queue of `m` must be sent even if not full: its oldest request's
    /// wait bound, or (`hybrid_slo`) the last moment its earliest deadline can still be met.
    pub(crate) fn emb_due_us(&self, m: ModelIdx) -> Option<u64> {
        let q = &self.queues[m];
        if q.is_empty() {
            return None;
        }
        let wait = ms_to_us(self.spec.scheduler.embedding_batch_wait_ms);
        let oldest = q
            .main
            .values()
            .chain(q.late.values())
            .map(|p| p.arrival_us)
            .min()?;
        let mut due = oldest.saturating_add(wait);
        if self.policy == Policy::HybridSlo
            && let (Some(cost), Some((_, p))) = (self.models[m].batch, q.main.first_key_value())
        {
            let est = ms_to_us(cost.batch_ms(q.inputs, 0));
            due = due.min(p.deadline_us.saturating_sub(est));
        }
        Some(due)
    }

    /// Takes up to `max` inputs' worth of requests from the head of model `m`'s queue (the
    /// first request always, even when it alone has more).
    fn take_batch(&mut self, m: ModelIdx, max: u64) -> Vec<Pending> {
        let late = LateLane::of(self.order_of(m));
        let mut out = Vec::new();
        let mut inputs = 0u64;
        while let Some(slot) = self.queues[m].head(late) {
            let n = self.queues[m]
                .get(slot)
                .map_or(0, |p| u64::from(p.num_inputs));
            if !out.is_empty() && inputs + n > max {
                break;
            }
            let Some(p) = self.dequeue(m, slot) else {
                break;
            };
            inputs += n;
            out.push(p);
            if inputs >= max {
                break;
            }
        }
        out
    }
}
