//! Memory recall latency with 100,000 entries in one deployment (plus 20,000 in two
//! neighbours, to show the per-deployment scoping), through `Host::recall_memories` —
//! the path the WIT `memory.recall` import takes (reader pool → FTS5 bm25, bounded to
//! 8 entries / 8 KiB) — and through the store function alone.
//!
//! `cargo bench -p hermes-tests --bench memory`

use std::time::Instant;

use hermes_host::{DeploymentSpec, Host};
use hermes_store::Db;
use hermes_store::memories::{self, MemoryRow, MemorySource};
use serde_json::json;

/// Entries in the measured deployment.
const ENTRIES: usize = 100_000;
/// Entries in each of two other deployments.
const NEIGHBOUR_ENTRIES: usize = 10_000;
/// Recall queries measured.
const QUERIES: usize = 500;
/// What the harness recalls per run.
const LIMIT: u32 = 8;

/// xorshift64*: a deterministic corpus without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A vocabulary of pronounceable pseudo-words; picks are skewed (u³) so a few words
/// are very common, as in real observations.
struct Words(Vec<String>);

impl Words {
    fn new(rng: &mut Rng, n: usize) -> Words {
        const SYL: &[&str] =
            &["ka", "lo", "mi", "ren", "to", "sa", "vel", "qui", "dor", "pa", "ne", "zu", "har", "bi", "ost", "ly"];
        Words(
            (0..n)
                .map(|_| (0..2 + rng.next() % 3).map(|_| SYL[(rng.next() % SYL.len() as u64) as usize]).collect())
                .collect(),
        )
    }

    fn pick(&self, rng: &mut Rng) -> &str {
        &self.0[((rng.unit().powi(3)) * self.0.len() as f64) as usize]
    }

    fn sentence(&self, rng: &mut Rng, words: usize) -> String {
        let mut s = String::from("The customer");
        for _ in 0..words {
            s.push(' ');
            s.push_str(self.pick(rng));
        }
        s.push('.');
        s
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[(((sorted.len() as f64 - 1.0) * p).round() as usize).min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v
}

fn spec(i: usize) -> DeploymentSpec {
    serde_json::from_value(json!({"customer_id": format!("cus_{i}"), "name": "bench", "model": "openai/x",
        "system_prompt": "You are a benchmark agent."}))
    .expect("spec")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let words = Words::new(&mut rng, 20_000);

        // 1. Deployments through the library.
        let host = Host::builder(dir.path()).build().await.expect("host");
        let mut deps = Vec::new();
        for i in 0..3 {
            deps.push(host.create_deployment(spec(i)).await.expect("deployment").deployment_id);
        }
        host.shutdown().await;

        // 2. The corpus, bulk-loaded through the store layer (batches of 5,000 rows).
        let t = Instant::now();
        let db = Db::open(&dir.path().join("hermes.db")).expect("db");
        for (d, n) in deps.iter().zip([ENTRIES, NEIGHBOUR_ENTRIES, NEIGHBOUR_ENTRIES]) {
            for start in (0..n).step_by(5_000) {
                let rows: Vec<MemoryRow> = (start..(start + 5_000).min(n))
                    .map(|i| MemoryRow {
                        id: format!("mem_bench{d}{i:07}"),
                        deployment_id: d.clone(),
                        content: words.sentence(&mut rng, 8 + (i % 10)),
                        source: MemorySource::Agent,
                        created_at: "2026-01-01T00:00:00.000Z".into(),
                    })
                    .collect();
                db.write(move |conn| rows.iter().try_for_each(|r| memories::insert(conn, r))).await.expect("insert");
            }
        }
        let load = t.elapsed();
        db.close();

        // 3. Recall through the host library, as the import does.
        let host = Host::builder(dir.path()).build().await.expect("host");
        let target = deps[0].clone();
        let queries: Vec<String> = (0..QUERIES)
            .map(|i| {
                let mut q = String::from("Can you please update the");
                for _ in 0..3 + i % 5 {
                    q.push(' ');
                    q.push_str(words.pick(&mut rng));
                }
                q.push('?');
                q
            })
            .collect();
        // Warm the reader pool and the page cache.
        for q in queries.iter().take(50) {
            host.recall_memories(&target, q, LIMIT).await.expect("recall");
        }
        let mut lat = Vec::with_capacity(QUERIES);
        let mut hits = 0usize;
        for q in &queries {
            let t = Instant::now();
            let found = host.recall_memories(&target, q, LIMIT).await.expect("recall");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            hits += found.len();
            assert!(found.len() <= LIMIT as usize);
        }
        let lat = sorted(lat);
        let mut newest = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            host.recall_memories(&target, "", LIMIT).await.expect("recall");
            newest.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let newest = sorted(newest);
        host.shutdown().await;

        // 4. The store function alone, on one connection (no pool, no task hop).
        let db = Db::open(&dir.path().join("hermes.db")).expect("db");
        let (qs, dep) = (queries.clone(), target.clone());
        let raw = db
            .read(move |conn| {
                let mut lat = Vec::with_capacity(qs.len());
                for q in &qs {
                    let t = Instant::now();
                    memories::recall(conn, &dep, q, LIMIT, 8 * 1024)?;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                Ok(lat)
            })
            .await
            .expect("raw recall");
        let raw = sorted(raw);
        db.close();

        println!(
            "\nmemory recall: {ENTRIES} entries in the deployment (+{} in neighbours), loaded in {:.1} s; {QUERIES} queries of 3–7 content words, limit {LIMIT}, {:.1} hits/query",
            2 * NEIGHBOUR_ENTRIES,
            load.as_secs_f64(),
            hits as f64 / QUERIES as f64
        );
        println!("\n| benchmark | median | p95 | p99 | target |\n|---|---|---|---|---|");
        println!(
            "| recall via Host (import path) | {:.3} ms | {:.3} ms | {:.3} ms | median ≤ 5 ms |",
            pct(&lat, 0.5),
            pct(&lat, 0.95),
            pct(&lat, 0.99)
        );
        println!(
            "| recall, store fn on one connection | {:.3} ms | {:.3} ms | {:.3} ms | |",
            pct(&raw, 0.5),
            pct(&raw, 0.95),
            pct(&raw, 0.99)
        );
        println!(
            "| newest 8 (empty query, dreams) | {:.3} ms | {:.3} ms | {:.3} ms | |",
            pct(&newest, 0.5),
            pct(&newest, 0.95),
            pct(&newest, 0.99)
        );
        let median = pct(&lat, 0.5);
        println!("\nmedian {median:.3} ms vs goal 5 ms: {}", if median <= 5.0 { "met" } else { "NOT met" });
    });
}
