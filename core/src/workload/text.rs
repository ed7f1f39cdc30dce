//! Request text on demand: what a request's prompt or embedding inputs are made from
//! ([`TextSource`], held by each [`RequestSpec`](super::RequestSpec): seeds, lengths, a
//! dataset index) and how they are made ([`Texts`], shared by the whole workload), exactly as
//! generation chose them. A workload holds no text: the runner makes each request's text a
//! little before sending it and drops it after; the hash makes it one request at a time.

use crate::dataset::Dataset;
use crate::lengths::{LengthDist, uniform_index};
use crate::text::{
    estimate_tokens, mix64, synthetic_chars, synthetic_pieces, synthetic_text, synthetic_tokens,
};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::sync::Arc;

/// What a request's text is made from. LLM requests have a prompt ([`Synthetic`] or
/// [`Dataset`], the same after a shared prefix ([`Prefixed`], [`PrefixedEntry`]), or a turn of
/// a conversation ([`SessionTurn`], [`DatasetTurn`])); embedding requests a batch of inputs
/// ([`FixedInputs`] or [`DrawnInputs`]).
///
/// A prompt made of several pieces (a prefix, messages) joins them with [`SEPARATOR`].
///
/// [`Synthetic`]: TextSource::Synthetic
/// [`Dataset`]: TextSource::Dataset
/// [`Prefixed`]: TextSource::Prefixed
/// [`PrefixedEntry`]: TextSource::PrefixedEntry
/// [`SessionTurn`]: TextSource::SessionTurn
/// [`DatasetTurn`]: TextSource::DatasetTurn
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
    /// The prefix of group `group` ([`Texts::prefixes`]), then [`synthetic_text`]`(seed,
    /// tokens)`.
    Prefixed {
        /// The prefix group.
        group: u32,
        /// The text stream of the request's own text.
        seed: u64,
        /// Its own text's target length, estimated tokens.
        tokens: u32,
    },
    /// The prefix of group `group`, then the prompt of dataset entry `entry`.
    PrefixedEntry {
        /// The prefix group.
        group: u32,
        /// Index among the dataset's usable entries.
        entry: u32,
    },
    /// Turn `turn` (0-based) of the synthetic conversation `seed`: the prefix of `group`
    /// when set, then user message 0, answer 0, ..., answer `turn - 1`, user message `turn`
    /// (lengths from [`Texts::conversation`], see [`conversation_turns`]).
    SessionTurn {
        /// The conversation's seed.
        seed: u64,
        /// The turn, 0-based.
        turn: u32,
        /// The prefix group its first message follows, if any.
        group: Option<u32>,
    },
    /// Turn `turn` (0-based) of the conversation of dataset entry `entry`: the prefix of
    /// `group` when set, then the entry's prompt, its reply, and so on up to the `turn`-th
    /// follow-up prompt ([`crate::dataset::DatasetEntry::turns`]).
    DatasetTurn {
        /// Index among the dataset's usable entries.
        entry: u32,
        /// The turn, 0-based.
        turn: u32,
        /// The prefix group its first message follows, if any.
        group: Option<u32>,
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
            Self::Synthetic { .. }
            | Self::Dataset { .. }
            | Self::Prefixed { .. }
            | Self::PrefixedEntry { .. }
            | Self::SessionTurn { .. }
            | Self::DatasetTurn { .. } => 0,
            Self::FixedInputs { inputs, .. } | Self::DrawnInputs { inputs, .. } => inputs,
        }
    }
}

/// What the pieces of a prompt made of several are joined with: a blank line.
pub const SEPARATOR: &str = "\n\n";

/// The text a shared prefix group begins with: [`synthetic_text`]`(seed, tokens)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixText {
    /// Its text stream.
    pub seed: u64,
    /// Its target length, estimated tokens.
    pub tokens: u32,
}

/// The lengths of a synthetic conversation's messages: its user messages' (the config's
/// `prompt_length`) and its answers' (`output_length`, each turn's `max_tokens`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationLengths {
    /// Length of each user message, tokens.
    pub user: LengthDist,
    /// Length of each answer, tokens.
    pub answer: LengthDist,
}

/// The `(user message tokens, answer tokens)` of each turn of the synthetic conversation
/// `seed`, in order, endless: drawn from the ChaCha8 stream seeded with `seed` (user message,
/// then answer, per turn). Generation takes a turn's `max_tokens` from here, and the text of
/// later turns replays the same draws.
pub fn conversation_turns(
    seed: u64,
    lengths: &ConversationLengths,
) -> impl Iterator<Item = (u32, u32)> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    std::iter::from_fn(move || {
        let user = lengths.user.sample(&mut rng).unwrap_or(1);
        let answer = lengths.answer.sample(&mut rng).unwrap_or(1);
        Some((user, answer))
    })
}

/// The text stream of user message `turn` (`answer: false`) or of its answer (`true`) in the
/// conversation `seed`.
pub fn message_seed(seed: u64, turn: u32, answer: bool) -> u64 {
    mix64(seed ^ mix64(2 * u64::from(turn) + 1 + u64::from(answer)))
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
    /// The shared prefixes, by group (empty without `shared_prefixes`).
    pub prefixes: Arc<[PrefixText]>,
    /// The message lengths of synthetic conversations (with `sessions`).
    pub conversation: Option<ConversationLengths>,
}

