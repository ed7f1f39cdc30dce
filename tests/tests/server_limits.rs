//! The reference control plane's limits over real loopback HTTP: what one request may ask
//! (body, embeddings, answers sent whole), OpenAI error bodies for every error, the
//! header-read and idle keep-alive timeouts, and abandoned (pipelined) requests cancelled.

use cpbench_core::cluster::presets;
use sage_cp_bench::server::limits::{
    HEADER_READ_TIMEOUT, IDLE_TIMEOUT, MAX_BODY_BYTES, MAX_EMBEDDING_DIMENSIONS,
    MAX_EMBEDDING_FLOATS, MAX_EMBEDDING_INPUTS, MAX_RESPONSE_BYTES,
};
use sage_cp_bench::server::{RunningServer, ServerOptions, start};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

async fn server(header_read: Duration, idle: Duration) -> RunningServer {
    start(ServerOptions {
        host: "127.0.0.1".into(),
        port: 0,
        policy: "fifo".into(),
        cluster: presets::tiny(),
        seed: 42,
        header_read_timeout: header_read,
        idle_timeout: idle,
        ..ServerOptions::default()
    })
    .await
    .expect("server starts")
}

async fn tiny_server() -> RunningServer {
    server(HEADER_READ_TIMEOUT, IDLE_TIMEOUT).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Checks an OpenAI error answer: status, JSON content type, the four fields, the code; returns
/// the error object.
async fn openai_error(resp: reqwest::Response, status: u16, code: Option<&str>) -> Value {
    assert_eq!(resp.status(), status);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = resp.json().await.unwrap();
    let e = &v["error"];
    for k in ["message", "type", "param", "code"] {
        assert!(e.get(k).is_some(), "`{k}` missing from {v}");
    }
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert_eq!(e["code"].as_str(), code, "{v}");
    e.clone()
}

/// Reads until the server closes the connection or `limit` passes; returns what was read and
/// whether it closed.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads until the text read contains `end`; fails if the connection closes first.
async fn read_until(stream: &mut TcpStream, end: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !String::from_utf8_lossy(&got).contains(end) {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
            .await
            .expect("the answer comes")
            .unwrap();
        assert!(
            n > 0,
            "closed before {end}: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn chat(max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": "tiny-llm",
        "messages": [{"role": "user", "content": "Say something."}],
        "max_tokens": max_tokens,
        "stream": stream,
    })
}

fn raw_post(path: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: cp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_an_openai_error_body() {
    let s = tiny_server().await;
    let c = client();
    let url = |p: &str| format!("{}{p}", s.url());

    let e = openai_error(
        c.get(url("/v2/nothing")).send().await.unwrap(),
        404,
        Some("not_found"),
    )
    .await;
    assert_eq!(e["type"], "invalid_request_error");
    assert!(
        e["message"].as_str().unwrap().contains("/v2/nothing"),
        "{e}"
    );

    let e = openai_error(
        c.post(url("/v1/chat/completions"))
            .json(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap(),
        404,
        Some("model_not_found"),
    )
    .await;
    assert_eq!(e["param"], "model");

    // A known path with another method: 405 with `Allow`.
    let resp = c.get(url("/v1/chat/completions")).send().await.unwrap();
    assert!(
        resp.headers()["allow"].to_str().unwrap().contains("POST"),
        "{:?}",
        resp.headers()
    );
    let e = openai_error(resp, 405, Some("method_not_allowed")).await;
    assert!(e["message"].as_str().unwrap().contains("POST"), "{e}");
    openai_error(
        c.delete(url("/health")).send().await.unwrap(),
        405,
        Some("method_not_allowed"),
    )
    .await;

    let e = openai_error(
        c.post(url("/v1/embeddings"))
            .header("content-type", "application/json")
            .body("{\"model\": \"tiny-embed\", \"input\": ")
            .send()
            .await
            .unwrap(),
        400,
        None,
    )
    .await;
    assert_eq!(e["type"], "invalid_request_error");
    assert!(
        e["message"].as_str().unwrap().contains("malformed JSON"),
        "{e}"
    );

    let e = openai_error(
        c.post(url("/v1/chat/completions"))
            .json(&json!({"model": "tiny-llm", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}))
            .send()
            .await
            .unwrap(),
        400,
        None,
    )
    .await;
    assert_eq!(e["param"], "max_tokens");
    s.shutdown().await;
}

/// A body over the limit: 413 as an OpenAI error naming the limit, sent before the body is
/// read, and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_and_closes_the_connection() {
    let s = tiny_server().await;
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nHost: cp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY_BYTES + 1
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (got, closed) = read_to_close(&mut tcp, Duration::from_secs(10)).await;
    assert!(closed, "the connection stays open after a 413");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "request_too_large");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["param"].is_null());
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&MAX_BODY_BYTES.to_string()), "{msg}");

    // A body of exactly the limit is read and served (an unknown field pads it).
    let c = client();
    let mut body = json!({"model": "tiny-embed", "input": "x", "pad": ""});
    let pad = MAX_BODY_BYTES - body.to_string().len();
    body["pad"] = json!("a".repeat(pad));
    let body = body.to_string();
    assert_eq!(body.len(), MAX_BODY_BYTES);
    let resp = c
        .post(format!("{}/v1/embeddings", s.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_cannot_ask_for_more_than_the_limits() {
    let s = tiny_server().await;
    let c = client();
    let post = |body: Value| {
        c.post(format!("{}/v1/embeddings", s.url()))
            .json(&body)
            .send()
    };

    let e = openai_error(
        post(json!({"model": "tiny-embed", "input": "x", "dimensions": MAX_EMBEDDING_DIMENSIONS + 1}))
            .await
            .unwrap(),
        400,
        Some("limit_exceeded"),
    )
    .await;
    assert_eq!(e["param"], "dimensions");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&MAX_EMBEDDING_DIMENSIONS.to_string()),
        "{e}"
    );

    let many = vec!["x"; MAX_EMBEDDING_INPUTS + 1];
    let e = openai_error(
        post(json!({"model": "tiny-embed", "input": many}))
            .await
            .unwrap(),
        400,
        Some("limit_exceeded"),
    )
    .await;
    assert_eq!(e["param"], "input");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&MAX_EMBEDDING_INPUTS.to_string()),
        "{e}"
    );

    // The request of the report: about 75 KB of inputs asking for many dimensions each.
    let inputs: Vec<String> = (0..2500).map(|i| format!("w{i:05}")).collect();
    let body = json!({"model": "tiny-embed", "input": inputs, "dimensions": 4096});
    assert!(body.to_string().len() < 80_000);
    let e = openai_error(post(body).await.unwrap(), 400, Some("limit_exceeded")).await;
    assert_eq!(e["param"], "dimensions");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&MAX_EMBEDDING_FLOATS.to_string()),
        "{e}"
    );

    // Token-id inputs count the same way.
    let ids: Vec<Vec<u32>> = vec![vec![1, 2, 3]; 1001];
    openai_error(
        post(json!({"model": "tiny-embed", "input": ids, "dimensions": 4000}))
            .await
            .unwrap(),
        400,
        Some("limit_exceeded"),
    )
    .await;

    // The largest answer accepted: within the response limit, sent piece by piece.
    let n = MAX_EMBEDDING_FLOATS / 4000;
    let inputs: Vec<String> = (0..n).map(|i| format!("input {i}")).collect();
    let resp = post(json!({"model": "tiny-embed", "input": inputs, "dimensions": 4000}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("content-length").is_none(),
        "{:?}",
        resp.headers()
    );
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.len() <= MAX_RESPONSE_BYTES, "{}", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), n);
    assert_eq!(data[n - 1]["index"], n - 1);
    assert_eq!(data[n - 1]["embedding"].as_array().unwrap().len(), 4000);
    assert_eq!(v["object"], "list");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // Small answers still come whole, with Content-Length.
    let resp = post(json!({"model": "tiny-embed", "input": ["a", "b"]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-length").is_some());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_sent_whole_is_bounded_and_streams_are_not() {
    let s = tiny_server().await;
    let c = client();
    let e = openai_error(
        c.post(format!("{}/v1/completions", s.url()))
            .json(&json!({"model": "tiny-llm", "prompt": "x", "max_tokens": 20_000_000}))
            .send()
            .await
            .unwrap(),
        400,
        Some("limit_exceeded"),
    )
    .await;
    assert_eq!(e["param"], "max_tokens");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&MAX_RESPONSE_BYTES.to_string()) && msg.contains("stream"),
        "{msg}"
    );
    // Streamed, the same request is judged by the cluster (here: larger than any KV cache).
    let e = openai_error(
        c.post(format!("{}/v1/completions", s.url()))
            .json(&json!({"model": "tiny-llm", "prompt": "x", "max_tokens": 20_000_000, "stream": true}))
            .send()
            .await
            .unwrap(),
        400,
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("KV"), "{e}");
    s.shutdown().await;
}

