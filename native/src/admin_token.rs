//! The admin token: the secret that guards a control plane's `/admin/*` endpoints.
//!
//! The reference server checks it (`serve --admin-token`, `SAGE_ADMIN_TOKEN`); the runner
//! sends it with every admin and `/admin/metrics` telemetry call (`--admin-token`, the same
//! variable). It is never written to any output: its `Debug` form is redacted, it has no
//! `Display`, and the header values made from it are marked sensitive.

use reqwest::header::HeaderValue;
use std::fmt;

/// The environment variable both sides read the token from.
pub const ENV: &str = "SAGE_ADMIN_TOKEN";

/// The header a client may send the token in instead of `Authorization: Bearer`.
pub const HEADER: &str = "x-admin-token";

/// Longest token accepted, in bytes.
pub const MAX_LEN: usize = 512;

/// A validated admin token: 1 to [`MAX_LEN`] visible ASCII characters (no spaces), so it can
/// travel in a header as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// Checks a token given on the command line or in [`ENV`]; the error says what is wrong
    /// without repeating the token.
    pub fn new(token: &str) -> Result<Self, String> {
        if token.is_empty() {
            return Err("the admin token is empty; give at least one character".into());
        }
        if token.len() > MAX_LEN {
            return Err(format!(
                "the admin token is {} bytes long; give at most {MAX_LEN}",
                token.len()
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the admin token must be visible ASCII characters without spaces (it is sent in an HTTP header)"
                    .into(),
            );
        }
        Ok(Self(token.to_string()))
    }

    /// `Authorization: Bearer <token>`, marked sensitive (never shown by `Debug` of a header
    /// map, nor by HTTP libraries' logs).
    pub fn bearer_header(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .expect("a validated token is a valid header value");
        v.set_sensitive(true);
        v
    }

    /// Whether a request's `Authorization: Bearer` or `X-Admin-Token` value carries this
    /// token. The comparison takes the same time wherever the values differ.
    pub fn accepts(&self, authorization: Option<&[u8]>, x_admin_token: Option<&[u8]>) -> bool {
        let bearer = authorization.and_then(|v| {
            let (scheme, rest) = v.split_at_checked(7)?;
            scheme
                .eq_ignore_ascii_case(b"bearer ")
                .then(|| rest.trim_ascii())
        });
        let mut ok = false;
        for given in [bearer, x_admin_token.map(<[u8]>::trim_ascii)]
            .into_iter()
            .flatten()
        {
            ok |= constant_time_eq(given, self.0.as_bytes());
        }
        ok
    }
}

/// Equality of two byte strings whose time depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_shown() {
        assert!(AdminToken::new("").is_err());
        assert!(AdminToken::new("has space").is_err());
        assert!(AdminToken::new("tab\there").is_err());
        assert!(AdminToken::new("é").is_err());
        assert!(AdminToken::new(&"x".repeat(MAX_LEN + 1)).is_err());
        let t = AdminToken::new("s3cret-T0KEN").unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
        let h = t.bearer_header();
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("s3cret"));
        let e = AdminToken::new("bad token").unwrap_err();
        assert!(!e.contains("bad token"), "{e}");
    }

    #[test]
    fn either_header_is_accepted() {
        let t = AdminToken::new("s3cret").unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret"), None));
        assert!(t.accepts(Some(b"bearer  s3cret "), None));
        assert!(t.accepts(None, Some(b"s3cret")));
        assert!(t.accepts(Some(b"Bearer wrong"), Some(b"s3cret")));
        assert!(!t.accepts(Some(b"Bearer s3cre"), None));
        assert!(!t.accepts(Some(b"Basic s3cret"), None));
        assert!(!t.accepts(Some(b"s3cret"), None));
        assert!(!t.accepts(None, Some(b"s3cret!")));
        assert!(!t.accepts(None, None));
    }
}
