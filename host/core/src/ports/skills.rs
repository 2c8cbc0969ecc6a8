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
use hermes_types::spec::SkillSpec;

/// The skills of one run's workspace.
pub(crate) struct SkillShelf {
    pub scope: Arc<RunScope>,
}

/// Largest skill file handed to the guest.
const MAX_SKILL_FILE: u64 = 1 << 20;
/// Most skills listed.
const MAX_SKILLS: usize = 200;

/// The declared `file` skills of a run, by name: their SKILL.md's folder (a `file`
/// skill lives where it was uploaded, not under [`SKILLS_DIR`]).
fn file_skills(scope: &RunScope) -> Vec<(String, PathBuf)> {
    scope
        .spec
        .skills
        .iter()
        .filter_map(|s| match s {
            SkillSpec::File { name, path } => {
                let folder = workspace::relative(path).ok()?.parent()?.to_path_buf();
                Some((name.clone(), folder))
            }
            _ => None,
        })
        .collect()
}

/// The index: declared `file` skills, then every folder of [`SKILLS_DIR`]. A skill is
/// known by its declared or folder name, the one `read` finds it by, even where its
/// frontmatter `name` differs (Hermes Agent's library has such skills).
fn list_skills(root: PathBuf, files: Vec<(String, PathBuf)>) -> Vec<SkillSummary> {
    let Ok(ws) = workspace::open(&root) else { return Vec::new() };
    let folders = ws.read_dir(SKILLS_DIR).into_iter().flatten().flatten().take(MAX_SKILLS * 2).filter_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        let folder = PathBuf::from(SKILLS_DIR).join(&name);
        Some((name, folder))
    });
    let mut out: Vec<SkillSummary> = Vec::new();
    for (name, folder) in files.into_iter().chain(folders) {
        if out.iter().any(|s| s.name == name) {
            continue;
        }
        let path = folder.join("SKILL.md").to_string_lossy().into_owned();
        let Ok(text) = workspace::read_bounded(&ws, &path, MAX_SKILL_FILE) else { continue };
        // An invalid SKILL.md the agent wrote is skipped, not fatal.
        if let Ok(m) = parse_meta(&text) {
            out.push(SkillSummary { name, description: m.description, path });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.truncate(MAX_SKILLS);
    out
}

fn read_skill(root: PathBuf, files: Vec<(String, PathBuf)>, name: &str, file: Option<&str>) -> Result<String, String> {
    if !valid_name(name) {
        return Err(format!("{name:?} is not a valid skill name"));
    }
    let rel = match file {
        Some(f) => workspace::relative(f)?,
        None => PathBuf::from("SKILL.md"),
    };
    let folder = files
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or_else(|| PathBuf::from(SKILLS_DIR).join(name), |(_, folder)| folder);
    let path = folder.join(rel);
    let ws = workspace::open(&root).map_err(|e| format!("workspace unavailable: {e}"))?;
    workspace::read_bounded(&ws, &path, MAX_SKILL_FILE).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("skill {name:?} has no file {}", path.display()),
        _ => format!("reading {}: {e}", path.display()),
    })
}

#[async_trait]
impl SkillsPort for SkillShelf {
    async fn list(&self) -> PortResult<Vec<SkillSummary>> {
        let (root, files) = (self.scope.workspace.clone(), file_skills(&self.scope));
        tokio::task::spawn_blocking(move || list_skills(root, files)).await.map_err(PortError::host)
    }

    async fn read(&self, name: &str, file: Option<&str>) -> PortResult<String> {
        let (root, name, file) = (self.scope.workspace.clone(), name.to_string(), file.map(str::to_string));
        let files = file_skills(&self.scope);
        tokio::task::spawn_blocking(move || read_skill(root, files, &name, file.as_deref()))
            .await
            .map_err(PortError::host)?
            .map_err(PortError::Guest)
    }
}
