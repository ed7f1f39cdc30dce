//! The fake control plane does what its behaviour says: OpenAI-exact streams and bodies,
//! each fault, each admin mode, captured requests, and the binary.

use bytes::Bytes;
use cpbench_core::sse::{ChunkKind, SseDecoder, classify_chunk};
use cpbench_tests::fake_server::{AdminMode, Behavior, FakeServer, Mode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

mod admin;
mod binary;
mod bodies;
mod connections;
mod faults;
mod recording;
mod streams;
mod with_the_runner_client;

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn chat_body(stream: bool, max_tokens: Option<u32>, include_usage: bool) -> Value {
    let mut b = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hello there, fake server"}],
        "stream": stream,
    });
    if let Some(m) = max_tokens {
        b["max_tokens"] = json!(m);
    }
    if include_usage {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

async fn post(server: &FakeServer, path: &str, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}{path}", server.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(server: &FakeServer, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap()
}

/// The `data` of every SSE event of a complete, successful stream, plus the raw body.
async fn events(resp: reqwest::Response) -> (Vec<String>, Bytes) {
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let raw = resp.bytes().await.unwrap();
    (decode(&raw), raw)
}

fn decode(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut dec = SseDecoder::new();
    dec.feed(raw, |d| out.push(String::from_utf8(d.to_vec()).unwrap()));
    assert!(!dec.has_partial(), "stream ended mid-event");
    out
}

/// Events read until the body ends or fails; `true` when it failed.
async fn events_until_error(mut resp: reqwest::Response) -> (Vec<String>, bool) {
    let mut raw = Vec::new();
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(c)) => raw.extend_from_slice(&c),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (decode(&raw), failed)
}

fn parse(event: &str) -> Value {
    serde_json::from_str(event).unwrap_or_else(|e| panic!("{event:?} is not JSON: {e}"))
}

fn content_of(event: &Value) -> &str {
    let c = &event["choices"][0];
    c["delta"]["content"]
        .as_str()
        .or_else(|| c["text"].as_str())
        .unwrap()
}
