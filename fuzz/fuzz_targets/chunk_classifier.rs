//! The learning chunk classifier equals `classify_chunk`, chunk after chunk (one chunk per line).
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::sse::check_classifier(&invariants::sse::chunks_of(data));
});
