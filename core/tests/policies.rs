//! Each policy beats `fifo` on the workload it is designed for, in virtual time.
//!
//! Workloads are built here directly as `RequestSpec` lists (seeded Poisson arrivals), run
//! through `sim::simulate` under the policy and under `fifo`, and compared on statistics
//! computed from the records.

use cpbench_core::cluster::{ClusterSpec, PoolModelSpec, StepCost, presets};
use cpbench_core::dataset::{Dataset, DatasetEntry};
use cpbench_core::record::RequestRecord;
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::sim::{SimOutput, simulate};
use cpbench_core::text::{estimate_tokens, synthetic_text};
use cpbench_core::workload::{RequestSpec, TextSource, Workload};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::Arc;

// ---- workload building ------------------------------------------------------------------

/// Every model name the tests send, indexed by `RequestSpec::model` ("nope" is served by no
/// instance).
const MODELS: [&str; 7] = [
    "tiny-llm",
    "tiny-embed",
    "tiny-llm-2",
    "tiny-llm-3",
    "tiny-llm-4",
    "nope",
    LLAMA,
];

fn model(name: &str) -> u32 {
    MODELS
        .iter()
        .position(|m| *m == name)
        .unwrap_or_else(|| panic!("model {name:?} is not in MODELS")) as u32
}

struct Gen {
    rng: ChaCha8Rng,
    t_us: f64,
    out: Vec<RequestSpec>,
    /// Prompts given as text ([`Gen::llm_text`]), the workload's dataset.
    prompts: Vec<DatasetEntry>,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            t_us: 0.0,
            out: Vec::new(),
            prompts: Vec::new(),
        }
    }

    /// The workload of the requests made so far, with the prompts given as text.
    fn workload(self) -> Workload {
        let mut w = Workload::from_requests(7, models(), self.out);
        w.texts.dataset = Some(Arc::new(Dataset {
            entries: self.prompts,
            skipped: 0,
        }));
        w
    }

    fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Advances the clock by an exponential gap at `rate_per_s`.
    fn gap(&mut self, rate_per_s: f64) -> u64 {
        let u = self.uniform();
        self.t_us += -libm::log(u) / rate_per_s * 1e6;
        self.t_us as u64
    }

    fn idle(&mut self, ms: f64) {
        self.t_us += ms * 1000.0;
    }

    fn llm(
        &mut self,
        rate: f64,
        model: &str,
        priority: Priority,
        deadline_ms: u64,
        prompt: u32,
        out: u32,
    ) {
        let offset_us = self.gap(rate);
        let id = self.out.len() as u64;
        self.out.push(RequestSpec {
            id,
            offset_us,
            kind: RequestKind::LlmChat,
            model: self::model(model),
            priority,
            slo_deadline_ms: deadline_ms,
            slo_ttft_ms: None,
            prompt_tokens_est: prompt,
            max_tokens: out,
            text: TextSource::Synthetic {
                seed: id,
                tokens: prompt,
            },
        });
    }

    /// An LLM request with this prompt text (its token count estimated from it, as the
    /// workload generator does).
    fn llm_text(&mut self, rate: f64, model: &str, prompt: String, out: u32) {
        self.llm(rate, model, Priority::Normal, 10_000, 0, out);
        let last = self.out.last_mut().unwrap();
        last.prompt_tokens_est = estimate_tokens(&prompt);
        last.text = TextSource::Dataset {
            entry: self.prompts.len() as u32,
        };
        self.prompts.push(DatasetEntry::new(prompt, None));
    }

    fn emb(&mut self, rate: f64, model: &str, deadline_ms: u64, inputs: u32, tokens: u32) {
        let offset_us = self.gap(rate);
        let id = self.out.len() as u64;
        self.out.push(RequestSpec {
            id,
            offset_us,
            kind: RequestKind::Embedding,
            model: self::model(model),
            priority: Priority::Normal,
            slo_deadline_ms: deadline_ms,
            slo_ttft_ms: None,
            prompt_tokens_est: tokens,
            max_tokens: 0,
            text: TextSource::FixedInputs {
                seed: id,
                inputs,
                tokens: tokens / inputs.max(1),
            },
        });
    }
}

