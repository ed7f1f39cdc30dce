//! The importers against real result files of vLLM's `bench serve`, GuideLLM and AIPerf
//! (`tests/data/import/`, see its README): every value checked against what the tool printed
//! in the same run (`*.stdout.txt`), missing metrics absent, and clear errors for unsupported
//! or malformed files.

use cpbench_core::import::{self, FileKind, ImportError, Tool};
use cpbench_core::report::{Report, ReportedLatency, ReportedMetrics};

fn fixture(path: &str) -> String {
    let full = format!("{}/tests/data/import/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `value` rounded as the tool printed it (`decimals` places) equals `printed`.
#[track_caller]
fn printed_as(value: Option<f64>, printed: f64, decimals: i32) {
    let v = value.expect("value present");
    let scale = 10f64.powi(decimals);
    assert!(
        ((v * scale).round() - printed * scale).abs() < 0.5,
        "{v} prints as {printed} with {decimals} decimals?"
    );
}

fn only(report: &Report) -> &ReportedMetrics {
    assert_eq!(report.runs.len(), 1);
    report.runs[0]
        .reported
        .as_ref()
        .expect("imported runs carry reported metrics")
}

/// vLLM's printed `label: value` lines.
fn vllm_printed(stdout: &str, label: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no printed line {label:?}"))
}

fn pct(l: &Option<ReportedLatency>, p: f64) -> Option<f64> {
    l.as_ref().and_then(|l| l.percentile(p))
}

fn mean(l: &Option<ReportedLatency>) -> Option<f64> {
    l.as_ref().and_then(|l| l.mean_ms)
}

#[test]
fn vllm_detailed_file_matches_what_vllm_printed() {
    let text = fixture("vllm/vllm-detailed.json");
    let out = fixture("vllm/vllm-detailed.stdout.txt");
    assert_eq!(import::detect(&text), Some(FileKind::Foreign(Tool::Vllm)));
    let report = import::read(&text).unwrap();
    let info = report.imported.as_ref().unwrap();
    assert_eq!(
        (info.tool.as_str(), info.tool_version.as_deref()),
        ("vLLM bench serve", None)
    );
    assert!(info.source.contains("--save-detailed"), "{}", info.source);
    let m = only(&report);
    let p = |label: &str| vllm_printed(&out, label);
    assert_eq!(m.requests_succeeded, Some(p("Successful requests:") as u64));
    assert_eq!(m.requests_failed, Some(p("Failed requests:") as u64));
    assert_eq!(m.requests_total, Some(20));
    printed_as(m.duration_s, p("Benchmark duration (s):"), 2);
    assert_eq!(m.input_tokens_total, Some(p("Total input tokens:") as u64));
    assert_eq!(
        m.output_tokens_total,
        Some(p("Total generated tokens:") as u64)
    );
    printed_as(
        m.request_throughput_rps,
        p("Request throughput (req/s):"),
        2,
    );
    printed_as(
        m.output_tokens_per_s,
        p("Output token throughput (tok/s):"),
        2,
    );
    printed_as(
        m.total_tokens_per_s,
        p("Total token throughput (tok/s):"),
        2,
    );
    for (lat, name) in [
        (&m.ttft, "TTFT"),
        (&m.tpot, "TPOT"),
        (&m.itl, "ITL"),
        (&m.e2e, "E2EL"),
    ] {
        printed_as(mean(lat), p(&format!("Mean {name} (ms):")), 2);
        printed_as(pct(lat, 50.0), p(&format!("Median {name} (ms):")), 2);
        for q in [90, 95, 99] {
            printed_as(pct(lat, f64::from(q)), p(&format!("P{q} {name} (ms):")), 2);
        }
        assert_eq!(pct(lat, 99.9), None, "{name}: p99.9 was not asked");
        assert!(
            lat.as_ref().unwrap().min_ms.is_none(),
            "vLLM writes no minimum"
        );
    }
    assert_eq!(m.goodput_rps, None, "no --goodput: absent, not 0");
    // The per-request lists fill the histograms: one TTFT and E2E per request.
    let h = &report.runs[0].histograms;
    assert_eq!(
        (h.ttft.count(), h.e2e.count(), h.tpot.count()),
        (20, 20, 20)
    );
    assert!(
        h.itl.count() >= 20 * 30,
        "every chunk gap pooled: {}",
        h.itl.count()
    );
    // Our histogram's median is within its precision and the interpolation of vLLM's.
    let ours = h.ttft.percentile_ms(50.0);
    let theirs = pct(&m.ttft, 50.0).unwrap();
    assert!((ours - theirs).abs() / theirs < 0.1, "{ours} vs {theirs}");
    assert!(info.lacks.iter().any(|l| l.starts_with("SLO")));
    assert!(info.definitions.iter().any(|d| d.contains("actually sent")));
    let run = &report.runs[0];
    assert_eq!(
        (run.policy.as_str(), run.params.request_rate_rps),
        ("poisson", Some(4.0))
    );
    assert_eq!(report.created_at, "2026-12-06T05:51:22");
}

#[test]
fn vllm_summary_file_has_only_what_it_carries() {
    let text = fixture("vllm/vllm-summary.json");
    let out = fixture("vllm/vllm-summary.stdout.txt");
    let report = import::read(&text).unwrap();
    let m = only(&report);
    printed_as(
        m.request_throughput_rps,
        vllm_printed(&out, "Request throughput (req/s):"),
        2,
    );
    printed_as(pct(&m.ttft, 99.0), vllm_printed(&out, "P99 TTFT (ms):"), 2);
    printed_as(
        pct(&m.ttft, 50.0),
        vllm_printed(&out, "Median TTFT (ms):"),
        2,
    );
    printed_as(mean(&m.itl), vllm_printed(&out, "Mean ITL (ms):"), 2);
    // Defaults: p99 only, no end-to-end statistics, no per-request lists.
    assert_eq!(pct(&m.ttft, 90.0), None);
    assert_eq!(m.e2e, None);
    assert!(report.runs[0].histograms.ttft.is_empty());
    let info = report.imported.as_ref().unwrap();
    assert!(
        info.lacks.contains(&"end-to-end latency".to_owned()),
        "{:?}",
        info.lacks
    );
    assert!(info.lacks.iter().any(|l| l.starts_with("per-request")));
}

/// The cells of GuideLLM's printed table row for a benchmark, in order.
fn guidellm_row(stdout: &str, after_title: &str, strategy: &str) -> Vec<String> {
    let section = stdout.split(after_title).nth(1).expect("section printed");
    let line = section
        .lines()
        .find(|l| l.starts_with(&format!("| {strategy}")))
        .expect("row printed");
    line.split('|')
        .map(|c| c.trim().trim_end_matches('*').to_owned())
        .filter(|c| !c.is_empty())
        .skip(1)
        .collect()
}

fn first_number(cell: &str) -> f64 {
    cell.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn guidellm_report_matches_what_guidellm_printed() {
    let text = fixture("guidellm/benchmarks.json");
    let out = fixture("guidellm/guidellm.stdout.txt");
    assert_eq!(
        import::detect(&text),
        Some(FileKind::Foreign(Tool::GuideLlm))
    );
    let report = import::read(&text).unwrap();
    let info = report.imported.as_ref().unwrap();
    assert_eq!(info.label(), "GuideLLM 0.8.1");
    assert_eq!(report.runs.len(), 2, "one run per benchmark");
    assert_eq!(
        report.environment.control_plane_url.as_deref(),
        Some("http://127.0.0.1:18080")
    );
    for (run, strategy, rate) in [
        (&report.runs[0], "constant@2.00", 2.0),
        (&report.runs[1], "constant@4.00", 4.0),
    ] {
        assert_eq!(
            (run.policy.as_str(), run.params.request_rate_rps),
            ("constant", Some(rate))
        );
        let m = run.reported.as_ref().unwrap();
        assert_eq!(
            (m.requests_total, m.requests_succeeded, m.requests_failed),
            (Some(12), Some(12), Some(0))
        );
        let lat = guidellm_row(&out, "Request Latency Statistics", strategy);
        // Request latency (s), TTFT, TTFOT, ITL, TPOT (ms): mean, median, p95 each.
        printed_as(mean(&m.e2e).map(|v| v / 1000.0), first_number(&lat[0]), 1);
        printed_as(
            pct(&m.e2e, 50.0).map(|v| v / 1000.0),
            first_number(&lat[1]),
            1,
        );
        printed_as(mean(&m.ttft), first_number(&lat[3]), 1);
        printed_as(pct(&m.ttft, 50.0), first_number(&lat[4]), 1);
        printed_as(pct(&m.ttft, 95.0), first_number(&lat[5]), 1);
        // GuideLLM's ITL is our TPOT.
        printed_as(mean(&m.tpot), first_number(&lat[9]), 1);
        printed_as(pct(&m.tpot, 50.0), first_number(&lat[10]), 1);
        printed_as(pct(&m.tpot, 95.0), first_number(&lat[11]), 1);
        assert_eq!(m.itl, None, "GuideLLM has no chunk-gap ITL");
        let tput = guidellm_row(&out, "Server Throughput Statistics", strategy);
        printed_as(m.request_throughput_rps, first_number(&tput[2]), 1);
        printed_as(m.output_tokens_per_s, first_number(&tput[4]), 1);
        printed_as(m.total_tokens_per_s, first_number(&tput[5]), 1);
        assert_eq!(m.goodput_rps, None);
        let h = &run.histograms;
        assert_eq!(
            (h.ttft.count(), h.tpot.count(), h.e2e.count()),
            (12, 12, 12)
        );
        assert!(h.itl.is_empty());
    }
    assert!(info.definitions.iter().any(|d| d.contains("shown as TPOT")));
    assert!(info.lacks.iter().any(|l| l.starts_with("ITL")));
}

#[cfg(feature = "import-yaml")]
#[test]
fn guidellm_yaml_reads_as_its_json() {
    let json = import::read(&fixture("guidellm/benchmarks.json")).unwrap();
    let yaml_text = fixture("guidellm/benchmarks.yaml");
    assert_eq!(
        import::detect(&yaml_text),
        Some(FileKind::Foreign(Tool::GuideLlm))
    );
    let yaml = import::read(&yaml_text).unwrap();
    assert_eq!(yaml, json);
}

/// AIPerf's printed row: avg, min, max, p99, p90, p50, std.
fn aiperf_row(stdout: &str, metric: &str) -> Vec<Option<f64>> {
    let line = stdout
        .lines()
        .find(|l| l.trim_start_matches(['│', ' ']).starts_with(metric))
        .unwrap_or_else(|| panic!("no printed row {metric:?}"));
    line.split('│')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .skip(1)
        .map(|c| c.replace(',', "").parse().ok())
        .collect()
}

#[test]
fn aiperf_exports_match_what_aiperf_printed() {
    let aggregate = fixture("aiperf/profile_export_aiperf.json");
    let jsonl = fixture("aiperf/profile_export.jsonl");
    let out = fixture("aiperf/aiperf.stdout.txt");
    assert_eq!(
        import::detect(&aggregate),
        Some(FileKind::Foreign(Tool::AiPerf))
    );
    assert_eq!(
        import::detect(&jsonl),
        Some(FileKind::Foreign(Tool::AiPerfRecords))
    );
    let report = import::aiperf::import(&aggregate, Some(&jsonl)).unwrap();
    let info = report.imported.as_ref().unwrap();
    assert_eq!(info.label(), "AIPerf 0.13.0");
    let m = only(&report);
    for (lat, row) in [
        (&m.ttft, "Time to First Token (ms)"),
        (&m.e2e, "Request Latency (ms)"),
        (&m.tpot, "Inter Token Latency (ms)"),
    ] {
        let printed = aiperf_row(&out, row);
        let l = lat.as_ref().unwrap();
        printed_as(l.mean_ms, printed[0].unwrap(), 2);
        printed_as(l.min_ms, printed[1].unwrap(), 2);
        printed_as(l.max_ms, printed[2].unwrap(), 2);
        printed_as(l.percentile(99.0), printed[3].unwrap(), 2);
        printed_as(l.percentile(90.0), printed[4].unwrap(), 2);
        printed_as(l.percentile(50.0), printed[5].unwrap(), 2);
        printed_as(l.stddev_ms, printed[6].unwrap(), 2);
        assert_eq!(l.count, Some(20));
    }
    printed_as(
        m.request_throughput_rps,
        aiperf_row(&out, "Request Throughput")[0].unwrap(),
        2,
    );
    printed_as(
        m.output_tokens_per_s,
        aiperf_row(&out, "Output Token Throughput (tokens/sec)")[0].unwrap(),
        2,
    );
    assert_eq!(
        m.requests_succeeded,
        Some(aiperf_row(&out, "Request Count")[0].unwrap() as u64)
    );
    assert_eq!(m.requests_failed, Some(0), "error rate printed as 0.00");
    // inter_chunk_latency (not printed in the table) is our ITL: every gap pooled.
    let itl = m.itl.as_ref().unwrap();
    assert!(itl.count.unwrap() > 20 * 30);
    let h = &report.runs[0].histograms;
    assert_eq!(
        (h.ttft.count(), h.tpot.count(), h.e2e.count()),
        (20, 20, 20)
    );
    assert_eq!(
        h.itl.count(),
        itl.count.unwrap(),
        "the JSONL holds the same gaps"
    );
    let run = &report.runs[0];
    assert_eq!(
        (run.policy.as_str(), run.params.request_rate_rps),
        ("poisson", Some(4.0))
    );
    // Without the JSONL file: the same numbers, no distributions.
    let alone = import::read(&aggregate).unwrap();
    assert_eq!(only(&alone), m);
    assert!(alone.runs[0].histograms.ttft.is_empty());
    // The JSONL alone: counts and distributions, no aggregates.
    let records = import::read(&jsonl).unwrap();
    let r = only(&records);
    assert_eq!((r.requests_total, r.ttft.as_ref()), (Some(20), None));
    assert_eq!(records.runs[0].histograms, *h);
    // Loaded together, the two files make one run.
    let batch = import::read_batch(&[("profile_export.jsonl", &jsonl), ("agg.json", &aggregate)]);
    assert!(batch[0].is_none(), "the JSONL joins its aggregate");
    let joined = batch[1].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(joined, &report);
}

#[test]
fn our_reports_still_read_through_the_importer() {
    let report = Report::new(
        cpbench_core::report::ReportKind::Run,
        "2026-01-01T00:00:00Z",
        serde_json::Value::Null,
        1,
        "h",
        0,
    );
    let text = report.to_json();
    assert_eq!(import::detect(&text), Some(FileKind::Own));
    assert_eq!(import::read(&text).unwrap(), report);
    assert!(
        !text.contains("imported"),
        "our files do not carry the field"
    );
    // Our reader's own errors still come through (a newer version).
    let newer = text.replace("\"schema_version\":2", "\"schema_version\":99");
    let e = import::read(&newer).unwrap_err().to_string();
    assert!(e.contains("schema_version 99"), "{e}");
}

#[test]
fn unsupported_versions_name_the_tool_and_version() {
    let g = fixture("guidellm/benchmarks.json").replacen("\"version\": 2", "\"version\": 3", 1);
    let e = import::read(&g).unwrap_err();
    assert!(matches!(e, ImportError::Unsupported { .. }));
    let e = e.to_string();
    assert!(
        e.starts_with("GuideLLM 0.8.1 file is not supported: its report has metadata.version 3; supported: GuideLLM ")
            && e.contains("reports with metadata.version 2 (GuideLLM 0.8)"),
        "{e}"
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&fixture("aiperf/profile_export_aiperf.json")).unwrap();
    doc["schema_version"] = "2.0".into();
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert!(
        e.starts_with("AIPerf 0.13.0 file is not supported: the export has schema_version \"2.0\""),
        "{e}"
    );
    doc.as_object_mut().unwrap().remove("schema_version");
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert!(
        e.contains("AIPerf 0.13.0") && e.contains("no schema_version"),
        "{e}"
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&fixture("guidellm/benchmarks.json")).unwrap();
    doc.as_object_mut().unwrap().remove("metadata");
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert!(
        e.starts_with("GuideLLM file is not supported: its report has no metadata.version"),
        "{e}"
    );
}

#[test]
fn malformed_files_name_the_tool_and_the_field() {
    let mut doc: serde_json::Value =
        serde_json::from_str(&fixture("vllm/vllm-detailed.json")).unwrap();
    doc["duration"] = "soon".into();
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert_eq!(
        e,
        "vLLM bench serve file is malformed: `duration` is \"soon\", expected a number"
    );
    doc["duration"] = 1.0.into();
    doc["latencies"].as_array_mut().unwrap().pop();
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert_eq!(
        e,
        "vLLM bench serve file is malformed: `latencies` has 19 entries but `ttfts` has 20"
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&fixture("guidellm/benchmarks.json")).unwrap();
    doc["benchmarks"][1]["metrics"]["request_totals"]["total"] = "many".into();
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert_eq!(
        e,
        "GuideLLM 0.8.1 file is malformed: `request_totals/total` is \"many\", expected a number (in benchmarks/1)"
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&fixture("aiperf/profile_export_aiperf.json")).unwrap();
    doc["time_to_first_token"]["unit"] = "s".into();
    let e = import::read(&doc.to_string()).unwrap_err().to_string();
    assert_eq!(
        e,
        "AIPerf 0.13.0 file is malformed: `time_to_first_token/unit` is \"s\", expected \"ms\""
    );
    let jsonl = fixture("aiperf/profile_export.jsonl");
    let broken = jsonl.replacen("\n", "\n{oops\n", 1);
    let agg = fixture("aiperf/profile_export_aiperf.json");
    let e = import::aiperf::import(&agg, Some(&broken))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "AIPerf 0.13.0 file is malformed: profile_export.jsonl line 2: not valid JSON"
        ),
        "{e}"
    );
    // Nothing recognisable.
    let e = import::read("{\"hello\": 1}").unwrap_err().to_string();
    assert!(
        e.starts_with("not a result file this viewer reads: a JSON object with the fields hello"),
        "{e}"
    );
    let e = import::read("just: yaml").unwrap_err().to_string();
    assert!(e.contains("accepted: a sage-cp-bench report"), "{e}");
}

#[cfg(not(feature = "import-yaml"))]
#[test]
fn without_the_yaml_parser_a_guidellm_yaml_report_says_what_to_open() {
    let e = import::read(&fixture("guidellm/benchmarks.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("GuideLLM file is not supported: this build (the browser viewer, kept small) reads GuideLLM's JSON report"),
        "{e}"
    );
}

#[test]
fn table_rows_and_names_of_imported_runs() {
    use cpbench_core::chart::runs::name_runs;
    use cpbench_core::chart::table::{Column, summary_rows};
    let vllm = import::read(&fixture("vllm/vllm-summary.json")).unwrap();
    let guidellm = import::read(&fixture("guidellm/benchmarks.json")).unwrap();
    let runs = name_runs(&[("v.json", &vllm), ("g.json", &guidellm)]);
    let names: Vec<String> = runs.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "v.json: vLLM bench serve: poisson @8 req/s",
            "g.json: GuideLLM 0.8.1: constant @2 req/s",
            "g.json: GuideLLM 0.8.1: constant @4 req/s",
        ]
    );
    let rows = summary_rows(&runs);
    let v = &rows[0];
    let m = vllm.runs[0].reported.as_ref().unwrap();
    assert_eq!(v.imported_from.as_deref(), Some("vLLM bench serve"));
    assert_eq!(Column::Throughput.value(v), m.request_throughput_rps);
    assert_eq!(
        Column::TtftP99.value(v),
        m.ttft.as_ref().unwrap().percentile(99.0)
    );
    assert_eq!(
        Column::TpotP50.value(v),
        m.tpot.as_ref().unwrap().percentile(50.0)
    );
    // Not in the file: shown as missing, never as 0.
    for c in [
        Column::E2eAvg,
        Column::E2eP99,
        Column::Slo,
        Column::HighTtftP99,
    ] {
        assert_eq!(Column::text(c, v), "-", "{c:?}");
    }
    assert_eq!(Column::Errors.text(v), "0.0%");
    let g = &rows[2];
    let gm = guidellm.runs[1].reported.as_ref().unwrap();
    assert_eq!(Column::E2eAvg.value(g), gm.e2e.as_ref().unwrap().mean_ms);
    assert_eq!(Column::Slo.value(g), None);
}
