//! The one place API errors are rendered: `{"error", "message", "param"?}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use hermes_core::HostError;

/// An error answered to a REST client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    param: Option<String>,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), param: None, retry_after: None }
    }

    /// 400 `validation_error`, naming the field.
    pub fn validation(param: Option<String>, message: impl Into<String>) -> ApiError {
        ApiError { param, ..ApiError::new(StatusCode::BAD_REQUEST, "validation_error", message) }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`, naming the missing scope.
    pub fn forbidden(scope: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("this API key lacks the `{scope}` scope"))
    }

    /// 429 `rate_limited` with `Retry-After: retry_after` (seconds).
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<HostError> for ApiError {
    fn from(e: HostError) -> ApiError {
        match e {
            HostError::Validation { message, param } => ApiError::validation(param, message),
            HostError::NotFound(m) => ApiError::not_found(m),
            HostError::Forbidden { message, .. } => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            HostError::NotReady(m) => ApiError::new(StatusCode::CONFLICT, "deployment_not_ready", m),
            HostError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            HostError::InvalidPlugin(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plugin", m),
            HostError::InvalidSkill(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_skill", m),
            HostError::InvalidSecretRef { message, param } => ApiError {
                param: Some(param),
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret_ref", message)
            },
            HostError::RateLimited { message, retry_after } => ApiError::rate_limited(message, retry_after),
            HostError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m),
            HostError::InsufficientCredits(m) => ApiError::new(StatusCode::PAYMENT_REQUIRED, "insufficient_credits", m),
            other => {
                // Details go to the log, never to the client.
                tracing::error!(error = %other, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the server failed; retry later")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: self.code, message: &self.message, param: self.param.as_deref() };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
