//! The measuring HTTP client end to end, over loopback TCP, against small hand-written servers
//! that write canned raw HTTP bytes: body framings (chunked with extensions and trailers,
//! Content-Length, until close), reads split anywhere, keep-alive reuse and stale pooled
//! connections, interim responses, error statuses, malformed and cut responses, timeouts, and
//! the exact bytes the builtin client sends. Scenarios whose record should not depend on the
//! transport run with both and compare the records.

use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::request::RequestKind;
use cpbench_core::workload::RequestSpec;
use sage_cp_bench::client::{Client, ClientError, ClientOptions, Transport};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const BOTH: [Transport; 2] = [Transport::Builtin, Transport::Reqwest];

// ---------------------------------------------------------------------------------------------
// A scripted server.

/// What the server does after reading a request.
#[derive(Debug, Clone)]
enum Step {
    /// Writes these bytes (one write).
    Write(Vec<u8>),
    /// Waits this many milliseconds (so that the client's reads split here).
    Sleep(u64),
    /// Closes the connection.
    Close,
    /// Never answers (holds the connection open).
    Hang,
}

/// What the server does for request `req` (0, 1, ...) on connection `conn` (0, 1, ... in the
/// order accepted). Without a `Close`, the connection then waits for its next request.
trait Script: Fn(usize, usize) -> Vec<Step> + Send + Sync + 'static {}
impl<F: Fn(usize, usize) -> Vec<Step> + Send + Sync + 'static> Script for F {}

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    /// The connection it came on.
    conn: usize,
    /// Its bytes: head and body.
    raw: Vec<u8>,
}

/// A loopback server answering by script; stops when dropped.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(script: impl Script) -> Self {
        Self::start_dropping(0, script).await
    }

    /// A server that closes its first `drop_first` connections as soon as it accepts them.
    async fn start_dropping(drop_first: usize, script: impl Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<dyn Script> = Arc::new(script);
        let task = tokio::spawn({
            let accepted = accepted.clone();
            let seen = seen.clone();
            async move {
                // Dropped with this task: ends the connections too.
                let mut conns = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let conn = accepted.fetch_add(1, Ordering::SeqCst);
                    if conn < drop_first {
                        drop(stream);
                        continue;
                    }
                    stream.set_nodelay(true).unwrap();
                    conns.spawn(serve(conn, stream, script.clone(), seen.clone()));
                }
            }
        });
        Self {
            addr,
            accepted,
            seen,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The connection each request came on, in order.
    fn conns(&self) -> Vec<usize> {
        self.seen().iter().map(|s| s.conn).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    conn: usize,
    mut stream: TcpStream,
    script: Arc<dyn Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let mut pending = Vec::new();
    for req in 0.. {
        let Some(raw) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        seen.lock().unwrap().push(Seen { conn, raw });
        for step in script(conn, req) {
            match step {
                Step::Write(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Step::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Step::Close => {
                    let _ = stream.shutdown().await;
                    return;
                }
                Step::Hang => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
            }
        }
    }
}

/// Reads one whole request (head and `Content-Length` body); `None` at the end of the
/// connection. Bytes after it stay in `pending`.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(head_end) = find(pending, b"\r\n\r\n").map(|i| i + 4) {
            let len = content_length(&pending[..head_end]);
            if pending.len() >= head_end + len {
                return Some(pending.drain(..head_end + len).collect());
            }
        }
        let mut buf = [0u8; 16 * 1024];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.trim().parse().unwrap())
}

/// A request as sent, split into its parts.
#[derive(Debug)]
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn parse(raw: &[u8]) -> Self {
        let head_end = find(raw, b"\r\n\r\n").expect("a whole head") + 4;
        let head = std::str::from_utf8(&raw[..head_end - 4]).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("name: value");
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        Self {
            line,
            headers,
            body: raw[head_end..].to_vec(),
        }
    }

    /// A header's value, its name matched case-insensitively.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Canned responses.

const DONE: &str = "data: [DONE]\n\n";

fn event(json: &str) -> String {
    format!("data: {json}\n\n")
}

/// A chat chunk carrying `text` (an empty text is a chunk without content).
fn content(text: &str) -> String {
    event(&format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#
    ))
}

fn finish() -> String {
    event(
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    )
}

fn usage(prompt: u32, completion: u32) -> String {
    event(&format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{}}}}}"#,
        prompt + completion
    ))
}

/// A whole chat stream: a role chunk, three content chunks, a comment, the finish chunk,
/// usage (when given) and `[DONE]`.
fn chat_stream(with_usage: Option<(u32, u32)>) -> String {
    let mut s = content("");
    s += &content("Hel");
    s += ": keep-alive comment\n\n";
    s += &content("lo");
    s += &content(" world");
    s += &finish();
    if let Some((p, c)) = with_usage {
        s += &usage(p, c);
    }
    s += DONE;
    s
}

/// `payload` in chunked encoding, cut into chunks of `sizes` bytes in turn (so that events
/// straddle chunks), every other chunk with a chunk extension, ending with a trailer.
fn chunked(payload: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = payload;
    let mut k = 0;
    while !rest.is_empty() {
        let n = sizes[k % sizes.len()].min(rest.len());
        let ext = if k % 2 == 1 { ";name=value" } else { "" };
        out.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        k += 1;
    }
    out.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
    out
}

