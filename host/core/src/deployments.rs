//! Creating and reading deployments: validation, the workspace, installed skills.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::HostError;
use crate::egress as fetch;
use crate::handle::Core;
use crate::services::Services;
use crate::skills::{SKILLS_DIR, valid_name, validate};
use crate::workspace;
use hermes_events::NewEvent;
use hermes_store::deployments::{self, DeploymentRow, DeploymentStatus};
use hermes_types::paging::Page;
use hermes_types::spec::{DeploymentSpec, SkillSpec};

/// Most skills per deployment.
pub const MAX_SKILLS: usize = 20;
/// Most MCP servers per deployment.
pub const MAX_MCP_SERVERS: usize = 20;
/// Longest `customer_id`, `name`, `runtime` and `model`.
pub const MAX_ID_FIELD: usize = 256;
/// Longest system prompt.
pub const MAX_SYSTEM_PROMPT: usize = 128 << 10;
/// Most entries of `disabled_tools` and of `steering.require_approval`.
pub const MAX_LIST: usize = 500;
/// Largest configuration as stored (inline skills included).
pub const MAX_SPEC_BYTES: usize = 4 << 20;

/// A deployment as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    /// Owning account (not shown to clients).
    #[serde(skip)]
    pub account_id: String,
    /// The configuration (secret values are never in it: only `sec_…` refs).
    #[serde(skip)]
    pub spec: DeploymentSpec,
    /// `dep_…`
    pub deployment_id: String,
    /// The vendor's customer id.
    pub customer_id: String,
    /// Human-readable name.
    pub name: String,
    /// Harness name.
    pub runtime: String,
    /// `provisioning` | `ready` | `error`.
    pub status: DeploymentStatus,
    /// Resolved `provider/model`.
    pub model: String,
    /// The default thread.
    pub thread_id: String,
    /// Why setup failed.
    pub error: Option<String>,
    /// Non-fatal notes about the configuration.
    pub warnings: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl Deployment {
    /// What the MCP pool needs to serve this deployment's servers.
    pub(crate) fn mcp_target(&self) -> crate::mcp::Target {
        crate::mcp::Target {
            deployment_id: self.deployment_id.clone(),
            account_id: self.account_id.clone(),
            spec: Arc::new(self.spec.clone()),
        }
    }
    pub(crate) fn from_row(row: &DeploymentRow, default_model: &str, warnings: Vec<String>) -> Deployment {
        Deployment {
            account_id: row.account_id.clone(),
            spec: row.spec.clone(),
            deployment_id: row.id.clone(),
            customer_id: row.spec.customer_id.clone(),
            name: row.spec.name.clone(),
            runtime: row.spec.runtime.clone(),
            status: row.status,
            model: row.spec.model.clone().unwrap_or_else(|| default_model.to_string()),
            thread_id: row.default_thread_id.clone(),
            error: row.error.clone(),
            warnings,
            created_at: row.created_at.clone(),
        }
    }
}

fn required(param: &str, value: &str) -> Result<(), HostError> {
    if value.trim().is_empty() {
        return Err(HostError::invalid(param, format!("`{param}` is required and must not be empty")));
    }
    Ok(())
}

/// What a caller may do to a deployment beyond `deployments:write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authority {
    /// May send a secret somewhere it was not sent before (`secrets:write`).
    pub route_secrets: bool,
}

impl Authority {
    /// Everything: the embedding API, and keys holding `secrets:write`.
    pub const FULL: Authority = Authority { route_secrets: true };

    /// Refuses a change that sends a secret to a destination the deployment did not
    /// already send it to, unless the caller may route secrets.
    fn check_routes(self, old: Option<&DeploymentSpec>, new: &DeploymentSpec) -> Result<(), HostError> {
        if self.route_secrets {
            return Ok(());
        }
        let before = old.map(secret_routes).unwrap_or_default();
        if let Some((secret, destination)) = secret_routes(new).into_iter().find(|r| !before.contains(r)) {
            return Err(HostError::Forbidden {
                scope: "secrets:write".into(),
                message: format!(
                    "this change would send secret {secret} to {destination}: that needs the `secrets:write` \
                     scope as well as `deployments:write`"
                ),
            });
        }
        Ok(())
    }
}

