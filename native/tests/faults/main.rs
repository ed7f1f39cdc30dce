//! The fault matrix: the binary against real loopback servers (a scripted one, the embedded
//! reference control plane, a launched `serve`) and real signals, one test per fault, each
//! checking what is kept (the result file's content), the exit code and the message.

mod exit_codes;
mod files;
mod limits;
mod responses;
mod results;
mod server;
mod signals;

use cpbench_core::report::Report;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test, without the environment that would point it elsewhere.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"));
    c.env_remove("SAGE_CONTROL_PLANE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

/// A fresh, empty folder for one test; removed when the test passes, kept (for a look) when
/// it fails.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn temp_dir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("cpbench-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The result files (`report_*.json`) in `dir`, sorted.
fn reports_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
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

/// The one result file in `dir`.
fn only_report(dir: &Path) -> Report {
    let r = reports_in(dir);
    assert_eq!(r.len(), 1, "one result file expected in {}", dir.display());
    read_report(&r[0])
}

/// A run against the scripted server at `url`: no policy switch, no polling, no warmup,
/// no progress, no charts, a per-request timeout of 30 s; `extra` adds or overrides.
fn scripted_run(url: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["run", "-c", url, "--policy-switch", "none"])
        .args(["--cp-metrics-interval", "0", "--gpu-monitor", "off"])
        .args(["-w", "0", "-q", "--no-visualize", "-o"])
        .arg(dir)
        .args(extra);
    c
}

/// Runs `cmd`, its output collected.
fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// The exit code, with the output shown when it is not the one expected.
fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A child whose stderr is read line by line until a line contains `needle` (at most
/// `limit`); the rest of stderr is collected on a thread and returned by the handle.
fn spawn_until(
    cmd: &mut Command,
    needle: &str,
    limit: Duration,
) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let start = Instant::now();
    let mut seen = String::new();
    loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("stderr ended before {needle:?}:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            break;
        }
        assert!(start.elapsed() < limit, "no {needle:?} in time:\n{seen}");
    }
    let rest = std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            seen.push_str(&l);
            seen.push('\n');
        }
        seen
    });
    (child, rest)
}

/// Sends `sig` to `child`.
fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// Waits for `child` at most `limit`; kills it and fails the test past that.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end while polling its peak resident memory (`VmHWM`); returns the
/// output and the largest peak seen, in KiB.
fn output_with_peak_rss(cmd: &mut Command, limit: Duration) -> (Output, u64) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let start = Instant::now();
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (out, peak_kib)
}
