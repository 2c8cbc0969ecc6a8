//! The host-made web tools: `web_fetch` (a page as Markdown, through the SSRF guard,
//! the deployment's egress allowlist and the secrets' own host bindings) and
//! `web_search` (through the search provider configured on the host). The guest
//! never opens a socket: it asks, the host fetches.

mod fetch;
mod search;

use std::sync::Arc;

use hermes_runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};
use serde::Deserialize;
use serde_json::json;

pub use fetch::check_hop;
pub use search::{SearchConfig, SearchKind};

/// Name of the fetch tool.
pub const WEB_FETCH: &str = "web_fetch";
/// Name of the search tool.
pub const WEB_SEARCH: &str = "web_search";

/// `[web]`: the fetch tool's switches and bounds.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Offer `web_fetch` to every deployment (each may still disable it).
    pub fetch: bool,
    /// Whole-fetch time limit, redirects included.
    pub fetch_timeout_secs: u64,
    /// Most bytes of a response body read (a call may ask for less).
    pub max_fetch_bytes: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { fetch: true, fetch_timeout_secs: 15, max_fetch_bytes: 2 << 20 }
    }
}

/// What a web call may use of its deployment: the egress allowlist and the secrets
/// a header template may name.
pub struct WebContext<'a> {
    /// Hosts the deployment may reach (any public host when empty).
    pub allow: &'a [String],
    /// The deployment's secrets, resolved only when a header names one.
    pub secrets: &'a hermes_secrets::Secrets,
    /// The account that owns them.
    pub account_id: &'a str,
    /// Env-style names to `sec_…` ids.
    pub refs: &'a std::collections::BTreeMap<String, String>,
}

/// The web tools of a host.
pub struct Web {
    fetcher: fetch::Fetcher,
    search: Option<search::Searcher>,
    definitions: Vec<ToolDefinition>,
    fetch_enabled: bool,
}

impl Web {
    /// The web tools `config` and `search` describe; `allow_private` lets fetches
    /// reach private addresses (tests and trusted networks only).
    pub fn new(config: &WebConfig, search: Option<&SearchConfig>, allow_private: bool) -> Result<Web, String> {
        let fetcher = fetch::Fetcher::new(config, allow_private)?;
        let search = search.map(search::Searcher::new).transpose()?;
        let mut definitions = Vec::new();
        if config.fetch {
            definitions.push(fetch_definition(config.max_fetch_bytes));
        }
        if search.is_some() {
            definitions.push(search_definition());
        }
        Ok(Web { fetcher, search, definitions, fetch_enabled: config.fetch })
    }

    /// The tools offered (made once).
    pub fn definitions(&self) -> &[ToolDefinition] {
        &self.definitions
    }

    /// Names of the tools offered.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.fetch_enabled {
            names.push(WEB_FETCH);
        }
        if self.search.is_some() {
            names.push(WEB_SEARCH);
        }
        names
    }

    /// Whether `name` is one of the web tools (offered or not: a call to one the host
    /// does not offer gets an answer saying why).
    pub fn handles(name: &str) -> bool {
        name == WEB_FETCH || name == WEB_SEARCH
    }

    /// Runs one call; every failure is a tool error the model can act on.
    pub async fn call(&self, name: &str, arguments: &str, cx: WebContext<'_>) -> ToolOutput {
        let result = match name {
            WEB_FETCH if self.fetch_enabled => self.fetcher.fetch(arguments, &cx).await,
            WEB_FETCH => Err("web_fetch is turned off on this host ([web] fetch = false)".to_string()),
            WEB_SEARCH => match &self.search {
                Some(s) => s.search(arguments, &cx).await,
                None => Err("web_search is not configured on this host (no [search] provider)".to_string()),
            },
            other => Err(format!("no web tool named {other:?}")),
        };
        match result {
            Ok(out) => out,
            Err(message) => ToolOutput { content: format!("{name} failed: {message}"), is_error: true },
        }
    }
}

fn fetch_definition(max: usize) -> ToolDefinition {
    ToolDefinition {
        name: WEB_FETCH.into(),
        description: "Fetch a web page or API over HTTP(S) GET. HTML comes back as Markdown, text and JSON \
                      as they are, with the final URL and status. Headers may use ${SECRET_NAME} for the \
                      deployment's secrets (allowlisted hosts only)."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "http:// or https:// URL"},
                "max_bytes": {"type": "integer", "minimum": 1, "maximum": max,
                              "description": format!("most bytes of the body to read (default and limit {max})")},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "required": ["url"]
        })
        .to_string(),
    }
}

fn search_definition() -> ToolDefinition {
    ToolDefinition {
        name: WEB_SEARCH.into(),
        description: "Search the web; returns titles, URLs and snippets.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "count": {"type": "integer", "minimum": 1, "maximum": search::MAX_RESULTS}
            },
            "required": ["query"]
        })
        .to_string(),
    }
}

/// The shared web tools of a host, if any are offered.
pub type SharedWeb = Option<Arc<Web>>;
