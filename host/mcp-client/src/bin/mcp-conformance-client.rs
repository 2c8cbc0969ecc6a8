//! A small MCP client around Hermes Host's own ([`hermes_mcp_client::McpClient`]), for
//! the official conformance suite in client mode:
//!
//! ```text
//! npx @modelcontextprotocol/conformance client \
//!     --command target/debug/mcp-conformance-client --scenario tools_call
//! ```
//!
//! The suite appends the server URL as the last argument. The client connects
//! (choosing the protocol era), lists the tools and calls each one with arguments
//! made from its input schema, printing every result.

use hermes_mcp_client::McpClient;
use serde_json::{Map, Value, json};

/// An argument value of the JSON Schema type `schema` asks for.
fn sample(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("number") | Some("integer") => json!(2),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("hermes"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: mcp-conformance-client <server-url>");
        return std::process::ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let url = match reqwest::Url::parse(&url) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("invalid URL {url:?}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let client = McpClient::new(reqwest::Client::new(), url, Default::default());
    match run(&client).await {
        Ok(()) => {
            println!("scenario {scenario:?}: done");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scenario {scenario:?} failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(client: &McpClient) -> Result<(), hermes_mcp_client::McpError> {
    let version = client.connect().await?;
    println!("connected, protocol version {version}");
    for tool in client.list_tools().await? {
        let mut args = Map::new();
        let schema: Value = serde_json::from_str(&tool.input_schema).unwrap_or_default();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, schema) in props {
                args.insert(name.clone(), sample(schema));
            }
        }
        let result = client.call_tool(&tool.name, Value::Object(args), Map::new()).await?;
        let (text, is_error) = hermes_mcp_client::content::to_text(&result);
        println!("{} -> {}{text}", tool.name, if is_error { "error: " } else { "" });
    }
    Ok(())
}
