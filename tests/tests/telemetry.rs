//! Telemetry beside a measured run, through the command line: `/admin/metrics` polling and
//! `--scrape` of the reference control plane's `/metrics` under load, a control plane without
//! `/admin/metrics`, and GPU monitoring on a machine without NVML (this one and CI's):
//! unavailable with a reason and no number under `auto`, a failure before any request under
//! `required`; and GPU samples from a stand-in device reader carried into the report (the NVML
//! reader itself needs a GPU). Every result written is checked against the checked-in schema.

use clap::Parser;
use cpbench_core::arrival::ArrivalConfig;
use cpbench_core::cluster::presets;
use cpbench_core::config::{BenchmarkConfig, Mode};
use cpbench_core::lengths::LengthDist;
use cpbench_core::report::{
    GpuDevice, GpuSample, GpuSection, GpuStatus, Report, ReportKind, RunParams, SeriesPoint,
    TelemetryKind,
};
use cpbench_core::workload::{WorkloadData, generate};
use cpbench_tests::fake_server::{AdminMode, Behavior, FakeServer};
use sage_cp_bench::cli::Cli;
use sage_cp_bench::commands::{UsageError, run};
use sage_cp_bench::gpu::{DeviceReader, GpuMode, GpuMonitor};
use sage_cp_bench::runner::{BenchOptions, Step, Target, run_steps};
use sage_cp_bench::sender::Cancel;
use sage_cp_bench::server::{ServerOptions, start};
use sage_cp_bench::telemetry::{Telemetry, TelemetryOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// An NVML library that does not exist: the tests mean "no NVML" even on a machine with GPUs.
const NO_NVML: &str = "/nonexistent/libnvidia-ml.so.1";

fn out_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cpbench-telemetry-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A small LLM workload with short outputs for the `tiny` cluster.
fn write_config(dir: &Path, n: u32, rate: f64, model: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("bench.yaml");
    std::fs::write(
        &path,
        format!(
            "mode: llm\nnum_requests: {n}\nrequest_rate: {rate}\narrival: {{pattern: constant}}\nwarmup_requests: 0\n\
             model_distribution: {{{model}: 1.0}}\nprompt_length: {{dist: fixed, value: 64}}\n\
             output_length: {{dist: fixed, value: 48}}\ntimeout_s: 20.0\n"
        ),
    )
    .unwrap();
    path
}

/// Runs the command line; returns the exit code (or the error) and the JSON result, if one
/// was written.
fn cli(args: &[&str], dir: &Path) -> (anyhow::Result<i32>, Option<(Report, Value)>) {
    let mut argv = vec!["sage-cp-bench"];
    argv.extend_from_slice(args);
    let dir_s = dir.to_str().unwrap();
    argv.extend_from_slice(&["-o", dir_s, "-q"]);
    let res = run(Cli::try_parse_from(&argv).expect("the command line parses"));
    let json = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("report_")
        })
    });
    let report = json.map(|p| {
        let text = std::fs::read_to_string(p).unwrap();
        (
            Report::from_json(&text).expect("the result file reads back"),
            serde_json::from_str(&text).unwrap(),
        )
    });
    (res, report)
}

