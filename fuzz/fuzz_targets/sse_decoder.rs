//! The SSE decoder: the spec's events however the stream is split (the first 8 bytes pick the
//! splits).
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (seed, stream) = invariants::seed_and_rest(data);
    let cuts = invariants::cuts(seed, stream.len(), 16);
    invariants::sse::check_decoder(stream, &cuts);
});
