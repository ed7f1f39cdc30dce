//! The HTTP client: turns a [`RequestSpec`] into bytes before the run, sends it at its time,
//! and measures it into a [`RequestRecord`].
//!
//! Requests are serialized before the run starts ([`Client::prepare`]), so sending does no JSON
//! work. Two transports carry them:
//! - **builtin** (the default for `http://` URLs): a small HTTP/1.1 client written for this
//!   job: a bounded pool of keep-alive connections, each request written with one system call
//!   from its prepared bytes, the response head parsed with `httparse`, chunked bodies and
//!   Server-Sent Events decoded in place, one clock reading per network read.
//! - **reqwest** (the default for `https://` URLs, or chosen with `--http-client reqwest`): the
//!   general-purpose client, for TLS and for servers the builtin client does not get along
//!   with.
//!
//! Both give the same records for well-formed responses (the end-to-end tests run both); on
//! broken ones the error kind may differ (a garbage response head is `malformed` here and a
//! `connection` error in reqwest). JSON is parsed only for chunks that carry `usage` or
//! `error`, and for non-streamed bodies.

mod builtin;
pub mod chunked;
#[doc(hidden)]
pub mod fuzzing;
mod measure;
pub(crate) use measure::error_chain;
mod shard;
mod via_reqwest;

use bytes::Bytes;
use cpbench_core::record::{Outcome, RequestRecord};
use cpbench_core::request::RequestKind;
use cpbench_core::workload::RequestSpec;
use measure::Measure;
use serde_json::{Value, json};
use shard::Shard;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which HTTP implementation carries the measured requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// builtin for `http://`, reqwest for `https://`.
    #[default]
    Auto,
    /// The builtin HTTP/1.1 client (`http://` only).
    Builtin,
    /// reqwest (HTTP/1.1, with TLS for `https://`).
    Reqwest,
}

impl Transport {
    /// The transport that carries requests to `base_url`: [`Transport::Auto`] becomes
    /// builtin for `http://` and reqwest for `https://`.
    pub fn resolve(self, base_url: &str) -> Transport {
        match self {
            Transport::Auto if base_url.trim_start().starts_with("https:") => Transport::Reqwest,
            Transport::Auto => Transport::Builtin,
            chosen => chosen,
        }
    }
}

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
    /// Idle keep-alive connections kept.
    pub max_idle_connections: usize,
    /// Largest response body accepted, bytes: a larger one is cut and recorded as
    /// [`Outcome::TooLarge`](cpbench_core::record::Outcome::TooLarge).
    pub max_response_bytes: u64,
    /// The model's tokenizer, counting output tokens where the server sends no `usage`.
    pub tokenizer: Option<std::sync::Arc<tokenizers::Tokenizer>>,
    /// Which HTTP implementation carries the measured requests.
    pub transport: Transport,
    /// Sending threads, each with its own event loop and connections (at least 1).
    pub threads: usize,
}

/// A request ready to send, built before the run.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The spec it was built from.
    pub spec: RequestSpec,
    /// The endpoint's path (after the base URL's own path), e.g. `/v1/chat/completions`.
    path: &'static str,
    /// The whole HTTP/1.1 request (builtin transport) or only its body (reqwest).
    wire: Bytes,
    /// Where the body starts in `wire`.
    body_at: usize,
    /// The `X-*` headers, for the reqwest transport.
    headers: Vec<(&'static str, String)>,
    stream: bool,
}

impl PreparedRequest {
    /// The body that will be sent (for tests and dry runs).
    pub fn body(&self) -> &[u8] {
        &self.wire[self.body_at..]
    }

    fn body_bytes(&self) -> Bytes {
        self.wire.slice(self.body_at..)
    }
}

