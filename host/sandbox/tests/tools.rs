//! The code tools through their library API, on a real wasmtime runtime: each
//! command a Wasm program over a temporary workspace.

use std::sync::{Arc, OnceLock};

use hermes_runtime::wit::hermes::agent::types::ToolOutput;
use hermes_runtime::{Runtime, SandboxLimits};
use hermes_sandbox::{CallContext, Sandbox, SandboxConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let cache = concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache");
        let runtime = Runtime::new(SandboxLimits::default(), cache.into()).expect("runtime");
        Sandbox::new(Arc::new(runtime), SandboxConfig::default())
    })
}

async fn shell(ws: &tempfile::TempDir, command: &str) -> ToolOutput {
    call(ws, "shell", json!({"command": command})).await
}

async fn call(ws: &tempfile::TempDir, tool: &str, args: serde_json::Value) -> ToolOutput {
    sandbox()
        .call(
            tool,
            &args.to_string(),
            CallContext { workspace: ws.path(), cancel: CancellationToken::new(), shutdown: CancellationToken::new() },
        )
        .await
}

fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("data.csv"), "day,spend\n2026-01-02,10\n2025-12-31,7\n2026-02-03,5\n").unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_redirections_and_lists_behave_like_sh() {
    let ws = workspace();
    let out = shell(&ws, "cat data.csv | grep 2026 | wc -l").await;
    assert_eq!(out.content.trim(), "2", "{out:?}");
    let out = shell(&ws, "mkdir -p a/b && echo hi > a/b/c.txt && cat a/b/c.txt").await;
    assert_eq!(out.content, "hi", "{out:?}");
    assert_eq!(std::fs::read_to_string(ws.path().join("a/b/c.txt")).unwrap(), "hi\n");
    let out = shell(&ws, "echo one >> log.txt; echo two >> log.txt; sort -r < log.txt").await;
    assert_eq!(out.content, "two\none", "{out:?}");
    let out = shell(&ws, "false && echo never; false || echo recovered; true && echo chained").await;
    assert_eq!(out.content, "recovered\nchained", "{out:?}");
    let out = shell(&ws, "ls nowhere 2>&1 | grep -c 'No such file'").await;
    assert_eq!(out.content, "1", "{out:?}");
    let out = shell(&ws, "cd a/b && pwd && ls; pwd").await;
    assert_eq!(out.content, "/workspace/a/b\nc.txt\n/workspace/a/b", "{out:?}");
    let out = shell(&ws, "X='a  b'; echo \"[$X]\" $X; echo \"$(echo nested | tr a-z A-Z)\"; echo $?").await;
    assert_eq!(out.content, "[a  b] a b\nNESTED\n0", "{out:?}");
    let out = shell(&ws, "echo *.csv a/*/c.txt '*.csv' none*.txt").await;
    assert_eq!(out.content, "data.csv a/b/c.txt *.csv none*.txt", "{out:?}");
    let out = shell(&ws, "printf 'b\\na\\nb\\n' | sort | uniq -c | sed 's/^ *//'").await;
    assert_eq!(out.content, "1 a\n2 b", "{out:?}");
    let out =
        shell(&ws, "cut -d, -f2 data.csv | tail -n +2 | head -2; echo abc | base64; echo -n abc | sha256sum").await;
    assert!(out.content.starts_with("10\n7\nYWJjCg==\nba7816bf"), "{out:?}");
    let out = shell(&ws, "echo x > f1; echo y > f2; diff f1 f2; echo status=$?").await;
    assert!(out.content.contains("< x") && out.content.contains("> y") && out.content.ends_with("status=1"), "{out:?}");
    let out = shell(&ws, "find . -name '*.txt' -type f | sort").await;
    assert_eq!(out.content, "./a/b/c.txt\n./f1\n./f2\n./log.txt".replace("./f1\n./f2\n", ""), "{out:?}");
    let out = shell(&ws, "touch t && cp t u && mv u v && rm t && ls -1 | grep -v csv | tr '\\n' ' '").await;
    assert_eq!(out.content, "a f1 f2 log.txt v", "{out:?}");
    let out = shell(&ws, "cd a; cd b; cat ../../data.csv | head -1; ls ..; cd ../..; pwd").await;
    assert_eq!(out.content, "day,spend\nb\n/workspace", "relative paths resolve from the cwd: {out:?}");
    let out = shell(&ws, "FOO=bar env | grep ^FOO=; sh -c 'echo $0 $1' x y; date +%Y | grep -c 20").await;
    assert_eq!(out.content, "FOO=bar\nx y\n1", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_runs_from_the_shell_with_its_arguments() {
    let ws = workspace();
    std::fs::create_dir_all(ws.path().join("scripts")).unwrap();
    std::fs::write(ws.path().join("scripts/x.py"), "import sys\nprint(int(sys.argv[1]) * int(sys.argv[2]))\n").unwrap();
    let out = shell(&ws, "python3 scripts/x.py 3 4").await;
    assert_eq!(out.content, "12", "{out:?}");
    let out = shell(&ws, "python3 -c 'import sys; print(sys.stdin.read().upper())' < data.csv | head -1").await;
    assert_eq!(out.content, "DAY,SPEND", "{out:?}");
    let out = shell(&ws, "echo 'print(6*7)' | python3").await;
    assert_eq!(out.content, "42", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sums_a_csv_and_writes_a_file() {
    let ws = workspace();
    let code = "import csv\nrows = list(csv.DictReader(open('data.csv')))\ntotal = sum(int(r['spend']) for r in rows)\n\
                open('total.txt', 'w').write(str(total))\nprint(total)";
    let out = call(&ws, "python", json!({"code": code})).await;
    assert_eq!((out.content.as_str(), out.is_error), ("22", false), "{out:?}");
    assert_eq!(std::fs::read_to_string(ws.path().join("total.txt")).unwrap(), "22");
    let out =
        call(&ws, "python", json!({"code": "import json\nprint(json.dumps({'a': 1}))\nraise ValueError('bad row')"}))
            .await;
    assert!(out.is_error, "{out:?}");
    assert!(out.content.starts_with("{\"a\": 1}\n[stderr]\nTraceback"), "{out:?}");
    assert!(out.content.contains("ValueError: bad row") && out.content.ends_with("[exit code 1]"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_shows_nothing_of_the_host_and_stops_what_runs_away() {
    let ws = workspace();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (code, says) in [
        ("open('/etc/passwd')", "FileNotFoundError"),
        ("open('../../../../etc/passwd')", "Error"),
        (&format!("import socket; socket.create_connection(('127.0.0.1', {port}))") as &str, "gaierror"),
        (&format!("import socket; s = socket.socket(); s.connect(('127.0.0.1', {port})); print('connected')"), "Error"),
        ("x = bytearray(10**9)", "MemoryError"),
        ("x = 'a' * 10**10", "Error"),
    ] {
        let out = call(&ws, "python", json!({"code": code})).await;
        assert!(out.is_error && out.content.contains(says), "{code}: {out:?}");
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing connected to the loopback port");
    let out = call(&ws, "python", json!({"code": "import os; print(sorted(os.listdir('.')))"})).await;
    assert_eq!(out.content, "['data.csv']", "{out:?}");
    let started = std::time::Instant::now();
    let out = call(&ws, "python", json!({"code": "while True: pass", "timeout_s": 1})).await;
    assert!(out.is_error && out.content.contains("longer than its limit of 1s"), "{out:?}");
    assert!(started.elapsed().as_secs() < 10, "stopped at its deadline, took {:?}", started.elapsed());
    let out = call(&ws, "python", json!({"code": "print('a' * 10**8)"})).await;
    assert!(out.content.len() < 200 << 10, "a 100 MB print is cut: {} bytes", out.content.len());
    assert!(
        out.content.contains("bytes cut") && out.content.contains("output cut"),
        "{}",
        &out.content[out.content.len() - 300..]
    );
    let out = shell(&ws, "cat /etc/passwd; ls /; cd /etc; cd ..").await;
    assert!(out.content.contains("cat: /etc/passwd: No such file"), "{out:?}");
    assert!(
        out.content.contains("cd: /etc: outside the workspace") && out.content.contains("cd: ..: outside"),
        "{out:?}"
    );
    let out = shell(&ws, "ffmpeg -i a.mp4").await;
    assert!(out.is_error && out.content.contains("command not found in the sandbox: ffmpeg"), "{out:?}");
    assert!(
        out.content.contains("available:") && out.content.contains(" grep ") && out.content.contains(" python3 "),
        "{out:?}"
    );
    let out = shell(&ws, "for f in *; do echo $f; done").await;
    assert!(out.is_error && out.content.contains("not supported"), "{out:?}");
    let out = call(&ws, "shell", json!({"command": "sleep 5; echo never", "timeout_s": 1})).await;
    assert!(out.is_error && !out.content.contains("never") && out.content.contains("limit of 1s"), "{out:?}");
    let out = call(&ws, "shell", json!({"cmd": "ls"})).await;
    assert!(out.is_error && out.content.contains("shell takes"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_standard_library_is_there() {
    let ws = workspace();
    let code = "import sqlite3, email.mime.text, xml.etree.ElementTree as ET, decimal, statistics, zipfile, textwrap\n\
                db = sqlite3.connect(':memory:')\n\
                db.execute('create table t (x)'); db.executemany('insert into t values (?)', [(1,), (2,), (3,)])\n\
                print(db.execute('select sum(x) from t').fetchone()[0])\n\
                print(ET.fromstring('<a><b>hi</b></a>').find('b').text, statistics.median([1, 5, 9]))\n\
                with zipfile.ZipFile('z.zip', 'w') as z: z.writestr('f.txt', 'zipped')\n\
                print(zipfile.ZipFile('z.zip').read('f.txt').decode())";
    let out = call(&ws, "python", json!({"code": code})).await;
    assert_eq!(out.content, "6\nhi 5\nzipped", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_the_workspace_quota_fail_with_no_space_left() {
    let cache = concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache");
    let limits = SandboxLimits { max_workspace_bytes: 100_000, ..SandboxLimits::default() };
    let sandbox =
        Sandbox::new(Arc::new(Runtime::new(limits, cache.into()).expect("runtime")), SandboxConfig::default());
    let ws = tempfile::tempdir().unwrap();
    let run = |tool: &'static str, args: serde_json::Value| {
        let ctx =
            CallContext { workspace: ws.path(), cancel: CancellationToken::new(), shutdown: CancellationToken::new() };
        let sandbox = &sandbox;
        async move { sandbox.call(tool, &args.to_string(), ctx).await }
    };
    let out = run("python", json!({"code": "open('f.bin', 'wb').write(b'x' * 200_000)"})).await;
    assert!(out.is_error, "{out:?}");
    assert!(out.content.contains("the workspace is full (its quota is 97 KiB)"), "{out:?}");
    let size = std::fs::metadata(ws.path().join("f.bin")).unwrap().len();
    assert!(size <= 100_000, "nothing past the quota reached the disk: {size}");
    let out = run("shell", json!({"command": "seq 1 100000 > n.txt; echo $?"})).await;
    assert!(
        out.content.starts_with('1') && out.content.contains("n.txt: cannot write: the workspace is full"),
        "{out:?}"
    );
    // Once it is full, creating a file fails as ENOSPC itself.
    let out =
        run("shell", json!({"command": "touch a b c d e f g h i j k l m n o p q r s t u v w x y z 2>&1 | head -1"}))
            .await;
    assert!(out.content.contains("No space left on device"), "{out:?}");
    // Removing the file gives its bytes back.
    let out = run("shell", json!({"command": "rm f.bin && seq 1 10000 > n.txt && wc -l < n.txt"})).await;
    assert_eq!(out.content, "10000", "{out:?}");
}
