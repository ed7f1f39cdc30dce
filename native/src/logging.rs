//! Leveled logs on stderr with `tracing`: what the tool is doing, beside its normal output.
//!
//! The level (of this tool's own logs; libraries stay at warn) comes from `--log-level
//! LEVEL`, else `-v` (info, `-vv` debug, `-vvv` trace), else `SAGE_LOG_LEVEL` (the original
//! tool's variable: `DEBUG`, `INFO`, ...), else `RUST_LOG` (any `tracing` filter, e.g. `sage_cp_bench::client=trace`), else warnings
//! only. What is logged: at info each policy switch and launched control plane; at debug
//! connections opened and dropped, retries, health checks, resets and drains, telemetry
//! polls; at trace each request's lifecycle. A disabled level costs one relaxed atomic load
//! per call site, so the sending hot path pays nothing measurable for it.

use crate::cli::LogArgs;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The variable the original tool read its log level from.
pub const LEVEL_VAR: &str = "SAGE_LOG_LEVEL";

/// The filter the flags and the environment choose (see the module doc).
pub fn filter(args: &LogArgs) -> Result<EnvFilter, String> {
    let level = match (&args.log_level, args.verbose) {
        (Some(l), _) => Some(l.clone()),
        (None, 0) => None,
        (None, 1) => Some("info".into()),
        (None, 2) => Some("debug".into()),
        (None, _) => Some("trace".into()),
    };
    let from_flag = level.is_some();
    let level = level.or_else(|| {
        std::env::var(LEVEL_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    if let Some(l) = level {
        let l = l.trim().to_ascii_lowercase();
        let l = match l.as_str() {
            "warning" => "warn",
            "critical" | "fatal" => "error",
            other => other,
        };
        if !["off", "error", "warn", "info", "debug", "trace"].contains(&l) {
            let source = if from_flag { "--log-level" } else { LEVEL_VAR };
            return Err(format!(
                "{source}: unknown level {l:?}; expected one of off, error, warn, info, debug, trace"
            ));
        }
        // The level is for this tool's own logs; libraries (HTTP stacks) stay at warn
        // unless RUST_LOG says otherwise.
        return Ok(EnvFilter::new(format!(
            "warn,sage_cp_bench={l},cpbench_core={l}"
        )));
    }
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG: {v:?} is not a filter: {e}"))
        }
        _ => Ok(EnvFilter::new("warn")),
    }
}

/// Installs the stderr logger for the process.
pub fn init(args: &LogArgs) -> Result<(), String> {
    let filter = filter(args)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(verbose: u8, level: Option<&str>) -> LogArgs {
        LogArgs {
            verbose,
            log_level: level.map(String::from),
        }
    }

    #[test]
    fn flags_choose_the_level_of_our_own_logs() {
        for (a, want) in [
            (args(1, None), "sage_cp_bench=info"),
            (args(2, None), "sage_cp_bench=debug"),
            (args(5, None), "sage_cp_bench=trace"),
            (args(3, Some("WARNING")), "sage_cp_bench=warn"),
            (args(0, Some("Debug")), "cpbench_core=debug"),
        ] {
            let f = filter(&a).unwrap().to_string();
            assert!(f.contains(want), "{a:?}: {f}");
            assert!(
                f.split(',').any(|d| d == "warn"),
                "libraries stay at warn: {f}"
            );
        }
        let e = filter(&args(0, Some("loud"))).unwrap_err();
        assert!(e.starts_with("--log-level") && e.contains("trace"), "{e}");
    }
}
