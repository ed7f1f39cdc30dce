//! Shared by the property tests of parsers of untrusted bytes (`core` and, by path,
//! `native`): the case count and mutations of valid samples.
#![allow(dead_code, unreachable_pub)]

use proptest::prelude::*;

/// `default` cases, or `PROPTEST_CASES` when set.
pub fn config_with_cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string; positions are taken modulo its length.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Insert a token of the format's dictionary.
    InsertToken(usize, usize),
    /// Insert arbitrary bytes.
    InsertBytes(usize, Vec<u8>),
    /// Remove up to this many bytes.
    Remove(usize, usize),
    /// Replace one byte.
    Replace(usize, u8),
    /// Copy a span elsewhere.
    Duplicate(usize, usize, usize),
    /// Cut the end off.
    Truncate(usize),
}

/// One random edit.
pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), any::<usize>()).prop_map(|(at, t)| Edit::InsertToken(at, t)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, b)| Edit::InsertBytes(at, b)),
        2 => (any::<usize>(), 1usize..16).prop_map(|(at, n)| Edit::Remove(at, n)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
        1 => (any::<usize>(), 1usize..32, any::<usize>())
            .prop_map(|(from, n, to)| Edit::Duplicate(from, n, to)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// `bytes` with `edits` applied in order, inserted tokens taken from `tokens`.
pub fn apply(mut bytes: Vec<u8>, edits: &[Edit], tokens: &[&[u8]]) -> Vec<u8> {
    for e in edits {
        let at = |i: usize, len: usize| i % (len + 1);
        let len = bytes.len();
        match e {
            Edit::InsertToken(i, t) => {
                let i = at(*i, len);
                bytes.splice(i..i, tokens[t % tokens.len()].iter().copied());
            }
            Edit::InsertBytes(i, b) => {
                let i = at(*i, len);
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Remove(i, n) => {
                let i = at(*i, len);
                bytes.drain(i..(i + n).min(len));
            }
            Edit::Replace(i, b) if len > 0 => bytes[i % len] = *b,
            Edit::Replace(..) => {}
            Edit::Duplicate(from, n, to) => {
                let from = at(*from, len);
                let span = bytes[from..(from + n).min(len)].to_vec();
                let to = at(*to, len);
                bytes.splice(to..to, span);
            }
            Edit::Truncate(i) => bytes.truncate(at(*i, len)),
        }
    }
    bytes
}
