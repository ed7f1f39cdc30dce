//! Reference lines drawn over a chart's data ([`Guide`]): an SLO target, a percentile, the
//! line where achieved throughput equals the offered rate. A spec with its guides is a
//! [`GuidedChart`], which [`super::draw::draw_guided`] draws on any backend.

use super::{ChartSpec, Rgb, format_number};

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

/// The colour of percentile marks.
pub const MARK_GREY: Rgb = Rgb(0x33, 0x33, 0x33);

/// The guide marking an SLO compliance target on a chart whose y axis is in percent.
pub fn slo_target_guide(target_fraction: f64) -> Guide {
    Guide::Horizontal {
        y: target_fraction * 100.0,
        label: format!("SLO target {}%", format_number(target_fraction * 100.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_targets_are_marked_in_percent() {
        assert_eq!(
            slo_target_guide(0.9),
            Guide::Horizontal {
                y: 90.0,
                label: "SLO target 90%".into()
            }
        );
    }
}
