//! Result files of any version: load or not; a loaded report writes and loads back equal.
#![no_main]

#[path = "../../core/tests/invariants/mod.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::report::check_report(&String::from_utf8_lossy(data));
});
