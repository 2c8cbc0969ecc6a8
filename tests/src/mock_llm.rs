//! A local model server speaking both wire formats — OpenAI Chat Completions
//! (`POST /v1/chat/completions`) and the Anthropic Messages API (`POST /v1/messages`),
//! streamed or not — answering from a script. A test double for the one edge tests
//! cannot reach: hosted LLM APIs.
//!
//! ```no_run
//! # async fn demo() {
//! use hermes_tests::mock_llm::{MockLlm, Reply};
//! let llm = MockLlm::start().await;
//! llm.push(Reply::tool("write_file", serde_json::json!({"path": "a.txt", "content": "hi"})));
//! llm.push(Reply::text("Saved."));
//! // point OPENAI_BASE_URL at llm.openai_base_url(), ANTHROPIC_BASE_URL at llm.anthropic_base_url()
//! # }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::watch;

/// One scripted answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Plain text, streamed word by word.
    Text(String),
    /// Tool calls (name, arguments), arguments streamed in small pieces.
    ToolCalls(Vec<(String, Value)>),
    /// Text first, then tool calls.
    TextAndToolCalls(String, Vec<(String, Value)>),
    /// Never answers (until the server is dropped): for timeout and cancel tests.
    Hang,
    /// Waits, then answers with the inner reply: holds a run open for a while.
    Delayed(std::time::Duration, Box<Reply>),
    /// Waits until the test opens the gate, then answers with the inner reply: holds a
    /// run open exactly as long as the test needs, however slow the machine is.
    Gated(Gate, Box<Reply>),
}

/// A gate a [`Reply::Gated`] answer waits behind until [`Gate::open`] is called.
#[derive(Clone, Debug)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate(Arc::new(watch::channel(false).0))
    }

    /// Opens the gate: every answer waiting behind it (and every later one) goes out.
    pub fn open(&self) {
        self.0.send_replace(true);
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Reply {
    /// A text reply.
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Text(s.into())
    }

    /// A reply with one tool call.
    pub fn tool(name: impl Into<String>, args: Value) -> Reply {
        Reply::ToolCalls(vec![(name.into(), args)])
    }

    /// `reply` after waiting `ms` milliseconds.
    pub fn after_ms(ms: u64, reply: Reply) -> Reply {
        Reply::Delayed(std::time::Duration::from_millis(ms), Box::new(reply))
    }

    /// `reply` once `gate` is open.
    pub fn gated(gate: &Gate, reply: Reply) -> Reply {
        Reply::Gated(gate.clone(), Box::new(reply))
    }

    fn parts(&self) -> (&str, &[(String, Value)]) {
        match self {
            Reply::Delayed(_, inner) | Reply::Gated(_, inner) => inner.parts(),
            Reply::Text(t) => (t, &[]),
            Reply::ToolCalls(c) => ("", c),
            Reply::TextAndToolCalls(t, c) => (t, c),
            Reply::Hang => ("", &[]),
        }
    }
}

/// Marks the harness's observation-extraction requests (first line of their system
/// prompt; `hermes_harness::observe::MARKER`). They are answered from their own queue
/// so scripts written for the agent's turns are not consumed by them.
pub const OBSERVE_MARKER: &str = "[hermes:observe]";

/// What an extraction request gets when no observation reply is queued.
pub const NO_OBSERVATIONS: &str = r#"{"observations": []}"#;

/// A reply chosen from the request body (the conversation so far).
pub type Responder = Arc<dyn Fn(&Value) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    /// Replies to observation-extraction requests.
    observations: VecDeque<Reply>,
    /// Observation-extraction requests received.
    observe_requests: Vec<Value>,
    default: Option<Reply>,
    /// Decides the reply from the request when the queue is empty (before `default`).
    responder: Option<Responder>,
    requests: Vec<Value>,
    /// Headers of each request, names lower-case.
    headers: Vec<Vec<(String, String)>>,
    /// (status, how many more requests fail with it)
    failing: Option<(u16, u32)>,
    /// Replies served so far (message ids).
    served: u64,
    /// Prompt prefixes marked for caching (Anthropic `cache_control`) seen so far.
    cached_prefixes: std::collections::HashSet<String>,
    /// Tool calls served so far (call ids).
    calls: u64,
    /// When set, every reply numbers its calls from 1 again: a provider reusing ids.
    reuse_call_ids: bool,
}

