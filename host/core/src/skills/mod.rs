//! SKILL.md: YAML frontmatter + Markdown body; where skills live in a workspace.

pub mod validate;

use serde::Deserialize;

/// Folder (workspace-relative) holding one sub-folder per skill.
pub const SKILLS_DIR: &str = ".hermes/skills";

/// The frontmatter fields the host needs.
#[derive(Clone, Debug, Deserialize)]
pub struct SkillMeta {
    /// 1–64 chars of `a-z0-9-`.
    pub name: String,
    /// What the skill is for (shown in the skill index).
    pub description: String,
}

/// Splits a SKILL.md into its frontmatter and parses the required fields (a quick check;
/// [`validate::validate`] applies every rule and reports all problems).
pub fn parse_meta(text: &str) -> Result<SkillMeta, String> {
    let (frontmatter, _body, _) = validate::split_frontmatter(text)?;
    validate::check_frontmatter_size(frontmatter)?;
    let meta: SkillMeta = serde_yaml::from_str(frontmatter).map_err(|e| format!("invalid frontmatter: {e}"))?;
    if meta.name.is_empty() || meta.description.trim().is_empty() {
        return Err("frontmatter needs a non-empty `name` and `description`".into());
    }
    Ok(meta)
}

/// Whether `name` is a valid skill name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}
