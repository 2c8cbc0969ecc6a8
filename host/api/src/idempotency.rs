//! `Idempotency-Key` on POSTs: the first answer (status + body) of a key is stored
//! for 24 h per account and replayed to retries with the same request; the same key
//! with another request is 409 `conflict`. A placeholder row claims the key before
//! the request executes, so a concurrent duplicate gets 409 instead of running twice.
//! Server errors (5xx) and 429 are not stored: the key is freed and a retry executes.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState, Caller};
use hermes_core::idempotency::Idempotency;
use hermes_store::idempotency::Claim;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a key's answer is kept.
const RETENTION_HOURS: i64 = 24;
/// Largest request body buffered (the largest any route accepts).
const MAX_BODY: usize = 32 << 20;
/// Largest answer stored for replay.
const MAX_ANSWER: usize = 4 << 20;

fn conflict(message: &str) -> Response {
    ApiError::new(StatusCode::CONFLICT, "conflict", message).into_response()
}

/// Frees a claimed key if the request never completes (client gone, panic).
struct Claimed {
    store: Idempotency,
    account: String,
    key: String,
    armed: bool,
}

impl Claimed {
    async fn release(mut self) {
        self.armed = false;
        if let Err(e) = self.store.release(&self.account, &self.key).await {
            tracing::warn!(error = %e, "freeing an idempotency key failed");
        }
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, a, k) = (self.store.clone(), self.account.clone(), self.key.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { store.release(&a, &k).await });
        }
    }
}

/// The middleware (wrap the router with `axum::middleware::from_fn_with_state`).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER) else { return next.run(req).await };
    let key = match raw.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_string(),
        _ => {
            return ApiError::validation(
                Some("Idempotency-Key".into()),
                "the Idempotency-Key header must be 1–255 printable ASCII characters",
            )
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    // Unauthenticated requests are not recorded: the handler answers them (401).
    let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
                .into_response();
        }
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b"\0");
    h.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or_default().as_bytes());
    h.update(b"\0");
    h.update(&bytes);
    // The presenting key's authority is part of the request: a replay hands back the
    // original answer (a one-time `whsec_…`, say) only to a key that could have made it.
    let mut scopes = caller.scopes.clone();
    scopes.sort();
    h.update(b"\0");
    h.update(scopes.join(",").as_bytes());
    let hash = hex::encode(h.finalize());
    let cutoff = (chrono::Utc::now() - chrono::Duration::hours(RETENTION_HOURS))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    let store = state.host.idempotency();
    let claim = store.claim(&caller.account_id, &key, &hash, &cutoff).await;
    match claim {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => conflict(
            "Idempotency-Key reused with a different request (its body or path, or by a key with other scopes)",
        ),
        Ok(Claim::InProgress) => conflict("a request with this Idempotency-Key is in progress"),
        Ok(Claim::Replay(status, content_type, body)) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
        Ok(Claim::Claimed) => {
            let claimed = Claimed { store: store.clone(), account: caller.account_id.clone(), key, armed: true };
            let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let status = resp.status();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                claimed.release().await;
                return resp;
            }
            let (rparts, rbody) = resp.into_parts();
            let answer: Bytes = match axum::body::to_bytes(rbody, MAX_ANSWER).await {
                Ok(b) => b,
                Err(_) => {
                    claimed.release().await;
                    return ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "the answer was too large",
                    )
                    .into_response();
                }
            };
            let content_type =
                rparts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            let saved =
                store.complete(&claimed.account, &claimed.key, status.as_u16(), content_type, answer.clone()).await;
            match saved {
                Ok(()) => {
                    let mut claimed = claimed;
                    claimed.armed = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "storing an idempotent answer failed");
                    claimed.release().await;
                }
            }
            Response::from_parts(rparts, Body::from(answer))
        }
    }
}
