//! Merging the results of the N shards of one invocation into one report of the same form as
//! an unsharded run's: the inputs are checked to be the N distinct shards of one workload and
//! configuration, each run's accumulators are merged (histograms, counts, breakdowns,
//! per-second series, instances, spans, the records sample), as if one process had taken
//! every record. Pure: reading and writing the files is `merge`'s ([`crate::commands`]).

use crate::plan::usage;
use anyhow::Result;
use cpbench_core::experiment::{self, ExperimentSummary};
use cpbench_core::histogram::LatencyHistogram;
use cpbench_core::metrics::{MeasureWindow, RunAccumulator, RunAggregates};
use cpbench_core::report::{MergedShard, PolicyRun, Report, ShardInfo};
use cpbench_core::trials;

/// A clock offset (or error) above this fraction of the smallest median latency measured
/// (TTFT, else end to end) is warned about.
pub const CLOCK_WARN_FRACTION: f64 = 0.10;

/// One shard result to merge: its file name (for messages and `merged_from`) and report.
#[derive(Debug, Clone)]
pub struct ShardInput {
    /// The file's name as given.
    pub name: String,
    /// Its report.
    pub report: Report,
}

fn shard_of(i: &ShardInput) -> Result<&ShardInfo> {
    i.report.shard.as_ref().ok_or_else(|| {
        usage(format!(
            "{}: not a shard result (it has no shard section: it was not written with --shard I/N)",
            i.name
        ))
    })
}

/// Checks that `inputs` are the N distinct shards of one workload and configuration, with
/// the same runs; the error names the missing, duplicated or mismatched shard and file.
pub fn check(inputs: &[ShardInput]) -> Result<()> {
    let Some(first) = inputs.first() else {
        return Err(usage("merge: give the shard results to merge"));
    };
    let f = shard_of(first)?;
    let n = f.count;
    let mut seen: Vec<Option<&str>> = vec![None; n as usize];
    for i in inputs {
        let s = shard_of(i)?;
        if s.count != n {
            return Err(usage(format!(
                "{} is shard {}/{} but {} is shard {}/{}: they are not shards of one invocation",
                i.name, s.index, s.count, first.name, f.index, f.count
            )));
        }
        if s.workload_hash != f.workload_hash {
            return Err(usage(format!(
                "{} sent workload {} but {} sent workload {}: shards of different workloads cannot be merged",
                i.name, s.workload_hash, first.name, f.workload_hash
            )));
        }
        if s.config_hash != f.config_hash || i.report.kind != first.report.kind {
            return Err(usage(format!(
                "{} ran another configuration than {} (config hash {} against {}): shards of one invocation share it",
                i.name, first.name, s.config_hash, f.config_hash
            )));
        }
        if let Some(other) = seen[s.index as usize] {
            return Err(usage(format!(
                "shard {}/{n} is given twice: {other} and {}",
                s.index, i.name
            )));
        }
        seen[s.index as usize] = Some(&i.name);
        let (a, b) = (&first.report.runs, &i.report.runs);
        let same_runs = a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.policy == y.policy && x.params == y.params);
        if !same_runs {
            return Err(usage(format!(
                "{} holds other runs than {} ({} against {}): was one of them interrupted?",
                i.name,
                first.name,
                run_names(b),
                run_names(a)
            )));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(k, _)| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "shard {} missing: {} of {n} shard results given; merge needs every shard of the invocation",
            missing.join(", "),
            inputs.len()
        )));
    }
    Ok(())
}