/// Panics unless `json` validates against the checked-in `schema/report.schema.json`.
fn assert_valid(json: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn max(points: &[SeriesPoint]) -> f64 {
    points
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The reference control plane under load, polled at 50 ms and scraped at its `/metrics`:
/// both sources give series with the values the load implies.
#[test]
fn polls_and_scrapes_the_reference_control_plane_under_load() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(start(ServerOptions {
            host: "127.0.0.1".into(),
            port: 0,
            policy: "fifo".into(),
            cluster: presets::tiny(),
            seed: 7,
            ..ServerOptions::default()
        }))
        .unwrap();
    let url = server.url();
    let scrape = format!("{url}/metrics");
    let prefix = format!("127.0.0.1:{}", server.addr().port());
    let dir = out_dir("load");
    let n = 120;
    let config = write_config(&dir, n, 150.0, "tiny-llm");
    let (res, report) = cli(
        &[
            "run",
            "-p",
            "fifo",
            "--config",
            config.to_str().unwrap(),
            "-c",
            &url,
            "--gpu-monitor",
            "off",
            "--cp-metrics-interval",
            "0.05",
            "--scrape",
            &scrape,
        ],
        &dir,
    );
    rt.block_on(server.shutdown());
    assert_eq!(res.unwrap(), 0);
    let (report, json) = report.expect("a result file");
    assert_valid(&json);
    assert_eq!(report.gpu, GpuSection::not_requested());
    let r = &report.runs[0];
    assert_eq!(
        r.summary.requests_succeeded,
        u64::from(n),
        "{:?}",
        r.warnings
    );
    let duration_s = r.summary.duration_s;

    // How polling went, per source.
    assert_eq!(r.telemetry_sources.len(), 2, "{:?}", r.telemetry_sources);
    let cp = &r.telemetry_sources[0];
    assert_eq!(cp.kind, TelemetryKind::AdminMetrics);
    assert_eq!(cp.prefix, "cp");
    assert_eq!(cp.url, format!("{url}/admin/metrics"));
    let prom = &r.telemetry_sources[1];
    assert_eq!(prom.kind, TelemetryKind::Prometheus);
    assert_eq!(prom.prefix, prefix);
    assert_eq!(prom.url, scrape);
    for s in &r.telemetry_sources {
        assert_eq!(s.interval_s, 0.05);
        assert!(s.polls_ok >= 5, "{s:?}");
        assert_eq!(
            (s.polls_failed, s.lines_skipped, s.series_dropped),
            (0, 0, 0),
            "{s:?}"
        );
        assert!(!s.missing && s.first_error.is_none(), "{s:?}");
    }
    assert!(
        !r.warnings.iter().any(|w| w.contains("poll")),
        "{:?}",
        r.warnings
    );

    // /admin/metrics snapshots, as-is, in time order within the run.
    let samples = &r.control_plane.samples;
    assert_eq!(samples.len() as u64, cp.polls_ok);
    assert!(samples.windows(2).all(|w| w[0].t_s < w[1].t_s));
    assert!(samples[0].t_s >= 0.0 && samples.last().unwrap().t_s <= duration_s + 1.0);
    assert!(samples.iter().all(|s| s.value["policy"] == "fifo"));

    // Flattened: queue depths and per-instance numbers by instance id.
    let series = &r.series;
    for name in [
        "cp/queues.llm",
        "cp/queues.embedding",
        "cp/requests.received",
        "cp/instances.llm-0.running",
        "cp/instances.llm-1.running",
        "cp/instances.llm-0.kv_cache_usage",
        "cp/instances.emb-0.running",
    ] {
        let s = series.get(name).unwrap_or_else(|| {
            panic!(
                "{name} missing; have {:?}",
                series.keys().collect::<Vec<_>>()
            )
        });
        assert_eq!(s.len(), samples.len(), "{name}");
    }
    let running_cp =
        max(&series["cp/instances.llm-0.running"]).max(max(&series["cp/instances.llm-1.running"]));
    assert!(running_cp > 0.0, "some request was running at some poll");
    let received = &series["cp/requests.received"];
    assert!(received.windows(2).all(|w| w[0].value <= w[1].value));
    assert!(max(received) <= f64::from(n) && max(received) > 0.0);
    assert!(
        series["cp/instances.llm-0.kv_cache_usage"]
            .iter()
            .all(|p| (0.0..=1.0).contains(&p.value))
    );

    // Scraped: the Prometheus families with their labels, prefixed by the source.
    let key = |s: &str| format!("{prefix}/{s}");
    let running_prom = ["llm-0", "llm-1"]
        .iter()
        .map(|i| {
            let k = key(&format!(
                "cpbench_instance_running{{instance=\"{i}\",kind=\"llm\",model=\"tiny-llm\"}}"
            ));
            let s = series.get(&k).unwrap_or_else(|| {
                panic!("{k} missing; have {:?}", series.keys().collect::<Vec<_>>())
            });
            assert_eq!(s.len() as u64, prom.polls_ok);
            max(s)
        })
        .fold(0.0, f64::max);
    assert!(running_prom > 0.0);
    assert!(max(&series[&key("cpbench_queue_depth{queue=\"llm\"}")]) >= 0.0);
    let completed = &series[&key("cpbench_requests_total{outcome=\"completed\"}")];
    assert!(
        completed.windows(2).all(|w| w[0].value <= w[1].value),
        "a counter stays raw"
    );
    assert!(max(completed) <= f64::from(n));
    assert_eq!(
        series[&key("cpbench_policy_info{adaptive_mode=\"\",policy=\"fifo\"}")][0].value,
        1.0
    );
    for (name, points) in series {
        assert!(
            name.starts_with("cp/") || name.starts_with(&format!("{prefix}/")),
            "{name}"
        );
        assert!(
            points.iter().all(|p| p.t_s >= 0.0 && p.value.is_finite()),
            "{name}"
        );
    }
}

/// `--gpu-monitor auto` without NVML: the result says why and holds no GPU number; a control
/// plane without `/admin/metrics` gives one note and no error.
#[test]
fn without_nvml_or_admin_metrics_the_run_goes_on_and_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        FakeServer::start(Behavior {
            admin: AdminMode::Missing,
            ..Behavior::default()
        })
    });
    let dir = out_dir("auto");
    let config = write_config(&dir, 20, 200.0, "fake-model");
    let (res, report) = cli(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "-c",
            &server.url(),
            "--policy-switch",
            "none",
            "--drain",
            "0.1",
            "--nvml-lib",
            NO_NVML,
            "--cp-metrics-interval",
            "0.02",
        ],
        &dir,
    );
    assert_eq!(res.unwrap(), 0);
    let (report, json) = report.expect("a result file");
    assert_valid(&json);
    let GpuStatus::Unavailable { reason } = &report.gpu.status else {
        panic!("{:?}", report.gpu)
    };
    assert!(
        reason.contains("NVML") && reason.contains(NO_NVML),
        "{reason}"
    );
    assert_eq!(
        json["gpu"],
        serde_json::json!({
            "status": {"state": "unavailable", "reason": reason},
            "devices": [],
            "sample_interval_ms": null,
            "read_errors": 0
        }),
        "no device, no interval, no reading: only the count of failed reads, 0"
    );
    let run = &report.runs[0];
    assert_eq!(run.summary.requests_succeeded, 20);
    assert!(run.gpu_samples.is_empty() && run.gpu_summary.is_empty());
    assert_eq!(json["runs"][0]["gpu_samples"], serde_json::json!([]));
    assert_eq!(json["runs"][0]["gpu_summary"], serde_json::json!([]));

    let notes: Vec<&String> = run
        .notes
        .iter()
        .filter(|w| w.contains("/admin/metrics"))
        .collect();
    assert_eq!(notes.len(), 1, "{:?}", run.notes);
    assert!(
        !run.warnings.iter().any(|w| w.contains("/admin/metrics")),
        "{:?}",
        run.warnings
    );
    assert!(
        notes[0].starts_with("the control plane has no /admin/metrics"),
        "{}",
        notes[0]
    );
    assert!(run.control_plane.samples.is_empty() && run.series.is_empty());
    let cp = &run.telemetry_sources[0];
    assert!(
        cp.missing && cp.polls_ok == 0 && cp.polls_failed == 0,
        "{cp:?}"
    );
    drop(server);
}

