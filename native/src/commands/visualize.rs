//! `visualize`: the reports and charts of a result file.

use crate::cli::{VisualFormatArg, VisualizeArgs};
use crate::export;
use crate::plan::usage;
use anyhow::Result;
use cpbench_core::report::Report;
use std::path::Path;

/// Reads a result file and writes its visualizations; exit code 0.
pub(super) fn visualize(a: &VisualizeArgs) -> Result<i32> {
    let input = &a.input;
    let text = std::fs::read_to_string(input)
        .map_err(|e| usage(format!("--input {}: cannot read it: {e}", input.display())))?;
    let report =
        Report::from_json(&text).map_err(|e| usage(format!("--input {}: {e}", input.display())))?;
    let (charts, html, markdown) = match a.format {
        VisualFormatArg::Charts => (true, false, false),
        VisualFormatArg::Html => (false, true, false),
        VisualFormatArg::Markdown => (false, false, true),
        VisualFormatArg::All => (true, true, true),
    };
    let formats = export::visualize::Formats {
        charts,
        html,
        markdown,
    };
    // A dataset or trace the config names is read from where the benchmark ran.
    let base = Path::new(".");
    let written = export::visualize::write(&report, &a.output, formats, base, None)?;
    for p in &written {
        println!("Wrote {}", p.display());
    }
    Ok(0)
}
