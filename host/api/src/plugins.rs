//! `/v1/plugins`: upload (raw `application/wasm` or multipart with a `component` part
//! and an optional `manifest` JSON part), list, get, delete.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::plugins::{PluginInfo, Upload};

/// Query of the upload.
#[derive(Deserialize)]
pub struct UploadQuery {
    /// The plugin's name (the prefix of its tools); the manifest's when absent.
    name: Option<String>,
}

/// Multipart form of the upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PluginUpload {
    /// The `.wasm` component.
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
    /// JSON manifest: `{name?, version?, capabilities?: [...]}`; replaces the component's own.
    manifest: Option<String>,
}

/// A page of plugins.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PluginList {
    /// Newest first.
    data: Vec<PluginInfo>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
    /// Whether more pages follow.
    has_more: bool,
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_plugin",
        format!("the component is larger than this host's limit of {} MiB", limit >> 20),
    )
}

/// Reads the upload's bytes and manifest, refusing more than `limit` bytes of component.
async fn read_upload(req: Request, state: &AppState, limit: usize) -> Result<(Vec<u8>, Option<Vec<u8>>), ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::validation(None, format!("invalid multipart body: {e}")))?;
        let (mut component, mut manifest) = (None, None);
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::validation(None, format!("invalid multipart body: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(|_| too_large(limit))?;
            match name.as_str() {
                "component" if bytes.len() > limit => return Err(too_large(limit)),
                "component" => component = Some(bytes.to_vec()),
                "manifest" => manifest = Some(bytes.to_vec()),
                other => {
                    return Err(ApiError::validation(
                        Some(other.to_string()),
                        format!("unknown part {other:?}: send `component` and optionally `manifest`"),
                    ));
                }
            }
        }
        let component = component.ok_or_else(|| {
            ApiError::validation(Some("component".into()), "the multipart body needs a `component` part with the .wasm")
        })?;
        return Ok((component, manifest));
    }
    if !content_type.is_empty()
        && !content_type.starts_with("application/wasm")
        && !content_type.starts_with("application/octet-stream")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the component as `application/wasm`, or as multipart/form-data with a `component` part",
        ));
    }
    // Past the limit the rest is read and dropped (up to the route's body limit), so
    // the client finishes sending and reads the 422 instead of a broken pipe.
    use futures::StreamExt as _;
    let mut stream = req.into_body().into_data_stream();
    let (mut bytes, mut over) = (Vec::new(), false);
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            over = true;
            break;
        };
        if over || bytes.len() + chunk.len() > limit {
            over = true;
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if over {
        return Err(too_large(limit));
    }
    Ok((bytes, None))
}

/// `POST /v1/plugins` → 201.
#[utoipa::path(post, path = "/v1/plugins", tag = "plugins", summary = "Upload a plugin",
    params(("name" = Option<String>, Query, description = "Name (prefix of its tools); the manifest's when absent")),
    request_body(content(
        (Vec<u8> = "application/wasm"),
        (PluginUpload = "multipart/form-data"),
    ), description = "The component; or multipart with a `component` part and an optional `manifest` JSON part"),
    responses(
        (status = 201, description = "Validated, compiled and stored", body = PluginInfo),
        CommonErrors,
        (status = 415, description = "Neither application/wasm nor multipart", body = ErrorBody),
        (status = 422, description = "`invalid_plugin`: not a component, wrong world, compile failure, too large, bad or slow `list-tools`", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("plugins:write")?;
    let limit = state.host.plugin_limits().max_upload_bytes;
    let (wasm, manifest) = read_upload(req, &state, limit).await?;
    let info = state.host.upload_plugin(&caller.account_id, Upload { wasm, name: q.name, manifest }).await?;
    Ok((StatusCode::CREATED, Json(json!(info))))
}

/// `GET /v1/plugins`.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", summary = "List plugins",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("starting_after" = Option<String>, Query, description = "Alias of `cursor`"),
    ),
    responses((status = 200, description = "A page, newest first", body = PluginList), CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let page = state.host.plugins(&caller.account_id, q.cursor().map(str::to_string), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/plugins/{id}`.
#[utoipa::path(get, path = "/v1/plugins/{id}", tag = "plugins", summary = "Get a plugin",
    params(("id" = String, Path, description = "plg_…")),
    responses(
        (status = 200, description = "The plugin", body = PluginInfo),
        CommonErrors,
        (status = 404, description = "No such plugin in this account", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(json!(state.host.plugin(&caller.account_id, &id).await?)))
}

/// `DELETE /v1/plugins/{id}`.
#[utoipa::path(delete, path = "/v1/plugins/{id}", tag = "plugins", summary = "Delete a plugin",
    params(("id" = String, Path, description = "plg_…")),
    responses(
        (status = 200, description = "Deleted"),
        CommonErrors,
        (status = 404, description = "No such plugin", body = ErrorBody),
        (status = 409, description = "A deployment still uses it (named in the message)", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("plugins:write")?;
    state.host.delete_plugin(&caller.account_id, &id).await?;
    Ok(Json(json!({"plugin_id": id, "deleted": true})))
}
