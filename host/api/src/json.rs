//! A JSON body extractor whose errors name the offending field (`param`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Like `axum::Json`, with the contract's 400 body on bad input.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(ApiError::validation(None, "send a JSON body with `Content-Type: application/json`"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse(&bytes).map(Body)
    }
}

/// Parses JSON, reporting the path of the first bad field; a field the body type
/// does not know is refused by name, as Stripe does (never silently dropped).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    hermes_types::strict::from_slice(bytes).map_err(|r| {
        let message = if r.syntax { format!("invalid JSON: {}", r.message) } else { r.message };
        ApiError::validation(r.param, message)
    })
}

/// A body that could not be read: too large (413) or broken (400).
pub fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    use axum::response::IntoResponse;
    if e.into_response().status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        );
    }
    ApiError::validation(None, "could not read the request body")
}
