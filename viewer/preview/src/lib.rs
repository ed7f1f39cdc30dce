//! The viewer's workload preview: config text and seed in, the generated workload's numbers,
//! hash and charts out, or the problems found, by field.
//!
//! The config parser, the workload generator and SHA-256 are a third of the viewer's code, so
//! they live in their own WebAssembly module (feature `module`: [`preview_json`] exported to
//! JavaScript), which the page loads only when the preview is opened; the page itself uses
//! this crate's types and reads the module's answer, a [`Preview`] as JSON.

use cpbench_core::arrival::Trace;
use cpbench_core::chart::ChartSpec;
use cpbench_core::chart::workload::preview_charts;
use cpbench_core::config::{BenchmarkConfig, ConfigFormat, ConfigProblem};
use cpbench_core::dataset::Dataset;
use cpbench_core::workload::{WorkloadData, WorkloadError, generate};
use serde::{Deserialize, Serialize};

/// Workloads with more requests (measured plus warmup) than this are generated only on
/// request, so typing in the editor stays responsive.
pub const AUTO_LIMIT: u64 = 50_000;

/// What the preview works from.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreviewInput<'a> {
    /// The config text (YAML or JSON).
    pub text: &'a str,
    /// The seed field: empty for the config's own seed, else an integer that replaces it (as
    /// `sage-cp-bench config --hash FILE --seed N` does).
    pub seed: &'a str,
    /// The bytes of the dataset file the config names, when one was chosen.
    pub dataset: Option<&'a [u8]>,
    /// The bytes of the trace file the config names, when one was chosen.
    pub trace: Option<&'a [u8]>,
    /// Generate even above [`AUTO_LIMIT`].
    pub allow_large: bool,
}

/// A file the config names that the preview needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamedFile {
    /// `dataset.path`.
    Dataset,
    /// `trace.path`.
    Trace,
}

/// The preview of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Preview {
    /// The text did not parse.
    Parse {
        /// The parser's message.
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
    },
    /// The config (or the seed field) is invalid: every problem, by field.
    Invalid(Vec<ConfigProblem>),
    /// The config names a file that has not been chosen yet.
    NeedsFile {
        /// Which one.
        file: NamedFile,
        /// The path the config gives.
        path: String,
    },
    /// A chosen dataset or trace file could not be read.
    BadFile {
        /// Which one.
        file: NamedFile,
        /// What was wrong.
        message: String,
    },
    /// The workload is larger than [`AUTO_LIMIT`]; generate it on request.
    TooLarge {
        /// Measured plus warmup requests.
        requests: u64,
    },
    /// Generation failed for another reason.
    Failed(String),
    /// The workload was generated.
    Ready(Box<Generated>),
}

/// A generated workload's summary and charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// The seed the workload was generated from (the config's, or the seed field's).
    pub seed: u64,
    /// Measured requests.
    pub requests: usize,
    /// Warmup requests.
    pub warmup: usize,
    /// Intended send time of the last measured request, seconds.
    pub duration_s: f64,
    /// The workload hash (`Workload::hash`), equal to the native tool's.
    pub hash: String,
    /// The preview charts.
    pub charts: Vec<ChartSpec>,
}

/// The seed field's value: `None` when empty.
pub fn parse_seed(seed: &str) -> Result<Option<u64>, ConfigProblem> {
    let s = seed.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u64>().map(Some).map_err(|_| {
        ConfigProblem::new(
            "seed",
            format!("{s:?}"),
            format!("an integer from 0 to {}", u64::MAX),
        )
    })
}

/// The file extension a config text should be saved with (`yaml` or `json`).
pub fn config_extension(text: &str) -> &'static str {
    match ConfigFormat::sniff(text) {
        ConfigFormat::Json => "json",
        ConfigFormat::Yaml => "yaml",
    }
}

