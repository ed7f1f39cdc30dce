//! Service-level objectives: the targets a request is judged against.
//!
//! An LLM request's SLO is defined per token by default, as serving research and production
//! schedulers define it (vLLM's goodput, DistServe, llm-d): a time-to-first-token target and
//! a time-per-output-token target per priority, both to be met. This judges scheduling (how
//! long a request waited, how fast its tokens came) rather than how many tokens it asked for.
//! The end-to-end form (one deadline per priority, whatever the length) stays available.
//!
//! Default targets, chosen from measurements of the default reference cluster (two
//! A100-80GB LLM instances, the default workload: prompts of ~256 tokens, answers of ~32),
//! whose capacity is ~33 req/s. Under `fifo` at 60 % of it (20 req/s), TTFT p99 is ~0.3 s
//! and TPOT p99 ~70 ms, so at least 95 % of requests meet these targets; near and past
//! saturation queueing breaks TTFT first, and the policies' orders decide who pays:
//!
//! | priority | TTFT | TPOT | reading |
//! |---|---:|---:|---|
//! | HIGH | 300 ms | 75 ms | interactive chat: first words within a blink, ~13 tokens/s |
//! | NORMAL | 600 ms | 100 ms | chat: 10 tokens/s, faster than people read |
//! | LOW | 1200 ms | 150 ms | background work that still streams |

use crate::record::RequestRecord;
use crate::request::{PerPriority, Priority, RequestKind};
use serde::{Deserialize, Deserializer, Serialize};

/// How an LLM request's SLO is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LlmSloDefinition {
    /// TTFT within `ttft_ms` and TPOT within `tpot_ms` (per priority); the deadline sent in
    /// `X-SLO-Deadline-Ms` is `ttft + tpot × max_tokens`.
    #[default]
    PerToken,
    /// End-to-end latency within `llm_deadline_ms` (per priority), and TTFT and TPOT within
    /// their targets when those are set.
    EndToEnd,
}

impl LlmSloDefinition {
    /// `per_token` or `end_to_end`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerToken => "per_token",
            Self::EndToEnd => "end_to_end",
        }
    }
}

/// SLO targets per priority class and request type.
///
/// A request *meets its SLO* when it succeeded and ([`meets_slo`]): an embedding request
/// ended within its deadline; an LLM request met its per-token targets (the default
/// definition) or its end-to-end deadline. Failed and timed-out requests always count as
/// misses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SloTargets {
    /// How LLM requests are judged: `per_token` (default) or `end_to_end`.
    pub llm_definition: LlmSloDefinition,
    /// End-to-end deadline of LLM requests (chat and completions), per priority (the
    /// `end_to_end` definition).
    pub llm_deadline_ms: PerPriority<u64>,
    /// End-to-end deadline of embedding requests, per priority.
    pub embedding_deadline_ms: PerPriority<u64>,
    /// Time-to-first-token target of LLM requests, per priority (required by `per_token`;
    /// optional with `end_to_end`).
    pub ttft_ms: Option<PerPriority<u64>>,
    /// Time-per-output-token target of LLM requests, per priority, or one number for all
    /// (required by `per_token`; optional with `end_to_end`).
    #[serde(deserialize_with = "de_tpot")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<PerPriority<f64>>"))]
    pub tpot_ms: Option<PerPriority<f64>>,
}

/// The default per-token targets (see the module docs for how they were chosen).
pub const DEFAULT_TTFT_MS: PerPriority<u64> = PerPriority {
    high: 300,
    normal: 600,
    low: 1200,
};

/// The default time-per-output-token targets.
pub const DEFAULT_TPOT_MS: PerPriority<f64> = PerPriority {
    high: 75.0,
    normal: 100.0,
    low: 150.0,
};

impl Default for SloTargets {
    fn default() -> Self {
        Self {
            llm_definition: LlmSloDefinition::PerToken,
            llm_deadline_ms: PerPriority {
                high: 500,
                normal: 1000,
                low: 2000,
            },
            embedding_deadline_ms: PerPriority {
                high: 100,
                normal: 200,
                low: 500,
            },
            ttft_ms: Some(DEFAULT_TTFT_MS),
            tpot_ms: Some(DEFAULT_TPOT_MS),
        }
    }
}