impl Default for Texts {
    /// No dataset; inputs of one token (only hand-built workloads, which draw none, use it).
    fn default() -> Self {
        Self {
            dataset: None,
            embedding_input_length: LengthDist::Fixed { value: 1 },
            prefixes: Arc::from(Vec::new()),
            conversation: None,
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
            TextSource::Prefixed { .. }
            | TextSource::PrefixedEntry { .. }
            | TextSource::SessionTurn { .. }
            | TextSource::DatasetTurn { .. } => {
                let mut prompt = String::new();
                self.each_piece(source, |p| {
                    if !prompt.is_empty() {
                        prompt.push_str(SEPARATOR);
                    }
                    match p {
                        Piece::Synthetic { seed, tokens } => {
                            prompt.push_str(&synthetic_text(seed, tokens));
                        }
                        Piece::Entry(s) => prompt.push_str(s),
                    }
                });
                RequestText {
                    prompt,
                    inputs: Vec::new(),
                }
            }
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

    /// The prompt [`text`](Self::text) makes for `source`, handed to `f` in pieces instead
    /// of built (nothing for embedding inputs): the pieces one after the other are the
    /// prompt. For what only reads the prompt once (its prefix blocks).
    ///
    /// # Panics
    /// As [`text`](Self::text).
    pub fn prompt_pieces(&self, source: &TextSource, mut f: impl FnMut(&str)) {
        match *source {
            TextSource::Synthetic { seed, tokens } => synthetic_pieces(seed, tokens, f),
            TextSource::Dataset { entry } => f(self.entry(entry)),
            TextSource::Prefixed { .. }
            | TextSource::PrefixedEntry { .. }
            | TextSource::SessionTurn { .. }
            | TextSource::DatasetTurn { .. } => {
                // As `text` joins them: a separator before a piece once the prompt is not
                // empty.
                let written = std::cell::Cell::new(false);
                let mut emit = |s: &str| {
                    written.set(written.get() || !s.is_empty());
                    f(s);
                };
                self.each_piece(source, |p| {
                    if written.get() {
                        emit(SEPARATOR);
                    }
                    match p {
                        Piece::Synthetic { seed, tokens } => {
                            synthetic_pieces(seed, tokens, &mut emit);
                        }
                        Piece::Entry(s) => emit(s),
                    }
                });
            }
            TextSource::FixedInputs { .. } | TextSource::DrawnInputs { .. } => {}
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
            TextSource::Prefixed { .. }
            | TextSource::PrefixedEntry { .. }
            | TextSource::SessionTurn { .. }
            | TextSource::DatasetTurn { .. } => {
                let (mut chars, mut pieces) = (0u64, 0u64);
                self.each_piece(source, |p| {
                    pieces += 1;
                    chars += match p {
                        Piece::Synthetic { seed, tokens } => synthetic_chars(seed, tokens),
                        Piece::Entry(s) => s.chars().count() as u64,
                    };
                });
                let chars = chars + SEPARATOR.len() as u64 * pieces.saturating_sub(1);
                u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
            }
            _ => {
                let mut sum = 0u32;
                self.each_input(source, |p| sum = sum.saturating_add(count(p)));
                sum
            }
        }
    }

    fn entry(&self, index: u32) -> &str {
        &self.dataset_entry(index).prompt
    }

    fn dataset_entry(&self, index: u32) -> &crate::dataset::DatasetEntry {
        let d = self
            .dataset
            .as_ref()
            .expect("a dataset prompt in a workload without a dataset");
        &d.entries[index as usize]
    }

    /// The pieces of a prompt made of several, in order (nothing for the other sources).
    fn each_piece<'a>(&'a self, source: &TextSource, mut f: impl FnMut(Piece<'a>)) {
        let prefix = |group: Option<u32>, f: &mut dyn FnMut(Piece<'a>)| {
            if let Some(g) = group {
                let p = self.prefixes[g as usize];
                f(Piece::Synthetic {
                    seed: p.seed,
                    tokens: p.tokens,
                });
            }
        };
        match *source {
            TextSource::Prefixed {
                group,
                seed,
                tokens,
            } => {
                prefix(Some(group), &mut f);
                f(Piece::Synthetic { seed, tokens });
            }
            TextSource::PrefixedEntry { group, entry } => {
                prefix(Some(group), &mut f);
                f(Piece::Entry(self.entry(entry)));
            }
            TextSource::SessionTurn { seed, turn, group } => {
                prefix(group, &mut f);
                let lengths = self
                    .conversation
                    .as_ref()
                    .expect("a conversation turn in a workload without sessions");
                for (k, (user, answer)) in conversation_turns(seed, lengths)
                    .take(turn as usize + 1)
                    .enumerate()
                {
                    let k = k as u32;
                    f(Piece::Synthetic {
                        seed: message_seed(seed, k, false),
                        tokens: user,
                    });
                    if k < turn {
                        f(Piece::Synthetic {
                            seed: message_seed(seed, k, true),
                            tokens: answer,
                        });
                    }
                }
            }
            TextSource::DatasetTurn { entry, turn, group } => {
                prefix(group, &mut f);
                let e = self.dataset_entry(entry);
                f(Piece::Entry(&e.prompt));
                for t in e.turns.iter().take(turn as usize) {
                    f(Piece::Entry(&t.reply));
                    f(Piece::Entry(&t.prompt));
                }
            }
            _ => {}
        }
    }

    /// Each embedding input of `source` in order (nothing for a prompt).
    fn each_input<'a>(&'a self, source: &TextSource, mut f: impl FnMut(Piece<'a>)) {
        let input_seed = |seed: u64, j: u64| mix64(seed ^ mix64(j + 1));
        match *source {
            TextSource::Synthetic { .. }
            | TextSource::Dataset { .. }
            | TextSource::Prefixed { .. }
            | TextSource::PrefixedEntry { .. }
            | TextSource::SessionTurn { .. }
            | TextSource::DatasetTurn { .. } => {}
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