/// Parses, validates and generates: the whole preview of one input.
pub fn evaluate(input: &PreviewInput<'_>) -> Preview {
    let mut config = match BenchmarkConfig::from_text(input.text, None) {
        Ok(c) => c,
        Err(e) => {
            return Preview::Parse {
                message: e.to_string(),
                line: e.line,
                column: e.column,
            };
        }
    };
    let mut problems = Vec::new();
    match parse_seed(input.seed) {
        Ok(Some(seed)) => config.seed = seed,
        Ok(None) => {}
        Err(p) => problems.push(p),
    }
    if let Err(e) = config.validate() {
        problems.extend(e.problems);
    }
    if !problems.is_empty() {
        return Preview::Invalid(problems);
    }
    let mut data = WorkloadData::none();
    if let Some(d) = &config.dataset {
        let Some(bytes) = input.dataset else {
            return Preview::NeedsFile {
                file: NamedFile::Dataset,
                path: d.path.clone(),
            };
        };
        let format = d
            .resolved_format()
            .expect("validated: the dataset has a format");
        let parsed = if config.replays_conversations() {
            Dataset::parse_conversations(bytes, format)
        } else {
            Dataset::parse(bytes, format)
        };
        match parsed {
            Ok(ds) => data.dataset = Some(ds.into()),
            Err(e) => {
                return Preview::BadFile {
                    file: NamedFile::Dataset,
                    message: e.to_string(),
                };
            }
        }
    }
    if let Some(t) = &config.trace {
        let Some(bytes) = input.trace else {
            return Preview::NeedsFile {
                file: NamedFile::Trace,
                path: t.path.clone(),
            };
        };
        match Trace::parse_jsonl(bytes) {
            Ok(tr) => data.trace = Some(tr),
            Err(e) => {
                return Preview::BadFile {
                    file: NamedFile::Trace,
                    message: e.to_string(),
                };
            }
        }
    }
    let total = config.num_requests.saturating_add(config.warmup_requests);
    if total > AUTO_LIMIT && !input.allow_large {
        return Preview::TooLarge { requests: total };
    }
    match generate(&config, &data) {
        Ok(w) => Preview::Ready(Box::new(Generated {
            requests: w.requests.len(),
            warmup: w.warmup.len(),
            duration_s: w.duration_us() as f64 / 1e6,
            hash: w.hash(),
            charts: preview_charts(&w),
            seed: config.seed,
        })),
        Err(WorkloadError::Invalid(e)) => Preview::Invalid(e.problems),
        Err(e) => Preview::Failed(e.to_string()),
    }
}

/// [`evaluate`] with its answer as JSON (what the module returns to the page).
pub fn evaluate_json(input: &PreviewInput<'_>) -> String {
    serde_json::to_string(&evaluate(input)).expect("a preview always serializes")
}

