//! The SSE decoder and the chunk classifier.

use cpbench_core::sse::{ChunkClassifier, SseDecoder, classify_chunk};

/// The events of a whole stream as the SSE spec defines them (a byte-order mark at the start
/// skipped; `\r\n`, `\r` and `\n` line endings; `data` fields joined with `\n`; comments and
/// other fields ignored), and whether an unfinished event is left at its end.
pub fn reference_events(input: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut events = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut has_data = false;
    let mut rest = input;
    while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        let line = &rest[..end];
        let skip = if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
        if line.is_empty() {
            if has_data {
                events.push(std::mem::take(&mut data));
                has_data = false;
            }
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if has_data {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
            has_data = true;
        }
    }
    (events, !rest.is_empty() || has_data)
}

/// Decodes `parts` one read after another: the events and whether an unfinished event is left.
pub fn decode_parts(parts: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut dec = SseDecoder::new();
    let mut events = Vec::new();
    for p in parts {
        dec.feed(p, |e| events.push(e.to_vec()));
    }
    (events, dec.has_partial())
}

/// The decoder gives the spec's events however the stream is split into reads (at `cuts`),
/// byte by byte included, and never more event bytes than the stream has.
pub fn check_decoder(input: &[u8], cuts: &[usize]) {
    let expected = reference_events(input);
    let whole = decode_parts(&[input]);
    assert_eq!(
        whole,
        expected,
        "whole stream {:?}",
        String::from_utf8_lossy(input)
    );
    let parts = super::split_at(input, cuts);
    assert_eq!(
        decode_parts(&parts),
        expected,
        "stream {:?} split at {cuts:?}",
        String::from_utf8_lossy(input)
    );
    if input.len() <= 512 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            decode_parts(&bytes),
            expected,
            "stream {:?} byte by byte",
            String::from_utf8_lossy(input)
        );
    }
    let event_bytes: usize = expected.0.iter().map(Vec::len).sum();
    assert!(event_bytes <= input.len());
}

/// The learning classifier gives, chunk after chunk, what `classify_chunk` gives.
pub fn check_classifier(chunks: &[&[u8]]) {
    let mut c = ChunkClassifier::new();
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(
            c.classify(chunk),
            classify_chunk(chunk),
            "chunk {i} {:?} of {chunks:?}",
            String::from_utf8_lossy(chunk)
        );
    }
}

/// Splits a fuzz input into chunks at `\n` (so a stream's chunks come one per line).
pub fn chunks_of(input: &[u8]) -> Vec<&[u8]> {
    input.split(|&b| b == b'\n').collect()
}
