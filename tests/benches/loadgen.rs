//! Load-generation benchmark: how fast the runner's client can send and measure, against a
//! zero-delay fake server running as a separate process (so the client's CPU time is its own).
//!
//! ```sh
//! cargo bench -p cpbench-tests --bench loadgen                       # both scenarios
//! cargo bench -p cpbench-tests --bench loadgen -- --streamed-rate 10000 --plain-rate 50000 --seconds 5
//! ```
//!
//! Scenarios: streamed chat requests of 64 content chunks each, and plain (non-streamed)
//! requests, both sent open-loop at a constant rate. Reported per scenario: achieved request
//! rate, p50/p99/max send lateness, errors, and the client's CPU seconds per 1,000 requests
//! (user + system time of this process, which hosts only the client).

use cpbench_core::arrival::ArrivalConfig;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::lengths::LengthDist;
use cpbench_core::metrics::{MeasureWindow, summarize};
use cpbench_core::workload::{WorkloadData, generate};
use indicatif::ProgressBar;
use sage_cp_bench::client::{Client, ClientOptions};
use sage_cp_bench::sender::{Cancel, SendOptions, send_open_loop};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    streamed_rate: f64,
    plain_rate: f64,
    seconds: f64,
    client_threads: usize,
    connections: usize,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        streamed_rate: 10_000.0,
        plain_rate: 50_000.0,
        seconds: 5.0,
        client_threads: 1,
        connections: 256,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = |i: usize| -> f64 {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--streamed-rate" => o.streamed_rate = val(i),
            "--plain-rate" => o.plain_rate = val(i),
            "--seconds" => o.seconds = val(i),
            "--client-threads" => o.client_threads = val(i) as usize,
            "--connections" => o.connections = val(i) as usize,
            "--bench" => {
                i += 1;
                continue;
            }
            _ => {}
        }
        i += 2;
    }
    o
}

fn cpu_seconds() -> f64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(u.user_time()) + t(u.system_time())
}

fn start_server(chunks: u32) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
        .args([
            "--mode",
            "sse",
            "--chunks",
            &chunks.to_string(),
            "--port",
            "0",
            "--threads",
            "1",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .expect("starting cpbench-fake-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

fn scenario(name: &str, rate: f64, seconds: f64, stream: bool, threads: usize, connections: usize) {
    let (mut server, url) = start_server(64);
    let cfg = BenchmarkConfig {
        num_requests: (rate * seconds) as u64,
        request_rate: rate,
        arrival: ArrivalConfig::Constant,
        warmup_requests: 0,
        prompt_length: LengthDist::Fixed { value: 16 },
        output_length: LengthDist::Fixed { value: 64 },
        stream,
        ..BenchmarkConfig::default()
    };
    let workload = generate(&cfg, &WorkloadData::none()).expect("workload");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::new(ClientOptions {
            base_url: url.clone(),
            api_key: None,
            timeout: Duration::from_secs(30),
            stream,
            max_idle_connections: connections,
        })
        .unwrap();
        // Open connections before measuring, as a warmup would.
        let warm: Vec<_> = workload.requests.iter().take(256).map(|s| client.prepare(s, "warm")).collect();
        let warm = Arc::new(
            warm.into_iter()
                .map(|mut p| {
                    p.spec.offset_us = 0;
                    p
                })
                .collect::<Vec<_>>(),
        );
        let send_opts = SendOptions {
            max_connections: connections,
            ..SendOptions::default()
        };
        send_open_loop(&client, warm, &send_opts, &Cancel::default(), &ProgressBar::hidden()).await;
        let prepared = Arc::new(
            workload.requests.iter().map(|s| client.prepare(s, "bench")).collect::<Vec<_>>(),
        );
        let cpu0 = cpu_seconds();
        let wall0 = Instant::now();
        let res = send_open_loop(&client, prepared, &send_opts, &Cancel::default(), &ProgressBar::hidden()).await;
        let wall = wall0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let n = res.records.len();
        let s = summarize(&res.records, &cfg.slo, MeasureWindow::UntilLastEnd);
        let lat = s.lateness.expect("requests were sent");
        let chunks: u64 = res.records.iter().map(|r| u64::from(r.chunks)).sum();
        println!(
            "{name:<9} target {rate:>8.0} req/s | achieved {:>8.0} req/s ({} ok, {} errors {:?}) | lateness p50 {:.3} ms p99 {:.3} ms max {:.3} ms | client CPU {:.4} s per 1000 req ({:.2} cores) | {:.0} chunks/s",
            s.request_throughput_rps,
            s.requests_succeeded,
            s.requests_failed,
            s.errors_by_kind,
            lat.p50_ms,
            lat.p99_ms,
            lat.max_ms,
            cpu / n as f64 * 1000.0,
            cpu / wall,
            chunks as f64 / wall,
        );
    });
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    let o = parse_args();
    println!(
        "loadgen: {} s per scenario, {} client worker thread(s), at most {} connections, fake server on 1 thread in its own process",
        o.seconds, o.client_threads, o.connections
    );
    if o.streamed_rate > 0.0 {
        scenario(
            "streamed",
            o.streamed_rate,
            o.seconds,
            true,
            o.client_threads,
            o.connections,
        );
    }
    if o.plain_rate > 0.0 {
        scenario(
            "plain",
            o.plain_rate,
            o.seconds,
            false,
            o.client_threads,
            o.connections,
        );
    }
}