/// `--gpu-monitor required` without NVML fails before anything is sent: not even `/health`.
#[test]
fn required_gpu_monitoring_without_nvml_fails_before_any_request() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async { FakeServer::start(Behavior::default()) });
    let dir = out_dir("required");
    let config = write_config(&dir, 20, 200.0, "fake-model");
    let (res, report) = cli(
        &[
            "compare",
            "-p",
            "fifo,priority",
            "--config",
            config.to_str().unwrap(),
            "-c",
            &server.url(),
            "--gpu-monitor",
            "required",
            "--nvml-lib",
            NO_NVML,
        ],
        &dir,
    );
    let err = res.expect_err("required GPU monitoring without NVML fails");
    assert!(
        err.downcast_ref::<UsageError>().is_none(),
        "a failed run (exit 1), not a usage error (exit 2)"
    );
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("--gpu-monitor required: GPU monitoring unavailable: NVML init failed")
            && msg.contains(NO_NVML),
        "{msg}"
    );
    assert!(report.is_none(), "no result file");
    assert_eq!(server.captured(), vec![], "the server received nothing");
    drop(server);
}

/// Bad telemetry flags are usage errors that name the flag.
#[test]
fn bad_telemetry_flags_are_usage_errors() {
    let dir = out_dir("usage");
    for (flag, value, expect) in [
        ("--cp-metrics-interval", "-1", "--cp-metrics-interval: -1"),
        ("--scrape", "localhost:8000", "--scrape: \"localhost:8000\""),
    ] {
        let (res, report) = cli(&["run", "-c", "http://127.0.0.1:9", flag, value], &dir);
        let err = res.unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err:#}");
        assert!(format!("{err:#}").contains(expect), "{err:#}");
        assert!(report.is_none());
    }
}

