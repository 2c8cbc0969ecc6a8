//! Context compaction: a long thread is sent as a summary of its older entries plus
//! the newest ones, so every request stays under the model's context window and
//! nothing is silently dropped.
//!
//! Before each model turn the harness estimates the request (the fixed part, the
//! thread's summary and the entries after it). Past [`THRESHOLD_PERCENT`] of the
//! window (less room for the answer), or when older entries than the history window
//! shows have never been summarised, the oldest part of the thread is folded into
//! the summary with one bounded model call per chunk and the summary is persisted
//! through the host (`threads.compact`), so a later turn, run or instance starts
//! from the same context. A split never separates a tool call from its result.

use hermes_guest::{Message, Role};

use crate::context::HISTORY_LIMIT;
use crate::imports::{CompletionRequest, Entry, Imports, Level};

/// Share of the window a request may fill before older turns are folded.
pub const THRESHOLD_PERCENT: usize = 75;
/// Entries read when older, never-summarised entries must be folded.
const WIDE_HISTORY: u32 = 1000;
/// Characters of one entry kept in the text the summariser reads.
const MAX_ENTRY_CHARS: usize = 2000;
/// Output tokens a summary may take.
const SUMMARY_TOKENS: u32 = 1024;
/// Characters of a summary kept (about [`SUMMARY_TOKENS`] of text).
const MAX_SUMMARY_CHARS: usize = 6000;
/// First line of the summariser's system prompt (it also lets a test recognise it).
pub const SUMMARISER: &str = "You compact conversations.";

/// What one model turn sends of the thread.
#[derive(Debug, Default)]
pub struct View {
    /// The summary standing in for older entries, if any.
    pub summary: Option<String>,
    /// The entries after it, oldest first.
    pub messages: Vec<Message>,
}

/// Tokens a text of `bytes` may take when nothing better is known: conservative (3
/// bytes a token; English and JSON average nearer 4). The host counts with the
/// model's own tokenizer where it has one (`model.count-tokens`).
pub fn estimate(bytes: usize) -> usize {
    bytes.div_ceil(3)
}

/// Tokens a message costs beyond its text (role and framing), as providers count.
const MESSAGE_OVERHEAD: usize = 4;

/// The text of a message that is counted: its content and its tool calls.
pub fn counted_text(m: &Message) -> String {
    let mut text = m.content.clone();
    for c in &m.tool_calls {
        text.push('\n');
        text.push_str(&c.name);
        text.push(' ');
        text.push_str(&c.arguments);
    }
    text
}

/// Token counts of thread entries, by entry id: each entry is counted once per run
/// (entries never change), in one host call per turn for the new ones.
#[derive(Default)]
pub struct TokenCounts {
    by_id: std::collections::HashMap<String, usize>,
}

impl TokenCounts {
    /// The tokens of each of `entries` (message overhead included), counting those
    /// not seen before.
    pub fn of(&mut self, host: &mut dyn Imports, entries: &[Entry]) -> Vec<usize> {
        let new: Vec<&Entry> = entries.iter().filter(|e| !self.by_id.contains_key(&e.id)).collect();
        if !new.is_empty() {
            let texts: Vec<String> = new.iter().map(|e| counted_text(&e.message)).collect();
            let counts = host.count_tokens(&texts);
            for (i, e) in new.iter().enumerate() {
                // A host answering short falls back to the estimate, never to zero.
                let n = counts.get(i).map_or_else(|| estimate(texts[i].len()), |&n| n as usize);
                self.by_id.insert(e.id.clone(), n + MESSAGE_OVERHEAD);
            }
        }
        entries.iter().map(|e| self.by_id.get(&e.id).copied().unwrap_or(MESSAGE_OVERHEAD)).collect()
    }
}

/// Tokens of one text, by the host's count.
pub fn count(host: &mut dyn Imports, text: &str) -> usize {
    let counts = host.count_tokens(&[text.to_string()]);
    counts.first().map_or_else(|| estimate(text.len()), |&n| n as usize)
}

/// The tokens a request may reach with `window`: [`THRESHOLD_PERCENT`] of it, less
/// room for the answer (`reserve` tokens), and never less than a quarter of it.
pub fn budget_tokens(window: u32, reserve: u32) -> usize {
    let window = window as usize;
    let usable = (window * THRESHOLD_PERCENT / 100).saturating_sub(reserve as usize);
    usable.max(window / 4)
}

