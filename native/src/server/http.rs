//! HTTP handlers of the reference control plane (the contract in `docs/CONTRACT.md`).
//!
//! Generation requests answer once the request leaves the control-plane queue (so the
//! response head can carry `X-Backend-Instance` and `X-Queue-Time-Ms`); streamed answers then
//! send one SSE chunk per engine step as the simulated instance produces it. Non-streamed
//! answers and embeddings are sent whole when the request finishes. A client that goes away
//! (its response or stream dropped) cancels its request in the cluster.

use super::driver::Command;
use super::errors::{ApiError, error_response, json_response};
use super::openai::{EmbeddingAnswer, Meta, parse_embedding, parse_generation, words};
use super::{admin, errors, limits};
use crate::admin_token::AdminToken;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Router, http::Method};
use cpbench_core::cluster::{ClusterEvent, ClusterRequest};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::slo::SloTargets;
use cpbench_core::text::mix64;
use futures_util::Stream;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// An embeddings answer up to this size is sent whole, with `Content-Length`; a larger one
/// is written piece by piece as the connection takes it (chunked).
const WHOLE_ANSWER_BYTES: usize = 256 << 10;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) next_key: AtomicU64,
    pub(crate) seed: u64,
    /// Required on every `/admin/*` request when set.
    pub(crate) admin_token: Option<AdminToken>,
}

pub(crate) type AppState = Arc<Shared>;

/// Every endpoint and its method, as error messages name them.
pub(crate) const ENDPOINTS: &[(&str, &str)] = &[
    ("/health", "GET"),
    ("/v1/models", "GET"),
    ("/v1/chat/completions", "POST"),
    ("/v1/completions", "POST"),
    ("/v1/embeddings", "POST"),
    ("/admin/set_policy", "POST"),
    ("/admin/policy", "GET"),
    ("/admin/metrics", "GET"),
    ("/admin/reset", "POST"),
    ("/admin/time", "GET"),
    ("/metrics", "GET"),
];

/// The router with every endpoint of the contract plus `/v1/models` ([`ENDPOINTS`]).
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/admin/set_policy", post(admin::set_policy))
        .route("/admin/policy", get(admin::get_policy))
        .route("/admin/metrics", get(admin::metrics))
        .route("/admin/reset", post(admin::reset))
        .route("/admin/time", get(admin::time))
        .route("/metrics", get(admin::prometheus_metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn(errors::json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), admin::guard))
        .with_state(state)
}

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_BACKEND_INSTANCE: HeaderName = HeaderName::from_static("x-backend-instance");
const X_QUEUE_TIME_MS: HeaderName = HeaderName::from_static("x-queue-time-ms");

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unavailable() -> ApiError {
    ApiError::new(503, "the control plane is shutting down")
}

/// The scheduling hints a request carries in its headers.
#[derive(Debug)]
struct Hints {
    request_id: HeaderValue,
    priority: Priority,
    deadline_ms: Option<u64>,
    /// `X-SLO-TTFT-Ms`: the first-token deadline deadline-aware policies schedule for.
    ttft_ms: Option<u64>,
    kind: Option<RequestKind>,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::bad_request(format!("header {name} is not visible ASCII"))),
    }
}

fn parse_hints(headers: &HeaderMap, key: u64) -> Result<Hints, ApiError> {
    let request_id = headers.get(X_REQUEST_ID).cloned().unwrap_or_else(|| {
        HeaderValue::from_str(&format!("cp-{key}")).unwrap_or(HeaderValue::from_static("cp"))
    });
    let priority = match header_str(headers, "x-request-priority")? {
        None => Priority::Normal,
        Some(s) => Priority::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "header X-Request-Priority: got `{s}`, expected HIGH, NORMAL or LOW"
            ))
        })?,
    };
    let millis = |name: &str, header: &str| -> Result<Option<u64>, ApiError> {
        match header_str(headers, header)? {
            None => Ok(None),
            Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "header {name}: got `{s}`, expected a whole number of milliseconds"
                ))
            }),
        }
    };
    let deadline_ms = millis("X-SLO-Deadline-Ms", "x-slo-deadline-ms")?;
    let ttft_ms = millis("X-SLO-TTFT-Ms", "x-slo-ttft-ms")?;
    let kind = match header_str(headers, "x-request-type")? {
        None => None,
        Some(s) => Some(RequestKind::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "header X-Request-Type: got `{s}`, expected llm_chat, llm_generate or embedding"
            ))
        })?),
    };
    Ok(Hints {
        request_id,
        priority,
        deadline_ms,
        ttft_ms,
        kind,
    })
}

