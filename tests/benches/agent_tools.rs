//! The agent's tools and long threads: the fixed context of a first turn with every
//! built-in tool offered, the tokens sent per turn over a 300-turn conversation with
//! and without compaction (a GPT-4o-family model, so both the harness and this
//! bench count with OpenAI's o200k tokenizer), and what `web_fetch` adds to a
//! loopback fetch, measured side by side with a plain HTTP client in one run.
//!
//! `cargo bench -p hermes-tests --bench agent_tools`

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use hermes_host::web::{SearchConfig, SearchKind, WEB_FETCH, Web, WebConfig, WebContext};
use hermes_host::{DeploymentSpec, Host, ThreadTarget};
use hermes_tests::mock_llm::{MockLlm, Reply};
use hermes_tests::stats::{pct, sorted};
use serde_json::{Value, json};

const TURNS: usize = 300;
/// A name of the GPT-4o family (the fake model answers any name).
const MODEL: &str = "openai/gpt-4o-bench";

/// Tokens of each text as a GPT-4o model counts them.
fn tokens(texts: &[String]) -> Vec<usize> {
    hermes_providers::tokens::Tokenizer::O200k.count(texts).into_iter().map(|n| n as usize).collect()
}
const FETCHES: usize = 300;

fn env_for(llm: &MockLlm) -> HashMap<String, String> {
    HashMap::from([("OPENAI_API_KEY".into(), "sk-bench".into()), ("OPENAI_BASE_URL".into(), llm.openai_base_url())])
}

fn spec() -> DeploymentSpec {
    serde_json::from_value(json!({
        "customer_id": "cus_bench", "name": "bench", "model": MODEL, "system_prompt": "Be brief.",
        "features": {"memory": true, "automations": true, "steering": true}
    }))
    .expect("spec")
}

fn is_summariser(req: &Value) -> bool {
    req["messages"][0]["content"].as_str().is_some_and(|s| s.starts_with("You compact conversations."))
}

