//! Real third-party SSE clients against the binary: Node's `eventsource` package and
//! headless Chromium's `EventSource`. A loopback proxy in the test cuts their
//! connection mid-run; each client reconnects by itself with `Last-Event-ID`, and
//! the union of what it saw must equal the log: no duplicates, no gaps.
//!
//! The proxy also serves the Chromium page (so the page and the events endpoint share
//! an origin) and receives the page's report. Tests skip, saying why, only when node or
//! chromium is not installed (`tests/sse-clients/install.sh` installs both).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::sse::{self, SseReader};
use common::{Server, start};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PAGE: &str = include_str!("../../../tests/sse-clients/chromium-page.html");

fn clients_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../tests/sse-clients")
}

/// A loopback HTTP proxy to the server that can cut every open event stream.
struct Proxy {
    port: u16,
    streams: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    /// `Last-Event-ID` of each event-stream request, in order (None = first connect).
    resumes: Arc<Mutex<Vec<Option<String>>>>,
    report: Arc<Mutex<Option<String>>>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy { port, streams: Arc::default(), resumes: Arc::default(), report: Arc::default() };
        let (streams, resumes, report) = (proxy.streams.clone(), proxy.resumes.clone(), proxy.report.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (streams2, resumes, report) = (streams.clone(), resumes.clone(), report.clone());
                let task = tokio::spawn(async move {
                    let _ = handle(conn, upstream, resumes, report).await;
                });
                streams2.lock().unwrap().push(task.abort_handle());
            }
        });
        proxy
    }

    /// Drops every connection open right now (the clients see a network error).
    fn cut(&self) {
        for h in self.streams.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

async fn handle(
    mut conn: TcpStream,
    upstream: u16,
    resumes: Arc<Mutex<Vec<Option<String>>>>,
    report: Arc<Mutex<Option<String>>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_string();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let header = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if path.starts_with("/page.html") {
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
            PAGE.len()
        );
        return conn.write_all(resp.as_bytes()).await;
    }
    if path.starts_with("/results") {
        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = head[end..].to_vec();
        while body.len() < len {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        *report.lock().unwrap() = Some(String::from_utf8_lossy(&body).to_string());
        return conn.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
    }
    if path.contains("/events") {
        resumes.lock().unwrap().push(header("last-event-id"));
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).await?;
    up.write_all(&head).await?;
    tokio::io::copy_bidirectional(&mut conn, &mut up).await?;
    Ok(())
}

/// A deployment and a run that stays open for a while: a tool call, then an answer
/// `answer_ms` later (long enough for the client to connect and be cut mid-run).
async fn slow_run(llm: &MockLlm, server: &Server, answer_ms: u64) -> (String, String) {
    llm.push(Reply::after_ms(600, Reply::tool("write_file", json!({"path": "a.txt", "content": "A"}))));
    llm.push(Reply::after_ms(answer_ms, Reply::text("All done, the file is written.")));
    let http = reqwest::Client::new();
    let dep = server.create_deployment().await;
    let t: Value = http
        .post(format!("{}/v1/deployments/{dep}/messages", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"content": "write a file"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (dep, t["run_id"].as_str().unwrap().to_string())
}

/// Waits for the run's tool result (mid-run), then cuts the client's connection.
async fn cut_mid_run(server: &Server, dep: &str, proxy: &Proxy) {
    let mut watch = SseReader::open(&server.base, &server.key, dep, "?after=0", None).await;
    while let Some(f) = watch.next(Duration::from_secs(30)).await {
        if f.event == "tool_result" {
            break;
        }
    }
    // The client is connected (a slow browser start included: up to 30 s) and has had
    // time to receive the tool result; drop its connection while the run goes on.
    for _ in 0..1500 {
        if !proxy.resumes.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut();
}

async fn check(server: &Server, dep: &str, proxy: &Proxy, seen: &[Value]) {
    let seqs: Vec<u64> = seen.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    for e in seen {
        assert_eq!(e["id"].as_str().unwrap(), format!("evt_{}", e["sequence"]));
    }
    let log = sse::log(&server.base, &server.key, dep).await;
    sse::assert_exact(&seqs, &log);
    let resumes = proxy.resumes.lock().unwrap().clone();
    assert!(resumes.len() >= 2, "the client reconnected: {resumes:?}");
    assert_eq!(resumes[0], None);
    let resumed = resumes[1].as_deref().expect("the reconnect carries Last-Event-ID");
    assert!(resumed.starts_with("evt_"), "{resumed}");
}

fn which(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        let ok = Command::new("sh").args(["-c", &format!("command -v {n}")]).output().ok()?.status.success();
        ok.then(|| n.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_eventsource_reconnects_with_last_event_id_and_misses_nothing() {
    if !node_client_ready() {
        return;
    }
    let llm = MockLlm::start().await;
    let server = start(&llm);
    let (dep, run_id) = slow_run(&llm, &server, 3500).await;
    let proxy = Proxy::start(server.port).await;
    let url = format!("http://127.0.0.1:{}/v1/deployments/{dep}/events?after=0", proxy.port);
    let child = Command::new("node")
        .arg(clients_dir().join("node-client.mjs"))
        .args([&url, &server.key, &run_id, "60000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    cut_mid_run(&server, &dep, &proxy).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.last().expect("the client reported");
    assert_eq!(last["done"], true, "the client saw the run complete: {last}");
    assert!(last["opens"].as_u64().unwrap() >= 2, "{last}");
    check(&server, &dep, &proxy, &lines[..lines.len() - 1]).await;
}

/// Ensures the `eventsource` package is installed; false (after saying why) if not.
fn node_client_ready() -> bool {
    if which(&["node"]).is_none() {
        println!("SKIPPED: node is not installed (run tests/sse-clients/install.sh)");
        return false;
    }
    let dir = clients_dir();
    if !dir.join("node_modules/eventsource").is_dir() {
        let ok = Command::new("npm")
            .args(["install", "--prefix"])
            .arg(&dir)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("SKIPPED: `npm install` of the eventsource package failed (offline?)");
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_eventsource_resumes_across_a_kill_9_restart_and_misses_nothing() {
    if !node_client_ready() {
        return;
    }
    let llm = MockLlm::start().await;
    let mut server = start(&llm);
    let (dep, run_id) = slow_run(&llm, &server, 3500).await;
    // The answer in flight dies with the server; the resumed run asks again.
    llm.set_default(Reply::text("Done after the restart."));
    let proxy = Proxy::start(server.port).await;
    let url = format!("http://127.0.0.1:{}/v1/deployments/{dep}/events?after=0", proxy.port);
    let child = Command::new("node")
        .arg(clients_dir().join("node-client.mjs"))
        .args([&url, &server.key, &run_id, "60000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");

    // Mid-run (after the tool result, while the answer is pending): kill -9, restart.
    let mut watch = SseReader::open(&server.base, &server.key, &dep, "?after=0", None).await;
    while let Some(f) = watch.next(Duration::from_secs(30)).await {
        if f.event == "tool_result" {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    proxy.cut();
    let (child_server, _) = common::spawn(&llm, server.dir.path(), server.port, &[]);
    server.child = child_server;

    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.last().expect("the client reported");
    assert_eq!(last["done"], true, "the client saw the resumed run complete: {last}");
    check(&server, &dep, &proxy, &lines[..lines.len() - 1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_eventsource_reconnects_with_last_event_id_and_misses_nothing() {
    let Some(chromium) = which(&["chromium", "chromium-browser", "google-chrome"]) else {
        println!("SKIPPED: chromium is not installed (run tests/sse-clients/install.sh)");
        return;
    };
    let llm = MockLlm::start().await;
    let server = start(&llm);
    // A headless browser can take seconds to start on a busy machine: the run stays
    // open long enough for it to connect before the cut.
    let (dep, run_id) = slow_run(&llm, &server, 15_000).await;
    let proxy = Proxy::start(server.port).await;
    // Same origin as the page (the proxy); the key rides as ?access_token=.
    let events = format!("/v1/deployments/{dep}/events?after=0&access_token={}", server.key);
    let page = format!("http://127.0.0.1:{}/page.html?run={run_id}&events={}", proxy.port, percent_encode(&events));
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&page)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    cut_mid_run(&server, &dep, &proxy).await;
    let mut report = None;
    for _ in 0..1200 {
        if let Some(r) = proxy.report.lock().unwrap().take() {
            report = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let report: Value = serde_json::from_str(&report.expect("the page reported within 60 s")).unwrap();
    assert_eq!(report["done"], true, "the page saw the run complete: {report}");
    assert!(report["opens"].as_u64().unwrap() >= 2, "{report}");
    check(&server, &dep, &proxy, report["seen"].as_array().unwrap()).await;
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
