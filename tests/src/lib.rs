//! End-to-end test support for sage-cp-bench.
//!
//! The tests themselves live in `tests/tests/`. This library holds what they run against:
//! [`fake_server`], a configurable fake OpenAI-compatible control plane (well-behaved by
//! default, with fault injection and lying or incomplete admin APIs), usable in-process from
//! `#[tokio::test]`s or as the `cpbench-fake-server` binary for load benchmarks.

pub mod fake_server;

use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::workload::{RequestSpec, RequestText, TextSource};

/// The model name of [`sample_spec`]'s requests.
pub const SAMPLE_MODEL: &str = "m";

/// One small request of `kind` (id 7, model [`SAMPLE_MODEL`], HIGH priority, a 2 s deadline;
/// LLM requests ask for 6 tokens, embeddings send two inputs), for tests of a single
/// exchange; its text is [`sample_text`].
pub fn sample_spec(kind: RequestKind) -> RequestSpec {
    RequestSpec {
        id: 7,
        offset_us: 0,
        kind,
        model: 0,
        priority: Priority::High,
        slo_deadline_ms: 2000,
        slo_ttft_ms: None,
        prompt_tokens_est: 4,
        max_tokens: if kind.is_llm() { 6 } else { 0 },
        text: if kind.is_llm() {
            TextSource::Synthetic { seed: 0, tokens: 4 }
        } else {
            TextSource::FixedInputs {
                seed: 0,
                inputs: 2,
                tokens: 1,
            }
        },
    }
}

/// The text of [`sample_spec`]`(kind)`: the prompt "tell me a story", or the inputs "a"
/// and "b".
pub fn sample_text(kind: RequestKind) -> RequestText {
    if kind.is_llm() {
        RequestText {
            prompt: "tell me a story".into(),
            inputs: Vec::new(),
        }
    } else {
        RequestText {
            prompt: String::new(),
            inputs: vec!["a".into(), "b".into()],
        }
    }
}
