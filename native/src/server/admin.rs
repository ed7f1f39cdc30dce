//! The admin API (`/admin/set_policy`, `/admin/policy`, `/admin/metrics`, `/admin/reset`,
//! `/admin/time`)
//! and `GET /metrics`, and what protects the admin API.
//!
//! A web page open in the user's browser can send requests to a server on the user's
//! machine. Without a preflight it can only send a "simple" request: a POST whose
//! `Content-Type` is `text/plain`, a form type, or absent. So every admin POST must say
//! `Content-Type: application/json` (415 otherwise), which a page can only send after a CORS
//! preflight this server never grants. With an admin token (`serve --admin-token`,
//! `SAGE_ADMIN_TOKEN`), every `/admin/*` request must also carry it, as
//! `Authorization: Bearer <token>` or `X-Admin-Token: <token>` (401 otherwise).

use super::driver::Command;
use super::errors::{ApiError, error_response, json_response};
use super::http::{AppState, ask};
use crate::admin_token;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cpbench_core::cluster::POLICY_NAMES;
use serde::Deserialize;
use serde_json::json;

/// Whether `path` is under `/admin`.
fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Refuses every `/admin/*` request without the admin token, when the server has one.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.admin_token
        && is_admin(req.uri().path())
    {
        let h = req.headers();
        let authorization = h.get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
        let x_admin = h.get(admin_token::HEADER).map(HeaderValue::as_bytes);
        if !token.accepts(authorization, x_admin) {
            let what = if authorization.is_some() || x_admin.is_some() {
                "the admin token sent is not this server's"
            } else {
                "this server's admin API needs its admin token"
            };
            let mut resp = error_response(
                &ApiError::new(
                    401,
                    format!(
                        "{what}: send it as `Authorization: Bearer <token>` or `X-Admin-Token: <token>` \
                         (the runner: --admin-token or {})",
                        admin_token::ENV
                    ),
                ),
                None,
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sage-cp-bench admin\""),
            );
            return resp;
        }
    }
    next.run(req).await
}

/// 415 unless the request says `Content-Type: application/json` (parameters such as
/// `charset` allowed).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let ok = given.as_deref().is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if ok {
        return Ok(());
    }
    let got = given.map_or_else(|| "none".to_string(), |v| format!("`{v}`"));
    Err(ApiError::new(
        415,
        format!(
            "admin requests that change the control plane need `Content-Type: application/json` (got {got}); \
             this keeps web pages from sending them"
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct SetPolicyBody {
    policy: String,
}

pub(crate) async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = require_json(&headers) {
        return error_response(&e, None);
    }
    let b: SetPolicyBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let what = if e.is_syntax() || e.is_eof() {
                "malformed JSON body"
            } else {
                "invalid request body (expected {\"policy\": \"<name>\"})"
            };
            return error_response(&ApiError::bad_request(format!("{what}: {e}")), None);
        }
    };
    let name = b.policy.clone();
    match ask(&state, |reply| Command::SetPolicy { name, reply }).await {
        Ok(Ok(previous)) => {
            tracing::info!(policy = %b.policy, %previous, "policy set");
            json_response(
                200,
                &json!({"policy": b.policy, "previous": previous}),
                None,
            )
        }
        Ok(Err(e)) => error_response(
            &ApiError::bad_request(e.to_string()).with_param("policy"),
            None,
        ),
        Err(e) => error_response(&e, None),
    }
}

pub(crate) async fn get_policy(State(state): State<AppState>) -> Response {
    match ask(&state, |reply| Command::Policy { reply }).await {
        Ok(policy) => json_response(
            200,
            &json!({"policy": policy, "available": POLICY_NAMES}),
            None,
        ),
        Err(e) => error_response(&e, None),
    }
}

/// `GET /admin/time`: the server's wall clock in unix milliseconds (`{"unix_ms": ...}`),
/// read as the request is answered, for the shards' round-trip clock check.
pub(crate) async fn time() -> Response {
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    json_response(200, &json!({ "unix_ms": unix_ms }), None)
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    match ask(&state, |reply| Command::Metrics { reply }).await {
        Ok(m) => match serde_json::to_value(&m) {
            Ok(v) => json_response(200, &v, None),
            Err(e) => error_response(
                &ApiError::new(500, format!("metrics did not serialize: {e}")),
                None,
            ),
        },
        Err(e) => error_response(&e, None),
    }
}

/// `GET /metrics`: the same snapshot in the Prometheus text format (not under `/admin`: it
/// is read-only and scraped by tools that send no token).
pub(crate) async fn prometheus_metrics(State(state): State<AppState>) -> Response {
    match ask(&state, |reply| Command::Metrics { reply }).await {
        Ok(m) => {
            let mut resp = Response::new(Body::from(super::prometheus::render(&m)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::prometheus::CONTENT_TYPE),
            );
            resp
        }
        Err(e) => error_response(&e, None),
    }
}

pub(crate) async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = require_json(&headers) {
        return error_response(&e, None);
    }
    match ask(&state, |reply| Command::Reset { reply }).await {
        Ok(()) => {
            tracing::debug!("counters reset");
            json_response(200, &json!({"status": "ok"}), None)
        }
        Err(e) => error_response(&e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(v: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = v {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_json_content_types_pass() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            assert!(require_json(&with_type(Some(ok))).is_ok(), "{ok}");
        }
        for bad in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
            None,
        ] {
            let e = require_json(&with_type(bad)).unwrap_err();
            assert_eq!(e.status, 415, "{bad:?}");
        }
    }

    #[test]
    fn admin_paths() {
        assert!(is_admin("/admin/set_policy"));
        assert!(is_admin("/admin"));
        assert!(is_admin("/admin/unknown"));
        assert!(!is_admin("/administrator"));
        assert!(!is_admin("/metrics"));
        assert!(!is_admin("/v1/admin/x"));
    }
}
