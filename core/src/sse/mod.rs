//! A pure Server-Sent Events decoder for OpenAI-style streams, and a fast classifier for
//! the JSON chunks they carry.
//!
//! [`SseDecoder`] is fed bytes exactly as they come off the socket (events may be split at
//! any byte, several may arrive in one read) and calls back once per complete event with its
//! `data` (multi-line `data:` fields joined with `\n`, as the SSE spec says). Comments
//! (`:` lines), `event:`, `id:` and `retry:` fields are skipped. `\n`, `\r\n` and `\r` line
//! endings are accepted.
//!
//! [`classify_chunk`] reads an OpenAI chunk with a typed parse (so a malformed chunk is never
//! taken for a token), and [`ChunkClassifier`] keeps that parse off the per-token hot path:
//! servers send the same bytes around every token, so once a chunk's shape is learned, a chunk
//! made of the same bytes around another plain string is classified by two comparisons and a
//! scan of the string.

use memchr::memmem;
use serde::Deserialize;
use std::sync::LazyLock;

/// Incremental SSE decoder. Holds at most one incomplete event between calls.
#[derive(Debug, Default, Clone)]
pub struct SseDecoder {
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// `data` of the event being assembled.
    data: Vec<u8>,
    /// Whether the event being assembled has a `data` field yet.
    has_data: bool,
    /// The previous byte was `\r` (so a following `\n` belongs to the same line ending).
    after_cr: bool,
    /// The stream's start is behind: a byte-order mark was skipped there, or ruled out (it
    /// is only skipped at the very start).
    started: bool,
    /// Bytes of a byte-order mark read at the start so far, while not `started` (a mark may
    /// come split over reads).
    bom: u8,
}

/// The UTF-8 byte-order mark, which the SSE spec strips once at the start of a stream.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

impl SseDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; calls `on_event(data)` for each event completed by them.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(&[u8])) {
        // The SSE spec strips one UTF-8 byte-order mark at the start of the stream; its
        // bytes may come in several reads.
        while !self.started
            && let Some((&b, rest)) = bytes.split_first()
        {
            if b == BOM[usize::from(self.bom)] {
                self.bom += 1;
                bytes = rest;
                self.started = usize::from(self.bom) == BOM.len();
            } else {
                // Not a mark: the bytes read as one start the first line.
                self.line.extend_from_slice(&BOM[..usize::from(self.bom)]);
                self.started = true;
            }
        }
        while !bytes.is_empty() {
            // The common case, handed out without copying: a whole one-line `data:` event
            // ending in `\n\n`, with nothing buffered before it.
            if !self.after_cr
                && !self.has_data
                && self.line.is_empty()
                && bytes.starts_with(b"data:")
                && let Some(i) = memchr::memchr2(b'\n', b'\r', bytes)
                && bytes[i] == b'\n'
                && bytes.get(i + 1) == Some(&b'\n')
            {
                let value = &bytes[5..i];
                on_event(value.strip_prefix(b" ").unwrap_or(value));
                bytes = &bytes[i + 2..];
                continue;
            }
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', bytes) {
                None => {
                    self.line.extend_from_slice(bytes);
                    return;
                }
                Some(i) => {
                    let end_byte = bytes[i];
                    if self.line.is_empty() {
                        self.end_line(&bytes[..i], &mut on_event);
                    } else {
                        self.line.extend_from_slice(&bytes[..i]);
                        let line = std::mem::take(&mut self.line);
                        self.end_line(&line, &mut on_event);
                        self.line = line;
                        self.line.clear();
                    }
                    self.after_cr = end_byte == b'\r';
                    bytes = &bytes[i + 1..];
                }
            }
        }
    }

    /// How many bytes of an unfinished event are buffered (bounded by what the caller feeds:
    /// a caller that limits events checks this after each feed).
    pub fn buffered_len(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// Whether bytes of an unfinished event are buffered (a stream that ends now was cut).
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.has_data || (!self.started && self.bom > 0)
    }

    fn end_line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        if line.is_empty() {
            if self.has_data {
                on_event(&self.data);
                self.data.clear();
                self.has_data = false;
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }
}

/// Token usage as OpenAI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Generated tokens.
    #[serde(default)]
    pub completion_tokens: u32,
}

/// What one SSE `data` payload of an OpenAI stream means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkKind {
    /// `[DONE]`: the stream's end marker.
    Done,
    /// A JSON chunk.
    Json {
        /// It carries non-empty generated text.
        has_content: bool,
        /// Its `usage`, when present and not null.
        usage: Option<Usage>,
    },
    /// An in-stream error object (`{"error": ...}`), with its message.
    Error(String),
    /// Not JSON, or JSON of an unexpected shape.
    Malformed(String),
}

