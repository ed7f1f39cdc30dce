//! Drawing a [`ChartSpec`] with plotters, on any backend.
//!
//! The same functions draw on the viewer's `<canvas>` (plotters-canvas) and, natively, to SVG
//! or PNG. [`draw()`] draws a spec; [`draw_guided`] draws a [`GuidedChart`]: the spec, its
//! reference lines over it ([`draw_guides`]) and a legend panel beside it ([`draw_legend`]).
//! Ticks of log axes and the category names of bar charts are placed here rather than by
//! plotters' automatic key points, so they sit exactly on decades and bar groups.

mod guides;
mod legend;

pub use guides::draw_guides;
pub use legend::{draw_legend, legend_width, wants_legend};

use super::guide::GuidedChart;
use super::{ChartKind, ChartSpec, Geometry, Rgb, Scale, bar_span, format_number};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How to draw a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawOptions {
    /// `hidden[i]` true leaves series `i` out (missing entries are drawn); the axes fit the
    /// series that are drawn.
    pub hidden: Vec<bool>,
    /// Draw the spec's title above the chart (off when the page shows it).
    pub title: bool,
    /// Draw a legend inside the chart (off when the page has its own).
    pub legend: bool,
    /// Device pixels per layout pixel: fonts, lines and margins are multiplied by it.
    pub scale: f64,
    /// The font family of every text.
    pub font_family: String,
}

impl Default for DrawOptions {
    fn default() -> Self {
        Self {
            hidden: Vec::new(),
            title: true,
            legend: true,
            scale: 1.0,
            font_family: "sans-serif".into(),
        }
    }
}

impl DrawOptions {
    fn visible(&self, i: usize) -> bool {
        !self.hidden.get(i).copied().unwrap_or(false)
    }

    /// [`scale`](Self::scale), or 1 where it is not a positive number.
    fn scale_factor(&self) -> f64 {
        if self.scale.is_finite() && self.scale > 0.0 {
            self.scale
        } else {
            1.0
        }
    }
}

const AXIS_GREY: RGBColor = RGBColor(0x55, 0x5b, 0x66);
const GRID_GREY: RGBColor = RGBColor(0xe3, 0xe6, 0xea);

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// The drawn range of one axis, in axis positions (log10 on a log axis).
fn fit(values: impl Iterator<Item = f64>, scale: Scale, from_zero: bool, pad: f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter_map(|v| Geometry::axis_pos(scale, v)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return match scale {
            Scale::Linear => (0.0, 1.0),
            Scale::Log10 => (0.0, 1.0),
        };
    }
    if from_zero && scale == Scale::Linear {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        return match scale {
            Scale::Linear if from_zero && hi == 0.0 => (0.0, 1.0),
            Scale::Linear if from_zero => (lo.min(0.0), hi * (1.0 + pad)),
            Scale::Linear => (lo - 0.5, hi + 0.5),
            Scale::Log10 => (lo - 0.5, hi + 0.5),
        };
    }
    let span = hi - lo;
    match scale {
        Scale::Linear if from_zero => (lo, hi + span * pad),
        Scale::Linear => (lo, hi),
        // Whole decades look odd when the data spans less than one; pad a little instead.
        Scale::Log10 => (lo - span * 0.02, hi + span * 0.02),
    }
}

/// Tick values for a log axis spanning `lo..=hi` (log10 units): the coarsest of decades,
/// 1-2-5, 1..9 and finer steps that gives 3 to 8 ticks (decades alone when even they are
/// more than 8).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let ticks = |mults: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        let first = lo.floor() as i32;
        let last = hi.ceil() as i32;
        for e in first..=last {
            for m in mults {
                let v = m * libm::pow(10.0, f64::from(e));
                let p = libm::log10(v);
                if p >= lo - 1e-9 && p <= hi + 1e-9 {
                    out.push(v);
                }
            }
        }
        out
    };
    const SETS: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    let decades = ticks(SETS[0]);
    if decades.len() > 8 {
        return decades;
    }
    let mut best = decades;
    for set in SETS {
        let t = ticks(set);
        if (3..=8).contains(&t.len()) {
            return t;
        }
        if t.len() <= 8 && t.len() > best.len() {
            best = t;
        }
    }
    best
}

