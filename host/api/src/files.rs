//! `/v1/deployments/{id}/files`: the deployment's persistent workspace.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::json::Body;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::files::{FileEntry, FileWritten, FolderListing, MAX_LIST_ENTRIES};

/// Query of the list endpoint: its own `limit` range (a folder comes whole up to
/// [`MAX_LIST_ENTRIES`], as the hosted API lists it) and the usual `cursor`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

impl ListQuery {
    /// The folder asked for, its page size and cursor, validated.
    pub(crate) fn parts(&self) -> Result<(Option<&str>, u32, Option<String>), ApiError> {
        Ok((self.path.as_deref(), self.limit()?, self.cursor.clone().filter(|c| !c.is_empty())))
    }

    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.as_deref() {
            None => Ok(MAX_LIST_ENTRIES),
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=MAX_LIST_ENTRIES).contains(n)).ok_or_else(|| {
                ApiError::validation(
                    Some("limit".into()),
                    format!("`limit` must be an integer between 1 and {MAX_LIST_ENTRIES}"),
                )
            }),
        }
    }
}

/// Query naming one file.
#[derive(Deserialize)]
pub struct PathQuery {
    #[serde(default)]
    path: Option<String>,
}

impl PathQuery {
    /// The file named, required.
    pub(crate) fn required(&self) -> Result<&str, ApiError> {
        self.path
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| ApiError::validation(Some("path".into()), "the `path` query parameter is required"))
    }
}

/// PUT body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutFile {
    /// Workspace-relative path; parent folders are created.
    path: String,
    /// The file's content: text, or base64 when `encoding` is `base64`.
    content: String,
    /// `utf-8` (default) or `base64` (for binary files).
    #[serde(default)]
    #[schema(nullable = false)]
    encoding: Option<String>,
}

/// A folder listing (the hosted shape, with our cursor for folders past the cap).
#[derive(Serialize, ToSchema)]
pub struct FileList {
    /// The folder listed, workspace-relative; `/` for the top.
    pub path: String,
    /// Its entries sorted by name.
    pub entries: Vec<FileEntry>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// Answer of DELETE.
#[derive(Serialize, ToSchema)]
pub struct FileDeleted {
    /// The deleted path.
    pub path: String,
    /// Always true.
    pub deleted: bool,
}

/// `GET …/files?path=`.
#[utoipa::path(get, path = "/v1/deployments/{id}/files", tag = "files", summary = "List a workspace folder",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("path" = Option<String>, Query, description = "Workspace-relative folder; default the top"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1–1000, default 1000 (the whole folder up to that)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous answer"),
    ),
    responses(
        (status = 200, description = "The folder's entries", body = FileList),
        CommonErrors,
        (status = 404, description = "No such deployment or folder", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<FileList>, ApiError> {
    caller.require("deployments:read")?;
    let (path, limit, cursor) = q.parts()?;
    Ok(Json(state.host.list_files(&caller.account_id, &id, path, cursor, limit).await?.into()))
}

impl From<FolderListing> for FileList {
    fn from(l: FolderListing) -> Self {
        let has_more = l.next_cursor.is_some();
        FileList { path: l.path, entries: l.entries, next_cursor: l.next_cursor, has_more }
    }
}

/// The answer of a file download.
pub(crate) fn bytes_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

/// `GET …/files/content?path=`.
#[utoipa::path(get, path = "/v1/deployments/{id}/files/content", tag = "files", summary = "Download a workspace file",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("path" = String, Query, description = "Workspace-relative file path"),
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        CommonErrors,
        (status = 404, description = "No such deployment or file", body = ErrorBody),
    ))]
pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Response, ApiError> {
    caller.require("deployments:read")?;
    Ok(bytes_response(state.host.read_file(&caller.account_id, &id, q.required()?).await?))
}

/// `PUT …/files`.
#[utoipa::path(put, path = "/v1/deployments/{id}/files", tag = "files", summary = "Create or replace a workspace file",
    params(("id" = String, Path, description = "dep_…")),
    request_body = PutFile,
    responses(
        (status = 200, description = "Written", body = FileWritten),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    ))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<PutFile>,
) -> Result<Json<FileWritten>, ApiError> {
    caller.require("deployments:write")?;
    let bytes = match body.encoding.as_deref() {
        None | Some("utf-8" | "utf8") => body.content.into_bytes(),
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(body.content.as_bytes())
            .map_err(|e| ApiError::validation(Some("content".into()), format!("`content` is not valid base64: {e}")))?,
        Some(other) => {
            return Err(ApiError::validation(
                Some("encoding".into()),
                format!("unknown encoding {other:?}; use `utf-8` or `base64`"),
            ));
        }
    };
    Ok(Json(state.host.write_file(&caller.account_id, &id, &body.path, bytes).await?))
}

/// `DELETE …/files?path=`.
#[utoipa::path(delete, path = "/v1/deployments/{id}/files", tag = "files", summary = "Delete a workspace file or folder",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("path" = String, Query, description = "Workspace-relative path; a folder is removed with its content"),
    ),
    responses(
        (status = 200, description = "Deleted", body = FileDeleted),
        CommonErrors,
        (status = 404, description = "No such deployment, file or folder", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    let path = state.host.delete_file(&caller.account_id, &id, q.required()?).await?;
    Ok(Json(json!({"path": path, "deleted": true})))
}
