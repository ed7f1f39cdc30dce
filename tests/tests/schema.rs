//! The result file's JSON Schema: the checked-in `schema/report.schema.json` is the one the
//! code generates, and real reports validate against it while corrupted ones do not.
//!
//! Regenerate the file after changing the report model:
//! `UPDATE_SCHEMA=1 cargo test -p cpbench-tests --test schema`

use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::report::{
    GpuSection, PolicyRun, PolicySwitch, Report, ReportKind, RunParams, SCHEMA_VERSION, TimedValue,
};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::slo::SloTargets;
use serde_json::{Value, json};
use std::path::PathBuf;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/report.schema.json")
}

/// The checked-in schema; while `UPDATE_SCHEMA` rewrites it, the generated one (so tests running
/// beside the rewrite never read a half-written file).
fn checked_in_schema() -> Value {
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        return serde_json::from_str(&Report::json_schema_pretty()).unwrap();
    }
    let text = std::fs::read_to_string(schema_path()).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with `UPDATE_SCHEMA=1 cargo test -p cpbench-tests --test schema`",
            schema_path().display()
        )
    });
    serde_json::from_str(&text).expect("the checked-in schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&checked_in_schema()).expect("the checked-in schema compiles")
}

/// A record of every kind and outcome the runner produces.
fn record(id: u64) -> RequestRecord {
    let intended_us = id * 37_000;
    let kind = RequestKind::ALL[(id % 3) as usize];
    let outcome = match id % 11 {
        3 => Outcome::Timeout,
        5 => Outcome::Http {
            status: 429,
            message: "rate limited".into(),
        },
        7 => Outcome::StreamBroken {
            message: "connection reset".into(),
        },
        9 => Outcome::Connection {
            message: "refused".into(),
        },
        10 => Outcome::Malformed {
            message: "bad json".into(),
        },
        _ if id == 66 => Outcome::Cancelled,
        _ => Outcome::Success,
    };
    let ok = outcome.is_success();
    let llm = kind.is_llm();
    let (model, deadline_ms) = if llm {
        ("qwen2.5-7b", 1000)
    } else {
        ("bge-m3", 200)
    };
    let priority = Priority::ALL[(id % 3) as usize];
    RequestRecord {
        sent_us: intended_us + 150 + id % 50,
        first_token_us: ok.then_some(intended_us + 20_000 + id * 300),
        end_us: intended_us + 90_000 + id * 9_000,
        itl_us: if ok && llm {
            (0..5).map(|i| 8_000 + i * 100 + id as u32).collect()
        } else {
            vec![]
        },
        outcome,
        output_tokens: if ok && llm { 6 } else { 0 },
        output_tokens_source: match (ok, llm, id % 2) {
            (true, true, 0) => TokenSource::Usage,
            (true, true, _) => TokenSource::Chunks,
            _ => TokenSource::None,
        },
        chunks: if ok && llm { 6 } else { 0 },
        input_tokens: (ok && !id.is_multiple_of(4)).then_some(64),
        queue_time_ms: ok.then_some(0.5 + id as f64 / 8.0),
        backend_instance: ok.then(|| format!("instance-{}", id % 2)),
        concurrency_wait_us: id % 3 * 10,
        ..RequestRecord::new(id, kind, priority, model, deadline_ms, 60, intended_us)
    }
}

fn synthetic_report() -> Report {
    let mut report = Report::new(
        ReportKind::Experiment,
        "2026-03-04T05:06:07Z",
        json!({"mode": "hybrid", "policies": ["fifo", "hybrid_slo"], "num_requests": 120}),
        7,
        "0123456789abcdef",
        120,
    );
    report.environment.control_plane_url = Some("http://127.0.0.1:8889".into());
    report.environment.hostname = Some("bench-host".into());
    report.environment.os = Some("linux".into());
    report.environment.cpu_count = Some(2);
    report.environment.notes.push("loopback".into());
    for (i, policy) in ["fifo", "hybrid_slo"].into_iter().enumerate() {
        let mut run = PolicyRun::from_records(
            policy,
            PolicySwitch::Verified,
            RunParams {
                request_rate_rps: Some(25.0),
                llm_ratio: Some(0.7),
                label: Some(policy.to_owned()),
                trial: Some(1),
            },
            (0..120).map(record).collect(),
            &SloTargets::default(),
            i == 0,
        );
        run.started_at = Some("2026-03-04T05:06:08Z".into());
        run.control_plane.before = Some(json!({"policy": policy, "queue_len": 0}));
        run.control_plane.after = Some(json!({"policy": policy, "queue_len": 0}));
        run.control_plane.samples.push(TimedValue {
            t_s: 0.5,
            value: json!({"queue_len": 4}),
        });
        run.warnings
            .push("3 requests sent more than 10 ms late".into());
        report.runs.push(run);
    }
    report.experiment = Some(json!({"best_policy": "hybrid_slo"}));
    report.gpu = GpuSection::unavailable("NVML library not found (libnvidia-ml.so.1)");
    report.warnings.push("partial GPU data".into());
    report
}

