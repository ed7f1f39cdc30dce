//! The report's model, run computation and JSON round trip, on one sample report.

use super::*;
use crate::metrics::MeasureWindow;
use crate::record::{Outcome, RequestRecord, TokenSource};
use crate::request::{Priority, RequestKind};
use crate::slo::SloTargets;

fn record(id: u64) -> RequestRecord {
    let intended_us = id * 100_000;
    let ok = id % 7 != 3;
    let (kind, model) = if id.is_multiple_of(4) {
        (RequestKind::Embedding, "bge-m3")
    } else {
        (RequestKind::LlmChat, "qwen")
    };
    let priority = Priority::ALL[(id % 3) as usize];
    RequestRecord {
        sent_us: intended_us + 200 + id,
        first_token_us: ok.then_some(intended_us + 40_000 + id * 97),
        end_us: intended_us + 300_000 + id * 1_234,
        itl_us: if ok {
            vec![9_000 + id as u32; 3]
        } else {
            vec![]
        },
        outcome: if ok {
            Outcome::Success
        } else {
            Outcome::Http {
                status: 503,
                message: "overloaded".into(),
            }
        },
        output_tokens: if ok { 4 } else { 0 },
        output_tokens_source: if ok {
            TokenSource::Usage
        } else {
            TokenSource::None
        },
        chunks: if ok { 4 } else { 0 },
        input_tokens: ok.then_some(30),
        queue_time_ms: ok.then_some(2.25),
        backend_instance: Some("llm-0".into()),
        ..RequestRecord::new(id, kind, priority, model, 1000, 28, intended_us)
    }
}

fn sample_report() -> Report {
    let mut report = Report::new(
        ReportKind::Compare,
        "2026-01-02T03:04:05Z",
        serde_json::json!({"policies": ["fifo", "priority"], "requests": 40}),
        42,
        "sha256:abc",
        40,
    );
    report.environment.control_plane_url = Some("http://127.0.0.1:8889".into());
    report.environment.embedded_control_plane = true;
    for policy in ["fifo", "priority"] {
        let records: Vec<_> = (0..40).rev().map(record).collect();
        let mut run = PolicyRun::from_records(
            policy,
            PolicySwitch::Verified,
            RunParams {
                request_rate_rps: Some(10.0),
                llm_ratio: Some(0.75),
                label: Some(format!("{policy} @ 10 rps")),
                trial: None,
            },
            records,
            &SloTargets::default(),
            true,
        );
        run.control_plane.before = Some(serde_json::json!({"policy": policy}));
        run.control_plane.samples.push(TimedValue {
            t_s: 1.5,
            value: serde_json::json!({"queue": 3}),
        });
        run.series.insert(
            "cp/queue".into(),
            vec![SeriesPoint {
                t_s: 1.5,
                value: 3.0,
            }],
        );
        run.telemetry_sources.push(TelemetrySource {
            prefix: "cp".into(),
            kind: TelemetryKind::AdminMetrics,
            url: "http://127.0.0.1:8889/admin/metrics".into(),
            interval_s: 1.0,
            polls_ok: 1,
            polls_failed: 0,
            missing: false,
            lines_skipped: 0,
            series_dropped: 0,
            first_error: None,
        });
        report.runs.push(run);
    }
    report.gpu = GpuSection::unavailable("NVML library not found");
    report
        .warnings
        .push("sent late: raise --max-concurrency".into());
    report
}

#[test]
fn round_trips_equal_and_byte_stable() {
    let report = sample_report();
    let json = report.to_json_pretty();
    let back = Report::from_json(&json).unwrap();
    assert_eq!(back, report);
    assert_eq!(back.to_json_pretty(), json);
    assert_eq!(sample_report().to_json_pretty(), json);
}

