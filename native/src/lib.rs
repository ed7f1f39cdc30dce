//! sage-cp-bench: the native runner, CLI and reference control plane.
//!
//! The binary is a thin wrapper around [`commands::run`]; the library is the test surface.

pub mod admin_token;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod client;
pub mod clock;
pub mod collect;
pub mod commands;
pub mod control;
pub mod export;
pub mod feed;
pub mod gpu;
pub mod logging;
pub mod pacer;
pub mod plan;
pub mod runner;
pub mod sender;
pub mod server;
pub mod settings;
pub mod shard;
pub mod simulate;
pub mod telemetry;
