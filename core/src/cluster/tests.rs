use super::*;

mod prefix_cache;

fn tiny() -> ClusterSpec {
    presets::tiny()
}

fn llm(key: u64, prompt: u32, max_tokens: u32) -> ClusterRequest {
    ClusterRequest {
        key,
        kind: RequestKind::LlmChat,
        model: "tiny-llm".into(),
        priority: Priority::Normal,
        deadline_ms: 10_000,
        ttft_deadline_ms: None,
        prompt_tokens: prompt,
        max_tokens,
        num_inputs: 0,
        prefix_blocks: Vec::new(),
    }
}

fn emb(key: u64, inputs: u32, tokens: u32) -> ClusterRequest {
    ClusterRequest {
        key,
        kind: RequestKind::Embedding,
        model: "tiny-embed".into(),
        priority: Priority::Normal,
        deadline_ms: 1_000,
        ttft_deadline_ms: None,
        prompt_tokens: tokens,
        max_tokens: 0,
        num_inputs: inputs,
        prefix_blocks: Vec::new(),
    }
}

/// Drives the cluster on time until idle, collecting events.
fn drain(c: &mut Cluster) -> Vec<ClusterEvent> {
    let mut out = Vec::new();
    loop {
        while let Some(e) = c.poll_event() {
            out.push(e);
        }
        match c.poll_timeout() {
            Some(t) => c.handle_timeout(t),
            None => break,
        }
    }
    while let Some(e) = c.poll_event() {
        out.push(e);
    }
    out
}

fn rejected_status(events: &[ClusterEvent], key: u64) -> Option<u16> {
    events.iter().find_map(|e| match e {
        ClusterEvent::Rejected { key: k, status, .. } if *k == key => Some(*status),
        _ => None,
    })
}

#[test]
fn one_request_streams_its_tokens_and_finishes() {
    let mut c = Cluster::new(&tiny(), "fifo", 1).unwrap();
    c.on_arrival(1_000, llm(7, 100, 4));
    let ev = drain(&mut c);
    assert_eq!(
        ev[0],
        ClusterEvent::Dispatched {
            key: 7,
            instance: "llm-0".into(),
            queue_time_us: 0,
            at_us: 1_000
        }
    );
    let tokens: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Tokens {
                at_us, count: 1, ..
            } => Some(*at_us),
            _ => None,
        })
        .collect();
    // Prefill step 4 + 100 * 0.01 = 5 ms, then 4.1 ms decode steps.
    assert_eq!(tokens, vec![6_000, 10_100, 14_200, 18_300]);
    assert_eq!(
        ev.last(),
        Some(&ClusterEvent::Finished {
            key: 7,
            prompt_tokens: 100,
            output_tokens: 4,
            at_us: 18_300
        })
    );
    assert!(c.is_idle());
    assert_eq!(c.poll_timeout(), None);
    let m = c.metrics(20_000);
    assert_eq!(m.requests.received, 1);
    assert_eq!(m.requests.completed, 1);
    assert_eq!(m.instances[0].output_tokens, 4);
    assert!(m.cost_usd > 0.0);
}

#[test]
fn rejections_carry_the_right_status() {
    let mut spec = tiny();
    spec.scheduler.max_queue_llm = 1;
    let mut c = Cluster::new(&spec, "fifo", 1).unwrap();
    let mut unknown = llm(1, 10, 1);
    unknown.model = "nope".into();
    c.on_arrival(0, unknown);
    let mut wrong_kind = llm(2, 10, 1);
    wrong_kind.model = "tiny-embed".into();
    c.on_arrival(0, wrong_kind);
    let mut pool_only = llm(3, 10, 1);
    pool_only.model = "tiny-llm-b".into();
    c.on_arrival(0, pool_only);
    c.on_arrival(0, llm(4, 16_000, 1_000));
    let ev: Vec<ClusterEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(rejected_status(&ev, 1), Some(404));
    assert_eq!(rejected_status(&ev, 2), Some(400));
    assert_eq!(rejected_status(&ev, 3), Some(503));
    assert_eq!(rejected_status(&ev, 4), Some(400));
    // Queue full: at one instant each instance starts a step with one request and holds
    // two more (instance_backlog), a seventh waits in the control plane, the eighth is shed.
    for k in 10..18 {
        c.on_arrival(0, llm(k, 10, 50));
    }
    let ev: Vec<ClusterEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(rejected_status(&ev, 16), None);
    assert_eq!(rejected_status(&ev, 17), Some(429));
    // The same request under aegaeon is served by the pool.
    drain(&mut c);
    c.set_policy("aegaeon").unwrap();
    let mut pool_only = llm(100, 10, 1);
    pool_only.model = "tiny-llm-b".into();
    c.on_arrival(1, pool_only);
    let ev = drain(&mut c);
    assert_eq!(rejected_status(&ev, 100), None);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::Finished { key: 100, .. }))
    );
    let m = c.metrics(0);
    assert_eq!(m.requests.rejected, 5);
    assert_eq!(m.requests.received, 13);
    assert!(m.model_switches >= 1);
}

