//! Dispatch: each command to the function that does it. The benchmarking commands go
//! through [`crate::plan::resolve`] (flags to a validated plan) and [`crate::bench::execute`].

mod config;
mod merge;
mod serve;
mod visualize;

use crate::bench;
use crate::cli::{Cli, Command};
use crate::plan::{self, Request};
use anyhow::Result;

pub use crate::bench::EXIT_INTERRUPTED;
pub use crate::plan::UsageError;

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Run(a) => bench::execute(plan::resolve(Request::Run(a))?),
        Command::Compare(a) => bench::execute(plan::resolve(Request::Compare(a))?),
        Command::Sweep(a) => bench::execute(plan::resolve(Request::Sweep(a))?),
        Command::Experiment(a) => bench::execute(plan::resolve(Request::Experiment(a))?),
        Command::Simulate(a) => bench::execute(plan::resolve(Request::Simulate(a))?),
        Command::Config(a) => config::config(a),
        Command::Validate(a) => config::validate(a),
        Command::Serve(a) => bench::runtime()?.block_on(serve::serve(a)),
        Command::Visualize(a) => visualize::visualize(a),
        Command::Merge(a) => merge::merge(a),
    }
}
