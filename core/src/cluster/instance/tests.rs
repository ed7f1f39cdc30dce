use super::*;
use crate::cluster::presets;

fn instance(kv: u32, seqs: u32, budget: u32) -> LlmInstance {
    let mut spec = presets::tiny().llm_instances[0].clone();
    spec.kv_cache_tokens = kv;
    spec.max_num_seqs = seqs;
    spec.max_num_batched_tokens = budget;
    let step = spec.step;
    LlmInstance::new(
        &spec,
        ModelIdx(0),
        IdxVec::from(vec![Some(step)]),
        100.0,
        0.0,
        1,
    )
}

/// Runs the instance alone until it is idle; returns (key, token times) in event order.
fn run(inst: &mut LlmInstance) -> Vec<ClusterEvent> {
    let mut out = Outputs::default();
    let mut now = 0;
    inst.kick(now);
    while let Some(t) = inst.next_event_us() {
        now = t;
        inst.complete(now, &mut out);
        inst.kick(now);
    }
    out.events.into_iter().collect()
}

#[test]
fn step_time_follows_the_formula() {
    // tiny: 4 ms + 0.01 ms per prefill token + 0.1 ms per decoding sequence.
    let mut inst = instance(16_384, 8, 256);
    inst.push(Seq::new(1, ModelIdx(0), 100, 3));
    let ev = run(&mut inst);
    let times: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Tokens { at_us, .. } => Some(*at_us),
            _ => None,
        })
        .collect();
    // Prefill 100 tokens: 4 + 1.0 = 5 ms; then two decode steps of 4.1 ms.
    assert_eq!(times, vec![5_000, 9_100, 13_200]);
    assert!(matches!(
        ev.last(),
        Some(ClusterEvent::Finished {
            key: 1,
            output_tokens: 3,
            prompt_tokens: 100,
            at_us: 13_200
        })
    ));
    assert_eq!(inst.kv_used, 0);
    assert!(inst.is_idle());
}

#[test]
fn chunked_prefill_splits_long_prompts() {
    let mut inst = instance(16_384, 8, 64);
    inst.push(Seq::new(1, ModelIdx(0), 200, 1));
    let ev = run(&mut inst);
    // 64 + 64 + 64 + 8 tokens: 4 steps; first token at the end of the 4th.
    let expected = 3 * (4_000 + 640) + (4_000 + 80);
    assert!(matches!(ev[0], ClusterEvent::Tokens { at_us, .. } if at_us == expected));
    assert_eq!(inst.stats.steps, 4);
}

#[test]
fn kv_exhaustion_preempts_the_newest_and_everyone_finishes() {
    // 3 sequences of 40 + 40 tokens with room for only 150 tokens of KV.
    let mut inst = instance(150, 8, 256);
    for k in 0..3 {
        inst.push(Seq::new(k, ModelIdx(0), 40, 40));
    }
    let ev = run(&mut inst);
    let finished: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Finished {
                key, output_tokens, ..
            } => {
                assert_eq!(*output_tokens, 40);
                Some(*key)
            }
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 3);
    assert!(inst.stats.preemptions > 0);
    for k in 0..3 {
        let n = ev
            .iter()
            .filter(|e| matches!(e, ClusterEvent::Tokens { key, .. } if *key == k))
            .count();
        assert_eq!(n, 40, "a preempted sequence must not emit tokens twice");
    }
    assert_eq!(inst.kv_used, 0);
}

#[test]
fn max_num_seqs_caps_the_batch() {
    let mut inst = instance(16_384, 2, 256);
    for k in 0..3 {
        inst.push(Seq::new(k, ModelIdx(0), 10, 2));
    }
    let ev = run(&mut inst);
    // The third sequence's first token comes only after one of the first two finished.
    let first_of = |key: u64| {
        ev.iter()
            .find_map(|e| match e {
                ClusterEvent::Tokens { key: k, at_us, .. } if *k == key => Some(*at_us),
                _ => None,
            })
            .unwrap()
    };
    let done_0 = ev
        .iter()
        .find_map(|e| match e {
            ClusterEvent::Finished { key: 0, at_us, .. } => Some(*at_us),
            _ => None,
        })
        .unwrap();
    assert!(first_of(2) > done_0);
    assert_eq!(first_of(0), first_of(1));
}

// ---- the prefix cache ---------------------------------------------------------------------

/// A sequence whose prompt's full blocks are named `base + 0`, `base + 1`, ...
fn with_blocks(key: u64, prompt: u32, max_tokens: u32, base: u64) -> Seq {
    let blocks: Vec<u64> = (0..u64::from(prompt / 16)).map(|b| base + b).collect();
    Seq::new(key, ModelIdx(0), prompt, max_tokens).with_prefix(&blocks)
}