/// The measuring HTTP client. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    opts: ClientOptions,
    /// For admin calls (on the caller's runtime).
    http: reqwest::Client,
    /// The sending threads.
    shards: Vec<Shard>,
    /// Whether the builtin transport carries the measured requests.
    builtin: bool,
    /// The base URL's path without a trailing slash (usually empty).
    base_path: String,
    /// The `Host` header value.
    host_header: String,
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
    /// The API key cannot be sent in an HTTP header.
    #[error(
        "--api-key / OPENAI_API_KEY: the key contains characters not allowed in an HTTP header (control characters or non-ASCII)"
    )]
    BadApiKey,
    /// The builtin transport was asked for an `https://` URL.
    #[error(
        "--http-client builtin: {url:?} is https, which the builtin client does not speak; use --http-client reqwest (or auto)"
    )]
    BuiltinNeedsHttp {
        /// The URL as given.
        url: String,
    },
    /// reqwest could not build a client.
    #[error("could not build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
    /// A sending thread could not be started.
    #[error("could not start a sending thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl Client {
    /// Builds the client (HTTP/1.1 keep-alive, no proxy, TCP_NODELAY).
    pub fn new(mut opts: ClientOptions) -> Result<Self, ClientError> {
        let trimmed = opts.base_url.trim_end_matches('/').to_string();
        let bad = |reason: String| ClientError::BadUrl {
            url: opts.base_url.clone(),
            reason,
        };
        let parsed = reqwest::Url::parse(&trimmed).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                parsed.scheme()
            )));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(bad("it has no host".into())),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| bad("it has no port".into()))?;
        let host_header = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or(&host)),
            None => parsed.host_str().unwrap_or(&host).to_string(),
        };
        if let Some(key) = &opts.api_key
            && !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ClientError::BadApiKey);
        }
        let https = parsed.scheme() == "https";
        let use_builtin = opts.transport.resolve(parsed.as_str()) == Transport::Builtin;
        if use_builtin && https {
            return Err(ClientError::BuiltinNeedsHttp {
                url: opts.base_url.clone(),
            });
        }
        let base_path = parsed.path().trim_end_matches('/').to_string();
        opts.base_url = trimmed;
        opts.threads = opts.threads.max(1);
        let per_shard = opts.max_idle_connections.div_ceil(opts.threads).max(1);
        let reqwest_client = |idle: usize| {
            reqwest::Client::builder()
                .no_proxy()
                .tcp_nodelay(true)
                .http1_only()
                .pool_max_idle_per_host(idle)
                .pool_idle_timeout(Duration::from_secs(90))
                .build()
        };
        let http = reqwest_client(8)?;
        let shards = (0..opts.threads)
            .map(|k| {
                let pool = use_builtin.then(|| builtin::Pool::new(host.clone(), port, per_shard));
                Ok(Shard::start(k, pool, reqwest_client(per_shard)?)?)
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                opts,
                http,
                shards,
                builtin: use_builtin,
                base_path,
                host_header,
            }),
        })
    }

    /// How many sending threads it has.
    pub fn threads(&self) -> usize {
        self.inner.shards.len()
    }

    /// Spawns `fut` on sending thread `shard` (where [`Client::execute_on`] must run).
    pub fn spawn_on<F>(&self, shard: usize, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.shards[shard].handle.spawn(fut)
    }

    /// The options it was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// The transport carrying the measured requests (never [`Transport::Auto`]).
    pub fn transport(&self) -> Transport {
        if self.inner.builtin {
            Transport::Builtin
        } else {
            Transport::Reqwest
        }
    }

    /// The reqwest client (for admin calls).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.opts.base_url
    }

    /// Opens up to `n` keep-alive connections ahead of the run, so the first requests do not
    /// pay for connecting. Returns how many are open and idle.
    pub async fn preopen(&self, n: usize) -> usize {
        let k = self.threads();
        let tasks: Vec<_> = (0..k)
            .map(|shard| {
                let me = self.clone();
                let n = n / k + usize::from(shard < n % k);
                self.spawn_on(shard, async move { me.preopen_here(shard, n).await })
            })
            .collect();
        let mut open = 0;
        for t in tasks {
            open += t.await.unwrap_or(0);
        }
        open
    }

    async fn preopen_here(&self, shard: usize, n: usize) -> usize {
        let shard = &self.inner.shards[shard];
        if let Some(pool) = &shard.builtin {
            return pool.preopen(n).await;
        }
        let url = format!("{}/health", self.base_url());
        let probes = (0..n).map(|_| shard.http.get(&url).timeout(Duration::from_secs(2)).send());
        futures_util::future::join_all(probes)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count()
    }

    /// Builds the endpoint, body and headers of a request. `run_tag` makes request ids unique
    /// across the policies and repetitions of one invocation.
    pub fn prepare(&self, spec: &RequestSpec, run_tag: &str) -> PreparedRequest {
        let opts = &self.inner.opts;
        let stream = opts.stream && spec.kind.is_llm();
        let (path, body) = match spec.kind {
            RequestKind::LlmChat => (
                "/v1/chat/completions",
                generation_body(
                    spec,
                    "messages",
                    json!([{"role": "user", "content": spec.prompt}]),
                    stream,
                ),
            ),
            RequestKind::LlmGenerate => (
                "/v1/completions",
                generation_body(spec, "prompt", json!(spec.prompt), stream),
            ),
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
        let body = serde_json::to_vec(&body).expect("JSON values serialize");
        // Only visible ASCII goes into a header value.
        let tag: String = run_tag
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        let mut headers = vec![
            ("x-request-id", format!("{tag}-{}", spec.id)),
            ("x-request-priority", spec.priority.as_str().to_string()),
            ("x-slo-deadline-ms", spec.slo_deadline_ms.to_string()),
            ("x-request-type", spec.kind.as_str().to_string()),
        ];
        if let Some(ttft) = spec.slo_ttft_ms {
            headers.push(("x-slo-ttft-ms", ttft.to_string()));
        }
        let (wire, body_at) = if self.inner.builtin {
            let head = self.request_head(path, body.len(), &headers);
            let at = head.len();
            let mut wire = head.into_bytes();
            wire.extend_from_slice(&body);
            (wire, at)
        } else {
            (body, 0)
        };
        PreparedRequest {
            spec: spec.clone(),
            path,
            wire: Bytes::from(wire),
            body_at,
            headers,
            stream,
        }
    }

    /// The request line and headers of a builtin-transport request.
    fn request_head(
        &self,
        path: &str,
        body_len: usize,
        headers: &[(&'static str, String)],
    ) -> String {
        use std::fmt::Write;
        let inner = &self.inner;
        let mut head = format!(
            "POST {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sage-cp-bench/{}\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n",
            inner.base_path,
            inner.host_header,
            env!("CARGO_PKG_VERSION"),
        );
        for (name, value) in headers {
            // Values are ids, numbers and fixed words: never CR or LF.
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if let Some(key) = &inner.opts.api_key {
            let _ = write!(head, "Authorization: Bearer {key}\r\n");
        }
        head.push_str("\r\n");
        head
    }

    /// Sends a prepared request now (on the first sending thread) and measures it. `t0` is
    /// the run's start; the record's times are microseconds since `t0`.
    /// `concurrency_wait_us` is the time the request waited for a `--max-concurrency` slot.
    /// Never fails: errors become the outcome.
    pub async fn execute(
        &self,
        req: &PreparedRequest,
        t0: Instant,
        concurrency_wait_us: u64,
    ) -> RequestRecord {
        let me = self.clone();
        let req = req.clone();
        self.spawn_on(0, async move {
            me.execute_on(0, &req, t0, concurrency_wait_us).await
        })
        .await
        .expect("a request task never panics")
    }

    /// [`Client::execute`] on sending thread `shard`; must be called from a task of that
    /// thread (see [`Client::spawn_on`]), whose connections it uses.
    pub async fn execute_on(
        &self,
        shard: usize,
        req: &PreparedRequest,
        t0: Instant,
        concurrency_wait_us: u64,
    ) -> RequestRecord {
        let spec = &req.spec;
        let sent = Instant::now();
        let expected_chunks = if req.stream { spec.max_tokens } else { 0 };
        let opts = &self.inner.opts;
        let mut m = Measure::new(
            t0,
            expected_chunks,
            opts.max_response_bytes,
            opts.tokenizer.is_some(),
        );
        let sent_us = m.now_us_at(sent);
        let timeout = self.inner.opts.timeout;
        let shard = &self.inner.shards[shard];
        let outcome = match &shard.builtin {
            Some(pool) => tokio::time::timeout(timeout, builtin::exchange(pool, req, &mut m)).await,
            None => {
                tokio::time::timeout(
                    timeout,
                    via_reqwest::exchange(self, &shard.http, req, &mut m),
                )
                .await
            }
        }
        .unwrap_or(Outcome::Timeout);
        let end_us = m.end_us.unwrap_or_else(|| m.now_us());
        let (output_tokens, output_tokens_source) =
            m.output_tokens(spec.kind, &outcome, opts.tokenizer.as_deref());
        RequestRecord {
            sent_us,
            first_token_us: m.first_token_us,
            end_us,
            itl_us: m.itl_us,
            outcome,
            output_tokens,
            output_tokens_source,
            chunks: m.chunks,
            input_tokens: m.usage.map(|u| u.prompt_tokens),
            queue_time_ms: m.queue_time_ms,
            backend_instance: m.backend_instance,
            concurrency_wait_us,
            ..RequestRecord::for_spec(spec)
        }
    }
}

/// The JSON body of a chat or completion request: the prompt (`prompt`, or the chat
/// `messages`) under `prompt_field`, and exactly `max_tokens` tokens asked for.
fn generation_body(spec: &RequestSpec, prompt_field: &str, prompt: Value, stream: bool) -> Value {
    let mut b = json!({ "model": spec.model });
    b[prompt_field] = prompt;
    b["max_tokens"] = json!(spec.max_tokens);
    b["min_tokens"] = json!(spec.max_tokens);
    b["ignore_eos"] = json!(true);
    b["stream"] = json!(stream);
    if stream {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}
