//! Load-generation benchmark: how fast the runner's client can send and measure, against a
//! zero-delay fake server running as a separate process (so the client's CPU time is its own).
//!
//! ```sh
//! cargo bench -p cpbench-tests --bench loadgen                       # both scenarios
//! cargo bench -p cpbench-tests --bench loadgen -- --streamed-rate 10000 --plain-rate 0 --seconds 5
//! ```
//!
//! Scenarios: streamed chat requests of 64 content chunks each, and plain (non-streamed)
//! requests, both sent open-loop at a constant rate. Reported per scenario: achieved request
//! rate, p50/p99/max send lateness, errors, the client's CPU seconds per 1,000 requests (user +
//! system time of this process, which hosts only the client), the server's CPU, and how often
//! the client was preempted while runnable.
//!
//! Options: `--streamed-rate N`, `--plain-rate N` (0 skips a scenario), `--seconds S`,
//! `--client-threads N` (sending threads, default 1), `--connections N` (default 256),
//! `--server-threads N` (default 1), `--http-client builtin|reqwest`, `--coarse-pacing`
//! (tokio's millisecond timer instead of the high-resolution pacer). With `LOADGEN_LATE=1`
//! the 100 ms windows with the worst lateness are listed, to tell stalls from drift.

use cpbench_core::arrival::ArrivalConfig;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::lengths::LengthDist;
use cpbench_core::metrics::{MeasureWindow, summarize};
use cpbench_core::record::RequestRecord;
use cpbench_core::workload::{WorkloadData, generate};
use indicatif::ProgressBar;
use sage_cp_bench::client::{Client, ClientOptions, Transport};
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
    server_threads: usize,
    connections: usize,
    coarse_pacing: bool,
    pacing_gap_us: u64,
    transport: Transport,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        streamed_rate: 10_000.0,
        plain_rate: 50_000.0,
        seconds: 5.0,
        client_threads: 1,
        server_threads: 1,
        connections: 256,
        coarse_pacing: false,
        pacing_gap_us: sage_cp_bench::pacer::DEFAULT_MIN_GAP.as_micros() as u64,
        transport: Transport::Builtin,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        let mut number = || -> f64 {
            let v = value();
            v.parse()
                .unwrap_or_else(|_| panic!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--streamed-rate" => o.streamed_rate = number(),
            "--plain-rate" => o.plain_rate = number(),
            "--seconds" => o.seconds = number(),
            "--client-threads" => o.client_threads = number() as usize,
            "--server-threads" => o.server_threads = number() as usize,
            "--connections" => o.connections = number() as usize,
            "--coarse-pacing" => o.coarse_pacing = true,
            "--pacing-gap-us" => o.pacing_gap_us = number() as u64,
            "--http-client" => {
                o.transport = match value().as_str() {
                    "builtin" => Transport::Builtin,
                    "reqwest" => Transport::Reqwest,
                    other => panic!("--http-client: {other:?} is not builtin or reqwest"),
                }
            }
            // Passed by `cargo bench`.
            "--bench" => {}
            other => panic!("unknown option {other:?}"),
        }
    }
    o
}

fn rusage() -> nix::sys::resource::Usage {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).expect("getrusage")
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let u = rusage();
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    (t(u.user_time()), t(u.system_time()))
}

/// Involuntary context switches of this process so far (preempted while runnable).
fn involuntary_switches() -> i64 {
    rusage().involuntary_context_switches()
}

/// CPU seconds (user + system) used so far by process `pid`, from `/proc` (Linux only).
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()?? as f64;
    Some(ticks / hz)
}

