//! Response bodies: every SSE frame built once at start, and a body type that hands them to
//! hyper one frame at a time (no JSON serialization, no allocation per chunk).

use super::{Behavior, MAX_OUTPUT_TOKENS};
use bytes::Bytes;
use cpbench_core::text::WORDS;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// Distinct content chunks built per API; chunk `i` of an answer is `content[i % RING]`.
const RING: usize = 64;

/// The two LLM APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completions,
}

/// The pre-built frames of one API.
#[derive(Debug)]
pub(crate) struct ApiFrames {
    /// The role-only first chunk (chat only).
    role: Option<Bytes>,
    /// Full content chunks (`tokens_per_chunk` words each).
    content: Vec<Bytes>,
    /// `partial[r - 1]`: a last chunk of `r` words, `r < tokens_per_chunk`.
    partial: Vec<Bytes>,
    /// A content chunk cut off in the middle (not JSON).
    malformed: Bytes,
    /// The finish chunk with `finish_reason: "length"`.
    finish_length: Bytes,
    /// The finish chunk with `finish_reason: "stop"`.
    finish_stop: Bytes,
    /// The usage chunk up to the `usage` object.
    usage_prefix: String,
    /// The `id` of every response of this API.
    pub(crate) id: &'static str,
}

/// Every frame and text fragment the server sends, built once at start.
#[derive(Debug)]
pub(crate) struct Frames {
    pub(crate) chat: ApiFrames,
    pub(crate) completions: ApiFrames,
    /// `data: {"error":...}` as vLLM sends it when generation fails.
    error_event: Bytes,
    /// `data: [DONE]`.
    done: Bytes,
    /// The text of each ring chunk.
    ring_text: Vec<String>,
    /// The text of each partial chunk.
    partial_text: Vec<String>,
    /// The model name as a JSON string.
    pub(crate) model_json: String,
    /// One embedding vector as a JSON array.
    pub(crate) embedding_json: String,
}

/// What one LLM answer consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Full content chunks.
    pub(crate) full: u32,
    /// Words of a last, shorter chunk (0: none).
    pub(crate) partial: u32,
    /// Tokens (words) generated in all.
    pub(crate) completion_tokens: u32,
    /// The length came from `max_tokens` (`finish_reason: "length"`), else `"stop"`.
    pub(crate) from_max_tokens: bool,
}

impl Plan {
    /// The answer to a request asking for `max_tokens`.
    pub(crate) fn new(b: &Behavior, max_tokens: Option<u32>) -> Self {
        let tpc = b.tokens_per_chunk;
        match max_tokens {
            Some(m) if b.honor_max_tokens => {
                let m = m.min(MAX_OUTPUT_TOKENS);
                Self {
                    full: m / tpc,
                    partial: m % tpc,
                    completion_tokens: m,
                    from_max_tokens: true,
                }
            }
            _ => Self {
                full: b.chunks,
                partial: 0,
                completion_tokens: b.chunks.saturating_mul(tpc),
                from_max_tokens: false,
            },
        }
    }

