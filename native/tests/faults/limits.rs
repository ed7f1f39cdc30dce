//! Values that would crash, hang or exhaust memory are refused up front, and the waits that
//! remain are bounded.

use super::server::{Reply, Server, completion};
use super::*;

/// Huge, infinite or NaN durations and zero connections: exit 2, the message naming the
/// flag or field, before anything runs.
#[test]
fn huge_or_invalid_durations_are_usage_errors_naming_the_flag() {
    let dir = temp_dir("durations");
    let cases: [(&[&str], &str); 7] = [
        (&["-t", "1e20"], "timeout_s"),
        (&["--drain", "1e300"], "--drain"),
        (&["--drain", "NaN"], "--drain"),
        (&["--drain", "inf"], "--drain"),
        (&["--launch-timeout", "1e300"], "--launch-timeout"),
        (&["--cp-metrics-interval", "1e300"], "--cp-metrics-interval"),
        (&["--connections", "0"], "--connections"),
    ];
    for (args, named) in cases {
        let out = output(
            bin()
                .args(["run", "-n", "20", "--cluster", "tiny", "-q", "-o"])
                .arg(&dir)
                .args(args),
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let e = text(&out.stderr);
        assert!(e.contains(named), "{args:?} must name {named}: {e}");
    }
    // A config file's timeout, through run and through validate.
    let config = dir.join("timeout.yaml");
    std::fs::write(&config, "timeout_s: 1e300\nnum_requests: 20\n").unwrap();
    let out = output(bin().arg("validate").arg(&config));
    assert_code(&out, 2);
    assert!(
        text(&out.stdout).contains("timeout_s"),
        "{}",
        text(&out.stdout)
    );
    let out = output(
        bin()
            .args(["run", "--cluster", "tiny", "-q", "--config"])
            .arg(&config)
            .arg("-o")
            .arg(&dir),
    );
    assert_code(&out, 2);
    assert!(
        text(&out.stderr).contains("timeout_s"),
        "{}",
        text(&out.stderr)
    );
    assert!(reports_in(&dir).is_empty(), "nothing ran");
}

/// Ten billion requests are refused at once, before a workload is generated: run, simulate
/// and validate exit 2 naming num_requests, each within a few seconds.
#[test]
fn ten_billion_requests_are_refused_at_once() {
    let dir = temp_dir("num-requests");
    let config = dir.join("huge.yaml");
    std::fs::write(&config, "num_requests: 10000000000\n").unwrap();
    let mut commands: Vec<(&str, Command)> = Vec::new();
    let mut run = bin();
    run.args(["run", "-n", "10000000000", "--cluster", "tiny", "-q", "-o"])
        .arg(&dir);
    commands.push(("run -n", run));
    let mut sim = bin();
    sim.args(["simulate", "-n", "10000000000", "-q", "-o"])
        .arg(&dir);
    commands.push(("simulate -n", sim));
    let mut from_file = bin();
    from_file
        .args(["run", "--cluster", "tiny", "-q", "--config"])
        .arg(&config)
        .arg("-o")
        .arg(&dir);
    commands.push(("run --config", from_file));
    let mut validate = bin();
    validate.arg("validate").arg(&config);
    commands.push(("validate", validate));
    for (what, mut cmd) in commands {
        let start = Instant::now();
        let out = output(&mut cmd);
        let took = start.elapsed();
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out.stderr));
        let msg = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(msg.contains("num_requests"), "{what}: {msg}");
        assert!(
            took < Duration::from_secs(5),
            "{what} took {took:?}: was the workload generated?"
        );
    }
    assert!(reports_in(&dir).is_empty(), "nothing ran");
}

/// With one connection and a server that holds every response 3 s, a burst of 20 requests
/// with a 1 s timeout ends about a second after it was sent: a request waiting for a
/// connection waits no longer than its timeout, and is recorded as a timeout.
#[test]
fn waiting_for_a_connection_is_bounded_by_the_timeout() {
    let server = Server::start(|_| {
        Reply::raw(|s| {
            std::thread::sleep(Duration::from_secs(3));
            let body = completion().to_string();
            let _ = std::io::Write::write_all(
                s,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        })
    });
    let dir = temp_dir("connection-wait");
    let start = Instant::now();
    let out = output(&mut scripted_run(
        &server.url,
        &dir,
        &[
            "-n",
            "20",
            "-r",
            "1000",
            "--arrival",
            "constant",
            "--no-stream",
            "--connections",
            "1",
            "-t",
            "1",
        ],
    ));
    let took = start.elapsed();
    eprintln!(
        "20 requests on 1 connection: ended after {took:?}, {} reached the server",
        server.generation_requests()
    );
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("timeout: 20"),
        "{}",
        text(&out.stderr)
    );
    // Unbounded waits would take 20 x 1 s at least.
    assert!(took < Duration::from_secs(12), "the run took {took:?}");
    let r = only_report(&dir);
    let run = &r.runs[0];
    assert_eq!(run.summary.errors_by_kind.get("timeout"), Some(&20));
    for rec in run.sampled_records() {
        let waited = rec.end_us.saturating_sub(rec.intended_us);
        assert!(
            waited < 4_000_000,
            "request {} ended {waited} µs after its intended time",
            rec.id
        );
    }
    assert!(
        server.generation_requests() <= 5,
        "the waiting requests timed out unsent: {} reached the server",
        server.generation_requests()
    );
}
