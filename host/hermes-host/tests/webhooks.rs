//! Filesystem events and signed webhook deliveries over the real binary: a Python
//! receiver verifies every delivery with the `standardwebhooks` package (Svix's
//! reference implementation) and deduplicates by `webhook-id`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::sse::SseReader;
use common::{Server, put_file};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// The receiver's directory, found at run time (cargo sets the variable for tests).
fn peers() -> String {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    format!("{manifest}/../../tests/webhook-peers")
}

/// Fast retries so the tests see several attempts in seconds.
const FAST_RETRIES: &str = "[webhooks]\ninitial_backoff_ms = 400\nmax_backoff_secs = 2\n";

/// The Python receiver, killed on drop.
struct Receiver {
    child: Child,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// Installs the pinned `standardwebhooks` (once; flock-guarded) and starts the
    /// receiver on `port` with `secret` and the given behaviour flags.
    fn start(port: u16, secret: &str, flags: &[&str]) -> Receiver {
        let install = Command::new("bash").arg(format!("{}/install.sh", peers())).status().expect("run install.sh");
        assert!(install.success(), "installing the webhook receiver's Python packages failed");
        let mut child = Command::new(format!("{}/.venv/bin/python", peers()))
            .arg(format!("{}/receiver.py", peers()))
            .args(["--port", &port.to_string(), "--secret", secret])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start receiver.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("receiver prints its port");
        assert_eq!(line.trim(), format!("listening {port}"));
        Receiver { child, url: format!("http://127.0.0.1:{port}/hook") }
    }

    /// Every attempt and every handled message so far.
    async fn log(&self) -> Value {
        reqwest::get(&self.url).await.expect("GET /log").json().await.expect("log JSON")
    }

    /// Polls the log until `cond` holds (at most `secs`).
    async fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let log = self.log().await;
            if cond(&log) {
                return log;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; receiver log: {log:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn handled_of_type<'a>(log: &'a Value, kind: &str) -> Vec<&'a Value> {
    log["handled"].as_array().unwrap().iter().map(|h| &h["payload"]).filter(|p| p["type"] == kind).collect()
}

fn start_server(llm: &MockLlm, config: &str) -> Server {
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), config).unwrap();
    let (_, path) = cfg.keep().unwrap();
    common::start_with(llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1"), ("HERMES_CONFIG", path.to_str().unwrap())])
}

