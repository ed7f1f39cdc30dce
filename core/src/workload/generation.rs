//! [`generate`]: the per-aspect random streams and the sampler that draws each request.

use super::prefixes::{GroupPicker, prefix_texts};
use super::sessions;
use super::{
    ConversationLengths, RequestSpec, TextSource, Texts, Workload, WorkloadData, WorkloadError,
};
use crate::arrival::{self, ArrivalConfig, Trace, TraceRecord};
use crate::config::{BenchmarkConfig, Mode};
use crate::dataset::Dataset;
use crate::lengths::{uniform_index, uniform01};
use crate::request::{Priority, RequestKind};
use crate::text::mix64;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;

// Stream tags: one independent ChaCha8 stream per aspect, so changing one aspect's settings
// (say, the priority mix) leaves every other aspect's draws where they were.
pub(super) const TAG_ARRIVAL: u64 = 1;
const TAG_KIND: u64 = 2;
const TAG_MODEL: u64 = 3;
const TAG_PRIORITY: u64 = 4;
const TAG_PROMPT_LEN: u64 = 5;
const TAG_OUTPUT_LEN: u64 = 6;
const TAG_BATCH: u64 = 7;
const TAG_TEXT: u64 = 8;
const TAG_DATASET: u64 = 9;
const TAG_EMBEDDING: u64 = 10;
const TAG_PREFIX_GROUP: u64 = 11;
const TAG_PREFIX_LENGTH: u64 = 12;
const TAG_PREFIX_TEXT: u64 = 13;
pub(super) const TAG_SESSION: u64 = 14;
pub(super) const TAG_TURNS: u64 = 15;
pub(super) const TAG_THINK: u64 = 16;
/// Added to every tag for the warmup's streams.
const TAG_WARMUP: u64 = 0x100;

/// The stream of one aspect: `ChaCha8Rng::seed_from_u64(mix64(mix64(seed) ^ tag))`.
pub(super) fn stream(seed: u64, tag: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix64(mix64(seed) ^ tag))
}

/// Picks from `(item, weight)` pairs (weights valid, total > 0) with `u` in `[0, 1)`.
pub(super) fn pick<T: Copy>(items: &[(T, f64)], total: f64, u: f64) -> T {
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

/// The workload's model names, each once, indexed by [`RequestSpec::model`].
#[derive(Default)]
pub(super) struct ModelTable {
    names: Vec<String>,
    index: BTreeMap<String, u32>,
}

impl ModelTable {
    /// The index of `name`, added at the end when new.
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("fewer than 2^32 model names");
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }
}

/// Per-aspect streams and the config's resolved tables.
pub(super) struct Sampler<'a> {
    pub(super) config: &'a BenchmarkConfig,
    pub(super) dataset: Option<&'a Dataset>,
    pub(super) texts: &'a Texts,
    kind: ChaCha8Rng,
    model: ChaCha8Rng,
    priority: ChaCha8Rng,
    prompt_len: ChaCha8Rng,
    pub(super) output_len: ChaCha8Rng,
    batch: ChaCha8Rng,
    text: ChaCha8Rng,
    pub(super) dataset_index: ChaCha8Rng,
    embedding: ChaCha8Rng,
    /// The prefix group of each request (with `shared_prefixes`).
    pub(super) groups: Option<GroupPicker>,
    /// The config's model mix, by index into the model table.
    models: Vec<(u32, f64)>,
    models_total: f64,
    /// The embedding model's index.
    embedding_model: u32,
    priorities: Vec<(Priority, f64)>,
    priorities_total: f64,
    llm_share: f64,
}

