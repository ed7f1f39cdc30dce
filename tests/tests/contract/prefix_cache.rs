//! Prefix caching over HTTP: the server names a chat's blocks from the text it receives as
//! the simulator names them from the workload's prompt, so both count the same hits; and
//! `/admin/reset` empties the caches.

use super::*;
use cpbench_core::cluster::PrefixCacheMetrics;
use cpbench_core::dataset::{Dataset, DatasetEntry};
use std::sync::Arc;

/// The workload of these chat prompts, one a second, as `tiny-llm` requests (the prompts are
/// its dataset, so the simulator hashes the very text sent).
fn workload_of(prompts: &[String]) -> Workload {
    let reqs = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| RequestSpec {
            id: i as u64,
            offset_us: i as u64 * 1_000_000,
            kind: RequestKind::LlmChat,
            model: 0,
            priority: Priority::Normal,
            slo_deadline_ms: 10_000,
            slo_ttft_ms: None,
            prompt_tokens_est: estimate_tokens(p),
            max_tokens: 2,
            text: TextSource::Dataset { entry: i as u32 },
        })
        .collect();
    let mut w = Workload::from_requests(42, vec!["tiny-llm".into()], reqs);
    w.texts.dataset = Some(Arc::new(Dataset {
        entries: prompts
            .iter()
            .map(|p| DatasetEntry::new(p.clone(), None))
            .collect(),
        skipped: 0,
    }));
    w
}

async fn send(c: &reqwest::Client, url: &str, prompt: &str) {
    let body = json!({
        "model": "tiny-llm",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 2,
    });
    let r = c.post(url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

fn prefix_cache_of(m: &Value) -> PrefixCacheMetrics {
    serde_json::from_value(m["prefix_cache"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_hits_what_the_simulation_hits_and_reset_clears_it() {
    let system = synthetic_text(7, 200);
    let prompts: Vec<String> = (0..3)
        .map(|i| format!("{system} {}", synthetic_text(100 + i, 24)))
        .collect();
    let spec = presets::tiny();
    let s = server_with("cache_aware", spec.clone()).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", s.url());
    for p in &prompts {
        send(&c, &url, p).await;
    }
    let served = prefix_cache_of(&get_json(&c, format!("{}/admin/metrics", s.url())).await);
    let simulated = simulate(&workload_of(&prompts), &spec, "cache_aware", 42).unwrap();
    assert_eq!(served, simulated.metrics.prefix_cache);
    // The system prompt's 12 full blocks, hit by the second and third request.
    assert_eq!(served.hit_blocks, 2 * 12);
    assert!(served.miss_blocks >= 12);

    let text = c
        .get(format!("{}/metrics", s.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hits = format!("cpbench_prefix_cache_hits_total {}", served.hit_tokens);
    assert!(text.lines().any(|l| l == hits), "{hits} not in:\n{text}");

    let r = c
        .post(format!("{}/admin/reset", s.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = get_json(&c, format!("{}/admin/metrics", s.url())).await;
    assert_eq!(prefix_cache_of(&m), PrefixCacheMetrics::default());
    // Nothing cached any more: the first prompt misses again.
    send(&c, &url, &prompts[0]).await;
    let m = get_json(&c, format!("{}/admin/metrics", s.url())).await;
    assert_eq!(prefix_cache_of(&m).hit_blocks, 0);
    s.shutdown().await;
}
