//! The hosted agents-and-sessions surface from the point of view of a client that knows
//! only its docs: versioned agents, sessions with a `userId`, the session events
//! protocol (a message, `agent.message` deltas, a tool waiting for confirmation, the
//! confirmation, the end of the turn), memory scoped to (agent, user), and sessions
//! pinned to the version they were created with.

mod common;

use std::time::Duration;

use common::call;
use common::sse::{Frame, SseReader};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// Frames of `stream` up to (and with) the first `session.status_idle`.
async fn until_idle(stream: &mut SseReader) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(f) = stream.next(Duration::from_secs(30)).await {
        let idle = f.event == "session.status_idle";
        frames.push(f);
        if idle {
            return frames;
        }
    }
    panic!("the session never went idle; saw {:?}", frames.iter().map(|f| &f.event).collect::<Vec<_>>());
}

async fn say(server: &common::Server, session: &str, text: &str) {
    let body = json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": text}]}]});
    let (s, r) = call(server, "POST", &format!("/v1/sessions/{session}/events"), Some(body)).await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["data"][0]["type"], "user.message", "{r}");
}

fn observations(items: &[&str]) -> Reply {
    Reply::text(json!({ "observations": items }).to_string())
}

fn system_prompt(request: &Value) -> String {
    request["messages"][0]["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_ask_tool_waits_for_confirmation_runs_once_and_sessions_share_memory_per_user() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);

    // An agent whose built-ins run freely except write_file, which asks first.
    let agent = json!({
        "name": "Notes", "model": "openai/gpt-test", "instructions": "You keep notes. Version one.",
        "tools": [{
            "type": "agent_toolset",
            "defaultConfig": {"permissionPolicy": {"type": "always_allow"}},
            "configs": [{"name": "write_file", "permissionPolicy": {"type": "always_ask"}}]
        }],
        "metadata": {"team": "support"}
    });
    let (s, a) = call(&server, "POST", "/v1/agents", Some(agent)).await;
    assert_eq!(s, 201, "{a}");
    let agent_id = a["id"].as_str().unwrap().to_string();
    assert!(agent_id.starts_with("agt_") && a["version"] == 1 && a["type"] == "agent", "{a}");
    assert_eq!(a["tools"][0]["configs"][0]["permissionPolicy"]["type"], "always_ask", "camelCase, as sent: {a}");

    let (s, ses) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), Some(json!({"userId": "user_a"}))).await;
    assert_eq!(s, 201, "{ses}");
    let first = ses["id"].as_str().unwrap().to_string();
    assert_eq!((&ses["status"], &ses["agentVersion"], &ses["userId"]), (&json!("idle"), &json!(1), &json!("user_a")));
    let dep_a = ses["deploymentId"].as_str().unwrap().to_string();

    // Open the stream first, then send.
    let mut stream =
        SseReader::open_path(&server.base, &server.key, &format!("/v1/sessions/{first}/events/stream"), None).await;
    llm.push(Reply::tool("write_file", json!({"path": "notes/today.md", "content": "teal"})));
    llm.push(Reply::text("Saved your note."));
    say(&server, &first, "Note that my favourite colour is teal.").await;
    let frames = until_idle(&mut stream).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"user.message"), "{kinds:?}");
    assert!(kinds.contains(&"session.status_running") && kinds.contains(&"agent.tool_use"), "{kinds:?}");
    let tool_use = frames.iter().find(|f| f.event == "agent.tool_use").unwrap();
    assert_eq!(tool_use.data["payload"]["name"], "write_file");
    let idle = frames.last().unwrap();
    assert_eq!(idle.data["payload"]["stop_reason"], "requires_action", "{:?}", idle.data);
    assert_eq!(idle.data["payload"]["event_ids"], json!([tool_use.id]), "it names the waiting tool use");
    for f in &frames {
        let d = &f.data;
        assert_eq!((&d["sessionId"], &d["id"], &d["status"]), (&json!(first), &json!(f.id), &json!("processed")));
        assert!(d["sequence"].is_u64() && d["createdAt"].is_string() && d["processedAt"].is_string(), "{d}");
    }
    let ws = server.dir.path().join("workspaces").join(&dep_a);
    assert!(!ws.join("notes/today.md").exists(), "nothing ran before the confirmation");
    let (_, got) = call(&server, "GET", &format!("/v1/sessions/{first}"), None).await;
    assert_eq!(got["status"], "requires_action", "{got}");

    // The agent changes meanwhile: the running session stays on version 1.
    let (s, v2) = call(
        &server,
        "POST",
        &format!("/v1/agents/{agent_id}"),
        Some(json!({"version": 1, "instructions": "You keep notes. Version two."})),
    )
    .await;
    assert_eq!((s, &v2["version"]), (200, &json!(2)), "{v2}");
    let (s, stale) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}"), Some(json!({"version": 1, "name": "X"}))).await;
    assert_eq!((s, stale["error"].as_str()), (409, Some("conflict")), "{stale}");

    // Confirm: the tool runs, once, and the turn ends.
    llm.push_observation(observations(&["The user's favourite colour is teal."]));
    let confirm = json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": tool_use.data["payload"]["tool_use_id"], "result": "allow"}]});
    let (s, r) = call(&server, "POST", &format!("/v1/sessions/{first}/events"), Some(confirm)).await;
    assert_eq!(s, 202, "{r}");
    let frames = until_idle(&mut stream).await;
    let idle = frames.last().unwrap();
    assert_eq!(idle.data["payload"]["stop_reason"], "end_turn", "{:?}", idle.data);
    let deltas: String = frames
        .iter()
        .filter(|f| f.event == "agent.message")
        .filter_map(|f| f.data["payload"]["delta"].as_str())
        .collect();
    assert_eq!(deltas, "Saved your note.", "the answer streams as agent.message deltas");
    assert_eq!(std::fs::read_to_string(ws.join("notes/today.md")).unwrap(), "teal");
    let requests = llm.requests();
    assert!(system_prompt(requests.last().unwrap()).contains("Version one."), "pinned to version 1");

    let (s, list) = call(&server, "GET", &format!("/v1/sessions/{first}/events"), None).await;
    assert_eq!(s, 200, "{list}");
    let listed: Vec<&str> = list["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(listed.iter().filter(|k| **k == "agent.tool_result").count(), 1, "the tool ran once: {listed:?}");
    assert!(listed.contains(&"user.tool_confirmation"), "{listed:?}");
    let (_, got) = call(&server, "GET", &format!("/v1/sessions/{first}"), None).await;
    assert_eq!((&got["status"], &got["agentVersion"]), (&json!("idle"), &json!(1)), "{got}");

    // The memory the first session left is the user's.
    for _ in 0..100 {
        let (_, m) = call(&server, "GET", &format!("/v1/deployments/{dep_a}/memories"), None).await;
        if m["data"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, ses2) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), Some(json!({"userId": "user_a"}))).await;
    assert_eq!((&ses2["agentVersion"], &ses2["deploymentId"]), (&json!(2), &json!(dep_a)), "{ses2}");
    let second = ses2["id"].as_str().unwrap().to_string();
    let mut stream2 =
        SseReader::open_path(&server.base, &server.key, &format!("/v1/sessions/{second}/events/stream"), None).await;
    llm.push(Reply::text("Teal."));
    say(&server, &second, "What is my favourite colour?").await;
    assert_eq!(until_idle(&mut stream2).await.last().unwrap().data["payload"]["stop_reason"], "end_turn");
    let prompt = system_prompt(llm.requests().last().unwrap());
    assert!(prompt.contains("favourite colour is teal"), "the same user recalls it: {prompt}");
    assert!(prompt.contains("Version two."), "a new session takes the newest version");

    // Another user of the same agent has a workspace and memory of their own.
    let (_, other) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), Some(json!({"userId": "user_b"}))).await;
    assert_ne!(other["deploymentId"], json!(dep_a), "{other}");
    let third = other["id"].as_str().unwrap().to_string();
    let mut stream3 =
        SseReader::open_path(&server.base, &server.key, &format!("/v1/sessions/{third}/events/stream"), None).await;
    llm.push(Reply::text("I do not know."));
    say(&server, &third, "What is my favourite colour?").await;
    until_idle(&mut stream3).await;
    let prompt = system_prompt(llm.requests().last().unwrap());
    assert!(!prompt.contains("teal"), "another user recalls nothing of user_a: {prompt}");

    // Listing by agent and user.
    let (_, mine) = call(&server, "GET", &format!("/v1/sessions?agentId={agent_id}&userId=user_a"), None).await;
    let ids: Vec<&str> = mine["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "{mine}");
    let (_, versions) = call(&server, "GET", &format!("/v1/agents/{agent_id}/versions"), None).await;
    let numbers: Vec<u64> =
        versions["data"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [2, 1]);
    let (_, old) = call(&server, "GET", &format!("/v1/agents/{agent_id}?version=1"), None).await;
    assert_eq!(old["instructions"], "You keep notes. Version one.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_be_denied_interrupted_archived_and_deleted_and_bad_input_is_named() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let agent = json!({
        "name": "Careful", "model": "openai/gpt-test", "instructions": "Ask first.",
        "tools": [{"type": "agent_toolset", "defaultConfig": {"permissionPolicy": {"type": "always_ask"}}}]
    });
    let (_, a) = call(&server, "POST", "/v1/agents", Some(agent)).await;
    let agent_id = a["id"].as_str().unwrap().to_string();
    let (_, ses) = call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), None).await;
    let id = ses["id"].as_str().unwrap().to_string();
    assert_eq!(ses["userId"], Value::Null, "{ses}");

    // A denial: the agent is told, the tool never runs.
    let mut stream =
        SseReader::open_path(&server.base, &server.key, &format!("/v1/sessions/{id}/events/stream"), None).await;
    llm.push(Reply::tool("write_file", json!({"path": "x.txt", "content": "x"})));
    llm.push(Reply::text("Understood, I will not write it."));
    say(&server, &id, "Write x.txt").await;
    let frames = until_idle(&mut stream).await;
    let tool_use = frames.iter().find(|f| f.event == "agent.tool_use").expect("a tool use");
    let deny = json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": tool_use.id, "result": "deny", "deny_message": "Not now."}]});
    assert_eq!(call(&server, "POST", &format!("/v1/sessions/{id}/events"), Some(deny.clone())).await.0, 202);
    assert_eq!(until_idle(&mut stream).await.last().unwrap().data["payload"]["stop_reason"], "end_turn");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert!(results[0].contains("Not now."), "{results:?}");
    let dep = ses["deploymentId"].as_str().unwrap();
    assert!(!server.dir.path().join("workspaces").join(dep).join("x.txt").exists());
    // Deciding again: nothing waits any more.
    let (s, e) = call(&server, "POST", &format!("/v1/sessions/{id}/events"), Some(deny)).await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")), "{e}");

    // Bad input is refused by name, and nothing of it takes effect.
    for (body, param) in [
        (json!({"events": []}), "events"),
        (json!({"events": [{"type": "user.message", "content": "  "}]}), "events[0].content"),
        (
            json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": "x", "result": "maybe"}]}),
            "events[0].result",
        ),
    ] {
        let (s, e) = call(&server, "POST", &format!("/v1/sessions/{id}/events"), Some(body)).await;
        assert_eq!((s, e["param"].as_str()), (400, Some(param)), "{e}");
    }
    let (s, _) =
        call(&server, "POST", &format!("/v1/sessions/{id}/events"), Some(json!({"events": [{"type": "user.dance"}]})))
            .await;
    assert_eq!(s, 400);
    let (s, e) = call(&server, "POST", "/v1/agents", Some(json!({"name": "n", "instructions": "i", "tool": []}))).await;
    assert_eq!((s, e["param"].as_str()), (400, Some("tool")), "unknown fields are refused: {e}");
    let (s, e) = call(
        &server,
        "POST",
        "/v1/agents",
        Some(json!({"name": "n", "instructions": "i", "tools": [{"type": "mcp_toolset", "mcpServerName": "nope"}]})),
    )
    .await;
    assert_eq!((s, e["param"].as_str()), (400, Some("tools[0].mcpServerName")), "{e}");

    // An interrupt stops a turn.
    llm.push(Reply::after_ms(20_000, Reply::text("still thinking")));
    say(&server, &id, "Think for a long time.").await;
    let interrupt = json!({"events": [{"type": "user.interrupt"}]});
    for _ in 0..100 {
        let (_, got) = call(&server, "GET", &format!("/v1/sessions/{id}"), None).await;
        if got["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(call(&server, "POST", &format!("/v1/sessions/{id}/events"), Some(interrupt)).await.0, 202);
    let frames = until_idle(&mut stream).await;
    assert_eq!(frames.last().unwrap().data["payload"]["stop_reason"], "interrupted", "{:?}", frames.last());

    // Filters, archive, delete; another account sees none of it.
    let (_, idle) = call(&server, "GET", "/v1/sessions?status=idle", None).await;
    assert!(idle["data"].as_array().unwrap().iter().any(|s| s["id"] == json!(id)), "{idle}");
    let (s, e) = call(&server, "GET", "/v1/sessions?status=sleeping", None).await;
    assert_eq!((s, e["param"].as_str()), (400, Some("status")));
    let (s, archived) = call(&server, "POST", &format!("/v1/sessions/{id}/archive"), None).await;
    assert_eq!((s, &archived["status"]), (200, &json!("archived")), "{archived}");
    let (s, _) = call(
        &server,
        "POST",
        &format!("/v1/sessions/{id}/events"),
        Some(json!({"events": [{"type": "user.message", "content": "hi"}]})),
    )
    .await;
    assert_eq!(s, 409, "an archived session takes no events");
    let other = common::other_account_key(&server);
    assert_eq!(common::call_as(&server, &other, "GET", &format!("/v1/sessions/{id}"), None).await.0, 404);
    assert_eq!(common::call_as(&server, &other, "GET", &format!("/v1/agents/{agent_id}"), None).await.0, 404);
    assert_eq!(call(&server, "DELETE", &format!("/v1/sessions/{id}"), None).await.0, 200);
    assert_eq!(call(&server, "GET", &format!("/v1/sessions/{id}"), None).await.0, 404);
    let (s, archived) = call(&server, "POST", &format!("/v1/agents/{agent_id}/archive"), None).await;
    assert!(s == 200 && archived["archivedAt"].is_string(), "{archived}");
    let (s, e) = call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), None).await;
    assert_eq!((s, e["error"].as_str()), (409, Some("conflict")), "{e}");
}

