//! AIPerf's exports: `profile_export_aiperf.json` (export `schema_version` 1.x, as AIPerf 0.13
//! writes it) and the per-request `profile_export.jsonl`.
//!
//! Read from the aggregate file: the valid (`request_count`) and failed
//! (`error_request_count`, 0 when the error rate is 0) requests, `benchmark_duration`, the
//! request, output-token and total-token throughputs, the input and output token totals,
//! `goodput` when asked, and the statistics of `time_to_first_token`, `inter_chunk_latency`
//! (this project's ITL), `inter_token_latency` (this project's TPOT) and `request_latency`
//! (end to end). From the JSONL file, the profiling phase's records (not warm-up) fill the
//! histograms; alone, it gives a run with the request counts and the histograms only.

use super::ImportError;
use super::build;
use super::num::{Ctx, ms_to_us, short};
use crate::metrics::LatencyHistograms;
use crate::report::{
    ImportInfo, Report, ReportedLatency, ReportedMetrics, RunParams, parse_percentile,
    percentile_key,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tool's name in labels.
pub const TOOL: &str = "AIPerf";

/// The export versions read.
const SUPPORTED: &str =
    "profile_export_aiperf.json with schema_version 1.x (AIPerf 0.13), and profile_export.jsonl";

/// How AIPerf's definitions differ from this project's.
const DEFINITIONS: [&str; 4] = [
    "latencies are measured from when each request was actually sent (AIPerf's request_start_ns), not from its scheduled time",
    "AIPerf's inter_token_latency, (request latency - TTFT) / (output tokens - 1) per request, is shown as TPOT; its inter_chunk_latency (every gap between streamed chunks) as ITL",
    "output tokens are counted by tokenizing the response text with the client's tokenizer unless AIPerf ran with --use-server-token-count, so TPOT and token rates depend on that tokenizer",
    "percentiles are numpy's (linear interpolation between values); this project's are nearest-rank from a histogram",
];

/// Whether a document looks like AIPerf's aggregate export.
pub(crate) fn recognises(doc: &Value) -> bool {
    let Value::Object(o) = doc else { return false };
    o.contains_key("aiperf_version")
        || (o
            .get("request_throughput")
            .is_some_and(|t| t.get("avg").is_some())
            && (o.contains_key("input_config") || o.contains_key("benchmark_duration")))
}

/// Whether a document is one record of AIPerf's `profile_export.jsonl`.
pub(crate) fn recognises_record(doc: &Value) -> bool {
    doc.get("metadata")
        .is_some_and(|m| m.get("benchmark_phase").is_some() || m.get("x_request_id").is_some())
        && doc.get("metrics").is_some_and(Value::is_object)
}

/// Reads AIPerf's aggregate export, with its per-request JSONL file when given.
pub fn import(aggregate: &str, jsonl: Option<&str>) -> Result<Report, ImportError> {
    let doc: Value = serde_json::from_str(aggregate)
        .map_err(|e| ImportError::malformed(TOOL, None, format!("not valid JSON: {e}")))?;
    if !recognises(&doc) {
        return Err(ImportError::malformed(
            TOOL,
            None,
            "not profile_export_aiperf.json: it needs `aiperf_version` or `request_throughput`"
                .into(),
        ));
    }
    import_value(&doc, jsonl)
}

/// The number of valid requests the aggregate export counted (`request_count.avg`).
pub(crate) fn request_count(aggregate: &str) -> Option<u64> {
    let doc: Value = serde_json::from_str(aggregate).ok()?;
    let v = doc.pointer("/request_count/avg")?.as_f64()?;
    let e = doc
        .pointer("/error_request_count/avg")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    Some((v + e) as u64)
}

/// The number of profiling-phase records of a JSONL export (0 when unreadable).
pub(crate) fn profiling_record_count(jsonl: &str) -> u64 {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(is_profiling)
        .count() as u64
}

fn is_profiling(r: &Value) -> bool {
    r.pointer("/metadata/benchmark_phase")
        .and_then(Value::as_str)
        .is_none_or(|p| p == "profiling")
}

fn check_version(doc: &Value) -> Result<Option<String>, ImportError> {
    let probe = Ctx::new(TOOL, None);
    let tool_version = probe.str(doc, "aiperf_version")?.map(str::to_owned);
    let unsupported = |why: String| ImportError::Unsupported {
        tool: TOOL,
        version: tool_version.clone(),
        why,
        supported: SUPPORTED,
    };
    match probe.get(doc, "schema_version") {
        None => Err(unsupported(
            "the export has no schema_version (an older AIPerf wrote it)".into(),
        )),
        Some(Value::String(v)) if v.split('.').next() == Some("1") => Ok(tool_version),
        Some(v) => Err(unsupported(format!("the export has schema_version {v}"))),
    }
}

pub(crate) fn import_value(doc: &Value, jsonl: Option<&str>) -> Result<Report, ImportError> {
    let tool_version = check_version(doc)?;
    let ctx = Ctx::new(TOOL, tool_version.as_deref());
    let avg = |name: &str| ctx.f64(doc, &format!("{name}/avg"));
    let count = |name: &str| -> Result<Option<u64>, ImportError> {
        Ok(avg(name)?
            .filter(|v| *v >= 0.0)
            .map(|v| libm::round(v) as u64))
    };
    let succeeded = count("request_count")?;
    let failed = match count("error_request_count")? {
        Some(f) => Some(f),
        None if avg("request_error_rate")? == Some(0.0) => Some(0),
        None => None,
    };
    let reported = ReportedMetrics {
        requests_total: succeeded.zip(failed).map(|(s, f)| s + f),
        requests_succeeded: succeeded,
        requests_failed: failed,
        duration_s: avg("benchmark_duration")?,
        request_throughput_rps: avg("request_throughput")?,
        output_tokens_per_s: avg("output_token_throughput")?,
        total_tokens_per_s: avg("total_token_throughput")?,
        input_tokens_total: count("total_isl")?,
        output_tokens_total: count("total_osl")?,
        goodput_rps: avg("goodput")?,
        ttft: stats(&ctx, doc, "time_to_first_token")?,
        itl: stats(&ctx, doc, "inter_chunk_latency")?,
        tpot: stats(&ctx, doc, "inter_token_latency")?,
        e2e: stats(&ctx, doc, "request_latency")?,
    };
    let histograms = match jsonl {
        Some(text) => records(&ctx, text)?.0,
        None => LatencyHistograms::default(),
    };
    let phase = ctx.list(doc, "input_config/phases")?.and_then(|ps| {
        ps.iter()
            .find(|p| p.get("kind").and_then(Value::as_str) == Some("profiling"))
    });
    let (policy, params) = phase_params(&ctx, phase)?;
    let lacks = build::lacks(&reported, &histograms);
    let info = ImportInfo {
        tool: TOOL.into(),
        tool_version: tool_version.clone(),
        source: match jsonl {
            Some(_) => "profile_export_aiperf.json with profile_export.jsonl".into(),
            None => "profile_export_aiperf.json".into(),
        },
        definitions: DEFINITIONS.iter().map(|s| (*s).to_owned()).collect(),
        lacks,
    };
    let created_at = ctx.str(doc, "start_time")?.unwrap_or_default().to_owned();
    let target = ctx
        .str(doc, "input_config/endpoint/urls/0")?
        .map(str::to_owned);
    let run = build::run(
        policy,
        params,
        reported,
        histograms,
        Some(created_at.clone()),
    );
    Ok(build::report(info, created_at, target, vec![run]))
}

/// Reads `profile_export.jsonl` alone: the request counts and the histograms of its
/// profiling-phase records.
pub(crate) fn import_records_only(text: &str) -> Result<Report, ImportError> {
    let ctx = Ctx::new(TOOL, None);
    let (histograms, ok, failed) = records(&ctx, text)?;
    let reported = ReportedMetrics {
        requests_total: Some(ok + failed),
        requests_succeeded: Some(ok),
        requests_failed: Some(failed),
        ..ReportedMetrics::default()
    };
    let mut lacks = build::lacks(&reported, &histograms);
    lacks.insert(
        0,
        "the aggregate statistics of profile_export_aiperf.json (load it with this file)".into(),
    );
    let info = ImportInfo {
        tool: TOOL.into(),
        tool_version: None,
        source: "profile_export.jsonl alone".into(),
        definitions: DEFINITIONS.iter().map(|s| (*s).to_owned()).collect(),
        lacks,
    };
    let run = build::run(
        "aiperf".into(),
        RunParams::default(),
        reported,
        histograms,
        None,
    );
    Ok(build::report(info, String::new(), None, vec![run]))
}

/// The policy name and parameters of the profiling phase (`poisson @4 req/s`,
/// `concurrency 8`).
fn phase_params(ctx: &Ctx<'_>, phase: Option<&Value>) -> Result<(String, RunParams), ImportError> {
    let Some(p) = phase else {
        return Ok(("aiperf".into(), RunParams::default()));
    };
    let kind = ctx.str(p, "type")?.unwrap_or("aiperf").to_owned();
    let rate = ctx.f64(p, "rate")?.filter(|r| r.is_finite());
    let concurrency = ctx.count(p, "concurrency")?;
    Ok((
        kind,
        RunParams {
            request_rate_rps: rate,
            llm_ratio: None,
            label: concurrency.map(|c| format!("concurrency {c}")),
            trial: None,
        },
    ))
}

/// An AIPerf metric's statistics (`avg`, `min`, `max`, `std`, `count`, `p1` … `p99`), in ms.
fn stats(ctx: &Ctx<'_>, doc: &Value, name: &str) -> Result<Option<ReportedLatency>, ImportError> {
    let Some(m) = ctx.get(doc, name) else {
        return Ok(None);
    };
    match ctx.str(m, "unit")? {
        Some("ms") | None => {}
        Some(u) => return Err(ctx.err(format!("`{name}/unit` is {u:?}, expected \"ms\""))),
    }
    let mut percentiles = BTreeMap::new();
    if let Value::Object(o) = m {
        for (key, v) in o {
            let Some(p) = key.strip_prefix('p').and_then(parse_percentile) else {
                continue;
            };
            let v = v.as_f64().ok_or_else(|| {
                ctx.err(format!("`{name}/{key}` is {}, expected a number", short(v)))
            })?;
            percentiles.insert(percentile_key(p), v);
        }
    }
    Ok(build::latency(
        ctx.count(m, "count")?,
        ctx.f64(m, "avg")?,
        ctx.f64(m, "min")?,
        ctx.f64(m, "max")?,
        ctx.f64(m, "std")?,
        percentiles,
    ))
}

/// The histograms, valid and failed counts of the profiling-phase records of a JSONL export.
fn records(ctx: &Ctx<'_>, text: &str) -> Result<(LatencyHistograms, u64, u64), ImportError> {
    let mut h = LatencyHistograms::default();
    let (mut ok, mut failed) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Value = serde_json::from_str(line).map_err(|e| {
            ctx.err(format!(
                "profile_export.jsonl line {}: not valid JSON ({e})",
                i + 1
            ))
        })?;
        if !recognises_record(&r) {
            return Err(ctx.err(format!(
                "profile_export.jsonl line {}: not a request record (no `metadata` and `metrics`)",
                i + 1
            )));
        }
        if !is_profiling(&r) {
            continue;
        }
        if r.get("error").is_some_and(|e| !e.is_null()) {
            failed += 1;
            continue;
        }
        ok += 1;
        let value = |name: &str| -> Result<Option<f64>, ImportError> {
            ctx.f64(&r, &format!("metrics/{name}/value"))
                .map_err(|e| match e {
                    ImportError::Malformed { what, .. } => {
                        ctx.err(format!("profile_export.jsonl line {}: {what}", i + 1))
                    }
                    other => other,
                })
        };
        if let Some(us) = value("time_to_first_token")?.and_then(ms_to_us) {
            h.ttft.record(us);
        }
        if let Some(us) = value("inter_token_latency")?.and_then(ms_to_us) {
            h.tpot.record(us);
        }
        if let Some(us) = value("request_latency")?.and_then(ms_to_us) {
            h.e2e.record(us);
        }
        if let Some(gaps) = ctx.list(&r, "metrics/inter_chunk_latency/value")? {
            for g in gaps {
                if let Some(us) = g.as_f64().and_then(ms_to_us) {
                    h.itl.record(us);
                }
            }
        }
    }
    Ok((h, ok, failed))
}
