//! The HTML and Markdown reports and the chart files: a golden Markdown snapshot, HTML that
//! parses cleanly with every result string kept as text, SVG charts with their series, and
//! `visualize` on the result of a real run against the embedded control plane.

use cpbench_core::chart::draw::draw_guided;
use cpbench_core::chart::guide::GuidedChart;
use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::report::{GpuSection, PolicyRun, PolicySwitch, Report, ReportKind, RunParams};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::slo::SloTargets;
use sage_cp_bench::export::charts::render_svg;
use sage_cp_bench::export::report_set::report_charts;
use sage_cp_bench::export::table;
use sage_cp_bench::export::visualize::Visuals;
use scraper::{Html, Selector};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const EVIL: &str = "<script>alert(1)</script>";

/// A deterministic run of 24 requests: LLM chat and embeddings, every priority, one timeout
/// and one HTTP 503; `slow` stretches the latencies.
fn run(policy: &str, slow: u64) -> PolicyRun {
    run_of(policy, slow, RunParams::default(), true)
}

/// [`run`] without its embedding requests, with these parameters.
fn llm_run(policy: &str, slow: u64, params: RunParams) -> PolicyRun {
    run_of(policy, slow, params, false)
}

fn run_of(policy: &str, slow: u64, params: RunParams, embeddings: bool) -> PolicyRun {
    let records = (0..24u64)
        .map(|id| {
            let intended_us = id * 100_000;
            let emb = id % 4 == 3;
            let ok = id != 5 && id != 17;
            let (kind, model, deadline_ms) = if emb {
                (RequestKind::Embedding, "bge|m3", 200)
            } else {
                (RequestKind::LlmChat, "qwen", 1000)
            };
            let priority = Priority::ALL[(id % 3) as usize];
            RequestRecord {
                sent_us: intended_us + 150,
                first_token_us: ok.then_some(intended_us + 30_000 + id * slow * 500),
                end_us: intended_us + if emb { 60_000 } else { 400_000 } + id * slow * 4_000,
                itl_us: if ok && !emb { vec![12_000; 7] } else { vec![] },
                outcome: match id {
                    5 => Outcome::Timeout,
                    17 => Outcome::Http {
                        status: 503,
                        message: "overloaded".into(),
                    },
                    _ => Outcome::Success,
                },
                output_tokens: if ok && !emb { 8 } else { 0 },
                output_tokens_source: if ok && !emb {
                    TokenSource::Usage
                } else {
                    TokenSource::None
                },
                chunks: if ok && !emb { 8 } else { 0 },
                input_tokens: ok.then_some(40),
                queue_time_ms: ok.then_some(1.5 * slow as f64),
                backend_instance: Some("llm-0".into()),
                ..RequestRecord::new(id, kind, priority, model, deadline_ms, 38, intended_us)
            }
        })
        .filter(|r| embeddings || r.kind != RequestKind::Embedding)
        .collect();
    let mut r = PolicyRun::from_records(
        policy,
        PolicySwitch::Verified,
        params,
        records,
        &SloTargets::default(),
        true,
    );
    r.started_at = Some("2026-01-02T03:04:06Z".into());
    r
}

/// A comparison of three policies, one with a hostile name, and a config with markup.
fn fixture() -> Report {
    let config = serde_json::json!({
        "mode": "hybrid",
        "num_requests": 24,
        "request_rate": 10.0,
        "policies": ["fifo", "priority", EVIL],
        "models": {"qwen": 1.0},
        "note": "a | b & <c>"
    });
    let mut r = Report::new(
        ReportKind::Compare,
        "2026-01-02T03:04:05Z",
        config,
        42,
        "0123456789abcdef0123456789abcdef",
        24,
    );
    r.tool.version = "test".into();
    r.environment.control_plane_url = Some("http://127.0.0.1:9".into());
    r.environment.embedded_control_plane = true;
    r.runs = vec![run("fifo", 1), run("priority", 2), run(EVIL, 3)];
    r.runs[2].warnings.push(format!("odd policy {EVIL} | seen"));
    r.warnings
        .push("the client fell behind its schedule".into());
    r.gpu = GpuSection::unavailable("NVML library not found <libnvidia-ml.so.1>");
    r
}

fn visuals(r: &Report) -> Visuals {
    Visuals::of(r, Path::new("."))
}

#[test]
fn markdown_report_is_stable() {
    let md = visuals(&fixture()).markdown();
    insta::assert_snapshot!("markdown_report", md);
}

