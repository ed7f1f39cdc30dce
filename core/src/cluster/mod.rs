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

mod embedding;
mod instance;
pub mod policy;
pub mod presets;
mod spec;

pub use policy::{POLICY_NAMES, Policy};
pub use spec::{
    ClusterSpec, EmbeddingInstanceSpec, LlmInstanceSpec, PoolModelSpec, SchedulerSpec, StepCost,
};

use crate::request::{Priority, RequestKind};
use crate::text::mix64;
use embedding::{BatchCost, EmbItem, EmbeddingInstance};
use instance::{ColocatedBatch, LlmInstance, Outputs, Seq, ms_to_us};
use policy::{Behaviour, Mode, QueueOrder, Routing, order_key};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Errors of the cluster's construction and administration (request failures are events).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// A policy name that does not exist.
    #[error("unknown policy `{name}`; known policies: {known}")]
    UnknownPolicy {
        /// The name given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// A preset name that does not exist.
    #[error("unknown cluster preset `{name}`; known presets: {known}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The known presets, comma separated.
        known: String,
    },
    /// A field of a cluster spec with a bad value.
    #[error("cluster spec field `{field}`: got {value}, expected {expected}")]
    InvalidSpec {
        /// Path of the field (`llm_instances[0].step.base_ms`).
        field: String,
        /// The bad value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A cluster file that is not valid YAML for a [`ClusterSpec`].
    #[error("cluster spec is not valid: {0}")]
    Yaml(String),
}

impl ClusterSpec {
    /// A built-in preset by name (see [`presets`]).
    pub fn preset(name: &str) -> Result<Self, ClusterError> {
        presets::by_name(name).ok_or_else(|| ClusterError::UnknownPreset {
            name: name.to_string(),
            known: presets::PRESET_NAMES.join(", "),
        })
    }
}

/// A request as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    /// The caller's handle for the request; unique among requests in flight.
    pub key: u64,
    /// Chat, completion or embedding.
    pub kind: RequestKind,
    /// Model name.
    pub model: String,
    /// Priority class (`X-Request-Priority`).
    pub priority: Priority,
    /// End-to-end deadline from arrival (`X-SLO-Deadline-Ms`).
    pub deadline_ms: u64,
    /// Prompt tokens (LLM) or tokens of all inputs (embeddings); at least 1 is charged.
    pub prompt_tokens: u32,
    /// Output tokens to generate (LLM; at least 1).
    pub max_tokens: u32,
    /// Embedding inputs in the request (at least 1 is charged).
    pub num_inputs: u32,
}

/// Something the driver must deliver. Times are when it happened in the cluster's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// The request left the control-plane queue for an instance.
    Dispatched {
        /// Request key.
        key: u64,
        /// Instance id (`X-Backend-Instance`).
        instance: String,
        /// Time spent in the control-plane queue (`X-Queue-Time-Ms`).
        queue_time_us: u64,
        /// When.
        at_us: u64,
    },
    /// Output tokens were generated.
    Tokens {
        /// Request key.
        key: u64,
        /// How many (one per engine step).
        count: u32,
        /// When.
        at_us: u64,
    },
    /// The request completed.
    Finished {
        /// Request key.
        key: u64,
        /// Prompt tokens charged (embeddings: tokens of all inputs).
        prompt_tokens: u32,
        /// Output tokens generated (0 for embeddings).
        output_tokens: u32,
        /// When.
        at_us: u64,
    },
    /// The request was refused; `status` is the HTTP status to answer with.
    Rejected {
        /// Request key.
        key: u64,
        /// 400, 404, 429 or 503.
        status: u16,
        /// Human-readable reason.
        message: String,
        /// When.
        at_us: u64,
    },
}

impl ClusterEvent {
    /// The request the event is about.
    pub fn key(&self) -> u64 {
        match self {
            Self::Dispatched { key, .. }
            | Self::Tokens { key, .. }
            | Self::Finished { key, .. }
            | Self::Rejected { key, .. } => *key,
        }
    }
}

/// Request counters of `/admin/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RequestCounts {
    /// Requests that arrived.
    pub received: u64,
    /// Requests that finished.
    pub completed: u64,
    /// Requests accepted and then abandoned (the client went away).
    pub failed: u64,
    /// Requests refused (400/404/429/503).
    pub rejected: u64,
}

/// Control-plane queue depths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueueDepths {
    /// LLM requests waiting for dispatch.
    pub llm: u64,
    /// Embedding requests waiting for dispatch.
    pub embedding: u64,
}