/// `tpot_ms`: one number for every priority, or one per priority.
fn de_tpot<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PerPriority<f64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tpot {
        One(f64),
        Each(PerPriority<f64>),
    }
    Ok(match Option::<Tpot>::deserialize(d)? {
        None => None,
        Some(Tpot::One(v)) => Some(PerPriority {
            high: v,
            normal: v,
            low: v,
        }),
        Some(Tpot::Each(p)) => Some(p),
    })
}

impl SloTargets {
    /// The end-to-end SLO form: `llm_deadline_ms` per priority, no TTFT or TPOT targets.
    pub fn end_to_end(llm_deadline_ms: PerPriority<u64>) -> Self {
        Self {
            llm_definition: LlmSloDefinition::EndToEnd,
            llm_deadline_ms,
            ttft_ms: None,
            tpot_ms: None,
            ..Self::default()
        }
    }

    /// The deadline sent with a request in `X-SLO-Deadline-Ms` and recorded with it: for an
    /// LLM request under the per-token definition, `ttft + tpot × max_tokens` (rounded up to
    /// a millisecond), so a long answer gets a proportionally later deadline; otherwise the
    /// end-to-end deadline of its kind and priority.
    pub fn deadline_ms(&self, kind: RequestKind, priority: Priority, max_tokens: u32) -> u64 {
        if !kind.is_llm() {
            return self.embedding_deadline_ms.get(priority);
        }
        match (self.llm_definition, self.ttft_ms, self.tpot_ms) {
            (LlmSloDefinition::PerToken, Some(ttft), Some(tpot)) => {
                let t = ttft.get(priority) as f64 + tpot.get(priority) * f64::from(max_tokens);
                libm::ceil(t) as u64
            }
            _ => self.llm_deadline_ms.get(priority),
        }
    }

    /// The time-to-first-token target sent with a request (`X-SLO-TTFT-Ms`): an LLM
    /// request's TTFT target under the per-token definition; `None` otherwise.
    pub fn ttft_target_ms(&self, kind: RequestKind, priority: Priority) -> Option<u64> {
        (kind.is_llm() && self.llm_definition == LlmSloDefinition::PerToken)
            .then(|| self.ttft_ms.map(|t| t.get(priority)))
            .flatten()
    }

    /// The SLO in one line for reports: [`Self::describe_llm`], then the embeddings'
    /// deadlines.
    pub fn describe(&self) -> String {
        let e = self.embedding_deadline_ms;
        format!(
            "LLM {}; embeddings end to end {}/{}/{} ms",
            self.describe_llm(),
            e.high,
            e.normal,
            e.low
        )
    }

    /// A short description of the LLM SLO for reports: `per token: TTFT 300/600/1200 ms, TPOT
    /// 75/100/150 ms (HIGH/NORMAL/LOW)` or `end to end: 500/1000/2000 ms (HIGH/NORMAL/LOW)`.
    pub fn describe_llm(&self) -> String {
        let num = |v: f64| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            }
        };
        let three =
            |p: PerPriority<f64>| format!("{}/{}/{}", num(p.high), num(p.normal), num(p.low));
        let ms = |p: PerPriority<u64>| {
            three(PerPriority {
                high: p.high as f64,
                normal: p.normal as f64,
                low: p.low as f64,
            })
        };
        let extra = |s: &mut String| {
            if let Some(t) = self.ttft_ms {
                s.push_str(&format!(", TTFT {} ms", ms(t)));
            }
            if let Some(t) = self.tpot_ms {
                s.push_str(&format!(", TPOT {} ms", three(t)));
            }
        };
        let mut s = match self.llm_definition {
            LlmSloDefinition::PerToken => "per token".to_string(),
            LlmSloDefinition::EndToEnd => {
                format!("end to end: {} ms", ms(self.llm_deadline_ms))
            }
        };
        extra(&mut s);
        s.push_str(" (HIGH/NORMAL/LOW)");
        s.replacen("per token, ", "per token: ", 1)
    }
}

