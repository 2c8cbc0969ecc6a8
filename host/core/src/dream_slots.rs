//! The live dream of each deployment (at most one), cancellable: dreaming claims a
//! slot, a user message or a deletion cancels it.

use hermes_types::sync::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// The live dream of each deployment (at most one), cancellable.
#[derive(Clone, Default)]
pub(crate) struct Dreams {
    live: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

/// Holds a deployment's dream slot; frees it when dropped.
pub(crate) struct Claim {
    dreams: Dreams,
    deployment_id: String,
    pub(crate) cancel: CancellationToken,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.dreams.live.locked().remove(&self.deployment_id);
    }
}

impl Dreams {
    pub(crate) fn claim(&self, deployment_id: &str) -> Option<Claim> {
        let mut live = self.live.locked();
        if live.contains_key(deployment_id) {
            return None;
        }
        let cancel = CancellationToken::new();
        live.insert(deployment_id.to_string(), cancel.clone());
        Some(Claim { dreams: self.clone(), deployment_id: deployment_id.to_string(), cancel })
    }

    /// Cancels the deployment's live dream, if any (the deployment is being deleted).
    pub(crate) fn cancel(&self, deployment_id: &str) {
        if let Some(token) = self.live.locked().get(deployment_id) {
            token.cancel();
        }
    }

    /// A user message arrived: the deployment's live dream (if any) is cancelled.
    pub(crate) fn yield_to_user(&self, deployment_id: &str) {
        if let Some(token) = self.live.locked().get(deployment_id) {
            tracing::info!(deployment_id, "a user message arrived; cancelling the dream");
            token.cancel();
        }
    }
}