/// A chunked `text/event-stream` response.
fn chunked_sse(extra_headers: &str, payload: &str, sizes: &[usize]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{extra_headers}Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    r.extend_from_slice(&chunked(payload.as_bytes(), sizes));
    r
}

/// A response with a `Content-Length` body.
fn with_length(status: &str, content_type: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `bytes` as writes of at most `size` bytes, `gap_ms` apart.
fn dribble(bytes: &[u8], size: usize, gap_ms: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, part) in bytes.chunks(size).enumerate() {
        if i > 0 {
            steps.push(Step::Sleep(gap_ms));
        }
        steps.push(Step::Write(part.to_vec()));
    }
    steps
}

fn write(bytes: impl Into<Vec<u8>>) -> Vec<Step> {
    vec![Step::Write(bytes.into())]
}

const CHAT_JSON: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how are you?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;

// ---------------------------------------------------------------------------------------------
// The client side.

fn spec(kind: RequestKind) -> RequestSpec {
    cpbench_tests::sample_spec(kind)
}

fn options(base_url: String, transport: Transport) -> ClientOptions {
    ClientOptions {
        base_url,
        api_key: None,
        timeout: Duration::from_secs(2),
        stream: true,
        max_idle_connections: 4,
        transport,
        threads: 1,
    }
}

fn client(server: &Server, transport: Transport) -> Client {
    Client::new(options(server.url(), transport)).unwrap()
}

async fn send(client: &Client, kind: RequestKind) -> RequestRecord {
    let req = client.prepare(&spec(kind), "t");
    client.execute(&req, Instant::now(), 0).await
}

/// One scenario's result with one transport.
struct Run {
    transport: Transport,
    rec: RequestRecord,
    server: Server,
}

/// Runs one chat request with each transport, each against its own server running `script`.
async fn run_both(stream: bool, script: impl Script + Clone) -> Vec<Run> {
    let mut runs = Vec::new();
    for transport in BOTH {
        let server = Server::start(script.clone()).await;
        let client = Client::new(ClientOptions {
            stream,
            ..options(server.url(), transport)
        })
        .unwrap();
        let rec = send(&client, RequestKind::LlmChat).await;
        runs.push(Run {
            transport,
            rec,
            server,
        });
    }
    assert_same(&runs);
    runs
}

/// The outcome without its message where transports may word it differently.
fn outcome_kind(o: &Outcome) -> String {
    match o {
        Outcome::Http { status, message } => format!("http {status}: {message}"),
        other => other.error_key().unwrap_or_else(|| "success".into()),
    }
}

/// The two transports' records agree on everything measured but the times.
fn assert_same(runs: &[Run]) {
    let (a, b) = (&runs[0].rec, &runs[1].rec);
    let what = "builtin vs reqwest";
    assert_eq!(outcome_kind(&a.outcome), outcome_kind(&b.outcome), "{what}");
    assert_eq!(a.chunks, b.chunks, "{what}: chunks");
    assert_eq!(a.itl_us.len(), b.itl_us.len(), "{what}: itl_us");
    assert_eq!(a.output_tokens, b.output_tokens, "{what}: output_tokens");
    assert_eq!(
        a.output_tokens_source, b.output_tokens_source,
        "{what}: output_tokens_source"
    );
    assert_eq!(a.input_tokens, b.input_tokens, "{what}: input_tokens");
    assert_eq!(a.queue_time_ms, b.queue_time_ms, "{what}: queue_time_ms");
    assert_eq!(
        a.backend_instance, b.backend_instance,
        "{what}: backend_instance"
    );
    assert_eq!(
        a.first_token_us.is_some(),
        b.first_token_us.is_some(),
        "{what}: first_token_us"
    );
}

/// A successful stream of `chunks` content chunks: times in order and consistent.
fn assert_streamed(rec: &RequestRecord, chunks: u32) {
    assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
    assert_eq!(rec.chunks, chunks);
    assert_eq!(rec.itl_us.len(), chunks as usize - 1);
    let first = rec.first_token_us.expect("a first token");
    assert!(rec.sent_us <= first, "{rec:?}");
    let gaps: u64 = rec.itl_us.iter().map(|&g| u64::from(g)).sum();
    assert!(first + gaps <= rec.end_us, "{rec:?}");
}

// ---------------------------------------------------------------------------------------------
// Streams and their framings.

#[tokio::test]
async fn a_chunked_stream_split_everywhere_is_measured_fully() {
    let body = chat_stream(Some((11, 3)));
    let wire = chunked_sse(
        "x-BACKEND-instance: pod-7\r\nX-Queue-Time-MS: 12.5\r\n",
        &body,
        &[23, 61, 7, 40],
    );
    // Writes of 45 bytes 5 ms apart split the head, the chunk-size lines, the chunks and the
    // events at every kind of place.
    let runs = run_both(true, move |_, _| dribble(&wire, 45, 5)).await;
    for Run { transport, rec, .. } in &runs {
        assert_streamed(rec, 3);
        assert!(
            rec.first_token_us.unwrap() < rec.end_us,
            "{transport:?}: the first content came reads before [DONE]"
        );
        assert_eq!(rec.output_tokens, 3, "{transport:?}");
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
        assert_eq!(rec.input_tokens, Some(11));
        assert_eq!(rec.backend_instance.as_deref(), Some("pod-7"));
        assert_eq!(rec.queue_time_ms, Some(12.5));
        assert_eq!(rec.id, 7);
        assert_eq!(rec.prompt_tokens_est, 4);
    }
}