#[test]
fn the_documented_timeouts_are_the_defaults() {
    let o = ServerOptions::default();
    assert_eq!(o.header_read_timeout, Duration::from_secs(10));
    assert_eq!(o.idle_timeout, Duration::from_secs(30));
    assert_eq!(
        (HEADER_READ_TIMEOUT, IDLE_TIMEOUT),
        (o.header_read_timeout, o.idle_timeout)
    );
    assert!(o.admin_token.is_none());
}

const HEADER_READ: Duration = Duration::from_millis(400);
const IDLE: Duration = Duration::from_millis(1500);

/// A head left unfinished, or trickled a byte at a time, is cut at the header-read timeout
/// from its first byte, without an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_or_trickled_head_is_closed_at_the_header_read_timeout() {
    let s = server(HEADER_READ, IDLE).await;
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let t0 = Instant::now();
    tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: cp\r\n")
        .await
        .unwrap();
    let (got, closed) = read_to_close(&mut tcp, Duration::from_secs(10)).await;
    let waited = t0.elapsed();
    assert!(closed, "a partial head keeps its connection");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        waited >= HEADER_READ - Duration::from_millis(50) && waited < IDLE,
        "closed after {waited:?}"
    );

    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let t0 = Instant::now();
    let trickle = async {
        for b in b"GET /health HTTP/1.1\r\nHost: cp\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if tcp.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .unwrap();
    let (got, closed) = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    let waited = t0.elapsed();
    assert!(
        closed && got.is_empty(),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Bytes kept coming, yet the connection was cut about HEADER_READ after the first one.
    assert!(
        waited < IDLE + Duration::from_millis(500),
        "closed after {waited:?}"
    );
    s.shutdown().await;
}

/// A kept-alive connection without a request is closed at the idle timeout (a silent new
/// connection too), while a request in progress longer than both timeouts is never cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_close_and_requests_in_progress_do_not() {
    let s = server(HEADER_READ, IDLE).await;

    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: cp\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until(&mut tcp, "{\"status\":\"ok\"}").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let t0 = Instant::now();
    let (got, closed) = read_to_close(&mut tcp, Duration::from_secs(10)).await;
    let waited = t0.elapsed();
    assert!(closed && got.is_empty());
    assert!(
        waited >= IDLE - Duration::from_millis(100) && waited < IDLE + Duration::from_secs(3),
        "closed after {waited:?}"
    );

    // A connection that never sends a byte waits for the idle timeout, not the header one.
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let t0 = Instant::now();
    let (_, closed) = read_to_close(&mut tcp, Duration::from_secs(10)).await;
    let waited = t0.elapsed();
    assert!(closed);
    assert!(
        waited >= IDLE - Duration::from_millis(100),
        "closed after {waited:?}"
    );

    // About 700 tokens of ~4 ms steps: silent on the wire for longer than both timeouts.
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let t0 = Instant::now();
    tcp.write_all(&raw_post("/v1/chat/completions", &chat(700, false)))
        .await
        .unwrap();
    let answer = read_until(&mut tcp, "\"usage\"").await;
    assert!(t0.elapsed() > IDLE + HEADER_READ, "{:?}", t0.elapsed());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s.shutdown().await;
}

