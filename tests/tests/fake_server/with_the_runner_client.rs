//! What the runner's own client makes of each fault.

use super::*;
use cpbench_core::record::{Outcome, TokenSource};
use cpbench_core::request::RequestKind;
use cpbench_core::workload::RequestSpec;
use sage_cp_bench::client::{Client, ClientOptions};

fn spec(kind: RequestKind) -> RequestSpec {
    cpbench_tests::sample_spec(kind)
}

async fn run(b: Behavior, kind: RequestKind) -> (cpbench_core::record::RequestRecord, FakeServer) {
    let server = FakeServer::start(b);
    let client = Client::new(ClientOptions {
        base_url: server.url(),
        api_key: None,
        timeout: Duration::from_millis(500),
        stream: true,
        max_idle_connections: 4,
        max_response_bytes: 64 << 20,
        tokenizer: None,
        transport: sage_cp_bench::client::Transport::Auto,
        threads: 1,
    })
    .unwrap();
    let req = client.prepare(&spec(kind), "t");
    let rec = client.execute(&req, Instant::now(), 0).await;
    (rec, server)
}

#[tokio::test]
async fn a_well_behaved_stream_is_measured_fully() {
    let (rec, server) = run(
        Behavior {
            backend_instance: "llm-3".into(),
            queue_time_ms: 4.0,
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await;
    assert_eq!(rec.outcome, Outcome::Success);
    assert_eq!(rec.chunks, 6);
    assert_eq!(rec.output_tokens, 6);
    assert_eq!(rec.output_tokens_source, TokenSource::Usage);
    assert_eq!(rec.itl_us.len(), 5);
    assert_eq!(rec.backend_instance.as_deref(), Some("llm-3"));
    assert_eq!(rec.queue_time_ms, Some(4.0));
    let seen = server.captured();
    assert_eq!(seen[0].header("x-request-id"), Some("t-7"));
    assert_eq!(seen[0].header("x-request-priority"), Some("HIGH"));
    assert_eq!(seen[0].header("x-request-type"), Some("llm_chat"));
}

#[tokio::test]
async fn completions_and_embeddings_succeed() {
    let (rec, _s) = run(Behavior::default(), RequestKind::LlmGenerate).await;
    assert_eq!(rec.outcome, Outcome::Success);
    assert_eq!(rec.output_tokens, 6);
    let (rec, _s) = run(Behavior::default(), RequestKind::Embedding).await;
    assert_eq!(rec.outcome, Outcome::Success);
}

#[tokio::test]
async fn each_fault_becomes_its_outcome() {
    let broken = run(
        Behavior {
            break_stream_after: Some(2),
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await
    .0;
    assert!(
        matches!(broken.outcome, Outcome::StreamBroken { .. }),
        "{:?}",
        broken.outcome
    );
    assert_eq!(broken.chunks, 2);

    let malformed = run(
        Behavior {
            malformed: true,
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await
    .0;
    assert!(matches!(malformed.outcome, Outcome::Malformed { .. }));

    let in_stream = run(
        Behavior {
            in_stream_error: true,
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await
    .0;
    match &in_stream.outcome {
        Outcome::StreamBroken { message } => assert!(message.contains("error event")),
        o => panic!("{o:?}"),
    }

    let shed = run(
        Behavior {
            fail_status: Some((429, 1.0)),
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await
    .0;
    match &shed.outcome {
        Outcome::Http { status, message } => {
            assert_eq!(*status, 429);
            assert!(message.contains("shedding load"), "{message}");
        }
        o => panic!("{o:?}"),
    }

    let stalled = run(
        Behavior {
            stall: Some(Duration::from_secs(60)),
            ..Behavior::default()
        },
        RequestKind::LlmChat,
    )
    .await
    .0;
    assert_eq!(stalled.outcome, Outcome::Timeout);
}
