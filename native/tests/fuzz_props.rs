//! The builtin client's parsers of untrusted bytes (chunked bodies, response heads) on
//! arbitrary and near-valid input (valid samples mutated): CI's share of the fuzzing (the
//! libFuzzer targets in `fuzz/` check the same invariants, from `invariants/`).
//!
//! The case counts keep the file within a few seconds of a debug build; set `PROPTEST_CASES`
//! to run every property that many times instead.

mod invariants;
#[path = "../../core/tests/mutation/mod.rs"]
mod mutation;

use invariants::{chunked, cuts, head};
use mutation::{apply, config_with_cases, edit};
use proptest::prelude::*;

/// Tokens of HTTP/1.1 heads and chunked bodies that mutations insert.
const HTTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b": ",
    b":",
    b" ",
    b"\t",
    b";",
    b"0",
    b"f",
    b"F",
    b"ffffffffffffffff",
    b"10000000000000000",
    b"0\r\n\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"100 Continue\r\n\r\n",
    b"200 OK\r\n",
    b"204",
    b"304",
    b"101",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"X-Queue-Time-Ms: ",
    b"X-Backend-Instance: ",
    b"Content-Type: text/event-stream\r\n",
    b"-1",
    b"+5",
    b"1e3",
    b"\x00",
    b"\x7f",
    b"\xff",
];

/// Arbitrary bytes, or (mostly) a valid sample with a few edits.
fn input(bases: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        4 => (prop::sample::select(bases), prop::collection::vec(edit(), 0..4))
            .prop_map(|(base, edits)| apply(base, &edits, HTTP_TOKENS)),
    ]
}

/// Chunked bodies made of chunks of arbitrary bytes, with extensions and trailers, and
/// whatever follows the body.
fn encoded_body() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<u8>>)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(chunks, ext, trailer, after)| {
            let mut wire = Vec::new();
            for c in chunks.iter().filter(|c| !c.is_empty()) {
                wire.extend_from_slice(format!("{:X}", c.len()).as_bytes());
                if ext {
                    wire.extend_from_slice(b";a=b");
                }
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n");
            if trailer {
                wire.extend_from_slice(b"X-T: 1\r\n");
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&after);
            (wire, chunks)
        })
}

proptest! {
    #![proptest_config(config_with_cases(2000))]

    /// The chunked decoder errors or yields a body no longer than its input, the same
    /// however the input is split.
    #[test]
    fn chunked_decoder_is_bounded_and_split_invariant(
        body in input(invariants::sample_chunked_bodies()),
        seed in any::<u64>(),
    ) {
        chunked::check_decoder(&body, &cuts(seed, body.len(), 8));
    }

    /// A well-formed body decodes to its chunks, ending where it ends.
    #[test]
    fn chunked_decoder_decodes_what_was_encoded(
        (wire, chunks) in encoded_body(),
        seed in any::<u64>(),
    ) {
        chunked::check_decoder(&wire, &cuts(seed, wire.len(), 8));
        let d = chunked::decode_parts(&[&wire]);
        prop_assert!(d.done);
        prop_assert_eq!(d.payload, chunks.concat());
    }

    /// A response head parses the same however it is read, and never loops on interim
    /// responses.
    #[test]
    fn response_head_parsing_is_split_invariant(
        response in input(invariants::sample_responses()),
        seed in any::<u64>(),
    ) {
        head::check_head(&response, &cuts(seed, response.len(), 8));
    }
}

/// Writes the valid samples as seeds of the fuzz targets' corpora (`fuzz/seeds/<target>/`).
/// Run when the samples change:
/// `cargo test -p sage-cp-bench --test fuzz_props -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand when the samples change"]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    // Both targets read an 8-byte split seed first.
    let split_seed = |b: &[u8]| [&7u64.to_le_bytes()[..], b].concat();
    for (target, seeds) in [
        ("chunked", invariants::sample_chunked_bodies()),
        ("http_head", invariants::sample_responses()),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), split_seed(seed)).unwrap();
        }
    }
}
