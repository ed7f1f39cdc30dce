//! The predefined experiments' summaries: from a report's runs to the numbers an experiment
//! reports and the policy it names best. Pure functions of the report, so anyone can recompute
//! (and check) a summary from the result file.
//!
//! - `throughput`: each policy at several rates; a policy *sustains* a rate when its achieved
//!   throughput is within `tolerance` of the offered rate and its SLO compliance is at least
//!   `slo_threshold`. Offered and achieved rates are inter-event rates, so the drain tail of a
//!   short run does not count against it: offered = (n − 1) / (last intended send − first),
//!   achieved = (successes − 1) / (last end − first end) over successful requests.
//!   Best: highest max sustained rate, ties broken by achieved throughput at that rate.
//! - `latency`: every policy at one load; the full percentile spectrum; best at p50 and p99 of
//!   end-to-end latency (and of TTFT when there are LLM requests).
//! - `slo`: each policy at several loads; compliance per policy, priority and request type;
//!   best: highest mean compliance over the loads.
//! - `mixed_ratio`: each policy at several LLM/embedding ratios (hybrid mode); per-type
//!   metrics; best policy per ratio and overall (highest mean compliance over the ratios).
//!
//! With repeated trials (`--trials N`), each trial is summarized on its own; the summary's
//! points and spectra are the first trial's, [`ExperimentSummary::trial_verdict`] holds every
//! trial's score per policy, and `best_policy` names the leader only when its paired
//! difference from the runner-up over the trials is significant (otherwise `None`, and
//! `best_by` says the top policies are not distinguishable at this number of trials).

use crate::metrics::{LatencyStats, RunSpans};
use crate::report::{PolicyRun, Report};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which predefined experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentName {
    /// Max sustained throughput per policy over a rate sweep.
    Throughput,
    /// Latency spectrum per policy at a fixed load.
    Latency,
    /// SLO compliance per policy, priority and type across loads.
    Slo,
    /// Per-type metrics across LLM/embedding ratios.
    MixedRatio,
}

impl ExperimentName {
    /// All experiments.
    pub const ALL: [ExperimentName; 4] =
        [Self::Throughput, Self::Latency, Self::Slo, Self::MixedRatio];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throughput => "throughput",
            Self::Latency => "latency",
            Self::Slo => "slo",
            Self::MixedRatio => "mixed_ratio",
        }
    }

    /// Parses a name (the command-line spelling).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s.trim())
    }
}

/// Criteria of the throughput experiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThroughputCriteria {
    /// Achieved throughput may be this fraction below offered (0.1 = 10 %).
    pub tolerance: f64,
    /// Minimum SLO compliance (0 to 1) for a rate to count as sustained.
    pub slo_threshold: f64,
}

impl Default for ThroughputCriteria {
    fn default() -> Self {
        Self {
            tolerance: 0.1,
            slo_threshold: 0.9,
        }
    }
}

/// One (policy, rate) point of the throughput experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    /// Offered rate (the schedule's inter-arrival rate), req/s.
    pub offered_rps: f64,
    /// Configured rate of the run, req/s.
    pub configured_rps: f64,
    /// Achieved completion rate, req/s.
    pub achieved_rps: f64,
    /// SLO compliance of the run, 0 to 1.
    pub slo_compliance: f64,
    /// Whether the rate was sustained (see the module docs).
    pub sustained: bool,
}

