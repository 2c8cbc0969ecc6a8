//! The deployments API over HTTP: the seed's example, multipart uploads, URL skills,
//! listing, PATCH semantics, DELETE, and the error rows of the seed.

mod common;

use axum::Router;
use axum::routing::get;
use common::{cli, start_with};
use hermes_tests::mock_llm::MockLlm;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const STORYBOARD: &str =
    "---\nname: storyboarding\ndescription: Create shot-by-shot storyboards\n---\n# Storyboarding\n...";
const UGC: &str =
    "---\nname: ugc-video-creation\ndescription: Plan and script UGC-style short videos\n---\n# UGC videos\n";
const EFFECTS: &str =
    "---\nname: social-media-visual-effects\ndescription: Pick visual effects for social video\n---\n# Effects\n";

/// Serves the URL skill on loopback, like the seed's example.com page.
async fn skill_server() -> String {
    let app = Router::new()
        .route("/skills/social-media-visual-effects/SKILL.md", get(|| async { EFFECTS }))
        .route("/broken/SKILL.md", get(|| async { (axum::http::StatusCode::NOT_FOUND, "nope") }))
        .route(
            "/slow/SKILL.md",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                EFFECTS
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}")
}

fn seed_body(skills_base: &str) -> Value {
    json!({
        "customer_id": "cus_123",
        "name": "Acme Creative Agent",
        "runtime": "hermes",
        "model": "anthropic/claude-sonnet-4.5",
        "system_prompt": "You are Acme's media generation agent. Help the user plan, create, and iterate on high-performing short-form videos.",
        "sandbox": {"enabled": true, "type": "docker", "persistent_filesystem": true},
        "mcp_servers": [{"name": "prism-media", "url": "https://api.prismvideos.com/mcp", "tools": ["search_models", "generate_image", "generate_video"]}],
        "skills": [
            {"name": "ugc-video-creation", "source": "file", "path": ".prism/skills/ugc-video-creation/SKILL.md"},
            {"name": "storyboarding", "source": "inline", "content": STORYBOARD},
            {"name": "social-media-visual-effects", "source": "url", "url": format!("{skills_base}/skills/social-media-visual-effects/SKILL.md")}
        ],
        "secrets": {"META_ADS_TOKEN": "sec_meta_ads_token", "GOOGLE_DRIVE_TOKEN": "sec_google_drive_token"},
        "features": {"memory": true, "dreaming": true, "automations": true, "steering": true, "filesystem_webhooks": true}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_creates_a_ready_deployment() {
    let llm = MockLlm::start().await;
    let server = start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let skills = skill_server().await;
    let http = reqwest::Client::new();
    // The seed's secret references, created first.
    for (id, name) in [("sec_meta_ads_token", "META_ADS_TOKEN"), ("sec_google_drive_token", "GOOGLE_DRIVE_TOKEN")] {
        let r = http
            .post(format!("{}/v1/secrets", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"id": id, "name": name, "value": format!("value-of-{name}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let form = Form::new()
        .part("deployment", Part::text(seed_body(&skills).to_string()).mime_str("application/json").unwrap())
        .part(".prism/skills/ugc-video-creation/SKILL.md", Part::bytes(UGC.as_bytes().to_vec()).file_name("SKILL.md"));
    let resp = http
        .post(format!("{}/v1/deployments", server.base))
        .bearer_auth(&server.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    for field in ["deployment_id", "customer_id", "runtime", "status", "model", "thread_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    assert_eq!(body["customer_id"], "cus_123");
    assert_eq!(body["runtime"], "hermes");
    assert_eq!(body["model"], "anthropic/claude-sonnet-4.5");
    assert_eq!(body["filesystem"], json!({"workspace_path": "/workspace", "persistent": true}));
    assert_eq!(body["events"]["transport"], "sse");
    let id = body["deployment_id"].as_str().unwrap();
    assert!(body["events"]["url"].as_str().unwrap().ends_with(&format!("/v1/deployments/{id}/events")));
    assert!(body["warnings"].to_string().contains("docker"), "docker runs in the Wasm sandbox: {body}");

    // Poll until ready (it already is: creation is synchronous).
    let mut ready = false;
    for _ in 0..50 {
        let got = server.get_json(&format!("/v1/deployments/{id}")).await;
        if got["status"] == "ready" {
            ready = true;
            assert_eq!(got["skills"].as_array().unwrap().len(), 3);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready);
    // All three skills are in the workspace where the harness reads them.
    let ws = server.dir.path().join("workspaces").join(id);
    assert!(ws.join(".prism/skills/ugc-video-creation/SKILL.md").exists());
    assert_eq!(std::fs::read_to_string(ws.join(".hermes/skills/storyboarding/SKILL.md")).unwrap(), STORYBOARD);
    assert_eq!(
        std::fs::read_to_string(ws.join(".hermes/skills/social-media-visual-effects/SKILL.md")).unwrap(),
        EFFECTS
    );
}

async fn post(server: &common::Server, key: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/deployments", server.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn minimal(customer: &str) -> Value {
    json!({"customer_id": customer, "name": "n", "system_prompt": "p"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_errors_are_422_invalid_skill_naming_the_skill() {
    let llm = MockLlm::start().await;
    let server = start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let skills = skill_server().await;

    // A JSON create whose `file` skill was never uploaded.
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "ugc-video-creation", "source": "file", "path": "x/SKILL.md"}]);
    let (status, err) = post(&server, &server.key, body).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_skill")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("ugc-video-creation"));

    // A URL that fails.
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "broken", "source": "url", "url": format!("{skills}/broken/SKILL.md")}]);
    let (status, err) = post(&server, &server.key, body).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_skill")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("404"), "{err}");

    // An inline skill whose frontmatter name differs.
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "other", "source": "inline", "content": STORYBOARD}]);
    let (status, err) = post(&server, &server.key, body).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_skill")), "{err}");

    // A URL skill whose frontmatter name differs: the request named it, so it must match.
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "other", "source": "url", "url": format!("{skills}/skills/social-media-visual-effects/SKILL.md")}]);
    let (status, err) = post(&server, &server.key, body).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_skill")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("does not match"), "{err}");

    // Missing frontmatter.
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "plain", "source": "inline", "content": "# no frontmatter"}]);
    assert_eq!(post(&server, &server.key, body).await.0, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_skill_urls_are_refused_by_default() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let skills = skill_server().await;
    let mut body = minimal("c");
    body["skills"] = json!([{"name": "social-media-visual-effects", "source": "url", "url": format!("{skills}/skills/social-media-visual-effects/SKILL.md")}]);
    let (status, err) = post(&server, &server.key, body).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_skill")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("HERMES_ALLOW_PRIVATE_URLS"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_patch_delete_and_cross_account_404() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (status, body) = post(&server, &server.key, minimal(if i % 2 == 0 { "even" } else { "odd" })).await;
        assert_eq!(status, 201);
        ids.push(body["deployment_id"].as_str().unwrap().to_string());
    }
    // Cursor pagination, newest first, no duplicates.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/deployments?limit=2", server.base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(url).bearer_auth(&server.key).send().await.unwrap().json().await.unwrap();
        for d in page["data"].as_array().unwrap() {
            seen.push(d["deployment_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    let evens: Value = http
        .get(format!("{}/v1/deployments?customer_id=even", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(evens["data"].as_array().unwrap().len(), 3);
    let bad =
        http.get(format!("{}/v1/deployments?limit=0", server.base)).bearer_auth(&server.key).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    // PATCH: omitted kept, scalar replaced, secrets merged key by key.
    let id = &ids[0];
    let url = format!("{}/v1/deployments/{id}", server.base);
    let patched: Value = http
        .patch(&url)
        .bearer_auth(&server.key)
        .json(&json!({"system_prompt": "new prompt", "features": {"memory": false}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["config"]["system_prompt"], "new prompt");
    assert_eq!(patched["name"], "n");
    assert_eq!(patched["config"]["features"]["memory"], false);
    let bad =
        http.patch(&url).bearer_auth(&server.key).json(&json!({"features": {"memory": "yes"}})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["param"], "features.memory");
    // An MCP header naming a secret the deployment lacks is refused up front, naming the header.
    let servers = json!({"mcp_servers": [{"name": "crm", "url": "http://127.0.0.1:9/mcp",
        "headers": {"Authorization": "Bearer ${CRM_TOKEN}"}}]});
    let bad = http.patch(&url).bearer_auth(&server.key).json(&servers).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let body = bad.json::<Value>().await.unwrap();
    assert_eq!(body["param"], "mcp_servers[0].headers.Authorization", "{body}");
    assert!(body["message"].as_str().unwrap().contains("CRM_TOKEN"), "{body}");

    // Another account's deployment is not found.
    let other = cli(&[
        "keys",
        "create",
        "--data-dir",
        server.dir.path().to_str().unwrap(),
        "--account",
        "acct_other",
        "--scopes",
        "*",
    ]);
    let other = other.trim();
    let r = http.get(&url).bearer_auth(other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
    let r = http.delete(&url).bearer_auth(other).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A key without the scope is 403 naming it.
    let reader =
        cli(&["keys", "create", "--data-dir", server.dir.path().to_str().unwrap(), "--scopes", "deployments:read"]);
    let (status, err) = post(&server, reader.trim(), minimal("c")).await;
    assert_eq!((status, err["error"].as_str()), (403, Some("forbidden")));
    assert!(err["message"].as_str().unwrap().contains("deployments:write"));

    // DELETE with a retained workspace.
    std::fs::write(server.dir.path().join("workspaces").join(id).join("keep.txt"), "kept").unwrap();
    let r: Value = http
        .delete(format!("{url}?retain_filesystem=true"))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&r["deployment_id"], &r["status"]), (&json!(id), &json!("deleted")), "{r}");
    assert_eq!(r["filesystem"]["retained"], true, "{r}");
    assert_eq!(http.get(&url).bearer_auth(&server.key).send().await.unwrap().status(), 404);
    assert!(!server.dir.path().join("workspaces").join(id).exists());
    let retained = std::fs::read_dir(server.dir.path().join("retained")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_to_string(retained.join("keep.txt")).unwrap(), "kept");
    let r: Value = http
        .delete(format!("{}/v1/deployments/{}", server.base, ids[1]))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "deleted");
    assert!(!server.dir.path().join("workspaces").join(&ids[1]).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_tool_is_never_shown_to_the_model() {
    let llm = MockLlm::start().await;
    llm.set_default(hermes_tests::mock_llm::Reply::text("ok"));
    let server = common::start(&llm);
    let http = reqwest::Client::new();
    let mut body = minimal("c");
    body["model"] = json!("openai/gpt-test");
    let (_, dep) = post(&server, &server.key, body).await;
    let id = dep["deployment_id"].as_str().unwrap();
    let tools_url = format!("{}/v1/deployments/{id}/tools", server.base);
    let tools = server.get_json(&format!("/v1/deployments/{id}/tools")).await;
    let names: Vec<&str> = tools["data"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&"write_file") && names.contains(&"read_file"), "{tools}");
    assert!(tools["data"].as_array().unwrap().iter().all(|t| t["origin"] == "builtin" && t["enabled"] == true));

    let r = http
        .patch(format!("{tools_url}/write_file"))
        .bearer_auth(&server.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["enabled"], false);
    let r = http
        .patch(format!("{tools_url}/nope"))
        .bearer_auth(&server.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let r = http
        .post(format!("{}/v1/deployments/{id}/messages", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let run_id = r.json::<Value>().await.unwrap()["run_id"].as_str().unwrap().to_string();
    assert_eq!(server.wait_run(id, &run_id).await["status"], "completed");
    let req = llm.requests().pop().expect("the model was called");
    let offered: Vec<String> = req["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect();
    assert!(offered.contains(&"read_file".to_string()), "{offered:?}");
    assert!(!offered.contains(&"write_file".to_string()), "disabled tool offered: {offered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_while_skills_reprovision_is_409_deployment_not_ready() {
    let llm = MockLlm::start().await;
    llm.set_default(hermes_tests::mock_llm::Reply::text("ok"));
    let server = start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let skills = skill_server().await;
    let mut body = minimal("c");
    body["model"] = json!("openai/gpt-test");
    let (_, dep) = post(&server, &server.key, body).await;
    let id = dep["deployment_id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();

    let patch = {
        let (http, url, key) = (http.clone(), format!("{}/v1/deployments/{id}", server.base), server.key.clone());
        let skill =
            json!([{"name": "social-media-visual-effects", "source": "url", "url": format!("{skills}/slow/SKILL.md")}]);
        tokio::spawn(async move { http.patch(url).bearer_auth(key).json(&json!({"skills": skill})).send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let send = || {
        http.post(format!("{}/v1/deployments/{id}/messages", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"content": "hi"}))
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 409);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "deployment_not_ready");
    assert!(err["message"].as_str().unwrap().contains("provisioning"), "{err}");

    let patched = patch.await.unwrap().unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.json::<Value>().await.unwrap()["status"], "ready");
    assert_eq!(send().await.unwrap().status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_api_adds_reads_refetches_and_removes() {
    let llm = MockLlm::start().await;
    let server = start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let skills = skill_server().await;
    let (_, dep) = post(&server, &server.key, minimal("c")).await;
    let id = dep["deployment_id"].as_str().unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/deployments/{id}/skills", server.base);

    let r = http
        .post(&url)
        .bearer_auth(&server.key)
        .json(&json!({"name": "storyboarding", "source": "inline", "content": STORYBOARD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let inline: Value = r.json().await.unwrap();
    assert!(inline["skill_id"].as_str().unwrap().starts_with("skl_"));
    assert_eq!(inline["description"], "Create shot-by-shot storyboards");
    let again = http
        .post(&url)
        .bearer_auth(&server.key)
        .json(&json!({"name": "storyboarding", "source": "inline", "content": STORYBOARD}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let bad = http
        .post(&url)
        .bearer_auth(&server.key)
        .json(&json!({"name": "bad", "source": "inline", "content": "no frontmatter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    let r = http
        .post(&url)
        .bearer_auth(&server.key)
        .json(&json!({"name": "social-media-visual-effects", "source": "url", "url": format!("{skills}/skills/social-media-visual-effects/SKILL.md")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let remote: Value = r.json().await.unwrap();
    let remote_id = remote["skill_id"].as_str().unwrap();

    // The agent writes its own skill into the workspace: it is listed too.
    let own = server.dir.path().join("workspaces").join(id).join(".hermes/skills/my-own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("SKILL.md"), "---\nname: my-own\ndescription: Learned by the agent\n---\nbody").unwrap();
    let list = server.get_json(&format!("/v1/deployments/{id}/skills")).await;
    let names: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["source"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("storyboarding", "inline"), ("social-media-visual-effects", "url"), ("my-own", "agent")]);

    // GET one returns the content; PUT on the url skill fetches it again.
    let one = server.get_json(&format!("/v1/deployments/{id}/skills/{remote_id}")).await;
    assert_eq!(one["content"], EFFECTS);
    let installed =
        server.dir.path().join("workspaces").join(id).join(".hermes/skills/social-media-visual-effects/SKILL.md");
    std::fs::write(&installed, "stale copy").unwrap();
    let r = http
        .put(format!("{url}/{remote_id}"))
        .bearer_auth(&server.key)
        .json(&remote_spec(&skills))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), EFFECTS, "re-fetched");
    // Every skill object carries `created_at`, which a PUT keeps.
    let replaced: Value = r.json().await.unwrap();
    assert!(one["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{one}");
    assert_eq!(replaced["created_at"], one["created_at"], "{replaced}");
    let list = server.get_json(&format!("/v1/deployments/{id}/skills")).await;
    assert!(list["data"].as_array().unwrap().iter().all(|s| s["created_at"].is_string()), "{list}");

    let r = http.delete(format!("{url}/{remote_id}")).bearer_auth(&server.key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!installed.exists());
    assert_eq!(http.get(format!("{url}/{remote_id}")).bearer_auth(&server.key).send().await.unwrap().status(), 404);
}

fn remote_spec(skills: &str) -> Value {
    json!({"name": "social-media-visual-effects", "source": "url", "url": format!("{skills}/skills/social-media-visual-effects/SKILL.md")})
}

/// Issue 14, defect 8: every field of a deployment is bounded (lists and run starts
/// read configurations whole), each refusal naming the field and its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_configuration_fields_are_400_naming_the_field() {
    let llm = MockLlm::start().await;
    let server = start_with(&llm, &[]);
    let key = server.key.clone();
    let skill = |size: usize| {
        let body = "x".repeat(size);
        json!([{"source": "inline", "name": "big", "content": format!("---\nname: big\ndescription: d\n---\n{body}")}])
    };
    let cases: Vec<(&str, Value)> = vec![
        ("customer_id", json!({"customer_id": "c".repeat(300), "name": "n", "system_prompt": "p"})),
        ("name", json!({"customer_id": "c", "name": "n".repeat(300), "system_prompt": "p"})),
        ("system_prompt", json!({"customer_id": "c", "name": "n", "system_prompt": "p".repeat(200 << 10)})),
        ("skills[0].content", json!({"customer_id": "c", "name": "n", "system_prompt": "p", "skills": skill(2 << 20)})),
        (
            "disabled_tools",
            json!({"customer_id": "c", "name": "n", "system_prompt": "p",
            "disabled_tools": (0..600).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        ),
    ];
    for (param, body) in cases {
        let (status, e) = post(&server, &key, body).await;
        assert_eq!((status, e["param"].as_str()), (400, Some(param)), "{param}: {e}");
        assert!(e["message"].as_str().unwrap().contains("at most"), "{param}: {e}");
    }
    // At the limits, it is accepted.
    let mut ok = minimal("c");
    ok["system_prompt"] = json!("p".repeat(128 << 10));
    let (status, e) = post(&server, &key, ok).await;
    assert_eq!(status, 201, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_skill_bodies_are_kept_beside_the_spec_and_a_listing_never_loads_them() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let body = format!("{STORYBOARD}\n{}", "Frame every shot twice.\n".repeat(30_000));
    let spec = json!({
        "customer_id": "cus_big", "name": "Big skills", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "skills": [{"name": "storyboarding", "source": "inline", "content": body}],
    });
    let dep = common::create(&server, spec).await;
    // A listing shows the skill by name, a PATCH of another field keeps its body,
    // and GET of the one skill returns all of it.
    let list = server.get_json("/v1/deployments?limit=100").await;
    let listed = list["data"].as_array().unwrap().iter().find(|d| d["deployment_id"] == dep.as_str()).unwrap();
    assert_eq!(listed["skills"], json!([{"name": "storyboarding", "source": "inline"}]), "{listed}");
    let r = reqwest::Client::new()
        .patch(format!("{}/v1/deployments/{dep}", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let skills = server.get_json(&format!("/v1/deployments/{dep}/skills")).await;
    let id = skills["data"][0]["skill_id"].as_str().unwrap().to_string();
    assert!(skills["data"][0].get("content").is_none(), "a listing carries no bodies: {}", skills["data"][0]);
    let one = server.get_json(&format!("/v1/deployments/{dep}/skills/{id}")).await;
    assert_eq!(one["content"].as_str().map(str::len), Some(body.len()), "the whole body came back");
    // In the store: the listing reads rows without the bodies, one row has them.
    let db = hermes_store::Db::open(&server.dir.path().join("hermes.db")).unwrap();
    let id = dep.clone();
    let (listed, got) = db
        .read(move |tx| {
            let row = hermes_store::deployments::get(tx, &id)?.unwrap();
            let rows = hermes_store::deployments::list(tx, &row.account_id, &Default::default(), 10)?;
            Ok((rows, row))
        })
        .await
        .unwrap();
    let content = |spec: &hermes_types::spec::DeploymentSpec| match &spec.skills[0] {
        hermes_types::spec::SkillSpec::Inline { content, .. } => content.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(content(&listed[0].spec), 0, "a listing leaves the body in its column");
    assert_eq!(content(&got.spec), body.len(), "one deployment comes whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_refused_by_name_on_create_and_patch() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let base = json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Hi."});
    for (field, value, param) in [
        ("mcp_server", json!([]), "mcp_server"),
        ("feature", json!({"memory": false}), "feature"),
        ("features", json!({"memroy": false}), "features.memroy"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let (status, err) = server.post_json("/v1/deployments", &body).await;
        assert_eq!(status, 400, "{field}: {err}");
        assert_eq!(err["error"], "validation_error");
        assert_eq!(err["param"], param, "{err}");
    }
    let listed = server.get_json("/v1/deployments").await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0), "nothing was created: {listed}");

    let (status, d) = server.post_json("/v1/deployments", &base).await;
    assert_eq!(status, 201, "{d}");
    let id = d["deployment_id"].as_str().unwrap();
    let patch = |body: Value| {
        let url = format!("{}/v1/deployments/{id}", server.base);
        let key = server.key.clone();
        async move {
            let r = reqwest::Client::new().patch(url).bearer_auth(key).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, err) = patch(json!({"system_promt": "typo"})).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("system_promt")), "{err}");
    let (status, ok) = patch(json!({"system_prompt": "Fixed."})).await;
    assert_eq!(status, 200, "{ok}");
    let (status, err) =
        server.post_json(&format!("/v1/deployments/{id}/messages"), &json!({"content": "x", "thread": "new"})).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("thread")), "every body is strict: {err}");
}

/// Hermes Agent's library has skills whose frontmatter `name` is not their folder's; they
/// load there, so they load here: a `file` skill and `skills validate` warn, never refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_skill_named_unlike_its_folder_loads_with_a_warning() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let text = "---\nname: ugc-videos\ndescription: Plan UGC-style short videos\n---\n# UGC\n";
    let path = ".prism/skills/ugc-video-creation/SKILL.md";
    let mut body = minimal("cus_lib");
    body["model"] = json!("openai/gpt-test");
    body["skills"] = json!([{"name": "ugc-video-creation", "source": "file", "path": path}]);
    let form = Form::new()
        .part("deployment", Part::text(body.to_string()).mime_str("application/json").unwrap())
        .part(path, Part::bytes(text.as_bytes().to_vec()).file_name("SKILL.md"));
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/deployments", server.base))
        .bearer_auth(&server.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    let warnings = created["warnings"].to_string();
    assert!(warnings.contains("ugc-videos") && warnings.contains("ugc-video-creation"), "{created}");
    let dep = created["deployment_id"].as_str().unwrap();
    let skills = server.get_json(&format!("/v1/deployments/{dep}/skills")).await;
    assert_eq!(skills["data"][0]["name"], "ugc-video-creation", "known by its declared name: {skills}");

    // The agent sees it in its skill index under that name and opens it from where it
    // was uploaded.
    llm.push(hermes_tests::mock_llm::Reply::tool("skill_view", json!({"name": "ugc-video-creation"})));
    llm.push(hermes_tests::mock_llm::Reply::text("done"));
    let (_, run) = common::send(&server, dep, "make a video plan").await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests = llm.requests();
    assert!(requests[0].to_string().contains("ugc-video-creation"), "in the skill index");
    assert!(common::tool_results(&requests[1])[0].contains("# UGC"), "{:?}", common::tool_results(&requests[1]));

    let dir = server.dir.path().join("workspaces").join(dep).join(".prism/skills/ugc-video-creation");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["skills", "validate"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("warning: name:") && stdout.contains("ugc-videos"), "{stdout}");
}

/// A deployment's `events.url` is where the client can reach the stream: the request's
/// own host, the proxy's scheme and host when the host trusts forwarding headers, or the
/// configured public URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_url_uses_the_scheme_and_host_the_request_came_in_on() {
    let llm = MockLlm::start().await;
    let url_of = |server: &common::Server, headers: Vec<(&'static str, &'static str)>| {
        let (base, key) = (server.base.clone(), server.key.clone());
        async move {
            let mut req = reqwest::Client::new().post(format!("{base}/v1/deployments")).bearer_auth(key);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let body: Value = req.json(&minimal("cus_url")).send().await.unwrap().json().await.unwrap();
            let id = body["deployment_id"].as_str().unwrap().to_string();
            (body["events"]["url"].as_str().unwrap().to_string(), id)
        }
    };
    // Not trusted: forwarding headers are a client's claim and are ignored.
    let plain = common::start(&llm);
    let (url, id) = url_of(&plain, vec![("x-forwarded-proto", "https"), ("x-forwarded-host", "evil.example")]).await;
    assert_eq!(url, format!("{}/v1/deployments/{id}/events", plain.base));
    let events = reqwest::Client::new().get(&url).bearer_auth(&plain.key).send().await.unwrap();
    assert_eq!(events.status(), 200, "the URL answers");
    drop(events);

    let trusting = start_with(&llm, &[("HERMES_TRUST_FORWARDED", "1")]);
    let (url, id) =
        url_of(&trusting, vec![("x-forwarded-proto", "https"), ("x-forwarded-host", "agents.example.com")]).await;
    assert_eq!(url, format!("https://agents.example.com/v1/deployments/{id}/events"));
    let (url, id) =
        url_of(&trusting, vec![("forwarded", "for=10.0.0.1;proto=https;host=\"api.example.org\", for=10.0.0.2")]).await;
    assert_eq!(url, format!("https://api.example.org/v1/deployments/{id}/events"));
    // A forwarded host that is not a host name is not put in a URL.
    let (url, id) = url_of(&trusting, vec![("x-forwarded-host", "a/b?c"), ("x-forwarded-proto", "gopher")]).await;
    assert_eq!(url, format!("{}/v1/deployments/{id}/events", trusting.base));

    let public = start_with(&llm, &[("HERMES_PUBLIC_URL", "https://hermes.example.net/")]);
    let (url, id) = url_of(&public, vec![("x-forwarded-host", "other.example")]).await;
    assert_eq!(url, format!("https://hermes.example.net/v1/deployments/{id}/events"));
    let got = public.get_json(&format!("/v1/deployments/{id}")).await;
    assert_eq!(got["events"]["url"], url, "GET says the same");
}
