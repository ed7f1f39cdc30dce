//! Shared prefixes (`shared_prefixes`): each group's prefix text, and the draw of a request's
//! group by the configured popularity.

use super::PrefixText;
use crate::config::{Popularity, SharedPrefixes};
use crate::lengths::uniform01;
use crate::text::mix64;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Group `g`'s prefix: its length drawn in group order from `lengths` (one draw per group),
/// its text stream `mix64(text_seed ^ mix64(g))`.
pub(super) fn prefix_texts(
    config: &SharedPrefixes,
    lengths: &mut ChaCha8Rng,
    text_seed: u64,
) -> Arc<[PrefixText]> {
    (0..config.groups)
        .map(|g| PrefixText {
            seed: mix64(text_seed ^ mix64(u64::from(g))),
            tokens: config.prefix_length.sample(lengths).unwrap_or(1),
        })
        .collect()
}

/// Draws a request's prefix group: one word of its stream per draw.
pub(super) struct GroupPicker {
    rng: ChaCha8Rng,
    groups: u32,
    /// Cumulative weights of the groups (Zipf); `None` for uniform.
    cumulative: Option<Vec<f64>>,
}

impl GroupPicker {
    pub(super) fn new(config: &SharedPrefixes, rng: ChaCha8Rng) -> Self {
        let cumulative = match config.popularity {
            Popularity::Uniform => None,
            Popularity::Zipf { s } => {
                let mut acc = 0.0;
                Some(
                    (0..config.groups)
                        .map(|g| {
                            acc += 1.0 / libm::pow(f64::from(g) + 1.0, s);
                            acc
                        })
                        .collect(),
                )
            }
        };
        Self {
            rng,
            groups: config.groups,
            cumulative,
        }
    }

    /// The next group.
    pub(super) fn draw(&mut self) -> u32 {
        let u = uniform01(&mut self.rng);
        match &self.cumulative {
            None => ((u * f64::from(self.groups)) as u32).min(self.groups - 1),
            Some(c) => {
                let x = u * c.last().copied().unwrap_or(0.0);
                (c.partition_point(|&acc| acc <= x) as u32).min(self.groups - 1)
            }
        }
    }
}
