//! Streamed chat and completion responses: the exact event order, lengths, chunking, usage
//! and delays.

use super::*;

#[tokio::test]
async fn chat_stream_is_role_then_n_contents_finish_usage_done_exactly() {
    let server = FakeServer::start(Behavior {
        chunks: 5,
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, None, true),
    )
    .await;
    let (ev, raw) = events(resp).await;
    assert_eq!(ev.len(), 1 + 5 + 1 + 1 + 1, "{ev:#?}");
    // Byte-exact framing: `data: {json}\n\n` per event, nothing else.
    let rebuilt: String = ev.iter().map(|e| format!("data: {e}\n\n")).collect();
    assert_eq!(rebuilt.as_bytes(), &raw[..]);

    let role = parse(&ev[0]);
    assert_eq!(role["object"], "chat.completion.chunk");
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(role["choices"][0]["delta"]["content"], "");
    assert_eq!(
        classify_chunk(ev[0].as_bytes()),
        ChunkKind::Json {
            has_content: false,
            usage: None
        }
    );
    for e in &ev[1..6] {
        let v = parse(e);
        assert!(v["choices"][0]["delta"].get("role").is_none());
        assert!(!content_of(&v).is_empty());
        assert!(v["choices"][0]["finish_reason"].is_null());
    }
    let finish = parse(&ev[6]);
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage = parse(&ev[7]);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    let prompt_tokens = usage["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt_tokens > 0);
    assert_eq!(usage["usage"]["total_tokens"], prompt_tokens + 5);
    assert_eq!(ev[8], "[DONE]");
}

#[tokio::test]
async fn max_tokens_sets_the_length_split_into_chunks_of_tokens_per_chunk_words() {
    let server = FakeServer::start(Behavior {
        chunks: 50,
        tokens_per_chunk: 3,
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, Some(7), true),
    )
    .await;
    let (ev, _) = events(resp).await;
    // role, 3 + 3 + 1 words, finish, usage, [DONE]
    assert_eq!(ev.len(), 1 + 3 + 3);
    let words: Vec<usize> = ev[1..4]
        .iter()
        .map(|e| content_of(&parse(e)).split_whitespace().count())
        .collect();
    assert_eq!(words, [3, 3, 1]);
    assert_eq!(parse(&ev[4])["choices"][0]["finish_reason"], "length");
    assert_eq!(parse(&ev[5])["usage"]["completion_tokens"], 7);
}

#[tokio::test]
async fn ignoring_max_tokens_sends_chunks() {
    let server = FakeServer::start(Behavior {
        chunks: 4,
        tokens_per_chunk: 2,
        honor_max_tokens: false,
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, Some(100), true),
    )
    .await;
    let (ev, _) = events(resp).await;
    assert_eq!(ev.len(), 1 + 4 + 3);
    assert_eq!(parse(&ev[6])["usage"]["completion_tokens"], 8);
}

#[tokio::test]
async fn usage_chunk_only_when_asked_for_and_enabled() {
    let server = FakeServer::start(Behavior {
        chunks: 2,
        ..Behavior::default()
    });
    let (ev, _) = events(
        post(
            &server,
            "/v1/chat/completions",
            &chat_body(true, None, false),
        )
        .await,
    )
    .await;
    assert_eq!(ev.len(), 1 + 2 + 1 + 1);
    assert!(ev.iter().all(|e| !e.contains("usage")));

    let quiet = FakeServer::start(Behavior {
        chunks: 2,
        send_usage: false,
        ..Behavior::default()
    });
    let (ev, _) =
        events(post(&quiet, "/v1/chat/completions", &chat_body(true, None, true)).await).await;
    assert_eq!(ev.len(), 1 + 2 + 1 + 1);
    assert!(ev.iter().all(|e| !e.contains("usage")));
}

#[tokio::test]
async fn completions_stream_has_text_chunks_and_no_role_chunk() {
    let server = FakeServer::start(Behavior::default());
    let body = json!({"model": "m", "prompt": "once upon a time", "max_tokens": 3,
        "stream": true, "stream_options": {"include_usage": true}});
    let (ev, _) = events(post(&server, "/v1/completions", &body).await).await;
    assert_eq!(ev.len(), 3 + 3);
    for e in &ev[..3] {
        let v = parse(e);
        assert_eq!(v["object"], "text_completion");
        assert!(!v["choices"][0]["text"].as_str().unwrap().is_empty());
    }
    assert_eq!(parse(&ev[3])["choices"][0]["finish_reason"], "length");
    assert_eq!(parse(&ev[4])["usage"]["completion_tokens"], 3);
    assert_eq!(parse(&ev[4])["usage"]["prompt_tokens"], 4);
    assert_eq!(ev[5], "[DONE]");
}

#[tokio::test]
async fn sse_mode_streams_requests_that_do_not_say() {
    let server = FakeServer::start(Behavior {
        mode: Mode::Sse,
        chunks: 2,
        ..Behavior::default()
    });
    let body = json!({"messages": [{"role": "user", "content": "hi"}]});
    let (ev, _) = events(post(&server, "/v1/chat/completions", &body).await).await;
    assert_eq!(ev.len(), 1 + 2 + 1 + 1);
    // ...but a request that says `"stream": false` gets JSON.
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(false, None, false),
    )
    .await;
    assert_eq!(resp.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn delays_hold_back_the_first_and_later_chunks() {
    let server = FakeServer::start(Behavior {
        ttft_delay: Duration::from_millis(80),
        chunk_delay: Duration::from_millis(20),
        ..Behavior::default()
    });
    let sent = Instant::now();
    let mut resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, Some(3), false),
    )
    .await;
    let mut dec = SseDecoder::new();
    let mut first_content = None;
    while let Some(c) = resp.chunk().await.unwrap() {
        let now = Instant::now();
        dec.feed(&c, |d| {
            if let ChunkKind::Json {
                has_content: true, ..
            } = classify_chunk(d)
            {
                first_content.get_or_insert(now);
            }
        });
    }
    let ended = Instant::now();
    // Lower bounds only: a loaded machine can only make it later.
    assert!(first_content.unwrap() - sent >= Duration::from_millis(80));
    assert!(ended - sent >= Duration::from_millis(80 + 2 * 20));
}
