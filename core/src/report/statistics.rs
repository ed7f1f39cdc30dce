//! The statistics of repeated trials ([`crate::trials`] computes them): per policy and
//! metric the mean over trials with its confidence interval, each policy against the baseline
//! (paired difference, Holm-adjusted p-value, significant or not), and for each metric the
//! leader and whether it can be told from the runner-up.

use crate::stats::{Interval, PairedDifference};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the trials' workloads were seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrialSeeds {
    /// Trial k uses seed + k - 1: the verdicts hold beyond one workload (the policies of one
    /// trial share its seed, so the comparison is paired).
    #[default]
    Vary,
    /// Every trial uses the same seed (and workload): only the control plane's and the
    /// client's noise varies.
    Same,
}

impl TrialSeeds {
    /// `vary` or `same`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vary => "vary",
            Self::Same => "same",
        }
    }
}

/// The seed and workload of one trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TrialWorkload {
    /// The trial (1-based).
    pub trial: u32,
    /// Its workload seed.
    pub seed: u64,
    /// Its workload hash (of the first variant, for sweeps and experiments).
    pub workload_hash: String,
}

/// The statistics of a report whose runs were repeated in trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Statistics {
    /// Trials asked for.
    pub trials_planned: u32,
    /// How the trials were seeded.
    pub trial_seeds: TrialSeeds,
    /// Each trial's seed and workload hash.
    pub trial_workloads: Vec<TrialWorkload>,
    /// Confidence level of every interval (0.95).
    pub confidence: f64,
    /// Significance level of the tests, after Holm's correction (0.05).
    pub alpha: f64,
    /// The policy every other is compared with.
    pub baseline: String,
    /// One entry per workload variant (each rate of a sweep, each ratio), in run order.
    pub groups: Vec<StatisticsGroup>,
}

/// The statistics of one workload variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatisticsGroup {
    /// The variant's request rate, req/s (sweeps and experiments).
    pub request_rate_rps: Option<f64>,
    /// The variant's LLM ratio (mixed-ratio experiments).
    pub llm_ratio: Option<f64>,
    /// Trials in which every policy of the variant completed: the ones the statistics use.
    pub complete_trials: u32,
    /// Per policy, in run order.
    pub policies: Vec<PolicyStatistics>,
    /// Each other policy against the baseline, per metric.
    pub comparisons: Vec<Comparison>,
    /// Per metric, the leading policy and whether it can be told from the runner-up.
    pub leaders: Vec<Leader>,
}

/// One policy's metrics over the complete trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyStatistics {
    /// The policy.
    pub policy: String,
    /// By metric id ([`crate::trials::METRICS`]).
    pub metrics: BTreeMap<String, MetricEstimate>,
}

/// A metric over trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricEstimate {
    /// The value of each complete trial, in trial order.
    pub values: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// The confidence interval of the mean; `None` with fewer than two trials (no interval
    /// can be given from one trial).
    pub interval: Option<Interval>,
}

/// One policy against the baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The policy compared.
    pub policy: String,
    /// The metric id.
    pub metric: String,
    /// `policy - baseline`, paired by trial.
    pub difference: PairedDifference,
    /// The p-value after Holm's correction across the policies compared on this metric.
    pub p_adjusted: f64,
    /// Whether `p_adjusted <= alpha`.
    pub significant: bool,
    /// Whether the policy's mean is better than the baseline's (by the metric's direction).
    pub better: bool,
}

/// The leading policy on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Leader {
    /// The metric id.
    pub metric: String,
    /// The policy with the best mean.
    pub policy: String,
    /// The policy with the second-best mean, when there is one.
    pub runner_up: Option<String>,
    /// Whether the leader's paired difference from the runner-up is significant at `alpha`;
    /// `None` when it cannot be tested (one trial, or one policy).
    pub significant: Option<bool>,
    /// The paired test's p-value (unadjusted: one comparison).
    pub p_value: Option<f64>,
    /// When not significant: roughly how many trials would detect the observed difference
    /// (80 % power, from the observed spread of the differences).
    pub trials_needed: Option<u32>,
}
