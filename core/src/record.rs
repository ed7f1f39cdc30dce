//! What was measured for one request: the input of all metric math.
//!
//! All times are integer microseconds from the start of the measured run (the instant the
//! first measured request was due). Latencies are measured from the **intended** send time
//! (`intended_us`), never from the actual send, so a client that falls behind cannot hide
//! server delay (no coordinated omission); the lateness `sent_us - intended_us` is kept
//! separately.

use crate::request::{Priority, RequestKind};
use crate::workload::RequestSpec;
use serde::{Deserialize, Serialize};

/// Where an output token count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The server's `usage` object.
    Usage,
    /// The number of content chunks received (one chunk may carry several tokens).
    Chunks,
    /// Estimated from the generated text (about four characters per token): a response
    /// without `usage` that came in one piece, or whose chunks carried several tokens each.
    Estimated,
    /// Counted by the model's tokenizer (`--tokenizer`) from the generated text, for a
    /// response without `usage`.
    Tokenizer,
    /// Nothing to count (embeddings, failed requests).
    None,
}

/// How a request ended. A failed request is data, not an `Err`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Completed with a 2xx status and a well-formed body or stream.
    Success,
    /// The server answered with a non-2xx status.
    Http {
        /// The HTTP status code.
        status: u16,
        /// The error message from the body, if any (truncated).
        message: String,
    },
    /// No complete answer within the per-request timeout.
    Timeout,
    /// Could not connect, or the connection failed before a response arrived.
    Connection {
        /// What the client library said.
        message: String,
    },
    /// A stream started but ended before `[DONE]` or broke mid-way.
    StreamBroken {
        /// What went wrong.
        message: String,
    },
    /// A 2xx response whose body could not be understood.
    Malformed {
        /// What was wrong with it.
        message: String,
    },
    /// A response (or one event of its stream) larger than the client accepts; reading
    /// stopped there.
    TooLarge {
        /// The limit that was exceeded, bytes.
        limit_bytes: u64,
        /// What exceeded it (`response body`, `SSE event`).
        what: String,
    },
    /// The run was interrupted (Ctrl-C) before this request finished.
    Cancelled,
}

impl std::fmt::Display for Outcome {
    /// The outcome in words: `succeeded`, `HTTP 404: model not found`, `timed out`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success => f.write_str("succeeded"),
            Self::Http { status, message } if message.is_empty() => write!(f, "HTTP {status}"),
            Self::Http { status, message } => write!(f, "HTTP {status}: {message}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Connection { message } => write!(f, "connection failed: {message}"),
            Self::StreamBroken { message } => write!(f, "stream broken: {message}"),
            Self::Malformed { message } => write!(f, "malformed response: {message}"),
            Self::TooLarge { limit_bytes, what } => {
                write!(f, "{what} larger than the limit of {limit_bytes} bytes")
            }
            Self::Cancelled => f.write_str("cancelled (the run was stopped)"),
        }
    }
}

impl Outcome {
    /// Whether the request succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// A stable key for counting failures by kind: `http_429`, `http_503`, `timeout`,
    /// `connection`, `stream_broken`, `malformed`, `cancelled`; `None` on success.
    pub fn error_key(&self) -> Option<String> {
        match self {
            Self::Success => None,
            Self::Http { status, .. } => Some(format!("http_{status}")),
            Self::Timeout => Some("timeout".into()),
            Self::Connection { .. } => Some("connection".into()),
            Self::StreamBroken { .. } => Some("stream_broken".into()),
            Self::Malformed { .. } => Some("malformed".into()),
            Self::TooLarge { .. } => Some("too_large".into()),
            Self::Cancelled => Some("cancelled".into()),
        }
    }
}