/// HIGH 20%, NORMAL 50%, LOW 30%, with the default SLO deadlines of each class.
fn class_of(i: usize) -> (Priority, u64) {
    match i % 10 {
        0 | 5 => (Priority::High, 500),
        1 | 3 | 6 | 8 | 9 => (Priority::Normal, 1000),
        _ => (Priority::Low, 2000),
    }
}

// ---- statistics -------------------------------------------------------------------------

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    assert!(!v.is_empty(), "no samples");
    v.sort_by(f64::total_cmp);
    let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[idx]
}

fn ttfts<'a>(recs: impl Iterator<Item = &'a RequestRecord>) -> Vec<f64> {
    recs.filter_map(RequestRecord::ttft_ms).collect()
}

fn meets_slo(r: &RequestRecord) -> bool {
    r.outcome.is_success() && r.e2e_ms() <= r.slo_deadline_ms as f64
}

fn slo_share<'a>(recs: impl Iterator<Item = &'a RequestRecord>) -> f64 {
    let (mut met, mut n) = (0usize, 0usize);
    for r in recs {
        n += 1;
        met += usize::from(meets_slo(r));
    }
    met as f64 / n as f64
}

fn success_share(out: &SimOutput) -> f64 {
    out.records
        .iter()
        .filter(|r| r.outcome.is_success())
        .count() as f64
        / out.records.len() as f64
}

fn models() -> Vec<String> {
    MODELS.iter().map(|m| m.to_string()).collect()
}

fn run(reqs: &[RequestSpec], spec: &ClusterSpec, policy: &str) -> SimOutput {
    run_workload(
        &Workload::from_requests(7, models(), reqs.to_vec()),
        spec,
        policy,
    )
}

fn run_workload(w: &Workload, spec: &ClusterSpec, policy: &str) -> SimOutput {
    simulate(w, spec, policy, 7).unwrap()
}

fn one_instance() -> ClusterSpec {
    let mut spec = presets::tiny();
    spec.llm_instances.truncate(1);
    spec
}

// ---- the tests --------------------------------------------------------------------------

/// A burst at twice the instance's capacity with mixed classes.
fn overload(seed: u64) -> Vec<RequestSpec> {
    let mut g = Gen::new(seed);
    for i in 0..400 {
        let (p, d) = class_of(i);
        g.llm(160.0, "tiny-llm", p, d, 60, 24);
    }
    g.out
}

#[test]
fn priority_protects_high_under_overload() {
    let reqs = overload(1);
    let spec = one_instance();
    let fifo = run(&reqs, &spec, "fifo");
    let prio = run(&reqs, &spec, "priority");
    let high = |o: &SimOutput| {
        percentile(
            ttfts(o.records.iter().filter(|r| r.priority == Priority::High)),
            99.0,
        )
    };
    let low = |o: &SimOutput| {
        percentile(
            ttfts(o.records.iter().filter(|r| r.priority == Priority::Low)),
            99.0,
        )
    };
    eprintln!(
        "HIGH p99 TTFT fifo {:.1} ms, priority {:.1} ms; LOW p99 fifo {:.1}, priority {:.1}",
        high(&fifo),
        high(&prio),
        low(&fifo),
        low(&prio)
    );
    assert!(high(&prio) * 3.0 < high(&fifo));
    // The price is paid by LOW.
    assert!(low(&prio) > low(&fifo));
    assert_eq!(success_share(&prio), 1.0);
}

#[test]
fn slo_aware_meets_more_deadlines_under_overload() {
    let reqs = overload(2);
    let spec = one_instance();
    let fifo = slo_share(run(&reqs, &spec, "fifo").records.iter());
    let slo = slo_share(run(&reqs, &spec, "slo_aware").records.iter());
    eprintln!("SLO compliance fifo {fifo:.3}, slo_aware {slo:.3}");
    assert!(slo > fifo + 0.1);
}

