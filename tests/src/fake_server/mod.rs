//! A fake OpenAI-compatible control plane for end-to-end tests and load benchmarks.
//!
//! [`FakeServer::start`] binds `127.0.0.1:0` and serves HTTP/1.1 with keep-alive (hyper on
//! the caller's tokio runtime) until [`FakeServer::shutdown`] or drop. What it answers is set
//! by a [`Behavior`]; [`Behavior::default`] is a well-behaved, zero-delay OpenAI server with an
//! honest admin API (see `docs/CONTRACT.md`).
//!
//! # Endpoints
//! - `POST /v1/chat/completions`, `POST /v1/completions`: with `"stream": true`, Server-Sent
//!   Events as OpenAI and vLLM send them: a role chunk (chat only, `delta` with `role` and an
//!   empty `content`), the content chunks (each carrying [`Behavior::tokens_per_chunk`] words,
//!   one word counted as one token), a finish chunk (`finish_reason` `"length"` when the output
//!   length came from `max_tokens`, else `"stop"`), a usage-only chunk (`"choices": []`) when
//!   the body asks for `stream_options.include_usage` and [`Behavior::send_usage`] is on, then
//!   `data: [DONE]`. Without `"stream"`, [`Behavior::mode`] decides. Non-streamed: one JSON
//!   with `choices[0].message.content` (chat) or `choices[0].text` (completions) and `usage`.
//!   Output length: `max_tokens` (or `max_completion_tokens`) from the body when
//!   [`Behavior::honor_max_tokens`] is on and the body has one (capped at
//!   [`MAX_OUTPUT_TOKENS`]), else [`Behavior::chunks`] full chunks.
//!   Ids are fixed (`chatcmpl-fake`, `cmpl-fake`), `created` is 0 and `model` is
//!   [`Behavior::model`], whatever the request named: every frame is built once at start.
//! - `POST /v1/embeddings`: one vector of [`Behavior::embedding_dim`] numbers per input
//!   (`input` a string, an array of strings, an array of token ids, or an array of those).
//! - `GET /health`: 200 `{"status":"ok"}`; 503 `{"status":"starting"}` until
//!   [`Behavior::health_delay`] has passed since start; 404 when [`Behavior::serve_health`]
//!   is off.
//! - `GET /v1/models`: an OpenAI model list naming [`Behavior::model`].
//! - `/admin/*`: see [`AdminMode`].
//!
//! `prompt_tokens` in `usage` is `cpbench_core::text::estimate_tokens` of the prompt (summed
//! over messages), an estimate like the runner's own.
//!
//! # Fault injection (inference endpoints only)
//! Applied in this order: [`Behavior::stall`], then [`Behavior::fail_status`], then the body
//! faults ([`Behavior::break_stream_after`], [`Behavior::in_stream_error`],
//! [`Behavior::malformed`]). Which requests fail with `fail_status` is deterministic: see
//! [`Behavior::fail_status`].
//!
//! # Counters
//! `/admin/metrics` counts inference requests: `received` on arrival; then exactly one of
//! `rejected` (an injected 429 or 503), `failed` (any other injected status, a 400 for a bad
//! body, or a body fault) or `completed`, when the response starts.

mod body;
pub mod cli;
mod handler;

use bytes::Bytes;
use handler::State;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Largest output length, in tokens, a request's `max_tokens` can ask of the fake server.
pub const MAX_OUTPUT_TOKENS: u32 = 1 << 20;

/// The policies an honest admin API knows by default: those of the reference control plane.
pub const REFERENCE_POLICIES: &[&str] = &cpbench_core::cluster::POLICY_NAMES;

/// What an LLM request that does not say whether to stream is answered with, and which
/// endpoints are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// LLM requests without `"stream"` are streamed (SSE).
    Sse,
    /// LLM requests without `"stream"` get one JSON body (OpenAI's default).
    #[default]
    Plain,
    /// An embedding-only server: `/v1/embeddings` is served, the LLM endpoints answer 404
    /// with an OpenAI error, as a server hosting only an embedding model would.
    Embeddings,
}

/// How the `/admin/*` endpoints behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AdminMode {
    /// Per `docs/CONTRACT.md`: `POST /admin/set_policy` switches among [`Behavior::policies`]
    /// (unknown name: 400 listing them), `GET /admin/policy`, `GET /admin/metrics`,
    /// `POST /admin/reset` (zeroes the counters).
    #[default]
    Honest,
    /// Every `/admin/*` path answers 404.
    Missing,
    /// `set_policy` answers 200 echoing any name, but the policy never changes:
    /// `/admin/policy` and `/admin/metrics` keep reporting the first one.
    Lying,
    /// Honest, except that `/admin/reset` answers 404.
    NoReset,
}

