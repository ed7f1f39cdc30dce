//! The chunked transfer-coding decoder.

use sage_cp_bench::client::chunked::{ChunkedDecoder, ChunkedError};

/// What decoding a body read by read gives.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The payload handed out (up to an error, when there is one).
    pub payload: Vec<u8>,
    /// The bytes of the input that belong to the body (0 after an error).
    pub consumed: usize,
    /// Whether the body ended.
    pub done: bool,
    /// The error that stopped decoding.
    pub error: Option<ChunkedError>,
}

/// Decodes `parts` one read after another, as the client does: stops at an error or at the
/// body's end.
pub fn decode_parts(parts: &[&[u8]]) -> Decoded {
    let mut dec = ChunkedDecoder::new();
    let mut out = Decoded {
        payload: Vec::new(),
        consumed: 0,
        done: false,
        error: None,
    };
    for part in parts {
        match dec.decode(part, |d| out.payload.extend_from_slice(d)) {
            Ok(n) => {
                assert!(
                    n <= part.len(),
                    "{n} bytes used of a {}-byte read",
                    part.len()
                );
                out.consumed += n;
                if dec.is_done() {
                    break;
                }
                assert_eq!(n, part.len(), "a read only partly used before the end");
            }
            Err(e) => {
                out.error = Some(e);
                out.consumed = 0;
                break;
            }
        }
    }
    out.done = dec.is_done();
    out
}

/// Canonical chunked encoding of `payload` in chunks of at most `size` bytes.
pub fn encode(payload: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in payload.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The decoder errors or yields a payload no longer than the bytes it used, the same however
/// the input is split into reads; a body that ends, ends at the same byte whatever follows it,
/// and its payload encoded again decodes the same.
pub fn check_decoder(input: &[u8], cuts: &[usize]) {
    let whole = decode_parts(&[input]);
    assert!(whole.consumed <= input.len());
    assert!(
        whole.payload.len() <= input.len(),
        "{} payload bytes from {} bytes",
        whole.payload.len(),
        input.len()
    );
    if whole.error.is_none() {
        assert!(whole.payload.len() <= whole.consumed);
    }
    if whole.done {
        assert!(whole.error.is_none());
    } else if whole.error.is_none() {
        assert_eq!(whole.consumed, input.len());
    }
    let parts = super::split_at(input, cuts);
    assert_eq!(
        decode_parts(&parts),
        whole,
        "input {:?} split at {cuts:?}",
        String::from_utf8_lossy(input)
    );
    if input.len() <= 256 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            decode_parts(&bytes),
            whole,
            "input {:?} byte by byte",
            String::from_utf8_lossy(input)
        );
    }
    if whole.done {
        let body = &input[..whole.consumed];
        assert_eq!(decode_parts(&[body]), whole, "the body alone");
        let again = decode_parts(&[&encode(&whole.payload, 7)]);
        assert!(again.done && again.error.is_none());
        assert_eq!(again.payload, whole.payload);
    }
}
