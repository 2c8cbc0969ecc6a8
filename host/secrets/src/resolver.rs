//! [`Secrets`]: the one holder of the master key. Everything that seals or opens a
//! secret — the secrets API, MCP header substitution, webhook signing, a run's
//! scrubber — goes through it, so the key's uses can be read in one file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use hermes_store::{Db, StoreError, secrets as store};

use crate::crypto::{CryptoError, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, SecretValue};
use crate::scrub::Scrubber;

/// What can go wrong sealing, opening or resolving secrets.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The master key could not be loaded or created.
    #[error("loading the secrets master key: {0}")]
    MasterKey(#[source] CryptoError),
    /// Stored secrets exist that this master key cannot open.
    #[error(
        "the secrets master key does not match the one stored secrets were encrypted with (secret {0} does not \
         decrypt); start with the original {MASTER_KEY_ENV} or {MASTER_KEY_FILE}"
    )]
    WrongMasterKey(String),
    /// A deployment maps `name` to a secret id the account does not have.
    #[error("Secret reference {id} does not exist")]
    Missing {
        /// The env-style name the deployment maps.
        name: String,
        /// The `sec_…` id it maps to.
        id: String,
    },
    /// A stored value does not decrypt (tampered row or wrong key).
    #[error("secret {id} ({name}): {source}")]
    Undecryptable {
        /// The env-style name, or the object the blob belongs to.
        name: String,
        /// The id the blob is bound to.
        id: String,
        /// Why it did not open.
        #[source]
        source: CryptoError,
    },
    /// Reading the sealed values failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seals and opens secret values; cheap to clone.
#[derive(Clone)]
pub struct Secrets {
    db: Db,
    key: Arc<MasterKey>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { key: [redacted] }")
    }
}

impl Secrets {
    /// Loads the master key (`HERMES_MASTER_KEY` in `env`, else `<data-dir>/master.key`,
    /// created on first start) and checks it opens what is already stored: a changed
    /// key is a start-up error, not a surprise at the next run.
    pub async fn open(db: Db, data_dir: &Path, env: &HashMap<String, String>) -> Result<Secrets, SecretsError> {
        let key = MasterKey::load(data_dir, env).map_err(SecretsError::MasterKey)?;
        let secrets = Secrets { db, key: Arc::new(key) };
        secrets.check_key().await?;
        Ok(secrets)
    }

    /// A resolver over `db` with an explicit key (tests, embedders with a KMS).
    pub fn with_key(db: Db, key: MasterKey) -> Secrets {
        Secrets { db, key: Arc::new(key) }
    }

    async fn check_key(&self) -> Result<(), SecretsError> {
        if let Some((account, id, blob)) = self.db.read(store::sample).await?
            && self.key.decrypt(&account, &id, &blob).is_err()
        {
            return Err(SecretsError::WrongMasterKey(id));
        }
        Ok(())
    }

    /// Encrypts `value` bound to the row `(owner, id)` (an account's secret, a webhook
    /// endpoint's signing secret): the blob opens only for that pair.
    pub fn seal(&self, owner: &str, id: &str, value: &SecretValue) -> Vec<u8> {
        self.key.encrypt(owner, id, value)
    }

    /// Opens a blob [`Secrets::seal`] made for `(owner, id)`.
    pub fn unseal(&self, owner: &str, id: &str, blob: &[u8]) -> Result<SecretValue, SecretsError> {
        self.key.decrypt(owner, id, blob).map_err(|source| SecretsError::Undecryptable {
            name: id.to_string(),
            id: id.to_string(),
            source,
        })
    }

    /// The first `name → id` of `refs` whose id the account does not have, if any.
    pub async fn missing(
        &self,
        account_id: &str,
        refs: &BTreeMap<String, String>,
    ) -> Result<Option<(String, String)>, SecretsError> {
        if refs.is_empty() {
            return Ok(None);
        }
        let (account, wanted) = (account_id.to_string(), refs.clone());
        Ok(self
            .db
            .read(move |conn| {
                for (name, id) in &wanted {
                    if store::get(conn, &account, id)?.is_none() {
                        return Ok(Some((name.clone(), id.clone())));
                    }
                }
                Ok(None)
            })
            .await?)
    }

