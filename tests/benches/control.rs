//! Control-plane benchmarks over real HTTP on loopback: create→ready latency with
//! inline skills at 1 and 50 concurrent clients, and listing 100 of 10,000 deployments.
//!
//! `cargo bench -p hermes-tests --bench control`

use std::time::Instant;

use hermes_host::Host;
use serde_json::{Value, json};

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn body(i: usize) -> Value {
    let skill = |name: &str| {
        json!({"name": name, "source": "inline",
               "content": format!("---\nname: {name}\ndescription: Does {name} the customer's way\n---\n# {name}\nSteps…\n")})
    };
    json!({
        "customer_id": format!("cus_{i}"), "name": "bench", "model": "openai/x",
        "system_prompt": "You are a benchmark agent.",
        "skills": [skill("storyboarding"), skill("captions"), skill("thumbnails")]
    })
}

async fn create_all(http: &reqwest::Client, base: &str, key: &str, clients: usize, per_client: usize) -> Vec<f64> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, base, key) = (http.clone(), base.to_string(), key.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/v1/deployments"))
                    .bearer_auth(&key)
                    .json(&body(c * per_client + i))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 201);
                let d: Value = r.json().await.expect("json");
                assert_eq!(d["status"], "ready");
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    all
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let host = Host::builder(dir.path())
            .config(hermes_host::HostConfig { tenants: hermes_host::TenantLimits::unlimited(), ..Default::default() })
            .build()
            .await
            .expect("host");
        let key = host.accounts().bootstrap(1_000_000).await.expect("bootstrap").expect("key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = hermes_host::api::router(host.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");

        println!("\n| benchmark | median | p99 | target |\n|---|---|---|---|");
        let one = create_all(&http, &base, &key, 1, 200).await;
        println!(
            "| create→ready, 3 inline skills, 1 client | {:.2} ms | {:.2} ms | ≤ 5 ms / ≤ 25 ms |",
            pct(&one, 0.5),
            pct(&one, 0.99)
        );
        let fifty = create_all(&http, &base, &key, 50, 10).await;
        println!(
            "| create→ready, 3 inline skills, 50 clients | {:.2} ms | {:.2} ms | ≤ 5 ms / ≤ 25 ms |",
            pct(&fifty, 0.5),
            pct(&fifty, 0.99)
        );

        // Fill up to 10,000 deployments (through the library: same code path, less wall time).
        let have = one.len() + fifty.len();
        for i in have..10_000 {
            let spec = serde_json::from_value(
                json!({"customer_id": format!("cus_{i}"), "name": "bulk", "system_prompt": "p"}),
            )
            .expect("spec");
            host.create_deployment(spec).await.expect("create");
        }
        let mut lat = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..200 {
            let mut url = format!("{base}/v1/deployments?limit=100");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let t = Instant::now();
            let page: Value = http.get(&url).bearer_auth(&key).send().await.expect("list").json().await.expect("json");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(page["data"].as_array().map(Vec::len), Some(100));
            // Walk the whole listing, then start over from the newest page.
            cursor = page["next_cursor"].as_str().map(str::to_string);
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        println!(
            "| GET /v1/deployments?limit=100, 10,000 stored | {:.2} ms | {:.2} ms | ≤ 5 ms median |",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        host.shutdown().await;
    });
}
