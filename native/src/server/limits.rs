//! The reference server's limits: how much one request may ask of it, and how long a
//! connection may sit without sending a request. `docs/CONTRACT.md` lists the same values.
//!
//! Why these values: a request may not make the server hold or send much more than it sent
//! (an embeddings request of 75 KB asking for many dimensions used to produce a 438 MB
//! answer), and every answer the runner's workloads need stays well inside them: the
//! largest workload batch is `cpbench_core::config::MAX_EMBEDDING_BATCH` inputs, the runner
//! never asks for `dimensions`, and the largest KV cache of a preset (about 1 million tokens,
//! 4 MB of prompt) fits the body limit.

use cpbench_core::text::WORDS;
use std::time::Duration;

/// Largest request body, in bytes (8 MiB): a prompt of a million tokens, or 4,096
/// embedding inputs of 500 tokens each. Larger: 413 (`request_too_large`), refused before the
/// body is read when `Content-Length` declares it, and the connection is closed.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// Largest `dimensions` of an embeddings request.
pub const MAX_EMBEDDING_DIMENSIONS: usize = 4096;

/// Most inputs of one embeddings request (`cpbench_core::config::MAX_EMBEDDING_BATCH`).
pub const MAX_EMBEDDING_INPUTS: usize = cpbench_core::config::MAX_EMBEDDING_BATCH as usize;

/// Most numbers in one embeddings answer (inputs × dimensions): 4 million, e.g. 1,000
/// inputs of 4,000 dimensions (about 45 MB of JSON).
pub const MAX_EMBEDDING_FLOATS: usize = 4_000_000;

/// Largest answer sent whole (an embeddings answer, a non-streamed generation), in bytes
/// (64 MiB), reckoned before the request is queued from an upper bound of its size. Streamed
/// generations are sent as they are produced and are bounded by `max_tokens` and the KV
/// cache instead.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// How long a request's head (request line and headers) may take from its first byte until
/// it is complete (10 s); then the connection is closed without an answer. A head has a few
/// hundred bytes: a client that trickles it is holding the connection, not sending.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a kept-alive connection may wait for its next request, without a request in
/// progress and without a byte received (30 s); then it is closed. A request in progress
/// (queued in the control plane, streaming, or waiting to finish) is never cut by it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// An upper bound of the JSON size of one embedding number and its comma: a shortest f32
/// representation has at most 9 digits, a sign, a point and an exponent like `e-38`.
pub(crate) const MAX_FLOAT_JSON_BYTES: usize = 16;

/// An upper bound of one embedding's JSON beside its numbers
/// (`{"object":"embedding","index":4095,"embedding":[]},`).
pub(crate) const EMBEDDING_ENTRY_JSON_BYTES: usize = 64;

/// An upper bound of an answer's JSON beside its data (ids, model name, usage).
pub(crate) const ENVELOPE_JSON_BYTES: usize = 1024;

/// An upper bound of the JSON size of an embeddings answer.
pub(crate) fn embedding_response_bound(inputs: usize, dimensions: usize, model: &str) -> usize {
    ENVELOPE_JSON_BYTES
        + 2 * model.len()
        + inputs * EMBEDDING_ENTRY_JSON_BYTES
        + inputs * dimensions * MAX_FLOAT_JSON_BYTES
}

/// An upper bound of the JSON size of a non-streamed generation of `max_tokens` tokens (one
/// synthetic word each, separated by spaces).
pub(crate) fn generation_response_bound(max_tokens: u32, model: &str) -> usize {
    let word = WORDS.iter().map(|w| w.len()).max().unwrap_or(16);
    ENVELOPE_JSON_BYTES + 2 * model.len() + max_tokens as usize * (word + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_accepted_embeddings_answer_fits_the_response_limit() {
        let bound = embedding_response_bound(
            MAX_EMBEDDING_FLOATS / MAX_EMBEDDING_DIMENSIONS,
            MAX_EMBEDDING_DIMENSIONS,
            "m",
        );
        assert!(bound <= MAX_RESPONSE_BYTES, "{bound}");
        let bound = embedding_response_bound(MAX_EMBEDDING_INPUTS, 976, "m");
        assert!(bound <= MAX_RESPONSE_BYTES, "{bound}");
    }

    #[test]
    fn words_need_no_json_escapes() {
        for w in WORDS {
            assert!(
                w.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'),
                "{w}"
            );
        }
    }

    #[test]
    fn a_float_never_takes_more_than_the_bound() {
        for x in [
            -1.234_567_9e-10_f32,
            -f32::MIN_POSITIVE,
            -f32::from_bits(1),
            -0.123_456_79,
            -1.0,
        ] {
            let s = serde_json::to_string(&x).unwrap();
            assert!(s.len() < MAX_FLOAT_JSON_BYTES, "{s}");
        }
    }
}
