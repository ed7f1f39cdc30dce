//! The streamed-response hot path: decoding and classifying one 64-chunk SSE response, as the
//! client does per read, three ways: the learning classifier the client uses (a second stream
//! on the same connection, shape already known), `classify_chunk` per chunk, and a full JSON
//! parse per chunk. Compare the ratios within one run.
//!
//! `cargo bench -p sage-cp-bench --bench sse`

use cpbench_core::sse::{ChunkClassifier, ChunkKind, SseDecoder, classify_chunk};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A vLLM-shaped chat stream: a role chunk, 64 content chunks, a finish chunk, a usage chunk,
/// `[DONE]`.
fn stream() -> Vec<u8> {
    let head = r#"{"id":"chatcmpl-4f1c9a0e2b","object":"chat.completion.chunk","created":1764300000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":"#;
    let mut s = String::new();
    s.push_str(&format!(
        "data: {head}{{\"role\":\"assistant\",\"content\":\"\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
    ));
    for i in 0..64 {
        s.push_str(&format!(
            "data: {head}{{\"content\":\" word{i}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str(&format!(
        "data: {head}{{}},\"logprobs\":null,\"finish_reason\":\"length\"}}]}}\n\n"
    ));
    s.push_str(r#"data: {"id":"chatcmpl-4f1c9a0e2b","object":"chat.completion.chunk","created":1764300000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":16,"completion_tokens":64,"total_tokens":80}}"#);
    s.push_str("\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

/// Decodes `bytes` as two reads and counts content chunks with `classify`.
fn count(bytes: &[u8], mut classify: impl FnMut(&[u8]) -> ChunkKind) -> u32 {
    let mut dec = SseDecoder::new();
    let mut n = 0;
    let (a, b) = bytes.split_at(bytes.len() / 2);
    for part in [a, b] {
        dec.feed(part, |data| {
            if let ChunkKind::Json {
                has_content: true, ..
            } = classify(data)
            {
                n += 1;
            }
        });
    }
    n
}

fn full_parse(data: &[u8]) -> ChunkKind {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Err(_) => ChunkKind::Done,
        Ok(v) => ChunkKind::Json {
            has_content: v["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            usage: None,
        },
    }
}

fn bench(c: &mut Criterion) {
    let bytes = stream();
    let mut g = c.benchmark_group("sse_64_chunk_response");
    g.throughput(Throughput::Elements(1));
    let mut learned = ChunkClassifier::new();
    assert_eq!(count(&bytes, |d| learned.classify(d)), 64);
    g.bench_function("learning_classifier", |b| {
        b.iter(|| count(black_box(&bytes), |d| learned.classify(d)))
    });
    g.bench_function("classify_chunk", |b| {
        b.iter(|| count(black_box(&bytes), classify_chunk))
    });
    assert_eq!(count(&bytes, full_parse), 64);
    g.bench_function("full_json_parse", |b| {
        b.iter(|| count(black_box(&bytes), full_parse))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
