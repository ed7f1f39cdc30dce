//! Prompt datasets (ShareGPT JSON, JSONL): parse or say which line or entry is wrong.
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::dataset::check_dataset(data);
});
