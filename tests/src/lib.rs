//! End-to-end test support for sage-cp-bench.
//!
//! The tests themselves live in `tests/tests/`. This library holds what they run against:
//! [`fake_server`], a configurable fake OpenAI-compatible control plane (well-behaved by
//! default, with fault injection and lying or incomplete admin APIs), usable in-process from
//! `#[tokio::test]`s or as the `cpbench-fake-server` binary for load benchmarks.

pub mod fake_server;

use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::workload::RequestSpec;

/// One small request of `kind` (id 7, model `m`, HIGH priority, a 2 s deadline; LLM requests
/// ask for 6 tokens, embeddings send two inputs), for tests of a single exchange.
pub fn sample_spec(kind: RequestKind) -> RequestSpec {
    RequestSpec {
        id: 7,
        offset_us: 0,
        kind,
        model: "m".into(),
        priority: Priority::High,
        slo_deadline_ms: 2000,
        slo_ttft_ms: None,
        prompt: if kind.is_llm() {
            "tell me a story".into()
        } else {
            String::new()
        },
        prompt_tokens_est: 4,
        max_tokens: if kind.is_llm() { 6 } else { 0 },
        inputs: if kind.is_llm() {
            vec![]
        } else {
            vec!["a".into(), "b".into()]
        },
    }
}
