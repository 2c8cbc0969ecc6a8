//! Vendor plugins: upload (validated by the runtime, bytes kept content-addressed in
//! `<data-dir>/plugins/<sha256>.wasm`), list, get, delete; checking a deployment's
//! `plugins` attachments against what each plugin declares; and resolving them for a
//! run (the tool desk in `ports/tools.rs` calls them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hermes_runtime::plugins::Inspected;
use hermes_runtime::wit::hermes::agent::types::ToolDefinition;
use hermes_runtime::{HttpGrant, PluginGrants, PluginWorld};
use hermes_store::plugins::{self as store, PluginRow};
use hermes_types::paging::Page;
use hermes_types::spec::{DeploymentSpec, WorkspaceAccess};
use serde::{Deserialize, Serialize};

use crate::HostError;
use crate::handle::Core;
use crate::services::Services;

/// Capabilities a manifest may declare.
pub const CAPABILITIES: &[&str] = &["workspace:read", "workspace:read-write", "http", "config"];
/// Largest HTTP response body a plugin reads (it is buffered to be scrubbed).
const MAX_HTTP_RESPONSE: usize = 8 << 20;
/// Longest plugin name: `<name>__<tool>` must fit the model APIs' 64 characters.
const MAX_NAME: usize = 24;

/// A tool a plugin provides, as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PluginTool {
    /// The tool's own name (the model sees `<plugin name>__<name>`).
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// A plugin as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PluginInfo {
    /// `plg_…`
    pub plugin_id: String,
    /// Prefix of its tools.
    pub name: String,
    /// The vendor's version label, from the manifest.
    pub version: Option<String>,
    /// `tool-plugin` or `harness`.
    pub world: String,
    /// `hermes:agent` version it was built against.
    pub wit_version: String,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Its tools (empty for a harness).
    pub tools: Vec<PluginTool>,
    /// Capabilities it declares (`workspace:read`, `workspace:read-write`, `http`, `config`).
    pub capabilities: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&PluginRow> for PluginInfo {
    fn from(r: &PluginRow) -> PluginInfo {
        PluginInfo {
            plugin_id: r.id.clone(),
            name: r.name.clone(),
            version: r.version.clone(),
            world: r.world.clone(),
            wit_version: r.wit_version.clone(),
            sha256: r.sha256.clone(),
            size: r.size,
            tools: serde_json::from_str(&r.tools).unwrap_or_default(),
            capabilities: serde_json::from_str(&r.capabilities).unwrap_or_default(),
            created_at: r.created_at.clone(),
        }
    }
}

/// What a plugin declares about itself: the custom section `hermes:plugin-manifest`
/// of the component, or the `manifest` part of a multipart upload.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Default name (the upload's `?name=` wins).
    #[serde(default)]
    pub name: Option<String>,
    /// Version label.
    #[serde(default)]
    pub version: Option<String>,
    /// Capabilities it wants; granted per deployment.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl Manifest {
    /// Parses a manifest, saying what is wrong for the vendor.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not valid: {e}"))?;
        if let Some(bad) = m.capabilities.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
            return Err(format!("unknown capability {bad:?} in the manifest; known: {}", CAPABILITIES.join(", ")));
        }
        if m.capabilities.iter().filter(|c| c.starts_with("workspace:")).count() > 1 {
            return Err("declare one of workspace:read and workspace:read-write, not both".into());
        }
        Ok(m)
    }
}

/// One upload.
pub struct Upload {
    /// The component bytes.
    pub wasm: Vec<u8>,
    /// `?name=`.
    pub name: Option<String>,
    /// The multipart `manifest` part (JSON), which replaces the component's own.
    pub manifest: Option<Vec<u8>>,
}

/// A valid plugin name: a lowercase letter, then up to 23 of `[a-z0-9-]`.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    (1..=MAX_NAME).contains(&name.len())
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Everything wrong with an upload, for `plugin check` and the 422 `invalid_plugin`.
pub struct Checked {
    /// What inspecting found.
    pub inspected: Inspected,
    /// The manifest that applies.
    pub manifest: Manifest,
}

