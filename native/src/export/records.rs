//! The per-request records file, `requests_<stem>.csv`: every measured request of every run
//! of a report, one CSV row each ([`super::csv`]), written as the records arrive, so that no
//! record is kept in memory after it is written.
//!
//! The rows go through a bounded buffer into a temporary file in the output folder
//! (`.requests-N.PID.tmp`, removed when the writer is dropped unpersisted, and by
//! [`super::prepare_output_dir`] when its process died), hashed (SHA-256) on the way. When
//! the report is written, the finished file is linked under its final name beside the
//! report ([`FinishedRecords::link_new`]), so a reader never sees a half-written records
//! file, and a run stopped by a signal still gets a whole one (every row written until then).
//! Rows are in the order the requests ended, runs one after the other; sort by `policy`,
//! `label` and `id` for the schedule's order.

use super::csv::{RunTag, write_row};
use anyhow::{Context, Result};
use cpbench_core::record::RequestRecord;
use cpbench_core::report::RecordsFile;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The format named in the report for the files this module writes.
pub const FORMAT: &str = "csv";

/// Bytes buffered before they go to the file.
const BUFFER_BYTES: usize = 1 << 20;

/// A writer's bytes, counted and hashed as they go to the file.
struct Hashing {
    file: BufWriter<File>,
    hash: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Streams records into a temporary records file; see the module's documentation.
pub struct RecordsWriter {
    tmp: PathBuf,
    out: Option<::csv::Writer<Hashing>>,
    rows: u64,
    /// The first write error; later rows are dropped.
    error: Option<String>,
}

impl std::fmt::Debug for RecordsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordsWriter")
            .field("tmp", &self.tmp)
            .field("rows", &self.rows)
            .field("error", &self.error)
            .finish()
    }
}

/// Tells apart the temporary files of several writers of one process.
static NEXT: AtomicU64 = AtomicU64::new(1);

impl RecordsWriter {
    /// A writer into a new temporary file in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".requests-{n}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let out = ::csv::WriterBuilder::new().from_writer(Hashing {
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            hash: Sha256::new(),
            bytes: 0,
        });
        Ok(Self {
            tmp,
            out: Some(out),
            rows: 0,
            error: None,
        })
    }

    /// Writes one record of the run `tag`; `slo_met` is whether it met its SLO. A write
    /// error is kept (and given by [`finish`](Self::finish)); the rows after it are dropped.
    pub fn write(&mut self, tag: &RunTag, record: &RequestRecord, slo_met: bool) {
        let Some(out) = &mut self.out else { return };
        match write_row(out, tag, record, slo_met) {
            Ok(()) => self.rows += 1,
            Err(e) => {
                self.error = Some(format!("writing {}: {e}", self.tmp.display()));
                self.out = None;
            }
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and syncs the file: the rows written, or `None` when there were none (the
    /// temporary file is removed); the first write error, if any.
    pub fn finish(mut self) -> Result<Option<FinishedRecords>> {
        if let Some(e) = self.error.take() {
            anyhow::bail!(e);
        }
        if self.rows == 0 {
            return Ok(None);
        }
        let out = self.out.take().expect("no write failed");
        let tmp = std::mem::take(&mut self.tmp);
        let finished = (|| -> Result<FinishedRecords> {
            let hashing = out
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
            let Hashing { file, hash, bytes } = hashing;
            let file = file
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
            file.sync_all()
                .with_context(|| format!("syncing {}", tmp.display()))?;
            Ok(FinishedRecords {
                tmp: tmp.clone(),
                rows: self.rows,
                bytes,
                sha256: hex(&hash.finalize()),
            })
        })();
        if finished.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        finished.map(Some)
    }
}

impl Drop for RecordsWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A records file written whole, waiting for its name.
#[derive(Debug)]
pub struct FinishedRecords {
    tmp: PathBuf,
    rows: u64,
    bytes: u64,
    sha256: String,
}

impl FinishedRecords {
    /// Links the file as `path`, never replacing a file there: `Ok(false)` when `path`
    /// exists.
    pub fn link_new(&self, path: &Path) -> Result<bool> {
        match std::fs::hard_link(&self.tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }

    /// What the report says of the file, named `name` beside it.
    pub fn describe(&self, name: &str) -> RecordsFile {
        RecordsFile {
            name: name.to_owned(),
            format: FORMAT.to_owned(),
            rows: self.rows,
            bytes: self.bytes,
            sha256: self.sha256.clone(),
        }
    }
}

impl Drop for FinishedRecords {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbench_core::request::{Priority, RequestKind};

    fn rec(id: u64) -> RequestRecord {
        RequestRecord::new(id, RequestKind::LlmChat, Priority::Normal, "m", 1000, 1, id)
    }

    #[test]
    fn rows_are_hashed_as_written_and_the_temporary_file_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let tag = RunTag {
            policy: "fifo".into(),
            label: String::new(),
        };
        let mut w = RecordsWriter::create(dir.path()).unwrap();
        for id in 0..3 {
            w.write(&tag, &rec(id), true);
        }
        let f = w.finish().unwrap().unwrap();
        let path = dir.path().join("requests_x.csv");
        assert!(f.link_new(&path).unwrap());
        assert!(!f.link_new(&path).unwrap(), "never replaces a file");
        let bytes = std::fs::read(&path).unwrap();
        let d = f.describe("requests_x.csv");
        assert_eq!((d.rows, d.bytes), (3, bytes.len() as u64));
        assert_eq!(d.sha256, hex(&Sha256::digest(&bytes)));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 4, "a header and three rows");
        assert!(text.starts_with("policy,label,id,"));
        drop(f);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("requests_x.csv")]);

        let empty = RecordsWriter::create(dir.path()).unwrap();
        assert!(empty.finish().unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
