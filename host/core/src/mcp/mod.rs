//! The customer's MCP servers as the agent's tools.
//!
//! [`McpPool`] keeps, per deployment, one [`McpClient`] per server: opened
//! lazily on first use, reused by every run, reopened after a failure with
//! exponential backoff. Each call has a timeout and each server a concurrency cap.
//! The host enforces the allowlist on listing and on calling, names tools
//! `<server>__<tool>` for the model (and maps them back), substitutes
//! `${SECRET_NAME}` in headers from the deployment's secrets (values stay in the
//! host: they are sent to the server and nowhere else), and puts the deployment's
//! `customer_id` in every call's `_meta`.

use hermes_mcp_client::content;
use hermes_types::sync::Locked;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

pub use hermes_mcp_client::{McpClient, McpError};

use crate::config::McpConfig;
use hermes_types::spec::{DeploymentSpec, McpServerSpec};

/// Separates server and tool in the names the model sees.
pub const SEPARATOR: &str = "__";
/// Longest tool name a model provider accepts.
const MAX_NAME: usize = 64;
/// Longest tool description passed on.
const MAX_DESCRIPTION: usize = 1024;

/// What the host knows about one server, for GET deployment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServerStatus {
    /// `connecting` (not tried yet), `connected` or `error`.
    pub state: &'static str,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Tools offered to the model (after the allowlist), once listed.
    pub tool_count: Option<usize>,
    /// Negotiated protocol version.
    pub protocol_version: Option<String>,
}

/// The deployment an MCP operation works for.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub deployment_id: String,
    pub account_id: String,
    /// Its configuration (servers, secret refs, customer id).
    pub spec: Arc<DeploymentSpec>,
}

impl Target {
    /// Whether `d` was made for this configuration (no reconnect needed).
    fn matches(&self, d: &DeploymentMcp) -> bool {
        Arc::ptr_eq(&self.spec, &d.spec)
            || (self.account_id == d.account_id
                && self.spec.customer_id == d.spec.customer_id
                && self.spec.mcp_servers == d.spec.mcp_servers
                && self.spec.secrets == d.spec.secrets)
    }
}

enum Conn {
    /// Not connected; the next use connects.
    Idle,
    Ready(Arc<McpClient>),
    /// The last connect failed; no new attempt before `until`.
    Failed {
        until: Instant,
        message: String,
    },
}

/// One server of one deployment.
struct Server {
    spec: McpServerSpec,
    conn: tokio::sync::Mutex<Conn>,
    /// Consecutive failed connects (drives the backoff).
    failures: Mutex<u32>,
    permits: Semaphore,
    status: Mutex<ServerStatus>,
    /// Name the model sees (after `<server>__`) → the server's name, from the last listing.
    names: Mutex<HashMap<String, String>>,
    /// The header secrets' values, to scrub from error messages (a server may echo
    /// a header back in an error body).
    scrubber: Mutex<Arc<hermes_secrets::Scrubber>>,
    /// A background connect was started for GET deployment.
    warming: std::sync::atomic::AtomicBool,
    /// The last good listing and when it was made: reused for `[mcp] list_ttl_ms`, so
    /// run starts and Tools API reads do not re-list a server each time.
    listing: Mutex<Option<(Instant, Vec<McpTool>)>>,
}

impl Server {
    fn scrub(&self, text: String) -> String {
        let scrubber = self.scrubber.locked().clone();
        scrubber.scrub_owned(text)
    }
}

/// The servers of one deployment.
struct DeploymentMcp {
    account_id: String,
    /// The configuration the connections were made for.
    spec: Arc<DeploymentSpec>,
    servers: Vec<Arc<Server>>,
}

/// One tool offered to the model.
#[derive(Clone, Debug)]
pub struct McpTool {
    /// `<server>__<tool>`.
    pub name: String,
    /// The server it belongs to.
    pub server: String,
    /// Description.
    pub description: String,
    /// JSON Schema of the arguments, as text.
    pub parameters: String,
}

/// What a tool call gave, for the model.
#[derive(Clone, Debug)]
pub struct CallOutcome {
    /// Model-readable text.
    pub content: String,
    /// The tool (or the way to it) failed.
    pub is_error: bool,
}

