//! Chart definitions shared by the browser viewer and the native exports.
//!
//! A chart is described by a [`ChartSpec`]: its title, its axes (label, unit, scale), its kind
//! (grouped bars over categories, lines over a numeric axis, or a histogram) and its data
//! series, each with a name and a colour. A [`guide::GuidedChart`] adds reference lines drawn
//! over the data ([`guide::Guide`]: an SLO target, a percentile).
//!
//! Specs from result files take the runs to show as [`runs::NamedRun`]s (see
//! [`runs::name_runs`]), so a run has the same name and colour in every chart, and what to
//! show of them as the choices in [`metric`]. The builders are grouped by subject:
//! [`compare`] (throughput, latency percentiles, results by group, sweeps, per-second series,
//! GPU readings), [`distribution`] (CDFs and per-run histograms), [`request_mix`] (LLM and
//! embedding requests, mixed ratios, embedding batches) and [`control_plane`] (the control
//! plane's sampled metrics and queue depth); [`workload`] makes specs from a generated
//! workload, and [`table`] holds the summary table's rows and columns.
//!
//! [`draw::draw`] draws any spec with plotters on any
//! [`DrawingBackend`](plotters::prelude::DrawingBackend) (an HTML canvas in the viewer, SVG or
//! PNG natively), [`draw::draw_guided`] a spec with its guides and legend, and both return the
//! [`Geometry`] of the plotting area, which [`hit_test`] uses to find the data point under a
//! pointer, so a tooltip shows the exact value from the spec.
//!
//! Nothing here reads files or clocks; every value shown comes from the spec's data.

pub mod attribution;
pub mod compare;
pub mod control_plane;
pub mod distribution;
pub mod draw;
pub mod guide;
pub mod intervals;
pub mod metric;
pub mod request_mix;
pub mod runs;
pub mod table;
pub mod values;
pub mod verdicts;
pub mod workload;

#[cfg(test)]
mod fixtures;

pub use draw::{DrawOptions, draw};

use serde::{Deserialize, Serialize};

use std::fmt;

/// A colour, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// CSS hex notation, `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Series colours, in the order series get them: the Okabe–Ito and Tableau hues, which stay
/// distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [Rgb; 10] = [
    Rgb(0x1f, 0x77, 0xb4), // blue
    Rgb(0xe6, 0x7e, 0x22), // orange
    Rgb(0x2c, 0xa0, 0x2c), // green
    Rgb(0xd6, 0x27, 0x28), // red
    Rgb(0x94, 0x67, 0xbd), // purple
    Rgb(0x8c, 0x56, 0x4b), // brown
    Rgb(0xe3, 0x77, 0xc2), // pink
    Rgb(0x7f, 0x7f, 0x7f), // grey
    Rgb(0xbc, 0xbd, 0x22), // olive
    Rgb(0x17, 0xbe, 0xcf), // cyan
];

/// The colour of the `i`-th series (the palette, repeated).
pub fn color(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Scale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Evenly spaced powers of ten; values at or below 0 are not drawn.
    Log10,
}

/// One axis: what it shows and in which unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Axis {
    /// What the axis shows (`Time to first token`).
    pub label: String,
    /// The unit of its values (`ms`, `req/s`, `%`); empty for counts and categories.
    pub unit: String,
    /// How values map to positions.
    pub scale: Scale,
}

impl Axis {
    /// A linear axis.
    pub fn new(label: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            unit: unit.into(),
            scale: Scale::Linear,
        }
    }

    /// The same axis with a log10 scale.
    pub fn log(mut self) -> Self {
        self.scale = Scale::Log10;
        self
    }

    /// The axis title: `label (unit)`, or the label alone without a unit.
    pub fn title(&self) -> String {
        if self.unit.is_empty() {
            self.label.clone()
        } else {
            format!("{} ({})", self.label, self.unit)
        }
    }

    /// A value with its unit, for tooltips (`12.345 ms`, `97.5%`, `42`).
    pub fn format_value(&self, v: f64) -> String {
        let n = format_number(v);
        match self.unit.as_str() {
            "" => n,
            "%" => format!("{n}%"),
            unit => format!("{n} {unit}"),
        }
    }
}