#[test]
fn cost_optimized_is_cheaper_per_request_at_low_load() {
    let mut g = Gen::new(3);
    for _ in 0..300 {
        g.llm(15.0, "tiny-llm", Priority::Normal, 2000, 60, 24);
    }
    let reqs = g.out;
    let spec = presets::tiny();
    let fifo = run(&reqs, &spec, "fifo");
    let cost = run(&reqs, &spec, "cost_optimized");
    let per_req = |o: &SimOutput| o.metrics.cost_per_request_usd.unwrap();
    eprintln!(
        "cost per request fifo {:.3e} $, cost_optimized {:.3e} $; SLO fifo {:.3} cost {:.3}",
        per_req(&fifo),
        per_req(&cost),
        slo_share(fifo.records.iter()),
        slo_share(cost.records.iter())
    );
    assert!(per_req(&cost) < per_req(&fifo) * 0.8);
    // Packing must not cost the deadlines.
    assert_eq!(slo_share(cost.records.iter()), 1.0);
}

/// LLM traffic plus embeddings at more than the embedding server can batch.
fn mixed(seed: u64) -> Vec<RequestSpec> {
    let mut g = Gen::new(seed);
    for i in 0..1500 {
        if i % 5 == 0 {
            g.llm(900.0, "tiny-llm", Priority::Normal, 2000, 60, 16);
        } else {
            g.emb(900.0, "tiny-embed", 100, 1, 200);
        }
    }
    g.out
}

fn embeddings(o: &SimOutput) -> impl Iterator<Item = &RequestRecord> {
    o.records
        .iter()
        .filter(|r| r.kind == RequestKind::Embedding)
}

#[test]
fn hybrid_gives_embeddings_more_capacity_under_mixed_load() {
    let reqs = mixed(4);
    let spec = presets::tiny();
    let fifo = run(&reqs, &spec, "fifo");
    let hybrid = run(&reqs, &spec, "hybrid");
    let p50 = |o: &SimOutput| percentile(embeddings(o).map(RequestRecord::e2e_ms).collect(), 50.0);
    let p99 = |o: &SimOutput| percentile(embeddings(o).map(RequestRecord::e2e_ms).collect(), 99.0);
    let last_end = |o: &SimOutput| embeddings(o).map(|r| r.end_us).max().unwrap();
    eprintln!(
        "embedding e2e p50 fifo {:.1} ms hybrid {:.1} ms; p99 fifo {:.1} hybrid {:.1}; done at fifo {} hybrid {}; co-located batches {}",
        p50(&fifo),
        p50(&hybrid),
        p99(&fifo),
        p99(&hybrid),
        last_end(&fifo),
        last_end(&hybrid),
        hybrid.metrics.colocated_embedding_batches
    );
    assert!(hybrid.metrics.colocated_embedding_batches > 0);
    assert_eq!(fifo.metrics.colocated_embedding_batches, 0);
    assert!(p50(&hybrid) * 2.0 < p50(&fifo));
    assert!(p99(&hybrid) < p99(&fifo));
    // Throughput: the same embeddings are done sooner.
    assert!(last_end(&hybrid) < last_end(&fifo));
}

#[test]
fn hybrid_slo_meets_more_embedding_deadlines_under_mixed_load() {
    let reqs = mixed(5);
    let spec = presets::tiny();
    let fifo = slo_share(embeddings(&run(&reqs, &spec, "fifo")));
    let out = run(&reqs, &spec, "hybrid_slo");
    let slo = slo_share(embeddings(&out));
    let llm_slo = slo_share(out.records.iter().filter(|r| r.kind.is_llm()));
    eprintln!("embedding SLO compliance fifo {fifo:.3}, hybrid_slo {slo:.3}; LLM {llm_slo:.3}");
    assert!(slo > fifo + 0.2);
    assert!(llm_slo > 0.95);
}

/// Four models on two instances: two served by default, two only loadable by the pool.
fn four_models_two_gpus() -> ClusterSpec {
    let mut spec = presets::tiny();
    spec.llm_instances[1].model = "tiny-llm-2".into();
    spec.pool_models = ["tiny-llm-3", "tiny-llm-4"]
        .into_iter()
        .map(|name| PoolModelSpec {
            name: name.into(),
            step: StepCost {
                base_ms: 4.0,
                prefill_ms_per_token: 0.01,
                decode_ms_per_seq: 0.1,
                kv_read_ms_per_1k_tokens: 0.0,
            },
        })
        .collect();
    spec.scheduler.tbt_target_ms = 50.0;
    spec
}

