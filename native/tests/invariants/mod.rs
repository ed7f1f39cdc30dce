//! Invariants of the builtin client's parsers of untrusted bytes (chunked bodies, response
//! heads), checked on any input. The property tests of `fuzz_props.rs` and the libFuzzer
//! targets of `fuzz/` (which include these files by path) both call them. Each check panics,
//! with the input, when an invariant does not hold.
#![allow(dead_code, unreachable_pub)]

pub mod chunked;
pub mod head;

#[path = "../../../core/tests/invariants/split.rs"]
mod split;
#[allow(unused_imports)] // `seed_and_rest` serves the fuzz targets.
pub use split::{cuts, seed_and_rest, split_at};

/// Valid responses as servers send them: the bases the structure-aware generators mutate,
/// and the seeds of the fuzz corpora.
pub fn sample_responses() -> Vec<Vec<u8>> {
    [
        &b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nX-Backend-Instance: llm-0\r\nX-Queue-Time-Ms: 2.5\r\n\r\n\
1f\r\ndata: {\"choices\":[{\"a\":1}]}\n\n\r\n10;ext=1\r\ndata: [DONE]\n\n\r\n\r\n0\r\nX-Trailer: t\r\n\r\n"[..],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-type: application/json\r\n\r\n{}",
        b"HTTP/1.0 503 Service Unavailable\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nbusy!",
        b"HTTP/1.1 204 No Content\r\nConnection: close, x\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length:  3 \r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX-Queue-Time-Ms: nan\r\n\r\n3\nabc\n0\n\n",
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\r\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

/// Valid chunked bodies.
pub fn sample_chunked_bodies() -> Vec<Vec<u8>> {
    [
        &b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"[..],
        b"3;name=value\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\nHTTP/1.1 200 OK\r\n",
        b"3\nabc\n0\n\n",
        b"A \r\n0123456789\r\n00000000001\r\nz\r\n0\r\n\r\n",
        b"ffffffff\r\nabc",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
