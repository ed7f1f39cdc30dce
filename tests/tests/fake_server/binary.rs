//! The `cpbench-fake-server` binary: its URL line, flags, signals and exit.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_string();
    (child, url)
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the fake server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn prints_its_url_serves_and_exits_when_stdin_closes() {
    let (mut child, url) = spawn(&["--mode", "sse", "--chunks", "3", "--port", "0"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let raw = http()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}],
            "stream_options": {"include_usage": true}}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let ev = decode(&raw);
    assert_eq!(ev.len(), 1 + 3 + 1 + 1 + 1);
    drop(child.stdin.take());
    assert!(wait_exit(&mut child).success());
}

#[tokio::test]
async fn flags_set_faults_and_admin_mode() {
    let (mut child, url) = spawn(&[
        "--fail-status",
        "503:1",
        "--admin",
        "missing",
        "--threads",
        "2",
    ]);
    let c = http();
    let r = c
        .post(format!("{url}/v1/completions"))
        .json(&json!({"prompt": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = c.get(format!("{url}/admin/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn exits_cleanly_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let (mut child, url) = spawn(&[]);
        assert_eq!(
            http()
                .get(format!("{url}/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(wait_exit(&mut child).success(), "{signal}");
    }
}

#[test]
fn bad_flags_are_refused_with_the_flag_and_what_is_accepted() {
    let out = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
        .args(["--fail-status", "700:0.1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--fail-status") && err.contains("700:0.1"),
        "{err}"
    );
    assert!(err.contains("400 to 599"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
        .args(["--policies", ""])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--policies"), "{err}");
    assert!(out.stdout.is_empty());
}
