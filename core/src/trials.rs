//! Verdicts over repeated trials: from a report's runs (each policy on each workload variant,
//! repeated in trials) to [`Statistics`]: per policy and metric the mean with its confidence
//! interval, each policy against the baseline (paired by trial, Holm-adjusted), and per metric
//! whether the leader can be told from the runner-up.
//!
//! The metrics are the summary table's numeric columns ([`METRICS`]), so the table, the
//! reports and the verdicts speak of the same numbers. Means and differences use Student's t;
//! tail percentiles (p99), whose values across few trials are far from normal, get a seeded
//! bootstrap interval for their mean. Only trials in which every policy of a variant completed
//! are used, so every comparison is paired.

use crate::chart::table::{Column, SummaryRow};
use crate::report::{
    Comparison, Leader, MetricEstimate, PolicyRun, PolicyStatistics, RunParams, Statistics,
    StatisticsGroup, TrialSeeds, TrialWorkload,
};
use crate::stats::{
    BOOTSTRAP_RESAMPLES, bootstrap_interval, holm_adjust, paired_difference, t_interval,
    trials_needed,
};
use std::collections::BTreeMap;

/// The metrics compared across trials: the summary table's numeric columns.
pub const METRICS: [Column; 14] = Column::NUMERIC;

/// Confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;
/// Significance level of the tests.
pub const ALPHA: f64 = 0.05;
/// Power assumed when estimating how many trials a difference needs.
pub const POWER: f64 = 0.8;

/// What the statistics are computed with, besides the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialPlan {
    /// Trials asked for.
    pub trials: u32,
    /// How they were seeded.
    pub seeds: TrialSeeds,
    /// Each trial's seed and workload hash.
    pub workloads: Vec<TrialWorkload>,
    /// The policy the others are compared with; `None`: the first policy of each variant.
    pub baseline: Option<String>,
    /// Seed of the bootstrap resampling (the workload's seed, so a report is reproducible).
    pub seed: u64,
}

/// Whether a metric's interval is a bootstrap one (tail percentiles) rather than Student's t.
pub fn uses_bootstrap(c: Column) -> bool {
    matches!(c, Column::TtftP99 | Column::HighTtftP99 | Column::E2eP99)
}

/// The runs of one variant: per policy (in run order), per trial, the run.
type VariantRuns<'a> = Vec<(String, BTreeMap<u32, &'a PolicyRun>)>;