/// Classifies the chunks of a stream (or of successive streams from one server), learning
/// their shape: servers send the same JSON around every token (same id, model, index, trailing
/// fields), so once a content chunk has been classified, a later chunk made of the same bytes
/// around a different plain string is classified by two comparisons. Anything else goes
/// through [`classify_chunk`]; the result is always the same as `classify_chunk`'s (tested on
/// arbitrary bytes).
#[derive(Debug, Clone, Default)]
pub struct ChunkClassifier {
    /// The learned chunk up to and including the content string's opening quote.
    prefix: Vec<u8>,
    /// The learned chunk from the content string's closing quote on.
    suffix: Vec<u8>,
    /// Characters of generated text in the last chunk classified.
    content_chars: u32,
    /// Whether to keep the generated text of the last chunk (in `text`).
    capture: bool,
    /// The last chunk's generated text, when `capture` is on.
    text: String,
}

impl ChunkClassifier {
    /// A classifier that has learned nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps (or stops keeping) the generated text of each chunk classified, for
    /// [`ChunkClassifier::last_text`] (a caller that counts tokens with a tokenizer).
    pub fn capture_text(&mut self, on: bool) {
        self.capture = on;
        self.text.clear();
    }

    /// Characters of generated text (`delta.content` and `text`) in the last chunk
    /// classified (0 for anything but a JSON chunk).
    pub fn last_content_chars(&self) -> u32 {
        self.content_chars
    }

    /// The last chunk's generated text, when [`ChunkClassifier::capture_text`] is on.
    pub fn last_text(&self) -> &str {
        &self.text
    }

    /// Classifies one SSE `data` payload, as [`classify_chunk`] does.
    pub fn classify(&mut self, data: &[u8]) -> ChunkKind {
        self.content_chars = 0;
        self.text.clear();
        let trimmed = data.trim_ascii();
        if !self.prefix.is_empty()
            && trimmed.len() >= self.prefix.len() + self.suffix.len()
            && trimmed.starts_with(&self.prefix)
            && trimmed.ends_with(&self.suffix)
        {
            let content = &trimmed[self.prefix.len()..trimmed.len() - self.suffix.len()];
            // No quote, escape or control character, and valid UTF-8: the content is one
            // plain JSON string, so the chunk is the learned (valid) chunk with another string
            // in the same place, and a full parse would classify it the same way.
            if memchr::memchr2(b'"', b'\\', content).is_none()
                && !content.iter().any(|&b| b < 0x20)
                && let Ok(text) = std::str::from_utf8(content)
            {
                // Characters: every byte but UTF-8 continuation bytes.
                self.content_chars = content.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u32;
                if self.capture {
                    self.text.push_str(text);
                }
                return ChunkKind::Json {
                    has_content: !content.is_empty(),
                    usage: None,
                };
            }
        }
        let (kind, text) = classify_with_text(trimmed);
        self.content_chars = text.chars().count() as u32;
        if self.capture {
            self.text = text;
        }
        // Learned from a chunk that a full parse found well-formed, with content and nothing
        // else of note (no usage, no error).
        if matches!(
            kind,
            ChunkKind::Json {
                has_content: true,
                usage: None
            }
        ) {
            self.learn(trimmed);
        }
        kind
    }

    /// Learns the shape of a content chunk with exactly one `content` or `text` string.
    fn learn(&mut self, chunk: &[u8]) {
        let mut values = key_value_starts_with_rest(chunk, &CONTENT_KEY)
            .chain(key_value_starts_with_rest(chunk, &TEXT_KEY));
        let (Some(value), None) = (values.next(), values.next()) else {
            return;
        };
        if value.first() != Some(&b'"') {
            return;
        }
        let start = chunk.len() - value.len() + 1;
        let Some(len) = json_string_len(&value[1..]) else {
            return;
        };
        let (prefix, suffix) = (&chunk[..start], &chunk[start + len..]);
        if prefix == self.prefix && suffix == self.suffix {
            return;
        }
        // The string must be the one that makes the chunk a content chunk: emptied, the chunk
        // has no content. (A `content` or `text` key the parse ignores, with the real one
        // spelled with an escape, would otherwise be taken for it.)
        let emptied = [prefix, suffix].concat();
        if classify(&emptied)
            != (ChunkKind::Json {
                has_content: false,
                usage: None,
            })
        {
            return;
        }
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
        self.suffix.clear();
        self.suffix.extend_from_slice(suffix);
    }
}

