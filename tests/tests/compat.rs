//! Servers and routers we did not write, as a new user meets them: the command line run
//! in-process (`commands::run`, exactly what the binary does) against fake servers that behave
//! like the main server families.

use cpbench_core::record::TokenSource;
use cpbench_core::report::Report;
use cpbench_tests::fake_server::{AdminMode, Behavior, FakeServer};
use sage_cp_bench::cli::Cli;
use sage_cp_bench::commands;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fake server on its own runtime for the duration of `f`.
fn with_server<T>(b: Behavior, f: impl FnOnce(&FakeServer) -> T) -> T {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async { FakeServer::start(b) });
    let out = f(&server);
    rt.block_on(server.shutdown());
    out
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpbench-compat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs a command line in-process; the exit code (2 for a usage error, 1 for another error,
/// as `main` maps them) and the error's text.
fn run(args: &[&str]) -> (i32, String) {
    let cli = Cli::try_parse_args(std::iter::once("sage-cp-bench").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match commands::run(cli) {
        Ok(code) => (code, String::new()),
        Err(e) => {
            let code = if e.downcast_ref::<commands::UsageError>().is_some() {
                2
            } else {
                1
            };
            (code, format!("{e:#}"))
        }
    }
}

fn report_in(dir: &Path) -> Report {
    let path = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("report_"))
                && p.extension().is_some_and(|e| e == "json")
        })
        .expect("a result file");
    Report::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `run` against `url` with a short workload, the policy left as the server runs it.
