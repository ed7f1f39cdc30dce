//! Drawing a chart's [`Guide`]s over its data, after [`super::draw()`] drew the spec.

use super::DrawOptions;
use crate::chart::guide::{Guide, MARK_GREY};
use crate::chart::{Geometry, Scale};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const GUIDE_GREY: RGBColor = RGBColor(MARK_GREY.0, MARK_GREY.1, MARK_GREY.2);

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

/// Draws `guides` over a chart that [`super::draw()`] drew on `root` and that returned
/// `geometry`. A horizontal guide above the plotted range is not drawn; its label says so at
/// the top of the plotting area instead. Guides need linear axes where they lie (a vertical
/// guide on a log x axis is placed at the log of its value).
pub fn draw_guides<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    geometry: &Geometry,
    guides: &[Guide],
    opts: &DrawOptions,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let s = opts.scale_factor();
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::chart::compare::slo_overall;
    use crate::chart::distribution::latency_histogram;
    use crate::chart::draw::draw_guided;
    use crate::chart::fixtures::{report, run};
    use crate::chart::guide::{GuidedChart, slo_target_guide};
    use crate::chart::metric::LatencyMetric;
    use crate::chart::runs::name_runs;
    use crate::chart::{Axis, ChartKind, ChartSpec, Point, Series, color};
    use crate::report::RunParams;

    fn svg(chart: &GuidedChart) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (640, 360)).into_drawing_area();
            draw_guided(&root, chart, &DrawOptions::default()).unwrap();
            root.present().unwrap();
        }
        out
    }

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
