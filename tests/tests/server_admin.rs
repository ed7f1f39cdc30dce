//! The reference control plane's admin API over real loopback HTTP: what a web page could
//! send is refused (415), and with an admin token every `/admin/*` request needs it (401).

use cpbench_core::cluster::presets;
use sage_cp_bench::admin_token::AdminToken;
use sage_cp_bench::server::{RunningServer, ServerOptions, start};
use serde_json::{Value, json};
use std::time::Duration;

const TOKEN: &str = "adm-7f3c9e1b5a";

async fn server(token: Option<&str>) -> RunningServer {
    start(ServerOptions {
        host: "127.0.0.1".into(),
        port: 0,
        policy: "fifo".into(),
        cluster: presets::tiny(),
        seed: 42,
        admin_token: token.map(|t| AdminToken::new(t).unwrap()),
        ..ServerOptions::default()
    })
    .await
    .expect("server starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The OpenAI error of an answer, after checking its status and code.
async fn error_of(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    for k in ["message", "type", "param"] {
        assert!(v["error"].get(k).is_some(), "{k} in {v}");
    }
    v["error"].clone()
}

async fn policy(c: &reqwest::Client, s: &RunningServer, auth: Option<&str>) -> String {
    let mut r = c.get(format!("{}/admin/policy", s.url()));
    if let Some(t) = auth {
        r = r.bearer_auth(t);
    }
    let v: Value = r.send().await.unwrap().json().await.unwrap();
    v["policy"].as_str().unwrap().to_string()
}

/// What a page in the user's browser can send without a CORS preflight (a "simple request":
/// `text/plain`, a form type, or no `Content-Type`) changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_posts_need_a_json_content_type() {
    let s = server(None).await;
    let c = client();
    let body = r#"{"policy": "priority"}"#;
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/admin/set_policy", "/admin/reset"] {
            let mut r = c
                .post(format!("{}{path}", s.url()))
                .header("origin", "http://evil.example")
                .body(body);
            if let Some(ct) = ct {
                r = r.header("content-type", ct);
            }
            let e = error_of(r.send().await.unwrap(), 415, "unsupported_media_type").await;
            assert_eq!(e["type"], "invalid_request_error");
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .contains("Content-Type: application/json"),
                "{e}"
            );
        }
    }
    assert_eq!(
        policy(&c, &s, None).await,
        "fifo",
        "the policy was switched"
    );
    let r = c
        .post(format!("{}/admin/set_policy", s.url()))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(policy(&c, &s, None).await, "priority");
    let r = c
        .post(format!("{}/admin/reset", s.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_every_admin_request_needs_it() {
    let s = server(Some(TOKEN)).await;
    let c = client();
    let url = |p: &str| format!("{}{p}", s.url());

    for path in ["/admin/policy", "/admin/metrics", "/admin/nothing"] {
        let resp = c.get(url(path)).send().await.unwrap();
        assert_eq!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .split(' ')
                .next(),
            Some("Bearer")
        );
        let e = error_of(resp, 401, "invalid_admin_token").await;
        assert_eq!(e["type"], "authentication_error");
        assert!(!e.to_string().contains(TOKEN));
    }
    for (path, body) in [
        ("/admin/set_policy", json!({"policy": "priority"})),
        ("/admin/reset", json!({})),
    ] {
        error_of(
            c.post(url(path)).json(&body).send().await.unwrap(),
            401,
            "invalid_admin_token",
        )
        .await;
        // A wrong token, in either header, is refused the same way.
        error_of(
            c.post(url(path))
                .bearer_auth("adm-wrong")
                .json(&body)
                .send()
                .await
                .unwrap(),
            401,
            "invalid_admin_token",
        )
        .await;
        error_of(
            c.post(url(path))
                .header("x-admin-token", format!("{TOKEN}x"))
                .json(&body)
                .send()
                .await
                .unwrap(),
            401,
            "invalid_admin_token",
        )
        .await;
    }
    assert_eq!(policy(&c, &s, Some(TOKEN)).await, "fifo");

    let r = c
        .post(url("/admin/set_policy"))
        .bearer_auth(TOKEN)
        .json(&json!({"policy": "priority"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(url("/admin/metrics"))
        .header("x-admin-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["policy"], "priority");
    let r = c
        .post(url("/admin/reset"))
        .header("X-Admin-Token", TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // With the token, an unknown admin path is an ordinary 404.
    error_of(
        c.get(url("/admin/nothing"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    // The token does not lift the content-type rule.
    error_of(
        c.post(url("/admin/set_policy"))
            .bearer_auth(TOKEN)
            .header("content-type", "text/plain")
            .body(r#"{"policy": "fifo"}"#)
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;

    // Everything outside /admin needs no token.
    for path in ["/health", "/v1/models", "/metrics"] {
        assert_eq!(
            c.get(url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let r = c
        .post(url("/v1/chat/completions"))
        .json(&json!({"model": "tiny-llm", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.shutdown().await;
}
