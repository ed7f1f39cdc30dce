//! A simulated vLLM instance: continuous batching with chunked prefill, a KV-cache budget
//! with recompute preemption, and (for `aegaeon`) several models sharing the GPU in time
//! slices with a cost to switch.
//!
//! One engine step, like vLLM's V1 scheduler:
//! 1. Running sequences of the loaded model, oldest first, each get the tokens they need
//!    (1 when decoding, the rest of the prompt, chunked, when prefilling) until the step's
//!    token budget (`max_num_batched_tokens`) is spent. When the KV cache cannot hold a
//!    sequence's new tokens, the newest running sequence is preempted: its KV is freed and it
//!    goes back to the front of the waiting queue, to be recomputed (prompt and the tokens
//!    generated so far) when re-admitted.
//! 2. Waiting sequences of the loaded model are admitted, oldest first, while the budget,
//!    `max_num_seqs` and the KV cache allow.
//! 3. The step takes `StepCost::step_ms` of its prefill tokens, decoding sequences and the
//!    context they read. At its end, every sequence whose prompt (and recomputed output) is now
//!    fully computed emits one token; the step that completes a prompt emits the first token.
//!    A sequence finishes with its `max_tokens`-th token (fixed output lengths, as with
//!    `ignore_eos`).
//!
//! The KV cache also holds a prefix cache ([`super::prefix`]): a sequence admitted in step 2
//! first takes the longest cached run of its prompt's leading blocks as computed (only the
//! rest is prefilled); the full prompt blocks a step computes are cached; free cached blocks
//! fill the KV budget that running sequences leave and are evicted, least recently freed
//! first, as soon as those need it. `kv_used` counts what running sequences hold: their own
//! tokens plus every cached block at least one of them references, once.

use super::ClusterEvent;
use super::embedding::EmbItem;
use super::index::{IdxVec, ModelIdx};
use super::policy::aegaeon_slice_steps;
use super::prefix::cache::{PrefixCache, PrefixStats};
use super::prefix::{BLOCK_TOKENS, block_key};
use super::spec::{LlmInstanceSpec, StepCost};
use super::timing::{jitter_factor, ms_to_us};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::VecDeque;

/// One request inside an LLM instance.
#[derive(Debug, Clone)]
pub(crate) struct Seq {
    pub(crate) key: u64,
    pub(crate) model: ModelIdx,
    pub(crate) prompt: u32,
    pub(crate) max_tokens: u32,
    /// Tokens whose KV is in the cache (prompt, then generated tokens fed back).
    computed: u32,
    /// Output tokens emitted so far.
    generated: u32,
    /// Tokens scheduled in the step in flight.
    scheduled: u32,
    /// Cache keys of the prompt's full blocks (model-salted block hashes).
    prefix: Vec<u64>,
    /// Cached blocks this sequence references (pins); each holds `BLOCK_TOKENS` of its
    /// `computed` tokens.
    refs: Vec<u64>,
    /// Leading `prefix` blocks already found in the cache or offered to it.
    registered: usize,
    /// Whether its first admission has been counted in the cache's statistics.
    looked_up: bool,
}

impl Seq {
    pub(crate) fn new(key: u64, model: ModelIdx, prompt: u32, max_tokens: u32) -> Self {
        Self {
            key,
            model,
            prompt,
            max_tokens,
            computed: 0,
            generated: 0,
            scheduled: 0,
            prefix: Vec::new(),
            refs: Vec::new(),
            registered: 0,
            looked_up: false,
        }
    }

    /// The same sequence with the block hashes of its prompt (at most `prompt / 16` are
    /// used: a block is cached only when it is wholly prompt).
    pub(crate) fn with_prefix(mut self, hashes: &[u64]) -> Self {
        let full = (self.prompt / BLOCK_TOKENS) as usize;
        self.prefix = hashes
            .iter()
            .take(full)
            .map(|&h| block_key(self.model, h))
            .collect();
        self
    }

    /// KV tokens held by this sequence alone (not in cached blocks it references).
    fn private_tokens(&self) -> u64 {
        u64::from(self.computed + self.scheduled) - u64::from(BLOCK_TOKENS) * self.refs.len() as u64
    }

