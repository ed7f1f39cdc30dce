use super::*;
use crate::cli::{Cli, Command};
use crate::gpu::GpuMode;
use cpbench_core::request::Priority;

/// The plan of a command line (without the program name).
fn plan(args: &[&str]) -> Result<Plan> {
    let cli = Cli::try_parse_args(std::iter::once("sage-cp-bench").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    match &cli.command {
        Command::Run(a) => resolve(Request::Run(a)),
        Command::Compare(a) => resolve(Request::Compare(a)),
        Command::Sweep(a) => resolve(Request::Sweep(a)),
        Command::Experiment(a) => resolve(Request::Experiment(a)),
        Command::Simulate(a) => resolve(Request::Simulate(a)),
        other => panic!("not a benchmarking command: {other:?}"),
    }
}

/// The usage error of a command line, as text.
fn usage_error(args: &[&str]) -> String {
    let e = plan(args).expect_err("a usage error");
    assert!(
        e.downcast_ref::<UsageError>().is_some(),
        "{args:?}: not a usage error: {e:#}"
    );
    format!("{e:#}")
}

fn http(p: &Plan) -> &HttpPlan {
    match &p.execution {
        Execution::Http(h) => h,
        Execution::Simulated(_) => panic!("simulated"),
    }
}

#[test]
fn flags_override_defaults_and_errors_name_the_flag() {
    let p = plan(&[
        "compare",
        "-n",
        "20",
        "-r",
        "5",
        "--seed",
        "7",
        "--priority-mix",
        "HIGH=1,low=3",
        "--llm-slo-ms",
        "100,200,300",
        "-p",
        "fifo, priority",
    ])
    .unwrap();
    assert_eq!(p.config.num_requests, 20);
    assert_eq!(p.config.seed, 7);
    assert_eq!(p.config.policies, vec!["fifo", "priority"]);
    assert_eq!(
        p.config.priority_distribution.get(&Priority::Low),
        Some(&3.0)
    );
    assert_eq!(p.config.slo.llm_deadline_ms.normal, 200);
    assert_eq!(p.steps.len(), 2);
    assert!(Arc::ptr_eq(&p.steps[0].workload, &p.steps[1].workload));

    assert!(usage_error(&["run", "--llm-slo-ms", "1,2"]).contains("--llm-slo-ms"));
    assert!(usage_error(&["run", "--llm-ratio", "0.5"]).contains("--llm-ratio"));
    assert!(usage_error(&["run", "-r", "-1"]).contains("request_rate"));
}

#[test]
fn each_command_has_its_default_policies() {
    assert_eq!(plan(&["run"]).unwrap().config.policies, vec!["fifo"]);
    assert_eq!(plan(&["sweep"]).unwrap().config.policies, vec!["fifo"]);
    assert_eq!(
        plan(&["compare"]).unwrap().config.policies,
        vec!["fifo", "priority", "slo_aware"]
    );
    let e = usage_error(&["run", "-p", "fifo,priority"]);
    assert!(e.contains("--policy") && e.contains("compare"), "{e}");
    let e = usage_error(&["compare", "-p", "fifo,,priority"]);
    assert!(e.contains("item 2 is empty"), "{e}");
}

#[test]
fn sweep_and_experiment_rates_are_checked_once() {
    let p = plan(&["sweep", "--rates", "5,10"]).unwrap();
    let rates: Vec<_> = p.steps.iter().map(|s| s.params.request_rate_rps).collect();
    assert_eq!(rates, vec![Some(5.0), Some(10.0)]);
    assert_eq!(plan(&["sweep"]).unwrap().steps.len(), 4);
    for cmd in [
        &["sweep", "--rates", "5,0"][..],
        &["experiment", "-e", "slo", "--rates", "5,nan"],
    ] {
        let e = usage_error(cmd);
        assert!(e.contains("--rates: value 2"), "{e}");
    }
}

#[test]
fn experiment_defaults_give_way_to_flags_and_the_config_file() {
    let p = plan(&["experiment", "-e", "latency"]).unwrap();
    assert_eq!(p.config.num_requests, defaults::EXPERIMENT_REQUESTS);
    assert_eq!(p.config.request_rate, defaults::EXPERIMENT_RATE);
    assert!(p.experiment.is_some());
    let p = plan(&["experiment", "-e", "latency", "-n", "30"]).unwrap();
    assert_eq!(p.config.num_requests, 30);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "num_requests: 40\n").unwrap();
    let p = plan(&[
        "experiment",
        "-e",
        "latency",
        "--config",
        file.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        p.config.num_requests, 40,
        "the file's value wins over the command's default"
    );
    assert_eq!(p.config.request_rate, defaults::EXPERIMENT_RATE);

    let p = plan(&["experiment", "-e", "throughput", "-r", "40"]).unwrap();
    let rates: Vec<_> = p
        .steps
        .iter()
        .filter(|s| s.policy == "fifo")
        .map(|s| s.params.request_rate_rps.unwrap())
        .collect();
    assert_eq!(rates, vec![10.0, 20.0, 40.0, 80.0]);
    let p = plan(&["experiment", "-e", "mixed_ratio", "-n", "20"]).unwrap();
    assert_eq!(p.config.mode, cpbench_core::config::Mode::Hybrid);
    assert_eq!(p.steps.len(), 5 * 3);
    assert!(usage_error(&["experiment", "-e", "mixed_ratio", "-m", "llm"]).contains("hybrid"));
    assert!(usage_error(&["experiment", "-e", "nope"]).contains("throughput"));
    assert!(usage_error(&["experiment", "-e", "slo", "--tolerance", "1"]).contains("--tolerance"));
    assert!(
        usage_error(&["experiment", "-e", "mixed_ratio", "--ratios", "0.5,2"])
            .contains("--ratios: value 2")
    );
}

#[test]
fn none_switch_with_several_policies_is_a_usage_error() {
    let e = usage_error(&[
        "compare",
        "-c",
        "http://x",
        "--policy-switch",
        "none",
        "-p",
        "a,b",
    ]);
    assert!(e.contains("--policy-switch none"), "{e}");
    let p = plan(&[
        "run",
        "-c",
        "http://x",
        "--policy-switch",
        "none",
        "-p",
        "a",
    ])
    .unwrap();
    assert_eq!(http(&p).target, Target::Url("http://x".into()));
    assert_eq!(http(&p).switch, SwitchMode::None);
}

#[test]
fn embedded_target_checks_reference_policies() {
    let e = usage_error(&["run", "-p", "round_robin"]);
    assert!(e.contains("round_robin") && e.contains("fifo"), "{e}");
    let p = plan(&["run"]).unwrap();
    assert!(matches!(&http(&p).target, Target::Embedded(c) if c.name == "default"));
    let p = plan(&["run", "--cluster", "tiny"]).unwrap();
    assert!(matches!(&http(&p).target, Target::Embedded(c) if c.name == "tiny"));
    assert!(usage_error(&["run", "--cluster", "nope"]).starts_with("--cluster:"));
    let p = plan(&["simulate", "--cluster", "tiny", "-n", "20"]).unwrap();
    assert!(matches!(&p.execution, Execution::Simulated(c) if c.name == "tiny"));
    assert!(
        !p.notes.is_empty(),
        "models fitted to the tiny cluster are noted"
    );
}

#[test]
fn durations_and_counts_are_bounded() {
    for (flag, value) in [
        ("--drain", "1e300"),
        ("--drain", "NaN"),
        ("--drain", "-1"),
        ("--launch-timeout", "1e300"),
        ("--launch-timeout", "nan"),
        ("--cp-metrics-interval", "1e300"),
    ] {
        let e = usage_error(&["run", flag, value]);
        assert!(e.starts_with(flag), "{flag} {value}: {e}");
    }
    assert!(usage_error(&["run", "--connections", "0"]).starts_with("--connections"));
    let p = plan(&["run", "--drain", "2.5"]).unwrap();
    assert_eq!(http(&p).drain, Duration::from_millis(2500));
}

#[test]
fn launch_needs_its_placeholders_and_urls_are_normalized() {
    let e = usage_error(&["compare", "--launch", "server --port {port}"]);
    assert!(e.contains("{policy}"), "{e}");
    let e = usage_error(&["compare", "--launch", "server --policy {policy}"]);
    assert!(e.contains("{port}") && e.contains("--launch-port"), "{e}");
    let p = plan(&["compare", "--launch", "s {policy}", "--launch-port", "9000"]).unwrap();
    assert_eq!(http(&p).target, Target::Launched);
    assert!(
        usage_error(&["compare", "--launch", "s {policy} {port}", "-c", "http://x"])
            .contains("contradict")
    );
    for (given, want) in [
        ("http://h:8000/v1", "http://h:8000"),
        ("http://h:8000/v1/", "http://h:8000"),
        ("https://h/api/v1", "https://h/api"),
        ("http://h:8000/", "http://h:8000"),
    ] {
        let p = plan(&["run", "-c", given]).unwrap();
        assert_eq!(http(&p).target, Target::Url(want.into()), "{given}");
    }
    for bad in ["not a url", "ftp://h", "http://", "localhost:8000"] {
        let e = usage_error(&["run", "-c", bad]);
        assert!(e.starts_with("--control-plane"), "{bad}: {e}");
    }
    assert_eq!(
        http(&plan(&["run", "--health-path", "none"]).unwrap()).health,
        crate::control::HealthCheck::Off
    );
    assert!(usage_error(&["run", "--health-path", "health"]).starts_with("--health-path"));
    let e = usage_error(&[
        "compare",
        "--launch",
        "s {policy} {port}",
        "--policy-switch",
        "none",
    ]);
    assert!(e.contains("contradict"), "{e}");
}

#[test]
fn telemetry_defaults_and_errors() {
    let p = plan(&["run"]).unwrap();
    let t = &http(&p).telemetry;
    assert_eq!(t.gpu, GpuMode::Auto);
    assert_eq!(
        t.gpu_interval,
        Duration::from_millis(defaults::GPU_INTERVAL_MS)
    );
    assert_eq!(t.poll_interval, Some(Duration::from_secs(1)));

    let p = plan(&[
        "run",
        "--gpu-monitor",
        "required",
        "--gpu-interval",
        "250",
        "--scrape",
        "http://a:8000/metrics",
        "--scrape",
        "http://b:8001",
        "--cp-metrics-interval",
        "0.25",
    ])
    .unwrap();
    let t = &http(&p).telemetry;
    assert_eq!(t.gpu, GpuMode::Required);
    assert_eq!(t.scrape.len(), 2);
    assert_eq!(t.poll_interval, Some(Duration::from_millis(250)));

    for bad in ["-1", "0.001", "nan", "inf"] {
        let e = usage_error(&["run", "--cp-metrics-interval", bad]);
        assert!(e.starts_with("--cp-metrics-interval:"), "{e}");
    }
    let p = plan(&["run", "--cp-metrics-interval", "0"]).unwrap();
    assert_eq!(http(&p).telemetry.poll_interval, None);
    let e = usage_error(&[
        "run",
        "--cp-metrics-interval",
        "0",
        "--scrape",
        "http://x:1/metrics",
    ]);
    assert!(
        e.contains("--scrape") && e.contains("--cp-metrics-interval"),
        "{e}"
    );
    for (url, why) in [
        ("localhost:8000/metrics", "scheme"),
        ("ftp://x/metrics", "scheme"),
        ("not a url", "relative URL"),
        ("http://", "empty host"),
    ] {
        let e = usage_error(&["run", "--scrape", url]);
        assert!(e.starts_with("--scrape: ") && e.contains(why), "{url}: {e}");
    }
    let e = usage_error(&[
        "run",
        "--scrape",
        "http://a:1/m",
        "--scrape",
        "http://a:1/m",
    ]);
    assert!(e.contains("twice"), "{e}");
    let cli = Cli::try_parse_args(["sage-cp-bench", "run", "--gpu-interval", "5"]);
    assert!(cli.is_err(), "below the shortest GPU interval");
}

#[test]
fn output_flags_become_the_output_plan() {
    let p = plan(&["run", "-o", "out", "--no-records", "--no-visualize", "-q"]).unwrap();
    assert_eq!(
        p.output,
        OutputPlan {
            dir: "out".into(),
            format: FormatArg::Table,
            quiet: true,
            keep_records: false,
            records_csv: false,
            visualize: false,
            pretty: false,
            max_error_rate: None,
        }
    );
    let p = plan(&["run"]).unwrap();
    assert_eq!(p.output.dir, PathBuf::from(defaults::OUTPUT_DIR));
    assert_eq!(
        plan(&["run", "--max-error-rate", "0.05"])
            .unwrap()
            .output
            .max_error_rate,
        Some(0.05)
    );
    for bad in ["1.5", "-0.1", "nan"] {
        let e = usage_error(&["run", "--max-error-rate", bad]);
        assert!(e.starts_with("--max-error-rate"), "{e}");
    }
    assert_eq!(p.output.records_csv, defaults::RECORDS_CSV);
    assert!(p.output.keep_records);
    assert!(
        plan(&["simulate", "--records-csv"])
            .unwrap()
            .output
            .records_csv
    );
    let e = usage_error(&["run", "--no-records", "--records-csv"]);
    assert!(e.starts_with("--records-csv"), "{e}");
}

#[test]
fn the_admin_token_is_checked_and_never_shown() {
    let p = plan(&["run", "-c", "http://h:1", "--admin-token", "adm-s3cret"]).unwrap();
    let token = http(&p).admin_token.as_ref().expect("resolved");
    assert_eq!(token, &AdminToken::new("adm-s3cret").unwrap());
    assert!(!format!("{p:?}").contains("adm-s3cret"));
    for bad in ["", "two words"] {
        let e = usage_error(&["run", "-c", "http://h:1", "--admin-token", bad]);
        assert!(e.contains("--admin-token"), "{e}");
        assert!(bad.is_empty() || !e.contains(bad), "{e}");
    }
}
