//! `vllm bench serve --save-result` JSON (as vLLM 0.33 writes it; earlier versions of the same
//! shape read the same way).
//!
//! Read: the counts (`completed`, `failed`), `duration`, the request, output-token and
//! total-token throughputs, `request_goodput` when `--goodput` was given, and for each of TTFT,
//! TPOT, ITL and E2EL the mean, standard deviation, median and the percentiles asked with
//! `--metric-percentiles` (`p99` by default) that `--percentile-metrics` selected. With
//! `--save-detailed`, the per-request lists (`ttfts`, `itls`, `latencies`, `output_lens`,
//! `errors`) fill the latency histograms.
//!
//! The file records no vLLM version: the tool is recognised by its fields, and the version
//! shows as not recorded.

use super::ImportError;
use super::build;
use super::num::{Ctx, s_to_us};
use crate::metrics::LatencyHistograms;
use crate::report::{
    ImportInfo, Report, ReportedLatency, ReportedMetrics, RunParams, parse_percentile,
    percentile_key,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tool's name in labels.
pub const TOOL: &str = "vLLM bench serve";

/// How vLLM's definitions differ from this project's.
const DEFINITIONS: [&str; 3] = [
    "latencies are measured from when each request was actually sent, not from its scheduled time: a client that fell behind its schedule hides that wait",
    "TPOT is (latency - TTFT) / (output tokens - 1) per request, with the output tokens from the server's usage or, without it, the client's tokenizer; ITL pools every gap between streamed chunks, as here",
    "percentiles are numpy's (linear interpolation between values); this project's are nearest-rank from a histogram",
];

/// Whether a JSON document looks like a `vllm bench serve --save-result` file.
pub(crate) fn recognises(doc: &Value) -> bool {
    let Value::Object(o) = doc else { return false };
    o.contains_key("request_throughput")
        && o.contains_key("completed")
        && o.contains_key("duration")
        && (o.contains_key("backend") || o.contains_key("mean_ttft_ms"))
}

/// Reads a `vllm bench serve --save-result` file.
pub fn import(text: &str) -> Result<Report, ImportError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| ImportError::malformed(TOOL, None, format!("not valid JSON: {e}")))?;
    if !recognises(&doc) {
        return Err(ImportError::malformed(
            TOOL,
            None,
            "not a --save-result file: it needs `completed`, `duration` and `request_throughput`"
                .into(),
        ));
    }
    import_value(&doc)
}

/// The statistics of one metric (`ttft`, `tpot`, `itl`, `e2el`): every `{stat}_{metric}_ms`.
fn metric(ctx: &Ctx<'_>, doc: &Value, name: &str) -> Result<Option<ReportedLatency>, ImportError> {
    let Value::Object(o) = doc else {
        return Ok(None);
    };
    let suffix = format!("_{name}_ms");
    let mut percentiles = BTreeMap::new();
    for key in o.keys() {
        let Some(stat) = key.strip_suffix(&suffix) else {
            continue;
        };
        let p = match stat {
            "median" => 50.0,
            _ => match stat.strip_prefix('p').and_then(parse_percentile) {
                Some(p) => p,
                None => continue,
            },
        };
        if let Some(v) = ctx.f64(doc, key)? {
            percentiles.insert(percentile_key(p), v);
        }
    }
    Ok(build::latency(
        None,
        ctx.f64(doc, &format!("mean{suffix}"))?,
        None,
        None,
        ctx.f64(doc, &format!("std{suffix}"))?,
        percentiles,
    ))
}

