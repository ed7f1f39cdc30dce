//! The chunked decoder: errors or yields a body no longer than its input, the same however it is
//! split (the first 8 bytes pick the splits).
#![no_main]

#[path = "../../native/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (seed, body) = invariants::seed_and_rest(data);
    let cuts = invariants::cuts(seed, body.len(), 16);
    invariants::chunked::check_decoder(body, &cuts);
});