    /// Decrypts the secrets `refs` maps (`ENV_NAME → sec_…`) for the account, by name.
    pub async fn values(
        &self,
        account_id: &str,
        refs: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, SecretValue)>, SecretsError> {
        Ok(self.release(account_id, refs).await?.into_iter().map(|r| (r.name, r.value)).collect())
    }

    /// Decrypts the secrets `refs` maps, each with the hosts it may be sent to: what
    /// every path that puts a secret on the wire (MCP headers, plugin HTTP) holds, so
    /// one check ([`Released::may_go_to`]) guards them all.
    pub async fn release(
        &self,
        account_id: &str,
        refs: &BTreeMap<String, String>,
    ) -> Result<Vec<Released>, SecretsError> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let (account, wanted) = (account_id.to_string(), refs.clone());
        let rows = self
            .db
            .read(move |conn| {
                let mut rows = Vec::with_capacity(wanted.len());
                for (name, id) in wanted {
                    rows.push((name, id.clone(), store::get(conn, &account, &id)?));
                }
                Ok(rows)
            })
            .await?;
        let mut values = Vec::with_capacity(rows.len());
        for (name, id, row) in rows {
            let Some(row) = row else { return Err(SecretsError::Missing { name, id }) };
            let value = self
                .key
                .decrypt(&row.account_id, &row.id, &row.ciphertext)
                .map_err(|source| SecretsError::Undecryptable { name: name.clone(), id, source })?;
            values.push(Released { name, id: row.id, value, allowed_hosts: row.allowed_hosts });
        }
        Ok(values)
    }

    /// The scrubber holding the values `refs` maps: what a run's outputs are cleaned with.
    pub async fn scrubber(&self, account_id: &str, refs: &BTreeMap<String, String>) -> Result<Scrubber, SecretsError> {
        Ok(Scrubber::new(self.values(account_id, refs).await?))
    }
}

/// A decrypted secret on its way to a destination, with where it may go.
pub struct Released {
    /// The env name the deployment binds it to.
    pub name: String,
    /// `sec_…`
    pub id: String,
    /// The value.
    pub value: SecretValue,
    /// Host patterns it may be sent to (`None`: any host).
    pub allowed_hosts: Option<Vec<String>>,
}

impl std::fmt::Debug for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Released({} = {}, allowed_hosts: {:?})", self.name, self.id, self.allowed_hosts)
    }
}

impl Released {
    /// Whether the value may be sent to `host` on `port`; `Err` says why not, naming
    /// the secret (never its value).
    pub fn may_go_to(&self, host: &str, port: u16) -> Result<(), String> {
        match &self.allowed_hosts {
            None => Ok(()),
            Some(hosts) if hosts.iter().any(|h| hermes_types::net::host_matches(h, host, port)) => Ok(()),
            Some(hosts) => Err(format!(
                "secret {} ({}) may not be sent to {host}:{port}; its allowed_hosts are [{}]",
                self.name,
                self.id,
                hosts.join(", ")
            )),
        }
    }
}

/// `template` (a header value, e.g. `Bearer ${TOKEN}`) with every `${NAME}` replaced by
/// that secret's value, when each may go to `host:port`: the one substitution every
/// path that sends a secret uses. An unknown, unclosed or misdirected name is an error
/// naming it (never a value).
pub fn fill(template: &str, secrets: &[Released], host: &str, port: u16) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed ${ in a header")?;
        let name = &after[..end];
        let secret = secrets
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| format!("${{{name}}} is not one of the deployment's secrets"))?;
        secret.may_go_to(host, port)?;
        out.push_str(secret.value.expose());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
