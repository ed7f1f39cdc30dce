//! More chart specs from result files, for the static reports (HTML, Markdown, SVG, PNG): a
//! latency histogram with its percentiles marked, overall SLO compliance, the impact of the
//! LLM/embedding mix, embedding batch efficiency, the request-type breakdown, LLM against
//! embedding latency and the control plane's queue depth over time.
//!
//! Some charts carry [`Guide`]s: reference lines drawn over the data (an SLO target, a
//! percentile, the line where achieved throughput equals the offered rate). A spec and its
//! guides make a [`GuidedChart`]; [`draw_guides`] draws the guides after [`super::draw`] drew
//! the spec, using the [`Geometry`] it returned, so any backend shows them.
//!
//! Every builder takes the runs as [`NamedRun`]s, so a run has the same name and colour here
//! as in [`super::compare`].

use super::compare::{Breakdown, LatencyMetric, NamedRun, control_plane_keys, numeric_leaves};
use super::workload::nice_width;
use super::{Axis, ChartKind, ChartSpec, DrawOptions, Geometry, Point, Rgb, Scale, Series, color};
use crate::record::RequestRecord;
use crate::request::RequestKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A reference line drawn over a chart.
#[derive(Debug, Clone, PartialEq)]
pub enum Guide {
    /// A horizontal line at `y` (a target), dashed, with its label at the right end.
    Horizontal {
        /// The line's position on the y axis.
        y: f64,
        /// What it marks (`SLO target 90%`).
        label: String,
    },
    /// A vertical line at `x` (a percentile), dashed, labelled at the top.
    Vertical {
        /// The line's position on the x axis.
        x: f64,
        /// What it marks (`p99 1234 ms`).
        label: String,
        /// The line's colour (its series').
        color: Rgb,
    },
    /// The line `y = x` across the plotting area (achieved equals offered).
    Identity {
        /// What it means (`offered = achieved`).
        label: String,
    },
}

/// A chart spec with the reference lines drawn over it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidedChart {
    /// The chart.
    pub spec: ChartSpec,
    /// Lines drawn over it, in order.
    pub guides: Vec<Guide>,
}

impl GuidedChart {
    /// A chart without guides.
    pub fn plain(spec: ChartSpec) -> Self {
        Self {
            spec,
            guides: Vec::new(),
        }
    }

    /// The same chart with one more guide.
    pub fn with(mut self, guide: Guide) -> Self {
        self.guides.push(guide);
        self
    }
}

const GUIDE_GREY: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// The colour of percentile marks.
pub const MARK_GREY: Rgb = Rgb(0x33, 0x33, 0x33);

/// A dashed line from `a` to `b` (pixels): 6 on, 4 off, times `scale`.
fn dashes(a: (f64, f64), b: (f64, f64), scale: f64) -> Vec<[(i32, i32); 2]> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len.is_nan() || len < 1.0 {
        return Vec::new();
    }
    let (on, off) = (6.0 * scale, 4.0 * scale);
    let mut out = Vec::new();
    let mut t = 0.0;
    while t < len {
        let e = (t + on).min(len);
        let p = |s: f64| {
            (
                (a.0 + dx * s / len).round() as i32,
                (a.1 + dy * s / len).round() as i32,
            )
        };
        out.push([p(t), p(e)]);
        t += on + off;
    }
    out
}

