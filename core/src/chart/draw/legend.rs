//! The legend panel beside a chart: one row per visible series, a swatch in its colour and
//! its name.

use super::DrawOptions;
use crate::chart::{ChartKind, ChartSpec};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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
    let s = opts.scale_factor();
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
    let s = opts.scale_factor();
    let font = TextStyle::from((opts.font_family.as_str(), 12.0 * s).into_font());
    let (w, h) = area.dim_in_pixel();
    let text_x = (24.0 * s).round() as i32;
    let room = i64::from(w) - i64::from(text_x) - (4.0 * s).round() as i64;
    let mut y = top_px + 4.0 * s;
    for (i, series) in spec.series.iter().enumerate() {
        if !opts.visible(i) {
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