/// Summary block of an experiment, stored in `Report::experiment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    /// Which experiment.
    pub name: ExperimentName,
    /// The policy the experiment names best (`None` when no run qualifies).
    pub best_policy: Option<String>,
    /// How `best_policy` was chosen, in words.
    pub best_by: String,
    /// Throughput experiment: criteria used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<ThroughputCriteria>,
    /// Throughput experiment: points per policy, by configured rate.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throughput: BTreeMap<String, Vec<ThroughputPoint>>,
    /// Throughput experiment: highest sustained configured rate per policy (req/s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_sustained_rps: BTreeMap<String, Option<f64>>,
    /// Latency experiment: E2E and TTFT statistics per policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency: BTreeMap<String, LatencySpectrum>,
    /// Latency experiment: the policy with the lowest p50 / p99 of E2E and TTFT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub best_at: BTreeMap<String, String>,
    /// SLO and mixed-ratio experiments: compliance per policy, then per load or ratio label,
    /// then per group (`all`, `priority:HIGH`, `kind:embedding`, ...), 0 to 1.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub compliance: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>,
    /// SLO and mixed-ratio experiments: mean overall compliance per policy over its runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mean_compliance: BTreeMap<String, f64>,
    /// Mixed-ratio experiment: best policy per LLM ratio label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub best_per_ratio: BTreeMap<String, String>,
    /// With repeated trials: the score `best_policy` is chosen by, per trial, and the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_verdict: Option<TrialVerdict>,
}

/// The experiment's score over repeated trials and whether its leader can be told from the
/// runner-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialVerdict {
    /// What the score is (`max sustained rate (req/s)`, ...).
    pub score: String,
    /// Whether a higher score is better.
    pub higher_is_better: bool,
    /// Per policy, the score of each trial (in trial order).
    pub scores: BTreeMap<String, Vec<f64>>,
    /// The policy with the best mean score.
    pub leader: String,
    /// The second best, when there is one.
    pub runner_up: Option<String>,
    /// Whether the leader's paired difference from the runner-up is significant (α 0.05).
    pub significant: Option<bool>,
    /// The paired t test's p-value.
    pub p_value: Option<f64>,
    /// When not significant: about how many trials would tell them apart (80 % power).
    pub trials_needed: Option<u32>,
}

/// Latency statistics of one policy at one load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySpectrum {
    /// End-to-end latency.
    pub e2e: Option<LatencyStats>,
    /// Time to first token.
    pub ttft: Option<LatencyStats>,
    /// Inter-token latency.
    pub itl: Option<LatencyStats>,
    /// Time per output token.
    pub tpot: Option<LatencyStats>,
}

impl ExperimentSummary {
    fn new(name: ExperimentName, best_by: &str) -> Self {
        Self {
            name,
            best_policy: None,
            best_by: best_by.into(),
            criteria: None,
            throughput: BTreeMap::new(),
            max_sustained_rps: BTreeMap::new(),
            latency: BTreeMap::new(),
            best_at: BTreeMap::new(),
            compliance: BTreeMap::new(),
            mean_compliance: BTreeMap::new(),
            best_per_ratio: BTreeMap::new(),
            trial_verdict: None,
        }
    }
}

/// Offered and achieved inter-event rates of a run (see the module docs), from its spans:
/// 0 where there are fewer than two events or no time between them.
pub fn offered_and_achieved_rps(spans: &RunSpans) -> (f64, f64) {
    (
        spans.intended.rate_rps().unwrap_or(0.0),
        spans.succeeded_end.rate_rps().unwrap_or(0.0),
    )
}

fn group_compliance(run: &PolicyRun) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert("all".to_string(), run.summary.slo_compliance);
    for (k, s) in &run.by_priority {
        m.insert(format!("priority:{k}"), s.slo_compliance);
    }
    for (k, s) in &run.by_kind {
        m.insert(format!("kind:{k}"), s.slo_compliance);
    }
    m
}

fn run_label(run: &PolicyRun) -> String {
    if let Some(l) = &run.params.label {
        return l.clone();
    }
    match (run.params.request_rate_rps, run.params.llm_ratio) {
        (_, Some(r)) => format!("llm_ratio={r}"),
        (Some(r), None) => format!("rate={r}"),
        (None, None) => "default".into(),
    }
}

/// Picks the key with the highest value (ties: the first in key order).
fn argmax<'a>(values: impl IntoIterator<Item = (&'a String, f64)>) -> Option<String> {
    let mut best: Option<(&String, f64)> = None;
    for (k, v) in values {
        if v.is_finite() && best.is_none_or(|(_, b)| v > b) {
            best = Some((k, v));
        }
    }
    best.map(|(k, _)| k.clone())
}

