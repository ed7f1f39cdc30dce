//! Control-plane headers sent, requests captured, invalid behaviours refused.

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
