//! The REST API: a thin axum layer over [`hermes_core::Host`].

mod agents;
mod approvals;
mod auth;
mod automations;
mod deployments;
mod error;
mod events;
mod extract;
mod files;
mod idempotency;
pub mod json;
mod memories;
mod messages;
pub mod openapi;
mod paging;
mod plugins;
mod retained;
pub mod schema;
mod secrets;
mod serve;
mod sessions;
mod skills;
mod system;
mod tenancy;
mod threads;
mod tools;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::Caller;
pub use error::ApiError;
pub use serve::{ServeOptions, peer, serve};

use hermes_core::Host;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The host the API fronts.
    pub host: Host,
    /// Request-rate and event-stream bounds per tenant.
    pub tenancy: std::sync::Arc<tenancy::Tenancy>,
}

/// The whole API as a `Router`, ready to serve or to mount inside another server.
pub fn router(host: Host) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // Multipart framing and the manifest ride beside the component.
    let upload_limit = host.plugin_limits().max_upload_bytes + (1 << 20);
    let tenancy = std::sync::Arc::new(tenancy::Tenancy::new(host.tenant_limits()));
    let state = AppState { host, tenancy };
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::docs))
        .route("/v1/account", get(system::account))
        .route("/v1/usage", get(secrets::usage))
        .route("/v1/secrets", post(secrets::create).get(secrets::list))
        .route("/v1/secrets/{id}", get(secrets::get).patch(secrets::update).delete(secrets::delete))
        .route("/v1/plugins", post(plugins::upload).layer(DefaultBodyLimit::max(upload_limit)).get(plugins::list))
        .route("/v1/plugins/{id}", get(plugins::get).delete(plugins::delete))
        .route("/v1/agents", post(agents::create).get(agents::list))
        .route("/v1/agents/{agent_id}", get(agents::get).post(agents::update).patch(agents::patch))
        .route("/v1/agents/{agent_id}/versions", get(agents::versions))
        .route("/v1/agents/{agent_id}/archive", post(agents::archive))
        .route("/v1/agents/{agent_id}/sessions", post(agents::create_session))
        .route("/v1/sessions", get(agents::list_sessions))
        .route(
            "/v1/sessions/{session_id}",
            get(agents::get_session).patch(agents::patch_session).delete(agents::delete_session),
        )
        .route("/v1/sessions/{session_id}/archive", post(agents::archive_session))
        .route("/v1/sessions/{session_id}/events", post(sessions::send).get(sessions::list))
        .route("/v1/sessions/{session_id}/events/stream", get(sessions::stream))
        .route("/v1/retained", get(retained::list))
        .route("/v1/retained/{id}", get(retained::get).delete(retained::delete))
        .route("/v1/retained/{id}/files", get(retained::files))
        .route("/v1/retained/{id}/files/content", get(retained::content))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{webhook_id}", get(webhooks::get).delete(webhooks::delete))
        .route(
            "/v1/deployments",
            post(deployments::create).layer(DefaultBodyLimit::max(32 << 20)).get(deployments::list),
        )
        .route("/v1/deployments/{id}", get(deployments::get).patch(deployments::patch).delete(deployments::delete))
        .route("/v1/deployments/{id}/skills", get(skills::list).post(skills::create))
        .route("/v1/deployments/{id}/skills/{skill_id}", get(skills::get).put(skills::replace).delete(skills::delete))
        .route("/v1/deployments/{id}/tools", get(tools::list))
        .route(
            "/v1/deployments/{id}/files",
            get(files::list).put(files::put).layer(DefaultBodyLimit::max(48 << 20)).delete(files::delete),
        )
        .route("/v1/deployments/{id}/files/content", get(files::content))
        .route("/v1/deployments/{id}/tools/{name}", axum::routing::patch(tools::patch))
        .route("/v1/deployments/{id}/messages", post(messages::send))
        .route("/v1/deployments/{id}/memories", get(memories::list).post(memories::create))
        .route(
            "/v1/deployments/{id}/memories/{memory_id}",
            get(memories::get).patch(memories::patch).delete(memories::delete),
        )
        .route("/v1/deployments/{id}/dream", post(memories::dream))
        .route("/v1/deployments/{id}/threads", post(threads::create).get(threads::list))
        .route(
            "/v1/deployments/{id}/threads/{thread_id}",
            get(threads::get).patch(threads::patch).delete(threads::delete),
        )
        .route("/v1/deployments/{id}/runs/{run_id}", get(messages::get_run))
        .route("/v1/deployments/{id}/runs/{run_id}/cancel", post(messages::cancel_run))
        .route("/v1/deployments/{id}/runs/{run_id}/steer", post(approvals::steer))
        .route("/v1/deployments/{id}/approvals", get(approvals::list))
        .route("/v1/deployments/{id}/approvals/{approval_id}", get(approvals::get).post(approvals::decide))
        .route("/v1/deployments/{id}/events", get(events::stream))
        .route("/v1/deployments/{id}/automations", post(automations::create).get(automations::list))
        .route(
            "/v1/deployments/{id}/automations/{aid}",
            get(automations::get).patch(automations::patch).delete(automations::delete),
        )
        .route("/v1/deployments/{id}/automations/{aid}/run", post(automations::run))
        .fallback(system::not_found)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(state, idempotency::layer))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // A server span in the caller's trace when it sent `traceparent`.
                    let span = tracing::info_span!(
                        "request",
                        otel.name = %req.method(),
                        otel.kind = "server",
                        otel.status_code = tracing::field::Empty,
                        http.request.method = %req.method(),
                        url.path = %req.uri().path(),
                        http.response.status_code = tracing::field::Empty,
                        hermes.request_id = %id,
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                    );
                    hermes_telemetry::adopt_headers(&span, req.headers());
                    span
                })
                .on_response(|res: &axum::http::Response<_>, _latency: std::time::Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", i64::from(res.status().as_u16()));
                    if res.status().is_server_error() {
                        span.record("otel.status_code", "ERROR");
                    }
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
