//! Command-line interface (clap derive). Parsing only; work happens in the library.

use clap::Parser;

/// Benchmark the scheduling policies of an LLM control plane.
#[derive(Debug, Parser)]
#[command(name = "sage-cp-bench", version, about, long_about = None)]
pub struct Cli {}

/// Runs the CLI with parsed options. Returns the process exit code.
pub fn run(_cli: Cli) -> anyhow::Result<i32> {
    Ok(0)
}