async fn cluster_state(c: &reqwest::Client, s: &RunningServer) -> Value {
    c.get(format!("{}/admin/metrics", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn running(m: &Value) -> u64 {
    m["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["running"].as_u64().unwrap() + i["waiting"].as_u64().unwrap())
        .sum::<u64>()
        + m["queues"]["llm"].as_u64().unwrap()
}

/// Pipelined requests whose client went away: the one in progress is cancelled in the
/// cluster at once and the ones behind it never start, so a new request is served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_pipelined_requests_are_cancelled() {
    let s = tiny_server().await;
    let c = client();
    for stream in [false, true] {
        let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
        let mut bytes = Vec::new();
        for _ in 0..20 {
            // About 12 s each on the tiny cluster.
            bytes.extend(raw_post("/v1/chat/completions", &chat(3000, stream)));
        }
        tcp.write_all(&bytes).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while running(&cluster_state(&c, &s).await) == 0 {
            assert!(Instant::now() < deadline, "the first request never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(tcp);
        let t0 = Instant::now();
        loop {
            let m = cluster_state(&c, &s).await;
            if running(&m) == 0 {
                assert_eq!(m["requests"]["completed"], 0, "{m}");
                assert_eq!(m["requests"]["received"], m["requests"]["failed"], "{m}");
                assert_eq!(
                    m["requests"]["received"], 1,
                    "only the first one started: {m}"
                );
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(3), "still served: {m}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t0 = Instant::now();
        let resp = c
            .post(format!("{}/v1/chat/completions", s.url()))
            .json(&chat(5, false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        let r = c
            .post(format!("{}/admin/reset", s.url()))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    s.shutdown().await;
}
