//! One records file on its way: a temporary file in the output folder, its bytes counted
//! and hashed (SHA-256) as they are written, and, once whole, linked under its final name.

use anyhow::{Context, Result};
use cpbench_core::report::RecordsFile;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes buffered before they go to the file.
const BUFFER_BYTES: usize = 1 << 20;

/// Tells apart the temporary files of several writers of one process.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The formats of records files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet ([`super::parquet_file`]).
    Parquet,
    /// CSV with a header row ([`crate::export::csv`]).
    Csv,
}

impl Format {
    /// The name of the format, as the report gives it, and its file name extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }

    /// The file name of the records of the report named `stem`.
    pub fn file_name(self, stem: &str) -> String {
        format!("requests_{stem}.{}", self.name())
    }
}

/// A writer's bytes, counted and hashed as they go to the file.
pub struct Hashing {
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

/// The path of a temporary file, removed when dropped unless taken.
#[derive(Debug)]
pub struct TempPath(PathBuf);

impl TempPath {
    /// A new temporary file for records of `format` in `dir`
    /// (`.requests-N-FORMAT.PID.tmp`, which [`crate::export::prepare_output_dir`] removes when
    /// its process died), and the writer into it.
    pub fn create(dir: &Path, format: Format) -> Result<(Self, Hashing)> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".requests-{n}-{}.{}.tmp",
            format.name(),
            std::process::id()
        ));
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let out = Hashing {
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            hash: Sha256::new(),
            bytes: 0,
        };
        Ok((Self(tmp), out))
    }

    /// The path.
    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// Flushes and syncs the file written through `out`, which holds `rows` records of
    /// `format`; the file is removed on failure.
    pub fn finish(self, out: Hashing, rows: u64, format: Format) -> Result<FinishedFile> {
        let Hashing { file, hash, bytes } = out;
        let file = file
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing {}: {}", self.0.display(), e.error()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", self.0.display()))?;
        Ok(FinishedFile {
            tmp: self.take(),
            format,
            rows,
            bytes,
            sha256: hex(&hash.finalize()),
        })
    }

    fn take(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A records file written whole, waiting for its name; its temporary file is removed when
/// it is dropped (the linked name stays).
#[derive(Debug)]
pub struct FinishedFile {
    tmp: PathBuf,
    format: Format,
    rows: u64,
    bytes: u64,
    sha256: String,
}

impl FinishedFile {
    /// Its format.
    pub fn format(&self) -> Format {
        self.format
    }

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
            format: self.format.name().to_owned(),
            rows: self.rows,
            bytes: self.bytes,
            sha256: self.sha256.clone(),
        }
    }
}

impl Drop for FinishedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Lowercase hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
