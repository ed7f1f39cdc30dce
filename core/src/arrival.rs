//! Arrival processes: when each request of a workload is sent.
//!
//! Every process produces cumulative send times in `f64` seconds from the run's start; each
//! is converted to integer microseconds with a single rounding, so rounding never accumulates
//! into drift. The **first request is sent at offset 0** (as vLLM's benchmark does) and
//! request `i` at the sum of the first `i` inter-arrival gaps.

use crate::config::ConfigProblem;
use crate::lengths::{exponential, gamma};
use crate::request::{Priority, RequestKind};
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How requests arrive; serialized with a `pattern` tag (`{pattern: gamma, burstiness: 0.5}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "pattern", rename_all = "snake_case", try_from = "RawArrival")]
pub enum ArrivalConfig {
    /// A Poisson process: exponential gaps with mean `1 / request_rate`.
    #[default]
    Poisson,
    /// Evenly spaced sends, one every `1 / request_rate` seconds (the original tool's
    /// `uniform` pattern, accepted as an alias).
    Constant,
    /// Gamma-distributed gaps, vLLM's convention: shape `burstiness`, scale
    /// `1 / (request_rate * burstiness)`, so the mean rate is `request_rate` at any
    /// burstiness; `1.0` is Poisson, below 1 burstier, above 1 more regular.
    Gamma {
        /// Shape of the gap distribution (> 0).
        burstiness: f64,
    },
    /// On/off bursts: during each `on_s`-second period requests arrive as a Poisson process
    /// at `request_rate * (on_s + off_s) / on_s`, during each following `off_s` seconds none,
    /// so the long-run mean rate is `request_rate`. The run starts with an on-period.
    Burst {
        /// Length of each on-period, seconds (> 0).
        on_s: f64,
        /// Length of each off-period, seconds (>= 0).
        off_s: f64,
    },
    /// Replay of recorded send times: `timestamps_ms` inline, or (left empty) the records of
    /// the config's `trace` file. `request_rate` is not used for the measured requests (only
    /// to space the warmup). Times are shifted so the earliest is at 0; the first
    /// `num_requests` records in time order are replayed.
    Trace {
        /// Send times in milliseconds, any order (sorted before use).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        timestamps_ms: Vec<f64>,
    },
}

/// The names of [`ArrivalConfig`]'s variants, as the `pattern` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum PatternKind {
    Poisson,
    #[serde(alias = "uniform")]
    Constant,
    Gamma,
    Burst,
    Trace,
}

/// The wire shape of an [`ArrivalConfig`]: every key optional, checked against the tag in
/// `TryFrom`, so a key that does not belong to the pattern is an error.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArrival {
    pattern: PatternKind,
    burstiness: Option<f64>,
    on_s: Option<f64>,
    off_s: Option<f64>,
    timestamps_ms: Option<Vec<f64>>,
}

impl TryFrom<RawArrival> for ArrivalConfig {
    type Error = String;

    fn try_from(r: RawArrival) -> Result<Self, String> {
        let present = [
            ("burstiness", r.burstiness.is_some()),
            ("on_s", r.on_s.is_some()),
            ("off_s", r.off_s.is_some()),
            ("timestamps_ms", r.timestamps_ms.is_some()),
        ];
        // Trace's `timestamps_ms` is optional (a trace file may supply the times).
        let present_for_trace;
        let (name, allowed, present): (&str, &[&str], &[(&str, bool)]) = match r.pattern {
            PatternKind::Poisson => ("poisson", &[], &present),
            PatternKind::Constant => ("constant", &[], &present),
            PatternKind::Gamma => ("gamma", &["burstiness"], &present),
            PatternKind::Burst => ("burst", &["on_s", "off_s"], &present),
            PatternKind::Trace => {
                present_for_trace = [present[0], present[1], present[2], ("timestamps_ms", true)];
                ("trace", &["timestamps_ms"], &present_for_trace)
            }
        };
        if let Some(msg) =
            crate::config::tagged_fields_error(&format!("pattern `{name}`"), allowed, present)
        {
            return Err(msg);
        }
        Ok(match r.pattern {
            PatternKind::Poisson => Self::Poisson,
            PatternKind::Constant => Self::Constant,
            PatternKind::Gamma => Self::Gamma {
                burstiness: r.burstiness.unwrap_or(0.0),
            },
            PatternKind::Burst => Self::Burst {
                on_s: r.on_s.unwrap_or(0.0),
                off_s: r.off_s.unwrap_or(0.0),
            },
            PatternKind::Trace => Self::Trace {
                timestamps_ms: r.timestamps_ms.unwrap_or_default(),
            },
        })
    }
}

impl ArrivalConfig {
    /// The pattern's name as written in a config.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Poisson => "poisson",
            Self::Constant => "constant",
            Self::Gamma { .. } => "gamma",
            Self::Burst { .. } => "burst",
            Self::Trace { .. } => "trace",
        }
    }

    /// Checks the pattern's own parameters (fields named `arrival.<name>`).
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        match self {
            Self::Poisson | Self::Constant => {}
            Self::Gamma { burstiness } => {
                if !(burstiness.is_finite() && *burstiness > 0.0) {
                    out.push(ConfigProblem::new(
                        "arrival.burstiness",
                        burstiness.to_string(),
                        "a finite number > 0 (1 = poisson, < 1 burstier)",
                    ));
                }
            }
            Self::Burst { on_s, off_s } => {
                if !(on_s.is_finite() && *on_s > 0.0) {
                    out.push(ConfigProblem::new(
                        "arrival.on_s",
                        on_s.to_string(),
                        "a finite number of seconds > 0",
                    ));
                }
                if !(off_s.is_finite() && *off_s >= 0.0) {
                    out.push(ConfigProblem::new(
                        "arrival.off_s",
                        off_s.to_string(),
                        "a finite number of seconds >= 0",
                    ));
                }
            }
            Self::Trace { timestamps_ms } => {
                if let Some((i, t)) = timestamps_ms
                    .iter()
                    .enumerate()
                    .find(|(_, t)| !t.is_finite())
                {
                    out.push(ConfigProblem::new(
                        format!("arrival.timestamps_ms[{i}]"),
                        t.to_string(),
                        "a finite number of milliseconds",
                    ));
                }
            }
        }
        out
    }
}

/// Converts a time in seconds to integer microseconds with one rounding (saturating).
pub fn seconds_to_us(t_s: f64) -> u64 {
    let us = (t_s * 1e6).round();
    if us.is_nan() || us <= 0.0 {
        0
    } else {
        us as u64
    }
}

/// Converts a time in milliseconds to integer microseconds with one rounding (saturating).
pub fn ms_to_us(t_ms: f64) -> u64 {
    let us = (t_ms * 1e3).round();
    if us.is_nan() || us <= 0.0 {
        0
    } else {
        us as u64
    }
}

/// Send offsets (µs, non-decreasing, the first at 0) of `n` requests of a generative pattern at
/// mean `rate_per_s`, drawing gaps from `rng`. `Trace` patterns are not generative: they yield
/// `None` (replay them with [`Trace::offsets_us`]). Parameters are assumed valid.
pub fn offsets_us<R: Rng + ?Sized>(
    pattern: &ArrivalConfig,
    rate_per_s: f64,
    n: usize,
    rng: &mut R,
) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Some(out);
    }
    match *pattern {
        ArrivalConfig::Poisson => {
            accumulate(n, &mut out, || exponential(rng, rate_per_s));
        }
        ArrivalConfig::Constant => {
            // i / rate directly: no accumulation at all.
            out.extend((0..n).map(|i| seconds_to_us(i as f64 / rate_per_s)));
        }
        ArrivalConfig::Gamma { burstiness } => {
            let scale = 1.0 / (rate_per_s * burstiness);
            accumulate(n, &mut out, || gamma(rng, burstiness, scale));
        }
        ArrivalConfig::Burst { on_s, off_s } => {
            // Accumulate Poisson gaps in "on-time" tau, then map tau onto the wall clock by
            // inserting one off-period after each completed on-period.
            let on_rate = rate_per_s * (on_s + off_s) / on_s;
            let mut tau = 0.0f64;
            for i in 0..n {
                if i > 0 {
                    tau += exponential(rng, on_rate);
                }
                let periods = libm::floor(tau / on_s);
                out.push(seconds_to_us(tau + periods * off_s));
            }
        }
        ArrivalConfig::Trace { .. } => return None,
    }
    Some(out)
}

fn accumulate(n: usize, out: &mut Vec<u64>, mut gap_s: impl FnMut() -> f64) {
    let mut t = 0.0f64;
    out.push(0);
    for _ in 1..n {
        t += gap_s();
        out.push(seconds_to_us(t));
    }
}

/// One recorded request of a replay trace; the optional fields override the sampled values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Send time, milliseconds (any origin: a trace is shifted to start at 0).
    pub timestamp_ms: f64,
    /// Priority class to send instead of a sampled one.
    pub priority: Option<Priority>,
    /// Model to send instead of a sampled one.
    pub model: Option<String>,
    /// Request kind instead of a sampled one.
    pub kind: Option<RequestKind>,
    /// Prompt length in tokens (a synthetic prompt of this length; for embeddings the length
    /// of each input).
    pub prompt_tokens: Option<u32>,
    /// Output tokens (`max_tokens`) of an LLM request.
    pub output_tokens: Option<u32>,
}

impl TraceRecord {
    /// A record with only a send time.
    pub fn at_ms(timestamp_ms: f64) -> Self {
        Self {
            timestamp_ms,
            priority: None,
            model: None,
            kind: None,
            prompt_tokens: None,
            output_tokens: None,
        }
    }
}

/// A replay trace: records sorted by time (stable for equal times).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Trace {
    /// The records, earliest first.
    pub records: Vec<TraceRecord>,
}

/// Why a trace could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TraceError {
    /// A line is not a JSON object of the expected shape.
    #[error("trace line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The trace has no records.
    #[error("trace is empty: expected at least one JSON line with `timestamp_ms` (or `offset_ms`)")]
    Empty,
}

#[derive(Deserialize)]
struct RawTraceLine {
    timestamp_ms: Option<f64>,
    offset_ms: Option<f64>,
    priority: Option<String>,
    model: Option<String>,
    kind: Option<String>,
    prompt_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

impl RawTraceLine {
    /// The record of a trace line, or what is wrong with it.
    fn check(self) -> Result<TraceRecord, String> {
        let timestamp_ms = match (self.timestamp_ms, self.offset_ms) {
            (Some(t), None) | (None, Some(t)) => t,
            (Some(_), Some(_)) => {
                return Err("both `timestamp_ms` and `offset_ms` given; expected one".to_string());
            }
            (None, None) => {
                return Err("missing field `timestamp_ms` (or `offset_ms`)".to_string());
            }
        };
        if !timestamp_ms.is_finite() {
            return Err(format!(
                "`timestamp_ms`: got {timestamp_ms}, expected a finite number"
            ));
        }
        let priority =
            match self.priority {
                None => None,
                Some(p) => Some(Priority::parse(&p).ok_or_else(|| {
                    format!("`priority`: got {p:?}, expected HIGH, NORMAL or LOW")
                })?),
            };
        let kind = match self.kind {
            None => None,
            Some(k) => Some(RequestKind::parse(&k).ok_or_else(|| {
                format!("`kind`: got {k:?}, expected llm_chat, llm_generate or embedding")
            })?),
        };
        if let Some(model) = &self.model
            && model.trim().is_empty()
        {
            return Err("`model`: got \"\", expected a model name".to_string());
        }
        for (name, v) in [
            ("prompt_tokens", self.prompt_tokens),
            ("output_tokens", self.output_tokens),
        ] {
            if v == Some(0) || v.is_some_and(|v| v > crate::lengths::MAX_LENGTH_TOKENS) {
                return Err(format!(
                    "`{name}`: got {}, expected 1..={}",
                    v.unwrap_or(0),
                    crate::lengths::MAX_LENGTH_TOKENS
                ));
            }
        }
        Ok(TraceRecord {
            timestamp_ms,
            priority,
            model: self.model,
            kind,
            prompt_tokens: self.prompt_tokens,
            output_tokens: self.output_tokens,
        })
    }
}

impl Trace {
    /// A trace of bare send times (milliseconds), sorted.
    pub fn from_timestamps_ms(timestamps_ms: &[f64]) -> Result<Self, TraceError> {
        if timestamps_ms.is_empty() {
            return Err(TraceError::Empty);
        }
        Ok(Self::sorted(
            timestamps_ms
                .iter()
                .map(|&t| TraceRecord::at_ms(t))
                .collect(),
        ))
    }

    fn sorted(mut records: Vec<TraceRecord>) -> Self {
        records.sort_by(|a, b| a.timestamp_ms.total_cmp(&b.timestamp_ms));
        Self { records }
    }

    /// Parses a JSONL trace: one object per non-blank line with `timestamp_ms` (or
    /// `offset_ms`) and optionally `priority` (`HIGH`/`NORMAL`/`LOW`, any case), `model`,
    /// `kind` (`llm_chat`/`llm_generate`/`embedding`), `prompt_tokens`, `output_tokens`.
    /// Other keys are ignored. Records are sorted by time.
    pub fn parse_jsonl(bytes: &[u8]) -> Result<Self, TraceError> {
        let mut records = Vec::new();
        crate::jsonl::for_each_line(
            bytes,
            |line, message| TraceError::Line { line, message },
            |raw: RawTraceLine| {
                records.push(raw.check()?);
                Ok(())
            },
        )?;
        if records.is_empty() {
            return Err(TraceError::Empty);
        }
        Ok(Self::sorted(records))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the trace has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Send offsets (µs) of the first `n` records, shifted so the earliest is at 0.
    pub fn offsets_us(&self, n: usize) -> Vec<u64> {
        let origin = self.records.first().map_or(0.0, |r| r.timestamp_ms);
        self.records
            .iter()
            .take(n)
            .map(|r| ms_to_us(r.timestamp_ms - origin))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn offsets(p: &ArrivalConfig, rate: f64, n: usize) -> Vec<u64> {
        offsets_us(p, rate, n, &mut ChaCha8Rng::seed_from_u64(11)).unwrap()
    }

    #[test]
    fn constant_is_exactly_spaced_from_zero() {
        let o = offsets(&ArrivalConfig::Constant, 3.0, 4);
        assert_eq!(o, [0, 333_333, 666_667, 1_000_000]);
    }

    #[test]
    fn generative_patterns_start_at_zero_and_never_go_back() {
        for p in [
            ArrivalConfig::Poisson,
            ArrivalConfig::Gamma { burstiness: 0.2 },
            ArrivalConfig::Burst {
                on_s: 0.5,
                off_s: 2.0,
            },
        ] {
            let o = offsets(&p, 50.0, 2_000);
            assert_eq!(o.len(), 2_000);
            assert_eq!(o[0], 0);
            assert!(o.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        }
        assert!(offsets(&ArrivalConfig::Poisson, 1.0, 0).is_empty());
        assert_eq!(
            offsets_us(
                &ArrivalConfig::Trace {
                    timestamps_ms: vec![]
                },
                1.0,
                3,
                &mut ChaCha8Rng::seed_from_u64(0)
            ),
            None
        );
    }

    #[test]
    fn burst_sends_nothing_during_off_periods() {
        let (on_s, off_s) = (0.25, 1.0);
        let o = offsets(&ArrivalConfig::Burst { on_s, off_s }, 40.0, 3_000);
        let period_us = ((on_s + off_s) * 1e6) as u64;
        let on_us = (on_s * 1e6) as u64;
        for t in &o {
            // one microsecond of rounding slack at the period edge
            assert!(
                t % period_us <= on_us + 1,
                "sent at {t} during an off-period"
            );
        }
        // mean rate is the configured one: 3000 requests at 40/s ~ 75 s
        let span_s = *o.last().unwrap() as f64 / 1e6;
        assert!((span_s - 75.0).abs() < 5.0, "{span_s}");
    }

    #[test]
    fn unit_conversions_round_once_and_saturate() {
        assert_eq!(seconds_to_us(1.0000005), 1_000_001);
        assert_eq!(seconds_to_us(-1.0), 0);
        assert_eq!(seconds_to_us(f64::NAN), 0);
        assert_eq!(seconds_to_us(f64::INFINITY), u64::MAX);
        assert_eq!(ms_to_us(1.5), 1_500);
    }

    #[test]
    fn pattern_names_and_aliases_parse() {
        let p: ArrivalConfig = serde_yaml_ng::from_str("pattern: uniform").unwrap();
        assert_eq!(p, ArrivalConfig::Constant);
        let p: ArrivalConfig = serde_yaml_ng::from_str("pattern: gamma\nburstiness: 0.5").unwrap();
        assert_eq!(p, ArrivalConfig::Gamma { burstiness: 0.5 });
        let e = serde_yaml_ng::from_str::<ArrivalConfig>("pattern: gamma\nburstines: 0.5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("burstines"), "{e}");
        assert!(serde_yaml_ng::from_str::<ArrivalConfig>("pattern: zipf").is_err());
    }

    #[test]
    fn check_names_bad_parameters() {
        let p = ArrivalConfig::Gamma { burstiness: 0.0 }.check();
        assert_eq!(p[0].field, "arrival.burstiness");
        let p = ArrivalConfig::Burst {
            on_s: -1.0,
            off_s: f64::NAN,
        }
        .check();
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["arrival.on_s", "arrival.off_s"]);
    }

    #[test]
    fn trace_jsonl_parses_sorts_and_overrides() {
        let text = br#"{"timestamp_ms": 2500, "priority": "high", "kind": "embedding"}

{"offset_ms": 1000.5, "model": "m", "prompt_tokens": 12, "output_tokens": 7, "extra": 1}
"#;
        let t = Trace::parse_jsonl(text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.records[0].timestamp_ms, 1000.5);
        assert_eq!(t.records[0].model.as_deref(), Some("m"));
        assert_eq!(t.records[0].output_tokens, Some(7));
        assert_eq!(t.records[1].priority, Some(Priority::High));
        assert_eq!(t.records[1].kind, Some(RequestKind::Embedding));
        assert_eq!(t.offsets_us(10), [0, 1_499_500]);
        assert_eq!(t.offsets_us(1), [0]);
    }

    #[test]
    fn trace_errors_name_line_and_field() {
        let e = Trace::parse_jsonl(b"{\"timestamp_ms\": 1}\n{\"t\": 2}\n").unwrap_err();
        assert_eq!(
            e,
            TraceError::Line {
                line: 2,
                message: "missing field `timestamp_ms` (or `offset_ms`)".into()
            }
        );
        let e = Trace::parse_jsonl(b"{\"timestamp_ms\": 1, \"priority\": \"URGENT\"}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1") && e.contains("priority") && e.contains("URGENT"),
            "{e}"
        );
        let e = Trace::parse_jsonl(b"not json").unwrap_err().to_string();
        assert!(e.starts_with("trace line 1:"), "{e}");
        assert_eq!(Trace::parse_jsonl(b"\n  \n"), Err(TraceError::Empty));
        assert_eq!(Trace::from_timestamps_ms(&[]), Err(TraceError::Empty));
        let e = Trace::parse_jsonl(b"{\"timestamp_ms\": 1, \"output_tokens\": 0}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("output_tokens"), "{e}");
    }
}
