//! Keep-alive, pipelining, many concurrent streams, shutdown.

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