impl<'a> Sampler<'a> {
    fn new(
        config: &'a BenchmarkConfig,
        texts: &'a Texts,
        table: &mut ModelTable,
        tag_offset: u64,
    ) -> Self {
        let s = |tag| stream(config.seed, tag + tag_offset);
        let models: Vec<(u32, f64)> = config
            .model_distribution
            .iter()
            .map(|(m, w)| (table.intern(m), *w))
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
            dataset: texts.dataset.as_deref(),
            texts,
            embedding_model: table.intern(&config.embedding_model),
            kind: s(TAG_KIND),
            model: s(TAG_MODEL),
            priority: s(TAG_PRIORITY),
            prompt_len: s(TAG_PROMPT_LEN),
            output_len: s(TAG_OUTPUT_LEN),
            batch: s(TAG_BATCH),
            text: s(TAG_TEXT),
            dataset_index: s(TAG_DATASET),
            embedding: s(TAG_EMBEDDING),
            groups: config
                .shared_prefixes
                .as_ref()
                .map(|p| GroupPicker::new(p, s(TAG_PREFIX_GROUP))),
            models_total: models.iter().map(|m| m.1).sum(),
            models,
            priorities_total: priorities.iter().map(|p| p.1).sum(),
            priorities,
            llm_share,
        }
    }

    /// The kind, model and priority of a session's every turn, drawn once per session from the
    /// streams [`Self::request`] draws them from.
    pub(super) fn session_head(&mut self) -> (RequestKind, u32, Priority) {
        let c = self.config;
        let _ = uniform01(&mut self.kind);
        let u_generate = uniform01(&mut self.kind);
        let u_model = uniform01(&mut self.model);
        let u_priority = uniform01(&mut self.priority);
        let kind = if u_generate < c.completions_ratio {
            RequestKind::LlmGenerate
        } else {
            RequestKind::LlmChat
        };
        (
            kind,
            pick(&self.models, self.models_total, u_model),
            pick(&self.priorities, self.priorities_total, u_priority),
        )
    }

    /// Request `id` at `offset_us`. Every stream is advanced by the same amount whatever the
    /// outcome, so the draws of request `i` never depend on another aspect's choices.
    fn request(
        &mut self,
        id: u64,
        offset_us: u64,
        over: Option<&TraceRecord>,
        table: &mut ModelTable,
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
        let group = self.groups.as_mut().map(GroupPicker::draw);

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
        let model_override = over
            .and_then(|r| r.model.as_deref())
            .map(|m| table.intern(m));
        let mut spec = RequestSpec {
            id,
            offset_us,
            kind,
            model: 0,
            priority,
            slo_deadline_ms: 0,
            slo_ttft_ms: None,
            prompt_tokens_est: 0,
            max_tokens: 0,
            text: TextSource::Synthetic {
                seed: text_seed,
                tokens: 0,
            },
        };
        if kind.is_llm() {
            spec.model =
                model_override.unwrap_or_else(|| pick(&self.models, self.models_total, u_model));
            let entry = self.dataset.map(|d| {
                let index = uniform_index_of(entry_draw, d.entries.len());
                (index, &d.entries[index])
            });
            spec.text = match (prompt_override, entry, prompt_len) {
                (Some(tokens), _, _) | (None, None, Some(tokens)) => TextSource::Synthetic {
                    seed: text_seed,
                    tokens,
                },
                (None, Some((index, _)), _) => TextSource::Dataset {
                    entry: u32::try_from(index).expect("fewer than 2^32 dataset entries"),
                },
                // Validation guarantees empirical prompt lengths come with a dataset.
                (None, None, None) => unreachable!("empirical prompt_length without a dataset"),
            };
            spec.text = match (group, spec.text) {
                (Some(group), TextSource::Synthetic { seed, tokens }) => TextSource::Prefixed {
                    group,
                    seed,
                    tokens,
                },
                (Some(group), TextSource::Dataset { entry }) => {
                    TextSource::PrefixedEntry { group, entry }
                }
                (_, text) => text,
            };
            spec.max_tokens = match (over.and_then(|r| r.output_tokens), output_len, entry) {
                (Some(tokens), _, _) | (None, Some(tokens), _) => tokens,
                (None, None, Some((index, e))) => e
                    .output_tokens_est
                    .ok_or(WorkloadError::MissingOutputLength { index })?,
                (None, None, None) => unreachable!("empirical output_length without a dataset"),
            };
            spec.slo_deadline_ms = c.slo.deadline_ms(kind, priority, spec.max_tokens);
            spec.slo_ttft_ms = c.slo.ttft_target_ms(kind, priority);
        } else {
            spec.model = model_override.unwrap_or(self.embedding_model);
            let inputs = c.embedding_batch_sizes[batch_index as usize];
            spec.text = match prompt_override {
                Some(tokens) => TextSource::FixedInputs {
                    seed: text_seed,
                    inputs,
                    tokens,
                },
                None => TextSource::DrawnInputs {
                    seed: text_seed,
                    draws: embedding_seed,
                    inputs,
                },
            };
            spec.slo_deadline_ms = c.slo.deadline_ms(kind, priority, 0);
        }
        spec.prompt_tokens_est = self.texts.tokens_est(&spec.text);
        Ok(spec)
    }
}

