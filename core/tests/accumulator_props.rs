//! The run accumulator against the metric math as it was computed over a whole slice of
//! records (the oracles below are that code, kept verbatim in spirit): records fed one at a
//! time in any order give the same summary, breakdowns and histograms **bit for bit**, the same
//! per-second counts, and per-second percentiles equal to the bucket (3 significant digits) of
//! the exact nearest-rank value; plus what each backend instance got, the spans, and a
//! bottom-k sample of the records that does not depend on the order. Accumulators that each
//! took part of the records, merged in any order, equal one that took them all.
#![cfg(not(target_arch = "wasm32"))]

use cpbench_core::histogram::LatencyHistogram;
use cpbench_core::metrics::{
    InstanceStats, LatencyHistograms, LatencyStats, MeasureWindow, RunAccumulator, RunSpans,
    Summary, TimeSeries, sample_key,
};
use cpbench_core::record::{Outcome, RequestRecord};
use cpbench_core::report::{PolicyRun, PolicySwitch, RunParams};
use cpbench_core::slo::{SloTargets, meets_slo};
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;
use common::{record_strategy, targets};

mod oracle {
    //! The computations over a whole slice of records, as they were before the accumulator.
    use super::*;

    fn per_second(n: u64, duration_s: f64) -> f64 {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    }

    fn fraction(n: u64, total: u64) -> f64 {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    }

    pub(crate) fn duration_us(records: &[&RequestRecord], window: MeasureWindow) -> u64 {
        match window {
            MeasureWindow::UntilLastEnd => records.iter().map(|r| r.end_us).max().unwrap_or(0),
            MeasureWindow::DurationUs(us) => us,
        }
    }

    pub(crate) fn summary(
        records: &[&RequestRecord],
        targets: &SloTargets,
        duration_us: u64,
    ) -> Summary {
        let mut histograms = LatencyHistograms::default();
        for r in records {
            histograms.record(r);
        }
        let duration_s = duration_us as f64 / 1e6;
        let mut s = Summary {
            duration_s,
            ..Summary::default()
        };
        let mut timeouts = 0u64;
        for r in records {
            s.requests_total += 1;
            if meets_slo(r, targets) {
                s.slo_met += 1;
            }
            match r.outcome.error_key() {
                None => {
                    s.requests_succeeded += 1;
                    s.output_tokens_total += u64::from(r.output_tokens);
                    s.input_tokens_total += u64::from(r.input_tokens_or_est());
                    if r.input_tokens.is_none() {
                        s.input_tokens_estimated += 1;
                    }
                }
                Some(key) => {
                    s.requests_failed += 1;
                    *s.errors_by_kind.entry(key).or_insert(0) += 1;
                    if matches!(r.outcome, Outcome::Timeout) {
                        timeouts += 1;
                    }
                }
            }
        }
        s.request_throughput_rps = per_second(s.requests_succeeded, duration_s);
        s.output_tokens_per_s = per_second(s.output_tokens_total, duration_s);
        s.total_tokens_per_s = per_second(s.input_tokens_total + s.output_tokens_total, duration_s);
        s.goodput_rps = per_second(s.slo_met, duration_s);
        s.slo_compliance = fraction(s.slo_met, s.requests_total);
        s.error_rate = fraction(s.requests_failed, s.requests_total);
        s.timeout_rate = fraction(timeouts, s.requests_total);
        s.ttft = LatencyStats::from_histogram(&histograms.ttft);
        s.itl = LatencyStats::from_histogram(&histograms.itl);
        s.tpot = LatencyStats::from_histogram(&histograms.tpot);
        s.e2e = LatencyStats::from_histogram(&histograms.e2e);
        s.lateness = LatencyStats::from_histogram(&histograms.lateness);
        s.queue_time = LatencyStats::from_histogram(&histograms.queue_time);
        s
    }

    pub(crate) fn groups(
        records: &[&RequestRecord],
        targets: &SloTargets,
        duration_us: u64,
        key: impl Fn(&RequestRecord) -> String,
    ) -> BTreeMap<String, Summary> {
        let mut groups: BTreeMap<String, Vec<&RequestRecord>> = BTreeMap::new();
        for r in records {
            groups.entry(key(r)).or_default().push(r);
        }
        groups
            .into_iter()
            .map(|(k, rs)| (k, summary(&rs, targets, duration_us)))
            .collect()
    }

