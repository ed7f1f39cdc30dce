//! The runner against servers it did not write: what goes over the wire, verified policy
//! switching, `--launch`, and every failure kind counted as data.

use cpbench_core::arrival::ArrivalConfig;
use cpbench_core::config::{BenchmarkConfig, Mode};
use cpbench_core::lengths::LengthDist;
use cpbench_core::record::{Outcome, TokenSource};
use cpbench_core::report::{PolicySwitch, Report, ReportKind, RunParams};
use cpbench_core::request::Priority;
use cpbench_core::workload::{WorkloadData, generate};
use cpbench_tests::fake_server::{AdminMode, Behavior, FakeServer};
use sage_cp_bench::admin_token::AdminToken;
use sage_cp_bench::control::SwitchMode;
use sage_cp_bench::gpu::GpuMode;
use sage_cp_bench::runner::{BenchOptions, Step, Target, run_steps};
use sage_cp_bench::sender::Cancel;
use sage_cp_bench::telemetry::{Telemetry, TelemetryOptions, scrape_targets};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A small fast config: fixed lengths, high rate, no warmup.
fn config(n: u64, mode: Mode) -> BenchmarkConfig {
    let mut c = BenchmarkConfig::for_mode(mode);
    c.num_requests = n;
    c.request_rate = 500.0;
    c.arrival = ArrivalConfig::Constant;
    c.warmup_requests = 0;
    c.prompt_length = LengthDist::Fixed { value: 12 };
    c.output_length = LengthDist::Fixed { value: 5 };
    c.embedding_batch_sizes = vec![1, 3];
    c.model_distribution = BTreeMap::from([("fake-model".to_string(), 1.0)]);
    c.embedding_model = "fake-embed".into();
    c.timeout_s = 5.0;
    c
}

fn options(url: &str, switch: SwitchMode, dir: PathBuf) -> BenchOptions {
    BenchOptions {
        switch,
        output_dir: dir,
        drain: Duration::from_millis(200),
        launch_timeout: Duration::from_secs(20),
        max_connections: 64,
        ..BenchOptions::new(ReportKind::Compare, Target::Url(url.to_string()))
    }
}

fn steps(c: &BenchmarkConfig) -> Vec<Step> {
    let w = Arc::new(generate(c, &WorkloadData::none()).unwrap());
    c.policies
        .iter()
        .map(|p| Step {
            policy: p.clone(),
            params: RunParams::default(),
            config: c.clone(),
            workload: Arc::clone(&w),
        })
        .collect()
}

async fn bench(
    server: &FakeServer,
    c: &BenchmarkConfig,
    switch: SwitchMode,
) -> (Report, Option<anyhow::Error>) {
    let dir = std::env::temp_dir().join(format!("cpbench-runner-{}", std::process::id()));
    run_steps(
        &options(&server.url(), switch, dir),
        c,
        steps(c),
        &Cancel::default(),
    )
    .await
}

