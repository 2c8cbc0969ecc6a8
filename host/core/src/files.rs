//! The Files API over a deployment's persistent workspace: list, read, write and
//! delete. Every access goes through cap-std from the workspace directory, so
//! neither `..` nor a symlink planted by the guest can lead outside it.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::handle::Core;
use crate::{HostError, workspace};

/// Largest file the API reads or writes in one request.
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// Most entries one folder listing returns (and its default): a folder up to this
/// size comes whole, as the hosted API lists it; a larger one continues by cursor.
pub const MAX_LIST_ENTRIES: u32 = 1000;

/// One entry of a folder listing.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FileEntry {
    /// The entry's name in its folder.
    pub name: String,
    /// Workspace-relative path (`/` separated).
    pub path: String,
    /// `file`, `directory` or `symlink` (links are listed, never followed).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Last modification, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
}

/// One answer of a folder listing.
#[derive(Clone, Debug)]
pub struct FolderListing {
    /// The folder, workspace-relative (`/` separated); `/` for the top.
    pub path: String,
    /// Its entries after the cursor, sorted by name.
    pub entries: Vec<FileEntry>,
    /// The cursor of the rest, when more entries follow.
    pub next_cursor: Option<String>,
}

/// Answer of a write.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FileWritten {
    /// Workspace-relative path.
    pub path: String,
    /// Bytes written.
    pub size: u64,
    /// The file's modification time after the write, RFC 3339.
    pub modified_at: String,
    /// Whether the file did not exist before.
    pub created: bool,
}

/// The workspace-relative path of a request (`None` = the workspace itself).
fn parse(path: Option<&str>, root_ok: bool) -> Result<Option<PathBuf>, HostError> {
    let raw = path.unwrap_or("").trim();
    if matches!(raw, "" | "/" | "." | "./" | "/workspace" | "/workspace/") {
        return if root_ok { Ok(None) } else { Err(HostError::invalid("path", "`path` must name a file")) };
    }
    workspace::relative(raw).map(Some).map_err(|m| HostError::invalid("path", m))
}

fn display(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

/// Maps a filesystem error on `path` to what the client should fix.
fn fs_error(path: &str, e: io::Error) -> HostError {
    match e.kind() {
        io::ErrorKind::NotFound => HostError::NotFound(format!("no file or folder {path:?} in the workspace")),
        // cap-std's answer to a path (or a symlink) leading outside the workspace.
        io::ErrorKind::PermissionDenied => HostError::invalid("path", format!("path {path:?} leaves the workspace")),
        io::ErrorKind::IsADirectory => HostError::invalid("path", format!("{path:?} is a folder")),
        // create_dir_all meeting a file, or a symlink it will not follow.
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
            HostError::invalid("path", format!("a parent of {path:?} is not a folder inside the workspace"))
        }
        _ => HostError::Io { context: format!("workspace file {path:?}"), source: e },
    }
}

fn modified(m: &cap_std::fs::Metadata) -> Option<String> {
    let t = m.modified().ok()?.into_std();
    Some(chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Runs filesystem work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HostError> + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HostError::Io { context: "workspace file task".into(), source: io::Error::other(e) })?
}

/// A folder (`None` = the top) of the workspace at `dir`: the Files API's listing, for a
/// live workspace and a retained one alike.
pub(crate) async fn list_in(
    dir: PathBuf,
    path: Option<&str>,
    cursor: Option<String>,
    limit: u32,
) -> Result<FolderListing, HostError> {
    if !(1..=MAX_LIST_ENTRIES).contains(&limit) {
        return Err(HostError::invalid("limit", format!("`limit` must be between 1 and {MAX_LIST_ENTRIES}")));
    }
    let rel = parse(path, true)?;
    blocking(move || {
        let ws = workspace::open(&dir).map_err(HostError::io("opening the workspace"))?;
        let shown = rel.as_deref().map(display).unwrap_or_default();
        let entries = match &rel {
            Some(r) => ws.read_dir(r),
            None => ws.entries(),
        }
        .map_err(|e| fs_error(&shown, e))?;
        let mut names: Vec<String> =
            entries.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        let start = cursor.as_deref().map_or(0, |c| names.partition_point(|n| n.as_str() <= c));
        let mut data = Vec::new();
        let (mut next_cursor, mut last) = (None, None);
        for name in &names[start..] {
            if data.len() == limit as usize {
                next_cursor = last;
                break;
            }
            let p = rel.as_ref().map_or_else(|| PathBuf::from(name), |r| r.join(name));
            let Ok(meta) = ws.symlink_metadata(&p) else { continue };
            let kind = if meta.is_dir() {
                "directory"
            } else if meta.file_type().is_symlink() {
                "symlink"
            } else {
                "file"
            };
            data.push(FileEntry {
                name: name.clone(),
                path: display(&p),
                kind,
                size: (kind == "file").then(|| meta.len()),
                modified_at: modified(&meta),
            });
            last = Some(name.clone());
        }
        let path = if shown.is_empty() { "/".to_string() } else { shown };
        Ok(FolderListing { path, entries: data, next_cursor })
    })
    .await
}

