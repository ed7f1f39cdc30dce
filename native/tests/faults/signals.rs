//! Signals to a running benchmark: SIGTERM and SIGHUP stop it with 128 + the signal and the
//! partial result; a second signal aborts what is in flight; a launched control plane goes
//! with it.

use super::server::{Reply, Server};
use super::*;
use nix::sys::signal::Signal;

/// A long run against the embedded control plane, stopped by `sig` a little after it started
/// sending: the exit code is 128 + the signal, and the result file holds what was measured,
/// marked partial, with a warning naming the signal.
fn stop_embedded_run_with(sig: Signal, code: i32, name: &str) {
    let dir = temp_dir(&format!("signal-{name}"));
    let (mut child, rest) = spawn_until(
        bin()
            .args([
                "run",
                "-n",
                "4000",
                "-r",
                "50",
                "-w",
                "0",
                "--cluster",
                "tiny",
            ])
            .args(["--no-visualize", "--gpu-monitor", "off", "-vvv", "-o"])
            .arg(&dir),
        "sending id=10 ",
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, sig);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let stderr = rest.join().unwrap();
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(&format!("{name}: stopping")), "{stderr}");
    let r = only_report(&dir);
    assert!(r.partial && r.runs[0].partial);
    let sent = r.runs[0].summary.requests_total;
    assert!(sent > 5 && sent < 4000, "{sent} requests recorded");
    // The records file of the partial run is whole: every request recorded, hashed as named.
    let file = r.records_file.as_ref().expect("a records file");
    let bytes = std::fs::read(dir.join(&file.name)).unwrap();
    assert_eq!(file.rows, sent);
    use parquet::file::reader::FileReader;
    let parquet =
        parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(bytes.clone()))
            .expect("a whole Parquet file");
    assert_eq!(
        parquet.metadata().file_metadata().num_rows() as u64,
        sent,
        "a row a request"
    );
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(file.sha256, sha);
    let temporary: Vec<_> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(temporary.is_empty(), "{temporary:?}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains(&format!("interrupted ({name})"))),
        "{:?}",
        r.warnings
    );
}

#[test]
fn sigterm_stops_a_run_with_143_and_its_partial_result() {
    stop_embedded_run_with(Signal::SIGTERM, 143, "SIGTERM");
}

#[test]
fn sighup_stops_a_run_with_129_and_its_partial_result() {
    stop_embedded_run_with(Signal::SIGHUP, 129, "SIGHUP");
}

/// Requests the server never answers: the first SIGTERM stops sending and would wait 5 s for
/// them; a second one aborts them at once. They are recorded as cancelled.
#[test]
fn a_second_signal_aborts_the_requests_in_flight() {
    // Never answers: reads until the client goes away.
    let server = Server::start(|_| {
        Reply::raw(|s| {
            let _ = std::io::copy(s, &mut std::io::sink());
        })
    });
    let dir = temp_dir("second-signal");
    let mut child = bin()
        .args(["run", "-c", &server.url, "--policy-switch", "none"])
        .args(["--cp-metrics-interval", "0", "--gpu-monitor", "off"])
        .args([
            "-n",
            "5",
            "-r",
            "50",
            "-w",
            "0",
            "-t",
            "120",
            "--no-visualize",
            "-o",
        ])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while server.generation_requests() < 5 {
        assert!(start.elapsed() < Duration::from_secs(60), "never sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, Signal::SIGTERM);
    let first = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGTERM);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let took = first.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        took < Duration::from_millis(4500),
        "took {took:?} after the first signal: the second did not cut the 5 s grace period"
    );
    assert!(stderr.contains("SIGTERM again: aborting"), "{stderr}");
    let r = only_report(&dir);
    assert!(r.partial);
    let run = &r.runs[0];
    assert_eq!(run.summary.requests_total, 5);
    assert_eq!(
        run.summary.errors_by_kind.get("cancelled"),
        Some(&5),
        "{:?}",
        run.summary.errors_by_kind
    );
}

/// With `--launch` (here `sage-cp-bench serve` itself), SIGTERM stops the run and the
/// launched control plane: none of the runner's descendants is left.
#[test]
fn sigterm_also_stops_the_launched_control_plane() {
    let dir = temp_dir("signal-launch");
    let launch = format!(
        "'{}' serve --port {{port}} --policy {{policy}} --cluster tiny",
        env!("CARGO_BIN_EXE_sage-cp-bench")
    );
    let (mut child, rest) = spawn_until(
        bin()
            .args([
                "run", "-n", "4000", "-r", "50", "-w", "0", "--launch", &launch,
            ])
            .args(["--no-visualize", "--gpu-monitor", "off", "-vvv", "-o"])
            .arg(&dir),
        "sending id=10 ",
        Duration::from_secs(90),
    );
    std::thread::sleep(Duration::from_millis(300));
    let launched = descendants(child.id());
    assert!(
        launched.iter().any(|&p| cmdline(p).contains("serve")),
        "no launched control plane among {launched:?}"
    );
    signal(&child, Signal::SIGTERM);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let stderr = rest.join().unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    let start = Instant::now();
    while let Some(&p) = launched.iter().find(|&&p| running(p)) {
        if start.elapsed() > Duration::from_secs(10) {
            let what = cmdline(p);
            // Not left behind by a failing test either.
            for &q in launched
                .iter()
                .filter(|&&q| cmdline(q).contains(" serve --port "))
            {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(q as i32), Signal::SIGKILL);
            }
            panic!("launched process {p} ({what}) still runs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = only_report(&dir);
    assert!(r.partial && r.runs[0].partial);
    assert!(r.runs[0].launch.is_some(), "the run records its launch");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("interrupted (SIGTERM)")),
        "{:?}",
        r.warnings
    );
}

/// Every process below `pid` now (children, their children, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &parents {
            if pp == parent {
                found.push(p);
                frontier.push(p);
            }
        }
    }
    found
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| text(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether `pid` runs (exists and is not a zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
