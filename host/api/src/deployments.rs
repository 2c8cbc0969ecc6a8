//! `/v1/deployments`.

use super::extract::{Path, Query};
use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{self, Body};
use super::paging::PageQuery;
use super::schema::{
    CommonErrors, DeploymentDeleted, DeploymentList, DeploymentObject, DeploymentPatch, DeploymentUpload, ErrorBody,
    RetainedFilesystem,
};
use super::{ApiError, AppState, Caller};
use hermes_core::deployments::Upload;
use hermes_core::{Deployment, DeploymentSpec};
use hermes_types::paging::DeploymentFilter;
use hermes_types::status::DeploymentStatus;

fn render(d: &Deployment, base: &str) -> Value {
    json!({
        "deployment_id": d.deployment_id,
        "customer_id": d.customer_id,
        "name": d.name,
        "runtime": d.runtime,
        "status": d.status,
        "model": d.model,
        "thread_id": d.thread_id,
        "error": d.error.as_ref().map(|m| json!({"message": m})),
        "filesystem": {"workspace_path": "/workspace", "persistent": true},
        "events": {"transport": "sse", "url": format!("{base}/v1/deployments/{}/events", d.deployment_id)},
        "warnings": d.warnings,
        "created_at": d.created_at,
        "config": {
            "system_prompt": d.spec.system_prompt,
            "sandbox": {"enabled": true, "type": d.spec.sandbox.kind, "persistent_filesystem": d.spec.sandbox.persistent_filesystem},
            "features": d.spec.features,
            "secrets": d.spec.secrets.keys().collect::<Vec<_>>(),
            "disabled_tools": d.spec.disabled_tools,
        },
        "skills": d.spec.skills.iter().map(|s| match s {
            hermes_types::spec::SkillSpec::Inline { name, .. } => json!({"name": name, "source": "inline"}),
            hermes_types::spec::SkillSpec::File { name, path } => json!({"name": name, "source": "file", "path": path}),
            hermes_types::spec::SkillSpec::Url { name, url } => json!({"name": name, "source": "url", "url": url}),
        }).collect::<Vec<_>>(),
        "mcp_servers": d.spec.mcp_servers.iter().map(|m| json!({
            "name": m.name, "url": m.url, "tools": m.tools,
            "headers": m.headers.keys().collect::<Vec<_>>(),
            "status": "connecting", "error": null, "tool_count": null, "protocol_version": null,
        })).collect::<Vec<_>>(),
        "plugins": d.spec.plugins,
    })
}

/// The base of the URLs the API answers with: `[api] public_url` when set, else the
/// scheme and host the request came in on (from the forwarding headers only when
/// `trust_forwarded_headers`; a value that is not a plain host is ignored).
fn base_url(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    let config = state.host.api_config();
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    let first = |v: &str| v.split(',').next().unwrap_or_default().trim().to_string();
    let (mut proto, mut host) = (None, None);
    if config.trust_forwarded_headers {
        // RFC 7239: `Forwarded: for=…;proto=https;host=example.com, for=…` (first hop).
        if let Some(forwarded) = header("forwarded") {
            for pair in first(forwarded).split(';') {
                let (k, v) = pair.split_once('=').unwrap_or_default();
                let v = v.trim().trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(v),
                    "host" => host = Some(v),
                    _ => {}
                }
            }
        }
        proto = proto.or_else(|| header("x-forwarded-proto").map(first));
        host = host.or_else(|| header("x-forwarded-host").map(first));
    }
    let proto = proto.map(|p| p.to_ascii_lowercase()).filter(|p| p == "http" || p == "https");
    let plain = |h: &String| {
        !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    let host = host.filter(plain).or_else(|| header("host").map(str::to_string).filter(plain));
    format!("{}://{}", proto.as_deref().unwrap_or("http"), host.as_deref().unwrap_or("localhost"))
}

/// Largest multipart create request (the deployment JSON plus uploaded files).
const MAX_MULTIPART: usize = 32 << 20;

/// Reads a create request: JSON, or multipart with a `deployment` JSON part and file
/// parts named by their workspace path.
async fn read_create(req: Request, state: &AppState) -> Result<(DeploymentSpec, Vec<Upload>), ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if !content_type.starts_with("multipart/form-data") {
        let Body(spec) = Body::<DeploymentSpec>::from_request(req, state).await?;
        return Ok((spec, Vec::new()));
    }
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::validation(None, format!("invalid multipart body: {e}")))?;
    let mut spec = None;
    let mut uploads = Vec::new();
    let mut total = 0usize;
    while let Some(field) =
        multipart.next_field().await.map_err(|e| ApiError::validation(None, format!("invalid multipart body: {e}")))?
    {
        let name = field.name().map(str::to_string).or_else(|| extended_name(field.headers())).unwrap_or_default();
        let bytes =
            field.bytes().await.map_err(|e| ApiError::validation(Some(name.clone()), format!("reading part: {e}")))?;
        total += bytes.len();
        if total > MAX_MULTIPART {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the upload exceeds 32 MiB"));
        }
        if name == "deployment" {
            spec = Some(json::parse::<DeploymentSpec>(&bytes)?);
        } else if name.is_empty() {
            return Err(ApiError::validation(None, "every file part needs a name: its workspace path"));
        } else {
            uploads.push(Upload { path: name, bytes: bytes.to_vec() });
        }
    }
    let spec = spec.ok_or_else(|| {
        ApiError::validation(Some("deployment".into()), "the multipart body needs a `deployment` part with the JSON")
    })?;
    Ok((spec, uploads))
}

