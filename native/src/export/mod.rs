//! Result files. Each format is a pure function from the result to bytes (one file per
//! format); this module is the one place that writes files, always atomically.

pub mod charts;
pub mod csv;
pub mod document;
pub mod html;
pub mod interactive;
pub mod markdown;
pub mod records;
pub mod report_set;
pub mod table;
pub mod visualize;

use anyhow::{Context, Result};
use cpbench_core::report::Report;
use records::RecordsWriter;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and
/// synced, then renamed over the target. A reader never sees a half-written file, and an
/// interrupted write leaves the previous file (if any) intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_temp_beside(path, bytes)?;
    let result = std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to the temporary file of `path` (`.NAME.PID.tmp` in its folder, which is
/// created), flushed and synced, and returns its path; removes it on failure.
fn write_temp_beside(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf> {
    write_temp_beside_with(path, |w| w.write_all(bytes))
}

/// [`write_temp_beside`] of the bytes `write` gives, through a buffer.
fn write_temp_beside_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<std::path::PathBuf> {
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
        let f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, f);
        write(&mut out).with_context(|| format!("writing {}", tmp.display()))?;
        let f = out
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
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

/// What [`write_results`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The name shared by the files of this report (`20261128T063000Z`, or with `-2`, `-3`
    /// when files of another report took that name).
    pub stem: String,
    /// The files written, the JSON result first.
    pub paths: Vec<PathBuf>,
}

/// The most reports one stamp may name in one folder before writing gives up.
const MAX_SAME_STAMP: u32 = 10_000;

/// Writes a report's files into `dir`: `report_<stem>.json` (the whole result, compact
/// unless `pretty`) and, when `records` holds any, the records files
/// `requests_<stem>.parquet` and, if asked for, `requests_<stem>.csv` (every measured
/// request of every run, streamed while the runs ran; see [`records`]), named with their
/// SHA-256 in the report (`records_file`, `records_csv`). Records files that could not be
/// written are left out with a warning in the report. The stem is the report's creation
/// time, made unique in the folder: an existing result is never replaced (each file is
/// created with a no-clobber link, so two writers racing for a name cannot both get it).
pub fn write_results(
    report: &mut Report,
    dir: &Path,
    pretty: bool,
    records: Option<RecordsWriter>,
) -> Result<Written> {
    let records = match records.map(RecordsWriter::finish).transpose() {
        Ok(r) => r.flatten(),
        Err(e) => {
            report.warnings.push(format!(
                "the per-request records file was not written: {e:#}"
            ));
            None
        }
    };
    let base = file_stamp(&report.created_at);
    let mut claimed = None;
    for n in 1..=MAX_SAME_STAMP {
        let s = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if stem_in_use(dir, &s) {
            continue;
        }
        let records_paths = match &records {
            Some(f) => match f.link_new(dir, &s, report)? {
                Some(paths) => paths,
                None => continue,
            },
            None => Vec::new(),
        };
        // Streamed into the file: the JSON of a long run is never held whole in memory.
        let json = |w: &mut dyn Write| {
            if pretty {
                serde_json::to_writer_pretty(&mut *w, &*report)?;
            } else {
                serde_json::to_writer(&mut *w, &*report)?;
            }
            w.write_all(b"\n")
        };
        if write_atomic_new_with(&dir.join(format!("report_{s}.json")), json)? {
            claimed = Some((s, records_paths));
            break;
        }
        for p in records_paths {
            let _ = std::fs::remove_file(p);
        }
        report.records_file = None;
        report.records_csv = None;
    }
    let (stem, records_paths) = claimed.with_context(|| {
        format!(
            "{}: {MAX_SAME_STAMP} reports named {base} already; use another --output folder",
            dir.display()
        )
    })?;
    let mut paths = vec![dir.join(format!("report_{stem}.json"))];
    paths.extend(records_paths);
    Ok(Written { stem, paths })
}

/// Whether any file of a report named `stem` exists in `dir`.
pub(crate) fn stem_in_use(dir: &Path, stem: &str) -> bool {
    [
        format!("report_{stem}.json"),
        format!("report_{stem}.html"),
        format!("report_{stem}.md"),
        format!("requests_{stem}.parquet"),
        format!("requests_{stem}.csv"),
        format!("charts_{stem}"),
    ]
    .iter()
    .any(|n| dir.join(n).symlink_metadata().is_ok())
}

/// The first stem from `base` (`base`, `base-2`, ...) no file of `dir` uses.
pub(crate) fn free_stem(dir: &Path, base: &str) -> Result<String> {
    (1..=MAX_SAME_STAMP)
        .map(|n| {
            if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|s| !stem_in_use(dir, s))
        .with_context(|| format!("{}: too many reports named {base}", dir.display()))
}

/// [`write_atomic`], but never replaces an existing file: the temporary file is linked to
/// `path` (which fails if `path` exists) rather than renamed over it. `Ok(false)` when `path`
/// exists.
pub fn write_atomic_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    write_atomic_new_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic_new`] of the bytes `write` gives, streamed through a buffer into the
/// temporary file (no copy of the whole content in memory).
pub fn write_atomic_new_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<bool> {
    let tmp = write_temp_beside_with(path, write)?;
    let result = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    };
    let _ = std::fs::remove_file(&tmp);
    result
}

/// `2026-11-28T06:30:00Z` to `20261128T063000Z`: the letters and digits of a report's
/// creation time, at most 40 of them, so a file name built from it never holds a path
/// separator, a dot or anything else from the (untrusted) file; `report` when none is left.
pub(crate) fn file_stamp(created_at: &str) -> String {
    let s: String = created_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    if s.is_empty() { "report".into() } else { s }
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
