//! The reference control plane over real loopback HTTP: every endpoint of `docs/CONTRACT.md`,
//! streamed and not, headers, errors, cancellation, and the fidelity of the real-time server
//! against the virtual-time simulation of the same requests.

use cpbench_core::cluster::{ClusterSpec, POLICY_NAMES, presets};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::sim::simulate;
use cpbench_core::text::{estimate_tokens, synthetic_text};
use cpbench_core::workload::{RequestSpec, TextSource, Texts, Workload};
use futures_util::StreamExt;
use sage_cp_bench::server::{RunningServer, ServerOptions, cluster_from_arg, start};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

#[path = "contract/prefix_cache.rs"]
mod prefix_cache;

async fn server_with(policy: &str, cluster: ClusterSpec) -> RunningServer {
    start(ServerOptions {
        host: "127.0.0.1".into(),
        port: 0,
        policy: policy.into(),
        cluster,
        seed: 42,
        ..ServerOptions::default()
    })
    .await
    .expect("server starts")
}

async fn tiny_server() -> RunningServer {
    server_with("fifo", presets::tiny()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn chat_body(max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": "tiny-llm",
        "messages": [{"role": "user", "content": "Tell me about the scheduler in a few words."}],
        "max_tokens": max_tokens,
        "stream": stream,
        "stream_options": {"include_usage": true},
        "ignore_eos": true,
        "min_tokens": max_tokens,
    })
}

/// The `data:` payloads of an SSE body, in order.
fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

