//! The fake control plane does what its behaviour says: OpenAI-exact streams and bodies,
//! each fault, each admin mode, captured requests, and the binary.

use bytes::Bytes;
use cpbench_core::sse::{ChunkKind, SseDecoder, classify_chunk};
use cpbench_tests::fake_server::{AdminMode, Behavior, FakeServer, Mode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn chat_body(stream: bool, max_tokens: Option<u32>, include_usage: bool) -> Value {
    let mut b = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hello there, fake server"}],
        "stream": stream,
    });
    if let Some(m) = max_tokens {
        b["max_tokens"] = json!(m);
    }
    if include_usage {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

async fn post(server: &FakeServer, path: &str, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}{path}", server.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(server: &FakeServer, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap()
}

/// The `data` of every SSE event of a complete, successful stream, plus the raw body.
async fn events(resp: reqwest::Response) -> (Vec<String>, Bytes) {
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let raw = resp.bytes().await.unwrap();
    (decode(&raw), raw)
}

fn decode(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut dec = SseDecoder::new();
    dec.feed(raw, |d| out.push(String::from_utf8(d.to_vec()).unwrap()));
    assert!(!dec.has_partial(), "stream ended mid-event");
    out
}

/// Events read until the body ends or fails; `true` when it failed.
async fn events_until_error(mut resp: reqwest::Response) -> (Vec<String>, bool) {
    let mut raw = Vec::new();
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(c)) => raw.extend_from_slice(&c),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (decode(&raw), failed)
}

fn parse(event: &str) -> Value {
    serde_json::from_str(event).unwrap_or_else(|e| panic!("{event:?} is not JSON: {e}"))
}

fn content_of(event: &Value) -> &str {
    let c = &event["choices"][0];
    c["delta"]["content"]
        .as_str()
        .or_else(|| c["text"].as_str())
        .unwrap()
}

mod streams {
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
}

mod bodies {
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
}

mod faults {
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
}

mod admin {
    use super::*;

