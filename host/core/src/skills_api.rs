//! The Skills API over a deployment: declared skills (inline, file, url) and the ones
//! the agent wrote itself into `.hermes/skills/`, each with a stable `skl_…` id.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::deployments::{self, Deployment, MAX_SKILLS};
use crate::services::Services;
use crate::skills::{SKILLS_DIR, parse_meta};
use crate::{HostError, workspace};
use hermes_types::spec::SkillSpec;

/// A skill as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SkillObject {
    /// `skl_…`, stable for a deployment and skill name.
    pub skill_id: String,
    /// Skill name.
    pub name: String,
    /// `inline`, `file`, `url`, or `agent` (written by the agent in its workspace).
    pub source: String,
    /// From the SKILL.md frontmatter.
    pub description: Option<String>,
    /// Workspace-relative path of its SKILL.md.
    pub path: String,
    /// For `url` skills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the skill was installed, RFC 3339: its folder's creation time, so replacing
    /// its content keeps it and deleting and adding it again renews it (the file's last
    /// change where the filesystem records no creation time).
    pub created_at: Option<String>,
    /// The SKILL.md text (on GET of one skill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The id of skill `name` of a deployment.
pub fn skill_id(deployment_id: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{deployment_id}/{name}").as_bytes());
    format!("skl_{}", &hex::encode(digest)[..20])
}

fn path_of(spec: &SkillSpec) -> String {
    match spec {
        SkillSpec::File { path, .. } => workspace::relative(path).map(|p| p.display().to_string()).unwrap_or_default(),
        other => format!("{SKILLS_DIR}/{}/SKILL.md", other.name()),
    }
}

/// A skill's whole SKILL.md (at most 1 MiB).
fn read(root: &std::path::Path, path: &str) -> Option<String> {
    let ws = workspace::open(root).ok()?;
    workspace::read_bounded(&ws, path, 1 << 20).ok()
}

/// The start of a SKILL.md, enough for its frontmatter: a listing needs only the
/// description, so it never holds whole skills in memory.
fn read_head(root: &std::path::Path, path: &str) -> Option<String> {
    use std::io::Read as _;
    let ws = workspace::open(root).ok()?;
    let mut head = Vec::new();
    let limit = (crate::skills::validate::MAX_FRONTMATTER_BYTES + 1024) as u64;
    ws.open(path).ok()?.take(limit).read_to_end(&mut head).ok()?;
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// When the skill at `path` (its SKILL.md, workspace-relative) was installed.
fn created_at(root: &std::path::Path, path: &str) -> Option<String> {
    let ws = workspace::open(root).ok()?;
    let folder = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
    let meta = match folder {
        Some(f) => ws.metadata(f).ok()?,
        None => ws.metadata(path).ok()?,
    };
    let time = meta.created().or_else(|_| meta.modified()).ok()?.into_std();
    Some(chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Every skill of a deployment: declared ones first, then the agent's own.
pub(crate) async fn list(
    services: &Services,
    d: &Deployment,
    with_content: bool,
) -> Result<Vec<SkillObject>, HostError> {
    let root = workspace::path(&services.data_dir, &d.deployment_id);
    let (dep, declared) = (d.deployment_id.clone(), d.spec.skills.clone());
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for s in &declared {
            let path = path_of(s);
            let text = if with_content { read(&root, &path) } else { read_head(&root, &path) };
            out.push(SkillObject {
                skill_id: skill_id(&dep, s.name()),
                name: s.name().to_string(),
                source: match s {
                    SkillSpec::Inline { .. } => "inline",
                    SkillSpec::File { .. } => "file",
                    SkillSpec::Url { .. } => "url",
                }
                .into(),
                description: text.as_deref().and_then(|t| parse_meta(t).ok()).map(|m| m.description),
                url: match s {
                    SkillSpec::Url { url, .. } => Some(url.clone()),
                    _ => None,
                },
                content: if with_content { text } else { None },
                created_at: created_at(&root, &path),
                path,
            });
        }
        if let Ok(ws) = workspace::open(&root)
            && let Ok(entries) = ws.read_dir(SKILLS_DIR)
        {
            let mut agent = Vec::new();
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else { continue };
                if declared.iter().any(|s| s.name() == name) {
                    continue;
                }
                let path = format!("{SKILLS_DIR}/{name}/SKILL.md");
                let text = if with_content { read(&root, &path) } else { read_head(&root, &path) };
                let Some(text) = text else { continue };
                let Ok(meta) = parse_meta(&text) else { continue };
                agent.push(SkillObject {
                    skill_id: skill_id(&dep, &name),
                    name,
                    source: "agent".into(),
                    description: Some(meta.description),
                    url: None,
                    content: if with_content { Some(text) } else { None },
                    created_at: created_at(&root, &path),
                    path,
                });
            }
            agent.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(agent);
        }
        out
    })
    .await
    .map_err(|e| HostError::Io { context: "listing skills".into(), source: std::io::Error::other(e) })
}

