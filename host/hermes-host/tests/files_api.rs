//! The Files API over the real binary: list, download, write and delete workspace
//! files; paths that leave the workspace (`..`, absolute, planted symlinks) are 400.

mod common;

use base64::Engine;
use common::Server;
use hermes_tests::mock_llm::MockLlm;
use serde_json::{Value, json};

async fn call(server: &Server, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let client = reqwest::Client::new();
    let mut req = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => panic!("method {other}"),
    }
    .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())))
}

fn q(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn files_api_writes_lists_reads_and_deletes_workspace_files() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = server.create_deployment().await;
    let key = server.key.clone();
    let files = format!("/v1/deployments/{dep}/files");

    let (s, w) = call(&server, &key, "PUT", &files, Some(json!({"path": "docs/readme.md", "content": "hello"}))).await;
    assert_eq!(s, 200, "{w}");
    // The hosted answer `{path, size, modified_at}`, and ours (`created`) beside it.
    assert!(w["modified_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{w}");
    assert_eq!(w, json!({"path": "docs/readme.md", "size": 5, "modified_at": w["modified_at"], "created": true}));
    let host_copy = server.dir.path().join("workspaces").join(&dep).join("docs/readme.md");
    assert_eq!(std::fs::read_to_string(&host_copy).unwrap(), "hello", "the file is in the workspace");

    let (s, w) =
        call(&server, &key, "PUT", &files, Some(json!({"path": "docs/readme.md", "content": "hello again"}))).await;
    assert_eq!((s, w["created"].clone(), w["size"].clone()), (200, json!(false), json!(11)));
    let binary = [0u8, 159, 146, 150, 255];
    let b64 = base64::engine::general_purpose::STANDARD.encode(binary);
    let (s, _) =
        call(&server, &key, "PUT", &files, Some(json!({"path": "bin/x.dat", "content": b64, "encoding": "base64"})))
            .await;
    assert_eq!(s, 200);
    for name in ["a.txt", "b.txt", "c.txt"] {
        let (s, _) =
            call(&server, &key, "PUT", &files, Some(json!({"path": format!("many/{name}"), "content": name}))).await;
        assert_eq!(s, 200);
    }

    let (s, top) = call(&server, &key, "GET", &files, None).await;
    assert_eq!(s, 200, "{top}");
    // The hosted shape: `{path, entries: [{name, type, size, modified_at}]}`, whole.
    assert_eq!((&top["path"], &top["has_more"]), (&json!("/"), &json!(false)), "{top}");
    let names: Vec<(&str, &str)> = top["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("bin", "directory"), ("docs", "directory"), ("many", "directory")], "{top}");
    let (_, docs) = call(&server, &key, "GET", &format!("{files}?path=docs/"), None).await;
    assert_eq!(docs["path"], "docs", "{docs}");
    let readme = &docs["entries"][0];
    assert_eq!(
        (&readme["name"], &readme["path"], &readme["type"]),
        (&json!("readme.md"), &json!("docs/readme.md"), &json!("file"))
    );
    assert_eq!(readme["size"], 11);
    assert!(readme["modified_at"].is_string());
    let (_, many) = call(&server, &key, "GET", &format!("{files}?path=many"), None).await;
    assert_eq!(many["entries"].as_array().map(Vec::len), Some(3), "a folder under the cap comes whole: {many}");
    let (s, e) = call(&server, &key, "GET", &format!("{files}?limit=1001"), None).await;
    assert_eq!((s, &e["param"]), (400, &json!("limit")), "{e}");

    // Past the cap (or with a smaller `limit`) the cursor walks the folder in name order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = call(&server, &key, "GET", &format!("{files}?path=many&limit=1{cursor}"), None).await;
        assert_eq!(s, 200, "{page}");
        seen.push(page["entries"][0]["path"].as_str().unwrap().to_string());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={}", q(c)),
            None => break,
        }
    }
    assert_eq!(seen, ["many/a.txt", "many/b.txt", "many/c.txt"]);

    let resp = reqwest::Client::new()
        .get(format!("{}{files}/content?path=bin/x.dat", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(&resp.bytes().await.unwrap()[..], &binary[..], "bytes round-trip");

    let (s, d) = call(&server, &key, "DELETE", &format!("{files}?path=docs/readme.md"), None).await;
    assert_eq!((s, d), (200, json!({"path": "docs/readme.md", "deleted": true})));
    assert!(!host_copy.exists());
    let (s, e) = call(&server, &key, "GET", &format!("{files}/content?path=docs/readme.md"), None).await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")));
    let (s, _) = call(&server, &key, "DELETE", &format!("{files}?path=many"), None).await;
    assert_eq!(s, 200, "a folder is deleted with its content");
    assert!(!server.dir.path().join("workspaces").join(&dep).join("many").exists());

    // Missing or malformed input answers the documented error body.
    let (s, e) = call(&server, &key, "GET", &format!("{files}/content"), None).await;
    assert_eq!((s, e["error"].as_str(), e["param"].as_str()), (400, Some("validation_error"), Some("path")));
    let (s, e) =
        call(&server, &key, "PUT", &files, Some(json!({"path": "x", "content": "%%", "encoding": "base64"}))).await;
    assert_eq!((s, e["param"].as_str()), (400, Some("content")));
    let (s, e) = call(&server, &key, "GET", &format!("{files}/content?path=bin"), None).await;
    assert_eq!((s, e["param"].as_str()), (400, Some("path")), "a folder has no content: {e}");
    let (s, _) = call(&server, &key, "GET", "/v1/deployments/dep_nope/files", None).await;
    assert_eq!(s, 404);

    // Scopes: reading needs deployments:read, writing deployments:write.
    let data_dir = server.dir.path().to_str().unwrap().to_string();
    let reader = common::cli(&["keys", "create", "--data-dir", &data_dir, "--scopes", "deployments:read"]);
    let reader = reader.trim();
    let (s, _) = call(&server, reader, "GET", &files, None).await;
    assert_eq!(s, 200);
    let (s, e) = call(&server, reader, "PUT", &files, Some(json!({"path": "x.txt", "content": "x"}))).await;
    assert_eq!((s, e["error"].as_str()), (403, Some("forbidden")), "{e}");
    let (s, _) = call(&server, reader, "DELETE", &format!("{files}?path=bin/x.dat"), None).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn paths_that_leave_the_workspace_are_400_and_touch_nothing_outside() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = server.create_deployment().await;
    let key = server.key.clone();
    let files = format!("/v1/deployments/{dep}/files");
    let ws = server.dir.path().join("workspaces").join(&dep);

    // A secret beside the workspace, and links a guest could have planted to it.
    let outside = server.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "do not read").unwrap();
    std::os::unix::fs::symlink(&outside, ws.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), ws.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink("../../outside", ws.join("relative-escape")).unwrap();

    for bad in [
        "../outside/secret.txt",
        "/etc/passwd",
        "a/../../x",
        "escape/secret.txt",
        "leak.txt",
        "relative-escape/secret.txt",
    ] {
        let (s, e) = call(&server, &key, "GET", &format!("{files}/content?path={}", q(bad)), None).await;
        assert_eq!(
            (s, e["error"].as_str(), e["param"].as_str()),
            (400, Some("validation_error"), Some("path")),
            "GET {bad}: {e}"
        );
        let (s, e) = call(&server, &key, "PUT", &files, Some(json!({"path": bad, "content": "pwned"}))).await;
        assert_eq!((s, e["param"].as_str()), (400, Some("path")), "PUT {bad}: {e}");
        if bad != "leak.txt" {
            let (s, e) = call(&server, &key, "DELETE", &format!("{files}?path={}", q(bad)), None).await;
            assert_eq!(s, 400, "DELETE {bad}: {e}");
        }
    }
    for bad in ["../outside", "escape", "/etc"] {
        let (s, e) = call(&server, &key, "GET", &format!("{files}?path={}", q(bad)), None).await;
        assert_eq!((s, e["param"].as_str()), (400, Some("path")), "list {bad}: {e}");
    }
    assert_eq!(std::fs::read_to_string(outside.join("secret.txt")).unwrap(), "do not read");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "nothing was written outside");
    let (s, top) = call(&server, &key, "GET", &files, None).await;
    assert_eq!(s, 200);
    let link = top["entries"].as_array().unwrap().iter().find(|e| e["path"] == "escape").cloned().unwrap();
    assert_eq!(link["type"], "symlink", "links are listed, never followed");
    // Deleting a planted link removes the link, never what it points to.
    let (s, _) = call(&server, &key, "DELETE", &format!("{files}?path=leak.txt"), None).await;
    assert_eq!(s, 200);
    assert!(!ws.join("leak.txt").exists() && outside.join("secret.txt").exists());
}