/// Validates an upload (component, world, compile, `list-tools`, manifest) without storing it.
pub async fn check(runtime: &hermes_runtime::Runtime, upload: &Upload) -> Result<Checked, String> {
    let inspected = runtime.inspect_plugin(Arc::new(upload.wasm.clone())).await.map_err(|e| e.0)?;
    let manifest = match upload.manifest.as_deref().or(inspected.manifest.as_deref()) {
        Some(bytes) => Manifest::parse(bytes)?,
        None => Manifest::default(),
    };
    Ok(Checked { inspected, manifest })
}

/// The file holding a plugin's bytes.
pub(crate) fn blob_path(data_dir: &Path, sha256: &str) -> PathBuf {
    data_dir.join("plugins").join(format!("{sha256}.wasm"))
}

/// Writes the bytes once per content hash (temp file + rename: never half a file).
async fn store_blob(data_dir: &Path, sha256: &str, wasm: &[u8]) -> Result<(), HostError> {
    let path = blob_path(data_dir, sha256);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(());
    }
    let dir = data_dir.join("plugins");
    tokio::fs::create_dir_all(&dir).await.map_err(HostError::io(format!("creating {}", dir.display())))?;
    let tmp = path.with_extension(format!("tmp{}", hermes_types::ids::new_id("t")));
    tokio::fs::write(&tmp, wasm).await.map_err(HostError::io(format!("writing {}", tmp.display())))?;
    tokio::fs::rename(&tmp, &path).await.map_err(HostError::io(format!("storing {}", path.display())))?;
    Ok(())
}

/// The plugin an attachment or a `runtime` names: by id, or (runtime only) by name.
async fn find(services: &Services, account_id: &str, id_or_name: &str) -> Result<Option<PluginRow>, HostError> {
    let (account, key) = (account_id.to_string(), id_or_name.to_string());
    Ok(services
        .db
        .read(move |tx| match store::get(tx, &account, &key)? {
            Some(row) => Ok(Some(row)),
            None => store::by_name(tx, &account, &key),
        })
        .await?)
}

impl Core {
    /// Validates and stores a plugin of `account_id`.
    pub async fn upload_plugin(&self, account_id: &str, upload: Upload) -> Result<PluginInfo, HostError> {
        let services = self.services();
        let Checked { inspected, manifest } =
            check(&services.runtime, &upload).await.map_err(HostError::InvalidPlugin)?;
        let name = upload.name.clone().or(manifest.name.clone()).ok_or_else(|| {
            HostError::InvalidPlugin("the plugin has no name: pass `?name=` or set `name` in its manifest".into())
        })?;
        if !valid_name(&name) {
            return Err(HostError::InvalidPlugin(format!(
                "plugin name {name:?} must be a lowercase letter then up to {} of [a-z0-9-]",
                MAX_NAME - 1
            )));
        }
        if let Some(t) = inspected.tools.iter().find(|t| name.len() + 2 + t.name.len() > 64) {
            return Err(HostError::InvalidPlugin(format!(
                "`{name}__{}` is longer than the 64 characters model APIs accept; shorten the plugin or tool name",
                t.name
            )));
        }
        let sha256 = hermes_runtime::component_hash(&upload.wasm);
        store_blob(&services.data_dir, &sha256, &upload.wasm).await?;
        let tools: Vec<PluginTool> = inspected
            .tools
            .iter()
            .map(|t| PluginTool {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: serde_json::from_str(&t.parameters).unwrap_or_default(),
            })
            .collect();
        let row = PluginRow {
            id: hermes_types::ids::new_id("plg"),
            account_id: account_id.to_string(),
            name,
            version: manifest.version.clone(),
            world: inspected.world.as_str().to_string(),
            wit_version: inspected.wit_version.clone(),
            sha256,
            size: upload.wasm.len() as u64,
            tools: serde_json::to_string(&tools).unwrap_or_else(|_| "[]".into()),
            capabilities: serde_json::to_string(&manifest.capabilities).unwrap_or_else(|_| "[]".into()),
            imports: serde_json::to_string(&inspected.imports).unwrap_or_else(|_| "[]".into()),
            created_at: hermes_types::ids::now(),
        };
        let info = PluginInfo::from(&row);
        services.db.write(move |tx| store::insert(tx, &row)).await?;
        tracing::info!(plugin_id = %info.plugin_id, name = %info.name, world = %info.world, cached = inspected.cached, "plugin uploaded");
        Ok(info)
    }