/// One skill by id, with its content (only its own file is read whole).
pub(crate) async fn get(services: &Services, d: &Deployment, id: &str) -> Result<SkillObject, HostError> {
    let mut skill = list(services, d, false)
        .await?
        .into_iter()
        .find(|s| s.skill_id == id)
        .ok_or_else(|| HostError::NotFound(format!("skill {id} not found")))?;
    let root = workspace::path(&services.data_dir, &d.deployment_id);
    let path = skill.path.clone();
    skill.content = tokio::task::spawn_blocking(move || read(&root, &path))
        .await
        .map_err(|e| HostError::Io { context: "reading a skill".into(), source: std::io::Error::other(e) })?;
    Ok(skill)
}

async fn apply(
    services: &Arc<Services>,
    d: &Deployment,
    skills: Vec<SkillSpec>,
    refetch: bool,
) -> Result<(), HostError> {
    let value = serde_json::to_value(&skills)
        .map_err(|e| HostError::Io { context: "encoding skills".into(), source: std::io::Error::other(e) })?;
    deployments::patch_with(
        services,
        &d.account_id,
        &d.deployment_id,
        serde_json::json!({"skills": value}),
        refetch,
        deployments::Authority::FULL,
    )
    .await?;
    Ok(())
}

/// Adds a declared skill (at most [`MAX_SKILLS`], names unique).
pub(crate) async fn add(services: &Arc<Services>, d: &Deployment, skill: SkillSpec) -> Result<SkillObject, HostError> {
    if d.spec.skills.iter().any(|s| s.name() == skill.name()) {
        return Err(HostError::Conflict(format!("the deployment already has a skill named {:?}", skill.name())));
    }
    if d.spec.skills.len() >= MAX_SKILLS {
        return Err(HostError::invalid("skills", format!("at most {MAX_SKILLS} skills per deployment")));
    }
    let mut skills = d.spec.skills.clone();
    let name = skill.name().to_string();
    skills.push(skill);
    apply(services, d, skills, false).await?;
    let fresh = deployments::get(services, &d.deployment_id).await?;
    get(services, &fresh, &skill_id(&d.deployment_id, &name)).await
}

/// Replaces a declared skill (same name); a `url` skill is fetched again.
pub(crate) async fn replace(
    services: &Arc<Services>,
    d: &Deployment,
    id: &str,
    skill: SkillSpec,
) -> Result<SkillObject, HostError> {
    let pos = d
        .spec
        .skills
        .iter()
        .position(|s| skill_id(&d.deployment_id, s.name()) == id)
        .ok_or_else(|| HostError::NotFound(format!("skill {id} not found among the declared skills")))?;
    if d.spec.skills[pos].name() != skill.name() {
        return Err(HostError::invalid("name", "a skill keeps its name; delete it and add a new one to rename"));
    }
    let mut skills = d.spec.skills.clone();
    let refetch = matches!(skill, SkillSpec::Url { .. });
    skills[pos] = skill;
    apply(services, d, skills, refetch).await?;
    let fresh = deployments::get(services, &d.deployment_id).await?;
    get(services, &fresh, id).await
}

/// Removes a skill: a declared one from the configuration (and its installed copy),
/// an agent-written one from the workspace.
pub(crate) async fn remove(services: &Arc<Services>, d: &Deployment, id: &str) -> Result<(), HostError> {
    let skill = get(services, d, id).await?;
    if skill.source != "agent" {
        let skills: Vec<SkillSpec> = d.spec.skills.iter().filter(|s| s.name() != skill.name).cloned().collect();
        apply(services, d, skills, false).await?;
    }
    if skill.source != "file" {
        let root = workspace::path(&services.data_dir, &d.deployment_id);
        let dir = format!("{SKILLS_DIR}/{}", skill.name);
        tokio::task::spawn_blocking(move || {
            let ws = workspace::open(&root)?;
            match ws.remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await
        .map_err(|e| HostError::Io { context: "removing the skill".into(), source: std::io::Error::other(e) })?
        .map_err(HostError::io("removing the skill"))?;
    }
    Ok(())
}
