//! The secrets API (create, list, get, delete) and a deployment's secret references.
//! Sealing and opening happen in `hermes-secrets`, the one holder of the master key.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::HostError;
use crate::handle::Core;
use crate::services::Services;
use hermes_store::secrets::{self as store, SecretRow};
use hermes_types::paging::Page;

pub use hermes_secrets::{Scrubber, SecretValue, Secrets, SecretsError, valid_env_name};

/// Largest secret value.
pub const MAX_VALUE: usize = 64 << 10;
/// Most secrets one deployment references.
pub const MAX_REFS: usize = 100;

/// A secret as the API shows it: never its value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SecretInfo {
    /// `sec_…`
    pub id: String,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// Host patterns the value may be sent to; `null`: any host.
    pub allowed_hosts: Option<Vec<String>>,
}

impl From<&SecretRow> for SecretInfo {
    fn from(r: &SecretRow) -> SecretInfo {
        SecretInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            created_at: r.created_at.clone(),
            allowed_hosts: r.allowed_hosts.clone(),
        }
    }
}

/// Most entries in a secret's `allowed_hosts`.
const MAX_ALLOWED_HOSTS: usize = 32;

/// Checks an `allowed_hosts` list: well-formed host patterns, at least one.
fn check_allowed_hosts(hosts: &Option<Vec<String>>) -> Result<(), HostError> {
    let Some(hosts) = hosts else { return Ok(()) };
    if hosts.is_empty() || hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(HostError::invalid(
            "allowed_hosts",
            format!("`allowed_hosts` takes 1–{MAX_ALLOWED_HOSTS} hosts; omit it (or null) to allow any host"),
        ));
    }
    if let Some(bad) = hosts.iter().find(|h| !hermes_types::net::valid_host_pattern(h)) {
        return Err(HostError::invalid(
            "allowed_hosts",
            format!("{bad:?} is not a host pattern (`api.example.com`, `api.example.com:8443`, `*.example.com`)"),
        ));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A client-chosen secret id: `sec_` + 1–64 of `[A-Za-z0-9_]`.
fn valid_id(id: &str) -> bool {
    id.strip_prefix("sec_")
        .is_some_and(|r| (1..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Checks a deployment's `secrets` map: env names well-formed (400), every ref an
/// existing secret of the account (422 `invalid_secret_ref`).
pub(crate) async fn validate_refs(
    services: &Services,
    account_id: &str,
    refs: &BTreeMap<String, String>,
) -> Result<(), HostError> {
    if refs.len() > MAX_REFS {
        return Err(HostError::invalid("secrets", format!("{} secrets; at most {MAX_REFS}", refs.len())));
    }
    for name in refs.keys() {
        if !valid_env_name(name) {
            return Err(HostError::invalid(
                &format!("secrets.{name}"),
                format!("{name:?} must be an environment variable name: [A-Z_][A-Z0-9_]*, at most 128 chars"),
            ));
        }
    }
    let missing = services.secrets.missing(account_id, refs).await?;
    match missing {
        Some((name, id)) => Err(HostError::InvalidSecretRef {
            message: format!("Secret reference {id} does not exist"),
            param: format!("secrets.{name}"),
        }),
        None => Ok(()),
    }
}

/// Decrypts a deployment's secrets for one run: the scrubber holding their values.
pub(crate) async fn resolve(
    services: &Services,
    account_id: &str,
    refs: &BTreeMap<String, String>,
) -> Result<Scrubber, HostError> {
    Ok(services.secrets.scrubber(account_id, refs).await?)
}

impl Core {
    /// Stores a secret (encrypted) in `account_id`; `id` may be chosen by the caller
    /// (`sec_` + `[A-Za-z0-9_]{1,64}`), e.g. to keep references stable across hosts.
    pub async fn create_secret(
        &self,
        account_id: &str,
        name: &str,
        value: SecretValue,
        id: Option<String>,
        allowed_hosts: Option<Vec<String>>,
    ) -> Result<SecretInfo, HostError> {
        check_allowed_hosts(&allowed_hosts)?;
        if !valid_name(name) {
            return Err(HostError::invalid("name", "`name` must be 1–128 chars of [A-Za-z0-9_.-]"));
        }
        if value.expose().is_empty() {
            return Err(HostError::invalid("value", "`value` must not be empty"));
        }
        if value.expose().len() > MAX_VALUE {
            return Err(HostError::invalid("value", format!("`value` is larger than {} KiB", MAX_VALUE >> 10)));
        }
        let id = match id {
            Some(id) if !valid_id(&id) => {
                return Err(HostError::invalid("id", "`id` must be `sec_` followed by 1–64 chars of [A-Za-z0-9_]"));
            }
            Some(id) => id,
            None => hermes_types::ids::new_id("sec"),
        };
        let services = self.services();
        let row = SecretRow {
            ciphertext: services.secrets.seal(account_id, &id, &value),
            id,
            account_id: account_id.to_string(),
            name: name.to_string(),
            created_at: hermes_types::ids::now(),
            allowed_hosts,
        };
        drop(value);
        let info = SecretInfo::from(&row);
        services.db.write(move |conn| store::insert(conn, &row)).await?;
        Ok(info)
    }

    /// An account's secrets, newest first (`limit` 1–100), after `cursor`.
    pub async fn list_secrets(
        &self,
        account_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<SecretInfo>, HostError> {
        HostError::check_limit(limit)?;
        let account = account_id.to_string();
        let rows =
            self.services().db.read(move |conn| store::list(conn, &account, cursor.as_deref(), limit + 1)).await?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| SecretInfo::from(&r)))
    }

    /// One secret of an account (never its value).
    pub async fn secret(&self, account_id: &str, id: &str) -> Result<SecretInfo, HostError> {
        let (account, key) = (account_id.to_string(), id.to_string());
        self.services()
            .db
            .read(move |conn| store::get(conn, &account, &key))
            .await?
            .as_ref()
            .map(SecretInfo::from)
            .ok_or_else(|| HostError::NotFound(format!("secret {id} not found")))
    }

    /// Replaces where a secret may be sent (`None`: any host); applies to the next
    /// connection or request that would carry it.
    pub async fn set_secret_hosts(
        &self,
        account_id: &str,
        id: &str,
        allowed_hosts: Option<Vec<String>>,
    ) -> Result<SecretInfo, HostError> {
        check_allowed_hosts(&allowed_hosts)?;
        let (account, key) = (account_id.to_string(), id.to_string());
        let row = self
            .services()
            .db
            .write(move |tx| {
                if !store::set_allowed_hosts(tx, &account, &key, &allowed_hosts)? {
                    return Ok(None);
                }
                store::get(tx, &account, &key)
            })
            .await?;
        let info =
            row.as_ref().map(SecretInfo::from).ok_or_else(|| HostError::NotFound(format!("secret {id} not found")))?;
        // Pooled MCP connections hold headers resolved under the old rule.
        self.services().mcp.forget_account(account_id);
        Ok(info)
    }

    /// Deletes a secret; one a deployment still references is a conflict.
    pub async fn delete_secret(&self, account_id: &str, id: &str) -> Result<(), HostError> {
        let (account, key) = (account_id.to_string(), id.to_string());
        let outcome = self
            .services()
            .db
            .write(move |conn| {
                if let Some((dep, name)) = store::referenced_by(conn, &account, &key)? {
                    return Ok(Err((dep, name)));
                }
                Ok(Ok(store::delete(conn, &account, &key)?))
            })
            .await?;
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(HostError::NotFound(format!("secret {id} not found"))),
            Err((dep, name)) => Err(HostError::Conflict(format!(
                "secret {id} is used by deployment {dep} as {name}; remove it there first (PATCH secrets.{name}: null)"
            ))),
        }
    }

    /// The account's model usage by deployment and model, with the totals.
    pub async fn usage(&self, account_id: &str) -> Result<UsageReport, HostError> {
        let account = account_id.to_string();
        let data =
            self.services().db.read(move |conn| hermes_store::usage::by_deployment_and_model(conn, &account)).await?;
        let total = UsageTotal {
            input_tokens: data.iter().map(|l| l.input_tokens).sum(),
            output_tokens: data.iter().map(|l| l.output_tokens).sum(),
            credits: data.iter().map(|l| l.credits).sum(),
        };
        Ok(UsageReport { data, total })
    }
}

/// `GET /v1/usage`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UsageReport {
    /// By deployment and model.
    pub data: Vec<hermes_store::usage::UsageLine>,
    /// Sums over `data`.
    pub total: UsageTotal,
}

/// Totals of a usage report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UsageTotal {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_env_names() {
        assert!(valid_name("meta.ads-token_2"));
        assert!(!valid_name("") && !valid_name("a b") && !valid_name(&"a".repeat(129)));
        assert!(valid_id("sec_meta_ads_token") && !valid_id("sec_") && !valid_id("key_x") && !valid_id("sec_a-b"));
        assert!(valid_env_name("META_ADS_TOKEN") && valid_env_name("_X1"));
        assert!(!valid_env_name("1X") && !valid_env_name("meta") && !valid_env_name("") && !valid_env_name("A-B"));
    }
}