fn check_kind(hints: &Hints, endpoint_kind: RequestKind, path: &str) -> Result<(), ApiError> {
    match hints.kind {
        Some(k) if k != endpoint_kind => Err(ApiError::bad_request(format!(
            "header X-Request-Type `{k}` does not match {path}, which serves `{endpoint_kind}`"
        ))),
        _ => Ok(()),
    }
}

/// Sends `Cancel` for its request when dropped while armed (the client went away).
struct CancelGuard {
    commands: mpsc::UnboundedSender<Command>,
    key: u64,
    armed: bool,
}

impl CancelGuard {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.commands.send(Command::Cancel { key: self.key });
        }
    }
}

/// A request submitted to the cluster, waiting for its events.
struct Submitted {
    events: mpsc::UnboundedReceiver<ClusterEvent>,
    guard: CancelGuard,
}

fn submit(state: &Shared, req: ClusterRequest) -> Result<Submitted, ApiError> {
    let key = req.key;
    let (tx, rx) = mpsc::unbounded_channel();
    state
        .commands
        .send(Command::Arrive { req, events: tx })
        .map_err(|_| unavailable())?;
    Ok(Submitted {
        events: rx,
        guard: CancelGuard {
            commands: state.commands.clone(),
            key,
            armed: true,
        },
    })
}

/// Waits until the request is dispatched; returns (instance, queue time in µs).
async fn await_dispatch(sub: &mut Submitted) -> Result<(String, u64), ApiError> {
    match sub.events.recv().await {
        Some(ClusterEvent::Dispatched {
            instance,
            queue_time_us,
            ..
        }) => Ok((instance, queue_time_us)),
        Some(ClusterEvent::Rejected {
            status, message, ..
        }) => {
            sub.guard.disarm();
            Err(ApiError::from_cluster(status, message))
        }
        _ => {
            sub.guard.disarm();
            Err(unavailable())
        }
    }
}

/// Waits until the request is done; returns its (prompt, output) tokens.
async fn await_finished(sub: &mut Submitted) -> Result<(u32, u32), ApiError> {
    loop {
        match sub.events.recv().await {
            Some(ClusterEvent::Finished {
                prompt_tokens,
                output_tokens,
                ..
            }) => {
                sub.guard.disarm();
                return Ok((prompt_tokens, output_tokens));
            }
            Some(ClusterEvent::Rejected {
                status, message, ..
            }) => {
                sub.guard.disarm();
                return Err(ApiError::from_cluster(status, message));
            }
            Some(_) => {}
            None => {
                sub.guard.disarm();
                return Err(unavailable());
            }
        }
    }
}

