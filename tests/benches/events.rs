//! Event-stream benchmarks: 1,000 SSE subscribers over real HTTP on one deployment
//! (fan-out latency from append to the last subscriber, memory per idle connection),
//! and sustained events/s appended and delivered.
//!
//! `cargo bench -p hermes-tests --bench events`

use std::time::{Duration, Instant};

use futures::StreamExt;
use hermes_host::Host;
use serde_json::json;
use tokio::sync::mpsc;

const SUBSCRIBERS: usize = 1000;
const PINGS: u64 = 50;

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One SSE client: reports when it is connected, then the id of every event it reads.
async fn subscriber(
    client: reqwest::Client,
    url: String,
    key: String,
    ready: mpsc::UnboundedSender<()>,
    seen: mpsc::UnboundedSender<(u64, Instant)>,
) {
    let resp = client.get(url).bearer_auth(key).send().await.expect("connect");
    let _ = ready.send(());
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    while let Some(Ok(chunk)) = body.next().await {
        let now = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(id) = frame.lines().find_map(|l| l.strip_prefix("id: evt_")).and_then(|n| n.parse().ok()) {
                let _ = seen.send((id, now));
            }
        }
    }
}

/// Resident memory of a process, in KiB.
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Child mode: serve the API for the memory measurement, print `port key dep`.
async fn serve_child(dir: &str) {
    let host = Host::builder(dir)
        .config(hermes_host::HostConfig { tenants: hermes_host::TenantLimits::unlimited(), ..Default::default() })
        .build()
        .await
        .expect("host");
    let key = host.accounts().bootstrap(1_000_000).await.expect("bootstrap").expect("key");
    let spec = serde_json::from_value(json!({"customer_id": "c", "name": "n", "system_prompt": "p"})).expect("spec");
    let dep = host.create_deployment(spec).await.expect("deployment").deployment_id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("{} {key} {dep}", listener.local_addr().expect("addr").port());
    axum::serve(listener, hermes_host::api::router(host)).await.ok();
}

/// Server-only memory per idle SSE connection: the server runs in a child process
/// (this binary in child mode); 1,000 streams are opened from here.
async fn server_memory_per_connection() -> f64 {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--serve-child", dir.path().to_str().expect("utf-8 path")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("child");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("child line");
    let mut parts = line.split_whitespace();
    let (port, key, dep) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let url = format!("http://127.0.0.1:{port}/v1/deployments/{dep}/events");
    // Warm the server's allocator and runtime with a few streams first.
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(client.get(&url).bearer_auth(key).send().await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_of(child.id());
    for _ in 0..SUBSCRIBERS {
        streams.push(client.get(&url).bearer_auth(key).send().await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per = rss_of(child.id()).saturating_sub(before) as f64 / SUBSCRIBERS as f64;
    drop(streams);
    let _ = child.kill();
    let _ = child.wait();
    per
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve-child") {
        rt.block_on(serve_child(args.get(2).map(String::as_str).unwrap_or(".")));
        return;
    }
    let server_kib = rt.block_on(server_memory_per_connection());
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let host = Host::builder(dir.path()).config(hermes_host::HostConfig { tenants: hermes_host::TenantLimits::unlimited(), ..Default::default() }).build().await.expect("host");
        let key = host.accounts().bootstrap(1_000_000).await.expect("bootstrap").expect("key");
        let spec = serde_json::from_value(json!({"customer_id": "c", "name": "n", "system_prompt": "p"})).expect("spec");
        let dep = host.create_deployment(spec).await.expect("deployment").deployment_id;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = hermes_host::api::router(host.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        // Everything so far is in the log; subscribers start after it.
        let start = host.emit_event(&dep, "custom.start", json!({})).await.expect("emit").sequence;

        let before = rss_kib();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            let url = format!("{base}/v1/deployments/{dep}/events?after={start}");
            subscribers.push(tokio::spawn(subscriber(client.clone(), url, key.clone(), ready_tx.clone(), seen_tx.clone())));
        }
        for _ in 0..SUBSCRIBERS {
            ready_rx.recv().await.expect("connected");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_kib = rss_kib().saturating_sub(before) as f64 / SUBSCRIBERS as f64;

        let mut fanout = Vec::new();
        for _ in 0..PINGS {
            let t0 = Instant::now();
            let seq = host.emit_event(&dep, "custom.ping", json!({"at": "now"})).await.expect("emit").sequence;
            let mut got = 0;
            let mut last = t0;
            while got < SUBSCRIBERS {
                let (id, at) = seen_rx.recv().await.expect("event");
                if id == seq {
                    got += 1;
                    last = last.max(at);
                }
            }
            fanout.push(last.duration_since(t0).as_secs_f64() * 1e3);
        }
        fanout.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));

        // Sustained throughput: the 1,000 streams closed; 8 appenders, one subscriber.
        for s in subscribers {
            s.abort();
        }
        drop(seen_rx);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let total: u64 = 20_000;
        let from = host.emit_event(&dep, "custom.mark", json!({})).await.expect("emit").sequence;
        let mut sub = host.subscribe(&dep, from).await.expect("subscribe");
        let t0 = Instant::now();
        let mut appenders = Vec::new();
        for w in 0..8 {
            let (host, dep) = (host.clone(), dep.clone());
            appenders.push(tokio::spawn(async move {
                for i in 0..total / 8 {
                    host.emit_event(&dep, "custom.load", json!({"w": w, "i": i})).await.expect("emit");
                }
            }));
        }
        let mut n = 0;
        while n < total {
            let e = sub.next().await.expect("next");
            if e.kind == "custom.load" {
                n += 1;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        for a in appenders {
            a.await.expect("appender");
        }

        println!("\n| benchmark | result | target |\n|---|---|---|");
        println!(
            "| fan-out to {SUBSCRIBERS} SSE subscribers, append → last subscriber | median {:.1} ms, p99 {:.1} ms | p99 ≤ 50 ms |",
            pct(&fanout, 0.5),
            pct(&fanout, 0.99)
        );
        println!("| memory per idle SSE connection, server process only | {server_kib:.1} KiB | ≤ 64 KiB |");
        println!("| memory per idle SSE connection, server + client in one process | {idle_kib:.1} KiB | (upper bound) |");
        println!("| events appended and delivered, 8 appenders, 1 subscriber | {:.0} /s | ≥ 20,000 /s |", total as f64 / secs);
        host.shutdown().await;
    });
}
