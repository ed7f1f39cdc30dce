//! `sage-cp-bench serve` as a user runs it: requests that used to amplify keep the process
//! small, the admin token (`--admin-token`, `SAGE_ADMIN_TOKEN`) guards the admin API and the
//! runner sends it without ever writing it out, and a server reachable from other machines
//! without a token says so.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "adm-5f0e2c8d4b71";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"));
    c.env_remove("SAGE_CONTROL_PLANE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("SAGE_ADMIN_TOKEN")
        .env_remove("SAGE_LOG_LEVEL")
        .env_remove("RUST_LOG");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `serve` child: its URL, and its stderr lines as they come. Killed when dropped.
struct Served {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = bin();
        cmd.arg("serve")
            .args(["--port", "0", "--cluster", "tiny"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Self {
            child,
            url: String::new(),
            lines,
            seen: Vec::new(),
        };
        let line = s
            .next_line(Duration::from_secs(30))
            .expect("serve says where it listens");
        let at = line.find("http://").expect(&line);
        s.url = line[at..].split_whitespace().next().unwrap().to_string();
        s
    }

    fn next_line(&mut self, wait: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(wait).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Everything it wrote on stderr within `wait` (and before).
    fn stderr(&mut self, wait: Duration) -> String {
        while self.next_line(wait).is_some() {}
        self.seen.join("\n")
    }

    /// Peak resident memory of the process, in bytes (`VmHWM`).
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(url: &str, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.args([
        "run",
        "--control-plane",
        url,
        "--model",
        "tiny-llm",
        "--requests",
        "12",
        "--rate",
        "40",
        "--warmup",
        "2",
        "--cp-metrics-interval",
        "0.05",
        "-o",
    ])
    .arg(dir)
    .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Every file under `dir`, read whole.
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            let mut bytes = Vec::new();
            std::fs::File::open(&p)
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            out.push((p, bytes));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_admin_token_guards_the_server_and_the_runner_sends_it_without_writing_it() {
    let mut served = Served::start(&[], &[("SAGE_ADMIN_TOKEN", TOKEN)]);
    let url = served.url.clone();

    // Without the token the policy cannot be switched: the run stops and says why.
    let dir = temp_dir("no-token");
    let out = run(&url, &dir, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("401") && err.contains("--admin-token"),
        "{err}"
    );

    // With it (flag), every log line the HTTP stacks can write included.
    let dir = temp_dir("token-flag");
    let out = run(
        &url,
        &dir,
        &["--admin-token", TOKEN],
        &[("RUST_LOG", "trace")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!contains(&out.stdout, TOKEN) && !contains(&out.stderr, TOKEN));
    assert!(
        text(&out.stderr).contains("/admin/set_policy"),
        "the trace shows the admin calls"
    );
    let files = files_in(&dir);
    assert!(files.len() >= 2, "{files:?}");
    for (path, bytes) in &files {
        assert!(
            !contains(bytes, TOKEN),
            "the token is in {}",
            path.display()
        );
    }
    let (_, report) = files
        .iter()
        .find(|(p, _)| p.extension().is_some_and(|e| e == "json"))
        .expect("a result file");
    let report: Value = serde_json::from_slice(report).unwrap();
    let run0 = &report["runs"][0];
    assert_eq!(
        run0["summary"]["requests_succeeded"], 12,
        "{}",
        run0["summary"]
    );
    assert!(
        run0["control_plane"]["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "the /admin/metrics poller got nothing"
    );

    // With it from the environment.
    let dir = temp_dir("token-env");
    let out = run(&url, &dir, &[], &[("SAGE_ADMIN_TOKEN", TOKEN)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!served.stderr(Duration::from_millis(200)).contains(TOKEN));
}

#[test]
fn a_bad_admin_token_is_a_usage_error_that_does_not_repeat_it() {
    let out = bin()
        .args(["serve", "--port", "0", "--admin-token", "two words"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--admin-token") && !err.contains("two words"),
        "{err}"
    );
    let dir = temp_dir("bad-token");
    let out = run("http://127.0.0.1:9", &dir, &[], &[("SAGE_ADMIN_TOKEN", "")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("SAGE_ADMIN_TOKEN") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn listening_beyond_loopback_without_a_token_warns() {
    let mut open = Served::start(&["--host", "0.0.0.0"], &[]);
    let err = open.stderr(Duration::from_millis(500));
    assert!(
        err.contains("warning")
            && err.contains("--admin-token")
            && err.contains("SAGE_ADMIN_TOKEN"),
        "{err}"
    );
    let mut guarded = Served::start(&["--host", "0.0.0.0", "--admin-token", TOKEN], &[]);
    let err = guarded.stderr(Duration::from_millis(500));
    assert!(!err.contains("warning") && !err.contains(TOKEN), "{err}");
    let mut local = Served::start(&[], &[]);
    let err = local.stderr(Duration::from_millis(500));
    assert!(!err.contains("warning"), "{err}");
}

/// The requests of the report (an embeddings request of 75 KB asking for many dimensions
/// answered 438 MB and left the server at 2.9 GB; 300 KB killed a 3 GB-capped one) are
/// refused, and the largest answers accepted, several at once, keep the server small.
#[test]
fn requests_that_used_to_amplify_keep_the_server_small() {
    let served = Served::start(&[], &[]);
    let url = format!("{}/v1/embeddings", served.url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        for (n, dims) in [(2_500, 4096), (30_000, 4096), (30_000, 64)] {
            let inputs: Vec<String> = (0..n).map(|i| format!("w{i:05}")).collect();
            let body = json!({"model": "tiny-embed", "input": inputs, "dimensions": dims});
            let resp = c.post(&url).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 400, "{n} inputs of {dims}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], "limit_exceeded", "{v}");
        }
        // The largest accepted answer (4 million numbers), four at once.
        let inputs: Vec<String> = (0..1000).map(|i| format!("input {i}")).collect();
        let body = json!({"model": "tiny-embed", "input": inputs, "dimensions": 4000});
        let answers = futures_util::future::join_all((0..4).map(|_| async {
            let resp = c.post(&url).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap().len()
        }))
        .await;
        for len in answers {
            assert!((30 << 20..=64 << 20).contains(&len), "{len} bytes");
        }
        // Bodies near the limit of long arrays are read without a JSON value per element:
        // 4 million token ids (8 MB), and as many one-letter embedding inputs.
        let ids = vec![1u8; 4_000_000];
        let body = json!({"model": "tiny-llm", "prompt": ids, "max_tokens": 1});
        let resp = c
            .post(format!("{}/v1/completions", served.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            400,
            "larger than the tiny cluster's KV cache"
        );
        let inputs = vec!["a"; 2_000_000];
        let resp = c
            .post(&url)
            .json(&json!({"model": "tiny-embed", "input": inputs}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
    });
    let peak = served.peak_rss();
    // Four answers of ~45 MB each went out and 8 MB bodies came in; the server never held an
    // answer whole, nor a body as JSON values (which took 18 times the body).
    assert!(peak < 80 << 20, "peak RSS {} MiB", peak >> 20);
}
