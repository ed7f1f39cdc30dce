//! Each fault: error statuses, broken, stalled and malformed streams, in-stream error events.

use super::*;

#[tokio::test]
async fn fail_status_everywhere_answers_with_an_openai_error() {
    for status in [500u16, 429, 503] {
        let server = FakeServer::start(Behavior {
            fail_status: Some((status, 1.0)),
            ..Behavior::default()
        });
        for (path, body) in [
            ("/v1/chat/completions", chat_body(true, Some(2), true)),
            ("/v1/completions", json!({"prompt": "a"})),
            ("/v1/embeddings", json!({"input": "a"})),
        ] {
            let resp = post(&server, path, &body).await;
            assert_eq!(resp.status().as_u16(), status);
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], status);
            assert!(v["error"]["message"].as_str().unwrap().contains("injected"));
        }
        // Health and admin are never failed.
        assert_eq!(get(&server, "/health").await.status(), 200);
        let m: Value = get(&server, "/admin/metrics").await.json().await.unwrap();
        let (rejected, failed) = if status == 500 { (0, 3) } else { (3, 0) };
        assert_eq!(m["requests"]["received"], 3);
        assert_eq!(m["requests"]["rejected"], rejected);
        assert_eq!(m["requests"]["failed"], failed);
        assert_eq!(m["requests"]["completed"], 0);
    }
}

#[tokio::test]
async fn fail_status_without_ids_fails_exactly_every_kth_request() {
    let server = FakeServer::start(Behavior {
        fail_status: Some((500, 0.25)),
        ..Behavior::default()
    });
    let mut failed = Vec::new();
    for i in 0..20 {
        let resp = post(&server, "/v1/completions", &json!({"prompt": "a"})).await;
        if resp.status() == 500 {
            failed.push(i);
        } else {
            assert_eq!(resp.status(), 200);
        }
    }
    assert_eq!(failed, [3, 7, 11, 15, 19]);
    // Reset starts the sequence again.
    let r = http()
        .post(format!("{}/admin/reset", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..4 {
            s.push(
                post(&server, "/v1/completions", &json!({"prompt": "a"}))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        s
    };
    assert_eq!(statuses, [200, 200, 200, 500]);
}

#[tokio::test]
async fn fail_status_with_ids_depends_only_on_the_id() {
    let server = FakeServer::start(Behavior {
        fail_status: Some((503, 0.3)),
        ..Behavior::default()
    });
    let client = http();
    let pass = || async {
        let mut out = Vec::new();
        for i in 0..200 {
            let resp = client
                .post(format!("{}/v1/completions", server.url()))
                .header("X-Request-ID", format!("run-a-{i}"))
                .json(&json!({"prompt": "a"}))
                .send()
                .await
                .unwrap();
            out.push(resp.status() == 503);
        }
        out
    };
    let first = pass().await;
    let second = pass().await;
    assert_eq!(first, second);
    let n = first.iter().filter(|f| **f).count();
    assert!((30..=90).contains(&n), "{n} of 200 failed at fraction 0.3");
}

#[tokio::test]
async fn break_stream_after_sends_n_chunks_then_closes_without_done() {
    let server = FakeServer::start(Behavior {
        chunks: 10,
        break_stream_after: Some(3),
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, None, true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (ev, failed) = events_until_error(resp).await;
    assert!(failed, "the body must end in a transport error");
    assert_eq!(ev.len(), 1 + 3, "{ev:#?}");
    assert!(ev[1..].iter().all(|e| !content_of(&parse(e)).is_empty()));
    assert!(!ev.iter().any(|e| e == "[DONE]"));

    // Zero chunks: the role chunk, then the close.
    let server = FakeServer::start(Behavior {
        break_stream_after: Some(0),
        ..Behavior::default()
    });
    let (ev, failed) = events_until_error(
        post(
            &server,
            "/v1/completions",
            &json!({"prompt": "a", "stream": true}),
        )
        .await,
    )
    .await;
    assert!(failed);
    assert!(ev.is_empty());
}

#[tokio::test]
async fn break_stream_after_longer_than_the_answer_still_drops_done() {
    let server = FakeServer::start(Behavior {
        break_stream_after: Some(100),
        ..Behavior::default()
    });
    let (ev, failed) = events_until_error(
        post(
            &server,
            "/v1/chat/completions",
            &chat_body(true, Some(2), true),
        )
        .await,
    )
    .await;
    assert!(failed);
    // role, 2 contents, finish, usage: everything but [DONE]
    assert_eq!(ev.len(), 5);
    assert!(ev[4].contains("\"usage\""));
}

#[tokio::test]
async fn break_stream_after_cuts_whole_bodies() {
    let server = FakeServer::start(Behavior {
        break_stream_after: Some(1),
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(false, Some(4), false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn stall_makes_clients_time_out() {
    let server = FakeServer::start(Behavior {
        stall: Some(Duration::from_secs(60)),
        ..Behavior::default()
    });
    let err = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{}/v1/chat/completions", server.url()))
        .json(&chat_body(true, Some(2), true))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Only inference requests stall.
    assert_eq!(get(&server, "/health").await.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_sends_chunks_and_bodies_that_are_not_json() {
    let server = FakeServer::start(Behavior {
        malformed: true,
        ..Behavior::default()
    });
    let (ev, _) = events(
        post(
            &server,
            "/v1/chat/completions",
            &chat_body(true, Some(2), false),
        )
        .await,
    )
    .await;
    assert!(matches!(
        classify_chunk(ev[1].as_bytes()),
        ChunkKind::Malformed(_)
    ));
    assert!(serde_json::from_str::<Value>(&ev[1]).is_err());
    let body = post(&server, "/v1/completions", &json!({"prompt": "a"}))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    let body = post(&server, "/v1/embeddings", &json!({"input": "a"}))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn in_stream_error_sends_an_error_event_then_done() {
    let server = FakeServer::start(Behavior {
        in_stream_error: true,
        ..Behavior::default()
    });
    let (ev, _) = events(
        post(
            &server,
            "/v1/chat/completions",
            &chat_body(true, Some(5), true),
        )
        .await,
    )
    .await;
    assert_eq!(ev.len(), 4, "{ev:#?}");
    assert!(!content_of(&parse(&ev[1])).is_empty());
    let err = parse(&ev[2]);
    assert!(err["error"]["message"].is_string());
    assert!(matches!(
        classify_chunk(ev[2].as_bytes()),
        ChunkKind::Error(_)
    ));
    assert_eq!(ev[3], "[DONE]");
}
