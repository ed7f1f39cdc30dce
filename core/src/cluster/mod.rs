//! The reference control plane as a sans-IO state machine: queues, a scheduling policy and
//! simulated GPU instances.
//!
//! [`Cluster`] never reads a clock and does no I/O. The caller passes the time (`now_us`,
//! microseconds from the cluster's start) to every call, asks [`Cluster::poll_timeout`] when
//! something next happens, calls [`Cluster::handle_timeout`] then, and drains
//! [`Cluster::poll_event`]. The same machine runs in virtual time ([`crate::sim`]) and in real
//! time behind the HTTP server of the native crate.
//!
//! Internal timers fire at their scheduled times even when the driver calls late: a step that
//! was due at 10,000 µs ends at 10,000 µs (its events carry `at_us = 10_000`) and the next one
//! starts then, so a late real-time driver delays the delivery of events, never the simulated
//! timeline.
//!
//! What happens to a request ([`Cluster::on_arrival`]):
//! - unknown model: `Rejected` 404 (`model_not_found`);
//! - an embedding model sent as an LLM request or the other way round, or a prompt plus
//!   `max_tokens` larger than the KV cache of every instance that serves the model:
//!   `Rejected` 400;
//! - a model no instance serves under the current policy (a pool model outside `aegaeon`):
//!   `Rejected` 503;
//! - the control-plane queue of its kind is full (`scheduler.max_queue_*`): `Rejected` 429;
//! - otherwise it waits in the control-plane queue until the policy hands it to an instance
//!   (`Dispatched`, with its queue time), then streams `Tokens` and ends with `Finished`.
//!   Embedding requests see `Dispatched` then `Finished`.
//!
//! Determinism: every decision iterates `Vec`s and `BTreeMap`s; ties are broken by arrival
//! order, then instance index. The only randomness is the optional step-time jitter, drawn
//! from per-instance ChaCha8 streams seeded by `seed`.

//! Modules, by concept:
//! - `event`, `error`, `metrics`: what crosses the API (requests, events, errors, the
//!   `/admin/metrics` snapshot);
//! - `models`: the models of a spec and the instances built for them; `index`: the typed
//!   indexes of models, LLM instances and embedding servers;
//! - `admission`: whether an arriving request may queue; `queue`: the per-model queues and
//!   their order;
//! - `dispatch`: which queued request leaves next; `routing`: which instance gets it;
//!   `colocation`: embedding batches of the hybrid policies; `adaptive`: `adaptive`'s mode;
//! - `instance`, `embedding`: the simulated LLM instances and embedding servers; `timing`:
//!   their time arithmetic; [`prefix`]: the LLM instances' prefix caches and the block hashes
//!   requests name their prompts by;
//! - [`policy`], [`presets`], `spec`: the policies, ready-made clusters, and the spec format.

mod adaptive;
mod admission;
mod colocation;
mod dispatch;
mod embedding;
mod error;
mod event;
mod index;
mod instance;
mod metrics;
mod models;
pub mod policy;
pub mod prefix;
pub mod presets;
mod queue;
mod routing;
mod spec;
mod timing;

pub use error::ClusterError;
pub use event::{ClusterEvent, ClusterRequest};
pub use metrics::{
    ClusterMetrics, InstanceMetrics, PrefixCacheMetrics, QueueDepths, RequestCounts,
};
pub use models::ModelInfo;
pub use policy::{POLICY_NAMES, Policy};
pub use spec::{
    ClusterSpec, EmbeddingInstanceSpec, LlmInstanceSpec, PoolModelSpec, SchedulerSpec, StepCost,
};

#[cfg(test)]
use crate::request::{Priority, RequestKind}; // for the tests (`use super::*`)
use embedding::EmbeddingInstance;
use index::{EmbIdx, IdxVec, LlmIdx, ModelIdx};
use instance::{LlmInstance, Outputs};
use metrics::Counters;
use models::{Fleet, Model};
use policy::{Behaviour, Mode};
use queue::{HopelessAt, ModelQueue, Pending, QueueSlot};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where a request in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    /// In its model's control-plane queue.
    Queued { model: ModelIdx, slot: QueueSlot },
    /// At an LLM instance.
    Llm(LlmIdx),
    /// At an embedding server.
    Emb(EmbIdx),
    /// In an embedding batch co-located on an LLM instance.
    Colocated(LlmIdx),
}