impl CallOutcome {
    fn err(content: String) -> CallOutcome {
        CallOutcome { content, is_error: true }
    }
}

/// Connections to MCP servers of every deployment.
pub(crate) struct McpPool {
    config: McpConfig,
    http: reqwest::Client,
    allow_private: bool,
    /// Opens the secrets that header templates name (values stay in the host).
    secrets: hermes_secrets::Secrets,
    deployments: Mutex<HashMap<String, Arc<DeploymentMcp>>>,
}

/// The server and tool of a namespaced name (`<server>__<tool>`), if one of
/// `servers` is named so (the longest matching server name wins).
pub fn split_name<'a>(servers: &[McpServerSpec], name: &'a str) -> Option<(&'a str, &'a str)> {
    servers
        .iter()
        .map(|s| s.name.as_str())
        .filter(|s| {
            name.len() > s.len() + SEPARATOR.len() && name.starts_with(s) && name[s.len()..].starts_with(SEPARATOR)
        })
        .max_by_key(|s| s.len())
        .map(|s| (&name[..s.len()], &name[s.len() + SEPARATOR.len()..]))
}

/// A model-safe version of a tool name: `[A-Za-z0-9_-]`.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

impl McpPool {
    /// A pool with `config`, substituting header secrets through `secrets`; private
    /// addresses only when `allow_private`.
    pub fn new(config: McpConfig, allow_private: bool, secrets: hermes_secrets::Secrets) -> Result<McpPool, String> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .user_agent(concat!("hermes-host/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the secret headers to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            // Servers close idle connections (uvicorn after 5 s, many proxies sooner);
            // reusing one they just closed fails a tool call that was never sent.
            .pool_idle_timeout(Duration::from_secs(4));
        if !allow_private {
            b = b.dns_resolver(Arc::new(crate::egress::PublicOnly));
        }
        let http = b.build().map_err(|e| format!("building the MCP HTTP client: {e}"))?;
        Ok(McpPool { config, http, allow_private, secrets, deployments: Mutex::new(HashMap::new()) })
    }

    fn deployment(&self, target: &Target) -> Arc<DeploymentMcp> {
        let mut map = self.deployments.locked();
        if let Some(d) = map.get(&target.deployment_id).filter(|d| target.matches(d)) {
            return d.clone();
        }
        let d = Arc::new(DeploymentMcp {
            account_id: target.account_id.clone(),
            spec: target.spec.clone(),
            servers: target
                .spec
                .mcp_servers
                .iter()
                .map(|spec| {
                    Arc::new(Server {
                        spec: spec.clone(),
                        conn: tokio::sync::Mutex::new(Conn::Idle),
                        failures: Mutex::new(0),
                        permits: Semaphore::new(self.config.max_concurrent_calls.max(1)),
                        status: Mutex::new(ServerStatus {
                            state: "connecting",
                            error: None,
                            tool_count: None,
                            protocol_version: None,
                        }),
                        names: Mutex::new(HashMap::new()),
                        scrubber: Mutex::new(Arc::default()),
                        warming: std::sync::atomic::AtomicBool::new(false),
                        listing: Mutex::new(None),
                    })
                })
                .collect(),
        });
        map.insert(target.deployment_id.clone(), d.clone());
        d
    }

    /// Forgets a deployment's connections (deleted deployment).
    pub fn forget(&self, deployment_id: &str) {
        self.deployments.locked().remove(deployment_id);
    }

    /// Forgets every connection of an account's deployments: their headers were
    /// resolved under secret rules that just changed.
    pub fn forget_account(&self, account_id: &str) {
        self.deployments.locked().retain(|_, d| d.account_id != account_id);
    }

    /// Each server's status; servers never tried are connected in the background
    /// (the caller does not wait for them).
    pub fn statuses(self: &Arc<Self>, target: &Target) -> Vec<(String, ServerStatus)> {
        let d = self.deployment(target);
        let mut out = Vec::with_capacity(d.servers.len());
        for server in &d.servers {
            let status = server.status.locked().clone();
            if status.state == "connecting" && !server.warming.swap(true, std::sync::atomic::Ordering::Relaxed) {
                let (pool, target, server) = (self.clone(), target.clone(), server.clone());
                tokio::spawn(async move {
                    let _ = pool.list_server(&target, &server).await;
                });
            }
            out.push((server.spec.name.clone(), status));
        }
        out
    }

    /// The deployment's MCP tools (allowlisted, namespaced). Servers that fail are
    /// left out and named in the second value.
    pub async fn list_tools(&self, target: &Target) -> (Vec<McpTool>, Vec<String>) {
        let d = self.deployment(target);
        let lists = futures::future::join_all(d.servers.iter().map(|s| self.list_server(target, s))).await;
        let (mut tools, mut failures) = (Vec::new(), Vec::new());
        for (server, listed) in d.servers.iter().zip(lists) {
            match listed {
                Ok(t) => tools.extend(t),
                Err(e) => {
                    hermes_metrics::global().mcp_errors.inc();
                    failures.push(format!("MCP server {:?}: {e}", server.spec.name))
                }
            }
        }
        (tools, failures)
    }

    async fn list_server(&self, target: &Target, server: &Server) -> Result<Vec<McpTool>, String> {
        let ttl = Duration::from_millis(self.config.list_ttl_ms);
        if let Some((at, tools)) = server.listing.locked().as_ref()
            && at.elapsed() < ttl
        {
            return Ok(tools.clone());
        }
        let timeout = Duration::from_millis(self.config.connect_timeout_ms);
        let listed = tokio::time::timeout(timeout, async {
            let client = self.client(target, server).await?;
            client.list_tools().await.map_err(|e| self.failed_call(server, &client, e))
        })
        .await
        .unwrap_or_else(|_| Err(format!("no tool list within {} ms", self.config.connect_timeout_ms)));
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                *server.listing.locked() = None;
                let mut st = server.status.locked();
                st.state = "error";
                st.error = Some(e.clone());
                return Err(e);
            }
        };
        let name = &server.spec.name;
        let mut names = HashMap::new();
        let mut tools = Vec::new();
        for t in listed {
            if server.spec.tools.as_ref().is_some_and(|allow| !allow.contains(&t.name)) {
                continue;
            }
            let exposed = sanitize(&t.name);
            let full = format!("{name}{SEPARATOR}{exposed}");
            if full.len() > MAX_NAME || names.contains_key(&exposed) {
                tracing::warn!(deployment = %target.deployment_id, server = %name, tool = %t.name,
                    "MCP tool skipped: its namespaced name is too long or not unique");
                continue;
            }
            tools.push(McpTool {
                name: full,
                server: name.clone(),
                description: hermes_types::text::preview(&t.description, MAX_DESCRIPTION),
                parameters: t.input_schema,
            });
            names.insert(exposed, t.name);
        }
        *server.names.locked() = names;
        *server.listing.locked() = Some((Instant::now(), tools.clone()));
        let mut st = server.status.locked();
        st.tool_count = Some(tools.len());
        st.state = "connected";
        st.error = None;
        Ok(tools)
    }

    /// The server's client, connecting if needed (at most once at a time per server;
    /// not again before the backoff after a failure has passed).
    async fn client(&self, target: &Target, server: &Server) -> Result<Arc<McpClient>, String> {
        let mut conn = server.conn.lock().await;
        match &*conn {
            Conn::Ready(c) => return Ok(c.clone()),
            Conn::Failed { until, message } if Instant::now() < *until => {
                let wait = until.saturating_duration_since(Instant::now()).as_millis();
                return Err(format!("{message} (next attempt in {wait} ms)"));
            }
            _ => {}
        }
        let attempt = async {
            let (client, scrubber) = self.build(target, &server.spec).await?;
            *server.scrubber.locked() = Arc::new(scrubber);
            let version = tokio::time::timeout(Duration::from_millis(self.config.connect_timeout_ms), client.connect())
                .await
                .map_err(|_| McpError::Timeout(self.config.connect_timeout_ms))??;
            Ok::<_, McpError>((client, version))
        };
        match attempt.await {
            Ok((client, version)) => {
                let client = Arc::new(client);
                *server.failures.locked() = 0;
                {
                    let mut st = server.status.locked();
                    st.state = "connected";
                    st.error = None;
                    st.protocol_version = Some(version.clone());
                }
                tracing::info!(deployment = %target.deployment_id, server = %server.spec.name, version = %version, "MCP server connected");
                *conn = Conn::Ready(client.clone());
                Ok(client)
            }
            Err(e) => {
                let failures = {
                    let mut f = server.failures.locked();
                    *f = f.saturating_add(1);
                    *f
                };
                let backoff = self
                    .config
                    .initial_backoff_ms
                    .saturating_mul(1u64 << (failures - 1).min(20))
                    .min(self.config.max_backoff_ms);
                let message = server.scrub(format!("connecting failed: {e}"));
                // The scrubbed message: a server may echo a secret header in its error.
                tracing::warn!(deployment = %target.deployment_id, server = %server.spec.name, error = %message, failures, backoff_ms = backoff, "MCP server unavailable");
                {
                    let mut st = server.status.locked();
                    st.state = "error";
                    st.error = Some(message.clone());
                }
                *conn =
                    Conn::Failed { until: Instant::now() + Duration::from_millis(backoff), message: message.clone() };
                Err(message)
            }
        }
    }

    /// Describes a failed request; a broken connection is dropped so the next use
    /// reconnects.
    fn failed_call(&self, server: &Server, client: &Arc<McpClient>, e: McpError) -> String {
        let message = server.scrub(e.to_string());
        if matches!(e, McpError::Transport(_) | McpError::SessionExpired) {
            if let Ok(mut conn) = server.conn.try_lock()
                && matches!(&*conn, Conn::Ready(c) if Arc::ptr_eq(c, client))
            {
                *conn = Conn::Idle;
            }
            let mut st = server.status.locked();
            st.state = "error";
            st.error = Some(message.clone());
        }
        message
    }

    /// A client for `spec` with its headers resolved.
    async fn build(
        &self,
        target: &Target,
        spec: &McpServerSpec,
    ) -> Result<(McpClient, hermes_secrets::Scrubber), McpError> {
        let url = reqwest::Url::parse(&spec.url).map_err(|e| McpError::Config(format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(McpError::Config("the URL must be http or https".into()));
        }
        if !self.allow_private {
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(crate::egress::is_private) || url.host_str() == Some("localhost") {
                return Err(McpError::Config(
                    "the URL points to a private or loopback address (set HERMES_ALLOW_PRIVATE_URLS=1 to allow)".into(),
                ));
            }
        }
        let (headers, scrubber) = resolve_headers(&self.secrets, target, &url, &spec.headers).await?;
        Ok((McpClient::new(self.http.clone(), url, headers), scrubber))
    }

    /// Calls `name` (`<server>__<tool>`) with `arguments` (a JSON object as text).
    /// `Err` is a refusal made by the host without contacting any server (unknown
    /// tool, not allowlisted, bad arguments); server-side failures are error outcomes.
    pub async fn call(
        &self,
        target: &Target,
        name: &str,
        arguments: &str,
    ) -> Result<(String, String, CallOutcome), String> {
        let d = self.deployment(target);
        let server = d
            .servers
            .iter()
            .filter(|s| name.len() > s.spec.name.len() + SEPARATOR.len())
            .filter(|s| name.starts_with(&s.spec.name) && name[s.spec.name.len()..].starts_with(SEPARATOR))
            .max_by_key(|s| s.spec.name.len())
            .ok_or_else(|| format!("no MCP tool named {name:?}: no server of this deployment is called that"))?;
        let exposed = &name[server.spec.name.len() + SEPARATOR.len()..];
        let tool = server.names.locked().get(exposed).cloned().unwrap_or_else(|| exposed.to_string());
        if server.spec.tools.as_ref().is_some_and(|allow| !allow.contains(&tool)) {
            tracing::warn!(deployment = %target.deployment_id, server = %server.spec.name, tool = %tool, "MCP call refused: not in the allowlist");
            return Err(format!(
                "tool {tool:?} of MCP server {:?} is not in this deployment's allowlist",
                server.spec.name
            ));
        }
        let args: Value = if arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(arguments).map_err(|e| format!("the arguments are not JSON: {e}"))?
        };
        if !args.is_object() {
            return Err("the arguments must be a JSON object".into());
        }
        let span = crate::trace::mcp_span(&server.spec.name, &tool);
        let mut meta = Map::new();
        meta.insert("customer_id".into(), json!(target.spec.customer_id));
        // The MCP conventions carry the trace in `params._meta` (the HTTP request
        // also gets a `traceparent` header, for servers that read only that).
        if let Some(tp) = hermes_telemetry::traceparent_of(&span) {
            meta.insert("traceparent".into(), json!(tp));
        }
        let timeout_ms = self.config.call_timeout_ms;
        let started = Instant::now();
        let call = async {
            let _permit = server.permits.acquire().await.map_err(|e| e.to_string())?;
            let client = self.client(target, server).await?;
            client.call_tool(&tool, args, meta).await.map_err(|e| self.failed_call(server, &client, e))
        };
        let result = tokio::time::timeout(
            Duration::from_millis(timeout_ms),
            tracing::Instrument::instrument(call, span.clone()),
        )
        .await;
        // Transport failures and timeouts (not a tool's own error result).
        let answered = matches!(result, Ok(Ok(_)));
        if !answered {
            hermes_metrics::global().mcp_errors.inc();
        }
        let outcome = match result {
            Err(_) => CallOutcome::err(format!(
                "MCP server {:?} did not answer tool {tool:?} within {timeout_ms} ms",
                server.spec.name
            )),
            Ok(Err(e)) => CallOutcome::err(format!("MCP tool {tool:?} of server {:?} failed: {e}", server.spec.name)),
            Ok(Ok(result)) => {
                if result.get("resultType").and_then(Value::as_str).is_some_and(|t| t != "complete") {
                    CallOutcome::err(format!(
                        "MCP tool {tool:?} asked for more input ({}), which this host cannot provide",
                        result["resultType"]
                    ))
                } else {
                    let (content, is_error) = content::to_text(&result);
                    CallOutcome { content, is_error }
                }
            }
        };
        if outcome.is_error {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", if answered { "tool_error" } else { "transport_error" });
        }
        tracing::debug!(deployment = %target.deployment_id, server = %server.spec.name, tool = %tool,
            is_error = outcome.is_error, elapsed_ms = started.elapsed().as_millis() as u64, "MCP tool called");
        Ok((server.spec.name.clone(), tool, outcome))
    }
}

