//! Invariants of the builtin client's parsers of untrusted bytes (chunked bodies, response
//! heads), checked on any input. The property tests of `fuzz_props.rs` and the libFuzzer
//! targets of `fuzz/` (which include these files by path) both call them. Each check panics,
//! with the input, when an invariant does not hold.
#![allow(dead_code, unreachable_pub)]

pub mod chunked;
pub mod head;

/// Up to `max` cut points in `0..=len` drawn from `seed` (a splitmix64 stream), sorted; the
/// places where a stream of `len` bytes is split into reads.
pub fn cuts(seed: u64, len: usize, max: usize) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = (next() % (max as u64 + 1)) as usize;
    let mut out: Vec<usize> = (0..n)
        .map(|_| (next() % (len as u64 + 1)) as usize)
        .collect();
    out.sort_unstable();
    out
}

/// `input` split at `cuts` (sorted, each at most `input.len()`): the reads, empty ones
/// included.
pub fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for &c in cuts {
        let c = c.clamp(from, input.len());
        parts.push(&input[from..c]);
        from = c;
    }
    parts.push(&input[from..]);
    parts
}

/// The first 8 bytes of `data` as a seed (zero-padded) and the rest: how a fuzz input carries
/// both the split points and the bytes to split.
pub fn seed_and_rest(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(8);
    let mut seed = [0u8; 8];
    seed[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(seed), &data[n..])
}

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
