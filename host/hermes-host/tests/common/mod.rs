//! Starting the real `hermes-host` binary for black-box tests.
#![allow(dead_code)]

pub mod mcp_peer;
pub mod sse;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hermes_tests::mock_llm::MockLlm;

/// A running `hermes-host serve` on a free loopback port, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub key: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the binary with the mock model as its OpenAI and Anthropic endpoints.
pub fn start(llm: &MockLlm) -> Server {
    start_with(llm, &[])
}

/// Like [`start`], with extra environment variables.
pub fn start_with(llm: &MockLlm, env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    // A port found free may be taken by a parallel test before the server binds it;
    // then the server exits and we try another.
    let mut attempt = 0;
    let (port, child, printed) = loop {
        let port = free_port();
        match try_spawn(llm, dir.path(), port, env) {
            Ok((child, key)) => break (port, child, key),
            Err(e) if attempt < 5 && e.contains("exited") => attempt += 1,
            Err(e) => panic!("{e}"),
        }
    };
    let saved = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    let key = saved.trim().to_string();
    // The start that created the account printed the key once (a retry prints none).
    assert!(attempt > 0 || printed.as_deref() == Some(key.as_str()), "the first start prints the admin key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("admin.key")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "admin.key is private");
    Server { child, base: format!("http://127.0.0.1:{port}"), key, port, dir }
}

/// Spawns `hermes-host serve` on `data_dir`; returns the child and the admin key
/// when this start printed one (first start only). Returns once it listens.
pub fn spawn(llm: &MockLlm, data_dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> (Child, Option<String>) {
    try_spawn(llm, data_dir, port, env).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`spawn`]; an error (the child already reaped) when the server exits before
/// listening or does not listen in time.
pub fn try_spawn(
    llm: &MockLlm,
    data_dir: &std::path::Path,
    port: u16,
    env: &[(&str, &str)],
) -> Result<(Child, Option<String>), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hermes-host"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", llm.openai_base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("ANTHROPIC_BASE_URL", llm.anthropic_base_url())
        .env("HERMES_LOG", "warn")
        // One compiled harness for every test server instead of a compile per data dir.
        .env("HERMES_CACHE_DIR", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start hermes-host");
    let lines = watch_stdout(&mut child);
    let key = await_listening(&mut child, &lines, port)?;
    Ok((child, key))
}

/// Forwards the admin-key and "listening" lines a starting server prints on stdout
/// (and keeps draining the rest).
pub fn watch_stdout(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("the server's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("hk_") || line.starts_with("hermes-host listening on ") {
                let _ = tx.send(line);
            }
        }
    });
    rx
}

/// Waits for the server's own "listening" line, not for the port to accept: another
/// process may own that port. Returns the admin key if this start printed one. An
/// error (the child reaped) when it exits first or does not listen within 90 s —
/// generous, since a start on a loaded CI machine can take seconds.
pub fn await_listening(
    child: &mut Child,
    lines: &std::sync::mpsc::Receiver<String>,
    port: u16,
) -> Result<Option<String>, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut key = None;
    loop {
        match lines.recv_timeout(Duration::from_millis(25)) {
            Ok(line) if line.starts_with("hk_") => key = Some(line),
            Ok(line) => {
                let expected = format!("hermes-host listening on http://127.0.0.1:{port}");
                assert_eq!(line, expected, "the server listens where it was told");
                return Ok(key);
            }
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("hermes-host exited during start-up ({status}); port {port}"));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("hermes-host did not listen within 90 s".into());
        }
    }
}

/// Runs a CLI subcommand against a data dir; returns stdout (panics on failure).
/// A key with every scope for another account (`acct_other`) of `server`'s data dir.
#[allow(dead_code)]
pub fn other_account_key(server: &Server) -> String {
    let dir = server.dir.path().to_str().unwrap();
    cli(&["keys", "create", "--data-dir", dir, "--account", "acct_other", "--scopes", "*"]).trim().to_string()
}

/// `method path` with `body` as the admin key: the status and the JSON answer (null
/// when it is not JSON).
#[allow(dead_code)]
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    call_as(server, &server.key, method, path, body).await
}

