//! How often the prefix caches were hit during each run: the control plane's `prefix_cache`
//! counters (`/admin/metrics`, after the run minus before it; see `docs/CONTRACT.md`), else the
//! counters of a scraped vLLM (`vllm:prefix_cache_queries`, `vllm:prefix_cache_hits`) or
//! reference server (`cpbench_prefix_cache_*_total`), last value minus first.

use super::{ViewRow, ViewTable, fixed};
use crate::chart::runs::NamedRun;
use crate::report::PolicyRun;
use serde_json::Value;

/// What the table shows when a run has no prefix-cache counters.
pub const NOT_REPORTED: &str = "not reported by this control plane";

/// What the hit rate is.
pub const DEFINITION: &str = "Hit rate = prompt tokens found in a prefix cache (not prefilled again) / prompt tokens looked up, over the run: the control plane's prefix_cache counters of /admin/metrics after the run minus before it (all instances), else the prefix-cache counters of a scraped vLLM or reference /metrics (last value minus first).";

/// A run's prefix-cache counters over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefixCacheUse {
    /// Where the counters came from (`control plane`, or the scraped source).
    pub source: String,
    /// Prompt tokens looked up.
    pub queried_tokens: f64,
    /// Of those, the tokens found cached.
    pub hit_tokens: f64,
}

impl PrefixCacheUse {
    /// `hit_tokens / queried_tokens`; `None` when nothing was looked up.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.queried_tokens > 0.0).then(|| self.hit_tokens / self.queried_tokens)
    }
}

fn counters(v: Option<&Value>) -> Option<(f64, f64)> {
    let pc = v?.get("prefix_cache")?;
    Some((
        pc.get("queried_tokens")?.as_f64()?,
        pc.get("hit_tokens")?.as_f64()?,
    ))
}

/// The increase of every series named `<source>/<metric>{...}` with a metric in `names`,
/// summed, with the first such source; `None` without one.
fn series_increase(run: &PolicyRun, names: &[&str]) -> Option<(String, f64)> {
    let mut source = None;
    let mut total = 0.0;
    for (name, points) in &run.series {
        let Some((src, metric)) = name.split_once('/') else {
            continue;
        };
        let metric = metric.split('{').next().unwrap_or(metric);
        if src == "cp" || !names.contains(&metric) {
            continue;
        }
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        total += (last.value - first.value).max(0.0);
        source.get_or_insert_with(|| src.to_owned());
    }
    Some((source?, total))
}

/// A run's prefix-cache counters over the run; `None` when neither the control plane nor a
/// scraped endpoint reported them.
pub fn usage(run: &PolicyRun) -> Option<PrefixCacheUse> {
    if let Some((q, h)) = counters(run.control_plane.after.as_ref()) {
        let (q0, h0) = counters(run.control_plane.before.as_ref()).unwrap_or((0.0, 0.0));
        return Some(PrefixCacheUse {
            source: "control plane".into(),
            queried_tokens: (q - q0).max(0.0),
            hit_tokens: (h - h0).max(0.0),
        });
    }
    let (source, queried) = series_increase(
        run,
        &[
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_queries",
            "cpbench_prefix_cache_queries_total",
        ],
    )?;
    let (_, hits) = series_increase(
        run,
        &[
            "vllm:prefix_cache_hits_total",
            "vllm:prefix_cache_hits",
            "cpbench_prefix_cache_hits_total",
        ],
    )?;
    Some(PrefixCacheUse {
        source: format!("scraped {source}"),
        queried_tokens: queried,
        hit_tokens: hits,
    })
}

/// One row per run: the source, tokens looked up and hit, and the hit rate; or
/// [`NOT_REPORTED`].
pub fn table(runs: &[NamedRun<'_>]) -> ViewTable {
    let rows = runs
        .iter()
        .map(|r| {
            let cells = match usage(r.run) {
                Some(u) => vec![
                    r.name(),
                    u.source.clone(),
                    fixed(u.queried_tokens, 0),
                    fixed(u.hit_tokens, 0),
                    u.hit_rate()
                        .map_or_else(|| "-".into(), |h| fixed(h * 100.0, 1) + "%"),
                ],
                None => vec![
                    r.name(),
                    NOT_REPORTED.into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
            };
            ViewRow {
                run: r.index,
                cells,
            }
        })
        .collect();
    ViewTable {
        id: "prefix-cache",
        title: "Prefix-cache hit rate",
        definition: DEFINITION.into(),
        headers: vec![
            "Policy",
            "Source",
            "Tokens looked up",
            "Tokens hit",
            "Hit rate",
        ],
        numeric: vec![false, false, true, true, true],
        rows,
    }
}

/// Whether any run has prefix-cache counters.
pub fn any_reported(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| usage(r.run).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::{RunParams, SeriesPoint};
    use serde_json::json;

    #[test]
    fn hit_rate_from_the_control_plane_or_a_scrape_or_not_reported() {
        let mut cp = run("cache_aware", 10, 1, RunParams::default());
        cp.control_plane.before =
            Some(json!({"prefix_cache": {"queried_tokens": 100, "hit_tokens": 20}}));
        cp.control_plane.after =
            Some(json!({"prefix_cache": {"queried_tokens": 1100, "hit_tokens": 820}}));
        let mut scraped = run("vllm", 10, 1, RunParams::default());
        let pts = |a: f64, b: f64| {
            vec![
                SeriesPoint { t_s: 0.0, value: a },
                SeriesPoint { t_s: 5.0, value: b },
            ]
        };
        scraped.series.insert(
            "10.0.0.5:8000/vllm:prefix_cache_queries_total{model_name=\"m\"}".into(),
            pts(50.0, 450.0),
        );
        scraped.series.insert(
            "10.0.0.5:8000/vllm:prefix_cache_hits_total{model_name=\"m\"}".into(),
            pts(10.0, 110.0),
        );
        let rep = report(vec![cp, scraped, run("fifo", 10, 1, RunParams::default())]);
        let t = table(&name_runs(&[("r", &rep)]));
        assert_eq!(
            t.rows[0].cells,
            ["cache_aware", "control plane", "1000", "800", "80.0%"]
        );
        assert_eq!(
            t.rows[1].cells,
            ["vllm", "scraped 10.0.0.5:8000", "400", "100", "25.0%"]
        );
        assert_eq!(t.rows[2].cells[1], NOT_REPORTED);
    }
}