/// Draws `guides` over a chart that [`super::draw`] drew on `root` and that returned
/// `geometry`. A horizontal guide above the plotted range is not drawn; its label says so at
/// the top of the plotting area instead. Guides need linear axes where they lie (a vertical
/// guide on a log x axis is placed at the log of its value).
pub fn draw_guides<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    geometry: &Geometry,
    guides: &[Guide],
    opts: &DrawOptions,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let s = if opts.scale.is_finite() && opts.scale > 0.0 {
        opts.scale
    } else {
        1.0
    };
    let font = opts.font_family.as_str();
    let g = geometry;
    let (left, right) = (g.left_px.min(g.right_px), g.left_px.max(g.right_px));
    let (top, bottom) = (g.top_px.min(g.bottom_px), g.top_px.max(g.bottom_px));
    let line = |root: &DrawingArea<DB, Shift>,
                a: (f64, f64),
                b: (f64, f64),
                color: RGBColor|
     -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let style = ShapeStyle::from(&color).stroke_width((1.5 * s).round().max(1.0) as u32);
        for [p, q] in dashes(a, b, s) {
            root.draw(&PathElement::new(vec![p, q], style))?;
        }
        Ok(())
    };
    // Labels sit on a translucent white box so bars and lines under them stay readable.
    let text = |root: &DrawingArea<DB, Shift>,
                label: &str,
                at: (f64, f64),
                pos: Pos,
                color: RGBColor|
     -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let style = TextStyle::from((font, 11.0 * s).into_font())
            .color(&color)
            .pos(pos);
        let (x, y) = (at.0.round() as i32, at.1.round() as i32);
        if let Ok((w, h)) = root.estimate_text_size(label, &style) {
            let (w, h) = (w as i32, h as i32);
            let x0 = match pos.h_pos {
                HPos::Left => x,
                HPos::Center => x - w / 2,
                HPos::Right => x - w,
            };
            let y0 = match pos.v_pos {
                VPos::Top => y,
                VPos::Center => y - h / 2,
                VPos::Bottom => y - h,
            };
            let pad = (2.0 * s).round() as i32;
            root.draw(&Rectangle::new(
                [(x0 - pad, y0 - pad), (x0 + w + pad, y0 + h + pad)],
                WHITE.mix(0.8).filled(),
            ))?;
        }
        root.draw(&Text::new(label.to_owned(), (x, y), style))
    };
    let mut vertical = 0u32;
    for guide in guides {
        match guide {
            Guide::Horizontal { y, label } => {
                let Some(pos) = Geometry::axis_pos(g.y_scale, *y) else {
                    continue;
                };
                let py = g.y_pixel(pos);
                if py < top - 0.5 {
                    text(
                        root,
                        &format!("{label} (above the plotted range)"),
                        (right - 4.0 * s, top + 4.0 * s),
                        Pos::new(HPos::Right, VPos::Top),
                        GUIDE_GREY,
                    )?;
                    continue;
                }
                if py > bottom + 0.5 {
                    continue;
                }
                line(root, (left, py), (right, py), GUIDE_GREY)?;
                text(
                    root,
                    label,
                    (right - 4.0 * s, py - 3.0 * s),
                    Pos::new(HPos::Right, VPos::Bottom),
                    GUIDE_GREY,
                )?;
            }
            Guide::Vertical { x, label, color } => {
                let Some(pos) = Geometry::axis_pos(g.x_scale, *x) else {
                    continue;
                };
                let px = g.x_pixel(pos);
                if px < left - 0.5 || px > right + 0.5 {
                    continue;
                }
                let c = RGBColor(color.0, color.1, color.2);
                line(root, (px, bottom), (px, top), c)?;
                // Labels step down so neighbouring lines' labels do not overlap, and sit
                // left of lines near the right edge.
                let y = top + 2.0 * s + f64::from(vertical) * 14.0 * s;
                vertical += 1;
                if px > left + (right - left) * 0.7 {
                    text(
                        root,
                        label,
                        (px - 3.0 * s, y),
                        Pos::new(HPos::Right, VPos::Top),
                        c,
                    )?;
                } else {
                    text(
                        root,
                        label,
                        (px + 3.0 * s, y),
                        Pos::new(HPos::Left, VPos::Top),
                        c,
                    )?;
                }
            }
            Guide::Identity { label } => {
                if g.x_scale != Scale::Linear || g.y_scale != Scale::Linear {
                    continue;
                }
                // y = x from where it enters the plotted range to where it leaves it.
                let lo = g.x_min.max(g.y_min);
                let hi = g.x_max.min(g.y_max);
                if hi <= lo {
                    continue;
                }
                let a = (g.x_pixel(lo), g.y_pixel(lo));
                let b = (g.x_pixel(hi), g.y_pixel(hi));
                line(root, a, b, GUIDE_GREY)?;
                text(
                    root,
                    label,
                    (b.0 - 6.0 * s, b.1 + 4.0 * s),
                    Pos::new(HPos::Right, VPos::Top),
                    GUIDE_GREY,
                )?;
            }
        }
    }
    Ok(())
}

/// Draws a whole chart on `root`: the spec (see [`super::draw`]) with its guides over it and,
/// when `opts.legend` is set, the legend in a panel to the right of the plot (never over the
/// data). Returns where the data went, in `root`'s pixels.
pub fn draw_guided<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &GuidedChart,
    opts: &DrawOptions,
) -> Result<Geometry, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let panel_px = if opts.legend {
        legend_width(root, &chart.spec, opts)
    } else {
        0
    };
    let (w, _) = root.dim_in_pixel();
    let (plot, panel) = root.split_horizontally(w.saturating_sub(panel_px) as i32);
    let inner = DrawOptions {
        legend: false,
        ..opts.clone()
    };
    let g = super::draw(&plot, &chart.spec, &inner)?;
    draw_guides(&plot, &g, &chart.guides, opts)?;
    if panel_px > 0 {
        draw_legend(&panel, &chart.spec, opts, g.top_px)?;
    }
    Ok(g)
}

