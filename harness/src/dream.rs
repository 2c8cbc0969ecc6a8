//! Dreaming: idle-time self-learning. Recalls the deployment's memories, asks the
//! model to merge duplicates, drop stale entries and propose at most one skill (new,
//! or an improvement of one an earlier dream wrote), and applies the answer.
//!
//! The model only proposes; this module checks every id against the recalled set and
//! writes skills in the Agent Skills format the host validates (`name` and
//! `description` frontmatter, Markdown body). Skills a human or vendor installed are
//! never overwritten: only those marked `metadata.hermes-origin: dream`.

use serde::Deserialize;

use hermes_guest::Message;

use crate::imports::*;
use crate::tools::Workspace;

/// Memories considered in one dream at most.
const RECALL_LIMIT: u32 = 100;

/// Marks the skills dreams wrote (the only ones a dream may rewrite).
const ORIGIN: &str = "hermes-origin: dream";

const PROMPT: &str = "You consolidate an AI agent's memory. You get its memories as `id: content` \
lines, and the names of its skills. Merge duplicates and near-duplicates into one entry; list \
entries that are stale or contradicted by newer ones under `forget`; keep every unique fact. \
If the memories show a procedure the agent repeats, propose one reusable skill (or an improved \
version of an existing one, same name). Answer with JSON only: \
{\"summary\":\"one paragraph\",\"merges\":[{\"ids\":[\"mem_…\"],\"content\":\"merged text\"}],\
\"forget\":[\"mem_…\"],\"skill\":null|{\"name\":\"a-z0-9-\",\"description\":\"…\",\"body\":\"markdown\"}}";

#[derive(Deserialize, Default)]
struct Plan {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    merges: Vec<Merge>,
    #[serde(default)]
    forget: Vec<String>,
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
    let mut listing: String =
        memories.iter().map(|m| format!("{}: {}\n", m.id, m.content.replace('\n', " "))).collect();
    let skills = host.list_skills();
    if !skills.is_empty() {
        listing.push_str("\nSkills: ");
        listing.push_str(&skills.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "));
    }
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
    let mut dropped = 0;
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
    for id in plan.forget.iter().filter(|id| known.contains(&id.as_str())) {
        if host.forget_memory(id).is_ok() {
            dropped += 1;
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
    Ok(DreamReport {
        summary: format!("{summary} Merged away {merged} duplicate memories; dropped {dropped} stale.{skill_note}"),
    })
}

/// The JSON object in `text` (models sometimes wrap it in a code fence).
fn parse_plan(text: &str) -> Option<Plan> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// Writes a proposed skill to `.hermes/skills/<name>/SKILL.md`; an existing one only
/// when an earlier dream wrote it.
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
    if file.exists() && !std::fs::read_to_string(&file).is_ok_and(|t| t.contains(ORIGIN)) {
        return Err(format!("skill `{name}` already exists and was not written by a dream"));
    }
    let body = skill.body.trim();
    if body.is_empty() {
        return Err("skill body is empty".into());
    }
    let quoted = serde_json::to_string(description.trim()).map_err(|e| e.to_string())?;
    let text = format!("---\nname: {name}\ndescription: {quoted}\nmetadata:\n  {ORIGIN}\n---\n\n{body}\n");
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

    fn memory(id: &str, content: &str) -> MemoryEntry {
        MemoryEntry { id: id.into(), content: content.into(), source: "agent".into(), created_at: String::new() }
    }

    #[test]
    fn a_plan_merges_drops_and_writes_a_skill_only_for_known_ids() {
        let root = std::env::temp_dir().join(format!("hermes-dream-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ws = Workspace::new(&root);
        let mut host = crate::fake_host::FakeHost::new("run_d", "");
        host.memories =
            Ok(vec![memory("mem_a", "likes tea"), memory("mem_b", "likes tea a lot"), memory("mem_c", "old")]);
        let plan = r#"{"summary":"s","merges":[{"ids":["mem_a","mem_b","mem_zzz"],"content":"The customer likes tea."}],
            "forget":["mem_c","mem_unknown"],"skill":{"name":"tea-order","description":"Order tea.","body":"1. Order."}}"#;
        host.reply(plan, Vec::new());
        let report = dream(&mut host, &ws, &crate::fake_host::FakeHost::context(false)).unwrap();
        assert_eq!(host.updated, [("mem_a".to_string(), "The customer likes tea.".to_string())]);
        assert_eq!(host.forgotten, ["mem_b", "mem_c"], "unknown ids are ignored");
        assert!(report.summary.contains("Merged away 1") && report.summary.contains("dropped 1"), "{}", report.summary);
        let text = std::fs::read_to_string(root.join(".hermes/skills/tea-order/SKILL.md")).unwrap();
        assert!(text.starts_with("---\nname: tea-order\ndescription: \"Order tea.\"\n"), "{text}");
        // A dream may rewrite its own skill, never one written by someone else.
        host.reply(plan, Vec::new());
        assert!(dream(&mut host, &ws, &crate::fake_host::FakeHost::context(false)).unwrap().summary.contains("Wrote"));
        std::fs::write(root.join(".hermes/skills/tea-order/SKILL.md"), "---\nname: tea-order\ndescription: x\n---\n")
            .unwrap();
        host.reply(plan, Vec::new());
        assert!(!dream(&mut host, &ws, &crate::fake_host::FakeHost::context(false)).unwrap().summary.contains("Wrote"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn skill_names_are_validated() {
        let ws = Workspace::new(std::env::temp_dir().join("hermes-dream-test-none"));
        let bad = Skill { name: "Bad Name".into(), description: "d".into(), body: "b".into() };
        assert!(write_skill(&ws, &bad).unwrap_err().contains("invalid"));
    }
}
