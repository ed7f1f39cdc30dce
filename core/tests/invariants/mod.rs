//! Invariants of the parsers that take untrusted bytes, checked on any input. The property
//! tests of `fuzz_props.rs` and the libFuzzer targets of `fuzz/` (which include these files by
//! path) both call them. Each check panics, with the input, when an invariant does not hold.
#![allow(dead_code, unreachable_pub)]

pub mod config;
pub mod dataset;
pub mod report;
pub mod samples;
pub mod sse;

mod split;
#[allow(unused_imports)] // `seed_and_rest` serves the fuzz targets.
pub use split::{cuts, seed_and_rest, split_at};