#[test]
fn checked_in_schema_matches_the_code() {
    let generated = Report::json_schema_pretty();
    let path = schema_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        let first_diff = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| on_disk.lines().count().min(generated.lines().count()));
        panic!(
            "{} differs from the schema the report model generates (first difference at line {}).\n\
             If the change to the result model is intended, regenerate it with\n\
             \n    UPDATE_SCHEMA=1 cargo test -p cpbench-tests --test schema\n\n\
             and bump cpbench_core::report::SCHEMA_VERSION if existing files no longer fit.",
            path.display(),
            first_diff + 1
        );
    }
}

#[test]
fn schema_is_draft_2020_12_and_describes_report() {
    let schema = checked_in_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "Report");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["schema_version", "tool", "runs", "config", "gpu"] {
        assert!(required.contains(&field), "{field} not required");
    }
}

#[test]
fn real_reports_validate() {
    let validator = validator();
    let report = synthetic_report();
    // Every outcome, token source, an unavailable GPU, kept and dropped records.
    assert_eq!(report.runs[0].summary.errors_by_kind.len(), 6);
    assert!(report.runs[0].records_sample.is_some() && report.runs[1].records_sample.is_none());
    let value: Value = serde_json::from_str(&report.to_json_pretty()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // An empty report, GPU not requested, and a simulation.
    let empty = Report::new(ReportKind::Simulation, "t", Value::Null, 0, "", 0);
    let value = serde_json::to_value(&empty).unwrap();
    assert!(validator.is_valid(&value));
    assert_eq!(value["schema_version"], SCHEMA_VERSION);
}

#[test]
fn corrupted_reports_fail_validation_at_the_bad_field() {
    let validator = validator();
    let good: Value = serde_json::to_value(synthetic_report()).unwrap();
    type Corruption = fn(&mut Value);
    let cases: [(&str, Corruption, &str); 8] = [
        (
            "wrong type",
            |v| v["runs"][0]["summary"]["requests_total"] = json!("many"),
            "/runs/0/summary/requests_total",
        ),
        (
            "negative count",
            |v| v["runs"][1]["summary"]["slo_met"] = json!(-1),
            "/runs/1/summary/slo_met",
        ),
        (
            "missing field",
            |v| {
                v["runs"][0].as_object_mut().unwrap().remove("summary");
            },
            "/runs/0",
        ),
        (
            "unknown field",
            |v| v["runs"][0]["summary"]["p42_ms"] = json!(1.0),
            "/runs/0/summary",
        ),
        (
            "unknown enum value",
            |v| v["runs"][0]["policy_switch"] = json!("maybe"),
            "/runs/0/policy_switch",
        ),
        (
            "bad GPU state",
            |v| v["gpu"]["status"] = json!({"state": "broken"}),
            "/gpu/status",
        ),
        (
            "histogram bucket not a pair",
            |v| v["runs"][0]["histograms"]["e2e"]["buckets_us"][0] = json!([1, 2, 3]),
            "/runs/0/histograms/e2e/buckets_us/0",
        ),
        (
            "record with a bad outcome",
            |v| {
                v["runs"][0]["records_sample"]["records"][0]["outcome"] =
                    json!({"kind": "exploded"})
            },
            // The sample is optional (`anyOf` the sample or null): the error is reported there.
            "/runs/0/records_sample",
        ),
    ];
    for (name, corrupt, path) in cases {
        let mut bad = good.clone();
        corrupt(&mut bad);
        let errors: Vec<String> = validator
            .iter_errors(&bad)
            .map(|e| e.instance_path().to_string())
            .collect();
        assert!(!errors.is_empty(), "{name}: validated");
        assert!(
            errors.iter().any(|p| p == path),
            "{name}: errors at {errors:?}, expected one at {path}"
        );
        // The reader refuses it as well.
        assert!(
            Report::from_json(&bad.to_string()).is_err(),
            "{name}: parsed"
        );
    }
}