/// The two wire formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    shutdown: watch::Receiver<bool>,
}

/// A running mock model server on `127.0.0.1`; it shuts down when dropped.
pub struct MockLlm {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MockLlm {
    /// From now on, every reply's tool calls are numbered from 1 again (`call_1`, …):
    /// a provider that reuses call ids across turns.
    pub fn reuse_call_ids(&self) {
        self.script.lock().unwrap_or_else(|p| p.into_inner()).reuse_call_ids = true;
    }

    /// Starts a server on a free port (call inside a tokio runtime).
    pub async fn start() -> MockLlm {
        let script = Arc::new(Mutex::new(Script::default()));
        let (shutdown, rx) = watch::channel(false);
        let shared = Shared { script: script.clone(), shutdown: rx.clone() };
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0 for the mock LLM");
        let addr = listener.local_addr().expect("bound address");
        let mut stop = rx;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
        MockLlm { addr, script, shutdown, task }
    }

    /// Base URL for OpenAI-kind providers: `http://127.0.0.1:PORT/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL for Anthropic-kind providers: `http://127.0.0.1:PORT`.
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a reply (one FIFO shared by both endpoints).
    pub fn push(&self, reply: Reply) {
        self.lock().replies.push_back(reply);
    }

    /// The reply used whenever the queue is empty; without one, an empty queue answers 500.
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Replies computed from each request when the queue is empty (e.g. a tool call
    /// on the first turn of a run, text once its result is in): concurrent runs then
    /// get their own answers whatever order their requests arrive in.
    pub fn set_responder(&self, responder: impl Fn(&Value) -> Option<Reply> + Send + Sync + 'static) {
        self.lock().responder = Some(Arc::new(responder));
    }

    /// Every request body received so far, in order (failed and hanging ones
    /// included), except observation extractions (see [`MockLlm::observation_requests`]).
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }

    /// Queues the answer to the next observation-extraction request (by default
    /// they get [`NO_OBSERVATIONS`]), e.g. `Reply::text(r#"{"observations":["…"]}"#)`.
    pub fn push_observation(&self, reply: Reply) {
        self.lock().observations.push_back(reply);
    }

    /// The observation-extraction requests received so far, in order.
    pub fn observation_requests(&self) -> Vec<Value> {
        self.lock().observe_requests.clone()
    }

    /// The headers of every request received so far (names lower-case), in order.
    pub fn request_headers(&self) -> Vec<Vec<(String, String)>> {
        self.lock().headers.clone()
    }