#[test]
fn from_records_computes_every_section() {
    let run = &sample_report().runs[0];
    assert_eq!(run.summary.requests_total, 40);
    // ids 3, 10, 17, 24, 31, 38 fail.
    assert_eq!(run.summary.requests_failed, 6);
    assert_eq!(run.summary.errors_by_kind["http_503"], 6);
    assert_eq!(
        run.by_kind.keys().collect::<Vec<_>>(),
        vec!["embedding", "llm_chat"]
    );
    assert_eq!(run.by_kind["embedding"].requests_total, 10);
    assert_eq!(run.by_priority.len(), 3);
    assert_eq!(run.by_model["qwen"].requests_total, 30);
    assert_eq!(run.histograms.e2e.count(), 34);
    let sample = run.records_sample.as_ref().unwrap();
    assert_eq!((sample.limit, sample.total), (10_000, 40));
    assert!(sample.is_complete());
    let records = run.sampled_records();
    assert!(records.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(records, (0..40).map(record).collect::<Vec<_>>());
    // Every response named llm-0: one instance with everything.
    assert_eq!(run.by_instance.keys().collect::<Vec<_>>(), ["llm-0"]);
    let llm0 = &run.by_instance["llm-0"];
    assert_eq!((llm0.requests, llm0.requests_succeeded), (40, 34));
    assert_eq!(llm0.e2e, run.histograms.e2e);
    assert_eq!(llm0.requests_per_s.len(), run.time_series.seconds.len());
    assert_eq!(run.load_imbalance, Some(1.0));
    assert_eq!(
        (run.spans.intended.count, run.spans.intended.last_us),
        (40, 3_900_000)
    );
    assert_eq!(run.spans.succeeded_end.count, 34);
    let sent: u64 = run.time_series.seconds.iter().map(|b| b.sent).sum();
    assert_eq!(sent, 40);
    assert_eq!(
        run.summary.duration_s,
        (3_900_000 + 300_000 + 39 * 1_234) as f64 / 1e6
    );
}

#[test]
fn records_order_does_not_matter_and_can_be_dropped() {
    let targets = SloTargets::default();
    let forward: Vec<_> = (0..40).map(record).collect();
    let mut shuffled = forward.clone();
    shuffled.swap(0, 39);
    shuffled.swap(5, 17);
    let a = PolicyRun::from_records(
        "f",
        PolicySwitch::Simulated,
        RunParams::default(),
        forward,
        &targets,
        true,
    );
    let b = PolicyRun::from_records(
        "f",
        PolicySwitch::Simulated,
        RunParams::default(),
        shuffled,
        &targets,
        true,
    );
    assert_eq!(a, b);
    let c = PolicyRun::from_records(
        "f",
        PolicySwitch::Simulated,
        RunParams::default(),
        (0..40).map(record).collect(),
        &targets,
        false,
    );
    assert!(c.records_sample.is_none());
    assert!(c.sampled_records().is_empty());
    assert_eq!(c.summary, a.summary);
}

#[test]
fn explicit_window_changes_rates_only() {
    let targets = SloTargets::default();
    let run = PolicyRun::from_records_in_window(
        "f",
        PolicySwitch::Launched,
        RunParams::default(),
        (0..40).map(record).collect(),
        &targets,
        false,
        MeasureWindow::DurationUs(10_000_000),
    );
    assert_eq!(run.summary.duration_s, 10.0);
    assert_eq!(run.summary.request_throughput_rps, 3.4);
    assert_eq!(run.by_model["qwen"].duration_s, 10.0);
}

#[test]
fn refuses_other_versions_saying_which() {
    let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
    let newer = SCHEMA_VERSION + 1;
    value["schema_version"] = newer.into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(
        err,
        ReportError::UnsupportedVersion { found, .. } if found == u64::from(newer)
    ));
    let msg = err.to_string();
    assert!(msg.contains(&format!("schema_version {newer}")), "{msg}");
    assert!(
        msg.contains(&format!("reads schema_version 1 to {SCHEMA_VERSION}")),
        "{msg}"
    );
    value["schema_version"] = 0.into();
    assert!(matches!(
        Report::from_json(&value.to_string()).unwrap_err(),
        ReportError::UnsupportedVersion { found: 0, .. }
    ));
    assert!(
        msg.contains(&format!("written by sage-cp-bench {}", crate::TOOL_VERSION)),
        "{msg}"
    );

    value["schema_version"] = "one".into();
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(err.to_string().contains("schema_version \"one\""), "{err}");

    value.as_object_mut().unwrap().remove("schema_version");
    let err = Report::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(err, ReportError::MissingVersion), "{err}");

    let err = Report::from_json("[1, 2]").unwrap_err();
    assert!(matches!(err, ReportError::Json(_)), "{err}");
}