/// The `${NAME}` placeholders of a header template.
pub(crate) fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| "an unclosed ${ in a header".to_string())?;
        names.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(names)
}

/// The server's headers with every `${SECRET_NAME}` replaced by the secret's value;
/// values are marked sensitive so no debug output shows them. Also a scrubber for them.
async fn resolve_headers(
    secrets: &hermes_secrets::Secrets,
    target: &Target,
    url: &reqwest::Url,
    templates: &BTreeMap<String, String>,
) -> Result<(HeaderMap, hermes_secrets::Scrubber), McpError> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (header, template) in templates {
        for name in placeholders(template).map_err(McpError::Config)? {
            let id = target.spec.secrets.get(name).ok_or_else(|| {
                McpError::Config(format!(
                    "header {header} uses ${{{name}}}, which is not one of the deployment's secrets"
                ))
            })?;
            wanted.insert(name.to_string(), id.clone());
        }
    }
    let released = secrets.release(&target.account_id, &wanted).await.map_err(|e| match e {
        hermes_secrets::SecretsError::Missing { name, .. } => {
            McpError::Config(format!("secret {name} no longer exists"))
        }
        other => McpError::Config(format!("reading secrets: {other}")),
    })?;
    // A secret bound to other hosts is never sent here, whoever configured the server.
    let (host, port) = (url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
    let mut headers = HeaderMap::new();
    for (header, template) in templates {
        let text = hermes_secrets::fill(template, &released, host, port).map_err(McpError::Config)?;
        let name = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| McpError::Config(format!("{header:?} is not a valid header name")))?;
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| McpError::Config(format!("header {header} has a value that is not valid in HTTP")))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let values: Vec<(String, hermes_secrets::SecretValue)> = released.into_iter().map(|r| (r.name, r.value)).collect();
    Ok((headers, hermes_secrets::Scrubber::new(values)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_unclosed_ones_refused() {
        assert_eq!(placeholders("Bearer ${TOKEN} x ${B}").unwrap(), vec!["TOKEN", "B"]);
        assert!(placeholders("${OOPS").is_err());
        assert_eq!(sanitize("a.b/c-d_e"), "a_b_c-d_e");
    }
}
