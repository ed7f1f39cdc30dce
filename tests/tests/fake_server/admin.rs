//! Each admin mode: honest, missing, lying, without reset; health during the start delay.

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