fn dispatch_headers(resp: &mut Response, request_id: &HeaderValue, instance: &str, queue_us: u64) {
    let h = resp.headers_mut();
    h.insert(X_REQUEST_ID, request_id.clone());
    if let Ok(v) = HeaderValue::from_str(instance) {
        h.insert(X_BACKEND_INSTANCE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", queue_us as f64 / 1000.0)) {
        h.insert(X_QUEUE_TIME_MS, v);
    }
}

async fn health() -> Response {
    json_response(200, &json!({"status": "ok"}), None)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let known: Vec<String> = ENDPOINTS.iter().map(|(p, m)| format!("{m} {p}")).collect();
    error_response(
        &ApiError::new(
            404,
            format!(
                "no such endpoint: {method} {}; the endpoints are {}",
                uri.path(),
                known.join(", ")
            ),
        ),
        None,
    )
}

/// Sends the driver a command and waits for its reply.
pub(crate) async fn ask<T>(
    state: &Shared,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    state.commands.send(make(tx)).map_err(|_| unavailable())?;
    rx.await.map_err(|_| unavailable())
}

async fn models(State(state): State<AppState>) -> Response {
    match ask(&state, |reply| Command::Models { reply }).await {
        Ok(models) => {
            let created = unix_now_s();
            let data: Vec<Value> = models
                .iter()
                .filter(|m| m.served)
                .map(|m| {
                    json!({"id": m.name, "object": "model", "created": created, "owned_by": "sage-cp-bench"})
                })
                .collect();
            json_response(200, &json!({"object": "list", "data": data}), None)
        }
        Err(e) => error_response(&e, None),
    }
}

async fn chat(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    generate(state, headers, body, true).await
}

async fn completions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    generate(state, headers, body, false).await
}

async fn generate(state: AppState, headers: HeaderMap, body: Bytes, chat: bool) -> Response {
    let key = state.next_key.fetch_add(1, Ordering::Relaxed);
    let (kind, path) = if chat {
        (RequestKind::LlmChat, "/v1/chat/completions")
    } else {
        (RequestKind::LlmGenerate, "/v1/completions")
    };
    tracing::trace!(key, path, bytes = body.len(), "request");
    let hints = match parse_hints(&headers, key) {
        Ok(h) => h,
        Err(e) => return error_response(&e, headers.get(X_REQUEST_ID)),
    };
    let rid = Some(&hints.request_id);
    let parsed = check_kind(&hints, kind, path).and_then(|()| parse_generation(&body, chat));
    let g = match parsed {
        Ok(g) => g,
        Err(e) => return error_response(&e, rid),
    };
    let req = ClusterRequest {
        key,
        kind,
        model: g.model.clone(),
        priority: hints.priority,
        deadline_ms: hints.deadline_ms.unwrap_or_else(|| {
            SloTargets::default().deadline_ms(kind, hints.priority, g.max_tokens)
        }),
        ttft_deadline_ms: hints.ttft_ms.or_else(|| {
            hints
                .deadline_ms
                .is_none()
                .then(|| SloTargets::default().ttft_target_ms(kind, hints.priority))
                .flatten()
        }),
        prompt_tokens: g.prompt_tokens,
        max_tokens: g.max_tokens,
        num_inputs: 0,
        prefix_blocks: g.prefix_blocks,
    };
    let mut sub = match submit(&state, req) {
        Ok(s) => s,
        Err(e) => return error_response(&e, rid),
    };
    let (instance, queue_us) = match await_dispatch(&mut sub).await {
        Ok(d) => d,
        Err(e) => return error_response(&e, rid),
    };
    let meta = Meta {
        id: format!("{}-{key}", if chat { "chatcmpl" } else { "cmpl" }),
        created: unix_now_s(),
        model: g.model.clone(),
        chat,
    };
    let text_seed = mix64(state.seed ^ mix64(key));
    if g.stream {
        let stream = sse_stream(sub, meta, g.include_usage, text_seed);
        let mut resp = Response::new(Body::from_stream(stream));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        dispatch_headers(&mut resp, &hints.request_id, &instance, queue_us);
        return resp;
    }
    let (prompt_tokens, output_tokens) = match await_finished(&mut sub).await {
        Ok(f) => f,
        Err(e) => return error_response(&e, rid),
    };
    let text = words(text_seed, 0, output_tokens);
    let body = meta.response(&text, prompt_tokens, output_tokens);
    let mut resp = json_response(200, &body, rid);
    dispatch_headers(&mut resp, &hints.request_id, &instance, queue_us);
    resp
}