/// One instance in `/admin/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InstanceMetrics {
    /// Instance id.
    pub id: String,
    /// The model loaded now.
    pub model: String,
    /// `llm` or `embedding`.
    pub kind: String,
    /// GPU type.
    pub gpu: String,
    /// Sequences in the running batch (embedding: requests in the batch in flight).
    pub running: u64,
    /// Requests waiting at the instance.
    pub waiting: u64,
    /// Fraction of the KV cache in use (0 for embedding servers).
    pub kv_cache_usage: f64,
    /// Requests completed.
    pub completed: u64,
    /// Output tokens generated.
    pub output_tokens: u64,
    /// Time spent working (steps, batches, model switches).
    pub busy_s: f64,
    /// `busy_s` times the instance's price.
    pub cost_usd: f64,
    /// Model loads (`aegaeon`).
    pub model_switches: u64,
    /// Sequences preempted for lack of KV cache.
    pub preemptions: u64,
    /// Embedding batches run (co-located ones included on LLM instances).
    pub batches: u64,
}

/// The snapshot served at `/admin/metrics`: the contract's fields plus per-policy extras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClusterMetrics {
    /// Current policy.
    pub policy: String,
    /// Seconds since the cluster started.
    pub uptime_s: f64,
    /// Request counters (since the last reset).
    pub requests: RequestCounts,
    /// Control-plane queue depths now.
    pub queues: QueueDepths,
    /// Every instance.
    pub instances: Vec<InstanceMetrics>,
    /// `adaptive`'s current mode (`fifo`, `slo_aware` or `priority`); `None` otherwise.
    pub adaptive_mode: Option<String>,
    /// Mode switches made by `adaptive`.
    pub policy_switches: u64,
    /// Busy time of every instance times its price, summed.
    pub cost_usd: f64,
    /// `cost_usd` per completed request (`None` before the first completion).
    pub cost_per_request_usd: Option<f64>,
    /// Model loads across the pool (`aegaeon`).
    pub model_switches: u64,
    /// Preemptions across LLM instances.
    pub preemptions: u64,
    /// Embedding batches run, everywhere.
    pub embedding_batches: u64,
    /// Embedding batches run on LLM instances (`hybrid`, `hybrid_slo`).
    pub colocated_embedding_batches: u64,
    /// The cluster spec's name.
    pub cluster: String,
}

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

type SortKey = (u64, u64, u64);

#[derive(Debug, Clone)]
struct Pending {
    key: u64,
    model: usize,
    priority: Priority,
    arrival_us: u64,
    deadline_us: u64,
    /// After this time the request cannot meet its deadline even if served at once.
    hopeless_at_us: u64,
    /// Whether that time has passed while it waited.
    hopeless: bool,
    prompt_tokens: u32,
    max_tokens: u32,
    num_inputs: u32,
    seq: u64,
}

/// The control-plane queue of one model: requests that can still meet their deadline
/// (`main`) and those that cannot (`late`), each sorted by the policy's key.
#[derive(Debug, Clone, Default)]
struct ModelQueue {
    main: BTreeMap<SortKey, Pending>,
    late: BTreeMap<SortKey, Pending>,
    inputs: u64,
}

impl ModelQueue {
    fn is_empty(&self) -> bool {
        self.main.is_empty() && self.late.is_empty()
    }

    /// The next request: with `late_last`, hopeless requests only when no other waits;
    /// otherwise the smaller key of both.
    fn head(&self, late_last: bool) -> Option<(SortKey, bool)> {
        let m = self.main.first_key_value().map(|(k, _)| *k);
        let l = self.late.first_key_value().map(|(k, _)| *k);
        match (m, l) {
            (Some(m), Some(l)) if !late_last && l < m => Some((l, true)),
            (Some(m), _) => Some((m, false)),
            (None, Some(l)) => Some((l, true)),
            (None, None) => None,
        }
    }

    fn get(&self, k: SortKey, late: bool) -> Option<&Pending> {
        if late {
            self.late.get(&k)
        } else {
            self.main.get(&k)
        }
    }

    fn remove(&mut self, k: SortKey, late: bool) -> Option<Pending> {
        let p = if late {
            self.late.remove(&k)
        } else {
            self.main.remove(&k)
        };
        if let Some(p) = &p {
            self.inputs -= u64::from(p.num_inputs);
        }
        p
    }

