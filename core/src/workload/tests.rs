//! Workload generation: shapes, datasets, traces, hashing and sharding.

use super::generation::pick;
use super::*;
use crate::arrival::ArrivalConfig;
use crate::config::{BenchmarkConfig, DatasetRef, Mode, TraceRef};
use crate::dataset::{DatasetEntry, DatasetFormat};
use crate::lengths::LengthDist;
use crate::text::estimate_tokens;
use std::sync::Arc;

fn small(mut c: BenchmarkConfig) -> BenchmarkConfig {
    c.prompt_length = LengthDist::Uniform { min: 4, max: 12 };
    c.output_length = LengthDist::Uniform { min: 2, max: 9 };
    c.embedding_input_length = LengthDist::Fixed { value: 3 };
    c
}

fn dataset() -> Dataset {
    Dataset {
        entries: vec![
            DatasetEntry::new("first prompt".into(), Some(17)),
            DatasetEntry::new("second, longer prompt text".into(), Some(3)),
        ],
        skipped: 0,
    }
}

fn with_dataset(mut c: BenchmarkConfig) -> BenchmarkConfig {
    c.dataset = Some(DatasetRef {
        path: "d.jsonl".into(),
        format: Some(DatasetFormat::Jsonl),
    });
    c.prompt_length = LengthDist::Empirical;
    c
}

#[test]
fn default_llm_workload_is_well_formed() {
    let c = BenchmarkConfig::default();
    let w = generate(&c, &WorkloadData::none()).unwrap();
    assert_eq!(w.seed, 42);
    assert_eq!(w.len(), 100);
    assert_eq!(w.warmup.len(), 10);
    assert_eq!(w.requests[0].offset_us, 0);
    assert_eq!(w.duration_us(), w.requests[99].offset_us);
    for (i, r) in w.requests.iter().enumerate() {
        assert_eq!(r.id, i as u64);
        assert!(r.kind.is_llm());
        assert!(c.model_distribution.contains_key(w.model(r)));
        assert_eq!(
            r.slo_deadline_ms,
            c.slo.deadline_ms(r.kind, r.priority, r.max_tokens)
        );
        assert!((8..=1024).contains(&r.max_tokens), "{}", r.max_tokens);
        let t = w.text(r);
        assert!(!t.prompt.is_empty() && t.inputs.is_empty() && r.num_inputs() == 0);
        assert_eq!(r.prompt_tokens_est, estimate_tokens(&t.prompt));
        assert!(r.prompt_tokens_est >= 16);
    }
    assert!(
        w.requests
            .windows(2)
            .all(|p| p[0].offset_us <= p[1].offset_us)
    );
    // warmup: evenly spaced at 10 req/s from 0, ids 0..10
    let offsets: Vec<u64> = w.warmup.iter().map(|r| r.offset_us).collect();
    assert_eq!(offsets, (0..10).map(|i| i * 100_000).collect::<Vec<_>>());
    assert_eq!(w.warmup[9].id, 9);
    assert_ne!(w.text(&w.warmup[0]), w.text(&w.requests[0]));
}

