//! Prompt datasets, parsed from bytes (the runner reads the file; this module never opens it).
//!
//! Two formats:
//! - **ShareGPT** JSON: an array of `{"conversations": [{"from": "human", "value": "..."},
//!   {"from": "gpt", "value": "..."}, ...]}`. The prompt is the first human turn (`human` or
//!   `user`); the output length is the token estimate of the first reply after it (`gpt`,
//!   `assistant` or `chatgpt`). Conversations without a human turn are skipped and counted,
//!   as vLLM's ShareGPT loader does; other keys are ignored.
//! - **JSONL**: one object per non-blank line with `prompt` (or `text`) and optionally
//!   `output_tokens` (or `max_tokens`).
//!
//! Token counts are estimates ([`crate::text::estimate_tokens`]), not tokenizer counts.

use crate::text::estimate_tokens;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// The format of a dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// A ShareGPT-style JSON array of conversations.
    Sharegpt,
    /// One JSON object per line with `prompt` or `text`.
    Jsonl,
}

impl DatasetFormat {
    /// The name as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sharegpt => "sharegpt",
            Self::Jsonl => "jsonl",
        }
    }

    /// The format a file name's extension implies: `.jsonl` is JSONL, `.json` ShareGPT.
    pub fn from_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "json" => Some(Self::Sharegpt),
            _ => None,
        }
    }
}

impl fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One usable prompt of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// The prompt text.
    pub prompt: String,
    /// Estimated prompt tokens.
    pub prompt_tokens_est: u32,
    /// Output length: the estimate of the recorded reply (ShareGPT) or the given
    /// `output_tokens` (JSONL); `None` when the entry has none.
    pub output_tokens_est: Option<u32>,
    /// The rest of the conversation, when the dataset was read with its conversations
    /// ([`Dataset::parse_conversations`]): the reply to the prompt and the next human turn,
    /// and so on; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<DatasetTurn>,
}

/// A later turn of a dataset conversation: the recorded reply to the turn before, then the
/// next human prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetTurn {
    /// The recorded reply to the previous prompt.
    pub reply: String,
    /// The next human prompt.
    pub prompt: String,
    /// Estimated tokens of the reply to this prompt; `None` when the conversation records
    /// none.
    pub output_tokens_est: Option<u32>,
}

impl DatasetEntry {
    /// An entry for a prompt, estimating its tokens.
    pub fn new(prompt: String, output_tokens_est: Option<u32>) -> Self {
        Self {
            prompt_tokens_est: estimate_tokens(&prompt),
            prompt,
            output_tokens_est,
            turns: Vec::new(),
        }
    }

    /// Turns of its conversation: 1 plus its later [`turns`](Self::turns).
    pub fn num_turns(&self) -> u32 {
        u32::try_from(self.turns.len() + 1).unwrap_or(u32::MAX)
    }

    /// The output length of turn `turn` (0-based): the estimate of the recorded reply.
    pub fn output_tokens_of(&self, turn: u32) -> Option<u32> {
        match turn {
            0 => self.output_tokens_est,
            t => self.turns.get(t as usize - 1)?.output_tokens_est,
        }
    }
}

/// A parsed dataset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Dataset {
    /// The usable entries, in file order.
    pub entries: Vec<DatasetEntry>,
    /// Entries of the file that were skipped (ShareGPT conversations with no human turn or
    /// an empty prompt).
    pub skipped: usize,
}

/// Why a dataset could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DatasetError {
    /// The ShareGPT JSON is malformed; `message` names the entry index, the field and the
    /// position.
    #[error("ShareGPT dataset: {message}")]
    ShareGpt {
        /// What is wrong, and where.
        message: String,
    },
    /// A JSONL line is malformed or lacks a field.
    #[error("JSONL dataset line {line}: {message}")]
    JsonlLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no usable entry.
    #[error(
        "{format} dataset has no usable entries ({skipped} skipped): expected at least one prompt"
    )]
    Empty {
        /// The format read.
        format: DatasetFormat,
        /// How many entries were skipped.
        skipped: usize,
    },
}

impl Dataset {
    /// Parses a dataset of the given format.
    pub fn parse(bytes: &[u8], format: DatasetFormat) -> Result<Self, DatasetError> {
        match format {
            DatasetFormat::Sharegpt => Self::parse_sharegpt(bytes),
            DatasetFormat::Jsonl => Self::parse_jsonl(bytes),
        }
    }

    /// Parses ShareGPT JSON (see the module doc).
    pub fn parse_sharegpt(bytes: &[u8]) -> Result<Self, DatasetError> {
        Self::sharegpt(bytes, false)
    }

