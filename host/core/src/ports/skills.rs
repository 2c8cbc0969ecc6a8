//! The skills port: the skill index and skill files, read from the workspace
//! through cap-std (never past it).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use hermes_runtime::ports::{PortError, PortResult, SkillsPort};
use hermes_runtime::wit::hermes::agent::skills::SkillSummary;

use crate::run_scope::RunScope;
use crate::skills::{SKILLS_DIR, parse_meta, valid_name};
use crate::workspace;

/// The skills of one run's workspace.
pub(crate) struct SkillShelf {
    pub scope: Arc<RunScope>,
}

/// Largest skill file handed to the guest.
const MAX_SKILL_FILE: u64 = 1 << 20;
/// Most skills listed.
const MAX_SKILLS: usize = 200;

fn list_skills(root: PathBuf) -> Vec<SkillSummary> {
    let Ok(ws) = workspace::open(&root) else { return Vec::new() };
    let Ok(entries) = ws.read_dir(SKILLS_DIR) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten().take(MAX_SKILLS * 2) {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let path = format!("{SKILLS_DIR}/{name}/SKILL.md");
        let Ok(text) = workspace::read_bounded(&ws, &path, MAX_SKILL_FILE) else { continue };
        // An invalid SKILL.md the agent wrote is skipped, not fatal.
        if let Ok(m) = parse_meta(&text) {
            out.push(SkillSummary { name: m.name, description: m.description, path });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.truncate(MAX_SKILLS);
    out
}

fn read_skill(root: PathBuf, name: &str, file: Option<&str>) -> Result<String, String> {
    if !valid_name(name) {
        return Err(format!("{name:?} is not a valid skill name"));
    }
    let rel = match file {
        Some(f) => workspace::relative(f)?,
        None => PathBuf::from("SKILL.md"),
    };
    let path = PathBuf::from(SKILLS_DIR).join(name).join(rel);
    let ws = workspace::open(&root).map_err(|e| format!("workspace unavailable: {e}"))?;
    workspace::read_bounded(&ws, &path, MAX_SKILL_FILE).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("skill {name:?} has no file {}", path.display()),
        _ => format!("reading {}: {e}", path.display()),
    })
}

#[async_trait]
impl SkillsPort for SkillShelf {
    async fn list(&self) -> PortResult<Vec<SkillSummary>> {
        let root = self.scope.workspace.clone();
        tokio::task::spawn_blocking(move || list_skills(root)).await.map_err(PortError::host)
    }

    async fn read(&self, name: &str, file: Option<&str>) -> PortResult<String> {
        let (root, name, file) = (self.scope.workspace.clone(), name.to_string(), file.map(str::to_string));
        tokio::task::spawn_blocking(move || read_skill(root, &name, file.as_deref()))
            .await
            .map_err(PortError::host)?
            .map_err(PortError::Guest)
    }
}