/// The module's export: [`evaluate_json`] of the page's inputs (`dataset` and `trace` are the
/// chosen files' bytes, or `undefined`).
#[cfg(all(feature = "module", target_arch = "wasm32"))]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = preview)]
pub fn preview_json(
    text: &str,
    seed: &str,
    dataset: Option<Vec<u8>>,
    trace: Option<Vec<u8>>,
    allow_large: bool,
) -> String {
    evaluate_json(&PreviewInput {
        text,
        seed,
        dataset: dataset.as_deref(),
        trace: trace.as_deref(),
        allow_large,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbench_core::config::{Mode, example_yaml};

    fn input(text: &str) -> PreviewInput<'_> {
        PreviewInput {
            text,
            ..PreviewInput::default()
        }
    }

    #[test]
    fn the_examples_generate_with_the_native_hash() {
        for mode in Mode::ALL {
            let text = example_yaml(mode);
            let Preview::Ready(g) = evaluate(&input(&text)) else {
                panic!("{mode} example does not generate");
            };
            let native = generate(
                &BenchmarkConfig::from_text(&text, Some("yaml")).unwrap(),
                &WorkloadData::none(),
            )
            .unwrap();
            assert_eq!(g.hash, native.hash());
            assert_eq!(g.requests, 100);
            assert_eq!(g.warmup, 10);
            assert!(g.charts.iter().any(|c| c.id == "preview-rate"));
            assert_eq!(
                g.charts.iter().any(|c| c.id == "preview-embedding"),
                mode == Mode::Hybrid
            );
        }
    }

    #[test]
    fn the_seed_field_replaces_the_configs_seed() {
        let text = example_yaml(Mode::Llm);
        let Preview::Ready(a) = evaluate(&PreviewInput {
            seed: " 7 ",
            ..input(&text)
        }) else {
            panic!()
        };
        let mut c = BenchmarkConfig::from_text(&text, None).unwrap();
        c.seed = 7;
        assert_eq!(a.hash, generate(&c, &WorkloadData::none()).unwrap().hash());
        assert_eq!(a.seed, 7);
        let Preview::Ready(b) = evaluate(&input(&text)) else {
            panic!()
        };
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn problems_are_reported_by_field_with_the_seed() {
        let text = "num_requests: 0\nrequest_rate: -1\n";
        let Preview::Invalid(problems) = evaluate(&PreviewInput {
            seed: "x1",
            ..input(text)
        }) else {
            panic!()
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&"seed")
                && fields.contains(&"num_requests")
                && fields.contains(&"request_rate"),
            "{fields:?}"
        );
        let seed = problems.iter().find(|p| p.field == "seed").unwrap();
        assert_eq!(seed.value, "\"x1\"");
    }

    #[test]
    fn parse_errors_have_positions() {
        let Preview::Parse {
            line,
            column,
            message,
        } = evaluate(&input("mode: llm\nnum_requests: [\n"))
        else {
            panic!()
        };
        assert!(line.is_some() && column.is_some(), "{message}");
        let Preview::Parse { message, .. } = evaluate(&input("bogus_key: 1\n")) else {
            panic!()
        };
        assert!(message.contains("bogus_key"), "{message}");
    }

    #[test]
    fn named_files_are_asked_for_then_used() {
        let text = "dataset: {path: prompts.jsonl}\nprompt_length: {dist: empirical}\nnum_requests: 5\nwarmup_requests: 1\n";
        assert_eq!(
            evaluate(&input(text)),
            Preview::NeedsFile {
                file: NamedFile::Dataset,
                path: "prompts.jsonl".into()
            }
        );
        let bad = PreviewInput {
            dataset: Some(b"not json\n"),
            ..input(text)
        };
        assert!(matches!(
            evaluate(&bad),
            Preview::BadFile {
                file: NamedFile::Dataset,
                ..
            }
        ));
        let good = PreviewInput {
            dataset: Some(b"{\"prompt\": \"hello there\", \"output_tokens\": 12}\n{\"prompt\": \"tell me more\"}\n"),
            ..input(text)
        };
        let Preview::Ready(g) = evaluate(&good) else {
            panic!("{:?}", evaluate(&good))
        };
        assert_eq!(g.requests, 5);
    }

    #[test]
    fn answers_read_back_from_json() {
        let text = example_yaml(Mode::Hybrid);
        for input in [
            input(&text),
            input("num_requests: 0\n"),
            input("a: [\n"),
            input("num_requests: 60000\n"),
        ] {
            let back: Preview = serde_json::from_str(&evaluate_json(&input)).unwrap();
            assert_eq!(back, evaluate(&input));
        }
    }

    #[test]
    fn large_workloads_wait_for_a_request() {
        let text = "num_requests: 60000\n";
        assert_eq!(
            evaluate(&input(text)),
            Preview::TooLarge { requests: 60_010 }
        );
        assert_eq!(parse_seed(""), Ok(None));
        assert_eq!(parse_seed("18446744073709551615"), Ok(Some(u64::MAX)));
        assert_eq!(config_extension(" {\"mode\": \"llm\"}"), "json");
        assert_eq!(config_extension("mode: llm"), "yaml");
    }
}
