//! Real third-party SSE clients against the binary: Node's `eventsource` package and
//! headless Chromium's `EventSource`. A loopback proxy in the test cuts their
//! connection mid-run; each client reconnects by itself with `Last-Event-ID`, and
//! the union of what it saw must equal the log: no duplicates, no gaps.
//!
//! The proxy also serves the Chromium page (so the page and the events endpoint share
//! an origin) and receives the page's progress and report. Tests skip, saying why, only
//! when node or chromium is not installed (`tests/sse-clients/install.sh` installs both).
//!
//! Nothing here waits on a guess of how fast the machine is: the run's answer waits
//! behind a gate the test opens, and the test cuts only once the client itself says it
//! has the tool result, so a slow browser start or a busy CI machine changes the
//! duration, never the outcome.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sse;
use common::{Server, start};
use hermes_tests::mock_llm::{Gate, MockLlm, Reply};
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
    /// The events the page said it has (`/seen?event=…`).
    seen: Arc<Mutex<Vec<String>>>,
    report: Arc<Mutex<Option<String>>>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            streams: Arc::default(),
            resumes: Arc::default(),
            seen: Arc::default(),
            report: Arc::default(),
        };
        let notes = Notes { resumes: proxy.resumes.clone(), seen: proxy.seen.clone(), report: proxy.report.clone() };
        let streams = proxy.streams.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (streams2, notes) = (streams.clone(), notes.clone());
                let task = tokio::spawn(async move {
                    let _ = handle(conn, upstream, notes).await;
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

    fn reconnects(&self) -> usize {
        self.resumes.lock().unwrap().len()
    }
}

/// What the proxy writes down as requests pass.
#[derive(Clone)]
struct Notes {
    resumes: Arc<Mutex<Vec<Option<String>>>>,
    seen: Arc<Mutex<Vec<String>>>,
    report: Arc<Mutex<Option<String>>>,
}

async fn handle(mut conn: TcpStream, upstream: u16, notes: Notes) -> std::io::Result<()> {
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
        *notes.report.lock().unwrap() = Some(String::from_utf8_lossy(&body).to_string());
        return conn.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
    }
    if let Some(event) = path.strip_prefix("/seen?event=") {
        notes.seen.lock().unwrap().push(event.to_string());
        return conn.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
    }
    if !path.contains("/events") {
        // Only event streams are piped. Anything else (the browser's favicon.ico) must
        // not open a keep-alive pipe to the server: the browser would reuse it for the
        // page's `/seen` or `/results` fetch, which would then never reach the proxy.
        return conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    }
    notes.resumes.lock().unwrap().push(header("last-event-id"));
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).await?;
    up.write_all(&head).await?;
    tokio::io::copy_bidirectional(&mut conn, &mut up).await?;
    Ok(())
}

/// A deployment and a run that stays open until `gate` opens: a tool call, then an
/// answer behind the gate.
async fn held_run(llm: &MockLlm, server: &Server, gate: &Gate) -> (String, String) {
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "A"})));
    llm.push(Reply::gated(gate, Reply::text("All done, the file is written.")));
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

/// Polls `done` every 20 ms for up to `secs`; panics saying `what` (and `why()`) if it
/// never holds.
async fn wait_until(secs: u64, what: &str, done: impl Fn() -> bool, why: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {secs} s; {}", why());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Cuts the client's connection once it has the tool result (`has_it`), waits for it
/// to reconnect, then lets the run finish.
async fn cut_mid_run(proxy: &Proxy, gate: &Gate, has_it: impl Fn() -> bool, why: impl Fn() -> String) {
    wait_until(120, "the client received the tool result", has_it, &why).await;
    proxy.cut();
    wait_until(60, "the client reconnected", || proxy.reconnects() >= 2, &why).await;
    gate.open();
}

/// The node client: its stdout lines as they arrive, so the test sees its progress.
struct NodeClient {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<Value>>>,
    reader: std::thread::JoinHandle<()>,
}

impl NodeClient {
    fn start(url: &str, key: &str, run_id: &str) -> NodeClient {
        let mut child = Command::new("node")
            .arg(clients_dir().join("node-client.mjs"))
            .args([url, key, run_id, "120000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| json!({"unparsed": line, "error": e.to_string()}));
                sink.lock().unwrap().push(v);
            }
        });
        NodeClient { child, lines, reader }
    }

    fn has(&self, event: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| l["event"] == event)
    }

    fn progress(&self) -> String {
        format!("the client printed {:?}", self.lines.lock().unwrap())
    }

    /// Waits for the client to exit; its lines, the final report last.
    async fn finish(self) -> Vec<Value> {
        let NodeClient { mut child, lines, reader } = self;
        tokio::task::spawn_blocking(move || {
            let _ = child.wait();
            let _ = reader.join();
        })
        .await
        .unwrap();
        lines.lock().unwrap().clone()
    }
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
    let gate = Gate::new();
    let (dep, run_id) = held_run(&llm, &server, &gate).await;
    let proxy = Proxy::start(server.port).await;
    let url = format!("http://127.0.0.1:{}/v1/deployments/{dep}/events?after=0", proxy.port);
    let client = NodeClient::start(&url, &server.key, &run_id);
    cut_mid_run(&proxy, &gate, || client.has("tool_result"), || client.progress()).await;
    let lines = client.finish().await;
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
    // The gated answer never goes out: it dies with the server, and the resumed run
    // asks again and gets the default.
    let gate = Gate::new();
    let (dep, run_id) = held_run(&llm, &server, &gate).await;
    llm.set_default(Reply::text("Done after the restart."));
    let proxy = Proxy::start(server.port).await;
    let url = format!("http://127.0.0.1:{}/v1/deployments/{dep}/events?after=0", proxy.port);
    let client = NodeClient::start(&url, &server.key, &run_id);

    // Mid-run (the client has the tool result, the answer is held): kill -9, restart.
    wait_until(120, "the client received the tool result", || client.has("tool_result"), || client.progress()).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    proxy.cut();
    let (child_server, _) = common::spawn(&llm, server.dir.path(), server.port, &[]);
    server.child = child_server;

    let lines = client.finish().await;
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
    let gate = Gate::new();
    let (dep, run_id) = held_run(&llm, &server, &gate).await;
    let proxy = Proxy::start(server.port).await;
    // Same origin as the page (the proxy); the key rides as ?access_token=.
    let events = format!("/v1/deployments/{dep}/events?after=0&access_token={}", server.key);
    let page = format!("http://127.0.0.1:{}/page.html?run={run_id}&events={}", proxy.port, percent_encode(&events));
    let profile = tempfile::tempdir().unwrap();
    // The browser's own complaints, shown if it never gets as far as the test needs.
    let log_path = profile.path().join("chromium.log");
    let log = std::fs::File::create(&log_path).unwrap();
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
        .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
        .arg(&page)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start chromium");
    let why = || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        format!(
            "stream requests {:?}; {} model requests; chromium said:\n{}",
            proxy.resumes.lock().unwrap(),
            llm.requests().len(),
            tail.join("\n")
        )
    };
    cut_mid_run(&proxy, &gate, || proxy.seen.lock().unwrap().iter().any(|e| e == "tool_result"), &why).await;
    wait_until(120, "the page reported", || proxy.report.lock().unwrap().is_some(), &why).await;
    let _ = child.kill();
    let _ = child.wait();
    let report = proxy.report.lock().unwrap().take().expect("the page reported");
    let report: Value = serde_json::from_str(&report).unwrap();
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
