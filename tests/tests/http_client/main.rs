//! The measuring HTTP client end to end, over loopback TCP, against small hand-written servers
//! that write canned raw HTTP bytes: body framings (chunked with extensions and trailers,
//! Content-Length, until close), reads split anywhere, keep-alive reuse and stale pooled
//! connections, interim responses, error statuses, malformed and cut responses, timeouts, and
//! the exact bytes the builtin client sends. Scenarios whose record should not depend on the
//! transport run with both and compare the records.

mod connections;
mod failures;
mod responses;
mod server;
mod streams_and_bodies;
mod what_is_sent;

use cpbench_core::record::{Outcome, RequestRecord};
use cpbench_core::request::RequestKind;
use cpbench_core::workload::RequestSpec;
use responses::*;
use sage_cp_bench::client::{Client, ClientOptions, Transport};
use server::{Script, Server, Step};
use std::time::{Duration, Instant};

const BOTH: [Transport; 2] = [Transport::Builtin, Transport::Reqwest];

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
        max_response_bytes: 64 << 20,
        tokenizer: None,
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