#[test]
fn cancel_frees_queue_and_instance() {
    let mut spec = tiny();
    spec.llm_instances.truncate(1);
    spec.llm_instances[0].max_num_seqs = 1;
    spec.scheduler.instance_backlog = 1;
    let mut c = Cluster::new(&spec, "fifo", 1).unwrap();
    c.on_arrival(0, llm(1, 10, 100)); // running
    c.on_arrival(0, llm(2, 10, 100)); // waiting at the instance
    c.on_arrival(0, llm(3, 10, 100)); // queued in the control plane
    assert_eq!(c.metrics(0).queues.llm, 1);
    c.cancel(1_000, 3);
    assert_eq!(c.metrics(1_000).queues.llm, 0);
    c.cancel(2_000, 1);
    let ev = drain(&mut c);
    assert!(
        !ev.iter()
            .any(|e| e.key() == 1 && matches!(e, ClusterEvent::Finished { .. }))
    );
    assert!(
        !ev.iter()
            .any(|e| e.key() == 3 && !matches!(e, ClusterEvent::Dispatched { .. }))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::Finished { key: 2, .. }))
    );
    let m = c.metrics(0);
    assert_eq!(m.requests.failed, 2);
    assert_eq!(m.requests.completed, 1);
    assert!(c.is_idle());
}

#[test]
fn a_late_driver_does_not_shift_the_timeline() {
    let run = |late_us: u64| {
        let mut c = Cluster::new(&tiny(), "slo_aware", 3).unwrap();
        let mut ev = Vec::new();
        let arrivals = [(0u64, 1u64), (0, 2), (0, 3), (200_000, 4)];
        let mut next = 0;
        loop {
            let arrival = arrivals.get(next).copied();
            match (arrival, c.poll_timeout()) {
                (Some((a, k)), t) if t.is_none_or(|t| a <= t + late_us) => {
                    c.on_arrival(a.max(c.now_us()), llm(k, 50, 5));
                    next += 1;
                }
                (_, Some(t)) => c.handle_timeout(t + late_us),
                (None, None) => break,
                (Some(_), None) => unreachable!(),
            }
            ev.extend(std::iter::from_fn(|| c.poll_event()));
        }
        ev
    };
    // Arrivals come when no timer is pending, so the timelines must agree exactly.
    assert_eq!(run(0), run(700));
}

#[test]
fn embeddings_batch_on_the_server() {
    let mut c = Cluster::new(&tiny(), "fifo", 1).unwrap();
    c.on_arrival(0, emb(1, 4, 40));
    c.on_arrival(0, emb(2, 4, 40));
    c.on_arrival(0, emb(3, 4, 40));
    let ev = drain(&mut c);
    let done: Vec<(u64, u64)> = ev
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::Finished {
                key,
                at_us,
                prompt_tokens,
                output_tokens: 0,
            } => {
                assert_eq!(*prompt_tokens, 40);
                Some((*key, *at_us))
            }
            _ => None,
        })
        .collect();
    // Request 1 alone (2 + 0.4 ms), then 2 and 3 together (2 + 0.8 ms).
    assert_eq!(done, vec![(1, 2_400), (2, 5_200), (3, 5_200)]);
    assert_eq!(c.metrics(0).embedding_batches, 2);
}

#[test]
fn set_policy_reports_the_previous_and_rejects_unknown_names() {
    let mut c = Cluster::new(&tiny(), "fifo", 1).unwrap();
    assert_eq!(c.set_policy("hybrid_slo").unwrap(), "fifo");
    assert_eq!(c.policy(), "hybrid_slo");
    let err = c.set_policy("round_robin").unwrap_err();
    let msg = err.to_string();
    for name in POLICY_NAMES {
        assert!(msg.contains(name), "{msg}");
    }
    assert_eq!(c.policy(), "hybrid_slo");
    assert!(Cluster::new(&tiny(), "nope", 1).is_err());
}

