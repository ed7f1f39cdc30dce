//! Every error the reference control plane answers, in OpenAI's shape:
//! `{"error": {"message", "type", "param", "code"}}` with `Content-Type: application/json`.
//!
//! Handlers answer [`ApiError`]s; the [`json_errors`] middleware rewrites the few error
//! answers made outside them (axum's 405 for a known path with another method, 413 for a body
//! over the limit found while reading it) and refuses a declared body over the limit before
//! it is read.

use super::http::ENDPOINTS;
use super::limits;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

/// A request-level error: HTTP status, message, and the request field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
    /// The field of the request the error is about (`param`), if one.
    pub(crate) param: Option<&'static str>,
    /// `code`; `None` takes the status's default ([`default_code`]).
    pub(crate) code: Option<&'static str>,
}

impl ApiError {
    /// An error with the status's default type and code.
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// 400 `invalid_request_error`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 400 for a request over one of the server's limits (`code: "limit_exceeded"`); the
    /// message names the limit.
    pub(crate) fn limit(param: &'static str, message: impl Into<String>) -> Self {
        Self::bad_request(message)
            .with_param(param)
            .with_code("limit_exceeded")
    }

    /// A refusal from the simulated cluster (an unknown model is 404 `model_not_found`).
    pub(crate) fn from_cluster(status: u16, message: String) -> Self {
        let e = Self::new(status, message);
        if status == 404 {
            e.with_param("model").with_code("model_not_found")
        } else {
            e
        }
    }

    /// The same error about request field `param`.
    pub(crate) fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// The same error with `code`.
    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": error_type(self.status),
            "param": self.param,
            "code": self.code.or_else(|| default_code(self.status)),
        }})
    }
}

/// OpenAI's `type` for a status.
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        429 => "rate_limit_error",
        503 => "service_unavailable_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// The `code` of a status when the error does not name one.
fn default_code(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("invalid_admin_token"),
        404 => Some("not_found"),
        405 => Some("method_not_allowed"),
        413 => Some("request_too_large"),
        415 => Some("unsupported_media_type"),
        429 => Some("rate_limit_exceeded"),
        503 => Some("no_instance_available"),
        _ => None,
    }
}

/// A JSON answer; `request_id` is echoed as `X-Request-ID`.
pub(crate) fn json_response(
    status: u16,
    body: &Value,
    request_id: Option<&HeaderValue>,
) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(id) = request_id {
        resp.headers_mut()
            .insert(super::http::X_REQUEST_ID, id.clone());
    }
    resp
}

/// The answer to an error.
pub(crate) fn error_response(err: &ApiError, request_id: Option<&HeaderValue>) -> Response {
    json_response(err.status, &err.body(), request_id)
}

/// The 413 for a body over [`limits::MAX_BODY_BYTES`]; the connection is closed after it,
/// since the rest of the body is not read.
fn too_large() -> Response {
    let mut resp = error_response(
        &ApiError::new(
            413,
            format!(
                "the request body is larger than this server's limit of {} bytes ({} MiB)",
                limits::MAX_BODY_BYTES,
                limits::MAX_BODY_BYTES >> 20
            ),
        ),
        None,
    );
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Refuses a declared body over the limit before reading it, and turns every error answer
/// that is not JSON yet into an OpenAI error body (keeping its status and headers; axum adds
/// 405's `Allow` after this).
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits::MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) {
        return resp;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    let (mut parts, body) = resp.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = ENDPOINTS
                .iter()
                .find(|(p, _)| *p == uri.path())
                .map_or("another method", |(_, m)| m);
            format!(
                "method {method} is not allowed on {}; use {allowed}",
                uri.path()
            )
        }
        _ => {
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            if text.trim().is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_string()
            } else {
                text.trim().to_string()
            }
        }
    };
    let err = ApiError::new(status.as_u16(), message);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(err.body().to_string())
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_every_field_and_the_status_defaults() {
        let b = ApiError::bad_request("bad").body();
        assert_eq!(
            b,
            json!({"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}})
        );
        let b = ApiError::from_cluster(404, "no model m".into()).body();
        assert_eq!(b["error"]["code"], "model_not_found");
        assert_eq!(b["error"]["param"], "model");
        let b = ApiError::new(404, "no path").body();
        assert_eq!(b["error"]["code"], "not_found");
        assert_eq!(
            ApiError::new(401, "x").body()["error"]["type"],
            "authentication_error"
        );
        assert_eq!(
            ApiError::new(503, "x").body()["error"]["type"],
            "service_unavailable_error"
        );
        assert_eq!(
            ApiError::new(500, "x").body()["error"]["type"],
            "server_error"
        );
        let b = ApiError::limit("dimensions", "too many").body();
        assert_eq!(b["error"]["code"], "limit_exceeded");
        assert_eq!(b["error"]["param"], "dimensions");
        assert_eq!(b["error"]["type"], "invalid_request_error");
    }
}
