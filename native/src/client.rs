//! The HTTP client: turns a [`RequestSpec`] into bytes before the run, sends it at its time,
//! and measures it into a [`RequestRecord`].
//!
//! Bodies and headers are built before the run starts ([`Client::prepare`]), so sending does
//! no JSON serialization. Streamed responses are decoded by `cpbench_core::sse` with one clock
//! reading per network read; JSON is parsed only for chunks that carry `usage` or `error`.

use bytes::Bytes;
use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::request::RequestKind;
use cpbench_core::sse::{ChunkKind, SseDecoder, classify_chunk};
use cpbench_core::text::estimate_tokens;
use cpbench_core::workload::RequestSpec;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};

/// Longest error message kept in a record.
const MAX_MESSAGE_CHARS: usize = 200;

/// How the client talks to the control plane.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL of the control plane, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Bearer token sent as `Authorization`; never written to any output.
    pub api_key: Option<String>,
    /// Per-request timeout, from the actual send until the response has ended.
    pub timeout: Duration,
    /// Stream LLM responses (SSE) or not.
    pub stream: bool,
    /// Idle keep-alive connections kept per host.
    pub max_idle_connections: usize,
}

/// A request ready to send: endpoint, body bytes and headers, built before the run.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The spec it was built from.
    pub spec: RequestSpec,
    url: String,
    body: Bytes,
    headers: HeaderMap,
    stream: bool,
}

impl PreparedRequest {
    /// The body that will be sent (for tests and dry runs).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// The measuring HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    opts: ClientOptions,
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL given with `--control-plane` is not usable.
    #[error(
        "--control-plane: {url:?} is not a valid http(s) URL ({reason}); expected e.g. http://localhost:8080"
    )]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// reqwest could not build a client.
    #[error("could not build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

