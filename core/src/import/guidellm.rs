//! GuideLLM benchmark reports (`--output kind=json` or `kind=yaml`), report
//! `metadata.version` 2, as GuideLLM 0.8 writes them. Each benchmark of the report (one per
//! rate or strategy) becomes a run.
//!
//! Read per benchmark, over the successful requests: the request totals (successful,
//! errored, incomplete), the duration, the requests, output-token and total-token rates, the
//! prompt and output token totals, the full statistics of TTFT, of GuideLLM's ITL (which is
//! this project's TPOT, see the definitions) and of the request latency, the goodput when an
//! SLO was given, and the per-request values of `requests.successful`, which fill the
//! histograms.

use super::ImportError;
use super::build;
use super::num::{Ctx, ms_to_us, rfc3339_utc, s_to_us};
use crate::metrics::LatencyHistograms;
use crate::report::{
    ImportInfo, Report, ReportedLatency, ReportedMetrics, RunParams, parse_percentile,
    percentile_key,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tool's name in labels.
pub const TOOL: &str = "GuideLLM";

/// The report versions read.
const SUPPORTED: &str = SUPPORTED_HERE;

/// The report versions and formats this build reads.
#[cfg(feature = "import-yaml")]
pub(crate) const SUPPORTED_HERE: &str =
    "GuideLLM reports with metadata.version 2 (GuideLLM 0.8), JSON or YAML";
/// The report versions and formats this build reads.
#[cfg(not(feature = "import-yaml"))]
pub(crate) const SUPPORTED_HERE: &str =
    "GuideLLM JSON reports with metadata.version 2 (GuideLLM 0.8)";

/// Why a YAML report is refused by a build without the YAML parser.
#[cfg(not(feature = "import-yaml"))]
pub(crate) const YAML_UNREAD: &str = "this build (the browser viewer, kept small) reads GuideLLM's JSON report, not its YAML one: open the JSON report (`--output kind=json`), or this file with `sage-cp-bench visualize --input`";

/// Whether a text that is not JSON looks like a GuideLLM YAML report (its top-level keys).
#[cfg(not(feature = "import-yaml"))]
pub(crate) fn looks_like_yaml_report(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("benchmarks:"))
        && text
            .lines()
            .any(|l| l.trim_start().starts_with("guidellm_version:"))
}

/// How GuideLLM's definitions differ from this project's.
const DEFINITIONS: [&str; 4] = [
    "latencies are measured from when each request was actually sent (GuideLLM's request_start), not from its scheduled time",
    "GuideLLM's ITL, (last token - first token) / (output tokens - 1) per request, is shown as TPOT; GuideLLM's own TPOT, which includes the first token, is not imported, and there is no ITL of chunk gaps",
    "token counts are the server's usage when it sent one, else the client's tokenizer",
    "throughputs are the means of GuideLLM's per-second rates over the benchmark",
];

/// Whether a document looks like a GuideLLM report.
pub(crate) fn recognises(doc: &Value) -> bool {
    let Some(benchmarks) = doc.get("benchmarks").and_then(Value::as_array) else {
        return false;
    };
    doc.pointer("/metadata/guidellm_version").is_some()
        || benchmarks
            .first()
            .and_then(|b| b.get("type_"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("_benchmark"))
}

/// Reads a GuideLLM report, JSON or YAML.
pub fn import(text: &str) -> Result<Report, ImportError> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        #[cfg(feature = "import-yaml")]
        Err(_) => serde_yaml_ng::from_str(text).map_err(|e| {
            ImportError::malformed(TOOL, None, format!("neither JSON nor YAML: {e}"))
        })?,
        #[cfg(not(feature = "import-yaml"))]
        Err(e) => {
            return Err(ImportError::malformed(
                TOOL,
                None,
                format!("not valid JSON: {e}"),
            ));
        }
    };
    if !recognises(&doc) {
        return Err(ImportError::malformed(
            TOOL,
            None,
            "not a benchmark report: it needs a `benchmarks` list".into(),
        ));
    }
    import_value(&doc)
}

