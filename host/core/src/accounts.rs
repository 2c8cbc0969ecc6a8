//! Accounts, API keys and credits — usable without a running host (the CLI's
//! `keys` and `credits` commands open only the database).

use hermes_types::sync::Locked;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{DEFAULT_ACCOUNT, HostError};
use hermes_store::{Db, accounts};

/// Account administration over the store.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    /// Recently authenticated keys by hash. A key revoked through this process is
    /// dropped at once; one revoked by another process (the CLI) stops working
    /// within [`KEY_CACHE_TTL`].
    cache: Arc<Mutex<HashMap<String, (accounts::KeyRow, Instant)>>>,
}

/// How long an authenticated key is trusted without asking the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most cached keys (the cache is cleared when it fills).
const KEY_CACHE_MAX: usize = 10_000;

impl Accounts {
    /// Opens the database of a data directory (creating it if needed).
    pub async fn open(data_dir: &Path) -> Result<Accounts, HostError> {
        std::fs::create_dir_all(data_dir).map_err(HostError::io(format!("creating {}", data_dir.display())))?;
        let path = data_dir.join("hermes.db");
        let db = tokio::task::spawn_blocking(move || Db::open(&path)).await.map_err(|e| HostError::Io {
            context: "opening the database".into(),
            source: std::io::Error::other(e),
        })??;
        Ok(Accounts::new(db))
    }

    pub(crate) fn new(db: Db) -> Accounts {
        Accounts { db, cache: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// On a store with no accounts, creates [`DEFAULT_ACCOUNT`] with `credits` and
    /// one key holding every scope; returns that key (the only time it is shown).
    pub async fn bootstrap(&self, credits: i64) -> Result<Option<String>, HostError> {
        let secret = crate::keys::generate();
        let hash = crate::keys::hash(&secret);
        let row = accounts::KeyRow {
            id: hermes_types::ids::new_id("key"),
            account_id: DEFAULT_ACCOUNT.into(),
            name: Some("admin".into()),
            prefix: secret[..8].to_string(),
            scopes: vec!["*".into()],
            created_at: hermes_types::ids::now(),
            revoked_at: None,
        };
        let created = self
            .db
            .write(move |conn| {
                if accounts::count(conn)? > 0 {
                    return Ok(false);
                }
                accounts::ensure_account(conn, DEFAULT_ACCOUNT, credits, &hermes_types::ids::now())?;
                accounts::insert_key(conn, &row, &hash)?;
                Ok(true)
            })
            .await?;
        Ok(created.then_some(secret))
    }

    /// Creates a key for `account_id` (created if missing); returns the row and the secret.
    pub async fn create_key(
        &self,
        account_id: &str,
        scopes: &[String],
        name: Option<String>,
    ) -> Result<(accounts::KeyRow, String), HostError> {
        let scopes = crate::keys::parse_scopes(scopes)?;
        let secret = crate::keys::generate();
        let hash = crate::keys::hash(&secret);
        let row = accounts::KeyRow {
            id: hermes_types::ids::new_id("key"),
            account_id: account_id.to_string(),
            name,
            prefix: secret[..8].to_string(),
            scopes,
            created_at: hermes_types::ids::now(),
            revoked_at: None,
        };
        let stored = row.clone();
        self.db
            .write(move |conn| {
                accounts::ensure_account(conn, &stored.account_id, 0, &hermes_types::ids::now())?;
                accounts::insert_key(conn, &stored, &hash)
            })
            .await?;
        Ok((row, secret))
    }

    /// The live key matching a presented secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<accounts::KeyRow>, HostError> {
        let hash = crate::keys::hash(secret);
        if let Some((row, at)) = self.cache.locked().get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(row.clone()));
        }
        let key = hash.clone();
        let row = self.db.read(move |conn| accounts::key_by_hash(conn, &key)).await?;
        let mut cache = self.cache.locked();
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        match &row {
            Some(r) => cache.insert(hash, (r.clone(), Instant::now())),
            None => cache.remove(&hash),
        };
        Ok(row)
    }

    /// Keys of an account.
    pub async fn list_keys(&self, account_id: &str) -> Result<Vec<accounts::KeyRow>, HostError> {
        let id = account_id.to_string();
        Ok(self.db.read(move |conn| accounts::list_keys(conn, &id)).await?)
    }

    /// Revokes a key.
    pub async fn revoke_key(&self, account_id: &str, key_id: &str) -> Result<(), HostError> {
        let (a, k) = (account_id.to_string(), key_id.to_string());
        if self.db.write(move |conn| accounts::revoke_key(conn, &a, &k, &hermes_types::ids::now())).await? {
            self.cache.locked().retain(|_, (row, _)| row.id != key_id);
            Ok(())
        } else {
            Err(HostError::NotFound(format!("key {key_id} not found (or already revoked)")))
        }
    }

    /// Sets or adds to an account's credits; returns the new balance.
    pub async fn set_credits(&self, account_id: &str, amount: i64, add: bool) -> Result<i64, HostError> {
        let id = account_id.to_string();
        self.db
            .write(move |conn| {
                accounts::ensure_account(conn, &id, 0, &hermes_types::ids::now())?;
                accounts::set_credits(conn, &id, amount, add)
            })
            .await
            .map_err(HostError::from)
    }

    /// Limits an account's deployments to these model providers (`None`: every one
    /// the host configures). Applies to deployments created or changed from now on,
    /// and to every model call from now on.
    pub async fn set_providers(&self, account_id: &str, providers: Option<Vec<String>>) -> Result<(), HostError> {
        let id = account_id.to_string();
        self.db
            .write(move |conn| {
                accounts::ensure_account(conn, &id, 0, &hermes_types::ids::now())?;
                accounts::set_providers(conn, &id, &providers)
            })
            .await?;
        Ok(())
    }

    /// An account's provider allowlist (`None`: every provider).
    pub async fn providers(&self, account_id: &str) -> Result<Option<Vec<String>>, HostError> {
        let id = account_id.to_string();
        Ok(self.db.read(move |conn| accounts::providers(conn, &id)).await?)
    }

    /// An account's credit balance.
    pub async fn credits(&self, account_id: &str) -> Result<i64, HostError> {
        let id = account_id.to_string();
        self.db
            .read(move |conn| accounts::credits(conn, &id))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("account {account_id} not found")))
    }
}

/// Refuses `model` (`provider/model`) when the account may not use its provider.
pub(crate) async fn check_provider(db: &hermes_store::Db, account_id: &str, model: &str) -> Result<(), String> {
    let id = account_id.to_string();
    let allowed = db.read(move |conn| accounts::providers(conn, &id)).await.map_err(|e| e.to_string())?;
    let provider = model.split('/').next().unwrap_or_default();
    match allowed {
        Some(list) if !list.iter().any(|p| p == provider) => Err(format!(
            "model provider {provider:?} is not enabled for this account; enabled: {}",
            if list.is_empty() { "none".to_string() } else { list.join(", ") }
        )),
        _ => Ok(()),
    }
}
