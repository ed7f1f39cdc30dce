//! Result files. Each format is a pure function from the result to bytes (one file per
//! format); this module is the one place that writes files, always atomically.

pub mod charts;
pub mod csv;
pub mod document;
pub mod html;
pub mod markdown;
pub mod report_set;
pub mod table;
pub mod visualize;

use anyhow::{Context, Result};
use cpbench_core::report::{PolicyRun, Report};
use cpbench_core::slo::meets_slo;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and
/// synced, then renamed over the target. A reader never sees a half-written file, and an
/// interrupted write leaves the previous file (if any) intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating folder {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes sure results can be written into `dir` before anything is measured: creates it,
/// checks that a file can be created in it, and removes temporary files that writers killed
/// before they finished (SIGKILL, power loss) left behind: `.NAME.PID.tmp` of processes
/// that no longer run. The error names the folder and what is wrong.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{} exists and is not a folder", dir.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let probe = dir.join(format!(".write_probe.{}.tmp", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    remove_stale_temp_files(dir);
    Ok(())
}

/// Removes `.NAME.PID.tmp` files in `dir` whose process is gone.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once('.'))
            .and_then(|(_, pid)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || process_alive(pid) {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file()) {
            tracing::debug!(
                file = name,
                "removing a temporary file left by process {pid}"
            );
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether a process with this id runs (signal 0 is delivered or refused for lack of
/// permission).
fn process_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == Errno::EPERM,
    }
}

/// Writes a report's files into `dir`: `report_<timestamp>.json` (the whole result) and
/// `requests_<timestamp>.csv` (one row per measured request). Returns the paths written.
pub fn write_results(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let stamp = file_stamp(&report.created_at);
    let json_path = dir.join(format!("report_{stamp}.json"));
    let mut json = report.to_json_pretty();
    json.push('\n');
    write_atomic(&json_path, json.as_bytes())?;
    let targets = report.slo_targets();
    let slo: Vec<Vec<bool>> = report
        .runs
        .iter()
        .map(|r| {
            r.records
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|rec| meets_slo(rec, &targets))
                .collect()
        })
        .collect();
    let labels: Vec<String> = report.runs.iter().map(run_label).collect();
    let runs: Vec<csv::CsvRun<'_>> = report
        .runs
        .iter()
        .zip(&slo)
        .zip(&labels)
        .map(|((r, met), label)| csv::CsvRun {
            policy: &r.policy,
            label,
            records: r.records.as_deref().unwrap_or_default(),
            slo_met: met,
        })
        .collect();
    let mut written = vec![json_path];
    if runs.iter().any(|r| !r.records.is_empty()) {
        let csv_path = dir.join(format!("requests_{stamp}.csv"));
        write_atomic(&csv_path, &csv::serialize(&runs))?;
        written.push(csv_path);
    }
    Ok(written)
}

/// `2026-11-28T06:30:00Z` to `20261128T063000Z`.
pub(crate) fn file_stamp(created_at: &str) -> String {
    created_at.replace(['-', ':'], "")
}

/// What distinguishes a run besides its policy (sweep rate, ratio, label), or "".
fn run_label(r: &PolicyRun) -> String {
    let mut parts = Vec::new();
    if let Some(rate) = r.params.request_rate_rps {
        parts.push(format!("rate={rate}"));
    }
    if let Some(l) = r.params.llm_ratio {
        parts.push(format!("llm_ratio={l}"));
    }
    if let Some(l) = &r.params.label {
        parts.push(l.clone());
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = std::env::temp_dir().join(format!("cpbench-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("sub").join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
