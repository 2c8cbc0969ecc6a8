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
    /// Prepares what the target needs (a host), before its clock starts.
    pub setup: Option<fn()>,
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

const BOUNDARY: &str = "XyZzY";
const MULTIPARTS: &[&str] = &[
    "--XyZzY\r\nContent-Disposition: form-data; name=\"deployment\"\r\nContent-Type: application/json\r\n\r\n{\"customer_id\":\"c\",\"name\":\"n\",\"system_prompt\":\"p\",\"skills\":[{\"source\":\"file\",\"name\":\"s\",\"path\":\"skills/s/SKILL.md\"}]}\r\n--XyZzY\r\nContent-Disposition: form-data; name=\"skills/s/SKILL.md\"; filename=\"SKILL.md\"\r\n\r\n---\nname: s\ndescription: d\n---\nbody\r\n--XyZzY--\r\n",
    "--XyZzY\r\nContent-Disposition: form-data; name*=utf-8''data%2Fa.csv\r\n\r\na,b\n1,2\r\n--XyZzY\r\nContent-Disposition: form-data; name=\"deployment\"\r\n\r\n{\"customer_id\":\"c\",\"name\":\"n\",\"system_prompt\":\"p\"}\r\n--XyZzY--\r\n",
    "--XyZzY\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--XyZzY--",
];

/// A host and its API router on a runtime of their own, made once per process.
struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    key: String,
    _dir: tempfile::TempDir,
}

fn api() -> &'static Api {
    static API: std::sync::OnceLock<Api> = std::sync::OnceLock::new();
    API.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("data dir");
        let (router, key) = runtime.block_on(async {
            // No rate limit: the fuzzer is one key sending as fast as it can. The
            // compiled harness is kept between fuzz runs.
            let config =
                hermes_core::HostConfig { tenants: hermes_core::TenantLimits::unlimited(), ..Default::default() };
            let cache = std::env::temp_dir().join("hermes-fuzz-component-cache");
            let env = std::collections::HashMap::from([("HERMES_CACHE_DIR".to_string(), cache.display().to_string())]);
            let host = hermes_core::Host::builder(dir.path()).config(config).env(env).build().await.expect("host");
            let key = host.accounts().bootstrap(i64::MAX / 2).await.expect("account").expect("a new key");
            (hermes_api::router(host), key)
        });
        Api { runtime, router, key, _dir: dir }
    })
}

/// `POST /v1/deployments` with a mutated multipart body (and now and then a broken
/// boundary): any answer but a 5xx is fine; a 5xx is a finding, like a panic.
fn multipart_create(r: &mut TestRunner) -> Option<String> {
    let s = (
        text(MULTIPARTS),
        prop_oneof![Just(BOUNDARY.to_string()), Just(String::new()), "[a-zA-Z0-9'()+_,-./:=? ]{0,80}"],
    )
        .boxed();
    let api = api();
    let server_error = std::cell::RefCell::new(None);
    let finding = feed(r, &s, |(body, boundary)| {
        use tower::ServiceExt;
        let request = axum::http::Request::post("/v1/deployments")
            .header("authorization", format!("Bearer {}", api.key))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(axum::body::Body::from(body.clone()));
        let Ok(request) = request else { return };
        let response = api.runtime.block_on(api.router.clone().oneshot(request));
        if let Ok(r) = response
            && r.status().is_server_error()
        {
            *server_error.borrow_mut() = Some(format!("{} for boundary {boundary:?}, body {body:?}", r.status()));
        }
    });
    finding.or_else(|| server_error.into_inner())
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "SKILL.md validator", run: skill_md, setup: None },
    Target { name: "SSE decoders (model, MCP)", run: sse_decoder, setup: None },
    Target { name: "MCP tool results", run: mcp_result, setup: None },
    Target { name: "schedules (cron, English)", run: schedule, setup: None },
    Target {
        name: "multipart deployment create",
        run: multipart_create,
        setup: Some(|| {
            api();
        }),
    },
];

/// Runs `target` for `budget`; returns (executions, findings).
pub fn run_for(target: &Target, budget: Duration) -> (u64, Vec<String>) {
    if let Some(setup) = target.setup {
        setup();
    }
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