    /// Parses a dataset keeping each ShareGPT conversation's later turns
    /// ([`DatasetEntry::turns`]), for sessions that replay them: after the first human turn,
    /// each reply and the human turn after it, up to the first human turn with no reply
    /// (which is kept, without an output length, when it is the last) or two human turns in
    /// a row. JSONL has no conversations and is read as [`Self::parse`] does.
    pub fn parse_conversations(bytes: &[u8], format: DatasetFormat) -> Result<Self, DatasetError> {
        match format {
            DatasetFormat::Sharegpt => Self::sharegpt(bytes, true),
            DatasetFormat::Jsonl => Self::parse_jsonl(bytes),
        }
    }

    fn sharegpt(bytes: &[u8], conversations: bool) -> Result<Self, DatasetError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let ds = serde::Deserializer::deserialize_seq(&mut de, ShareGptVisitor { conversations })
            .and_then(|ds| de.end().map(|()| ds))
            .map_err(|e| DatasetError::ShareGpt {
                message: e.to_string(),
            })?;
        if ds.entries.is_empty() {
            return Err(DatasetError::Empty {
                format: DatasetFormat::Sharegpt,
                skipped: ds.skipped,
            });
        }
        Ok(ds)
    }

    /// Parses JSONL (see the module doc).
    pub fn parse_jsonl(bytes: &[u8]) -> Result<Self, DatasetError> {
        let mut entries = Vec::new();
        crate::jsonl::for_each_line(
            bytes,
            |line, message| DatasetError::JsonlLine { line, message },
            |raw: RawJsonlLine| {
                let prompt = match (raw.prompt, raw.text) {
                    (Some(p), _) | (None, Some(p)) => p,
                    (None, None) => return Err("missing field `prompt` (or `text`)".to_string()),
                };
                if prompt.is_empty() {
                    return Err("`prompt`: got \"\", expected non-empty text".to_string());
                }
                let output = raw.output_tokens.or(raw.max_tokens);
                if output == Some(0) {
                    return Err("`output_tokens`: got 0, expected at least 1".to_string());
                }
                entries.push(DatasetEntry::new(prompt, output));
                Ok(())
            },
        )?;
        if entries.is_empty() {
            return Err(DatasetError::Empty {
                format: DatasetFormat::Jsonl,
                skipped: 0,
            });
        }
        Ok(Self {
            entries,
            skipped: 0,
        })
    }

    /// Number of usable entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no usable entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[derive(Deserialize)]
struct RawJsonlLine {
    prompt: Option<String>,
    text: Option<String>,
    output_tokens: Option<u32>,
    max_tokens: Option<u32>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object with `conversations`: [{\"from\": ..., \"value\": ...}, ...]")]
struct RawConversation {
    conversations: Vec<RawTurn>,
}

#[derive(Deserialize)]
#[serde(expecting = "a turn {\"from\": ..., \"value\": ...}")]
struct RawTurn {
    from: String,
    value: String,
}

fn is_human(from: &str) -> bool {
    matches!(from, "human" | "user")
}

fn is_reply(from: &str) -> bool {
    matches!(from, "gpt" | "assistant" | "chatgpt")
}

/// A streaming visitor over the top-level array, so each entry is converted as it is read
/// (no whole-file `Value` tree) and errors carry the entry's index; `conversations` keeps
/// the later turns.
struct ShareGptVisitor {
    conversations: bool,
}

/// The later turns of a conversation whose first human turn is at `h`.
fn later_turns(conv: &[RawTurn], h: usize) -> Vec<DatasetTurn> {
    let mut out = Vec::new();
    let mut i = h + 1;
    // Each step: the reply to the last prompt, then the next human turn.
    while let Some(reply) = conv[i..].iter().position(|t| is_reply(&t.from)) {
        let reply = i + reply;
        if conv[i..reply].iter().any(|t| is_human(&t.from)) {
            break;
        }
        let Some(next) = conv[reply + 1..].iter().position(|t| is_human(&t.from)) else {
            break;
        };
        let next = reply + 1 + next;
        if conv[next].value.is_empty() {
            break;
        }
        let answer = conv[next + 1..]
            .iter()
            .take_while(|t| !is_human(&t.from))
            .find(|t| is_reply(&t.from))
            .map(|t| estimate_tokens(&t.value).max(1));
        out.push(DatasetTurn {
            reply: conv[reply].value.clone(),
            prompt: conv[next].value.clone(),
            output_tokens_est: answer,
        });
        if answer.is_none() {
            break;
        }
        i = next + 1;
    }
    out
}

impl<'de> Visitor<'de> for ShareGptVisitor {
    type Value = Dataset;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of {\"conversations\": [...]} objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dataset, A::Error> {
        let mut ds = Dataset::default();
        let mut index = 0usize;
        loop {
            let item = seq
                .next_element::<RawConversation>()
                .map_err(|e| de::Error::custom(format_args!("entry {index}: {e}")))?;
            let Some(conv) = item else { break };
            let human = conv.conversations.iter().position(|t| is_human(&t.from));
            match human {
                Some(h) if !conv.conversations[h].value.is_empty() => {
                    let reply = conv.conversations[h + 1..]
                        .iter()
                        .find(|t| is_reply(&t.from))
                        .map(|t| estimate_tokens(&t.value).max(1));
                    let turns = if self.conversations && reply.is_some() {
                        later_turns(&conv.conversations, h)
                    } else {
                        Vec::new()
                    };
                    let prompt = conv.conversations.into_iter().nth(h).map(|t| t.value);
                    let mut entry = DatasetEntry::new(prompt.unwrap_or_default(), reply);
                    entry.turns = turns;
                    ds.entries.push(entry);
                }
                _ => ds.skipped += 1,
            }
            index += 1;
        }
        Ok(ds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharegpt_takes_first_human_turn_and_first_reply() {
        let json = br#"[
          {"id": "a", "conversations": [
            {"from": "system", "value": "be nice"},
            {"from": "human", "value": "What is a queue?"},
            {"from": "gpt", "value": "A line of waiting requests, served in order."},
            {"from": "human", "value": "ignored"}]},
          {"id": "b", "conversations": []},
          {"id": "c", "conversations": [{"from": "human", "value": "no reply"}]}
        ]"#;
        let ds = Dataset::parse(json, DatasetFormat::Sharegpt).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.skipped, 1);
        assert_eq!(ds.entries[0].prompt, "What is a queue?");
        assert_eq!(ds.entries[0].prompt_tokens_est, 4);
        assert_eq!(ds.entries[0].output_tokens_est, Some(11));
        assert_eq!(ds.entries[1].output_tokens_est, None);
    }

