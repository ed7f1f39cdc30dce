//! `visualize`: the reports and charts of a result file (this tool's, or another tool's
//! imported: `vllm bench serve`, GuideLLM, AIPerf).

use crate::cli::{VisualFormatArg, VisualizeArgs};
use crate::export;
use crate::plan::usage;
use anyhow::Result;
use cpbench_core::import::{self, FileKind, ImportError, Tool};
use cpbench_core::report::Report;
use std::path::Path;

/// Reads a result file and writes its visualizations; exit code 0.
pub(super) fn visualize(a: &VisualizeArgs) -> Result<i32> {
    let input = &a.input;
    let text = std::fs::read_to_string(input)
        .map_err(|e| usage(format!("--input {}: cannot read it: {e}", input.display())))?;
    let report =
        read_input(input, &text).map_err(|e| usage(format!("--input {}: {e}", input.display())))?;
    let (charts, html, markdown) = match a.format {
        VisualFormatArg::Charts => (true, false, false),
        VisualFormatArg::Html => (false, true, false),
        VisualFormatArg::Markdown => (false, false, true),
        VisualFormatArg::All => (true, true, true),
    };
    let formats = export::visualize::Formats {
        charts,
        html,
        interactive: !a.static_html,
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

/// The report of `--input`: a sage-cp-bench result file, or another tool's file imported
/// ([`import::read`]); an AIPerf `profile_export_aiperf.json` takes the per-request
/// `profile_export.jsonl` beside it when there is one.
fn read_input(input: &Path, text: &str) -> Result<Report, ImportError> {
    if import::detect(text) == Some(FileKind::Foreign(Tool::AiPerf)) {
        let jsonl = input.with_file_name("profile_export.jsonl");
        if let Ok(records) = std::fs::read_to_string(&jsonl) {
            return import::aiperf::import(text, Some(&records));
        }
    }
    import::read(text)
}