/// Draws `spec` on `root` (filled white first) and returns where its data went. The caller
/// presents the area (`root.present()`) when its backend needs it.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    opts: &DrawOptions,
) -> Result<Geometry, DrawingAreaErrorKind<DB::ErrorType>> {
    let s = opts.scale_factor();
    let px = |v: f64| (v * s).round().max(1.0) as u32;
    let font = opts.font_family.as_str();
    root.fill(&WHITE)?;

    let visible: Vec<usize> = (0..spec.series.len())
        .filter(|&i| opts.visible(i))
        .collect();
    let points = || {
        visible
            .iter()
            .flat_map(|&i| spec.series[i].points.iter())
            .filter(|p| p.x.is_finite() && p.y.is_finite())
    };
    let (x_min, x_max) = match &spec.kind {
        ChartKind::Bars { categories } => (-0.5, categories.len().max(1) as f64 - 0.5),
        ChartKind::Histogram { bin_width } => fit(
            points().flat_map(|p| [p.x, p.x + bin_width]),
            Scale::Linear,
            false,
            0.0,
        ),
        ChartKind::Lines { .. } => fit(points().map(|p| p.x), spec.x.scale, false, 0.0),
    };
    let bars = !matches!(spec.kind, ChartKind::Lines { .. });
    let (y_min, y_max) = fit(
        points()
            .flat_map(|p| {
                let [lo, hi] = p.range.unwrap_or([p.y, p.y]);
                [p.y, lo, hi]
            })
            .filter(|v| v.is_finite()),
        spec.y.scale,
        bars || spec.y.scale == Scale::Linear,
        0.08,
    );

    let label_font = (font, 12.0 * s).into_font().color(&AXIS_GREY);
    let desc_font = (font, 13.0 * s).into_font().color(&AXIS_GREY);
    let x_title = match &spec.kind {
        ChartKind::Bars { .. } if spec.x.label.is_empty() => String::new(),
        _ => spec.x.title(),
    };
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(px(12.0))
        .margin_right(px(20.0))
        .x_label_area_size(px(if x_title.is_empty() { 26.0 } else { 44.0 }))
        .y_label_area_size(px(64.0));
    if opts.title {
        builder.caption(&spec.title, (font, 16.0 * s).into_font());
    }
    let mut chart = builder.build_cartesian_2d(x_min..x_max, y_min..y_max)?;

    let x_custom = matches!(spec.kind, ChartKind::Bars { .. }) || spec.x.scale == Scale::Log10;
    let y_log = spec.y.scale == Scale::Log10;
    let x_fmt = |v: &f64| format_number(*v);
    let y_fmt = |v: &f64| format_number(*v);
    {
        let mut mesh = chart.configure_mesh();
        mesh.label_style(label_font.clone())
            .axis_desc_style(desc_font)
            .axis_style(AXIS_GREY)
            .bold_line_style(GRID_GREY)
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .y_labels(if y_log { 0 } else { 6 })
            .x_labels(if x_custom { 0 } else { 7 })
            .x_desc(x_title)
            .y_desc(spec.y.title());
        if x_custom {
            mesh.disable_x_mesh();
        }
        if y_log {
            mesh.disable_y_mesh();
        }
        mesh.draw()?;
    }

    let base = root.get_base_pixel();
    let to_root = |c: (i32, i32)| (c.0 - base.0, c.1 - base.1);
    let grid = ShapeStyle::from(&GRID_GREY).stroke_width(px(1.0));
    let tick_font = label_font.clone();

    // Log axes: grid lines and labels on 1-2-5 values.
    if spec.x.scale == Scale::Log10 && !matches!(spec.kind, ChartKind::Bars { .. }) {
        for v in log_ticks(x_min, x_max) {
            let p = libm::log10(v);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(p, y_min), (p, y_max)],
                grid,
            )))?;
            let (cx, cy) = to_root(chart.backend_coord(&(p, y_min)));
            root.draw(&Text::new(
                format_number(v),
                (cx, cy + px(6.0) as i32),
                tick_font.clone().pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
    }
    if y_log {
        for v in log_ticks(y_min, y_max) {
            let p = libm::log10(v);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x_min, p), (x_max, p)],
                grid,
            )))?;
            let (cx, cy) = to_root(chart.backend_coord(&(x_min, p)));
            root.draw(&Text::new(
                format_number(v),
                (cx - px(6.0) as i32, cy),
                tick_font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
    }
    // Category names under each bar group, shortened to the group's width.
    if let ChartKind::Bars { categories } = &spec.kind {
        let (l, _) = to_root(chart.backend_coord(&(x_min, y_min)));
        let (r, _) = to_root(chart.backend_coord(&(x_max, y_min)));
        let group_px = f64::from(r - l) / categories.len().max(1) as f64;
        let max_chars = ((group_px / (6.5 * s)).floor() as usize).max(3);
        for (i, name) in categories.iter().enumerate() {
            let (cx, cy) = to_root(chart.backend_coord(&(i as f64, y_min)));
            root.draw(&Text::new(
                shorten(name, max_chars),
                (cx, cy + px(6.0) as i32),
                tick_font.clone().pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
    }

    let line_width = px(2.0);
    match &spec.kind {
        ChartKind::Bars { categories } => {
            for (slot, &i) in visible.iter().enumerate() {
                let series = &spec.series[i];
                let color = rgb(series.color);
                let bars = series
                    .points
                    .iter()
                    .filter(|p| {
                        p.y.is_finite() && p.x >= 0.0 && (p.x.round() as usize) < categories.len()
                    })
                    .map(|p| {
                        let (a, b) = bar_span(p.x.round() as usize, slot, visible.len());
                        let inset = (b - a) * 0.06;
                        Rectangle::new(
                            [(a + inset, 0.0_f64.max(y_min)), (b - inset, p.y)],
                            color.filled(),
                        )
                    });
                let anno = chart.draw_series(bars)?;
                if opts.legend {
                    anno.label(series.name.clone()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                }
                // Whiskers: the interval around each bar, in dark grey over the bar.
                let whisker = AXIS_GREY.stroke_width(px(1.5));
                let whiskers = series
                    .points
                    .iter()
                    .filter(|p| p.x >= 0.0 && (p.x.round() as usize) < categories.len())
                    .filter_map(|p| {
                        let [lo, hi] = p.range?;
                        (lo.is_finite() && hi.is_finite()).then_some((p.x, lo, hi))
                    })
                    .flat_map(|(x, lo, hi)| {
                        let (a, b) = bar_span(x.round() as usize, slot, visible.len());
                        let mid = (a + b) / 2.0;
                        let cap = (b - a) * 0.18;
                        let lo = lo.max(y_min);
                        [
                            PathElement::new(vec![(mid, lo), (mid, hi)], whisker),
                            PathElement::new(vec![(mid - cap, lo), (mid + cap, lo)], whisker),
                            PathElement::new(vec![(mid - cap, hi), (mid + cap, hi)], whisker),
                        ]
                    });
                chart.draw_series(whiskers)?;
            }
        }
        ChartKind::Histogram { bin_width } => {
            let overlap = visible.len() > 1;
            for &i in &visible {
                let series = &spec.series[i];
                let color = rgb(series.color);
                let fill = if overlap {
                    color.mix(0.55).filled()
                } else {
                    color.filled()
                };
                let w = *bin_width;
                let anno = chart.draw_series(
                    series
                        .points
                        .iter()
                        .filter(|p| p.y.is_finite())
                        .map(move |p| Rectangle::new([(p.x, 0.0), (p.x + w, p.y)], fill)),
                )?;
                if opts.legend {
                    anno.label(series.name.clone()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                }
            }
        }
        ChartKind::Lines { markers } => {
            for &i in &visible {
                let series = &spec.series[i];
                let color = rgb(series.color);
                let coords: Vec<(f64, f64)> = series
                    .points
                    .iter()
                    .filter_map(|p| {
                        Some((
                            Geometry::axis_pos(spec.x.scale, p.x)?,
                            Geometry::axis_pos(spec.y.scale, p.y)?,
                        ))
                    })
                    .collect();
                let style = color.stroke_width(line_width);
                let anno =
                    chart.draw_series(std::iter::once(PathElement::new(coords.clone(), style)))?;
                if opts.legend {
                    anno.label(series.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                    });
                }
                if *markers || coords.len() == 1 {
                    let r = px(3.5);
                    chart.draw_series(coords.iter().map(|&c| Circle::new(c, r, color.filled())))?;
                }
            }
        }
    }

    if !points().any(|_| true) {
        let (w, h) = root.dim_in_pixel();
        let message = if spec.has_data() {
            "All series hidden"
        } else {
            "No data"
        };
        root.draw(&Text::new(
            message,
            ((w / 2) as i32, (h / 2) as i32),
            (font, 15.0 * s)
                .into_font()
                .color(&AXIS_GREY)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    } else if opts.legend && !visible.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((font, 12.0 * s).into_font())
            .background_style(WHITE.mix(0.85))
            .border_style(GRID_GREY)
            .draw()?;
    }

    let (left, bottom) = to_root(chart.backend_coord(&(x_min, y_min)));
    let (right, top) = to_root(chart.backend_coord(&(x_max, y_max)));
    Ok(Geometry {
        left_px: f64::from(left),
        right_px: f64::from(right),
        top_px: f64::from(top),
        bottom_px: f64::from(bottom),
        x_min,
        x_max,
        y_min,
        y_max,
        x_scale: if matches!(spec.kind, ChartKind::Lines { .. }) {
            spec.x.scale
        } else {
            Scale::Linear
        },
        y_scale: spec.y.scale,
    })
}

/// Draws a whole chart on `root`: the spec (see [`draw()`]) with its guides over it and,
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
    let g = draw(&plot, &chart.spec, &inner)?;
    draw_guides(&plot, &g, &chart.guides, opts)?;
    if panel_px > 0 {
        draw_legend(&panel, &chart.spec, opts, g.top_px)?;
    }
    Ok(g)
}

/// `text` cut to `max_chars` characters, with an ellipsis when cut.
fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::chart::{Axis, Point, Series, color, hit_test};

    fn spec(kind: ChartKind) -> ChartSpec {
        ChartSpec {
            id: "latency".into(),
            title: "TTFT percentiles".into(),
            note: String::new(),
            kind,
            x: Axis::new("", ""),
            y: Axis::new("TTFT", "ms"),
            series: vec![
                Series {
                    name: "fifo".into(),
                    color: color(0),
                    points: vec![Point::new(0.0, 40.0), Point::new(1.0, 120.0)],
                },
                Series {
                    name: "priority<b>".into(),
                    color: color(1),
                    points: vec![Point::new(0.0, 30.0), Point::new(1.0, 300.0)],
                },
            ],
        }
    }

    fn svg(spec: &ChartSpec, opts: &DrawOptions) -> (String, Geometry) {
        let mut out = String::new();
        let geometry = {
            let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
            let g = draw(&root, spec, opts).unwrap();
            root.present().unwrap();
            g
        };
        (out, geometry)
    }

    #[test]
    fn bars_draw_every_visible_series_and_the_geometry_finds_them() {
        let spec = spec(ChartKind::Bars {
            categories: vec!["p50".into(), "p99".into()],
        });
        let (out, g) = svg(&spec, &DrawOptions::default());
        assert!(out.contains("TTFT percentiles"), "title drawn");
        assert!(out.contains("p99") && out.contains("TTFT (ms)"));
        // Series names are escaped by the SVG backend, never markup.
        assert!(out.contains("priority&lt;b&gt;") && !out.contains("priority<b>"));
        assert!(out.contains(&color(1).hex().to_uppercase()) || out.contains(&color(1).hex()));
        // y axis from 0 to 300 plus 8 %.
        assert_eq!((g.y_min, g.y_max), (0.0, 324.0));
        assert_eq!((g.x_min, g.x_max), (-0.5, 1.5));
        assert!(g.left_px < g.right_px && g.top_px < g.bottom_px);
        // The pixel in the middle of priority's p99 bar hits it.
        let (a, b) = bar_span(1, 1, 2);
        let hit = hit_test(
            &spec,
            &g,
            &[],
            g.x_pixel((a + b) / 2.0),
            g.y_pixel(150.0),
            1.0,
        )
        .unwrap();
        assert_eq!(spec.describe(hit).unwrap().y, "300 ms");
    }

    #[test]
    fn hiding_a_series_refits_the_axes() {
        let spec = spec(ChartKind::Lines { markers: true });
        let (all, g_all) = svg(&spec, &DrawOptions::default());
        let opts = DrawOptions {
            hidden: vec![false, true],
            ..DrawOptions::default()
        };
        let (one, g_one) = svg(&spec, &opts);
        assert_ne!(all, one);
        // Lines start from 0 and get 8 % headroom above the highest visible point.
        assert!((g_all.y_max - 324.0).abs() < 1e-9, "{}", g_all.y_max);
        assert!((g_one.y_max - 129.6).abs() < 1e-9, "{}", g_one.y_max);
        let none = DrawOptions {
            hidden: vec![true, true],
            ..DrawOptions::default()
        };
        assert!(svg(&spec, &none).0.contains("All series hidden"));
    }

    #[test]
    fn log_axes_get_decade_ticks_and_empty_specs_say_so() {
        let mut cdf = spec(ChartKind::Lines { markers: false });
        cdf.x = Axis::new("TTFT", "ms").log();
        cdf.series[0].points = vec![Point::new(2.0, 0.1), Point::new(900.0, 1.0)];
        cdf.series[1].points = vec![Point::new(5.0, 0.5), Point::new(0.0, 0.7)];
        let (out, g) = svg(&cdf, &DrawOptions::default());
        assert!(
            out.contains(">\n10\n<") && out.contains(">\n100\n<"),
            "decade labels"
        );
        assert!(g.x_min < libm::log10(2.0) && g.x_max > libm::log10(900.0));
        assert_eq!(log_ticks(0.0, 3.0), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(0.0, 1.0), vec![1.0, 2.0, 5.0, 10.0]);
        assert_eq!(log_ticks(2.0, 2.3), vec![100.0, 120.0, 150.0]);
        assert_eq!(log_ticks(0.0, 12.0).len(), 13);

        let mut empty = cdf.clone();
        for s in &mut empty.series {
            s.points.clear();
        }
        let (out, g) = svg(&empty, &DrawOptions::default());
        assert!(out.contains("No data"));
        assert_eq!((g.y_min, g.y_max), (0.0, 1.0));
    }

    #[test]
    fn histograms_span_their_bins() {
        let mut h = spec(ChartKind::Histogram { bin_width: 10.0 });
        h.series.truncate(1);
        h.series[0].points = vec![
            Point::new(0.0, 3.0),
            Point::new(10.0, 5.0),
            Point::new(20.0, 1.0),
        ];
        let (_, g) = svg(&h, &DrawOptions::default());
        assert_eq!((g.x_min, g.x_max), (0.0, 30.0));
        assert_eq!(g.y_min, 0.0);
    }

    #[test]
    fn shorten_adds_an_ellipsis() {
        assert_eq!(shorten("slo_aware", 20), "slo_aware");
        assert_eq!(shorten("cost_optimized", 5), "cost…");
    }
}