#[test]
fn hybrid_embeddings_carry_batches_of_inputs() {
    let mut c = small(BenchmarkConfig::for_mode(Mode::Hybrid));
    c.num_requests = 300;
    c.completions_ratio = 0.5;
    let w = generate(&c, &WorkloadData::none()).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for r in &w.requests {
        kinds.insert(r.kind);
        let t = w.text(r);
        if r.kind == RequestKind::Embedding {
            assert_eq!(w.model(r), "BAAI/bge-m3");
            assert!(c.embedding_batch_sizes.contains(&(t.inputs.len() as u32)));
            assert_eq!(r.num_inputs() as usize, t.inputs.len());
            assert!(t.prompt.is_empty());
            assert_eq!(r.max_tokens, 0);
            let sum: u32 = t.inputs.iter().map(|s| estimate_tokens(s)).sum();
            assert_eq!(r.prompt_tokens_est, sum);
            assert!(t.inputs.iter().all(|s| estimate_tokens(s) >= 3));
        } else {
            assert!(t.inputs.is_empty() && r.max_tokens >= 2);
        }
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}

#[test]
fn completions_ratio_one_sends_only_completions() {
    let mut c = small(BenchmarkConfig::default());
    c.completions_ratio = 1.0;
    let w = generate(&c, &WorkloadData::none()).unwrap();
    assert!(
        w.requests
            .iter()
            .all(|r| r.kind == RequestKind::LlmGenerate)
    );
}

#[test]
fn dataset_prompts_and_empirical_outputs() {
    let mut c = with_dataset(small(BenchmarkConfig::default()));
    c.output_length = LengthDist::Empirical;
    let data = WorkloadData {
        dataset: Some(Arc::new(dataset())),
        trace: None,
    };
    let w = generate(&c, &data).unwrap();
    let ds = dataset();
    for r in w.requests.iter().chain(&w.warmup) {
        let prompt = w.text(r).prompt;
        let e = ds.entries.iter().find(|e| e.prompt == prompt).unwrap();
        assert_eq!(Some(r.max_tokens), e.output_tokens_est);
        assert_eq!(r.prompt_tokens_est, e.prompt_tokens_est);
    }
    let mut missing = dataset();
    missing.entries[1].output_tokens_est = None;
    let e = generate(
        &c,
        &WorkloadData {
            dataset: Some(Arc::new(missing)),
            trace: None,
        },
    )
    .unwrap_err();
    assert_eq!(e, WorkloadError::MissingOutputLength { index: 1 });
}

#[test]
fn embedding_inputs_from_the_dataset() {
    let mut c = with_dataset(small(BenchmarkConfig::for_mode(Mode::Hybrid)));
    c.embedding_input_length = LengthDist::Empirical;
    let w = generate(
        &c,
        &WorkloadData {
            dataset: Some(Arc::new(dataset())),
            trace: None,
        },
    )
    .unwrap();
    let ds = dataset();
    let emb: Vec<&RequestSpec> = w
        .requests
        .iter()
        .filter(|r| r.kind == RequestKind::Embedding)
        .collect();
    assert!(!emb.is_empty());
    for r in emb {
        assert!(
            w.text(r)
                .inputs
                .iter()
                .all(|s| ds.entries.iter().any(|e| &e.prompt == s))
        );
    }
}

#[test]
fn data_must_match_the_config() {
    let c = small(BenchmarkConfig::default());
    let e = generate(
        &c,
        &WorkloadData {
            dataset: Some(Arc::new(dataset())),
            trace: None,
        },
    )
    .unwrap_err();
    assert_eq!(e, WorkloadError::UnexpectedDataset);
    let e = generate(&with_dataset(c.clone()), &WorkloadData::none()).unwrap_err();
    assert!(matches!(e, WorkloadError::MissingDataset { .. }), "{e}");
    let e = generate(
        &with_dataset(c.clone()),
        &WorkloadData {
            dataset: Some(Arc::new(Dataset::default())),
            trace: None,
        },
    )
    .unwrap_err();
    assert_eq!(e, WorkloadError::EmptyDataset);
    let mut t = c.clone();
    t.arrival = ArrivalConfig::Trace {
        timestamps_ms: vec![],
    };
    t.trace = Some(TraceRef {
        path: "t.jsonl".into(),
    });
    let e = generate(&t, &WorkloadData::none()).unwrap_err();
    assert_eq!(
        e,
        WorkloadError::MissingTrace {
            path: "t.jsonl".into()
        }
    );
    let trace = Trace::from_timestamps_ms(&[1.0]).unwrap();
    let e = generate(
        &c,
        &WorkloadData {
            dataset: None,
            trace: Some(trace),
        },
    )
    .unwrap_err();
    assert_eq!(e, WorkloadError::UnexpectedTrace);
    let mut bad = c;
    bad.request_rate = -1.0;
    let e = generate(&bad, &WorkloadData::none()).unwrap_err();
    assert!(
        matches!(&e, WorkloadError::Invalid(p) if p.has_field("request_rate")),
        "{e}"
    );
}

#[test]
fn trace_replay_uses_times_and_overrides() {
    let mut c = small(BenchmarkConfig::for_mode(Mode::Hybrid));
    c.num_requests = 3;
    c.warmup_requests = 1;
    c.arrival = ArrivalConfig::Trace {
        timestamps_ms: vec![],
    };
    c.trace = Some(TraceRef {
        path: "t.jsonl".into(),
    });
    let trace = Trace::parse_jsonl(
        br#"{"timestamp_ms": 5000, "kind": "embedding", "prompt_tokens": 2, "model": "e5"}
{"timestamp_ms": 1000, "priority": "LOW", "kind": "llm_chat", "prompt_tokens": 40, "output_tokens": 11}
{"timestamp_ms": 1500.25, "kind": "llm_generate", "model": "m"}
{"timestamp_ms": 9000}
"#,
    )
    .unwrap();
    let data = WorkloadData {
        dataset: None,
        trace: Some(trace.clone()),
    };
    let w = generate(&c, &data).unwrap();
    let offsets: Vec<u64> = w.requests.iter().map(|r| r.offset_us).collect();
    assert_eq!(offsets, [0, 500_250, 4_000_000]);
    let r = &w.requests[0];
    assert_eq!(
        (r.kind, r.priority, r.max_tokens),
        (RequestKind::LlmChat, Priority::Low, 11)
    );
    assert!((40..=44).contains(&r.prompt_tokens_est));
    // LOW, per token: 1200 ms + 150 ms × 11 tokens.
    assert_eq!(r.slo_deadline_ms, 1200 + 150 * 11);
    assert_eq!(
        (w.requests[1].kind, w.model(&w.requests[1])),
        (RequestKind::LlmGenerate, "m")
    );
    let e = &w.requests[2];
    assert_eq!((e.kind, w.model(e)), (RequestKind::Embedding, "e5"));
    assert!(
        w.text(e)
            .inputs
            .iter()
            .all(|s| estimate_tokens(s) >= 2 && estimate_tokens(s) <= 6)
    );

    c.num_requests = 5;
    let e = generate(&c, &data).unwrap_err();
    assert_eq!(
        e,
        WorkloadError::TraceTooShort {
            records: 4,
            requests: 5
        }
    );

    c.num_requests = 3;
    c.mode = Mode::Llm;
    c.set_llm_ratio(1.0);
    let e = generate(&c, &data).unwrap_err();
    assert_eq!(
        e,
        WorkloadError::EmbeddingInLlmMode {
            index: 2,
            timestamp_ms: 5000.0
        }
    );
}

#[test]
fn inline_timestamps_replay() {
    let mut c = small(BenchmarkConfig::default());
    c.num_requests = 3;
    c.warmup_requests = 0;
    c.arrival = ArrivalConfig::Trace {
        timestamps_ms: vec![30.0, 10.0, 20.0, 40.0],
    };
    let w = generate(&c, &WorkloadData::none()).unwrap();
    let offsets: Vec<u64> = w.requests.iter().map(|r| r.offset_us).collect();
    assert_eq!(offsets, [0, 10_000, 20_000]);
    assert!(w.warmup.is_empty());
}

#[test]
fn hash_and_shards() {
    let c = small(BenchmarkConfig::default());
    let w = generate(&c, &WorkloadData::none()).unwrap();
    let h = w.hash();
    assert_eq!(h.len(), 64);
    assert!(
        h.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let mut changed = w.clone();
    changed.requests[50].max_tokens += 1;
    assert_ne!(changed.hash(), h);
    let s = w.shard(1, 3);
    assert!(s.requests.iter().all(|r| r.id % 3 == 1));
    assert_eq!(s.requests.len(), 33);
    assert_eq!(s.warmup.len(), 3);
    assert_eq!(w.shard(0, 1), w);
}

#[test]
#[should_panic(expected = "shard index 3 of 3")]
fn shard_out_of_range_panics() {
    let w = Workload::from_requests(0, vec![], vec![]);
    let _ = w.shard(3, 3);
}

#[test]
fn pick_follows_weights_and_skips_zero() {
    let items = [("a", 0.0), ("b", 1.0), ("c", 0.0), ("d", 3.0), ("e", 0.0)];
    assert_eq!(pick(&items, 4.0, 0.0), "b");
    assert_eq!(pick(&items, 4.0, 0.2499), "b");
    assert_eq!(pick(&items, 4.0, 0.25), "d");
    assert_eq!(pick(&items, 4.0, 0.999_999_999), "d");
    // rounding above the total falls back to the last weighted item
    assert_eq!(pick(&items, 4.0, 1.0), "d");
}

/// The hash is the SHA-256 of the JSON the requests had when each held its model name and
/// text (`{"warmup":[...],"requests":[...]}`), computed without holding that JSON.
#[test]
fn hash_is_of_the_requests_with_their_names_and_text() {
    use sha2::{Digest, Sha256};

    #[derive(serde::Serialize)]
    struct Whole {
        id: u64,
        offset_us: u64,
        kind: RequestKind,
        model: String,
        priority: Priority,
        slo_deadline_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        slo_ttft_ms: Option<u64>,
        prompt: String,
        prompt_tokens_est: u32,
        max_tokens: u32,
        inputs: Vec<String>,
    }
    #[derive(serde::Serialize)]
    struct View {
        warmup: Vec<Whole>,
        requests: Vec<Whole>,
    }
    let whole = |w: &Workload, specs: &[RequestSpec]| -> Vec<Whole> {
        specs
            .iter()
            .map(|r| {
                let t = w.text(r);
                Whole {
                    id: r.id,
                    offset_us: r.offset_us,
                    kind: r.kind,
                    model: w.model(r).to_owned(),
                    priority: r.priority,
                    slo_deadline_ms: r.slo_deadline_ms,
                    slo_ttft_ms: r.slo_ttft_ms,
                    prompt: t.prompt,
                    prompt_tokens_est: r.prompt_tokens_est,
                    max_tokens: r.max_tokens,
                    inputs: t.inputs,
                }
            })
            .collect()
    };
    let mut hybrid = with_dataset(small(BenchmarkConfig::for_mode(Mode::Hybrid)));
    hybrid.embedding_input_length = LengthDist::Empirical;
    let mut synthetic = small(BenchmarkConfig::for_mode(Mode::Hybrid));
    synthetic.slo.llm_definition = crate::slo::LlmSloDefinition::EndToEnd;
    for (c, dataset) in [(hybrid, Some(Arc::new(dataset()))), (synthetic, None)] {
        let w = generate(
            &c,
            &WorkloadData {
                dataset,
                trace: None,
            },
        )
        .unwrap();
        let json = serde_json::to_vec(&View {
            warmup: whole(&w, &w.warmup),
            requests: whole(&w, &w.requests),
        })
        .unwrap();
        let expected: String = Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(w.hash(), expected);
    }
}

/// A request of the schedule holds no text: its size does not grow with the prompts.
#[test]
fn a_request_spec_is_small() {
    assert!(
        std::mem::size_of::<RequestSpec>() <= 80,
        "RequestSpec is {} bytes",
        std::mem::size_of::<RequestSpec>()
    );
    let mut c = small(BenchmarkConfig::for_mode(Mode::Hybrid));
    c.prompt_length = LengthDist::Fixed { value: 4000 };
    let w = generate(&c, &WorkloadData::none()).unwrap();
    let r = w.requests.iter().find(|r| r.kind.is_llm()).unwrap();
    assert!(r.prompt_tokens_est >= 4000);
    assert_eq!(estimate_tokens(&w.text(r).prompt), r.prompt_tokens_est);
}

/// A prompt handed over in pieces is the prompt `text` makes, for every kind of source,
/// empty pieces (which `text` joins without a separator) included.
#[test]
fn prompt_pieces_join_into_the_prompt() {
    let texts = Texts {
        dataset: Some(Arc::new(Dataset {
            entries: vec![
                DatasetEntry::new(String::new(), None),
                DatasetEntry::new("é, a prompt with \"quotes\"".into(), Some(3)),
            ],
            skipped: 0,
        })),
        embedding_input_length: LengthDist::Fixed { value: 3 },
        prefixes: Arc::from(vec![
            PrefixText {
                seed: 7,
                tokens: 20,
            },
            PrefixText { seed: 8, tokens: 0 },
        ]),
        conversation: Some(ConversationLengths {
            user: LengthDist::Uniform { min: 1, max: 30 },
            answer: LengthDist::Uniform { min: 1, max: 20 },
        }),
    };
    let mut sources = vec![
        TextSource::Synthetic { seed: 1, tokens: 0 },
        TextSource::Synthetic {
            seed: 2,
            tokens: 50,
        },
        TextSource::Dataset { entry: 0 },
        TextSource::Dataset { entry: 1 },
        TextSource::PrefixedEntry { group: 1, entry: 0 },
        TextSource::PrefixedEntry { group: 0, entry: 1 },
        TextSource::DatasetTurn {
            entry: 1,
            turn: 0,
            group: Some(1),
        },
        TextSource::FixedInputs {
            seed: 3,
            inputs: 2,
            tokens: 4,
        },
    ];
    for group in 0..2 {
        for tokens in [0, 33] {
            sources.push(TextSource::Prefixed {
                group,
                seed: 4,
                tokens,
            });
        }
    }
    for turn in 0..4 {
        for group in [None, Some(0), Some(1)] {
            sources.push(TextSource::SessionTurn {
                seed: 5,
                turn,
                group,
            });
        }
    }
    for s in &sources {
        let mut joined = String::new();
        texts.prompt_pieces(s, |p| joined.push_str(p));
        assert_eq!(joined, texts.text(s).prompt, "{s:?}");
    }
}