#[test]
fn terminal_table_is_stable() {
    // Hybrid: LLM and embedding columns and best-of lines.
    insta::assert_snapshot!("terminal_table_hybrid", table::render(&fixture()));
    // LLM only, a sweep with a partial run (rate in the config line only without run rates).
    let mut r = fixture();
    r.config["mode"] = "llm".into();
    let rate = |rps: f64| RunParams {
        request_rate_rps: Some(rps),
        llm_ratio: None,
        label: Some("x".into()),
        trial: None,
    };
    r.runs = vec![
        llm_run("fifo", 1, rate(5.0)),
        llm_run("fifo", 3, rate(10.0)),
        llm_run("priority", 2, rate(10.0)),
    ];
    r.runs[1].partial = true;
    r.partial = true;
    insta::assert_snapshot!("terminal_table_sweep", table::render(&r));
    // One run: no best-of lines.
    r.runs.truncate(1);
    r.partial = false;
    r.runs[0].params = RunParams::default();
    insta::assert_snapshot!("terminal_table_single", table::render(&r));
}

#[test]
fn markdown_escapes_result_strings() {
    let md = visuals(&fixture()).markdown();
    assert!(!md.contains(EVIL), "the raw name never appears");
    assert!(md.contains("\\<script\\>alert(1)\\</script\\>"));
    // A model name with a pipe stays inside its table cell.
    let row = md
        .lines()
        .find(|l| l.starts_with("| bge"))
        .expect("a by-model row");
    assert!(row.starts_with("| bge\\|m3 |"), "{row}");
    let cells = row.split(" | ").count();
    let header = md
        .lines()
        .find(|l| l.starts_with("| Group |"))
        .unwrap()
        .split(" | ")
        .count();
    assert_eq!(cells, header);
    // Charts are PNGs beside the report, by relative path.
    assert!(md.contains("](<charts_20260102T030405Z/throughput.png>)"));
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

#[test]
fn html_report_parses_cleanly_and_keeps_result_strings_as_text() {
    let report = fixture();
    let html = visuals(&report).html().unwrap();
    // The parser does report errors (here: no doctype, a stray end tag).
    assert!(!Html::parse_document("<p>x</b>").errors.is_empty());
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    // No script anywhere: the hostile policy name is text, in the table and in the SVGs.
    assert_eq!(doc.select(&sel("script")).count(), 0);
    let cells: Vec<String> = doc
        .select(&sel("table td"))
        .map(|td| td.text().collect())
        .collect();
    assert!(cells.iter().any(|c| c == EVIL), "the name is a cell's text");
    let svg_texts: Vec<String> = doc
        .select(&sel("svg text"))
        .map(|t| t.text().collect::<String>().trim().to_owned())
        .collect();
    assert!(svg_texts.iter().any(|t| t == EVIL), "legend shows the name");
    assert!(html.contains("NVML library not found &lt;libnvidia-ml.so.1&gt;"));

    // Structure: one page title, the sections the navigation links to, the comparison table
    // with one row per run, one SVG per chart.
    assert_eq!(doc.select(&sel("head > title")).count(), 1);
    assert_eq!(doc.select(&sel("h1")).count(), 1);
    let ids: BTreeSet<String> = doc
        .select(&sel("[id]"))
        .map(|e| e.value().attr("id").unwrap().to_owned())
        .collect();
    for a in doc.select(&sel("nav a")) {
        let href = a.value().attr("href").unwrap();
        assert!(ids.contains(href.trim_start_matches('#')), "{href}");
    }
    for section in [
        "summary",
        "comparison",
        "charts",
        "runs",
        "gpu",
        "configuration",
    ] {
        assert!(ids.contains(section), "section {section}");
    }
    let first_table = doc.select(&sel("table")).next().unwrap();
    assert_eq!(first_table.select(&sel("tbody tr")).count(), 3);
    let n_charts = report_charts(&report, &[]).charts.len();
    assert!(n_charts >= 10, "{n_charts} charts");
    assert_eq!(doc.select(&sel("figure.chart")).count(), n_charts);
    assert_eq!(doc.select(&sel("figure.chart > svg")).count(), n_charts);
    assert_eq!(doc.select(&sel(".card")).count(), 6);

    // Self-contained: no external resource, every link stays in the page.
    let external: Vec<_> = doc
        .select(&sel("[src], link, iframe, object, embed, img"))
        .map(|e| e.value().name().to_owned())
        .collect();
    assert!(external.is_empty(), "external resources: {external:?}");
    for a in doc.select(&sel("a[href]")) {
        assert!(a.value().attr("href").unwrap().starts_with('#'));
    }
    // The comparison shows the terminal table's numbers.
    let fifo = &report.runs[0].summary;
    let row: Vec<String> = first_table
        .select(&sel("tbody tr"))
        .next()
        .unwrap()
        .select(&sel("td"))
        .map(|td| td.text().collect())
        .collect();
    assert_eq!(row[0], "fifo");
    assert_eq!(row[1], format!("{:.1}", fifo.request_throughput_rps));
    assert_eq!(
        row[4],
        cpbench_core::chart::table::ms(fifo.ttft.as_ref().map(|t| t.p99_ms))
    );
}

/// Fill colours of the `<rect>`s and stroke colours of the `<polyline>`s of an SVG.
fn shapes(svg: &str) -> (Vec<String>, Vec<String>) {
    let attr = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = line[start..].find('"')?;
        Some(line[start..start + end].to_ascii_lowercase())
    };
    let rects = svg
        .lines()
        .filter(|l| l.starts_with("<rect"))
        .filter_map(|l| attr(l, "fill"))
        .collect();
    let lines = svg
        .lines()
        .filter(|l| l.starts_with("<polyline"))
        .filter_map(|l| attr(l, "stroke"))
        .collect();
    (rects, lines)
}

