//! The per-request records files a run writes beside its report: every measured request (not
//! only the report's bounded sample) in `requests_<stem>.parquet`, read back with the
//! `parquet` crate's reader, named in the report with its SHA-256, agreeing with the report's
//! aggregates; the CSV only with `--records-csv`; none with `--no-records`.

use cpbench_core::report::{RecordsFile, Report};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
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

/// The bytes of the records file `file` in `dir`, checked against its size and SHA-256.
fn checked_bytes(dir: &Path, file: &RecordsFile) -> Vec<u8> {
    let bytes = std::fs::read(dir.join(&file.name)).unwrap();
    assert_eq!(file.bytes, bytes.len() as u64);
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(file.sha256, sha);
    bytes
}

/// The rows of a Parquet file, each as its columns by name.
fn parquet_rows(bytes: Vec<u8>) -> Vec<BTreeMap<String, Field>> {
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(name, f)| (name.clone(), f.clone()))
                .collect()
        })
        .collect()
}

fn text(f: &Field) -> &str {
    match f {
        Field::Str(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

fn int(f: &Field) -> u64 {
    match *f {
        Field::Long(v) => u64::try_from(v).unwrap(),
        Field::UInt(v) => u64::from(v),
        Field::UShort(v) => u64::from(v),
        ref other => panic!("not an integer: {other:?}"),
    }
}

fn float(f: &Field) -> Option<f64> {
    match *f {
        Field::Double(v) => Some(v),
        Field::Null => None,
        ref other => panic!("not a double: {other:?}"),
    }
}

/// The `q` quantile (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

#[test]
fn the_records_file_holds_every_request_and_agrees_with_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // Short requests, so that a debug build simulates more than the sample's 10,000 quickly;
    // a few embeddings, which have no inter-token gaps.
    let config = dir.path().join("short.yaml");
    std::fs::write(
        &config,
        "prompt_length: {dist: fixed, value: 16}\noutput_length: {dist: fixed, value: 4}\nwarmup_requests: 0\nmode: hybrid\nllm_ratio: 0.9\nembedding_ratio: 0.1\nembedding_batch_sizes: [1]\nembedding_input_length: {dist: fixed, value: 16}\n",
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
    assert_eq!(file.name, format!("requests_{stem}.parquet"));
    assert_eq!(file.format, "parquet");
    assert!(report.records_csv.is_none(), "no CSV unless asked for");
    assert_eq!(
        names(&out),
        BTreeSet::from([format!("report_{stem}.json"), file.name.clone()]),
        "no CSV and no temporary file"
    );
    let bytes = checked_bytes(&out, file);

    let run = &report.runs[0];
    let sample = run.records_sample.as_ref().unwrap();
    assert_eq!((sample.total, sample.records.len()), (n, 10_000));

    let rows = parquet_rows(bytes);
    assert_eq!(rows.len() as u64, n);
    assert_eq!(file.rows, n);
    let mut ids = BTreeSet::new();
    let mut errors = BTreeMap::new();
    let (mut succeeded, mut gaps, mut embeddings) = (0, 0, 0);
    let (mut ttft_ms, mut e2e_ms) = (Vec::new(), Vec::new());
    for row in &rows {
        assert_eq!(text(&row["policy"]), "fifo");
        assert!(ids.insert(int(&row["id"])), "one row a request");
        let itl = match &row["itl_us"] {
            Field::ListInternal(l) => l.elements().len() as u64,
            other => panic!("itl_us is not a list: {other:?}"),
        };
        match text(&row["outcome"]) {
            "success" => {
                succeeded += 1;
                gaps += itl;
                e2e_ms.push(float(&row["e2e_ms"]).unwrap());
                if text(&row["kind"]) == "embedding" {
                    embeddings += 1;
                    assert_eq!(itl, 0, "an embedding has no gaps");
                } else {
                    ttft_ms.push(float(&row["ttft_ms"]).unwrap());
                    assert_eq!(
                        itl,
                        int(&row["output_tokens"]) - 1,
                        "a gap a token after the first"
                    );
                    assert_eq!(itl, int(&row["chunks"]) - 1);
                }
            }
            "http_error" => {
                let status = int(&row["http_status"]);
                *errors.entry(format!("http_{status}")).or_insert(0u64) += 1;
            }
            other => *errors.entry(other.to_owned()).or_insert(0u64) += 1,
        }
    }
    assert_eq!(ids, (0..n).collect());
    assert!(embeddings > 0, "the mix has embeddings");
    assert_eq!(succeeded, run.summary.requests_succeeded);
    assert_eq!(n - succeeded, run.summary.requests_failed);
    assert_eq!(errors, run.summary.errors_by_kind);
    assert_eq!(gaps, run.summary.itl.as_ref().unwrap().count);
    // The report's percentiles come from histograms (3 significant digits).
    for (values, stats, what) in [
        (&mut ttft_ms, run.summary.ttft.as_ref().unwrap(), "ttft"),
        (&mut e2e_ms, run.summary.e2e.as_ref().unwrap(), "e2e"),
    ] {
        values.sort_by(f64::total_cmp);
        assert_eq!(values.len() as u64, stats.count, "{what}");
        for (q, reported) in [(0.5, stats.p50_ms), (0.99, stats.p99_ms)] {
            let exact = quantile(values, q);
            assert!(
                (exact - reported).abs() <= 0.002 * exact + 0.001,
                "p{} {what} {exact} ms in the file, {reported} ms in the report",
                q * 100.0
            );
        }
    }
}

#[test]
fn records_csv_writes_the_csv_beside_the_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let (report, json) = simulate(
        dir.path(),
        &[
            "-n",
            "40",
            "--cluster",
            "tiny",
            "-p",
            "fifo,priority",
            "--records-csv",
        ],
    );
    let parquet = report.records_file.as_ref().expect("a Parquet file");
    let csv = report.records_csv.as_ref().expect("a CSV file");
    assert_eq!(
        (parquet.format.as_str(), csv.format.as_str()),
        ("parquet", "csv")
    );
    assert_eq!(
        names(dir.path()),
        BTreeSet::from([
            json.file_name().unwrap().to_string_lossy().into_owned(),
            parquet.name.clone(),
            csv.name.clone()
        ])
    );
    let rows = parquet_rows(checked_bytes(dir.path(), parquet));
    let csv_bytes = checked_bytes(dir.path(), csv);
    let mut table = csv::Reader::from_reader(csv_bytes.as_slice());
    let header: Vec<String> = table.headers().unwrap().iter().map(str::to_owned).collect();
    let lines: Vec<csv::StringRecord> = table.records().map(Result::unwrap).collect();
    assert_eq!((parquet.rows, csv.rows), (80, 80));
    assert_eq!(rows.len(), lines.len());
    // The same columns, the Parquet file's inter-token gaps besides, and the same rows.
    let mut columns: Vec<&String> = rows[0].keys().filter(|k| *k != "itl_us").collect();
    columns.sort();
    let mut csv_columns: Vec<&String> = header.iter().collect();
    csv_columns.sort();
    assert_eq!(columns, csv_columns);
    for (row, line) in rows.iter().zip(&lines) {
        for (name, value) in header.iter().zip(line.iter()) {
            match &row[name] {
                Field::Null => assert_eq!(value, "", "{name}"),
                Field::Str(s) => assert_eq!(s, value, "{name}"),
                Field::Bool(b) => assert_eq!(b.to_string(), value, "{name}"),
                Field::Double(d) => assert_eq!(*d, value.parse::<f64>().unwrap(), "{name}"),
                f => assert_eq!(int(f).to_string(), value, "{name}"),
            }
        }
    }
}

#[test]
fn no_records_writes_no_records_file() {
    let dir = tempfile::tempdir().unwrap();
    let (report, json) = simulate(
        dir.path(),
        &["-n", "20", "--cluster", "tiny", "--no-records"],
    );
    assert!(report.records_file.is_none() && report.records_csv.is_none());
    assert!(report.runs.iter().all(|r| r.records_sample.is_none()));
    assert_eq!(
        names(dir.path()),
        BTreeSet::from([json.file_name().unwrap().to_string_lossy().into_owned()])
    );
}