/// Two GPUs whose power reading always fails (a driver without power management).
struct NoPowerGpus;

impl DeviceReader for NoPowerGpus {
    fn read(&self, index: u32, t_s: f64) -> GpuSample {
        GpuSample {
            t_s,
            index,
            utilization_pct: Some(40.0 + f64::from(index)),
            memory_used_mib: Some(1000.0),
            memory_total_mib: Some(81_559.0),
            power_w: None,
            temperature_c: Some(55.0),
            sm_clock_mhz: Some(1410.0),
            read_errors: 1,
        }
    }
}

/// GPU samples reach the runs, their summaries and the report's GPU section; a failed read
/// stays a gap that is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_samples_are_carried_into_the_report() {
    let server = FakeServer::start(Behavior {
        chunk_delay: Duration::from_millis(2),
        ..Behavior::default()
    });
    let mut c = BenchmarkConfig::for_mode(Mode::Llm);
    c.num_requests = 40;
    c.request_rate = 100.0;
    c.arrival = ArrivalConfig::Constant;
    c.warmup_requests = 0;
    c.prompt_length = LengthDist::Fixed { value: 12 };
    c.output_length = LengthDist::Fixed { value: 20 };
    c.model_distribution = BTreeMap::from([("fake-model".to_string(), 1.0)]);
    c.policies = vec!["fifo".into(), "priority".into()];
    let w = Arc::new(generate(&c, &WorkloadData::none()).unwrap());
    let steps = c
        .policies
        .iter()
        .map(|p| Step {
            policy: p.clone(),
            params: RunParams::default(),
            config: c.clone(),
            workload: Arc::clone(&w),
        })
        .collect();
    let devices: Vec<GpuDevice> = (0..2)
        .map(|index| GpuDevice {
            index,
            name: "Stand-in GPU".into(),
            uuid: format!("GPU-{index}"),
        })
        .collect();
    let gpu = GpuMonitor::with_reader(
        Arc::new(NoPowerGpus),
        devices.clone(),
        Duration::from_millis(20),
    );
    let opts = TelemetryOptions {
        gpu: GpuMode::Auto,
        gpu_interval: Duration::from_millis(20),
        nvml_lib: None,
        poll_interval: None,
        scrape: Vec::new(),
    };
    let options = BenchOptions {
        output_dir: out_dir("gpu"),
        keep_records: false,
        drain: Duration::from_millis(100),
        launch_timeout: Duration::from_secs(5),
        max_connections: 64,
        telemetry: Telemetry::with_gpu(gpu, &opts).unwrap(),
        ..BenchOptions::new(ReportKind::Compare, Target::Url(server.url()))
    };
    let (report, err) = run_steps(&options, &c, steps, &Cancel::default()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(report.gpu.status, GpuStatus::Sampled);
    assert_eq!(report.gpu.devices, devices);
    assert_eq!(report.gpu.sample_interval_ms, Some(20));
    let mut errors = 0;
    for run in &report.runs {
        assert!(run.gpu_samples.len() >= 4, "{}", run.gpu_samples.len());
        assert!(run.series.is_empty() && run.telemetry_sources.is_empty());
        let end = run.summary.duration_s + 0.1;
        assert!(
            run.gpu_samples
                .iter()
                .all(|s| (0.0..=end).contains(&s.t_s) && s.power_w.is_none())
        );
        assert_eq!(run.gpu_summary.len(), 2);
        for g in &run.gpu_summary {
            assert_eq!(g.samples * 2, run.gpu_samples.len() as u64);
            assert_eq!(g.read_errors, g.samples);
            assert_eq!(g.power_w, None, "a gap is never filled in");
            let util = g.utilization_pct.unwrap();
            assert_eq!(
                (util.min, util.max),
                (40.0 + f64::from(g.index), 40.0 + f64::from(g.index))
            );
            assert_eq!(g.temperature_c.unwrap().avg, 55.0);
        }
        errors += run.gpu_summary.iter().map(|g| g.read_errors).sum::<u64>();
    }
    assert_eq!(report.gpu.read_errors, errors);
    assert_valid(&serde_json::to_value(&report).unwrap());
    server.shutdown().await;
}
