//! The parsers of untrusted bytes on arbitrary and near-valid input (valid samples mutated):
//! CI's share of the fuzzing (the libFuzzer targets in `fuzz/` check the same invariants, from
//! `invariants/`, for as long as they are run).
//!
//! The case counts keep the whole file within a few seconds of a debug build; set
//! `PROPTEST_CASES` to run every property that many times instead.

mod invariants;
mod mutation;

use invariants::{config, cuts, dataset, report, samples, sse};
use mutation::{apply, config_with_cases, edit};
use proptest::prelude::*;

/// A valid sample with a few edits: inserted format tokens, removed, replaced or duplicated
/// spans, a cut end.
fn mutated(
    bases: Vec<Vec<u8>>,
    tokens: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(bases),
        prop::collection::vec(edit(), 0..4),
    )
        .prop_map(move |(base, edits)| apply(base, &edits, tokens))
}

/// Arbitrary bytes, or a mutated sample (mostly).
fn input(bases: Vec<Vec<u8>>, tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        4 => mutated(bases, tokens),
    ]
}

fn text_bases(texts: Vec<String>) -> Vec<Vec<u8>> {
    texts.into_iter().map(String::into_bytes).collect()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SSE_TOKENS: &[&[u8]] = &[
    b"data:",
    b"data: ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b":",
    b" ",
    b"\xEF\xBB\xBF",
    b"\xEF",
    b"event: x\n",
    b"[DONE]",
    b"data",
    b"\r\n\r\n",
];

const JSON_TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-0",
    b"1e400",
    b"-1",
    b"18446744073709551616",
    b"4294967296",
    b"0.5",
    b"true",
    b"\"content\":",
    b"\"text\":",
    b"\"cont\\u0065nt\":",
    b"\"t\\u0065xt\":",
    b"\"x\":{\"text\":\"a\"},",
    b"\"usage\":",
    b"\"error\":",
    b"\n",
    b"\x01",
    b"\xff",
    b"\xc3\xa9",
];

const YAML_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\n  ",
    b": ",
    b"- ",
    b"~",
    b"null",
    b".nan",
    b".inf",
    b"-.inf",
    b"-1",
    b"0",
    b"1e309",
    b"18446744073709551616",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!str ",
    b"'",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"#",
    b"\t",
    b"---\n",
    b"HIGH",
    b"pattern: trace",
    b"dist: empirical",
    b"mode: hybrid\n",
    b"\xff",
];

proptest! {
    #![proptest_config(config_with_cases(1500))]

    /// The SSE decoder gives the spec's events however the stream is split.
    #[test]
    fn sse_decoder_is_split_invariant_and_follows_the_spec(
        stream in input(samples::sse_streams(), SSE_TOKENS),
        seed in any::<u64>(),
    ) {
        sse::check_decoder(&stream, &cuts(seed, stream.len(), 8));
    }

    /// The learning classifier equals `classify_chunk`, chunk after chunk.
    #[test]
    fn chunk_classifier_equals_classify_chunk(
        lines in input(samples::chunk_lines(), JSON_TOKENS),
    ) {
        sse::check_classifier(&sse::chunks_of(&lines));
    }
}

proptest! {
    #![proptest_config(config_with_cases(400))]

    /// A config text parses or names the problem; a parsed config validates or names its
    /// fields; a valid one reads back equal.
    #[test]
    fn config_parsing_never_panics_and_names_fields(
        text in input(text_bases(samples::configs()), YAML_TOKENS),
    ) {
        config::check_config(&lossy(&text));
    }

    /// Config text mutated with JSON's tokens (JSON configs, flow mappings).
    #[test]
    fn config_json_parsing_never_panics_and_names_fields(
        text in mutated(text_bases(samples::configs()), JSON_TOKENS),
    ) {
        config::check_config(&lossy(&text));
    }

    /// A cluster spec parses and validates or names the field; a valid one reads back equal.
    #[test]
    fn cluster_spec_parsing_never_panics_and_names_fields(
        text in input(text_bases(samples::clusters()), YAML_TOKENS),
    ) {
        config::check_cluster(&lossy(&text));
    }

}

proptest! {
    #![proptest_config(config_with_cases(1500))]

    /// Datasets of either format parse or say which line or entry is wrong.
    #[test]
    fn dataset_parsing_never_panics(bytes in input(samples::datasets(), JSON_TOKENS)) {
        dataset::check_dataset(&bytes);
    }

    /// Traces parse sorted and finite, or say which line is wrong.
    #[test]
    fn trace_parsing_never_panics(bytes in input(samples::traces(), JSON_TOKENS)) {
        dataset::check_trace(&bytes);
    }
}

proptest! {
    #![proptest_config(config_with_cases(150))]

    /// A result file of any version loads or not; a loaded report writes and loads back equal.
    #[test]
    fn report_loading_never_panics_and_round_trips(
        text in input(text_bases(samples::reports()), JSON_TOKENS),
    ) {
        report::check_report(&lossy(&text));
    }
}

/// Writes the valid samples as seeds of the fuzz targets' corpora (`fuzz/seeds/<target>/`).
/// Run when the samples change:
/// `cargo test -p cpbench-core --test fuzz_props -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand when the samples change"]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    // The SSE and chunked targets read an 8-byte split seed first.
    let split_seed = |b: &[u8]| [&7u64.to_le_bytes()[..], b].concat();
    let sets: [(&str, Vec<Vec<u8>>); 7] = [
        (
            "sse_decoder",
            samples::sse_streams()
                .iter()
                .map(|s| split_seed(s))
                .collect(),
        ),
        ("chunk_classifier", samples::chunk_lines()),
        ("config", text_bases(samples::configs())),
        ("cluster_spec", text_bases(samples::clusters())),
        ("dataset", samples::datasets()),
        ("trace", samples::traces()),
        ("report", text_bases(samples::reports())),
    ];
    for (target, seeds) in sets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    }
}