#[test]
fn svg_charts_draw_each_series() {
    let report = fixture();
    let charts = report_charts(&report, &[]).charts;
    let find = |id: &str| -> &GuidedChart { charts.iter().find(|c| c.spec.id == id).unwrap() };
    let hex = |i: usize| cpbench_core::chart::color(i).hex();

    // Throughput: two bars per run (throughput, goodput) and one legend swatch.
    let svg = render_svg(find("throughput"), true).unwrap();
    let (rects, _) = shapes(&svg);
    for i in 0..3 {
        assert_eq!(
            rects.iter().filter(|c| **c == hex(i)).count(),
            3,
            "run {i}: {rects:?}"
        );
    }
    for name in ["fifo", "priority", "&lt;script&gt;alert(1)&lt;/script&gt;"] {
        assert!(
            svg.contains(&format!(">\n{name}\n<")),
            "legend label {name}"
        );
    }

    // CDF: one line per run plus its legend line.
    let svg = render_svg(find("cdf-e2e"), true).unwrap();
    let (_, lines) = shapes(&svg);
    for i in 0..3 {
        assert_eq!(
            lines.iter().filter(|c| **c == hex(i)).count(),
            2,
            "{lines:?}"
        );
    }

    // Histogram of run 1: its bins in its colour, dashed grey p50/p95/p99 marks, no legend.
    let chart = find("hist-e2e-1");
    let svg = render_svg(chart, true).unwrap();
    let (rects, lines) = shapes(&svg);
    let bins = chart.spec.series[0].points.len();
    assert_eq!(rects.iter().filter(|c| **c == hex(1)).count(), bins);
    assert!(
        lines.iter().filter(|c| *c == "#333333").count() >= 3 * 5,
        "dashes"
    );
    for p in ["p50 ", "p95 ", "p99 "] {
        assert!(svg.contains(&format!(">\n{p}")), "{p} label");
    }

    // SLO by priority: the target line is drawn (dashes in the guide colour) and labelled.
    let svg = render_svg(find("slo-by-priority"), true).unwrap();
    assert!(svg.contains("SLO target 90%"));
    let (_, lines) = shapes(&svg);
    assert!(lines.iter().filter(|c| *c == "#333333").count() > 10);
}

