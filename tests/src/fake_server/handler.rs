//! Routing and the answers to each endpoint.

use super::body::{Api, FakeBody, Frames, Plan, SseBody};
use super::{AdminMode, Behavior, CapturedRequest, Mode};
use bytes::Bytes;
use cpbench_core::text::{estimate_tokens, mix64};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_BACKEND_INSTANCE: HeaderName = HeaderName::from_static("x-backend-instance");
const X_QUEUE_TIME_MS: HeaderName = HeaderName::from_static("x-queue-time-ms");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// Inference request counters, as `/admin/metrics` reports them.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    output_tokens: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    fn zero(&self) {
        for c in [
            &self.received,
            &self.completed,
            &self.failed,
            &self.rejected,
            &self.output_tokens,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything the connections share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) behavior: Behavior,
    frames: Arc<Frames>,
    started: Instant,
    ready_at: Instant,
    /// The policy in force (never changed by a lying admin API).
    policy: Mutex<String>,
    counters: Counters,
    /// Inference requests without `X-Request-ID` since start or reset (for `fail_status`).
    fail_seq: AtomicU64,
    captured: Mutex<Vec<CapturedRequest>>,
    backend_header: HeaderValue,
    queue_header: HeaderValue,
}

impl State {
    /// State for a validated behaviour.
    pub(crate) fn new(behavior: Behavior) -> Self {
        let started = Instant::now();
        Self {
            frames: Arc::new(Frames::new(&behavior)),
            started,
            ready_at: started + behavior.health_delay,
            policy: Mutex::new(behavior.policies[0].clone()),
            counters: Counters::default(),
            fail_seq: AtomicU64::new(0),
            captured: Mutex::new(Vec::new()),
            backend_header: HeaderValue::from_str(&behavior.backend_instance)
                .expect("validated header value"),
            queue_header: HeaderValue::from_str(&format!("{}", behavior.queue_time_ms))
                .expect("a number is a header value"),
            behavior,
        }
    }