#[test]
fn aegaeon_serves_more_models_than_gpus_within_the_tbt_target() {
    let spec = four_models_two_gpus();
    let models = ["tiny-llm", "tiny-llm-2", "tiny-llm-3", "tiny-llm-4"];
    let mut g = Gen::new(6);
    for i in 0..400 {
        g.llm(20.0, models[i % 4], Priority::Normal, 5000, 40, 32);
    }
    let reqs = g.out;
    let fifo = run(&reqs, &spec, "fifo");
    let aeg = run(&reqs, &spec, "aegaeon");
    let target = spec.scheduler.tbt_target_ms;
    let within = |o: &SimOutput| {
        let ok = o
            .records
            .iter()
            .filter(|r| r.tpot_ms().is_some_and(|t| t <= target))
            .count();
        ok as f64 / o.records.len() as f64
    };
    eprintln!(
        "served fifo {:.3} aegaeon {:.3}; TBT within {target} ms: fifo {:.3} aegaeon {:.3}; switches {}; TTFT p50 {:.1} ms",
        success_share(&fifo),
        success_share(&aeg),
        within(&fifo),
        within(&aeg),
        aeg.metrics.model_switches,
        percentile(ttfts(aeg.records.iter()), 50.0)
    );
    // fifo cannot serve the two pool models at all.
    assert!(success_share(&fifo) < 0.55);
    assert!(
        fifo.records
            .iter()
            .filter(|r| !r.outcome.is_success())
            .all(|r| r.outcome.error_key().as_deref() == Some("http_503"))
    );
    assert_eq!(success_share(&aeg), 1.0);
    assert!(within(&aeg) >= 0.95);
    let ttft_p50 = percentile(ttfts(aeg.records.iter()), 50.0);
    assert!(ttft_p50 < 200.0, "TTFT p50 {ttft_p50} ms");
    assert!(aeg.metrics.model_switches > 0);
}

#[test]
fn adaptive_switches_with_load_and_beats_fifo() {
    let mut g = Gen::new(8);
    // Calm, then a burst at twice the capacity, then calm again.
    for i in 0..100 {
        let (p, d) = class_of(i);
        g.llm(20.0, "tiny-llm", p, d, 60, 24);
    }
    for i in 0..400 {
        let (p, d) = class_of(i);
        g.llm(160.0, "tiny-llm", p, d, 60, 24);
    }
    g.idle(2000.0);
    for i in 0..100 {
        let (p, d) = class_of(i);
        g.llm(20.0, "tiny-llm", p, d, 60, 24);
    }
    let reqs = g.out;
    let spec = one_instance();
    let fifo = run(&reqs, &spec, "fifo");
    let ada = run(&reqs, &spec, "adaptive");
    let high_p99 = |o: &SimOutput| {
        percentile(
            ttfts(o.records.iter().filter(|r| r.priority == Priority::High)),
            99.0,
        )
    };
    eprintln!(
        "switches {}; final mode {:?}; SLO fifo {:.3} adaptive {:.3}; HIGH p99 TTFT fifo {:.1} adaptive {:.1}",
        ada.metrics.policy_switches,
        ada.metrics.adaptive_mode,
        slo_share(fifo.records.iter()),
        slo_share(ada.records.iter()),
        high_p99(&fifo),
        high_p99(&ada)
    );
    assert!(
        ada.metrics.policy_switches >= 2,
        "up under load, down after"
    );
    assert_eq!(ada.metrics.adaptive_mode.as_deref(), Some("fifo"));
    assert!(slo_share(ada.records.iter()) > slo_share(fifo.records.iter()) + 0.05);
}

