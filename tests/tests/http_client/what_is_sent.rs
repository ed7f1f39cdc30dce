//! What is sent: the builtin client's exact bytes, both transports alike, base URL paths,
//! and options refused.

use super::*;
use crate::server::Request;
use sage_cp_bench::client::ClientError;
use serde_json::Value;

#[tokio::test]
async fn the_builtin_client_writes_exactly_this_request() {
    let wire = chunked_sse("", &chat_stream(None), &[1000]);
    let server = Server::start(move |_, _| write(wire.clone())).await;
    let client = Client::new(ClientOptions {
        api_key: Some("KEY-123".into()),
        ..options(server.url(), Transport::Builtin)
    })
    .unwrap();
    let kind = RequestKind::LlmChat;
    let req = client.prepare_with(
        &spec(kind),
        cpbench_tests::SAMPLE_MODEL,
        &cpbench_tests::sample_text(kind),
        "t",
    );
    let rec = client.execute(&req, Instant::now(), 0).await;
    assert_eq!(rec.outcome, Outcome::Success);
    let raw = &server.seen()[0].raw;
    let body = req.body();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         User-Agent: sage-cp-bench/{version}\r\n\
         Accept: */*\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {len}\r\n\
         x-request-id: t-7\r\n\
         x-request-priority: HIGH\r\n\
         x-slo-deadline-ms: 2000\r\n\
         x-request-type: llm_chat\r\n\
         Authorization: Bearer KEY-123\r\n\
         \r\n",
        port = server.addr.port(),
        version = env!("CARGO_PKG_VERSION"),
        len = body.len(),
    );
    assert_eq!(String::from_utf8_lossy(&raw[..head.len()]), head);
    assert_eq!(&raw[head.len()..], body);
    let json: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["model"], "m");
    assert_eq!(json["messages"][0]["content"], "tell me a story");
    assert_eq!(json["max_tokens"], 6);
    assert_eq!(json["stream"], true);
    assert_eq!(json["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn both_transports_send_the_same_request() {
    let mut seen = Vec::new();
    for transport in BOTH {
        let wire = chunked_sse("", &chat_stream(None), &[1000]);
        let server = Server::start(move |_, _| write(wire.clone())).await;
        let client = Client::new(ClientOptions {
            api_key: Some("sk-abc".into()),
            ..options(server.url(), transport)
        })
        .unwrap();
        assert_eq!(
            send(&client, RequestKind::LlmChat).await.outcome,
            Outcome::Success
        );
        let r = Request::parse(&server.seen()[0].raw);
        assert_eq!(
            r.line, "POST /v1/chat/completions HTTP/1.1",
            "{transport:?}"
        );
        let host = format!("127.0.0.1:{}", server.addr.port());
        let len = r.body.len().to_string();
        for (name, value) in [
            ("host", host.as_str()),
            ("content-type", "application/json"),
            ("content-length", len.as_str()),
            ("x-request-id", "t-7"),
            ("x-request-priority", "HIGH"),
            ("x-slo-deadline-ms", "2000"),
            ("x-request-type", "llm_chat"),
            ("authorization", "Bearer sk-abc"),
        ] {
            assert_eq!(r.header(name), Some(value), "{transport:?}: {name}");
        }
        seen.push(r.body);
    }
    assert_eq!(seen[0], seen[1], "the same body");
}

#[tokio::test]
async fn a_base_url_path_prefixes_every_endpoint() {
    for transport in BOTH {
        for (suffix, kind, path) in [
            (
                "/prefix",
                RequestKind::LlmChat,
                "/prefix/v1/chat/completions",
            ),
            (
                "/prefix/",
                RequestKind::LlmGenerate,
                "/prefix/v1/completions",
            ),
            ("/a/b", RequestKind::Embedding, "/a/b/v1/embeddings"),
        ] {
            let server = Server::start(|_, _| {
                write(with_length(
                    "404 Not Found",
                    "application/json",
                    "",
                    r#"{"error":{"message":"no such route"}}"#,
                ))
            })
            .await;
            let client =
                Client::new(options(format!("{}{suffix}", server.url()), transport)).unwrap();
            let rec = send(&client, kind).await;
            assert_eq!(
                rec.outcome,
                Outcome::Http {
                    status: 404,
                    message: "no such route".into()
                }
            );
            let r = Request::parse(&server.seen()[0].raw);
            assert_eq!(r.line, format!("POST {path} HTTP/1.1"), "{transport:?}");
            assert_eq!(r.header("x-request-type"), Some(kind.as_str()));
        }
    }
}

#[tokio::test]
async fn bad_options_are_refused() {
    let https = Client::new(options("https://example.com".into(), Transport::Builtin));
    assert!(
        matches!(&https, Err(ClientError::BuiltinNeedsHttp { url }) if url == "https://example.com"),
        "{https:?}"
    );
    for key in ["abc\ndef", "abc\r", "tab\there", "caf\u{e9}"] {
        let r = Client::new(ClientOptions {
            api_key: Some(key.into()),
            ..options("http://127.0.0.1:9".into(), Transport::Builtin)
        });
        assert!(matches!(r, Err(ClientError::BadApiKey)), "{key:?}: {r:?}");
    }
    for url in ["ftp://127.0.0.1", "not a url", "http://"] {
        let r = Client::new(options(url.into(), Transport::Auto));
        assert!(
            matches!(r, Err(ClientError::BadUrl { .. })),
            "{url:?}: {r:?}"
        );
    }
    // Auto picks builtin for http and reqwest for https.
    let auto = |url: &str| {
        Client::new(options(url.into(), Transport::Auto))
            .unwrap()
            .transport()
    };
    assert_eq!(auto("http://127.0.0.1:9"), Transport::Builtin);
    assert_eq!(auto("https://example.com"), Transport::Reqwest);
}
