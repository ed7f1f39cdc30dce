//! The reqwest transport: measured requests through the general-purpose client (TLS, and a
//! second opinion when a server and the builtin client disagree).

use super::measure::{Measure, StreamState, error_chain, error_message, is_event_stream};
use super::{Client, PreparedRequest};
use cpbench_core::record::Outcome;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

/// Sends `req` and reads the response into `m`.
pub(super) async fn exchange(
    client: &Client,
    http: &reqwest::Client,
    req: &PreparedRequest,
    m: &mut Measure,
) -> Outcome {
    let mut builder = http
        .post(format!("{}{}", client.base_url(), req.path))
        .header(CONTENT_TYPE, "application/json")
        .body(req.body_bytes());
    for (name, value) in &req.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            builder = builder.header(HeaderName::from_static(name), v);
        }
    }
    if let Some(key) = &client.options().api_key
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {key}"))
    {
        v.set_sensitive(true);
        builder = builder.header(reqwest::header::AUTHORIZATION, v);
    }
    let mut resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Connection {
                message: error_chain(&e),
            };
        }
    };
    for (name, value) in resp.headers() {
        m.read_header(name.as_str(), value.as_bytes());
    }
    let status = resp.status();
    if !status.is_success() {
        let body = read_capped(&mut resp, m, ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        m.end_us = Some(m.now_us());
        return Outcome::Http {
            status: status.as_u16(),
            message: error_message(&body),
        };
    }
    let is_sse = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| is_event_stream(v.as_bytes()));
    if req.stream && is_sse {
        read_stream(resp, m).await
    } else {
        let body = match read_capped(&mut resp, m, usize::MAX).await {
            Ok(b) => b,
            Err(outcome) => {
                m.end_us = Some(m.now_us());
                return outcome;
            }
        };
        let now = m.now_us();
        m.end_us = Some(now);
        m.first_token_us = Some(now);
        m.read_whole_body(req, &body)
    }
}

/// Error bodies are kept up to this size (the message is at their start).
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// A whole body, read chunk by chunk within the client's limit on response bodies (kept up
/// to `keep` bytes); an error outcome when the body breaks or is over the limit.
async fn read_capped(
    resp: &mut reqwest::Response,
    m: &mut Measure,
    keep: usize,
) -> Result<Vec<u8>, Outcome> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if let Some(too_large) = m.count_body(c.len()) {
                    return Err(too_large);
                }
                let room = keep.saturating_sub(body.len());
                body.extend_from_slice(&c[..c.len().min(room)]);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(Outcome::StreamBroken {
                    message: error_chain(&e),
                });
            }
        }
    }
}

async fn read_stream(mut resp: reqwest::Response, m: &mut Measure) -> Outcome {
    let mut s = StreamState::default();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                let now = m.now_us();
                m.feed_stream(&mut s, &c, now);
                if s.finished() {
                    m.end_us = Some(now);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                m.end_us = Some(m.now_us());
                return Outcome::StreamBroken {
                    message: error_chain(&e),
                };
            }
        }
    }
    if m.end_us.is_none() {
        m.end_us = Some(m.now_us());
    }
    m.finish_stream(s)
}