impl Client {
    /// Builds the client (HTTP/1.1 keep-alive, no proxy, TCP_NODELAY).
    pub fn new(mut opts: ClientOptions) -> Result<Self, ClientError> {
        let trimmed = opts.base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&trimmed).map_err(|e| ClientError::BadUrl {
            url: opts.base_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::BadUrl {
                url: opts.base_url.clone(),
                reason: format!("scheme {:?} is not http or https", parsed.scheme()),
            });
        }
        opts.base_url = trimmed;
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .http1_only()
            .pool_max_idle_per_host(opts.max_idle_connections)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self { http, opts })
    }

    /// The options it was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The underlying reqwest client (for admin calls sharing the pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.opts.base_url
    }

    /// Builds the endpoint, body and headers of a request. `run_tag` makes request ids unique
    /// across the policies and repetitions of one invocation.
    pub fn prepare(&self, spec: &RequestSpec, run_tag: &str) -> PreparedRequest {
        let stream = self.opts.stream && spec.kind.is_llm();
        let (path, body) = match spec.kind {
            RequestKind::LlmChat => {
                let mut b = json!({
                    "model": spec.model,
                    "messages": [{"role": "user", "content": spec.prompt}],
                    "max_tokens": spec.max_tokens,
                    "min_tokens": spec.max_tokens,
                    "ignore_eos": true,
                    "stream": stream,
                });
                if stream {
                    b["stream_options"] = json!({"include_usage": true});
                }
                ("/v1/chat/completions", b)
            }
            RequestKind::LlmGenerate => {
                let mut b = json!({
                    "model": spec.model,
                    "prompt": spec.prompt,
                    "max_tokens": spec.max_tokens,
                    "min_tokens": spec.max_tokens,
                    "ignore_eos": true,
                    "stream": stream,
                });
                if stream {
                    b["stream_options"] = json!({"include_usage": true});
                }
                ("/v1/completions", b)
            }
            RequestKind::Embedding => {
                let input = if spec.inputs.len() == 1 {
                    json!(spec.inputs[0])
                } else {
                    json!(spec.inputs)
                };
                (
                    "/v1/embeddings",
                    json!({"model": spec.model, "input": input}),
                )
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let id = format!("{run_tag}-{}", spec.id);
        insert(&mut headers, "x-request-id", &id);
        insert(&mut headers, "x-request-priority", spec.priority.as_str());
        insert(
            &mut headers,
            "x-slo-deadline-ms",
            &spec.slo_deadline_ms.to_string(),
        );
        insert(&mut headers, "x-request-type", spec.kind.as_str());
        if let Some(key) = &self.opts.api_key
            && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {key}"))
        {
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        PreparedRequest {
            spec: spec.clone(),
            url: format!("{}{}", self.opts.base_url, path),
            body: Bytes::from(serde_json::to_vec(&body).expect("JSON values serialize")),
            headers,
            stream,
        }
    }

    /// Sends a prepared request now and measures it. `t0` is the run's start; the record's
    /// times are microseconds since `t0`. `concurrency_wait_us` is the time the request
    /// waited for a `--max-concurrency` slot. Never fails: errors become the outcome.
    pub async fn execute(
        &self,
        req: &PreparedRequest,
        t0: Instant,
        concurrency_wait_us: u64,
    ) -> RequestRecord {
        let spec = &req.spec;
        let sent = Instant::now();
        let mut m = Measure::new(t0);
        let sent_us = m.now_us_at(sent);
        let outcome =
            match tokio::time::timeout(self.opts.timeout, self.exchange(req, &mut m)).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome::Timeout,
            };
        let end_us = m.end_us.unwrap_or_else(|| m.now_us());
        let (output_tokens, output_tokens_source) = m.output_tokens(spec.kind, &outcome);
        RequestRecord {
            id: spec.id,
            kind: spec.kind,
            priority: spec.priority,
            model: spec.model.clone(),
            slo_deadline_ms: spec.slo_deadline_ms,
            intended_us: spec.offset_us,
            sent_us,
            first_token_us: m.first_token_us,
            end_us,
            itl_us: m.itl_us,
            outcome,
            output_tokens,
            output_tokens_source,
            chunks: m.chunks,
            input_tokens: m.usage.map(|u| u.prompt_tokens),
            prompt_tokens_est: spec.prompt_tokens_est,
            queue_time_ms: m.queue_time_ms,
            backend_instance: m.backend_instance,
            concurrency_wait_us,
        }
    }

    async fn exchange(&self, req: &PreparedRequest, m: &mut Measure) -> Outcome {
        let resp = match self
            .http
            .post(&req.url)
            .headers(req.headers.clone())
            .body(req.body.clone())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Connection {
                    message: error_chain(&e),
                };
            }
        };
        m.read_headers(resp.headers());
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            m.end_us = Some(m.now_us());
            return Outcome::Http {
                status: status.as_u16(),
                message: error_message(&body),
            };
        }
        let is_sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if req.stream && is_sse {
            m.read_stream(resp).await
        } else {
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    m.end_us = Some(m.now_us());
                    return Outcome::StreamBroken {
                        message: error_chain(&e),
                    };
                }
            };
            let now = m.now_us();
            m.end_us = Some(now);
            m.first_token_us = Some(now);
            m.read_whole_body(req, &body)
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// What is measured while a request is in flight; survives a timeout.
struct Measure {
    t0: Instant,
    first_token_us: Option<u64>,
    last_content_us: Option<u64>,
    end_us: Option<u64>,
    itl_us: Vec<u32>,
    chunks: u32,
    usage: Option<cpbench_core::sse::Usage>,
    estimated_output_tokens: Option<u32>,
    queue_time_ms: Option<f64>,
    backend_instance: Option<String>,
}

impl Measure {
    fn new(t0: Instant) -> Self {
        Self {
            t0,
            first_token_us: None,
            last_content_us: None,
            end_us: None,
            itl_us: Vec::new(),
            chunks: 0,
            usage: None,
            estimated_output_tokens: None,
            queue_time_ms: None,
            backend_instance: None,
        }
    }

