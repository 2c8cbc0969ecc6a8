//! `web_fetch`: one GET, its redirects followed by hand so that every hop passes the
//! same checks as the first (scheme, private addresses, the egress allowlist), and a
//! secret-bearing request never follows a redirect to another host.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hermes_runtime::wit::hermes::agent::types::ToolOutput;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use serde::Deserialize;

use super::{WebConfig, WebContext};
use crate::egress;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// Headers a call may set.
const MAX_HEADERS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    url: String,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Makes the fetches of a host (one connection pool for all).
pub(super) struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
    max_bytes: usize,
}

/// Refuses a hop the deployment may not make: not http(s), a private address (also
/// checked after DNS by the client's resolver), or a host outside a non-empty
/// allowlist.
pub fn check_hop(url: &Url, allow: &[String], allow_private: bool) -> Result<(), String> {
    egress::check_url(url, allow_private)?;
    if allow.is_empty() {
        return Ok(());
    }
    let (host, port) = host_port(url);
    if allow.iter().any(|pattern| hermes_types::net::host_matches(pattern, &host, port)) {
        Ok(())
    } else {
        Err(format!("{host}:{port} is not in the deployment's egress allowlist ([{}])", allow.join(", ")))
    }
}

fn host_port(url: &Url) -> (String, u16) {
    (url.host_str().unwrap_or_default().to_string(), url.port_or_known_default().unwrap_or(0))
}

/// A reqwest error with its causes (the resolver's refusal is a cause, not the top).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the server did not answer in time".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Fetcher {
    pub(super) fn new(config: &WebConfig, allow_private: bool) -> Result<Fetcher, String> {
        let mut b = reqwest::Client::builder()
            // Followed by hand, each hop checked like the first.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("hermes-host/", env!("CARGO_PKG_VERSION"), " (web_fetch)"));
        if !allow_private {
            b = b.dns_resolver(Arc::new(egress::PublicOnly));
        }
        Ok(Fetcher {
            client: b.build().map_err(|e| e.to_string())?,
            allow_private,
            timeout: Duration::from_secs(config.fetch_timeout_secs.max(1)),
            max_bytes: config.max_fetch_bytes.max(1),
        })
    }

    pub(super) async fn fetch(&self, arguments: &str, cx: &WebContext<'_>) -> Result<ToolOutput, String> {
        let args: Args = serde_json::from_str(arguments).map_err(|e| format!("invalid arguments: {e}"))?;
        let max = args.max_bytes.unwrap_or(self.max_bytes).clamp(1, self.max_bytes);
        let first = Url::parse(args.url.trim()).map_err(|e| format!("invalid URL {:?}: {e}", args.url))?;
        if args.headers.len() > MAX_HEADERS {
            return Err(format!("at most {MAX_HEADERS} headers"));
        }
        let names_secret = args.headers.values().any(|v| v.contains("${"));
        if names_secret && cx.allow.is_empty() {
            return Err("a header names a secret, and secrets go only to hosts in the deployment's `egress.allow` \
                        list, which is empty"
                .into());
        }
        let released = if names_secret {
            cx.secrets.release(cx.account_id, cx.refs).await.map_err(|e| e.to_string())?
        } else {
            Vec::new()
        };
        let origin = host_port(&first);
        let fetched = tokio::time::timeout(self.timeout, async {
            let mut url = first.clone();
            for _ in 0..=MAX_REDIRECTS {
                check_hop(&url, cx.allow, self.allow_private)?;
                let (host, port) = host_port(&url);
                if names_secret && (host.as_str(), port) != (origin.0.as_str(), origin.1) {
                    return Err(format!(
                        "{} redirects to {url}: a request carrying a secret is not sent on to another host",
                        first
                    ));
                }
                let mut headers = HeaderMap::new();
                for (name, template) in &args.headers {
                    let value = hermes_secrets::fill(template, &released, &host, port)?;
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("{name:?} is not a header name"))?;
                    let value =
                        HeaderValue::from_str(&value).map_err(|_| format!("header {name} has an invalid value"))?;
                    headers.insert(name, value);
                }
                let resp = self.client.get(url.clone()).headers(headers).send().await.map_err(|e| describe(&e))?;
                if resp.status().is_redirection()
                    && let Some(location) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok())
                {
                    url = url.join(location).map_err(|e| format!("a redirect to an invalid URL {location:?}: {e}"))?;
                    continue;
                }
                return read(resp, url, max).await;
            }
            Err(format!("more than {MAX_REDIRECTS} redirects"))
        })
        .await;
        fetched.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
    }
}

/// The response for the model: a short header block, then the body as Markdown
/// (HTML), as it is (text, JSON, XML), or a note (anything else).
async fn read(resp: reqwest::Response, url: Url, max: usize) -> Result<ToolOutput, String> {
    let status = resp.status();
    let content_type =
        resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let mut body = Vec::new();
    let mut cut = false;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the body: {}", describe(&e)))?;
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let total = body.len();
    let html = content_type.contains("html");
    let textual = html
        || content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type.contains("javascript");
    let shown = if textual || (content_type.is_empty() && std::str::from_utf8(&body).is_ok()) {
        let text = String::from_utf8_lossy(&body).into_owned();
        if html {
            // Conversion is CPU work on up to a few MiB: off the async threads.
            tokio::task::spawn_blocking(move || to_markdown(&text).unwrap_or(text))
                .await
                .map_err(|e| format!("converting the page: {e}"))?
        } else {
            text
        }
    } else {
        format!("(binary content, {total} bytes, not shown)")
    };
    let mut content = format!("URL: {url}\nStatus: {}\n", status.as_u16());
    if !content_type.is_empty() {
        content.push_str(&format!("Content-Type: {content_type}\n"));
    }
    if cut {
        content.push_str(&format!("[the body was cut at {max} bytes; ask for less or use max_bytes]\n"));
    }
    content.push('\n');
    content.push_str(shown.trim());
    Ok(ToolOutput { content, is_error: status.is_client_error() || status.is_server_error() })
}

/// A page as Markdown: what a reader sees, without scripts, styles or the head.
fn to_markdown(html: &str) -> std::io::Result<String> {
    htmd::HtmlToMarkdown::builder()
        .skip_tags(vec!["head", "script", "style", "noscript", "template", "svg", "iframe"])
        .build()
        .convert(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn every_hop_is_checked_for_private_addresses_and_the_allowlist() {
        for private in [
            "http://127.0.0.1/",
            "http://10.0.0.8/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://localhost/",
            "http://api.localhost./",
            "file:///etc/passwd",
        ] {
            assert!(check_hop(&url(private), &[], false).is_err(), "{private}");
        }
        assert!(check_hop(&url("https://example.com/"), &[], false).is_ok());
        let allow = vec!["api.example.com".to_string(), "*.docs.example.com".to_string()];
        assert!(check_hop(&url("https://api.example.com/v1"), &allow, false).is_ok());
        assert!(check_hop(&url("https://eu.docs.example.com/"), &allow, false).is_ok());
        let refused = check_hop(&url("https://evil.example/"), &allow, false).unwrap_err();
        assert!(refused.contains("not in the deployment's egress allowlist"), "{refused}");
        // An allowlist never opens a private address.
        assert!(check_hop(&url("http://127.0.0.1/"), &["127.0.0.1".to_string()], false).is_err());
    }
}
