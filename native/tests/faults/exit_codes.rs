//! Exit codes: 2 for bad usage or configuration, 1 for a failed run (every request failed, or
//! more than `--max-error-rate`), with the results written and the reason on stderr.

use super::server::{Reply, Server, completion};
use super::*;

/// Which generation requests (by arrival, from 0) a server fails.
type Fails = fn(usize) -> bool;

/// A server that answers generation request `i` with 500 when `fails(i)`, else a completion.
fn failing_server(fails: Fails) -> Server {
    Server::start(move |req| {
        if fails(req.index) {
            Reply::json(
                500,
                &serde_json::json!({"error": {"message": "scripted failure"}}),
            )
        } else {
            Reply::json(200, &completion())
        }
    })
}

/// Every measured request failing is a failed run: exit 1, the reason on stderr, and the
/// results written all the same.
#[test]
fn a_run_whose_every_request_failed_exits_1_with_its_results() {
    let server = failing_server(|_| true);
    let dir = temp_dir("all-500");
    let out = output(&mut scripted_run(
        &server.url,
        &dir,
        &["-n", "10", "-r", "50", "--no-stream"],
    ));
    assert_code(&out, 1);
    let e = text(&out.stderr);
    assert!(
        e.contains("every one of the 10 measured requests") && e.contains("http_500: 10"),
        "{e}"
    );
    assert!(e.contains("the result files were written"), "{e}");
    let run = &only_report(&dir).runs[0];
    assert_eq!(run.summary.errors_by_kind.get("http_500"), Some(&10));
    assert_eq!(server.generation_requests(), 10);

    // A model the embedded control plane does not serve, with no warmup to catch it first.
    let dir = temp_dir("wrong-model");
    let out = output(
        bin()
            .args([
                "run",
                "-n",
                "5",
                "-r",
                "20",
                "-w",
                "0",
                "--model",
                "no-such-model",
            ])
            .args(["--cluster", "tiny", "-q", "--no-visualize", "-o"])
            .arg(&dir),
    );
    assert_code(&out, 1);
    let e = text(&out.stderr);
    assert!(
        e.contains("every one of the 5") && e.contains("http_404"),
        "{e}"
    );
    assert!(
        e.contains("--model"),
        "the message points at the model names: {e}"
    );
    let run = &only_report(&dir).runs[0];
    assert_eq!(run.summary.requests_failed, 5);
}

/// `--max-error-rate 0.1`: 50 % failed requests exit 1 (saying the rate and the limit),
/// 5 % exit 0; the results are written either way.
#[test]
fn max_error_rate_decides_the_exit_code() {
    let cases: [(Fails, i32, u64); 2] = [(|i| i % 2 == 0, 1, 10), (|i| i % 20 == 0, 0, 1)];
    for (fails, code, failed) in cases {
        let server = failing_server(fails);
        let dir = temp_dir(&format!("max-error-rate-{code}"));
        let out = output(&mut scripted_run(
            &server.url,
            &dir,
            &[
                "-n",
                "20",
                "-r",
                "50",
                "--no-stream",
                "--max-error-rate",
                "0.1",
            ],
        ));
        assert_code(&out, code);
        let run = &only_report(&dir).runs[0];
        assert_eq!(run.summary.requests_failed, failed);
        let e = text(&out.stderr);
        if code == 1 {
            assert!(
                e.contains("50.00 % of the requests failed") && e.contains("--max-error-rate 10 %"),
                "{e}"
            );
        } else {
            assert!(!e.contains("Error"), "{e}");
        }
    }
}

/// Bad usage is exit 2 with a message naming what is wrong, before anything runs.
#[test]
fn bad_usage_exits_2_naming_what_is_wrong() {
    let dir = temp_dir("usage");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "request_rate: -5\n").unwrap();
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["run", "-c", "not a url"], "--control-plane"),
        (vec!["run", "--launch", "server --port {port}"], "{policy}"),
        (
            vec!["run", "--launch", "server --policy {policy}"],
            "{port}",
        ),
    ];
    for (args, named) in cases {
        let out = output(bin().args(&args).args(["-q", "-o"]).arg(&dir));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let e = text(&out.stderr);
        assert!(e.contains(named), "{args:?} must name {named}: {e}");
    }
    let out = output(bin().arg("validate").arg(&bad));
    assert_code(&out, 2);
    assert!(
        text(&out.stdout).contains("request_rate"),
        "{}",
        text(&out.stdout)
    );
    assert!(reports_in(&dir).is_empty(), "nothing ran");
}

/// The README's exit codes say what the binary does.
#[test]
fn the_readme_states_the_exit_codes() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme.find("Exit codes:").expect("an Exit codes line");
    let para = &readme[start..];
    let para = &para[..para.find("\n\n").unwrap_or(para.len())];
    for needle in [
        "2 bad usage or",
        "1 a run failed",
        "every",
        "--max-error-rate",
        "128 + the signal",
        "130",
        "143",
        "129",
    ] {
        assert!(para.contains(needle), "{needle:?} missing from:\n{para}");
    }
}