/// The simulated control plane. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Cluster {
    spec: ClusterSpec,
    policy: Policy,
    /// The name the policy was set by (its own, or an alias such as `fcfs`).
    policy_name: String,
    mode: Mode,
    behaviour: Behaviour,
    clock_us: u64,
    models: IdxVec<ModelIdx, Model>,
    model_index: BTreeMap<String, ModelIdx>,
    llm_models: Vec<ModelIdx>,
    emb_models: Vec<ModelIdx>,
    all_llm: Vec<LlmIdx>,
    llm: IdxVec<LlmIdx, LlmInstance>,
    emb: IdxVec<EmbIdx, EmbeddingInstance>,
    queues: IdxVec<ModelIdx, ModelQueue>,
    queued_llm: usize,
    queued_emb: usize,
    /// Queued requests of main lanes by the time they become hopeless.
    hopeless: BTreeSet<HopelessAt>,
    /// Queued LLM requests past their `hopeless_at_us` (`adaptive`'s overload signal).
    hopeless_llm: usize,
    locations: BTreeMap<u64, Location>,
    /// Embedding requests cancelled while their batch runs: their completion is dropped.
    cancelled_inflight: BTreeSet<u64>,
    events: VecDeque<ClusterEvent>,
    scratch: Outputs,
    /// The next arrival number.
    seq: u64,
    adaptive_last_eval_us: Option<u64>,
    counters: Counters,
}

impl Cluster {
    /// Builds a cluster from a validated spec, starting with `policy`. `seed` seeds the
    /// optional step-time jitter (`scheduler.step_jitter`).
    pub fn new(spec: &ClusterSpec, policy: &str, seed: u64) -> Result<Cluster, ClusterError> {
        spec.validate()?;
        let policy_name = policy.trim().to_string();
        let policy = parse_policy(policy)?;
        let Fleet {
            models,
            model_index,
            llm,
            emb,
        } = Fleet::build(spec, seed);
        let llm_models = models.indices().filter(|&m| models[m].is_llm).collect();
        let emb_models = models.indices().filter(|&m| !models[m].is_llm).collect();
        Ok(Cluster {
            spec: spec.clone(),
            policy,
            policy_name,
            mode: Mode::Fifo,
            behaviour: Behaviour::of(policy, Mode::Fifo),
            clock_us: 0,
            queues: IdxVec::filled(ModelQueue::default(), models.len()),
            models,
            model_index,
            llm_models,
            emb_models,
            all_llm: llm.indices().collect(),
            llm,
            emb,
            queued_llm: 0,
            queued_emb: 0,
            hopeless: BTreeSet::new(),
            hopeless_llm: 0,
            locations: BTreeMap::new(),
            cancelled_inflight: BTreeSet::new(),
            events: VecDeque::new(),
            scratch: Outputs::default(),
            seq: 0,
            adaptive_last_eval_us: None,
            counters: Counters::default(),
        })
    }

    /// The spec the cluster was built from.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The current policy's name.
    pub fn policy(&self) -> &str {
        &self.policy_name
    }