    fn now_us(&self) -> u64 {
        self.now_us_at(Instant::now())
    }

    fn now_us_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX)
    }

    fn read_headers(&mut self, h: &HeaderMap) {
        self.backend_instance = h
            .get("x-backend-instance")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.queue_time_ms = h
            .get("x-queue-time-ms")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite());
    }

    async fn read_stream(&mut self, mut resp: reqwest::Response) -> Outcome {
        let mut dec = SseDecoder::new();
        let mut done = false;
        let mut problem: Option<Outcome> = None;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    self.end_us = Some(self.now_us());
                    return Outcome::StreamBroken {
                        message: error_chain(&e),
                    };
                }
            };
            let now = self.now_us();
            dec.feed(&chunk, |data| {
                if done || problem.is_some() {
                    return;
                }
                match classify_chunk(data) {
                    ChunkKind::Done => done = true,
                    ChunkKind::Json { has_content, usage } => {
                        if let Some(u) = usage {
                            self.usage = Some(u);
                        }
                        if has_content {
                            self.chunks += 1;
                            match self.last_content_us {
                                None => self.first_token_us = Some(now),
                                Some(prev) => self
                                    .itl_us
                                    .push(u32::try_from(now - prev).unwrap_or(u32::MAX)),
                            }
                            self.last_content_us = Some(now);
                        }
                    }
                    ChunkKind::Error(msg) => {
                        problem = Some(Outcome::StreamBroken {
                            message: truncate(&format!("error event in stream: {msg}")),
                        })
                    }
                    ChunkKind::Malformed(msg) => {
                        problem = Some(Outcome::Malformed {
                            message: truncate(&msg),
                        })
                    }
                }
            });
            if done || problem.is_some() {
                break;
            }
        }
        self.end_us = Some(self.now_us());
        if let Some(p) = problem {
            return p;
        }
        if !done {
            return Outcome::StreamBroken {
                message: if dec.has_partial() {
                    "stream ended in the middle of an event".into()
                } else {
                    "stream ended without data: [DONE]".into()
                },
            };
        }
        Outcome::Success
    }

    fn read_whole_body(&mut self, req: &PreparedRequest, body: &[u8]) -> Outcome {
        #[derive(Deserialize)]
        struct Whole {
            #[serde(default)]
            choices: Option<Vec<WholeChoice>>,
            #[serde(default)]
            data: Option<Vec<serde::de::IgnoredAny>>,
            #[serde(default)]
            usage: Option<cpbench_core::sse::Usage>,
        }
        #[derive(Deserialize)]
        struct WholeChoice {
            #[serde(default)]
            message: Option<WholeMessage>,
            #[serde(default)]
            text: Option<String>,
        }
        #[derive(Deserialize)]
        struct WholeMessage {
            #[serde(default)]
            content: Option<String>,
        }
        let w: Whole = match serde_json::from_slice(body) {
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
            let text: String = choices
                .iter()
                .filter_map(|c| {
                    c.message
                        .as_ref()
                        .and_then(|m| m.content.clone())
                        .or_else(|| c.text.clone())
                })
                .collect();
            self.chunks = 1;
            self.estimated_output_tokens = Some(estimate_tokens(&text));
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

    fn output_tokens(&self, kind: RequestKind, outcome: &Outcome) -> (u32, TokenSource) {
        if !kind.is_llm() {
            return (0, TokenSource::None);
        }
        if let Some(u) = self.usage {
            return (u.completion_tokens, TokenSource::Usage);
        }
        if let Some(n) = self.estimated_output_tokens {
            return (n, TokenSource::Estimated);
        }
        if self.chunks > 0 || outcome.is_success() {
            return (self.chunks, TokenSource::Chunks);
        }
        (0, TokenSource::None)
    }
}

/// The message of an OpenAI-shaped error body, or the body's start.
fn error_message(body: &[u8]) -> String {
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

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
        t.push('…');
        t
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    truncate(&s)
}
