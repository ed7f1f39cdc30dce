//! One workload sent by three shard processes (`--shard I/3`) on a shared timeline
//! (`--start-at`), over real loopback HTTP against one reference control plane
//! (`sage-cp-bench serve`), one of them with its wall clock shifted by +300 ms (libfaketime,
//! `faketime -f +0.3s`), then merged (`merge`): every request id once, both policies measured
//! in their slots and confirmed, the shifted shard's offset found and warned about, the
//! merged percentiles those of the union of the shards' records, and throughput and latency
//! close to one process sending the same workload. And `merge` refuses a shard given twice,
//! a missing shard and shards of different workloads, naming the problem.
//!
//! The test is skipped (with a message) only where `faketime` is not installed
//! (`apt-get install faketime`; `scripts/test.sh` installs it).

use cpbench_core::histogram::LatencyHistogram;
use cpbench_core::report::Report;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_sage-cp-bench");
/// The shifted shard's clock offset, and how close merge must find it.
const SHIFT_MS: f64 = 300.0;
const SHIFT_TOLERANCE_MS: f64 = 60.0;
const REQUESTS: u64 = 60;

fn bin() -> Command {
    let mut c = Command::new(BIN);
    clean_env(&mut c);
    c
}

fn clean_env(c: &mut Command) {
    c.env_remove("SAGE_CONTROL_PLANE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("SAGE_ADMIN_TOKEN")
        .env_remove("SAGE_LOG_LEVEL")
        .env_remove("RUST_LOG")
        .env_remove("SOURCE_DATE_EPOCH");
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-shards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn has_faketime() -> bool {
    Command::new("faketime")
        .args(["-f", "+0.3s", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `serve` child on a free port; killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start() -> Self {
        let mut child = bin()
            .args(["serve", "--port", "0", "--cluster", "default"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve says where it listens");
        let at = line.find("http://").expect(&line);
        let url = line[at..].split_whitespace().next().unwrap().to_string();
        Self { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workload_args(url: &str) -> Vec<String> {
    [
        "compare",
        "--control-plane",
        url,
        "--policies",
        "fifo,priority",
        "--requests",
        &REQUESTS.to_string(),
        "--rate",
        "20",
        "--warmup",
        "0",
        "--seed",
        "11",
        "--cp-metrics-interval",
        "0",
        "--quiet",
        "--no-visualize",
        "--records-csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn only_report(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("report_") && n.ends_with(".json")
        })
        .collect();
    assert_eq!(found.len(), 1, "{}: {found:?}", dir.display());
    found[0].clone()
}

fn read_report(p: &Path) -> Report {
    Report::from_json(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn merge(inputs: &[&Path], out: &Path) -> Output {
    bin()
        .arg("merge")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

/// Per policy: each request id and its end-to-end latency, µs (successful requests).
type Rows = BTreeMap<String, Vec<(u64, Option<u64>)>>;

fn records(csv_path: &Path) -> Rows {
    let mut r = csv::Reader::from_path(csv_path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (policy, id, intended, end, outcome) = (
        col("policy"),
        col("id"),
        col("intended_us"),
        col("end_us"),
        col("outcome"),
    );
    let mut rows = Rows::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let e2e = (&rec[outcome] == "success")
            .then(|| rec[end].parse::<u64>().unwrap() - rec[intended].parse::<u64>().unwrap());
        rows.entry(rec[policy].to_string())
            .or_default()
            .push((rec[id].parse().unwrap(), e2e));
    }
    rows
}

#[test]
fn three_shards_on_a_shared_timeline_merge_into_one_run() {
    if !has_faketime() {
        eprintln!(
            "SKIPPED: faketime (libfaketime) is not installed, so no shard can run with a shifted clock; apt-get install faketime"
        );
        return;
    }
    let server = Served::start();
    let root = temp_dir("e2e");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start_at = (now_ms + 2_500).to_string();
    let mut children = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..3 {
        let dir = root.join(format!("shard{i}"));
        let mut args = workload_args(&server.url);
        args.extend(
            [
                "--shard",
                &format!("{i}/3"),
                "--start-at",
                &start_at,
                "--phase-gap",
                "1.5",
                "-o",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.push(dir.display().to_string());
        let mut cmd = if i == 2 {
            // Only the wall clock is shifted: the monotonic clock (timers, durations) stays.
            let mut c = Command::new("faketime");
            c.args(["-f", "+0.3s", BIN])
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
            clean_env(&mut c);
            c
        } else {
            bin()
        };
        cmd.args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        children.push(cmd.spawn().unwrap());
        dirs.push(dir);
    }
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "shard {i}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let shard_files: Vec<PathBuf> = dirs.iter().map(|d| only_report(d)).collect();
    let shards: Vec<Report> = shard_files.iter().map(|p| read_report(p)).collect();
    for (i, s) in shards.iter().enumerate() {
        let info = s.shard.as_ref().expect("a shard section");
        assert_eq!((info.index, info.count), (i as u32, 3));
        assert_eq!(info.workload_hash, shards[0].workload_hash);
        assert!(info.timeline.shared);
        assert_eq!(info.phases.len(), 2);
        for p in &info.phases {
            assert!(p.policy_confirmed, "shard {i} phase {p:?}");
            assert!(p.failed.is_none(), "shard {i} phase {p:?}");
        }
        let phases: Vec<&str> = info.phases.iter().map(|p| p.policy.as_str()).collect();
        assert_eq!(phases, ["fifo", "priority"]);
        // Every shard computed the identical slots.
        assert_eq!(
            info.timeline.slots,
            shards[0].shard.as_ref().unwrap().timeline.slots
        );
    }

    // Refusals, each naming the problem.
    let (a, b, c) = (&shard_files[0], &shard_files[1], &shard_files[2]);
    let twice = merge(&[a, a, b], &root.join("twice"));
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice.stderr));
    assert!(
        text(&twice.stderr).contains("shard 0/3 is given twice"),
        "{}",
        text(&twice.stderr)
    );
    let short = merge(&[a, b], &root.join("short"));
    assert_eq!(short.status.code(), Some(2));
    assert!(
        text(&short.stderr).contains("shard 2/3 missing"),
        "{}",
        text(&short.stderr)
    );
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c).unwrap()).unwrap();
    other["shard"]["workload_hash"] = "0".repeat(64).into();
    let other_path = root.join("other_workload.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let mixed = merge(&[a, b, &other_path], &root.join("mixed"));
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        text(&mixed.stderr).contains("shards of different workloads"),
        "{}",
        text(&mixed.stderr)
    );

    // The merge.
    let merged_dir = root.join("merged");
    let out = merge(&[c, a, b], &merged_dir);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let merged_path = only_report(&merged_dir);
    let merged = read_report(&merged_path);
    assert!(merged.shard.is_none());
    assert_eq!(merged.merged_from.len(), 3);
    assert!(!merged.partial);
    let shifted = &merged.merged_from[2];
    assert_eq!(shifted.index, 2);
    assert_eq!(shifted.clock_check.status, "measured");
    let offset = shifted.clock_check.offset_ms.unwrap();
    assert!(
        (offset - SHIFT_MS).abs() <= SHIFT_TOLERANCE_MS,
        "shard 2's offset {offset} ms, expected {SHIFT_MS} ± {SHIFT_TOLERANCE_MS}"
    );
    for m in &merged.merged_from[..2] {
        let off = m.clock_check.offset_ms.unwrap();
        assert!(off.abs() < SHIFT_TOLERANCE_MS, "shard {}: {off}", m.index);
    }
    assert!(
        merged
            .warnings
            .iter()
            .any(|w| w.contains("shard 2's clock is +")),
        "{:?}",
        merged.warnings
    );

    // The same merge from the folder holding the shards' folders (as the Kubernetes merge Job
    // runs it): the merged result in `merged/` and the JSON beside them are not shards' results.
    let by_folder = merge(&[root.as_path()], &root.join("by-folder"));
    assert!(by_folder.status.success(), "{}", text(&by_folder.stderr));
    let by_folder = read_report(&only_report(&root.join("by-folder")));
    assert_eq!(by_folder.merged_from.len(), 3);
    for (a, b) in by_folder.runs.iter().zip(&merged.runs) {
        assert_eq!(a.summary, b.summary);
    }

    // The Parquet records stay per shard (named in merged_from); the CSV ones are concatenated.
    assert!(merged.records_file.is_none());
    assert!(
        merged.merged_from.iter().all(|m| m
            .records_file
            .as_deref()
            .is_some_and(|n| n.ends_with(".parquet"))),
        "{:?}",
        merged.merged_from
    );
    // Every request id exactly once per policy, in the merged records file.
    let file = merged
        .records_csv
        .as_ref()
        .expect("a merged CSV records file");
    let rows = records(&merged_dir.join(&file.name));
    assert_eq!(file.rows, 2 * REQUESTS);
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["fifo", "priority"]);
    for (policy, rs) in &rows {
        let mut ids: Vec<u64> = rs.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..REQUESTS).collect::<Vec<_>>(), "{policy}");
    }
    // Both policies measured, in order, every request of the workload.
    let policies: Vec<&str> = merged.runs.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(policies, ["fifo", "priority"]);
    for run in &merged.runs {
        assert_eq!(run.summary.requests_total, REQUESTS);
        assert_eq!(
            run.records_sample.as_ref().unwrap().records.len() as u64,
            REQUESTS
        );
        // The merged percentiles are those of the union of the shards' records (the
        // histogram's precision: the same buckets, so the same values).
        let mut union = LatencyHistogram::new();
        for (_, e2e) in &rows[&run.policy] {
            if let Some(us) = e2e {
                union.record(*us);
            }
        }
        let e2e = run.summary.e2e.unwrap();
        assert_eq!(e2e.count, union.count());
        assert_eq!(e2e.p50_ms, union.percentile_ms(50.0), "{}", run.policy);
        assert_eq!(e2e.p99_ms, union.percentile_ms(99.0), "{}", run.policy);
        assert_eq!(e2e.max_ms, union.max_ms());
    }

    // `visualize` opens the merged report like any other.
    let vis = bin()
        .args(["visualize", "-f", "html", "-i"])
        .arg(&merged_path)
        .arg("-o")
        .arg(root.join("vis"))
        .output()
        .unwrap();
    assert!(vis.status.success(), "{}", text(&vis.stderr));

    // One process sending the same workload: throughput and latency close (generous bounds:
    // a noisy machine of 2 cores, the server beside the clients).
    let single_dir = root.join("single");
    let mut args = workload_args(&server.url);
    args.push("-o".into());
    args.push(single_dir.display().to_string());
    let single = bin().args(&args).output().unwrap();
    assert!(single.status.success(), "{}", text(&single.stderr));
    let single = read_report(&only_report(&single_dir));
    assert_eq!(single.workload_hash, merged.workload_hash);
    for (m, s) in merged.runs.iter().zip(&single.runs) {
        let (mt, st) = (
            m.summary.request_throughput_rps,
            s.summary.request_throughput_rps,
        );
        assert!(
            (mt / st - 1.0).abs() < 0.25,
            "{}: throughput merged {mt} single {st}",
            m.policy
        );
        let (me, se) = (m.summary.e2e.unwrap().p50_ms, s.summary.e2e.unwrap().p50_ms);
        assert!(
            me < se * 2.0 + 50.0 && se < me * 2.0 + 50.0,
            "{}: e2e p50 merged {me} ms single {se} ms",
            m.policy
        );
    }
}

#[test]
fn bad_shard_flags_are_usage_errors_naming_the_flag() {
    let dir = temp_dir("usage");
    let cases: [(&[&str], &str); 5] = [
        (&["--shard", "3/3"], "--shard"),
        (
            &["--shard", "0/2", "--launch", "serve --port {port}"],
            "--launch",
        ),
        (&["--shard", "1/0"], "--shard"),
        (&["--shard", "0/2", "--start-at", "yesterday"], "--start-at"),
        (&["--shard", "0/2", "--start-at", "1000"], "in the past"),
    ];
    for (extra, needle) in cases {
        let out = bin()
            .args(["run", "-n", "5", "-w", "0", "-o"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{extra:?}: {}",
            text(&out.stderr)
        );
    }
}
