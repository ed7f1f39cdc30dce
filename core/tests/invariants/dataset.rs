//! Prompt datasets (ShareGPT JSON, JSONL) and replay traces (JSONL).

use cpbench_core::arrival::{Trace, TraceError};
use cpbench_core::dataset::{Dataset, DatasetError, DatasetFormat};
use cpbench_core::lengths::MAX_LENGTH_TOKENS;
use cpbench_core::text::estimate_tokens;

/// Lines of `bytes` as `str::lines` counts them (at least 1).
fn line_count(bytes: &[u8]) -> usize {
    bytes.split(|&b| b == b'\n').count().max(1)
}

/// A dataset parses in either format or not, without panicking; a parsed one has at least one
/// entry, each a non-empty prompt with its estimate and no zero output length; a JSONL error
/// names a line of the file.
pub fn check_dataset(bytes: &[u8]) {
    for format in [DatasetFormat::Sharegpt, DatasetFormat::Jsonl] {
        match Dataset::parse(bytes, format) {
            Ok(ds) => {
                assert!(!ds.is_empty(), "{format}: no entries");
                for e in &ds.entries {
                    assert!(!e.prompt.is_empty(), "{format}: an empty prompt");
                    assert_eq!(e.prompt_tokens_est, estimate_tokens(&e.prompt));
                    assert_ne!(e.output_tokens_est, Some(0), "{format}: a zero output");
                }
                if format == DatasetFormat::Jsonl {
                    assert!(ds.len() <= line_count(bytes));
                }
            }
            Err(DatasetError::JsonlLine { line, message }) => {
                assert!(line >= 1 && line <= line_count(bytes), "line {line}");
                assert!(!message.is_empty());
            }
            Err(DatasetError::ShareGpt { message }) => assert!(!message.is_empty()),
            Err(DatasetError::Empty { .. }) => {}
        }
    }
}

/// A trace parses or not without panicking; a parsed one is non-empty, sorted, of finite
/// times and token counts in range, and its offsets start at 0 and never go back.
pub fn check_trace(bytes: &[u8]) {
    match Trace::parse_jsonl(bytes) {
        Ok(trace) => {
            assert!(!trace.is_empty());
            for r in &trace.records {
                assert!(r.timestamp_ms.is_finite());
                for t in [r.prompt_tokens, r.output_tokens].into_iter().flatten() {
                    assert!((1..=MAX_LENGTH_TOKENS).contains(&t), "{t} tokens");
                }
            }
            assert!(
                trace
                    .records
                    .windows(2)
                    .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms),
                "not sorted"
            );
            let offsets = trace.offsets_us(trace.len());
            assert_eq!(offsets.len(), trace.len());
            assert_eq!(offsets[0], 0);
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
        }
        Err(TraceError::Line { line, message }) => {
            assert!(line >= 1 && line <= line_count(bytes), "line {line}");
            assert!(!message.is_empty());
        }
        Err(TraceError::Empty) => {}
    }
}
