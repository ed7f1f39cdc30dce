//! The per-request records file a run writes beside its report: every measured request (not
//! only the report's bounded sample), named in the report with its SHA-256, agreeing with the
//! report's aggregates; none with `--no-records`.

use cpbench_core::report::Report;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"))
}

/// Runs `simulate` with these arguments into `dir` and gives its report.
fn simulate(dir: &Path, args: &[&str]) -> (Report, PathBuf) {
    let out = bin()
        .arg("simulate")
        .args(args)
        .args(["-q", "--no-visualize", "-o"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a report");
    let report = Report::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, json)
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_records_file_holds_every_request_and_agrees_with_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // Short requests, so that a debug build simulates more than the sample's 10,000 quickly.
    let config = dir.path().join("short.yaml");
    std::fs::write(
        &config,
        "prompt_length: {dist: fixed, value: 16}\noutput_length: {dist: fixed, value: 4}\nwarmup_requests: 0\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let n = 10_400u64;
    let (report, json) = simulate(
        &out,
        &[
            "--config",
            config.to_str().unwrap(),
            "-n",
            &n.to_string(),
            "-r",
            "50",
            "-p",
            "fifo",
        ],
    );
    let stem = json
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("report_")
        .to_owned();
    let file = report.records_file.as_ref().expect("a records file");
    assert_eq!(file.name, format!("requests_{stem}.csv"));
    assert_eq!(file.format, "csv");
    assert_eq!(
        names(&out),
        BTreeSet::from([format!("report_{stem}.json"), file.name.clone()]),
        "no temporary file is left"
    );
    let bytes = std::fs::read(out.join(&file.name)).unwrap();
    assert_eq!(file.bytes, bytes.len() as u64);
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(file.sha256, sha);

    let run = &report.runs[0];
    let sample = run.records_sample.as_ref().unwrap();
    assert_eq!((sample.total, sample.records.len()), (n, 10_000));

    let mut rows = csv::Reader::from_reader(bytes.as_slice());
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, outcome, e2e) = (col("id"), col("outcome"), col("e2e_ms"));
    let mut ids = BTreeSet::new();
    let mut e2e_ms = Vec::new();
    for row in rows.records() {
        let row = row.unwrap();
        assert_eq!(&row[col("policy")], "fifo");
        assert!(
            ids.insert(row[id].parse::<u64>().unwrap()),
            "one row a request"
        );
        if &row[outcome] == "success" {
            e2e_ms.push(row[e2e].parse::<f64>().unwrap());
        }
    }
    assert_eq!(file.rows, n);
    assert_eq!(ids, (0..n).collect());
    assert_eq!(e2e_ms.len() as u64, run.summary.requests_succeeded);
    // The report's percentiles come from histograms (3 significant digits).
    e2e_ms.sort_by(f64::total_cmp);
    let p50 = e2e_ms[(e2e_ms.len() - 1) / 2];
    let reported = run.summary.e2e.as_ref().unwrap().p50_ms;
    assert!(
        (p50 - reported).abs() <= 0.01 * p50,
        "p50 e2e {p50} ms in the file, {reported} ms in the report"
    );
}

#[test]
fn no_records_writes_no_records_file() {
    let dir = tempfile::tempdir().unwrap();
    let (report, json) = simulate(
        dir.path(),
        &["-n", "20", "--cluster", "tiny", "--no-records"],
    );
    assert!(report.records_file.is_none());
    assert!(report.runs.iter().all(|r| r.records_sample.is_none()));
    assert_eq!(
        names(dir.path()),
        BTreeSet::from([json.file_name().unwrap().to_string_lossy().into_owned()])
    );
}
