//! Idempotency keys: the first request with a key claims it, its answer is stored
//! for replay, and a failed attempt frees the key again. The HTTP layer decides what
//! counts as the same request; this is where the claims live.

use hermes_store::Db;
use hermes_store::idempotency::{self as store, Claim};

use crate::HostError;
use crate::handle::Core;

/// The idempotency claims of every account; cheap to clone.
#[derive(Clone)]
pub struct Idempotency {
    db: Db,
}

impl Idempotency {
    /// Claims `key` for a request whose hash is `hash` (claims older than `cutoff`,
    /// RFC 3339, are forgotten), or says why it cannot: a replay, a mismatch, in progress.
    pub async fn claim(&self, account_id: &str, key: &str, hash: &str, cutoff: &str) -> Result<Claim, HostError> {
        let (a, k, h, c) = (account_id.to_string(), key.to_string(), hash.to_string(), cutoff.to_string());
        Ok(self.db.write(move |conn| store::claim(conn, &a, &k, &h, &c, &hermes_types::ids::now())).await?)
    }

    /// Stores the answer to replay for a claimed key.
    pub async fn complete(
        &self,
        account_id: &str,
        key: &str,
        status: u16,
        content_type: Option<String>,
        body: bytes::Bytes,
    ) -> Result<(), HostError> {
        let (a, k) = (account_id.to_string(), key.to_string());
        Ok(self.db.write(move |conn| store::complete(conn, &a, &k, status, content_type.as_deref(), &body)).await?)
    }

    /// Frees a claimed key (the request failed; a retry may run it again).
    pub async fn release(&self, account_id: &str, key: &str) -> Result<(), HostError> {
        let (a, k) = (account_id.to_string(), key.to_string());
        Ok(self.db.write(move |conn| store::release(conn, &a, &k)).await?)
    }
}

impl Core {
    /// The idempotency claims.
    pub fn idempotency(&self) -> Idempotency {
        Idempotency { db: self.services.db.clone() }
    }

    /// Where each of a deployment's MCP servers stands; servers never tried start
    /// connecting now, in the background.
    pub fn mcp_statuses(&self, d: &crate::Deployment) -> Vec<(String, crate::mcp::ServerStatus)> {
        self.services.mcp.statuses(&d.mcp_target())
    }
}
