//! The per-request records files of a report: every measured request of every run, one row
//! each, written as the records arrive, so that no record is kept in memory after its row
//! group is written. `requests_<stem>.parquet` always ([`parquet_file`]: the CSV's columns
//! and the inter-token gaps); `requests_<stem>.csv` beside it when asked for
//! (`--records-csv`, [`super::csv`]).
//!
//! Each file is written into a temporary file in the output folder
//! (`.requests-N-FORMAT.PID.tmp`, removed when the writer is dropped unpersisted, and by
//! [`super::prepare_output_dir`] when its process died), hashed (SHA-256) on the way
//! ([`file`]). When the report is written, the finished files are linked under their final
//! names beside the report ([`FinishedRecords::link_new`]), so a reader never sees a
//! half-written records file, and a run stopped by a signal still gets whole ones (every
//! row written until then). Rows are in the order the requests ended, runs one after the
//! other; sort by `policy`, `label` and `id` for the schedule's order.

mod file;
pub mod parquet_file;

use super::csv::{RunTag, write_row};
use anyhow::Result;
use cpbench_core::record::RequestRecord;
use cpbench_core::report::Report;
use file::Hashing;
pub use file::{FinishedFile, Format, TempPath};
use parquet_file::ParquetRecords;
use std::path::{Path, PathBuf};

/// Streams records into the temporary records files; see the module's documentation.
pub struct RecordsWriter {
    parquet: Option<(TempPath, ParquetRecords<Hashing>)>,
    csv: Option<(TempPath, ::csv::Writer<Hashing>)>,
    rows: u64,
    /// The first write error; later rows are dropped.
    error: Option<String>,
}

impl std::fmt::Debug for RecordsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordsWriter")
            .field("parquet", &self.parquet.as_ref().map(|(t, _)| t))
            .field("csv", &self.csv.as_ref().map(|(t, _)| t))
            .field("rows", &self.rows)
            .field("error", &self.error)
            .finish()
    }
}

impl RecordsWriter {
    /// A writer into new temporary files in `dir`: the Parquet file, and the CSV file too
    /// when `csv`.
    pub fn create(dir: &Path, csv: bool) -> Result<Self> {
        let (tmp, out) = TempPath::create(dir, Format::Parquet)?;
        let parquet = ParquetRecords::new(out)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.path().display()))?;
        let csv = if csv {
            let (tmp, out) = TempPath::create(dir, Format::Csv)?;
            Some((tmp, ::csv::WriterBuilder::new().from_writer(out)))
        } else {
            None
        };
        Ok(Self {
            parquet: Some((tmp, parquet)),
            csv,
            rows: 0,
            error: None,
        })
    }

    /// Writes one record of the run `tag`; `slo_met` is whether it met its SLO. A write
    /// error is kept (and given by [`finish`](Self::finish)); the rows after it are dropped.
    pub fn write(&mut self, tag: &RunTag, record: &RequestRecord, slo_met: bool) {
        if self.error.is_some() {
            return;
        }
        let mut result = Ok(());
        if let Some((tmp, w)) = &mut self.parquet {
            result = w
                .write(tag, record, slo_met)
                .map_err(|e| format!("writing {}: {e}", tmp.path().display()));
        }
        if let (Ok(()), Some((tmp, w))) = (&result, &mut self.csv) {
            result = write_row(w, tag, record, slo_met)
                .map_err(|e| format!("writing {}: {e}", tmp.path().display()));
        }
        match result {
            Ok(()) => self.rows += 1,
            Err(e) => {
                self.error = Some(e);
                self.parquet = None;
                self.csv = None;
            }
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the files' ends, flushes and syncs them: the files, or `None` when no row was
    /// written (the temporary files are removed); the first write error, if any.
    pub fn finish(mut self) -> Result<Option<FinishedRecords>> {
        if let Some(e) = self.error.take() {
            anyhow::bail!(e);
        }
        if self.rows == 0 {
            return Ok(None);
        }
        let mut files = Vec::new();
        if let Some((tmp, w)) = self.parquet.take() {
            let out = w
                .finish()
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.path().display()))?;
            files.push(tmp.finish(out, self.rows, Format::Parquet)?);
        }
        if let Some((tmp, w)) = self.csv.take() {
            let out = w
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.path().display(), e.error()))?;
            files.push(tmp.finish(out, self.rows, Format::Csv)?);
        }
        Ok(Some(FinishedRecords { files }))
    }
}

