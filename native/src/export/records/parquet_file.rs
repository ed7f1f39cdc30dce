//! The Parquet records file: one column per column of the CSV records
//! ([`crate::export::csv`]), same names and units, a field without a value (no first token,
//! no `usage`, no HTTP status, no error) a null, and the inter-token gaps of each request as
//! the list column `itl_us` (microseconds, one entry per content chunk after the first).
//!
//! Records are gathered column by column and written as a row group every
//! [`ROW_GROUP_ROWS`] records (sooner when their gaps reach [`ROW_GROUP_GAPS`]), so the
//! writer holds at most one row group's worth of records, whatever the run's length.
//! Compressed with Snappy; written with the low-level column writers of the `parquet` crate
//! (no Arrow).

use bytes::Bytes;
use cpbench_core::record::RequestRecord;
use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, Int32Type, Int64Type,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::{
    SerializedColumnWriter, SerializedFileWriter, SerializedRowGroupWriter,
};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use std::io::Write;
use std::sync::Arc;

use crate::export::csv::{RunTag, outcome_columns, token_source};

/// Records in a row group at most.
pub const ROW_GROUP_ROWS: usize = 8_192;

/// Inter-token gaps in a row group at most (a row group closes once its records hold this
/// many): a row group's gaps take at most 4 bytes each of these in memory.
pub const ROW_GROUP_GAPS: usize = 1 << 19;

/// Strings converted for the column writer at a time.
const STRING_BATCH: usize = 4096;

/// The file's schema, its columns in the CSV's order, then `itl_us`. The u64 times and
/// counts are signed 64-bit integers (exact below 2^63); the u32 counts unsigned 32-bit.
pub const SCHEMA: &str = "message request {
  required binary policy (STRING);
  required binary label (STRING);
  required int64 id;
  required binary kind (STRING);
  required binary priority (STRING);
  required binary model (STRING);
  required int64 slo_deadline_ms;
  required boolean slo_met;
  required int64 intended_us;
  required int64 sent_us;
  required double lateness_ms;
  required int64 concurrency_wait_us;
  optional int64 first_token_us;
  required int64 end_us;
  optional double ttft_ms;
  required double e2e_ms;
  optional double tpot_ms;
  required int32 chunks (INTEGER(32,false));
  required int32 output_tokens (INTEGER(32,false));
  required binary output_tokens_source (STRING);
  optional int32 input_tokens (INTEGER(32,false));
  required binary outcome (STRING);
  optional int32 http_status (INTEGER(16,false));
  optional binary error (STRING);
  optional double queue_time_ms;
  optional binary backend_instance (STRING);
  required group itl_us (LIST) {
    repeated group list {
      required int32 element (INTEGER(32,false));
    }
  }
}";

/// Columns whose values seldom repeat (times, ids): plain or delta encoded rather than
/// through a dictionary that would hold every value.
const NO_DICTIONARY: [&str; 9] = [
    "id",
    "intended_us",
    "sent_us",
    "first_token_us",
    "end_us",
    "lateness_ms",
    "ttft_ms",
    "e2e_ms",
    "tpot_ms",
];

/// Writes records into a Parquet file through `W`; see the module's documentation.
pub struct ParquetRecords<W: Write + Send> {
    file: SerializedFileWriter<W>,
    rows: Rows,
}

impl<W: Write + Send> ParquetRecords<W> {
    /// A writer into `out` (the file's magic bytes are written at once).
    pub fn new(out: W) -> Result<Self> {
        let schema = Arc::new(parse_message_type(SCHEMA)?);
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::SNAPPY);
        for c in NO_DICTIONARY {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c), false);
        }
        Ok(Self {
            file: SerializedFileWriter::new(out, schema, Arc::new(props.build()))?,
            rows: Rows::default(),
        })
    }

    /// Adds one record of the run `tag`; `slo_met` is whether it met its SLO. Writes a row
    /// group when one is full.
    pub fn write(&mut self, tag: &RunTag, r: &RequestRecord, slo_met: bool) -> Result<()> {
        self.rows.push(tag, r, slo_met);
        if self.rows.len >= ROW_GROUP_ROWS || self.rows.itl_us.values.len() >= ROW_GROUP_GAPS {
            self.rows.write_group(&mut self.file)?;
        }
        Ok(())
    }

    /// Writes the last row group and the file's footer, and gives back the writer.
    pub fn finish(mut self) -> Result<W> {
        if self.rows.len > 0 {
            self.rows.write_group(&mut self.file)?;
        }
        self.file.into_inner()
    }
}

/// The values of one column of a row group, and its definition levels when it is optional
/// (1: a value, 0: null).
#[derive(Debug)]
struct Column<T> {
    values: Vec<T>,
    def: Vec<i16>,
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            def: Vec::new(),
        }
    }
}

