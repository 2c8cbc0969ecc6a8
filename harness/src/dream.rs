//! Dreaming: idle-time self-learning. Recalls the deployment's memories, asks the
//! model to merge duplicates and to propose at most one skill, and applies the answer.

use serde::Deserialize;

use hermes_guest::Message;

use crate::imports::*;
use crate::tools::Workspace;

/// Memories considered in one dream at most.
const RECALL_LIMIT: u32 = 100;

const PROMPT: &str = "You consolidate an AI agent's memory. You get its memories as `id: content` \
lines. Merge duplicates and near-duplicates; keep facts, drop nothing unique. If a repeated \
procedure deserves a reusable skill, propose one. Answer with JSON only: \
{\"summary\":\"one paragraph\",\"merges\":[{\"ids\":[\"mem_…\"],\"content\":\"merged text\"}],\
\"skill\":null|{\"name\":\"a-z0-9-\",\"description\":\"…\",\"body\":\"markdown\"}}";

#[derive(Deserialize, Default)]
struct Plan {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    merges: Vec<Merge>,
    skill: Option<Skill>,
}

#[derive(Deserialize)]
struct Merge {
    ids: Vec<String>,
    content: String,
}

#[derive(Deserialize)]
struct Skill {
    name: String,
    description: String,
    body: String,
}

/// Runs one dream for the deployment of `ctx`.
pub fn dream(host: &mut impl Imports, workspace: &Workspace, ctx: &RunContext) -> Result<DreamReport, String> {
    if !ctx.features.memory {
        return Err("memory is disabled for this deployment; nothing to dream about".into());
    }
    let memories = host.recall("", RECALL_LIMIT).map_err(|e| format!("memory unavailable: {e}"))?;
    if memories.is_empty() {
        return Ok(DreamReport { summary: "Memory is empty; nothing to consolidate.".into() });
    }
    let listing: String = memories.iter().map(|m| format!("{}: {}\n", m.id, m.content.replace('\n', " "))).collect();
    let request = CompletionRequest {
        system: PROMPT.to_string(),
        messages: vec![Message::user(listing)],
        tools: Vec::new(),
        max_tokens: Some(2048),
        stream_tokens: false,
    };
    let completion = host.complete(&request).map_err(|e| describe_model_error(&e))?;
    let plan = parse_plan(&completion.content)
        .ok_or_else(|| "the model's consolidation plan was not valid JSON".to_string())?;

    let known: Vec<&str> = memories.iter().map(|m| m.id.as_str()).collect();
    let mut merged = 0;
    for merge in &plan.merges {
        let ids: Vec<&str> = merge.ids.iter().map(String::as_str).filter(|id| known.contains(id)).collect();
        let Some((keep, rest)) = ids.split_first() else {
            continue;
        };
        if merge.content.trim().is_empty() || host.update_memory(keep, &merge.content).is_err() {
            continue;
        }
        for id in rest {
            if host.forget_memory(id).is_ok() {
                merged += 1;
            }
        }
    }
    let skill_note = match plan.skill.as_ref().map(|s| write_skill(workspace, s)) {
        Some(Ok(name)) => format!(" Wrote skill `{name}`."),
        Some(Err(e)) => {
            host.log(Level::Warn, &format!("dream skill not written: {e}"));
            String::new()
        }
        None => String::new(),
    };
    let summary = if plan.summary.trim().is_empty() { "Memory reviewed." } else { plan.summary.trim() };
    Ok(DreamReport { summary: format!("{summary} Merged away {merged} duplicate memories.{skill_note}") })
}

/// The JSON object in `text` (models sometimes wrap it in a code fence).
fn parse_plan(text: &str) -> Option<Plan> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// Writes a proposed skill to `.hermes/skills/<name>/SKILL.md`, never over an existing one.
fn write_skill(workspace: &Workspace, skill: &Skill) -> Result<String, String> {
    let name = skill.name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        return Err(format!("invalid skill name `{name}`"));
    }
    let description = skill.description.replace('\n', " ");
    if description.trim().is_empty() || description.len() > 1024 {
        return Err("skill description must be 1-1024 characters".into());
    }
    let dir = workspace.resolve(&format!(".hermes/skills/{name}"))?;
    let file = dir.join("SKILL.md");
    if file.exists() {
        return Err(format!("skill `{name}` already exists"));
    }
    let quoted = serde_json::to_string(description.trim()).map_err(|e| e.to_string())?;
    let text = format!("---\nname: {name}\ndescription: {quoted}\n---\n\n{}\n", skill.body.trim());
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_found_inside_code_fences() {
        let plan = parse_plan("```json\n{\"summary\":\"s\",\"merges\":[]}\n```").unwrap();
        assert_eq!(plan.summary, "s");
        assert!(plan.skill.is_none());
    }

    #[test]
    fn skill_names_are_validated() {
        let ws = Workspace::new(std::env::temp_dir().join("hermes-dream-test-none"));
        let bad = Skill { name: "Bad Name".into(), description: "d".into(), body: "b".into() };
        assert!(write_skill(&ws, &bad).unwrap_err().contains("invalid"));
    }
}
