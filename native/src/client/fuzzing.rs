//! The builtin client's parsing of response heads, open to the fuzz targets (`fuzz/`) and the
//! property tests; not a supported API. It runs exactly the code a response goes through.

/// How a response's body is delimited, as its head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Transfer-Encoding: chunked` (decoded by [`super::chunked::ChunkedDecoder`]).
    Chunked,
    /// `Content-Length` (0 for 204 and 304).
    Length(u64),
    /// Until the server closes the connection.
    UntilClose,
}

/// What the builtin client makes of the start of a response.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadParse {
    /// More bytes are needed.
    Partial,
    /// A complete 1xx interim response of `len` bytes, skipped.
    Interim {
        /// Its length in bytes.
        len: usize,
    },
    /// The final response head.
    Final {
        /// Its length in bytes; the body starts after it.
        len: usize,
        /// The status code.
        status: u16,
        /// How the body is delimited.
        framing: BodyFraming,
        /// Whether the connection may carry another request after this response.
        keep_alive: bool,
        /// Whether the body is an event stream.
        is_sse: bool,
        /// `X-Queue-Time-Ms`, as read.
        queue_time_ms: Option<f64>,
        /// `X-Backend-Instance`, as read.
        backend_instance: Option<String>,
    },
    /// The request's outcome: the head is invalid.
    Invalid(String),
}

/// Parses a response head from the start of `bytes`, as the builtin client does after each
/// read.
pub fn parse_response_head(bytes: &[u8]) -> HeadParse {
    super::builtin::parse_head_summary(bytes)
}
