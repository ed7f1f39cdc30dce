//! Request text on demand: what a request's prompt or embedding inputs are made from
//! ([`TextSource`], held by each [`RequestSpec`](super::RequestSpec): seeds, lengths, a
//! dataset index) and how they are made ([`Texts`], shared by the whole workload), exactly as
//! generation chose them. A workload holds no text: the runner makes each request's text a
//! little before sending it and drops it after; the hash makes it one request at a time.

use crate::dataset::Dataset;
use crate::lengths::{LengthDist, uniform_index};
use crate::text::{estimate_tokens, mix64, synthetic_text, synthetic_tokens};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::sync::Arc;

/// What a request's text is made from. LLM requests have a prompt ([`Synthetic`] or
/// [`Dataset`]); embedding requests a batch of inputs ([`FixedInputs`] or [`DrawnInputs`]).
///
/// [`Synthetic`]: TextSource::Synthetic
/// [`Dataset`]: TextSource::Dataset
/// [`FixedInputs`]: TextSource::FixedInputs
/// [`DrawnInputs`]: TextSource::DrawnInputs
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSource {
    /// A prompt of synthetic text: [`synthetic_text`]`(seed, tokens)`.
    Synthetic {
        /// The text stream.
        seed: u64,
        /// Its target length, estimated tokens.
        tokens: u32,
    },
    /// The prompt of entry `entry` of the workload's dataset.
    Dataset {
        /// Index among the dataset's usable entries.
        entry: u32,
    },
    /// `inputs` embedding inputs of synthetic text of `tokens` tokens each (a trace record's
    /// `prompt_tokens`); input `j` is made from the stream `mix64(seed ^ mix64(j + 1))`.
    FixedInputs {
        /// The request's text seed.
        seed: u64,
        /// Number of inputs.
        inputs: u32,
        /// Length of each, estimated tokens.
        tokens: u32,
    },
    /// `inputs` embedding inputs whose lengths (or, with an empirical
    /// `embedding_input_length` and a dataset, whose dataset entries) are drawn in order from
    /// the ChaCha8 stream seeded with `draws`; synthetic input `j` is made from the stream
    /// `mix64(seed ^ mix64(j + 1))`.
    DrawnInputs {
        /// The request's text seed.
        seed: u64,
        /// Seed of the stream the inputs' lengths or entries are drawn from.
        draws: u64,
        /// Number of inputs.
        inputs: u32,
    },
}

impl TextSource {
    /// Number of embedding inputs (0 for a prompt).
    pub fn inputs(&self) -> u32 {
        match *self {
            Self::Synthetic { .. } | Self::Dataset { .. } => 0,
            Self::FixedInputs { inputs, .. } | Self::DrawnInputs { inputs, .. } => inputs,
        }
    }
}

/// The text of one request: a prompt (LLM requests) or embedding inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestText {
    /// Prompt text (LLM requests); empty for embeddings.
    pub prompt: String,
    /// Embedding inputs; empty for LLM requests.
    pub inputs: Vec<String>,
}

/// What request text is made from besides each request's own [`TextSource`]: the dataset
/// and the embedding input lengths. Cheap to clone (the dataset is shared).
#[derive(Debug, Clone, PartialEq)]
pub struct Texts {
    /// The parsed dataset, when the config names one.
    pub dataset: Option<Arc<Dataset>>,
    /// The config's `embedding_input_length` (for [`TextSource::DrawnInputs`]).
    pub embedding_input_length: LengthDist,
}

impl Default for Texts {
    /// No dataset; inputs of one token (only hand-built workloads, which draw none, use it).
    fn default() -> Self {
        Self {
            dataset: None,
            embedding_input_length: LengthDist::Fixed { value: 1 },
        }
    }
}

/// One embedding input (or prompt) before it is written.
enum Piece<'a> {
    Synthetic { seed: u64, tokens: u32 },
    Entry(&'a str),
}

impl Texts {
    /// The text `source` stands for, as generation chose it.
    ///
    /// # Panics
    /// If `source` names a dataset entry that the workload's dataset lacks (never for a
    /// generated workload).
    pub fn text(&self, source: &TextSource) -> RequestText {
        let write = |p: Piece<'_>| match p {
            Piece::Synthetic { seed, tokens } => synthetic_text(seed, tokens),
            Piece::Entry(s) => s.to_owned(),
        };
        match *source {
            TextSource::Synthetic { seed, tokens } => RequestText {
                prompt: synthetic_text(seed, tokens),
                inputs: Vec::new(),
            },
            TextSource::Dataset { entry } => RequestText {
                prompt: self.entry(entry).to_owned(),
                inputs: Vec::new(),
            },
            _ => {
                let mut inputs = Vec::with_capacity(source.inputs() as usize);
                self.each_input(source, |p| inputs.push(write(p)));
                RequestText {
                    prompt: String::new(),
                    inputs,
                }
            }
        }
    }

    /// Estimated tokens of the text `source` stands for (of the prompt, or the sum over the
    /// inputs), without building it.
    pub fn tokens_est(&self, source: &TextSource) -> u32 {
        let count = |p: Piece<'_>| match p {
            Piece::Synthetic { seed, tokens } => synthetic_tokens(seed, tokens),
            Piece::Entry(s) => estimate_tokens(s),
        };
        match *source {
            TextSource::Synthetic { seed, tokens } => count(Piece::Synthetic { seed, tokens }),
            TextSource::Dataset { entry } => count(Piece::Entry(self.entry(entry))),
            _ => {
                let mut sum = 0u32;
                self.each_input(source, |p| sum = sum.saturating_add(count(p)));
                sum
            }
        }
    }

    fn entry(&self, index: u32) -> &str {
        let d = self
            .dataset
            .as_ref()
            .expect("a dataset prompt in a workload without a dataset");
        &d.entries[index as usize].prompt
    }

    /// Each embedding input of `source` in order (nothing for a prompt).
    fn each_input<'a>(&'a self, source: &TextSource, mut f: impl FnMut(Piece<'a>)) {
        let input_seed = |seed: u64, j: u64| mix64(seed ^ mix64(j + 1));
        match *source {
            TextSource::Synthetic { .. } | TextSource::Dataset { .. } => {}
            TextSource::FixedInputs {
                seed,
                inputs,
                tokens,
            } => {
                for j in 0..u64::from(inputs) {
                    f(Piece::Synthetic {
                        seed: input_seed(seed, j),
                        tokens,
                    });
                }
            }
            TextSource::DrawnInputs {
                seed,
                draws,
                inputs,
            } => {
                let mut rng = ChaCha8Rng::seed_from_u64(draws);
                for j in 0..u64::from(inputs) {
                    match (&self.dataset, &self.embedding_input_length) {
                        (Some(d), LengthDist::Empirical) => {
                            let index = uniform_index(&mut rng, d.entries.len() as u64);
                            f(Piece::Entry(&d.entries[index as usize].prompt));
                        }
                        (_, dist) => f(Piece::Synthetic {
                            seed: input_seed(seed, j),
                            tokens: dist.sample(&mut rng).unwrap_or(1),
                        }),
                    }
                }
            }
        }
    }
}