#[tokio::test]
async fn a_stream_without_usage_counts_its_chunks() {
    let wire = chunked_sse("", &chat_stream(None), &[1000]);
    let runs = run_both(true, move |_, _| write(wire.clone())).await;
    for Run { rec, .. } in &runs {
        assert_streamed(rec, 3);
        assert_eq!(rec.output_tokens, 3);
        assert_eq!(rec.output_tokens_source, TokenSource::Chunks);
        assert_eq!(rec.input_tokens, None);
        assert_eq!(rec.backend_instance, None);
        assert_eq!(rec.queue_time_ms, None);
    }
}

#[tokio::test]
async fn a_stream_framed_by_content_length_is_measured() {
    let wire = with_length(
        "200 OK",
        "text/event-stream; charset=utf-8",
        "X-Backend-Instance: b-1\r\n",
        &chat_stream(Some((5, 3))),
    );
    let runs = run_both(true, move |_, _| dribble(&wire, 60, 5)).await;
    for Run { rec, .. } in &runs {
        assert_streamed(rec, 3);
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
        assert_eq!(rec.input_tokens, Some(5));
        assert_eq!(rec.backend_instance.as_deref(), Some("b-1"));
    }
}

#[tokio::test]
async fn a_stream_delimited_by_closing_the_connection_is_read_to_its_end() {
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_vec();
    wire.extend_from_slice(chat_stream(Some((5, 3))).as_bytes());
    let runs = run_both(true, move |_, _| {
        let mut steps = dribble(&wire, 70, 5);
        steps.push(Step::Close);
        steps
    })
    .await;
    for Run { rec, .. } in &runs {
        assert_streamed(rec, 3);
        assert_eq!(rec.output_tokens, 3);
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
    }
}

#[tokio::test]
async fn interim_responses_before_the_final_one_are_skipped() {
    // A 100 Continue on its own, then a 103 Early Hints (with a header that must not count)
    // in the same write as the final response.
    let mut last = b"HTTP/1.1 103 Early Hints\r\nX-Backend-Instance: interim\r\nLink: </a>; rel=preload\r\n\r\n".to_vec();
    last.extend_from_slice(&chunked_sse(
        "X-Backend-Instance: final\r\n",
        &chat_stream(Some((5, 3))),
        &[50],
    ));
    let runs = run_both(true, move |_, _| {
        vec![
            Step::Write(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
            Step::Sleep(10),
            Step::Write(last.clone()),
        ]
    })
    .await;
    for Run { rec, .. } in &runs {
        assert_streamed(rec, 3);
        assert_eq!(rec.backend_instance.as_deref(), Some("final"));
    }
}

// ---------------------------------------------------------------------------------------------
// Whole bodies.

#[tokio::test]
async fn a_non_streamed_chat_body_reads_usage() {
    let wire = with_length(
        "200 OK",
        "application/json",
        "X-Queue-Time-Ms: 3\r\n",
        CHAT_JSON,
    );
    let runs = run_both(false, move |_, _| dribble(&wire, 100, 5)).await;
    for Run { rec, server, .. } in &runs {
        assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
        assert_eq!(rec.chunks, 1);
        assert!(rec.itl_us.is_empty());
        assert_eq!(rec.output_tokens, 5);
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
        assert_eq!(rec.input_tokens, Some(9));
        assert_eq!(rec.queue_time_ms, Some(3.0));
        assert_eq!(rec.first_token_us, Some(rec.end_us));
        let body = Request::parse(&server.seen()[0].raw).json();
        assert_eq!(body["stream"], false);
        assert!(body.get("stream_options").is_none());
    }
}

#[tokio::test]
async fn a_non_streamed_body_without_usage_is_estimated() {
    let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"one two three four five six seven eight"}}]}"#;
    let wire = with_length("200 OK", "application/json", "", body);
    let runs = run_both(false, move |_, _| write(wire.clone())).await;
    for Run { rec, .. } in &runs {
        assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
        assert_eq!(rec.output_tokens_source, TokenSource::Estimated);
        assert!(rec.output_tokens > 0);
        assert_eq!(rec.input_tokens, None);
    }
}

#[tokio::test]
async fn a_json_answer_to_a_streamed_request_is_read_whole() {
    // The server ignored "stream": true.
    let wire = with_length("200 OK", "application/json", "", CHAT_JSON);
    let runs = run_both(true, move |_, _| write(wire.clone())).await;
    for Run { rec, .. } in &runs {
        assert_eq!(rec.outcome, Outcome::Success, "{rec:?}");
        assert_eq!(rec.chunks, 1);
        assert_eq!(rec.output_tokens, 5);
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
    }
}

