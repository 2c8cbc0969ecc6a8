//! Health, readiness, the account, and the 404 fallback.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::schema::{AccountObject, ErrorBody, StatusBody};
use super::{ApiError, AppState, Caller};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()), responses((status = 200, description = "Alive", body = StatusBody)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()), responses(
    (status = 200, description = "Ready", body = StatusBody),
    (status = 503, description = "The store is not answering", body = ErrorBody),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.host.metrics().await.map_err(|_| {
        ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the store is not answering")
    })?;
    Ok(Json(json!({"status": "ready"})))
}

/// `GET /v1/account`: the caller's account and balance.
#[utoipa::path(get, path = "/v1/account", tag = "account", summary = "The caller's account", responses(
    (status = 200, description = "Account and balance", body = AccountObject),
    (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    (status = 404, description = "The account has no record yet", body = ErrorBody),
))]
pub async fn account(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let credits = state.host.accounts().credits(&caller.account_id).await?;
    Ok(Json(json!({"account_id": caller.account_id, "credits": credits, "scopes": caller.scopes})))
}

/// Unknown routes answer in the contract's shape.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "system", security(()), responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
    (status = 500, description = "The store failed", body = ErrorBody),
))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    // Present when served with connect info (the binary); an embedder's own server may not.
    let peer = super::serve::peer(&extensions);
    // Metrics name deployments and load: a token when one is configured, else loopback only.
    match state.host.metrics_token() {
        Some(token) => {
            let presented = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            let same = presented.len() == token.len()
                && presented.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if !same {
                return Err(ApiError::unauthorized("/metrics needs `Authorization: Bearer <HERMES_METRICS_TOKEN>`"));
            }
        }
        None if peer.is_some_and(|p| p.ip().is_loopback()) => {}
        None => {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "/metrics answers loopback clients only; set HERMES_METRICS_TOKEN to serve it to others",
            ));
        }
    }
    let body = state.host.metrics().await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
