//! Dispatch: which queued request leaves the control plane next, whenever an instance has
//! room. Every model's queue offers its head; the heads compete by the policy's order.

use super::index::ModelIdx;
use super::instance::Seq;
use super::policy::{Policy, Routing};
use super::queue::{Lane, LateLane, Pending, QueueSlot};
use super::{Cluster, Location};

/// A model's queue head, competing with the other models' heads for dispatch.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    model: ModelIdx,
    slot: QueueSlot,
    /// Served after every main-lane head: a late-lane head when late lanes go last.
    deferred: bool,
}

impl Candidate {
    fn new(model: ModelIdx, slot: QueueSlot, late: LateLane) -> Self {
        Self {
            model,
            slot,
            deferred: late == LateLane::Last && slot.lane == Lane::Late,
        }
    }

    /// Whether it is served before `other`: not deferred first, then the smaller sort key
    /// (on equal keys the earlier candidate stays).
    fn precedes(&self, other: &Self) -> bool {
        (self.deferred, self.slot.sort) < (other.deferred, other.slot.sort)
    }

    /// Takes the place of `best` if there is none yet or it [precedes](Self::precedes) it.
    fn offer_to(self, best: &mut Option<Self>) {
        if best.is_none_or(|b| self.precedes(&b)) {
            *best = Some(self);
        }
    }
}

impl Cluster {
    /// Lets the policy hand queued requests to instances with room, then starts idle
    /// instances; twice, so instances also get their backlog for the step after.
    pub(crate) fn dispatch(&mut self, t: u64) {
        self.refresh_hopeless(t);
        if self.policy == Policy::Adaptive {
            self.adapt(t);
        }
        for _ in 0..2 {
            self.dispatch_llm(t);
            if self.policy.is_hybrid() {
                self.dispatch_emb_batched(t);
            } else {
                self.dispatch_emb(t);
            }
            for i in &mut self.llm {
                i.kick(t);
            }
            for e in &mut self.emb {
                e.kick(t);
            }
        }
    }

    /// Takes the winning candidate's request out of its queue; `None` when there is no
    /// candidate (or its slot is gone), which ends a dispatch loop.
    fn dequeue_best(&mut self, best: Option<Candidate>) -> Option<(ModelIdx, Pending)> {
        let Candidate { model, slot, .. } = best?;
        Some((model, self.dequeue(model, slot)?))
    }

    /// Hands LLM requests to instances while some instance has room for the best head.
    fn dispatch_llm(&mut self, t: u64) {
        let backlog = self.spec.scheduler.instance_backlog as usize;
        let late = LateLane::of(self.behaviour.llm_order);
        let pool = self.behaviour.routing == Routing::Pool;
        let mut last_model = None;
        loop {
            let mut best: Option<Candidate> = None;
            for n in 0..self.llm_models.len() {
                let m = self.llm_models[n];
                if self.queues[m].is_empty() || !self.llm_has_room(m, backlog) {
                    continue;
                }
                let Some(slot) = self.llm_head(m, t, backlog, late) else {
                    continue;
                };
                let cand = Candidate::new(m, slot, late);
                if pool && last_model == Some(m) {
                    // Aegaeon's grouped prefill: keep dispatching the same model.
                    best = Some(cand);
                    break;
                }
                cand.offer_to(&mut best);
            }
            let Some((m, p)) = self.dequeue_best(best) else {
                break;
            };
            let i = self.route_llm(m, &p, t, backlog);
            self.llm[i].push(
                Seq::new(p.key, m, p.prompt_tokens, p.max_tokens).with_prefix(&p.prefix_blocks),
            );
            self.locations.insert(p.key, Location::Llm(i));
            let instance = self.llm[i].id.clone();
            self.push_dispatched(&p, instance, t);
            last_model = Some(m);
        }
    }

    /// The head of model `m`'s LLM queue. When late lanes go last (deadline order), a head
    /// that no instance with room is predicted to finish by its deadline (given the batch
    /// it would join) is moved behind the requests that still can.
    fn llm_head(
        &mut self,
        m: ModelIdx,
        t: u64,
        backlog: usize,
        late: LateLane,
    ) -> Option<QueueSlot> {
        loop {
            let slot = self.queues[m].head(late)?;
            if late == LateLane::Merged || slot.lane == Lane::Late {
                return Some(slot);
            }
            let p = self.queues[m].get(slot)?;
            let feasible = self.eligible(m).iter().any(|&i| {
                let inst = &self.llm[i];
                inst.has_room(m, backlog)
                    && inst.predict_completion_us(t, m, p.prompt_tokens, p.deadline_tokens)
                        <= p.deadline_us
            });
            if feasible {
                return Some(slot);
            }
            self.demote(m, slot.sort);
        }
    }

    /// Non-hybrid policies: embedding requests go to the least-loaded server with room,
    /// in the queue's order; servers batch whatever waits when they are free.
    fn dispatch_emb(&mut self, t: u64) {
        let late = LateLane::of(self.behaviour.emb_order);
        loop {
            let mut best: Option<Candidate> = None;
            for &m in &self.emb_models {
                let q = &self.queues[m];
                if q.is_empty() || !self.emb_has_room(m) {
                    continue;
                }
                let Some(slot) = q.head(late) else {
                    continue;
                };
                let cand = Candidate::new(m, slot, late);
                cand.offer_to(&mut best);
            }
            let Some((m, p)) = self.dequeue_best(best) else {
                break;
            };
            let i = self.route_emb(m);
            self.emb[i].push(p.emb_item());
            self.locations.insert(p.key, Location::Emb(i));
            let instance = self.emb[i].id.clone();
            self.push_dispatched(&p, instance, t);
        }
    }
}
