//! Prints the workload hash of a config file: the same number `sage-cp-bench config --hash FILE
//! [--seed N]` prints and the viewer's workload preview shows (the browser tests compare them).
//!
//! Usage: `cargo run -p cpbench-core --example workload_hash -- FILE [SEED]`. A dataset or
//! trace file the config names is read relative to the config's folder.

use cpbench_core::arrival::Trace;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::dataset::Dataset;
use cpbench_core::workload::{WorkloadData, generate};
use std::path::Path;
use std::process::ExitCode;

fn run(args: &[String]) -> Result<String, String> {
    let [file, rest @ ..] = args else {
        return Err("usage: workload_hash FILE [SEED]".into());
    };
    let path = Path::new(file);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let ext = path.extension().and_then(|e| e.to_str());
    let mut config = BenchmarkConfig::from_text(&text, ext).map_err(|e| format!("{file}: {e}"))?;
    if let Some(seed) = rest.first() {
        config.seed = seed.parse().map_err(|_| {
            format!(
                "SEED: got {seed:?}, expected an integer from 0 to {}",
                u64::MAX
            )
        })?;
    }
    config
        .validate()
        .map_err(|e| format!("{file}: invalid configuration:\n{e}"))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let read = |p: &str| std::fs::read(base.join(p)).map_err(|e| format!("{p}: {e}"));
    let mut data = WorkloadData::none();
    if let Some(d) = &config.dataset {
        let format = d.resolved_format().ok_or("dataset.format: none")?;
        data.dataset = Some(
            Dataset::parse(&read(&d.path)?, format)
                .map_err(|e| e.to_string())?
                .into(),
        );
    }
    if let Some(t) = &config.trace {
        data.trace = Some(Trace::parse_jsonl(&read(&t.path)?).map_err(|e| e.to_string())?);
    }
    let workload = generate(&config, &data).map_err(|e| e.to_string())?;
    Ok(workload.hash())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
