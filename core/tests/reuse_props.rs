//! Workloads with reuse: shared prefixes and multi-turn sessions are deterministic, every
//! request of a prefix group starts with the group's prefix, and every turn of a session
//! starts with the turn before it.
#![cfg(not(target_arch = "wasm32"))]

use cpbench_core::config::{BenchmarkConfig, DatasetRef, Popularity, Sessions, SharedPrefixes};
use cpbench_core::dataset::{Dataset, DatasetFormat};
use cpbench_core::lengths::LengthDist;
use cpbench_core::text::synthetic_text;
use cpbench_core::workload::{SEPARATOR, TextSource, Workload, WorkloadData, generate};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::collections::BTreeMap;
use std::sync::Arc;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 16,
        rng_seed: RngSeed::Fixed(0x2e05e),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn prefixed(n: u64, seed: u64, groups: u32, zipf: Option<f64>) -> BenchmarkConfig {
    BenchmarkConfig {
        num_requests: n,
        warmup_requests: 2,
        seed,
        prompt_length: LengthDist::Uniform { min: 4, max: 40 },
        output_length: LengthDist::Fixed { value: 8 },
        shared_prefixes: Some(SharedPrefixes {
            groups,
            prefix_length: LengthDist::Uniform { min: 16, max: 200 },
            popularity: zipf.map_or(Popularity::Uniform, |s| Popularity::Zipf { s }),
        }),
        ..BenchmarkConfig::default()
    }
}

fn sessions(n: u64, seed: u64, groups: Option<u32>) -> BenchmarkConfig {
    BenchmarkConfig {
        num_requests: n,
        warmup_requests: 1,
        seed,
        prompt_length: LengthDist::Uniform { min: 4, max: 40 },
        output_length: LengthDist::Uniform { min: 2, max: 30 },
        sessions: Some(Sessions {
            turns: LengthDist::Uniform { min: 1, max: 6 },
            think_time_ms: LengthDist::Uniform {
                min: 100,
                max: 3000,
            },
            answer_ms_per_token: 20.0,
        }),
        shared_prefixes: groups.map(|groups| SharedPrefixes {
            groups,
            prefix_length: LengthDist::Fixed { value: 64 },
            popularity: Popularity::Uniform,
        }),
        ..BenchmarkConfig::default()
    }
}

fn gen_ok(c: &BenchmarkConfig) -> Workload {
    generate(c, &WorkloadData::none()).expect("valid config generates")
}

/// The prefix text of group `g`, with the separator after it.
fn prefix_of(w: &Workload, g: u32) -> String {
    let p = w.texts.prefixes[g as usize];
    format!("{}{SEPARATOR}", synthetic_text(p.seed, p.tokens))
}

