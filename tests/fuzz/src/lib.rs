//! Fuzz targets for the parsers that read what tenants, guests and their servers
//! send: each takes arbitrary input and must return (an error is fine), never panic
//! or hang. Inputs come from proptest strategies — random text and bytes, and seeds
//! from real inputs with random edits — so the harness is a well-kept generator, not
//! a hand-written one. `src/main.rs` runs each target for a fixed time.

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

/// One fuzz target: a name, and a run over one generated input.
pub struct Target {
    /// Shown in the report.
    pub name: &'static str,
    /// Generates and feeds one input.
    pub run: fn(&mut TestRunner) -> Option<String>,
}

/// Seeds mutated by random insertions, deletions and replacements.
fn mutated(seeds: &'static [&'static str]) -> BoxedStrategy<String> {
    let edits = proptest::collection::vec(
        (any::<prop::sample::Index>(), 0u8..3, "[\\x00-\\x7f\\u{80}-\\u{10ffff}]{0,8}"),
        0..8,
    );
    (prop::sample::select(seeds), edits)
        .prop_map(|(seed, edits)| {
            let mut s: Vec<char> = seed.chars().collect();
            for (at, kind, text) in edits {
                let i = if s.is_empty() { 0 } else { at.index(s.len()) };
                match kind {
                    0 => s.splice(i..i, text.chars()).for_each(drop),
                    1 if !s.is_empty() => {
                        let end = (i + text.len().max(1)).min(s.len());
                        s.drain(i..end).for_each(drop);
                    }
                    _ => s.splice(i..(i + 1).min(s.len()), text.chars()).for_each(drop),
                }
            }
            s.into_iter().collect()
        })
        .boxed()
}

/// Text: arbitrary, or a mutated seed.
fn text(seeds: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![any::<String>(), "(\\PC|[\\n\\r\\t:#-]){0,400}", mutated(seeds)].boxed()
}

/// Feeds `f` one value of `strategy`; a panic becomes a finding (the input, shown).
fn feed<T: std::fmt::Debug>(runner: &mut TestRunner, strategy: &BoxedStrategy<T>, f: impl Fn(&T)) -> Option<String> {
    let value = strategy.new_tree(runner).ok()?.current();
    match std::panic::catch_unwind(AssertUnwindSafe(|| f(&value))) {
        Ok(()) => None,
        Err(_) => Some(format!("{value:?}")),
    }
}

const SKILLS: &[&str] = &[
    "---\nname: pdf-tools\ndescription: Work with PDFs.\n---\n# PDF\nUse `pdftotext`.\n",
    "---\nname: a\ndescription: \"quoted: yes\"\nmetadata:\n  author: x\n  tags: [a, b, {c: d}]\n---\nbody",
    "---\nname: deep\ndescription: d\nx: [[[[[[[[[]]]]]]]]]\n---\n",
];
const SSE: &[&str] = &[
    "event: message\ndata: {\"a\":1}\nid: 7\n\n",
    "data: one\ndata: two\r\n\r\n: comment\nretry: 100\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n",
];
const RESULTS: &[&str] = &[
    r#"{"content":[{"type":"text","text":"ok"}],"isError":false}"#,
    r#"{"content":[{"type":"image","data":"AAAA","mimeType":"image/png"},{"type":"resource","resource":{"uri":"x","text":"t"}}],"structuredContent":{"a":[1,2]}}"#,
    r#"{"content":[{"type":"resource_link","uri":"file:///a","name":"a"}],"isError":true}"#,
];
const SCHEDULES: &[&str] =
    &["0 9 * * 1-5", "*/15 * * * *", "every 2h", "every 90 minutes", "30 8 1,15 * *", "0 0 29 2 *"];

fn skill_md(r: &mut TestRunner) -> Option<String> {
    let s = text(SKILLS);
    feed(r, &s, |t| {
        let _ = hermes_core::skills::validate::validate(t, Some("pdf-tools"));
    })
}

fn sse_decoder(r: &mut TestRunner) -> Option<String> {
    let s = prop_oneof![text(SSE).prop_map(String::into_bytes), proptest::collection::vec(any::<u8>(), 0..600)].boxed();
    feed(r, &s, |bytes| {
        // Split at every point a network could: the decoder sees arbitrary chunks.
        let mut d = hermes_providers::sse::SseDecoder::new();
        for chunk in bytes.chunks(7) {
            let _ = d.push(chunk);
        }
        let _ = d.finish();
        let mut p = hermes_mcp_client::sse::Parser::default();
        for chunk in bytes.chunks(5) {
            let _ = p.push(chunk);
        }
    })
}

fn mcp_result(r: &mut TestRunner) -> Option<String> {
    feed(r, &text(RESULTS), |t| {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
            let _ = hermes_mcp_client::content::to_text(&v);
        }
    })
}

fn schedule(r: &mut TestRunner) -> Option<String> {
    let s = (
        text(SCHEDULES),
        prop_oneof![Just(None), Just(Some("Europe/Paris".to_string())), any::<String>().prop_map(Some)],
    )
        .boxed();
    feed(r, &s, |(t, tz)| {
        let _ = hermes_core::automations::schedule::Schedule::parse(t, tz.as_deref());
    })
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "SKILL.md validator", run: skill_md },
    Target { name: "SSE decoders (model, MCP)", run: sse_decoder },
    Target { name: "MCP tool results", run: mcp_result },
    Target { name: "schedules (cron, English)", run: schedule },
];

/// Runs `target` for `budget`; returns (executions, findings).
pub fn run_for(target: &Target, budget: Duration) -> (u64, Vec<String>) {
    let mut runner = TestRunner::deterministic();
    let started = Instant::now();
    let (mut runs, mut findings) = (0u64, Vec::new());
    while started.elapsed() < budget {
        runs += 1;
        if let Some(f) = (target.run)(&mut runner)
            && findings.len() < 10
        {
            findings.push(f);
        }
    }
    (runs, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short run of every target on every CI pass: no input may panic a parser.
    #[test]
    fn every_target_survives_a_short_run() {
        std::panic::set_hook(Box::new(|_| {}));
        for t in TARGETS {
            let (runs, findings) = run_for(t, Duration::from_millis(300));
            assert!(runs > 10, "{}: only {runs} inputs", t.name);
            assert!(findings.is_empty(), "{} panicked on: {findings:#?}", t.name);
        }
        let _ = std::panic::take_hook();
    }
}