#[test]
fn the_shared_drawing_code_reports_its_plot_area() {
    // The same code draws on any backend: an SVG string here.
    let report = fixture();
    let chart = report_charts(&report, &[]).charts.remove(0);
    let mut out = String::new();
    let g = {
        use plotters::prelude::*;
        let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
        let g = draw_guided(&root, &chart, &Default::default()).unwrap();
        root.present().unwrap();
        g
    };
    assert!(g.left_px > 0.0 && g.right_px < 640.0 && g.top_px < g.bottom_px);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"));
    c.env_remove("SAGE_CONTROL_PLANE_URL")
        .env_remove("OPENAI_API_KEY");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_real_run_writes_its_visualizations_and_visualize_rewrites_them() {
    let dir = temp_dir("run");
    let out = bin()
        .args([
            "run",
            "--mode",
            "hybrid",
            "--requests",
            "16",
            "--rate",
            "30",
            "--warmup",
            "0",
            "--cluster",
            "tiny",
            "-q",
            "-o",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files = names(&dir);
    let json = files.iter().find(|f| f.ends_with(".json")).unwrap().clone();
    let stamp = json
        .trim_start_matches("report_")
        .trim_end_matches(".json")
        .to_owned();
    for f in [
        format!("report_{stamp}.html"),
        format!("report_{stamp}.md"),
        format!("charts_{stamp}"),
    ] {
        assert!(files.contains(&f), "{f} in {files:?}");
        assert!(
            stdout.contains(&format!("Wrote {}", dir.join(&f).display())),
            "{stdout}"
        );
    }
    let charts = names(&dir.join(format!("charts_{stamp}")));
    for id in [
        "throughput",
        "hist-e2e-0",
        "cdf-e2e",
        "slo-overall",
        "request-types",
    ] {
        assert!(
            charts.contains(&format!("{id}.svg")),
            "{id}.svg in {charts:?}"
        );
        assert!(
            charts.contains(&format!("{id}.png")),
            "{id}.png in {charts:?}"
        );
    }
    // The hybrid workload's batch sizes were recovered from the config.
    assert!(charts.contains("embedding-batch.svg"), "{charts:?}");
    let svgs = charts.iter().filter(|c| c.ends_with(".svg")).count();
    assert_eq!(svgs, charts.len() / 2);
    let html = std::fs::read_to_string(dir.join(format!("report_{stamp}.html"))).unwrap();
    assert_eq!(html.matches("<figure class=\"chart\"").count(), svgs);
    let png = std::fs::read(dir.join(format!("charts_{stamp}/throughput.png"))).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");

    // visualize: the same files from the result file, here Markdown only (with its PNGs).
    let again = dir.join("again");
    let out = bin()
        .args(["visualize", "--format", "markdown", "--input"])
        .arg(dir.join(&json))
        .arg("--output")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = names(&again);
    assert_eq!(
        files,
        [format!("charts_{stamp}"), format!("report_{stamp}.md")]
            .into_iter()
            .collect()
    );
    let md_charts = names(&again.join(format!("charts_{stamp}")));
    assert!(md_charts.iter().all(|c| c.ends_with(".png")) && md_charts.len() == svgs);
    let md = std::fs::read_to_string(again.join(format!("report_{stamp}.md"))).unwrap();
    let original = std::fs::read_to_string(dir.join(format!("report_{stamp}.md"))).unwrap();
    assert_eq!(md, original, "visualize writes what the run wrote");

    // The HTML the run wrote is the viewer with the result embedded (the static report in
    // <noscript>), or, from a binary built without the viewer, the static report saying so;
    // --static writes the static report only.
    let html = std::fs::read_to_string(dir.join(format!("report_{stamp}.html"))).unwrap();
    assert!(
        html.contains("id=\"cpbench-embedded-results\"")
            && html.contains("<noscript id=\"cpbench-static-report\">")
            || html.contains("This report is static") && !html.contains("<script"),
        "interactive, or static with a note"
    );
    let static_dir = dir.join("static");
    let out = bin()
        .args(["visualize", "--format", "html", "--static", "--input"])
        .arg(dir.join(&json))
        .arg("--output")
        .arg(&static_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(static_dir.join(format!("report_{stamp}.html"))).unwrap();
    assert!(!html.contains("<script") && !html.contains("This report is static"));
    assert_eq!(html.matches("<figure class=\"chart\"").count(), svgs);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_visualize_writes_only_the_result_files() {
    let dir = temp_dir("simulate");
    let out = bin()
        .args([
            "simulate",
            "--requests",
            "12",
            "--cluster",
            "tiny",
            "--no-visualize",
            "-o",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = names(&dir);
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".json") || f.ends_with(".parquet")),
        "{files:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn visualize_errors_name_the_file() {
    let dir = temp_dir("bad");
    let bad = dir.join("broken.json");
    std::fs::write(&bad, "{\"schema_version\": 99}").unwrap();
    let out = bin()
        .args(["visualize", "--input"])
        .arg(&bad)
        .arg("--output")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("broken.json") && e.contains("schema_version 99"),
        "{e}"
    );
    let missing = dir.join("missing.json");
    let out = bin()
        .args(["visualize", "-i"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    assert!(!dir.join("out").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