/// The length of a JSON string's contents up to its closing quote (escapes skipped), or `None`
/// when it does not end.
fn json_string_len(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Classifies one SSE `data` payload of an OpenAI chat or completions stream, by a full,
/// typed parse: a payload that is not JSON, or whose `choices`, `delta.content`, `text`,
/// `finish_reason` or `usage` have the wrong type, is [`ChunkKind::Malformed`]; an `error`
/// object or a `finish_reason` of `error` or `abort` is [`ChunkKind::Error`].
pub fn classify_chunk(data: &[u8]) -> ChunkKind {
    classify(data.trim_ascii())
}

/// [`classify_chunk`] of a trimmed payload.
fn classify(trimmed: &[u8]) -> ChunkKind {
    classify_with_text(trimmed).0
}

/// [`classify`], with the chunk's generated text (empty unless it is a JSON chunk with some).
fn classify_with_text(trimmed: &[u8]) -> (ChunkKind, String) {
    if trimmed == b"[DONE]" {
        return (ChunkKind::Done, String::new());
    }
    if trimmed.first() != Some(&b'{') || trimmed.last() != Some(&b'}') {
        let kind = ChunkKind::Malformed(format!(
            "expected a JSON object or [DONE], got {:?}",
            String::from_utf8_lossy(&trimmed[..trimmed.len().min(80)])
        ));
        return (kind, String::new());
    }
    parse_chunk(trimmed)
}

/// The bytes from the value of every occurrence of `key` to the end of `data`.
fn key_value_starts_with_rest<'a>(
    data: &'a [u8],
    key: &'a Key,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let finder = &**key;
    let key_len = finder.needle().len();
    let mut from = 0;
    std::iter::from_fn(move || {
        while from + key_len <= data.len() {
            let pos = finder.find(&data[from..])? + from;
            from = pos + key_len;
            let mut rest = data[from..].trim_ascii_start();
            if let Some(r) = rest.strip_prefix(b":") {
                rest = r.trim_ascii_start();
                return Some(rest);
            }
        }
        None
    })
}

/// A JSON key (with its quotes) and its SIMD substring finder, built once.
type Key = LazyLock<memmem::Finder<'static>>;

static CONTENT_KEY: Key = LazyLock::new(|| memmem::Finder::new(b"\"content\""));
static TEXT_KEY: Key = LazyLock::new(|| memmem::Finder::new(b"\"text\""));

#[derive(Deserialize)]
struct FullChunk {
    #[serde(default)]
    choices: Option<Vec<FullChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FullChoice {
    #[serde(default)]
    delta: Option<FullDelta>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// `finish_reason` values with which servers end a stream that failed (vLLM: `abort`).
const FAILED_FINISH_REASONS: [&str; 2] = ["error", "abort"];

#[derive(Deserialize)]
struct FullDelta {
    #[serde(default)]
    content: Option<String>,
}

#[cfg(test)]
fn classify_slow(data: &[u8]) -> ChunkKind {
    parse_chunk(data).0
}

/// A full, typed parse of a JSON chunk: what it means, and its generated text.
fn parse_chunk(data: &[u8]) -> (ChunkKind, String) {
    let kind = match serde_json::from_slice::<FullChunk>(data) {
        Err(e) => ChunkKind::Malformed(format!("invalid JSON chunk: {e}")),
        Ok(c) => {
            if let Some(err) = c.error.filter(|e| !e.is_null()) {
                let msg = err
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| err.to_string());
                return (ChunkKind::Error(msg), String::new());
            }
            let choices = c.choices.unwrap_or_default();
            if let Some(reason) = choices
                .iter()
                .filter_map(|ch| ch.finish_reason.as_deref())
                .find(|r| FAILED_FINISH_REASONS.contains(r))
            {
                let msg = format!("the server ended the stream with finish_reason {reason:?}");
                return (ChunkKind::Error(msg), String::new());
            }
            let text: String = choices
                .iter()
                .flat_map(|ch| {
                    [
                        ch.delta.as_ref().and_then(|d| d.content.as_deref()),
                        ch.text.as_deref(),
                    ]
                })
                .flatten()
                .collect();
            return (
                ChunkKind::Json {
                    has_content: !text.is_empty(),
                    usage: c.usage,
                },
                text,
            );
        }
    };
    (kind, String::new())
}

#[cfg(test)]
mod tests;