/// The records files written whole, waiting for their names.
#[derive(Debug)]
pub struct FinishedRecords {
    files: Vec<FinishedFile>,
}

impl FinishedRecords {
    /// Links the files as the records of the report named `stem` in `dir`
    /// ([`Format::file_name`]), never replacing a file there, and names them in `report`
    /// (`records_file`, and `records_csv` for the CSV): the paths linked, or `None` (nothing
    /// linked, `report` unchanged) when a file of that name exists.
    pub fn link_new(
        &self,
        dir: &Path,
        stem: &str,
        report: &mut Report,
    ) -> Result<Option<Vec<PathBuf>>> {
        let mut linked = Vec::new();
        for f in &self.files {
            let path = dir.join(f.format().file_name(stem));
            let made = f.link_new(&path);
            if !matches!(made, Ok(true)) {
                for p in &linked {
                    let _ = std::fs::remove_file(p);
                }
                return made.map(|_| None);
            }
            linked.push(path);
        }
        for f in &self.files {
            let described = Some(f.describe(&f.format().file_name(stem)));
            match f.format() {
                Format::Parquet => report.records_file = described,
                Format::Csv => report.records_csv = described,
            }
        }
        Ok(Some(linked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbench_core::report::ReportKind;
    use cpbench_core::request::{Priority, RequestKind};
    use sha2::{Digest, Sha256};

    fn rec(id: u64) -> RequestRecord {
        RequestRecord::new(id, RequestKind::LlmChat, Priority::Normal, "m", 1000, 1, id)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rows_are_hashed_as_written_and_the_temporary_files_go_away() {
        let dir = tempfile::tempdir().unwrap();
        let tag = RunTag {
            policy: "fifo".into(),
            label: String::new(),
        };
        let mut w = RecordsWriter::create(dir.path(), true).unwrap();
        for id in 0..3 {
            w.write(&tag, &rec(id), true);
        }
        let f = w.finish().unwrap().unwrap();
        let mut report = Report::new(ReportKind::Run, "t", serde_json::Value::Null, 1, "h", 3);
        let linked = f.link_new(dir.path(), "x", &mut report).unwrap().unwrap();
        assert_eq!(
            linked,
            vec![
                dir.path().join("requests_x.parquet"),
                dir.path().join("requests_x.csv")
            ]
        );
        let mut other = report.clone();
        other.records_file = None;
        assert!(
            f.link_new(dir.path(), "x", &mut other).unwrap().is_none(),
            "never replaces a file"
        );
        assert!(other.records_file.is_none());
        for (d, format) in [
            (&report.records_file, "parquet"),
            (&report.records_csv, "csv"),
        ] {
            let d = d.as_ref().unwrap();
            let bytes = std::fs::read(dir.path().join(&d.name)).unwrap();
            assert_eq!(d.format, format);
            assert_eq!((d.rows, d.bytes), (3, bytes.len() as u64));
            assert_eq!(d.sha256, file::hex(&Sha256::digest(&bytes)));
        }
        let text = std::fs::read_to_string(dir.path().join("requests_x.csv")).unwrap();
        assert_eq!(text.lines().count(), 4, "a header and three rows");
        assert!(text.starts_with("policy,label,id,"));
        let parquet = std::fs::read(dir.path().join("requests_x.parquet")).unwrap();
        assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
        drop(f);
        assert_eq!(names(dir.path()), ["requests_x.csv", "requests_x.parquet"]);

        let empty = RecordsWriter::create(dir.path(), false).unwrap();
        assert!(empty.finish().unwrap().is_none());
        assert_eq!(names(dir.path()).len(), 2);
    }

    #[test]
    fn without_csv_only_the_parquet_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RecordsWriter::create(dir.path(), false).unwrap();
        w.write(&RunTag::default(), &rec(7), false);
        let f = w.finish().unwrap().unwrap();
        let mut report = Report::new(ReportKind::Run, "t", serde_json::Value::Null, 1, "h", 1);
        f.link_new(dir.path(), "y", &mut report).unwrap().unwrap();
        drop(f);
        assert_eq!(names(dir.path()), ["requests_y.parquet"]);
        assert_eq!(report.records_file.unwrap().rows, 1);
        assert!(report.records_csv.is_none());
    }
}