/// Height of one legend entry, in layout pixels.
const LEGEND_ROW: f64 = 18.0;

/// Whether a spec gets a legend: every chart but a histogram of one series (its title names
/// the series).
pub fn wants_legend(spec: &ChartSpec) -> bool {
    let single_histogram =
        matches!(spec.kind, ChartKind::Histogram { .. }) && spec.series.len() == 1;
    !spec.series.is_empty() && !single_histogram
}

/// The width, in backend pixels, of a legend panel beside the chart for `spec` on `root`:
/// the widest series name plus its swatch, at most 35 % of the area; 0 without a legend.
pub fn legend_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    opts: &DrawOptions,
) -> u32 {
    if !wants_legend(spec) {
        return 0;
    }
    let s = scale_of(opts);
    let font = TextStyle::from((opts.font_family.as_str(), 12.0 * s).into_font());
    let widest = spec
        .series
        .iter()
        .filter_map(|x| root.estimate_text_size(&x.name, &font).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(0);
    let (w, _) = root.dim_in_pixel();
    let want = f64::from(widest) + 40.0 * s;
    want.min(f64::from(w) * 0.35).round() as u32
}

fn scale_of(opts: &DrawOptions) -> f64 {
    if opts.scale.is_finite() && opts.scale > 0.0 {
        opts.scale
    } else {
        1.0
    }
}

/// Draws the legend of `spec` into `area` (a panel beside the chart, filled white first):
/// one row per series from `top_px` down, a swatch in the series' colour (a line for line
/// charts, a square otherwise) and its name, shortened with an ellipsis to fit. Series hidden
/// in `opts` are left out.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    opts: &DrawOptions,
    top_px: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.fill(&WHITE)?;
    if !wants_legend(spec) {
        return Ok(());
    }
    let s = scale_of(opts);
    let font = TextStyle::from((opts.font_family.as_str(), 12.0 * s).into_font());
    let (w, h) = area.dim_in_pixel();
    let text_x = (24.0 * s).round() as i32;
    let room = i64::from(w) - i64::from(text_x) - (4.0 * s).round() as i64;
    let mut y = top_px + 4.0 * s;
    for (i, series) in spec.series.iter().enumerate() {
        if opts.hidden.get(i).copied().unwrap_or(false) {
            continue;
        }
        if y + LEGEND_ROW * s > f64::from(h) {
            break;
        }
        let c = RGBColor(series.color.0, series.color.1, series.color.2);
        let cy = (y + LEGEND_ROW * s / 2.0).round() as i32;
        let x0 = (6.0 * s).round() as i32;
        if matches!(spec.kind, ChartKind::Lines { .. }) {
            area.draw(&PathElement::new(
                vec![(x0, cy), (x0 + (14.0 * s) as i32, cy)],
                c.stroke_width((2.0 * s).round().max(1.0) as u32),
            ))?;
        } else {
            let half = (5.0 * s).round() as i32;
            area.draw(&Rectangle::new(
                [(x0 + 2, cy - half), (x0 + 2 + 2 * half, cy + half)],
                c.filled(),
            ))?;
        }
        let mut name = series.name.clone();
        let fits = |t: &str| {
            area.estimate_text_size(t, &font)
                .map_or(true, |(tw, _)| i64::from(tw) <= room)
        };
        while !fits(&name) && name.chars().count() > 2 {
            let keep = name.chars().count() - 2;
            name = name.chars().take(keep).collect::<String>() + "…";
        }
        area.draw(&Text::new(
            name,
            (text_x, cy),
            font.clone()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        y += LEGEND_ROW * s;
    }
    Ok(())
}

/// The guide marking an SLO compliance target on a chart whose y axis is in percent.
pub fn slo_target_guide(target_fraction: f64) -> Guide {
    Guide::Horizontal {
        y: target_fraction * 100.0,
        label: format!(
            "SLO target {}%",
            super::format_number(target_fraction * 100.0)
        ),
    }
}

/// Most bins of a latency histogram.
pub const HISTOGRAM_BINS: usize = 40;

/// The distribution of one latency of one run as a histogram (bins of a "nice" width from
/// the smallest to the largest value, counts from the run's HdrHistogram), with its p50, p95
/// and p99 marked; `None` when the run has no values of that metric.
pub fn latency_histogram(r: &NamedRun<'_>, metric: LatencyMetric) -> Option<GuidedChart> {
    let h = metric.histogram(&r.run.histograms);
    let stats = metric.stats(&r.run.summary)?;
    if h.is_empty() {
        return None;
    }
    let buckets: Vec<(f64, u64)> = h.buckets().map(|(us, n)| (us as f64 / 1000.0, n)).collect();
    let lo = buckets.first().map_or(0.0, |b| b.0);
    let hi = buckets.last().map_or(0.0, |b| b.0);
    let width = nice_width(hi - lo, HISTOGRAM_BINS, 0.001);
    let start = (lo / width).floor() * width;
    let bins = (((hi - start) / width).floor() as usize + 1).max(1);
    let mut counts = vec![0u64; bins];
    for (v, n) in buckets {
        let i = (((v - start) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += n;
    }
    let points = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| Point::new(start + i as f64 * width, *n as f64))
        .collect();
    let c = color(r.index);
    let name = r.name();
    let spec = ChartSpec {
        id: format!("hist-{}-{}", metric.as_str(), r.index),
        title: format!("{} distribution: {name}", metric.long()),
        note: format!(
            "Successful requests by {} (bins of {} ms, from the run's histogram); dashed lines at p50, p95 and p99.",
            metric.short(),
            super::format_number(width)
        ),
        kind: ChartKind::Histogram { bin_width: width },
        x: Axis::new(metric.short(), "ms"),
        y: Axis::new(
            if metric == LatencyMetric::Itl {
                "Gaps"
            } else {
                "Requests"
            },
            "",
        ),
        series: vec![Series {
            name,
            color: c,
            points,
        }],
    };
    // Marks in a dark grey: in the series' colour they would vanish over its bars.
    let mark = |p: &str, v: f64| Guide::Vertical {
        x: v,
        label: format!("{p} {} ms", super::table::ms(Some(v))),
        color: MARK_GREY,
    };
    Some(GuidedChart {
        spec,
        guides: vec![
            mark("p50", stats.p50_ms),
            mark("p95", stats.p95_ms),
            mark("p99", stats.p99_ms),
        ],
    })
}

/// SLO compliance of all of each run's requests (percent; failures count as misses).
pub fn slo_overall(runs: &[NamedRun<'_>]) -> ChartSpec {
    ChartSpec {
        id: "slo-overall".into(),
        title: "SLO compliance".into(),
        note: "Requests that met their SLO, percent of all measured requests (failures count as misses).".into(),
        kind: ChartKind::Bars {
            categories: vec!["All requests".into()],
        },
        x: Axis::new("", ""),
        y: Axis::new("SLO compliance", "%"),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name(),
                color: color(r.index),
                points: vec![Point::new(0.0, r.run.summary.slo_compliance * 100.0)],
            })
            .collect(),
    }
}

/// Whether any run has an LLM ratio (a mixed-ratio experiment or a hybrid sweep).
pub fn has_ratios(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| r.run.params.llm_ratio.is_some())
}

/// The name shared by the runs of one policy across ratios: the run's name without its ratio.
fn ratio_group(r: &NamedRun<'_>) -> String {
    let mut s = match r.file {
        Some(f) => format!("{f}: {}", r.run.policy),
        None => r.run.policy.clone(),
    };
    if let Some(rate) = r.run.params.request_rate_rps {
        let _ = write!(s, " @{rate} req/s");
    }
    if let Some(l) = &r.run.params.label {
        let _ = write!(s, " [{l}]");
    }
    s
}

/// Runs with a ratio grouped by [`ratio_group`], in first-seen order; within a group sorted
/// by ratio.
fn ratio_groups<'a, 'b>(runs: &'b [NamedRun<'a>]) -> Vec<(String, Vec<&'b NamedRun<'a>>)> {
    let mut groups: Vec<(String, Vec<&NamedRun<'a>>)> = Vec::new();
    for r in runs.iter().filter(|r| r.run.params.llm_ratio.is_some()) {
        let key = ratio_group(r);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    for g in &mut groups {
        g.1.sort_by(|a, b| {
            let x = a.run.params.llm_ratio.unwrap_or(0.0);
            let y = b.run.params.llm_ratio.unwrap_or(0.0);
            x.total_cmp(&y)
        });
    }
    groups
}

/// SLO compliance of all requests against the LLM share of the workload, one line per policy
/// (runs with an LLM ratio).
pub fn mixed_ratio_slo(runs: &[NamedRun<'_>]) -> ChartSpec {
    ChartSpec {
        id: "mixed-ratio-slo".into(),
        title: "SLO compliance vs LLM share".into(),
        note: "Requests that met their SLO, percent of all requests, at each share of LLM requests in the workload (the rest are embeddings).".into(),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("LLM share of requests", "%"),
        y: Axis::new("SLO compliance", "%"),
        series: ratio_groups(runs)
            .into_iter()
            .enumerate()
            .map(|(i, (name, rs))| Series {
                name,
                color: color(i),
                points: rs
                    .iter()
                    .map(|r| {
                        Point::new(
                            r.run.params.llm_ratio.unwrap_or(0.0) * 100.0,
                            r.run.summary.slo_compliance * 100.0,
                        )
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The p99 end-to-end latency of each request type against the LLM share of the workload:
/// one line per policy and type (runs with an LLM ratio).
pub fn mixed_ratio_latency(runs: &[NamedRun<'_>]) -> ChartSpec {
    let mut series = Vec::new();
    for (name, rs) in ratio_groups(runs) {
        for kind in RequestKind::ALL {
            let points: Vec<Point> = rs
                .iter()
                .filter_map(|r| {
                    let e2e = r.run.by_kind.get(kind.as_str())?.e2e.as_ref()?;
                    Some(Point::new(
                        r.run.params.llm_ratio.unwrap_or(0.0) * 100.0,
                        e2e.p99_ms,
                    ))
                })
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{name} · {kind}"),
                    color: color(series.len()),
                    points,
                });
            }
        }
    }
    ChartSpec {
        id: "mixed-ratio-latency".into(),
        title: "E2E p99 by request type vs LLM share".into(),
        note: "99th percentile end-to-end latency of each request type's successful requests, at each share of LLM requests.".into(),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("LLM share of requests", "%"),
        y: Axis::new("E2E p99", "ms"),
        series,
    }
}

/// The median of some values (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Embedding batch efficiency: the median end-to-end latency per input of each run's
/// successful embedding requests, by the number of inputs in the request.
/// `inputs[i]` maps request ids of `runs[i]` to their number of inputs (the records do not
/// hold it; the workload does); a run without records or without an entry has no bars.
pub fn embedding_batch_efficiency(
    runs: &[NamedRun<'_>],
    inputs: &[BTreeMap<u64, u32>],
) -> ChartSpec {
    let per_run: Vec<BTreeMap<u32, Vec<f64>>> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut by: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
            let Some(map) = inputs.get(i) else {
                return by;
            };
            let records: &[RequestRecord] = r.run.records.as_deref().unwrap_or_default();
            for rec in records
                .iter()
                .filter(|rec| rec.kind == RequestKind::Embedding && rec.outcome.is_success())
            {
                if let Some(&n) = map.get(&rec.id).filter(|n| **n > 0) {
                    by.entry(n).or_default().push(rec.e2e_ms() / f64::from(n));
                }
            }
            by
        })
        .collect();
    let sizes: Vec<u32> = per_run
        .iter()
        .flat_map(|m| m.keys().copied())
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    ChartSpec {
        id: "embedding-batch".into(),
        title: "Embedding latency per input by batch size".into(),
        note: "Median end-to-end latency of successful embedding requests divided by their number of inputs; lower means the batch was served more efficiently.".into(),
        kind: ChartKind::Bars {
            categories: sizes.iter().map(|n| n.to_string()).collect(),
        },
        x: Axis::new("Inputs per request", ""),
        y: Axis::new("Median E2E per input", "ms"),
        series: runs
            .iter()
            .zip(per_run)
            .map(|(r, mut by)| Series {
                name: r.name(),
                color: color(r.index),
                points: sizes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        median(by.remove(n).unwrap_or_default()).map(|m| Point::new(i as f64, m))
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Measured requests of each type in each run.
pub fn request_types(runs: &[NamedRun<'_>]) -> ChartSpec {
    let keys = Breakdown::Kind.keys(runs);
    ChartSpec {
        id: "request-types".into(),
        title: "Requests by type".into(),
        note: "Measured requests of each type (successful and failed).".into(),
        kind: ChartKind::Bars {
            categories: keys.clone(),
        },
        x: Axis::new("", ""),
        y: Axis::new("Requests", ""),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name(),
                color: color(r.index),
                points: keys
                    .iter()
                    .enumerate()
                    .filter_map(|(i, k)| {
                        r.run
                            .by_kind
                            .get(k)
                            .map(|s| Point::new(i as f64, s.requests_total as f64))
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Whether the runs hold both LLM and embedding requests.
pub fn has_llm_and_embedding(runs: &[NamedRun<'_>]) -> bool {
    let kinds: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.run.by_kind.keys().map(String::as_str))
        .collect();
    kinds.contains("embedding") && kinds.iter().any(|k| *k != "embedding")
}

/// End-to-end latency p50 and p99 of each request type (LLM kinds and embeddings side by side).
pub fn llm_vs_embedding_latency(runs: &[NamedRun<'_>]) -> ChartSpec {
    let kinds = Breakdown::Kind.keys(runs);
    let categories: Vec<(String, &str, bool)> = kinds
        .iter()
        .flat_map(|k| {
            [
                (format!("{k} p50"), k.as_str(), false),
                (format!("{k} p99"), k.as_str(), true),
            ]
        })
        .collect();
    ChartSpec {
        id: "latency-by-type".into(),
        title: "LLM vs embedding latency".into(),
        note: "End-to-end latency p50 and p99 of each request type's successful requests.".into(),
        kind: ChartKind::Bars {
            categories: categories.iter().map(|c| c.0.clone()).collect(),
        },
        x: Axis::new("", ""),
        y: Axis::new("E2E", "ms"),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name(),
                color: color(r.index),
                points: categories
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (_, kind, p99))| {
                        let e = r.run.by_kind.get(*kind)?.e2e.as_ref()?;
                        Some(Point::new(i as f64, if *p99 { e.p99_ms } else { e.p50_ms }))
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Most queue fields one chart shows.
pub const MAX_QUEUE_KEYS: usize = 4;

/// The control-plane fields that hold a queue depth: those naming a queue (not a queue time or
/// a limit), else those naming waiting requests; at most [`MAX_QUEUE_KEYS`], sorted.
pub fn queue_keys(runs: &[NamedRun<'_>]) -> Vec<String> {
    let keys = control_plane_keys(runs);
    let lower = |k: &String| k.to_ascii_lowercase();
    let mut out: Vec<String> = keys
        .iter()
        .filter(|k| {
            let l = lower(k);
            l.contains("queue") && !l.contains("time") && !l.contains("max") && !l.contains("limit")
        })
        .cloned()
        .collect();
    if out.is_empty() {
        out = keys
            .iter()
            .filter(|k| {
                let l = lower(k);
                let last = l.rsplit('.').next().unwrap_or(&l);
                last == "waiting" || last.contains("num_requests_waiting")
            })
            .cloned()
            .collect();
    }
    out.truncate(MAX_QUEUE_KEYS);
    out
}

/// The control plane's queue depth over each run that has samples: one line per run and
/// queue field (see [`queue_keys`]).
pub fn queue_depth(runs: &[NamedRun<'_>]) -> ChartSpec {
    let keys = queue_keys(runs);
    let mut series = Vec::new();
    for r in runs
        .iter()
        .filter(|r| !r.run.control_plane.samples.is_empty())
    {
        for key in &keys {
            let points: Vec<Point> = r
                .run
                .control_plane
                .samples
                .iter()
                .filter_map(|s| {
                    numeric_leaves(&s.value)
                        .into_iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| Point::new(s.t_s, v))
                })
                .collect();
            series.push(Series {
                name: if keys.len() > 1 {
                    format!("{} · {key}", r.name())
                } else {
                    r.name()
                },
                color: color(series.len()),
                points,
            });
        }
    }
    ChartSpec {
        id: "control-plane-queue".into(),
        title: "Control-plane queue depth".into(),
        note: format!(
            "Requests waiting in the control plane's queues ({}), sampled from /admin/metrics during each run.",
            keys.join(", ")
        ),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new("Queued requests", ""),
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::compare::name_runs;
    use crate::chart::compare::tests::{report, run};
    use crate::report::{RunParams, TimedValue};

    #[test]
    fn histogram_counts_every_value_and_marks_percentiles() {
        let rep = report(vec![run("fifo", 40, 3, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let h = latency_histogram(&runs[0], LatencyMetric::E2e).unwrap();
        let total: f64 = h.spec.series[0].points.iter().map(|p| p.y).sum();
        assert_eq!(total, rep.runs[0].summary.e2e.unwrap().count as f64);
        let ChartKind::Histogram { bin_width } = h.spec.kind else {
            panic!("a histogram")
        };
        let n = h.spec.series[0].points.len();
        assert!(n <= HISTOGRAM_BINS + 1, "{n} bins");
        // Bins start on multiples of the width and never overlap.
        let xs: Vec<f64> = h.spec.series[0].points.iter().map(|p| p.x).collect();
        assert!(xs.windows(2).all(|w| w[1] - w[0] >= bin_width * 0.999));
        let e2e = rep.runs[0].summary.e2e.unwrap();
        assert_eq!(
            h.guides,
            vec![
                Guide::Vertical {
                    x: e2e.p50_ms,
                    label: format!("p50 {} ms", crate::chart::table::ms(Some(e2e.p50_ms))),
                    color: MARK_GREY
                },
                Guide::Vertical {
                    x: e2e.p95_ms,
                    label: format!("p95 {} ms", crate::chart::table::ms(Some(e2e.p95_ms))),
                    color: MARK_GREY
                },
                Guide::Vertical {
                    x: e2e.p99_ms,
                    label: format!("p99 {} ms", crate::chart::table::ms(Some(e2e.p99_ms))),
                    color: MARK_GREY
                },
            ]
        );
        // Every value lies inside the bins' span (buckets are placed by their highest
        // equivalent value, within the histogram's 0.1 %).
        assert!(
            xs[0] <= e2e.min_ms * 1.001 && xs[n - 1] + bin_width >= e2e.max_ms,
            "{xs:?} {bin_width} {e2e:?}"
        );
        // Queue time: every record has 1 ms; one bin.
        let q = latency_histogram(&runs[0], LatencyMetric::QueueTime).unwrap();
        assert_eq!(q.spec.series[0].points.len(), 1);
    }

    #[test]
    fn slo_and_type_breakdowns_carry_the_summary_numbers() {
        let rep = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("edf", 30, 9, RunParams::default()),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        let slo = slo_overall(&runs);
        assert_eq!(
            slo.series[1].points,
            vec![Point::new(0.0, rep.runs[1].summary.slo_compliance * 100.0)]
        );
        assert_eq!(
            slo_target_guide(0.9),
            Guide::Horizontal {
                y: 90.0,
                label: "SLO target 90%".into()
            }
        );
        assert!(has_llm_and_embedding(&runs));
        let t = request_types(&runs);
        assert_eq!(
            t.kind,
            ChartKind::Bars {
                categories: vec!["llm_chat".into(), "embedding".into()]
            }
        );
        let ys: Vec<f64> = t.series[0].points.iter().map(|p| p.y).collect();
        assert_eq!(ys, [24.0, 6.0]);
        let l = llm_vs_embedding_latency(&runs);
        let emb = rep.runs[1].by_kind["embedding"].e2e.unwrap();
        assert_eq!(l.series[1].points[3], Point::new(3.0, emb.p99_ms));
        assert_eq!(l.series[1].points[2], Point::new(2.0, emb.p50_ms));
    }

    #[test]
    fn mixed_ratio_groups_policies_and_sorts_by_share() {
        let p = |r: f64| RunParams {
            llm_ratio: Some(r),
            ..RunParams::default()
        };
        let rep = report(vec![
            run("fifo", 20, 1, p(1.0)),
            run("fifo", 20, 1, p(0.5)),
            run("hybrid", 20, 2, p(0.5)),
            run("hybrid", 20, 2, p(1.0)),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        assert!(has_ratios(&runs));
        let s = mixed_ratio_slo(&runs);
        assert_eq!(
            s.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["fifo", "hybrid"]
        );
        assert_eq!(
            s.series[0].points,
            vec![
                Point::new(50.0, rep.runs[1].summary.slo_compliance * 100.0),
                Point::new(100.0, rep.runs[0].summary.slo_compliance * 100.0)
            ]
        );
        let l = mixed_ratio_latency(&runs);
        assert_eq!(
            l.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            [
                "fifo · llm_chat",
                "fifo · embedding",
                "hybrid · llm_chat",
                "hybrid · embedding"
            ]
        );
        assert_eq!(
            l.series[1].points[0].y,
            rep.runs[1].by_kind["embedding"].e2e.unwrap().p99_ms
        );
        let plain = report(vec![run("fifo", 5, 1, RunParams::default())]);
        assert!(!has_ratios(&name_runs(&[("r", &plain)])));
    }

    /// [`run`] with its records kept.
    fn run_with_records(policy: &str, n: u64, slow: u64) -> crate::report::PolicyRun {
        let r = run(policy, n, slow, RunParams::default());
        let records: Vec<RequestRecord> = (0..n)
            .map(|id| {
                let intended_us = id * 200_000;
                let kind = if id % 5 == 4 {
                    RequestKind::Embedding
                } else {
                    RequestKind::LlmChat
                };
                RequestRecord {
                    first_token_us: Some(intended_us + 20_000),
                    end_us: intended_us + 300_000 + id * slow * 1000,
                    outcome: crate::record::Outcome::Success,
                    chunks: 1,
                    ..RequestRecord::new(
                        id,
                        kind,
                        crate::request::Priority::Normal,
                        "m",
                        1000,
                        10,
                        intended_us,
                    )
                }
            })
            .collect();
        crate::report::PolicyRun {
            records: Some(records),
            ..r
        }
    }

    #[test]
    fn embedding_batches_use_the_given_input_counts() {
        let rep = report(vec![
            run_with_records("fifo", 30, 1),
            run_with_records("edf", 30, 2),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        // Embeddings are ids 4, 9, 14, 19, 24, 29; give them 1 or 8 inputs.
        let inputs: BTreeMap<u64, u32> = (0..30)
            .filter(|id| id % 5 == 4)
            .map(|id| (id, if id < 15 { 1 } else { 8 }))
            .collect();
        let c = embedding_batch_efficiency(&runs, &[inputs]);
        assert_eq!(
            c.kind,
            ChartKind::Bars {
                categories: vec!["1".into(), "8".into()]
            }
        );
        let recs = rep.runs[0].records.as_ref().unwrap();
        let e2e = |id: u64| recs.iter().find(|r| r.id == id).unwrap().e2e_ms();
        assert_eq!(c.series[0].points[0], Point::new(0.0, e2e(9)));
        // Ids 19, 24 and 29 have 8 inputs: the middle one.
        assert_eq!(c.series[0].points[1], Point::new(1.0, e2e(24) / 8.0));
        assert!(c.series[1].points.is_empty(), "no input counts for run 2");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn queue_depth_prefers_queue_fields() {
        let mut a = run("fifo", 10, 1, RunParams::default());
        for t in 0..3 {
            a.control_plane.samples.push(TimedValue {
                t_s: f64::from(t),
                value: serde_json::json!({"queues": {"llm": t, "embedding": 1}, "queue_time_ms": 3, "max_queue": 9, "instances": [{"waiting": 2}]}),
            });
        }
        let rep = report(vec![a, run("prio", 10, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        assert_eq!(queue_keys(&runs), ["queues.embedding", "queues.llm"]);
        let q = queue_depth(&runs);
        assert_eq!(q.series.len(), 2, "runs without samples are left out");
        assert_eq!(q.series[1].name, "fifo · queues.llm");
        assert_eq!(q.series[1].points[2], Point::new(2.0, 2.0));

        let mut b = run("fifo", 10, 1, RunParams::default());
        b.control_plane.samples.push(TimedValue {
            t_s: 0.0,
            value: serde_json::json!({"instances": [{"waiting": 2}], "num_requests_waiting": 4}),
        });
        let rep = report(vec![b]);
        assert_eq!(
            queue_keys(&name_runs(&[("r", &rep)])),
            ["instances[0].waiting", "num_requests_waiting"]
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn svg(chart: &GuidedChart) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
            draw_guided(&root, chart, &DrawOptions::default()).unwrap();
            root.present().unwrap();
        }
        out
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn guides_are_drawn_where_they_belong() {
        let rep = report(vec![run("fifo", 30, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let h = latency_histogram(&runs[0], LatencyMetric::E2e).unwrap();
        let out = svg(&h);
        for p in ["p50 ", "p95 ", "p99 "] {
            assert!(out.contains(p), "{p} label drawn");
        }
        // A target above every bar is named, not drawn off the chart.
        let mut slo = GuidedChart::plain(slo_overall(&runs)).with(slo_target_guide(0.9));
        slo.spec.series[0].points[0].y = 40.0;
        assert!(svg(&slo).contains("SLO target 90% (above the plotted range)"));
        slo.spec.series[0].points[0].y = 95.0;
        let out = svg(&slo);
        assert!(out.contains("SLO target 90%") && !out.contains("above the plotted"));

        let mut sweep = GuidedChart::plain(ChartSpec {
            id: "s".into(),
            title: "T".into(),
            note: String::new(),
            kind: ChartKind::Lines { markers: true },
            x: Axis::new("Offered", "req/s"),
            y: Axis::new("Achieved", "req/s"),
            series: vec![Series {
                name: "fifo".into(),
                color: color(0),
                points: vec![Point::new(10.0, 9.5), Point::new(40.0, 30.0)],
            }],
        });
        sweep = sweep.with(Guide::Identity {
            label: "offered = achieved".into(),
        });
        assert!(svg(&sweep).contains("offered = achieved"));
        assert_eq!(dashes((0.0, 0.0), (20.0, 0.0), 1.0).len(), 2);
        assert!(dashes((0.0, 0.0), (0.2, 0.0), 1.0).is_empty());
    }
}
