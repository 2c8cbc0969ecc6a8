//! OpenTelemetry traces for the host.
//!
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set,
//! [`from_env`] gives a `tracing` layer that exports the host's spans over OTLP/HTTP
//! (protobuf), configured by the standard `OTEL_*` variables the SDK reads itself
//! (headers, timeout, batch delays, sampler, service name, resource attributes).
//! Without it nothing is exported and every function here is a cheap no-op, so the
//! floors can call them unconditionally.
//!
//! The other half is W3C trace context: a `traceparent` accepted on the API, kept
//! with a run so the run joins the caller's trace even when it starts later or on
//! another host, and sent on to MCP servers and webhook receivers.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// What can go wrong setting up the exporter.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the `OTEL_*` settings.
    #[error("OpenTelemetry exporter: {0}")]
    Exporter(String),
    /// A setting is not one this host supports.
    #[error("OpenTelemetry setting {name}={value:?}: {why}")]
    Unsupported {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        why: &'static str,
    },
}

/// The running exporter; [`Telemetry::shutdown`] flushes what is still batched.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports every span still batched, then stops the exporter. Blocking (the SDK
    /// flushes on its own thread): call it off the async threads or at exit.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "flushing OpenTelemetry spans at shutdown failed");
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// True when tracing is asked for: an OTLP endpoint is set, and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns it off.
pub fn requested() -> bool {
    static REQUESTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REQUESTED.get_or_init(read_requested)
}

fn read_requested() -> bool {
    let endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT")).is_some();
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let none = env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    endpoint && !disabled && !none
}

/// The OTLP layer for the host's spans, when [`requested`]; `None` otherwise.
///
/// Only the host's own spans (targets `hermes*`, at `info` and above) are exported:
/// the spans of the HTTP and database libraries underneath would drown a run's tree.
pub fn from_env<S>() -> Result<Option<(impl Layer<S>, Telemetry)>, TelemetryError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    if !requested() {
        return Ok(None);
    }
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
        // gRPC would pull in a second HTTP/2 stack (tonic); collectors take both.
        return Err(TelemetryError::Unsupported {
            name: "OTEL_EXPORTER_OTLP_PROTOCOL",
            value: p,
            why: "this host exports OTLP over HTTP with protobuf (http/protobuf) only",
        });
    }
    let endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"));
    if let Some(e) = endpoint.filter(|e| !e.starts_with("http://")) {
        // The exporter's HTTP client is built without TLS (no second TLS stack in
        // the binary): a collector beside the host forwards to a TLS backend.
        return Err(TelemetryError::Unsupported {
            name: "OTEL_EXPORTER_OTLP_ENDPOINT",
            value: e,
            why: "this host exports to an http:// endpoint only: run an OpenTelemetry Collector beside it and \
                  let the collector forward over TLS",
        });
    }
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("hermes-host");
    }
    let resource =
        resource.with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))).build();
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
    let tracer = provider.tracer("hermes-host");
    let only_ours = tracing_subscriber::filter::Targets::new().with_target("hermes", tracing::Level::INFO);
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(only_ours);
    Ok(Some((layer, Telemetry { provider })))
}

/// True when spans may carry prompt and tool content
/// (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`); off by default.
pub fn capture_content() -> bool {
    static CAPTURE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAPTURE.get_or_init(|| {
        env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    })
}

struct Headers<'a>(&'a mut http::HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value)) {
            self.0.insert(k, v);
        }
    }
}

struct ReadHeaders<'a>(&'a http::HeaderMap);

impl Extractor for ReadHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes the caller's trace (`traceparent`/`tracestate` headers) the parent of `span`.
/// Headers without a valid `traceparent` leave `span` where it was.
pub fn adopt_headers(span: &Span, headers: &http::HeaderMap) {
    adopt_from(span, &ReadHeaders(headers));
}

/// Makes the trace a stored `traceparent` names the parent of `span`: a run joins
/// the trace of the request that started it, whenever and wherever it runs.
pub fn adopt(span: &Span, traceparent: &str) {
    adopt_from(span, &HashMap::from([("traceparent".to_string(), traceparent.to_string())]));
}

/// The parent from `carrier`, when it holds a valid trace context. Only a span not yet
/// entered takes it: after that its OpenTelemetry span has started, parent fixed.
fn adopt_from(span: &Span, carrier: &dyn Extractor) {
    let cx = TraceContextPropagator::new().extract(carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The W3C `traceparent` of `span`, when it is being traced.
pub fn traceparent_of(span: &Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The W3C `traceparent` of the current span, when it is being traced.
pub fn traceparent() -> Option<String> {
    traceparent_of(&Span::current())
}

/// Adds the current span's `traceparent` (and `tracestate`) to outgoing `headers`.
pub fn inject(headers: &mut http::HeaderMap) {
    let cx = Span::current().context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut Headers(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_nothing_is_propagated() {
        let span = tracing::info_span!("untraced");
        assert_eq!(traceparent_of(&span), None);
        let mut headers = http::HeaderMap::new();
        let _e = span.enter();
        inject(&mut headers);
        assert!(headers.is_empty());
    }
}