fn sse_frame(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

struct SseState {
    sub: Submitted,
    meta: Meta,
    include_usage: bool,
    seed: u64,
    emitted: u32,
    pending: VecDeque<Bytes>,
    done: bool,
}

/// The SSE body: the role chunk (chat), one chunk per `Tokens` event, the finish chunk, the
/// usage chunk when asked for, then `[DONE]`. Dropping it before the end cancels the request.
fn sse_stream(
    sub: Submitted,
    meta: Meta,
    include_usage: bool,
    seed: u64,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let mut pending = VecDeque::new();
    if meta.chat {
        pending.push_back(sse_frame(&meta.role_chunk()));
    }
    let state = SseState {
        sub,
        meta,
        include_usage,
        seed,
        emitted: 0,
        pending,
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok(b), st));
            }
            if st.done {
                return None;
            }
            match st.sub.events.recv().await {
                Some(ClusterEvent::Tokens { count, .. }) => {
                    let text = words(st.seed, st.emitted, st.emitted + count);
                    st.emitted += count;
                    st.pending
                        .push_back(sse_frame(&st.meta.content_chunk(&text)));
                }
                Some(ClusterEvent::Finished {
                    prompt_tokens,
                    output_tokens,
                    ..
                }) => {
                    st.sub.guard.disarm();
                    st.pending.push_back(sse_frame(&st.meta.finish_chunk()));
                    if st.include_usage {
                        st.pending.push_back(sse_frame(
                            &st.meta.usage_chunk(prompt_tokens, output_tokens),
                        ));
                    }
                    st.pending
                        .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    st.done = true;
                }
                Some(ClusterEvent::Dispatched { .. }) => {}
                Some(ClusterEvent::Rejected { .. }) | None => {
                    // The stream ends without [DONE]: the client sees a broken stream.
                    st.sub.guard.disarm();
                    st.done = true;
                }
            }
        }
    })
}

async fn embeddings(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let key = state.next_key.fetch_add(1, Ordering::Relaxed);
    let hints = match parse_hints(&headers, key) {
        Ok(h) => h,
        Err(e) => return error_response(&e, headers.get(X_REQUEST_ID)),
    };
    let rid = Some(&hints.request_id);
    let parsed = check_kind(&hints, RequestKind::Embedding, "/v1/embeddings")
        .and_then(|()| parse_embedding(&body));
    let e = match parsed {
        Ok(e) => e,
        Err(err) => return error_response(&err, rid),
    };
    let req = ClusterRequest {
        key,
        kind: RequestKind::Embedding,
        model: e.model.clone(),
        priority: hints.priority,
        deadline_ms: hints.deadline_ms.unwrap_or_else(|| {
            SloTargets::default().deadline_ms(RequestKind::Embedding, hints.priority, 0)
        }),
        ttft_deadline_ms: None,
        prompt_tokens: e.tokens,
        max_tokens: 0,
        num_inputs: u32::try_from(e.inputs.len()).unwrap_or(u32::MAX),
        prefix_blocks: Vec::new(),
    };
    let mut sub = match submit(&state, req) {
        Ok(s) => s,
        Err(err) => return error_response(&err, rid),
    };
    let (instance, queue_us) = match await_dispatch(&mut sub).await {
        Ok(d) => d,
        Err(err) => return error_response(&err, rid),
    };
    let (prompt_tokens, _) = match await_finished(&mut sub).await {
        Ok(f) => f,
        Err(err) => return error_response(&err, rid),
    };
    let answer = EmbeddingAnswer::new(e, prompt_tokens);
    let body = if answer.size_bound() <= WHOLE_ANSWER_BYTES {
        Body::from(answer.whole())
    } else {
        Body::from_stream(futures_util::stream::iter(answer.map(Ok::<_, Infallible>)))
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    dispatch_headers(&mut resp, &hints.request_id, &instance, queue_us);
    resp
}
