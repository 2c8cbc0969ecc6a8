//! Per-deployment workspace quotas through the public API: a guest write past the
//! quota fails in the sandbox with a note naming the quota, and a Files API write
//! past it is a 413, while deleting, truncating and replacing give bytes back and
//! another deployment's workspace is not affected.

mod common;

use common::{Server, create, file, put_file, send, start_with};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// A host whose workspaces hold at most 1 MiB each.
fn server(llm: &MockLlm) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hermes.toml");
    std::fs::write(&path, "[sandbox]\nworkspace_quota_mib = 1\n").unwrap();
    (start_with(llm, &[("HERMES_CONFIG", path.to_str().unwrap())]), dir)
}

fn spec(customer: &str) -> Value {
    json!({"customer_id": customer, "name": "Writer", "model": "openai/gpt-test", "system_prompt": "Be brief."})
}

async fn put(server: &Server, dep: &str, path: &str, content: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/v1/deployments/{dep}/files", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"path": path, "content": content}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Runs each python snippet as one tool call of one run; returns their results.
async fn python(server: &Server, llm: &MockLlm, dep: &str, snippets: &[&str]) -> Vec<String> {
    for code in snippets {
        llm.push(Reply::tool("python", json!({"code": code})));
    }
    llm.push(Reply::text("done"));
    let (_, run) = send(server, dep, "write the files").await;
    assert_eq!(run["status"], "completed", "{run}");
    // The request carries the whole thread: this run's results are the last ones.
    let all = common::tool_results(llm.requests().last().unwrap());
    all[all.len() - snippets.len()..].to_vec()
}

fn on_disk(server: &Server, dep: &str, name: &str) -> u64 {
    let path = server.dir.path().join("workspaces").join(dep).join(name);
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_past_the_workspace_quota_fails_in_the_guest_and_is_a_413_on_the_files_api() {
    let llm = MockLlm::start().await;
    let (server, _config) = server(&llm);
    let dep = create(&server, spec("cus_quota")).await;
    let other = create(&server, spec("cus_roomy")).await;
    let kb = |n: usize| "x".repeat(n * 1000);
    put_file(&server, &dep, "seed.txt", &kb(600)).await;

    // The Files API refuses what would not fit, names the quota, and writes nothing.
    let (status, body) = put(&server, &dep, "second.txt", &kb(600)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "payload_too_large", "{body}");
    assert!(body["message"].as_str().unwrap().contains("quota of 1 MiB"), "{body}");
    assert_eq!(file(&server, &dep, "second.txt").await.0, 404, "nothing was written");

    // In the sandbox: what fits is written, what does not fails, and the file on
    // disk stops short of the quota.
    let results = python(
        &server,
        &llm,
        &dep,
        &[
            "open('small.bin', 'wb').write(b'y' * 200_000); print('small ok')",
            "f = open('big.bin', 'wb')\nfor _ in range(100):\n    f.write(b'z' * 10_000)\n    f.flush()\nprint('big ok')",
        ],
    )
    .await;
    assert_eq!(results[0], "small ok", "{results:?}");
    assert!(
        results[1].contains("the workspace is full (its quota is 1 MiB)") && !results[1].contains("big ok"),
        "{results:?}"
    );
    let big = on_disk(&server, &dep, "big.bin");
    assert!(big < 300_000, "the refused writes never reached the disk: big.bin is {big} bytes");

    // Deleting gives bytes back (in python, then the Files API), and replacing a
    // file by rewriting it is not counted twice.
    let results = python(
        &server,
        &llm,
        &dep,
        &[
            "import os; os.remove('big.bin'); os.remove('small.bin'); print('removed')",
            "for i in range(30):\n    open('again.bin', 'wb').write(b'a' * 300_000)\nprint('rewritten 30 times')",
            "f = open('again.bin', 'r+b'); f.truncate(1000); f.close(); print('truncated')",
        ],
    )
    .await;
    assert_eq!(results, ["removed", "rewritten 30 times", "truncated"], "{results:?}");
    let (status, body) = put(&server, &dep, "second.txt", &kb(350)).await;
    assert_eq!(status, 200, "the truncation gave its bytes back: {body}");
    let r = reqwest::Client::new()
        .delete(format!("{}/v1/deployments/{dep}/files?path=seed.txt", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let results = python(&server, &llm, &dep, &["open('after.bin', 'wb').write(b'b' * 500_000); print('fits')"]).await;
    assert_eq!(results, ["fits"], "the deleted seed's bytes came back");

    // Replacing a file through the Files API charges only its growth: rewriting
    // after.bin (500 KB) with 510 KB fits although 510 KB more would not.
    let (status, body) = put(&server, &dep, "after.bin", &kb(510)).await;
    assert_eq!(status, 200, "only the 10 KB of growth is charged: {body}");

    // Another deployment has its own quota, untouched by this one's.
    put_file(&server, &other, "seed.txt", &kb(900)).await;
}