/// The summary of a throughput experiment's report (from each run's `spans` and summary).
pub fn summarize_throughput(report: &Report, criteria: ThroughputCriteria) -> ExperimentSummary {
    let mut s = ExperimentSummary::new(
        ExperimentName::Throughput,
        "highest max sustained rate; ties by achieved throughput at that rate",
    );
    s.criteria = Some(criteria);
    for run in &report.runs {
        let (offered, achieved) = offered_and_achieved_rps(&run.spans);
        let sustained = offered > 0.0
            && achieved >= (1.0 - criteria.tolerance) * offered
            && run.summary.slo_compliance >= criteria.slo_threshold;
        s.throughput
            .entry(run.policy.clone())
            .or_default()
            .push(ThroughputPoint {
                offered_rps: offered,
                configured_rps: run.params.request_rate_rps.unwrap_or(offered),
                achieved_rps: achieved,
                slo_compliance: run.summary.slo_compliance,
                sustained,
            });
    }
    let mut key: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (policy, points) in &mut s.throughput {
        points.sort_by(|a, b| a.configured_rps.total_cmp(&b.configured_rps));
        let best = points
            .iter()
            .filter(|p| p.sustained)
            .max_by(|a, b| a.configured_rps.total_cmp(&b.configured_rps));
        s.max_sustained_rps
            .insert(policy.clone(), best.map(|p| p.configured_rps));
        if let Some(p) = best {
            key.insert(policy.clone(), (p.configured_rps, p.achieved_rps));
        }
    }
    let mut best: Option<(&String, (f64, f64))> = None;
    for (k, v) in &key {
        let better = match best {
            None => true,
            Some((_, b)) => v.0 > b.0 || (v.0 == b.0 && v.1 > b.1),
        };
        if better {
            best = Some((k, *v));
        }
    }
    s.best_policy = best.map(|(k, _)| k.clone());
    s
}

/// The summary of a latency experiment's report.
pub fn summarize_latency(report: &Report) -> ExperimentSummary {
    let mut s = ExperimentSummary::new(ExperimentName::Latency, "lowest p99 end-to-end latency");
    for run in &report.runs {
        s.latency.insert(
            run.policy.clone(),
            LatencySpectrum {
                e2e: run.summary.e2e,
                ttft: run.summary.ttft,
                itl: run.summary.itl,
                tpot: run.summary.tpot,
            },
        );
    }
    let pick = |f: &dyn Fn(&LatencySpectrum) -> Option<f64>| -> Option<String> {
        argmax(s.latency.iter().filter_map(|(k, v)| f(v).map(|x| (k, -x))))
    };
    let picks = [
        ("e2e_p50", pick(&|v| v.e2e.map(|l| l.p50_ms))),
        ("e2e_p99", pick(&|v| v.e2e.map(|l| l.p99_ms))),
        ("ttft_p50", pick(&|v| v.ttft.map(|l| l.p50_ms))),
        ("ttft_p99", pick(&|v| v.ttft.map(|l| l.p99_ms))),
    ];
    for (k, v) in picks {
        if let Some(p) = v {
            s.best_at.insert(k.to_string(), p);
        }
    }
    s.best_policy = s.best_at.get("e2e_p99").cloned();
    s
}

