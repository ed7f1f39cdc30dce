//! sage-cp-bench: the native runner, CLI and reference control plane.
//!
//! The binary is a thin wrapper around [`cli::run`]; the library is the test surface.

pub mod cli;
pub mod server;