#[test]
fn simulation_is_deterministic_for_every_policy() {
    let reqs = mixed(9);
    let spec = four_models_two_gpus();
    for policy in cpbench_core::cluster::POLICY_NAMES {
        let a = run(&reqs, &spec, policy);
        let b = run(&reqs, &spec, policy);
        assert_eq!(
            serde_json::to_string(&a.records).unwrap(),
            serde_json::to_string(&b.records).unwrap(),
            "{policy}"
        );
        assert_eq!(a.records.len(), reqs.len());
        for (r, s) in a.records.iter().zip(&reqs) {
            assert_eq!(r.id, s.id);
        }
    }
}

#[test]
fn records_measure_what_the_runner_would() {
    let mut g = Gen::new(10);
    g.llm(10.0, "tiny-llm", Priority::High, 1000, 100, 4);
    g.emb(10.0, "tiny-embed", 100, 3, 30);
    let mut bad = g.out.clone();
    bad[0].model = model("nope");
    let out = run(&g.out, &presets::tiny(), "fifo");
    let r = &out.records[0];
    assert_eq!(r.sent_us, r.intended_us);
    assert_eq!(r.output_tokens, 4);
    assert_eq!(r.chunks, 4);
    assert_eq!(r.itl_us.len(), 3);
    assert_eq!(r.input_tokens, Some(100));
    assert_eq!(r.queue_time_ms, Some(0.0));
    assert_eq!(r.backend_instance.as_deref(), Some("llm-0"));
    // 4 + 1 ms prefill, then 4.1 ms decode steps.
    assert_eq!(r.ttft_ms(), Some(5.0));
    assert_eq!(r.itl_us, vec![4_100, 4_100, 4_100]);
    let e = &out.records[1];
    assert_eq!(e.first_token_us, Some(e.end_us));
    assert_eq!(e.output_tokens, 0);
    assert_eq!(e.backend_instance.as_deref(), Some("emb-0"));
    let out = run(&bad, &presets::tiny(), "fifo");
    assert_eq!(
        out.records[0].outcome.error_key().as_deref(),
        Some("http_404")
    );
    assert_eq!(out.records[0].first_token_us, None);
}

// ---- cache_aware ------------------------------------------------------------------------

/// Four Llama-2-13B instances on A100-80GB (the `default` preset's, 57,900 tokens of KV cache
/// each).
fn four_llama_instances() -> ClusterSpec {
    let mut spec = presets::default_cluster();
    let llama = spec.llm_instances[1].clone();
    spec.llm_instances = (0..4)
        .map(|n| {
            let mut i = llama.clone();
            i.id = format!("llm-{n}");
            i
        })
        .collect();
    spec
}

const LLAMA: &str = "meta-llama/Llama-2-13b-chat-hf";