    /// One plugin of the account.
    pub async fn plugin(&self, account_id: &str, id: &str) -> Result<PluginInfo, HostError> {
        let (account, key) = (account_id.to_string(), id.to_string());
        let row = self.services().db.read(move |tx| store::get(tx, &account, &key)).await?;
        row.map(|r| PluginInfo::from(&r)).ok_or_else(|| HostError::NotFound(format!("plugin {id} not found")))
    }

    /// A page of the account's plugins, newest first.
    pub async fn plugins(
        &self,
        account_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<PluginInfo>, HostError> {
        HostError::check_limit(limit)?;
        let account = account_id.to_string();
        let after = cursor.clone();
        let rows = self
            .services()
            .db
            .read(move |tx| {
                if let Some(c) = &after
                    && store::get(tx, &account, c)?.is_none()
                {
                    return Ok(None);
                }
                store::list(tx, &account, after.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| PluginInfo::from(&r)))
    }

    /// Deletes a plugin no deployment uses (409 naming them otherwise).
    pub async fn delete_plugin(&self, account_id: &str, id: &str) -> Result<(), HostError> {
        let services = self.services();
        let (account, key) = (account_id.to_string(), id.to_string());
        let sha = services
            .db
            .write(move |tx| {
                let Some(row) = store::get(tx, &account, &key)? else {
                    return Err(hermes_store::StoreError::NotFound(format!("plugin {key}")));
                };
                let users = store::used_by(tx, &account, &key, &row.name)?;
                if !users.is_empty() {
                    return Err(hermes_store::StoreError::Conflict(format!(
                        "plugin {key} is used by deployment(s) {}; detach it first",
                        users.join(", ")
                    )));
                }
                store::delete(tx, &account, &key)?;
                Ok((!store::sha_in_use(tx, &row.sha256)?).then_some(row.sha256))
            })
            .await?;
        if let Some(sha) = sha {
            // The compiled form stays in the cache: a re-upload of the same bytes is then instant.
            let _ = tokio::fs::remove_file(blob_path(&services.data_dir, &sha)).await;
        }
        Ok(())
    }
}

/// The harness plugin a deployment's `runtime` names (by id or name), if it does.
pub(crate) async fn harness_plugin(
    services: &Services,
    account_id: &str,
    runtime: &str,
) -> Result<Option<PluginRow>, HostError> {
    Ok(find(services, account_id, runtime).await?.filter(|r| r.world == PluginWorld::Harness.as_str()))
}

/// Checks `runtime` (a built-in harness or a harness plugin of the account) and each
/// attachment: the plugin exists in the account and is a tool plugin, the allowlist
/// names its tools, every grant is declared, every import it makes is granted, and
/// no two prefixes collide.
pub(crate) async fn validate(services: &Services, account_id: &str, spec: &DeploymentSpec) -> Result<(), HostError> {
    if !services.harnesses.contains_key(&spec.runtime)
        && harness_plugin(services, account_id, &spec.runtime).await?.is_none()
    {
        let mut known: Vec<_> = services.harnesses.keys().cloned().collect();
        known.sort();
        return Err(HostError::invalid(
            "runtime",
            format!(
                "unknown runtime {:?}; available: {}, or the id or name of a harness plugin",
                spec.runtime,
                known.join(", ")
            ),
        ));
    }
    if spec.plugins.len() > 32 {
        return Err(HostError::invalid("plugins", format!("{} plugins; at most 32", spec.plugins.len())));
    }
    let mut prefixes: Vec<String> = spec.mcp_servers.iter().map(|m| m.name.clone()).collect();
    for (i, a) in spec.plugins.iter().enumerate() {
        let param = format!("plugins[{i}]");
        let row = find(services, account_id, &a.plugin_id)
            .await?
            .filter(|r| r.id == a.plugin_id)
            .ok_or_else(|| HostError::NotFound(format!("plugin {} not found", a.plugin_id)))?;
        if row.world != PluginWorld::ToolPlugin.as_str() {
            return Err(HostError::invalid(
                &format!("{param}.plugin_id"),
                format!("plugin {} is a harness: name it as the deployment's `runtime` instead", row.id),
            ));
        }
        let info = PluginInfo::from(&row);
        if let Some(allow) = &a.tools
            && let Some(bad) = allow.iter().find(|t| !info.tools.iter().any(|pt| &pt.name == *t))
        {
            let names: Vec<&str> = info.tools.iter().map(|t| t.name.as_str()).collect();
            return Err(HostError::invalid(
                &format!("{param}.tools"),
                format!("plugin {} has no tool {bad:?}; it has {}", row.id, names.join(", ")),
            ));
        }
        let declared = |c: &str| info.capabilities.iter().any(|d| d == c);
        match a.grants.workspace {
            Some(WorkspaceAccess::ReadWrite) if !declared("workspace:read-write") => {
                return Err(HostError::InvalidPlugin(format!(
                    "{param}.grants.workspace: plugin {} does not declare `workspace:read-write`",
                    row.id
                )));
            }
            Some(WorkspaceAccess::Read) if !declared("workspace:read") && !declared("workspace:read-write") => {
                return Err(HostError::InvalidPlugin(format!(
                    "{param}.grants.workspace: plugin {} does not declare workspace access",
                    row.id
                )));
            }
            _ => {}
        }
        if !a.grants.http.is_empty() && !declared("http") {
            return Err(HostError::InvalidPlugin(format!(
                "{param}.grants.http: plugin {} does not declare the `http` capability",
                row.id
            )));
        }
        if !a.grants.config.is_empty() && !declared("config") {
            return Err(HostError::InvalidPlugin(format!(
                "{param}.grants.config: plugin {} does not declare the `config` capability",
                row.id
            )));
        }
        let imports: Vec<String> = serde_json::from_str(&row.imports).unwrap_or_default();
        for import in &imports {
            let needs = if import.starts_with("wasi:http/") {
                Some(("http", !a.grants.http.is_empty()))
            } else if import.starts_with("wasi:config/") {
                Some(("config", !a.grants.config.is_empty()))
            } else {
                None
            };
            if let Some((capability, false)) = needs {
                return Err(HostError::InvalidPlugin(format!(
                    "{param}: plugin {} imports {import}, which needs the `{capability}` grant",
                    row.id
                )));
            }
        }
        for host in &a.grants.http {
            if !hermes_types::net::valid_host_pattern(host) {
                return Err(HostError::invalid(
                    &format!("{param}.grants.http"),
                    format!("{host:?} is not a host name (e.g. `api.example.com` or `127.0.0.1:8080`)"),
                ));
            }
        }
        if prefixes.contains(&row.name) {
            return Err(HostError::invalid(
                &param,
                format!("the name {:?} is already used by another plugin or MCP server of this deployment", row.name),
            ));
        }
        prefixes.push(row.name);
    }
    Ok(())
}

/// A plugin attached to one run's deployment, resolved for calling.
#[derive(Clone)]
pub(crate) struct Attached {
    /// `plg_…`
    pub id: String,
    /// Prefix of its tools.
    pub name: String,
    /// Content hash (keys the compiled cache) and where the bytes are.
    pub sha256: String,
    /// The blob.
    pub path: PathBuf,
    /// The tools offered (allowlist applied), under their own names.
    pub tools: Vec<ToolDefinition>,
    /// What an instance may reach.
    pub grants: PluginGrants,
}

impl Attached {
    /// The own tool name when `name` is `<this plugin>__<tool>`.
    pub fn tool_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        name.strip_prefix(self.name.as_str())?.strip_prefix("__")
    }
}

/// The deployment's attachments, resolved for a run (`for_calls`: with the secret
/// values their HTTP grants may send) or for listing; a plugin deleted since (it
/// cannot be while attached) is skipped.
pub(crate) async fn attached(
    services: &Services,
    account_id: &str,
    deployment_id: &str,
    spec: &DeploymentSpec,
    for_calls: bool,
) -> Result<Vec<Attached>, HostError> {
    let mut out = Vec::with_capacity(spec.plugins.len());
    // Secret values are decrypted only for a run (`for_calls`) and only when some
    // plugin may put them in a header; listing tools needs none.
    let secrets = if for_calls && spec.plugins.iter().any(|a| !a.grants.http.is_empty()) {
        Arc::new(services.secrets.release(account_id, &spec.secrets).await?)
    } else {
        Arc::new(Vec::new())
    };
    for a in &spec.plugins {
        let (account, id) = (account_id.to_string(), a.plugin_id.clone());
        let Some(row) = services.db.read(move |tx| store::get(tx, &account, &id)).await? else { continue };
        let info = PluginInfo::from(&row);
        let tools = info
            .tools
            .into_iter()
            .filter(|t| a.tools.as_ref().is_none_or(|allow| allow.contains(&t.name)))
            .map(|t| ToolDefinition { name: t.name, description: t.description, parameters: t.parameters.to_string() })
            .collect();
        let workspace = a.grants.workspace.map(|w| (crate::workspace::path(&services.data_dir, deployment_id), w));
        out.push(Attached {
            id: row.id,
            name: row.name,
            path: blob_path(&services.data_dir, &row.sha256),
            sha256: row.sha256,
            tools,
            grants: PluginGrants {
                workspace,
                http: (!a.grants.http.is_empty()).then(|| HttpGrant {
                    hosts: a.grants.http.clone(),
                    allow_private: services.config.allow_private_urls,
                    secrets: secrets.clone(),
                    max_response_bytes: MAX_HTTP_RESPONSE,
                }),
                config: a.grants.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
        });
    }
    Ok(out)
}

impl Core {
    /// The bounds plugins are held to (the API sizes its upload limit by them).
    pub fn plugin_limits(&self) -> &hermes_runtime::PluginLimits {
        self.services().runtime.plugin_limits()
    }
}

/// `hermes-host plugin check`: validates a component file as an upload would (with
/// this host's default limits), without a data directory.
pub async fn check_file(path: &Path, manifest: Option<&Path>) -> Result<Checked, String> {
    let wasm = tokio::fs::read(path).await.map_err(|e| format!("reading {}: {e}", path.display()))?;
    let manifest = match manifest {
        Some(m) => Some(tokio::fs::read(m).await.map_err(|e| format!("reading {}: {e}", m.display()))?),
        None => None,
    };
    let cache = std::env::temp_dir().join("hermes-plugin-check-cache");
    let runtime = hermes_runtime::Runtime::new(hermes_runtime::SandboxLimits::default(), cache)
        .map_err(|e| format!("starting the Wasm runtime: {e}"))?;
    check(&runtime, &Upload { wasm, name: None, manifest }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_name_known_capabilities_only() {
        let m = Manifest::parse(br#"{"name": "crm", "version": "1.2.0", "capabilities": ["http", "workspace:read"]}"#)
            .unwrap();
        assert_eq!((m.name.as_deref(), m.capabilities.len()), (Some("crm"), 2));
        assert!(Manifest::parse(br#"{"capabilities": ["sockets"]}"#).unwrap_err().contains("unknown capability"));
        assert!(Manifest::parse(br#"{"capabilities": ["workspace:read", "workspace:read-write"]}"#).is_err());
        assert!(Manifest::parse(br#"{"nmae": "typo"}"#).unwrap_err().contains("nmae"));
        assert!(Manifest::parse(b"not json").is_err());
    }

    #[test]
    fn plugin_names_are_short_lowercase_prefixes() {
        for ok in ["a", "text", "crm-2", "abcdefghijklmnopqrstuvwx"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Text", "2fa", "a_b", "a__b", "abcdefghijklmnopqrstuvwxy", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_tool_belongs_to_the_plugin_whose_prefix_it_carries() {
        let p = Attached {
            id: "plg_1".into(),
            name: "text".into(),
            sha256: String::new(),
            path: PathBuf::new(),
            tools: Vec::new(),
            grants: PluginGrants::default(),
        };
        assert_eq!(p.tool_of("text__slugify"), Some("slugify"));
        assert_eq!(p.tool_of("textual__x"), None);
        assert_eq!(p.tool_of("text_slugify"), None);
    }
}