/// A number rounded to at most 4 decimals, written in its shortest form (`12.5`, `0.0031`,
/// `1200`); `-` for NaN and infinities.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let rounded = (v * 10_000.0).round() / 10_000.0;
    // `-0` reads oddly in a tooltip.
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    format!("{rounded}")
}

/// What a chart draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChartKind {
    /// Grouped bars: one group per category (the x axis), one bar per series in each group.
    /// A point's `x` is its category's index; a series without a point for a category has no
    /// bar there.
    Bars {
        /// The category names, left to right.
        categories: Vec<String>,
    },
    /// Lines through each series' points, in the order given (sorted by `x` by the builders).
    Lines {
        /// Whether to mark each point with a dot (for sparse series such as sweeps).
        markers: bool,
    },
    /// Adjacent bars: a point `(x, y)` is a bin from `x` to `x + bin_width` holding `y`.
    Histogram {
        /// Width of every bin, in x units.
        bin_width: f64,
    },
}

/// One point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Position on the x axis (a category index for bars).
    pub x: f64,
    /// Value on the y axis.
    pub y: f64,
    /// An interval around `y` (`[low, high]`, e.g. a 95 % confidence interval over trials),
    /// drawn as a whisker on bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
}

impl Point {
    /// The point `(x, y)`.
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y, range: None }
    }

    /// The point `(x, y)` with an interval `[low, high]` around `y`.
    pub fn with_range(x: f64, y: f64, low: f64, high: f64) -> Self {
        Self {
            x,
            y,
            range: Some([low, high]),
        }
    }
}

/// One named data series of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The name shown in the legend and tooltips.
    pub name: String,
    /// The series' colour.
    pub color: Rgb,
    /// Its points (see [`ChartKind`] for what `x` means).
    pub points: Vec<Point>,
}

/// A complete chart: title, axes, kind and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartSpec {
    /// A stable identifier (`throughput`, `cdf-ttft`), usable as an element id or file name.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// A one-line explanation of what is shown (definitions, data source).
    pub note: String,
    /// What is drawn.
    pub kind: ChartKind,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The data series.
    pub series: Vec<Series>,
}

impl ChartSpec {
    /// Whether any series has a point to draw.
    pub fn has_data(&self) -> bool {
        self.series.iter().any(|s| !s.points.is_empty())
    }

    /// The x position of a point as text: the category name for bars, the bin range for
    /// histograms, the value with its unit otherwise.
    pub fn format_x(&self, x: f64) -> String {
        match &self.kind {
            ChartKind::Bars { categories } => {
                let i = x.round();
                if i >= 0.0 && (i as usize) < categories.len() {
                    categories[i as usize].clone()
                } else {
                    format_number(x)
                }
            }
            ChartKind::Histogram { bin_width } => {
                let end = Axis {
                    label: String::new(),
                    ..self.x.clone()
                }
                .format_value(x + bin_width);
                format!("{} to {end}", format_number(x))
            }
            ChartKind::Lines { .. } => self.x.format_value(x),
        }
    }

    /// What a tooltip shows for a point.
    pub fn describe(&self, hit: Hit) -> Option<Tooltip> {
        let series = self.series.get(hit.series)?;
        let p = series.points.get(hit.point)?;
        Some(Tooltip {
            series: series.name.clone(),
            color: series.color,
            x: self.format_x(p.x),
            y: self.y.format_value(p.y),
            x_value: p.x,
            y_value: p.y,
        })
    }
}

/// A data point of a spec: the index of its series and of the point in the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`ChartSpec::series`].
    pub series: usize,
    /// Index into that series' points.
    pub point: usize,
}

