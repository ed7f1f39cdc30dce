//! Chart specs of a generated workload (the viewer's preview): arrivals over time, prompt and
//! output lengths, and the priority / model / request-type mix. Warmup requests are left out.

use super::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::request::{Priority, RequestKind};
use crate::workload::{RequestSpec, Workload};
use std::collections::BTreeMap;

/// Most points a line of the preview gets.
pub const MAX_LINE_POINTS: usize = 600;

/// Most bins of a length histogram.
pub const MAX_BINS: usize = 30;

/// The smallest "nice" width (1, 2 or 5 times a power of ten, at least `min_width`) that
/// covers `span` in at most `max_bins` bins.
pub fn nice_width(span: f64, max_bins: usize, min_width: f64) -> f64 {
    let raw = (span / max_bins.max(1) as f64).max(min_width);
    if !(raw.is_finite() && raw > 0.0) {
        return min_width.max(1.0);
    }
    let mut mag = libm::pow(10.0, libm::floor(libm::log10(raw)));
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * mag >= raw * (1.0 - 1e-12) {
                return m * mag;
            }
        }
        mag *= 10.0;
    }
}

/// Requests per second over the run: one line for all requests and one per request kind when
/// there are several (bucketed so a line has at most [`MAX_LINE_POINTS`] points).
pub fn arrival_rate(w: &Workload) -> ChartSpec {
    let duration_s = w.duration_us() as f64 / 1e6;
    let bucket_s = nice_width(duration_s + 1.0, MAX_LINE_POINTS, 1.0);
    let n = (duration_s / bucket_s) as usize + 1;
    let kinds: Vec<RequestKind> = RequestKind::ALL
        .into_iter()
        .filter(|k| w.requests.iter().any(|r| r.kind == *k))
        .collect();
    let line = |name: String, i: usize, keep: &dyn Fn(&RequestSpec) -> bool| {
        let mut counts = vec![0u64; n];
        for r in w.requests.iter().filter(|r| keep(r)) {
            let b = ((r.offset_us as f64 / 1e6) / bucket_s) as usize;
            counts[b.min(n - 1)] += 1;
        }
        Series {
            name,
            color: color(i),
            points: counts
                .iter()
                .enumerate()
                .map(|(b, &c)| Point::new(b as f64 * bucket_s, c as f64 / bucket_s))
                .collect(),
        }
    };
    let mut series = vec![line("all requests".into(), 0, &|_| true)];
    if kinds.len() > 1 {
        for (i, k) in kinds.iter().enumerate() {
            series.push(line(k.as_str().to_owned(), i + 1, &|r| r.kind == *k));
        }
    }
    ChartSpec {
        id: "preview-rate".into(),
        title: "Arrival rate over time".into(),
        note: format!("Requests due per second, in {bucket_s} s buckets, by intended send time."),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new("Arrivals", "req/s"),
        series: if w.requests.is_empty() {
            Vec::new()
        } else {
            series
        },
    }
}

/// Requests sent so far against time: the arrival timeline.
pub fn arrival_timeline(w: &Workload) -> ChartSpec {
    let n = w.requests.len();
    let step = n.div_ceil(MAX_LINE_POINTS).max(1);
    let mut points: Vec<Point> = w
        .requests
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == n - 1)
        .map(|(i, r)| Point::new(r.offset_us as f64 / 1e6, (i + 1) as f64))
        .collect();
    points.dedup_by(|a, b| a.x == b.x && a.y == b.y);
    ChartSpec {
        id: "preview-timeline".into(),
        title: "Arrival timeline".into(),
        note: "Cumulative requests by intended send time; the slope is the rate.".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new("Requests sent", ""),
        series: if n == 0 {
            Vec::new()
        } else {
            vec![Series {
                name: "requests".into(),
                color: color(0),
                points,
            }]
        },
    }
}

/// Which length a histogram shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthKind {
    /// Estimated prompt tokens of LLM requests.
    Prompt,
    /// Requested output tokens (`max_tokens`) of LLM requests.
    Output,
    /// Estimated tokens of all inputs of embedding requests.
    EmbeddingInput,
}