fn run_names(runs: &[PolicyRun]) -> String {
    runs.iter()
        .map(|r| r.policy.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Merges checked shard results ([`check`]) into one report: runs merged, `shard` removed,
/// `merged_from` naming each shard; warnings for failed phases and clocks off by much.
pub fn merge(mut inputs: Vec<ShardInput>) -> Result<Report> {
    check(&inputs)?;
    inputs.sort_by_key(|i| i.report.shard.as_ref().map_or(0, |s| s.index));
    let n = inputs.len();
    let mut out = inputs[0].report.clone();
    out.shard = None;
    out.records_file = None;
    out.records_csv = None;
    out.partial = inputs.iter().any(|i| i.report.partial);
    out.runs = (0..out.runs.len()).map(|k| merge_run(&inputs, k)).collect();
    let mut warnings = Vec::new();
    let mut notes = vec![format!(
        "merged from {n} shards (sage-cp-bench merge): every run holds the requests of every shard, its accumulators merged"
    )];
    for i in &inputs {
        let s = i.report.shard.as_ref().expect("checked");
        for w in &i.report.warnings {
            warnings.push(format!("shard {}/{n}: {w}", s.index));
        }
        for note in &i.report.environment.notes {
            if !notes.contains(note) && !out.environment.notes.contains(note) {
                notes.push(note.clone());
            }
        }
        if let Some(h) = &i.report.environment.hostname {
            notes.push(format!("shard {}/{n} ran on host {h}", s.index));
        }
    }
    out.merged_from = inputs.iter().map(merged_shard).collect();
    warnings.extend(clock_warnings(&out));
    out.warnings = warnings;
    out.environment.notes.extend(notes);
    if let Some(stats) = &out.statistics {
        out.statistics = Some(trials::statistics(
            &out.runs,
            &trials::TrialPlan {
                trials: stats.trials_planned,
                seeds: stats.trial_seeds,
                workloads: stats.trial_workloads.clone(),
                baseline: Some(stats.baseline.clone()),
                seed: out.seed,
            },
        ));
    }
    if let Some(e) = out
        .experiment
        .as_ref()
        .and_then(|v| serde_json::from_value::<ExperimentSummary>(v.clone()).ok())
    {
        let s = experiment::summarize(e.name, &out, e.criteria.unwrap_or_default());
        out.experiment = serde_json::to_value(s).ok();
    }
    Ok(out)
}

/// Run `k` of every shard, merged.
fn merge_run(inputs: &[ShardInput], k: usize) -> PolicyRun {
    let n = inputs.len();
    let mut acc: Option<RunAccumulator> = None;
    let mut failed = Vec::new();
    for i in inputs {
        let s = i.report.shard.as_ref().expect("checked");
        let run = &i.report.runs[k];
        match s.accumulators.get(k).cloned().flatten() {
            Some(state) => {
                let a = RunAccumulator::from_state(state, run.records_sample.as_ref());
                match &mut acc {
                    Some(total) => total.merge(a),
                    None => acc = Some(a),
                }
            }
            None => failed.push(s.index),
        }
    }
    // The control plane's snapshots, series and notes: shard 0's, the one that switched.
    let base = &inputs[0].report.runs[k];
    let aggregates = acc.map_or_else(RunAggregates::default, |a| {
        a.finish(MeasureWindow::UntilLastEnd)
    });
    let mut run = PolicyRun::from_aggregates(
        base.policy.clone(),
        base.policy_switch,
        base.params.clone(),
        aggregates,
    );
    run.started_at = base.started_at.clone();
    run.control_plane = base.control_plane.clone();
    run.series = base.series.clone();
    run.telemetry_sources = base.telemetry_sources.clone();
    run.gpu_samples = base.gpu_samples.clone();
    run.gpu_summary = base.gpu_summary.clone();
    run.partial = inputs.iter().any(|i| i.report.runs[k].partial);
    run.notes = base.notes.clone();
    for i in inputs {
        let s = i.report.shard.as_ref().expect("checked");
        for w in &i.report.runs[k].warnings {
            run.warnings.push(format!("shard {}/{n}: {w}", s.index));
        }
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|k| format!("{k}/{n}")).collect();
        run.warnings.push(format!(
            "phase failed on shard {}: this run holds the other shards' requests only",
            list.join(", ")
        ));
    }
    run
}

/// One shard's entry of `merged_from`.
fn merged_shard(i: &ShardInput) -> MergedShard {
    let s = i.report.shard.as_ref().expect("checked");
    let mut lateness = LatencyHistogram::new();
    for r in &i.report.runs {
        lateness.merge(&r.histograms.lateness);
    }
    let some = |v: f64| (!lateness.is_empty()).then_some(v);
    MergedShard {
        file: i.name.clone(),
        index: s.index,
        records_file: i.report.records_file.as_ref().map(|f| f.name.clone()),
        send_lateness_p50_ms: some(lateness.percentile_ms(50.0)),
        send_lateness_max_ms: some(lateness.max_ms()),
        start_lateness_max_ms: s
            .phases
            .iter()
            .map(|p| p.start_lateness_ms)
            .fold(0.0, f64::max),
        clock: s.clock.clone(),
        clock_check: s.clock_check.clone(),
    }
}

/// The smallest median latency of the merged runs: TTFT where measured, else end to end.
fn reference_latency_ms(report: &Report) -> Option<f64> {
    report
        .runs
        .iter()
        .filter_map(|r| r.summary.ttft.or(r.summary.e2e).map(|s| s.p50_ms))
        .filter(|v| *v > 0.0)
        .reduce(f64::min)
}

/// Warnings for shards whose clock is off, or uncertain, by more than
/// [`CLOCK_WARN_FRACTION`] of the smallest median latency.
fn clock_warnings(report: &Report) -> Vec<String> {
    let Some(reference) = reference_latency_ms(report) else {
        return Vec::new();
    };
    let limit = reference * CLOCK_WARN_FRACTION;
    let mut out = Vec::new();
    for m in &report.merged_from {
        if let (Some(off), Some(rtt)) = (m.clock_check.offset_ms, m.clock_check.rtt_ms)
            && off.abs() > limit
        {
            out.push(format!(
                "shard {}'s clock is {off:+.1} ms off the control plane's (round trip {rtt:.1} ms), more than {:.0} % of the smallest median latency ({reference:.1} ms): its requests were sent off the shared timeline by about as much (its latencies, measured on its own clock, are not affected); synchronize the clocks (NTP/PTP)",
                m.index,
                CLOCK_WARN_FRACTION * 100.0
            ));
        }
        if m.clock.status == "synchronized"
            && let Some(err) = m.clock.est_error_ms
            && err > limit
        {
            out.push(format!(
                "shard {}'s kernel estimates its clock's error at {err:.1} ms, more than {:.0} % of the smallest median latency ({reference:.1} ms)",
                m.index,
                CLOCK_WARN_FRACTION * 100.0
            ));
        }
    }
    out
}
