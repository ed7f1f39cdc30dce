//! Waiting until a request's send time, precisely.
//!
//! tokio's timer works in whole milliseconds: a sleep ends on the next millisecond tick after
//! its deadline, which alone adds ~0.5–1 ms of send lateness to every request. On Linux the
//! pacer arms a `timerfd` (a high-resolution kernel timer) for the exact deadline and waits for
//! it through tokio's I/O driver, so the sender wakes within microseconds of the deadline
//! without spinning. Elsewhere, or when a timerfd cannot be made, it falls back to tokio's
//! timer (and says so with [`Pacer::is_precise`]).

use std::time::{Duration, Instant};

/// Default shortest time between two wake-ups of a precise pacer.
pub const DEFAULT_MIN_GAP: Duration = Duration::from_micros(400);

/// Waits until instants, as precisely as the platform allows.
#[derive(Debug)]
pub struct Pacer {
    #[cfg(target_os = "linux")]
    timer: Option<linux::Timer>,
    /// Shortest time between two wake-ups.
    min_gap: Duration,
    /// When the last wait ended.
    last_wake: Option<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    /// A pacer; must be made inside a tokio runtime with I/O enabled.
    pub fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            timer: linux::Timer::new().ok(),
            min_gap: DEFAULT_MIN_GAP,
            last_wake: None,
        }
    }

    /// Sets the shortest time between two wake-ups: deadlines closer together than this are
    /// served by one wake-up (the later ones a little late), which bounds the wake-ups per
    /// second and so the pacing's CPU cost at high request rates.
    pub fn with_min_gap(mut self, min_gap: Duration) -> Self {
        self.min_gap = min_gap;
        self
    }

    /// A pacer on tokio's millisecond timer only (for comparison and tests).
    pub fn coarse() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            timer: None,
            min_gap: Duration::ZERO,
            last_wake: None,
        }
    }

    /// Whether waits end within microseconds of their deadline (a high-resolution timer),
    /// rather than on tokio's next millisecond tick.
    pub fn is_precise(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.timer.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Returns at `due` or soon after (at once if `due` has passed).
    pub async fn sleep_until(&mut self, due: Instant) {
        let due = match self.last_wake {
            Some(last) => due.max(last + self.min_gap),
            None => due,
        };
        self.wait(due).await;
        self.last_wake = Some(Instant::now());
    }

    async fn wait(&mut self, due: Instant) {
        #[cfg(target_os = "linux")]
        if let Some(timer) = &self.timer {
            if timer.sleep_until(due).await.is_ok() {
                return;
            }
            // A failing timerfd: fall back for good.
            self.timer = None;
        }
        if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use nix::sys::time::TimeSpec;
    use nix::sys::timer::Expiration;
    use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags, TimerSetTimeFlags};
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::{Duration, Instant};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A non-blocking monotonic timerfd registered with tokio's I/O driver.
    #[derive(Debug)]
    pub(super) struct Timer {
        fd: AsyncFd<Fd>,
    }

    #[derive(Debug)]
    struct Fd(TimerFd);

    impl AsRawFd for Fd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    impl Timer {
        pub(super) fn new() -> io::Result<Self> {
            let fd = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            // SAFETY: `Fd` owns the timerfd (an `OwnedFd`), which stays open until the
            // `AsyncFd` is dropped, and `as_raw_fd` always returns that same descriptor.
            #[allow(unsafe_code)]
            let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }
                .map_err(io::Error::from)?;
            Ok(Self { fd })
        }

        pub(super) async fn sleep_until(&self, due: Instant) -> io::Result<()> {
            loop {
                let left = due.saturating_duration_since(Instant::now());
                if left < Duration::from_micros(1) {
                    return Ok(());
                }
                self.fd.get_ref().0.set(
                    Expiration::OneShot(TimeSpec::from_duration(left)),
                    TimerSetTimeFlags::empty(),
                )?;
                // Every expiry wakes the timerfd's waiters, which tokio's edge-triggered epoll
                // reports as a new readiness event whether or not the expiry count was read
                // (and re-arming resets the count), so the count is never read: one system
                // call per wait instead of two. A wake-up for an earlier, abandoned deadline
                // is caught by the loop.
                self.fd.readable().await?.clear_ready();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_the_deadline_and_not_before() {
        let mut pacer = Pacer::new();
        for micros in [0u64, 50, 300, 2_500] {
            let due = Instant::now() + Duration::from_micros(micros);
            pacer.sleep_until(due).await;
            assert!(
                Instant::now() >= due,
                "woke before a deadline {micros} µs away"
            );
        }
        // A deadline in the past returns at once.
        pacer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn linux_pacer_is_precise_and_coarse_one_is_not() {
        assert!(Pacer::new().is_precise());
        assert!(!Pacer::coarse().is_precise());
    }
}
