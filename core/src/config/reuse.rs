//! Workloads whose prompts share prefixes, the way real traffic does: groups of requests that
//! begin with the same text (a system prompt, a document), and multi-turn conversations
//! whose every turn carries the conversation so far. Both are off unless the config says so.

use super::*;
use crate::lengths::RawLength;

/// The most prefix groups a config may have (their prefix lengths are held in memory).
pub const MAX_PREFIX_GROUPS: u32 = 1_000_000;

/// The default think time between the turns of a session, milliseconds.
pub const DEFAULT_THINK_TIME_MS: u32 = 2000;

/// The default time a turn is expected to take per output token, milliseconds (about the
/// default reference cluster's decode step).
pub const DEFAULT_ANSWER_MS_PER_TOKEN: f64 = 20.0;

/// Shared prompt prefixes (`shared_prefixes`): every LLM request belongs to one of `groups`
/// groups, drawn by `popularity`, and its prompt is the group's prefix text, a blank line,
/// then its own text (of `prompt_length` tokens, or its dataset prompt). A group's prefix is
/// synthetic text made from the seed and the group's number, of a length drawn once per
/// group from `prefix_length`. Embedding requests are not affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SharedPrefixes {
    /// Number of groups (distinct prefixes).
    pub groups: u32,
    /// Length of each group's prefix, tokens: a number or a length distribution (drawn once
    /// per group).
    #[serde(deserialize_with = "de_prefix_length")]
    #[cfg_attr(feature = "schema", schemars(with = "serde_json::Value"))]
    pub prefix_length: LengthDist,
    /// How requests are spread over the groups.
    #[serde(default, deserialize_with = "de_popularity")]
    #[cfg_attr(feature = "schema", schemars(with = "serde_json::Value"))]
    pub popularity: Popularity,
}

/// How often each prefix group is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Popularity {
    /// Every group equally often (`uniform`).
    #[default]
    Uniform,
    /// Group `g` (0-based) with weight `1 / (g + 1)^s` (`{dist: zipf, s: 1.1}`): group 0 the
    /// most popular.
    Zipf {
        /// The exponent (0 is uniform; around 1 is typical of real popularity).
        s: f64,
    },
}

/// Multi-turn sessions (`sessions`): the workload is conversations rather than independent
/// requests. Sessions start by the configured `arrival` process at `request_rate` sessions per
/// second, each with a number of turns drawn from `turns`, until the turns make
/// `num_requests` requests (the last session is cut short to fit). Turn `k`'s prompt is the
/// whole conversation so far: every earlier prompt's new user message and the answer to it
/// (synthetic text of that turn's `max_tokens` length), then a new user message of
/// `prompt_length` tokens, one blank line between messages; it is sent as one user message.
/// With `turns: empirical` and a ShareGPT dataset, the dataset's conversations are replayed
/// instead (their human turns and recorded replies).
///
/// Turns are scheduled open loop, at fixed offsets: turn `k + 1` is sent at turn `k`'s
/// *scheduled* time plus its expected answer time (`max_tokens * answer_ms_per_token`) plus
/// a think time drawn from `think_time_ms`, whenever turn `k` actually finishes. A slow
/// server therefore sees the next turn early rather than later; the schedule, and so the
/// comparison of policies, stays the same for every policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    /// Turns per session: a number, a length distribution, or `{dist: empirical}` for the
    /// dataset's conversations.
    #[serde(deserialize_with = "de_turns")]
    #[cfg_attr(feature = "schema", schemars(with = "serde_json::Value"))]
    pub turns: LengthDist,
    /// Think time between a turn's expected answer and the next turn, ms: a number or a
    /// distribution (its values are milliseconds).
    #[serde(default = "default_think_time", deserialize_with = "de_think_time")]
    #[cfg_attr(feature = "schema", schemars(with = "serde_json::Value"))]
    pub think_time_ms: LengthDist,
    /// Expected answer time per output token, ms, in the schedule of the next turn.
    #[serde(default = "default_answer_ms_per_token")]
    pub answer_ms_per_token: f64,
}

fn default_think_time() -> LengthDist {
    LengthDist::Fixed {
        value: DEFAULT_THINK_TIME_MS,
    }
}

fn default_answer_ms_per_token() -> f64 {
    DEFAULT_ANSWER_MS_PER_TOKEN
}

/// A length given as a number (a fixed length) or as a distribution.
fn number_or_dist<'de, D: Deserializer<'de>>(field: &str, d: D) -> Result<LengthDist, D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    if let serde_json::Value::Number(n) = &v {
        return n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|value| LengthDist::Fixed { value })
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "{field}: got {n}, expected a whole number or a distribution {{dist: ...}}"
                ))
            });
    }
    RawLength::deserialize(v)
        .map_err(|e| e.to_string())
        .and_then(LengthDist::try_from)
        .map_err(|e| D::Error::custom(format!("{field}: {e}")))
}

