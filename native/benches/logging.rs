//! What the send path's logging costs when its level is off: the two trace events of every
//! request (`sending`, `request ended`, as in `sender.rs`) under the CLI's default filter
//! (`warn`, installed as the global subscriber like `logging::init`), against the same work
//! without events, and with the events on (trace level, written to a sink). Compare the
//! ratios within one run; a request's send path costs several microseconds, so the events
//! are free when a few nanoseconds apart from the baseline.
//!
//! `cargo bench -p sage-cp-bench --bench logging`

use criterion::{Criterion, criterion_group, criterion_main};
use sage_cp_bench::cli::LogArgs;
use sage_cp_bench::logging;
use std::hint::black_box;

/// Stand-in for a request's fields and the work between the two events.
fn work(id: u64) -> (u64, f64) {
    let x = black_box(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x, (x >> 11) as f64 * 1e-6)
}

fn with_events(id: u64) -> u64 {
    tracing::trace!(id, shard = 0usize, wait_us = 0u64, "sending");
    let (x, ms) = work(id);
    tracing::trace!(
        id,
        outcome = "success",
        ttft_ms = ms,
        e2e_ms = ms * 2.0,
        chunks = 64u32,
        "request ended"
    );
    x
}

fn bench(c: &mut Criterion) {
    let filter = logging::filter(&LogArgs {
        verbose: 0,
        log_level: None,
    })
    .expect("the default filter");
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::sink)
        .init();
    let mut g = c.benchmark_group("send_path_logging");
    g.bench_function("no events", |b| {
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            black_box(work(id).0)
        })
    });
    g.bench_function("events, level off (default)", |b| {
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            black_box(with_events(id))
        })
    });
    let on = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(on, || {
        g.bench_function("events, trace on (to a sink)", |b| {
            let mut id = 0u64;
            b.iter(|| {
                id += 1;
                black_box(with_events(id))
            })
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