#[test]
fn refuses_unknown_fields_and_names_them() {
    let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
    value["runs"][0]["summary"]["p42_ms"] = 1.into();
    let err = Report::from_json(&value.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("p42_ms"), "{err}");
}

#[test]
fn fields_added_later_may_be_absent_from_a_file() {
    let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
    for key in ["gpu_summary", "series", "telemetry_sources"] {
        value["runs"][0].as_object_mut().unwrap().remove(key);
    }
    value["gpu"].as_object_mut().unwrap().remove("read_errors");
    let back = Report::from_json(&value.to_string()).unwrap();
    let mut expected = sample_report();
    expected.runs[0].series.clear();
    expected.runs[0].telemetry_sources.clear();
    assert_eq!(back, expected);
}

#[test]
fn new_fills_tool_and_version() {
    let r = Report::new(ReportKind::Simulation, "t", Value::Null, 1, "h", 0);
    assert_eq!(r.schema_version, SCHEMA_VERSION);
    assert_eq!(r.tool.name, "sage-cp-bench");
    assert_eq!(r.tool.version, env!("CARGO_PKG_VERSION"));
    assert!(r.simulated);
    let json = r.to_json_pretty();
    assert!(
        json.starts_with(&format!(
            "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"tool\": {{"
        )),
        "{json}"
    );
}

#[test]
fn version_1_files_are_upgraded_notes_apart_from_warnings() {
    let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
    value["schema_version"] = 1.into();
    let run = value["runs"][0].as_object_mut().unwrap();
    run.remove("notes");
    run.insert(
        "warnings".into(),
        serde_json::json!([
            "note: policy \"fifo\" set with POST /admin/set_policy",
            "the client fell behind its schedule"
        ]),
    );
    let r = Report::from_json(&value.to_string()).unwrap();
    assert_eq!(r.schema_version, SCHEMA_VERSION);
    assert_eq!(r.runs[0].warnings, ["the client fell behind its schedule"]);
    assert_eq!(
        r.runs[0].notes,
        ["policy \"fifo\" set with POST /admin/set_policy"]
    );
}

/// A run's JSON as files kept it before runs sampled their records: every record in
/// `records`, none of the aggregates added since.
fn with_full_records(run: &mut Value) {
    let obj = run.as_object_mut().unwrap();
    let sample = obj.remove("records_sample").unwrap();
    obj.insert("records".into(), sample["records"].clone());
    for key in ["spans", "by_instance", "load_imbalance"] {
        obj.remove(key);
    }
}

#[test]
fn files_with_every_record_load_as_a_complete_sample() {
    let report = sample_report();
    let mut value: Value = serde_json::from_str(&report.to_json_pretty()).unwrap();
    with_full_records(&mut value["runs"][0]);
    value["runs"][1]
        .as_object_mut()
        .unwrap()
        .remove("records_sample");
    value["runs"][1]["records"] = Value::Null;
    let back = Report::from_json(&value.to_string()).unwrap();
    // The aggregates the file lacks are computed from its records; the sample's limit is
    // the number of records the file kept.
    let mut expected = report.runs[0].clone();
    expected.records_sample.as_mut().unwrap().limit = 40;
    assert!(back.runs[0] == expected, "the run read back differs");
    assert!(back.runs[1].records_sample.is_none());
    assert_eq!(back.runs[1].summary, report.runs[1].summary);

    // The same through the version 1 upgrade.
    value["schema_version"] = 1.into();
    let v1 = Report::from_json(&value.to_string()).unwrap();
    assert!(v1.runs[0].records_sample == expected.records_sample);
    assert_eq!(v1.runs[0].spans, report.runs[0].spans);
    let mut doc = value.clone();
    upgrade(&mut doc, 1);
    assert!(doc["runs"][0].get("records").is_none());
    assert_eq!(doc["runs"][0]["records_sample"]["total"], 40);
}
