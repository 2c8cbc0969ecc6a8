//! Outgoing HTTP for plugins granted `http` (`wasi:http/outgoing-handler`). Every
//! request passes here: its host must be one the deployment listed, its address
//! must not be private (unless the host allows private URLs), `${SECRET_NAME}` in a
//! header value is replaced by the secret's value on the way out — the guest never
//! holds it — and the response is read whole (bounded) and scrubbed of every secret
//! value before the guest sees it, so an echoing server cannot hand one back.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hermes_secrets::{Released, Scrubber};
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// What a plugin may reach over HTTP, as its deployment granted.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// `host` (any port) or `host:port` entries.
    pub hosts: Vec<String>,
    /// Whether loopback and private addresses may be reached (`HERMES_ALLOW_PRIVATE_URLS`).
    pub allow_private: bool,
    /// The deployment's secrets by env name, for `${NAME}` in headers, each with the
    /// hosts it may be sent to.
    pub secrets: Arc<Vec<Released>>,
    /// Largest response body handed to the guest.
    pub max_response_bytes: usize,
}

impl HttpGrant {
    /// Whether `host` on `port` is listed.
    fn allows(&self, host: &str, port: u16) -> bool {
        self.hosts.iter().any(|h| hermes_types::net::host_matches(h, host, port))
    }
}

/// The `wasi:http` hooks of one plugin instance.
pub(crate) struct Hooks {
    pub grant: Option<HttpGrant>,
    pub scrubber: Arc<Scrubber>,
}

fn denied(why: String) -> Error {
    Error::InternalError(Some(why))
}

/// Refuses what the grant does not allow and fills in secret headers. Returns the
/// checked public addresses to connect to (none when private ones are allowed:
/// then the name is resolved as usual).
async fn admit(grant: &HttpGrant, request: &mut http::Request<WasiBody>) -> Result<Option<Vec<SocketAddr>>, Error> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !grant.allows(&host, port) {
        return Err(denied(format!("the deployment does not grant HTTP to {host}:{port}")));
    }
    let mut pinned = None;
    if !grant.allow_private {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| denied(format!("resolving {host}: {e}")))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| hermes_types::net::is_private(a.ip())) {
            return Err(Error::DestinationIpProhibited);
        }
        pinned = Some(addrs);
    }
    for value in request.headers_mut().values_mut() {
        let Ok(text) = value.to_str() else { continue };
        if !text.contains("${") {
            continue;
        }
        let filled = hermes_secrets::fill(text, &grant.secrets, &host, port).map_err(denied)?;
        let mut header = http::HeaderValue::from_str(&filled).map_err(|e| denied(format!("a header value: {e}")))?;
        header.set_sensitive(true);
        *value = header;
    }
    Ok(pinned)
}

/// A response body read whole, at most `max` bytes.
async fn read_whole<B>(body: B, max: usize) -> Result<Bytes, Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let collected = Limited::new(body, max).collect().await;
    Ok(collected.map_err(|_| Error::HttpResponseBodySize(Some(max as u64)))?.to_bytes())
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>,
            > + Send,
    > {
        drop(fut);
        let grant = self.grant.clone();
        let scrubber = self.scrubber.clone();
        Box::new(async move {
            let grant = grant.ok_or_else(|| denied("this plugin is not granted HTTP by the deployment".into()))?;
            let host = request.uri().host().unwrap_or_default().to_string();
            // The connection is driven while the body is read whole: it is scrubbed
            // before any of it reaches the guest.
            let (mut parts, bytes) = match admit(&grant, &mut request).await? {
                // Connected to the addresses just checked: no second lookup to rebind.
                Some(addrs) => {
                    let (response, done) = super::pinned::send(request, &host, &addrs, options).await?;
                    let (parts, body) = response.into_parts();
                    let bytes = read_whole(body, grant.max_response_bytes).await;
                    done.await;
                    (parts, bytes?)
                }
                None => {
                    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
                    let driver = tokio::spawn(io);
                    let (parts, body) = response.into_parts();
                    let bytes = read_whole(body, grant.max_response_bytes).await;
                    driver.abort();
                    (parts, bytes?)
                }
            };
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(text) => match scrubber.scrub(text) {
                    std::borrow::Cow::Borrowed(_) => bytes,
                    std::borrow::Cow::Owned(clean) => Bytes::from(clean),
                },
                Err(_) => bytes,
            };
            for value in parts.headers.values_mut() {
                if let Ok(text) = value.to_str()
                    && let std::borrow::Cow::Owned(clean) = scrubber.scrub(text)
                    && let Ok(clean) = http::HeaderValue::from_str(&clean)
                {
                    *value = clean;
                }
            }
            parts.headers.remove(http::header::CONTENT_LENGTH);
            parts.headers.remove(http::header::TRANSFER_ENCODING);
            let body: WasiBody = Full::new(bytes).map_err(|never| match never {}).boxed_unsync();
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((http::Response::from_parts(parts, body), done))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_or_without_a_port() {
        let g = HttpGrant {
            hosts: vec!["api.example.com".into(), "127.0.0.1:8080".into()],
            allow_private: false,
            secrets: Arc::new(Vec::new()),
            max_response_bytes: 1,
        };
        assert!(g.allows("API.example.com", 443));
        assert!(g.allows("127.0.0.1", 8080));
        assert!(!g.allows("127.0.0.1", 8081));
        assert!(!g.allows("evil.example.com", 443));
    }

    #[test]
    fn secret_placeholders_are_filled_only_for_their_hosts() {
        let secret = |hosts: Option<Vec<String>>| Released {
            name: "TOKEN".into(),
            id: "sec_1".into(),
            value: hermes_secrets::SecretValue::new("s3cr3t-value"),
            allowed_hosts: hosts,
        };
        let any = vec![secret(None)];
        let substitute = hermes_secrets::fill;
        assert_eq!(substitute("Bearer ${TOKEN}", &any, "a.example", 443).unwrap(), "Bearer s3cr3t-value");
        assert!(substitute("${NOPE}", &any, "a.example", 443).unwrap_err().contains("NOPE"));
        assert!(substitute("${TOKEN", &any, "a.example", 443).is_err());
        let bound = vec![secret(Some(vec!["api.crm.example".into()]))];
        assert!(substitute("${TOKEN}", &bound, "api.crm.example", 443).is_ok());
        let refused = substitute("${TOKEN}", &bound, "evil.example", 443).unwrap_err();
        assert!(refused.contains("may not be sent to evil.example") && !refused.contains("s3cr3t"), "{refused}");
    }
}
