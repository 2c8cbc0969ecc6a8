//! One configuration reference: `hermes-host config check` validates a file and prints
//! what it gives (secrets masked), `config reference` prints `docs/configuration.md`,
//! and the keys that were once unreachable from `hermes.toml` (`max_output_tokens`,
//! `[retry]`) now reach the running host.

mod common;

use std::process::Command;

use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::json;

fn hermes(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(args)
        .env_remove("HERMES_CONFIG")
        .env_remove("HERMES_METRICS_TOKEN")
        .output()
        .expect("run hermes-host");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TOKEN: &str = "metrics-token-never-printed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_prints_the_effective_configuration_and_the_keys_reach_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hermes.toml");
    std::fs::write(
        &file,
        format!(
            "max_output_tokens = 1234\nmetrics_token = \"{TOKEN}\"\n[retry]\nmax_attempts = 2\nbase_delay_ms = 10\n\
             [sandbox]\nmax_concurrent_instances = 7\n"
        ),
    )
    .unwrap();
    let (code, out, err) = hermes(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let effective: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("TOML out: {e}\n{out}"));
    assert_eq!(effective["max_output_tokens"].as_integer(), Some(1234), "{out}");
    assert_eq!(effective["retry"]["max_attempts"].as_integer(), Some(2));
    assert_eq!(effective["retry"]["base_delay_ms"].as_integer(), Some(10));
    assert_eq!(effective["retry"]["max_delay_ms"].as_integer(), Some(20_000), "defaults are printed too");
    assert_eq!(effective["sandbox"]["max_concurrent_instances"].as_integer(), Some(7));
    assert_eq!(effective["events"]["retention_hours"].as_integer(), Some(168));
    assert_eq!(effective["metrics_token"].as_str(), Some("********"));
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "the token is masked");

    // A misspelt key is refused by name, with a non-zero exit.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "max_output_token = 10\n").unwrap();
    let (code, out, err) = hermes(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("max_output_token") && err.contains("invalid"), "{err}");
    let (code, _, err) = hermes(&["config", "check", dir.path().join("absent.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("absent.toml"), "{err}");

    // The reference the binary prints is the checked-in one.
    let (code, reference, _) = hermes(&["config", "reference"]);
    assert_eq!(code, 0);
    let on_disk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md")).unwrap();
    assert_eq!(reference, on_disk);
    assert!(reference.contains("| `max_output_tokens` |") && reference.contains("## `[retry]`"), "{reference}");

    // max_output_tokens and [retry] reach the running host: the model is asked for at most
    // 1234 tokens, and a 503 is retried (two attempts in all).
    let llm = MockLlm::start().await;
    let server = common::start_with(&llm, &[("HERMES_CONFIG", file.to_str().unwrap())]);
    llm.fail_next(503, 1);
    llm.push(Reply::text("ok"));
    let dep = common::create(
        &server,
        json!({"customer_id": "c", "name": "n", "model": "openai/gpt-test", "system_prompt": "p"}),
    )
    .await;
    let (_, run) = common::send(&server, &dep, "hi").await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "one 503, then the retry");
    assert_eq!(requests[1]["max_tokens"], 1234, "{}", requests[1]);
}

/// A first start with no provider key says so, and how to add one, before any run fails.
#[test]
fn a_start_without_provider_keys_says_how_to_add_one() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERMES_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        log.push_str(&line);
        log.push('\n');
        if line.contains("hermes-host serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(log.contains("no model provider is ready"), "{log}");
    assert!(log.contains("OPENAI_API_KEY") && log.contains("[providers.<name>]"), "{log}");
    assert!(log.contains("model provider not configured") && log.contains("\"anthropic\" has no API key"), "{log}");
}

/// `--version` names the build, the WIT package and the wasmtime version.
#[test]
fn version_names_the_build_the_wit_package_and_wasmtime() {
    let (code, out, _) = hermes(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("hermes-host {}", env!("CARGO_PKG_VERSION"))), "{out}");
    let wit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/worlds.wit")).unwrap();
    let package = wit.lines().find_map(|l| l.strip_prefix("package ")).unwrap().trim_end_matches(';');
    assert!(out.contains(&format!("wit: {package}")), "{out}");
    let wasmtime = out.lines().find_map(|l| l.strip_prefix("wasmtime: ")).unwrap_or_default();
    assert!(wasmtime.split('.').count() == 3 && wasmtime.split('.').all(|n| n.parse::<u32>().is_ok()), "{out}");
}

#[test]
fn precompile_fills_the_cache_so_that_a_start_compiles_nothing() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = dir.path().join("hermes.toml");
    // The harness only: the code tools' CPython takes long to compile in a debug build.
    std::fs::write(&config, "[code_tools]\nenabled = false\n").unwrap();

    // A throwaway data dir needs a cache that outlives it.
    let (code, _, err) = hermes(&["precompile", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HERMES_CACHE_DIR"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["precompile", "--config"])
        .arg(&config)
        .env("HERMES_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("compiled the harness into") && stdout.contains(cache.to_str().unwrap()), "{stdout}");
    let compiled: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert!(!compiled.is_empty(), "the cache holds the compiled harness");

    // A server on a fresh data dir with that cache loads the harness from it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("HERMES_CACHE_DIR", &cache)
        .env("HERMES_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let ready = std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("harness ready"))
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready.contains("from_cache=true"), "the start compiled nothing: {ready}");
}
