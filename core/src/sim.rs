//! The virtual-time driver: runs a workload through a [`Cluster`] without HTTP.
//!
//! [`simulate`] feeds each request at its `offset_us`, jumps the clock straight to the next
//! arrival or cluster timer, and measures every request the way the runner measures a
//! streamed request against the real server: `intended_us = sent_us = offset_us`, the first
//! `Tokens` event is the first token, the gaps between `Tokens` events are the inter-token
//! latencies, `Finished` ends it with its `usage`, `Rejected` is an HTTP error outcome, and
//! `Dispatched` gives the queue time and the backend instance. Embeddings arrive whole: their
//! first token is their end. Same inputs, same bytes.

use crate::cluster::prefix::BlockHasher;
use crate::cluster::{
    Cluster, ClusterError, ClusterEvent, ClusterMetrics, ClusterRequest, ClusterSpec,
};
use crate::record::{Outcome, RequestRecord, TokenSource};
use crate::workload::{RequestSpec, Workload};
use std::collections::HashMap;

/// What a simulation produces.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutput {
    /// One record per request, sorted by request id.
    pub records: Vec<RequestRecord>,
    /// The cluster's `/admin/metrics` snapshot at the end of the run.
    pub metrics: ClusterMetrics,
    /// Its snapshot at every whole second of virtual time ([`SAMPLE_INTERVAL_US`]) from the
    /// first arrival to the end, as a runner polling `/admin/metrics` sees it: `(µs, snapshot)`.
    /// A run longer than [`MAX_SAMPLES`] seconds keeps every 2nd, 4th, ... second instead, so
    /// at most [`MAX_SAMPLES`] snapshots whatever its length.
    pub samples: Vec<(u64, ClusterMetrics)>,
}

/// The cluster's metrics of a simulation run by [`simulate_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimMetrics {
    /// The cluster's `/admin/metrics` snapshot at the end of the run.
    pub metrics: ClusterMetrics,
    /// Its snapshots over virtual time, as in [`SimOutput::samples`] (at most
    /// [`MAX_SAMPLES`]).
    pub samples: Vec<(u64, ClusterMetrics)>,
}

/// How often [`simulate`] takes a snapshot of the cluster's metrics, µs of virtual time.
pub const SAMPLE_INTERVAL_US: u64 = 1_000_000;

/// The most snapshots a simulation keeps (an hour of seconds): beyond it the interval
/// doubles and every other snapshot is dropped, so memory and the report stay bounded.
pub const MAX_SAMPLES: usize = 3600;

#[derive(Debug, Clone, Default)]
struct Track {
    first_token_us: Option<u64>,
    last_token_us: Option<u64>,
    end_us: Option<u64>,
    itl_us: Vec<u32>,
    chunks: u32,
    outcome: Option<Outcome>,
    output_tokens: u32,
    input_tokens: Option<u32>,
    queue_time_ms: Option<f64>,
    backend_instance: Option<String>,
}

/// Runs the measured requests of `workload` (any order; fed in `offset_us` order, ties by
/// position) through a cluster built from `spec` with `policy`, in virtual time, until every
/// request has ended, and gives every record at once, sorted by id. Memory grows with the
/// number of requests: long runs use [`simulate_with`], which hands each record over as it
/// ends.
pub fn simulate(
    workload: &Workload,
    spec: &ClusterSpec,
    policy: &str,
    seed: u64,
) -> Result<SimOutput, ClusterError> {
    let mut records = Vec::with_capacity(workload.requests.len());
    let SimMetrics { metrics, samples } =
        simulate_with(workload, spec, policy, seed, |r| records.push(r))?;
    records.sort_by_key(|r| r.id);
    Ok(SimOutput {
        records,
        metrics,
        samples,
    })
}