    /// Exact nearest rank, µs.
    fn nearest_rank(values: &mut [u64], p: f64) -> Option<u64> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
        Some(values[rank.clamp(1, values.len()) - 1])
    }

    /// The series with exact per-second percentiles, in µs: `(series, [e2e p50, e2e p99,
    /// ttft p50, ttft p99] per second)`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn series(
        records: &[&RequestRecord],
        targets: &SloTargets,
    ) -> (Vec<[u64; 6]>, Vec<[Option<u64>; 4]>) {
        let Some(last_us) = records.iter().map(|r| r.intended_us.max(r.end_us)).max() else {
            return (Vec::new(), Vec::new());
        };
        let n = (last_us / 1_000_000 + 1) as usize;
        // t_s, sent, completed, errors, slo_met, output_tokens
        let mut counts: Vec<[u64; 6]> = (0..n as u64).map(|t| [t, 0, 0, 0, 0, 0]).collect();
        let mut e2e: Vec<Vec<u64>> = vec![Vec::new(); n];
        let mut ttft: Vec<Vec<u64>> = vec![Vec::new(); n];
        let sec = |us: u64| (us / 1_000_000) as usize;
        for r in records {
            counts[sec(r.intended_us)][1] += 1;
            let i = sec(r.end_us);
            if meets_slo(r, targets) {
                counts[i][4] += 1;
            }
            if !r.outcome.is_success() {
                counts[i][3] += 1;
                continue;
            }
            counts[i][2] += 1;
            counts[i][5] += u64::from(r.output_tokens);
            e2e[i].push(r.end_us.saturating_sub(r.intended_us));
            if r.kind.is_llm()
                && let Some(first) = r.first_token_us
            {
                ttft[i].push(first.saturating_sub(r.intended_us));
            }
        }
        let pct = e2e
            .iter_mut()
            .zip(&mut ttft)
            .map(|(e, t)| {
                [
                    nearest_rank(e, 50.0),
                    nearest_rank(e, 99.0),
                    nearest_rank(t, 50.0),
                    nearest_rank(t, 99.0),
                ]
            })
            .collect();
        (counts, pct)
    }
}

/// The highest value of the `LatencyHistogram` bucket holding `us`.
fn bucket_of(us: u64) -> u64 {
    let mut h = LatencyHistogram::new();
    h.record(us);
    h.buckets().next().unwrap().0
}

fn shuffled() -> impl Strategy<Value = (Vec<RequestRecord>, Vec<RequestRecord>)> {
    proptest::collection::vec(record_strategy(), 0..120).prop_flat_map(|records| {
        let order = Just(records.clone()).prop_shuffle();
        (Just(records), order)
    })
}

fn window() -> impl Strategy<Value = MeasureWindow> {
    prop_oneof![
        Just(MeasureWindow::UntilLastEnd),
        (0u64..40_000_000).prop_map(MeasureWindow::DurationUs),
    ]
}

