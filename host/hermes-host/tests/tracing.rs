//! OpenTelemetry traces end to end: the real binary exports over OTLP/HTTP (protobuf)
//! to a collector stand-in written here (an OTLP receiver that decodes the wire
//! format with its own message definitions, not the exporter's), while a run makes
//! model calls, a built-in tool call and a call to a real MCP server
//! (`tests/mcp-peers/server.py`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use common::mcp_peer::PythonPeer;
use hermes_tests::mock_llm::{MockLlm, Reply};
use prost::Message;
use serde_json::{Value, json};

/// The part of the OTLP trace protocol (`opentelemetry/proto/collector/trace/v1`)
/// the assertions read.
mod otlp {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(int32, tag = "6")]
        pub kind: i32,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(message, repeated, tag = "11")]
        pub events: Vec<Event>,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(int32, tag = "3")]
        pub code: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
        pub value: Option<Value>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        String(String),
        #[prost(bool, tag = "2")]
        Bool(bool),
        #[prost(int64, tag = "3")]
        Int(i64),
        #[prost(double, tag = "4")]
        Double(f64),
    }

    pub const SERVER: i32 = 2;
    pub const CLIENT: i32 = 3;
}

/// What the collector received.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<otlp::Span>>>,
    resources: Arc<Mutex<Vec<otlp::Resource>>>,
    content_types: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(got): State<Received>, headers: HeaderMap, body: Bytes) -> (axum::http::StatusCode, Vec<u8>) {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    got.content_types.lock().unwrap().push(ct);
    let Ok(req) = otlp::ExportTraceServiceRequest::decode(body) else {
        return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
    };
    for rs in req.resource_spans {
        got.resources.lock().unwrap().extend(rs.resource);
        for ss in rs.scope_spans {
            got.spans.lock().unwrap().extend(ss.spans);
        }
    }
    // An empty ExportTraceServiceResponse: full success.
    (axum::http::StatusCode::OK, Vec::new())
}

async fn collector() -> (u16, Received) {
    let got = Received::default();
    let app = axum::Router::new().route("/v1/traces", axum::routing::post(receive)).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, got)
}

fn attr<'a>(attrs: &'a [otlp::KeyValue], key: &str) -> Option<&'a otlp::Value> {
    attrs.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn text<'a>(span: &'a otlp::Span, key: &str) -> &'a str {
    match attr(&span.attributes, key) {
        Some(otlp::Value::String(s)) => s,
        other => panic!("span {:?} has no string attribute {key}: {other:?}", span.name),
    }
}

fn int(span: &otlp::Span, key: &str) -> i64 {
    match attr(&span.attributes, key) {
        Some(otlp::Value::Int(i)) => *i,
        other => panic!("span {:?} has no integer attribute {key}: {other:?}", span.name),
    }
}