fn start_server(chunks: u32, threads: usize) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpbench-fake-server"))
        .args([
            "--mode",
            "sse",
            "--chunks",
            &chunks.to_string(),
            "--port",
            "0",
            "--threads",
            &threads.to_string(),
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

/// The 100 ms windows with the worst send lateness.
fn print_late_windows(records: &[RequestRecord]) {
    let mut windows = std::collections::BTreeMap::<u64, (u64, usize)>::new();
    for r in records {
        let late = r.sent_us.saturating_sub(r.intended_us);
        let w = windows.entry(r.intended_us / 100_000).or_default();
        w.0 = w.0.max(late);
        if late > 2_000 {
            w.1 += 1;
        }
    }
    let mut worst: Vec<_> = windows.into_iter().collect();
    worst.sort_by_key(|(_, (max, _))| std::cmp::Reverse(*max));
    for (w, (max, over)) in worst.iter().take(8) {
        eprintln!(
            "  window {:>5} ms: max lateness {:.2} ms, {over} requests over 2 ms",
            w * 100,
            *max as f64 / 1000.0
        );
    }
}

fn scenario(name: &str, rate: f64, stream: bool, o: &Opts) {
    let (mut server, url) = start_server(64, o.server_threads);
    let cfg = BenchmarkConfig {
        num_requests: (rate * o.seconds) as u64,
        request_rate: rate,
        arrival: ArrivalConfig::Constant,
        warmup_requests: 0,
        prompt_length: LengthDist::Fixed { value: 16 },
        output_length: LengthDist::Fixed { value: 64 },
        stream,
        ..BenchmarkConfig::default()
    };
    let workload = generate(&cfg, &WorkloadData::none()).expect("workload");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::new(ClientOptions {
            base_url: url.clone(),
            api_key: None,
            timeout: Duration::from_secs(30),
            stream,
            max_idle_connections: o.connections,
            max_response_bytes: 64 << 20,
            tokenizer: None,
            transport: o.transport,
            threads: o.client_threads,
        })
        .unwrap();
        let send_opts = SendOptions {
            max_connections: o.connections,
            precise_pacing: !o.coarse_pacing,
            pacing_min_gap: Duration::from_micros(o.pacing_gap_us),
            ..SendOptions::default()
        };
        // Open connections before measuring, as the runner does, and send a warmup.
        client.preopen(o.connections.min(64)).await;
        let warm: Vec<_> = workload
            .requests
            .iter()
            .take(256)
            .map(|s| {
                let mut p = client.prepare(s, "warm");
                p.spec.offset_us = 0;
                p
            })
            .collect();
        send_open_loop(&client, Arc::new(warm), &send_opts, &Cancel::default(), &ProgressBar::hidden())
            .await;
        let prepared = Arc::new(
            workload
                .requests
                .iter()
                .map(|s| client.prepare(s, "bench"))
                .collect::<Vec<_>>(),
        );
        let server_cpu0 = process_cpu_seconds(server.id());
        let cpu0 = cpu_seconds();
        let preempted0 = involuntary_switches();
        let wall0 = Instant::now();
        let res = send_open_loop(&client, prepared, &send_opts, &Cancel::default(), &ProgressBar::hidden())
            .await;
        let wall = wall0.elapsed().as_secs_f64();
        let (user1, sys1) = cpu_seconds();
        let (user, sys) = (user1 - cpu0.0, sys1 - cpu0.1);
        let cpu = user + sys;
        let preempted = involuntary_switches() - preempted0;
        let server_cores = process_cpu_seconds(server.id())
            .zip(server_cpu0)
            .map(|(b, a)| format!("{:.2} cores", (b - a) / wall))
            .unwrap_or_else(|| "unknown".into());
        if std::env::var_os("LOADGEN_LATE").is_some() {
            print_late_windows(&res.records);
        }
        let n = res.records.len();
        let s = summarize(&res.records, &cfg.slo, MeasureWindow::UntilLastEnd);
        let lat = s.lateness.expect("requests were sent");
        let chunks: u64 = res.records.iter().map(|r| u64::from(r.chunks)).sum();
        println!(
            "{name:<9} target {rate:>8.0} req/s | achieved {:>8.0} req/s ({} ok, {} errors {:?}) | lateness p50 {:.3} ms p99 {:.3} ms max {:.3} ms | client CPU {:.4} s per 1000 req ({:.0}% in the kernel; {:.2} cores, preempted {preempted} times) | server CPU {server_cores} | {:.0} chunks/s",
            s.request_throughput_rps,
            s.requests_succeeded,
            s.requests_failed,
            s.errors_by_kind,
            lat.p50_ms,
            lat.p99_ms,
            lat.max_ms,
            cpu / n as f64 * 1000.0,
            sys / cpu * 100.0,
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
        "loadgen: {} s per scenario, {} sending thread(s) ({:?} HTTP client, {} pacing), at most {} connections, fake server on {} thread(s) in its own process",
        o.seconds,
        o.client_threads,
        o.transport,
        if o.coarse_pacing {
            "millisecond"
        } else {
            "high-resolution"
        },
        o.connections,
        o.server_threads,
    );
    if o.streamed_rate > 0.0 {
        scenario("streamed", o.streamed_rate, true, &o);
    }
    if o.plain_rate > 0.0 {
        scenario("plain", o.plain_rate, false, &o);
    }
}
