//! GPU monitoring of the machine running the benchmark, through NVML (nvml-wrapper).
//!
//! NVML is loaded at run time (`dlopen`): the tool builds and runs without a driver, and when
//! the library cannot be loaded or initialized, monitoring is *unavailable* with the reason
//! NVML gave; no GPU number is ever recorded then. With `--gpu-monitor required` that is an
//! error before anything is sent.
//!
//! Sampling runs on its own OS thread (NVML calls block) from the run's t=0 until it is
//! stopped, one reading of every device per interval. A driver call that fails leaves its
//! fields `None` in that sample and is counted in the sample's `read_errors`.

use cpbench_core::report::{GpuDevice, GpuSample, GpuSection, GpuStatus};
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Whether to monitor GPUs (`--gpu-monitor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GpuMode {
    /// Sample with NVML when it can be loaded; otherwise record why not and go on.
    #[default]
    Auto,
    /// Do not monitor GPUs.
    Off,
    /// Sample with NVML, or fail before sending anything.
    Required,
}

/// GPU monitoring that cannot go ahead.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// `--gpu-monitor required` and NVML cannot be used.
    #[error(
        "--gpu-monitor required: GPU monitoring unavailable: {reason} (use --gpu-monitor auto to run without it)"
    )]
    Required {
        /// Why NVML cannot be used.
        reason: String,
    },
    /// The sampling thread could not be started.
    #[error("cannot start the GPU sampling thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Reads one device. Implemented by [`NvmlReader`]; tests use their own.
pub trait DeviceReader: Send + Sync + 'static {
    /// One reading of device `index` at `t_s`; every field the driver could not give is
    /// `None` and counted in `read_errors`.
    fn read(&self, index: u32, t_s: f64) -> GpuSample;
}

/// The NVML library, initialized.
pub struct NvmlReader {
    nvml: Nvml,
}

impl std::fmt::Debug for NvmlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NvmlReader")
    }
}

const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

impl NvmlReader {
    /// Loads and initializes NVML: from `lib` when given, else the system's
    /// `libnvidia-ml.so`, then `libnvidia-ml.so.1` (driver-only installs have just the
    /// latter). The error is the reason monitoring is unavailable.
    pub fn init(lib: Option<&Path>) -> Result<Self, String> {
        let attempt = |path: &OsStr| {
            Nvml::builder()
                .lib_path(path)
                .init()
                .map_err(|e| format!("NVML init failed ({}): {}", path.display(), chain(&e)))
        };
        let nvml = match lib {
            Some(p) => attempt(p.as_os_str())?,
            None => attempt(OsStr::new("libnvidia-ml.so")).or_else(|first| {
                attempt(OsStr::new("libnvidia-ml.so.1"))
                    .map_err(|second| format!("{first}; {second}"))
            })?,
        };
        Ok(Self { nvml })
    }

    /// The devices NVML sees, with name and UUID. No device, or a device whose name or UUID
    /// cannot be read, is an error (the reason monitoring is unavailable).
    pub fn devices(&self) -> Result<Vec<GpuDevice>, String> {
        let count = self
            .nvml
            .device_count()
            .map_err(|e| format!("NVML could not count the GPUs: {}", chain(&e)))?;
        if count == 0 {
            return Err("NVML loaded but sees no GPU".into());
        }
        (0..count)
            .map(|index| {
                let d = self
                    .nvml
                    .device_by_index(index)
                    .map_err(|e| format!("NVML could not open GPU {index}: {}", chain(&e)))?;
                let name = d.name().map_err(|e| {
                    format!("NVML could not read GPU {index}'s name: {}", chain(&e))
                })?;
                let uuid = d.uuid().map_err(|e| {
                    format!("NVML could not read GPU {index}'s UUID: {}", chain(&e))
                })?;
                Ok(GpuDevice { index, name, uuid })
            })
            .collect()
    }
}

impl DeviceReader for NvmlReader {
    fn read(&self, index: u32, t_s: f64) -> GpuSample {
        let mut s = GpuSample {
            t_s,
            index,
            utilization_pct: None,
            memory_used_mib: None,
            memory_total_mib: None,
            power_w: None,
            temperature_c: None,
            sm_clock_mhz: None,
            read_errors: 0,
        };
        let d = match self.nvml.device_by_index(index) {
            Ok(d) => d,
            Err(_) => {
                s.read_errors = 1;
                return s;
            }
        };
        let mut errors = 0u32;
        s.utilization_pct = take(d.utilization_rates(), &mut errors).map(|u| f64::from(u.gpu));
        if let Some(m) = take(d.memory_info(), &mut errors) {
            s.memory_used_mib = Some(m.used as f64 / BYTES_PER_MIB);
            s.memory_total_mib = Some(m.total as f64 / BYTES_PER_MIB);
        }
        s.power_w = take(d.power_usage(), &mut errors).map(|mw| f64::from(mw) / 1000.0);
        s.temperature_c = take(d.temperature(TemperatureSensor::Gpu), &mut errors).map(f64::from);
        s.sm_clock_mhz = take(d.clock_info(Clock::SM), &mut errors).map(f64::from);
        s.read_errors = errors;
        s
    }
}

/// The value, or `None` with the failure counted.
fn take<T>(r: Result<T, nvml_wrapper::error::NvmlError>, errors: &mut u32) -> Option<T> {
    r.map_err(|_| *errors += 1).ok()
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[derive(Clone)]
enum State {
    NotRequested,
    Unavailable(String),
    Ready {
        reader: Arc<dyn DeviceReader>,
        devices: Vec<GpuDevice>,
        interval: Duration,
    },
}

/// GPU monitoring for one invocation: not requested, unavailable (with the reason), or
/// ready to sample its devices during each run.
#[derive(Clone)]
pub struct GpuMonitor {
    state: State,
}

impl std::fmt::Debug for GpuMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            State::NotRequested => f.write_str("GpuMonitor::NotRequested"),
            State::Unavailable(r) => write!(f, "GpuMonitor::Unavailable({r:?})"),
            State::Ready {
                devices, interval, ..
            } => f
                .debug_struct("GpuMonitor::Ready")
                .field("devices", devices)
                .field("interval", interval)
                .finish_non_exhaustive(),
        }
    }
}

impl GpuMonitor {
    /// Monitoring off.
    pub fn not_requested() -> Self {
        Self {
            state: State::NotRequested,
        }
    }

    /// Opens NVML as `mode` says (`lib`: the library file, `None` for the system's). `Auto`
    /// without NVML gives an unavailable monitor; `Required` without NVML is an error.
    pub fn open(mode: GpuMode, lib: Option<&Path>, interval: Duration) -> Result<Self, GpuError> {
        if mode == GpuMode::Off {
            return Ok(Self::not_requested());
        }
        let opened = NvmlReader::init(lib).and_then(|r| Ok((r.devices()?, r)));
        match opened {
            Ok((devices, reader)) => Ok(Self::with_reader(Arc::new(reader), devices, interval)),
            Err(reason) if mode == GpuMode::Required => Err(GpuError::Required { reason }),
            Err(reason) => Ok(Self {
                state: State::Unavailable(reason),
            }),
        }
    }

    /// A monitor that samples `devices` through `reader` every `interval`.
    pub fn with_reader(
        reader: Arc<dyn DeviceReader>,
        devices: Vec<GpuDevice>,
        interval: Duration,
    ) -> Self {
        Self {
            state: State::Ready {
                reader,
                devices,
                interval,
            },
        }
    }

    /// Why monitoring is unavailable, when it was asked for and is.
    pub fn unavailable_reason(&self) -> Option<&str> {
        match &self.state {
            State::Unavailable(r) => Some(r),
            _ => None,
        }
    }

    /// The report's GPU section (without read errors: the runs' summaries hold those).
    pub fn section(&self) -> GpuSection {
        match &self.state {
            State::NotRequested => GpuSection::not_requested(),
            State::Unavailable(r) => GpuSection::unavailable(r.clone()),
            State::Ready {
                devices, interval, ..
            } => GpuSection {
                status: GpuStatus::Sampled,
                devices: devices.clone(),
                sample_interval_ms: Some(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX)),
                read_errors: 0,
            },
        }
    }

    /// Starts sampling every device from `t0` (the run's t=0; `t_s` of each sample counts
    /// from it) until [`GpuSampler::stop`]. `None` unless the monitor is ready.
    pub fn start(&self, t0: Instant) -> Result<Option<GpuSampler>, GpuError> {
        let State::Ready {
            reader,
            devices,
            interval,
        } = &self.state
        else {
            return Ok(None);
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let reader = Arc::clone(reader);
        let indexes: Vec<u32> = devices.iter().map(|d| d.index).collect();
        let interval = *interval;
        let handle = std::thread::Builder::new()
            .name("gpu-sampler".into())
            .spawn(move || sample_loop(reader.as_ref(), &indexes, t0, interval, &stopped))
            .map_err(GpuError::Spawn)?;
        Ok(Some(GpuSampler { stop, handle }))
    }
}

/// A sampling thread; stops when [`stop`](Self::stop)ped or dropped.
#[derive(Debug)]
pub struct GpuSampler {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<Vec<GpuSample>>,
}

impl GpuSampler {
    /// Stops the thread (after the reading in progress, if any) and returns its samples in
    /// time order. Blocks for at most one reading.
    pub fn stop(self) -> Vec<GpuSample> {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

/// Reads every device at `t0`, `t0 + interval`, ... until told to stop (or the sender is
/// gone). A reading that falls behind skips the ticks it missed.
fn sample_loop(
    reader: &dyn DeviceReader,
    indexes: &[u32],
    t0: Instant,
    interval: Duration,
    stopped: &mpsc::Receiver<()>,
) -> Vec<GpuSample> {
    let mut samples = Vec::new();
    let mut next = t0;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
        let t_s = Instant::now().saturating_duration_since(t0).as_secs_f64();
        samples.extend(indexes.iter().map(|&i| reader.read(i, t_s)));
        next += interval;
        let now = Instant::now();
        if next < now {
            let behind = (now - next).as_nanos() / interval.as_nanos().max(1) + 1;
            next += interval * u32::try_from(behind).unwrap_or(u32::MAX);
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A GPU whose power reading fails every other call and that has no temperature sensor.
    struct Flaky {
        calls: AtomicU32,
    }

    impl DeviceReader for Flaky {
        fn read(&self, index: u32, t_s: f64) -> GpuSample {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            let power_fails = n % 2 == 1;
            GpuSample {
                t_s,
                index,
                utilization_pct: Some(f64::from(n)),
                memory_used_mib: Some(100.0),
                memory_total_mib: Some(200.0),
                power_w: (!power_fails).then_some(250.0),
                temperature_c: None,
                sm_clock_mhz: Some(1500.0),
                read_errors: 1 + u32::from(power_fails),
            }
        }
    }

    #[test]
    fn nvml_missing_is_a_reason_never_a_number() {
        let lib = Path::new("/nonexistent/libnvidia-ml.so.1");
        let m = GpuMonitor::open(GpuMode::Auto, Some(lib), Duration::from_millis(100)).unwrap();
        let reason = m.unavailable_reason().expect("unavailable");
        assert!(reason.contains("NVML init failed"), "{reason}");
        assert!(
            reason.contains("/nonexistent/libnvidia-ml.so.1"),
            "{reason}"
        );
        let section = m.section();
        assert_eq!(
            section.status,
            GpuStatus::Unavailable {
                reason: reason.to_string()
            }
        );
        assert!(section.devices.is_empty() && section.sample_interval_ms.is_none());
        assert!(m.start(Instant::now()).unwrap().is_none());

        let err = GpuMonitor::open(GpuMode::Required, Some(lib), Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--gpu-monitor required: GPU monitoring unavailable: NVML init failed"),
            "{err}"
        );

        let off = GpuMonitor::open(GpuMode::Off, Some(lib), Duration::from_millis(100)).unwrap();
        assert_eq!(off.section(), GpuSection::not_requested());
    }

    #[test]
    fn sampler_reads_every_device_from_t0_until_stopped() {
        let devices = vec![
            GpuDevice {
                index: 0,
                name: "A".into(),
                uuid: "GPU-a".into(),
            },
            GpuDevice {
                index: 3,
                name: "B".into(),
                uuid: "GPU-b".into(),
            },
        ];
        let m = GpuMonitor::with_reader(
            Arc::new(Flaky {
                calls: AtomicU32::new(0),
            }),
            devices.clone(),
            Duration::from_millis(5),
        );
        assert_eq!(m.section().sample_interval_ms, Some(5));
        assert_eq!(m.section().devices, devices);
        let t0 = Instant::now() + Duration::from_millis(20);
        let sampler = m.start(t0).unwrap().unwrap();
        // Wait until a few ticks have passed (no assertion on their timing).
        while Instant::now() < t0 + Duration::from_millis(40) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let samples = sampler.stop();
        assert!(samples.len() >= 4, "{}", samples.len());
        assert_eq!(samples.len() % 2, 0, "both devices each tick");
        for pair in samples.chunks(2) {
            assert_eq!((pair[0].index, pair[1].index), (0, 3));
            assert_eq!(pair[0].t_s, pair[1].t_s);
        }
        assert!(samples.iter().all(|s| s.t_s >= 0.0));
        assert!(samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        // Failed reads are gaps, counted, never filled in.
        assert!(samples.iter().all(|s| s.temperature_c.is_none()));
        assert!(
            samples
                .iter()
                .all(|s| s.power_w.is_some() == (s.read_errors == 1))
        );
        let summary = cpbench_core::report::GpuSummary::from_samples(&samples);
        assert_eq!(summary.len(), 2);
        let errors: u64 = summary.iter().map(|g| g.read_errors).sum();
        assert_eq!(
            errors,
            samples
                .iter()
                .map(|s| u64::from(s.read_errors))
                .sum::<u64>()
        );
        assert!(summary.iter().all(|g| g.temperature_c.is_none()));
    }

    #[test]
    fn dropping_the_sampler_ends_its_thread() {
        let m = GpuMonitor::with_reader(
            Arc::new(Flaky {
                calls: AtomicU32::new(0),
            }),
            vec![],
            Duration::from_secs(3600),
        );
        let sampler = m.start(Instant::now()).unwrap().unwrap();
        let GpuSampler { stop, handle } = sampler;
        drop(stop);
        assert!(handle.join().is_ok());
    }
}