pub(crate) fn import_value(doc: &Value) -> Result<Report, ImportError> {
    let ctx = Ctx::new(TOOL, None);
    let completed = ctx
        .count(doc, "completed")?
        .ok_or_else(|| ctx.err("`completed` is missing"))?;
    let failed = ctx.count(doc, "failed")?;
    let reported = ReportedMetrics {
        requests_total: failed.map(|f| completed + f),
        requests_succeeded: Some(completed),
        requests_failed: failed,
        duration_s: Some(ctx.req_f64(doc, "duration")?),
        request_throughput_rps: Some(ctx.req_f64(doc, "request_throughput")?),
        output_tokens_per_s: ctx.f64(doc, "output_throughput")?,
        total_tokens_per_s: ctx.f64(doc, "total_token_throughput")?,
        input_tokens_total: ctx.count(doc, "total_input_tokens")?,
        output_tokens_total: ctx.count(doc, "total_output_tokens")?,
        goodput_rps: ctx.f64(doc, "request_goodput")?,
        ttft: metric(&ctx, doc, "ttft")?,
        itl: metric(&ctx, doc, "itl")?,
        tpot: metric(&ctx, doc, "tpot")?,
        e2e: metric(&ctx, doc, "e2el")?,
    };
    let histograms = per_request(&ctx, doc)?;
    let detailed = !histograms.ttft.is_empty() || !histograms.e2e.is_empty();
    let rate = ctx.f64(doc, "request_rate")?;
    let burstiness = ctx.f64(doc, "burstiness")?;
    let concurrency = ctx.count(doc, "max_concurrency")?;
    let policy = match (rate, burstiness) {
        (Some(r), _) if r.is_infinite() => "all at once".to_owned(),
        (Some(_), Some(b)) if (b - 1.0).abs() > 1e-9 => format!("gamma (burstiness {b})"),
        (Some(_), _) => "poisson".to_owned(),
        (None, _) => "vllm".to_owned(),
    };
    let mut label = ctx.str(doc, "label")?.map(str::to_owned);
    if let Some(c) = concurrency {
        label = Some(match label {
            Some(l) => format!("{l}, max concurrency {c}"),
            None => format!("max concurrency {c}"),
        });
    }
    let params = RunParams {
        request_rate_rps: rate.filter(|r| r.is_finite()),
        llm_ratio: None,
        label,
        trial: None,
    };
    let created_at = ctx.str(doc, "date")?.map(date).unwrap_or_default();
    let lacks = build::lacks(&reported, &histograms);
    let run = build::run(policy, params, reported, histograms, None);
    let mut info = ImportInfo {
        tool: TOOL.into(),
        tool_version: None,
        source: if detailed {
            "--save-result JSON with the --save-detailed per-request lists".into()
        } else {
            "--save-result JSON".into()
        },
        definitions: DEFINITIONS.iter().map(|s| (*s).to_owned()).collect(),
        lacks,
    };
    if let Some(model) = ctx.str(doc, "model_id")? {
        info.source.push_str(&format!(", model {model}"));
    }
    Ok(build::report(info, created_at, None, vec![run]))
}

/// The histograms of the `--save-detailed` lists (successful requests: empty `errors` entry);
/// all empty without them.
fn per_request(ctx: &Ctx<'_>, doc: &Value) -> Result<LatencyHistograms, ImportError> {
    let mut h = LatencyHistograms::default();
    let Some(ttfts) = ctx.numbers(doc, "ttfts")? else {
        return Ok(h);
    };
    let n = ttfts.len();
    let latencies = ctx.numbers(doc, "latencies")?;
    let output_lens = ctx.numbers(doc, "output_lens")?;
    let errors = ctx.list(doc, "errors")?;
    let itls = ctx.list(doc, "itls")?;
    for (name, len) in [
        ("latencies", latencies.as_ref().map(Vec::len)),
        ("errors", errors.map(Vec::len)),
        ("itls", itls.map(Vec::len)),
    ] {
        if let Some(len) = len
            && len != n
        {
            return Err(ctx.err(format!("`{name}` has {len} entries but `ttfts` has {n}")));
        }
    }
    let ok =
        |i: usize| errors.is_none_or(|e| e[i].as_str().is_none_or(str::is_empty) || e[i].is_null());
    // `output_lens` has one entry per request (0 for a failed one).
    for i in 0..n {
        if !ok(i) {
            continue;
        }
        let ttft = ttfts[i];
        if let Some(us) = s_to_us(ttft) {
            h.ttft.record(us);
        }
        if let Some(lat) = latencies.as_ref().map(|l| l[i]) {
            if let Some(us) = s_to_us(lat) {
                h.e2e.record(us);
            }
            let out = output_lens.as_ref().and_then(|o| o.get(i)).copied();
            if let Some(out) = out.filter(|o| *o > 1.0)
                && let Some(us) = s_to_us((lat - ttft) / (out - 1.0))
            {
                h.tpot.record(us);
            }
        }
        if let Some(gaps) = itls.and_then(|l| l[i].as_array()) {
            for (j, g) in gaps.iter().enumerate() {
                let g = g
                    .as_f64()
                    .ok_or_else(|| ctx.err(format!("`itls/{i}/{j}` is not a number")))?;
                if let Some(us) = s_to_us(g) {
                    h.itl.record(us);
                }
            }
        }
    }
    Ok(h)
}

/// vLLM's `date` (`20261206-054809`, the machine's local time) as `2026-12-06T05:48:09`;
/// the text as it is when it has another shape.
fn date(d: &str) -> String {
    let b = d.as_bytes();
    if b.len() == 15
        && b[8] == b'-'
        && d.bytes()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
    {
        format!(
            "{}-{}-{}T{}:{}:{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[9..11],
            &d[11..13],
            &d[13..15]
        )
    } else {
        d.to_owned()
    }
}