/// The RFC 5987 form of a part's name (`name*=utf-8''…`), which clients such as
/// reqwest use for names with `/` and which the multipart parser does not decode.
fn extended_name(headers: &axum::http::HeaderMap) -> Option<String> {
    let cd = headers.get(header::CONTENT_DISPOSITION)?.to_str().ok()?;
    let value = cd.split(';').map(str::trim).find_map(|p| p.strip_prefix("name*="))?;
    let encoded = value.split_once("''").map_or(value, |(_, v)| v).trim_matches('"');
    percent_encoding::percent_decode_str(encoded).decode_utf8().ok().map(|c| c.into_owned())
}

/// `POST /v1/deployments` (JSON or multipart).
#[utoipa::path(
    post, path = "/v1/deployments", tag = "deployments",
    summary = "Create a deployment",
    request_body(content(
        (DeploymentSpec = "application/json"),
        (DeploymentUpload = "multipart/form-data"),
    ), description = "The seed's body; or multipart with a `deployment` JSON part and file parts named by workspace path"),
    responses(
        (status = 201, description = "Created (ready)", body = DeploymentObject),
        CommonErrors,
        (status = 402, description = "The account has no credits", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "invalid_skill or invalid_secret_ref", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("deployments:write")?;
    let base = base_url(&state, req.headers());
    let (spec, uploads) = read_create(req, &state).await?;
    let d = state.host.create_deployment_as(&caller.account_id, spec, uploads, caller.authority()).await?;
    Ok((StatusCode::CREATED, Json(render(&d, &base))))
}

/// Query of the deployment list: filters plus paging.
#[derive(Deserialize)]
pub struct ListQuery {
    customer_id: Option<String>,
    status: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /v1/deployments`.
#[utoipa::path(
    get, path = "/v1/deployments", tag = "deployments",
    summary = "List deployments",
    params(
        ("customer_id" = Option<String>, Query, description = "Only this customer's deployments"),
        ("status" = Option<String>, Query, description = "provisioning | ready | error"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("starting_after" = Option<String>, Query, description = "Alias of `cursor`"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = DeploymentList),
        CommonErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let limit = q.page.limit()?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(DeploymentStatus::parse(s).ok_or_else(|| {
            ApiError::validation(Some("status".into()), "`status` must be provisioning, ready or error")
        })?),
    };
    let filter =
        DeploymentFilter { customer_id: q.customer_id, status, starting_after: q.page.cursor().map(str::to_string) };
    let page = state.host.list_deployments(&caller.account_id, filter, limit).await?;
    let base = base_url(&state, &headers);
    let data: Vec<Value> = page.data.iter().map(|d| render(d, &base)).collect();
    Ok(Json(super::paging::page_body(data, &page.next_cursor)))
}

/// `PATCH /v1/deployments/{id}`.
#[utoipa::path(
    patch, path = "/v1/deployments/{id}", tag = "deployments",
    summary = "Update a deployment",
    description = "Omitted fields are kept, scalars replaced, arrays replaced whole, `secrets` merged key by key (`null` removes). Applies from the next run.",
    params(("id" = String, Path, description = "dep_…")),
    request_body(content = DeploymentPatch, description = "Any subset of the create body's fields"),
    responses(
        (status = 200, description = "The updated deployment", body = DeploymentObject),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 422, description = "invalid_skill or invalid_secret_ref", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Body(changes): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    let d = state.host.patch_deployment_as(&caller.account_id, &id, changes, caller.authority()).await?;
    Ok(Json(render(&d, &base_url(&state, &headers))))
}

/// Query of DELETE.
#[derive(Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    retain_filesystem: bool,
}

/// `DELETE /v1/deployments/{id}`.
#[utoipa::path(
    delete, path = "/v1/deployments/{id}", tag = "deployments",
    summary = "Delete a deployment",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("retain_filesystem" = Option<bool>, Query, description = "Keep a snapshot of the workspace"),
    ),
    responses(
        (status = 200, description = "Deleted", body = DeploymentDeleted),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<DeploymentDeleted>, ApiError> {
    caller.require("deployments:write")?;
    let kept = state.host.delete_deployment(&caller.account_id, &id, q.retain_filesystem).await?;
    let filesystem = kept.map(|kept| RetainedFilesystem {
        retained: true,
        expires_at: kept.expires_at,
        url: format!("{}/v1/retained/{id}", base_url(&state, &headers)),
    });
    Ok(Json(DeploymentDeleted { deployment_id: id, status: "deleted".into(), filesystem }))
}

/// `GET /v1/deployments/{id}`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}", tag = "deployments",
    summary = "Get a deployment",
    params(("id" = String, Path, description = "dep_…")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentObject),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let d = state.host.deployment_in(&caller.account_id, &id).await?;
    let mut body = render(&d, &base_url(&state, &headers));
    // Live MCP state.
    let statuses = state.host.mcp_statuses(&d);
    if let Some(servers) = body["mcp_servers"].as_array_mut() {
        for (server, (_, st)) in servers.iter_mut().zip(statuses) {
            server["status"] = json!(st.state);
            server["error"] = st.error.map_or(Value::Null, |m| json!({"message": m}));
            server["tool_count"] = json!(st.tool_count);
            server["protocol_version"] = json!(st.protocol_version);
        }
    }
    Ok(Json(body))
}
