//! End-to-end test support for sage-cp-bench.
//!
//! The tests themselves live in `tests/tests/`. This library holds what they run against:
//! [`fake_server`], a configurable fake OpenAI-compatible control plane (well-behaved by
//! default, with fault injection and lying or incomplete admin APIs), usable in-process from
//! `#[tokio::test]`s or as the `cpbench-fake-server` binary for load benchmarks.

pub mod fake_server;