    pub(crate) fn captured(&self) -> Vec<CapturedRequest> {
        self.captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn clear_captured(&self) {
        self.captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn policy(&self) -> String {
        self.policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn capture(&self, parts: &Parts, body: &Bytes, arrival: Instant) {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str().to_string())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let req = CapturedRequest {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
            headers,
            body: body.clone(),
            arrival,
        };
        self.captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(req);
    }

    /// Whether `fail_status` hits this request (see [`Behavior::fail_status`]).
    fn should_fail(&self, headers: &HeaderMap, fraction: f64) -> bool {
        if let Some(id) = headers.get(X_REQUEST_ID) {
            let h = mix64(fnv1a(id.as_bytes()));
            return ((h >> 11) as f64) < fraction * (1u64 << 53) as f64;
        }
        let n = self.fail_seq.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * fraction).floor() > (n * fraction).floor()
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The service: reads the whole request, records it, answers it.
pub(crate) async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<FakeBody>, Infallible> {
    let (parts, incoming) = req.into_parts();
    // A body that cannot be read means the connection is gone; the answer goes nowhere.
    let body = incoming
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if state.behavior.capture {
        state.capture(&parts, &body, Instant::now());
    }
    let mut resp = route(&state, &parts, &body).await;
    if state.behavior.send_cp_headers
        && let Some(id) = parts.headers.get(X_REQUEST_ID)
    {
        resp.headers_mut().insert(X_REQUEST_ID, id.clone());
    }
    Ok(resp)
}

async fn route(state: &State, parts: &Parts, body: &Bytes) -> Response<FakeBody> {
    let path = parts.uri.path();
    let method = &parts.method;
    match path {
        "/health" if state.behavior.serve_health => match *method {
            Method::GET => health(state),
            _ => method_not_allowed(path, "GET"),
        },
        "/v1/models" => match *method {
            Method::GET => json_response(
                StatusCode::OK,
                json!({"object": "list", "data": [{"id": state.behavior.model, "object": "model", "owned_by": "fake"}]})
                    .to_string(),
            ),
            _ => method_not_allowed(path, "GET"),
        },
        "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings" => {
            if *method != Method::POST {
                return method_not_allowed(path, "POST");
            }
            let api = match path {
                "/v1/chat/completions" => Some(Api::Chat),
                "/v1/completions" => Some(Api::Completions),
                _ => None,
            };
            inference(state, api, &parts.headers, body).await
        }
        p if p == "/admin" || p.starts_with("/admin/") => admin(state, method, path, body),
        // The cache resets of vLLM and SGLang (what `--reset-url` calls): 200, empty body.
        "/reset_prefix_cache" | "/flush_cache" => match *method {
            Method::POST => json_response(StatusCode::OK, ""),
            _ => method_not_allowed(path, "POST"),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("no route for {method} {path}"),
        ),
    }
}

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<FakeBody> {
    let mut resp = Response::new(FakeBody::whole(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    resp
}

/// An OpenAI-shaped error.
fn error(status: StatusCode, kind: &str, message: &str) -> Response<FakeBody> {
    let body = json!({"error": {
        "message": message,
        "type": kind,
        "param": null,
        "code": status.as_u16(),
    }});
    json_response(status, body.to_string())
}

fn bad_request(message: &str) -> Response<FakeBody> {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

fn method_not_allowed(path: &str, allowed: &'static str) -> Response<FakeBody> {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        &format!("{path} accepts only {allowed}"),
    );
    resp.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(allowed));
    resp
}

fn health(state: &State) -> Response<FakeBody> {
    if Instant::now() < state.ready_at {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from_static(br#"{"status":"starting"}"#),
        )
    } else {
        json_response(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
    }
}

/// The answer to an injected failure with `status`.
fn injected(status: u16) -> Response<FakeBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (kind, message) = match status.as_u16() {
        429 => (
            "rate_limit_error",
            "Too many requests: the control plane is shedding load (injected by the fake server)",
        ),
        503 => (
            "server_error",
            "No instance can take the request now; try again later (injected by the fake server)",
        ),
        500..=599 => (
            "server_error",
            "The server had an error while processing the request (injected by the fake server)",
        ),
        _ => (
            "invalid_request_error",
            "The request was refused (injected by the fake server)",
        ),
    };
    error(status, kind, message)
}

/// `/v1/chat/completions` (`Some(Chat)`), `/v1/completions`, `/v1/embeddings` (`None`).
async fn inference(
    state: &State,
    api: Option<Api>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response<FakeBody> {
    let b = &state.behavior;
    if api.is_some() && b.mode == Mode::Embeddings {
        return error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "this server hosts only an embedding model: /v1/embeddings is served, the LLM endpoints are not",
        );
    }
    let c = &state.counters;
    Counters::add(&c.received, 1);
    if let Some(d) = b.stall {
        tokio::time::sleep(d).await;
    }
    if let Some((status, fraction)) = b.fail_status
        && state.should_fail(headers, fraction)
    {
        let counter = if matches!(status, 429 | 503) {
            &c.rejected
        } else {
            &c.failed
        };
        Counters::add(counter, 1);
        return injected(status);
    }
    let mut resp = match api {
        Some(api) => llm(state, api, body).await,
        None => embeddings(state, body).await,
    };
    if resp.status().is_success() && b.send_cp_headers {
        let h = resp.headers_mut();
        h.insert(X_BACKEND_INSTANCE, state.backend_header.clone());
        h.insert(X_QUEUE_TIME_MS, state.queue_header.clone());
    }
    resp
}

#[derive(Deserialize)]
struct LlmRequest {
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
    #[serde(default)]
    prompt: Option<Prompt>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(default)]
    text: Option<String>,
}

/// A completions `prompt` or an embeddings `input`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u64>),
    TokenLists(Vec<Vec<u64>>),
}

impl Prompt {
    /// `(inputs, estimated tokens)`: token ids count one each.
    fn inputs_and_tokens(&self) -> (usize, u32) {
        fn len32(n: usize) -> u32 {
            u32::try_from(n).unwrap_or(u32::MAX)
        }
        match self {
            Self::Text(t) => (1, estimate_tokens(t)),
            Self::Texts(ts) => (
                ts.len(),
                ts.iter()
                    .fold(0u32, |a, t| a.saturating_add(estimate_tokens(t))),
            ),
            Self::Tokens(ids) => (usize::from(!ids.is_empty()), len32(ids.len())),
            Self::TokenLists(ls) => (
                ls.len(),
                ls.iter()
                    .fold(0u32, |a, l| a.saturating_add(len32(l.len()))),
            ),
        }
    }
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::Chat => "/v1/chat/completions",
            Api::Completions => "/v1/completions",
        }
    }
}

fn usage_json(prompt_tokens: u32, completion_tokens: u32) -> String {
    format!(
        r#""usage":{{"prompt_tokens":{prompt_tokens},"total_tokens":{},"completion_tokens":{completion_tokens}}}"#,
        u64::from(prompt_tokens) + u64::from(completion_tokens)
    )
}