/// Every string a span carries (attributes, event names and attributes).
fn strings(span: &otlp::Span) -> Vec<String> {
    let mut out = vec![span.name.clone()];
    let all = span.attributes.iter().chain(span.events.iter().flat_map(|e| e.attributes.iter()));
    for kv in all {
        if let Some(otlp::Value::String(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            out.push(s.clone());
        }
    }
    out.extend(span.events.iter().map(|e| e.name.clone()));
    out
}

const PROMPT: &str = "PROMPT-7d1c: write the notes and echo the code";
const FILE_TEXT: &str = "FILE-2b8e private notes";
const ECHO_TEXT: &str = "ECHO-91af customer code";
const ANSWER: &str = "ANSWER-5c3d: both done.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_from_the_callers_request_through_model_tool_and_mcp_calls() {
    let peer = PythonPeer::start();
    let (collector_port, got) = collector().await;
    let llm = MockLlm::start().await;
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let server = common::start_with(
        &llm,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "hermes-under-test"),
            ("HERMES_ALLOW_PRIVATE_URLS", "1"),
        ],
    );
    let dep = common::create(
        &server,
        json!({"customer_id": "cus_trace", "name": "Traced", "model": "openai/gpt-test", "system_prompt": "Be brief.", "mcp_servers": [{"name": "crm", "url": peer.url, "tools": ["echo"]}]}),
    )
    .await;
    for _ in 0..200 {
        let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
        if d["mcp_servers"][0]["status"] == "connected" && !d["mcp_servers"][0]["tool_count"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A webhook receiver for the run's status events: it records their traceparent.
    let hooks: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = hooks.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let tp = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                seen.lock().unwrap().push((tp, String::from_utf8_lossy(&body).into_owned()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://127.0.0.1:{}/hook", hook_listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(hook_listener, receiver).await.unwrap() });
    let (status, hook) = server
        .post_json("/v1/webhooks", &json!({"url": hook_url, "events": ["run_status"], "deployment_id": dep}))
        .await;
    assert_eq!(status, 201, "{hook}");

    llm.push(Reply::tool("write_file", json!({"path": "notes.txt", "content": FILE_TEXT})));
    llm.push(Reply::tool("crm__echo", json!({"text": ECHO_TEXT})));
    llm.push(Reply::text(ANSWER));

    // The caller's own trace: the run must join it.
    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/deployments/{dep}/messages", server.base))
        .bearer_auth(&server.key)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .header("x-request-id", "req-trace-test")
        .json(&json!({"content": PROMPT}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let ticket: Value = resp.json().await.unwrap();
    let run_id = ticket["run_id"].as_str().unwrap().to_string();
    let run = server.wait_run(&dep, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");

    // The batch exporter sends within its schedule delay; wait for the whole tree.
    let named = |spans: &[otlp::Span], prefix: &str| spans.iter().filter(|s| s.name.starts_with(prefix)).count();
    let mut spans = Vec::new();
    for _ in 0..300 {
        spans = got.spans.lock().unwrap().clone();
        if named(&spans, "invoke_agent") >= 1
            && named(&spans, "chat ") >= 3
            && named(&spans, "execute_tool") >= 2
            && named(&spans, "tools/call") >= 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let one = |name: &str| {
        let found: Vec<&otlp::Span> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "one {name:?} span among {names:?}");
        found[0]
    };
    assert!(got.content_types.lock().unwrap().iter().all(|c| c == "application/x-protobuf"));
    let resource = got.resources.lock().unwrap().clone();
    assert!(
        resource.iter().any(
            |r| matches!(attr(&r.attributes, "service.name"), Some(otlp::Value::String(s)) if s == "hermes-under-test")
        ),
        "OTEL_SERVICE_NAME names the service"
    );

    // The request: a server span, child of the caller's span, in the caller's trace.
    let request = spans
        .iter()
        .find(|s| s.kind == otlp::SERVER && hex(&s.parent_span_id) == caller_span)
        .unwrap_or_else(|| panic!("a server span under the caller's traceparent among {names:?}"));
    assert_eq!(hex(&request.trace_id), trace_id);
    assert_eq!(text(request, "hermes.request_id"), "req-trace-test");
    assert_eq!(int(request, "http.response.status_code"), 202);

    // The run: invoke_agent under the request, with the ids.
    let run_span = one("invoke_agent hermes");
    assert_eq!(hex(&run_span.trace_id), trace_id, "the run joins the caller's trace");
    assert_eq!(run_span.parent_span_id, request.span_id, "the run sits under the request that started it");
    assert_eq!(text(run_span, "gen_ai.operation.name"), "invoke_agent");
    assert_eq!(text(run_span, "hermes.run_id"), run_id);
    assert_eq!(text(run_span, "hermes.deployment_id"), dep);
    assert!(text(run_span, "gen_ai.conversation.id").starts_with("thr_"));

    // The three scripted model calls (and the harness's own observation call at the
    // end), each a client `chat` span under the run, with usage.
    let chats: Vec<&otlp::Span> = spans.iter().filter(|s| s.name.starts_with("chat ")).collect();
    assert!(chats.len() >= 3, "{names:?}");
    for c in &chats {
        assert_eq!(c.parent_span_id, run_span.span_id, "a model call sits under its run");
        assert_eq!(c.kind, otlp::CLIENT);
        assert_eq!(text(c, "gen_ai.operation.name"), "chat");
        assert_eq!(text(c, "gen_ai.provider.name"), "openai");
        let model = text(c, "gen_ai.request.model");
        assert_eq!(c.name, format!("chat {model}"));
        assert!(int(c, "gen_ai.usage.input_tokens") > 0, "input tokens on {:?}", c.name);
        assert!(int(c, "gen_ai.usage.output_tokens") > 0, "output tokens on {:?}", c.name);
    }

    // Two tool calls under the run; the MCP one holds the MCP client span.
    let write = one("execute_tool write_file");
    let echo = one("execute_tool crm__echo");
    for (t, kind) in [(write, "function"), (echo, "extension")] {
        assert_eq!(t.parent_span_id, run_span.span_id, "a tool call sits under its run");
        assert_eq!(text(t, "gen_ai.operation.name"), "execute_tool");
        assert_eq!(text(t, "gen_ai.tool.type"), kind);
        assert!(text(t, "gen_ai.tool.call.id").starts_with("call_"), "{}", text(t, "gen_ai.tool.call.id"));
    }
    let mcp = one("tools/call echo");
    assert_eq!(mcp.parent_span_id, echo.span_id, "the MCP call sits inside its execute_tool span");
    assert_eq!(mcp.kind, otlp::CLIENT);
    assert_eq!(text(mcp, "mcp.method.name"), "tools/call");
    assert_eq!(text(mcp, "gen_ai.tool.name"), "echo");
    assert!(!text(mcp, "mcp.protocol.version").is_empty());

    // The MCP server got the MCP span's context, in `_meta` and as a header.
    let calls = peer.calls();
    let mcp_parent = format!("00-{trace_id}-{}-01", hex(&mcp.span_id));
    assert_eq!(calls[0]["meta"]["traceparent"], mcp_parent, "{calls:?}");
    assert_eq!(calls[0]["headers"]["traceparent"], mcp_parent, "{calls:?}");

    // The webhook receiver's deliveries of this run are in the caller's trace.
    let mut delivered = Vec::new();
    for _ in 0..200 {
        delivered = hooks.lock().unwrap().clone();
        if delivered.iter().any(|(_, b)| b.contains("\"completed\"")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!delivered.is_empty(), "the webhook was delivered");
    for (tp, body) in &delivered {
        assert!(tp.starts_with(&format!("00-{trace_id}-")), "a delivery of the run carries its trace: {tp:?} {body}");
    }

    // No content anywhere: not the prompt, the answer, a tool's arguments or result.
    for s in &spans {
        for v in strings(s) {
            for secret in [PROMPT, ANSWER, FILE_TEXT, ECHO_TEXT] {
                let marker = &secret[..9];
                assert!(!v.contains(marker), "span {:?} carries content {marker:?}: {v:?}", s.name);
            }
        }
    }
}

#[test]
fn an_https_or_grpc_exporter_setting_stops_the_start_with_a_clear_error() {
    for (name, value, says) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318", "http:// endpoint only"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-host"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path());
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9").env(name, value);
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{name}={value} must stop the start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says) && stderr.contains(name), "{name}={value}: {stderr}");
    }
}
