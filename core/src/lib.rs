//! The deterministic core of sage-cp-bench.
//!
//! This crate does **no I/O and reads no clock**: it never touches files, sockets, the
//! environment or the system time, and it starts no threads. Time is always an argument
//! (integer microseconds from the start of a run, `*_us`), every random stream comes from one
//! `seed` through ChaCha8, and every transcendental function goes through `libm`, so the same
//! inputs give byte-identical outputs on `x86_64` and `wasm32-unknown-unknown`.
//!
//! It is compiled into the native runner (`sage-cp-bench`) and into the browser viewer, so
//! both compute the same workloads and the same numbers.
//!
//! Modules:
//! - [`request`]: the vocabulary shared by everything (request kinds, priorities).
//! - [`config`]: the benchmark configuration, parsed from YAML/JSON text and validated.
//! - [`arrival`], [`lengths`], [`dataset`], [`text`], [`workload`]: `(config, seed)` to a
//!   sorted, hashed, shardable list of request specs.
//! - [`record`]: what the runner measured for one request.
//! - [`histogram`], [`slo`], [`metrics`]: records to summaries, percentiles, SLO compliance.
//! - [`report`]: the versioned result file shared by the runner and the viewer.
//! - [`import`]: the result files of vLLM's `bench serve`, GuideLLM and AIPerf as imported
//!   reports.
//! - [`sse`]: a pure Server-Sent Events decoder for streamed responses.
//! - [`chart`]: chart specs of reports and workloads, drawn with plotters on any backend.
//! - [`cluster`], [`sim`]: the reference control plane as a sans-IO state machine, and its
//!   virtual-time driver.
//! - [`experiment`]: the predefined experiments' summaries, computed from a report.

#![warn(missing_docs)]

pub mod arrival;
pub mod chart;
pub mod cluster;
pub mod config;
pub mod dataset;
pub mod experiment;
pub mod histogram;
pub mod import;
mod jsonl;
pub mod lengths;
pub mod metrics;
pub mod record;
pub mod report;
pub mod request;
pub mod sim;
pub mod slo;
pub mod sse;
pub mod stats;
pub mod text;
pub mod timeline;
pub mod trials;
pub mod workload;

/// The tool's version, written into every result file.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The tool's name, written into every result file.
pub const TOOL_NAME: &str = "sage-cp-bench";
