//! What is measured while a request is in flight, whichever transport carries it: the clock
//! readings, the SSE stream's content chunks, usage, and the response headers that matter.

use super::PreparedRequest;
use cpbench_core::record::{Outcome, TokenSource};
use cpbench_core::request::RequestKind;
use cpbench_core::sse::{ChunkClassifier, ChunkKind, SseDecoder, Usage};
use cpbench_core::text::estimate_tokens;
use serde::Deserialize;
use std::borrow::Cow;
use std::time::Instant;

/// Longest error message kept in a record.
const MAX_MESSAGE_CHARS: usize = 200;

/// Largest SSE event accepted (one chunk of a stream is a few hundred bytes; an event this
/// large is a server out of order, and holding it would take memory without bound).
pub(super) const MAX_SSE_EVENT_BYTES: usize = 1 << 20;

/// Measurements of one request; survives a timeout (the times read so far are kept).
pub(super) struct Measure {
    t0: Instant,
    pub(super) first_token_us: Option<u64>,
    last_content_us: Option<u64>,
    pub(super) end_us: Option<u64>,
    pub(super) itl_us: Vec<u32>,
    pub(super) chunks: u32,
    pub(super) usage: Option<Usage>,
    estimated_output_tokens: Option<u32>,
    pub(super) queue_time_ms: Option<f64>,
    pub(super) backend_instance: Option<String>,
    /// Body bytes read so far, and the most accepted.
    body_bytes: u64,
    max_body_bytes: u64,
    /// Characters of generated text received (streams).
    content_chars: u64,
    /// The generated text, kept only when a tokenizer will count it.
    text: Option<String>,
}

/// The state of an SSE body being read.
#[derive(Default)]
pub(super) struct StreamState {
    dec: SseDecoder,
    /// Kept by the connection from one stream to the next (the same server sends the same
    /// shape of chunks).
    pub(super) classifier: ChunkClassifier,
    done: bool,
    problem: Option<Outcome>,
}

impl StreamState {
    /// A stream read with a classifier that may already know the chunks' shape.
    pub(super) fn with_classifier(classifier: ChunkClassifier) -> Self {
        Self {
            classifier,
            ..Self::default()
        }
    }

    /// Whether the stream has said all it will: `[DONE]`, an error event or a malformed chunk.
    pub(super) fn finished(&self) -> bool {
        self.done || self.problem.is_some()
    }

    /// Whether `[DONE]` has been read (and no problem before it).
    pub(super) fn is_done(&self) -> bool {
        self.done && self.problem.is_none()
    }
}

impl Measure {
    pub(super) fn new(
        t0: Instant,
        expected_chunks: u32,
        max_body_bytes: u64,
        keep_text: bool,
    ) -> Self {
        Self {
            t0,
            first_token_us: None,
            last_content_us: None,
            end_us: None,
            itl_us: Vec::with_capacity(expected_chunks.min(4096) as usize),
            chunks: 0,
            usage: None,
            estimated_output_tokens: None,
            queue_time_ms: None,
            backend_instance: None,
            body_bytes: 0,
            max_body_bytes,
            content_chars: 0,
            text: keep_text.then(String::new),
        }
    }

    /// Counts `n` more body bytes; the outcome to end with when that is over the limit.
    pub(super) fn count_body(&mut self, n: usize) -> Option<Outcome> {
        self.body_bytes = self.body_bytes.saturating_add(n as u64);
        (self.body_bytes > self.max_body_bytes).then(|| Outcome::TooLarge {
            limit_bytes: self.max_body_bytes,
            what: "response body".into(),
        })
    }

    pub(super) fn now_us(&self) -> u64 {
        self.now_us_at(Instant::now())
    }