/// A uniform index in `0..n` from one 64-bit word (multiply-and-shift).
fn uniform_index_of(word: u64, n: usize) -> usize {
    ((u128::from(word) * n as u128) >> 64) as usize
}

/// The measured requests of a config without sessions: one per arrival.
fn independent_requests(
    trace: Option<&Trace>,
    sampler: &mut Sampler<'_>,
    table: &mut ModelTable,
) -> Result<Vec<RequestSpec>, WorkloadError> {
    let config = sampler.config;
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
        requests.push(sampler.request(i as u64, offset_us, over, table)?);
    }
    Ok(requests)
}

/// Generates the workload of a config (validated first) from its seed and the parsed files
/// it names. Same config and data, same workload, byte for byte, on every platform.
pub fn generate(config: &BenchmarkConfig, data: &WorkloadData) -> Result<Workload, WorkloadError> {
    config.validate()?;
    let dataset = match (&config.dataset, &data.dataset) {
        (Some(_), Some(d)) => Some(Arc::clone(d)),
        (Some(r), None) => {
            return Err(WorkloadError::MissingDataset {
                path: r.path.clone(),
            });
        }
        (None, Some(_)) => return Err(WorkloadError::UnexpectedDataset),
        (None, None) => None,
    };
    if let Some(d) = &dataset
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

    let texts = Texts {
        dataset,
        embedding_input_length: config.embedding_input_length.clone(),
        prefixes: match &config.shared_prefixes {
            Some(p) => prefix_texts(
                p,
                &mut stream(config.seed, TAG_PREFIX_LENGTH),
                mix64(mix64(config.seed) ^ TAG_PREFIX_TEXT),
            ),
            None => Arc::from(Vec::new()),
        },
        conversation: config
            .sessions
            .as_ref()
            .filter(|s| !s.turns.is_empirical())
            .map(|_| ConversationLengths {
                user: config.prompt_length.clone(),
                answer: config.output_length.clone(),
            }),
    };
    let mut table = ModelTable::default();
    let mut sampler = Sampler::new(config, &texts, &mut table, 0);
    let requests = match &config.sessions {
        Some(s) => sessions::requests(s, trace, &mut sampler)?,
        None => independent_requests(trace, &mut sampler, &mut table)?,
    };

    let mut warmup_sampler = Sampler::new(config, &texts, &mut table, TAG_WARMUP);
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
        .map(|(i, &offset_us)| warmup_sampler.request(i as u64, offset_us, None, &mut table))
        .collect::<Result<Vec<_>, _>>()?;

    debug_assert!(
        requests
            .windows(2)
            .all(|w| w[0].offset_us <= w[1].offset_us)
    );
    Ok(Workload {
        seed: config.seed,
        models: table.names,
        texts,
        warmup,
        requests,
    })
}