fn summarize_compliance(report: &Report, name: ExperimentName, best_by: &str) -> ExperimentSummary {
    let mut s = ExperimentSummary::new(name, best_by);
    let mut sums: BTreeMap<String, (f64, u32)> = BTreeMap::new();
    let mut per_label: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for run in &report.runs {
        let label = run_label(run);
        s.compliance
            .entry(run.policy.clone())
            .or_default()
            .insert(label.clone(), group_compliance(run));
        let e = sums.entry(run.policy.clone()).or_insert((0.0, 0));
        e.0 += run.summary.slo_compliance;
        e.1 += 1;
        per_label
            .entry(label)
            .or_default()
            .insert(run.policy.clone(), run.summary.slo_compliance);
    }
    s.mean_compliance = sums
        .into_iter()
        .map(|(k, (sum, n))| (k, sum / f64::from(n.max(1))))
        .collect();
    s.best_policy = argmax(s.mean_compliance.iter().map(|(k, v)| (k, *v)));
    if name == ExperimentName::MixedRatio {
        for (label, by_policy) in &per_label {
            if let Some(p) = argmax(by_policy.iter().map(|(k, v)| (k, *v))) {
                s.best_per_ratio.insert(label.clone(), p);
            }
        }
    }
    s
}

/// The summary of an SLO experiment's report.
pub fn summarize_slo(report: &Report) -> ExperimentSummary {
    summarize_compliance(
        report,
        ExperimentName::Slo,
        "highest mean SLO compliance over the loads",
    )
}

/// The summary of a mixed-ratio experiment's report.
pub fn summarize_mixed_ratio(report: &Report) -> ExperimentSummary {
    summarize_compliance(
        report,
        ExperimentName::MixedRatio,
        "highest mean SLO compliance over the LLM/embedding ratios",
    )
}

/// The score of a policy in one trial's summary.
type ScoreFn = fn(&ExperimentSummary, &str) -> Option<f64>;

/// The summary of any experiment; with repeated trials, see the module docs.
pub fn summarize(
    name: ExperimentName,
    report: &Report,
    criteria: ThroughputCriteria,
) -> ExperimentSummary {
    let trials: std::collections::BTreeSet<u32> =
        report.runs.iter().filter_map(|r| r.params.trial).collect();
    if trials.len() < 2 {
        return summarize_one(name, report, criteria);
    }
    let per_trial: Vec<ExperimentSummary> = trials
        .iter()
        .map(|t| {
            let mut sub = report.clone();
            sub.runs
                .retain(|r| r.params.trial == Some(*t) && !r.partial);
            summarize_one(name, &sub, criteria)
        })
        .collect();
    let (label, higher, score): (&str, bool, ScoreFn) = match name {
        ExperimentName::Throughput => ("max sustained rate (req/s)", true, |s, p| {
            Some(s.max_sustained_rps.get(p).copied().flatten().unwrap_or(0.0))
        }),
        ExperimentName::Latency => ("p99 end-to-end latency (ms)", false, |s, p| {
            s.latency.get(p)?.e2e.map(|l| l.p99_ms)
        }),
        ExperimentName::Slo | ExperimentName::MixedRatio => {
            ("mean SLO compliance", true, |s, p| {
                s.mean_compliance.get(p).copied()
            })
        }
    };
    let mut policies: Vec<String> = Vec::new();
    for r in &report.runs {
        if !policies.contains(&r.policy) {
            policies.push(r.policy.clone());
        }
    }
    // Scores of the trials in which every policy has one (paired).
    let rows: Vec<Vec<f64>> = per_trial
        .iter()
        .filter_map(|s| policies.iter().map(|p| score(s, p)).collect())
        .collect();
    let scores: BTreeMap<String, Vec<f64>> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), rows.iter().map(|r| r[i]).collect()))
        .collect();
    let mut out = per_trial
        .into_iter()
        .next()
        .unwrap_or_else(|| summarize_one(name, report, criteria));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut ranked: Vec<&String> = policies.iter().collect();
    ranked.sort_by(|a, b| {
        let o = mean(&scores[*a]).total_cmp(&mean(&scores[*b]));
        if higher { o.reverse() } else { o }
    });
    let Some(leader) = ranked.first().map(|s| (*s).clone()) else {
        return out;
    };
    let runner_up = ranked.get(1).map(|s| (*s).clone());
    let test = runner_up.as_ref().and_then(|r| {
        crate::stats::paired_difference(&scores[&leader], &scores[r], crate::trials::CONFIDENCE)
    });
    let significant = test.map(|d| d.p_value <= crate::trials::ALPHA);
    let trials_needed = test
        .filter(|d| d.p_value > crate::trials::ALPHA)
        .and_then(|d| {
            crate::stats::trials_needed(d.sd, d.mean, crate::trials::ALPHA, crate::trials::POWER)
        });
    out.best_policy = match significant {
        Some(true) | None => Some(leader.clone()),
        Some(false) => None,
    };
    out.best_by = match (significant, &runner_up) {
        (Some(true), _) => format!(
            "{}; over {} trials {leader} is ahead of the runner-up significantly",
            out.best_by,
            rows.len()
        ),
        (Some(false), Some(r)) => format!(
            "{}; over {} trials the top policies ({leader}, {r}) are not distinguishable{}",
            out.best_by,
            rows.len(),
            trials_needed
                .map(|n| format!(" (about {n} trials would tell them apart)"))
                .unwrap_or_default()
        ),
        _ => out.best_by.clone(),
    };
    out.trial_verdict = Some(TrialVerdict {
        score: label.into(),
        higher_is_better: higher,
        scores,
        leader,
        runner_up,
        significant,
        p_value: test.map(|d| d.p_value),
        trials_needed,
    });
    out
}

