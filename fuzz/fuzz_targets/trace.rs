//! Replay traces (JSONL): parse sorted and finite, or say which line is wrong.
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::dataset::check_trace(data);
});