/// Groups runs by variant (their parameters without the trial), in run order.
fn variants(runs: &[PolicyRun]) -> Vec<(RunParams, VariantRuns<'_>)> {
    let mut out: Vec<(RunParams, VariantRuns<'_>)> = Vec::new();
    for r in runs {
        let v = r.params.variant();
        let idx = match out.iter().position(|(p, _)| *p == v) {
            Some(i) => i,
            None => {
                out.push((v, Vec::new()));
                out.len() - 1
            }
        };
        let policies = &mut out[idx].1;
        let p = match policies.iter().position(|(name, _)| *name == r.policy) {
            Some(i) => i,
            None => {
                policies.push((r.policy.clone(), BTreeMap::new()));
                policies.len() - 1
            }
        };
        policies[p].1.insert(r.params.trial.unwrap_or(1), r);
    }
    out
}

/// A seed for one metric's bootstraps, derived from the plan's seed (FNV-1a); the same for
/// every policy, so identical values give identical intervals.
fn bootstrap_seed(seed: u64, metric: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in metric.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The statistics of a report's runs.
pub fn statistics(runs: &[PolicyRun], plan: &TrialPlan) -> Statistics {
    let mut baseline_used = plan.baseline.clone();
    let groups = variants(runs)
        .into_iter()
        .map(|(params, policies)| {
            let baseline = plan
                .baseline
                .clone()
                .filter(|b| policies.iter().any(|(p, _)| p == b))
                .unwrap_or_else(|| policies.first().map(|(p, _)| p.clone()).unwrap_or_default());
            baseline_used.get_or_insert_with(|| baseline.clone());
            group(params, &policies, &baseline, plan.seed)
        })
        .collect();
    Statistics {
        trials_planned: plan.trials,
        trial_seeds: plan.seeds,
        trial_workloads: plan.workloads.clone(),
        confidence: CONFIDENCE,
        alpha: ALPHA,
        baseline: baseline_used.unwrap_or_default(),
        groups,
    }
}

fn group(
    params: RunParams,
    policies: &VariantRuns<'_>,
    baseline: &str,
    seed: u64,
) -> StatisticsGroup {
    // Trials in which every policy completed.
    let complete: Vec<u32> = policies
        .first()
        .map(|(_, t)| t.keys().copied().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|trial| {
            policies
                .iter()
                .all(|(_, t)| t.get(trial).is_some_and(|r| !r.partial))
        })
        .collect();
    // Per policy, per metric, the values of the complete trials (a metric missing in any
    // trial is left out for that policy).
    let values: Vec<(String, BTreeMap<Column, Vec<f64>>)> = policies
        .iter()
        .map(|(name, trials)| {
            let rows: Vec<SummaryRow> = complete
                .iter()
                .map(|t| SummaryRow::of_run(trials[t], name.clone(), 0))
                .collect();
            let by_metric = METRICS
                .iter()
                .filter_map(|&c| {
                    let v: Option<Vec<f64>> = rows.iter().map(|r| c.value(r)).collect();
                    v.filter(|v| !v.is_empty()).map(|v| (c, v))
                })
                .collect();
            (name.clone(), by_metric)
        })
        .collect();
    let policy_stats = values
        .iter()
        .map(|(name, by_metric)| PolicyStatistics {
            policy: name.clone(),
            metrics: by_metric
                .iter()
                .map(|(c, v)| (c.id().to_string(), estimate(*c, v, seed)))
                .collect(),
        })
        .collect();
    let base = values.iter().find(|(p, _)| p == baseline);
    let mut comparisons = Vec::new();
    for &c in &METRICS {
        let Some(b) = base.and_then(|(_, m)| m.get(&c)) else {
            continue;
        };
        let diffs: Vec<(String, crate::stats::PairedDifference)> = values
            .iter()
            .filter(|(p, _)| p != baseline)
            .filter_map(|(p, m)| {
                let d = paired_difference(m.get(&c)?, b, CONFIDENCE)?;
                Some((p.clone(), d))
            })
            .collect();
        let adjusted = holm_adjust(&diffs.iter().map(|(_, d)| d.p_value).collect::<Vec<_>>());
        for ((policy, d), p_adjusted) in diffs.into_iter().zip(adjusted) {
            comparisons.push(Comparison {
                policy,
                metric: c.id().to_string(),
                better: if c.higher_is_better() {
                    d.mean > 0.0
                } else {
                    d.mean < 0.0
                },
                significant: p_adjusted <= ALPHA,
                p_adjusted,
                difference: d,
            });
        }
    }
    let leaders = METRICS.iter().filter_map(|&c| leader(c, &values)).collect();
    StatisticsGroup {
        request_rate_rps: params.request_rate_rps,
        llm_ratio: params.llm_ratio,
        complete_trials: complete.len() as u32,
        policies: policy_stats,
        comparisons,
        leaders,
    }
}

fn estimate(c: Column, values: &[f64], seed: u64) -> MetricEstimate {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let interval = if uses_bootstrap(c) {
        bootstrap_interval(
            values,
            CONFIDENCE,
            BOOTSTRAP_RESAMPLES,
            bootstrap_seed(seed, c.id()),
        )
    } else {
        t_interval(values, CONFIDENCE)
    };
    MetricEstimate {
        values: values.to_vec(),
        mean,
        interval,
    }
}

/// The leading policy on one metric and whether it is distinguishable from the runner-up.
fn leader(c: Column, values: &[(String, BTreeMap<Column, Vec<f64>>)]) -> Option<Leader> {
    let mut ranked: Vec<(&str, &Vec<f64>, f64)> = values
        .iter()
        .filter_map(|(p, m)| {
            let v = m.get(&c)?;
            Some((p.as_str(), v, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect();
    if ranked.is_empty() {
        return None;
    }
    // Best first; equal means keep run order (stable sort).
    ranked.sort_by(|a, b| {
        let ord = a.2.total_cmp(&b.2);
        if c.higher_is_better() {
            ord.reverse()
        } else {
            ord
        }
    });
    let (policy, best, _) = ranked[0];
    let runner = ranked.get(1);
    let test = runner.and_then(|(_, v, _)| paired_difference(best, v, CONFIDENCE));
    Some(Leader {
        metric: c.id().to_string(),
        policy: policy.to_string(),
        runner_up: runner.map(|(p, _, _)| p.to_string()),
        significant: test.map(|d| d.p_value <= ALPHA),
        p_value: test.map(|d| d.p_value),
        trials_needed: test
            .filter(|d| d.p_value > ALPHA)
            .and_then(|d| trials_needed(d.sd, d.mean, ALPHA, POWER)),
    })
}

#[cfg(test)]
mod tests;