impl<T> Column<T> {
    /// A value of a required column.
    fn put(&mut self, v: T) {
        self.values.push(v);
    }

    /// A value or null of an optional column.
    fn put_opt(&mut self, v: Option<T>) {
        self.def.push(i16::from(v.is_some()));
        self.values.extend(v);
    }

    fn clear(&mut self) {
        self.values.clear();
        self.def.clear();
    }
}

/// A string column of a row group: its values' bytes one after the other.
#[derive(Debug, Default)]
struct Strings {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    def: Vec<i16>,
}

impl Strings {
    fn put(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.ends.push(self.bytes.len());
    }

    fn put_opt(&mut self, s: Option<&str>) {
        self.def.push(i16::from(s.is_some()));
        if let Some(s) = s {
            self.put(s);
        }
    }
}

/// The gaps of a row group's records, with the levels that tell where each list starts and
/// which lists are empty.
#[derive(Debug, Default)]
struct Lists {
    values: Vec<i32>,
    def: Vec<i16>,
    rep: Vec<i16>,
}

impl Lists {
    fn put(&mut self, gaps: &[u32]) {
        if gaps.is_empty() {
            self.def.push(0);
            self.rep.push(0);
            return;
        }
        for (i, &g) in gaps.iter().enumerate() {
            // The unsigned values' bits, as Parquet stores INTEGER(32,false).
            self.values.push(g as i32);
            self.def.push(1);
            self.rep.push(i16::from(i > 0));
        }
    }

    fn clear(&mut self) {
        self.values.clear();
        self.def.clear();
        self.rep.clear();
    }
}

/// The records of the row group being gathered, column by column.
#[derive(Debug, Default)]
struct Rows {
    len: usize,
    policy: Strings,
    label: Strings,
    id: Column<i64>,
    kind: Strings,
    priority: Strings,
    model: Strings,
    slo_deadline_ms: Column<i64>,
    slo_met: Column<bool>,
    intended_us: Column<i64>,
    sent_us: Column<i64>,
    lateness_ms: Column<f64>,
    concurrency_wait_us: Column<i64>,
    first_token_us: Column<i64>,
    end_us: Column<i64>,
    ttft_ms: Column<f64>,
    e2e_ms: Column<f64>,
    tpot_ms: Column<f64>,
    chunks: Column<i32>,
    output_tokens: Column<i32>,
    output_tokens_source: Strings,
    input_tokens: Column<i32>,
    outcome: Strings,
    http_status: Column<i32>,
    error: Strings,
    queue_time_ms: Column<f64>,
    backend_instance: Strings,
    itl_us: Lists,
}

/// A u64 as a signed 64-bit column value (saturating; times and ids stay far below).
fn int64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A u32 as its INTEGER(32,false) column value (the same bits).
fn uint32(v: u32) -> i32 {
    v as i32
}

impl Rows {
    fn push(&mut self, tag: &RunTag, r: &RequestRecord, slo_met: bool) {
        let (outcome, status, error) = outcome_columns(&r.outcome);
        self.len += 1;
        self.policy.put(&tag.policy);
        self.label.put(&tag.label);
        self.id.put(int64(r.id));
        self.kind.put(r.kind.as_str());
        self.priority.put(r.priority.as_str());
        self.model.put(&r.model);
        self.slo_deadline_ms.put(int64(r.slo_deadline_ms));
        self.slo_met.put(slo_met);
        self.intended_us.put(int64(r.intended_us));
        self.sent_us.put(int64(r.sent_us));
        self.lateness_ms.put(r.lateness_ms());
        self.concurrency_wait_us.put(int64(r.concurrency_wait_us));
        self.first_token_us.put_opt(r.first_token_us.map(int64));
        self.end_us.put(int64(r.end_us));
        self.ttft_ms.put_opt(r.ttft_ms());
        self.e2e_ms.put(r.e2e_ms());
        self.tpot_ms.put_opt(r.tpot_ms());
        self.chunks.put(uint32(r.chunks));
        self.output_tokens.put(uint32(r.output_tokens));
        self.output_tokens_source
            .put(token_source(r.output_tokens_source));
        self.input_tokens.put_opt(r.input_tokens.map(uint32));
        self.outcome.put(outcome);
        self.http_status.put_opt(status.map(i32::from));
        self.error.put_opt(error);
        self.queue_time_ms.put_opt(r.queue_time_ms);
        self.backend_instance.put_opt(r.backend_instance.as_deref());
        self.itl_us.put(&r.itl_us);
    }