    /// Tokens still to compute before the next output token.
    fn remaining(&self) -> u32 {
        self.prompt + self.generated - self.computed
    }

    /// Whether the next step for this sequence is a plain decode (one fed-back token).
    fn is_decoding(&self) -> bool {
        self.generated > 0 && self.computed > 0 && self.remaining() == 1
    }
}

/// The step being built: the token budget left and the work scheduled so far.
struct StepBatch {
    /// Tokens the step may still schedule (`max_num_batched_tokens` at the start).
    budget: u32,
    /// Prompt (or recomputed) tokens computed in the step.
    prefill_tokens: u64,
    /// Sequences doing a plain decode.
    decode_seqs: u64,
    /// Context tokens the scheduled sequences read from the KV cache.
    context: u64,
}

impl StepBatch {
    /// Schedules `n` tokens of `s`, which take `n` more tokens of KV cache (`kv_used`).
    fn schedule(&mut self, s: &mut Seq, n: u32, kv_used: &mut u64) {
        if s.is_decoding() {
            self.decode_seqs += 1;
        } else {
            self.prefill_tokens += u64::from(n);
        }
        self.context += u64::from(s.computed);
        s.scheduled = n;
        *kv_used += u64::from(n);
        self.budget -= n;
    }
}

/// An embedding batch run on an LLM instance between two steps (`hybrid` co-location).
#[derive(Debug, Clone)]
pub(crate) struct ColocatedBatch {
    pub(crate) items: Vec<EmbItem>,
    pub(crate) dur_us: u64,
}

#[derive(Debug, Clone)]
enum Phase {
    Idle,
    Step { end_us: u64 },
    Switch { end_us: u64, to: ModelIdx },
    Embed { end_us: u64, batch: ColocatedBatch },
}

/// Counters of one LLM instance (zeroed by `Cluster::reset_counters`).
#[derive(Debug, Clone, Default)]
pub(crate) struct LlmStats {
    pub(crate) busy_us: u64,
    pub(crate) completed: u64,
    pub(crate) output_tokens: u64,
    pub(crate) model_switches: u64,
    pub(crate) preemptions: u64,
    pub(crate) steps: u64,
    pub(crate) embedding_batches: u64,
}

/// What an instance reports back to the cluster when a phase ends.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    pub(crate) events: VecDeque<ClusterEvent>,
    /// Keys that finished (LLM sequences and co-located embedding requests).
    pub(crate) finished: Vec<u64>,
}

/// A simulated LLM instance.
#[derive(Debug, Clone)]
pub(crate) struct LlmInstance {
    pub(crate) id: String,
    pub(crate) gpu: String,
    pub(crate) cost_per_hour_usd: f64,
    max_num_seqs: usize,
    max_batched: u32,
    pub(crate) kv_cap: u64,
    switch_us: u64,
    tbt_target_us: u64,
    /// Step-time model per model (`None`: this instance cannot run that model).
    profiles: IdxVec<ModelIdx, Option<StepCost>>,
    /// The model whose weights are on the GPU.
    pub(crate) loaded: ModelIdx,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    /// Sequences (running + waiting) per model.
    work: IdxVec<ModelIdx, u32>,
    /// Waiting sequences per model.
    waiting_of: IdxVec<ModelIdx, u32>,
    kv_used: u64,
    phase: Phase,
    /// Steps left in the current decode slice while several models share the instance.
    slice_left: Option<u32>,
    colocated: VecDeque<ColocatedBatch>,
    last_was_embed: bool,
    rng: ChaCha8Rng,
    jitter: f64,
    pub(crate) stats: LlmStats,
    /// The prefix cache in the KV budget's free part.
    pub(crate) cache: PrefixCache,
}