#[tokio::test]
async fn embeddings_count_their_vectors() {
    for (vectors, ok) in [(2, true), (1, false)] {
        let data: Vec<String> = (0..vectors)
            .map(|i| format!(r#"{{"object":"embedding","index":{i},"embedding":[0.1,0.2]}}"#))
            .collect();
        let body = format!(
            r#"{{"object":"list","data":[{}],"usage":{{"prompt_tokens":2,"total_tokens":2}}}}"#,
            data.join(",")
        );
        for transport in BOTH {
            let wire = with_length("200 OK", "application/json", "", &body);
            let server = Server::start(move |_, _| write(wire.clone())).await;
            let rec = send(&client(&server, transport), RequestKind::Embedding).await;
            let seen = Request::parse(&server.seen()[0].raw);
            assert_eq!(seen.line, "POST /v1/embeddings HTTP/1.1");
            assert_eq!(seen.json()["input"], serde_json::json!(["a", "b"]));
            if ok {
                assert_eq!(rec.outcome, Outcome::Success, "{transport:?}");
            } else {
                assert!(
                    matches!(&rec.outcome, Outcome::Malformed { message } if message.contains("1 vectors for 2 inputs")),
                    "{transport:?}: {:?}",
                    rec.outcome
                );
            }
            assert_eq!(rec.output_tokens_source, TokenSource::None);
            assert_eq!(rec.output_tokens, 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Connections.

#[tokio::test]
async fn keep_alive_carries_sequential_requests_on_one_connection() {
    let stream = chunked_sse("", &chat_stream(Some((5, 3))), &[64]);
    let json = with_length("200 OK", "application/json", "", CHAT_JSON);
    for transport in BOTH {
        for (streamed, wire) in [(true, stream.clone()), (false, json.clone())] {
            let server = Server::start(move |_, _| write(wire.clone())).await;
            let client = Client::new(ClientOptions {
                stream: streamed,
                ..options(server.url(), transport)
            })
            .unwrap();
            for _ in 0..3 {
                let rec = send(&client, RequestKind::LlmChat).await;
                assert_eq!(rec.outcome, Outcome::Success, "{transport:?}");
            }
            assert_eq!(
                server.accepted(),
                1,
                "{transport:?}, streamed {streamed}: one connection for three requests"
            );
            assert_eq!(server.conns(), [0, 0, 0]);
        }
    }
}

#[tokio::test]
async fn a_response_saying_connection_close_is_not_reused() {
    let wire = with_length(
        "200 OK",
        "application/json",
        "Connection: close\r\n",
        CHAT_JSON,
    );
    let server = Server::start(move |_, _| {
        let mut s = write(wire.clone());
        s.push(Step::Close);
        s
    })
    .await;
    let client = client(&server, Transport::Builtin);
    for _ in 0..2 {
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
    }
    assert_eq!(server.conns(), [0, 1]);
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_retried_on_a_new_one() {
    let wire = chunked_sse("", &chat_stream(Some((5, 3))), &[64]);
    for transport in BOTH {
        let wire = wire.clone();
        // The first connection answers with keep-alive, then closes while idle.
        let server = Server::start(move |conn, _| {
            let mut s = write(wire.clone());
            if conn == 0 {
                s.push(Step::Sleep(5));
                s.push(Step::Close);
            }
            s
        })
        .await;
        let client = client(&server, transport);
        assert_streamed(&send(&client, RequestKind::LlmChat).await, 3);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rec = send(&client, RequestKind::LlmChat).await;
        assert_streamed(&rec, 3);
        assert_eq!(server.accepted(), 2, "{transport:?}");
        assert_eq!(server.conns(), [0, 1], "{transport:?}");
    }
}

#[tokio::test]
async fn every_stale_pooled_connection_is_skipped() {
    // Two connections in the pool, both closed by the server while idle (as an idle timeout
    // on the server does): the next request still succeeds, on a new connection.
    let wire = with_length("200 OK", "application/json", "", CHAT_JSON);
    for transport in BOTH {
        let wire = wire.clone();
        let server = Server::start(move |conn, _| {
            let mut s = vec![Step::Sleep(30)];
            s.extend(write(wire.clone()));
            if conn < 2 {
                s.push(Step::Sleep(5));
                s.push(Step::Close);
            }
            s
        })
        .await;
        let client = Client::new(ClientOptions {
            stream: false,
            ..options(server.url(), transport)
        })
        .unwrap();
        let (a, b) = futures_util::future::join(
            send(&client, RequestKind::LlmChat),
            send(&client, RequestKind::LlmChat),
        )
        .await;
        assert_eq!((a.outcome, b.outcome), (Outcome::Success, Outcome::Success));
        assert_eq!(
            server.accepted(),
            2,
            "{transport:?}: two concurrent requests"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rec = send(&client, RequestKind::LlmChat).await;
        assert_eq!(rec.outcome, Outcome::Success, "{transport:?}");
        assert_eq!(server.accepted(), 3, "{transport:?}");
        assert_eq!(server.conns().last(), Some(&2), "{transport:?}");
    }
}

#[tokio::test]
async fn a_request_the_server_read_is_never_sent_again() {
    // The first request is answered with keep-alive; the second is read on the same
    // connection and the connection closed unanswered. The server has it: sending it again
    // could run it twice, so it is a connection error, and the server saw it once.
    let wire = with_length("200 OK", "application/json", "", CHAT_JSON);
    for transport in BOTH {
        let wire = wire.clone();
        let server = Server::start(move |_, req| {
            if req == 0 {
                write(wire.clone())
            } else {
                vec![Step::Close]
            }
        })
        .await;
        let client = Client::new(ClientOptions {
            stream: false,
            ..options(server.url(), transport)
        })
        .unwrap();
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
        let rec = send(&client, RequestKind::LlmChat).await;
        assert!(
            matches!(rec.outcome, Outcome::Connection { .. }),
            "{transport:?}: {:?}",
            rec.outcome
        );
        assert_eq!(
            server.conns(),
            [0, 0],
            "{transport:?}: the second request once"
        );
    }
}

#[tokio::test]
async fn bytes_arriving_on_an_idle_connection_retire_it() {
    // After answering, the server writes a 408 on the idle connection and closes it: the
    // next request goes on a new connection, not reading that 408 as its answer.
    let wire = with_length("200 OK", "application/json", "", CHAT_JSON);
    let timeout_408 = with_length(
        "408 Request Timeout",
        "text/plain",
        "Connection: close\r\n",
        "idle",
    );
    for transport in BOTH {
        let (wire, timeout_408) = (wire.clone(), timeout_408.clone());
        let server = Server::start(move |conn, _| {
            let mut s = write(wire.clone());
            if conn == 0 {
                s.push(Step::Sleep(5));
                s.extend(write(timeout_408.clone()));
            }
            s
        })
        .await;
        let client = Client::new(ClientOptions {
            stream: false,
            ..options(server.url(), transport)
        })
        .unwrap();
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rec = send(&client, RequestKind::LlmChat).await;
        assert_eq!(rec.outcome, Outcome::Success, "{transport:?}");
        assert_eq!(server.conns(), [0, 1], "{transport:?}");
    }
}

#[tokio::test]
async fn a_fresh_connection_closed_unanswered_is_a_connection_error() {
    for transport in BOTH {
        let server = Server::start(|_, _| vec![Step::Close]).await;
        let rec = send(&client(&server, transport), RequestKind::LlmChat).await;
        assert!(
            matches!(rec.outcome, Outcome::Connection { .. }),
            "{transport:?}: {:?}",
            rec.outcome
        );
        assert_eq!(rec.first_token_us, None);
        assert_eq!(rec.output_tokens_source, TokenSource::None);
        // Not sent again: the request may have reached the server.
        assert_eq!(server.accepted(), 1, "{transport:?}");
        assert_eq!(server.seen().len(), 1, "{transport:?}");
    }
}

#[tokio::test]
async fn a_retried_request_is_retried_only_once() {
    // The first connection answers, then closes while idle; every later one closes unanswered.
    let wire = with_length("200 OK", "application/json", "", CHAT_JSON);
    for transport in BOTH {
        let wire = wire.clone();
        let server = Server::start(move |conn, _| {
            if conn == 0 {
                let mut s = write(wire.clone());
                s.push(Step::Sleep(5));
                s.push(Step::Close);
                s
            } else {
                vec![Step::Close]
            }
        })
        .await;
        let client = Client::new(ClientOptions {
            stream: false,
            ..options(server.url(), transport)
        })
        .unwrap();
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rec = send(&client, RequestKind::LlmChat).await;
        assert!(
            matches!(rec.outcome, Outcome::Connection { .. }),
            "{transport:?}: {:?}",
            rec.outcome
        );
        assert_eq!(server.accepted(), 2, "{transport:?}");
    }
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for transport in BOTH {
        let client = Client::new(options(format!("http://{addr}"), transport)).unwrap();
        let rec = send(&client, RequestKind::LlmChat).await;
        assert!(
            matches!(rec.outcome, Outcome::Connection { .. }),
            "{transport:?}: {:?}",
            rec.outcome
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Error statuses.

#[tokio::test]
async fn an_error_status_keeps_its_message_and_the_connection() {
    let error =
        r#"{"error":{"message":"the model is overloaded","type":"server_error","code":503}}"#;
    let err = with_length(
        "503 Service Unavailable",
        "application/json",
        "X-Backend-Instance: b-2\r\n",
        error,
    );
    let ok = chunked_sse("", &chat_stream(Some((5, 3))), &[64]);
    for transport in BOTH {
        let (err, ok) = (err.clone(), ok.clone());
        let server = Server::start(move |_, req| {
            if req == 0 {
                dribble(&err, 40, 5)
            } else {
                write(ok.clone())
            }
        })
        .await;
        let client = client(&server, transport);
        let rec = send(&client, RequestKind::LlmChat).await;
        assert_eq!(
            rec.outcome,
            Outcome::Http {
                status: 503,
                message: "the model is overloaded".into()
            },
            "{transport:?}"
        );
        assert_eq!(rec.first_token_us, None);
        assert_eq!(rec.chunks, 0);
        assert_eq!(
            (rec.output_tokens, rec.output_tokens_source),
            (0, TokenSource::None)
        );
        assert_eq!(rec.backend_instance.as_deref(), Some("b-2"));
        assert!(rec.end_us >= rec.sent_us);
        assert_streamed(&send(&client, RequestKind::LlmChat).await, 3);
        assert_eq!(
            server.conns(),
            [0, 0],
            "{transport:?}: the connection was reused"
        );
    }
}

#[tokio::test]
async fn a_chunked_plain_text_error_body_is_the_message() {
    let mut wire =
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    wire.extend_from_slice(&chunked(b"  slow down, please\n", &[6]));
    let runs = run_both(true, move |_, _| dribble(&wire, 20, 5)).await;
    for Run { rec, .. } in &runs {
        assert_eq!(
            rec.outcome,
            Outcome::Http {
                status: 429,
                message: "slow down, please".into()
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed and cut responses.

#[tokio::test]
async fn garbage_instead_of_a_response_head_fails() {
    for transport in BOTH {
        let server =
            Server::start(|_, _| write(&b"SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n"[..]))
                .await;
        let rec = send(&client(&server, transport), RequestKind::LlmChat).await;
        match transport {
            // The builtin client read a response, and it was not HTTP.
            Transport::Builtin => assert!(
                matches!(&rec.outcome, Outcome::Malformed { message } if message.contains("invalid HTTP response head")),
                "{:?}",
                rec.outcome
            ),
            // reqwest reports every failure before a response head as a connection error.
            _ => assert!(
                matches!(rec.outcome, Outcome::Connection { .. }),
                "{:?}",
                rec.outcome
            ),
        }
        assert_eq!(server.accepted(), 1, "{transport:?}: not retried");
    }
}

#[tokio::test]
async fn an_invalid_chunk_size_fails() {
    let mut wire = chunked_sse("", &content("Hi"), &[1000]);
    // Instead of the last chunk: a size that is not hexadecimal.
    let cut = wire.len() - b"0\r\nX-Trailer: done\r\n\r\n".len();
    wire.truncate(cut);
    wire.extend_from_slice(b"zz\r\nmore\r\n0\r\n\r\n");
    for transport in BOTH {
        let wire = wire.clone();
        let server = Server::start(move |_, _| dribble(&wire, 60, 5)).await;
        let rec = send(&client(&server, transport), RequestKind::LlmChat).await;
        match transport {
            Transport::Builtin => assert!(
                matches!(&rec.outcome, Outcome::Malformed { message } if message.contains("invalid chunked body")),
                "{:?}",
                rec.outcome
            ),
            // hyper reports it as a failed body read.
            _ => assert!(
                matches!(rec.outcome, Outcome::StreamBroken { .. }),
                "{:?}",
                rec.outcome
            ),
        }
        assert_eq!(rec.chunks, 1, "{transport:?}: the content before it counts");
        assert!(rec.first_token_us.is_some());
    }
}

#[tokio::test]
async fn a_stream_cut_in_the_middle_of_an_event_is_broken() {
    let whole = chat_stream(Some((5, 3)));
    let cut_at = whole.find("lo\"").unwrap();
    let part = &whole[..cut_at];
    // Close-delimited: both transports see the body end, and say the same.
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_vec();
    wire.extend_from_slice(part.as_bytes());
    let runs = run_both(true, move |_, _| {
        let mut s = dribble(&wire, 80, 5);
        s.push(Step::Close);
        s
    })
    .await;
    for Run { rec, .. } in &runs {
        assert_eq!(
            rec.outcome,
            Outcome::StreamBroken {
                message: "stream ended in the middle of an event".into()
            }
        );
        assert_eq!(rec.chunks, 1);
        assert_eq!(rec.output_tokens, 1);
        assert_eq!(rec.output_tokens_source, TokenSource::Chunks);
    }
    // Chunked: the connection closes inside the body.
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    wire.extend_from_slice(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes());
    let runs = run_both(true, move |_, _| {
        let mut s = dribble(&wire, 80, 5);
        s.push(Step::Close);
        s
    })
    .await;
    for Run { transport, rec, .. } in &runs {
        assert!(
            matches!(&rec.outcome, Outcome::StreamBroken { .. }),
            "{transport:?}: {:?}",
            rec.outcome
        );
        assert_eq!(rec.chunks, 1);
    }
    assert!(matches!(
        &runs[0].rec.outcome,
        Outcome::StreamBroken { message } if message.starts_with("stream ended in the middle of an event (the server closed")
    ));
}

#[tokio::test]
async fn a_stream_ending_without_done_is_broken() {
    let whole = chat_stream(Some((5, 3)));
    let no_done = whole.strip_suffix(DONE).unwrap();
    let wire = chunked_sse("", no_done, &[30]);
    let runs = run_both(true, move |_, _| write(wire.clone())).await;
    for Run { rec, .. } in &runs {
        assert_eq!(
            rec.outcome,
            Outcome::StreamBroken {
                message: "stream ended without data: [DONE]".into()
            }
        );
        assert_eq!(rec.chunks, 3);
        // The usage that came still counts.
        assert_eq!(rec.output_tokens_source, TokenSource::Usage);
    }
}

#[tokio::test]
async fn an_error_event_in_the_stream_breaks_it() {
    let mut body = content("Hi");
    body += &event(r#"{"error":{"message":"backend died","type":"server_error"}}"#);
    body += &content("never counted");
    body += DONE;
    let wire = chunked_sse("", &body, &[40]);
    let runs = run_both(true, move |_, _| dribble(&wire, 50, 5)).await;
    for Run { rec, .. } in &runs {
        assert_eq!(
            rec.outcome,
            Outcome::StreamBroken {
                message: "error event in stream: backend died".into()
            }
        );
        assert_eq!(rec.chunks, 1);
    }
}

#[tokio::test]
async fn a_chunk_that_is_not_json_is_malformed() {
    let mut body = content("Hi");
    body += "data: <html>oops</html>\n\n";
    body += DONE;
    let wire = with_length("200 OK", "text/event-stream", "", &body);
    let runs = run_both(true, move |_, _| write(wire.clone())).await;
    for Run { rec, .. } in &runs {
        assert!(
            matches!(&rec.outcome, Outcome::Malformed { message } if message.contains("expected a JSON object")),
            "{:?}",
            rec.outcome
        );
        assert_eq!(rec.chunks, 1);
    }
}

#[tokio::test]
async fn a_stream_whose_body_does_not_end_after_done_succeeds() {
    // [DONE] came, but the server neither ends the body nor closes the connection: the
    // request succeeded (it does not wait for the timeout), and the connection is not reused.
    let stream = chat_stream(Some((5, 3)));
    let mut chunked_open = chunked_sse("", &stream, &[1000]);
    chunked_open.truncate(chunked_open.len() - b"0\r\nX-Trailer: done\r\n\r\n".len());
    let length_open = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{stream}",
        stream.len() + 10
    )
    .into_bytes();
    let mut close_open =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_vec();
    close_open.extend_from_slice(stream.as_bytes());
    let ok = chunked_sse("", &stream, &[1000]);
    for transport in BOTH {
        for open in [&chunked_open, &length_open, &close_open] {
            let (open, ok) = (open.clone(), ok.clone());
            let server = Server::start(move |conn, _| {
                if conn == 0 {
                    vec![Step::Write(open.clone()), Step::Hang]
                } else {
                    write(ok.clone())
                }
            })
            .await;
            let client = Client::new(ClientOptions {
                timeout: Duration::from_secs(1),
                ..options(server.url(), transport)
            })
            .unwrap();
            let started = Instant::now();
            let rec = send(&client, RequestKind::LlmChat).await;
            let took = started.elapsed();
            assert_eq!(rec.outcome, Outcome::Success, "{transport:?}: {rec:?}");
            assert_streamed(&rec, 3);
            assert_eq!(rec.output_tokens_source, TokenSource::Usage);
            assert!(took < Duration::from_millis(600), "{transport:?}: {took:?}");
            assert_streamed(&send(&client, RequestKind::LlmChat).await, 3);
            assert_eq!(server.conns(), [0, 1], "{transport:?}");
        }
    }
}

#[tokio::test]
async fn a_body_ending_shortly_after_done_keeps_the_connection() {
    // The builtin client reads the chunked body's end after [DONE] when it follows soon.
    let mut wire = chunked_sse("", &chat_stream(Some((5, 3))), &[1000]);
    let end = wire.split_off(wire.len() - b"0\r\nX-Trailer: done\r\n\r\n".len());
    let server = Server::start(move |_, _| {
        vec![
            Step::Write(wire.clone()),
            Step::Sleep(20),
            Step::Write(end.clone()),
        ]
    })
    .await;
    let client = client(&server, Transport::Builtin);
    for _ in 0..2 {
        assert_streamed(&send(&client, RequestKind::LlmChat).await, 3);
    }
    assert_eq!(server.conns(), [0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Timeouts.

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    for transport in BOTH {
        let server = Server::start(|_, _| vec![Step::Hang]).await;
        let client = Client::new(ClientOptions {
            timeout: Duration::from_millis(300),
            ..options(server.url(), transport)
        })
        .unwrap();
        let started = Instant::now();
        let rec = send(&client, RequestKind::LlmChat).await;
        let took = started.elapsed();
        assert_eq!(rec.outcome, Outcome::Timeout, "{transport:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(900),
            "{transport:?}: {took:?}"
        );
        assert!(rec.end_us - rec.sent_us >= 300_000, "{rec:?}");
        assert_eq!(rec.first_token_us, None);
        assert_eq!(rec.output_tokens_source, TokenSource::None);
    }
}

#[tokio::test]
async fn a_stalled_stream_times_out_keeping_what_arrived() {
    let mut head = chunked_sse("X-Backend-Instance: slow\r\n", &content("Hi"), &[1000]);
    head.truncate(head.len() - b"0\r\nX-Trailer: done\r\n\r\n".len());
    for transport in BOTH {
        let head = head.clone();
        let server = Server::start(move |_, _| vec![Step::Write(head.clone()), Step::Hang]).await;
        let client = Client::new(ClientOptions {
            timeout: Duration::from_millis(300),
            ..options(server.url(), transport)
        })
        .unwrap();
        let rec = send(&client, RequestKind::LlmChat).await;
        assert_eq!(rec.outcome, Outcome::Timeout, "{transport:?}");
        assert_eq!(rec.chunks, 1);
        assert!(rec.first_token_us.unwrap() < rec.end_us);
        assert!(rec.end_us - rec.sent_us >= 300_000);
        assert_eq!(rec.backend_instance.as_deref(), Some("slow"));
    }
}

// ---------------------------------------------------------------------------------------------
// What is sent.

#[tokio::test]
async fn the_builtin_client_writes_exactly_this_request() {
    let wire = chunked_sse("", &chat_stream(None), &[1000]);
    let server = Server::start(move |_, _| write(wire.clone())).await;
    let client = Client::new(ClientOptions {
        api_key: Some("KEY-123".into()),
        ..options(server.url(), Transport::Builtin)
    })
    .unwrap();
    let req = client.prepare(&spec(RequestKind::LlmChat), "t");
    let rec = client.execute(&req, Instant::now(), 0).await;
    assert_eq!(rec.outcome, Outcome::Success);
    let raw = &server.seen()[0].raw;
    let body = req.body();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         User-Agent: sage-cp-bench/{version}\r\n\
         Accept: */*\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {len}\r\n\
         x-request-id: t-7\r\n\
         x-request-priority: HIGH\r\n\
         x-slo-deadline-ms: 2000\r\n\
         x-request-type: llm_chat\r\n\
         Authorization: Bearer KEY-123\r\n\
         \r\n",
        port = server.addr.port(),
        version = env!("CARGO_PKG_VERSION"),
        len = body.len(),
    );
    assert_eq!(String::from_utf8_lossy(&raw[..head.len()]), head);
    assert_eq!(&raw[head.len()..], body);
    let json: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["model"], "m");
    assert_eq!(json["messages"][0]["content"], "tell me a story");
    assert_eq!(json["max_tokens"], 6);
    assert_eq!(json["stream"], true);
    assert_eq!(json["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn both_transports_send_the_same_request() {
    let mut seen = Vec::new();
    for transport in BOTH {
        let wire = chunked_sse("", &chat_stream(None), &[1000]);
        let server = Server::start(move |_, _| write(wire.clone())).await;
        let client = Client::new(ClientOptions {
            api_key: Some("sk-abc".into()),
            ..options(server.url(), transport)
        })
        .unwrap();
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
        let r = Request::parse(&server.seen()[0].raw);
        assert_eq!(
            r.line, "POST /v1/chat/completions HTTP/1.1",
            "{transport:?}"
        );
        let host = format!("127.0.0.1:{}", server.addr.port());
        let len = r.body.len().to_string();
        for (name, value) in [
            ("host", host.as_str()),
            ("content-type", "application/json"),
            ("content-length", len.as_str()),
            ("x-request-id", "t-7"),
            ("x-request-priority", "HIGH"),
            ("x-slo-deadline-ms", "2000"),
            ("x-request-type", "llm_chat"),
            ("authorization", "Bearer sk-abc"),
        ] {
            assert_eq!(r.header(name), Some(value), "{transport:?}: {name}");
        }
        seen.push(r.body);
    }
    assert_eq!(seen[0], seen[1], "the same body");
}

#[tokio::test]
async fn a_base_url_path_prefixes_every_endpoint() {
    for transport in BOTH {
        for (suffix, kind, path) in [
            (
                "/prefix",
                RequestKind::LlmChat,
                "/prefix/v1/chat/completions",
            ),
            (
                "/prefix/",
                RequestKind::LlmGenerate,
                "/prefix/v1/completions",
            ),
            ("/a/b", RequestKind::Embedding, "/a/b/v1/embeddings"),
        ] {
            let server = Server::start(|_, _| {
                write(with_length(
                    "404 Not Found",
                    "application/json",
                    "",
                    r#"{"error":{"message":"no such route"}}"#,
                ))
            })
            .await;
            let client =
                Client::new(options(format!("{}{suffix}", server.url()), transport)).unwrap();
            let rec = send(&client, kind).await;
            assert_eq!(
                rec.outcome,
                Outcome::Http {
                    status: 404,
                    message: "no such route".into()
                }
            );
            let r = Request::parse(&server.seen()[0].raw);
            assert_eq!(r.line, format!("POST {path} HTTP/1.1"), "{transport:?}");
            assert_eq!(r.header("x-request-type"), Some(kind.as_str()));
        }
    }
}

#[tokio::test]
async fn bad_options_are_refused() {
    let https = Client::new(options("https://example.com".into(), Transport::Builtin));
    assert!(
        matches!(&https, Err(ClientError::BuiltinNeedsHttp { url }) if url == "https://example.com"),
        "{https:?}"
    );
    for key in ["abc\ndef", "abc\r", "tab\there", "caf\u{e9}"] {
        let r = Client::new(ClientOptions {
            api_key: Some(key.into()),
            ..options("http://127.0.0.1:9".into(), Transport::Builtin)
        });
        assert!(matches!(r, Err(ClientError::BadApiKey)), "{key:?}: {r:?}");
    }
    for url in ["ftp://127.0.0.1", "not a url", "http://"] {
        let r = Client::new(options(url.into(), Transport::Auto));
        assert!(
            matches!(r, Err(ClientError::BadUrl { .. })),
            "{url:?}: {r:?}"
        );
    }
    // Auto picks builtin for http and reqwest for https.
    let auto = |url: &str| {
        Client::new(options(url.into(), Transport::Auto))
            .unwrap()
            .transport()
    };
    assert_eq!(auto("http://127.0.0.1:9"), Transport::Builtin);
    assert_eq!(auto("https://example.com"), Transport::Reqwest);
}
