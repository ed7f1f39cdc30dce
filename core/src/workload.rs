//! A workload: the exact, seeded list of requests a run sends.
//!
//! [`generate`] turns `(config, data)` into a [`Workload`]. Every aspect of a request draws
//! from its own ChaCha8 stream derived from `config.seed` (arrival times, kind, model,
//! priority, prompt length, output length, embedding batch size, text, dataset index,
//! embedding inputs), and each stream is advanced by the same amount for every request, so
//! changing one aspect's settings (e.g. the priority mix) leaves the others untouched. Warmup
//! requests come from their own streams.
//!
//! With a trace, record `i` of the trace (in time order) is request `i`; its optional fields
//! override what would have been sampled.

use crate::arrival::{self, ArrivalConfig, Trace, TraceRecord};
use crate::config::{BenchmarkConfig, ConfigErrors, Mode};
use crate::dataset::Dataset;
use crate::lengths::{LengthDist, uniform_index, uniform01};
use crate::request::{Priority, RequestKind};
use crate::text::{estimate_tokens, mix64, synthetic_text};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// One request of a workload, fully determined by `(config, seed)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RequestSpec {
    /// Position in the workload (0-based, in send order).
    pub id: u64,
    /// Intended send time, microseconds from the run's start.
    pub offset_us: u64,
    /// Request kind.
    pub kind: RequestKind,
    /// Model name to send.
    pub model: String,
    /// Priority class.
    pub priority: Priority,
    /// End-to-end deadline (sent as `X-SLO-Deadline-Ms`).
    pub slo_deadline_ms: u64,
    /// Prompt text (LLM requests); empty for embeddings.
    pub prompt: String,
    /// Estimated prompt tokens (LLM: of `prompt`; embeddings: of all `inputs`). An estimate,
    /// not a tokenizer count.
    pub prompt_tokens_est: u32,
    /// Output tokens requested (`max_tokens`); 0 for embeddings.
    pub max_tokens: u32,
    /// Embedding inputs; empty for LLM requests.
    pub inputs: Vec<String>,
}

/// Inputs a workload is generated from besides the config: the parsed dataset and trace
/// files the config names (core never opens files; the runner reads and parses them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadData {
    /// The parsed `dataset` file; required exactly when the config names one.
    pub dataset: Option<Dataset>,
    /// The parsed `trace` file; required exactly when the config names one.
    pub trace: Option<Trace>,
}

impl WorkloadData {
    /// No dataset, no trace.
    pub fn none() -> Self {
        Self::default()
    }
}

/// Why a workload could not be generated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WorkloadError {
    /// The config is invalid.
    #[error("invalid configuration:\n{0}")]
    Invalid(#[from] ConfigErrors),
    /// The config names a dataset but none was passed.
    #[error("the config names dataset {path:?} but its contents were not passed")]
    MissingDataset {
        /// The config's dataset path.
        path: String,
    },
    /// The dataset passed has no entries.
    #[error("the dataset passed has no entries: expected at least one prompt")]
    EmptyDataset,
    /// A dataset was passed but the config names none.
    #[error("a dataset was passed but the config has no `dataset`")]
    UnexpectedDataset,
    /// The config names a trace file but none was passed.
    #[error("the config names trace {path:?} but its contents were not passed")]
    MissingTrace {
        /// The config's trace path.
        path: String,
    },
    /// A trace was passed but the config names no trace file.
    #[error(
        "a trace was passed but the config has no `trace` file (arrival.pattern: trace without inline timestamps)"
    )]
    UnexpectedTrace,
    /// The trace has fewer records than the config's `num_requests`.
    #[error(
        "the trace has {records} records but num_requests is {requests}: expected at least as many records as requests"
    )]
    TraceTooShort {
        /// Records in the trace.
        records: usize,
        /// Requests asked for.
        requests: u64,
    },
    /// `output_length` is empirical but a sampled dataset entry has no output length.
    #[error(
        "output_length is empirical but dataset entry {index} has no output length (no reply / output_tokens); use a parametric output_length"
    )]
    MissingOutputLength {
        /// Index of the entry among the dataset's usable entries.
        index: usize,
    },
    /// A trace record asks for an embedding request in llm mode.
    #[error(
        "trace record {index} (at {timestamp_ms} ms) has kind embedding, but mode is llm: expected mode: hybrid"
    )]
    EmbeddingInLlmMode {
        /// Index of the record in time order.
        index: usize,
        /// Its timestamp.
        timestamp_ms: f64,
    },
}

