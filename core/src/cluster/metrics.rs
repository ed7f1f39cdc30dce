//! The snapshot served at `/admin/metrics`, and the counters behind it.

use super::Cluster;
use super::policy::Policy;
use super::prefix::cache::PrefixStats;
use serde::{Deserialize, Serialize};

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

/// The prefix cache of an LLM instance, or of all of them, in `/admin/metrics` (see
/// [`super::prefix`]). Tokens are estimated tokens; a block is 16 of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PrefixCacheMetrics {
    /// Prompt tokens looked up: every LLM request's, once, when it is first admitted into a
    /// running batch (vLLM's `prefix_cache_queries`).
    pub queried_tokens: u64,
    /// Of those, tokens found cached, whose prefill was skipped (vLLM's
    /// `prefix_cache_hits`).
    pub hit_tokens: u64,
    /// Of those, tokens not found (`queried_tokens - hit_tokens`), prefilled.
    pub miss_tokens: u64,
    /// Full prompt blocks found cached.
    pub hit_blocks: u64,
    /// Full prompt blocks not found (partial last blocks are never cached nor counted).
    pub miss_blocks: u64,
    /// Free cached blocks evicted to make room for running sequences.
    pub evicted_blocks: u64,
    /// Blocks cached now, used by running sequences or free (a current value).
    pub cached_blocks: u64,
    /// `hit_tokens / queried_tokens`; `None` before the first lookup.
    pub hit_rate: Option<f64>,
}

impl PrefixCacheMetrics {
    fn of(s: &PrefixStats, cached_blocks: u64) -> Self {
        Self {
            queried_tokens: s.queried_tokens,
            hit_tokens: s.hit_tokens,
            miss_tokens: s.queried_tokens - s.hit_tokens,
            hit_blocks: s.hit_blocks,
            miss_blocks: s.miss_blocks,
            evicted_blocks: s.evicted_blocks,
            cached_blocks,
            hit_rate: None,
        }
        .with_rate()
    }

    fn with_rate(mut self) -> Self {
        self.hit_rate =
            (self.queried_tokens > 0).then(|| self.hit_tokens as f64 / self.queried_tokens as f64);
        self
    }

    /// The sum of `parts` (the cluster's total over its LLM instances).
    fn total<'a>(parts: impl Iterator<Item = &'a PrefixCacheMetrics>) -> Self {
        parts
            .fold(Self::default(), |a, b| Self {
                queried_tokens: a.queried_tokens + b.queried_tokens,
                hit_tokens: a.hit_tokens + b.hit_tokens,
                miss_tokens: a.miss_tokens + b.miss_tokens,
                hit_blocks: a.hit_blocks + b.hit_blocks,
                miss_blocks: a.miss_blocks + b.miss_blocks,
                evicted_blocks: a.evicted_blocks + b.evicted_blocks,
                cached_blocks: a.cached_blocks + b.cached_blocks,
                hit_rate: None,
            })
            .with_rate()
    }
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
    /// The instance's prefix cache (LLM instances only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<PrefixCacheMetrics>,
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
    /// The prefix caches of all LLM instances together.
    #[serde(default)]
    pub prefix_cache: PrefixCacheMetrics,
}

/// The cluster-wide counters (zeroed by [`Cluster::reset_counters`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) requests: RequestCounts,
    /// Mode switches made by `adaptive`.
    pub(crate) policy_switches: u64,
    /// Embedding batches co-located on LLM instances.
    pub(crate) colocated_batches: u64,
}

impl Cluster {
    /// A snapshot for `/admin/metrics` at `now_us`.
    pub fn metrics(&self, now_us: u64) -> ClusterMetrics {
        let llm = self.llm.iter().map(|i| InstanceMetrics {
            running: i.running_len() as u64,
            waiting: i.waiting_len() as u64,
            kv_cache_usage: i.kv_usage(),
            completed: i.stats.completed,
            output_tokens: i.stats.output_tokens,
            model_switches: i.stats.model_switches,
            preemptions: i.stats.preemptions,
            batches: i.stats.embedding_batches,
            prefix_cache: Some(PrefixCacheMetrics::of(
                i.prefix_stats(),
                i.cached_blocks() as u64,
            )),
            ..busy_instance(
                &i.id,
                &self.models[i.loaded].name,
                "llm",
                &i.gpu,
                i.stats.busy_us,
                i.cost_per_hour_usd,
            )
        });
        let emb = self.emb.iter().map(|e| InstanceMetrics {
            running: e.running_len() as u64,
            waiting: e.queued_len() as u64,
            completed: e.stats.completed,
            batches: e.stats.batches,
            ..busy_instance(
                &e.id,
                &self.models[e.model].name,
                "embedding",
                &e.gpu,
                e.stats.busy_us,
                e.cost_per_hour_usd,
            )
        });
        let instances: Vec<InstanceMetrics> = llm.chain(emb).collect();
        let cost = instances.iter().fold(0.0, |sum, i| sum + i.cost_usd);
        let model_switches = instances.iter().map(|i| i.model_switches).sum();
        let preemptions = instances.iter().map(|i| i.preemptions).sum();
        let batches = instances.iter().map(|i| i.batches).sum();
        let prefix_cache =
            PrefixCacheMetrics::total(instances.iter().filter_map(|i| i.prefix_cache.as_ref()));
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
            prefix_cache,
        }
    }
}

/// An instance's identity, busy time and cost, with every count still 0.
fn busy_instance(
    id: &str,
    model: &str,
    kind: &str,
    gpu: &str,
    busy_us: u64,
    cost_per_hour_usd: f64,
) -> InstanceMetrics {
    let busy_s = busy_us as f64 / 1e6;
    InstanceMetrics {
        id: id.to_string(),
        model: model.to_string(),
        kind: kind.to_string(),
        gpu: gpu.to_string(),
        running: 0,
        waiting: 0,
        kv_cache_usage: 0.0,
        completed: 0,
        output_tokens: 0,
        busy_s,
        cost_usd: busy_s * cost_per_hour_usd / 3600.0,
        model_switches: 0,
        preemptions: 0,
        batches: 0,
        prefix_cache: None,
    }
}
