//! Every error answer of the API: RFC 9457 problem details (`application/problem+json`:
//! type, title, status, detail), in words, without internal paths or stack traces.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem answer. `retry_after` (seconds) is sent as `Retry-After` with 503 and 429.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (relative to the API: `/problems/<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong with this request, and what to do.
    pub detail: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
    #[serde(skip)]
    #[schema(ignore)]
    pub allow: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self { kind: format!("/problems/{kind}"), title: title.into(), status: status.as_u16(), detail: detail.into(), retry_after: None, allow: None }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-parameter", "Bad parameter", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "bad-image", "The image cannot be used", detail)
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Upload too large",
            format!("the request body is larger than this server accepts ({}); send a smaller file", human_bytes(limit)),
        )
    }

    pub fn busy(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Server busy", detail);
        p.retry_after = Some(retry_after.max(1));
        p
    }

    pub fn shutting_down() -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting-down", "Server shutting down", "the server is stopping; retry on another replica or in a moment");
        p.retry_after = Some(5);
        p
    }

    pub fn timed_out(secs: f64) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Took too long",
            format!("the work took longer than this server's limit of {secs:.0} s and was cancelled; try a smaller max_size or the fast variant, or use POST /api/v1/jobs"),
        );
        p.retry_after = Some(1);
        p
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", "this server needs an API key: send `Authorization: Bearer <key>`")
    }

    pub fn internal(request_id: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the server could not complete this request; its log says why under request id {request_id}"),
        )
    }

    /// The answer for a runtime error met while serving `what`: the user's fault (a bad
    /// image, a bad parameter, an unknown style) in words, anything else as an internal
    /// error whose details go to the log only.
    pub fn from_error(e: &Error, request_id: &str) -> Self {
        match e {
            Error::EmptyFile { .. } | Error::UnsupportedFormat { .. } | Error::Decode { .. } | Error::TooLarge { .. } | Error::Read { .. } => {
                Self::unprocessable(e.to_string())
            }
            Error::Parameter(msg) => Self::bad_request(msg.clone()),
            Error::UnknownStyle { .. } => Self::not_found(e.to_string()),
            Error::Interrupted => Self::new(StatusCode::SERVICE_UNAVAILABLE, "cancelled", "Cancelled", "the work was cancelled before it finished"),
            other => {
                tracing::error!(request_id, "{other}");
                Self::internal(request_id)
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// `33554432` -> `32 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(32 << 20), "32 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100), "100 bytes");
    }

    #[test]
    fn internal_errors_keep_paths_out_of_the_answer() {
        let e = Error::Inference("/secret/weights/udnie.onnx: bad shape".into());
        let p = Problem::from_error(&e, "abc");
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("/secret"), "{}", p.detail);
        assert!(p.detail.contains("abc"));
    }
}