/// Whether one request met its SLO.
///
/// It does when it succeeded (failures, timeouts and cancellations are always misses) and:
/// - an embedding request: its end-to-end latency, from the **intended** send time, is at most
///   the record's own `slo_deadline_ms` (the deadline sent in `X-SLO-Deadline-Ms`);
/// - an LLM request under `per_token`: its TTFT is within the target of its priority (a
///   success without a first-token time misses) and, when it has a TPOT (two or more output
///   tokens), its TPOT is within the target. A response that came in one piece (a
///   non-streamed request, or a server that sends everything in one chunk) has no TPOT of
///   its own: it is judged end to end against its length-aware deadline instead;
/// - an LLM request under `end_to_end`: its end-to-end latency is within the record's
///   deadline, and its TTFT and TPOT within their targets when those are set.
///
/// Latencies are compared in integer microseconds, so a request exactly at its target meets it.
pub fn meets_slo(record: &RequestRecord, targets: &SloTargets) -> bool {
    if !record.outcome.is_success() {
        return false;
    }
    let e2e_us = record.end_us.saturating_sub(record.intended_us);
    let within_deadline = e2e_us <= record.slo_deadline_ms.saturating_mul(1000);
    if !record.kind.is_llm() {
        return within_deadline;
    }
    let one_piece = record.in_one_piece();
    let per_token = targets.llm_definition == LlmSloDefinition::PerToken
        && targets.ttft_ms.is_some()
        && targets.tpot_ms.is_some();
    if per_token && one_piece && record.output_tokens > 1 {
        return within_deadline;
    }
    if !per_token && !within_deadline {
        return false;
    }
    if let Some(ttft) = &targets.ttft_ms {
        let Some(first_us) = record.first_token_us else {
            return false;
        };
        let ttft_us = first_us.saturating_sub(record.intended_us);
        if ttft_us > ttft.get(record.priority).saturating_mul(1000) {
            return false;
        }
    }
    if let (Some(target), Some(tpot_ms)) = (targets.tpot_ms, record.tpot_ms())
        && tpot_ms > target.get(record.priority)
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, TokenSource};

    fn llm(intended_us: u64, first_us: u64, end_us: u64, tokens: u32) -> RequestRecord {
        RequestRecord {
            first_token_us: Some(first_us),
            end_us,
            outcome: Outcome::Success,
            output_tokens: tokens,
            output_tokens_source: TokenSource::Usage,
            chunks: tokens,
            input_tokens: Some(10),
            ..RequestRecord::new(
                0,
                RequestKind::LlmChat,
                Priority::Normal,
                "m",
                1000,
                10,
                intended_us,
            )
        }
    }

    #[test]
    fn end_to_end_deadline_is_inclusive_and_from_intended() {
        let t = SloTargets::end_to_end(PerPriority {
            high: 500,
            normal: 1000,
            low: 2000,
        });
        assert!(meets_slo(&llm(5_000, 6_000, 1_005_000, 10), &t));
        assert!(!meets_slo(&llm(5_000, 6_000, 1_005_001, 10), &t));
        // Sent late: the lateness counts against the deadline.
        let mut r = llm(0, 500_000, 999_000, 10);
        r.sent_us = 400_000;
        assert!(meets_slo(&r, &t));
        // The record's own deadline is what counts.
        let mut r = llm(0, 100, 1_500_000, 10);
        assert!(!meets_slo(&r, &t));
        r.slo_deadline_ms = 2000;
        assert!(meets_slo(&r, &t));
    }

    #[test]
    fn per_token_is_the_default_and_judges_ttft_and_tpot() {
        let t = SloTargets::default();
        assert_eq!(t.llm_definition, LlmSloDefinition::PerToken);
        // NORMAL: TTFT 600 ms, TPOT 100 ms. TTFT exactly 600 ms, TPOT (1600-600)/10 = 100.
        assert!(meets_slo(&llm(0, 600_000, 1_600_000, 11), &t));
        assert!(!meets_slo(&llm(0, 600_001, 1_600_000, 11), &t));
        assert!(!meets_slo(&llm(0, 600_000, 1_600_011, 11), &t));
        // A long answer is judged per token, not by its length: 10 s end to end is fine.
        assert!(meets_slo(&llm(0, 100_000, 9_100_000, 101), &t));
        // One token: TTFT only.
        assert!(meets_slo(&llm(0, 100_000, 9_000_000, 1), &t));
        // A success without a first token cannot show its TTFT: a miss.
        let mut r = llm(0, 100, 200, 11);
        r.first_token_us = None;
        assert!(!meets_slo(&r, &t));
        // A response in one piece (not streamed): its length-aware deadline instead.
        let mut r = llm(0, 900_000, 900_000, 11);
        r.chunks = 1;
        r.slo_deadline_ms = t.deadline_ms(RequestKind::LlmChat, Priority::Normal, 11);
        assert_eq!(r.slo_deadline_ms, 600 + 1100);
        assert!(meets_slo(&r, &t));
        r.end_us = 1_700_001;
        assert!(!meets_slo(&r, &t));
    }

    #[test]
    fn deadlines_sent_are_length_aware_under_per_token() {
        let t = SloTargets::default();
        assert_eq!(
            t.deadline_ms(RequestKind::LlmChat, Priority::High, 32),
            300 + 75 * 32
        );
        assert_eq!(
            t.deadline_ms(RequestKind::LlmGenerate, Priority::Low, 0),
            1200
        );
        assert_eq!(
            t.deadline_ms(RequestKind::Embedding, Priority::High, 99),
            100
        );
        let e = SloTargets::end_to_end(PerPriority {
            high: 1,
            normal: 2,
            low: 3,
        });
        assert_eq!(e.deadline_ms(RequestKind::LlmChat, Priority::Low, 500), 3);
        assert_eq!(
            t.describe_llm(),
            "per token: TTFT 300/600/1200 ms, TPOT 75/100/150 ms (HIGH/NORMAL/LOW)"
        );
        assert_eq!(e.describe_llm(), "end to end: 1/2/3 ms (HIGH/NORMAL/LOW)");
    }

    #[test]
    fn failures_always_miss() {
        let t = SloTargets::default();
        for outcome in [
            Outcome::Timeout,
            Outcome::Cancelled,
            Outcome::Http {
                status: 503,
                message: String::new(),
            },
        ] {
            let mut r = llm(0, 10, 20, 2);
            r.outcome = outcome;
            assert!(!meets_slo(&r, &t));
        }
    }

    #[test]
    fn end_to_end_with_extra_targets_and_embeddings() {
        let t = SloTargets {
            ttft_ms: Some(PerPriority {
                high: 50,
                normal: 100,
                low: 200,
            }),
            tpot_ms: Some(PerPriority {
                high: 10.0,
                normal: 10.0,
                low: 10.0,
            }),
            ..SloTargets::end_to_end(PerPriority {
                high: 500,
                normal: 1000,
                low: 2000,
            })
        };
        // TTFT 100 ms exactly, TPOT (200-100)/10 = 10 ms exactly: met.
        assert!(meets_slo(&llm(0, 100_000, 200_000, 11), &t));
        assert!(!meets_slo(&llm(0, 100_001, 200_000, 11), &t));
        assert!(!meets_slo(&llm(0, 100_000, 200_011, 11), &t));
        // Embeddings: their deadline only.
        let mut e = llm(0, 150_000, 150_000, 0);
        e.kind = RequestKind::Embedding;
        assert!(meets_slo(&e, &t));
        e.end_us = 1_000_001;
        assert!(!meets_slo(&e, &t));
    }

    #[test]
    fn config_texts_choose_the_definition() {
        use crate::config::BenchmarkConfig;
        let c =
            BenchmarkConfig::from_yaml("slo:\n  llm_deadline_ms: {HIGH: 1, NORMAL: 2, LOW: 3}\n")
                .unwrap();
        assert_eq!(c.slo.llm_definition, LlmSloDefinition::EndToEnd);
        assert_eq!((c.slo.ttft_ms, c.slo.tpot_ms), (None, None));
        let c = BenchmarkConfig::from_yaml("slo:\n  tpot_ms: 80\n").unwrap();
        assert_eq!(c.slo.llm_definition, LlmSloDefinition::PerToken);
        assert_eq!(c.slo.tpot_ms.unwrap().low, 80.0);
        assert_eq!(c.slo.ttft_ms, Some(DEFAULT_TTFT_MS));
        let c = BenchmarkConfig::from_yaml(
            "slo:\n  llm_definition: end_to_end\n  ttft_ms: {HIGH: 1, NORMAL: 2, LOW: 3}\n",
        )
        .unwrap();
        assert_eq!(c.slo.ttft_ms.unwrap().high, 1);
        assert_eq!(c.slo.tpot_ms, None);
        let c = BenchmarkConfig::from_yaml("slo:\n  llm_definition: per_token\n  tpot_ms: null\n")
            .unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.has_field("slo.tpot_ms"), "{e}");
    }
}
