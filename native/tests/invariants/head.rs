//! The builtin client's response head parsing.

use sage_cp_bench::client::fuzzing::{BodyFraming, HeadParse, parse_response_head};

/// Whether a result is a complete head (interim or final).
fn complete_len(r: &HeadParse) -> Option<usize> {
    match r {
        HeadParse::Interim { len } | HeadParse::Final { len, .. } => Some(*len),
        HeadParse::Partial | HeadParse::Invalid(_) => None,
    }
}

/// The result of a head read in growing prefixes is the same whatever the reads: `Partial`
/// until the head is complete (then the same head, whatever follows it) or invalid (and
/// invalid after). A complete head has a length within the input, a final one a status that
/// is not interim. The heads that follow interim responses obey the same, and skipping them
/// ends. A chunked body after a final head obeys the decoder's invariants.
pub fn check_head(input: &[u8], cuts: &[usize]) {
    let mut rest = input;
    let mut interims = 0;
    loop {
        let r = parse_response_head(rest);
        check_prefixes(rest, &r, cuts);
        match r {
            HeadParse::Interim { len } => {
                assert!(
                    len > 0,
                    "an empty interim response would be skipped forever"
                );
                rest = &rest[len..];
                interims += 1;
                assert!(interims <= input.len());
            }
            HeadParse::Final {
                len,
                status,
                framing,
                ..
            } => {
                assert!(
                    !(100..200).contains(&status) || status == 101,
                    "final status {status}"
                );
                if framing == BodyFraming::Chunked {
                    super::chunked::check_decoder(&rest[len..], cuts);
                }
                if status == 204 || status == 304 {
                    assert_eq!(framing, BodyFraming::Length(0));
                }
                return;
            }
            HeadParse::Invalid(message) => {
                assert!(!message.is_empty());
                return;
            }
            HeadParse::Partial => return,
        }
    }
}

/// `r` is the result of all of `input`; its prefixes at `cuts` (every one, for short inputs)
/// must agree with it.
fn check_prefixes(input: &[u8], r: &HeadParse, cuts: &[usize]) {
    let show = || String::from_utf8_lossy(input).into_owned();
    let len = complete_len(r);
    if let Some(len) = len {
        assert!(
            len > 0 && len <= input.len(),
            "head of {len} bytes: {:?}",
            show()
        );
        assert_eq!(
            &parse_response_head(&input[..len]),
            r,
            "the head alone: {:?}",
            show()
        );
    }
    let every: Vec<usize>;
    let points = if input.len() <= 300 {
        every = (0..input.len()).collect();
        &every[..]
    } else {
        cuts
    };
    for &k in points {
        let k = k.min(input.len());
        let p = parse_response_head(&input[..k]);
        match (&p, r) {
            (HeadParse::Partial, _) => {}
            (HeadParse::Invalid(_), HeadParse::Invalid(_)) => {}
            (_, _) if len.is_some_and(|len| k >= len) => {
                assert_eq!(&p, r, "prefix of {k} bytes: {:?}", show());
            }
            _ => panic!(
                "prefix of {k} bytes gives {p:?}, all of it {r:?}: {:?}",
                show()
            ),
        }
    }
}
