//! Writing a report's visualizations: `report_<stamp>.html` (one self-contained file: the
//! interactive viewer with the result embedded, or the static report), `report_<stamp>.md` and
//! `charts_<stamp>/<chart>.svg|png`, beside `report_<stamp>.json`.

use super::document::{AlertKind, Block};
use super::report_set::{ReportCharts, embedding_inputs, report_charts};
use super::{charts, document, file_stamp, html, interactive, markdown, write_atomic};
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
    /// The HTML report embeds the interactive viewer (when it is built into the binary; the
    /// static report otherwise), rather than being the static report only.
    pub interactive: bool,
    /// The Markdown report (and the PNG charts it references).
    pub markdown: bool,
}

impl Formats {
    /// Everything.
    pub const ALL: Formats = Formats {
        charts: true,
        html: true,
        interactive: true,
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
        Ok(html::render(&self.document, &self.svgs()?))
    }

    /// The HTML file of `report` (whose visuals these are): the interactive page when
    /// `interactive` and the viewer is built in ([`interactive::render`]), otherwise the static
    /// page ([`Self::html`]); the second value says why a wanted interactive page is static.
    pub fn html_file(
        &self,
        report: &Report,
        interactive: bool,
    ) -> Result<(String, Option<String>)> {
        if !interactive {
            return Ok((self.html()?, None));
        }
        let svgs = self.svgs()?;
        if let Err(why) = interactive::bundled() {
            let mut doc = self.document.clone();
            doc.blocks.insert(
                0,
                Block::Alert {
                    kind: AlertKind::Note,
                    text: format!("This report is static: {why}."),
                },
            );
            return Ok((html::render(&doc, &svgs), Some(why)));
        }
        let json = serde_json::to_string(report).context("serializing the result file")?;
        let name = format!("report_{}.json", self.stamp);
        let main = html::main_element(&self.document, &svgs);
        let page = interactive::render(&self.document.title, &name, &json, &main)
            .context("the viewer bundle vanished")?;
        Ok((page, None))
    }

    fn svgs(&self) -> Result<Vec<String>> {
        self.charts
            .charts
            .iter()
            .map(|c| charts::render_svg(c, false))
            .collect()
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
        let (page, static_why) = v.html_file(report, formats.interactive)?;
        if let Some(why) = static_why {
            tell_static_once(&why);
        }
        write_atomic(&path, page.as_bytes())
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

/// Tells the user, once per process (on stderr), why the HTML reports are static.
fn tell_static_once(why: &str) {
    static TOLD: std::sync::Once = std::sync::Once::new();
    TOLD.call_once(|| eprintln!("note: the HTML report is static: {why}"));
}