pub(crate) fn import_value(doc: &Value) -> Result<Report, ImportError> {
    let probe = Ctx::new(TOOL, None);
    let tool_version = probe
        .str(doc, "metadata/guidellm_version")?
        .map(str::to_owned);
    let version = tool_version.as_deref();
    match probe.count(doc, "metadata/version")? {
        Some(2) => {}
        Some(v) => {
            return Err(ImportError::Unsupported {
                tool: TOOL,
                version: tool_version.clone(),
                why: format!("its report has metadata.version {v}"),
                supported: SUPPORTED,
            });
        }
        None => {
            return Err(ImportError::Unsupported {
                tool: TOOL,
                version: tool_version.clone(),
                why: "its report has no metadata.version (an older GuideLLM wrote it)".into(),
                supported: SUPPORTED,
            });
        }
    }
    let ctx = Ctx::new(TOOL, version);
    let benchmarks = ctx
        .list(doc, "benchmarks")?
        .ok_or_else(|| ctx.err("`benchmarks` is missing"))?;
    if benchmarks.is_empty() {
        return Err(ctx.err("`benchmarks` is empty: the report holds no benchmark"));
    }
    let mut runs = Vec::with_capacity(benchmarks.len());
    let mut lacks = Vec::new();
    let mut target = None;
    let mut created_at = String::new();
    for (i, b) in benchmarks.iter().enumerate() {
        let (run, run_lacks) = benchmark(&ctx, b).map_err(|e| match e {
            ImportError::Malformed { what, .. } => ctx.err(format!("{what} (in benchmarks/{i})")),
            other => other,
        })?;
        if i == 0 {
            lacks = run_lacks;
            target = ctx.str(b, "config/backend/target")?.map(str::to_owned);
            created_at = ctx
                .f64(b, "start_time")?
                .map(rfc3339_utc)
                .unwrap_or_default();
        }
        runs.push(run);
    }
    let info = ImportInfo {
        tool: TOOL.into(),
        tool_version,
        source: "benchmark report (metadata.version 2)".into(),
        definitions: DEFINITIONS.iter().map(|s| (*s).to_owned()).collect(),
        lacks,
    };
    Ok(build::report(info, created_at, target, runs))
}

/// One benchmark as a run, and what it lacks.
fn benchmark(
    ctx: &Ctx<'_>,
    b: &Value,
) -> Result<(crate::report::PolicyRun, Vec<String>), ImportError> {
    let m = ctx
        .get(b, "metrics")
        .ok_or_else(|| ctx.err("`metrics` is missing"))?;
    let succeeded = ctx.count(m, "request_totals/successful")?;
    let errored = ctx.count(m, "request_totals/errored")?;
    let incomplete = ctx.count(m, "request_totals/incomplete")?;
    let reported = ReportedMetrics {
        requests_total: ctx.count(m, "request_totals/total")?,
        requests_succeeded: succeeded,
        requests_failed: errored.zip(incomplete).map(|(e, i)| e + i),
        duration_s: ctx.f64(b, "duration")?,
        request_throughput_rps: ctx.f64(m, "requests_per_second/successful/mean")?,
        output_tokens_per_s: ctx.f64(m, "output_tokens_per_second/successful/mean")?,
        total_tokens_per_s: ctx.f64(m, "tokens_per_second/successful/mean")?,
        input_tokens_total: sum(ctx, m, "prompt_token_count/successful/total_sum")?,
        output_tokens_total: sum(ctx, m, "output_token_count/successful/total_sum")?,
        goodput_rps: ctx.f64(m, "request_goodput/mean")?,
        ttft: distribution(ctx, m, "time_to_first_token_ms/successful", 1.0)?,
        itl: None,
        tpot: distribution(ctx, m, "inter_token_latency_ms/successful", 1.0)?,
        e2e: distribution(ctx, m, "request_latency/successful", 1000.0)?,
    };
    let mut h = LatencyHistograms::default();
    if let Some(requests) = ctx.list(b, "requests/successful")? {
        for r in requests {
            if let Some(us) = ctx.f64(r, "time_to_first_token_ms")?.and_then(ms_to_us) {
                h.ttft.record(us);
            }
            if let Some(us) = ctx.f64(r, "inter_token_latency_ms")?.and_then(ms_to_us) {
                h.tpot.record(us);
            }
            if let Some(us) = ctx.f64(r, "request_latency")?.and_then(s_to_us) {
                h.e2e.record(us);
            }
        }
    }
    let strategy = ctx.str(b, "config/strategy/type_")?.unwrap_or("benchmark");
    let rate = ctx
        .f64(b, "config/strategy/rate")?
        .filter(|r| r.is_finite());
    let streams = ctx.count(b, "config/strategy/streams")?;
    let params = RunParams {
        request_rate_rps: rate.filter(|_| matches!(strategy, "constant" | "poisson")),
        llm_ratio: None,
        label: streams.map(|s| format!("{s} streams")),
        trial: None,
    };
    let started = ctx.f64(b, "start_time")?.map(rfc3339_utc);
    let lacks = build::lacks(&reported, &h);
    Ok((
        build::run(strategy.to_owned(), params, reported, h, started),
        lacks,
    ))
}