fn first_token_us(ev: &[ClusterEvent], key: u64) -> u64 {
    ev.iter()
        .find_map(|e| match e {
            ClusterEvent::Tokens { key: k, at_us, .. } if *k == key => Some(*at_us),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_hit_skips_the_prefill_of_the_cached_blocks() {
    let mut inst = instance(16_384, 8, 256);
    inst.push(with_blocks(1, 100, 1, 0));
    let ev = run(&mut inst);
    // 4 ms + 100 * 0.01 ms.
    assert_eq!(first_token_us(&ev, 1), 5_000);
    assert_eq!(inst.cached_blocks(), 6, "100 tokens: 6 full blocks cached");
    assert_eq!(inst.kv_used, 0, "finished: nothing pinned");
    // The same 6 blocks and a different tail: only 100 - 96 = 4 tokens are prefilled.
    inst.push(with_blocks(2, 100, 1, 0));
    let ev = run(&mut inst);
    assert_eq!(first_token_us(&ev, 2), 4_040);
    let st = inst.prefix_stats();
    assert_eq!(
        (
            st.queried_tokens,
            st.hit_tokens,
            st.hit_blocks,
            st.miss_blocks
        ),
        (200, 96, 6, 6)
    );
    // A prompt that is all cached blocks still computes its last block (vLLM caps a hit at
    // prompt - 1 tokens).
    inst.push(with_blocks(3, 96, 1, 0));
    let ev = run(&mut inst);
    assert_eq!(first_token_us(&ev, 3), 4_160);
    assert_eq!(inst.prefix_stats().hit_blocks, 11);
    // Another model's blocks with the same hashes are not hits.
    let other = Seq::new(4, ModelIdx(0), 100, 1).with_prefix(&[0, 1, 2, 3, 4, 5]);
    assert_eq!(other.prefix, with_blocks(4, 100, 1, 0).prefix);
    let elsewhere = Seq::new(4, ModelIdx(1), 100, 1).with_prefix(&[0, 1, 2, 3, 4, 5]);
    assert!(
        elsewhere
            .prefix
            .iter()
            .zip(&other.prefix)
            .all(|(a, b)| a != b)
    );
}

#[test]
fn running_sequences_share_pinned_blocks() {
    let mut inst = instance(16_384, 8, 256);
    let mut out = Outputs::default();
    inst.push(with_blocks(1, 64, 50, 0));
    inst.kick(0);
    let t = inst.next_event_us().unwrap();
    inst.complete(t, &mut out);
    assert_eq!(inst.kv_used, 64);
    assert_eq!(inst.cached_blocks(), 4);
    // The 4 blocks of sequence 1, then one of its own: they are hit while 1 still runs, and
    // take no more KV (16 new tokens, plus 1 decoded for sequence 1).
    let mut second = with_blocks(2, 80, 50, 0);
    second.prefix[4] = 99;
    inst.push(second);
    inst.kick(t);
    assert_eq!(inst.kv_used, 64 + 1 + 16);
    assert_eq!(inst.prefix_stats().hit_blocks, 4);
    // A router sees the blocks as this instance's.
    assert_eq!(inst.cached_prefix_blocks(ModelIdx(0), &[0, 1, 2, 3, 7]), 4);
    run_from(&mut inst, t, &mut out);
    assert_eq!(inst.kv_used, 0);
    assert_eq!(inst.cached_blocks(), 5);
    assert_eq!(inst.cache.free_len(), 5, "all free once both finished");
    assert_eq!(inst.cached_prefix_blocks(ModelIdx(0), &[0, 1, 2, 3, 7]), 4);
    inst.clear_prefix_cache();
    assert_eq!(inst.cached_blocks(), 0);
    assert_eq!(inst.cached_prefix_blocks(ModelIdx(0), &[0, 1, 2, 3]), 0);
}

/// Continues a run from `now` until idle.
fn run_from(inst: &mut LlmInstance, mut now: u64, out: &mut Outputs) {
    inst.kick(now);
    while let Some(t) = inst.next_event_us() {
        now = t;
        inst.complete(now, out);
        inst.kick(now);
    }
}

#[test]
fn free_blocks_are_evicted_least_recently_freed_first_under_the_kv_budget() {
    // Room for 10 blocks.
    let mut inst = instance(160, 8, 256);
    inst.push(with_blocks(1, 96, 1, 100)); // blocks 100..=105
    run(&mut inst);
    assert_eq!(inst.cached_blocks(), 6);
    // 96 tokens of a new prompt need 6 blocks' room: 2 free ones go, the tail of the first
    // prompt (it was freed first).
    inst.push(with_blocks(2, 96, 1, 200)); // blocks 200..=205
    run(&mut inst);
    assert_eq!(inst.prefix_stats().evicted_blocks, 2);
    assert_eq!(inst.cached_blocks(), 10);
    let first: Vec<u64> = (100..106).collect();
    assert_eq!(inst.cached_prefix_blocks(ModelIdx(0), &first), 4);
    // The first prompt again: its 4 cached blocks are hit (and pinned), the rest prefilled;
    // 3 more blocks are evicted, now the second prompt's tail.
    inst.push(with_blocks(3, 100, 1, 100));
    let ev = run(&mut inst);
    assert_eq!(first_token_us(&ev, 3), 4_000 + 360);
    assert_eq!(inst.prefix_stats().hit_blocks, 4);
    assert_eq!(inst.prefix_stats().evicted_blocks, 5);
    let second: Vec<u64> = (200..206).collect();
    assert_eq!(inst.cached_prefix_blocks(ModelIdx(0), &second), 3);
    assert!(inst.kv_used + 16 * inst.cache.free_len() as u64 <= inst.kv_cap);
}

#[test]
fn preempted_sequences_with_shared_blocks_all_finish_once() {
    // 4 sequences sharing a 48-token prefix with room for far less than all of them.
    let mut inst = instance(200, 8, 256);
    for k in 0..4 {
        let mut s = with_blocks(k, 60, 40, 0);
        s.prefix.truncate(3);
        inst.push(s);
    }
    let ev = run(&mut inst);
    for k in 0..4 {
        let n = ev
            .iter()
            .filter(|e| matches!(e, ClusterEvent::Tokens { key, .. } if *key == k))
            .count();
        assert_eq!(n, 40);
    }
    assert!(inst.stats.preemptions > 0);
    assert!(inst.prefix_stats().hit_blocks > 0);
    assert_eq!(inst.kv_used, 0);
    assert!(inst.is_idle());
}
