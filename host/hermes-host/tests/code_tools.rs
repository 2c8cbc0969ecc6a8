//! The `python` and `shell` tools through the public API: the fake model calls them,
//! the Files API puts data in and reads results out, and escapes fail as tool errors
//! while the run, the host and other deployments carry on.

mod common;

use common::{create, events, file, put_file, send};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

fn spec(customer: &str) -> Value {
    json!({"customer_id": customer, "name": "Analyst", "model": "openai/gpt-test", "system_prompt": "Be brief."})
}

const CSV: &str = "day,campaign,spend\n2026-01-04,spring,120.5\n2025-12-30,winter,80\n2026-02-11,summer,79.5\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_totals_a_csv_the_files_api_wrote_and_writes_a_file_the_files_api_returns() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_py")).await;
    put_file(&server, &dep, "ads.csv", CSV).await;
    let code = "import csv\nrows = list(csv.DictReader(open('ads.csv')))\ntotal = sum(float(r['spend']) for r in rows)\n\
                with open('out/total.txt', 'w') as f:\n    f.write(f'{total:g}')\nprint(total)";
    llm.push(Reply::tool("python", json!({"code": format!("import os\nos.makedirs('out', exist_ok=True)\n{code}")})));
    llm.push(Reply::text("The spend totals 280."));
    let (run_id, run) = send(&server, &dep, "total the spend column of ads.csv").await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results, vec!["280.0"], "the right number reaches the model");
    assert_eq!(file(&server, &dep, "out/total.txt").await, (200, "280".to_string()));
    // The call and its result streamed like any tool's.
    let evs = events(&server, &dep, &format!("\"run_id\":\"{run_id}\",\"status\":\"completed\"")).await;
    let call = evs.iter().find(|(k, v)| k == "tool_call" && v["tool"] == "python");
    assert!(call.is_some(), "{evs:?}");
    let result = evs.iter().find(|(k, _)| k == "tool_result").map(|(_, v)| v).expect("a tool_result");
    assert_eq!(
        (&result["name"], &result["origin"], &result["result"]),
        (&json!("python"), &json!("builtin"), &json!("280.0"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_result_event_carries_json_output_as_json_and_long_output_cut() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_result")).await;
    llm.push(Reply::tool("python", json!({"code": "import json\nprint(json.dumps({'total': 280, 'rows': [1, 2]}))"})));
    llm.push(Reply::tool("python", json!({"code": "print('ab' * 15000)"})));
    llm.push(Reply::text("done"));
    let (run_id, run) = send(&server, &dep, "compute").await;
    assert_eq!(run["status"], "completed", "{run}");
    let evs = events(&server, &dep, &format!("\"run_id\":\"{run_id}\",\"status\":\"completed\"")).await;
    let results: Vec<&Value> = evs.iter().filter(|(k, _)| k == "tool_result").map(|(_, v)| v).collect();
    assert_eq!(results.len(), 2, "{evs:?}");
    assert_eq!(results[0]["result"], json!({"total": 280, "rows": [1, 2]}), "JSON output is JSON: {}", results[0]);
    assert_eq!(results[0]["result_truncated"], false);
    let long = &results[1];
    assert_eq!(long["result_truncated"], true, "{long}");
    let text = long["result"].as_str().expect("cut output stays text");
    assert!(text.len() <= 16 * 1024 && text.starts_with("abab"), "{}", text.len());
    assert!(long["preview"].as_str().unwrap().len() <= 2100);
    // The model still got the whole output (or the harness's spill note), not the event's cut.
    let model_saw = common::tool_results(llm.requests().last().unwrap());
    assert!(model_saw[1].len() > text.len() || model_saw[1].contains(".hermes/"), "{}", model_saw[1].len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_pipes_redirects_and_runs_workspace_scripts() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_sh")).await;
    put_file(&server, &dep, "data.csv", CSV).await;
    put_file(&server, &dep, "scripts/x.py", "import sys\nprint(int(sys.argv[1]) + int(sys.argv[2]))\n").await;
    for command in [
        "cat data.csv | grep 2026 | wc -l",
        "mkdir -p a/b && echo hi > a/b/c.txt && cat a/b/c.txt",
        "python3 scripts/x.py 3 4",
        "ffmpeg -i in.mp4 out.gif",
    ] {
        llm.push(Reply::tool("shell", json!({"command": command})));
    }
    llm.push(Reply::text("done"));
    let (_, run) = send(&server, &dep, "work the files").await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(&results[..3], ["2", "hi", "7"], "{results:?}");
    assert!(results[3].contains("command not found in the sandbox: ffmpeg"), "{results:?}");
    assert!(results[3].contains("available:") && results[3].contains("sha256sum"), "{results:?}");
    assert_eq!(file(&server, &dep, "a/b/c.txt").await, (200, "hi\n".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_with_a_python_script_runs_end_to_end() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_skill")).await;
    let skill = "---\nname: spend-report\ndescription: Summarise ad spend per campaign from a CSV.\n---\n\
                 Run `python3 .hermes/skills/spend-report/scripts/report.py FILE.csv` and answer with its output.\n";
    let script = "import csv, sys\nfrom collections import defaultdict\ntotals = defaultdict(float)\n\
                  for row in csv.DictReader(open(sys.argv[1])):\n    totals[row['campaign']] += float(row['spend'])\n\
                  best = max(totals, key=totals.get)\nprint(f'{len(totals)} campaigns; top: {best} ({totals[best]:g})')\n";
    put_file(&server, &dep, ".hermes/skills/spend-report/SKILL.md", skill).await;
    put_file(&server, &dep, ".hermes/skills/spend-report/scripts/report.py", script).await;
    put_file(&server, &dep, "ads.csv", CSV).await;
    llm.push(Reply::tool("skill_view", json!({"name": "spend-report"})));
    llm.push(Reply::tool("shell", json!({"command": "python3 .hermes/skills/spend-report/scripts/report.py ads.csv"})));
    llm.push(Reply::text("3 campaigns; top: spring (120.5)"));
    let (_, run) = send(&server, &dep, "report the spend").await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests = llm.requests();
    let system = requests[0]["messages"][0]["content"].as_str().unwrap_or_default().to_string();
    assert!(system.contains("spend-report") && system.contains("python3 .hermes/skills/"), "{system}");
    let results = common::tool_results(requests.last().unwrap());
    assert!(results[0].contains("report.py"), "the model read the skill: {results:?}");
    assert_eq!(results[1], "3 campaigns; top: spring (120.5)", "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_and_exhaustion_are_tool_errors_while_the_host_and_other_deployments_carry_on() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_bad")).await;
    let other = create(&server, spec("cus_good")).await;
    put_file(&server, &other, "mine.txt", "other tenant's file").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let calls = [
        "print(open('/etc/passwd').read())".to_string(),
        "import os; print(os.listdir('/'))".to_string(),
        format!("print(open('../{other}/mine.txt').read())"),
        format!("import socket; s = socket.socket(); s.connect(('127.0.0.1', {port})); print('connected')"),
        "while True: pass".to_string(),
        "x = bytearray(10**9)".to_string(),
        "x = 'a' * 10**10".to_string(),
        "print('a' * 10**8)".to_string(),
    ];
    for code in &calls {
        let timeout = if code.starts_with("while") { json!(2) } else { json!(null) };
        llm.push(Reply::tool("python", json!({"code": code, "timeout_s": timeout})));
    }
    llm.push(Reply::text("I could not."));
    let (_, run) = send(&server, &dep, "try to escape").await;
    assert_eq!(run["status"], "completed", "the run carried on: {run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results.len(), calls.len(), "{results:?}");
    assert!(results[0].contains("FileNotFoundError") && !results[0].contains("root:"), "{}", results[0]);
    for host_dir in ["'etc'", "'usr'", "'proc'", "'home'"] {
        assert!(!results[1].contains(host_dir), "the sandbox shows no host folder: {}", results[1]);
    }
    assert!(!results[2].contains("other tenant's file") && results[2].contains("Error"), "{}", results[2]);
    assert!(!results[3].contains("\nconnected") && results[3].contains("Error"), "{}", results[3]);
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing reached the loopback port");
    assert!(results[4].contains("[stopped: it ran longer than its limit of 2s]"), "{}", results[4]);
    assert!(results[5].contains("MemoryError"), "{}", results[5]);
    assert!(results[6].contains("Error"), "{}", results[6]);
    assert!(
        results[7].len() < 100 << 10 && results[7].contains("bytes cut"),
        "a 100 MB print is cut: {}",
        &results[7][results[7].len().saturating_sub(1500)..]
    );
    // The host and the other deployment are fine.
    llm.push(Reply::tool("shell", json!({"command": "cat mine.txt"})));
    llm.push(Reply::text("ok"));
    let (_, run) = send(&server, &other, "read my file").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(common::tool_results(llm.requests().last().unwrap()), vec!["other tenant's file"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_tools_are_listed_and_a_disabled_one_is_never_offered_nor_run() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_tools")).await;
    let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
    for name in ["python", "shell"] {
        let t = tools["data"].as_array().unwrap().iter().find(|t| t["name"] == name);
        assert_eq!(t.map(|t| (&t["origin"], &t["enabled"])), Some((&json!("builtin"), &json!(true))), "{tools}");
    }
    let r = reqwest::Client::new()
        .patch(format!("{}/v1/deployments/{dep}/tools/shell", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    llm.push(Reply::tool("shell", json!({"command": "echo pwned > pwned.txt"})));
    llm.push(Reply::text("ok"));
    let (_, run) = send(&server, &dep, "run it anyway").await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests = llm.requests();
    let offered = common::offered(&requests[0]);
    assert!(offered.contains(&"python".to_string()) && !offered.contains(&"shell".to_string()), "{offered:?}");
    let results = common::tool_results(requests.last().unwrap());
    assert!(results[0].contains("disabled"), "{results:?}");
    assert_eq!(file(&server, &dep, "pwned.txt").await.0, 404, "the disabled tool never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_call_can_wait_for_a_humans_approval() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let mut body = spec("cus_appr");
    body["features"] = json!({"steering": true});
    body["steering"] = json!({"require_approval": ["shell"]});
    let dep = create(&server, body).await;
    llm.push(Reply::tool("shell", json!({"command": "echo approved > done.txt"})));
    llm.push(Reply::text("done"));
    let (_, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "go"})).await;
    let run_id = t["run_id"].as_str().unwrap().to_string();
    let mut pending = Value::Null;
    for _ in 0..200 {
        pending = server.get_json(&format!("/v1/deployments/{dep}/approvals?status=pending")).await;
        if pending["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let approval = pending["data"][0].clone();
    assert_eq!(approval["tool"], "shell", "{pending}");
    assert_eq!(file(&server, &dep, "done.txt").await.0, 404, "nothing ran before the approval");
    let id = approval["approval_id"].as_str().unwrap();
    let (status, a) =
        server.post_json(&format!("/v1/deployments/{dep}/approvals/{id}"), &json!({"decision": "approve"})).await;
    assert!(status == 200 || status == 202, "{a}");
    let run = server.wait_run(&dep, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(file(&server, &dep, "done.txt").await, (200, "approved\n".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_plan_streams_as_todo_events_and_search_files_takes_a_regex() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, spec("cus_plan")).await;
    put_file(&server, &dep, "ads.csv", CSV).await;
    let plan = json!({"items": [{"content": "find the 2026 rows", "status": "in_progress"},
                                {"content": "answer", "status": "pending"}]});
    llm.push(Reply::tool("todo", plan));
    llm.push(Reply::tool("search_files", json!({"query": "^2026-0[12]", "mode": "regex"})));
    llm.push(Reply::text("Two rows."));
    let (run_id, run) = send(&server, &dep, "which rows are from 2026?").await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert!(results[0].starts_with("Plan saved (0/2 done):\n[~] find the 2026 rows"), "{results:?}");
    assert_eq!(results[1], "ads.csv:2: 2026-01-04,spring,120.5\nads.csv:4: 2026-02-11,summer,79.5", "{results:?}");
    let evs = events(&server, &dep, &format!("\"run_id\":\"{run_id}\",\"status\":\"completed\"")).await;
    let todo = evs.iter().find(|(k, _)| k == "todo").map(|(_, v)| v.clone()).expect("a todo event");
    assert_eq!(todo["run_id"], run_id.as_str(), "{todo}");
    assert_eq!(todo["items"][0]["status"], "in_progress", "{todo}");
}
