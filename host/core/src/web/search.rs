//! `web_search` through the provider configured on the host: Brave, Tavily or a
//! SearXNG instance, each spoken in its own wire format. The key comes from the
//! host's environment, or from the deployment's own secret when it binds one.

use std::time::Duration;

use hermes_runtime::wit::hermes::agent::types::ToolOutput;
use serde::Deserialize;
use serde_json::{Value, json};

use super::WebContext;

/// Most results one call may ask for.
pub const MAX_RESULTS: u32 = 20;
/// Results when the call does not say.
const DEFAULT_RESULTS: u32 = 5;
/// Longest query accepted.
const MAX_QUERY: usize = 400;

/// Which search API the host speaks.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    /// Brave Search API (`X-Subscription-Token`).
    Brave,
    /// Tavily (`POST /search`, bearer key).
    Tavily,
    /// A SearXNG instance's JSON API (no key).
    Searxng,
}

/// `[search]`: the provider behind `web_search`; the tool is offered only when set.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// `brave`, `tavily` or `searxng`.
    pub kind: SearchKind,
    /// The API's base URL (the public endpoint by default; required for SearXNG).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the host's key (`BRAVE_API_KEY`,
    /// `TAVILY_API_KEY` by default).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A deployment secret of this name, when bound, is used as the key instead of
    /// the host's (its own quota and bill).
    #[serde(default = "default_key_secret")]
    pub deployment_key_secret: String,
    /// Time limit of one search.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_key_secret() -> String {
    "SEARCH_API_KEY".into()
}

fn default_timeout() -> u64 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    query: String,
    #[serde(default)]
    count: Option<u32>,
}

/// One result as the model sees it.
struct Hit {
    title: String,
    url: String,
    snippet: String,
}

pub(super) struct Searcher {
    client: reqwest::Client,
    kind: SearchKind,
    base: String,
    host_key: Option<String>,
    key_secret: String,
}

impl Searcher {
    pub(super) fn new(config: &SearchConfig) -> Result<Searcher, String> {
        let base = match (&config.base_url, config.kind) {
            (Some(b), _) => b.trim_end_matches('/').to_string(),
            (None, SearchKind::Brave) => "https://api.search.brave.com".into(),
            (None, SearchKind::Tavily) => "https://api.tavily.com".into(),
            (None, SearchKind::Searxng) => return Err("[search] kind = \"searxng\" needs a base_url".into()),
        };
        let env = config.api_key_env.clone().or_else(|| match config.kind {
            SearchKind::Brave => Some("BRAVE_API_KEY".into()),
            SearchKind::Tavily => Some("TAVILY_API_KEY".into()),
            SearchKind::Searxng => None,
        });
        let host_key = env.and_then(|name| std::env::var(name).ok()).filter(|k| !k.is_empty());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .user_agent(concat!("hermes-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Searcher { client, kind: config.kind, base, host_key, key_secret: config.deployment_key_secret.clone() })
    }

    /// The deployment's own key when it binds one, else the host's.
    async fn key(&self, cx: &WebContext<'_>) -> Result<Option<String>, String> {
        if let Some(id) = cx.refs.get(&self.key_secret) {
            let one = std::collections::BTreeMap::from([(self.key_secret.clone(), id.clone())]);
            let released = cx.secrets.release(cx.account_id, &one).await.map_err(|e| e.to_string())?;
            if let Some(r) = released.first() {
                let url = reqwest::Url::parse(&self.base).map_err(|e| e.to_string())?;
                r.may_go_to(url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))?;
                return Ok(Some(r.value.expose().to_string()));
            }
        }
        Ok(self.host_key.clone())
    }

    pub(super) async fn search(&self, arguments: &str, cx: &WebContext<'_>) -> Result<ToolOutput, String> {
        let args: Args = serde_json::from_str(arguments).map_err(|e| format!("invalid arguments: {e}"))?;
        let query = args.query.trim();
        if query.is_empty() || query.len() > MAX_QUERY {
            return Err(format!("`query` must be 1–{MAX_QUERY} bytes"));
        }
        let count = args.count.unwrap_or(DEFAULT_RESULTS).clamp(1, MAX_RESULTS);
        let key = self.key(cx).await?;
        let needs_key = self.kind != SearchKind::Searxng;
        if needs_key && key.is_none() {
            return Err("the host's search provider has no API key configured".into());
        }
        let request = match self.kind {
            SearchKind::Brave => self
                .client
                .get(format!("{}/res/v1/web/search", self.base))
                .query(&[("q", query), ("count", &count.to_string())])
                .header("X-Subscription-Token", key.unwrap_or_default())
                .header("Accept", "application/json"),
            SearchKind::Tavily => self
                .client
                .post(format!("{}/search", self.base))
                .bearer_auth(key.unwrap_or_default())
                .json(&json!({"query": query, "max_results": count})),
            SearchKind::Searxng => {
                self.client.get(format!("{}/search", self.base)).query(&[("q", query), ("format", "json")])
            }
        };
        let resp = request.send().await.map_err(|e| format!("the search provider did not answer: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("the search provider answered HTTP {}", status.as_u16()));
        }
        // Providers answer a page of JSON; a runaway body is cut off by the timeout
        // and this bound.
        let bytes = resp.bytes().await.map_err(|e| format!("reading the search results: {e}"))?;
        if bytes.len() > 4 << 20 {
            return Err("the search provider answered more than 4 MiB".into());
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| format!("the results are not JSON: {e}"))?;
        let hits = parse(self.kind, &body, count as usize);
        Ok(ToolOutput { content: render(query, &hits), is_error: false })
    }
}

/// The results of each provider's wire format.
fn parse(kind: SearchKind, body: &Value, count: usize) -> Vec<Hit> {
    let (list, snippet) = match kind {
        SearchKind::Brave => (&body["web"]["results"], "description"),
        SearchKind::Tavily | SearchKind::Searxng => (&body["results"], "content"),
    };
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().trim().to_string();
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter(|r| r["url"].is_string())
                .take(count)
                .map(|r| Hit { title: text(r, "title"), url: text(r, "url"), snippet: text(r, snippet) })
                .collect()
        })
        .unwrap_or_default()
}

fn render(query: &str, hits: &[Hit]) -> String {
    if hits.is_empty() {
        return format!("No results for {query:?}.");
    }
    let mut out = String::new();
    for (i, h) in hits.iter().enumerate() {
        out.push_str(&format!("{}. {}\n   {}\n", i + 1, h.title, h.url));
        if !h.snippet.is_empty() {
            out.push_str(&format!("   {}\n", h.snippet));
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wire_format_gives_titles_urls_and_snippets() {
        let brave = json!({"web": {"results": [{"title": "A", "url": "https://a.example", "description": "about a"}]}});
        let tavily =
            json!({"results": [{"title": "B", "url": "https://b.example", "content": "about b"}, {"title": "x"}]});
        let hits = parse(SearchKind::Brave, &brave, 5);
        assert_eq!(
            (hits[0].title.as_str(), hits[0].url.as_str(), hits[0].snippet.as_str()),
            ("A", "https://a.example", "about a")
        );
        let hits = parse(SearchKind::Tavily, &tavily, 5);
        assert_eq!(hits.len(), 1, "an entry without a URL is dropped");
        assert_eq!(render("q", &hits), "1. B\n   https://b.example\n   about b");
        assert_eq!(render("q", &[]), "No results for \"q\".");
    }
}
