//! Summaries, breakdowns, series and histograms of small hand-made record sets.

use super::*;
use crate::record::{Outcome, RequestRecord, TokenSource};
use crate::request::{Priority, RequestKind};
use crate::slo::SloTargets;
use std::collections::BTreeMap;

/// End-to-end SLOs: these tests judge requests by their own deadlines.
fn e2e_targets() -> SloTargets {
    SloTargets::end_to_end(crate::request::PerPriority {
        high: 500,
        normal: 1000,
        low: 2000,
    })
}

fn rec(id: u64, intended_us: u64, end_us: u64) -> RequestRecord {
    RequestRecord {
        sent_us: intended_us + 100,
        first_token_us: Some(intended_us + 50_000),
        end_us,
        itl_us: vec![10_000; 4],
        outcome: Outcome::Success,
        output_tokens: 5,
        output_tokens_source: TokenSource::Usage,
        chunks: 5,
        input_tokens: Some(20),
        queue_time_ms: Some(1.5),
        ..RequestRecord::new(
            id,
            RequestKind::LlmChat,
            Priority::Normal,
            "qwen",
            1000,
            18,
            intended_us,
        )
    }
}

fn failed(id: u64, intended_us: u64, end_us: u64, outcome: Outcome) -> RequestRecord {
    RequestRecord {
        first_token_us: None,
        itl_us: vec![],
        outcome,
        output_tokens: 0,
        output_tokens_source: TokenSource::None,
        chunks: 0,
        input_tokens: None,
        queue_time_ms: None,
        ..rec(id, intended_us, end_us)
    }
}