/// Tokens of each model turn's request (its whole JSON body) over a
/// `TURNS`-message conversation on a host
/// whose model has `window` tokens (`None`: compaction off).
async fn conversation(llm: &MockLlm, dir: &std::path::Path, window: Option<u32>) -> Vec<usize> {
    let mut config = hermes_host::HostConfig {
        tenants: hermes_host::TenantLimits::unlimited(),
        starting_credits: i64::MAX / 4,
        ..Default::default()
    };
    match window {
        Some(w) => _ = config.context.models.insert(MODEL.into(), w),
        None => config.context.compact = false,
    }
    let host = Host::builder(dir).env(env_for(llm)).config(config).build().await.expect("host");
    let mut s = spec();
    s.features.memory = false;
    let dep = host.create_deployment(s).await.expect("deployment");
    let before = llm.requests().len();
    for i in 0..TURNS {
        let text = format!("Update {i}: {}", "all systems nominal, nothing to report. ".repeat(3));
        let ticket = host.send_message(&dep.deployment_id, &text, ThreadTarget::Default).await.expect("send");
        host.wait_for_run(&ticket.run_id).await.expect("run");
    }
    host.shutdown().await;
    let bodies: Vec<String> =
        llm.requests()[before..].iter().filter(|r| !is_summariser(r)).map(Value::to_string).collect();
    tokens(&bodies)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let llm = MockLlm::start().await;
    llm.set_responder(|req| {
        Some(if is_summariser(req) {
            Reply::text("The user sent routine status updates; nothing needs doing.")
        } else {
            Reply::text(format!("Noted. {}", "Routine acknowledgement of the update. ".repeat(3)))
        })
    });
    let dir = tempfile::tempdir().expect("tmp");
    println!("{:<58} {:>12} {:>12}", "measure", "value", "baseline");

    // 1. The fixed context of a first turn, every built-in tool offered (search too).
    let search = SearchConfig {
        kind: SearchKind::Searxng,
        base_url: Some("http://127.0.0.1:9".into()),
        api_key_env: None,
        deployment_key_secret: "SEARCH_API_KEY".into(),
        timeout_secs: 1,
    };
    let config = hermes_host::HostConfig {
        tenants: hermes_host::TenantLimits::unlimited(),
        search: Some(search),
        ..Default::default()
    };
    let host = Host::builder(dir.path().join("fixed")).env(env_for(&llm)).config(config).build().await.expect("host");
    let dep = host.create_deployment(spec()).await.expect("deployment");
    let ticket = host.send_message(&dep.deployment_id, "hi", ThreadTarget::Default).await.expect("send");
    host.wait_for_run(&ticket.run_id).await.expect("run");
    host.shutdown().await;
    let first = llm.requests().into_iter().find(|r| !is_summariser(r)).expect("a request");
    let system = first["messages"][0]["content"].as_str().unwrap_or_default().to_string();
    let tools = first["tools"].to_string();
    let count = first["tools"].as_array().map_or(0, Vec::len);
    println!(
        "{:<58} {:>12} {:>12}",
        format!("first-turn fixed context, {count} tools (bytes)"),
        system.len() + tools.len(),
        "1,713 (6)"
    );
    let fixed = tokens(&[system, tools]).iter().sum::<usize>();
    println!("{:<58} {:>12} {:>12}", "  o200k tokens (goal ≤ 2,500)", fixed, "≈10,000 HA");

    // 2. Tokens sent per turn over a 300-turn conversation: a 16k-token window with
    // compaction, and compaction off (the newest 200 entries, what was older lost).
    let small = conversation(&llm, &dir.path().join("compacted"), Some(16_000)).await;
    let large = conversation(&llm, &dir.path().join("window"), None).await;
    println!("{:<58} {:>12} {:>12}", "request tokens at turn (compaction @16k | no compaction)", "compacted", "none");
    for turn in [1, 25, 50, 100, 150, 200, 250, 300] {
        println!("{:<58} {:>12} {:>12}", format!("  turn {turn}"), small[turn - 1], large[turn - 1]);
    }
    let max_small = small.iter().max().copied().unwrap_or(0);
    println!("{:<58} {:>12} {:>12}", "  largest request (tokens; window 16k)", max_small, large.iter().max().unwrap());
    assert_eq!((small.len(), large.len()), (TURNS, TURNS), "one request per turn");
    let late = |v: &[usize]| v[TURNS - 100..].iter().sum::<usize>() / 100;
    println!("{:<58} {:>12} {:>12}", "  mean of the last 100 turns (tokens)", late(&small), late(&large));
    let low = |v: &[usize]| v[TURNS - 100..].iter().min().copied().unwrap_or(0);
    println!("{:<58} {:>12} {:>12}", "  smallest of the last 100 turns (tokens)", low(&small), low(&large));

    // 3. web_fetch beyond the fetch itself: a loopback page fetched directly with a
    // reqwest client, then through web_fetch (checks, redirect loop, Markdown).
    let page = format!("<html><body><h1>Report</h1>{}</body></html>", "<p>Revenue grew <b>12%</b>.</p>".repeat(100));
    let app = axum::Router::new().route(
        "/page",
        axum::routing::get(move || {
            let page = page.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "text/html")], page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/page", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    let db = hermes_store::Db::open(&dir.path().join("secrets.db")).expect("db");
    let secrets = hermes_secrets::Secrets::with_key(db, hermes_secrets::crypto::MasterKey::from_bytes(&[7; 32]));
    let web = Web::new(&WebConfig::default(), None, true).expect("web");
    let refs = BTreeMap::new();
    let args = json!({"url": url}).to_string();
    let client = reqwest::Client::new();
    let (mut direct, mut tool) = (Vec::new(), Vec::new());
    for i in 0..FETCHES + 20 {
        let t = Instant::now();
        let body = client.get(&url).send().await.expect("get").text().await.expect("body");
        let d = t.elapsed().as_secs_f64() * 1e3;
        let cx = WebContext { allow: &[], secrets: &secrets, account_id: "acc_bench", refs: &refs };
        let t = Instant::now();
        let out = web.call(WEB_FETCH, &args, cx).await;
        let w = t.elapsed().as_secs_f64() * 1e3;
        assert!(!out.is_error && out.content.contains("# Report") && body.len() > 1000, "{}", out.content);
        if i >= 20 {
            direct.push(d);
            tool.push(w);
        }
    }
    let (direct, tool) = (sorted(direct), sorted(tool));
    let (d, w) = (pct(&direct, 0.5), pct(&tool, 0.5));
    println!("{:<58} {:>9.3} ms {:>9.3} ms", "loopback fetch, 4 KB page: web_fetch | direct (median)", w, d);
    println!("{:<58} {:>9.3} ms {:>12}", "  web_fetch overhead (median; goal ≤ 2 ms)", w - d, "");
    println!("{:<58} {:>9.3} ms {:>9.3} ms", "  p99", pct(&tool, 0.99), pct(&direct, 0.99));
}