async fn get_json(c: &reqwest::Client, url: String) -> Value {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn error_of(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status(), status);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["type"].is_string(), "{v}");
    v["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_models() {
    let s = tiny_server().await;
    let c = client();
    assert_eq!(
        get_json(&c, format!("{}/health", s.url())).await,
        json!({"status": "ok"})
    );
    let models = get_json(&c, format!("{}/v1/models", s.url())).await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    // The pool-only model is not served under fifo.
    assert_eq!(ids, vec!["tiny-llm", "tiny-embed"]);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_chat_sends_role_content_finish_usage_and_done() {
    let s = tiny_server().await;
    let resp = client()
        .post(format!("{}/v1/chat/completions", s.url()))
        .header("X-Request-ID", "req-abc")
        .header("X-Request-Priority", "HIGH")
        .header("X-SLO-Deadline-Ms", "500")
        .header("X-Request-Type", "llm_chat")
        .json(&chat_body(5, true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["x-request-id"], "req-abc");
    assert!(
        h["x-backend-instance"]
            .to_str()
            .unwrap()
            .starts_with("llm-")
    );
    let q: f64 = h["x-queue-time-ms"].to_str().unwrap().parse().unwrap();
    assert!(q >= 0.0);
    assert_eq!(h["content-type"], "text/event-stream");
    let body = resp.text().await.unwrap();
    let events = sse_events(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant"})
    );
    let content: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content.len(), 5, "one chunk per token");
    assert_eq!(content.concat().split_whitespace().count(), 5);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    let prompt = estimate_tokens("Tell me about the scheduler in a few words.");
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5})
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstreamed_chat_and_completions_return_whole_openai_objects() {
    let s = tiny_server().await;
    let c = client();
    let resp = c
        .post(format!("{}/v1/chat/completions", s.url()))
        .json(&chat_body(7, false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("cp-"),
        "an id is generated when the client sends none"
    );
    assert!(resp.headers().contains_key("x-backend-instance"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text.split_whitespace().count(), 7);
    assert_eq!(v["usage"]["completion_tokens"], 7);

    let resp = c
        .post(format!("{}/v1/completions", s.url()))
        .header("X-Request-Type", "llm_generate")
        .json(&json!({"model": "tiny-llm", "prompt": "Once upon a time", "max_tokens": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 7);

    let resp = c
        .post(format!("{}/v1/completions", s.url()))
        .json(&json!({"model": "tiny-llm", "prompt": "Hi", "max_tokens": 4, "stream": true}))
        .send()
        .await
        .unwrap();
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    // No role chunk for completions, no usage chunk without include_usage.
    assert_eq!(chunks.len(), 5);
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "length");
    assert!(chunks[..4].iter().all(|c| {
        c["choices"][0]["text"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty())
    }));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_return_one_vector_per_input() {
    let s = tiny_server().await;
    let c = client();
    let resp = c
        .post(format!("{}/v1/embeddings", s.url()))
        .header("X-Request-Type", "embedding")
        .header("X-Request-ID", "emb-1")
        .json(&json!({"model": "tiny-embed", "input": ["abcdefgh", "abcd"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "emb-1");
    assert_eq!(resp.headers()["x-backend-instance"], "emb-0");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let again: Value = c
        .post(format!("{}/v1/embeddings", s.url()))
        .json(&json!({"model": "tiny-embed", "input": "abcdefgh", "dimensions": 16}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v16 = again["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(v16.len(), 16);
    s.shutdown().await;
}

/// What OpenAI's Python client sends by default (`encoding_format: "base64"`) and how it
/// reads the answer (base64 of little-endian float32s): the same vectors as the float form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_embeddings_read_as_openai_clients_read_them() {
    use base64::Engine as _;
    let s = tiny_server().await;
    let c = client();
    let ask = |format: &'static str| {
        c.post(format!("{}/v1/embeddings", s.url()))
            .header("Authorization", "Bearer sk-anything")
            .json(&json!({"input": ["hello world", "abc"], "model": "tiny-embed", "encoding_format": format}))
            .send()
    };
    let b64: Value = ask("base64").await.unwrap().json().await.unwrap();
    let floats: Value = ask("float").await.unwrap().json().await.unwrap();
    for i in 0..2 {
        let text = b64["data"][i]["embedding"]
            .as_str()
            .expect("a base64 string");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let got: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let want: Vec<f32> =
            serde_json::from_value(floats["data"][i]["embedding"].clone()).unwrap();
        assert_eq!(got, want);
        assert_eq!(got.len(), 8);
    }
    assert_eq!(b64["usage"], floats["usage"]);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_openai_shaped_and_name_the_problem() {
    let s = tiny_server().await;
    let c = client();
    let url = |p: &str| format!("{}{p}", s.url());

    let msg = error_of(
        c.post(url("/admin/set_policy"))
            .json(&json!({"policy": "round_robin"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    for name in POLICY_NAMES {
        assert!(msg.contains(name), "{msg}");
    }

    let msg = error_of(
        c.post(url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body("{\"model\": \"tiny-llm\", \"messages\": [")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(msg.contains("malformed JSON"), "{msg}");

    let msg = error_of(
        c.post(url("/v1/chat/completions"))
            .json(&json!({"messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(msg.contains("`model`"), "{msg}");

    let resp = c
        .post(url("/v1/chat/completions"))
        .header("X-Request-ID", "r-404")
        .json(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "r-404");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-9"));

    let msg = error_of(
        c.post(url("/v1/chat/completions"))
            .json(&json!({"model": "tiny-llm-b", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap(),
        503,
    )
    .await;
    assert!(msg.contains("tiny-llm-b"), "{msg}");

    let msg = error_of(
        c.post(url("/v1/chat/completions"))
            .header("X-Request-Priority", "URGENT")
            .json(&chat_body(1, false))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        msg.contains("X-Request-Priority") && msg.contains("URGENT"),
        "{msg}"
    );

    let msg = error_of(
        c.post(url("/v1/embeddings"))
            .header("X-Request-Type", "llm_chat")
            .json(&json!({"model": "tiny-embed", "input": "x"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(msg.contains("X-Request-Type"), "{msg}");

    let msg = error_of(
        c.post(url("/v1/embeddings"))
            .json(&json!({"model": "tiny-llm", "input": "x"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(msg.contains("tiny-llm"), "{msg}");

    let msg = error_of(c.get(url("/v2/nothing")).send().await.unwrap(), 404).await;
    assert!(msg.contains("/v1/chat/completions"), "{msg}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_admin_metrics_and_reset() {
    let s = tiny_server().await;
    let c = client();
    let url = |p: &str| format!("{}{p}", s.url());
    let p = get_json(&c, url("/admin/policy")).await;
    assert_eq!(p["policy"], "fifo");
    assert_eq!(p["available"], json!(POLICY_NAMES));
    let r: Value = c
        .post(url("/admin/set_policy"))
        .json(&json!({"policy": "slo_aware"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"policy": "slo_aware", "previous": "fifo"}));
    assert_eq!(
        get_json(&c, url("/admin/policy")).await["policy"],
        "slo_aware"
    );

    for _ in 0..3 {
        let resp = c
            .post(url("/v1/chat/completions"))
            .json(&chat_body(2, false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let m = get_json(&c, url("/admin/metrics")).await;
    assert_eq!(m["policy"], "slo_aware");
    assert!(m["uptime_s"].as_f64().unwrap() > 0.0);
    assert_eq!(m["requests"]["received"], 3);
    assert_eq!(m["requests"]["completed"], 3);
    assert_eq!(m["requests"]["failed"], 0);
    assert_eq!(m["requests"]["rejected"], 0);
    assert_eq!(m["queues"], json!({"llm": 0, "embedding": 0}));
    let insts = m["instances"].as_array().unwrap();
    assert_eq!(insts.len(), 3);
    for i in insts {
        for k in [
            "id",
            "model",
            "kind",
            "running",
            "waiting",
            "kv_cache_usage",
            "completed",
            "output_tokens",
        ] {
            assert!(i.get(k).is_some(), "{k} in {i}");
        }
    }
    let out: u64 = insts
        .iter()
        .map(|i| i["output_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(out, 6);
    assert!(m["cost_usd"].as_f64().unwrap() > 0.0);

    let r = c
        .post(url("/admin/reset"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = get_json(&c, url("/admin/metrics")).await;
    assert_eq!(m["requests"]["received"], 0);
    assert_eq!(m["cost_usd"], 0.0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_request() {
    let s = tiny_server().await;
    let c = client();
    let resp = c
        .post(format!("{}/v1/chat/completions", s.url()))
        .json(&chat_body(5000, true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    // Role chunk, then at least one token.
    let mut seen = String::new();
    while !seen.contains("\"content\"") {
        let chunk = stream.next().await.unwrap().unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = get_json(&c, format!("{}/admin/metrics", s.url())).await;
        let running: u64 = m["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["running"].as_u64().unwrap())
            .sum();
        if m["requests"]["failed"] == 1 && running == 0 {
            assert_eq!(m["requests"]["completed"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "not cancelled: {m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown().await;
}

#[test]
fn cluster_argument_takes_a_preset_or_a_file() {
    assert_eq!(cluster_from_arg("tiny").unwrap(), presets::tiny());
    let dir = std::env::temp_dir().join(format!("cpbench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.yaml");
    std::fs::write(&path, presets::single().to_yaml()).unwrap();
    assert_eq!(
        cluster_from_arg(path.to_str().unwrap()).unwrap(),
        presets::single()
    );
    std::fs::write(&path, "name: x\nllm_instances: 3\n").unwrap();
    let err = format!(
        "{:#}",
        cluster_from_arg(path.to_str().unwrap()).unwrap_err()
    );
    assert!(
        err.contains("c.yaml") && err.contains("llm_instances"),
        "{err}"
    );
    let err = format!("{:#}", cluster_from_arg("nope").unwrap_err());
    assert!(err.contains("default") && err.contains("tiny"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- fidelity: the real-time server against the virtual-time simulation ----------------

/// What the test-side client measured for one streamed request.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// When the request was actually sent, µs after the run's start.
    sent_us: u64,
    /// First content chunk, µs after the run's start.
    first_token_us: u64,
    /// `[DONE]`, µs after the run's start.
    end_us: u64,
}

async fn send_streamed(
    c: reqwest::Client,
    url: String,
    spec: RequestSpec,
    start: Instant,
) -> Measured {
    let since_start = |t: Instant| (t - start).as_micros() as u64;
    tokio::time::sleep_until(start + Duration::from_micros(spec.offset_us)).await;
    let sent_us = since_start(Instant::now());
    let resp = c
        .post(url)
        .header("X-Request-ID", format!("fid-{}", spec.id))
        .header("X-Request-Priority", spec.priority.as_str())
        .header("X-SLO-Deadline-Ms", spec.slo_deadline_ms.to_string())
        .header("X-Request-Type", "llm_chat")
        .json(&json!({
            "model": FIDELITY_MODELS[spec.model as usize],
            "messages": [{"role": "user", "content": Texts::default().text(&spec.text).prompt}],
            "max_tokens": spec.max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        let now = since_start(Instant::now());
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if first.is_none() && buf.contains("\"content\"") {
            first = Some(now);
        }
        if buf.ends_with("data: [DONE]\n\n") {
            return Measured {
                sent_us,
                first_token_us: first.unwrap(),
                end_us: now,
            };
        }
    }
    panic!("stream of request {} ended without [DONE]", spec.id);
}

/// The model names of [`fidelity_workload`], indexed by `RequestSpec::model`.
const FIDELITY_MODELS: [&str; 1] = ["tiny-llm"];

fn fidelity_models() -> Vec<String> {
    FIDELITY_MODELS.iter().map(|m| m.to_string()).collect()
}

fn fidelity_workload() -> Vec<RequestSpec> {
    // 150 chat requests at about 50 requests/s over the tiny cluster's two instances:
    // enough to batch and queue a little, not enough to overload it.
    (0..150u64)
        .map(|id| {
            let h = cpbench_core::text::mix64(id ^ 0xF1DE);
            let tokens = 20 + (h % 80) as u32;
            RequestSpec {
                id,
                offset_us: 200_000 + id * 20_000 + (h >> 16) % 10_000,
                kind: RequestKind::LlmChat,
                model: 0,
                priority: Priority::Normal,
                slo_deadline_ms: 1000,
                slo_ttft_ms: None,
                prompt_tokens_est: estimate_tokens(&synthetic_text(id, tokens)),
                max_tokens: 8 + ((h >> 32) % 24) as u32,
                text: TextSource::Synthetic { seed: id, tokens },
            }
        })
        .collect()
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// Median and p99 of |measured - simulated| TTFT and E2E in ms, both measured from `from_us`
/// (the intended or the actual send time of each request).
fn errors(
    measured: &[Measured],
    sim: &[cpbench_core::record::RequestRecord],
    from_us: impl Fn(usize) -> u64,
) -> [f64; 4] {
    let (mut dttft, mut de2e) = (Vec::new(), Vec::new());
    for (i, (m, r)) in measured.iter().zip(sim).enumerate() {
        assert!(r.outcome.is_success());
        let from = from_us(i) as f64;
        let sim_ttft = (r.first_token_us.unwrap() - r.intended_us) as f64;
        let sim_e2e = (r.end_us - r.intended_us) as f64;
        dttft.push(((m.first_token_us as f64 - from) - sim_ttft).abs() / 1000.0);
        de2e.push(((m.end_us as f64 - from) - sim_e2e).abs() / 1000.0);
    }
    [
        percentile(dttft.clone(), 50.0),
        percentile(dttft, 99.0),
        percentile(de2e.clone(), 50.0),
        percentile(de2e, 99.0),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_follows_the_simulation_of_the_same_requests() {
    let reqs = fidelity_workload();
    let spec = presets::tiny();
    let s = server_with("fifo", spec.clone()).await;
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("{}/v1/chat/completions", s.url());
    let start = Instant::now();
    let tasks: Vec<_> = reqs
        .iter()
        .copied()
        .map(|r| tokio::spawn(send_streamed(c.clone(), url.clone(), r, start)))
        .collect();
    let mut measured = Vec::new();
    for t in tasks {
        measured.push(t.await.unwrap());
    }
    s.shutdown().await;

    // Against the schedule: includes the test sender's own lateness, which moves arrivals
    // across step boundaries.
    let planned = simulate(
        &Workload::from_requests(42, fidelity_models(), reqs.clone()),
        &spec,
        "fifo",
        42,
    )
    .unwrap();
    let [t50, t99, e50, e99] = errors(&measured, &planned.records, |i| reqs[i].offset_us);
    // Against the arrivals that happened: the server's own error (HTTP, timer wake-up,
    // delivery).
    let actual: Vec<RequestSpec> = reqs
        .iter()
        .zip(&measured)
        .map(|(r, m)| RequestSpec {
            offset_us: m.sent_us,
            ..*r
        })
        .collect();
    let replayed = simulate(
        &Workload::from_requests(42, fidelity_models(), actual),
        &spec,
        "fifo",
        42,
    )
    .unwrap();
    let [a50, a99, b50, b99] = errors(&measured, &replayed.records, |i| measured[i].sent_us);
    let late: Vec<f64> = reqs
        .iter()
        .zip(&measured)
        .map(|(r, m)| (m.sent_us - r.offset_us) as f64 / 1000.0)
        .collect();
    eprintln!(
        "server vs simulation over {} requests, |error| median / p99 in ms:\n  \
         schedule as planned: TTFT {t50:.2} / {t99:.2}, E2E {e50:.2} / {e99:.2}\n  \
         sends as they happened: TTFT {a50:.2} / {a99:.2}, E2E {b50:.2} / {b99:.2}\n  \
         sender lateness: median {:.2}, p99 {:.2}",
        reqs.len(),
        percentile(late.clone(), 50.0),
        percentile(late, 99.0),
    );
    assert!(a50 < 6.0 && b50 < 6.0, "server's own median error");
    assert!(
        t50 < 10.0 && e50 < 10.0,
        "median error against the schedule"
    );
    assert!(a99 < 100.0 && b99 < 100.0 && t99 < 100.0 && e99 < 100.0);
}
