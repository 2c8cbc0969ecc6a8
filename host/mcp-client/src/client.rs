//! One MCP server over Streamable HTTP, in either protocol era.
//!
//! On connect the client probes `server/discover` at the stateless 2026-07-28
//! revision; a server that names that version in `supportedVersions` is spoken to
//! statelessly (every request carries its `_meta` envelope and routing headers).
//! Anything else (an error, a 4xx, a result without the version) falls back to the
//! 2025-11-25 handshake: `initialize`, `Mcp-Session-Id`, `MCP-Protocol-Version`, and
//! a fresh handshake when the server forgets the session (HTTP 404). Only a network
//! failure is not an era verdict: it fails the connect.
//!
//! Responses may be JSON or an SSE stream; a stream that ends before the response
//! is resumed with `GET` + `Last-Event-ID` after the server's `retry` delay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::sse;

/// The stateless revision.
pub const MODERN: &str = "2026-07-28";
/// The handshake revision this client asks for.
pub const LEGACY: &str = "2025-11-25";
/// Handshake-era versions a server may answer `initialize` with.
const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// Largest response (JSON body or SSE stream) read from a server.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// Stream resumptions (`GET` + `Last-Event-ID`) per request at most.
const MAX_RESUMES: u32 = 5;
/// Reconnection delay when the server gave no `retry`.
const DEFAULT_RETRY_MS: u64 = 1_000;
/// Longest `retry` honoured (a server cannot park a call forever).
const MAX_RETRY_MS: u64 = 30_000;
/// How long the era probe may take: a handshake-era server may never answer a
/// method it does not know, and that must not cost the whole connect timeout.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(3);
/// Pages of `tools/list` followed at most.
const MAX_PAGES: usize = 20;
/// Most tools kept from one server's `tools/list`, across its pages.
pub const MAX_LISTED_TOOLS: usize = 1000;
/// Most bytes (names, descriptions, schemas) kept from one server's `tools/list`.
pub const MAX_LISTED_BYTES: usize = 4 << 20;
/// Largest schema of one tool kept; a tool with a larger one is skipped.
pub const MAX_SCHEMA_BYTES: usize = 64 << 10;
/// Longest tool description kept (the rest is cut).
const MAX_DESCRIPTION_BYTES: usize = 4096;

const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// What went wrong talking to a server. Messages never contain header values.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The server could not be reached (connect, reset, DNS).
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// An HTTP status without a JSON-RPC error.
    #[error("the server answered HTTP {status}{detail}")]
    Http {
        /// Status code.
        status: u16,
        /// A short excerpt of the body, prefixed with `: `, or empty.
        detail: String,
    },
    /// The server no longer knows the session (HTTP 404 with `Mcp-Session-Id`).
    #[error("the server ended the session")]
    SessionExpired,
    /// A JSON-RPC error response.
    #[error("the server returned error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// Something that is not MCP.
    #[error("the server sent an invalid response: {0}")]
    Protocol(String),
    /// No answer in time.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// A configuration problem (bad URL, unknown secret in a header, …).
    #[error("{0}")]
    Config(String),
}