/// The thread as the next turn should see it, compacting first when needed.
/// `fixed_tokens` is the request without any history (system prompt and tools).
pub fn prepare(host: &mut dyn Imports, fixed_tokens: usize, reserve_tokens: u32, counts: &mut TokenCounts) -> View {
    let window = host.context_window();
    if window == 0 {
        // The host turned compaction off: the newest entries only, as they fit.
        let entries = host.history(HISTORY_LIMIT as u32);
        return View { summary: None, messages: entries.into_iter().map(|e| e.message).collect() };
    }
    let budget = budget_tokens(window, reserve_tokens);
    let compacted = host.compaction();
    let entries = host.history(HISTORY_LIMIT as u32);
    let through = compacted.as_ref().map(|c| c.through.as_str());
    let seen = through.and_then(|id| entries.iter().position(|e| e.id == id));
    let tail: &[Entry] = match seen {
        Some(i) => &entries[i + 1..],
        None => &entries,
    };
    // Entries older than the window that no summary covers would be lost.
    let unseen_older = seen.is_none() && entries.len() >= HISTORY_LIMIT;
    let summary = compacted.as_ref().map(|c| c.summary.clone());
    let summary_tokens = summary.as_deref().map_or(0, |s| count(host, s));
    let used = fixed_tokens + summary_tokens + counts.of(host, tail).iter().sum::<usize>();
    if !unseen_older && used <= budget {
        return View { summary, messages: tail.iter().map(|e| e.message.clone()).collect() };
    }
    let wide;
    let candidates: &[Entry] = if unseen_older {
        wide = host.history(WIDE_HISTORY);
        match through.and_then(|id| wide.iter().position(|e| e.id == id)) {
            Some(i) => &wide[i + 1..],
            None => &wide,
        }
    } else {
        tail
    };
    // Room for the new summary, then half of what is left for the newest entries.
    let keep_tokens = budget.saturating_sub(fixed_tokens + estimate(MAX_SUMMARY_CHARS)) / 2;
    let sizes = counts.of(host, candidates);
    let split = split_point(candidates, &sizes, keep_tokens, HISTORY_LIMIT / 2);
    if split == 0 {
        return View { summary, messages: tail.iter().map(|e| e.message.clone()).collect() };
    }
    let folded = &candidates[..split];
    // Chunks are cut by bytes at the conservative estimate: each summariser request
    // fits the window whatever the tokenizer.
    let chunk_bytes = (budget * 3 / 2).clamp(4_000, 200_000);
    match summarise(host, summary.as_deref(), folded, chunk_bytes) {
        Ok(new_summary) => {
            let last = &folded[folded.len() - 1].id;
            if let Err(e) = host.compact(&new_summary, last, folded.len() as u32) {
                host.log(Level::Warn, &format!("the compaction was not saved: {e}"));
            }
            View {
                summary: Some(new_summary),
                messages: candidates[split..].iter().map(|e| e.message.clone()).collect(),
            }
        }
        Err(e) => {
            // The turn goes on with what fits the history window, as before compaction.
            host.log(Level::Warn, &format!("compaction failed: {e}"));
            View { summary, messages: tail.iter().map(|e| e.message.clone()).collect() }
        }
    }
}

/// Where to cut `entries` (of `sizes` tokens each) so the newest part kept is at most
/// `keep_tokens` and `max_keep` entries, moved later so the first kept entry is not
/// a tool result (its call stays with it on the folded side). 0 when nothing should
/// be folded.
pub fn split_point(entries: &[Entry], sizes: &[usize], keep_tokens: usize, max_keep: usize) -> usize {
    let (mut kept, mut tokens) = (0, 0);
    for &t in sizes.iter().rev() {
        if kept >= max_keep || (kept > 0 && tokens + t > keep_tokens) {
            break;
        }
        kept += 1;
        tokens += t;
    }
    let mut split = entries.len() - kept;
    while split < entries.len() && entries[split].message.role == Role::Tool {
        split += 1;
    }
    // Keep at least the newest entry.
    split.min(entries.len().saturating_sub(1))
}

/// One line (or a few) of an entry, for the summariser.
fn render(m: &Message) -> String {
    let who = match m.role {
        Role::User => "User",
        Role::Assistant => "Assistant",
        Role::Tool => "Tool result",
    };
    let mut line = format!("{who}: {}", clip(&m.content, MAX_ENTRY_CHARS));
    for c in &m.tool_calls {
        line.push_str(&format!("\n[called {}({})]", c.name, clip(&c.arguments, 300)));
    }
    line
}

fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