/// Feeds `records` to an accumulator, by value and by reference in turn.
fn accumulate(records: &[RequestRecord], t: &SloTargets, limit: Option<usize>) -> RunAccumulator {
    let mut acc = RunAccumulator::new(t, limit);
    for (i, r) in records.iter().enumerate() {
        if i % 2 == 0 {
            acc.push(r.clone());
        } else {
            acc.add(r);
        }
    }
    acc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn accumulator_equals_the_slice_computations(
        (records, arrival) in shuffled(),
        window in window(),
        limit in 0usize..150,
    ) {
        let t = targets();
        let all: Vec<&RequestRecord> = records.iter().collect();
        let a = accumulate(&arrival, &t, Some(limit)).finish(window);
        let duration_us = oracle::duration_us(&all, window);

        // Summary, breakdowns and histograms: bit for bit (compared as values and as JSON,
        // which writes every float exactly).
        let summary = oracle::summary(&all, &t, duration_us);
        prop_assert_eq!(&a.summary, &summary);
        prop_assert_eq!(serde_json::to_string(&a.summary).unwrap(), serde_json::to_string(&summary).unwrap());
        let mut histograms = LatencyHistograms::default();
        for r in &records {
            histograms.record(r);
        }
        prop_assert_eq!(&a.histograms, &histograms);
        let by_priority = oracle::groups(&all, &t, duration_us, |r| r.priority.as_str().to_owned());
        let by_model = oracle::groups(&all, &t, duration_us, |r| r.model.clone());
        let by_kind = oracle::groups(&all, &t, duration_us, |r| r.kind.as_str().to_owned());
        prop_assert_eq!(&a.by_priority, &by_priority);
        prop_assert_eq!(&a.by_model, &by_model);
        prop_assert_eq!(&a.by_kind, &by_kind);
        prop_assert_eq!(serde_json::to_string(&a.by_model).unwrap(), serde_json::to_string(&by_model).unwrap());

        // Per-second series: the same seconds and counts; each percentile is the highest
        // value of the histogram bucket holding the exact nearest-rank value (so equal below
        // 2,048 µs, at most 1/1024 above it beyond).
        let (counts, exact) = oracle::series(&all, &t);
        prop_assert_eq!(a.time_series.seconds.len(), counts.len());
        for ((b, c), e) in a.time_series.seconds.iter().zip(&counts).zip(&exact) {
            prop_assert_eq!([b.t_s, b.sent, b.completed, b.errors, b.slo_met, b.output_tokens], *c);
            let got = [b.e2e_p50_ms, b.e2e_p99_ms, b.ttft_p50_ms, b.ttft_p99_ms];
            for (g, e) in got.iter().zip(e) {
                let want = e.map(|us| bucket_of(us) as f64 / 1000.0);
                prop_assert_eq!(*g, want);
                if let (Some(g), Some(e)) = (g, e) {
                    let e_ms = *e as f64 / 1000.0;
                    prop_assert!(*g >= e_ms && *g - e_ms <= e_ms / 1024.0 + 1e-9);
                    if *e < 2048 {
                        prop_assert_eq!(*g, e_ms);
                    }
                }
            }
        }

        // Per instance: the records naming it, counted and measured directly.
        let mut by_instance: BTreeMap<String, InstanceStats> = BTreeMap::new();
        for r in &records {
            let Some(name) = &r.backend_instance else { continue };
            let s = by_instance.entry(name.clone()).or_default();
            s.requests += 1;
            if s.requests_per_s.is_empty() {
                s.requests_per_s = vec![0; counts.len()];
                s.tokens_per_s = vec![0; counts.len()];
            }
            s.requests_per_s[(r.intended_us / 1_000_000) as usize] += 1;
            if r.outcome.is_success() {
                s.tokens_per_s[(r.intended_us / 1_000_000) as usize] +=
                    u64::from(r.output_tokens) + u64::from(r.input_tokens_or_est());
                s.requests_succeeded += 1;
                s.output_tokens_total += u64::from(r.output_tokens);
                s.input_tokens_total += u64::from(r.input_tokens_or_est());
                s.e2e.record(r.end_us - r.intended_us);
                if r.kind.is_llm() {
                    s.ttft.record(r.first_token_us.unwrap() - r.intended_us);
                }
            }
        }
        prop_assert_eq!(&a.by_instance, &by_instance);
        let routed: u64 = by_instance.values().map(|s| s.requests).sum();
        let unrouted = records.iter().filter(|r| r.backend_instance.is_none()).count() as u64;
        prop_assert_eq!(routed + unrouted, summary.requests_total);
        match by_instance.values().map(|s| s.requests).max() {
            None => prop_assert_eq!(a.load_imbalance, None),
            Some(max) => {
                let mean = routed as f64 / by_instance.len() as f64;
                let li = a.load_imbalance.unwrap();
                prop_assert!((li - max as f64 / mean).abs() <= 1e-12 * li);
                prop_assert!(li >= 1.0 - 1e-12);
            }
        }

        // Spans: first, last and count of each kind of instant.
        let span = |ts: Vec<u64>| (ts.len() as u64, ts.iter().min().copied().unwrap_or(0), ts.iter().max().copied().unwrap_or(0));
        let s: RunSpans = a.spans;
        prop_assert_eq!((s.intended.count, s.intended.first_us, s.intended.last_us), span(records.iter().map(|r| r.intended_us).collect()));
        prop_assert_eq!((s.sent.count, s.sent.first_us, s.sent.last_us), span(records.iter().map(|r| r.sent_us).collect()));
        prop_assert_eq!(
            (s.succeeded_end.count, s.succeeded_end.first_us, s.succeeded_end.last_us),
            span(records.iter().filter(|r| r.outcome.is_success()).map(|r| r.end_us).collect())
        );

        // The sample: the `limit` smallest (key, id, intended, end), sorted by id.
        let sample = a.records_sample.unwrap();
        let mut chosen: Vec<&RequestRecord> = records.iter().collect();
        chosen.sort_by_key(|r| (sample_key(r.id), r.id, r.intended_us, r.end_us));
        chosen.truncate(limit);
        chosen.sort_by_key(|r| (r.id, r.intended_us, r.end_us));
        prop_assert_eq!((sample.limit, sample.total), (limit as u64, records.len() as u64));
        prop_assert_eq!(sample.records.len(), chosen.len());
        for (got, want) in sample.records.iter().zip(&chosen) {
            prop_assert_eq!(
                (got.id, got.intended_us, got.end_us),
                (want.id, want.intended_us, want.end_us)
            );
        }
        prop_assert_eq!(sample.is_complete(), records.len() <= limit);
        prop_assert!(sample.records.len() <= limit);
    }

    #[test]
    fn merged_accumulators_equal_one(
        (records, arrival) in shuffled(),
        shard_of in proptest::collection::vec(0usize..4, 120),
        merge_order in Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
        window in window(),
        limit in proptest::option::of(0usize..150),
    ) {
        // Records dealt to four accumulators (as to sending threads), merged in any order.
        let t = targets();
        let one = accumulate(&records, &t, limit).finish(window);
        let mut shards: Vec<Vec<RequestRecord>> = vec![Vec::new(); 4];
        for (r, &k) in arrival.iter().zip(&shard_of) {
            shards[k].push(r.clone());
        }
        let mut parts: Vec<Option<RunAccumulator>> =
            shards.iter().map(|s| Some(accumulate(s, &t, limit))).collect();
        let mut merged = parts[merge_order[0]].take().unwrap();
        for &k in &merge_order[1..] {
            merged.merge(parts[k].take().unwrap());
        }
        prop_assert_eq!(merged.len(), records.len() as u64);
        let merged = merged.finish(window);
        prop_assert_eq!(serde_json::to_string(&merged.summary).unwrap(), serde_json::to_string(&one.summary).unwrap());
        prop_assert_eq!(&merged.time_series, &one.time_series);
        prop_assert_eq!(&merged.by_instance, &one.by_instance);
        prop_assert_eq!(&merged.records_sample, &one.records_sample);
        prop_assert!(merged == one, "every section equal");
    }

    #[test]
    fn ttft_splits_into_queue_and_the_rest(
        (records, arrival) in shuffled(),
        split in 0usize..120,
    ) {
        // The two parts hold the same requests (successful LLM ones with a first token and a
        // queue time), each part at most the TTFT, and they add up to it request by request.
        let t = targets();
        let a = accumulate(&arrival, &t, None).finish(MeasureWindow::UntilLastEnd);
        let mut queue = LatencyHistogram::new();
        let mut rest = LatencyHistogram::new();
        let mut ttft = LatencyHistogram::new();
        for r in &records {
            let (Some(first), Some(q)) = (r.first_token_us, r.queue_time_ms) else { continue };
            if !r.outcome.is_success() || !r.kind.is_llm() || !q.is_finite() || q < 0.0 {
                continue;
            }
            let total = first - r.intended_us;
            let q = ((q * 1000.0).round() as u64).min(total);
            queue.record(q);
            rest.record(total - q);
            ttft.record(total);
        }
        prop_assert_eq!(&a.histograms.ttft_queue, &queue);
        prop_assert_eq!(&a.histograms.ttft_after_queue, &rest);
        prop_assert_eq!(a.histograms.ttft_queue.count(), ttft.count());
        prop_assert!(a.histograms.ttft_queue.count() <= a.histograms.ttft.count());
        if ttft.count() > 0 {
            // Means read from the buckets: within the histogram's precision of the TTFT's.
            let sum = queue.moments_us().0 + rest.moments_us().0;
            let want = ttft.moments_us().0;
            prop_assert!((sum - want).abs() <= want / 256.0 + 2.0, "{sum} vs {want}");
        }
        // Split between two accumulators and merged: the same histograms.
        let cut = split.min(arrival.len());
        let mut first = accumulate(&arrival[..cut], &t, None);
        first.merge(accumulate(&arrival[cut..], &t, None));
        let merged = first.finish(MeasureWindow::UntilLastEnd);
        prop_assert_eq!(&merged.histograms.ttft_queue, &a.histograms.ttft_queue);
        prop_assert_eq!(&merged.histograms.ttft_after_queue, &a.histograms.ttft_after_queue);
    }

    #[test]
    fn the_slice_functions_are_the_accumulator(
        (records, arrival) in shuffled(),
        window in window(),
    ) {
        let t = targets();
        let a = accumulate(&arrival, &t, None).finish(window);
        prop_assert!(a.records_sample.is_none());
        let (summary, histograms) = Summary::from_records(&records, &t, window);
        prop_assert_eq!(&a.summary, &summary);
        prop_assert_eq!(&a.histograms, &histograms);
        prop_assert_eq!(&a.time_series, &TimeSeries::from_records(&records, &t));
        let run = PolicyRun::from_records_in_window(
            "p", PolicySwitch::Simulated, RunParams::default(), arrival, &t, false, window,
        );
        prop_assert_eq!(&run.summary, &a.summary);
        prop_assert_eq!(&run.by_priority, &a.by_priority);
        prop_assert_eq!(&run.by_instance, &a.by_instance);
        prop_assert_eq!(run.spans, a.spans);
    }
}