#[tokio::test]
async fn sends_headers_and_bodies_as_the_contract_says() {
    let server = FakeServer::start(Behavior {
        queue_time_ms: 3.5,
        ..Behavior::default()
    });
    let mut c = config(30, Mode::Hybrid);
    c.completions_ratio = 0.3;
    c.policies = vec!["priority".into()];
    let workload = generate(&c, &WorkloadData::none()).unwrap();
    let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
    assert!(err.is_none(), "{err:?}");
    let captured = server.captured();
    let inference: Vec<_> = captured
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .collect();
    assert_eq!(inference.len(), 30);
    for spec in &workload.requests {
        let req = inference
            .iter()
            .find(|r| {
                r.header("x-request-id")
                    .is_some_and(|id| id.ends_with(&format!("-{}", spec.id)))
            })
            .unwrap_or_else(|| panic!("request {} not received", spec.id));
        assert_eq!(
            req.header("x-request-priority"),
            Some(spec.priority.as_str())
        );
        assert_eq!(
            req.header("x-slo-deadline-ms"),
            Some(spec.slo_deadline_ms.to_string().as_str())
        );
        assert_eq!(req.header("x-request-type"), Some(spec.kind.as_str()));
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body = req.json().unwrap();
        let text = workload.text(spec);
        assert_eq!(body["model"], workload.model(spec));
        match spec.kind {
            cpbench_core::request::RequestKind::LlmChat => {
                assert_eq!(req.path, "/v1/chat/completions");
                assert_eq!(body["messages"][0]["content"], text.prompt.as_str());
                assert_eq!(body["max_tokens"], spec.max_tokens);
                assert_eq!(body["stream"], true);
                assert_eq!(body["stream_options"]["include_usage"], true);
                assert_eq!(body["ignore_eos"], true);
            }
            cpbench_core::request::RequestKind::LlmGenerate => {
                assert_eq!(req.path, "/v1/completions");
                assert_eq!(body["prompt"], text.prompt.as_str());
                assert_eq!(body["stream"], true);
            }
            cpbench_core::request::RequestKind::Embedding => {
                assert_eq!(req.path, "/v1/embeddings");
                assert_eq!(text.inputs.len(), spec.num_inputs() as usize);
                if text.inputs.len() == 1 {
                    assert_eq!(body["input"], text.inputs[0].as_str());
                } else {
                    assert_eq!(body["input"], serde_json::json!(text.inputs));
                }
            }
        }
    }
    let set = captured
        .iter()
        .find(|r| r.path == "/admin/set_policy")
        .unwrap();
    assert_eq!(set.json().unwrap()["policy"], "priority");
    let run = &report.runs[0];
    assert_eq!(run.policy_switch, PolicySwitch::Verified);
    assert_eq!(run.summary.requests_succeeded, 30);
    let records = run.sampled_records();
    assert_eq!(records.len(), 30);
    assert_eq!(run.by_instance["fake-0"].requests, 30);
    assert_eq!(run.load_imbalance, Some(1.0));
    for r in records {
        assert_eq!(r.backend_instance.as_deref(), Some("fake-0"));
        assert_eq!(r.queue_time_ms, Some(3.5));
        if r.kind.is_llm() {
            assert_eq!(
                (r.output_tokens, r.output_tokens_source),
                (5, TokenSource::Usage)
            );
            assert_eq!(r.chunks, 5);
            assert_eq!(r.itl_us.len(), 4);
            assert!(r.first_token_us.unwrap() <= r.end_us);
        }
    }
    assert!(run.control_plane.before.is_some() && run.control_plane.after.is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn without_usage_tokens_come_from_chunks_or_the_text() {
    for (per_chunk, source) in [(1, TokenSource::Chunks), (3, TokenSource::Estimated)] {
        let server = FakeServer::start(Behavior {
            send_usage: false,
            tokens_per_chunk: per_chunk,
            ..Behavior::default()
        });
        let mut c = config(8, Mode::Llm);
        c.policies = vec!["fifo".into()];
        c.output_length = LengthDist::Fixed { value: 6 };
        let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
        assert!(err.is_none(), "{err:?}");
        for r in report.runs[0].sampled_records() {
            assert_eq!(r.output_tokens_source, source, "{per_chunk} tokens a chunk");
            assert_eq!(r.input_tokens, None);
            if source == TokenSource::Chunks {
                assert_eq!(r.output_tokens, r.chunks);
            } else {
                // Six words in two chunks: counting chunks would say 2; the text says ~6.
                assert_eq!(r.chunks, 2);
                assert!((4..=9).contains(&r.output_tokens), "{r:?}");
            }
        }
        server.shutdown().await;
    }
}

#[tokio::test]
async fn compare_switches_and_verifies_each_policy() {
    let server = FakeServer::start(Behavior::default());
    let mut c = config(6, Mode::Llm);
    c.policies = vec!["fifo".into(), "slo_aware".into()];
    let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
    assert!(err.is_none(), "{err:?}");
    let switched: Vec<String> = server
        .captured()
        .iter()
        .filter(|r| r.path == "/admin/set_policy")
        .map(|r| r.json().unwrap()["policy"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(switched, vec!["fifo", "slo_aware"]);
    assert_eq!(report.runs.len(), 2);
    assert!(!report.partial);
    server.shutdown().await;
}

#[tokio::test]
async fn a_lying_control_plane_is_an_error() {
    let server = FakeServer::start(Behavior {
        admin: AdminMode::Lying,
        ..Behavior::default()
    });
    let mut c = config(4, Mode::Llm);
    c.policies = vec!["slo_aware".into()];
    let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
    let e = format!("{:#}", err.expect("the switch must fail"));
    assert!(e.contains("did not take effect"), "{e}");
    assert!(report.runs.is_empty());
    assert!(report.partial);
    server.shutdown().await;
}

#[tokio::test]
async fn a_missing_admin_api_is_an_error_naming_the_way_out() {
    let server = FakeServer::start(Behavior {
        admin: AdminMode::Missing,
        ..Behavior::default()
    });
    let mut c = config(4, Mode::Llm);
    c.policies = vec!["fifo".into()];
    let (_, err) = bench(&server, &c, SwitchMode::Admin).await;
    let e = format!("{:#}", err.expect("no admin API"));
    assert!(
        e.contains("--policy-switch none") && e.contains("--launch"),
        "{e}"
    );
    // With --policy-switch none the same server is measured, and the result says so.
    let (report, err) = bench(&server, &c, SwitchMode::None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(report.runs[0].policy_switch, PolicySwitch::NotSwitched);
    assert!(
        report.runs[0]
            .warnings
            .iter()
            .any(|w| w.contains("not switched"))
    );
    server.shutdown().await;
}

/// Runs one policy against a server with `behavior` and returns the errors by kind.
async fn errors_with(behavior: Behavior, timeout_s: f64) -> (BTreeMap<String, u64>, Vec<Outcome>) {
    let server = FakeServer::start(behavior);
    let mut c = config(20, Mode::Llm);
    c.policies = vec!["fifo".into()];
    c.timeout_s = timeout_s;
    let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
    assert!(err.is_none(), "{err:?}");
    server.shutdown().await;
    let run = &report.runs[0];
    let outcomes = run
        .sampled_records()
        .iter()
        .map(|r| r.outcome.clone())
        .collect();
    (run.summary.errors_by_kind.clone(), outcomes)
}

#[tokio::test]
async fn http_errors_are_counted_by_status() {
    for status in [500u16, 429, 503] {
        let (errors, outcomes) = errors_with(
            Behavior {
                fail_status: Some((status, 0.5)),
                ..Behavior::default()
            },
            5.0,
        )
        .await;
        let failed = outcomes.iter().filter(|o| !o.is_success()).count() as u64;
        assert!(failed > 0 && failed < 20, "{status}: {failed} failed");
        assert_eq!(errors, BTreeMap::from([(format!("http_{status}"), failed)]));
        assert!(outcomes.iter().all(|o| match o {
            Outcome::Http { status: s, message } => *s == status && !message.is_empty(),
            Outcome::Success => true,
            _ => false,
        }));
    }
}

#[tokio::test]
async fn broken_streams_malformed_chunks_and_in_stream_errors_are_counted() {
    let (errors, _) = errors_with(
        Behavior {
            break_stream_after: Some(2),
            ..Behavior::default()
        },
        5.0,
    )
    .await;
    assert_eq!(errors, BTreeMap::from([("stream_broken".to_string(), 20)]));
    let (errors, _) = errors_with(
        Behavior {
            malformed: true,
            ..Behavior::default()
        },
        5.0,
    )
    .await;
    assert_eq!(errors, BTreeMap::from([("malformed".to_string(), 20)]));
    let (errors, outcomes) = errors_with(
        Behavior {
            in_stream_error: true,
            ..Behavior::default()
        },
        5.0,
    )
    .await;
    assert_eq!(errors, BTreeMap::from([("stream_broken".to_string(), 20)]));
    assert!(
        matches!(&outcomes[0], Outcome::StreamBroken { message } if message.contains("error event"))
    );
}

#[tokio::test]
async fn stalled_requests_time_out() {
    let (errors, _) = errors_with(
        Behavior {
            stall: Some(Duration::from_secs(3)),
            ..Behavior::default()
        },
        0.3,
    )
    .await;
    assert_eq!(errors, BTreeMap::from([("timeout".to_string(), 20)]));
}

#[tokio::test]
async fn connection_refused_is_an_outcome_not_a_crash() {
    // A port nothing listens on: health check fails first, with an explanation.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let mut c = config(3, Mode::Llm);
    c.policies = vec!["fifo".into()];
    let dir = std::env::temp_dir();
    let (report, err) = run_steps(
        &options(&url, SwitchMode::None, dir),
        &c,
        steps(&c),
        &Cancel::default(),
    )
    .await;
    let e = format!("{:#}", err.unwrap());
    assert!(e.contains("is not ready") && e.contains("/health"), "{e}");
    assert!(report.runs.is_empty());
}

#[tokio::test]
async fn max_concurrency_waits_are_recorded_apart_from_lateness() {
    let server = FakeServer::start(Behavior {
        ttft_delay: Duration::from_millis(30),
        ..Behavior::default()
    });
    let mut c = config(10, Mode::Llm);
    c.policies = vec!["fifo".into()];
    c.max_concurrency = Some(1);
    let (report, err) = bench(&server, &c, SwitchMode::Admin).await;
    assert!(err.is_none(), "{err:?}");
    let records = report.runs[0].sampled_records();
    let waited = records
        .iter()
        .filter(|r| r.concurrency_wait_us > 20_000)
        .count();
    assert!(waited >= 5, "{waited} requests waited for a slot");
    // E2E includes the wait (measured from the intended time); lateness does not.
    for r in records {
        assert!(r.e2e_ms() * 1000.0 >= r.concurrency_wait_us as f64);
        assert!(r.lateness_ms() < 20.0, "lateness {} ms", r.lateness_ms());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn api_key_is_sent_and_never_written() {
    let server = FakeServer::start(Behavior::default());
    let mut c = config(3, Mode::Llm);
    c.policies = vec!["fifo".into()];
    let dir = std::env::temp_dir();
    let mut opts = options(&server.url(), SwitchMode::Admin, dir);
    opts.api_key = Some("sk-very-secret".into());
    let (report, err) = run_steps(&opts, &c, steps(&c), &Cancel::default()).await;
    assert!(err.is_none(), "{err:?}");
    let auth: Vec<_> = server
        .captured()
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        auth.iter()
            .all(|a| a.as_deref() == Some("Bearer sk-very-secret"))
    );
    assert!(!report.to_json_pretty().contains("sk-very-secret"));
    server.shutdown().await;
}

/// The admin token goes with every admin call and `/admin/metrics` poll, never with the
/// measured requests, health checks or scrapes of other endpoints, and never into the report.
#[tokio::test]
async fn admin_token_goes_with_admin_calls_only_and_is_never_written() {
    let server = FakeServer::start(Behavior::default());
    let mut c = config(20, Mode::Llm);
    c.request_rate = 50.0;
    c.policies = vec!["fifo".into(), "priority".into()];
    let dir = std::env::temp_dir();
    let mut opts = options(&server.url(), SwitchMode::Admin, dir);
    let secret = "adm-runner-5ecret";
    let token = AdminToken::new(secret).unwrap();
    opts.admin_token = Some(token.clone());
    opts.telemetry = Telemetry::open(&TelemetryOptions {
        gpu: GpuMode::Off,
        gpu_interval: Duration::from_millis(20),
        nvml_lib: None,
        poll_interval: Some(Duration::from_millis(50)),
        scrape: scrape_targets(&[format!("{}/metrics", server.url())]).unwrap(),
    })
    .unwrap()
    .with_admin_token(Some(token));
    let (report, err) = run_steps(&opts, &c, steps(&c), &Cancel::default()).await;
    assert!(err.is_none(), "{err:?}");
    let captured = server.captured();
    let bearer = format!("Bearer {secret}");
    let mut admin_paths = std::collections::BTreeSet::new();
    for r in &captured {
        let auth = r.header("authorization");
        if r.path.starts_with("/admin/") {
            assert_eq!(auth, Some(bearer.as_str()), "{} {}", r.method, r.path);
            admin_paths.insert(r.path.clone());
            if r.method == "POST" {
                assert_eq!(
                    r.header("content-type"),
                    Some("application/json"),
                    "{}",
                    r.path
                );
            }
        } else {
            assert_eq!(auth, None, "{} {}", r.method, r.path);
        }
    }
    for p in [
        "/admin/set_policy",
        "/admin/policy",
        "/admin/reset",
        "/admin/metrics",
    ] {
        assert!(admin_paths.contains(p), "{p} never called: {admin_paths:?}");
    }
    assert!(
        captured.iter().any(|r| r.path == "/metrics"),
        "never scraped"
    );
    assert!(captured.iter().any(|r| r.path.starts_with("/v1/")));
    for run in &report.runs {
        assert!(run.control_plane.before.is_some());
        assert!(
            !run.control_plane.samples.is_empty(),
            "no /admin/metrics polls"
        );
    }
    let json = report.to_json_pretty();
    assert!(!json.contains(secret));
    assert!(!format!("{opts:?}").contains(secret));
    server.shutdown().await;
}

#[tokio::test]
async fn launch_starts_one_control_plane_per_policy_and_keeps_its_log() {
    let dir = std::env::temp_dir().join(format!("cpbench-launch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = env!("CARGO_BIN_EXE_cpbench-fake-server");
    let template =
        format!("{bin} --mode sse --port {{port}} --admin missing --policies {{policy}}");
    let mut c = config(5, Mode::Llm);
    c.policies = vec!["fifo".into(), "priority".into()];
    let mut opts = options(
        "http://127.0.0.1:1",
        SwitchMode::Launch(
            sage_cp_bench::control::launch::LaunchTemplate::new(&template, None).unwrap(),
        ),
        dir.clone(),
    );
    opts.target = Target::Launched;
    let (report, err) = run_steps(&opts, &c, steps(&c), &Cancel::default()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(report.runs.len(), 2);
    assert_eq!(report.environment.control_plane_url, None);
    for run in &report.runs {
        assert_eq!(run.policy_switch, PolicySwitch::Launched);
        assert_eq!(run.summary.requests_succeeded, 5);
        let l = run.launch.as_ref().expect("the launch is recorded");
        assert!(
            l.command.contains(&format!("--policies {}", run.policy)),
            "{l:?}"
        );
        assert!(
            l.url.starts_with("http://127.0.0.1:")
                && l.command.contains(l.url.rsplit(':').next().unwrap())
        );
        assert!(std::path::Path::new(&l.log_path).exists());
    }
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("launch_") && n.ends_with(".log"))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let text: String = logs
        .iter()
        .map(|l| std::fs::read_to_string(dir.join(l)).unwrap())
        .collect();
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn priorities_reach_the_server_in_their_configured_mix() {
    let server = FakeServer::start(Behavior::default());
    let mut c = config(200, Mode::Llm);
    c.request_rate = 2000.0;
    c.policies = vec!["fifo".into()];
    c.priority_distribution = BTreeMap::from([(Priority::High, 1.0), (Priority::Low, 1.0)]);
    let (_, err) = bench(&server, &c, SwitchMode::Admin).await;
    assert!(err.is_none(), "{err:?}");
    let highs = server
        .captured()
        .iter()
        .filter(|r| r.header("x-request-priority") == Some("HIGH"))
        .count();
    assert!((70..=130).contains(&highs), "{highs} HIGH of 200");
    assert!(
        !server
            .captured()
            .iter()
            .any(|r| r.header("x-request-priority") == Some("NORMAL"))
    );
    server.shutdown().await;
}

/// Stopping ends sending: requests still waiting for a `--max-concurrency` slot are never
/// sent and are counted as unsent, not sent late or recorded as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_for_a_slot_when_stopped_are_never_sent() {
    use indicatif::ProgressBar;
    use sage_cp_bench::client::{Client, ClientOptions, Transport};
    use sage_cp_bench::feed::{Part, Schedule};
    use sage_cp_bench::sender::{SendOptions, send_open_loop};
    use std::time::Instant;

    let server = FakeServer::start(Behavior {
        ttft_delay: Duration::from_millis(150),
        ..Behavior::default()
    });
    let c = config(40, Mode::Llm);
    let workload = generate(&c, &WorkloadData::none()).unwrap();
    let client = Client::new(ClientOptions {
        base_url: server.url(),
        api_key: None,
        timeout: Duration::from_secs(5),
        stream: true,
        max_idle_connections: 8,
        max_response_bytes: 64 << 20,
        tokenizer: None,
        transport: Transport::Builtin,
        threads: 2,
    })
    .unwrap();
    let prepared = Schedule::new(Arc::new(workload), Part::Measured, "stop");
    let cancel = Cancel::default();
    let opts = SendOptions {
        max_concurrency: Some(1),
        grace: Duration::from_secs(2),
        ..SendOptions::default()
    };
    let started = Instant::now();
    let stopper = {
        let stop = cancel.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            stop.cancel();
        })
    };
    let res = send_open_loop(&client, prepared, &opts, &cancel, &ProgressBar::hidden()).await;
    stopper.await.unwrap();
    assert!(res.interrupted);
    assert_eq!(
        res.records.len() + res.unsent,
        40,
        "every request accounted for once"
    );
    // One request at a time, 150 ms each: two were under way by the stop, none after it.
    assert!(
        (1..=3).contains(&res.records.len()),
        "{} sent",
        res.records.len()
    );
    for r in &res.records {
        assert!(r.outcome.is_success(), "{:?}", r.outcome);
        assert!(
            r.sent_us < 300_000,
            "request {} sent at {} µs, after the stop",
            r.id,
            r.sent_us
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the waiting requests ended at the stop, not after the grace period"
    );
}