    fn insert(&mut self, k: SortKey, late: bool, p: Pending) {
        self.inputs += u64::from(p.num_inputs);
        if late {
            self.late.insert(k, p);
        } else {
            self.main.insert(k, p);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    Queued {
        model: usize,
        sort: SortKey,
        late: bool,
    },
    Llm(usize),
    Emb(usize),
    Colocated(usize),
}

#[derive(Debug, Clone)]
struct Model {
    name: String,
    is_llm: bool,
    /// LLM instances whose own model this is.
    home_instances: Vec<usize>,
    /// Embedding servers of this model.
    emb_instances: Vec<usize>,
    /// Step model used for deadline feasibility (the first instance able to run it).
    ref_step: Option<(StepCost, u32)>,
    /// Batch model of the embedding model.
    batch: Option<BatchCost>,
}

#[derive(Debug, Clone, Default)]
struct Counters {
    requests: RequestCounts,
    policy_switches: u64,
    colocated_batches: u64,
}

/// The simulated control plane. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Cluster {
    spec: ClusterSpec,
    policy: Policy,
    mode: Mode,
    behaviour: Behaviour,
    clock_us: u64,
    models: Vec<Model>,
    model_index: BTreeMap<String, usize>,
    llm_models: Vec<usize>,
    emb_models: Vec<usize>,
    all_llm: Vec<usize>,
    llm: Vec<LlmInstance>,
    emb: Vec<EmbeddingInstance>,
    queues: Vec<ModelQueue>,
    queued_llm: usize,
    queued_emb: usize,
    /// Queued requests by the time they become hopeless (`hopeless_at_us`, key).
    hopeless: BTreeSet<(u64, u64)>,
    /// Queued LLM requests past their `hopeless_at_us` (`adaptive`'s overload signal).
    hopeless_llm: usize,
    locations: BTreeMap<u64, Loc>,
    /// Embedding requests cancelled while their batch runs: their completion is dropped.
    cancelled_inflight: BTreeSet<u64>,
    events: VecDeque<ClusterEvent>,
    scratch: Outputs,
    seq: u64,
    adaptive_last_eval_us: Option<u64>,
    counters: Counters,
}

impl Cluster {
    /// Builds a cluster from a validated spec, starting with `policy`. `seed` seeds the
    /// optional step-time jitter (`scheduler.step_jitter`).
    pub fn new(spec: &ClusterSpec, policy: &str, seed: u64) -> Result<Cluster, ClusterError> {
        spec.validate()?;
        let policy = parse_policy(policy)?;
        let mut models: Vec<Model> = Vec::new();
        let mut model_index = BTreeMap::new();
        let mut add = |name: &str, is_llm: bool, models: &mut Vec<Model>| -> usize {
            *model_index.entry(name.to_string()).or_insert_with(|| {
                models.push(Model {
                    name: name.to_string(),
                    is_llm,
                    home_instances: Vec::new(),
                    emb_instances: Vec::new(),
                    ref_step: None,
                    batch: None,
                });
                models.len() - 1
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
        let mut step_of: Vec<Option<StepCost>> = vec![None; n_models];
        for inst in &spec.llm_instances {
            let m = model_index[&inst.model];
            step_of[m].get_or_insert(inst.step);
        }
        for pm in &spec.pool_models {
            step_of[model_index[&pm.name]] = Some(pm.step);
        }
        let jitter = spec.scheduler.step_jitter;
        let mut llm = Vec::new();
        for (i, inst) in spec.llm_instances.iter().enumerate() {
            let home = model_index[&inst.model];
            let profiles: Vec<Option<StepCost>> = (0..n_models)
                .map(|m| {
                    if m == home {
                        Some(inst.step)
                    } else {
                        step_of[m]
                    }
                })
                .collect();
            models[home].home_instances.push(i);
            if models[home].ref_step.is_none() {
                models[home].ref_step = Some((inst.step, inst.max_num_batched_tokens));
            }
            llm.push(LlmInstance::new(
                inst,
                home,
                profiles,
                spec.scheduler.tbt_target_ms,
                jitter,
                mix64(seed ^ mix64(i as u64 + 1)),
            ));
        }
        for pm in &spec.pool_models {
            let m = model_index[&pm.name];
            let budget = spec
                .llm_instances
                .iter()
                .map(|i| i.max_num_batched_tokens)
                .max()
                .unwrap_or(1);
            models[m].ref_step = Some((pm.step, budget));
        }
        let mut emb = Vec::new();
        for (i, inst) in spec.embedding_instances.iter().enumerate() {
            let m = model_index[&inst.model];
            models[m].emb_instances.push(i);
            let e =
                EmbeddingInstance::new(inst, m, jitter, mix64(seed ^ mix64(0x1_0000 + i as u64)));
            models[m].batch.get_or_insert(e.cost);
            emb.push(e);
        }
        let llm_models = (0..n_models).filter(|&m| models[m].is_llm).collect();
        let emb_models = (0..n_models).filter(|&m| !models[m].is_llm).collect();
        Ok(Cluster {
            spec: spec.clone(),
            policy,
            mode: Mode::Fifo,
            behaviour: Behaviour::of(policy, Mode::Fifo),
            clock_us: 0,
            models,
            model_index,
            llm_models,
            emb_models,
            all_llm: (0..llm.len()).collect(),
            llm,
            emb,
            queues: vec![ModelQueue::default(); n_models],
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
        self.policy.as_str()
    }

    /// The models the cluster knows, LLMs first.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .enumerate()
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
        let previous = self.policy.as_str().to_string();
        if new == self.policy {
            return Ok(previous);
        }
        self.policy = new;
        self.mode = Mode::Fifo;
        self.adaptive_last_eval_us = None;
        self.behaviour = Behaviour::of(new, Mode::Fifo);
        self.rebuild_queues();
        let t = self.clock_us;
        for m in self.llm_models.clone() {
            if self.eligible(m).is_empty() {
                let q = std::mem::take(&mut self.queues[m]);
                for p in q.main.into_values().chain(q.late.into_values()) {
                    self.forget(&p);
                    self.locations.remove(&p.key);
                    self.reject(
                        p.key,
                        503,
                        format!(
                            "no instance serves model `{}` under policy `{}`",
                            self.models[m].name,
                            self.policy.as_str()
                        ),
                    );
                }
            }
        }
        self.dispatch(t);
        Ok(previous)
    }

    /// Zeroes the counters (requests, costs, switches, per-instance totals). Queues and
    /// requests in flight are untouched.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
        for i in &mut self.llm {
            i.stats = Default::default();
        }
        for e in &mut self.emb {
            e.stats = Default::default();
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
        let t = self.clock_us;
        self.counters.requests.received += 1;
        if self.locations.contains_key(&req.key) {
            self.reject(
                req.key,
                400,
                format!("request key {} is already in flight", req.key),
            );
            return;
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
            return;
        };
        let model = &self.models[m];
        if req.kind.is_llm() != model.is_llm {
            let what = if model.is_llm {
                "an LLM; send it to /v1/chat/completions or /v1/completions"
            } else {
                "an embedding model; send it to /v1/embeddings"
            };
            self.reject(req.key, 400, format!("model `{}` is {what}", req.model));
            return;
        }
        let prompt = req.prompt_tokens.max(1);
        let max_tokens = if req.kind.is_llm() {
            req.max_tokens.max(1)
        } else {
            0
        };
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
                return;
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
                return;
            }
            if self.queued_llm >= self.spec.scheduler.max_queue_llm as usize {
                let msg = format!(
                    "LLM queue full ({} requests waiting); retry later",
                    self.queued_llm
                );
                self.reject(req.key, 429, msg);
                return;
            }
            self.min_llm_service_us(m, prompt, max_tokens)
        } else {
            if self.queued_emb >= self.spec.scheduler.max_queue_embedding as usize {
                let msg = format!(
                    "embedding queue full ({} requests waiting); retry later",
                    self.queued_emb
                );
                self.reject(req.key, 429, msg);
                return;
            }
            self.models[m].batch.map_or(0, |b| {
                ms_to_us(b.batch_ms(u64::from(num_inputs), u64::from(prompt)))
            })
        };
        let deadline_us = t.saturating_add(req.deadline_ms.saturating_mul(1000));
        let p = Pending {
            key: req.key,
            model: m,
            priority: req.priority,
            arrival_us: t,
            deadline_us,
            hopeless_at_us: deadline_us.saturating_sub(min_service_us),
            hopeless: false,
            prompt_tokens: prompt,
            max_tokens,
            num_inputs,
            seq: self.seq,
        };
        self.seq += 1;
        self.enqueue(p, false);
        self.dispatch(t);
    }

    /// The client of request `key` went away at `now_us`: it leaves its queue or instance and
    /// no more events are produced for it.
    pub fn cancel(&mut self, now_us: u64, key: u64) {
        self.advance(now_us);
        let Some(loc) = self.locations.remove(&key) else {
            return;
        };
        match loc {
            Loc::Queued { model, sort, late } => {
                if let Some(p) = self.queues[model].remove(sort, late) {
                    self.forget(&p);
                }
            }
            Loc::Llm(i) => {
                self.llm[i].cancel(key);
            }
            Loc::Emb(i) => {
                if !self.emb[i].cancel_queued(key) {
                    self.cancelled_inflight.insert(key);
                }
            }
            Loc::Colocated(_) => {
                self.cancelled_inflight.insert(key);
            }
        }
        self.counters.requests.failed += 1;
        let t = self.clock_us;
        self.dispatch(t);
    }

    /// A snapshot for `/admin/metrics` at `now_us`.
    pub fn metrics(&self, now_us: u64) -> ClusterMetrics {
        let mut instances = Vec::new();
        let mut cost = 0.0;
        let mut model_switches = 0;
        let mut preemptions = 0;
        let mut batches = 0;
        for i in &self.llm {
            let busy_s = i.stats.busy_us as f64 / 1e6;
            let c = busy_s * i.cost_per_hour_usd / 3600.0;
            cost += c;
            model_switches += i.stats.model_switches;
            preemptions += i.stats.preemptions;
            batches += i.stats.embedding_batches;
            instances.push(InstanceMetrics {
                id: i.id.clone(),
                model: self.models[i.loaded].name.clone(),
                kind: "llm".into(),
                gpu: i.gpu.clone(),
                running: i.running_len() as u64,
                waiting: i.waiting_len() as u64,
                kv_cache_usage: i.kv_usage(),
                completed: i.stats.completed,
                output_tokens: i.stats.output_tokens,
                busy_s,
                cost_usd: c,
                model_switches: i.stats.model_switches,
                preemptions: i.stats.preemptions,
                batches: i.stats.embedding_batches,
            });
        }
        for e in &self.emb {
            let busy_s = e.stats.busy_us as f64 / 1e6;
            let c = busy_s * e.cost_per_hour_usd / 3600.0;
            cost += c;
            batches += e.stats.batches;
            instances.push(InstanceMetrics {
                id: e.id.clone(),
                model: self.models[e.model].name.clone(),
                kind: "embedding".into(),
                gpu: e.gpu.clone(),
                running: e.running_len() as u64,
                waiting: e.queued_len() as u64,
                kv_cache_usage: 0.0,
                completed: e.stats.completed,
                output_tokens: 0,
                busy_s,
                cost_usd: c,
                model_switches: 0,
                preemptions: 0,
                batches: e.stats.batches,
            });
        }
        let completed = self.counters.requests.completed;
        ClusterMetrics {
            policy: self.policy.as_str().to_string(),
            uptime_s: now_us.max(self.clock_us) as f64 / 1e6,
            requests: self.counters.requests.clone(),
            queues: QueueDepths {
                llm: self.queued_llm as u64,
                embedding: self.queued_emb as u64,
            },
            instances,
            adaptive_mode: (self.policy == Policy::Adaptive).then(|| self.mode.as_str().into()),
            policy_switches: self.counters.policy_switches,
            cost_usd: cost,
            cost_per_request_usd: (completed > 0).then(|| cost / completed as f64),
            model_switches,
            preemptions,
            embedding_batches: batches,
            colocated_embedding_batches: self.counters.colocated_batches,
            cluster: self.spec.name.clone(),
        }
    }

    // ---- internals -------------------------------------------------------------------

    fn reject(&mut self, key: u64, status: u16, message: String) {
        self.counters.requests.rejected += 1;
        self.events.push_back(ClusterEvent::Rejected {
            key,
            status,
            message,
            at_us: self.clock_us,
        });
    }

    /// LLM instances that may serve `model` under the current policy.
    fn eligible(&self, model: usize) -> &[usize] {
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

    /// The fastest a request could be served (one sequence alone on the instance).
    fn min_llm_service_us(&self, model: usize, prompt: u32, max_tokens: u32) -> u64 {
        let Some((step, budget)) = self.models[model].ref_step else {
            return 0;
        };
        let chunks = u64::from(prompt).div_ceil(u64::from(budget.max(1))).max(1);
        let ms = chunks as f64 * step.base_ms
            + f64::from(prompt) * step.prefill_ms_per_token
            + f64::from(max_tokens.saturating_sub(1)) * (step.base_ms + step.decode_ms_per_seq);
        ms_to_us(ms)
    }

    fn order_of(&self, model: usize) -> QueueOrder {
        if self.models[model].is_llm {
            self.behaviour.llm_order
        } else {
            self.behaviour.emb_order
        }
    }

    fn enqueue(&mut self, mut p: Pending, late: bool) {
        let m = p.model;
        let sort = order_key(
            self.order_of(m),
            p.priority,
            p.arrival_us,
            p.deadline_us,
            p.seq,
        );
        p.hopeless = p.hopeless_at_us < self.clock_us;
        let late = late || p.hopeless;
        if p.hopeless && self.models[m].is_llm {
            self.hopeless_llm += 1;
        }
        if !late {
            self.hopeless.insert((p.hopeless_at_us, p.key));
        }
        self.locations.insert(
            p.key,
            Loc::Queued {
                model: m,
                sort,
                late,
            },
        );
        if self.models[m].is_llm {
            self.queued_llm += 1;
        } else {
            self.queued_emb += 1;
        }
        self.queues[m].insert(sort, late, p);
    }

    /// Takes a request out of its queue (it is being dispatched).
    fn dequeue(&mut self, m: usize, sort: SortKey, late: bool) -> Option<Pending> {
        let p = self.queues[m].remove(sort, late)?;
        self.forget(&p);
        Some(p)
    }

    /// Books a request leaving the control-plane queue (already removed from its map).
    fn forget(&mut self, p: &Pending) {
        self.hopeless.remove(&(p.hopeless_at_us, p.key));
        if self.models[p.model].is_llm {
            self.queued_llm -= 1;
            if p.hopeless {
                self.hopeless_llm -= 1;
            }
        } else {
            self.queued_emb -= 1;
        }
    }

    /// Re-sorts every queue after the policy (or `adaptive`'s mode) changed.
    fn rebuild_queues(&mut self) {
        for m in 0..self.queues.len() {
            let q = std::mem::take(&mut self.queues[m]);
            let order = self.order_of(m);
            let mut fresh = ModelQueue::default();
            for (late, p) in q
                .main
                .into_values()
                .map(|p| (false, p))
                .chain(q.late.into_values().map(|p| (true, p)))
            {
                let sort = order_key(order, p.priority, p.arrival_us, p.deadline_us, p.seq);
                self.locations.insert(
                    p.key,
                    Loc::Queued {
                        model: m,
                        sort,
                        late,
                    },
                );
                fresh.insert(sort, late, p);
            }
            self.queues[m] = fresh;
        }
    }

    /// Moves requests that can no longer meet their deadline behind the others.
    fn refresh_hopeless(&mut self, t: u64) {
        while let Some(&(at, key)) = self.hopeless.first() {
            if at >= t {
                break;
            }
            self.hopeless.pop_first();
            if let Some(Loc::Queued {
                model,
                sort,
                late: false,
            }) = self.locations.get(&key).copied()
            {
                if let Some(p) = self.queues[model].main.get_mut(&sort) {
                    p.hopeless = true;
                    if self.models[model].is_llm {
                        self.hopeless_llm += 1;
                    }
                }
                self.demote(model, sort);
            }
        }
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

    /// Lets the policy hand queued requests to instances with room, then starts idle
    /// instances; twice, so instances also get their backlog for the step after.
    fn dispatch(&mut self, t: u64) {
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

    fn dispatch_llm(&mut self, t: u64) {
        let backlog = self.spec.scheduler.instance_backlog as usize;
        let late_last = self.behaviour.llm_order == QueueOrder::Deadline;
        let pool = self.behaviour.routing == Routing::Pool;
        let mut last_model = None;
        loop {
            let mut best: Option<(bool, SortKey, usize, bool)> = None;
            for mi in 0..self.llm_models.len() {
                let m = self.llm_models[mi];
                if self.queues[m].is_empty()
                    || !self
                        .eligible(m)
                        .iter()
                        .any(|&i| self.llm[i].has_room(m, backlog))
                {
                    continue;
                }
                let Some((sort, late)) = self.llm_head(m, t, backlog, late_last) else {
                    continue;
                };
                let cand = (late_last && late, sort, m, late);
                if pool && last_model == Some(m) {
                    // Aegaeon's grouped prefill: keep dispatching the same model.
                    best = Some(cand);
                    break;
                }
                if best.is_none_or(|b| (cand.0, cand.1) < (b.0, b.1)) {
                    best = Some(cand);
                }
            }
            let Some((_, sort, m, late)) = best else {
                break;
            };
            let Some(p) = self.dequeue(m, sort, late) else {
                break;
            };
            let i = self.route_llm(m, &p, t, backlog);
            self.llm[i].push(Seq::new(p.key, m, p.prompt_tokens, p.max_tokens));
            self.locations.insert(p.key, Loc::Llm(i));
            self.events.push_back(ClusterEvent::Dispatched {
                key: p.key,
                instance: self.llm[i].id.clone(),
                queue_time_us: t - p.arrival_us,
                at_us: t,
            });
            last_model = Some(m);
        }
    }

    /// The head of model `m`'s LLM queue. Under deadline order, a head that no instance with
    /// room is predicted to finish by its deadline (given the batch it would join) is moved
    /// behind the requests that still can.
    fn llm_head(
        &mut self,
        m: usize,
        t: u64,
        backlog: usize,
        late_last: bool,
    ) -> Option<(SortKey, bool)> {
        loop {
            let (sort, late) = self.queues[m].head(late_last)?;
            if !late_last || late {
                return Some((sort, late));
            }
            let p = self.queues[m].get(sort, false)?;
            let feasible = self.eligible(m).iter().any(|&i| {
                let inst = &self.llm[i];
                inst.has_room(m, backlog)
                    && inst.predict_completion_us(t, m, p.prompt_tokens, p.max_tokens)
                        <= p.deadline_us
            });
            if feasible {
                return Some((sort, false));
            }
            self.demote(m, sort);
        }
    }

    /// Moves a queued request from `main` to `late`.
    fn demote(&mut self, m: usize, sort: SortKey) {
        if let Some(p) = self.queues[m].remove(sort, false) {
            self.hopeless.remove(&(p.hopeless_at_us, p.key));
            self.locations.insert(
                p.key,
                Loc::Queued {
                    model: m,
                    sort,
                    late: true,
                },
            );
            self.queues[m].insert(sort, true, p);
        }
    }

    /// Picks the instance for an LLM request (at least one eligible instance has room).
    fn route_llm(&self, m: usize, p: &Pending, t: u64, backlog: usize) -> usize {
        let cands = self
            .eligible(m)
            .iter()
            .copied()
            .filter(|&i| self.llm[i].has_room(m, backlog));
        let predict =
            |i: usize| self.llm[i].predict_completion_us(t, m, p.prompt_tokens, p.max_tokens);
        let chosen = match self.behaviour.routing {
            Routing::LeastLoaded => cands.min_by_key(|&i| (self.llm[i].load(), i)),
            Routing::EarliestCompletion => cands.min_by_key(|&i| (predict(i), i)),
            Routing::MarginalCost => {
                let all: Vec<usize> = cands.collect();
                let feasible = all.iter().copied().filter(|&i| predict(i) <= p.deadline_us);
                let cost = |i: usize| {
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
        };
        chosen.unwrap_or(self.eligible(m)[0])
    }

    /// Non-hybrid policies: embedding requests go to the least-loaded server with room,
    /// in the queue's order; servers batch whatever waits when they are free.
    fn dispatch_emb(&mut self, t: u64) {
        let late_last = self.behaviour.emb_order == QueueOrder::Deadline;
        loop {
            let mut best: Option<(bool, SortKey, usize, bool)> = None;
            for &m in &self.emb_models {
                let q = &self.queues[m];
                if q.is_empty()
                    || !self.models[m]
                        .emb_instances
                        .iter()
                        .any(|&i| self.emb[i].has_room())
                {
                    continue;
                }
                let Some((sort, late)) = q.head(late_last) else {
                    continue;
                };
                let cand = (late_last && late, sort, m, late);
                if best.is_none_or(|b| (cand.0, cand.1) < (b.0, b.1)) {
                    best = Some(cand);
                }
            }
            let Some((_, sort, m, late)) = best else {
                break;
            };
            let Some(p) = self.dequeue(m, sort, late) else {
                break;
            };
            let i = self.models[m]
                .emb_instances
                .iter()
                .copied()
                .filter(|&i| self.emb[i].has_room())
                .min_by_key(|&i| {
                    let e = &self.emb[i];
                    (e.queued_inputs() + e.running_len() as u64, i)
                })
                .unwrap_or(self.models[m].emb_instances[0]);
            self.emb[i].push(EmbItem {
                key: p.key,
                inputs: p.num_inputs,
                tokens: p.prompt_tokens,
            });
            self.locations.insert(p.key, Loc::Emb(i));
            self.events.push_back(ClusterEvent::Dispatched {
                key: p.key,
                instance: self.emb[i].id.clone(),
                queue_time_us: t - p.arrival_us,
                at_us: t,
            });
        }
    }

    /// `hybrid`/`hybrid_slo`: when a batch is ready (full, or its wait bound reached) send it
    /// to a free embedding server, or co-locate it on an LLM instance when the servers are
    /// saturated (`hybrid`) or it would miss its deadline waiting (`hybrid_slo`).
    fn dispatch_emb_batched(&mut self, t: u64) {
        for m in self.emb_models.clone() {
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
                    Some(i) => Some(Loc::Emb(i)),
                    None if self.should_colocate(m, full, cost) => self
                        .all_llm
                        .iter()
                        .copied()
                        .filter(|&j| !self.llm[j].has_colocated())
                        .min_by_key(|&j| (self.llm[j].load(), j))
                        .map(Loc::Colocated),
                    None => None,
                };
                let Some(target) = target else {
                    break;
                };
                let batch = self.take_batch(m, max);
                let items: Vec<EmbItem> = batch
                    .iter()
                    .map(|p| EmbItem {
                        key: p.key,
                        inputs: p.num_inputs,
                        tokens: p.prompt_tokens,
                    })
                    .collect();
                let instance = match target {
                    Loc::Emb(i) => {
                        for it in items {
                            self.emb[i].push(it);
                        }
                        self.emb[i].id.clone()
                    }
                    Loc::Colocated(j) => {
                        let speedup = self.spec.scheduler.colocated_embedding_speedup;
                        let dur_us = ms_to_us(cost.batch_us(&items) as f64 / 1000.0 / speedup);
                        self.llm[j].push_colocated(ColocatedBatch { items, dur_us });
                        self.counters.colocated_batches += 1;
                        self.llm[j].id.clone()
                    }
                    _ => unreachable!("targets are embedding servers or LLM instances"),
                };
                for p in batch {
                    self.locations.insert(p.key, target);
                    self.events.push_back(ClusterEvent::Dispatched {
                        key: p.key,
                        instance: instance.clone(),
                        queue_time_us: t - p.arrival_us,
                        at_us: t,
                    });
                }
            }
        }
    }

    /// Whether a ready embedding batch should run on an LLM instance (all servers busy).
    fn should_colocate(&self, m: usize, full: bool, cost: BatchCost) -> bool {
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
    fn emb_due_us(&self, m: usize) -> Option<u64> {
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

    /// Takes up to `max` inputs' worth of requests from the head of model `m`'s queue.
    fn take_batch(&mut self, m: usize, max: u64) -> Vec<Pending> {
        let late_last = self.order_of(m) == QueueOrder::Deadline;
        let mut out = Vec::new();
        let mut inputs = 0u64;
        while let Some((sort, late)) = self.queues[m].head(late_last) {
            let n = self.queues[m]
                .get(sort, late)
                .map_or(0, |p| u64::from(p.num_inputs));
            if !out.is_empty() && inputs + n > max {
                break;
            }
            let Some(p) = self.dequeue(m, sort, late) else {
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

    /// `adaptive`: re-evaluates the mode at most once per interval.
    fn adapt(&mut self, t: u64) {
        let interval = ms_to_us(self.spec.scheduler.adaptive_interval_ms);
        if let Some(last) = self.adaptive_last_eval_us
            && t < last + interval
        {
            return;
        }
        self.adaptive_last_eval_us = Some(t);
        let s = &self.spec.scheduler;
        let q = self.queued_llm;
        let late_share = if q == 0 {
            0.0
        } else {
            self.hopeless_llm as f64 / q as f64
        };
        let new = match self.mode {
            Mode::Fifo if q >= s.adaptive_high_queue as usize => {
                if late_share > 0.5 {
                    Mode::Priority
                } else {
                    Mode::SloAware
                }
            }
            Mode::Fifo => Mode::Fifo,
            _ if q <= s.adaptive_low_queue as usize => Mode::Fifo,
            Mode::SloAware if late_share > 0.6 => Mode::Priority,
            Mode::Priority if late_share < 0.3 => Mode::SloAware,
            other => other,
        };
        if new != self.mode {
            self.mode = new;
            self.counters.policy_switches += 1;
            self.behaviour = Behaviour::of(self.policy, new);
            self.rebuild_queues();
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