/// Everything the fake server can be told to do. Combine fields freely:
/// `Behavior { chunks: 4, chunk_delay: Duration::from_millis(5), ..Behavior::default() }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// LLM requests without `"stream"`: streamed or not; and whether LLM endpoints exist.
    pub mode: Mode,
    /// Content chunks of an answer whose length does not come from `max_tokens`.
    pub chunks: u32,
    /// Words (counted as tokens) per content chunk; at least 1.
    pub tokens_per_chunk: u32,
    /// Take the output length from the request's `max_tokens` when it has one.
    pub honor_max_tokens: bool,
    /// Send `usage` (non-streamed bodies; the usage chunk when the request asks for it).
    pub send_usage: bool,
    /// The `model` every response names.
    pub model: String,
    /// Wait before the first content chunk (streamed) or before answering (non-streamed).
    pub ttft_delay: Duration,
    /// Wait between content chunks (streamed); non-streamed answers wait
    /// `ttft_delay + (chunks - 1) * chunk_delay` in all.
    pub chunk_delay: Duration,
    /// Numbers per embedding vector; at least 1.
    pub embedding_dim: usize,
    /// Wait before answering an embeddings request.
    pub embedding_delay: Duration,
    /// `Some((status, fraction))`: answer that fraction of inference requests with `status`
    /// (400..=599) and an OpenAI error body. Deterministic: a request with an `X-Request-ID`
    /// fails when a 64-bit FNV-1a hash of the id, mixed by `cpbench_core::text::mix64`,
    /// falls in the lowest `fraction` of the `u64` range (the same id always gets the same
    /// answer); a request without one is the `n`-th such request since start or the last
    /// `/admin/reset` (`n` from 0) and fails when `floor((n + 1) * fraction)` exceeds
    /// `floor(n * fraction)`: exactly every k-th request for `fraction = 1/k`.
    pub fail_status: Option<(u16, f64)>,
    /// `Some(n)`: a stream sends `n` content chunks (fewer if the answer has fewer), then the
    /// connection is closed mid-body: no `[DONE]`, no chunked-encoding end. If the answer has
    /// at most `n` chunks, the finish and usage chunks are sent and the close replaces
    /// `[DONE]`. Non-streamed bodies are cut the same way after half their bytes.
    pub break_stream_after: Option<u32>,
    /// `Some(d)`: after reading the request, send nothing for `d`, then answer as usual.
    pub stall: Option<Duration>,
    /// Content chunks are not JSON (a cut-off chunk); non-streamed bodies are not JSON.
    pub malformed: bool,
    /// Streams send one content chunk (none if the answer is empty), then
    /// `data: {"error":{...}}`, then `[DONE]`, as vLLM does when generation fails.
    /// Non-streamed answers are unaffected.
    pub in_stream_error: bool,
    /// How `/admin/*` behaves.
    pub admin: AdminMode,
    /// Policy names the admin API knows; the first is the initial policy. Not empty.
    pub policies: Vec<String>,
    /// `/health` answers 503 until this long after start.
    pub health_delay: Duration,
    /// Serve `/health` at all (off: it answers 404, as many OpenAI-compatible servers and
    /// proxies do).
    pub serve_health: bool,
    /// Send `X-Request-ID` (echo of the request's, on every response),
    /// `X-Backend-Instance` and `X-Queue-Time-Ms` (on successful inference responses).
    pub send_cp_headers: bool,
    /// Value of `X-Backend-Instance`, and the instance id in `/admin/metrics`.
    pub backend_instance: String,
    /// Value of `X-Queue-Time-Ms`; finite, at least 0.
    pub queue_time_ms: f64,
    /// Record every request for [`FakeServer::captured`]. Memory grows with each request:
    /// turn it off for long load tests.
    pub capture: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            mode: Mode::Plain,
            chunks: 16,
            tokens_per_chunk: 1,
            honor_max_tokens: true,
            send_usage: true,
            model: "fake-model".to_string(),
            ttft_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            embedding_dim: 8,
            embedding_delay: Duration::ZERO,
            fail_status: None,
            break_stream_after: None,
            stall: None,
            malformed: false,
            in_stream_error: false,
            admin: AdminMode::Honest,
            policies: REFERENCE_POLICIES.iter().map(|p| p.to_string()).collect(),
            health_delay: Duration::ZERO,
            serve_health: true,
            send_cp_headers: true,
            backend_instance: "fake-0".to_string(),
            queue_time_ms: 0.0,
            capture: true,
        }
    }
}

