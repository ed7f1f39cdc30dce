//! Connections: keep-alive reuse, `Connection: close`, stale pooled connections, never
//! sending twice a request the server may have read, connection errors.

use super::*;
use cpbench_core::record::TokenSource;

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