    /// Writes the gathered records as one row group, in the schema's column order, and
    /// empties the columns.
    fn write_group<W: Write + Send>(&mut self, file: &mut SerializedFileWriter<W>) -> Result<()> {
        let mut g = file.next_row_group()?;
        strings(&mut g, &mut self.policy)?;
        strings(&mut g, &mut self.label)?;
        numbers::<Int64Type, _>(&mut g, &mut self.id)?;
        strings(&mut g, &mut self.kind)?;
        strings(&mut g, &mut self.priority)?;
        strings(&mut g, &mut self.model)?;
        numbers::<Int64Type, _>(&mut g, &mut self.slo_deadline_ms)?;
        numbers::<BoolType, _>(&mut g, &mut self.slo_met)?;
        numbers::<Int64Type, _>(&mut g, &mut self.intended_us)?;
        numbers::<Int64Type, _>(&mut g, &mut self.sent_us)?;
        numbers::<DoubleType, _>(&mut g, &mut self.lateness_ms)?;
        numbers::<Int64Type, _>(&mut g, &mut self.concurrency_wait_us)?;
        numbers::<Int64Type, _>(&mut g, &mut self.first_token_us)?;
        numbers::<Int64Type, _>(&mut g, &mut self.end_us)?;
        numbers::<DoubleType, _>(&mut g, &mut self.ttft_ms)?;
        numbers::<DoubleType, _>(&mut g, &mut self.e2e_ms)?;
        numbers::<DoubleType, _>(&mut g, &mut self.tpot_ms)?;
        numbers::<Int32Type, _>(&mut g, &mut self.chunks)?;
        numbers::<Int32Type, _>(&mut g, &mut self.output_tokens)?;
        strings(&mut g, &mut self.output_tokens_source)?;
        numbers::<Int32Type, _>(&mut g, &mut self.input_tokens)?;
        strings(&mut g, &mut self.outcome)?;
        numbers::<Int32Type, _>(&mut g, &mut self.http_status)?;
        strings(&mut g, &mut self.error)?;
        numbers::<DoubleType, _>(&mut g, &mut self.queue_time_ms)?;
        strings(&mut g, &mut self.backend_instance)?;
        {
            let mut c = next_column(&mut g)?;
            let l = &mut self.itl_us;
            c.typed::<Int32Type>()
                .write_batch(&l.values, Some(&l.def), Some(&l.rep))?;
            c.close()?;
            l.clear();
        }
        if g.next_column()?.is_some() {
            return Err(ParquetError::General(
                "the schema has more columns than the records".into(),
            ));
        }
        g.close()?;
        self.len = 0;
        Ok(())
    }
}

/// The row group's next column.
fn next_column<'a, W: Write + Send>(
    g: &'a mut SerializedRowGroupWriter<'_, W>,
) -> Result<SerializedColumnWriter<'a>> {
    g.next_column()?.ok_or_else(|| {
        ParquetError::General("the records have more columns than the schema".into())
    })
}

/// Writes `col` as the row group's next column (of type `T`), and empties it.
fn numbers<T: DataType, W: Write + Send>(
    g: &mut SerializedRowGroupWriter<'_, W>,
    col: &mut Column<T::T>,
) -> Result<()> {
    let mut c = next_column(g)?;
    let w = c.typed::<T>();
    let def = (w.get_descriptor().max_def_level() > 0).then_some(col.def.as_slice());
    w.write_batch(&col.values, def, None)?;
    c.close()?;
    col.clear();
    Ok(())
}

/// Writes `col` as the row group's next column (of strings), and empties it.
fn strings<W: Write + Send>(
    g: &mut SerializedRowGroupWriter<'_, W>,
    col: &mut Strings,
) -> Result<()> {
    let mut c = next_column(g)?;
    let w = c.typed::<ByteArrayType>();
    let optional = w.get_descriptor().max_def_level() > 0;
    let bytes = Bytes::from(std::mem::take(&mut col.bytes));
    let mut start = 0;
    let mut ends = col.ends.iter();
    let mut batch = Vec::with_capacity(STRING_BATCH);
    let mut take = |n: usize, batch: &mut Vec<ByteArray>| {
        batch.clear();
        for &end in ends.by_ref().take(n) {
            batch.push(ByteArray::from(bytes.slice(start..end)));
            start = end;
        }
    };
    if optional {
        for def in col.def.chunks(STRING_BATCH) {
            let present = def.iter().filter(|&&d| d > 0).count();
            take(present, &mut batch);
            w.write_batch(&batch, Some(def), None)?;
        }
    } else {
        for _ in (0..col.ends.len()).step_by(STRING_BATCH) {
            take(STRING_BATCH, &mut batch);
            w.write_batch(&batch, None, None)?;
        }
    }
    c.close()?;
    col.ends.clear();
    col.def.clear();
    Ok(())
}