/// The exact list of requests a run sends: warmup first, then the measured requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Workload {
    /// The seed it was generated from.
    pub seed: u64,
    /// Warmup requests (ids `0..w`, evenly spaced at the configured rate from offset 0),
    /// sent before measuring.
    pub warmup: Vec<RequestSpec>,
    /// Measured requests, sorted by `offset_us` (ids `0..n` in send order).
    pub requests: Vec<RequestSpec>,
}

#[derive(Serialize)]
struct HashView<'a> {
    warmup: &'a [RequestSpec],
    requests: &'a [RequestSpec],
}

impl Workload {
    /// Hex SHA-256 of the canonical JSON encoding (`{"warmup":[...],"requests":[...]}`,
    /// fields in declaration order, no whitespace) of the warmup and measured requests. The
    /// same requests give the same hash on every platform.
    pub fn hash(&self) -> String {
        let bytes = serde_json::to_vec(&HashView {
            warmup: &self.warmup,
            requests: &self.requests,
        })
        .expect("request specs always serialize");
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Shard `index` of `count`: the requests (and warmup requests) whose `id % count ==
    /// index`. Round-robin by id, so every shard spans the whole run at `1/count` of the
    /// rate; shards are disjoint and together hold every request. Ids and offsets keep their
    /// whole-workload values.
    ///
    /// # Panics
    /// If `count == 0` or `index >= count`.
    pub fn shard(&self, index: u64, count: u64) -> Workload {
        assert!(
            count > 0 && index < count,
            "shard index {index} of {count}: expected 0 <= index < count"
        );
        let pick = |v: &[RequestSpec]| -> Vec<RequestSpec> {
            v.iter()
                .filter(|r| r.id % count == index)
                .cloned()
                .collect()
        };
        Workload {
            seed: self.seed,
            warmup: pick(&self.warmup),
            requests: pick(&self.requests),
        }
    }

    /// Offset of the last measured request, µs (0 when there is none).
    pub fn duration_us(&self) -> u64 {
        self.requests.last().map_or(0, |r| r.offset_us)
    }

    /// Number of measured requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether there is no measured request.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

// Stream tags: one independent ChaCha8 stream per aspect, so changing one aspect's settings
// (say, the priority mix) leaves every other aspect's draws where they were.
const TAG_ARRIVAL: u64 = 1;
const TAG_KIND: u64 = 2;
const TAG_MODEL: u64 = 3;
const TAG_PRIORITY: u64 = 4;
const TAG_PROMPT_LEN: u64 = 5;
const TAG_OUTPUT_LEN: u64 = 6;
const TAG_BATCH: u64 = 7;
const TAG_TEXT: u64 = 8;
const TAG_DATASET: u64 = 9;
const TAG_EMBEDDING: u64 = 10;
/// Added to every tag for the warmup's streams.
const TAG_WARMUP: u64 = 0x100;

/// The stream of one aspect: `ChaCha8Rng::seed_from_u64(mix64(mix64(seed) ^ tag))`.
fn stream(seed: u64, tag: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix64(mix64(seed) ^ tag))
}

/// Picks from `(item, weight)` pairs (weights valid, total > 0) with `u` in `[0, 1)`.
fn pick<T: Copy>(items: &[(T, f64)], total: f64, u: f64) -> T {
    let x = u * total;
    let mut acc = 0.0;
    for &(item, w) in items {
        acc += w;
        if x < acc {
            return item;
        }
    }
    // Rounding put x at the very top: the last item with weight.
    items
        .iter()
        .rev()
        .find(|(_, w)| *w > 0.0)
        .map(|(item, _)| *item)
        .expect("a distribution with total weight > 0")
}

/// Per-aspect streams and the config's resolved tables.
struct Sampler<'a> {
    config: &'a BenchmarkConfig,
    dataset: Option<&'a Dataset>,
    kind: ChaCha8Rng,
    model: ChaCha8Rng,
    priority: ChaCha8Rng,
    prompt_len: ChaCha8Rng,
    output_len: ChaCha8Rng,
    batch: ChaCha8Rng,
    text: ChaCha8Rng,
    dataset_index: ChaCha8Rng,
    embedding: ChaCha8Rng,
    models: Vec<(&'a str, f64)>,
    models_total: f64,
    priorities: Vec<(Priority, f64)>,
    priorities_total: f64,
    llm_share: f64,
}

impl<'a> Sampler<'a> {
    fn new(config: &'a BenchmarkConfig, dataset: Option<&'a Dataset>, tag_offset: u64) -> Self {
        let s = |tag| stream(config.seed, tag + tag_offset);
        let models: Vec<(&str, f64)> = config
            .model_distribution
            .iter()
            .map(|(m, w)| (m.as_str(), *w))
            .collect();
        let priorities: Vec<(Priority, f64)> = config
            .priority_distribution
            .iter()
            .map(|(p, w)| (*p, *w))
            .collect();
        let llm_share = match config.mode {
            Mode::Llm => 1.0,
            Mode::Hybrid => config.llm_ratio / (config.llm_ratio + config.embedding_ratio),
        };
        Self {
            config,
            dataset,
            kind: s(TAG_KIND),
            model: s(TAG_MODEL),
            priority: s(TAG_PRIORITY),
            prompt_len: s(TAG_PROMPT_LEN),
            output_len: s(TAG_OUTPUT_LEN),
            batch: s(TAG_BATCH),
            text: s(TAG_TEXT),
            dataset_index: s(TAG_DATASET),
            embedding: s(TAG_EMBEDDING),
            models_total: models.iter().map(|m| m.1).sum(),
            models,
            priorities_total: priorities.iter().map(|p| p.1).sum(),
            priorities,
            llm_share,
        }
    }