/// What a tooltip shows for one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Tooltip {
    /// The series' name.
    pub series: String,
    /// The series' colour.
    pub color: Rgb,
    /// The x position as text (category, bin or value with unit).
    pub x: String,
    /// The value with its unit.
    pub y: String,
    /// The raw x value.
    pub x_value: f64,
    /// The raw y value.
    pub y_value: f64,
}

impl fmt::Display for Tooltip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.series, self.y, self.x)
    }
}

/// Where a drawn chart put its data: the plotting area in backend pixels and the data range it
/// spans. Positions on a log axis are in log10 units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Pixel column of `x_min`.
    pub left_px: f64,
    /// Pixel column of `x_max`.
    pub right_px: f64,
    /// Pixel row of `y_max`.
    pub top_px: f64,
    /// Pixel row of `y_min`.
    pub bottom_px: f64,
    /// Smallest x shown (log10 of it on a log axis).
    pub x_min: f64,
    /// Largest x shown.
    pub x_max: f64,
    /// Smallest y shown.
    pub y_min: f64,
    /// Largest y shown.
    pub y_max: f64,
    /// The x scale.
    pub x_scale: Scale,
    /// The y scale.
    pub y_scale: Scale,
}

impl Geometry {
    /// A data value's position on an axis of this scale (log10 on a log axis; `None` for a
    /// value a log axis cannot show).
    pub fn axis_pos(scale: Scale, v: f64) -> Option<f64> {
        match scale {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log10 => (v > 0.0 && v.is_finite()).then(|| libm::log10(v)),
        }
    }

    /// The pixel of a data point; `None` when a log axis cannot show it.
    pub fn to_pixel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let x = Self::axis_pos(self.x_scale, x)?;
        let y = Self::axis_pos(self.y_scale, y)?;
        Some((self.x_pixel(x), self.y_pixel(y)))
    }

    /// The pixel column of an axis position.
    pub fn x_pixel(&self, x: f64) -> f64 {
        lerp(x, self.x_min, self.x_max, self.left_px, self.right_px)
    }

    /// The pixel row of an axis position.
    pub fn y_pixel(&self, y: f64) -> f64 {
        lerp(y, self.y_min, self.y_max, self.bottom_px, self.top_px)
    }

    /// The axis position (log10 units on a log axis) under a pixel column.
    pub fn x_at(&self, px: f64) -> f64 {
        lerp(px, self.left_px, self.right_px, self.x_min, self.x_max)
    }

    /// The axis position under a pixel row.
    pub fn y_at(&self, py: f64) -> f64 {
        lerp(py, self.bottom_px, self.top_px, self.y_min, self.y_max)
    }

    /// Whether a pixel is inside the plotting area.
    pub fn contains(&self, px: f64, py: f64) -> bool {
        let (l, r) = (
            self.left_px.min(self.right_px),
            self.left_px.max(self.right_px),
        );
        let (t, b) = (
            self.top_px.min(self.bottom_px),
            self.top_px.max(self.bottom_px),
        );
        px >= l && px <= r && py >= t && py <= b
    }
}

fn lerp(v: f64, a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    if a1 == a0 {
        return (b0 + b1) / 2.0;
    }
    b0 + (v - a0) / (a1 - a0) * (b1 - b0)
}

/// Width of a group of bars, in category units (the rest is the gap between groups).
pub const BAR_GROUP_WIDTH: f64 = 0.8;

/// Where the bar of visible series number `slot` (of `slots`) in category `category` starts
/// and ends, in category units.
pub fn bar_span(category: usize, slot: usize, slots: usize) -> (f64, f64) {
    let w = BAR_GROUP_WIDTH / slots.max(1) as f64;
    let start = category as f64 - BAR_GROUP_WIDTH / 2.0 + slot as f64 * w;
    (start, start + w)
}

/// How far from a line chart's point, in pixels, a pointer still picks it.
pub const HIT_RADIUS_PX: f64 = 24.0;

