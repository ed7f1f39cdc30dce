//! Streams and their framings (chunked, `Content-Length`, until close, interim responses),
//! and whole bodies (chat, estimated, JSON answers to streamed requests, embeddings).

use super::*;
use crate::server::Request;
use cpbench_core::record::TokenSource;

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