    /// Request `id` at `offset_us`. Every stream is advanced by the same amount whatever the
    /// outcome, so the draws of request `i` never depend on another aspect's choices.
    fn request(
        &mut self,
        id: u64,
        offset_us: u64,
        over: Option<&TraceRecord>,
    ) -> Result<RequestSpec, WorkloadError> {
        let c = self.config;
        let u_llm = uniform01(&mut self.kind);
        let u_generate = uniform01(&mut self.kind);
        let u_model = uniform01(&mut self.model);
        let u_priority = uniform01(&mut self.priority);
        let prompt_len = c.prompt_length.sample(&mut self.prompt_len);
        let output_len = c.output_length.sample(&mut self.output_len);
        let batch_index = uniform_index(&mut self.batch, c.embedding_batch_sizes.len() as u64);
        let text_seed = self.text.next_u64();
        let entry_draw = self.dataset_index.next_u64();
        let embedding_seed = self.embedding.next_u64();

        let kind = match over.and_then(|r| r.kind) {
            Some(k) => k,
            None if u_llm >= self.llm_share => RequestKind::Embedding,
            None if u_generate < c.completions_ratio => RequestKind::LlmGenerate,
            None => RequestKind::LlmChat,
        };
        let priority = over
            .and_then(|r| r.priority)
            .unwrap_or_else(|| pick(&self.priorities, self.priorities_total, u_priority));
        let prompt_override = over.and_then(|r| r.prompt_tokens);
        let mut spec = RequestSpec {
            id,
            offset_us,
            kind,
            model: String::new(),
            priority,
            slo_deadline_ms: c.slo.deadline_ms(kind, priority),
            prompt: String::new(),
            prompt_tokens_est: 0,
            max_tokens: 0,
            inputs: Vec::new(),
        };
        if kind.is_llm() {
            spec.model = match over.and_then(|r| r.model.as_ref()) {
                Some(m) => m.clone(),
                None => pick(&self.models, self.models_total, u_model).to_string(),
            };
            let entry = self.dataset.map(|d| {
                let index = uniform_index_of(entry_draw, d.entries.len());
                (index, &d.entries[index])
            });
            spec.prompt = match (prompt_override, entry, prompt_len) {
                (Some(tokens), _, _) => synthetic_text(text_seed, tokens),
                (None, Some((_, e)), _) => e.prompt.clone(),
                (None, None, Some(tokens)) => synthetic_text(text_seed, tokens),
                // Validation guarantees empirical prompt lengths come with a dataset.
                (None, None, None) => unreachable!("empirical prompt_length without a dataset"),
            };
            spec.prompt_tokens_est = estimate_tokens(&spec.prompt);
            spec.max_tokens = match (over.and_then(|r| r.output_tokens), output_len, entry) {
                (Some(tokens), _, _) | (None, Some(tokens), _) => tokens,
                (None, None, Some((index, e))) => e
                    .output_tokens_est
                    .ok_or(WorkloadError::MissingOutputLength { index })?,
                (None, None, None) => unreachable!("empirical output_length without a dataset"),
            };
        } else {
            spec.model = over
                .and_then(|r| r.model.clone())
                .unwrap_or_else(|| c.embedding_model.clone());
            let batch = c.embedding_batch_sizes[batch_index as usize];
            let mut rng = ChaCha8Rng::seed_from_u64(embedding_seed);
            spec.inputs = (0..u64::from(batch))
                .map(|j| {
                    let input_seed = mix64(text_seed ^ mix64(j + 1));
                    match (prompt_override, self.dataset, &c.embedding_input_length) {
                        (Some(tokens), _, _) => synthetic_text(input_seed, tokens),
                        (None, Some(d), LengthDist::Empirical) => {
                            let index = uniform_index(&mut rng, d.entries.len() as u64);
                            d.entries[index as usize].prompt.clone()
                        }
                        (None, _, dist) => {
                            let tokens = dist.sample(&mut rng).unwrap_or(1);
                            synthetic_text(input_seed, tokens)
                        }
                    }
                })
                .collect();
            spec.prompt_tokens_est = spec
                .inputs
                .iter()
                .fold(0u32, |acc, s| acc.saturating_add(estimate_tokens(s)));
        }
        Ok(spec)
    }
}

/// A uniform index in `0..n` from one 64-bit word (multiply-and-shift).
fn uniform_index_of(word: u64, n: usize) -> usize {
    ((u128::from(word) * n as u128) >> 64) as usize
}

/// Generates the workload of a config (validated first) from its seed and the parsed files
/// it names. Same config and data, same workload, byte for byte, on every platform.
pub fn generate(config: &BenchmarkConfig, data: &WorkloadData) -> Result<Workload, WorkloadError> {
    config.validate()?;
    let dataset = match (&config.dataset, &data.dataset) {
        (Some(_), Some(d)) => Some(d),
        (Some(r), None) => {
            return Err(WorkloadError::MissingDataset {
                path: r.path.clone(),
            });
        }
        (None, Some(_)) => return Err(WorkloadError::UnexpectedDataset),
        (None, None) => None,
    };
    if let Some(d) = dataset
        && d.entries.is_empty()
    {
        return Err(WorkloadError::EmptyDataset);
    }
    let inline_trace;
    let trace = match (&config.arrival, &config.trace, &data.trace) {
        (_, Some(_), Some(t)) => Some(t),
        (_, Some(r), None) => {
            return Err(WorkloadError::MissingTrace {
                path: r.path.clone(),
            });
        }
        (_, None, Some(_)) => return Err(WorkloadError::UnexpectedTrace),
        (ArrivalConfig::Trace { timestamps_ms }, None, None) => {
            inline_trace = Trace::from_timestamps_ms(timestamps_ms).map_err(|_| {
                WorkloadError::MissingTrace {
                    path: String::new(),
                }
            })?;
            Some(&inline_trace)
        }
        (_, None, None) => None,
    };

    let n = config.num_requests;
    let offsets = match trace {
        Some(t) => {
            if (t.len() as u64) < n {
                return Err(WorkloadError::TraceTooShort {
                    records: t.len(),
                    requests: n,
                });
            }
            t.offsets_us(n as usize)
        }
        None => {
            let mut rng = stream(config.seed, TAG_ARRIVAL);
            arrival::offsets_us(&config.arrival, config.request_rate, n as usize, &mut rng)
                .expect("generative arrival pattern")
        }
    };

    let mut sampler = Sampler::new(config, dataset, 0);
    let mut requests = Vec::with_capacity(offsets.len());
    for (i, &offset_us) in offsets.iter().enumerate() {
        let over = trace.map(|t| &t.records[i]);
        if config.mode == Mode::Llm
            && let Some(r) = over
            && r.kind == Some(RequestKind::Embedding)
        {
            return Err(WorkloadError::EmbeddingInLlmMode {
                index: i,
                timestamp_ms: r.timestamp_ms,
            });
        }
        requests.push(sampler.request(i as u64, offset_us, over)?);
    }

    let mut warmup_sampler = Sampler::new(config, dataset, TAG_WARMUP);
    let warmup_offsets = arrival::offsets_us(
        &ArrivalConfig::Constant,
        config.request_rate,
        config.warmup_requests as usize,
        &mut stream(config.seed, TAG_ARRIVAL + TAG_WARMUP),
    )
    .expect("constant arrivals are generative");
    let warmup = warmup_offsets
        .iter()
        .enumerate()
        .map(|(i, &offset_us)| warmup_sampler.request(i as u64, offset_us, None))
        .collect::<Result<Vec<_>, _>>()?;

    debug_assert!(
        requests
            .windows(2)
            .all(|w| w[0].offset_us <= w[1].offset_us)
    );
    Ok(Workload {
        seed: config.seed,
        warmup,
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatasetRef, TraceRef};
    use crate::dataset::{DatasetEntry, DatasetFormat};

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
            assert!(c.model_distribution.contains_key(&r.model));
            assert_eq!(r.slo_deadline_ms, c.slo.deadline_ms(r.kind, r.priority));
            assert!((8..=1024).contains(&r.max_tokens), "{}", r.max_tokens);
            assert!(!r.prompt.is_empty() && r.inputs.is_empty());
            assert_eq!(r.prompt_tokens_est, estimate_tokens(&r.prompt));
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
        assert_ne!(w.warmup[0].prompt, w.requests[0].prompt);
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
            if r.kind == RequestKind::Embedding {
                assert_eq!(r.model, "BAAI/bge-m3");
                assert!(c.embedding_batch_sizes.contains(&(r.inputs.len() as u32)));
                assert!(r.prompt.is_empty());
                assert_eq!(r.max_tokens, 0);
                let sum: u32 = r.inputs.iter().map(|s| estimate_tokens(s)).sum();
                assert_eq!(r.prompt_tokens_est, sum);
                assert!(r.inputs.iter().all(|s| estimate_tokens(s) >= 3));
            } else {
                assert!(r.inputs.is_empty() && r.max_tokens >= 2);
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
            dataset: Some(dataset()),
            trace: None,
        };
        let w = generate(&c, &data).unwrap();
        let ds = dataset();
        for r in w.requests.iter().chain(&w.warmup) {
            let e = ds.entries.iter().find(|e| e.prompt == r.prompt).unwrap();
            assert_eq!(Some(r.max_tokens), e.output_tokens_est);
            assert_eq!(r.prompt_tokens_est, e.prompt_tokens_est);
        }
        let mut missing = dataset();
        missing.entries[1].output_tokens_est = None;
        let e = generate(
            &c,
            &WorkloadData {
                dataset: Some(missing),
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
                dataset: Some(dataset()),
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
                r.inputs
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
                dataset: Some(dataset()),
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
                dataset: Some(Dataset::default()),
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
        assert_eq!(r.slo_deadline_ms, 2000);
        assert_eq!(
            (w.requests[1].kind, w.requests[1].model.as_str()),
            (RequestKind::LlmGenerate, "m")
        );
        let e = &w.requests[2];
        assert_eq!((e.kind, e.model.as_str()), (RequestKind::Embedding, "e5"));
        assert!(
            e.inputs
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
        let w = Workload {
            seed: 0,
            warmup: vec![],
            requests: vec![],
        };
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
}
