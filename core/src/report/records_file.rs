//! What a report says of the files holding its runs' per-request records.

use serde::{Deserialize, Serialize};

/// A per-request records file written beside a report: every measured request of every
/// run, one row each, in the order the requests ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordsFile {
    /// Its file name, in the report's folder (`requests_<stem>.parquet`, or
    /// `requests_<stem>.csv`).
    pub name: String,
    /// Its format: `parquet` (one column per field, the inter-token gaps `itl_us` a list
    /// column, written in row groups) or `csv` (a header row, then one row per request, no
    /// inter-token gaps). Each row has its run's `policy` and `label`.
    pub format: String,
    /// Records (rows, the CSV's header not counted) it holds.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}
