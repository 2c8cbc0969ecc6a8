//! One streamed model call with retries: send, classify the status, decode the SSE
//! body, and on 429 / 5xx / connection failures try again with exponential backoff
//! and jitter (honouring `Retry-After`) — but never once a delta reached the caller,
//! since the caller cannot take back tokens it has already shown.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;

use super::sse::{SseDecoder, SseEvent};
use super::{Completion, ProviderError};

/// Longest wait for the next chunk of a streaming body.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Most bytes of an error body kept for the message.
const MAX_ERROR_BODY: usize = 4096;

/// How model calls are retried.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each further one.
    #[serde(with = "millis")]
    pub base_delay: Duration,
    /// Longest single wait, also the cap on a server's `Retry-After`.
    #[serde(with = "millis")]
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): the server's `Retry-After` when
    /// given, else `base * 2^(retry-1)` with ±50% jitter; capped at `max_delay` either way.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let d = match retry_after {
            Some(d) => d,
            None => {
                let exp = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
                exp.mul_f64(rand::rng().random_range(0.5..1.5))
            }
        };
        d.min(self.max_delay)
    }
}

/// `Duration` as integer milliseconds in config files.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Hands deltas to the caller and remembers whether any went out.
pub(crate) struct Sink<'a> {
    f: &'a mut (dyn FnMut(&str) + Send),
    delivered: bool,
}

impl Sink<'_> {
    /// Passes a non-empty piece of text to the caller.
    pub(crate) fn emit(&mut self, text: &str) {
        if !text.is_empty() {
            self.delivered = true;
            (self.f)(text);
        }
    }
}

#[cfg(test)]
impl<'a> Sink<'a> {
    /// A sink over `f`, for decoder tests.
    pub(crate) fn for_test(f: &'a mut (dyn FnMut(&str) + Send)) -> Self {
        Sink { f, delivered: false }
    }
}

/// A provider's wire format: turns SSE events into a [`Completion`].
pub(crate) trait StreamDecoder: Default + Send {
    /// Takes one event; `Ok(true)` when it ended the stream.
    fn event(&mut self, ev: &SseEvent, sink: &mut Sink<'_>) -> Result<bool, ProviderError>;
    /// The stream closed without a terminal event: the completion, if it is whole.
    fn eof(&mut self) -> Result<(), ProviderError>;
    /// The assembled completion.
    fn finish(self) -> Completion;
}

/// What one call needs besides the decoder.
pub(crate) struct Call<'a> {
    /// Registry name of the provider, for messages.
    pub provider: &'a str,
    /// Where to post.
    pub url: &'a str,
    /// The shared client.
    pub client: &'a reqwest::Client,
    /// Headers (auth included).
    pub headers: reqwest::header::HeaderMap,
    /// The JSON body.
    pub body: &'a serde_json::Value,
    /// The retry policy.
    pub policy: &'a RetryPolicy,
    /// Text scrubbed from every error message (the API key).
    pub secret: Option<&'a str>,
    /// Hint appended to 401/403 messages (which variable holds the key).
    pub auth_hint: String,
}

/// Why one attempt failed.
struct Failure {
    error: ProviderError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn transient(msg: String) -> Self {
        Failure { error: ProviderError::Unavailable(msg), retryable: true, retry_after: None }
    }
}