#[test]
fn metrics_have_the_contract_shape() {
    let c = Cluster::new(&presets::default_cluster(), "adaptive", 1).unwrap();
    let v = serde_json::to_value(c.metrics(12_500_000)).unwrap();
    assert_eq!(v["policy"], "adaptive");
    assert_eq!(v["uptime_s"], 12.5);
    for k in ["received", "completed", "failed", "rejected"] {
        assert_eq!(v["requests"][k], 0, "{k}");
    }
    assert_eq!(v["queues"]["llm"], 0);
    assert_eq!(v["queues"]["embedding"], 0);
    let inst = &v["instances"][0];
    assert_eq!(inst["id"], "llm-0");
    assert_eq!(inst["model"], "Qwen/Qwen2.5-7B-Instruct");
    assert_eq!(inst["kind"], "llm");
    for k in [
        "running",
        "waiting",
        "kv_cache_usage",
        "completed",
        "output_tokens",
    ] {
        assert!(inst.get(k).is_some(), "{k}");
    }
    assert_eq!(v["instances"][2]["kind"], "embedding");
    assert_eq!(v["adaptive_mode"], "fifo");
    for k in [
        "queried_tokens",
        "hit_tokens",
        "miss_tokens",
        "hit_blocks",
        "miss_blocks",
        "evicted_blocks",
        "cached_blocks",
    ] {
        assert_eq!(inst["prefix_cache"][k], 0, "{k}");
        assert_eq!(v["prefix_cache"][k], 0, "{k}");
    }
    assert!(inst["prefix_cache"]["hit_rate"].is_null());
    assert!(v["instances"][2].get("prefix_cache").is_none());
}

#[test]
fn presets_validate_and_round_trip_through_yaml() {
    for name in presets::PRESET_NAMES {
        let spec = ClusterSpec::preset(name).unwrap();
        spec.validate().unwrap();
        let back = ClusterSpec::from_yaml(&spec.to_yaml()).unwrap();
        assert_eq!(back, spec);
    }
    let err = ClusterSpec::preset("huge").unwrap_err().to_string();
    assert!(err.contains("default") && err.contains("tiny"), "{err}");
}