/// Folds `entries` into `previous` chunk by chunk; each chunk is one model call.
fn summarise(
    host: &mut dyn Imports,
    previous: Option<&str>,
    entries: &[Entry],
    chunk_bytes: usize,
) -> Result<String, String> {
    let mut summary = previous.unwrap_or("").to_string();
    let mut chunk = String::new();
    let mut chunks = Vec::new();
    for e in entries {
        let line = render(&e.message);
        if !chunk.is_empty() && chunk.len() + line.len() > chunk_bytes {
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push_str(&line);
        chunk.push('\n');
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    for chunk in chunks {
        let request = CompletionRequest {
            system: format!(
                "{SUMMARISER} Merge the summary so far and the new turns into one summary for your own later \
                 use: every fact, name, number, decision, preference and open task a later answer may need; \
                 what tools found. Plain text, at most {MAX_SUMMARY_CHARS} characters."
            ),
            messages: vec![Message::user(format!(
                "Summary so far:\n{}\n\nNew turns:\n{chunk}",
                if summary.is_empty() { "(none)" } else { &summary }
            ))],
            tools: Vec::new(),
            max_tokens: Some(SUMMARY_TOKENS),
            stream_tokens: false,
        };
        let done = host.complete(&request).map_err(|e| crate::imports::describe_model_error(&e))?;
        let text = done.content.trim();
        if text.is_empty() {
            return Err("the model returned an empty summary".into());
        }
        summary = clip(text, MAX_SUMMARY_CHARS).to_string();
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_guest::{ToolCall, ToolOutput};

    fn entry(i: usize, m: Message) -> Entry {
        Entry { id: format!("msg_{i}"), run_id: None, message: m }
    }

    fn tokens_of(host: &mut dyn Imports, messages: &[Message]) -> usize {
        let texts: Vec<String> = messages.iter().map(counted_text).collect();
        host.count_tokens(&texts).iter().map(|&n| n as usize + MESSAGE_OVERHEAD).sum()
    }

    #[test]
    fn a_split_keeps_the_newest_within_bounds_and_never_separates_a_call_from_its_result() {
        let mut entries = Vec::new();
        for i in 0..10 {
            entries.push(entry(entries.len(), Message::user(format!("question {i} {}", "x".repeat(100)))));
            let call = ToolCall::new(format!("c{i}"), "read_file", "{}");
            entries.push(entry(entries.len(), Message::assistant_with_calls("", vec![call])));
            entries.push(entry(entries.len(), Message::tool_result(format!("c{i}"), ToolOutput::ok("r".repeat(100)))));
        }
        let sizes: Vec<usize> = entries.iter().map(|e| estimate(counted_text(&e.message).len()) + 4).collect();
        let split = split_point(&entries, &sizes, 170, 100);
        assert!(split > 0 && split < entries.len());
        assert_ne!(entries[split].message.role, Role::Tool, "a kept part never starts with a result");
        let kept: usize = sizes[split..].iter().sum();
        assert!(kept <= 170 + 70, "kept {kept} tokens");
        assert_eq!(
            split_point(&entries, &sizes, 1 << 20, 4),
            entries.len() - 4 + 1,
            "count bound, moved past a result"
        );
        assert_eq!(split_point(&entries[..1], &sizes[..1], 0, 10), 0, "a single entry is kept");
    }

    #[test]
    fn a_long_thread_is_folded_once_into_a_persisted_summary_that_later_turns_reuse() {
        let mut host = crate::fake_host::FakeHost::new("run_1", "The code word is PAPAYA-17.");
        for i in 0..600 {
            let m =
                if i % 2 == 0 { Message::assistant(format!("noted {i}")) } else { Message::user(format!("more {i}")) };
            host.push(None, m);
        }
        host.window = 4_000;
        for _ in 0..20 {
            host.reply("Earlier: the user said the code word is PAPAYA-17.", Vec::new());
        }
        let mut counts = TokenCounts::default();
        let view = prepare(&mut host, 700, 1_000, &mut counts);
        let calls = host.requests.len();
        assert!((1..=10).contains(&calls), "a bounded number of summariser calls: {calls}");
        let budget = budget_tokens(4_000, 1_000);
        for r in host.requests.clone() {
            assert!(r.system.starts_with(SUMMARISER));
            let tokens = count(&mut host, &r.system) + tokens_of(&mut host, &r.messages);
            assert!(tokens <= budget, "a summariser request fits the window too: {tokens}");
        }
        assert!(host.requests[0].messages[0].content.contains("PAPAYA-17"), "the oldest entry was folded");
        let saved = host.compacted.clone().expect("persisted");
        assert!(saved.summary.contains("PAPAYA-17"));
        assert_eq!(view.summary.as_deref(), Some(saved.summary.as_str()));
        let sent = 700 + count(&mut host, &saved.summary) + tokens_of(&mut host, &view.messages);
        assert!(sent <= budget, "{sent} tokens");
        assert_eq!(view.messages.last().unwrap().content, "more 599");
        // The next turn starts from the saved summary without another call, and
        // counts only entries it has not seen.
        let asked = host.counted;
        let again = prepare(&mut host, 700, 1_000, &mut counts);
        assert_eq!(host.requests.len(), calls);
        assert_eq!(again.messages.len(), view.messages.len());
        assert!(host.counted - asked <= 1, "the summary alone is counted again, not the entries");
    }

    #[test]
    fn the_budget_leaves_room_for_the_answer() {
        assert_eq!(budget_tokens(100_000, 8_000), 75_000 - 8_000);
        assert_eq!(budget_tokens(4_000, 8_000), 1_000, "a tiny window still allows a quarter");
    }
}
