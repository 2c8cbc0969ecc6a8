//! `DELETE /v1/deployments/{id}?retain_filesystem=true` from a hosted-docs client's point
//! of view: the snapshot stays listed and downloadable for `[workspaces] retained_days`,
//! then goes; a crash between the deletion and the move loses no file. Time moves
//! through the testing-only file clock (`[automations] clock_file`).

mod common;

use std::path::PathBuf;

use hermes_tests::mock_llm::MockLlm;
use serde_json::{Value, json};

struct Clock {
    _dir: tempfile::TempDir,
    file: PathBuf,
    config: PathBuf,
}

impl Clock {
    fn new(now: &str) -> Clock {
        let dir = tempfile::tempdir().unwrap();
        let (file, config) = (dir.path().join("now.txt"), dir.path().join("hermes.toml"));
        std::fs::write(&file, now).unwrap();
        let toml = format!(
            "[automations]\ntick_ms = 50\nclock_file = {:?}\n[workspaces]\nretained_days = 30\nsweep_secs = 1\n",
            file.display().to_string()
        );
        std::fs::write(&config, toml).unwrap();
        Clock { _dir: dir, file, config }
    }

    fn set(&self, now: &str) {
        let tmp = self.file.with_extension("tmp");
        std::fs::write(&tmp, now).unwrap();
        std::fs::rename(&tmp, &self.file).unwrap();
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("HERMES_CONFIG", self.config.display().to_string()), ("HERMES_ALLOW_TEST_CLOCK", "1".into())]
    }
}

async fn call(server: &common::Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value, Vec<u8>) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", server.base))
        .bearer_auth(&server.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap().to_vec();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), bytes)
}

