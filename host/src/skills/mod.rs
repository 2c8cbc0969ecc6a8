//! SKILL.md: YAML frontmatter + Markdown body; where skills live in a workspace.

pub mod fetch;

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

/// Splits a SKILL.md into its frontmatter and parses the required fields.
pub fn parse_meta(text: &str) -> Result<SkillMeta, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or("missing YAML frontmatter (the file must start with `---`)")?;
    let end = rest.find("\n---").ok_or("unterminated YAML frontmatter (no closing `---`)")?;
    let meta: SkillMeta = serde_yaml::from_str(&rest[..end]).map_err(|e| format!("invalid frontmatter: {e}"))?;
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
