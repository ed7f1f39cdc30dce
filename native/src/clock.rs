//! How far a shard's clock can be trusted: the kernel's synchronisation state
//! (`adjtimex`, read only) and a round-trip check against the control plane's clock
//! (`GET /admin/time`, see docs/CONTRACT.md).

use crate::control::ControlPlane;
use cpbench_core::report::{ClockCheck, ClockState};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tries of the round-trip check; the one with the shortest round trip is kept.
pub const CLOCK_CHECK_TRIES: u32 = 5;

/// The kernel's view of this machine's clock (`adjtimex` with no change asked), or why it
/// cannot be read.
#[allow(unsafe_code)]
pub fn kernel_state() -> ClockState {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `timex` is plain data; all zeros (modes = 0) asks adjtimex to read only.
        let mut t: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `t` is a valid, writable timex for the duration of the call.
        let state = unsafe { libc::adjtimex(&mut t) };
        if state == -1 {
            return ClockState {
                status: "unavailable".into(),
                reason: Some(format!(
                    "adjtimex failed: {}",
                    std::io::Error::last_os_error()
                )),
                ..ClockState::default()
            };
        }
        // With STA_NANO the offset is in ns, otherwise in µs; errors are in µs.
        let offset_ms = if t.status & libc::STA_NANO != 0 {
            t.offset as f64 / 1e6
        } else {
            t.offset as f64 / 1e3
        };
        let unsynced = state == libc::TIME_ERROR || t.status & libc::STA_UNSYNC != 0;
        ClockState {
            status: if unsynced {
                "unsynchronized"
            } else {
                "synchronized"
            }
            .into(),
            offset_ms: Some(offset_ms),
            max_error_ms: Some(t.maxerror as f64 / 1e3),
            est_error_ms: Some(t.esterror as f64 / 1e3),
            reason: unsynced.then(|| {
                "the kernel marks the clock unsynchronized (no NTP/PTP daemon disciplines it, or it lost its source)".into()
            }),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        ClockState {
            status: "unavailable".into(),
            reason: Some("adjtimex is read on Linux only".into()),
            ..ClockState::default()
        }
    }
}

fn unix_ms_f64(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The round-trip clock check against `base` (`GET {base}/admin/time` answering
/// `{"unix_ms": ...}`): the offset of this clock over the server's, from the try with the
/// shortest round trip. A 404 (or 405) is "not offered", never a failure of the run.
pub async fn check_against(cp: &ControlPlane) -> ClockCheck {
    let url = format!("{}/admin/time", cp.base());
    let mut best: Option<(f64, f64)> = None;
    let mut tries = 0;
    let mut last_error = None;
    for _ in 0..CLOCK_CHECK_TRIES {
        tries += 1;
        let req = cp.admin_get("/admin/time").timeout(Duration::from_secs(5));
        let sent = SystemTime::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                last_error = Some(format!("GET {url}: {e}"));
                continue;
            }
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::METHOD_NOT_ALLOWED
        {
            return ClockCheck {
                status: "not_offered".into(),
                tries,
                detail: Some(format!("GET /admin/time answered {status}")),
                ..ClockCheck::default()
            };
        }
        let body = resp.bytes().await;
        let received = SystemTime::now();
        let server_ms = body
            .ok()
            .filter(|_| status.is_success())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("unix_ms").and_then(serde_json::Value::as_f64));
        let Some(server_ms) = server_ms else {
            last_error = Some(format!(
                "GET /admin/time answered {status} without a number unix_ms"
            ));
            continue;
        };
        let (t0, t1) = (unix_ms_f64(sent), unix_ms_f64(received));
        let rtt = (t1 - t0).max(0.0);
        // A whole number of ms is read as the middle of that millisecond (the server's clock
        // was somewhere in it), so truncation does not bias the offset by half a ms.
        let server_ms = if server_ms.fract() == 0.0 {
            server_ms + 0.5
        } else {
            server_ms
        };
        let offset = (t0 + t1) / 2.0 - server_ms;
        if best.is_none_or(|(_, r)| rtt < r) {
            best = Some((offset, rtt));
        }
    }
    match best {
        Some((offset, rtt)) => ClockCheck {
            status: "measured".into(),
            offset_ms: Some(offset),
            rtt_ms: Some(rtt),
            tries,
            detail: None,
        },
        None => ClockCheck {
            status: "failed".into(),
            tries,
            detail: last_error,
            ..ClockCheck::default()
        },
    }
}

/// The kernel's state and the check in words, for the report's notes.
pub fn describe(state: &ClockState, check: &ClockCheck) -> String {
    let kernel = match state.status.as_str() {
        "unavailable" => format!(
            "kernel clock state unavailable ({})",
            state.reason.as_deref().unwrap_or("unknown")
        ),
        s => format!(
            "kernel clock {s}, estimated error {:.3} ms, maximum error {:.3} ms",
            state.est_error_ms.unwrap_or(0.0),
            state.max_error_ms.unwrap_or(0.0)
        ),
    };
    let cp = match check.status.as_str() {
        "measured" => format!(
            "clock {:+.1} ms against the control plane's (GET /admin/time, round trip {:.1} ms)",
            check.offset_ms.unwrap_or(0.0),
            check.rtt_ms.unwrap_or(0.0)
        ),
        "not_offered" => {
            "the control plane offers no GET /admin/time: clock not checked against it".into()
        }
        _ => format!(
            "clock check against the control plane failed: {}",
            check.detail.as_deref().unwrap_or("unknown")
        ),
    };
    format!("{kernel}; {cp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_state_is_read_or_says_why_not() {
        let s = kernel_state();
        match s.status.as_str() {
            "synchronized" | "unsynchronized" => assert!(s.max_error_ms.is_some()),
            "unavailable" => assert!(s.reason.is_some()),
            other => panic!("unexpected status {other}"),
        }
    }
}