/// A 200 body that is not JSON, for [`Behavior::malformed`].
const MALFORMED_BODY: &[u8] =
    b"<html>this is not JSON: the fake server sends malformed bodies</html>";

/// Counts a started answer as failed (a body fault) or completed.
fn count_answer(state: &State, faulty: bool, output_tokens: u32) {
    let c = &state.counters;
    if faulty {
        Counters::add(&c.failed, 1);
    } else {
        Counters::add(&c.completed, 1);
        Counters::add(&c.output_tokens, u64::from(output_tokens));
    }
}

async fn llm(state: &State, api: Api, body: &[u8]) -> Response<FakeBody> {
    let b = &state.behavior;
    let path = api.path();
    let req: LlmRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            Counters::add(&state.counters.failed, 1);
            return bad_request(&format!(
                "the body of POST {path} is not a valid request: {e}"
            ));
        }
    };
    let prompt_tokens = match api {
        Api::Chat => match &req.messages {
            Some(ms) if !ms.is_empty() => ms.iter().fold(0u32, |a, m| {
                a.saturating_add(match &m.content {
                    Some(Content::Text(t)) => estimate_tokens(t),
                    Some(Content::Parts(ps)) => ps.iter().fold(0u32, |a, p| {
                        a.saturating_add(p.text.as_deref().map_or(0, estimate_tokens))
                    }),
                    None => 0,
                })
            }),
            _ => {
                Counters::add(&state.counters.failed, 1);
                return bad_request(
                    "\"messages\" is required: a non-empty array of {\"role\", \"content\"} objects",
                );
            }
        },
        Api::Completions => match &req.prompt {
            Some(p) => p.inputs_and_tokens().1,
            None => {
                Counters::add(&state.counters.failed, 1);
                return bad_request(
                    "\"prompt\" is required: a string, an array of strings or of token ids",
                );
            }
        },
    };
    let plan = Plan::new(b, req.max_tokens.or(req.max_completion_tokens));
    let stream = req.stream.unwrap_or(b.mode == Mode::Sse);
    let faulty = b.malformed || b.break_stream_after.is_some() || (stream && b.in_stream_error);
    count_answer(state, faulty, plan.completion_tokens);
    let frames = state.frames.api(api);

    if stream {
        let include_usage = req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let usage = (include_usage && b.send_usage)
            .then(|| frames.usage_chunk(prompt_tokens, plan.completion_tokens));
        let body = SseBody::new(Arc::clone(&state.frames), api, plan, b, usage);
        let mut resp = Response::new(FakeBody::sse(body));
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, EVENT_STREAM);
        h.insert(CACHE_CONTROL, NO_CACHE);
        return resp;
    }

    let chunks = plan.chunks();
    if chunks > 0 {
        let delay = b
            .ttft_delay
            .saturating_add(b.chunk_delay.saturating_mul(chunks - 1));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    if b.malformed {
        return json_response(StatusCode::OK, Bytes::from_static(MALFORMED_BODY));
    }
    let text = serde_json::to_string(&state.frames.text(&plan)).expect("strings serialize");
    let finish = if plan.from_max_tokens {
        "length"
    } else {
        "stop"
    };
    let usage = if b.send_usage {
        format!(",{}", usage_json(prompt_tokens, plan.completion_tokens))
    } else {
        String::new()
    };
    let model = &state.frames.model_json;
    let id = frames.id;
    let out = match api {
        Api::Chat => format!(
            r#"{{"id":"{id}","object":"chat.completion","created":0,"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":{text}}},"logprobs":null,"finish_reason":"{finish}"}}]{usage}}}"#
        ),
        Api::Completions => format!(
            r#"{{"id":"{id}","object":"text_completion","created":0,"model":{model},"choices":[{{"index":0,"text":{text},"logprobs":null,"finish_reason":"{finish}","stop_reason":null}}]{usage}}}"#
        ),
    };
    whole_or_cut(b, out)
}