/// A tool as the server describes it.
#[derive(Clone, Debug)]
pub struct Tool {
    /// The server's name for it.
    pub name: String,
    /// Its description (may be empty).
    pub description: String,
    /// JSON Schema of its arguments, as JSON text (an object; at most
    /// [`MAX_SCHEMA_BYTES`]): kept as text, since a parsed schema costs many times its size.
    pub input_schema: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Era {
    /// 2025-11-25 and earlier: a session from `initialize`.
    Legacy { session: Option<String> },
    /// 2026-07-28: every request self-contained.
    Modern,
}

#[derive(Clone, Debug, PartialEq)]
struct Session {
    era: Era,
    version: String,
}

/// A client for one MCP server endpoint.
pub struct McpClient {
    http: reqwest::Client,
    url: reqwest::Url,
    /// Extra headers (secrets already substituted and marked sensitive).
    headers: HeaderMap,
    session: Mutex<Option<Session>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

fn client_info() -> Value {
    json!({"name": "hermes-host", "version": env!("CARGO_PKG_VERSION")})
}

/// `value` as an HTTP header value, base64-wrapped (`=?base64?…?=`) when it would
/// not survive the trip verbatim, as the 2026-07-28 transport specifies.
fn header_value(value: &str) -> Option<HeaderValue> {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && value.trim() == value
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    let text = if plain {
        value.to_string()
    } else {
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(value))
    };
    HeaderValue::from_str(&text).ok()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    format!(": {}", hermes_types::text::preview(text, 200))
}

fn transport(e: reqwest::Error) -> McpError {
    // `without_url` keeps query strings (which could carry tokens) out of messages.
    McpError::Transport(e.without_url().to_string())
}

/// The result of `response` if it answers request `id`.
fn rpc_result(response: Value, id: u64) -> Result<Value, McpError> {
    if response.get("id").and_then(Value::as_u64) != Some(id) && !response.get("id").is_some_and(Value::is_null) {
        return Err(McpError::Protocol(format!("a response for another request (id {})", response["id"])));
    }
    if let Some(error) = response.get("error") {
        return Err(McpError::Rpc {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: error.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_string(),
        });
    }
    match response.get("result") {
        Some(result) if result.is_object() => Ok(result.clone()),
        Some(_) => Err(McpError::Protocol("the result is not an object".into())),
        None => Err(McpError::Protocol("a response with neither result nor error".into())),
    }
}

/// Whether `message` (from an SSE stream) is the response to request `id`.
fn answers(message: &Value, id: u64) -> bool {
    message.get("method").is_none()
        && (message.get("id").and_then(Value::as_u64) == Some(id)
            || (message.get("id").is_some_and(Value::is_null) && message.get("error").is_some()))
}

impl McpClient {
    /// `text` (a server's error, say) with the value of every sensitive header this
    /// client sends replaced: a server may echo a credential back.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in self.headers.values().filter(|v| v.is_sensitive()) {
            let Ok(v) = value.to_str() else { continue };
            // The credential after a scheme (`Bearer …`) too, and never a short string.
            let credential = v.split_whitespace().nth(1).filter(|_| v.split_whitespace().count() == 2);
            for part in std::iter::once(v).chain(credential) {
                if part.len() >= 6 && out.contains(part) {
                    out = out.replace(part, "[REDACTED]");
                }
            }
        }
        out
    }

    /// A client for `url` sending `headers` on every request. Nothing is sent yet.
    pub fn new(http: reqwest::Client, url: reqwest::Url, headers: HeaderMap) -> McpClient {
        McpClient { http, url, headers, session: Mutex::new(None), next_id: AtomicU64::new(1) }
    }

    /// The negotiated protocol version, once connected.
    pub async fn protocol_version(&self) -> Option<String> {
        self.session.lock().await.as_ref().map(|s| s.version.clone())
    }

    /// Connects (once): negotiates the era. Returns the protocol version.
    pub async fn connect(&self) -> Result<String, McpError> {
        Ok(self.current().await?.version)
    }

    async fn current(&self) -> Result<Session, McpError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.handshake().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// A new session replacing `stale` (unless another caller already replaced it).
    async fn renew(&self, stale: &Session) -> Result<Session, McpError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref().filter(|s| *s != stale) {
            return Ok(s.clone());
        }
        *guard = None;
        let s = self.handshake().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    async fn handshake(&self) -> Result<Session, McpError> {
        let probe = Session { era: Era::Modern, version: MODERN.into() };
        let probed = tokio::time::timeout(DISCOVER_TIMEOUT, self.exchange(&probe, "server/discover", json!({})))
            .await
            .unwrap_or(Err(McpError::Timeout(DISCOVER_TIMEOUT.as_millis() as u64)));
        match probed {
            Ok((result, _)) => {
                let modern = result
                    .get("supportedVersions")
                    .and_then(Value::as_array)
                    .is_some_and(|v| v.iter().any(|v| v == MODERN));
                if modern {
                    return Ok(probe);
                }
            }
            // An outage is not a verdict on the era.
            Err(e @ McpError::Transport(_)) => return Err(e),
            Err(e) => {
                let error = self.redact(&e.to_string());
                tracing::debug!(url = %self.url, %error, "no stateless MCP here; trying the handshake")
            }
        }
        let init = Session { era: Era::Legacy { session: None }, version: LEGACY.into() };
        let params = json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": client_info()});
        let (result, session) = self.exchange(&init, "initialize", params).await?;
        let version = result.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
        if !LEGACY_VERSIONS.contains(&version) {
            return Err(McpError::Protocol(format!(
                "the server wants protocol version {version:?}, which this client does not speak"
            )));
        }
        let s = Session { era: Era::Legacy { session }, version: version.to_string() };
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let resp = self.post(&s, "notifications/initialized", None).json(&note).send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(McpError::Http {
                status: resp.status().as_u16(),
                detail: " (to notifications/initialized)".into(),
            });
        }
        Ok(s)
    }

    /// A POST of `method` with the headers `s` needs.
    fn post(&self, s: &Session, method: &str, name: Option<&str>) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        // W3C trace context of the caller's span, when the host is traced.
        let mut trace = reqwest::header::HeaderMap::new();
        hermes_telemetry::inject(&mut trace);
        req = req.headers(trace);
        match &s.era {
            Era::Legacy { session } => {
                if method != "initialize" {
                    req = req.header("MCP-Protocol-Version", &s.version);
                }
                if let Some(id) = session {
                    req = req.header("Mcp-Session-Id", id);
                }
            }
            Era::Modern => {
                req = req.header("MCP-Protocol-Version", &s.version).header("Mcp-Method", method);
                if let Some(v) = name.and_then(header_value) {
                    req = req.header("Mcp-Name", v);
                }
            }
        }
        req
    }

    /// Sends one request under `s`; its result and the response's `Mcp-Session-Id`.
    async fn exchange(&self, s: &Session, method: &str, params: Value) -> Result<(Value, Option<String>), McpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The caller's MCP span (if it declares these) names the exchange.
        let span = tracing::Span::current();
        span.record("jsonrpc.request.id", id.to_string().as_str());
        span.record("mcp.protocol.version", s.version.as_str());
        if let Era::Legacy { session: Some(sid) } = &s.era {
            span.record("mcp.session.id", sid.as_str());
        }
        let mut params = match params {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if s.era == Era::Modern {
            let meta = params.entry("_meta").or_insert_with(|| json!({}));
            if let Value::Object(meta) = meta {
                meta.insert(PROTOCOL_VERSION_KEY.into(), json!(s.version));
                meta.insert(CLIENT_INFO_KEY.into(), client_info());
                meta.insert(CLIENT_CAPABILITIES_KEY.into(), json!({}));
            }
        }
        let name = if method == "tools/call" { params.get("name").and_then(Value::as_str) } else { None };
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self.post(s, method, name).json(&body).send().await.map_err(transport)?;
        let session = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let status = resp.status();
        if status.as_u16() == 404 && matches!(&s.era, Era::Legacy { session: Some(_) }) {
            return Err(McpError::SessionExpired);
        }
        let event_stream = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
        if status.is_success() && event_stream {
            return Ok((self.read_stream(s, resp, id).await?, session));
        }
        if status.as_u16() == 202 {
            return Err(McpError::Protocol("HTTP 202 with no response to a request".into()));
        }
        let body = read_bounded(resp).await?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.get("jsonrpc").is_some() && (v.get("result").is_some() || v.get("error").is_some()) => {
                Ok((rpc_result(v, id)?, session))
            }
            _ if !status.is_success() => Err(McpError::Http { status: status.as_u16(), detail: snippet(&body) }),
            Ok(_) => Err(McpError::Protocol(format!("not a JSON-RPC response{}", snippet(&body)))),
            Err(_) => Err(McpError::Protocol(format!("not JSON{}", snippet(&body)))),
        }
    }

    /// Reads an SSE response until the message answering `id`, resuming the stream
    /// (`GET` + `Last-Event-ID`) when it ends early and the server gave event ids.
    async fn read_stream(&self, s: &Session, mut resp: reqwest::Response, id: u64) -> Result<Value, McpError> {
        let mut parser = sse::Parser::default();
        let mut total = 0usize;
        let mut resumes = 0;
        loop {
            let mut body = resp.bytes_stream();
            let mut broken = None;
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        broken = Some(transport(e));
                        break;
                    }
                };
                total += chunk.len();
                if total > MAX_RESPONSE_BYTES {
                    return Err(McpError::Protocol(format!("the response exceeds {MAX_RESPONSE_BYTES} bytes")));
                }
                for event in parser.push(&chunk) {
                    if event.data.trim().is_empty() {
                        continue;
                    }
                    let message: Value = serde_json::from_str(&event.data).map_err(|_| {
                        McpError::Protocol(format!("an event that is not JSON{}", snippet(event.data.as_bytes())))
                    })?;
                    if answers(&message, id) {
                        return rpc_result(message, id);
                    }
                    // Progress, logging and server requests: this client declares no
                    // capabilities that need them, so they are skipped.
                }
            }
            let Some(last_id) = parser.last_id.clone() else {
                return Err(
                    broken.unwrap_or_else(|| McpError::Protocol("the event stream ended before the response".into()))
                );
            };
            if resumes >= MAX_RESUMES {
                return Err(McpError::Protocol(format!("the event stream ended {resumes} times before the response")));
            }
            resumes += 1;
            let wait = parser.retry_ms.unwrap_or(DEFAULT_RETRY_MS).min(MAX_RETRY_MS);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let mut get = self
                .http
                .get(self.url.clone())
                .headers(self.headers.clone())
                .header(ACCEPT, "text/event-stream")
                .header("MCP-Protocol-Version", &s.version)
                .header("Last-Event-ID", &last_id);
            if let Era::Legacy { session: Some(sid) } = &s.era {
                get = get.header("Mcp-Session-Id", sid);
            }
            resp = get.send().await.map_err(transport)?;
            if !resp.status().is_success() {
                return Err(McpError::Http {
                    status: resp.status().as_u16(),
                    detail: " (resuming the event stream)".into(),
                });
            }
        }
    }

    /// Sends `method` with `params`; a forgotten session is renewed once.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, McpError> {
        let s = self.current().await?;
        match self.exchange(&s, method, params.clone()).await {
            Err(McpError::SessionExpired) => {
                let s = self.renew(&s).await?;
                Ok(self.exchange(&s, method, params).await?.0)
            }
            other => Ok(other?.0),
        }
    }

    /// Every tool of the server (following `nextCursor`), within a budget across
    /// pages: at most [`MAX_LISTED_TOOLS`] tools and [`MAX_LISTED_BYTES`] of them; a
    /// tool whose schema is over [`MAX_SCHEMA_BYTES`] or not an object is skipped.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, McpError> {
        let mut tools = Vec::new();
        let mut bytes = 0usize;
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let mut page = self.request("tools/list", params).await?;
            cursor = page.get("nextCursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_string);
            let Some(Value::Array(listed)) = page.get_mut("tools").map(Value::take) else {
                return Err(McpError::Protocol("tools/list without a tools array".into()));
            };
            // The page is dropped tool by tool as it is turned into bounded text.
            for t in listed {
                let Some(name) = t.get("name").and_then(Value::as_str).map(str::to_string) else { continue };
                let schema = match t.get("inputSchema") {
                    None => r#"{"type":"object"}"#.to_string(),
                    Some(s) if s.is_object() => s.to_string(),
                    Some(_) => continue,
                };
                if schema.len() > MAX_SCHEMA_BYTES {
                    continue;
                }
                let mut description = t.get("description").and_then(Value::as_str).unwrap_or_default().to_string();
                if description.len() > MAX_DESCRIPTION_BYTES {
                    let mut end = MAX_DESCRIPTION_BYTES;
                    while !description.is_char_boundary(end) {
                        end -= 1;
                    }
                    description.truncate(end);
                }
                bytes += name.len() + description.len() + schema.len();
                if tools.len() >= MAX_LISTED_TOOLS || bytes > MAX_LISTED_BYTES {
                    return Err(McpError::Protocol(format!(
                        "tools/list is larger than this host keeps ({MAX_LISTED_TOOLS} tools, {} MiB); \
                         allowlist the tools you need",
                        MAX_LISTED_BYTES >> 20
                    )));
                }
                tools.push(Tool { name, description, input_schema: schema });
            }
            if cursor.is_none() {
                return Ok(tools);
            }
        }
        Err(McpError::Protocol(format!("tools/list did not end after {MAX_PAGES} pages")))
    }

    /// Calls tool `name` with `arguments` and `meta` (the request's `_meta`); the raw
    /// `CallToolResult`.
    pub async fn call_tool(&self, name: &str, arguments: Value, meta: Map<String, Value>) -> Result<Value, McpError> {
        let params = json!({"name": name, "arguments": arguments, "_meta": meta});
        self.request("tools/call", params).await
    }
}

/// The body of `resp`, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_bounded(resp: reqwest::Response) -> Result<Vec<u8>, McpError> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(transport)?;
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(McpError::Protocol(format!("the response exceeds {MAX_RESPONSE_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_base64_wrapped_only_when_needed() {
        assert_eq!(header_value("add_numbers").unwrap(), "add_numbers");
        assert_eq!(header_value("café").unwrap(), "=?base64?Y2Fmw6k=?=");
        assert_eq!(header_value(" x").unwrap(), "=?base64?IHg=?=");
    }

    #[test]
    fn rpc_errors_and_mismatched_ids_are_errors() {
        let err = rpc_result(json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "message": "bad"}}), 3);
        assert!(matches!(err, Err(McpError::Rpc { code: -32602, .. })));
        assert!(matches!(rpc_result(json!({"jsonrpc": "2.0", "id": 4, "result": {}}), 3), Err(McpError::Protocol(_))));
        assert!(rpc_result(json!({"jsonrpc": "2.0", "id": 3, "result": {"a": 1}}), 3).is_ok());
    }
}