/// Issue 14, point 9: names no filesystem takes are the client's error, not a 500.
#[tokio::test]
async fn a_nul_byte_or_an_overlong_name_in_a_path_is_400() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = server.create_deployment().await;
    let key = server.key.clone();
    let files = format!("/v1/deployments/{dep}/files");
    let long_name = "n".repeat(10_000);
    let deep = vec!["d"; 3000].join("/");
    for bad in ["a\0b.txt", long_name.as_str(), deep.as_str()] {
        let shown = &bad[..bad.len().min(20)];
        let (s, e) = call(&server, &key, "PUT", &files, Some(json!({"path": bad, "content": "x"}))).await;
        assert_eq!((s, e["param"].as_str()), (400, Some("path")), "PUT {shown:?}: {e}");
        let (s, e) = call(&server, &key, "GET", &format!("{files}/content?path={}", q(bad)), None).await;
        assert_eq!(s, 400, "GET {shown:?}: {e}");
        let (s, e) = call(&server, &key, "DELETE", &format!("{files}?path={}", q(bad)), None).await;
        assert_eq!(s, 400, "DELETE {shown:?}: {e}");
    }
    // Still serving, and a name of exactly 255 bytes works.
    let ok = "m".repeat(255);
    let (s, e) = call(&server, &key, "PUT", &files, Some(json!({"path": ok, "content": "fits"}))).await;
    assert_eq!(s, 200, "{e}");
}
