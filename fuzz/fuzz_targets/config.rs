//! Benchmark configs (YAML, JSON): parse or name the problem; validate or name the fields; a valid
//! one reads back equal.
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::config::check_config(&String::from_utf8_lossy(data));
});