    /// Content chunks in all.
    pub(crate) fn chunks(&self) -> u32 {
        self.full + u32::from(self.partial > 0)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn sse(json: &str) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

fn words(start: usize, n: u32) -> String {
    (0..n as usize)
        .map(|k| format!(" {}", WORDS[(start + k) % WORDS.len()]))
        .collect()
}

impl Frames {
    pub(crate) fn new(b: &Behavior) -> Self {
        let tpc = b.tokens_per_chunk;
        let model = json_str(&b.model);
        let ring_text: Vec<String> = (0..RING).map(|i| words(i * tpc as usize, tpc)).collect();
        let partial_text: Vec<String> = (1..tpc).map(|r| words(0, r)).collect();

        let chat_head = format!(
            r#"{{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,"model":{model},"choices":["#
        );
        let chat_delta = |text: &str| {
            sse(&format!(
                r#"{chat_head}{{"index":0,"delta":{{"content":{}}},"logprobs":null,"finish_reason":null}}]}}"#,
                json_str(text)
            ))
        };
        let chat = ApiFrames {
            role: Some(sse(&format!(
                r#"{chat_head}{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}"#
            ))),
            content: ring_text.iter().map(|t| chat_delta(t)).collect(),
            partial: partial_text.iter().map(|t| chat_delta(t)).collect(),
            malformed: Bytes::from(format!(
                "data: {chat_head}{{\"index\":0,\"delta\":{{\"content\":\" the\"\n\n"
            )),
            finish_length: sse(&format!(
                r#"{chat_head}{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"length"}}]}}"#
            )),
            finish_stop: sse(&format!(
                r#"{chat_head}{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]}}"#
            )),
            usage_prefix: format!("data: {chat_head}],\"usage\":"),
            id: "chatcmpl-fake",
        };

        let cmpl_head = format!(
            r#"{{"id":"cmpl-fake","object":"text_completion","created":0,"model":{model},"choices":["#
        );
        let cmpl_text = |text: &str, finish: &str| {
            sse(&format!(
                r#"{cmpl_head}{{"index":0,"text":{},"logprobs":null,"finish_reason":{finish},"stop_reason":null}}]}}"#,
                json_str(text)
            ))
        };
        let completions = ApiFrames {
            role: None,
            content: ring_text.iter().map(|t| cmpl_text(t, "null")).collect(),
            partial: partial_text.iter().map(|t| cmpl_text(t, "null")).collect(),
            malformed: Bytes::from(format!(
                "data: {cmpl_head}{{\"index\":0,\"text\":\" the\"\n\n"
            )),
            finish_length: cmpl_text("", "\"length\""),
            finish_stop: cmpl_text("", "\"stop\""),
            usage_prefix: format!("data: {cmpl_head}],\"usage\":"),
            id: "cmpl-fake",
        };

        let embedding: Vec<String> = (0..b.embedding_dim)
            .map(|i| {
                // Deterministic values in [-1, 1) with a short decimal form.
                let v = (cpbench_core::text::mix64(i as u64) % 2000) as f64 / 1000.0 - 1.0;
                format!("{v:.3}")
            })
            .collect();
        Self {
            chat,
            completions,
            error_event: sse(
                r#"{"error":{"object":"error","message":"generation failed in the engine (injected by the fake server)","type":"server_error","param":null,"code":500}}"#,
            ),
            done: Bytes::from_static(b"data: [DONE]\n\n"),
            ring_text,
            partial_text,
            model_json: model,
            embedding_json: format!("[{}]", embedding.join(",")),
        }
    }

    pub(crate) fn api(&self, api: Api) -> &ApiFrames {
        match api {
            Api::Chat => &self.chat,
            Api::Completions => &self.completions,
        }
    }

    /// The whole generated text of an answer.
    pub(crate) fn text(&self, plan: &Plan) -> String {
        let mut out = String::new();
        for i in 0..plan.full as usize {
            out.push_str(&self.ring_text[i % RING]);
        }
        if plan.partial > 0 {
            out.push_str(&self.partial_text[plan.partial as usize - 1]);
        }
        out
    }
}

impl ApiFrames {
    /// The usage-only chunk.
    pub(crate) fn usage_chunk(&self, prompt_tokens: u32, completion_tokens: u32) -> Bytes {
        Bytes::from(format!(
            "{}{{\"prompt_tokens\":{prompt_tokens},\"total_tokens\":{},\"completion_tokens\":{completion_tokens}}}}}\n\n",
            self.usage_prefix,
            u64::from(prompt_tokens) + u64::from(completion_tokens)
        ))
    }
}

/// The error a body returns to make hyper drop the connection mid-response.
#[derive(Debug, thiserror::Error)]
#[error("connection closed mid-body on purpose (break_stream_after)")]
pub(crate) struct Broken;

/// A response body: whole, cut off, or an SSE stream.
pub(crate) struct FakeBody(Inner);

enum Inner {
    Whole(Option<Bytes>),
    Cut(Cut),
    Sse(SseBody),
}

impl FakeBody {
    /// A complete body of known length.
    pub(crate) fn whole(bytes: impl Into<Bytes>) -> Self {
        Self(Inner::Whole(Some(bytes.into())))
    }

    /// The first half of `bytes`, then the connection is closed.
    pub(crate) fn cut(bytes: impl Into<Bytes>) -> Self {
        let mut bytes: Bytes = bytes.into();
        bytes.truncate(bytes.len() / 2);
        Self(Inner::Cut(Cut {
            head: Some(bytes),
            closing: Closing::default(),
        }))
    }

    /// An SSE stream.
    pub(crate) fn sse(s: SseBody) -> Self {
        Self(Inner::Sse(s))
    }
}

/// Closing the connection after what was sent has been flushed.
#[derive(Default)]
struct Closing {
    /// `Pending` was returned once, so hyper has flushed what it buffered.
    yielded: bool,
    /// The error was returned.
    done: bool,
}

impl Closing {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Broken>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.yielded {
            // hyper writes buffered frames out when the body is pending; an error now would
            // drop them with the connection.
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.done = true;
        Poll::Ready(Some(Err(Broken)))
    }
}

struct Cut {
    head: Option<Bytes>,
    closing: Closing,
}

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Role,
    Content,
    Usage,
    Done,
    End,
}

/// An SSE answer being sent.
pub(crate) struct SseBody {
    frames: Arc<Frames>,
    api: Api,
    phase: Phase,
    plan: Plan,
    /// Content chunks sent.
    sent: u32,
    usage: Option<Bytes>,
    cut_after: Option<u32>,
    error_after: Option<u32>,
    malformed: bool,
    ttft: Duration,
    gap: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The delay before content chunk `sent` is armed.
    sleeping: bool,
    closing: Closing,
}

impl SseBody {
    /// A stream of `plan`, faults from `b`, `usage` the usage chunk if one is to be sent.
    pub(crate) fn new(
        frames: Arc<Frames>,
        api: Api,
        plan: Plan,
        b: &Behavior,
        usage: Option<Bytes>,
    ) -> Self {
        Self {
            frames,
            api,
            phase: Phase::Role,
            plan,
            sent: 0,
            usage,
            cut_after: b.break_stream_after,
            error_after: b.in_stream_error.then(|| plan.chunks().min(1)),
            malformed: b.malformed,
            ttft: b.ttft_delay,
            gap: b.chunk_delay,
            sleep: None,
            sleeping: false,
            closing: Closing::default(),
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Broken>>> {
        let data = |b: &Bytes| Poll::Ready(Some(Ok(Frame::data(b.clone()))));
        loop {
            let api = self.frames.api(self.api);
            match self.phase {
                Phase::Role => {
                    self.phase = Phase::Content;
                    if let Some(role) = &api.role {
                        return data(role);
                    }
                }
                Phase::Content => {
                    let total = self.plan.chunks();
                    if self.error_after == Some(self.sent) {
                        self.phase = Phase::Done;
                        return data(&self.frames.error_event);
                    }
                    if self.sent < total && self.cut_after == Some(self.sent) {
                        return self.closing.poll(cx);
                    }
                    if self.sent == total {
                        self.phase = Phase::Usage;
                        return data(if self.plan.from_max_tokens {
                            &api.finish_length
                        } else {
                            &api.finish_stop
                        });
                    }
                    let delay = if self.sent == 0 { self.ttft } else { self.gap };
                    if !delay.is_zero() {
                        let sleep = self
                            .sleep
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                        if !self.sleeping {
                            self.sleeping = true;
                            sleep.as_mut().reset(tokio::time::Instant::now() + delay);
                        }
                        if sleep.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        self.sleeping = false;
                    }
                    let i = self.sent;
                    self.sent += 1;
                    let api = self.frames.api(self.api);
                    if self.malformed {
                        return data(&api.malformed);
                    }
                    return data(if i < self.plan.full {
                        &api.content[i as usize % RING]
                    } else {
                        &api.partial[self.plan.partial as usize - 1]
                    });
                }
                Phase::Usage => {
                    self.phase = Phase::Done;
                    if let Some(u) = self.usage.take() {
                        return Poll::Ready(Some(Ok(Frame::data(u))));
                    }
                }
                Phase::Done => {
                    if self.cut_after.is_some() {
                        return self.closing.poll(cx);
                    }
                    self.phase = Phase::End;
                    return data(&self.frames.done);
                }
                Phase::End => return Poll::Ready(None),
            }
        }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Broken;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match &mut self.get_mut().0 {
            Inner::Whole(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Cut(c) => match c.head.take() {
                Some(h) => Poll::Ready(Some(Ok(Frame::data(h)))),
                None => c.closing.poll(cx),
            },
            Inner::Sse(s) => s.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Whole(b) => b.is_none(),
            Inner::Cut(c) => c.closing.done,
            Inner::Sse(s) => s.phase == Phase::End,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Whole(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Whole(None) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}
