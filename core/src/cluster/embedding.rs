//! A simulated embedding server with dynamic batching (like Hugging Face TEI).
//!
//! Whenever it is idle and has requests, it starts a batch: requests in the order they were
//! handed over, whole, while their inputs fit in `max_batch` (the first always goes in; a
//! request with more inputs than `max_batch` runs alone, in `ceil(inputs / max_batch)`
//! passes). A batch takes `passes * base_ms + ms_per_token * tokens`.

use super::ClusterEvent;
use super::index::ModelIdx;
use super::instance::Outputs;
use super::spec::EmbeddingInstanceSpec;
use super::timing::{jitter_factor, ms_to_us};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::VecDeque;

/// One embedding request inside a server or a batch.
#[derive(Debug, Clone)]
pub(crate) struct EmbItem {
    pub(crate) key: u64,
    pub(crate) inputs: u32,
    pub(crate) tokens: u32,
}

/// The batch-time model of an embedding model on a GPU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchCost {
    pub(crate) base_ms: f64,
    pub(crate) ms_per_token: f64,
    pub(crate) max_batch: u32,
}

impl BatchCost {
    /// Duration of one batch of these items, in ms.
    pub(crate) fn batch_ms(&self, inputs: u64, tokens: u64) -> f64 {
        let passes = inputs.div_ceil(u64::from(self.max_batch)).max(1);
        passes as f64 * self.base_ms + self.ms_per_token * tokens as f64
    }

    pub(crate) fn batch_us(&self, items: &[EmbItem]) -> u64 {
        let inputs: u64 = items.iter().map(|i| u64::from(i.inputs)).sum();
        let tokens: u64 = items.iter().map(|i| u64::from(i.tokens)).sum();
        ms_to_us(self.batch_ms(inputs, tokens))
    }
}

/// Counters of one embedding server (zeroed by `Cluster::reset_counters`).
#[derive(Debug, Clone, Default)]
pub(crate) struct EmbStats {
    pub(crate) busy_us: u64,
    pub(crate) completed: u64,
    pub(crate) batches: u64,
}

/// The batch a server is running.
#[derive(Debug, Clone)]
struct RunningBatch {
    /// When it ends.
    end_us: u64,
    items: Vec<EmbItem>,
}

/// A simulated embedding server.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddingInstance {
    pub(crate) id: String,
    pub(crate) gpu: String,
    pub(crate) model: ModelIdx,
    pub(crate) cost_per_hour_usd: f64,
    pub(crate) cost: BatchCost,
    queue: VecDeque<EmbItem>,
    queued_inputs: u64,
    batch: Option<RunningBatch>,
    rng: ChaCha8Rng,
    jitter: f64,
    pub(crate) stats: EmbStats,
}

impl EmbeddingInstance {
    pub(crate) fn new(
        spec: &EmbeddingInstanceSpec,
        model: ModelIdx,
        jitter: f64,
        seed: u64,
    ) -> Self {
        Self {
            id: spec.id.clone(),
            gpu: spec.gpu.clone(),
            model,
            cost_per_hour_usd: spec.cost_per_hour_usd,
            cost: BatchCost {
                base_ms: spec.base_ms,
                ms_per_token: spec.ms_per_token,
                max_batch: spec.max_batch,
            },
            queue: VecDeque::new(),
            queued_inputs: 0,
            batch: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            jitter,
            stats: EmbStats::default(),
        }
    }

    /// Requests handed over and not yet in a batch.
    pub(crate) fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Requests in the batch in flight.
    pub(crate) fn running_len(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.items.len())
    }

    /// Inputs waiting at the server (not in the batch in flight).
    pub(crate) fn queued_inputs(&self) -> u64 {
        self.queued_inputs
    }

    /// When the batch in flight ends.
    pub(crate) fn next_event_us(&self) -> Option<u64> {
        self.batch.as_ref().map(|b| b.end_us)
    }

    /// Idle with nothing queued: ready to take a batch formed by the control plane.
    pub(crate) fn is_free(&self) -> bool {
        self.batch.is_none() && self.queue.is_empty()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.is_free()
    }

    /// Whether the control plane may hand over another request: at most one batch's worth
    /// of inputs waits here, so the order of the rest is the policy's.
    pub(crate) fn has_room(&self) -> bool {
        self.queued_inputs < u64::from(self.cost.max_batch)
    }

    pub(crate) fn push(&mut self, item: EmbItem) {
        self.queued_inputs += u64::from(item.inputs);
        self.queue.push_back(item);
    }

    /// Removes a queued request; one in the batch in flight is left to finish (the cluster
    /// drops its event). Returns whether it was queued here.
    pub(crate) fn cancel_queued(&mut self, key: u64) -> bool {
        if let Some(i) = self.queue.iter().position(|it| it.key == key)
            && let Some(it) = self.queue.remove(i)
        {
            self.queued_inputs -= u64::from(it.inputs);
            return true;
        }
        false
    }

    /// Starts a batch if idle and something waits.
    pub(crate) fn kick(&mut self, now_us: u64) {
        if self.batch.is_some() || self.queue.is_empty() {
            return;
        }
        let max = u64::from(self.cost.max_batch);
        let mut items = Vec::new();
        let mut inputs = 0u64;
        while let Some(front) = self.queue.front() {
            let n = u64::from(front.inputs);
            if !items.is_empty() && inputs + n > max {
                break;
            }
            inputs += n;
            if let Some(it) = self.queue.pop_front() {
                items.push(it);
            }
            if inputs >= max {
                break;
            }
        }
        self.queued_inputs -= inputs;
        let f = jitter_factor(&mut self.rng, self.jitter);
        let dur = ms_to_us(self.cost.batch_us(&items) as f64 / 1000.0 * f);
        self.stats.busy_us += dur;
        self.stats.batches += 1;
        self.batch = Some(RunningBatch {
            end_us: now_us + dur,
            items,
        });
    }

    /// Ends the batch in flight.
    pub(crate) fn complete(&mut self, now_us: u64, out: &mut Outputs) {
        if let Some(batch) = self.batch.take() {
            for it in batch.items {
                self.stats.completed += 1;
                out.finished.push(it.key);
                out.events.push_back(ClusterEvent::Finished {
                    key: it.key,
                    prompt_tokens: it.tokens,
                    output_tokens: 0,
                    at_us: now_us,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::presets;

    #[test]
    fn batches_greedily_up_to_max_batch() {
        // tiny: 2 ms + 0.01 ms per token, max_batch 8.
        let spec = presets::tiny().embedding_instances[0].clone();
        let mut e = EmbeddingInstance::new(&spec, ModelIdx(0), 0.0, 1);
        for k in 0..3 {
            e.push(EmbItem {
                key: k,
                inputs: 3,
                tokens: 100,
            });
        }
        e.kick(0);
        // 3 + 3 fit, the third would make 9 > 8.
        assert_eq!(e.running_len(), 2);
        assert_eq!(e.next_event_us(), Some(4_000));
        let mut out = Outputs::default();
        e.complete(4_000, &mut out);
        assert_eq!(out.finished, vec![0, 1]);
        e.kick(4_000);
        assert_eq!(e.next_event_us(), Some(4_000 + 3_000));
    }

    #[test]
    fn oversized_requests_run_alone_in_passes() {
        let c = BatchCost {
            base_ms: 2.0,
            ms_per_token: 0.0,
            max_batch: 8,
        };
        assert_eq!(c.batch_ms(20, 0), 6.0);
        assert_eq!(c.batch_ms(8, 0), 2.0);
        assert_eq!(c.batch_ms(0, 0), 2.0);
    }
}