/// Every `(secret id, destination)` a spec can put a secret on the wire to: each MCP
/// server's origin for every secret its header templates name, and each plugin's
/// `http` hosts for every secret the deployment binds (the plugin chooses the header).
pub fn secret_routes(spec: &DeploymentSpec) -> std::collections::BTreeSet<(String, String)> {
    let mut routes = std::collections::BTreeSet::new();
    for m in &spec.mcp_servers {
        let origin = reqwest::Url::parse(&m.url)
            .map(|u| {
                format!(
                    "{}://{}:{}",
                    u.scheme(),
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_else(|_| m.url.clone());
        for template in m.headers.values() {
            for name in crate::mcp::placeholders(template).unwrap_or_default() {
                if let Some(id) = spec.secrets.get(name) {
                    routes.insert((id.clone(), format!("MCP server {} ({origin})", m.name)));
                }
            }
        }
    }
    for p in &spec.plugins {
        for host in &p.grants.http {
            for id in spec.secrets.values() {
                routes.insert((id.clone(), format!("plugin {} (http to {host})", p.plugin_id)));
            }
        }
    }
    // `web_fetch` headers may name any of the deployment's secrets toward these hosts.
    for host in &spec.egress.allow {
        for id in spec.secrets.values() {
            routes.insert((id.clone(), format!("web_fetch to {host}")));
        }
    }
    routes
}

/// Refuses a model whose provider the account may not use (the host's default model
/// when the spec names none).
async fn check_model(services: &Services, account_id: &str, spec: &DeploymentSpec) -> Result<(), HostError> {
    let model = services.config.model_of(spec);
    crate::accounts::check_provider(&services.db, account_id, model).await.map_err(|m| HostError::invalid("model", m))
}

/// Checks a spec; returns warnings for accepted-but-notable settings.
pub(crate) fn validate(spec: &DeploymentSpec) -> Result<Vec<String>, HostError> {
    required("customer_id", &spec.customer_id)?;
    required("name", &spec.name)?;
    required("system_prompt", &spec.system_prompt)?;
    // Every deployment is read whole by lists and run starts: its fields are bounded.
    for (param, value, max) in [
        ("customer_id", &spec.customer_id, MAX_ID_FIELD),
        ("name", &spec.name, MAX_ID_FIELD),
        ("runtime", &spec.runtime, MAX_ID_FIELD),
        ("system_prompt", &spec.system_prompt, MAX_SYSTEM_PROMPT),
    ] {
        if value.len() > max {
            return Err(HostError::invalid(param, format!("`{param}` is {} bytes; at most {max}", value.len())));
        }
    }
    if spec.model.as_ref().is_some_and(|m| m.len() > MAX_ID_FIELD) {
        return Err(HostError::invalid("model", format!("`model` is longer than {MAX_ID_FIELD} bytes")));
    }
    for (i, skill) in spec.skills.iter().enumerate() {
        if let SkillSpec::Inline { content, .. } = skill
            && content.len() > fetch::MAX_SKILL_BYTES
        {
            return Err(HostError::invalid(
                &format!("skills[{i}].content"),
                format!(
                    "an inline SKILL.md is at most {} KiB; this one is {} bytes",
                    fetch::MAX_SKILL_BYTES >> 10,
                    content.len()
                ),
            ));
        }
    }
    if spec.egress.allow.len() > MAX_LIST {
        return Err(HostError::invalid("egress.allow", format!("at most {MAX_LIST} hosts")));
    }
    if let Some((i, bad)) =
        spec.egress.allow.iter().enumerate().find(|(_, h)| !hermes_types::net::valid_host_pattern(h))
    {
        return Err(HostError::invalid(
            &format!("egress.allow[{i}]"),
            format!("{bad:?} is not a host (`api.example.com`, `api.example.com:8443` or `*.example.com`)"),
        ));
    }
    if spec.disabled_tools.len() > MAX_LIST || spec.steering.require_approval.len() > MAX_LIST {
        return Err(HostError::invalid("disabled_tools", format!("at most {MAX_LIST} entries per list")));
    }
    let total = serde_json::to_vec(spec).map(|v| v.len()).unwrap_or(0);
    if total > MAX_SPEC_BYTES {
        return Err(HostError::invalid(
            "body",
            format!("the deployment's configuration is {total} bytes; at most {} MiB", MAX_SPEC_BYTES >> 20),
        ));
    }
    if let Some(model) = &spec.model
        && !model.contains('/')
    {
        return Err(HostError::invalid(
            "model",
            format!("model {model:?} must be `provider/model`, e.g. anthropic/claude-sonnet-4.5"),
        ));
    }
    if spec.skills.len() > MAX_SKILLS {
        return Err(HostError::invalid(
            "skills",
            format!("{} skills; at most {MAX_SKILLS} per deployment", spec.skills.len()),
        ));
    }
    if spec.mcp_servers.len() > MAX_MCP_SERVERS {
        return Err(HostError::invalid(
            "mcp_servers",
            format!("{} MCP servers; at most {MAX_MCP_SERVERS} per deployment", spec.mcp_servers.len()),
        ));
    }
    crate::approvals::policy::validate(&spec.steering)?;
    let mut warnings = Vec::new();
    match spec.sandbox.kind.as_str() {
        "wasm" => {}
        "docker" => warnings.push("sandbox.type \"docker\" runs in the Wasm sandbox on this host".into()),
        other => {
            return Err(HostError::invalid(
                "sandbox.type",
                format!("sandbox.type {other:?} must be \"wasm\" or \"docker\""),
            ));
        }
    }
    for (i, skill) in spec.skills.iter().enumerate() {
        if !valid_name(skill.name()) {
            return Err(HostError::invalid(
                &format!("skills[{i}].name"),
                format!("skill name {:?} must be 1–64 chars of a-z, 0-9 and single hyphens", skill.name()),
            ));
        }
        match skill {
            SkillSpec::Inline { name, content } => {
                warnings.extend(check_skill(validate::Expected::Exactly(name), content)?)
            }
            SkillSpec::File { path, .. } => {
                workspace::relative(path).map_err(|e| HostError::invalid(&format!("skills[{i}].path"), e))?;
            }
            SkillSpec::Url { url, .. } => {
                let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return Err(HostError::invalid(
                        &format!("skills[{i}].url"),
                        format!("{url:?} is not an http(s) URL"),
                    ));
                }
            }
        }
    }
    let mut names: Vec<&str> = spec.skills.iter().map(SkillSpec::name).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(HostError::invalid("skills", format!("skill {:?} is listed twice", w[0])));
    }
    let mut servers: Vec<&str> = spec.mcp_servers.iter().map(|m| m.name.as_str()).collect();
    servers.sort_unstable();
    for (i, m) in spec.mcp_servers.iter().enumerate() {
        let ok = !m.name.is_empty()
            && m.name.len() <= 64
            && m.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(HostError::invalid(
                &format!("mcp_servers[{i}].name"),
                format!("MCP server name {:?} must be 1–64 chars of [A-Za-z0-9_-]", m.name),
            ));
        }
        if !reqwest::Url::parse(&m.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(HostError::invalid(
                &format!("mcp_servers[{i}].url"),
                format!("{:?} is not an http(s) URL", m.url),
            ));
        }
        // A header naming a secret the deployment does not have would only fail at
        // the first tool call; say so now, naming the header.
        for (header, template) in &m.headers {
            let param = format!("mcp_servers[{i}].headers.{header}");
            let names = crate::mcp::placeholders(template).map_err(|e| HostError::invalid(&param, e))?;
            if let Some(missing) = names.iter().find(|n| !spec.secrets.contains_key(**n)) {
                return Err(HostError::invalid(
                    &param,
                    format!("${{{missing}}} is not one of the deployment's secrets (add it under `secrets`)"),
                ));
            }
        }
    }
    if let Some(w) = servers.windows(2).find(|w| w[0] == w[1]) {
        return Err(HostError::invalid("mcp_servers", format!("MCP server name {:?} is used twice", w[0])));
    }
    Ok(warnings)
}