/// A total written as a float (`727.0`).
fn sum(ctx: &Ctx<'_>, m: &Value, path: &str) -> Result<Option<u64>, ImportError> {
    Ok(ctx
        .f64(m, path)?
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| libm::round(v) as u64))
}

/// A GuideLLM distribution summary (`mean`, `median`, `std_dev`, `min`, `max`, `count`,
/// `percentiles` `p001` … `p999`), scaled to ms; `None` when absent or counting nothing.
fn distribution(
    ctx: &Ctx<'_>,
    m: &Value,
    path: &str,
    to_ms: f64,
) -> Result<Option<ReportedLatency>, ImportError> {
    let Some(d) = ctx.get(m, path) else {
        return Ok(None);
    };
    let count = ctx.count(d, "count")?;
    if count == Some(0) {
        return Ok(None);
    }
    let field = |name: &str| -> Result<Option<f64>, ImportError> {
        Ok(ctx.f64(d, name)?.map(|v| v * to_ms))
    };
    let mut percentiles = BTreeMap::new();
    if let Some(Value::Object(ps)) = ctx.get(d, "percentiles") {
        for (key, v) in ps {
            let Some(p) = percentile_of(key) else {
                continue;
            };
            if let Some(v) = v.as_f64() {
                percentiles.insert(percentile_key(p), v * to_ms);
            } else if !v.is_null() {
                return Err(ctx.err(format!("`{path}/percentiles/{key}` is not a number")));
            }
        }
    }
    if let Some(median) = field("median")? {
        percentiles.entry("50".into()).or_insert(median);
    }
    Ok(build::latency(
        count,
        field("mean")?,
        field("min")?,
        field("max")?,
        field("std_dev")?,
        percentiles,
    ))
}

/// GuideLLM's percentile names: `p001` is 0.1, `p01` 1, `p05` 5, `p999` 99.9, `p50` 50.
fn percentile_of(key: &str) -> Option<f64> {
    let digits = key.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.len() == 3 {
        // Three digits carry one decimal: `p999` is "99.9".
        parse_percentile(&format!("{}.{}", &digits[..2], &digits[2..]))
    } else {
        parse_percentile(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::percentile_of;

    #[test]
    fn percentile_names() {
        for (k, p) in [
            ("p001", 0.1),
            ("p01", 1.0),
            ("p05", 5.0),
            ("p10", 10.0),
            ("p50", 50.0),
            ("p99", 99.0),
            ("p999", 99.9),
        ] {
            assert_eq!(percentile_of(k), Some(p), "{k}");
        }
        assert_eq!(percentile_of("mean"), None);
    }
}