impl Behavior {
    /// Checks every field; the error names the field, the bad value and what is accepted.
    pub fn validate(&self) -> Result<(), FakeServerError> {
        let invalid = |field: &'static str, value: String, accepted: &'static str| {
            Err(FakeServerError::Invalid {
                field,
                value,
                accepted,
            })
        };
        if self.tokens_per_chunk == 0 {
            return invalid("tokens_per_chunk", "0".into(), "an integer of at least 1");
        }
        if self.embedding_dim == 0 {
            return invalid("embedding_dim", "0".into(), "an integer of at least 1");
        }
        if let Some((status, fraction)) = self.fail_status {
            if !(400..=599).contains(&status) {
                return invalid(
                    "fail_status",
                    format!("{status}:{fraction}"),
                    "a status from 400 to 599 and a fraction from 0 to 1, e.g. 500:0.1",
                );
            }
            if !(0.0..=1.0).contains(&fraction) {
                return invalid(
                    "fail_status",
                    format!("{status}:{fraction}"),
                    "a status from 400 to 599 and a fraction from 0 to 1, e.g. 500:0.1",
                );
            }
        }
        if self.policies.is_empty() {
            return invalid("policies", "[]".into(), "at least one policy name");
        }
        if let Some(p) = self.policies.iter().find(|p| p.is_empty()) {
            return invalid("policies", format!("{p:?}"), "non-empty policy names");
        }
        if hyper::header::HeaderValue::from_str(&self.backend_instance).is_err() {
            return invalid(
                "backend_instance",
                format!("{:?}", self.backend_instance),
                "visible ASCII text usable as a header value",
            );
        }
        if !self.queue_time_ms.is_finite() || self.queue_time_ms < 0.0 {
            return invalid(
                "queue_time_ms",
                self.queue_time_ms.to_string(),
                "a finite number of at least 0",
            );
        }
        Ok(())
    }
}

/// Errors starting a fake server.
#[derive(Debug, thiserror::Error)]
pub enum FakeServerError {
    /// A [`Behavior`] field has a value the server cannot use.
    #[error("behaviour field `{field}`: {value} is not accepted; expected {accepted}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        accepted: &'static str,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, as sent (`/v1/chat/completions`).
    pub path: String,
    /// Headers by lower-case name; a repeated header's values joined with `", "`; values
    /// that are not UTF-8 decoded lossily.
    pub headers: BTreeMap<String, String>,
    /// The whole request body.
    pub body: Bytes,
    /// When its headers and body had been read.
    pub arrival: Instant,
}

impl CapturedRequest {
    /// A header's value by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A running fake server. Stops on [`FakeServer::shutdown`] or when dropped (open
/// connections are closed at once).
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl FakeServer {
    /// Starts a server on `127.0.0.1` with an ephemeral port. Must be called inside a tokio
    /// runtime (it spawns onto it).
    ///
    /// # Panics
    /// If `behavior` is invalid ([`Behavior::validate`]) or no port can be bound.
    pub fn start(behavior: Behavior) -> FakeServer {
        match Self::try_start(behavior, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) {
            Ok(s) => s,
            Err(e) => panic!("fake server did not start: {e}"),
        }
    }

    /// Starts a server on `addr` (port 0: an ephemeral one). Must be called inside a tokio
    /// runtime.
    pub fn try_start(behavior: Behavior, addr: SocketAddr) -> Result<FakeServer, FakeServerError> {
        behavior.validate()?;
        let listener = listen(addr).map_err(|source| FakeServerError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| FakeServerError::Bind { addr, source })?;
        let state = Arc::new(State::new(behavior));
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(FakeServer {
            addr: bound,
            state,
            accept,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The behaviour it was started with.
    pub fn behavior(&self) -> &Behavior {
        &self.state.behavior
    }

    /// The requests received so far (all endpoints), in arrival order. Empty when
    /// [`Behavior::capture`] is off.
    pub fn captured(&self) -> Vec<CapturedRequest> {
        self.state.captured()
    }

    /// Forgets the requests captured so far.
    pub fn clear_captured(&self) {
        self.state.clear_captured();
    }

    /// The policy the server actually runs (what an honest `/admin/policy` reports; a lying
    /// admin API never changes it).
    pub fn policy(&self) -> String {
        self.state.policy()
    }

    /// Stops accepting and closes every open connection, in-flight responses included.
    pub async fn shutdown(mut self) {
        // The accept task owns the connection tasks: once it is gone, so are they.
        self.accept.abort();
        let _ = (&mut self.accept).await;
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .field("behavior", &self.state.behavior)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Accepts connections and serves each on its own task. The tasks live in a [`JoinSet`]
/// owned by this future, so aborting it closes every connection.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut conns = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder.keep_alive(true).pipeline_flush(true);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or a connection reset before accept: back off
                // briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| handler::handle(Arc::clone(&state), req)),
        );
        conns.spawn(async move {
            let _ = conn.await;
        });
        while conns.try_join_next().is_some() {}
    }
}