impl LlmInstance {
    pub(crate) fn new(
        spec: &LlmInstanceSpec,
        home: ModelIdx,
        profiles: IdxVec<ModelIdx, Option<StepCost>>,
        tbt_target_ms: f64,
        jitter: f64,
        seed: u64,
    ) -> Self {
        let n = profiles.len();
        Self {
            id: spec.id.clone(),
            gpu: spec.gpu.clone(),
            cost_per_hour_usd: spec.cost_per_hour_usd,
            max_num_seqs: spec.max_num_seqs as usize,
            max_batched: spec.max_num_batched_tokens,
            kv_cap: u64::from(spec.kv_cache_tokens),
            switch_us: ms_to_us(spec.model_switch_ms),
            tbt_target_us: ms_to_us(tbt_target_ms),
            profiles,
            loaded: home,
            waiting: VecDeque::new(),
            running: Vec::new(),
            work: IdxVec::filled(0, n),
            waiting_of: IdxVec::filled(0, n),
            kv_used: 0,
            phase: Phase::Idle,
            slice_left: None,
            colocated: VecDeque::new(),
            last_was_embed: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            jitter,
            stats: LlmStats::default(),
            cache: PrefixCache::default(),
        }
    }

    /// Counters of the prefix cache.
    pub(crate) fn prefix_stats(&self) -> &PrefixStats {
        &self.cache.stats
    }

    /// Blocks in the prefix cache now (referenced and free).
    pub(crate) fn cached_blocks(&self) -> usize {
        self.cache.len()
    }

    /// How many leading blocks of a `model` prompt with these block hashes this instance has
    /// cached or will have (held by a sequence routed here, to be prefilled): the router's
    /// view of a request's cached prefix.
    pub(crate) fn cached_prefix_blocks(&self, model: ModelIdx, hashes: &[u64]) -> usize {
        self.cache
            .routed_match(hashes.iter().map(|&h| block_key(model, h)))
    }

    /// Empties the prefix cache of every block no running sequence uses (all of it when idle).
    pub(crate) fn clear_prefix_cache(&mut self) {
        self.cache.clear_free();
    }

    /// The step-time model this instance uses for `model`, if it can run it.
    pub(crate) fn profile(&self, model: ModelIdx) -> Option<&StepCost> {
        self.profiles.get(model).and_then(Option::as_ref)
    }

    /// Sequences held (running + waiting).
    pub(crate) fn load(&self) -> usize {
        self.running.len() + self.waiting.len()
    }

    /// Most sequences in the running batch.
    pub(crate) fn max_num_seqs(&self) -> usize {
        self.max_num_seqs
    }

    pub(crate) fn running_len(&self) -> usize {
        self.running.len()
    }

    pub(crate) fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn kv_usage(&self) -> f64 {
        self.kv_used as f64 / self.kv_cap as f64
    }

    /// Sequences of `model` held.
    pub(crate) fn work_of(&self, model: ModelIdx) -> u32 {
        self.work[model]
    }

    /// Models with sequences on this instance.
    pub(crate) fn active_models(&self) -> usize {
        self.work.iter().filter(|&&w| w > 0).count()
    }

    pub(crate) fn has_colocated(&self) -> bool {
        !self.colocated.is_empty() || matches!(self.phase, Phase::Embed { .. })
    }