/// A file uploaded with a create request, keyed by its workspace path.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Workspace-relative path.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Fetches every `url` skill; the text of each, by skill name.
async fn fetch_url_skills(services: &Services, skills: &[SkillSpec]) -> Result<Vec<(String, String)>, HostError> {
    let urls: Vec<(&str, &str)> = skills
        .iter()
        .filter_map(|s| match s {
            SkillSpec::Url { name, url } => Some((name.as_str(), url.as_str())),
            _ => None,
        })
        .collect();
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    let allow = services.config.allow_private_urls;
    let client = fetch::client(allow).map_err(|e| HostError::InvalidSkill(format!("cannot fetch skills: {e}")))?;
    let fetches = urls.iter().map(|(name, url)| {
        let client = &client;
        async move {
            let text = fetch::fetch_text(client, url, allow)
                .await
                .map_err(|e| HostError::InvalidSkill(format!("skill {name:?}: fetching {url}: {e}")))?;
            Ok::<_, HostError>((name.to_string(), text))
        }
    });
    futures::future::try_join_all(fetches).await
}

/// Validates a SKILL.md against the Agent Skills rules and the declared name (which an
/// `inline` or `url` skill must carry, and a `file` skill should: see
/// [`validate::Expected`]); returns its warnings, prefixed with the skill's name.
fn check_skill(name: validate::Expected<'_>, text: &str) -> Result<Vec<String>, HostError> {
    let report = validate::validate_as(text, name);
    let (validate::Expected::Exactly(name) | validate::Expected::Folder(name)) = name;
    if !report.is_valid() {
        let reasons: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        return Err(HostError::InvalidSkill(format!("skill {name:?}: {}", reasons.join("; "))));
    }
    Ok(report.warnings.iter().map(|w| format!("skill {name:?}: {w}")).collect())
}