    #[test]
    fn sharegpt_errors_name_entry_and_field() {
        let json = br#"[{"conversations": []}, {"turns": []}]"#;
        let e = Dataset::parse_sharegpt(json).unwrap_err().to_string();
        assert!(e.contains("entry 1"), "{e}");
        assert!(e.contains("missing field `conversations`"), "{e}");
        assert!(e.contains("line 1"), "{e}");
        let json = br#"[{"conversations": [{"from": "human"}]}]"#;
        let e = Dataset::parse_sharegpt(json).unwrap_err().to_string();
        assert!(e.contains("entry 0") && e.contains("`value`"), "{e}");
        let e = Dataset::parse_sharegpt(b"{}").unwrap_err().to_string();
        assert!(e.contains("array"), "{e}");
        let e = Dataset::parse_sharegpt(b"[{\"conversations\": []}]").unwrap_err();
        assert_eq!(
            e,
            DatasetError::Empty {
                format: DatasetFormat::Sharegpt,
                skipped: 1
            }
        );
    }

    #[test]
    fn jsonl_reads_prompt_or_text_and_optional_output() {
        let text = b"{\"prompt\": \"hello there\", \"output_tokens\": 20}\n\n{\"text\": \"abc\", \"max_tokens\": 5, \"x\": 1}\n{\"prompt\": \"p\"}\n";
        let ds = Dataset::parse(text, DatasetFormat::Jsonl).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.entries[0].output_tokens_est, Some(20));
        assert_eq!(ds.entries[1].prompt, "abc");
        assert_eq!(ds.entries[1].output_tokens_est, Some(5));
        assert_eq!(ds.entries[2].output_tokens_est, None);
    }

    #[test]
    fn jsonl_errors_name_line_and_field() {
        let e = Dataset::parse_jsonl(b"{\"prompt\": \"a\"}\n{\"output_tokens\": 3}\n").unwrap_err();
        assert_eq!(
            e,
            DatasetError::JsonlLine {
                line: 2,
                message: "missing field `prompt` (or `text`)".into()
            }
        );
        let e = Dataset::parse_jsonl(b"{\"prompt\": 5}")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("JSONL dataset line 1:") && e.contains("invalid type"),
            "{e}"
        );
        assert!(matches!(
            Dataset::parse_jsonl(b"\n"),
            Err(DatasetError::Empty { .. })
        ));
    }

    #[test]
    fn format_from_path() {
        assert_eq!(
            DatasetFormat::from_path("a/b.JSONL"),
            Some(DatasetFormat::Jsonl)
        );
        assert_eq!(
            DatasetFormat::from_path("x.json"),
            Some(DatasetFormat::Sharegpt)
        );
        assert_eq!(DatasetFormat::from_path("x.csv"), None);
        assert_eq!(DatasetFormat::from_path("noext"), None);
    }
}