/// Everything measured for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RequestRecord {
    /// The request's id in the workload.
    pub id: u64,
    /// Request kind.
    pub kind: RequestKind,
    /// Priority class.
    pub priority: Priority,
    /// Model name sent.
    pub model: String,
    /// End-to-end deadline sent in `X-SLO-Deadline-Ms`.
    pub slo_deadline_ms: u64,
    /// When the request was due to be sent (from the schedule).
    pub intended_us: u64,
    /// When it was actually sent (after any `--max-concurrency` wait).
    pub sent_us: u64,
    /// Arrival of the first chunk carrying content (streaming), or of the whole response
    /// (non-streaming and embeddings). `None` when nothing arrived.
    pub first_token_us: Option<u64>,
    /// When the request ended (last byte, error, or timeout).
    pub end_us: u64,
    /// Gaps between consecutive content chunks, in microseconds (one entry per chunk after
    /// the first). A chunk carrying several tokens counts as one gap.
    pub itl_us: Vec<u32>,
    /// How it ended.
    pub outcome: Outcome,
    /// Output tokens (see `output_tokens_source`).
    pub output_tokens: u32,
    /// Where `output_tokens` came from.
    pub output_tokens_source: TokenSource,
    /// Content chunks received.
    pub chunks: u32,
    /// Prompt tokens reported by the server's `usage`, if it sent one.
    pub input_tokens: Option<u32>,
    /// The workload's estimate of the prompt tokens (`RequestSpec::prompt_tokens_est`), used
    /// where the server sent no `usage` (see [`input_tokens_or_est`](Self::input_tokens_or_est)).
    pub prompt_tokens_est: u32,
    /// `X-Queue-Time-Ms` response header, when present.
    pub queue_time_ms: Option<f64>,
    /// `X-Backend-Instance` response header, when present.
    pub backend_instance: Option<String>,
    /// Time spent waiting for a `--max-concurrency` slot before sending.
    pub concurrency_wait_us: u64,
    /// Output tokens asked for (`max_tokens`; 0 for embeddings and where unknown).
    #[serde(default)]
    pub max_tokens: u32,
}

impl RequestRecord {
    /// The record of request `id`, due at `intended_us`, before anything was measured: sent at
    /// its intended time and ended then too, nothing received (no first token, no chunks, no
    /// tokens, no `usage`, no response headers), no `--max-concurrency` wait, and outcome
    /// [`Outcome::Cancelled`], so a record whose outcome was never set counts as a failure.
    ///
    /// Every record is built from this one constructor (directly, through
    /// [`for_spec`](Self::for_spec), or as the base of struct update syntax:
    /// `RequestRecord { end_us, outcome, ..RequestRecord::for_spec(spec) }`), so a field added
    /// later gets its empty value here and nowhere else.
    pub fn new(
        id: u64,
        kind: RequestKind,
        priority: Priority,
        model: impl Into<String>,
        slo_deadline_ms: u64,
        prompt_tokens_est: u32,
        intended_us: u64,
    ) -> Self {
        Self {
            id,
            kind,
            priority,
            model: model.into(),
            slo_deadline_ms,
            intended_us,
            sent_us: intended_us,
            first_token_us: None,
            end_us: intended_us,
            itl_us: Vec::new(),
            outcome: Outcome::Cancelled,
            output_tokens: 0,
            output_tokens_source: TokenSource::None,
            chunks: 0,
            input_tokens: None,
            prompt_tokens_est,
            queue_time_ms: None,
            backend_instance: None,
            concurrency_wait_us: 0,
            max_tokens: 0,
        }
    }

    /// [`new`](Self::new) for a request of a workload: its id, kind, priority, model, deadline,
    /// prompt-token estimate and `max_tokens`, due at its `offset_us`.
    pub fn for_spec(spec: &RequestSpec) -> Self {
        Self {
            max_tokens: spec.max_tokens,
            ..Self::new(
                spec.id,
                spec.kind,
                spec.priority,
                spec.model.clone(),
                spec.slo_deadline_ms,
                spec.prompt_tokens_est,
                spec.offset_us,
            )
        }
    }