/// Writes uploads and skills into a workspace and checks `file` skills are there.
fn install(
    dir: &std::path::Path,
    skills: &[SkillSpec],
    fetched: &[(String, String)],
    uploads: &[Upload],
) -> Result<Vec<String>, HostError> {
    let mut warnings = Vec::new();
    let ws = workspace::create(dir).map_err(HostError::io("creating the workspace"))?;
    for u in uploads {
        let rel = workspace::relative(&u.path).map_err(|e| HostError::invalid(&u.path, e))?;
        workspace::write(&ws, &rel, &u.bytes).map_err(HostError::io(format!("writing {}", u.path)))?;
    }
    let skill_path = |name: &str| std::path::PathBuf::from(SKILLS_DIR).join(name).join("SKILL.md");
    for skill in skills {
        match skill {
            SkillSpec::Inline { name, content } => {
                workspace::write(&ws, &skill_path(name), content.as_bytes())
                    .map_err(HostError::io(format!("writing skill {name:?}")))?;
            }
            SkillSpec::Url { name, .. } => {
                let text = fetched.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str()).unwrap_or_default();
                workspace::write(&ws, &skill_path(name), text.as_bytes())
                    .map_err(HostError::io(format!("writing skill {name:?}")))?;
            }
            SkillSpec::File { name, path } => {
                let rel = workspace::relative(path).map_err(|e| HostError::invalid("skills", e))?;
                let text = workspace::read_bounded(&ws, &rel, fetch::MAX_SKILL_BYTES as u64).map_err(|e| {
                    HostError::InvalidSkill(match e.kind() {
                        std::io::ErrorKind::InvalidData => format!("skill {name:?}: {path} is {e}"),
                        _ => format!(
                            "skill {name:?}: {path} was not uploaded (send it as a multipart part named {path:?})"
                        ),
                    })
                })?;
                warnings.extend(check_skill(validate::Expected::Folder(name), &text)?);
            }
        }
    }
    Ok(warnings)
}

async fn install_blocking(
    dir: std::path::PathBuf,
    skills: Vec<SkillSpec>,
    fetched: Vec<(String, String)>,
    uploads: Vec<Upload>,
) -> Result<Vec<String>, HostError> {
    tokio::task::spawn_blocking(move || install(&dir, &skills, &fetched, &uploads))
        .await
        .map_err(|e| HostError::Io { context: "installing skills".into(), source: std::io::Error::other(e) })?
}

