//! Sending a plugin's request to the very addresses the SSRF check approved.
//!
//! Resolving a name to check it and letting the HTTP client resolve it again to
//! connect leaves a gap a rebinding DNS server can use: a public answer for the
//! check, a private one for the connect. Here the connection goes to the checked
//! addresses themselves; TLS still verifies the certificate against the host name.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::uri::Scheme;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Time to connect (each address) and to finish the TLS and HTTP handshakes,
/// unless the guest asked for less.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One TLS configuration for every pinned request: the web PKI roots.
static TLS: LazyLock<Arc<tokio_rustls::rustls::ClientConfig>> = LazyLock::new(|| {
    let roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    Arc::new(tokio_rustls::rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
});

/// A byte stream to an HTTP server, plain or TLS.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Sends `request` (whose URI names `host`) over a connection to one of `addrs`,
/// tried in order; nothing is resolved again.
pub(crate) async fn send(
    mut request: http::Request<WasiBody>,
    host: &str,
    addrs: &[SocketAddr],
    options: Option<RequestOptions>,
) -> Result<(http::Response<hyper::body::Incoming>, impl Future<Output = ()> + Send + use<>), Error> {
    let timeout = options.and_then(|o| o.connect_timeout).map_or(CONNECT_TIMEOUT, |t| t.min(CONNECT_TIMEOUT));
    let mut stream = None;
    let mut last = Error::ConnectionRefused;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = Error::Connect(e),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    let stream = stream.ok_or(last)?;
    let io: Box<dyn Io> = if request.uri().scheme() == Some(&Scheme::HTTPS) {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let connector = tokio_rustls::TlsConnector::from(TLS.clone());
        let tls = tokio::time::timeout(timeout, connector.connect(name, stream))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(TokioIo::new(io)))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::from)?;
    // Origin form on the wire: the scheme and authority travel in Host and TLS.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    let driver = tokio::spawn(conn);
    let response = sender.send_request(request).await.map_err(Error::from)?;
    Ok((response, async move {
        driver.abort();
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_request_goes_to_the_checked_address_whatever_the_name_resolves_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\npinned").await.unwrap();
            head
        });
        // `rebind.invalid` resolves nowhere: only the pinned address can answer.
        let body: WasiBody = Empty::new().map_err(|never| match never {}).boxed_unsync();
        let request = http::Request::builder()
            .uri("http://rebind.invalid/path?q=1")
            .header("host", "rebind.invalid")
            .body(body)
            .unwrap();
        let (response, done) = send(request, "rebind.invalid", &[addr], None).await.expect("sent");
        assert_eq!(response.status(), 200);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"pinned");
        done.await;
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /path?q=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.to_ascii_lowercase().contains("host: rebind.invalid"), "{head}");
    }

    #[tokio::test]
    async fn no_reachable_address_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let body: WasiBody = Empty::new().map_err(|never| match never {}).boxed_unsync();
        let request = http::Request::builder().uri("http://gone.invalid/").body(body).unwrap();
        assert!(send(request, "gone.invalid", &[addr], None).await.is_err());
    }
}
