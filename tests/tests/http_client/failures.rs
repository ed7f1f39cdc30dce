//! Error statuses, malformed and cut responses, and timeouts.

use super::*;
use cpbench_core::record::TokenSource;

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