/// Creates a deployment: validation, uploads and skills in its workspace, the row;
/// ready when it returns. On any error nothing is left behind.
pub(crate) async fn create(
    services: &Arc<Services>,
    account_id: &str,
    spec: DeploymentSpec,
    uploads: Vec<Upload>,
    authority: Authority,
) -> Result<Deployment, HostError> {
    let mut warnings = validate(&spec)?;
    authority.check_routes(None, &spec)?;
    crate::billing::require_credits(&services.db, account_id).await?;
    crate::secrets::validate_refs(services, account_id, &spec.secrets).await?;
    crate::plugins::validate(services, account_id, &spec).await?;
    check_model(services, account_id, &spec).await?;
    for (i, u) in uploads.iter().enumerate() {
        workspace::relative(&u.path).map_err(|e| HostError::invalid(&format!("files[{i}]"), e))?;
    }
    let fetched = fetch_url_skills(services, &spec.skills).await?;
    for (name, text) in &fetched {
        warnings.extend(check_skill(validate::Expected::Exactly(name), text)?);
    }
    let row = DeploymentRow {
        id: hermes_types::ids::new_id("dep"),
        account_id: account_id.to_string(),
        spec,
        status: DeploymentStatus::Ready,
        error: None,
        default_thread_id: hermes_types::ids::new_id("thr"),
        created_at: hermes_types::ids::now(),
    };
    let dir = workspace::path(&services.data_dir, &row.id);
    match install_blocking(dir.clone(), row.spec.skills.clone(), fetched, uploads).await {
        Ok(w) => warnings.extend(w),
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
    }
    let event = NewEvent::new("deployment_status", &row.id, json!({"status": row.status.as_str()}));
    let stored = row.clone();
    let committed = services
        .hub
        .commit(&row.id, move |conn| {
            deployments::insert(conn, &stored)?;
            Ok(((), vec![event]))
        })
        .await;
    if let Err(e) = committed {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(e.into());
    }
    Ok(Deployment::from_row(&row, &services.config.default_model, warnings))
}

/// Loads one deployment.
pub(crate) async fn get(services: &Services, id: &str) -> Result<Deployment, HostError> {
    let key = id.to_string();
    let row = services
        .db
        .read(move |conn| deployments::get(conn, &key))
        .await?
        .ok_or_else(|| HostError::NotFound(format!("deployment {id} not found")))?;
    Ok(Deployment::from_row(&row, &services.config.default_model, Vec::new()))
}

/// Lists an account's deployments, newest first.
pub(crate) async fn list(
    services: &Services,
    account_id: &str,
    filter: hermes_types::paging::DeploymentFilter,
    limit: u32,
) -> Result<Page<Deployment>, HostError> {
    HostError::check_limit(limit)?;
    let account = account_id.to_string();
    let rows = services.db.read(move |conn| deployments::list(conn, &account, &filter, limit + 1)).await?;
    let default_model = &services.config.default_model;
    Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| Deployment::from_row(&r, default_model, Vec::new())))
}

/// Loads a deployment row of `account_id` (another account's is "not found").
async fn row_in(services: &Services, account_id: &str, id: &str) -> Result<DeploymentRow, HostError> {
    let key = id.to_string();
    services
        .db
        .read(move |conn| deployments::get(conn, &key))
        .await?
        .filter(|r| r.account_id == account_id)
        .ok_or_else(|| HostError::NotFound(format!("deployment {id} not found")))
}

/// Applies a PATCH: omitted fields kept, scalars replaced, arrays replaced whole,
/// `secrets` merged key by key (`null` removes a key). Applies from the next run.
pub(crate) async fn patch(
    services: &Arc<Services>,
    account_id: &str,
    id: &str,
    patch: serde_json::Value,
    authority: Authority,
) -> Result<Deployment, HostError> {
    patch_with(services, account_id, id, patch, false, authority).await
}

