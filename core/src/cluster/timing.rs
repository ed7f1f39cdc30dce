//! Time arithmetic shared by the instances and the control plane: milliseconds of the cost
//! models to the microseconds of the timeline, and the optional step-time jitter.

use rand_chacha::ChaCha8Rng;
use rand_core::Rng;

/// Milliseconds (f64) to whole microseconds, at least 1 so the clock always moves.
pub(crate) fn ms_to_us(ms: f64) -> u64 {
    let us = (ms * 1000.0).round();
    if us.is_finite() && us >= 1.0 {
        us as u64
    } else {
        1
    }
}

/// A duration factor `1 + jitter * u` with `u` uniform in `[-1, 1)` from 53 random bits
/// (exactly 1, drawing nothing, when `jitter` is 0).
pub(crate) fn jitter_factor(rng: &mut ChaCha8Rng, jitter: f64) -> f64 {
    if jitter == 0.0 {
        return 1.0;
    }
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    1.0 + jitter * (2.0 * u - 1.0)
}
