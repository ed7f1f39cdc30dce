//! Synthetic, readable text and a token-count estimate.
//!
//! Prompts and generated outputs are made of common English words chosen by a seeded,
//! stateless mixer, so the same `(seed, index)` always gives the same word on every platform.
//! Token counts of synthetic or dataset text are **estimates** (about four characters per
//! token, the usual rule of thumb for English with BPE tokenizers), never tokenizer counts;
//! reports label them as such.

/// The word list synthetic text is drawn from (common English words, 1-2 tokens each).
pub const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "explain",
    "describe",
    "summarize",
    "compare",
    "model",
    "scheduler",
    "request",
    "queue",
    "latency",
    "token",
    "memory",
    "cache",
    "batch",
    "policy",
    "cluster",
    "server",
    "client",
    "network",
    "signal",
    "answer",
    "simple",
    "clear",
    "small",
    "large",
    "quick",
    "slow",
    "early",
    "late",
    "good",
    "new",
    "first",
    "last",
    "long",
    "great",
    "little",
    "own",
    "other",
    "old",
    "big",
    "high",
    "different",
    "following",
    "important",
    "public",
    "able",
    "open",
    "better",
    "best",
    "real",
    "strong",
    "possible",
    "whole",
    "free",
    "sure",
    "main",
    "full",
    "special",
    "easy",
    "certain",
    "recent",
    "local",
    "common",
    "short",
    "general",
    "single",
    "human",
    "current",
    "river",
    "mountain",
    "garden",
    "window",
    "table",
    "paper",
    "music",
    "light",
    "color",
    "energy",
    "market",
    "price",
    "value",
    "plan",
    "design",
    "method",
    "process",
    "data",
    "table",
    "figure",
    "paragraph",
    "letter",
    "report",
    "detail",
    "example",
    "summary",
];

/// A stateless 64-bit mixer (SplitMix64's finalizer): the same input, the same output,
/// everywhere.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `index`-th word of the text stream identified by `seed`.
pub fn word_at(seed: u64, index: u64) -> &'static str {
    let h = mix64(seed ^ mix64(index));
    WORDS[(h % WORDS.len() as u64) as usize]
}

/// Estimated token count of a text: `ceil(chars / 4)`, at least 1 for non-empty text.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u64;
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// Readable synthetic text of about `target_tokens` estimated tokens from the stream `seed`.
///
/// Words are appended until [`estimate_tokens`] reaches the target; a sentence ends every
/// dozen words or so, so the text reads like prose rather than a word list.
pub fn synthetic_text(seed: u64, target_tokens: u32) -> String {
    let mut out = String::with_capacity(u64::from(target_tokens) as usize * 4 + 16);
    write_synthetic(seed, target_tokens, &mut out);
    out
}

/// [`estimate_tokens`] of [`synthetic_text`]`(seed, target_tokens)`, without building the
/// text (the same words are chosen, only counted).
pub fn synthetic_tokens(seed: u64, target_tokens: u32) -> u32 {
    let mut count = Count::default();
    write_synthetic(seed, target_tokens, &mut count);
    u32::try_from(count.chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// [`synthetic_text`]`(seed, target_tokens)` handed to `f` in pieces (words, spaces, stops)
/// instead of built: the pieces one after the other are the text.
pub fn synthetic_pieces(seed: u64, target_tokens: u32, f: impl FnMut(&str)) {
    write_synthetic(seed, target_tokens, &mut Pieces { bytes: 0, f });
}

/// Where synthetic text goes: a string, a count of its bytes and characters, or a function
/// of its pieces.
trait Sink {
    /// Bytes written so far.
    fn len(&self) -> usize;
    fn push_str(&mut self, s: &str);
    fn push(&mut self, c: char);
}

impl Sink for String {
    fn len(&self) -> usize {
        String::len(self)
    }
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

#[derive(Default)]
struct Count {
    bytes: usize,
    chars: u64,
}

impl Sink for Count {
    fn len(&self) -> usize {
        self.bytes
    }
    fn push_str(&mut self, s: &str) {
        self.bytes += s.len();
        // The words are ASCII: counting characters one by one is for the rest.
        self.chars += if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        } as u64;
    }
    fn push(&mut self, c: char) {
        self.bytes += c.len_utf8();
        self.chars += 1;
    }
}

/// The sink of [`synthetic_pieces`].
struct Pieces<F> {
    bytes: usize,
    f: F,
}

impl<F: FnMut(&str)> Sink for Pieces<F> {
    fn len(&self) -> usize {
        self.bytes
    }
    fn push_str(&mut self, s: &str) {
        self.bytes += s.len();
        (self.f)(s);
    }
    fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }
}

/// Characters of [`synthetic_text`]`(seed, target_tokens)`, without building the text: what
/// the token estimate of a text joined from pieces is computed from.
pub fn synthetic_chars(seed: u64, target_tokens: u32) -> u64 {
    let mut count = Count::default();
    write_synthetic(seed, target_tokens, &mut count);
    count.chars
}

/// The one definition of synthetic text, written into `out`.
fn write_synthetic(seed: u64, target_tokens: u32, out: &mut impl Sink) {
    let target_chars = u64::from(target_tokens) * 4;
    let mut i: u64 = 0;
    let mut in_sentence: u64 = 0;
    while (out.len() as u64) < target_chars {
        let w = word_at(seed, i);
        if out.len() != 0 {
            out.push(' ');
        }
        if in_sentence == 0 {
            let mut c = w.chars();
            if let Some(first) = c.next() {
                for u in first.to_uppercase() {
                    out.push(u);
                }
                out.push_str(c.as_str());
            }
        } else {
            out.push_str(w);
        }
        in_sentence += 1;
        i += 1;
        if in_sentence >= 8 + mix64(seed ^ i) % 8 {
            out.push('.');
            in_sentence = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_text_hits_its_token_target() {
        for target in [1u32, 7, 64, 500] {
            let t = synthetic_text(9, target);
            let est = estimate_tokens(&t);
            assert!(
                est >= target && est <= target + 4,
                "target {target}, got {est}"
            );
        }
        assert_eq!(synthetic_text(1, 0), "");
    }

    #[test]
    fn counted_tokens_equal_the_built_texts() {
        for seed in 0..50u64 {
            for target in [0u32, 1, 2, 5, 16, 100, 333] {
                assert_eq!(
                    synthetic_tokens(seed, target),
                    estimate_tokens(&synthetic_text(seed, target)),
                    "seed {seed}, target {target}"
                );
            }
        }
    }

    #[test]
    fn text_is_deterministic_and_seed_dependent() {
        assert_eq!(synthetic_text(3, 50), synthetic_text(3, 50));
        assert_ne!(synthetic_text(3, 50), synthetic_text(4, 50));
        assert_eq!(word_at(77, 5), word_at(77, 5));
    }

    #[test]
    fn estimate_counts_chars_over_four() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
        assert_eq!(estimate_tokens("abcdefghi"), 3);
    }
}