/// The turns of each session (by its seed or entry), in turn order: (turn, request index).
fn turns_by_session(w: &Workload) -> BTreeMap<(u64, u32), Vec<(u32, usize)>> {
    let mut out: BTreeMap<(u64, u32), Vec<(u32, usize)>> = BTreeMap::new();
    for (i, r) in w.requests.iter().enumerate() {
        let (key, turn) = match r.text {
            TextSource::SessionTurn { seed, turn, group } => ((seed, group.unwrap_or(0)), turn),
            TextSource::DatasetTurn { entry, turn, .. } => ((u64::from(entry), 0), turn),
            other => panic!("a session workload's request has text {other:?}"),
        };
        out.entry(key).or_default().push((turn, i));
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn shared_prefixes_are_deterministic_and_lead_every_prompt(
        seed in any::<u64>(),
        groups in 1u32..20,
        zipf in prop::option::of(0.0f64..2.0),
    ) {
        let c = prefixed(60, seed, groups, zipf);
        let w = gen_ok(&c);
        prop_assert_eq!(&w, &gen_ok(&c));
        prop_assert_eq!(w.hash(), gen_ok(&c).hash());
        prop_assert_eq!(w.texts.prefixes.len(), groups as usize);
        for r in w.warmup.iter().chain(&w.requests) {
            let TextSource::Prefixed { group, .. } = r.text else {
                panic!("request {} has text {:?}", r.id, r.text);
            };
            prop_assert!(group < groups);
            let prompt = w.text(r).prompt;
            prop_assert!(prompt.starts_with(&prefix_of(&w, group)));
            prop_assert_eq!(r.prompt_tokens_est, cpbench_core::text::estimate_tokens(&prompt));
        }
        // Another seed, other prefixes.
        let other = gen_ok(&prefixed(60, seed ^ 1, groups, zipf));
        prop_assert_ne!(prefix_of(&w, 0), prefix_of(&other, 0));
    }

    #[test]
    fn session_turns_extend_the_turn_before(seed in any::<u64>(), groups in prop::option::of(1u32..4)) {
        let c = sessions(50, seed, groups);
        let w = gen_ok(&c);
        prop_assert_eq!(w.len(), 50);
        prop_assert_eq!(&w, &gen_ok(&c));
        prop_assert_eq!(w.hash(), gen_ok(&c).hash());
        prop_assert!(w.requests.windows(2).all(|p| p[0].offset_us <= p[1].offset_us));
        prop_assert!(w.requests.iter().enumerate().all(|(i, r)| r.id == i as u64));
        let s = c.sessions.as_ref().unwrap();
        for turns in turns_by_session(&w).values() {
            // Turns 0, 1, ... with none missing.
            prop_assert!(turns.iter().enumerate().all(|(k, (t, _))| *t == k as u32));
            for pair in turns.windows(2) {
                let (a, b) = (&w.requests[pair[0].1], &w.requests[pair[1].1]);
                let (pa, pb) = (w.text(a).prompt, w.text(b).prompt);
                let lead = format!("{pa}{SEPARATOR}");
                prop_assert!(pb.starts_with(&lead));
                prop_assert!(pb.len() > pa.len() + SEPARATOR.len());
                prop_assert_eq!((a.model, a.priority, a.kind), (b.model, b.priority, b.kind));
                // Scheduled after the answer expected and at least the shortest think time.
                let gap_us = b.offset_us - a.offset_us;
                let answer_us = (f64::from(a.max_tokens) * s.answer_ms_per_token * 1000.0) as u64;
                prop_assert!(gap_us >= answer_us + 100_000 - 1 && gap_us <= answer_us + 3_000_000 + 1);
            }
            if let TextSource::SessionTurn { group: Some(g), .. } = w.requests[turns[0].1].text {
                prop_assert!(w.text(&w.requests[turns[0].1]).prompt.starts_with(&prefix_of(&w, g)));
            }
        }
    }
}

#[test]
fn zipf_popularity_favours_the_first_groups() {
    let w = gen_ok(&prefixed(4000, 7, 32, Some(1.2)));
    let mut counts = vec![0u32; 32];
    for r in &w.requests {
        if let TextSource::Prefixed { group, .. } = r.text {
            counts[group as usize] += 1;
        }
    }
    // Zipf(1.2) over 32 groups: group 0 about 30%, group 31 about 0.5%.
    assert!(counts[0] > 900 && counts[0] < 1500, "{counts:?}");
    assert!(counts[0] > 3 * counts[3] && counts[31] < 60, "{counts:?}");
    let w = gen_ok(&prefixed(4000, 7, 4, None));
    let mut counts = [0u32; 4];
    for r in &w.requests {
        if let TextSource::Prefixed { group, .. } = r.text {
            counts[group as usize] += 1;
        }
    }
    assert!(
        counts.iter().all(|&c| (850..1150).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn session_starts_follow_the_arrival_rate() {
    let mut c = sessions(2000, 3, None);
    c.sessions.as_mut().unwrap().turns = LengthDist::Fixed { value: 4 };
    c.request_rate = 5.0;
    let w = gen_ok(&c);
    let firsts: Vec<u64> = w
        .requests
        .iter()
        .filter(|r| matches!(r.text, TextSource::SessionTurn { turn: 0, .. }))
        .map(|r| r.offset_us)
        .collect();
    assert_eq!(firsts.len(), 500);
    // 499 Poisson gaps at 5 sessions/s: 99.8 s +- 5 sigma (sd 0.2 s * sqrt(499)).
    let span = (firsts[499] - firsts[0]) as f64 / 1e6;
    assert!((span - 99.8).abs() < 5.0 * 0.2 * 499f64.sqrt(), "{span}");
}

#[test]
fn the_last_session_is_cut_to_num_requests() {
    let mut c = sessions(10, 1, None);
    c.sessions.as_mut().unwrap().turns = LengthDist::Fixed { value: 4 };
    let w = gen_ok(&c);
    let sessions = turns_by_session(&w);
    let mut lens: Vec<usize> = sessions.values().map(Vec::len).collect();
    lens.sort_unstable();
    assert_eq!(lens, [2, 4, 4]);
}

#[test]
fn sharegpt_conversations_replay_as_sessions() {
    let json = br#"[
      {"conversations": [
        {"from": "human", "value": "What is a queue?"},
        {"from": "gpt", "value": "A line of waiting requests."},
        {"from": "human", "value": "And a stack?"},
        {"from": "gpt", "value": "The last one in is served first, unlike a queue."},
        {"from": "human", "value": "Thanks"}]},
      {"conversations": [
        {"from": "human", "value": "Hello there, how are you?"},
        {"from": "gpt", "value": "Fine."}]}
    ]"#;
    let ds = Dataset::parse_conversations(json, DatasetFormat::Sharegpt).unwrap();
    assert_eq!(ds.entries[0].num_turns(), 3);
    assert_eq!(ds.entries[0].turns[1].output_tokens_est, None);
    assert_eq!(ds.entries[1].num_turns(), 1);
    // Read as plain prompts, no turns are kept.
    let plain = Dataset::parse(json, DatasetFormat::Sharegpt).unwrap();
    assert!(plain.entries.iter().all(|e| e.turns.is_empty()));

    let c = BenchmarkConfig {
        num_requests: 30,
        warmup_requests: 0,
        dataset: Some(DatasetRef {
            path: "chats.json".into(),
            format: Some(DatasetFormat::Sharegpt),
        }),
        prompt_length: LengthDist::Empirical,
        output_length: LengthDist::Empirical,
        sessions: Some(Sessions {
            turns: LengthDist::Empirical,
            think_time_ms: LengthDist::Fixed { value: 500 },
            answer_ms_per_token: 10.0,
        }),
        ..BenchmarkConfig::default()
    };
    let data = WorkloadData {
        dataset: Some(Arc::new(ds)),
        trace: None,
    };
    let w = generate(&c, &data).unwrap();
    assert_eq!(w.len(), 30);
    let mut saw_second_turn = false;
    for r in &w.requests {
        let TextSource::DatasetTurn { entry, turn, .. } = r.text else {
            panic!("{:?}", r.text)
        };
        let prompt = w.text(r).prompt;
        match (entry, turn) {
            (0, 0) => assert_eq!(prompt, "What is a queue?"),
            (0, 1) => {
                saw_second_turn = true;
                assert_eq!(
                    prompt,
                    "What is a queue?\n\nA line of waiting requests.\n\nAnd a stack?"
                );
                assert_eq!(r.max_tokens, 12);
            }
            (1, 0) => assert_eq!(prompt, "Hello there, how are you?"),
            other => panic!("turn {other:?}: the third turn has no recorded reply"),
        }
    }
    assert!(saw_second_turn);
    assert_eq!(w, generate(&c, &data).unwrap());
}

#[test]
fn reuse_keys_parse_and_validate_naming_fields() {
    let c = BenchmarkConfig::load(
        "shared_prefixes: {groups: 32, prefix_length: 2048, popularity: {dist: zipf, s: 1.1}}\n\
         sessions: {turns: {dist: uniform, min: 2, max: 6}, think_time_ms: 1500}\n",
        None,
    )
    .unwrap();
    let p = c.shared_prefixes.as_ref().unwrap();
    assert_eq!(p.prefix_length, LengthDist::Fixed { value: 2048 });
    assert_eq!(p.popularity, Popularity::Zipf { s: 1.1 });
    let s = c.sessions.as_ref().unwrap();
    assert_eq!(s.think_time_ms, LengthDist::Fixed { value: 1500 });
    assert_eq!(s.answer_ms_per_token, 20.0);
    // Round trip.
    assert_eq!(BenchmarkConfig::from_yaml(&c.to_yaml()).unwrap(), c);
    let c = BenchmarkConfig::load(
        "shared_prefixes: {groups: 4, prefix_length: 100, popularity: zipf}",
        None,
    )
    .unwrap();
    assert_eq!(
        c.shared_prefixes.unwrap().popularity,
        Popularity::Zipf { s: 1.0 }
    );
    // Without the keys, the config writes none of them.
    assert!(
        !BenchmarkConfig::default()
            .to_yaml()
            .contains("shared_prefixes")
    );
    assert!(!BenchmarkConfig::default().to_yaml().contains("sessions"));

    let problems = |yaml: &str| {
        BenchmarkConfig::from_yaml(yaml)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    let e =
        problems("shared_prefixes: {groups: 0, prefix_length: 0, popularity: {dist: zipf, s: -1}}");
    for f in [
        "shared_prefixes.groups",
        "shared_prefixes.prefix_length.value",
        "shared_prefixes.popularity.s",
    ] {
        assert!(e.has_field(f), "{f}: {e}");
    }
    let e =
        problems("mode: hybrid\nsessions: {turns: 0, think_time_ms: 0, answer_ms_per_token: -1}");
    for f in [
        "sessions",
        "sessions.turns.value",
        "sessions.think_time_ms.value",
        "sessions.answer_ms_per_token",
    ] {
        assert!(e.has_field(f), "{f}: {e}");
    }
    assert!(e.to_string().contains("at least 1 ms"), "{e}");
    assert!(problems("sessions: {turns: {dist: empirical}}").has_field("sessions.turns"));
    let e = BenchmarkConfig::from_yaml(
        "shared_prefixes: {groups: 2, prefix_length: 10, popularity: pareto}",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("shared_prefixes.popularity"), "{e}");
    let e = BenchmarkConfig::from_yaml("sessions: {turns: 2.5}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sessions.turns"), "{e}");
}

#[test]
fn the_documented_workloads_validate_and_generate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/workloads");
    for f in ["shared-prefixes.yaml", "random.yaml", "sessions.yaml"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        let c = BenchmarkConfig::load(&text, Some("yaml")).unwrap_or_else(|e| panic!("{f}: {e}"));
        c.validate_for_reference().unwrap();
        let w = gen_ok(&c);
        assert_eq!(w.len() as u64, c.num_requests, "{f}");
    }
}