    /// Answers the next `times` requests with HTTP `status` (and the provider's error
    /// body) before serving the script again; the script is not consumed meanwhile.
    pub fn fail_next(&self, status: u16, times: u32) {
        self.lock().failing = (times > 0).then_some((status, times));
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

async fn openai(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    serve(s, &headers, body, Wire::OpenAi).await
}

async fn anthropic(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    serve(s, &headers, body, Wire::Anthropic).await
}

/// What a request gets, decided under the lock.
enum Plan {
    Fail(u16),
    Missing,
    /// The reply, its message number and the number of its first tool call.
    Answer(Reply, u64, u64),
}

async fn serve(s: Shared, headers: &HeaderMap, body: Bytes, wire: Wire) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(wire, 400, &format!("request body is not JSON: {e}")),
    };
    let cache_read;
    let plan = {
        let mut sc = s.script.lock().unwrap_or_else(|p| p.into_inner());
        if is_observation(&req) {
            sc.observe_requests.push(req.clone());
            let reply = sc.observations.pop_front().unwrap_or_else(|| Reply::text(NO_OBSERVATIONS));
            drop(sc);
            let (text, calls) = reply.parts();
            return render(wire, &req, Answer::new(text, calls, &req, body.len(), 0, 0));
        }
        sc.requests.push(req.clone());
        cache_read = prompt_cache(&mut sc.cached_prefixes, &req);
        sc.headers.push(
            headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
        );
        if let Some((status, left)) = sc.failing {
            sc.failing = (left > 1).then_some((status, left - 1));
            Plan::Fail(status)
        } else {
            let answered = sc.responder.as_ref().and_then(|r| r(&req));
            match sc.replies.pop_front().or(answered).or_else(|| sc.default.clone()) {
                None => Plan::Missing,
                Some(r) => {
                    sc.served += 1;
                    let first_call = if sc.reuse_call_ids { 1 } else { sc.calls + 1 };
                    sc.calls += r.parts().1.len() as u64;
                    Plan::Answer(r, sc.served, first_call)
                }
            }
        }
    };
    let plan = match plan {
        Plan::Answer(Reply::Delayed(wait, inner), id, first) => {
            let mut stop = s.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return error(wire, 503, "mock LLM shut down"),
            }
            Plan::Answer(*inner, id, first)
        }
        Plan::Answer(Reply::Gated(gate, inner), id, first) => {
            let (mut stop, mut open) = (s.shutdown.clone(), gate.0.subscribe());
            tokio::select! {
                _ = open.wait_for(|o| *o) => {}
                _ = stop.wait_for(|s| *s) => return error(wire, 503, "mock LLM shut down"),
            }
            Plan::Answer(*inner, id, first)
        }
        other => other,
    };
    let reply = match plan {
        Plan::Fail(status) => {
            return error(wire, status, &format!("injected failure (HTTP {status})"));
        }
        Plan::Missing => {
            return error(
                wire,
                500,
                "mock LLM: no scripted reply left and no default set (call MockLlm::push or set_default)",
            );
        }
        Plan::Answer(Reply::Hang, ..) => {
            let mut stop = s.shutdown.clone();
            let _ = stop.wait_for(|s| *s).await;
            return error(wire, 503, "mock LLM shut down");
        }
        Plan::Answer(r, id, first_call) => (r, id, first_call),
    };
    let (text, calls) = reply.0.parts();
    let mut answer = Answer::new(text, calls, &req, body.len(), reply.1, reply.2);
    answer.cache_read = cache_read.min(answer.input_tokens);
    render(wire, &req, answer)
}

/// A provider's prompt cache, as far as a test can see it: an Anthropic request whose
/// system prompt carries `cache_control` reads its prefix (tools and system) from
/// the cache when an earlier request had the same one. Returns the tokens read.
fn prompt_cache(seen: &mut std::collections::HashSet<String>, req: &Value) -> u64 {
    let marked = req.pointer("/system/0/cache_control").is_some();
    if !marked {
        return 0;
    }
    let prefix = format!("{}{}", req.get("tools").unwrap_or(&Value::Null), req["system"]);
    let tokens = prefix.len() as u64 / 4;
    if seen.contains(&prefix) {
        tokens
    } else {
        seen.insert(prefix);
        0
    }
}

/// The answer in the request's wire format, streamed when it asked for a stream.
fn render(wire: Wire, req: &Value, answer: Answer) -> Response {
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    match (wire, stream) {
        (Wire::OpenAi, true) => {
            let usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
            sse(answer.openai_events(usage))
        }
        (Wire::OpenAi, false) => axum::Json(answer.openai_json()).into_response(),
        (Wire::Anthropic, true) => sse(answer.anthropic_events()),
        (Wire::Anthropic, false) => axum::Json(answer.anthropic_json()).into_response(),
    }
}

/// Whether `req` is the harness's observation extraction (its system prompt starts
/// with [`OBSERVE_MARKER`], in either wire format).
fn is_observation(req: &Value) -> bool {
    let openai = req.pointer("/messages/0/content").and_then(Value::as_str);
    let anthropic = match req.get("system") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(blocks)) => blocks.first().and_then(|b| b.get("text")).and_then(Value::as_str),
        _ => None,
    };
    [openai, anthropic].into_iter().flatten().any(|s| s.starts_with(OBSERVE_MARKER))
}