impl LengthKind {
    fn of(self, r: &RequestSpec) -> Option<u32> {
        match self {
            Self::Prompt if r.kind.is_llm() => Some(r.prompt_tokens_est),
            Self::Output if r.kind.is_llm() => Some(r.max_tokens),
            Self::EmbeddingInput if !r.kind.is_llm() => Some(r.prompt_tokens_est),
            _ => None,
        }
    }
}

/// A histogram of one length over the measured requests (at most [`MAX_BINS`] bins of a
/// nice width).
pub fn length_histogram(w: &Workload, which: LengthKind) -> ChartSpec {
    let values: Vec<u32> = w.requests.iter().filter_map(|r| which.of(r)).collect();
    let (id, title, label) = match which {
        LengthKind::Prompt => (
            "preview-prompt",
            "Prompt length (LLM requests)",
            "Prompt length",
        ),
        LengthKind::Output => (
            "preview-output",
            "Output length (max_tokens)",
            "Output length",
        ),
        LengthKind::EmbeddingInput => (
            "preview-embedding",
            "Embedding input size",
            "Tokens per request",
        ),
    };
    let lo = values.iter().min().copied().unwrap_or(0);
    let hi = values.iter().max().copied().unwrap_or(0);
    let bin_width = nice_width(f64::from(hi - lo) + 1.0, MAX_BINS, 1.0);
    let series = if values.is_empty() {
        Vec::new()
    } else {
        let start = libm::floor(f64::from(lo) / bin_width) * bin_width;
        let mut bins: BTreeMap<u64, u64> = BTreeMap::new();
        for v in &values {
            *bins
                .entry(((f64::from(*v) - start) / bin_width) as u64)
                .or_insert(0) += 1;
        }
        vec![Series {
            name: "requests".into(),
            color: color(if which == LengthKind::Output { 1 } else { 0 }),
            points: bins
                .into_iter()
                .map(|(b, c)| Point::new(start + b as f64 * bin_width, c as f64))
                .collect(),
        }]
    };
    ChartSpec {
        id: id.into(),
        title: title.into(),
        note: "Token counts are the workload's estimates (about four characters per token).".into(),
        kind: ChartKind::Histogram { bin_width },
        x: Axis::new(label, "tokens"),
        y: Axis::new("Requests", ""),
        series,
    }
}

/// Which mix a bar chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Priority classes.
    Priority,
    /// Model names.
    Model,
    /// Request kinds.
    Kind,
}

/// The number of measured requests in each priority class, model or request kind.
pub fn mix(w: &Workload, which: Mix) -> ChartSpec {
    let (id, title, categories): (&str, &str, Vec<String>) = match which {
        Mix::Priority => (
            "preview-priority",
            "Priority mix",
            Priority::ALL
                .into_iter()
                .filter(|p| w.requests.iter().any(|r| r.priority == *p))
                .map(|p| p.as_str().to_owned())
                .collect(),
        ),
        Mix::Kind => (
            "preview-kind",
            "Request type mix",
            RequestKind::ALL
                .into_iter()
                .filter(|k| w.requests.iter().any(|r| r.kind == *k))
                .map(|k| k.as_str().to_owned())
                .collect(),
        ),
        Mix::Model => {
            let used: std::collections::BTreeSet<u32> =
                w.requests.iter().map(|r| r.model).collect();
            let mut models: Vec<String> = used
                .into_iter()
                .map(|i| w.models[i as usize].clone())
                .collect();
            models.sort();
            models.dedup();
            ("preview-model", "Model mix", models)
        }
    };
    let key = |r: &RequestSpec| -> String {
        match which {
            Mix::Priority => r.priority.as_str().to_owned(),
            Mix::Kind => r.kind.as_str().to_owned(),
            Mix::Model => w.model(r).to_owned(),
        }
    };
    let mut counts = vec![0u64; categories.len()];
    for r in &w.requests {
        let k = key(r);
        if let Some(i) = categories.iter().position(|c| *c == k) {
            counts[i] += 1;
        }
    }
    ChartSpec {
        id: id.into(),
        title: title.into(),
        note: "Measured requests (warmup not included).".into(),
        kind: ChartKind::Bars { categories },
        x: Axis::new("", ""),
        y: Axis::new("Requests", ""),
        series: if w.requests.is_empty() {
            Vec::new()
        } else {
            vec![Series {
                name: "requests".into(),
                color: color(match which {
                    Mix::Priority => 4,
                    Mix::Model => 2,
                    Mix::Kind => 9,
                }),
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| Point::new(i as f64, c as f64))
                    .collect(),
            }]
        },
    }
}