async fn create_watched_deployment(server: &Server) -> String {
    let body = json!({"customer_id": "cus_1", "name": "W", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "features": {"filesystem_webhooks": true}});
    let (s, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(s, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

async fn create_webhook(server: &Server, url: &str, events: &[&str], dep: &str) -> (String, String) {
    let (s, w) = server.post_json("/v1/webhooks", &json!({"url": url, "events": events, "deployment_id": dep})).await;
    assert_eq!(s, 201, "{w}");
    let secret = w["secret"].as_str().expect("the secret is shown on creation").to_string();
    assert!(secret.starts_with("whsec_"));
    (w["id"].as_str().unwrap().to_string(), secret)
}

/// Every `filesystem` event in the deployment's log (read over SSE until quiet).
async fn filesystem_events(server: &Server, dep: &str) -> Vec<Value> {
    let mut sse = SseReader::open(&server.base, &server.key, dep, "?after=0", None).await;
    let mut out = Vec::new();
    while let Some(f) = sse.next(Duration::from_millis(800)).await {
        if f.event == "filesystem" {
            out.push(f.data);
        }
    }
    out
}

#[tokio::test]
async fn agent_and_files_api_writes_are_delivered_signed_retried_and_handled_exactly_once() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "notes/agent.txt", "content": "written by the agent"})));
    llm.push(Reply::text("done"));
    let server = start_server(&llm, FAST_RETRIES);
    let dep = create_watched_deployment(&server).await;
    let port = common::free_port();
    let (_, secret) =
        create_webhook(&server, &format!("http://127.0.0.1:{port}/hook"), &["filesystem", "run_status"], &dep).await;
    // Fails its first two verified attempts, then loses one acknowledgement.
    let receiver = Receiver::start(port, &secret, &["--fail-first", "2", "--lose-ack-once"]);

    let (s, sent) =
        server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "write a note"})).await;
    assert_eq!(s, 202, "{sent}");
    let run = server.wait_run(&dep, sent["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    put_file(&server, &dep, "api.txt", "written through the Files API").await;

    receiver
        .wait_for(30, "both files and the run's completion handled", |log| {
            let fs = handled_of_type(log, "filesystem");
            let done = handled_of_type(log, "run_status").iter().any(|p| p["data"]["status"] == "completed");
            fs.len() >= 2 && done
        })
        .await;
    // Give stray retries or duplicates a moment to show up before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = receiver.log().await;

    let attempts = log["attempts"].as_array().unwrap();
    assert!(attempts.iter().all(|a| a["verified"] == true), "standardwebhooks verified every attempt: {log:#}");
    let failed: Vec<&str> = attempts.iter().filter(|a| a["status"] == 500).map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(failed.len(), 3, "two refusals and one lost acknowledgement: {log:#}");
    for id in &failed {
        let retried_ok = attempts.iter().any(|a| a["id"] == *id && a["status"] == 200);
        assert!(retried_ok, "the failed delivery {id} was retried with the same webhook-id until acknowledged");
    }
    assert_eq!(attempts.iter().filter(|a| a["duplicate"] == true).count(), 1, "the lost ack's retry was a duplicate");

    let mut handled_ids: Vec<&str> =
        log["handled"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    let n = handled_ids.len();
    handled_ids.sort();
    handled_ids.dedup();
    assert_eq!(handled_ids.len(), n, "each message handled once");

    let fs = handled_of_type(&log, "filesystem");
    let mut paths: Vec<(&str, &str)> =
        fs.iter().map(|p| (p["data"]["path"].as_str().unwrap(), p["data"]["change"].as_str().unwrap())).collect();
    paths.sort();
    assert_eq!(paths, [("api.txt", "created"), ("notes/agent.txt", "created")], "one event per written file");
    let agent = fs.iter().find(|p| p["data"]["path"] == "notes/agent.txt").unwrap();
    assert_eq!(agent["data"]["size"], "written by the agent".len());
    assert_eq!(agent["data"]["deployment_id"], dep.as_str());
    assert!(agent["data"]["id"].as_str().unwrap().starts_with("evt_"));

    // The event log agrees: exactly one `filesystem` event per file.
    let events = filesystem_events(&server, &dep).await;
    let mut logged: Vec<&str> = events.iter().map(|e| e["path"].as_str().unwrap()).collect();
    logged.sort();
    assert_eq!(logged, ["api.txt", "notes/agent.txt"], "{events:#?}");

    // A change and a removal are reported as such.
    put_file(&server, &dep, "api.txt", "changed").await;
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/deployments/{dep}/files?path=notes/agent.txt", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let log =
        receiver.wait_for(15, "the change and the removal", |log| handled_of_type(log, "filesystem").len() >= 4).await;
    let later: Vec<(String, String, Value)> = handled_of_type(&log, "filesystem")[2..]
        .iter()
        .map(|p| {
            (
                p["data"]["path"].as_str().unwrap().into(),
                p["data"]["change"].as_str().unwrap().into(),
                p["data"]["size"].clone(),
            )
        })
        .collect();
    assert!(later.contains(&("api.txt".into(), "modified".into(), json!(7))), "{later:?}");
    assert!(later.contains(&("notes/agent.txt".into(), "deleted".into(), Value::Null)), "{later:?}");
}

#[tokio::test]
async fn a_delivery_pending_when_the_host_is_killed_is_delivered_after_restart() {
    let llm = MockLlm::start().await;
    let mut server = start_server(&llm, "[webhooks]\ninitial_backoff_ms = 3000\nmax_backoff_secs = 3\n");
    let dep = create_watched_deployment(&server).await;
    let port = common::free_port();
    let (_, secret) = create_webhook(&server, &format!("http://127.0.0.1:{port}/hook"), &["filesystem"], &dep).await;
    let receiver = Receiver::start(port, &secret, &["--fail-first", "1"]);

    put_file(&server, &dep, "report.csv", "a,b\n1,2\n").await;
    let log = receiver
        .wait_for(15, "the first (refused) attempt", |log| !log["attempts"].as_array().unwrap().is_empty())
        .await;
    let id = log["attempts"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(log["attempts"][0]["status"], 500);

    // kill -9 while the retry is pending, then start again on the same data.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(log["handled"].as_array().unwrap().is_empty());
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), "[webhooks]\ninitial_backoff_ms = 3000\nmax_backoff_secs = 3\n").unwrap();
    let (child, _) = common::spawn(
        &llm,
        server.dir.path(),
        server.port,
        &[("HERMES_ALLOW_PRIVATE_URLS", "1"), ("HERMES_CONFIG", cfg.path().to_str().unwrap())],
    );
    server.child = child;

    receiver.wait_for(20, "the delivery after the restart", |log| !log["handled"].as_array().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = receiver.log().await;
    let handled = log["handled"].as_array().unwrap();
    assert_eq!(handled.len(), 1, "{log:#}");
    assert_eq!(handled[0]["id"], id.as_str(), "the retry after the restart kept its webhook-id");
    assert_eq!(handled[0]["payload"]["data"]["path"], "report.csv");
    assert!(log["attempts"].as_array().unwrap().iter().all(|a| a["id"] == id.as_str() && a["verified"] == true));

    // The restarted host watches the workspace again.
    put_file(&server, &dep, "after-restart.csv", "x").await;
    let log =
        receiver.wait_for(15, "a change after the restart", |log| log["handled"].as_array().unwrap().len() >= 2).await;
    assert_eq!(log["handled"][1]["payload"]["data"]["path"], "after-restart.csv");
}

#[tokio::test]
async fn only_deployments_with_the_feature_report_changes_and_patch_toggles_it() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let plain = server.create_deployment().await;
    let dep = create_watched_deployment(&server).await;

    put_file(&server, &plain, "ignored.txt", "x").await;
    put_file(&server, &dep, "a.txt", "a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let patch = |on: bool| {
        let url = format!("{}/v1/deployments/{dep}", server.base);
        let key = server.key.clone();
        async move {
            let r = reqwest::Client::new()
                .patch(url)
                .bearer_auth(key)
                .json(&json!({"features": {"filesystem_webhooks": on}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    patch(false).await;
    put_file(&server, &dep, "b.txt", "b").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    patch(true).await;
    put_file(&server, &dep, "c.txt", "c").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let paths: Vec<String> =
        filesystem_events(&server, &dep).await.iter().map(|e| e["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(paths, ["a.txt", "c.txt"], "nothing while the feature was off");
    assert!(filesystem_events(&server, &plain).await.is_empty(), "the feature is off by default");
}

#[tokio::test]
async fn an_endpoint_answering_410_is_disabled_and_called_no_more() {
    let llm = MockLlm::start().await;
    let server = start_server(&llm, FAST_RETRIES);
    let dep = create_watched_deployment(&server).await;
    let port = common::free_port();
    let (id, secret) = create_webhook(&server, &format!("http://127.0.0.1:{port}/hook"), &["filesystem"], &dep).await;
    let receiver = Receiver::start(port, &secret, &["--gone"]);

    put_file(&server, &dep, "one.txt", "1").await;
    receiver.wait_for(15, "the 410", |log| !log["attempts"].as_array().unwrap().is_empty()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let hook = loop {
        let hook = server.get_json(&format!("/v1/webhooks/{id}")).await;
        if hook["status"] == "disabled" || tokio::time::Instant::now() > deadline {
            break hook;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(hook["status"], "disabled", "{hook}");
    assert!(hook["disabled_reason"].as_str().unwrap().contains("410"));
    assert!(hook.get("secret").is_none(), "the secret is never shown again");

    put_file(&server, &dep, "two.txt", "2").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = receiver.log().await;
    assert_eq!(log["attempts"].as_array().unwrap().len(), 1, "no retry, no new delivery: {log:#}");
}

#[tokio::test]
async fn a_receiver_holding_another_secret_rejects_every_delivery() {
    let llm = MockLlm::start().await;
    let server = start_server(&llm, FAST_RETRIES);
    let dep = create_watched_deployment(&server).await;
    let port = common::free_port();
    create_webhook(&server, &format!("http://127.0.0.1:{port}/hook"), &["filesystem"], &dep).await;
    // Another endpoint's secret: well-formed, but not the one deliveries are signed with.
    let (_, wrong) = create_webhook(&server, "https://example.com/other", &["run_status"], &dep).await;
    let receiver = Receiver::start(port, &wrong, &[]);

    put_file(&server, &dep, "x.txt", "x").await;
    let log =
        receiver.wait_for(15, "two rejected attempts", |log| log["attempts"].as_array().unwrap().len() >= 2).await;
    let attempts = log["attempts"].as_array().unwrap();
    assert!(attempts.iter().all(|a| a["verified"] == false && a["status"] == 400), "{log:#}");
    assert!(attempts[0]["error"].as_str().unwrap().contains("signature"), "{log:#}");
    assert_eq!(attempts[0]["id"], attempts[1]["id"], "retried with the same webhook-id");
    assert!(log["handled"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn webhook_api_validates_refuses_private_urls_and_shows_the_secret_once() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = server.create_deployment().await;

    for (body, param) in [
        (json!({"url": "http://127.0.0.1:9/hook", "events": ["filesystem"]}), "url"),
        (json!({"url": "http://localhost/hook", "events": ["filesystem"]}), "url"),
        (json!({"url": "http://10.1.2.3/hook", "events": ["filesystem"]}), "url"),
        (json!({"url": "ftp://example.com/", "events": ["filesystem"]}), "url"),
        (json!({"url": "https://example.com/h", "events": []}), "events"),
        (json!({"url": "https://example.com/h", "events": ["filesystem", "token"]}), "events[1]"),
        (
            json!({"url": "https://example.com/h", "events": ["run_status"], "deployment_id": "dep_nope"}),
            "deployment_id",
        ),
    ] {
        let (s, e) = server.post_json("/v1/webhooks", &body).await;
        assert_eq!(
            (s, e["error"].as_str(), e["param"].as_str()),
            (400, Some("validation_error"), Some(param)),
            "{body}: {e}"
        );
    }
    let (s, e) = server.post_json("/v1/webhooks", &json!({"url": "https://example.com/h"})).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("validation_error")), "{e}");

    let body =
        json!({"url": "https://example.com/hooks", "events": ["filesystem", "steering_request"], "deployment_id": dep});
    let (s, created) = server.post_json("/v1/webhooks", &body).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"));
    assert_eq!(created["status"], "enabled");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let got = server.get_json(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(got["url"], "https://example.com/hooks");
    assert!(got.get("secret").is_none(), "{got}");
    let list = server.get_json("/v1/webhooks").await;
    assert_eq!(list["data"][0]["id"], id);
    assert!(list["data"][0].get("secret").is_none());

    let data_dir = server.dir.path().to_str().unwrap().to_string();
    let reader = common::cli(&["keys", "create", "--data-dir", &data_dir, "--scopes", "deployments:read"]);
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/webhooks", server.base))
        .bearer_auth(reader.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/webhooks/{id}", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/webhooks/{id}", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // An endpoint scoped to a deployment is disabled, saying why, when the deployment goes.
    let (s, scoped) = server.post_json("/v1/webhooks", &body).await;
    assert_eq!(s, 201, "{scoped}");
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/deployments/{dep}", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = server.get_json(&format!("/v1/webhooks/{}", scoped["id"].as_str().unwrap())).await;
    assert_eq!(
        (got["status"].as_str(), got["disabled_reason"].as_str()),
        (Some("disabled"), Some("its deployment was deleted")),
        "{got}"
    );
}

#[tokio::test]
async fn files_written_into_brand_new_folders_are_each_reported_once() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create_watched_deployment(&server).await;
    let ws = server.dir.path().join("workspaces").join(&dep);
    // Folders and files appear faster than a watch can be added to each new folder:
    // the ones written before their folder's watch exist are found by listing it once.
    let mut expected = Vec::new();
    for d in 0..10 {
        let dir = ws.join(format!("out/{d}/deep"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..5 {
            std::fs::write(dir.join(format!("{f}.txt")), "x").unwrap();
            expected.push(format!("out/{d}/deep/{f}.txt"));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = filesystem_events(&server, &dep).await;
    let mut paths: Vec<String> = events.iter().map(|e| e["path"].as_str().unwrap().to_string()).collect();
    paths.sort();
    expected.sort();
    assert_eq!(paths, expected, "every file once, folders themselves not reported");
    assert!(events.iter().all(|e| e["change"] == "created" && e["size"] == 1));
}

/// Issue 14, point 9: replaying an idempotent create never hands its one-time
/// `whsec_…` to a key that could not have made the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_replay_needs_the_scopes_of_the_original_request() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let http = reqwest::Client::new();
    let body = json!({"url": "https://hooks.example.com/in", "events": ["message"]});
    let post = |key: String| {
        http.post(format!("{}/v1/webhooks", server.base))
            .bearer_auth(key)
            .header("Idempotency-Key", "hook-1")
            .json(&body)
            .send()
    };
    let first = post(server.key.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert!(first["secret"].as_str().unwrap().starts_with("whsec_"), "{first}");
    let dir = server.dir.path().to_str().unwrap();
    let reader = common::cli(&["keys", "create", "--data-dir", dir, "--scopes", "deployments:read"]);
    let replay = post(reader.trim().to_string()).await.unwrap();
    assert_ne!(replay.status(), 201);
    let text = replay.text().await.unwrap();
    assert!(!text.contains("whsec_"), "the secret is not replayed to a weaker key: {text}");
    // The original key still gets its replay.
    let again = post(server.key.clone()).await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
}

async fn set_watch(server: &Server, dep: &str, on: bool) {
    let r = reqwest::Client::new()
        .patch(format!("{}/v1/deployments/{dep}", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"features": {"filesystem_webhooks": on}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 14, defect 3: a relative link a guest planted (`../../outside`) is not
/// followed: activity outside the workspace never becomes this deployment's events.
#[tokio::test]
async fn the_workspace_watcher_never_follows_a_link_out_of_the_sandbox() {
    let llm = MockLlm::start().await;
    let server = start_server(&llm, "");
    let dep = server.create_deployment().await;
    let ws = server.dir.path().join("workspaces").join(&dep);
    let outside = server.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    std::os::unix::fs::symlink("../../outside", ws.join("link")).unwrap();
    set_watch(&server, &dep, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(outside.join("host-secret.txt"), "outside").unwrap();
    std::fs::write(outside.join("deep/other-tenant.txt"), "outside").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Removals need no stat to report: the names alone would leak.
    std::fs::remove_file(outside.join("host-secret.txt")).unwrap();
    std::fs::remove_file(outside.join("deep/other-tenant.txt")).unwrap();
    put_file(&server, &dep, "inside.txt", "in").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let paths: Vec<String> =
        filesystem_events(&server, &dep).await.iter().map(|e| e["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(paths, ["inside.txt"], "only the workspace's own file");
}

/// Issue 14, defect 3: a workspace with more folders than its watch budget is not
/// watched (so it cannot spend the host's inotify watches), and its stream says so.
#[tokio::test]
async fn a_workspace_over_its_watch_budget_is_reported_not_watched() {
    let llm = MockLlm::start().await;
    let server = start_server(&llm, "");
    let dep = server.create_deployment().await;
    let ws = server.dir.path().join("workspaces").join(&dep);
    for i in 0..2001 {
        std::fs::create_dir_all(ws.join(format!("d{}/e{i}", i % 40))).unwrap();
    }
    set_watch(&server, &dep, true).await;
    let events = filesystem_events(&server, &dep).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["change"], "overflow");
    assert!(events[0]["reason"].as_str().unwrap().contains("more than 2000 folders"), "{events:?}");
}

/// A loopback endpoint that answers 200 after `delay`, counting what it received.
async fn plain_endpoint(delay: Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(delay).await;
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_with_a_backlog_does_not_hold_up_other_endpoints() {
    use std::sync::atomic::Ordering;
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let server = start_server(&llm, "[webhooks]\nconcurrency = 4\n");
    let (slow_url, slow_seen) = plain_endpoint(Duration::from_secs(3)).await;
    let (fast_url, fast_seen) = plain_endpoint(Duration::ZERO).await;
    let create = |customer: &str| {
        let body =
            json!({"customer_id": customer, "name": "W", "model": "openai/gpt-test", "system_prompt": "Be brief."});
        let server = &server;
        async move {
            let (s, d) = server.post_json("/v1/deployments", &body).await;
            assert_eq!(s, 201, "{d}");
            d["deployment_id"].as_str().unwrap().to_string()
        }
    };
    let (busy, quiet) = (create("cus_busy").await, create("cus_quiet").await);
    create_webhook(&server, &slow_url, &["message"], &busy).await;
    create_webhook(&server, &fast_url, &["message"], &quiet).await;
    // A backlog of 20 deliveries to the slow endpoint (3 s each)…
    for i in 0..20 {
        let body = json!({"content": format!("job {i}"), "thread_id": "new"});
        let (s, t) = server.post_json(&format!("/v1/deployments/{busy}/messages"), &body).await;
        assert_eq!(s, 202, "{t}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // …then one to the fast endpoint, which arrives at once rather than after it.
    let started = std::time::Instant::now();
    let (s, t) = server.post_json(&format!("/v1/deployments/{quiet}/messages"), &json!({"content": "hi"})).await;
    assert_eq!(s, 202, "{t}");
    while fast_seen.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the fast endpoint got nothing");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "the fast endpoint waited {waited:?} behind the slow one's backlog");
    assert!(slow_seen.load(Ordering::SeqCst) < 20, "the slow endpoint's backlog was still being worked through");
}
