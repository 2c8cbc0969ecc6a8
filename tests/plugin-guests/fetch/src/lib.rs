//! A tool plugin with two tools: `get {url, headers?}`, an HTTP GET through
//! `wasi:http/outgoing-handler` answering `<status>\n<body>`, and `config {key}`,
//! a `wasi:config/store` lookup. It declares `http` and `config`; the deployment
//! decides which hosts it reaches and which values it reads, and any `${SECRET}` in
//! a header is filled in by the host, outside the sandbox.

mod config {
    wit_bindgen::generate!({ path: "wit/config.wit", world: "config-client" });
}

use std::collections::BTreeMap;

use hermes_guest::tool_plugin::exports::hermes::agent::tool::Guest;
use hermes_guest::{ToolDefinition, ToolOutput, parse_args};
use serde::Deserialize;
use serde_json::json;

hermes_guest::plugin_manifest!(r#"{"name": "fetch", "capabilities": ["http", "config"]}"#);

/// The plugin.
pub struct Fetch;

#[derive(Deserialize)]
struct KeyArg {
    key: String,
}

#[derive(Deserialize)]
struct GetArgs {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl Guest for Fetch {
    fn list_tools() -> Vec<ToolDefinition> {
        vec![
            ToolDefinition::new(
                "get",
                "HTTP GET a URL; answers the status and the body.",
                json!({"type": "object", "properties": {"url": {"type": "string"}, "headers": {"type": "object"}}, "required": ["url"]}),
            ),
            ToolDefinition::new(
                "config",
                "Read one configuration value.",
                json!({"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}),
            ),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, String> {
        if name == "config" {
            return Ok(match parse_args::<KeyArg>(&arguments) {
                Ok(a) => match config::wasi::config::store::get(&a.key) {
                    Ok(Some(value)) => ToolOutput::ok(value),
                    Ok(None) => ToolOutput::err(format!("no config value {:?}", a.key)),
                    Err(e) => ToolOutput::err(format!("{e:?}")),
                },
                Err(e) => ToolOutput::err(e),
            });
        }
        if name != "get" {
            return Err(format!("unknown tool `{name}`"));
        }
        Ok(match parse_args::<GetArgs>(&arguments) {
            Ok(args) => match get(&args) {
                Ok(out) => ToolOutput::ok(out),
                Err(e) => ToolOutput::err(e),
            },
            Err(e) => ToolOutput::err(e),
        })
    }
}

#[cfg(target_arch = "wasm32")]
fn get(args: &GetArgs) -> Result<String, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    let (scheme, rest) = match args.url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("not an http(s) URL: {}", args.url)),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    for (k, v) in &args.headers {
        headers.append(k, v.as_bytes()).map_err(|e| format!("header {k}: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    request.set_method(&Method::Get).map_err(|()| "method")?;
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("request refused: {e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice")?
        .map_err(|e| format!("request failed: {e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "body")?;
    let stream = body.stream().map_err(|()| "stream")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend(chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("reading the body: {e:?}")),
        }
    }
    Ok(format!("{status}\n{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(not(target_arch = "wasm32"))]
fn get(args: &GetArgs) -> Result<String, String> {
    Err(format!("{} ({} headers): outgoing HTTP exists only in the wasm32 build", args.url, args.headers.len()))
}

hermes_guest::export_tool_plugin!(Fetch);