/// A session's subagents work under the session's pinned version too, even after a
/// newer session of the same user brought the shared deployment to a newer version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_sessions_subagents_keep_its_version() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let agent = json!({"name": "Lead", "model": "openai/gpt-test", "instructions": "Instructions alpha."});
    let (_, a) = call(&server, "POST", "/v1/agents", Some(agent)).await;
    let agent_id = a["id"].as_str().unwrap().to_string();
    let (_, old) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), Some(json!({"userId": "u"}))).await;
    let (s, _) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}"), Some(json!({"instructions": "Instructions beta."})))
            .await;
    assert_eq!(s, 200);
    let (_, new) =
        call(&server, "POST", &format!("/v1/agents/{agent_id}/sessions"), Some(json!({"userId": "u"}))).await;
    assert_eq!((&new["agentVersion"], &new["deploymentId"]), (&json!(2), &old["deploymentId"]), "{new}");

    let id = old["id"].as_str().unwrap().to_string();
    let mut stream =
        SseReader::open_path(&server.base, &server.key, &format!("/v1/sessions/{id}/events/stream"), None).await;
    llm.set_responder(|req| {
        let text = req.to_string();
        if text.contains("Find the answer.")
            && common::tool_results(req).is_empty()
            && !text.contains("You are a subagent")
        {
            return Some(Reply::tool("subagents", json!({"task": "Find the answer."})));
        }
        Some(Reply::text("done"))
    });
    say(&server, &id, "Find the answer.").await;
    assert_eq!(until_idle(&mut stream).await.last().unwrap().data["payload"]["stop_reason"], "end_turn");
    let prompts: Vec<String> = llm.requests().iter().map(system_prompt).collect();
    assert!(prompts.len() >= 3, "parent, child, parent: {prompts:?}");
    assert!(prompts.iter().all(|p| p.contains("Instructions alpha.") && !p.contains("beta")), "{prompts:?}");
}
