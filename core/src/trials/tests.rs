use super::*;
use crate::record::{Outcome, RequestRecord, TokenSource};
use crate::report::PolicySwitch;
use crate::request::{Priority, RequestKind};
use crate::slo::SloTargets;

/// A run of 20 LLM requests whose end-to-end latency is `e2e_ms` (so its throughput and
/// latency columns follow it), in `trial`.
fn run(policy: &str, trial: u32, e2e_ms: u64, rate: Option<f64>) -> PolicyRun {
    let records = (0..20u64)
        .map(|id| {
            let intended_us = id * 100_000;
            RequestRecord {
                sent_us: intended_us,
                first_token_us: Some(intended_us + 10_000),
                end_us: intended_us + e2e_ms * 1000,
                outcome: Outcome::Success,
                output_tokens: 10,
                output_tokens_source: TokenSource::Usage,
                chunks: 10,
                ..RequestRecord::new(
                    id,
                    RequestKind::LlmChat,
                    Priority::ALL[(id % 3) as usize],
                    "m",
                    1000,
                    10,
                    intended_us,
                )
            }
        })
        .collect();
    PolicyRun::from_records(
        policy,
        PolicySwitch::Simulated,
        RunParams {
            request_rate_rps: rate,
            trial: Some(trial),
            ..RunParams::default()
        },
        records,
        &SloTargets::default(),
        false,
    )
}

fn plan(trials: u32) -> TrialPlan {
    TrialPlan {
        trials,
        seeds: TrialSeeds::Vary,
        workloads: Vec::new(),
        baseline: None,
        seed: 1,
    }
}

#[test]
fn a_consistent_difference_is_significant_and_identical_policies_are_not() {
    // "fast" is 50 ms faster than "base" in every trial, with trial-to-trial noise; "same" is
    // "base" under another name.
    let noise = [0, 30, 10, 60, 20];
    let mut runs = Vec::new();
    for (t, n) in noise.iter().enumerate() {
        let t = t as u32 + 1;
        runs.push(run("base", t, 400 + n, None));
        runs.push(run("fast", t, 350 + n, None));
        runs.push(run("same", t, 400 + n, None));
    }
    let s = statistics(&runs, &plan(5));
    assert_eq!(s.baseline, "base");
    assert_eq!(s.groups.len(), 1);
    let g = &s.groups[0];
    assert_eq!(g.complete_trials, 5);
    let e2e = |p: &str| {
        g.comparisons
            .iter()
            .find(|c| c.policy == p && c.metric == "e2e_avg")
            .unwrap()
    };
    let fast = e2e("fast");
    assert!((fast.difference.mean + 50.0).abs() < 0.5, "{fast:?}");
    assert!(fast.significant && fast.better);
    let same = e2e("same");
    assert_eq!(same.difference.mean, 0.0);
    assert_eq!(same.difference.p_value, 1.0);
    assert!(!same.significant);
    // Holm over the two comparisons: the smaller p doubled (here 0 stays 0), the larger at least it.
    assert!(same.p_adjusted >= fast.p_adjusted);

    let lead = g.leaders.iter().find(|l| l.metric == "e2e_avg").unwrap();
    assert_eq!(lead.policy, "fast");
    assert_eq!(lead.significant, Some(true));
    // The mean interval of "base" is Student's t over its five values.
    let base = &g.policies[0].metrics["e2e_avg"];
    assert_eq!(base.values.len(), 5);
    let i = base.interval.unwrap();
    assert_eq!(i.method, crate::stats::IntervalMethod::StudentT);
    assert!((i.mean - 424.0).abs() < 0.5, "{i:?}");
    // Tail percentiles get a bootstrap interval.
    let p99 = g.policies[0].metrics["e2e_p99"].interval.unwrap();
    assert_eq!(p99.method, crate::stats::IntervalMethod::Bootstrap);
}

#[test]
fn indistinguishable_leaders_say_how_many_trials_would_tell() {
    // a and b alternate: a mean difference of 4 ms against a spread of ~20 ms.
    let a = [400, 440, 410, 450, 420];
    let b = [420, 420, 430, 430, 410];
    let runs: Vec<PolicyRun> = (0..5)
        .flat_map(|t| {
            [
                run("a", t as u32 + 1, a[t], None),
                run("b", t as u32 + 1, b[t], None),
            ]
        })
        .collect();
    let s = statistics(&runs, &plan(5));
    let lead = s.groups[0]
        .leaders
        .iter()
        .find(|l| l.metric == "e2e_avg")
        .unwrap();
    assert_eq!(lead.significant, Some(false));
    let n = lead.trials_needed.unwrap();
    assert!(n > 5, "{n}");
}

#[test]
fn one_trial_gives_no_interval_and_no_verdict() {
    let runs = vec![run("a", 1, 400, None), run("b", 1, 300, None)];
    let s = statistics(&runs, &plan(1));
    let g = &s.groups[0];
    assert!(g.policies[0].metrics["e2e_avg"].interval.is_none());
    assert!(g.comparisons.is_empty());
    let lead = g.leaders.iter().find(|l| l.metric == "e2e_avg").unwrap();
    assert_eq!(lead.policy, "b");
    assert_eq!(lead.significant, None);
}

#[test]
fn variants_are_grouped_and_incomplete_trials_left_out() {
    let mut runs = Vec::new();
    for rate in [10.0, 20.0] {
        for t in 1..=3 {
            runs.push(run("a", t, 400 + u64::from(t), Some(rate)));
            runs.push(run("b", t, 300 + u64::from(t), Some(rate)));
        }
    }
    // Trial 3 of b at 20 req/s was interrupted.
    runs.last_mut().unwrap().partial = true;
    let mut p = plan(3);
    p.baseline = Some("b".into());
    let s = statistics(&runs, &p);
    assert_eq!(s.baseline, "b");
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.groups[0].request_rate_rps, Some(10.0));
    assert_eq!(s.groups[0].complete_trials, 3);
    assert_eq!(s.groups[1].complete_trials, 2);
    assert!(s.groups[1].comparisons.iter().all(|c| c.policy == "a"));
    assert_eq!(s.groups[1].policies[0].metrics["e2e_avg"].values.len(), 2);
}