    /// Whether the instance is doing nothing and holds nothing.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Idle)
            && self.running.is_empty()
            && self.waiting.is_empty()
            && self.colocated.is_empty()
    }

    /// Whether a step, switch or embedding batch is in flight.
    pub(crate) fn is_busy(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    /// When the phase in flight ends.
    pub(crate) fn next_event_us(&self) -> Option<u64> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Step { end_us } | Phase::Switch { end_us, .. } | Phase::Embed { end_us, .. } => {
                Some(*end_us)
            }
        }
    }

    /// Whether the policy may hand this instance another request of `model`: it keeps at
    /// most `backlog` of each model waiting and `max_num_seqs + backlog` in all.
    pub(crate) fn has_room(&self, model: ModelIdx, backlog: usize) -> bool {
        (self.waiting_of[model] as usize) < backlog && self.load() < self.max_num_seqs + backlog
    }

    /// Hands a request to the instance.
    pub(crate) fn push(&mut self, seq: Seq) {
        self.cache.add_routed(&seq.prefix);
        self.work[seq.model] += 1;
        self.waiting_of[seq.model] += 1;
        self.waiting.push_back(seq);
    }

    pub(crate) fn push_colocated(&mut self, batch: ColocatedBatch) {
        self.colocated.push_back(batch);
    }

    /// Removes a request (client gone). Its KV is freed; a step in flight still takes its
    /// time. Returns whether it was here.
    pub(crate) fn cancel(&mut self, key: u64) -> bool {
        if let Some(i) = self.running.iter().position(|s| s.key == key) {
            let s = self.running.remove(i);
            free_kv(&mut self.cache, &mut self.kv_used, &s);
            self.cache.remove_routed(&s.prefix);
            self.work[s.model] -= 1;
            return true;
        }
        if let Some(i) = self.waiting.iter().position(|s| s.key == key) {
            if let Some(s) = self.waiting.remove(i) {
                self.cache.remove_routed(&s.prefix);
                self.work[s.model] -= 1;
                self.waiting_of[s.model] -= 1;
            }
            return true;
        }
        false
    }

    /// Predicted time at which a request of `model` with this prompt and output length would
    /// finish if handed over now (decode at the batch size it would join).
    pub(crate) fn predict_completion_us(
        &self,
        now_us: u64,
        model: ModelIdx,
        prompt: u32,
        max_tokens: u32,
    ) -> u64 {
        let Some(p) = self.profile(model) else {
            return u64::MAX;
        };
        let start = self.next_event_us().unwrap_or(now_us).max(now_us);
        let ahead: u64 = self
            .waiting
            .iter()
            .filter(|s| s.model == model)
            .map(|s| u64::from(s.remaining()))
            .sum::<u64>()
            + u64::from(prompt);
        let prefill_steps = ahead.div_ceil(u64::from(self.max_batched)).max(1);
        let batch = u64::from(self.work[model]) + 1;
        let prefill_ms = prefill_steps as f64 * p.base_ms + ahead as f64 * p.prefill_ms_per_token;
        let decode_ms = f64::from(max_tokens.saturating_sub(1))
            * p.step_ms(0, batch.min(self.max_num_seqs as u64), 0);
        let switch = if self.loaded == model && self.active_models() <= 1 {
            0
        } else {
            self.switch_us
        };
        start + switch + ms_to_us(prefill_ms + decode_ms)
    }

    /// Busy time (µs) a request would add here: joining a running batch costs only its own
    /// tokens, waking an idle instance costs whole steps.
    pub(crate) fn marginal_busy_us(&self, model: ModelIdx, prompt: u32, max_tokens: u32) -> u64 {
        let Some(p) = self.profile(model) else {
            return u64::MAX;
        };
        let prefill = f64::from(prompt) * p.prefill_ms_per_token;
        let decode = f64::from(max_tokens.saturating_sub(1));
        let ms = if self.work[model] == 0 {
            p.base_ms + prefill + decode * (p.base_ms + p.decode_ms_per_seq)
        } else {
            prefill + decode * p.decode_ms_per_seq
        };
        let switch = if self.loaded == model {
            0
        } else {
            self.switch_us
        };
        ms_to_us(ms) + switch
    }

    /// Ends the phase in flight at `now_us` (its scheduled end).
    pub(crate) fn complete(&mut self, now_us: u64, out: &mut Outputs) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {}
            Phase::Switch { to, .. } => {
                self.loaded = to;
                self.slice_left = None;
                self.stats.model_switches += 1;
            }
            Phase::Embed { batch, .. } => {
                for item in batch.items {
                    out.finished.push(item.key);
                    out.events.push_back(ClusterEvent::Finished {
                        key: item.key,
                        prompt_tokens: item.tokens,
                        output_tokens: 0,
                        at_us: now_us,
                    });
                }
            }
            Phase::Step { .. } => self.end_step(now_us, out),
        }
    }

    fn end_step(&mut self, now_us: u64, out: &mut Outputs) {
        let stats = &mut self.stats;
        let work = &mut self.work;
        let kv_used = &mut self.kv_used;
        let cache = &mut self.cache;
        self.running.retain_mut(|s| {
            if s.scheduled == 0 {
                return true;
            }
            s.computed += s.scheduled;
            s.scheduled = 0;
            // Full prompt blocks now computed enter the cache, referenced by `s` (their
            // tokens move from its own to the cached ones: `kv_used` is unchanged).
            while s.registered < s.prefix.len()
                && (s.registered as u64 + 1) * u64::from(BLOCK_TOKENS) <= u64::from(s.computed)
            {
                let key = s.prefix[s.registered];
                if cache.insert_pinned(key) {
                    s.refs.push(key);
                }
                s.registered += 1;
            }
            if s.computed < s.prompt + s.generated {
                return true;
            }
            s.generated += 1;
            stats.output_tokens += 1;
            out.events.push_back(ClusterEvent::Tokens {
                key: s.key,
                count: 1,
                at_us: now_us,
            });
            if s.generated < s.max_tokens {
                return true;
            }
            free_kv(cache, kv_used, s);
            cache.remove_routed(&s.prefix);
            work[s.model] -= 1;
            stats.completed += 1;
            out.finished.push(s.key);
            out.events.push_back(ClusterEvent::Finished {
                key: s.key,
                prompt_tokens: s.prompt,
                output_tokens: s.generated,
                at_us: now_us,
            });
            false
        });
    }

    /// Starts the next phase if idle: a co-located embedding batch (alternating with LLM
    /// steps), a step of the loaded model, or a switch to the next model with work.
    pub(crate) fn kick(&mut self, now_us: u64) {
        if self.is_busy() {
            return;
        }
        let llm_work = self.running.len() + self.waiting.len() > 0;
        // Co-located embedding batches alternate with LLM steps.
        let embed_turn = !(self.last_was_embed && llm_work);
        if embed_turn && let Some(batch) = self.colocated.pop_front() {
            let dur = self.jittered(batch.dur_us as f64 / 1000.0);
            self.stats.busy_us += dur;
            self.stats.embedding_batches += 1;
            self.phase = Phase::Embed {
                end_us: now_us + dur,
                batch,
            };
            self.last_was_embed = true;
            return;
        }
        self.last_was_embed = false;
        if !llm_work {
            return;
        }
        let others = self.active_models() - usize::from(self.work[self.loaded] > 0);
        let slice_over = others > 0 && self.slice_left == Some(0);
        if self.work[self.loaded] > 0 && !slice_over && self.start_step(now_us) {
            if others > 0 {
                let left = match self.slice_left {
                    Some(l) => l,
                    None => self.slice_steps(),
                };
                self.slice_left = Some(left.saturating_sub(1));
            } else {
                self.slice_left = None;
            }
            return;
        }
        // Switch to the next model (in index order after the loaded one) that has work.
        let n = self.work.len();
        let next = (1..=n)
            .map(|d| ModelIdx((self.loaded.0 + d) % n))
            .find(|&m| self.work[m] > 0 && m != self.loaded);
        if let Some(to) = next {
            let dur = self.switch_us.max(1);
            self.stats.busy_us += dur;
            self.phase = Phase::Switch {
                end_us: now_us + dur,
                to,
            };
        } else if self.work[self.loaded] > 0 && slice_over {
            // Nothing else to run after all: keep going with the loaded model.
            self.slice_left = None;
            self.start_step(now_us);
        }
    }

    /// Decode slice length for the models now sharing this instance.
    fn slice_steps(&self) -> u32 {
        let steps: Vec<u64> = self
            .work
            .iter_enumerated()
            .filter(|&(_, &work)| work > 0)
            .filter_map(|(m, &work)| {
                let p = self.profile(m)?;
                let batch = u64::from(work).min(self.max_num_seqs as u64);
                Some(ms_to_us(p.step_ms(0, batch, 0)))
            })
            .collect();
        aegaeon_slice_steps(&steps, self.switch_us, self.tbt_target_us)
    }

    fn jittered(&mut self, ms: f64) -> u64 {
        let f = jitter_factor(&mut self.rng, self.jitter);
        ms_to_us(ms * f)
    }

    fn preempt(&mut self, idx: usize) {
        let mut s = self.running.remove(idx);
        free_kv(&mut self.cache, &mut self.kv_used, &s);
        s.refs.clear();
        s.registered = 0;
        s.computed = 0;
        s.scheduled = 0;
        self.stats.preemptions += 1;
        self.waiting_of[s.model] += 1;
        self.waiting.push_front(s);
    }

    /// Evicts free cached blocks until they fit in the KV budget running sequences leave.
    fn make_room(&mut self) {
        let block = u64::from(BLOCK_TOKENS);
        let total = self.kv_used + block * self.cache.free_len() as u64;
        if total > self.kv_cap {
            self.cache
                .evict((total - self.kv_cap).div_ceil(block) as usize);
        }
    }

    /// Builds and starts one step of the loaded model. Returns false when nothing of the
    /// loaded model can run (its sequences all wait and the batch is full of other models).
    fn start_step(&mut self, now_us: u64) -> bool {
        let m = self.loaded;
        let Some(cost) = self.profile(m).copied() else {
            return false;
        };
        let mut step = StepBatch {
            budget: self.max_batched,
            prefill_tokens: 0,
            decode_seqs: 0,
            context: 0,
        };
        let mut i = 0;
        while i < self.running.len() && step.budget > 0 {
            if self.running[i].model != m {
                i += 1;
                continue;
            }
            let n = self.running[i].remaining().min(step.budget);
            let mut preempted_self = false;
            while self.kv_used + u64::from(n) > self.kv_cap {
                if self.running.len() - 1 > i {
                    let last = self.running.len() - 1;
                    self.preempt(last);
                } else {
                    self.preempt(i);
                    preempted_self = true;
                    break;
                }
            }
            if preempted_self {
                continue;
            }
            step.schedule(&mut self.running[i], n, &mut self.kv_used);
            self.make_room();
            i += 1;
        }
        let mut w = 0;
        while w < self.waiting.len() && step.budget > 0 && self.running.len() < self.max_num_seqs {
            let s = &self.waiting[w];
            if s.model != m {
                w += 1;
                continue;
            }
            // The cached run of its leading blocks, leaving at least one token to compute.
            let max_hit = ((s.prompt + s.generated).saturating_sub(1) / BLOCK_TOKENS) as usize;
            let found = self.cache.lookup(&s.prefix, max_hit);
            let cached = found.hits as u32 * BLOCK_TOKENS;
            let pinned = u64::from(BLOCK_TOKENS) * found.free_hits as u64;
            let n = (s.remaining() - cached).min(step.budget);
            if self.kv_used + pinned + u64::from(n) > self.kv_cap {
                break;
            }
            let Some(mut s) = self.waiting.remove(w) else {
                break;
            };
            self.waiting_of[m] -= 1;
            if found.hits > 0 {
                s.refs = s.prefix[..found.hits].to_vec();
                self.cache.pin(&s.refs);
                self.kv_used += pinned;
                s.computed = cached;
                s.registered = found.hits;
            }
            if !s.looked_up {
                s.looked_up = true;
                let st = &mut self.cache.stats;
                st.queried_tokens += u64::from(s.prompt);
                st.hit_tokens += u64::from(cached);
                st.hit_blocks += found.hits as u64;
                st.miss_blocks += (s.prefix.len() - found.hits) as u64;
            }
            step.schedule(&mut s, n, &mut self.kv_used);
            self.running.push(s);
            self.make_room();
        }
        if step.prefill_tokens == 0 && step.decode_seqs == 0 {
            return false;
        }
        let dur = self.jittered(cost.step_ms(step.prefill_tokens, step.decode_seqs, step.context));
        self.stats.busy_us += dur;
        self.stats.steps += 1;
        self.phase = Phase::Step {
            end_us: now_us + dur,
        };
        true
    }
}

/// Frees the KV of a sequence leaving the running batch (finished, cancelled or preempted):
/// its own tokens, and its references to cached blocks (those no one else uses become free,
/// still cached, and no longer count in `kv_used`).
fn free_kv(cache: &mut PrefixCache, kv_used: &mut u64, s: &Seq) {
    let freed = cache.release(&s.refs) as u64;
    *kv_used -= s.private_tokens() + u64::from(BLOCK_TOKENS) * freed;
}

#[cfg(test)]
mod tests;