/// The bytes of one file (at most [`MAX_FILE_BYTES`]) of the workspace at `dir`.
pub(crate) async fn read_in(dir: PathBuf, path: &str) -> Result<Vec<u8>, HostError> {
    let rel = parse(Some(path), false)?.unwrap_or_default();
    let shown = path.to_string();
    blocking(move || {
        use std::io::Read;
        let ws = workspace::open(&dir).map_err(HostError::io("opening the workspace"))?;
        let meta = ws.metadata(&rel).map_err(|e| fs_error(&shown, e))?;
        if meta.is_dir() {
            return Err(HostError::invalid("path", format!("{shown:?} is a folder; list it with GET …/files")));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(HostError::invalid("path", format!("{shown:?} is larger than 32 MiB")));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        ws.open(&rel)
            .map_err(|e| fs_error(&shown, e))?
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| fs_error(&shown, e))?;
        Ok(bytes)
    })
    .await
}

impl Core {
    /// A folder of a deployment's workspace (`None` = its top), by name, one page
    /// of `limit` (1–[`MAX_LIST_ENTRIES`]) entries after the entry named `cursor`.
    pub async fn list_files(
        &self,
        account_id: &str,
        deployment_id: &str,
        path: Option<&str>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<FolderListing, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        list_in(self.workspace_dir(deployment_id), path, cursor, limit).await
    }

    /// The bytes of one workspace file (at most [`MAX_FILE_BYTES`]).
    pub async fn read_file(&self, account_id: &str, deployment_id: &str, path: &str) -> Result<Vec<u8>, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        read_in(self.workspace_dir(deployment_id), path).await
    }

    /// Creates or replaces a workspace file (parent folders created).
    pub async fn write_file(
        &self,
        account_id: &str,
        deployment_id: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<FileWritten, HostError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(HostError::invalid("content", "`content` is larger than 32 MiB"));
        }
        self.deployment_in(account_id, deployment_id).await?;
        let rel = parse(Some(path), false)?.unwrap_or_default();
        let dir = self.workspace_dir(deployment_id);
        let quota = self.services.runtime.workspace_quota(&dir).await;
        let shown = path.to_string();
        blocking(move || {
            let ws = workspace::open(&dir).map_err(HostError::io("opening the workspace"))?;
            let before = ws.symlink_metadata(&rel).ok();
            if before.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(HostError::invalid("path", format!("{shown:?} is a folder")));
            }
            // Only the growth is charged (a new entry costs its 512 bytes), before the
            // write; a smaller replacement gives the difference back after it.
            let replaced = before.as_ref().filter(|m| m.is_file()).map_or(0, |m| m.len());
            let after = bytes.len() as u64 + if before.is_none() { hermes_runtime::ENTRY_BYTES } else { 0 };
            let charge = after.saturating_sub(replaced);
            quota.reserve(charge).map_err(|e| {
                HostError::TooLarge(format!(
                    "writing {shown:?} would take the workspace past its quota of {} MiB ({} MiB used); \
                     delete files to make room",
                    e.limit >> 20,
                    e.used >> 20
                ))
            })?;
            if let Err(e) = workspace::write(&ws, &rel, &bytes) {
                quota.release(charge);
                return Err(fs_error(&shown, e));
            }
            quota.release(replaced.saturating_sub(after));
            let modified_at = ws
                .metadata(&rel)
                .ok()
                .and_then(|m| modified(&m))
                .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            Ok(FileWritten { path: display(&rel), size: bytes.len() as u64, modified_at, created: before.is_none() })
        })
        .await
    }

    /// Deletes a workspace file, or a folder with everything in it.
    pub async fn delete_file(&self, account_id: &str, deployment_id: &str, path: &str) -> Result<String, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let rel = parse(Some(path), false)?.unwrap_or_default();
        let dir = self.workspace_dir(deployment_id);
        let quota = self.services.runtime.workspace_quota(&dir).await;
        let shown = path.to_string();
        blocking(move || {
            let ws = workspace::open(&dir).map_err(HostError::io("opening the workspace"))?;
            let meta = ws.symlink_metadata(&rel).map_err(|e| fs_error(&shown, e))?;
            let freed = if meta.is_dir() {
                // The folder's own entry and what the quota's walk counts inside it
                // (cap-std has just checked that the path stays in the workspace).
                hermes_runtime::ENTRY_BYTES + hermes_runtime::measure_workspace(&dir.join(&rel))
            } else {
                hermes_runtime::ENTRY_BYTES + if meta.is_file() { meta.len() } else { 0 }
            };
            if meta.is_dir() { ws.remove_dir_all(&rel) } else { ws.remove_file(&rel) }
                .map_err(|e| fs_error(&shown, e))?;
            quota.release(freed);
            Ok(display(&rel))
        })
        .await
    }
}