/// [`simulate`], handing each request's record to `on_record` as soon as the request ends
/// (in the order they end, the same for the same inputs; requests the cluster never ended,
/// which cannot happen, last, by position), and giving the cluster's `/admin/metrics`
/// snapshots (every second, and at the end). Only the requests in flight are kept: memory beyond the workload's
/// schedule does not grow with the number of requests. The requests' sizes (estimated
/// prompt tokens, `max_tokens`, number of inputs) drive the cluster; an LLM request's prompt
/// text is made only to name its prefix blocks, hashed piece by piece as it is made and
/// never held whole.
pub fn simulate_with(
    workload: &Workload,
    spec: &ClusterSpec,
    policy: &str,
    seed: u64,
    mut on_record: impl FnMut(RequestRecord),
) -> Result<SimMetrics, ClusterError> {
    let requests = &workload.requests;
    let models = &workload.models;
    let mut cluster = Cluster::new(spec, policy, seed)?;
    // Positions in arrival order, only when the schedule is not sorted already.
    let order: Option<Vec<usize>> = (!requests
        .windows(2)
        .all(|w| w[0].offset_us <= w[1].offset_us))
    .then(|| {
        let mut o: Vec<usize> = (0..requests.len()).collect();
        o.sort_by_key(|&i| (requests[i].offset_us, i));
        o
    });
    let position = |n: usize| order.as_ref().map_or(Some(n), |o| o.get(n).copied());
    // The requests in flight, by position.
    let mut tracks: HashMap<u64, Track> = HashMap::new();
    let mut next = 0usize;
    let mut samples: Vec<(u64, ClusterMetrics)> = Vec::new();
    let mut next_sample_us = 0u64;
    let mut sample_interval_us = SAMPLE_INTERVAL_US;
    loop {
        let arrival = position(next)
            .and_then(|i| requests.get(i))
            .map(|r| r.offset_us);
        let timer = cluster.poll_timeout();
        let take_arrival = match (arrival, timer) {
            (None, None) => break,
            (Some(a), Some(t)) => a <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        // Snapshots of the instants before this event: what every event before them made.
        let at = if take_arrival { arrival } else { timer }.unwrap_or(0);
        while next_sample_us <= at {
            samples.push((
                next_sample_us,
                cluster.metrics(next_sample_us.max(cluster.now_us())),
            ));
            next_sample_us += sample_interval_us;
            if samples.len() > MAX_SAMPLES {
                // Keep the snapshots at multiples of the doubled interval (0 included).
                sample_interval_us *= 2;
                samples.retain(|(t, _)| t.is_multiple_of(sample_interval_us));
                next_sample_us = next_sample_us.div_ceil(sample_interval_us) * sample_interval_us;
            }
        }
        if take_arrival {
            let i = position(next).expect("an arrival is due");
            next += 1;
            let r = &requests[i];
            tracks.insert(i as u64, Track::default());
            cluster.on_arrival(
                r.offset_us,
                ClusterRequest {
                    key: i as u64,
                    kind: r.kind,
                    model: models[r.model as usize].clone(),
                    priority: r.priority,
                    deadline_ms: r.slo_deadline_ms,
                    ttft_deadline_ms: r.slo_ttft_ms,
                    prompt_tokens: r.prompt_tokens_est,
                    max_tokens: r.max_tokens,
                    num_inputs: r.num_inputs(),
                    // The blocks of the text the runner sends (one chat message or the
                    // completion prompt), as the reference server hashes them; the text is
                    // hashed piece by piece as it is made, never held.
                    prefix_blocks: if r.kind.is_llm() {
                        let mut blocks = BlockHasher::new();
                        workload
                            .texts
                            .prompt_pieces(&r.text, |piece| blocks.push_str(piece));
                        blocks.finish()
                    } else {
                        Vec::new()
                    },
                },
            );
        } else if let Some(t) = timer {
            cluster.handle_timeout(t);
        }
        while let Some(ev) = cluster.poll_event() {
            let key = ev.key();
            let Some(t) = tracks.get_mut(&key) else {
                continue;
            };
            if apply(t, ev) {
                let t = tracks.remove(&key).expect("the request is in flight");
                let r = &requests[key as usize];
                on_record(to_record(r, &models[r.model as usize], t, 0));
            }
        }
    }
    let end_us = cluster.now_us();
    let mut left: Vec<(u64, Track)> = tracks.into_iter().collect();
    left.sort_by_key(|(k, _)| *k);
    for (key, t) in left {
        let r = &requests[key as usize];
        on_record(to_record(r, &models[r.model as usize], t, end_us));
    }
    Ok(SimMetrics {
        metrics: cluster.metrics(end_us),
        samples,
    })
}

/// Applies one event to its request's track; `true` when the request has ended.
fn apply(t: &mut Track, ev: ClusterEvent) -> bool {
    match ev {
        ClusterEvent::Dispatched {
            instance,
            queue_time_us,
            ..
        } => {
            t.queue_time_ms = Some(queue_time_us as f64 / 1000.0);
            t.backend_instance = Some(instance);
            false
        }
        ClusterEvent::Tokens { at_us, .. } => {
            if let Some(last) = t.last_token_us {
                t.itl_us
                    .push(u32::try_from(at_us - last).unwrap_or(u32::MAX));
            } else {
                t.first_token_us = Some(at_us);
            }
            t.last_token_us = Some(at_us);
            t.chunks += 1;
            false
        }
        ClusterEvent::Finished {
            prompt_tokens,
            output_tokens,
            at_us,
            ..
        } => {
            t.end_us = Some(at_us);
            t.outcome = Some(Outcome::Success);
            t.output_tokens = output_tokens;
            t.input_tokens = Some(prompt_tokens);
            if t.first_token_us.is_none() {
                t.first_token_us = Some(at_us);
            }
            true
        }
        ClusterEvent::Rejected {
            status,
            message,
            at_us,
            ..
        } => {
            t.end_us = Some(at_us);
            t.outcome = Some(Outcome::Http { status, message });
            true
        }
    }
}

fn to_record(r: &RequestSpec, model: &str, t: Track, end_us: u64) -> RequestRecord {
    let success = matches!(t.outcome, Some(Outcome::Success));
    RequestRecord {
        first_token_us: if success { t.first_token_us } else { None },
        end_us: t.end_us.unwrap_or(end_us),
        itl_us: t.itl_us,
        // A request the cluster never ended cannot happen (every accepted request finishes);
        // record it as cancelled rather than inventing a result.
        outcome: t.outcome.unwrap_or(Outcome::Cancelled),
        output_tokens: t.output_tokens,
        output_tokens_source: if success && r.kind.is_llm() {
            TokenSource::Usage
        } else {
            TokenSource::None
        },
        chunks: t.chunks,
        input_tokens: if success { t.input_tokens } else { None },
        queue_time_ms: t.queue_time_ms,
        backend_instance: t.backend_instance,
        ..RequestRecord::for_spec(r, model)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::cluster::{POLICY_NAMES, presets};
    use crate::request::{Priority, RequestKind};
    use crate::workload::TextSource;
    use proptest::prelude::*;

    fn models() -> Vec<String> {
        vec!["tiny-llm".into(), "tiny-embed".into()]
    }

    fn workload(raw: &[(u16, u8, u8, u8, bool)]) -> Vec<RequestSpec> {
        let mut t = 0u64;
        raw.iter()
            .enumerate()
            .map(|(i, &(gap, prompt, out, class, emb))| {
                t += u64::from(gap) * 10;
                let priority = Priority::ALL[usize::from(class) % 3];
                RequestSpec {
                    id: i as u64,
                    offset_us: t,
                    kind: if emb {
                        RequestKind::Embedding
                    } else {
                        RequestKind::LlmChat
                    },
                    model: u32::from(emb),
                    priority,
                    slo_deadline_ms: 50 + u64::from(class) * 3,
                    slo_ttft_ms: None,
                    prompt_tokens_est: u32::from(prompt) * 4,
                    max_tokens: if emb { 0 } else { 1 + u32::from(out) % 40 },
                    text: if emb {
                        TextSource::FixedInputs {
                            seed: 0,
                            inputs: 1 + u32::from(out) % 12,
                            tokens: 1,
                        }
                    } else {
                        TextSource::Synthetic { seed: 0, tokens: 1 }
                    },
                }
            })
            .collect()
    }

    /// A run of several hours keeps at most `MAX_SAMPLES` snapshots, evenly spaced from 0.
    #[test]
    fn snapshots_stay_bounded_on_long_runs() {
        let mut reqs = workload(&[(0, 4, 4, 0, false), (0, 4, 4, 0, false)]);
        reqs[1].offset_us = 3 * 3600 * 1_000_000; // three hours later
        let w = Workload::from_requests(1, models(), reqs);
        let out = simulate(&w, &presets::tiny(), "fifo", 1).unwrap();
        assert!(out.samples.len() <= MAX_SAMPLES, "{}", out.samples.len());
        assert!(out.samples.len() > MAX_SAMPLES / 2, "{}", out.samples.len());
        let step = out.samples[1].0 - out.samples[0].0;
        assert_eq!(out.samples[0].0, 0);
        assert!(step > SAMPLE_INTERVAL_US && step.is_multiple_of(SAMPLE_INTERVAL_US));
        assert!(out.samples.windows(2).all(|p| p[1].0 - p[0].0 == step));
        assert_eq!(out.records.len(), 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Under every policy: same input, same output; every request succeeds with exactly
        /// its output length; times are ordered; queue time never exceeds the TTFT.
        #[test]
        fn every_policy_serves_everything_deterministically(
            raw in proptest::collection::vec(
                (0u16..2000, 0u8..200, any::<u8>(), any::<u8>(), any::<bool>()),
                1..120,
            ),
            policy in 0usize..POLICY_NAMES.len(),
        ) {
            let reqs = workload(&raw);
            let w = Workload::from_requests(1, models(), reqs.clone());
            let spec = presets::tiny();
            let name = POLICY_NAMES[policy];
            let a = simulate(&w, &spec, name, 1).unwrap();
            let b = simulate(&w, &spec, name, 1).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.metrics.requests.completed, reqs.len() as u64);
            for (r, s) in a.records.iter().zip(&reqs) {
                prop_assert!(r.outcome.is_success(), "{:?}", r.outcome);
                prop_assert_eq!(r.output_tokens, s.max_tokens);
                prop_assert_eq!(r.chunks, s.max_tokens);
                let first = r.first_token_us.unwrap();
                prop_assert!(r.intended_us <= first && first <= r.end_us);
                let q_us = (r.queue_time_ms.unwrap() * 1000.0).round() as u64;
                prop_assert!(r.intended_us + q_us <= first);
                if s.kind.is_llm() {
                    let gaps: u64 = r.itl_us.iter().map(|&g| u64::from(g)).sum();
                    prop_assert_eq!(first + gaps, r.end_us);
                }
            }
            prop_assert!(a.metrics.queues.llm == 0 && a.metrics.queues.embedding == 0);
        }
    }
}