async fn deployment_with_files(server: &common::Server, customer: &str) -> String {
    let body = json!({"customer_id": customer, "name": "Keeper", "system_prompt": "p"});
    let (status, d, _) = call(server, "POST", "/v1/deployments", Some(body)).await;
    assert_eq!(status, 201, "{d}");
    let id = d["deployment_id"].as_str().unwrap().to_string();
    for (path, content) in [("report.md", "# Q3\n"), ("data/rows.csv", "a,b\n1,2\n")] {
        let (s, w, _) = call(
            server,
            "PUT",
            &format!("/v1/deployments/{id}/files"),
            Some(json!({"path": path, "content": content})),
        )
        .await;
        assert_eq!(s, 200, "{w}");
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_workspace_is_listed_and_downloadable_for_30_days_then_removed() {
    let llm = MockLlm::start().await;
    let clock = Clock::new("2026-03-01T09:00:00Z");
    let env = clock.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = common::start_with(&llm, &env);
    let id = deployment_with_files(&server, "cus_keep").await;
    let gone = deployment_with_files(&server, "cus_gone").await;

    let (s, r, _) = call(&server, "DELETE", &format!("/v1/deployments/{id}?retain_filesystem=true"), None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((&r["status"], &r["filesystem"]["retained"]), (&json!("deleted"), &json!(true)), "{r}");
    assert_eq!(r["filesystem"]["expires_at"], "2026-03-31T09:00:00.000Z", "30 days by default: {r}");
    assert_eq!(r["filesystem"]["url"], format!("{}/v1/retained/{id}", server.base));
    // Without the flag nothing is kept.
    let (s, r, _) = call(&server, "DELETE", &format!("/v1/deployments/{gone}"), None).await;
    assert_eq!((s, r.get("filesystem")), (200, None), "{r}");
    assert_eq!(call(&server, "GET", &format!("/v1/retained/{gone}"), None).await.0, 404);

    // The deployment is gone; its snapshot is listed, browsable and downloadable.
    assert_eq!(call(&server, "GET", &format!("/v1/deployments/{id}"), None).await.0, 404);
    let (s, list, _) = call(&server, "GET", "/v1/retained", None).await;
    assert_eq!(s, 200, "{list}");
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(
        (&listed[0]["deployment_id"], &listed[0]["customer_id"], &listed[0]["name"]),
        (&json!(id), &json!("cus_keep"), &json!("Keeper"))
    );
    assert_eq!(listed[0]["deleted_at"], "2026-03-01T09:00:00.000Z");
    assert!(listed[0]["bytes"].as_u64().unwrap() >= 13, "{list}");
    let (_, one, _) = call(&server, "GET", &format!("/v1/retained/{id}"), None).await;
    assert_eq!(&one, &listed[0]);
    let (s, top, _) = call(&server, "GET", &format!("/v1/retained/{id}/files"), None).await;
    assert_eq!(s, 200, "{top}");
    let names: Vec<&str> = top["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"report.md") && names.contains(&"data"), "{top}");
    let (s, _, bytes) =
        call(&server, "GET", &format!("/v1/retained/{id}/files/content?path=data/rows.csv"), None).await;
    assert_eq!((s, bytes.as_slice()), (200, b"a,b\n1,2\n".as_slice()));
    let (s, e, _) = call(&server, "GET", &format!("/v1/retained/{id}/files/content?path=../../hermes.db"), None).await;
    assert_eq!((s, e["param"].as_str()), (400, Some("path")), "{e}");

    // Another account sees nothing of it.
    let other = common::other_account_key(&server);
    assert_eq!(common::call_as(&server, &other, "GET", &format!("/v1/retained/{id}"), None).await.0, 404);

    // Day 29: still there. Day 31: gone from the API at once, and the sweep removes
    // the files.
    clock.set("2026-03-30T09:00:00Z");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(call(&server, "GET", &format!("/v1/retained/{id}"), None).await.0, 200);
    clock.set("2026-04-01T09:00:00Z");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (s, e, _) = call(&server, "GET", &format!("/v1/retained/{id}"), None).await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")), "{e}");
    assert_eq!(call(&server, "GET", "/v1/retained", None).await.1["data"], json!([]));
    let kept = server.dir.path().join("retained").join(&id);
    for _ in 0..100 {
        if !kept.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!kept.exists(), "the expired snapshot's files are removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_workspace_can_be_removed_early_and_survives_a_crash_mid_move() {
    let llm = MockLlm::start().await;
    let clock = Clock::new("2026-03-01T09:00:00Z");
    let env = clock.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = common::start_with(&llm, &env);
    let early = deployment_with_files(&server, "cus_early").await;
    let crashed = deployment_with_files(&server, "cus_crash").await;
    for id in [&early, &crashed] {
        assert_eq!(call(&server, "DELETE", &format!("/v1/deployments/{id}?retain_filesystem=true"), None).await.0, 200);
    }
    let (s, r, _) = call(&server, "DELETE", &format!("/v1/retained/{early}"), None).await;
    assert_eq!((s, &r), (200, &json!({"deployment_id": early, "deleted": true})));
    assert_eq!(call(&server, "GET", &format!("/v1/retained/{early}"), None).await.0, 404);
    assert!(!server.dir.path().join("retained").join(&early).exists());

    // A crash after the deletion committed but before its folder moved: put the files
    // back where they were, kill -9, restart. The start finishes the move.
    let data = server.dir.path().to_path_buf();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::fs::rename(data.join("retained").join(&crashed), data.join("workspaces").join(&crashed)).unwrap();
    let (child, _) = common::spawn(&llm, &data, server.port, &env);
    server.child = child;
    let mut found = (0, Vec::new());
    for _ in 0..100 {
        let (s, _, bytes) =
            call(&server, "GET", &format!("/v1/retained/{crashed}/files/content?path=report.md"), None).await;
        found = (s, bytes);
        if s == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!((found.0, found.1.as_slice()), (200, b"# Q3\n".as_slice()));
    assert!(!data.join("workspaces").join(&crashed).exists());
}