/// The summary of one trial's runs (or of a report without trials).
fn summarize_one(
    name: ExperimentName,
    report: &Report,
    criteria: ThroughputCriteria,
) -> ExperimentSummary {
    match name {
        ExperimentName::Throughput => summarize_throughput(report, criteria),
        ExperimentName::Latency => summarize_latency(report),
        ExperimentName::Slo => summarize_slo(report),
        ExperimentName::MixedRatio => summarize_mixed_ratio(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, RequestRecord, TokenSource};
    use crate::report::{PolicySwitch, ReportKind, RunParams};
    use crate::request::{Priority, RequestKind};
    use crate::slo::SloTargets;

    fn rec(id: u64, intended_us: u64, e2e_us: u64, ok: bool) -> RequestRecord {
        RequestRecord {
            first_token_us: Some(intended_us + e2e_us / 2),
            end_us: intended_us + e2e_us,
            outcome: if ok {
                Outcome::Success
            } else {
                Outcome::Timeout
            },
            output_tokens: 2,
            output_tokens_source: TokenSource::Usage,
            chunks: 2,
            input_tokens: Some(3),
            ..RequestRecord::new(
                id,
                RequestKind::LlmChat,
                Priority::Normal,
                "m",
                1000,
                3,
                intended_us,
            )
        }
    }

    /// A run at `rate` whose service keeps up (`capacity >= rate`) or not.
    fn run(policy: &str, rate: f64, capacity: f64, e2e_us: u64) -> PolicyRun {
        let n = 100u64;
        let gap = (1e6 / rate) as u64;
        let service = (1e6 / capacity) as u64;
        let records: Vec<_> = (0..n)
            .map(|i| {
                let intended = i * gap;
                let end = (i * service.max(gap)) + e2e_us;
                rec(i, intended, end - intended, true)
            })
            .collect();
        PolicyRun::from_records(
            policy,
            PolicySwitch::Verified,
            RunParams {
                request_rate_rps: Some(rate),
                ..RunParams::default()
            },
            records,
            &SloTargets::default(),
            false,
        )
    }

    fn report(runs: Vec<PolicyRun>) -> Report {
        let mut r = Report::new(
            ReportKind::Experiment,
            "t",
            serde_json::Value::Null,
            1,
            "h",
            100,
        );
        r.runs = runs;
        r
    }

    #[test]
    fn max_sustained_rate_is_where_achieved_keeps_up() {
        // Policy a keeps up to 40 req/s, b only to 20 req/s.
        let rep = report(vec![
            run("a", 10.0, 40.0, 100_000),
            run("a", 20.0, 40.0, 100_000),
            run("a", 40.0, 40.0, 100_000),
            run("a", 80.0, 40.0, 100_000),
            run("b", 10.0, 20.0, 100_000),
            run("b", 20.0, 20.0, 100_000),
            run("b", 40.0, 20.0, 100_000),
            run("b", 80.0, 20.0, 100_000),
        ]);
        let s = summarize_throughput(
            &rep,
            ThroughputCriteria {
                tolerance: 0.1,
                slo_threshold: 0.0,
            },
        );
        assert_eq!(s.max_sustained_rps["a"], Some(40.0));
        assert_eq!(s.max_sustained_rps["b"], Some(20.0));
        assert_eq!(s.best_policy.as_deref(), Some("a"));
        let p = &s.throughput["b"][3];
        assert!(
            (p.achieved_rps - 20.0).abs() < 0.5 && (p.offered_rps - 80.0).abs() < 1.0,
            "{p:?}"
        );
    }

    #[test]
    fn slo_threshold_excludes_rates() {
        // 1.5 s e2e misses the 1 s NORMAL deadline everywhere: nothing sustained.
        let rep = report(vec![run("a", 10.0, 40.0, 1_500_000)]);
        let s = summarize_throughput(&rep, ThroughputCriteria::default());
        assert_eq!(s.max_sustained_rps["a"], None);
        assert_eq!(s.best_policy, None);
    }

    #[test]
    fn latency_and_slo_pick_the_better_policy() {
        let rep = report(vec![
            run("slow", 10.0, 40.0, 1_500_000),
            run("fast", 10.0, 40.0, 100_000),
        ]);
        let l = summarize_latency(&rep);
        assert_eq!(l.best_policy.as_deref(), Some("fast"));
        assert_eq!(l.best_at["ttft_p50"], "fast");
        let s = summarize_slo(&rep);
        assert_eq!(s.best_policy.as_deref(), Some("fast"));
        assert_eq!(s.mean_compliance["fast"], 1.0);
        assert_eq!(s.mean_compliance["slow"], 0.0);
        assert_eq!(s.compliance["fast"]["rate=10"]["priority:NORMAL"], 1.0);
    }

    /// The rates as they were computed from every record: (n − 1) / span of the sorted times.
    fn rates_from_records(records: &[RequestRecord]) -> (f64, f64) {
        let rate = |mut t: Vec<u64>| {
            if t.len() < 2 {
                return 0.0;
            }
            t.sort_unstable();
            let span = t[t.len() - 1] - t[0];
            if span > 0 {
                (t.len() - 1) as f64 / (span as f64 / 1e6)
            } else {
                0.0
            }
        };
        let ok = records.iter().filter(|r| r.outcome.is_success());
        (
            rate(records.iter().map(|r| r.intended_us).collect()),
            rate(ok.map(|r| r.end_us).collect()),
        )
    }

    #[test]
    fn rates_from_spans_equal_rates_from_records() {
        let sets: Vec<Vec<RequestRecord>> = vec![
            vec![],
            vec![rec(0, 5, 10, true)],
            vec![rec(0, 5, 10, true), rec(1, 5, 10, true)],
            vec![
                rec(0, 0, 10, false),
                rec(1, 7, 3, true),
                rec(2, 9, 1, false),
            ],
            (0..250)
                .rev()
                .map(|i| {
                    rec(
                        i,
                        i * i * 37 % 9_999_991,
                        1_000 + i * 13 % 700_001,
                        i % 9 != 4,
                    )
                })
                .collect(),
        ];
        for records in sets {
            let spans = RunSpans::from_records(&records);
            let (o, a) = offered_and_achieved_rps(&spans);
            let (eo, ea) = rates_from_records(&records);
            assert_eq!((o.to_bits(), a.to_bits()), (eo.to_bits(), ea.to_bits()));
        }
    }

    #[test]
    fn names_round_trip() {
        for e in ExperimentName::ALL {
            assert_eq!(ExperimentName::parse(e.as_str()), Some(e));
        }
        assert_eq!(ExperimentName::parse("nope"), None);
    }
}