/// [`call`] with another key.
#[allow(dead_code)]
pub async fn call_as(
    server: &Server,
    key: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req =
        reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", server.base)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hermes-host")).args(args).output().expect("run hermes-host");
    assert!(out.status.success(), "hermes-host {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Server {
    /// `GET path` with the admin key; the JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON body")
    }

    /// `POST path` with a JSON body and the admin key; the status and JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("POST");
        (r.status().as_u16(), r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Creates a minimal deployment on the mock's OpenAI model; returns its id.
    pub async fn create_deployment(&self) -> String {
        let body = serde_json::json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief."});
        let (status, d) = self.post_json("/v1/deployments", &body).await;
        assert_eq!(status, 201, "{d}");
        d["deployment_id"].as_str().expect("deployment_id").to_string()
    }

    /// Polls a run until its status is `want` (at most ~30 s); returns it.
    pub async fn wait_status(&self, deployment_id: &str, run_id: &str, want: &str) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        for _ in 0..1200 {
            last = self.get_json(&format!("/v1/deployments/{deployment_id}/runs/{run_id}")).await;
            if last["status"] == want {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {run_id} never reached {want}: {last}");
    }

    /// Polls a run until it leaves `queued`/`running` (at most ~10 s); returns it.
    pub async fn wait_run(&self, deployment_id: &str, run_id: &str) -> serde_json::Value {
        let path = format!("/v1/deployments/{deployment_id}/runs/{run_id}");
        for _ in 0..400 {
            let run = self.get_json(&path).await;
            if run["status"] != "queued" && run["status"] != "running" {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {run_id} did not finish");
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(path);
            }
        }
    }
    hits
}

/// The content of the tool messages of one model request.
pub fn tool_results(request: &serde_json::Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Tool names offered in one model request (OpenAI wire).
pub fn offered(request: &serde_json::Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["function"]["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Creates a deployment from `body` (201 expected) and returns its id.
pub async fn create(server: &Server, body: serde_json::Value) -> String {
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

/// Sends a message and waits for its run to end; returns the run id and the run.
pub async fn send(server: &Server, dep: &str, content: &str) -> (String, serde_json::Value) {
    let (status, t) =
        server.post_json(&format!("/v1/deployments/{dep}/messages"), &serde_json::json!({"content": content})).await;
    assert_eq!(status, 202, "{t}");
    let run_id = t["run_id"].as_str().unwrap().to_string();
    let mut run = serde_json::Value::Null;
    for _ in 0..1200 {
        run = server.get_json(&format!("/v1/deployments/{dep}/runs/{run_id}")).await;
        if run["status"] != "queued" && run["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (run_id, run)
}

/// The deployment's event stream from the start, as raw SSE text, read until `done`
/// holds for what arrived (or `secs` pass; then whatever arrived).
pub async fn stream_text(server: &Server, dep: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
    use futures::StreamExt;
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/deployments/{dep}/events?after=0", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, body.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if done(&text) {
            break;
        }
    }
    text
}

/// The deployment's events from the start until one whose frame contains `until`,
/// as `(type, data)`.
pub async fn events(server: &Server, dep: &str, until: &str) -> Vec<(String, serde_json::Value)> {
    let text = stream_text(server, dep, 20, |t| t.contains(until) && t.ends_with("\n\n")).await;
    text.split("\n\n")
        .filter_map(|frame| {
            let kind = frame.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((kind.to_string(), serde_json::from_str(data).ok()?))
        })
        .collect()
}

/// The deployment's event stream from the start until `run_id` ends: the raw text.
pub async fn events_until_done(server: &Server, dep: &str, run_id: &str) -> String {
    let ended = |text: &str| {
        text.split("\n\n").any(|frame| {
            frame.contains("event: run_status")
                && frame.contains(run_id)
                && (frame.contains("\"completed\"") || frame.contains("\"error\""))
        })
    };
    let text = stream_text(server, dep, 30, ended).await;
    assert!(ended(&text), "run {run_id} did not end on the stream; got:\n{text}");
    text
}

/// Status of `GET …/files/content?path=` (200 when the file exists) and its body.
pub async fn file(server: &Server, dep: &str, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}/v1/deployments/{dep}/files/content?path={path}", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Writes a workspace file through the Files API (200 expected).
pub async fn put_file(server: &Server, dep: &str, path: &str, content: &str) {
    let r = reqwest::Client::new()
        .put(format!("{}/v1/deployments/{dep}/files", server.base))
        .bearer_auth(&server.key)
        .json(&serde_json::json!({"path": path, "content": content}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}