/// `n` chat requests at `rate`: with `groups > 0`, each starts with one of `groups` system
/// prompts of `system_tokens` tokens, picked with Zipf (s = 1) popularity, then a unique
/// question of 32 to 288 tokens; with `groups == 0`, unique prompts of the same total length.
fn prefix_workload(seed: u64, n: usize, rate: f64, groups: u64, system_tokens: u32) -> Workload {
    let mut g = Gen::new(seed);
    let systems: Vec<String> = (0..groups)
        .map(|k| synthetic_text(1000 + k, system_tokens))
        .collect();
    let weights: Vec<f64> = (1..=groups).map(|k| 1.0 / k as f64).collect();
    let total: f64 = weights.iter().sum();
    for i in 0..n {
        let question = 32 + (g.rng.next_u64() % 257) as u32;
        let unique = synthetic_text(seed * 1_000_000 + i as u64, question);
        let prompt = if groups == 0 {
            format!(
                "{}{unique}",
                synthetic_text(seed * 1_000_000 + 500_000 + i as u64, system_tokens)
            )
        } else {
            let mut u = g.uniform() * total;
            let mut k = 0;
            while k + 1 < weights.len() && u >= weights[k] {
                u -= weights[k];
                k += 1;
            }
            format!("{}{unique}", systems[k])
        };
        g.llm_text(rate, LLAMA, prompt, 64);
    }
    g.workload()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn throughput(o: &SimOutput) -> f64 {
    let end = o.records.iter().map(|r| r.end_us).max().unwrap();
    let start = o.records.iter().map(|r| r.intended_us).min().unwrap();
    o.records.len() as f64 / ((end - start) as f64 / 1e6)
}

fn ttft_summary(o: &SimOutput) -> (f64, f64, f64) {
    let t = ttfts(o.records.iter());
    (mean(&t), percentile(t.clone(), 50.0), percentile(t, 99.0))
}

fn hit_rate(o: &SimOutput) -> f64 {
    o.metrics.prefix_cache.hit_rate.unwrap()
}

/// 32 tenants' 2,048-token system prompts (65k tokens of shared prefixes, more than one
/// instance's 57,900-token KV cache holds) at 16 req/s, more than the four instances could
/// serve if every prompt were prefilled in full (about 10 req/s): `fifo` spreads every prefix
/// over every instance, where they evict each other; `cache_aware` keeps each on the
/// instances that have it.
#[test]
fn cache_aware_hits_more_and_answers_sooner_with_shared_prefixes() {
    let spec = four_llama_instances();
    let w = prefix_workload(11, 800, 16.0, 32, 2048);
    let fifo = run_workload(&w, &spec, "fifo");
    let ca = run_workload(&w, &spec, "cache_aware");
    let (f, c) = (ttft_summary(&fifo), ttft_summary(&ca));
    eprintln!(
        "hit rate fifo {:.3} cache_aware {:.3}; TTFT mean/p50/p99 fifo {:.0}/{:.0}/{:.0} ms, cache_aware {:.0}/{:.0}/{:.0} ms; evicted blocks fifo {} cache_aware {}; throughput fifo {:.2} cache_aware {:.2} req/s",
        hit_rate(&fifo),
        hit_rate(&ca),
        f.0,
        f.1,
        f.2,
        c.0,
        c.1,
        c.2,
        fifo.metrics.prefix_cache.evicted_blocks,
        ca.metrics.prefix_cache.evicted_blocks,
        throughput(&fifo),
        throughput(&ca)
    );
    assert_eq!(success_share(&fifo), 1.0);
    assert_eq!(success_share(&ca), 1.0);
    assert!(hit_rate(&ca) > hit_rate(&fifo) + 0.08);
    assert!(c.0 < f.0 * 0.7, "mean TTFT");
    assert!(c.1 < f.1, "median TTFT");
    assert!(c.2 < f.2, "p99 TTFT");
    assert!(ca.metrics.prefix_cache.evicted_blocks * 10 < fifo.metrics.prefix_cache.evicted_blocks);
    assert!(throughput(&ca) > throughput(&fifo) * 0.98);
    // Every instance got work: the balance threshold spreads the popular prefixes.
    for i in &ca.metrics.instances[..4] {
        assert!(i.completed > 80, "{} completed {}", i.id, i.completed);
    }
}

/// Unique prompts of about 1,200 tokens at 8 req/s (about 60% of the instances' capacity):
/// nothing to hit, so `cache_aware` routes as `fifo` (least-loaded) and loses nothing.
#[test]
fn cache_aware_costs_nothing_without_shared_prefixes() {
    let spec = four_llama_instances();
    let w = prefix_workload(12, 600, 8.0, 0, 1024);
    let fifo = run_workload(&w, &spec, "fifo");
    let ca = run_workload(&w, &spec, "cache_aware");
    let (f, c) = (ttft_summary(&fifo), ttft_summary(&ca));
    eprintln!(
        "hit rate fifo {:.3} cache_aware {:.3}; TTFT mean/p99 fifo {:.0}/{:.0} ms, cache_aware {:.0}/{:.0} ms; throughput fifo {:.2} cache_aware {:.2} req/s",
        hit_rate(&fifo),
        hit_rate(&ca),
        f.0,
        f.2,
        c.0,
        c.2,
        throughput(&fifo),
        throughput(&ca)
    );
    assert_eq!(success_share(&ca), 1.0);
    assert!(hit_rate(&ca) < 0.01 && hit_rate(&fifo) < 0.01);
    assert!(c.0 <= f.0 * 1.03 && c.2 <= f.2 * 1.03, "TTFT within 3%");
    assert!(
        throughput(&ca) >= throughput(&fifo) * 0.98,
        "throughput within 2%"
    );
}