    /// Over the successful LLM requests that asked for a known number of tokens: output
    /// tokens received / tokens asked for, and how many requests that is; `None` when there
    /// are none. Far from 1, the server did not honour `max_tokens` (with `ignore_eos`), so
    /// token throughput and TPOT describe other answers than the workload's.
    pub fn output_length_ratio(records: &[RequestRecord]) -> Option<(f64, usize)> {
        let (mut got, mut asked, mut n) = (0u64, 0u64, 0usize);
        for r in records {
            if r.outcome.is_success() && r.kind.is_llm() && r.max_tokens > 0 {
                got += u64::from(r.output_tokens);
                asked += u64::from(r.max_tokens);
                n += 1;
            }
        }
        (asked > 0).then(|| (got as f64 / asked as f64, n))
    }

    /// Time to first token in ms, from the intended send time.
    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_token_us
            .map(|t| t.saturating_sub(self.intended_us) as f64 / 1000.0)
    }

    /// End-to-end latency in ms, from the intended send time.
    pub fn e2e_ms(&self) -> f64 {
        self.end_us.saturating_sub(self.intended_us) as f64 / 1000.0
    }

    /// Send lateness in ms: how far behind its schedule the client sent this request, not
    /// counting a deliberate `--max-concurrency` wait (`sent - intended - concurrency_wait`).
    pub fn lateness_ms(&self) -> f64 {
        self.sent_us
            .saturating_sub(self.intended_us)
            .saturating_sub(self.concurrency_wait_us) as f64
            / 1000.0
    }

    /// Input tokens for throughput: the server's `usage` count when present, else the
    /// workload's estimate.
    pub fn input_tokens_or_est(&self) -> u32 {
        self.input_tokens.unwrap_or(self.prompt_tokens_est)
    }

    /// Whether the response came in one piece (not streamed, or one chunk holding it all):
    /// it has no time between tokens of its own.
    pub fn in_one_piece(&self) -> bool {
        self.itl_us.is_empty() && self.chunks <= 1
    }

    /// Time per output token after the first, in ms: `(e2e - ttft) / (tokens - 1)`.
    /// `None` for failures, embeddings, requests with fewer than two output tokens, and
    /// responses that came in one piece (a non-streamed request has no TPOT, not a TPOT of 0).
    pub fn tpot_ms(&self) -> Option<f64> {
        if !self.outcome.is_success()
            || !self.kind.is_llm()
            || self.output_tokens < 2
            || self.in_one_piece()
        {
            return None;
        }
        let first = self.first_token_us?;
        Some(self.end_us.saturating_sub(first) as f64 / 1000.0 / f64::from(self.output_tokens - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_spec_copies_the_identity_and_measures_nothing() {
        let spec = RequestSpec {
            id: 7,
            offset_us: 1_500,
            kind: RequestKind::LlmGenerate,
            model: "qwen".into(),
            priority: Priority::High,
            slo_deadline_ms: 800,
            slo_ttft_ms: None,
            prompt: "hello".into(),
            prompt_tokens_est: 2,
            max_tokens: 16,
            inputs: Vec::new(),
        };
        let r = RequestRecord::for_spec(&spec);
        assert_eq!(
            r,
            RequestRecord {
                max_tokens: 16,
                ..RequestRecord::new(
                    7,
                    RequestKind::LlmGenerate,
                    Priority::High,
                    "qwen",
                    800,
                    2,
                    1_500
                )
            }
        );
        assert_eq!((r.sent_us, r.end_us), (1_500, 1_500));
        assert_eq!(r.outcome, Outcome::Cancelled);
        assert!(r.first_token_us.is_none() && r.itl_us.is_empty() && r.input_tokens.is_none());
        assert_eq!((r.output_tokens, r.chunks), (0, 0));
        assert_eq!(r.output_tokens_source, TokenSource::None);
        assert_eq!(r.e2e_ms(), 0.0);
        assert_eq!(r.lateness_ms(), 0.0);
        assert_eq!(r.input_tokens_or_est(), 2);
    }
}
