//! Writing a report's visualizations: `report_<stamp>.html` (self-contained),
//! `report_<stamp>.md` and `charts_<stamp>/<chart>.svg|png`, beside `report_<stamp>.json`.

use super::report_set::{ReportCharts, embedding_inputs, report_charts};
use super::{charts, document, file_stamp, html, markdown, write_atomic};
use anyhow::{Context, Result};
use cpbench_core::report::Report;
use std::path::{Path, PathBuf};

/// Which visualizations to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// SVG and PNG files of every chart.
    pub charts: bool,
    /// The self-contained HTML report.
    pub html: bool,
    /// The Markdown report (and the PNG charts it references).
    pub markdown: bool,
}

impl Formats {
    /// Everything.
    pub const ALL: Formats = Formats {
        charts: true,
        html: true,
        markdown: true,
    };
}

/// What the visualizations of one report are made of, before anything is written.
#[derive(Debug, Clone)]
pub struct Visuals {
    /// The charts with data.
    pub charts: ReportCharts,
    /// The report's content.
    pub document: document::Document,
    /// The file-name stamp (`20261128T063000Z`).
    pub stamp: String,
}

impl Visuals {
    /// The visuals of `report`; dataset or trace files named by its config are read relative
    /// to `base_dir` (to recover embedding batch sizes).
    pub fn of(report: &Report, base_dir: &Path) -> Visuals {
        let inputs = embedding_inputs(report, base_dir);
        let charts = report_charts(report, &inputs);
        let document = document::build(report, &charts);
        Visuals {
            charts,
            document,
            stamp: file_stamp(&report.created_at),
        }
    }

    /// The charts folder's name (`charts_<stamp>`).
    pub fn charts_dir_name(&self) -> String {
        format!("charts_{}", self.stamp)
    }

    /// The HTML page (charts inline as SVG).
    pub fn html(&self) -> Result<String> {
        let svgs = self
            .charts
            .charts
            .iter()
            .map(|c| charts::render_svg(c, false))
            .collect::<Result<Vec<_>>>()?;
        Ok(html::render(&self.document, &svgs))
    }

    /// The Markdown text (charts as `charts_<stamp>/<id>.png`).
    pub fn markdown(&self) -> String {
        let dir = self.charts_dir_name();
        let paths: Vec<String> = self
            .charts
            .charts
            .iter()
            .map(|c| format!("{dir}/{}.png", c.spec.id))
            .collect();
        markdown::render(&self.document, &paths)
    }
}

/// Writes the chosen visualizations of `report` into `dir`, named after `stem` (the stem
/// its result files got), or, without one, after the report's creation time made unique in
/// the folder (an existing report is never replaced); returns the paths to show the user (the
/// HTML and Markdown files, and the charts folder).
pub fn write(
    report: &Report,
    dir: &Path,
    formats: Formats,
    base_dir: &Path,
    stem: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let mut v = Visuals::of(report, base_dir);
    v.stamp = match stem {
        Some(s) => s.to_string(),
        None => super::free_stem(dir, &v.stamp)?,
    };
    let mut written = Vec::new();
    if formats.charts || formats.markdown {
        let charts_dir = dir.join(v.charts_dir_name());
        for c in &v.charts.charts {
            let png = charts::render_png(c)?;
            write_atomic(&charts_dir.join(format!("{}.png", c.spec.id)), &png)?;
            if formats.charts {
                let svg = charts::render_svg(c, true)?;
                write_atomic(
                    &charts_dir.join(format!("{}.svg", c.spec.id)),
                    svg.as_bytes(),
                )?;
            }
        }
        if !v.charts.charts.is_empty() {
            written.push(charts_dir);
        }
    }
    if formats.html {
        let path = dir.join(format!("report_{}.html", v.stamp));
        write_atomic(&path, v.html()?.as_bytes())
            .with_context(|| format!("writing the HTML report {}", path.display()))?;
        written.insert(0, path);
    }
    if formats.markdown {
        let path = dir.join(format!("report_{}.md", v.stamp));
        let mut text = v.markdown();
        text.push('\n');
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing the Markdown report {}", path.display()))?;
        let at = usize::from(formats.html);
        written.insert(at, path);
    }
    Ok(written)
}