fn whole_or_cut(b: &Behavior, body: String) -> Response<FakeBody> {
    let body = if b.break_stream_after.is_some() {
        FakeBody::cut(body)
    } else {
        FakeBody::whole(body)
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    resp
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    #[serde(default)]
    input: Option<Prompt>,
}

async fn embeddings(state: &State, body: &[u8]) -> Response<FakeBody> {
    let b = &state.behavior;
    let req: EmbeddingRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            Counters::add(&state.counters.failed, 1);
            return bad_request(&format!(
                "the body of POST /v1/embeddings is not a valid request: {e}"
            ));
        }
    };
    let Some((inputs, tokens)) = req.input.as_ref().map(Prompt::inputs_and_tokens) else {
        Counters::add(&state.counters.failed, 1);
        return bad_request("\"input\" is required: a string or an array of strings");
    };
    if inputs == 0 {
        Counters::add(&state.counters.failed, 1);
        return bad_request("\"input\" must not be empty");
    }
    if !b.embedding_delay.is_zero() {
        tokio::time::sleep(b.embedding_delay).await;
    }
    count_answer(state, b.malformed || b.break_stream_after.is_some(), 0);
    if b.malformed {
        return json_response(StatusCode::OK, Bytes::from_static(MALFORMED_BODY));
    }
    let vector = &state.frames.embedding_json;
    let mut out = String::with_capacity(inputs * (vector.len() + 48) + 128);
    out.push_str(r#"{"object":"list","data":["#);
    for i in 0..inputs {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"object":"embedding","index":"#);
        out.push_str(&i.to_string());
        out.push_str(r#","embedding":"#);
        out.push_str(vector);
        out.push('}');
    }
    out.push_str(r#"],"model":"#);
    out.push_str(&state.frames.model_json);
    if b.send_usage {
        out.push_str(&format!(
            r#","usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}"#
        ));
    }
    out.push('}');
    whole_or_cut(b, out)
}

fn admin(state: &State, method: &Method, path: &str, body: &[u8]) -> Response<FakeBody> {
    let b = &state.behavior;
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("no route for {method} {path}"),
        )
    };
    if b.admin == AdminMode::Missing {
        return not_found();
    }
    let post = *method == Method::POST;
    let get = *method == Method::GET;
    match path {
        "/admin/set_policy" if post => set_policy(state, body),
        "/admin/policy" if get => json_response(
            StatusCode::OK,
            json!({"policy": state.policy(), "available": b.policies}).to_string(),
        ),
        "/admin/metrics" if get => metrics(state),
        "/admin/reset" if b.admin == AdminMode::NoReset => not_found(),
        "/admin/reset" if post => {
            state.counters.zero();
            state.fail_seq.store(0, Ordering::Relaxed);
            json_response(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
        }
        "/admin/set_policy" | "/admin/reset" => method_not_allowed(path, "POST"),
        "/admin/policy" | "/admin/metrics" => method_not_allowed(path, "GET"),
        _ => not_found(),
    }
}

fn set_policy(state: &State, body: &[u8]) -> Response<FakeBody> {
    #[derive(Deserialize)]
    struct SetPolicy {
        policy: String,
    }
    let b = &state.behavior;
    let known = b.policies.join(", ");
    let name = match serde_json::from_slice::<SetPolicy>(body) {
        Ok(r) => r.policy,
        Err(e) => {
            return bad_request(&format!(
                "the body of POST /admin/set_policy must be {{\"policy\": \"<name>\"}} ({e}); known policies: {known}"
            ));
        }
    };
    if b.admin == AdminMode::Lying {
        let current = state.policy();
        return json_response(
            StatusCode::OK,
            json!({"policy": name, "previous": current}).to_string(),
        );
    }
    if !b.policies.contains(&name) {
        return bad_request(&format!("unknown policy {name:?}; known policies: {known}"));
    }
    let previous = {
        let mut p = state.policy.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *p, name.clone())
    };
    json_response(
        StatusCode::OK,
        json!({"policy": name, "previous": previous}).to_string(),
    )
}

fn metrics(state: &State) -> Response<FakeBody> {
    let b = &state.behavior;
    let c = &state.counters;
    let body = json!({
        "policy": state.policy(),
        "uptime_s": state.started.elapsed().as_secs_f64(),
        "requests": {
            "received": Counters::get(&c.received),
            "completed": Counters::get(&c.completed),
            "failed": Counters::get(&c.failed),
            "rejected": Counters::get(&c.rejected),
        },
        "queues": {"llm": 0, "embedding": 0},
        "instances": [{
            "id": b.backend_instance,
            "model": b.model,
            "kind": if b.mode == Mode::Embeddings { "embedding" } else { "llm" },
            "running": 0,
            "waiting": 0,
            "kv_cache_usage": 0.0,
            "completed": Counters::get(&c.completed),
            "output_tokens": Counters::get(&c.output_tokens),
        }],
    });
    json_response(StatusCode::OK, body.to_string())
}