/// Runs the call with retries and decodes the stream with `D`.
pub(crate) async fn stream_call<D: StreamDecoder>(
    call: Call<'_>,
    on_delta: &mut (dyn FnMut(&str) + Send),
) -> Result<Completion, ProviderError> {
    let mut sink = Sink { f: on_delta, delivered: false };
    let attempts = call.policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        let failure = match attempt_once::<D>(&call, &mut sink).await {
            Ok(c) => return Ok(c),
            Err(f) => f,
        };
        let error = scrub(failure.error, call.secret);
        if !failure.retryable || sink.delivered || attempt >= attempts {
            return Err(match error {
                ProviderError::Unavailable(m) if failure.retryable && attempt > 1 => {
                    ProviderError::Unavailable(format!("{m} (after {attempt} attempts)"))
                }
                e => e,
            });
        }
        let wait = call.policy.delay(attempt, failure.retry_after);
        tracing::warn!(provider = call.provider, attempt, ?wait, error = %error, "model call failed; retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

async fn attempt_once<D: StreamDecoder>(call: &Call<'_>, sink: &mut Sink<'_>) -> Result<Completion, Failure> {
    let provider = call.provider;
    let send = call.client.post(call.url).headers(call.headers.clone()).json(call.body).send();
    let resp = match tokio::time::timeout(IDLE_TIMEOUT, send).await {
        Err(_) => {
            return Err(Failure::transient(format!(
                "{provider}: no response from {} within {}s",
                call.url,
                IDLE_TIMEOUT.as_secs()
            )));
        }
        Ok(r) => {
            r.map_err(|e| Failure::transient(format!("{provider}: could not reach {}: {}", call.url, error_chain(&e))))?
        }
    };
    let status = resp.status();
    if !status.is_success() {
        return Err(status_failure(call, status, resp).await);
    }
    let mut decoder = D::default();
    let mut sse = SseDecoder::new();
    let mut body = resp.bytes_stream();
    loop {
        let chunk = match tokio::time::timeout(IDLE_TIMEOUT, body.next()).await {
            Err(_) => {
                return Err(Failure::transient(format!(
                    "{provider}: no data for {}s while streaming the reply",
                    IDLE_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Failure::transient(format!("{provider}: the reply stream broke: {}", error_chain(&e))));
            }
            Ok(Some(Ok(c))) => c,
        };
        let events =
            sse.push(&chunk).map_err(|e| Failure::transient(format!("{provider}: malformed reply stream: {e}")))?;
        for ev in &events {
            if decoder.event(ev, sink).map_err(decoder_failure)? {
                return Ok(decoder.finish());
            }
        }
    }
    if let Some(ev) = sse.finish()
        && decoder.event(&ev, sink).map_err(decoder_failure)?
    {
        return Ok(decoder.finish());
    }
    decoder.eof().map_err(decoder_failure)?;
    Ok(decoder.finish())
}

fn decoder_failure(error: ProviderError) -> Failure {
    let retryable = matches!(error, ProviderError::Unavailable(_));
    Failure { error, retryable, retry_after: None }
}

async fn status_failure(call: &Call<'_>, status: StatusCode, resp: reqwest::Response) -> Failure {
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
    let detail = error_detail(resp).await;
    let provider = call.provider;
    let code = status.as_u16();
    if code == 429 || status.is_server_error() || code == 408 {
        let error = ProviderError::Unavailable(format!("{provider}: HTTP {code}: {detail}"));
        return Failure { error, retryable: true, retry_after };
    }
    let hint = if code == 401 || code == 403 { format!(" ({})", call.auth_hint) } else { String::new() };
    let error = ProviderError::InvalidRequest(format!("{provider} rejected the request: HTTP {code}: {detail}{hint}"));
    Failure { error, retryable: false, retry_after: None }
}

/// The provider's own error message when the body has one, else the body's start.
async fn error_detail(resp: reqwest::Response) -> String {
    let reason = resp.status().canonical_reason().unwrap_or("error").to_string();
    let Ok(bytes) = resp.bytes().await else {
        return reason;
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_BODY)]).into_owned();
    let from_json = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| {
        let e = v.get("error")?;
        e.get("message").and_then(|m| m.as_str()).or_else(|| e.as_str()).map(str::to_string)
    });
    match from_json {
        Some(m) => m,
        None if text.trim().is_empty() => reason,
        None => text.trim().to_string(),
    }
}

/// `e` with its sources, so "error sending request" says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Removes the secret from a message (providers sometimes echo what they were sent).
fn scrub(e: ProviderError, secret: Option<&str>) -> ProviderError {
    let Some(secret) = secret.filter(|s| s.len() >= 4) else {
        return e;
    };
    match e {
        ProviderError::InvalidRequest(m) => ProviderError::InvalidRequest(m.replace(secret, "[redacted]")),
        ProviderError::Unavailable(m) => ProviderError::Unavailable(m.replace(secret, "[redacted]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(150), "{d1:?}");
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(600), "{d3:?}");
            assert!(p.delay(30, None) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600))), p.max_delay);
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let e = scrub(ProviderError::InvalidRequest("bad key sk-secret-123".into()), Some("sk-secret-123"));
        assert_eq!(e.to_string(), "bad key [redacted]");
    }

    #[test]
    fn policy_reads_from_toml_in_millis() {
        let p: RetryPolicy = toml::from_str("max_attempts = 2\nbase_delay = 10").expect("valid");
        assert_eq!(p.max_attempts, 2);
        assert_eq!(p.base_delay, Duration::from_millis(10));
        assert_eq!(p.max_delay, RetryPolicy::default().max_delay);
    }
}
