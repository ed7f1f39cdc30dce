//! Render the HTML and Markdown reports and the SVG/PNG charts of a result file.
//!
//! ```sh
//! # from a result file written by run, compare, sweep, experiment or simulate
//! cargo run -p sage-cp-bench --example render_report -- benchmark_results/report_<ts>.json out/
//! # without arguments: a report simulated in virtual time (no network, no waiting)
//! cargo run -p sage-cp-bench --example render_report
//! ```

use anyhow::{Context, Result};
use cpbench_core::config::{BenchmarkConfig, Mode};
use cpbench_core::report::Report;
use cpbench_core::workload::{WorkloadData, generate};
use sage_cp_bench::export::charts::render_svg;
use sage_cp_bench::export::visualize::{self, Formats, Visuals};
use sage_cp_bench::{server, settings, simulate};
use std::path::{Path, PathBuf};

fn simulated() -> Result<Report> {
    let mut config = BenchmarkConfig::for_mode(Mode::Hybrid);
    config.num_requests = 200;
    config.request_rate = 20.0;
    config.policies = vec!["fifo".into(), "hybrid_slo".into()];
    let cluster = server::cluster_from_arg("default")?;
    settings::fit_models_to_cluster(&mut config, &cluster);
    config.validate()?;
    let w = generate(&config, &WorkloadData::none())?;
    simulate::simulate_report(
        &config,
        &w,
        &cluster,
        "default",
        "2026-01-01T00:00:00Z".into(),
        true,
    )
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let report = match args.next() {
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
            Report::from_json(&text).with_context(|| format!("reading {path}"))?
        }
        None => simulated()?,
    };
    let out = PathBuf::from(args.next().unwrap_or_else(|| "visualizations".into()));

    // Which charts the report has data for, and one of them as SVG text.
    let visuals = Visuals::of(&report, Path::new("."));
    for c in &visuals.charts.charts {
        println!("chart {:<24} {}", c.spec.id, c.spec.title);
    }
    if let Some(first) = visuals.charts.charts.first() {
        let svg = render_svg(first, true)?;
        println!("{} is {} bytes of SVG", first.spec.id, svg.len());
    }
    // Everything, as the commands write it.
    for p in visualize::write(&report, &out, Formats::ALL, Path::new("."), None)? {
        println!("Wrote {}", p.display());
    }
    Ok(())
}