#[test]
fn the_yaml_example_in_the_spec_docs_parses() {
    let src = include_str!("spec.rs");
    let start = src.find("//! ```yaml\n").unwrap() + "//! ```yaml\n".len();
    let end = start + src[start..].find("//! ```").unwrap();
    let yaml: String = src[start..end]
        .lines()
        .map(|l| l.strip_prefix("//! ").unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let spec = ClusterSpec::from_yaml(&yaml).unwrap();
    assert_eq!(
        spec.llm_instances[0].step,
        presets::single().llm_instances[0].step
    );
    assert_eq!(
        spec.embedding_instances[0],
        presets::single().embedding_instances[0]
    );
    assert!(Cluster::new(&spec, "fifo", 0).is_ok());
}

#[test]
fn bad_specs_name_the_field() {
    let mut spec = tiny();
    spec.llm_instances[1].step.base_ms = -1.0;
    let err = spec.validate().unwrap_err().to_string();
    assert!(err.contains("llm_instances[1].step.base_ms"), "{err}");
    assert!(err.contains("-1"), "{err}");

    let mut spec = tiny();
    spec.embedding_instances[0].id = "llm-0".into();
    let err = spec.validate().unwrap_err().to_string();
    assert!(err.contains("embedding_instances[0].id"), "{err}");

    let err = ClusterSpec::from_yaml("name: x\nllm_instances: []\nbogus: 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn step_jitter_is_seeded() {
    let mut spec = tiny();
    spec.scheduler.step_jitter = 0.2;
    let run = |seed: u64| {
        let mut c = Cluster::new(&spec, "fifo", seed).unwrap();
        for k in 0..5 {
            c.on_arrival(k * 1_000, llm(k, 30, 10));
        }
        drain(&mut c)
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[cfg(not(target_arch = "wasm32"))]
mod chaos {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Arrive {
            gap_us: u32,
            emb: bool,
            pool: bool,
            prompt: u16,
            out: u8,
            class: u8,
        },
        Cancel {
            pick: u16,
        },
        Switch {
            policy: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (
                0u32..20_000,
                any::<bool>(),
                any::<bool>(),
                0u16..600,
                any::<u8>(),
                any::<u8>()
            )
                .prop_map(|(gap_us, emb, pool, prompt, out, class)| Op::Arrive {
                    gap_us,
                    emb,
                    pool,
                    prompt,
                    out,
                    class
                }),
            1 => any::<u16>().prop_map(|pick| Op::Cancel { pick }),
            1 => any::<u8>().prop_map(|policy| Op::Switch { policy }),
        ]
    }

    /// What the test saw of each request.
    #[derive(Default)]
    struct Seen {
        open: Vec<u64>,
        tokens: BTreeMap<u64, u32>,
        ended: BTreeMap<u64, &'static str>,
    }

    impl Seen {
        fn absorb(&mut self, c: &mut Cluster) {
            while let Some(ev) = c.poll_event() {
                let (key, how) = match ev {
                    ClusterEvent::Tokens { key, count, .. } => {
                        *self.tokens.entry(key).or_default() += count;
                        continue;
                    }
                    ClusterEvent::Dispatched { .. } => continue,
                    ClusterEvent::Finished { key, .. } => (key, "finished"),
                    ClusterEvent::Rejected { key, .. } => (key, "rejected"),
                };
                assert!(self.ended.insert(key, how).is_none(), "{key} ended twice");
                self.open.retain(|&k| k != key);
            }
        }

        fn count(&self, how: &str) -> u64 {
            self.ended.values().filter(|e| **e == how).count() as u64
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Arrivals, cancellations and policy switches in any order: every request ends
        /// exactly once (finished, rejected or cancelled), tokens never exceed max_tokens, the
        /// counters add up, and the cluster drains to idle.
        #[test]
        fn bookkeeping_survives_anything(ops in proptest::collection::vec(op(), 1..200)) {
            let mut spec = tiny();
            spec.scheduler.max_queue_llm = 20;
            spec.scheduler.max_queue_embedding = 20;
            let mut c = Cluster::new(&spec, "fifo", 3).unwrap();
            let mut now = 0u64;
            let mut next_key = 0u64;
            let mut max_tokens: BTreeMap<u64, u32> = BTreeMap::new();
            let mut cancelled = 0u64;
            let mut seen = Seen::default();
            for op in ops {
                match op {
                    Op::Arrive { gap_us, emb: is_emb, pool, prompt, out, class } => {
                        now += u64::from(gap_us);
                        while let Some(t) = c.poll_timeout().filter(|&t| t <= now) {
                            c.handle_timeout(t);
                            seen.absorb(&mut c);
                        }
                        let key = next_key;
                        next_key += 1;
                        let mut req = if is_emb {
                            emb(key, 1 + u32::from(out % 20), u32::from(prompt))
                        } else {
                            llm(key, u32::from(prompt), 1 + u32::from(out % 60))
                        };
                        if pool && !is_emb {
                            req.model = "tiny-llm-b".into();
                        }
                        req.priority = Priority::ALL[usize::from(class % 3)];
                        req.deadline_ms = u64::from(class);
                        max_tokens.insert(key, req.max_tokens);
                        seen.open.push(key);
                        c.on_arrival(now, req);
                    }
                    Op::Cancel { pick } => {
                        if !seen.open.is_empty() {
                            let key = seen.open.remove(usize::from(pick) % seen.open.len());
                            c.cancel(now, key);
                            seen.ended.insert(key, "cancelled");
                            cancelled += 1;
                        }
                    }
                    Op::Switch { policy } => {
                        c.set_policy(POLICY_NAMES[usize::from(policy) % POLICY_NAMES.len()]).unwrap();
                    }
                }
                seen.absorb(&mut c);
            }
            while let Some(t) = c.poll_timeout() {
                c.handle_timeout(t);
                seen.absorb(&mut c);
            }
            prop_assert!(c.is_idle());
            prop_assert!(seen.open.is_empty(), "never ended: {:?}", seen.open);
            prop_assert_eq!(seen.ended.len() as u64, next_key);
            for (key, n) in &seen.tokens {
                prop_assert!(*n <= max_tokens[key]);
                if seen.ended[key] == "finished" {
                    prop_assert_eq!(*n, max_tokens[key]);
                }
            }
            let m = c.metrics(now);
            prop_assert_eq!(m.requests.received, next_key);
            prop_assert_eq!(m.requests.completed, seen.count("finished"));
            prop_assert_eq!(m.requests.rejected, seen.count("rejected"));
            prop_assert!(m.requests.failed <= cancelled);
            prop_assert_eq!(m.queues.llm + m.queues.embedding, 0);
            for i in &m.instances {
                prop_assert_eq!(i.running + i.waiting, 0);
                prop_assert_eq!(i.kv_cache_usage, 0.0);
            }
        }
    }
}

#[test]
fn an_alias_is_the_policy_under_its_own_name() {
    let mut c = Cluster::new(&tiny(), "fcfs", 1).unwrap();
    assert_eq!(c.policy(), "fcfs");
    assert_eq!(c.set_policy("fifo").unwrap(), "fcfs");
    assert_eq!(c.policy(), "fifo");
    assert_eq!(c.set_policy("fcfs").unwrap(), "fifo");
    let e = Cluster::new(&tiny(), "lifo", 1).unwrap_err().to_string();
    assert!(e.contains("fcfs (= fifo)"), "{e}");
}
