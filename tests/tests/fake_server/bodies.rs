//! Whole (non-streamed) bodies: chat, completions, usage, embeddings, and 400s for bad bodies.

use super::*;

#[tokio::test]
async fn chat_body_has_message_content_and_usage() {
    let server = FakeServer::start(Behavior {
        tokens_per_chunk: 2,
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(false, Some(5), false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(content.split_whitespace().count(), 5);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn completions_body_has_text() {
    let server = FakeServer::start(Behavior {
        chunks: 4,
        ..Behavior::default()
    });
    let v: Value = post(&server, "/v1/completions", &json!({"prompt": "abc"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(
        v["choices"][0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        4
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 1);
}

#[tokio::test]
async fn usage_off_leaves_usage_out() {
    let server = FakeServer::start(Behavior {
        send_usage: false,
        ..Behavior::default()
    });
    let v: Value = post(
        &server,
        "/v1/chat/completions",
        &chat_body(false, Some(2), false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(v.get("usage").is_none());
    assert!(v["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn bad_bodies_get_400_in_openai_shape() {
    let server = FakeServer::start(Behavior::default());
    for (path, body) in [
        ("/v1/chat/completions", json!({"model": "m"})),
        (
            "/v1/chat/completions",
            json!({"messages": [], "max_tokens": 1}),
        ),
        ("/v1/chat/completions", json!({"messages": "x"})),
        ("/v1/completions", json!({"max_tokens": 1})),
        ("/v1/completions", json!({"prompt": "a", "max_tokens": -1})),
        ("/v1/embeddings", json!({"model": "m"})),
        ("/v1/embeddings", json!({"input": []})),
    ] {
        let resp = post(&server, path, &body).await;
        assert_eq!(resp.status(), 400, "{path} {body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    let resp = http()
        .post(format!("{}/v1/completions", server.url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(get(&server, "/v1/completions").await.status(), 405);
    assert_eq!(get(&server, "/nowhere").await.status(), 404);
}

#[tokio::test]
async fn embeddings_one_vector_per_input() {
    let server = FakeServer::start(Behavior {
        embedding_dim: 12,
        ..Behavior::default()
    });
    for (input, n) in [
        (json!("one text"), 1),
        (json!(["a", "b", "c"]), 3),
        (json!([1, 2, 3, 4]), 1),
        (json!([[1, 2], [3], [4, 5, 6]]), 3),
    ] {
        let resp = post(
            &server,
            "/v1/embeddings",
            &json!({"model": "e", "input": input}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "list");
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), n, "{input}");
        for (i, d) in data.iter().enumerate() {
            assert_eq!(d["object"], "embedding");
            assert_eq!(d["index"], i);
            assert_eq!(d["embedding"].as_array().unwrap().len(), 12);
        }
        assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    }
}

#[tokio::test]
async fn embeddings_mode_serves_only_embeddings() {
    let server = FakeServer::start(Behavior {
        mode: Mode::Embeddings,
        ..Behavior::default()
    });
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body(true, Some(2), true),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/embeddings")
    );
    let resp = post(&server, "/v1/embeddings", &json!({"input": "x"})).await;
    assert_eq!(resp.status(), 200);
}