fn bench(url: &str, dir: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "run",
        "-c",
        url,
        "--policy-switch",
        "none",
        "-p",
        "as-deployed",
        "-n",
        "12",
        "-r",
        "40",
        "-w",
        "0",
        "-q",
        "--no-visualize",
        "--format",
        "json",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_vllm_style_server_out_of_the_box() {
    // usage in the stream, a role chunk first, one token a chunk: the counts are the server's.
    with_server(
        Behavior {
            mode: cpbench_tests::fake_server::Mode::Sse,
            ..Behavior::default()
        },
        |s| {
            let dir = out_dir("vllm");
            let (code, err) = bench(&s.url(), &dir, &[]);
            assert_eq!(code, 0, "{err}");
            let r = report_in(&dir);
            let run = &r.runs[0];
            assert_eq!(run.summary.requests_succeeded, 12);
            // No model was chosen and the server does not serve the defaults: its own is sent.
            assert!(
                run.by_model.contains_key("fake-model"),
                "{:?}",
                run.by_model.keys()
            );
            assert!(
                r.environment
                    .notes
                    .iter()
                    .any(|n| n.contains("the models the control plane serves (fake-model)")),
                "{:?}",
                r.environment.notes
            );
            let recs = run.sampled_records();
            assert!(
                recs.iter()
                    .all(|x| x.output_tokens_source == TokenSource::Usage)
            );
            assert!(recs.iter().all(|x| x.output_tokens == x.max_tokens));
        },
    );
}

#[test]
fn no_usage_and_several_tokens_a_chunk_are_estimated_and_said_so() {
    with_server(
        Behavior {
            send_usage: false,
            tokens_per_chunk: 4,
            ..Behavior::default()
        },
        |s| {
            let dir = out_dir("multi");
            let (code, err) = bench(&s.url(), &dir, &[]);
            assert_eq!(code, 0, "{err}");
            let run = &report_in(&dir).runs[0];
            let recs = run.sampled_records();
            assert!(
                recs.iter()
                    .all(|x| x.output_tokens_source == TokenSource::Estimated)
            );
            assert_eq!(
                run.summary.output_tokens_estimated, run.summary.requests_succeeded,
                "the summary says how many requests' output tokens are estimates"
            );
            // Four words a chunk, not one: the estimate is near the real count, chunks are not.
            let (got, asked): (u32, u32) = recs
                .iter()
                .fold((0, 0), |(g, a), x| (g + x.output_tokens, a + x.max_tokens));
            let ratio = f64::from(got) / f64::from(asked);
            assert!((0.7..1.4).contains(&ratio), "estimated {got} of {asked}");
            assert!(
                run.warnings.iter().any(|w| w.contains("--tokenizer")),
                "{:?}",
                run.warnings
            );

            // With the model's tokenizer: exact counts (the fake's words are its tokens).
            let tok = dir.join("tokenizer.json");
            std::fs::write(
                &tok,
                r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
                    "pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,"decoder":null,
                    "model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#,
            )
            .unwrap();
            let dir2 = out_dir("tokenizer");
            let (code, err) = bench(&s.url(), &dir2, &["--tokenizer", tok.to_str().unwrap()]);
            assert_eq!(code, 0, "{err}");
            let run = &report_in(&dir2).runs[0];
            let recs = run.sampled_records();
            assert!(
                recs.iter()
                    .all(|x| x.output_tokens_source == TokenSource::Tokenizer)
            );
            assert!(
                recs.iter().all(|x| x.output_tokens == x.max_tokens),
                "{recs:?}"
            );
            assert_eq!(run.summary.output_tokens_estimated, 0);
            assert!(!run.warnings.iter().any(|w| w.contains("--tokenizer")));
            let (code, err) = bench(&s.url(), &dir2, &["--tokenizer", "/nonexistent.json"]);
            assert_eq!(code, 2);
            assert!(err.starts_with("--tokenizer"), "{err}");
        },
    );
}

#[test]
fn a_server_without_health_and_a_v1_base_url() {
    with_server(
        Behavior {
            serve_health: false,
            ..Behavior::default()
        },
        |s| {
            let dir = out_dir("nohealth");
            let url = format!("{}/v1", s.url());
            let (code, err) = bench(&url, &dir, &[]);
            assert_eq!(code, 0, "{err}");
            let r = report_in(&dir);
            assert_eq!(r.runs[0].summary.requests_succeeded, 12);
            assert_eq!(
                r.environment.control_plane_url.as_deref(),
                Some(s.url().as_str())
            );
            let paths: Vec<String> = s.captured().into_iter().map(|c| c.path).collect();
            assert!(
                paths.iter().any(|p| p == "/v1/chat/completions"),
                "{paths:?}"
            );
            assert!(!paths.iter().any(|p| p.starts_with("/v1/v1")), "{paths:?}");
            assert!(paths.iter().any(|p| p == "/v1/models"), "{paths:?}");

            // Asked for /health only: the error names the URL asked and what it answered.
            let start = Instant::now();
            let (code, err) = bench(&url, &dir, &["--health-path", "/health"]);
            assert_eq!(code, 1);
            assert!(
                err.contains(&format!("GET {}/health answered 404", s.url())),
                "{err}"
            );
            assert!(start.elapsed() < Duration::from_secs(30));
            let (code, err) = bench(&url, &dir, &["--health-path", "none"]);
            assert_eq!(code, 0, "{err}");
        },
    );
}

#[test]
fn a_server_that_ignores_max_tokens_is_reported() {
    with_server(
        Behavior {
            honor_max_tokens: false,
            chunks: 3,
            ..Behavior::default()
        },
        |s| {
            let dir = out_dir("maxtokens");
            let (code, err) = bench(&s.url(), &dir, &["--model", "fake-model"]);
            assert_eq!(code, 0, "{err}");
            let run = &report_in(&dir).runs[0];
            assert!(
                run.warnings
                    .iter()
                    .any(|w| w.contains("of the output tokens the workload asked for")),
                "{:?}",
                run.warnings
            );
        },
    );
}

#[test]
fn a_model_the_server_does_not_serve_is_an_error_before_sending() {
    with_server(Behavior::default(), |s| {
        let dir = out_dir("model");
        let (code, err) = bench(&s.url(), &dir, &["--model", "gpt-7"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("gpt-7") && err.contains("fake-model"), "{err}");
        assert!(
            !s.captured()
                .iter()
                .any(|c| c.path.ends_with("/completions")),
            "nothing was sent"
        );
    });
}

#[test]
fn without_reset_the_next_run_waits_only_for_idle_queues() {
    with_server(
        Behavior {
            admin: AdminMode::NoReset,
            ..Behavior::default()
        },
        |s| {
            let dir = out_dir("noreset");
            let url = s.url();
            let start = Instant::now();
            let (code, err) = run(&[
                "compare",
                "-c",
                &url,
                "-p",
                "fifo,priority",
                "-n",
                "8",
                "-r",
                "40",
                "-w",
                "0",
                "-q",
                "--no-visualize",
                "--format",
                "json",
                "-o",
                dir.to_str().unwrap(),
            ]);
            assert_eq!(code, 0, "{err}");
            // The default --drain is 10 s: none of it was spent.
            assert!(
                start.elapsed() < Duration::from_secs(8),
                "{:?}",
                start.elapsed()
            );
            let r = report_in(&dir);
            assert!(
                r.runs[0]
                    .notes
                    .iter()
                    .any(|n| n.contains("the first run starts at once")),
                "{:?}",
                r.runs[0].notes
            );
            assert!(
                r.runs[1]
                    .notes
                    .iter()
                    .any(|n| n.contains("showed empty queues")),
                "{:?}",
                r.runs[1].notes
            );
        },
    );
}

#[test]
fn a_launched_router_that_never_becomes_healthy_is_stopped() {
    let dir = out_dir("launch");
    // A unique marker in the child's command line, to look for it afterwards.
    let marker = format!("31.{}", std::process::id());
    let cmd = format!("sleep {marker} # {{policy}} {{port}}");
    let start = Instant::now();
    let (code, err) = run(&[
        "compare",
        "--launch",
        &cmd,
        "--launch-timeout",
        "1",
        "-p",
        "a,b",
        "-n",
        "4",
        "-w",
        "0",
        "-q",
        "--no-visualize",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("was not ready within 1 s") && err.contains("stopped"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    // The child (sh and its sleep) is gone.
    std::thread::sleep(Duration::from_millis(300));
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
}

/// `compare` of two policies against `url`, with `extra` flags.
fn compare(url: &str, dir: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "compare",
        "-c",
        url,
        "-p",
        "fifo,priority",
        "-n",
        "6",
        "-r",
        "40",
        "-w",
        "0",
        "-q",
        "--no-visualize",
        "--format",
        "json",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn reset_urls_are_posted_before_each_run_and_recorded() {
    with_server(Behavior::default(), |s| {
        let reset = format!("{}/reset_prefix_cache", s.url());
        let flush = format!("{}/flush_cache", s.url());
        let dir = out_dir("reset");
        let (code, err) = compare(
            &s.url(),
            &dir,
            &["--reset-url", &reset, "--reset-url", &flush],
        );
        assert_eq!(code, 0, "{err}");
        let captured = s.captured();
        let calls: Vec<_> = captured
            .iter()
            .filter(|c| c.path == "/reset_prefix_cache" || c.path == "/flush_cache")
            .collect();
        let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/reset_prefix_cache",
                "/flush_cache",
                "/reset_prefix_cache",
                "/flush_cache"
            ]
        );
        for c in &calls {
            assert_eq!(c.method, "POST");
            assert_eq!(c.header("content-type"), Some("application/json"));
            assert_eq!(&c.body[..], b"{}");
        }
        // Each pair comes before its run's requests: the second pair after the first run's.
        let first_inference = captured
            .iter()
            .position(|c| c.path.starts_with("/v1/chat"))
            .unwrap();
        let second_reset = captured
            .iter()
            .rposition(|c| c.path == "/reset_prefix_cache")
            .unwrap();
        assert!(first_inference < second_reset);
        let r = report_in(&dir);
        assert_eq!(r.runs.len(), 2);
        for run in &r.runs {
            for url in [&reset, &flush] {
                let note = format!("POST {url} (--reset-url) answered 200 OK");
                assert!(
                    run.notes.iter().any(|n| n.contains(&note)),
                    "{:?}",
                    run.notes
                );
            }
            assert!(!run.warnings.iter().any(|w| w.contains("--reset-url")));
        }

        // Without one, the second run warns that the first one's warm cache may favour it.
        let dir = out_dir("noreset");
        let (code, err) = compare(&s.url(), &dir, &[]);
        assert_eq!(code, 0, "{err}");
        let r = report_in(&dir);
        assert!(!r.runs[0].warnings.iter().any(|w| w.contains("--reset-url")));
        assert!(
            r.runs[1]
                .warnings
                .iter()
                .any(|w| w.starts_with("no --reset-url")),
            "{:?}",
            r.runs[1].warnings
        );

        // A reset that fails fails the run: exit code 1, the URL and the status named.
        let bad = format!("{}/no_such_reset", s.url());
        let dir = out_dir("badreset");
        let (code, err) = compare(&s.url(), &dir, &["--reset-url", &bad]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&bad) && err.contains("404"), "{err}");
        let (code, err) = compare(
            &s.url(),
            &dir,
            &["--reset-url", "http://127.0.0.1:9/reset_prefix_cache"],
        );
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("127.0.0.1:9") && err.contains("no answer"),
            "{err}"
        );
        let (code, err) = compare(&s.url(), &dir, &["--reset-url", "localhost/reset"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.starts_with("--reset-url"), "{err}");
    });
}