    async fn set_policy(server: &FakeServer, name: &str) -> (u16, Value) {
        let resp = post(server, "/admin/set_policy", &json!({"policy": name})).await;
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn reset(server: &FakeServer) -> u16 {
        http()
            .post(format!("{}/admin/reset", server.url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn json_of(server: &FakeServer, path: &str) -> (u16, Value) {
        let resp = get(server, path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn honest_admin_switches_reports_counts_and_resets() {
        let server = FakeServer::start(Behavior {
            policies: vec!["fifo".into(), "priority".into()],
            ..Behavior::default()
        });
        let (s, p) = json_of(&server, "/admin/policy").await;
        assert_eq!(s, 200);
        assert_eq!(
            p,
            json!({"policy": "fifo", "available": ["fifo", "priority"]})
        );

        let (s, v) = set_policy(&server, "priority").await;
        assert_eq!(s, 200);
        assert_eq!(v, json!({"policy": "priority", "previous": "fifo"}));
        assert_eq!(
            json_of(&server, "/admin/policy").await.1["policy"],
            "priority"
        );
        assert_eq!(server.policy(), "priority");

        let (s, v) = set_policy(&server, "round_robin").await;
        assert_eq!(s, 400);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("round_robin") && msg.contains("fifo, priority"),
            "{msg}"
        );
        assert_eq!(server.policy(), "priority");

        let resp = post(&server, "/admin/set_policy", &json!({"name": "fifo"})).await;
        assert_eq!(resp.status(), 400);

        for _ in 0..3 {
            post(
                &server,
                "/v1/chat/completions",
                &chat_body(true, Some(4), true),
            )
            .await
            .bytes()
            .await
            .unwrap();
        }
        let (s, m) = json_of(&server, "/admin/metrics").await;
        assert_eq!(s, 200);
        assert_eq!(m["policy"], "priority");
        assert_eq!(
            m["requests"],
            json!({"received": 3, "completed": 3, "failed": 0, "rejected": 0})
        );
        assert_eq!(m["instances"][0]["id"], "fake-0");
        assert_eq!(m["instances"][0]["output_tokens"], 12);
        assert!(m["uptime_s"].as_f64().unwrap() >= 0.0);

        assert_eq!(reset(&server).await, 200);
        let (_, m) = json_of(&server, "/admin/metrics").await;
        assert_eq!(m["requests"]["received"], 0);
        assert_eq!(m["instances"][0]["output_tokens"], 0);
        // Reset keeps the policy.
        assert_eq!(m["policy"], "priority");
    }

    #[tokio::test]
    async fn missing_admin_is_404_everywhere() {
        let server = FakeServer::start(Behavior {
            admin: AdminMode::Missing,
            ..Behavior::default()
        });
        assert_eq!(set_policy(&server, "fifo").await.0, 404);
        assert_eq!(json_of(&server, "/admin/policy").await.0, 404);
        assert_eq!(json_of(&server, "/admin/metrics").await.0, 404);
        assert_eq!(reset(&server).await, 404);
        assert_eq!(get(&server, "/health").await.status(), 200);
    }

    #[tokio::test]
    async fn lying_admin_accepts_any_name_and_changes_nothing() {
        let server = FakeServer::start(Behavior {
            admin: AdminMode::Lying,
            ..Behavior::default()
        });
        for name in ["priority", "no_such_policy"] {
            let (s, v) = set_policy(&server, name).await;
            assert_eq!(s, 200);
            assert_eq!(v, json!({"policy": name, "previous": "fifo"}));
        }
        assert_eq!(json_of(&server, "/admin/policy").await.1["policy"], "fifo");
        assert_eq!(json_of(&server, "/admin/metrics").await.1["policy"], "fifo");
        assert_eq!(server.policy(), "fifo");
    }

    #[tokio::test]
    async fn no_reset_admin_is_honest_without_reset() {
        let server = FakeServer::start(Behavior {
            admin: AdminMode::NoReset,
            ..Behavior::default()
        });
        assert_eq!(reset(&server).await, 404);
        let (s, v) = set_policy(&server, "slo_aware").await;
        assert_eq!(s, 200);
        assert_eq!(v["previous"], "fifo");
        assert_eq!(
            json_of(&server, "/admin/policy").await.1["policy"],
            "slo_aware"
        );
        assert_eq!(json_of(&server, "/admin/metrics").await.0, 200);
    }

    #[tokio::test]
    async fn health_is_ok_or_starting_during_health_delay() {
        let ready = FakeServer::start(Behavior::default());
        let (s, v) = json_of(&ready, "/health").await;
        assert_eq!((s, v), (200, json!({"status": "ok"})));
        let slow = FakeServer::start(Behavior {
            health_delay: Duration::from_secs(600),
            ..Behavior::default()
        });
        assert_eq!(json_of(&slow, "/health").await.0, 503);
    }
}

mod recording {
    use super::*;

    #[tokio::test]
    async fn control_plane_headers_are_sent_when_on() {
        let server = FakeServer::start(Behavior {
            backend_instance: "llm-7".into(),
            queue_time_ms: 12.5,
            ..Behavior::default()
        });
        let resp = http()
            .post(format!("{}/v1/chat/completions", server.url()))
            .header("X-Request-ID", "r-42")
            .json(&chat_body(true, Some(1), true))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(h["x-request-id"], "r-42");
        assert_eq!(h["x-backend-instance"], "llm-7");
        assert_eq!(h["x-queue-time-ms"], "12.5");

        let quiet = FakeServer::start(Behavior {
            send_cp_headers: false,
            ..Behavior::default()
        });
        let resp = http()
            .post(format!("{}/v1/chat/completions", quiet.url()))
            .header("X-Request-ID", "r-42")
            .json(&chat_body(false, Some(1), true))
            .send()
            .await
            .unwrap();
        for name in ["x-request-id", "x-backend-instance", "x-queue-time-ms"] {
            assert!(resp.headers().get(name).is_none(), "{name}");
        }
    }

    #[tokio::test]
    async fn captured_requests_keep_method_path_headers_and_body() {
        let server = FakeServer::start(Behavior::default());
        let before = Instant::now();
        let body = r#"{"model":"m","prompt":"captured","max_tokens":2}"#;
        http()
            .post(format!("{}/v1/completions?x=1", server.url()))
            .header("X-Request-ID", "cap-1")
            .header("X-Request-Priority", "HIGH")
            .header("X-SLO-Deadline-Ms", "1500")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        get(&server, "/health").await;
        let seen = server.captured();
        assert_eq!(seen.len(), 2);
        let c = &seen[0];
        assert_eq!(c.method, "POST");
        assert_eq!(c.path, "/v1/completions?x=1");
        assert_eq!(c.body, body.as_bytes());
        assert_eq!(c.json().unwrap()["prompt"], "captured");
        assert_eq!(c.header("X-Request-Priority"), Some("HIGH"));
        assert_eq!(c.headers["x-slo-deadline-ms"], "1500");
        assert_eq!(c.headers["x-request-id"], "cap-1");
        let names: Vec<&String> = c.headers.keys().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(c.arrival >= before && c.arrival <= seen[1].arrival);
        assert_eq!(
            (seen[1].method.as_str(), seen[1].path.as_str()),
            ("GET", "/health")
        );

        server.clear_captured();
        assert!(server.captured().is_empty());

        let blind = FakeServer::start(Behavior {
            capture: false,
            ..Behavior::default()
        });
        get(&blind, "/health").await;
        assert!(blind.captured().is_empty());
    }

    #[tokio::test]
    async fn invalid_behaviour_is_refused_naming_the_field() {
        for (b, field) in [
            (
                Behavior {
                    tokens_per_chunk: 0,
                    ..Behavior::default()
                },
                "tokens_per_chunk",
            ),
            (
                Behavior {
                    fail_status: Some((200, 0.5)),
                    ..Behavior::default()
                },
                "fail_status",
            ),
            (
                Behavior {
                    fail_status: Some((500, 1.5)),
                    ..Behavior::default()
                },
                "fail_status",
            ),
            (
                Behavior {
                    policies: vec![],
                    ..Behavior::default()
                },
                "policies",
            ),
            (
                Behavior {
                    queue_time_ms: f64::NAN,
                    ..Behavior::default()
                },
                "queue_time_ms",
            ),
        ] {
            let msg = b.validate().unwrap_err().to_string();
            assert!(msg.contains(field), "{msg}");
            assert!(msg.contains("expected"), "{msg}");
        }
    }
}

mod connections {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn keep_alive_serves_pipelined_requests_on_one_connection() {
        let server = FakeServer::start(Behavior::default());
        let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let body = r#"{"prompt":"a","max_tokens":2,"stream":true}"#;
        let req = format!(
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(format!("{req}{req}GET /health HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(r#"{"status":"ok"}"#) {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
        assert_eq!(text.matches("data: [DONE]").count(), 2);
    }

    #[tokio::test]
    async fn many_concurrent_streams_all_complete() {
        let server = FakeServer::start(Behavior {
            chunks: 32,
            capture: false,
            ..Behavior::default()
        });
        let client = http();
        let url = format!("{}/v1/chat/completions", server.url());
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let client = client.clone();
            let url = url.clone();
            tasks.spawn(async move {
                let mut contents = 0;
                for i in 0..25 {
                    let raw = client
                        .post(&url)
                        .header("X-Request-ID", format!("{worker}-{i}"))
                        .json(&chat_body(true, None, true))
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    let ev = decode(&raw);
                    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
                    contents += ev.len() - 4;
                }
                contents
            });
        }
        let mut total = 0;
        while let Some(r) = tasks.join_next().await {
            total += r.unwrap();
        }
        assert_eq!(total, 16 * 25 * 32);
        let m: Value = get(&server, "/admin/metrics").await.json().await.unwrap();
        assert_eq!(m["requests"]["completed"], 400);
    }

    #[tokio::test]
    async fn shutdown_closes_the_port() {
        let server = FakeServer::start(Behavior::default());
        let addr = server.addr();
        assert_eq!(get(&server, "/health").await.status(), 200);
        server.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}

/// What the runner's own client makes of each fault.
mod with_the_runner_client {
    use super::*;
    use cpbench_core::record::{Outcome, TokenSource};
    use cpbench_core::request::RequestKind;
    use cpbench_core::workload::RequestSpec;
    use sage_cp_bench::client::{Client, ClientOptions};

    fn spec(kind: RequestKind) -> RequestSpec {
        cpbench_tests::sample_spec(kind)
    }

    async fn run(
        b: Behavior,
        kind: RequestKind,
    ) -> (cpbench_core::record::RequestRecord, FakeServer) {
        let server = FakeServer::start(b);
        let client = Client::new(ClientOptions {
            base_url: server.url(),
            api_key: None,
            timeout: Duration::from_millis(500),
            stream: true,
            max_idle_connections: 4,
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
}

mod binary {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    fn spawn(args: &[&str]) -> (Child, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {line:?}"))
            .to_string();
        (child, url)
    }

    fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the fake server did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn prints_its_url_serves_and_exits_when_stdin_closes() {
        let (mut child, url) = spawn(&["--mode", "sse", "--chunks", "3", "--port", "0"]);
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let raw = http()
            .post(format!("{url}/v1/chat/completions"))
            .json(&json!({"messages": [{"role": "user", "content": "hi"}],
                "stream_options": {"include_usage": true}}))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let ev = decode(&raw);
        assert_eq!(ev.len(), 1 + 3 + 1 + 1 + 1);
        drop(child.stdin.take());
        assert!(wait_exit(&mut child).success());
    }

    #[tokio::test]
    async fn flags_set_faults_and_admin_mode() {
        let (mut child, url) = spawn(&[
            "--fail-status",
            "503:1",
            "--admin",
            "missing",
            "--threads",
            "2",
        ]);
        let c = http();
        let r = c
            .post(format!("{url}/v1/completions"))
            .json(&json!({"prompt": "a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        let r = c.get(format!("{url}/admin/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn exits_cleanly_on_sigterm_and_sigint() {
        for signal in ["-TERM", "-INT"] {
            let (mut child, url) = spawn(&[]);
            assert_eq!(
                http()
                    .get(format!("{url}/health"))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                200
            );
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            assert!(wait_exit(&mut child).success(), "{signal}");
        }
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_and_what_is_accepted() {
        let out = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
            .args(["--fail-status", "700:0.1"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--fail-status") && err.contains("700:0.1"),
            "{err}"
        );
        assert!(err.contains("400 to 599"), "{err}");

        let out = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
            .args(["--policies", ""])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--policies"), "{err}");
        assert!(out.stdout.is_empty());
    }
}
