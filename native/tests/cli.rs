//! The binary as a user runs it: exit codes, files written, Ctrl-C, reproducibility.

use cpbench_core::report::{Report, ReportKind};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"));
    c.env_remove("SAGE_CONTROL_PLANE_URL")
        .env_remove("OPENAI_API_KEY");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn reports_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            // The result files, not the HTML and Markdown reports beside them.
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("report_") && n.ends_with(".json")
            })
        })
        .collect();
    v.sort();
    v
}

fn read_report(path: &Path) -> Report {
    Report::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn version_flag_prints_the_package_version() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("sage-cp-bench {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn example_configs_validate_and_hashes_agree() {
    let dir = temp_dir("config");
    for mode in ["llm", "hybrid"] {
        let file = dir.join(format!("{mode}.yaml"));
        let out = bin()
            .args(["config", "--mode", mode, "--output"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = bin().arg("validate").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        let v = text(&out.stdout);
        assert!(v.contains("valid"), "{v}");
        let hash = bin()
            .args(["config", "--hash"])
            .arg(&file)
            .output()
            .unwrap();
        let hash = text(&hash.stdout).trim().to_string();
        assert_eq!(hash.len(), 64);
        assert!(v.contains(&hash), "validate prints the same hash: {v}");
        let other = bin()
            .args(["config", "--hash"])
            .arg(&file)
            .args(["--seed", "7"])
            .output()
            .unwrap();
        assert_ne!(text(&other.stdout).trim(), hash);
    }
}

#[test]
fn validate_lists_every_problem_and_exits_2() {
    let dir = temp_dir("validate");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "request_rate: -5\nwarmup_requests: 500\nnum_requests: 100\npolicies: ['']\n",
    )
    .unwrap();
    let out = bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out.stdout);
    for field in ["request_rate", "warmup_requests", "policies[0]"] {
        assert!(t.contains(field), "{field} missing from:\n{t}");
    }
    std::fs::write(&file, "request_rat: 5\n").unwrap();
    let out = bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("request_rat"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let out = bin().args(["run", "--rate", "-1", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("request_rate"),
        "{}",
        text(&out.stderr)
    );
    let out = bin()
        .args(["compare", "--policies", "fifo,round_robin", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(e.contains("round_robin") && e.contains("slo_aware"), "{e}");
}

#[test]
fn run_against_the_embedded_control_plane_writes_a_valid_report() {
    let dir = temp_dir("run");
    let out: Output = bin()
        .args([
            "run",
            "--requests",
            "20",
            "--rate",
            "20",
            "--warmup",
            "2",
            "--cluster",
            "tiny",
            "-o",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("| fifo"), "{stdout}");
    assert!(text(&out.stderr).contains("embedded reference control plane"));
    let reports = reports_in(&dir);
    assert_eq!(reports.len(), 1);
    let r = read_report(&reports[0]);
    assert_eq!(r.kind, ReportKind::Run);
    assert!(r.environment.embedded_control_plane);
    assert_eq!(r.runs.len(), 1);
    assert_eq!(r.runs[0].summary.requests_total, 20);
    assert_eq!(r.runs[0].summary.requests_succeeded, 20);
    let records = r.records_file.as_ref().expect("a records file");
    let bytes = std::fs::read(dir.join(&records.name)).expect("the records file is written");
    use parquet::file::reader::FileReader;
    let parquet = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(bytes))
        .expect("a Parquet file");
    assert_eq!(parquet.metadata().file_metadata().num_rows(), 20);
    assert!(r.records_csv.is_none());
}

/// Both HTTP clients and several sending threads measure every request, and the report says
/// how the requests were sent.
#[test]
fn runs_with_either_http_client_and_several_sending_threads() {
    for client in ["reqwest", "builtin"] {
        let dir = temp_dir(&format!("transport-{client}"));
        let out = bin()
            .args([
                "run",
                "--requests",
                "30",
                "--rate",
                "50",
                "--cluster",
                "tiny",
                "--http-client",
                client,
                "--client-threads",
                "3",
                "-q",
                "--no-visualize",
                "-o",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{client}: {}",
            text(&out.stderr)
        );
        let r = read_report(&reports_in(&dir)[0]);
        let run = &r.runs[0];
        assert_eq!(run.summary.requests_succeeded, 30, "{client}");
        let sample = run.records_sample.as_ref().expect("records are kept");
        assert!(
            sample.is_complete(),
            "{client}: 30 requests are all in the sample"
        );
        let records = &sample.records;
        let ids: Vec<u64> = records.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            (0..30).collect::<Vec<u64>>(),
            "{client}: every id once, in order"
        );
        let note =
            format!("requests sent by 3 sending thread(s) with the {client} HTTP/1.1 client");
        assert!(
            r.environment.notes.iter().any(|n| n.starts_with(&note)),
            "{:?}",
            r.environment.notes
        );
    }
}

/// A real run against the embedded control plane and the virtual-time simulation of the same
/// workload agree request by request: the HTTP path, the sender's pacing and the server's
/// real-time driver add about a millisecond (the tolerance here leaves room for a debug build
/// on a busy machine).
#[test]
fn a_real_run_follows_the_simulation_of_the_same_workload() {
    let run_dir = temp_dir("fidelity-run");
    let sim_dir = temp_dir("fidelity-sim");
    let args = [
        "--requests",
        "200",
        "--rate",
        "20",
        "--seed",
        "7",
        "--cluster",
        "tiny",
        "-q",
        "--no-visualize",
        "-o",
    ];
    for (cmd, dir, policy) in [
        ("run", &run_dir, "--policy"),
        ("simulate", &sim_dir, "--policies"),
    ] {
        let out = bin()
            .arg(cmd)
            .args([policy, "fifo"])
            .args(args)
            .arg(dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
    }
    let run = read_report(&reports_in(&run_dir)[0]);
    let sim = read_report(&reports_in(&sim_dir)[0]);
    assert_eq!(run.workload_hash, sim.workload_hash);
    let real = run.runs[0].sampled_records();
    let virt = sim.runs[0].sampled_records();
    assert_eq!(real.len(), 200);
    assert_eq!(virt.len(), 200);
    let mut ttft_err = Vec::new();
    let mut e2e_err = Vec::new();
    for (a, b) in real.iter().zip(virt) {
        assert_eq!(a.id, b.id);
        assert!(a.outcome.is_success() && b.outcome.is_success());
        let ttft = |r: &cpbench_core::record::RequestRecord| {
            r.first_token_us.expect("a first token") as f64 - r.intended_us as f64
        };
        let e2e = |r: &cpbench_core::record::RequestRecord| r.end_us as f64 - r.intended_us as f64;
        ttft_err.push((ttft(a) - ttft(b)).abs() / 1000.0);
        e2e_err.push((e2e(a) - e2e(b)).abs() / 1000.0);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (t50, e50) = (median(ttft_err), median(e2e_err));
    eprintln!("real run vs simulation, median |error|: TTFT {t50:.2} ms, E2E {e50:.2} ms");
    assert!(t50 < 5.0, "TTFT median error {t50:.2} ms");
    assert!(e50 < 5.0, "E2E median error {e50:.2} ms");
}

#[test]
fn simulate_is_byte_identical_across_runs() {
    let dir_a = temp_dir("sim-a");
    let dir_b = temp_dir("sim-b");
    for d in [&dir_a, &dir_b] {
        let out = bin()
            .env("SOURCE_DATE_EPOCH", "1764300000")
            .args([
                "simulate",
                "--requests",
                "300",
                "--rate",
                "30",
                "--policies",
                "fifo,priority",
                "-q",
                "-o",
            ])
            .arg(d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let a = std::fs::read(&reports_in(&dir_a)[0]).unwrap();
    let b = std::fs::read(&reports_in(&dir_b)[0]).unwrap();
    assert!(a == b, "two simulations with the same seed differ");
    let r = read_report(&reports_in(&dir_a)[0]);
    assert!(r.simulated);
    assert_eq!(r.runs.len(), 2);
}

#[test]
fn ctrl_c_leaves_a_valid_partial_result() {
    let dir = temp_dir("sigint");
    let mut child = bin()
        .args([
            "run",
            "--requests",
            "4000",
            "--rate",
            "50",
            "--warmup",
            "0",
            "--cluster",
            "tiny",
            "-o",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is sending, then interrupt.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let start = Instant::now();
    loop {
        let line = lines.next().expect("stderr closed early").unwrap();
        if line.contains("[1/1]") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never started");
    }
    std::thread::sleep(Duration::from_millis(3000));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    std::thread::spawn(move || for _ in lines {});
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let reports = reports_in(&dir);
    assert_eq!(reports.len(), 1);
    let r = read_report(&reports[0]);
    assert!(r.partial);
    assert!(r.runs[0].partial);
    let sent = r.runs[0].summary.requests_total;
    assert!(sent > 5 && sent < 4000, "{sent} requests recorded");
    assert!(r.warnings.iter().any(|w| w.contains("interrupted")));
}

#[test]
fn experiments_run_end_to_end_and_their_best_policy_follows_from_the_numbers() {
    use cpbench_core::experiment::{
        ExperimentName, ExperimentSummary, ThroughputCriteria, summarize,
    };
    for name in ExperimentName::ALL {
        let dir = temp_dir(&format!("exp-{}", name.as_str()));
        let mut args = vec![
            "experiment",
            "--name",
            name.as_str(),
            "--requests",
            "16",
            "--rate",
            "40",
            "--warmup",
            "1",
            "--policies",
            "fifo,priority",
            "--cluster",
            "tiny",
            "-q",
        ];
        match name {
            ExperimentName::Throughput | ExperimentName::Slo => args.extend(["--rates", "20,80"]),
            ExperimentName::MixedRatio => args.extend(["--ratios", "0.25,0.75"]),
            ExperimentName::Latency => {}
        }
        let out = bin().args(&args).arg("-o").arg(&dir).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            name.as_str(),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("Best policy:"),
            "{}",
            text(&out.stdout)
        );
        let r = read_report(&reports_in(&dir)[0]);
        assert_eq!(r.kind, ReportKind::Experiment);
        let expected_runs = match name {
            ExperimentName::Latency => 2,
            _ => 4,
        };
        assert_eq!(r.runs.len(), expected_runs, "{}", name.as_str());
        let stored: ExperimentSummary =
            serde_json::from_value(r.experiment.clone().unwrap()).unwrap();
        assert_eq!(stored.name, name);
        // The stored summary is what the numbers in the file give.
        let recomputed = summarize(name, &r, ThroughputCriteria::default());
        assert_eq!(stored, recomputed, "{}", name.as_str());
        // And the best policy is consistent with the runs' own numbers.
        match name {
            ExperimentName::Slo | ExperimentName::MixedRatio => {
                let mean = |p: &str| {
                    let v: Vec<f64> = r
                        .runs
                        .iter()
                        .filter(|x| x.policy == p)
                        .map(|x| x.summary.slo_compliance)
                        .collect();
                    v.iter().sum::<f64>() / v.len() as f64
                };
                let best = stored.best_policy.clone().unwrap();
                for p in ["fifo", "priority"] {
                    assert!(mean(&best) >= mean(p), "{best} is not best: {p}");
                }
            }
            ExperimentName::Latency => {
                let best = stored.best_policy.clone().unwrap();
                let p99 = |p: &str| {
                    r.runs
                        .iter()
                        .find(|x| x.policy == p)
                        .unwrap()
                        .summary
                        .e2e
                        .unwrap()
                        .p99_ms
                };
                for p in ["fifo", "priority"] {
                    assert!(p99(&best) <= p99(p));
                }
            }
            ExperimentName::Throughput => {
                if let Some(best) = &stored.best_policy {
                    let max = |p: &str| stored.max_sustained_rps[p].unwrap_or(0.0);
                    for p in ["fifo", "priority"] {
                        assert!(max(best) >= max(p));
                    }
                }
            }
        }
    }
}
