//! The prefix caches and `cache_aware` at the cluster level; and that without shared prefixes
//! (and without preemptions) every policy behaves exactly as it did before there were prefix
//! caches.

use super::*;
use crate::text::{estimate_tokens, mix64, synthetic_text};

/// An LLM request whose prompt is `text` (tokens and blocks from the text).
fn llm_text(key: u64, text: &str, max_tokens: u32) -> ClusterRequest {
    ClusterRequest {
        prefix_blocks: prefix::block_hashes(text),
        ..llm(key, estimate_tokens(text), max_tokens)
    }
}

fn instance_of(events: &[ClusterEvent], key: u64) -> String {
    events
        .iter()
        .find_map(|e| match e {
            ClusterEvent::Dispatched {
                key: k, instance, ..
            } if *k == key => Some(instance.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn prefix_hits_are_counted_and_reset_clears_them() {
    let system = "s".repeat(64 * 10);
    let mut c = Cluster::new(&tiny(), "fifo", 1).unwrap();
    c.on_arrival(0, llm_text(1, &format!("{system} first question"), 2));
    drain(&mut c);
    c.on_arrival(
        100_000,
        llm_text(2, &format!("{system} second question"), 2),
    );
    drain(&mut c);
    let m = c.metrics(200_000);
    // Both went to llm-0 (idle, lower index); the second hit the 10 system blocks.
    let p = m.instances[0].prefix_cache.clone().unwrap();
    assert_eq!((p.hit_blocks, p.miss_blocks, p.hit_tokens), (10, 10, 160));
    assert_eq!(p.queried_tokens, 2 * 164);
    assert_eq!(p.miss_tokens, p.queried_tokens - p.hit_tokens);
    assert_eq!(p.cached_blocks, 10);
    assert_eq!(m.prefix_cache.hit_blocks, 10);
    assert_eq!(m.prefix_cache.hit_rate, Some(160.0 / 328.0));
    // What `/admin/reset` does: counters and cached blocks are gone.
    c.reset_counters();
    c.clear_prefix_caches();
    let m = c.metrics(200_000);
    assert_eq!(m.prefix_cache, PrefixCacheMetrics::default());
    c.on_arrival(300_000, llm_text(3, &format!("{system} third"), 2));
    drain(&mut c);
    let p = c.metrics(400_000).prefix_cache;
    assert_eq!((p.hit_blocks, p.miss_blocks), (0, 10));
}

#[test]
fn cache_aware_follows_the_prefix_within_the_balance_threshold() {
    // tiny: max_num_seqs 8, so one sequence of imbalance is allowed.
    let a = "a".repeat(64 * 8);
    let b = "b".repeat(64 * 8);
    let route = |policy: &str| {
        let mut c = Cluster::new(&tiny(), policy, 1).unwrap();
        // 1 (prefix A) goes to llm-0 (no hits anywhere: least-loaded, lower index); 2 (A)
        // follows A to llm-0, one sequence more than llm-1; 3 (A) would be two more: it goes
        // to the least-loaded llm-1; 4 (B, no hits) to the least-loaded llm-1; 5 (A) finds A
        // on both, equally loaded: llm-0.
        for (key, p) in [(1, &a), (2, &a), (3, &a), (4, &b), (5, &a)] {
            c.on_arrival(0, llm_text(key, &format!("{p} question {key}"), 50));
        }
        let ev: Vec<ClusterEvent> = std::iter::from_fn(|| c.poll_event()).collect();
        (1..=5).map(|k| instance_of(&ev, k)).collect::<Vec<_>>()
    };
    assert_eq!(
        route("cache_aware"),
        ["llm-0", "llm-0", "llm-1", "llm-1", "llm-0"]
    );
    assert_eq!(route("fifo"), ["llm-0", "llm-1", "llm-0", "llm-1", "llm-0"]);
}

/// A busy mixed workload whose prompts share nothing: LLM requests with unique texts of 50
/// to 650 tokens, embeddings, all three priorities, arrivals every 0 to 10 ms.
fn unshared_workload() -> Vec<(u64, ClusterRequest)> {
    let mut at = 0;
    (0..160u64)
        .map(|key| {
            let r = mix64(key + 1);
            at += r % 10_000;
            let priority =
                [Priority::High, Priority::Normal, Priority::Low][(r >> 20) as usize % 3];
            let req = if (r >> 8).is_multiple_of(5) {
                emb(key, 1 + (r >> 12) as u32 % 4, 64)
            } else {
                let text = synthetic_text(1_000 + key, 50 + (r >> 24) as u32 % 600);
                llm_text(key, &text, 5 + (r >> 40) as u32 % 60)
            };
            (at, ClusterRequest { priority, ..req })
        })
        .collect()
}

/// Runs `reqs` (arrival time, request) under `policy`; all events, and the metrics at the end.
fn run_arrivals(
    spec: &ClusterSpec,
    policy: &str,
    reqs: &[(u64, ClusterRequest)],
) -> (Vec<ClusterEvent>, ClusterMetrics) {
    let mut c = Cluster::new(spec, policy, 7).unwrap();
    let mut events = Vec::new();
    for (at, r) in reqs {
        while let Some(t) = c.poll_timeout().filter(|&t| t <= *at) {
            c.handle_timeout(t);
            events.extend(std::iter::from_fn(|| c.poll_event()));
        }
        c.on_arrival(*at, r.clone());
        events.extend(std::iter::from_fn(|| c.poll_event()));
    }
    events.extend(drain(&mut c));
    let end = events
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Finished { at_us, .. } => Some(*at_us),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    (events, c.metrics(end))
}

fn spec_with_kv(kv_cache_tokens: u32) -> ClusterSpec {
    let mut spec = tiny();
    for i in &mut spec.llm_instances {
        i.kv_cache_tokens = kv_cache_tokens;
    }
    spec
}

fn without_blocks(reqs: &[(u64, ClusterRequest)]) -> Vec<(u64, ClusterRequest)> {
    reqs.iter()
        .map(|(at, r)| {
            let plain = ClusterRequest {
                prefix_blocks: Vec::new(),
                ..r.clone()
            };
            (*at, plain)
        })
        .collect()
}

fn output_tokens(events: &[ClusterEvent]) -> BTreeMap<u64, u32> {
    events
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Finished {
                key, output_tokens, ..
            } => Some((*key, *output_tokens)),
            _ => None,
        })
        .collect()
}

#[test]
fn without_shared_prefixes_every_policy_behaves_as_without_a_cache() {
    // 6,144 tokens of KV cache per instance: free cached blocks are evicted all the time, and
    // no sequence is preempted. Every event is the same as without block hashes (which is the
    // cluster as it was before it had prefix caches).
    let spec = spec_with_kv(6_144);
    let reqs = unshared_workload();
    let plain_reqs = without_blocks(&reqs);
    assert!(reqs.iter().any(|(_, r)| r.prefix_blocks.len() > 20));
    for policy in POLICY_NAMES {
        let (cached, m) = run_arrivals(&spec, policy, &reqs);
        let (plain, _) = run_arrivals(&spec, policy, &plain_reqs);
        assert_eq!(m.prefix_cache.hit_tokens, 0, "{policy}");
        assert!(m.prefix_cache.evicted_blocks > 0, "{policy}");
        assert_eq!(m.preemptions, 0, "{policy}");
        assert!(
            cached == plain,
            "{policy}: a cache that never hits changes nothing"
        );
        assert_eq!(output_tokens(&cached).len(), reqs.len(), "{policy}");
    }
    // With nothing to hit, `cache_aware` routes as `fifo`.
    assert!(run_arrivals(&spec, "cache_aware", &reqs).0 == run_arrivals(&spec, "fifo", &reqs).0);
}

#[test]
fn a_preempted_sequence_reuses_its_own_cached_blocks() {
    // 2,048 tokens of KV cache: sequences are preempted. As in vLLM, a preempted sequence's
    // blocks stay cached (free) and it hits what is left of them when it is admitted again,
    // recomputing less than without a cache; so here, and only here, timings differ from a
    // cluster without block hashes, though no two prompts share a block. Each request still
    // gets all its tokens once, and such re-admissions are not counted as hits.
    let spec = spec_with_kv(2_048);
    let reqs = unshared_workload();
    let plain_reqs = without_blocks(&reqs);
    for policy in POLICY_NAMES {
        let (cached, m) = run_arrivals(&spec, policy, &reqs);
        let (plain, _) = run_arrivals(&spec, policy, &plain_reqs);
        assert!(m.preemptions > 0, "{policy}");
        assert_eq!(m.prefix_cache.hit_tokens, 0, "{policy}");
        assert_eq!(output_tokens(&cached), output_tokens(&plain), "{policy}");
        for (key, n) in output_tokens(&cached) {
            let tokens = cached
                .iter()
                .filter(|e| matches!(e, ClusterEvent::Tokens { key: k, .. } if *k == key))
                .count() as u32;
            assert_eq!(tokens, n, "{policy}: tokens of {key}");
        }
    }
}