#[test]
fn empty_set_is_all_zero_and_none() {
    let s = summarize::<RequestRecord>(&[], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert_eq!(s, Summary::default());
    assert_eq!(s.duration_s, 0.0);
    assert!(s.ttft.is_none() && s.e2e.is_none());
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"));
    assert!(
        TimeSeries::from_records::<RequestRecord>(&[], &e2e_targets())
            .seconds
            .is_empty()
    );
    let b =
        Breakdowns::from_records::<RequestRecord>(&[], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert!(b.by_model.is_empty());
}

#[test]
fn zero_window_gives_zero_rates() {
    let r = rec(0, 0, 0);
    let s = summarize(&[r], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert_eq!(s.requests_succeeded, 1);
    assert_eq!(s.request_throughput_rps, 0.0);
    assert_eq!(s.goodput_rps, 0.0);
    assert_eq!(s.slo_compliance, 1.0);
}

#[test]
fn counts_rates_and_throughput() {
    let records = vec![
        rec(0, 0, 500_000),           // meets (500 ms)
        rec(1, 1_000_000, 2_500_000), // misses (1500 ms)
        failed(2, 1_500_000, 2_000_000, Outcome::Timeout),
        failed(
            3,
            1_600_000,
            1_700_000,
            Outcome::Http {
                status: 503,
                message: "busy".into(),
            },
        ),
    ];
    let s = summarize(&records, &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert_eq!(s.requests_total, 4);
    assert_eq!(s.requests_succeeded, 2);
    assert_eq!(s.requests_failed, 2);
    assert_eq!(
        s.errors_by_kind,
        BTreeMap::from([("http_503".to_owned(), 1), ("timeout".to_owned(), 1)])
    );
    assert_eq!(s.duration_s, 2.5);
    assert_eq!(s.request_throughput_rps, 2.0 / 2.5);
    assert_eq!(s.output_tokens_total, 10);
    assert_eq!(s.input_tokens_total, 40);
    assert_eq!(s.input_tokens_estimated, 0);
    assert_eq!(s.output_tokens_per_s, 4.0);
    assert_eq!(s.total_tokens_per_s, 20.0);
    assert_eq!(s.slo_met, 1);
    assert_eq!(s.slo_compliance, 0.25);
    assert_eq!(s.goodput_rps, 0.4);
    assert_eq!(s.error_rate, 0.5);
    assert_eq!(s.timeout_rate, 0.25);
    let e2e = s.e2e.unwrap();
    assert_eq!(e2e.count, 2);
    assert!((e2e.min_ms - 500.0).abs() <= 0.5 && (e2e.max_ms - 1500.0).abs() <= 1.5);
    assert_eq!(s.ttft.unwrap().count, 2);
    // 50,000 µs sits in a 32 µs wide bucket whose highest value is 50,015 µs.
    assert_eq!(s.ttft.unwrap().p50_ms, 50.015);
    // 8 chunk gaps pooled, all 10 ms (exact within 0.1 %).
    let itl = s.itl.unwrap();
    assert_eq!(itl.count, 8);
    assert!((itl.p99_ms - 10.0).abs() <= 0.01);
    // TPOT: (500 - 50) / 4 = 112.5 ms and (1500 - 50) / 4 = 362.5 ms.
    let tpot = s.tpot.unwrap();
    assert_eq!(tpot.count, 2);
    assert!((tpot.min_ms - 112.5).abs() <= 0.12 && (tpot.max_ms - 362.5).abs() <= 0.37);
    // Lateness: all four requests were sent 100 µs late.
    let late = s.lateness.unwrap();
    assert_eq!((late.count, late.max_ms), (4, 0.1));
    // Queue time from the header on successes only.
    assert_eq!(s.queue_time.unwrap().count, 2);
    assert_eq!(s.queue_time.unwrap().p50_ms, 1.5);
}

#[test]
fn explicit_window_and_estimated_input() {
    let mut r = rec(0, 0, 100_000);
    r.input_tokens = None;
    let s = summarize(&[r], &e2e_targets(), MeasureWindow::DurationUs(2_000_000));
    assert_eq!(s.duration_s, 2.0);
    assert_eq!(s.input_tokens_total, 18);
    assert_eq!(s.input_tokens_estimated, 1);
    assert_eq!(s.request_throughput_rps, 0.5);
}

#[test]
fn cancelled_counts_as_failed_but_not_late() {
    let mut c = failed(0, 0, 10, Outcome::Cancelled);
    c.sent_us = 0;
    let s = summarize(&[c], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert_eq!(s.requests_failed, 1);
    assert_eq!(s.errors_by_kind["cancelled"], 1);
    assert!(s.lateness.is_none());
}

#[test]
fn embeddings_have_no_token_latencies() {
    let mut e = rec(0, 0, 30_000);
    e.kind = RequestKind::Embedding;
    e.itl_us.clear();
    e.output_tokens = 0;
    let s = summarize(&[e], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert!(s.ttft.is_none() && s.itl.is_none() && s.tpot.is_none());
    assert_eq!(s.e2e.unwrap().p50_ms, 30.015);
}

#[test]
fn breakdowns_share_the_whole_window() {
    let mut a = rec(0, 0, 1_000_000);
    a.priority = Priority::High;
    a.model = "a".into();
    let mut b = rec(1, 0, 4_000_000);
    b.kind = RequestKind::Embedding;
    b.model = "b".into();
    let bd = Breakdowns::from_records(&[a, b], &e2e_targets(), MeasureWindow::UntilLastEnd);
    assert_eq!(
        bd.by_priority.keys().collect::<Vec<_>>(),
        vec!["HIGH", "NORMAL"]
    );
    assert_eq!(
        bd.by_kind.keys().collect::<Vec<_>>(),
        vec!["embedding", "llm_chat"]
    );
    assert_eq!(bd.by_model["a"].duration_s, 4.0);
    assert_eq!(bd.by_model["a"].request_throughput_rps, 0.25);
    assert_eq!(bd.by_model["b"].requests_total, 1);
}

#[test]
fn time_series_buckets_sent_by_intended_and_rest_by_end() {
    let records = vec![
        rec(0, 100_000, 600_000),
        rec(1, 900_000, 2_100_000),
        failed(2, 1_200_000, 3_000_000, Outcome::Timeout),
    ];
    let ts = TimeSeries::from_records(&records, &e2e_targets());
    let s = &ts.seconds;
    assert_eq!(
        s.iter().map(|b| b.t_s).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(
        s.iter().map(|b| b.sent).collect::<Vec<_>>(),
        vec![2, 1, 0, 0]
    );
    assert_eq!(
        s.iter().map(|b| b.completed).collect::<Vec<_>>(),
        vec![1, 0, 1, 0]
    );
    assert_eq!(
        s.iter().map(|b| b.errors).collect::<Vec<_>>(),
        vec![0, 0, 0, 1]
    );
    assert_eq!(
        s.iter().map(|b| b.slo_met).collect::<Vec<_>>(),
        vec![1, 0, 0, 0]
    );
    // Read from histogram buckets: the highest value of the bucket holding 500 ms (256 µs
    // wide there), 1200 ms (1024 µs) and 50 ms (32 µs).
    assert_eq!(s[0].e2e_p50_ms, Some(500.223));
    assert_eq!(s[2].e2e_p99_ms, Some(1200.127));
    assert_eq!(s[2].ttft_p50_ms, Some(50.015));
    assert_eq!(s[1].e2e_p50_ms, None);
    assert_eq!(s[0].output_tokens, 5);
    assert_eq!(s[3].output_tokens, 0);
}

#[test]
fn histograms_merge_like_concatenation() {
    let a = vec![rec(0, 0, 500_000), rec(1, 10, 700_000)];
    let b = vec![rec(2, 20, 2_000_000)];
    let mut h = LatencyHistograms::from_records(&a);
    h.merge(&LatencyHistograms::from_records(&b));
    let all: Vec<_> = a.into_iter().chain(b).collect();
    assert_eq!(h, LatencyHistograms::from_records(&all));
}

/// A record of instance `b0` or `b1` due at second `s`, ending 300 ms later.
fn long_run_rec(id: u64, s: u64) -> RequestRecord {
    RequestRecord {
        backend_instance: Some(format!("b{}", id % 2)),
        ..rec(id, s * 1_000_000, s * 1_000_000 + 300_000)
    }
}

#[test]
fn a_long_run_widens_its_buckets_and_keeps_every_count() {
    // Three requests a second for 10,000 s: past the 3,600-bucket limit twice.
    let seconds = 10_000u64;
    let mut all = RunAccumulator::new(&e2e_targets(), None);
    let (mut early, mut late) = (
        RunAccumulator::new(&e2e_targets(), None),
        RunAccumulator::new(&e2e_targets(), None),
    );
    let mut id = 0;
    for s in 0..seconds {
        for _ in 0..3 {
            let r = long_run_rec(id, s);
            all.add(&r);
            // One part sees only the first 1,000 s (one-second buckets), the other the rest.
            if s < 1000 {
                early.add(&r)
            } else {
                late.add(&r)
            }
            id += 1;
        }
    }
    early.merge(late);
    let a = all.finish(MeasureWindow::UntilLastEnd);
    let m = early.finish(MeasureWindow::UntilLastEnd);
    assert_eq!(
        a.time_series, m.time_series,
        "merging is lossless across widths"
    );
    assert_eq!(a.by_instance, m.by_instance);

    let ts = &a.time_series;
    assert_eq!(ts.bucket_s, 4);
    assert!(ts.seconds.len() <= MAX_BUCKETS);
    assert_eq!(ts.seconds.len(), 2500);
    assert_eq!(ts.seconds[1].t_s, 4);
    assert_eq!(ts.seconds.iter().map(|b| b.sent).sum::<u64>(), 3 * seconds);
    assert_eq!(
        ts.seconds.iter().map(|b| b.completed).sum::<u64>(),
        3 * seconds
    );
    assert!(ts.seconds.iter().all(|b| b.sent == 12));
    for s in a.by_instance.values() {
        assert_eq!(s.requests_per_s.len(), ts.seconds.len());
        assert_eq!(s.tokens_per_s.len(), ts.seconds.len());
        assert_eq!(s.requests_per_s.iter().sum::<u64>(), s.requests);
    }
    assert_eq!(a.by_instance["b0"].requests_per_s[0], 6);
}

#[test]
fn a_saved_state_with_a_bad_bucket_width_is_refused() {
    let mut acc = RunAccumulator::new(&e2e_targets(), None);
    acc.add(&long_run_rec(0, 5));
    let text = serde_json::to_string(&acc.state()).unwrap();
    assert!(text.contains("\"bucket_s\":1"), "{text}");
    for bad in ["0", "3", "1099511627777"] {
        let err = serde_json::from_str::<AccumulatorState>(&text.replacen(
            "\"bucket_s\":1",
            &format!("\"bucket_s\":{bad}"),
            1,
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains(&format!("bucket_s {bad}")),
            "{err}"
        );
    }
    assert!(serde_json::from_str::<AccumulatorState>(&text).is_ok());
}
