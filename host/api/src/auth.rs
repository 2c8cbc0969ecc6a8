//! The auth extractor: `Authorization: Bearer <key>` → account and scopes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use hermes_core::keys;

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's account.
    pub account_id: String,
    /// The key's scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// What the key may do to a deployment beyond `deployments:write`.
    pub fn authority(&self) -> hermes_core::deployments::Authority {
        hermes_core::deployments::Authority { route_secrets: keys::allows(&self.scopes, "secrets:write") }
    }

    /// Fails with 403 unless the key holds `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if keys::allows(&self.scopes, scope) { Ok(()) } else { Err(ApiError::forbidden(scope)) }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <api key>` header"))?;
        let value = header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <api key>`"))?;
        authenticate(state, secret).await
    }
}

/// The caller presenting `secret`, counted against its key's request rate.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<Caller, ApiError> {
    // Lookup is by SHA-256 of the presented key: no comparison of secret bytes
    // happens at all, so there is nothing to time.
    let key = state
        .host
        .accounts()
        .authenticate(secret)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))?;
    // After authentication, so only real keys take a bucket.
    state.tenancy.admit(&key.id)?;
    Ok(Caller { account_id: key.account_id, scopes: key.scopes })
}