/// An error in the provider's own shape.
fn error(wire: Wire, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = match status {
        429 => "rate_limit_error",
        400 => "invalid_request_error",
        401 => "authentication_error",
        s if s >= 500 => "api_error",
        _ => "error",
    };
    let body = match wire {
        Wire::OpenAi => json!({"error": {"message": message, "type": kind, "code": null}}),
        Wire::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message}}),
    };
    (code, axum::Json(body)).into_response()
}

/// An SSE response from pre-rendered frames, one body chunk each.
fn sse(frames: Vec<String>) -> Response {
    let chunks = frames.into_iter().map(|f| Ok::<_, Infallible>(Bytes::from(f)));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// One reply, rendered in either format.
struct Answer {
    model: String,
    id: u64,
    /// Text split into the deltas it is streamed as.
    words: Vec<String>,
    /// (call number, name, argument JSON text split into pieces)
    calls: Vec<(u64, String, Vec<String>)>,
    input_tokens: u64,
    output_tokens: u64,
    /// Of `input_tokens`, those read from the prompt cache.
    cache_read: u64,
}

impl Answer {
    fn new(
        text: &str,
        calls: &[(String, Value)],
        req: &Value,
        request_bytes: usize,
        id: u64,
        first_call: u64,
    ) -> Answer {
        let words: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
        let calls: Vec<_> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| (first_call + i as u64, name.clone(), pieces(&args.to_string(), 7)))
            .collect();
        let output_tokens = text.split_whitespace().count() as u64
            + calls.iter().map(|(_, _, p)| p.concat().len() as u64 / 4 + 1).sum::<u64>();
        Answer {
            model: req.get("model").and_then(Value::as_str).unwrap_or("mock").to_string(),
            id,
            words,
            calls,
            input_tokens: (request_bytes as u64 / 4).max(1),
            output_tokens,
            cache_read: 0,
        }
    }

    fn text(&self) -> String {
        self.words.concat()
    }

    fn call_args(&self, i: usize) -> Value {
        serde_json::from_str(&self.calls[i].2.concat()).unwrap_or(Value::Null)
    }

    // ---- OpenAI Chat Completions ----

    fn openai_events(&self, usage: bool) -> Vec<String> {
        let id = format!("chatcmpl-{}", self.id);
        let chunk = |delta: Value, finish: Value| {
            let v = json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            format!("data: {v}\n\n")
        };
        let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
        for w in &self.words {
            out.push(chunk(json!({"content": w}), Value::Null));
        }
        for (i, (n, name, args)) in self.calls.iter().enumerate() {
            out.push(chunk(
                json!({"tool_calls": [{"index": i, "id": call_id("call", *n), "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in args {
                out.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}), Value::Null));
            }
        }
        out.push(chunk(json!({}), json!(self.openai_finish())));
        if usage {
            let v = json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": self.model,
                "choices": [], "usage": self.openai_usage()});
            out.push(format!("data: {v}\n\n"));
        }
        out.push("data: [DONE]\n\n".to_string());
        out
    }

    fn openai_json(&self) -> Value {
        let text = self.text();
        let mut message =
            json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
        if !self.calls.is_empty() {
            message["tool_calls"] = self
                .calls
                .iter()
                .map(|(n, name, args)| {
                    json!({"id": call_id("call", *n), "type": "function",
                        "function": {"name": name, "arguments": args.concat()}})
                })
                .collect();
        }
        json!({"id": format!("chatcmpl-{}", self.id), "object": "chat.completion", "created": 0, "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.openai_finish()}],
            "usage": self.openai_usage()})
    }

    fn openai_finish(&self) -> &'static str {
        if self.calls.is_empty() { "stop" } else { "tool_calls" }
    }

    fn openai_usage(&self) -> Value {
        json!({"prompt_tokens": self.input_tokens, "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens})
    }

    // ---- Anthropic Messages ----

    fn anthropic_events(&self) -> Vec<String> {
        let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
        let mut out = vec![ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": format!("msg_{}", self.id), "type": "message",
                "role": "assistant", "content": [], "model": self.model, "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens - self.cache_read,
                          "cache_read_input_tokens": self.cache_read, "output_tokens": 1}}}),
        )];
        let mut index = 0;
        if !self.words.is_empty() {
            out.push(ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ));
            out.push(ev("ping", json!({"type": "ping"})));
            for w in &self.words {
                out.push(ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}),
                ));
            }
            out.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
            index = 1;
        }
        for (n, name, args) in &self.calls {
            out.push(ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use",
                    "id": call_id("toolu", *n), "name": name, "input": {}}}),
            ));
            out.push(ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ));
            for piece in args {
                out.push(ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                ));
            }
            out.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": index})));
            index += 1;
        }
        out.push(ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": self.anthropic_stop(), "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens}}),
        ));
        out.push(ev("message_stop", json!({"type": "message_stop"})));
        out
    }

    fn anthropic_json(&self) -> Value {
        let mut content = Vec::new();
        let text = self.text();
        if !text.is_empty() {
            content.push(json!({"type": "text", "text": text}));
        }
        for (i, (n, name, _)) in self.calls.iter().enumerate() {
            content.push(
                json!({"type": "tool_use", "id": call_id("toolu", *n), "name": name, "input": self.call_args(i)}),
            );
        }
        json!({"id": format!("msg_{}", self.id), "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.anthropic_stop(), "stop_sequence": null,
            "usage": {"input_tokens": self.input_tokens - self.cache_read, "cache_read_input_tokens": self.cache_read, "output_tokens": self.output_tokens}})
    }

    fn anthropic_stop(&self) -> &'static str {
        if self.calls.is_empty() { "end_turn" } else { "tool_use" }
    }
}