fn de_prefix_length<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    number_or_dist("shared_prefixes.prefix_length", d)
}

fn de_turns<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    number_or_dist("sessions.turns", d)
}

fn de_think_time<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    number_or_dist("sessions.think_time_ms", d)
}

/// `uniform`, `zipf` (s = 1), or `{dist: uniform}` / `{dist: zipf, s: 1.1}`.
fn de_popularity<'de, D: Deserializer<'de>>(d: D) -> Result<Popularity, D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    match &v {
        serde_json::Value::String(s) if s == "uniform" => return Ok(Popularity::Uniform),
        serde_json::Value::String(s) if s == "zipf" => return Ok(Popularity::Zipf { s: 1.0 }),
        _ => {}
    }
    Popularity::deserialize(v).map_err(|e| {
        D::Error::custom(format!(
            "shared_prefixes.popularity: {e} (expected uniform, zipf or {{dist: zipf, s: 1.1}})"
        ))
    })
}

impl BenchmarkConfig {
    /// Whether the workload replays the dataset's conversations as sessions
    /// (`sessions.turns: empirical`): the dataset is then read with
    /// [`crate::dataset::Dataset::parse_conversations`].
    pub fn replays_conversations(&self) -> bool {
        self.sessions
            .as_ref()
            .is_some_and(|s| s.turns.is_empirical())
    }

    /// Checks `shared_prefixes` and `sessions`, and how they fit the rest of the config.
    pub(super) fn check_reuse(&self, e: &mut ConfigErrors) {
        if let Some(p) = &self.shared_prefixes {
            if p.groups == 0 || p.groups > MAX_PREFIX_GROUPS {
                e.push(
                    "shared_prefixes.groups",
                    p.groups.to_string(),
                    format!("1..={MAX_PREFIX_GROUPS} groups"),
                );
            }
            e.problems
                .extend(p.prefix_length.check("shared_prefixes.prefix_length"));
            if p.prefix_length.is_empirical() {
                e.push(
                    "shared_prefixes.prefix_length",
                    "empirical",
                    "a number of tokens or a parametric distribution",
                );
            }
            if let Popularity::Zipf { s } = p.popularity
                && !(s.is_finite() && s >= 0.0)
            {
                e.push(
                    "shared_prefixes.popularity.s",
                    s.to_string(),
                    "a finite exponent >= 0",
                );
            }
        }
        let Some(s) = &self.sessions else { return };
        if self.mode != Mode::Llm {
            e.push(
                "sessions",
                format!("sessions in mode {}", self.mode),
                "mode: llm (sessions are LLM conversations)",
            );
        }
        e.problems.extend(s.turns.check("sessions.turns"));
        let sharegpt = self
            .dataset
            .as_ref()
            .is_some_and(|d| d.resolved_format() == Some(DatasetFormat::Sharegpt));
        match (s.turns.is_empirical(), &self.dataset) {
            (true, None) => e.push(
                "sessions.turns",
                "empirical",
                "a ShareGPT `dataset` to replay conversations from, or a number of turns",
            ),
            (true, Some(_)) if !sharegpt => e.push(
                "sessions.turns",
                "empirical",
                "a dataset of format sharegpt (JSONL has no conversations)",
            ),
            (false, Some(_)) => e.push(
                "sessions.turns",
                s.turns.name(),
                "`{dist: empirical}` when a dataset is set (its conversations are replayed)",
            ),
            _ => {}
        }
        let think: Vec<ConfigProblem> = s
            .think_time_ms
            .check("sessions.think_time_ms")
            .into_iter()
            .map(|mut p| {
                p.expected = p.expected.replace("tokens", "ms").replace("token", "ms");
                p
            })
            .collect();
        e.problems.extend(think);
        if s.think_time_ms.is_empirical() {
            e.push(
                "sessions.think_time_ms",
                "empirical",
                "a number of ms or a parametric distribution",
            );
        }
        if !(s.answer_ms_per_token.is_finite() && s.answer_ms_per_token >= 0.0) {
            e.push(
                "sessions.answer_ms_per_token",
                s.answer_ms_per_token.to_string(),
                "a finite number of ms >= 0",
            );
        }
        if self.trace.is_some() {
            e.push(
                "trace",
                "a trace file",
                "no trace file with sessions (session start times come from the arrival pattern or inline arrival.timestamps_ms)",
            );
        }
    }
}
