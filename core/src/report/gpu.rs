//! GPU monitoring: whether it ran, the devices, their samples and per-run statistics.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether GPUs were monitored. Serialized with a `state` tag:
/// `{"state": "unavailable", "reason": "..."}`, `{"state": "not_requested"}`,
/// `{"state": "sampled"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum GpuStatus {
    /// Monitoring was asked for but could not start (for instance NVML missing); no GPU numbers
    /// are recorded.
    Unavailable {
        /// Why, as the monitoring library said it.
        reason: String,
    },
    /// Monitoring was not asked for.
    NotRequested,
    /// GPUs were sampled; the samples are in each run.
    Sampled,
}

/// GPU monitoring of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSection {
    /// Whether GPUs were monitored.
    pub status: GpuStatus,
    /// The devices seen; empty unless `status` is `sampled`.
    pub devices: Vec<GpuDevice>,
    /// Time between samples, ms; `None` unless `status` is `sampled`.
    pub sample_interval_ms: Option<u64>,
    /// NVML calls that failed while sampling, over all runs (each failure left its fields
    /// `None` in a sample); 0 unless `status` is `sampled`.
    #[serde(default)]
    pub read_errors: u64,
}

impl GpuSection {
    /// Monitoring not asked for.
    pub fn not_requested() -> Self {
        Self {
            status: GpuStatus::NotRequested,
            devices: Vec::new(),
            sample_interval_ms: None,
            read_errors: 0,
        }
    }

    /// Monitoring asked for but unavailable, with the reason; holds no devices and no numbers.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            status: GpuStatus::Unavailable {
                reason: reason.into(),
            },
            devices: Vec::new(),
            sample_interval_ms: None,
            read_errors: 0,
        }
    }
}

/// One GPU device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuDevice {
    /// The device's index as the driver numbers it.
    pub index: u32,
    /// The device's product name.
    pub name: String,
    /// The device's UUID.
    pub uuid: String,
}

/// One reading of one GPU. A metric the driver did not report is `None`, never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSample {
    /// Seconds from the run's start.
    pub t_s: f64,
    /// The device's index (see `GpuSection::devices`).
    pub index: u32,
    /// Compute utilization, percent.
    pub utilization_pct: Option<f64>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<f64>,
    /// Total memory, MiB.
    pub memory_total_mib: Option<f64>,
    /// Power draw, watts.
    pub power_w: Option<f64>,
    /// GPU temperature, degrees Celsius.
    #[serde(default)]
    pub temperature_c: Option<f64>,
    /// Streaming-multiprocessor clock, MHz.
    #[serde(default)]
    pub sm_clock_mhz: Option<f64>,
    /// Driver calls that failed for this reading (their fields are `None`).
    #[serde(default)]
    pub read_errors: u32,
}

/// Minimum, mean and maximum of the readings of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MinAvgMax {
    /// Readings (samples where the metric was not `None`).
    pub count: u64,
    /// The smallest reading.
    pub min: f64,
    /// The arithmetic mean of the readings.
    pub avg: f64,
    /// The largest reading.
    pub max: f64,
}

impl MinAvgMax {
    /// The statistics of the values that are `Some`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<MinAvgMax> {
        let mut count = 0u64;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for v in values.into_iter().flatten() {
            count += 1;
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        (count > 0).then(|| MinAvgMax {
            count,
            min,
            avg: sum / count as f64,
            max,
        })
    }
}

/// One GPU over one run: statistics of each metric of its samples. A metric never read is
/// `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSummary {
    /// The device's index (see `GpuSection::devices`).
    pub index: u32,
    /// Samples taken of this device.
    pub samples: u64,
    /// Driver calls that failed over these samples.
    pub read_errors: u64,
    /// Compute utilization, percent.
    pub utilization_pct: Option<MinAvgMax>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<MinAvgMax>,
    /// Total memory, MiB.
    pub memory_total_mib: Option<MinAvgMax>,
    /// Power draw, watts.
    pub power_w: Option<MinAvgMax>,
    /// Temperature, degrees Celsius.
    pub temperature_c: Option<MinAvgMax>,
    /// Streaming-multiprocessor clock, MHz.
    pub sm_clock_mhz: Option<MinAvgMax>,
}

impl GpuSummary {
    /// One summary per device index found in `samples`, sorted by index.
    pub fn from_samples(samples: &[GpuSample]) -> Vec<GpuSummary> {
        let mut by_index: BTreeMap<u32, Vec<&GpuSample>> = BTreeMap::new();
        for s in samples {
            by_index.entry(s.index).or_default().push(s);
        }
        by_index
            .into_iter()
            .map(|(index, s)| {
                let stat = |f: fn(&GpuSample) -> Option<f64>| MinAvgMax::of(s.iter().map(|x| f(x)));
                GpuSummary {
                    index,
                    samples: s.len() as u64,
                    read_errors: s.iter().map(|x| u64::from(x.read_errors)).sum(),
                    utilization_pct: stat(|x| x.utilization_pct),
                    memory_used_mib: stat(|x| x.memory_used_mib),
                    memory_total_mib: stat(|x| x.memory_total_mib),
                    power_w: stat(|x| x.power_w),
                    temperature_c: stat(|x| x.temperature_c),
                    sm_clock_mhz: stat(|x| x.sm_clock_mhz),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_status_is_tagged_and_unavailable_holds_no_numbers() {
        let gpu = GpuSection::unavailable("NVML: driver not loaded");
        let json = serde_json::to_value(&gpu).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": {"state": "unavailable", "reason": "NVML: driver not loaded"},
                "devices": [],
                "sample_interval_ms": null,
                "read_errors": 0
            })
        );
        assert_eq!(
            serde_json::to_value(GpuSection::not_requested().status).unwrap(),
            serde_json::json!({"state": "not_requested"})
        );
    }

    fn gpu_sample(t_s: f64, index: u32, util: Option<f64>, power: Option<f64>) -> GpuSample {
        GpuSample {
            t_s,
            index,
            utilization_pct: util,
            memory_used_mib: Some(1024.0),
            memory_total_mib: Some(81920.0),
            power_w: power,
            temperature_c: None,
            sm_clock_mhz: Some(1410.0),
            read_errors: u32::from(util.is_none()) + u32::from(power.is_none()) + 1,
        }
    }

    #[test]
    fn gpu_summary_skips_gaps_and_never_invents_a_number() {
        let samples = vec![
            gpu_sample(0.0, 1, Some(50.0), Some(300.0)),
            gpu_sample(0.0, 0, Some(10.0), None),
            gpu_sample(0.5, 0, None, None),
            gpu_sample(1.0, 0, Some(40.0), Some(200.0)),
        ];
        let s = GpuSummary::from_samples(&samples);
        assert_eq!(s.iter().map(|g| g.index).collect::<Vec<_>>(), vec![0, 1]);
        let g0 = &s[0];
        assert_eq!(g0.samples, 3);
        assert_eq!(g0.read_errors, 2 + 3 + 1);
        assert_eq!(
            g0.utilization_pct,
            Some(MinAvgMax {
                count: 2,
                min: 10.0,
                avg: 25.0,
                max: 40.0
            })
        );
        assert_eq!(g0.power_w.unwrap().count, 1);
        assert_eq!(g0.power_w.unwrap().avg, 200.0);
        assert_eq!(g0.temperature_c, None);
        assert_eq!(s[1].utilization_pct.unwrap().max, 50.0);
        assert!(GpuSummary::from_samples(&[]).is_empty());
        assert_eq!(MinAvgMax::of([None, None]), None);
    }
}