/// `call_N` / `toolu_N`: unique per server.
fn call_id(prefix: &str, n: u64) -> String {
    format!("{prefix}_{n}")
}

/// `s` cut into pieces of at most `n` characters.
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: String, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new().post(url).json(&body).send().await.expect("mock reachable");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON body"))
    }

    #[tokio::test]
    async fn non_streaming_requests_get_each_formats_plain_json() {
        let llm = MockLlm::start().await;
        llm.push(Reply::TextAndToolCalls("On it.".into(), vec![("ls".into(), json!({"dir": "."}))]));
        llm.push(Reply::tool("ls", json!({"dir": "."})));
        let (s, o) =
            post(format!("{}/chat/completions", llm.openai_base_url()), json!({"model": "m", "messages": []})).await;
        assert_eq!(s, 200);
        assert_eq!(o["choices"][0]["message"]["content"], "On it.");
        assert_eq!(o["choices"][0]["message"]["tool_calls"][0]["id"], "call_1");
        assert_eq!(o["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], r#"{"dir":"."}"#);
        assert_eq!(o["choices"][0]["finish_reason"], "tool_calls");
        let (s, a) =
            post(format!("{}/v1/messages", llm.anthropic_base_url()), json!({"model": "m", "messages": []})).await;
        assert_eq!(s, 200);
        assert_eq!(a["content"][0], json!({"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {"dir": "."}}));
        assert_eq!(a["stop_reason"], "tool_use");
        assert_eq!(llm.requests().len(), 2);
    }

    #[tokio::test]
    async fn an_empty_script_without_default_is_a_clear_500_and_faults_come_first() {
        let llm = MockLlm::start().await;
        let (s, body) = post(format!("{}/v1/messages", llm.anthropic_base_url()), json!({})).await;
        assert_eq!(s, 500);
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("set_default")), "{body}");
        llm.set_default(Reply::text("ok"));
        llm.fail_next(429, 1);
        let url = format!("{}/chat/completions", llm.openai_base_url());
        assert_eq!(post(url.clone(), json!({})).await.0, 429);
        assert_eq!(post(url, json!({})).await.1["choices"][0]["message"]["content"], "ok");
    }
}
