//! `cpbench-fake-server`: a fake OpenAI-compatible control plane for load benchmarks.
//! See `cpbench_tests::fake_server::cli` for what it does.

use clap::Parser;
use cpbench_tests::fake_server::cli::{Args, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
