//! Creating and reading deployments: validation, the workspace, installed skills.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::HostError;
use crate::events::NewEvent;
use crate::services::Services;
use crate::skills::{SKILLS_DIR, parse_meta, valid_name};
use crate::spec::{DeploymentSpec, SkillSpec};
use crate::store::deployments::{self, DeploymentRow, DeploymentStatus};
use crate::workspace;

/// Most skills per deployment.
pub const MAX_SKILLS: usize = 20;
/// Most MCP servers per deployment.
pub const MAX_MCP_SERVERS: usize = 20;

/// A deployment as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    /// Owning account (not shown to clients).
    #[serde(skip)]
    pub account_id: String,
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
    pub(crate) fn from_row(row: &DeploymentRow, default_model: &str, warnings: Vec<String>) -> Deployment {
        Deployment {
            account_id: row.account_id.clone(),
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

/// Checks a spec; returns warnings for accepted-but-notable settings.
pub(crate) fn validate(spec: &DeploymentSpec, services: &Services) -> Result<Vec<String>, HostError> {
    required("customer_id", &spec.customer_id)?;
    required("name", &spec.name)?;
    required("system_prompt", &spec.system_prompt)?;
    if !services.harnesses.contains_key(&spec.runtime) {
        let mut known: Vec<_> = services.harnesses.keys().cloned().collect();
        known.sort();
        return Err(HostError::invalid(
            "runtime",
            format!("unknown runtime {:?}; available: {}", spec.runtime, known.join(", ")),
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
                let meta = parse_meta(content).map_err(|e| HostError::InvalidSkill(format!("skill {name:?}: {e}")))?;
                if &meta.name != name {
                    return Err(HostError::InvalidSkill(format!(
                        "skill {name:?}: its frontmatter is named {:?}; the names must match",
                        meta.name
                    )));
                }
            }
            SkillSpec::File { path, .. } => {
                workspace::relative(path).map_err(|e| HostError::invalid(&format!("skills[{i}].path"), e))?;
            }
            SkillSpec::Url { name, .. } => {
                return Err(HostError::InvalidSkill(format!(
                    "skill {name:?}: url skills are not supported by this host yet"
                )));
            }
        }
    }
    Ok(warnings)
}

/// Creates a deployment: row, workspace, skills; ready when done.
pub(crate) async fn create(
    services: &Arc<Services>,
    account_id: &str,
    spec: DeploymentSpec,
) -> Result<Deployment, HostError> {
    let warnings = validate(&spec, services)?;
    let row = DeploymentRow {
        id: crate::ids::new_id("dep"),
        account_id: account_id.to_string(),
        spec,
        status: DeploymentStatus::Provisioning,
        error: None,
        default_thread_id: crate::ids::new_id("thr"),
        created_at: crate::ids::now(),
    };
    let dir = workspace::path(&services.data_dir, &row.id);
    let skills = row.spec.skills.clone();
    let install = tokio::task::spawn_blocking(move || install_skills(&dir, &skills))
        .await
        .map_err(|e| HostError::Io { context: "installing skills".into(), source: std::io::Error::other(e) })?;
    let (status, error) = match install {
        Ok(()) => (DeploymentStatus::Ready, None),
        Err(e) => (DeploymentStatus::Error, Some(e)),
    };
    let mut row = row;
    row.status = status;
    row.error = error;
    let event = NewEvent::new("deployment_status", &row.id, json!({"status": status.as_str(), "error": row.error}));
    let stored = row.clone();
    services
        .hub
        .commit(&row.id, move |conn| {
            deployments::insert(conn, &stored)?;
            Ok(((), vec![event]))
        })
        .await?;
    Ok(Deployment::from_row(&row, &services.config.default_model, warnings))
}

fn install_skills(dir: &std::path::Path, skills: &[SkillSpec]) -> Result<(), String> {
    let ws = workspace::create(dir).map_err(|e| format!("creating the workspace: {e}"))?;
    for skill in skills {
        match skill {
            SkillSpec::Inline { name, content } => {
                let rel = std::path::PathBuf::from(SKILLS_DIR).join(name).join("SKILL.md");
                workspace::write(&ws, &rel, content.as_bytes()).map_err(|e| format!("writing skill {name:?}: {e}"))?;
            }
            SkillSpec::File { name, path } => {
                let rel = workspace::relative(path)?;
                let text = ws.read_to_string(&rel).map_err(|_| format!("skill {name:?}: {path} was not uploaded"))?;
                parse_meta(&text).map_err(|e| format!("skill {name:?}: {e}"))?;
            }
            SkillSpec::Url { name, .. } => return Err(format!("skill {name:?}: url skills are not supported yet")),
        }
    }
    Ok(())
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