/// [`patch`], optionally re-installing the skills even when their definitions did not
/// change (a PUT on a `url` skill fetches it again).
pub(crate) async fn patch_with(
    services: &Arc<Services>,
    account_id: &str,
    id: &str,
    patch: serde_json::Value,
    reinstall_skills: bool,
    authority: Authority,
) -> Result<Deployment, HostError> {
    let row = row_in(services, account_id, id).await?;
    let serde_json::Value::Object(changes) = patch else {
        return Err(HostError::invalid("body", "the body must be a JSON object of the fields to change"));
    };
    let mut merged = serde_json::to_value(&row.spec)
        .map_err(|e| HostError::Io { context: "reading the deployment".into(), source: std::io::Error::other(e) })?;
    for (key, value) in changes {
        if key == "secrets" {
            let serde_json::Value::Object(entries) = value else {
                return Err(HostError::invalid("secrets", "`secrets` must be an object of NAME: sec_… (null removes)"));
            };
            let target = merged["secrets"].as_object_mut();
            let Some(target) = target else { continue };
            for (name, r) in entries {
                if r.is_null() {
                    target.remove(&name);
                } else {
                    target.insert(name, r);
                }
            }
        } else if value.is_null() {
            if let Some(obj) = merged.as_object_mut() {
                obj.remove(&key);
            }
        } else {
            merged[key.as_str()] = value;
        }
    }
    // Strict: a misspelt or unknown field in the patch is refused by name.
    let spec: DeploymentSpec = hermes_types::strict::from_value(merged)
        .map_err(|r| HostError::invalid(r.param.as_deref().unwrap_or("body"), r.message))?;
    let mut warnings = validate(&spec)?;
    authority.check_routes(Some(&row.spec), &spec)?;
    crate::secrets::validate_refs(services, account_id, &spec.secrets).await?;
    crate::plugins::validate(services, account_id, &spec).await?;
    check_model(services, account_id, &spec).await?;
    if reinstall_skills || spec.skills != row.spec.skills {
        // Re-provisioning: messages wait (409 deployment_not_ready) until the new skills
        // are in place; on failure the deployment is ready again with its old config.
        set_status(services, id, DeploymentStatus::Provisioning).await?;
        let installed = async {
            let fetched = fetch_url_skills(services, &spec.skills).await?;
            let dir = workspace::path(&services.data_dir, id);
            install_blocking(dir, spec.skills.clone(), fetched, Vec::new()).await
        }
        .await;
        if installed.is_err() {
            set_status(services, id, DeploymentStatus::Ready).await?;
        }
        warnings.extend(installed?);
    }
    let key = id.to_string();
    let stored = spec.clone();
    let event = NewEvent::new("deployment_status", id, json!({"status": "ready"}));
    services
        .hub
        .commit(id, move |conn| {
            deployments::update_spec(conn, &key, &stored, &hermes_types::ids::now())?;
            deployments::set_status(conn, &key, DeploymentStatus::Ready, None, &hermes_types::ids::now())?;
            Ok(((), vec![event]))
        })
        .await?;
    let mut row = row;
    row.spec = spec;
    row.status = DeploymentStatus::Ready;
    Ok(Deployment::from_row(&row, &services.config.default_model, warnings))
}

/// Moves a deployment to `status`, announcing it.
async fn set_status(services: &Services, id: &str, status: DeploymentStatus) -> Result<(), HostError> {
    let key = id.to_string();
    let event = NewEvent::new("deployment_status", id, json!({"status": status.as_str()}));
    services
        .hub
        .commit(id, move |conn| {
            deployments::set_status(conn, &key, status, None, &hermes_types::ids::now())?;
            Ok(((), vec![event]))
        })
        .await?;
    Ok(())
}

/// Deletes a deployment's rows and workspace, or keeps the workspace for `[workspaces]
/// retained_days` when `retain_filesystem` (see [`crate::retained`]); returns what was kept.
pub(crate) async fn delete(
    services: &Arc<Services>,
    account_id: &str,
    id: &str,
    retain_filesystem: bool,
) -> Result<Option<crate::retained::RetainedWorkspace>, HostError> {
    let row = row_in(services, account_id, id).await?;
    if retain_filesystem {
        return crate::retained::delete_keeping(services, row).await.map(Some);
    }
    let key = id.to_string();
    services.db.write(move |conn| deployments::delete(conn, &key)).await?;
    services.hub.forget(id);
    let dir = workspace::path(&services.data_dir, id);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::io("removing the workspace")(e)),
    }
}

impl Core {
    /// Loads a deployment of `account_id`; another account's is "not found".
    pub async fn deployment_in(&self, account_id: &str, deployment_id: &str) -> Result<Deployment, HostError> {
        let d = self.deployment(deployment_id).await?;
        if d.account_id != account_id {
            return Err(HostError::NotFound(format!("deployment {deployment_id} not found")));
        }
        Ok(d)
    }

    /// Loads a deployment.
    pub async fn deployment(&self, deployment_id: &str) -> Result<Deployment, HostError> {
        get(&self.services, deployment_id).await
    }
}