/// The data point under the pixel `(px, py)` of a chart drawn with `geometry`, among the
/// series not `hidden` (`hidden[i]` true hides series `i`; missing entries are visible):
/// for bars, the bar whose column holds the pixel; for histograms, the bin under it (the
/// first visible series that has one); for lines, the nearest point within
/// [`HIT_RADIUS_PX`] (`radius_scale` times it, for high-density screens).
pub fn hit_test(
    spec: &ChartSpec,
    geometry: &Geometry,
    hidden: &[bool],
    px: f64,
    py: f64,
    radius_scale: f64,
) -> Option<Hit> {
    if !geometry.contains(px, py) {
        return None;
    }
    let visible: Vec<usize> = (0..spec.series.len())
        .filter(|&i| !hidden.get(i).copied().unwrap_or(false))
        .collect();
    match &spec.kind {
        ChartKind::Bars { categories } => {
            let x = geometry.x_at(px);
            let category = x.round();
            if category < 0.0 || category as usize >= categories.len() {
                return None;
            }
            let category = category as usize;
            (0..visible.len()).find_map(|slot| {
                let (a, b) = bar_span(category, slot, visible.len());
                if x < a || x > b {
                    return None;
                }
                let series = visible[slot];
                let point = spec.series[series]
                    .points
                    .iter()
                    .position(|p| p.x.round() as usize == category && p.y.is_finite())?;
                Some(Hit { series, point })
            })
        }
        ChartKind::Histogram { bin_width } => {
            let x = geometry.x_at(px);
            visible.iter().find_map(|&series| {
                let point = spec.series[series]
                    .points
                    .iter()
                    .position(|p| x >= p.x && x < p.x + bin_width)?;
                Some(Hit { series, point })
            })
        }
        ChartKind::Lines { .. } => {
            let radius = HIT_RADIUS_PX * radius_scale.max(0.0);
            let mut best: Option<(f64, Hit)> = None;
            for &series in &visible {
                for (point, p) in spec.series[series].points.iter().enumerate() {
                    let Some((x, y)) = geometry.to_pixel(p.x, p.y) else {
                        continue;
                    };
                    let d = ((x - px).powi(2) + (y - py).powi(2)).sqrt();
                    if d <= radius && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, Hit { series, point }));
                    }
                }
            }
            best.map(|(_, hit)| hit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> Geometry {
        Geometry {
            left_px: 100.0,
            right_px: 500.0,
            top_px: 20.0,
            bottom_px: 220.0,
            x_min: -0.5,
            x_max: 1.5,
            y_min: 0.0,
            y_max: 100.0,
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
        }
    }

    fn bars() -> ChartSpec {
        ChartSpec {
            id: "t".into(),
            title: "T".into(),
            note: String::new(),
            kind: ChartKind::Bars {
                categories: vec!["p50".into(), "p99".into()],
            },
            x: Axis::new("Percentile", ""),
            y: Axis::new("Latency", "ms"),
            series: vec![
                Series {
                    name: "fifo".into(),
                    color: color(0),
                    points: vec![Point::new(0.0, 10.0), Point::new(1.0, 90.0)],
                },
                Series {
                    name: "priority".into(),
                    color: color(1),
                    points: vec![Point::new(0.0, 20.0), Point::new(1.0, 80.5)],
                },
            ],
        }
    }

    #[test]
    fn formats_numbers_short_and_rounded() {
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(1200.0), "1200");
        assert_eq!(format_number(0.123456), "0.1235");
        assert_eq!(format_number(-0.00001), "0");
        assert_eq!(format_number(f64::NAN), "-");
        let ms = Axis::new("Latency", "ms");
        assert_eq!(ms.format_value(3.25), "3.25 ms");
        assert_eq!(ms.title(), "Latency (ms)");
        assert_eq!(Axis::new("SLO", "%").format_value(97.5), "97.5%");
        assert_eq!(Axis::new("Requests", "").title(), "Requests");
        assert_eq!(Rgb(1, 0xab, 255).hex(), "#01abff");
    }

    #[test]
    fn geometry_maps_both_ways() {
        let g = geometry();
        assert_eq!(g.to_pixel(-0.5, 0.0), Some((100.0, 220.0)));
        assert_eq!(g.to_pixel(1.5, 100.0), Some((500.0, 20.0)));
        assert_eq!(g.x_at(300.0), 0.5);
        assert_eq!(g.y_at(120.0), 50.0);
        assert!(g.contains(100.0, 20.0) && !g.contains(99.0, 50.0));
        let log = Geometry {
            x_scale: Scale::Log10,
            x_min: 0.0,
            x_max: 2.0,
            ..g
        };
        assert_eq!(log.to_pixel(10.0, 0.0), Some((300.0, 220.0)));
        assert_eq!(log.to_pixel(0.0, 0.0), None);
    }

    #[test]
    fn bars_hit_the_column_under_the_pointer() {
        let spec = bars();
        let g = geometry();
        // Category 0 spans -0.4..0.4 in data units: fifo -0.4..0, priority 0..0.4.
        let px = |x: f64| g.x_pixel(x);
        let hit = hit_test(&spec, &g, &[], px(-0.2), 200.0, 1.0).unwrap();
        assert_eq!(
            hit,
            Hit {
                series: 0,
                point: 0
            }
        );
        let hit = hit_test(&spec, &g, &[], px(1.2), 50.0, 1.0).unwrap();
        assert_eq!(
            hit,
            Hit {
                series: 1,
                point: 1
            }
        );
        let tip = spec.describe(hit).unwrap();
        assert_eq!(
            (tip.series.as_str(), tip.x.as_str(), tip.y.as_str()),
            ("priority", "p99", "80.5 ms")
        );
        // In the gap between groups: nothing.
        assert_eq!(hit_test(&spec, &g, &[], px(0.5), 200.0, 1.0), None);
        // With fifo hidden, priority fills the whole group.
        let hit = hit_test(&spec, &g, &[true], px(-0.2), 200.0, 1.0).unwrap();
        assert_eq!(
            hit,
            Hit {
                series: 1,
                point: 0
            }
        );
        // Outside the plotting area: nothing.
        assert_eq!(hit_test(&spec, &g, &[], 50.0, 200.0, 1.0), None);
    }

    #[test]
    fn lines_hit_the_nearest_point_within_the_radius() {
        let mut spec = bars();
        spec.kind = ChartKind::Lines { markers: true };
        let g = geometry();
        let (x, y) = g.to_pixel(1.0, 80.5).unwrap();
        let hit = hit_test(&spec, &g, &[], x + 3.0, y - 2.0, 1.0).unwrap();
        assert_eq!(
            hit,
            Hit {
                series: 1,
                point: 1
            }
        );
        assert_eq!(
            hit_test(&spec, &g, &[false, true], x + 3.0, y - 2.0, 1.0),
            Some(Hit {
                series: 0,
                point: 1
            })
        );
        assert_eq!(hit_test(&spec, &g, &[], x, y + 100.0, 1.0), None);
    }

    #[test]
    fn histograms_hit_the_bin() {
        let spec = ChartSpec {
            kind: ChartKind::Histogram { bin_width: 0.5 },
            x: Axis::new("Prompt length", "tokens"),
            ..bars()
        };
        let g = geometry();
        let hit = hit_test(&spec, &g, &[], g.x_pixel(1.1), 100.0, 1.0).unwrap();
        assert_eq!(
            hit,
            Hit {
                series: 0,
                point: 1
            }
        );
        assert_eq!(spec.describe(hit).unwrap().x, "1 to 1.5 tokens");
    }

    #[test]
    fn bar_spans_tile_the_group() {
        assert_eq!(bar_span(0, 0, 1), (-0.4, 0.4));
        let (a, b) = bar_span(2, 1, 4);
        assert!((a - 1.8).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    }
}