/// Every preview chart of a workload, in page order (the embedding-size histogram only for
/// workloads with embedding requests).
pub fn preview_charts(w: &Workload) -> Vec<ChartSpec> {
    let mut out = vec![
        arrival_rate(w),
        arrival_timeline(w),
        length_histogram(w, LengthKind::Prompt),
        length_histogram(w, LengthKind::Output),
    ];
    if w.requests.iter().any(|r| r.kind == RequestKind::Embedding) {
        out.push(length_histogram(w, LengthKind::EmbeddingInput));
    }
    out.push(mix(w, Mix::Priority));
    out.push(mix(w, Mix::Model));
    out.push(mix(w, Mix::Kind));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BenchmarkConfig, Mode};
    use crate::workload::{WorkloadData, generate};

    fn workload(mode: Mode, n: u64) -> Workload {
        let mut c = BenchmarkConfig::for_mode(mode);
        c.num_requests = n;
        c.request_rate = 20.0;
        generate(&c, &WorkloadData::none()).unwrap()
    }

    #[test]
    fn nice_widths() {
        assert_eq!(nice_width(100.0, 30, 1.0), 5.0);
        assert_eq!(nice_width(10.0, 30, 1.0), 1.0);
        assert_eq!(nice_width(2000.0, 30, 1.0), 100.0);
        assert_eq!(nice_width(0.0, 30, 1.0), 1.0);
    }

    #[test]
    fn counts_add_up_to_the_workload() {
        let w = workload(Mode::Hybrid, 400);
        let n = w.requests.len() as f64;
        let rate = arrival_rate(&w);
        assert_eq!(rate.series[0].name, "all requests");
        assert_eq!(rate.series.len(), 3, "all, llm_chat, embedding");
        let total: f64 = rate.series[0].points.iter().map(|p| p.y).sum();
        assert_eq!(total, n, "1 s buckets: the per-second counts add up");
        let timeline = arrival_timeline(&w);
        assert_eq!(timeline.series[0].points.last().unwrap().y, n);

        let llm = w.requests.iter().filter(|r| r.kind.is_llm()).count() as f64;
        for which in [LengthKind::Prompt, LengthKind::Output] {
            let h = length_histogram(&w, which);
            assert_eq!(h.series[0].points.iter().map(|p| p.y).sum::<f64>(), llm);
            assert!(h.series[0].points.len() <= MAX_BINS + 1);
        }
        let emb = length_histogram(&w, LengthKind::EmbeddingInput);
        assert_eq!(
            emb.series[0].points.iter().map(|p| p.y).sum::<f64>(),
            n - llm
        );

        for which in [Mix::Priority, Mix::Model, Mix::Kind] {
            let m = mix(&w, which);
            assert_eq!(m.series[0].points.iter().map(|p| p.y).sum::<f64>(), n);
        }
        let ChartKind::Bars { categories } = mix(&w, Mix::Kind).kind else {
            panic!()
        };
        assert_eq!(categories, ["llm_chat", "embedding"]);
        let ids: Vec<String> = preview_charts(&w).into_iter().map(|c| c.id).collect();
        assert!(ids.contains(&"preview-embedding".to_owned()));
        let llm_only: Vec<String> = preview_charts(&workload(Mode::Llm, 50))
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert!(!llm_only.contains(&"preview-embedding".to_owned()));
    }

    #[test]
    fn long_runs_are_bucketed() {
        let c = BenchmarkConfig {
            num_requests: 3000,
            request_rate: 1.0,
            ..BenchmarkConfig::default()
        };
        let w = generate(&c, &WorkloadData::none()).unwrap();
        let rate = arrival_rate(&w);
        assert!(rate.series[0].points.len() <= MAX_LINE_POINTS);
        let total: f64 = rate.series[0].points.iter().map(|p| p.y).sum();
        let bucket = rate.series[0].points[1].x - rate.series[0].points[0].x;
        assert_eq!((total * bucket).round(), 3000.0);
        assert!(arrival_timeline(&w).series[0].points.len() <= MAX_LINE_POINTS + 1);
    }
}
