//! Filesystem-event benchmark: 1,000 file writes in a burst into a watched workspace
//! → every file reported exactly once as a `filesystem` event, with the lag from the
//! write to the event (inotify + per-path debounce + durable append); and the same
//! burst delivered as signed webhooks to a loopback receiver (deliveries/s).
//!
//! `cargo bench -p hermes-tests --bench fsevents`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hermes_host::{DEFAULT_ACCOUNT, Host, HostConfig};
use serde_json::json;

const FILES: usize = 1000;

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A loopback receiver that acknowledges every delivery and records its `webhook-id`.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, Instant)>>>) {
    let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, _body: String| {
            let log = log.clone();
            async move {
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                assert!(headers.contains_key("webhook-signature"), "signed");
                log.lock().expect("log").push((id, Instant::now()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let config = HostConfig { allow_private_urls: true, ..HostConfig::default() };
        let host = Host::builder(dir.path()).config(config).env(HashMap::new()).build().await.expect("host");
        let spec = serde_json::from_value(json!({"customer_id": "c", "name": "n", "system_prompt": "p",
            "features": {"filesystem_webhooks": true}}))
        .expect("spec");
        let dep = host.create_deployment(spec).await.expect("deployment").deployment_id;
        let (url, deliveries) = receiver().await;
        host.create_webhook(DEFAULT_ACCOUNT, &url, &["filesystem".to_string()], Some(dep.clone()))
            .await
            .expect("webhook");
        let mut sub = host.subscribe(&dep, 0).await.expect("subscribe");
        let ws = host.workspace_dir(&dep).join("burst");
        std::fs::create_dir_all(&ws).expect("mkdir");
        // Let the new folder's own notification pass before the burst.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let start = Instant::now();
        let writer = tokio::task::spawn_blocking(move || {
            let mut written = HashMap::with_capacity(FILES);
            for i in 0..FILES {
                let name = format!("file-{i:04}.txt");
                std::fs::write(ws.join(&name), format!("content of file {i}\n")).expect("write");
                written.insert(format!("burst/{name}"), Instant::now());
            }
            written
        });
        let mut seen: HashMap<String, (Instant, u32)> = HashMap::with_capacity(FILES);
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.len() < FILES && Instant::now() < deadline {
            let e = match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
                Ok(Ok(e)) => e,
                Ok(Err(e)) => panic!("subscription: {e}"),
                Err(_) => break,
            };
            if e.kind != "filesystem" {
                continue;
            }
            let path = e.payload["path"].as_str().expect("path").to_string();
            seen.entry(path).and_modify(|(_, n)| *n += 1).or_insert((Instant::now(), 1));
        }
        let written = writer.await.expect("writer");
        let burst_ms = written.values().max().map(|t| t.duration_since(start).as_secs_f64() * 1e3).unwrap_or(0.0);
        let last_event_ms = seen.values().map(|(t, _)| t.duration_since(start).as_secs_f64() * 1e3).fold(0.0, f64::max);
        // Anything extra (duplicates) shows up shortly after.
        while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
            if e.kind == "filesystem" {
                let path = e.payload["path"].as_str().unwrap_or("").to_string();
                seen.entry(path).and_modify(|(_, n)| *n += 1).or_insert((Instant::now(), 1));
            }
        }
        let reported = written.keys().filter(|p| seen.contains_key(*p)).count();
        let duplicated = seen.values().filter(|(_, n)| *n > 1).count();
        let mut lags: Vec<f64> = written
            .iter()
            .filter_map(|(p, w)| seen.get(p).map(|(t, _)| t.duration_since(*w).as_secs_f64() * 1e3))
            .collect();
        lags.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));

        // Deliveries: every event above became one signed POST.
        let delivery_deadline = Instant::now() + Duration::from_secs(120);
        while deliveries.lock().expect("log").len() < FILES && Instant::now() < delivery_deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = deliveries.lock().expect("log").clone();
        let mut ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort();
        ids.dedup();
        let last_delivery = got.iter().map(|(_, t)| t.duration_since(start).as_secs_f64()).fold(0.0, f64::max);

        println!("\n| benchmark | result | target |\n|---|---|---|");
        println!("| {FILES} file writes in a burst (writer finished in {burst_ms:.0} ms) | {reported}/{FILES} reported, {duplicated} duplicated | all, none |");
        println!(
            "| event lag, write → `filesystem` event (debounce {} ms) | median {:.1} ms, p95 {:.1} ms, max {:.1} ms | median ≤ 250 ms |",
            50,
            pct(&lags, 0.5),
            pct(&lags, 0.95),
            pct(&lags, 1.0)
        );
        println!("| last event after burst start | {last_event_ms:.0} ms | |");
        println!(
            "| signed webhook deliveries (loopback, 16 in flight) | {} delivered ({} unique ids) in {:.2} s = {:.0}/s | all |",
            got.len(),
            ids.len(),
            last_delivery,
            got.len() as f64 / last_delivery.max(1e-9)
        );
        assert_eq!(reported, FILES, "every write reported");
        assert_eq!(duplicated, 0, "none reported twice");
        assert_eq!(ids.len(), FILES, "every event delivered once");
        assert_eq!(got.len(), FILES, "no delivery sent twice when every attempt succeeds");
        host.shutdown().await;
    });
}