    pub(super) fn now_us_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX)
    }

    /// Reads `X-Backend-Instance` and `X-Queue-Time-Ms` (header names are case-insensitive).
    pub(super) fn read_header(&mut self, name: &str, value: &[u8]) {
        if name.eq_ignore_ascii_case("x-backend-instance") {
            self.backend_instance = std::str::from_utf8(value).ok().map(|v| v.trim().to_owned());
        } else if name.eq_ignore_ascii_case("x-queue-time-ms") {
            self.queue_time_ms = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite());
        }
    }

    /// Feeds SSE body bytes that arrived at `now_us` (one clock reading per network read).
    /// A body over the limit, or an event over [`MAX_SSE_EVENT_BYTES`], ends the stream as
    /// [`Outcome::TooLarge`].
    pub(super) fn feed_stream(&mut self, s: &mut StreamState, bytes: &[u8], now_us: u64) {
        if let Some(too_large) = self.count_body(bytes.len()) {
            s.problem.get_or_insert(too_large);
            return;
        }
        let StreamState {
            dec,
            classifier,
            done,
            problem,
        } = s;
        classifier.capture_text(self.text.is_some());
        dec.feed(bytes, |data| {
            if *done || problem.is_some() {
                return;
            }
            let kind = classifier.classify(data);
            self.content_chars += u64::from(classifier.last_content_chars());
            if let Some(t) = &mut self.text {
                t.push_str(classifier.last_text());
            }
            match kind {
                ChunkKind::Done => *done = true,
                ChunkKind::Json { has_content, usage } => {
                    if let Some(u) = usage {
                        self.usage = Some(u);
                    }
                    if has_content {
                        self.chunks += 1;
                        match self.last_content_us {
                            None => self.first_token_us = Some(now_us),
                            Some(prev) => self
                                .itl_us
                                .push(u32::try_from(now_us - prev).unwrap_or(u32::MAX)),
                        }
                        self.last_content_us = Some(now_us);
                    }
                }
                ChunkKind::Error(msg) => {
                    *problem = Some(Outcome::StreamBroken {
                        message: truncate(&format!("error event in stream: {msg}")),
                    })
                }
                ChunkKind::Malformed(msg) => {
                    *problem = Some(Outcome::Malformed {
                        message: truncate(&msg),
                    })
                }
            }
        });
        if dec.buffered_len() > MAX_SSE_EVENT_BYTES {
            problem.get_or_insert(Outcome::TooLarge {
                limit_bytes: MAX_SSE_EVENT_BYTES as u64,
                what: "SSE event".into(),
            });
        }
    }

    /// The outcome of an SSE body that has ended (or stopped being read).
    pub(super) fn finish_stream(&mut self, s: StreamState) -> Outcome {
        if let Some(p) = s.problem {
            return p;
        }
        if !s.done {
            return Outcome::StreamBroken {
                message: if s.dec.has_partial() {
                    "stream ended in the middle of an event".into()
                } else {
                    "stream ended without data: [DONE]".into()
                },
            };
        }
        Outcome::Success
    }

    /// Reads a whole (non-streamed) success body. The generated text is borrowed from the
    /// body (not copied) and only measured when the server sent no `usage`.
    pub(super) fn read_whole_body(&mut self, req: &PreparedRequest, body: &[u8]) -> Outcome {
        #[derive(Deserialize)]
        struct Whole<'a> {
            #[serde(default, borrow)]
            choices: Option<Vec<WholeChoice<'a>>>,
            #[serde(default)]
            data: Option<Vec<serde::de::IgnoredAny>>,
            #[serde(default)]
            usage: Option<Usage>,
        }
        #[derive(Deserialize)]
        struct WholeChoice<'a> {
            #[serde(default, borrow)]
            message: Option<WholeMessage<'a>>,
            #[serde(default, borrow)]
            text: Option<Cow<'a, str>>,
        }
        #[derive(Deserialize)]
        struct WholeMessage<'a> {
            #[serde(default, borrow)]
            content: Option<Cow<'a, str>>,
        }
        let w: Whole<'_> = match serde_json::from_slice(body) {
            Ok(w) => w,
            Err(e) => {
                return Outcome::Malformed {
                    message: truncate(&format!("response is not the expected JSON: {e}")),
                };
            }
        };
        self.usage = w.usage;
        if req.spec.kind.is_llm() {
            let Some(choices) = w.choices else {
                return Outcome::Malformed {
                    message: "response has no \"choices\"".into(),
                };
            };
            self.chunks = 1;
            if self.usage.is_none() {
                let text: String = choices
                    .iter()
                    .filter_map(|c| {
                        c.message
                            .as_ref()
                            .and_then(|m| m.content.as_deref())
                            .or(c.text.as_deref())
                    })
                    .collect();
                self.estimated_output_tokens = Some(estimate_tokens(&text));
                if let Some(t) = &mut self.text {
                    *t = text;
                }
            }
        } else {
            let n = w.data.map(|d| d.len()).unwrap_or(0);
            if n != req.spec.inputs.len() {
                return Outcome::Malformed {
                    message: format!(
                        "embeddings response has {n} vectors for {} inputs",
                        req.spec.inputs.len()
                    ),
                };
            }
        }
        Outcome::Success
    }

    /// Output tokens and where the count came from: the server's `usage`; without it, the
    /// tokenizer's count of the generated text when there is a tokenizer; else, for a
    /// response in one piece, an estimate from its text; for a stream, its content chunks,
    /// unless the text says they carried several tokens each (an estimate of at least 1.5
    /// tokens a chunk), when the estimate is the better count.
    pub(super) fn output_tokens(
        &self,
        kind: RequestKind,
        outcome: &Outcome,
        tokenizer: Option<&tokenizers::Tokenizer>,
    ) -> (u32, TokenSource) {
        if !kind.is_llm() {
            return (0, TokenSource::None);
        }
        if let Some(u) = self.usage {
            return (u.completion_tokens, TokenSource::Usage);
        }
        if let (Some(tok), Some(text)) = (tokenizer, &self.text)
            && (self.chunks > 0 || outcome.is_success())
            && let Ok(enc) = tok.encode(text.as_str(), false)
        {
            return (enc.len() as u32, TokenSource::Tokenizer);
        }
        if let Some(n) = self.estimated_output_tokens {
            return (n, TokenSource::Estimated);
        }
        if self.chunks > 0 || outcome.is_success() {
            let estimate = u32::try_from(self.content_chars.div_ceil(4)).unwrap_or(u32::MAX);
            if u64::from(estimate) * 2 >= u64::from(self.chunks) * 3 && self.chunks > 0 {
                return (estimate, TokenSource::Estimated);
            }
            return (self.chunks, TokenSource::Chunks);
        }
        (0, TokenSource::None)
    }
}

/// Whether a `Content-Type` value announces Server-Sent Events (case-insensitive).
pub(super) fn is_event_stream(content_type: &[u8]) -> bool {
    const SSE: &[u8] = b"text/event-stream";
    content_type.len() >= SSE.len() && content_type[..SSE.len()].eq_ignore_ascii_case(SSE)
}

/// The message of an OpenAI-shaped error body, or the body's start.
pub(super) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => truncate(&e.error.message),
        Err(_) => truncate(String::from_utf8_lossy(body).trim()),
    }
}

/// `s`, cut to [`MAX_MESSAGE_CHARS`] characters.
pub(super) fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
        t.push('…');
        t
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    truncate(&s)
}
