//! Outbound HTTP under the SSRF guard: private, loopback and link-local addresses are
//! refused (also after DNS, by a resolver that drops them) unless the host allows
//! private URLs; fetched text is size- and time-capped. Skill URLs, MCP servers and
//! webhooks all leave through here.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Largest SKILL.md fetched.
pub const MAX_SKILL_BYTES: usize = 1 << 20;
/// Whole-request timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

pub use hermes_types::net::is_private;

/// A resolver that drops private addresses, so a public name that resolves to an
/// internal address (DNS rebinding included) is refused at connect time.
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves only to private or loopback addresses").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client for skill URLs (and, later, webhooks) with the SSRF rules applied.
pub fn client(allow_private: bool) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("hermes-host/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same_host = attempt.previous().first().map(|u| u.host_str()) == Some(attempt.url().host_str());
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if !same_host {
                attempt.error("redirect to another host refused")
            } else {
                attempt.follow()
            }
        }));
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build().map_err(|e| e.to_string())
}

/// Refuses a URL that is not http(s) or names a private, loopback or link-local
/// address literally (names are checked after DNS, by [`PublicOnly`]). Checked for
/// every URL the host fetches, each redirect hop included.
pub fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("URL {url} must be http or https"));
    }
    if !allow_private && names_private_host(url) {
        return Err(format!(
            "URL {url} points to a private or loopback address (set HERMES_ALLOW_PRIVATE_URLS=1 to allow)"
        ));
    }
    Ok(())
}

/// Whether a URL names a private address literally or a `localhost` name: what can
/// be refused before DNS (names that resolve privately are [`PublicOnly`]'s). The
/// one rule behind every URL check (fetches, skills, webhooks).
pub fn names_private_host(url: &reqwest::Url) -> bool {
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    let local_name = url.host_str().is_some_and(|h| {
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        h == "localhost" || h.ends_with(".localhost")
    });
    literal.is_some_and(is_private) || local_name
}

/// Fetches a URL's body as text, enforcing scheme, address, status and size rules.
pub async fn fetch_text(client: &reqwest::Client, url: &str, allow_private: bool) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    check_url(&parsed, allow_private)?;
    let resp = client.get(parsed).send().await.map_err(|e| {
        if e.is_timeout() { "timed out after 10 s".to_string() } else { format!("request failed: {e}") }
    })?;
    if !resp.status().is_success() {
        return Err(format!("the server answered HTTP {}", resp.status().as_u16()));
    }
    if resp.content_length().is_some_and(|n| n as usize > MAX_SKILL_BYTES) {
        return Err("larger than 1 MiB".into());
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the body: {e}"))?;
        if body.len() + chunk.len() > MAX_SKILL_BYTES {
            return Err("larger than 1 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::is_private;

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
