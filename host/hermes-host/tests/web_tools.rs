//! `web_fetch` and `web_search` through the public API: the fake model calls them,
//! loopback servers play the web and a search provider (Brave's wire format), and
//! the SSRF guard, the egress allowlist and the secrets' routing rules hold.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::{Server, create, send, start_with};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

const SECRET: &str = "tok-9f2c41d7e0";

/// A loopback "web site"; `/headers` records the Authorization header it got.
async fn site(seen: Arc<Mutex<Vec<String>>>, other: Option<u16>) -> u16 {
    let page = "<html><head><title>Q3</title></head><body><h1>Quarterly report</h1>\
                <p>Revenue grew <b>12%</b>.</p><ul><li>EMEA</li><li>APAC</li></ul>\
                <a href=\"/data\">the data</a><script>var x = 1;</script></body></html>";
    let away = format!("http://127.0.0.1:{}/page", other.unwrap_or(9));
    let app = Router::new()
        .route("/page", get(move || async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }))
        .route("/data", get(|| async { axum::Json(json!({"regions": ["EMEA", "APAC"], "growth": 0.12})) }))
        .route("/moved", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/page")]) }))
        .route("/away", get(move || async move { (StatusCode::FOUND, [(header::LOCATION, away)]).into_response() }))
        .route(
            "/headers",
            get(move |headers: HeaderMap| async move {
                let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                seen.lock().unwrap().push(auth.clone());
                format!("you sent: {auth}")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    port
}

/// A fake Brave Search API that wants `brave-key`.
async fn brave() -> u16 {
    let app = Router::new().route(
        "/res/v1/web/search",
        get(|headers: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
            if headers.get("x-subscription-token").and_then(|v| v.to_str().ok()) != Some("brave-key") {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad token"})));
            }
            let query = q.get("q").cloned().unwrap_or_default();
            let count: usize = q.get("count").and_then(|c| c.parse().ok()).unwrap_or(10);
            let results: Vec<Value> = (1..=10)
                .take(count)
                .map(|i| {
                    json!({"title": format!("{query} result {i}"), "url": format!("https://r{i}.example/"),
                           "description": format!("snippet {i} about {query}")})
                })
                .collect();
            (StatusCode::OK, axum::Json(json!({"type": "search", "web": {"results": results}})))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    port
}

fn host(llm: &MockLlm, toml: &str, env: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hermes.toml");
    std::fs::write(&path, toml).unwrap();
    let mut env = env.to_vec();
    env.push(("HERMES_CONFIG", path.to_str().unwrap()));
    (start_with(llm, &env), dir)
}

fn spec(customer: &str) -> Value {
    json!({"customer_id": customer, "name": "Researcher", "model": "openai/gpt-test", "system_prompt": "Be brief."})
}

/// Runs the calls as one run; returns their results.
async fn calls(server: &Server, llm: &MockLlm, dep: &str, calls: &[(&str, Value)]) -> Vec<String> {
    for (tool, args) in calls {
        llm.push(Reply::tool(*tool, args.clone()));
    }
    llm.push(Reply::text("done"));
    let (_, run) = send(server, dep, "look it up").await;
    assert_eq!(run["status"], "completed", "{run}");
    let all = common::tool_results(llm.requests().last().unwrap());
    all[all.len() - calls.len()..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_fetch_returns_markdown_and_respects_the_allowlist_and_secret_routing_and_search_answers() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let b = site(Arc::new(Mutex::new(Vec::new())), None).await;
    let a = site(seen.clone(), Some(b)).await;
    let search = brave().await;
    let llm = MockLlm::start().await;
    let toml = format!(
        "[search]\nkind = \"brave\"\nbase_url = \"http://127.0.0.1:{search}\"\napi_key_env = \"HERMES_TEST_BRAVE_KEY\"\n"
    );
    let (server, _c) = host(&llm, &toml, &[("HERMES_ALLOW_PRIVATE_URLS", "1"), ("HERMES_TEST_BRAVE_KEY", "brave-key")]);
    let open = create(&server, spec("cus_open")).await;

    let results = calls(
        &server,
        &llm,
        &open,
        &[
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/page")})),
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/moved")})),
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/data")})),
            ("web_search", json!({"query": "wasm component model", "count": 3})),
        ],
    )
    .await;
    let page = &results[0];
    assert!(page.starts_with(&format!("URL: http://127.0.0.1:{a}/page\nStatus: 200\n")), "{page}");
    assert!(page.contains("# Quarterly report") && page.contains("**12%**"), "Markdown: {page}");
    assert!(page.contains("EMEA") && page.contains("[the data](/data)") && !page.contains("var x"), "{page}");
    assert!(results[1].starts_with(&format!("URL: http://127.0.0.1:{a}/page\n")), "redirect followed: {}", results[1]);
    assert!(results[2].contains("\"growth\":0.12"), "JSON as it is: {}", results[2]);
    let hits = &results[3];
    assert!(hits.starts_with("1. wasm component model result 1\n   https://r1.example/\n   snippet 1"), "{hits}");
    assert!(hits.contains("3. ") && !hits.contains("4. "), "count honoured: {hits}");
    let tools = server.get_json(&format!("/v1/deployments/{open}/tools")).await;
    for name in ["web_fetch", "web_search"] {
        assert!(
            tools["data"].as_array().unwrap().iter().any(|t| t["name"] == name && t["origin"] == "builtin"),
            "{tools}"
        );
    }

    // A deployment with an allowlist and a secret: the secret reaches the allowed
    // host's header and nothing else; other hosts are refused, also by redirect.
    let (status, secret) = server.post_json("/v1/secrets", &json!({"name": "site-token", "value": SECRET})).await;
    assert_eq!(status, 201, "{secret}");
    let mut body = spec("cus_locked");
    body["secrets"] = json!({"SITE_TOKEN": secret["id"]});
    body["egress"] = json!({"allow": [format!("127.0.0.1:{a}")]});
    let locked = create(&server, body).await;
    let bearer = json!({"Authorization": "Bearer ${SITE_TOKEN}"});
    let results = calls(
        &server,
        &llm,
        &locked,
        &[
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/headers"), "headers": bearer})),
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{b}/page")})),
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/away")})),
        ],
    )
    .await;
    assert_eq!(seen.lock().unwrap().as_slice(), [format!("Bearer {SECRET}")], "the allowed host got the value");
    assert!(results[0].contains("you sent: Bearer") && !results[0].contains(SECRET), "scrubbed: {}", results[0]);
    assert!(results[1].contains("not in the deployment's egress allowlist"), "{}", results[1]);
    assert!(results[2].contains("not in the deployment's egress allowlist"), "through a redirect: {}", results[2]);
    // Without an allowlist a header cannot name a secret at all.
    let mut body = spec("cus_nolist");
    body["secrets"] = json!({"SITE_TOKEN": secret["id"]});
    let nolist = create(&server, body).await;
    let results = calls(
        &server,
        &llm,
        &nolist,
        &[("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/headers"), "headers": bearer}))],
    )
    .await;
    assert!(results[0].contains("`egress.allow` list, which is empty"), "{}", results[0]);
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing more reached the site");
    // The value appears in no request to the model and no event.
    let requests = serde_json::to_string(&llm.requests()).unwrap();
    assert!(!requests.contains(SECRET), "the model never saw the secret");
    let events = common::stream_text(&server, &locked, 10, |t| t.contains("\"status\":\"completed\"")).await;
    assert!(!events.contains(SECRET), "no event carries the secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_guard_on_private_addresses_are_refused_and_an_unconfigured_search_is_absent() {
    let a = site(Arc::new(Mutex::new(Vec::new())), None).await;
    let llm = MockLlm::start().await;
    let (server, _c) = host(&llm, "", &[]);
    let dep = create(&server, spec("cus_guard")).await;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    let results = calls(
        &server,
        &llm,
        &dep,
        &[
            ("web_fetch", json!({"url": format!("http://127.0.0.1:{a}/page")})),
            ("web_fetch", json!({"url": "http://169.254.169.254/latest/meta-data/"})),
            ("web_fetch", json!({"url": "http://10.1.2.3/"})),
            ("web_fetch", json!({"url": format!("http://localhost:{a}/page")})),
            ("web_fetch", json!({"url": format!("http://{hostname}:{a}/page")})),
            ("web_search", json!({"query": "anything"})),
        ],
    )
    .await;
    for r in &results[..4] {
        assert!(r.contains("private or loopback address"), "{r}");
    }
    // A DNS name that resolves to this machine is refused after resolution.
    let resolves_private = tokio::net::lookup_host((hostname.as_str(), 0)).await.is_ok_and(|mut addrs| {
        addrs.all(|a| a.ip().is_loopback() || matches!(a.ip(), std::net::IpAddr::V4(v) if v.is_private()))
    });
    if resolves_private {
        assert!(results[4].contains("resolves only to private or loopback addresses"), "{}", results[4]);
    }
    assert!(!results[4].contains("Quarterly"), "{}", results[4]);
    assert!(results[5].contains("web_search is not configured on this host"), "{}", results[5]);
    let offered = common::offered(&llm.requests()[0]);
    assert!(offered.contains(&"web_fetch".to_string()) && !offered.contains(&"web_search".to_string()), "{offered:?}");
}
