//! The builtin client's response heads: the same result however they are read; interim responses
//! are skipped and end (the first 8 bytes pick the splits).
#![no_main]

#[path = "../../native/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (seed, response) = invariants::seed_and_rest(data);
    let cuts = invariants::cuts(seed, response.len(), 16);
    invariants::head::check_head(response, &cuts);
});