    /// The models the cluster knows, LLMs first.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter_enumerated()
            .map(|(m, info)| ModelInfo {
                name: info.name.clone(),
                is_llm: info.is_llm,
                served: if info.is_llm {
                    !self.eligible(m).is_empty()
                } else {
                    !info.emb_instances.is_empty()
                },
            })
            .collect()
    }

    /// The time of the latest call (µs).
    pub fn now_us(&self) -> u64 {
        self.clock_us
    }

    /// Switches the policy; returns the previous one. Queued requests are re-ordered for the
    /// new policy; queued requests for a model the new policy cannot serve (a pool model
    /// when leaving `aegaeon`) are rejected with 503.
    pub fn set_policy(&mut self, name: &str) -> Result<String, ClusterError> {
        let new = parse_policy(name)?;
        let previous = std::mem::replace(&mut self.policy_name, name.trim().to_string());
        if new == self.policy {
            return Ok(previous);
        }
        self.policy = new;
        self.mode = Mode::Fifo;
        self.adaptive_last_eval_us = None;
        self.behaviour = Behaviour::of(new, Mode::Fifo);
        self.rebuild_queues();
        let t = self.clock_us;
        for n in 0..self.llm_models.len() {
            let m = self.llm_models[n];
            if self.eligible(m).is_empty() {
                let q = std::mem::take(&mut self.queues[m]);
                for p in q.into_requests() {
                    self.forget(&p);
                    self.locations.remove(&p.key);
                    self.reject(
                        p.key,
                        503,
                        format!(
                            "no instance serves model `{}` under policy `{}`",
                            self.models[m].name, self.policy_name
                        ),
                    );
                }
            }
        }
        self.dispatch(t);
        Ok(previous)
    }

    /// Zeroes the counters (requests, costs, switches, per-instance totals, prefix-cache
    /// statistics). Queues, requests in flight and cached blocks are untouched.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
        for i in &mut self.llm {
            i.stats = Default::default();
            i.cache.stats = Default::default();
        }
        for e in &mut self.emb {
            e.stats = Default::default();
        }
    }

    /// Empties the LLM instances' prefix caches of every block no running sequence uses: all
    /// of them when the cluster [is idle](Self::is_idle), so the next requests find nothing
    /// cached (what `/admin/reset` does between runs).
    pub fn clear_prefix_caches(&mut self) {
        for i in &mut self.llm {
            i.clear_prefix_cache();
        }
    }

    /// Whether nothing is queued, running or in flight (pending events aside).
    pub fn is_idle(&self) -> bool {
        self.queued_llm == 0
            && self.queued_emb == 0
            && self.llm.iter().all(|i| i.is_idle())
            && self.emb.iter().all(|e| e.is_idle())
    }

    /// The next event drained from the cluster, in the order they happened.
    pub fn poll_event(&mut self) -> Option<ClusterEvent> {
        self.events.pop_front()
    }

    /// When the cluster next needs [`Cluster::handle_timeout`]; `None` when idle.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t = None::<u64>;
        let mut take = |x: Option<u64>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for i in &self.llm {
            take(i.next_event_us());
        }
        for e in &self.emb {
            take(e.next_event_us());
        }
        if self.policy.is_hybrid() {
            for &m in &self.emb_models {
                if let Some(due) = self.emb_due_us(m)
                    && due > self.clock_us
                {
                    take(Some(due));
                }
            }
        }
        t
    }

    /// Advances the cluster to `now_us`, firing every timer due by then at its own time.
    pub fn handle_timeout(&mut self, now_us: u64) {
        self.advance(now_us);
    }

    /// A request arrives at the control plane at `now_us`.
    pub fn on_arrival(&mut self, now_us: u64, req: ClusterRequest) {
        self.advance(now_us);
        self.counters.requests.received += 1;
        if let Some(p) = self.admit(req) {
            self.enqueue(p);
            let t = self.clock_us;
            self.dispatch(t);
        }
    }

    /// The client of request `key` went away at `now_us`: it leaves its queue or instance and
    /// no more events are produced for it.
    pub fn cancel(&mut self, now_us: u64, key: u64) {
        self.advance(now_us);
        let Some(location) = self.locations.remove(&key) else {
            return;
        };
        match location {
            Location::Queued { model, slot } => {
                if let Some(p) = self.queues[model].remove(slot) {
                    self.forget(&p);
                }
            }
            Location::Llm(i) => {
                self.llm[i].cancel(key);
            }
            Location::Emb(i) => {
                if !self.emb[i].cancel_queued(key) {
                    self.cancelled_inflight.insert(key);
                }
            }
            Location::Colocated(_) => {
                self.cancelled_inflight.insert(key);
            }
        }
        self.counters.requests.failed += 1;
        let t = self.clock_us;
        self.dispatch(t);
    }

    // ---- event plumbing --------------------------------------------------------------

    fn reject(&mut self, key: u64, status: u16, message: String) {
        self.counters.requests.rejected += 1;
        self.events.push_back(ClusterEvent::Rejected {
            key,
            status,
            message,
            at_us: self.clock_us,
        });
    }

    /// Announces that `p` left the control-plane queue for `instance` at `t`.
    fn push_dispatched(&mut self, p: &Pending, instance: String, t: u64) {
        self.events.push_back(ClusterEvent::Dispatched {
            key: p.key,
            instance,
            queue_time_us: t - p.arrival_us,
            at_us: t,
        });
    }

    fn advance(&mut self, now_us: u64) {
        let now = now_us.max(self.clock_us);
        while let Some(t) = self.poll_timeout() {
            if t > now {
                break;
            }
            self.clock_us = t;
            self.fire(t);
            self.dispatch(t);
        }
        self.clock_us = now;
    }

    /// Ends every phase due at `t`.
    fn fire(&mut self, t: u64) {
        for i in &mut self.llm {
            if i.next_event_us() == Some(t) {
                i.complete(t, &mut self.scratch);
            }
        }
        for e in &mut self.emb {
            if e.next_event_us() == Some(t) {
                e.complete(t, &mut self.scratch);
            }
        }
        self.absorb();
    }

    /// Moves instance outputs into the cluster's event queue and books completions.
    fn absorb(&mut self) {
        for key in self.scratch.finished.drain(..) {
            if self.locations.remove(&key).is_some() {
                self.counters.requests.completed += 1;
            }
        }
        while let Some(ev) = self.scratch.events.pop_front() {
            if let ClusterEvent::Finished { key, .. } = ev
                && self.cancelled_inflight.remove(&key)
            {
                continue;
            }
            self.events.push_back(ev);
        }
    }
}

fn parse_policy(name: &str) -> Result<Policy, ClusterError> {
    Policy::parse(name).ok_or_else(|| ClusterError::UnknownPolicy {
        name: name.to_string(),
        known: Policy::known_names(),
    })
}

#[cfg(test)]
mod tests;
