//! Workspace quotas: the bytes one deployment's `/workspace` may hold, enforced
//! where the guest writes.
//!
//! Every instance that opens a workspace (a run, a plugin call, a shell or python
//! command) shares the deployment's one [`WorkspaceQuota`]. The count starts from a
//! walk of the directory and then follows the guest's own operations: WASI writes
//! charge the growth of the file they extend, and creating or removing an entry,
//! truncating or replacing a file adjusts it. A write past the quota fails in the
//! guest before anything reaches the disk: as `ENOSPC` where WASI returns an error
//! code (opening, creating, `write` at an offset, `set-size`), and as the bare I/O
//! error guests make of any failed stream write, which is why the code tools add a
//! note naming the quota ([`WorkspaceQuota::refusals`]).
//!
//! WASI has no hook for this, so the handful of `wasi:filesystem/types` functions
//! that change sizes are shadowed in the linker: each checks the quota, then calls
//! wasmtime-wasi's own implementation (which keeps the sandboxing of paths).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hermes_types::sync::Locked;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, Host as _, HostDescriptor, OpenFlags,
    PathFlags,
};
use wasmtime_wasi::p2::{DynOutputStream, FsResult, OutputStream, Pollable, StreamError, StreamResult};

/// What one directory entry (a file, folder or link) costs beside its bytes: an
/// empty file still takes an inode and a directory slot, so a million of them are
/// not free.
pub const ENTRY_BYTES: u64 = 512;

/// How long a walk's figure is trusted before the next instance measures again
/// (changes the count does not see, such as a crash mid-write, are corrected then).
const REMEASURE_AFTER: Duration = Duration::from_secs(60);

/// The name the WASI filesystem functions are linked under (wasmtime-wasi 48).
const FS_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Bytes a workspace holds and may hold, shared by every instance that opens it.
#[derive(Debug)]
pub struct WorkspaceQuota {
    limit: u64,
    used: AtomicU64,
    /// Reservations refused so far, so a program's runner can say why a write failed
    /// (guests report a failed stream write as a bare I/O error).
    refused: AtomicU64,
    measured_at: Mutex<Option<Instant>>,
}

/// A write or a new entry that would take the workspace past its quota.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the workspace is full: {used} of {limit} bytes used, {wanted} more asked")]
pub struct QuotaExceeded {
    /// Bytes the workspace holds now.
    pub used: u64,
    /// Its quota.
    pub limit: u64,
    /// Bytes the refused operation would have added.
    pub wanted: u64,
}

impl WorkspaceQuota {
    /// A quota of `limit` bytes with nothing counted yet (measured on first use).
    fn new(limit: u64) -> WorkspaceQuota {
        WorkspaceQuota { limit, used: AtomicU64::new(0), refused: AtomicU64::new(0), measured_at: Mutex::new(None) }
    }

    /// The quota in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes counted as held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Counts `n` more bytes, or refuses without counting when that passes the quota.
    pub fn reserve(&self, n: u64) -> Result<(), QuotaExceeded> {
        if n == 0 {
            return Ok(());
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .map(|_| ())
            .map_err(|used| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                QuotaExceeded { used, limit: self.limit, wanted: n }
            })
    }

    /// How many reservations were refused since the quota was made.
    pub fn refusals(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Gives `n` bytes back (a deletion, a truncation, a refused operation).
    pub fn release(&self, n: u64) {
        // Saturating: a count that started from a stale walk must not wrap around.
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| Some(used.saturating_sub(n)));
    }

    fn stale(&self) -> bool {
        let at = *self.measured_at.locked();
        at.is_none_or(|at| at.elapsed() > REMEASURE_AFTER)
    }

    fn set_measured(&self, used: u64) {
        self.used.store(used, Ordering::Release);
        *self.measured_at.locked() = Some(Instant::now());
    }
}

/// The quotas of every workspace this host has opened, keyed by directory.
pub(crate) struct Quotas {
    limit: u64,
    by_dir: Mutex<HashMap<PathBuf, Arc<WorkspaceQuota>>>,
}

impl Quotas {
    /// Quotas of `limit` bytes each.
    pub(crate) fn new(limit: u64) -> Quotas {
        Quotas { limit, by_dir: Mutex::new(HashMap::new()) }
    }

    /// The quota of the workspace at `dir`, measured (on a blocking thread) when
    /// first asked for or when its last walk is old.
    pub(crate) async fn of(&self, dir: &Path) -> Arc<WorkspaceQuota> {
        let quota = self
            .by_dir
            .locked()
            .entry(dir.to_path_buf())
            .or_insert_with(|| Arc::new(WorkspaceQuota::new(self.limit)))
            .clone();
        if quota.stale() {
            let walk = dir.to_path_buf();
            match tokio::task::spawn_blocking(move || measure(&walk)).await {
                Ok(used) => quota.set_measured(used),
                Err(e) => tracing::warn!(error = %e, "measuring a workspace"),
            }
        }
        quota
    }
}

/// Bytes a directory holds as the quota counts them: each entry's [`ENTRY_BYTES`]
/// plus the length of each regular file. Links are counted, never followed.
pub fn measure(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| {
            let len = match entry.metadata() {
                Ok(m) if m.is_file() => m.len(),
                _ => 0,
            };
            ENTRY_BYTES + len
        })
        .sum()
}

/// Store data that may carry a workspace quota.
pub(crate) trait HasQuota: WasiView {
    /// The quota of the workspace this instance opened, if it opened one.
    fn quota(&self) -> Option<Arc<WorkspaceQuota>>;
}

/// The error a guest sees for a write past the quota.
fn no_space() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOSPC)
}

/// Shadows the size-changing `wasi:filesystem/types` functions with quota checks.
/// Call after `wasmtime_wasi::p2::add_to_linker_async`.
pub(crate) fn add_to_linker<T: HasQuota + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(FS_TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.write-via-stream",
        |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
            Box::new(async move {
                let quota = store.data().quota();
                let file = file_of(store.data_mut(), &fd);
                let mut view = store.data_mut().filesystem();
                match HostDescriptor::write_via_stream(&mut view, fd, offset) {
                    Ok(stream) => Ok((Ok(meter(view.table, stream, quota, file, Some(offset))?),)),
                    Err(e) => Ok((Err(view.convert_error_code(e)?),)),
                }
            })
        },
    )?;
    types.func_wrap_async("[method]descriptor.append-via-stream", |mut store, (fd,): (Resource<Descriptor>,)| {
        Box::new(async move {
            let quota = store.data().quota();
            let file = file_of(store.data_mut(), &fd);
            let mut view = store.data_mut().filesystem();
            match HostDescriptor::append_via_stream(&mut view, fd) {
                Ok(stream) => Ok((Ok(meter(view.table, stream, quota, file, None)?),)),
                Err(e) => Ok((Err(view.convert_error_code(e)?),)),
            }
        })
    })?;
    types.func_wrap_async(
        "[method]descriptor.write",
        |mut store, (fd, buf, offset): (Resource<Descriptor>, Vec<u8>, u64)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                let end = offset.saturating_add(buf.len() as u64);
                let growth = match size_of(&mut view, &quota, &fd).await {
                    Some(len) => end.saturating_sub(len),
                    None => 0,
                };
                let out = charged(&quota, growth, 0, HostDescriptor::write(&mut view, fd, buf, offset)).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async("[method]descriptor.set-size", |mut store, (fd, size): (Resource<Descriptor>, u64)| {
        Box::new(async move {
            let quota = store.data().quota();
            let mut view = store.data_mut().filesystem();
            let before = size_of(&mut view, &quota, &fd).await;
            let growth = before.map_or(0, |b| size.saturating_sub(b));
            let shrink = before.map_or(0, |b| b.saturating_sub(size));
            let out = charged(&quota, growth, shrink, HostDescriptor::set_size(&mut view, fd, size)).await;
            answer(&mut view, out)
        })
    })?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                // A new entry is charged before it exists; a truncated file gives its
                // bytes back once the open succeeded.
                let (charge, refund) = if quota.is_some() && oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE)
                {
                    match HostDescriptor::stat_at(&mut view, borrow(&fd), path_flags, path.clone()).await {
                        Err(_) if oflags.contains(OpenFlags::CREATE) => (ENTRY_BYTES, 0),
                        Ok(stat) if oflags.contains(OpenFlags::TRUNCATE) && is_file(&stat) => (0, stat.size),
                        _ => (0, 0),
                    }
                } else {
                    (0, 0)
                };
                let open = HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags);
                let out = charged(&quota, charge, refund, open).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.create-directory-at",
        |mut store, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                let out =
                    charged(&quota, ENTRY_BYTES, 0, HostDescriptor::create_directory_at(&mut view, fd, path)).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store, (fd, target, path): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                let out =
                    charged(&quota, ENTRY_BYTES, 0, HostDescriptor::symlink_at(&mut view, fd, target, path)).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store,
         (fd, old_flags, old_path, new_fd, new_path): (
            Resource<Descriptor>,
            PathFlags,
            String,
            Resource<Descriptor>,
            String,
        )| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                // The walk counts a file once per name, so a new name costs its bytes.
                let charge = match &quota {
                    Some(_) => entry_bytes(&mut view, &fd, old_flags, &old_path).await.max(ENTRY_BYTES),
                    None => 0,
                };
                let link = HostDescriptor::link_at(&mut view, fd, old_flags, old_path, new_fd, new_path);
                let out = charged(&quota, charge, 0, link).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.unlink-file-at",
        |mut store, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                let refund = match &quota {
                    Some(_) => entry_bytes(&mut view, &fd, PathFlags::empty(), &path).await,
                    None => 0,
                };
                let out = charged(&quota, 0, refund, HostDescriptor::unlink_file_at(&mut view, fd, path)).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.remove-directory-at",
        |mut store, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                let out =
                    charged(&quota, 0, ENTRY_BYTES, HostDescriptor::remove_directory_at(&mut view, fd, path)).await;
                answer(&mut view, out)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.rename-at",
        |mut store, (fd, old_path, new_fd, new_path): (Resource<Descriptor>, String, Resource<Descriptor>, String)| {
            Box::new(async move {
                let quota = store.data().quota();
                let mut view = store.data_mut().filesystem();
                // Renaming onto an existing file replaces it: its bytes are freed.
                let refund = match &quota {
                    Some(_) => entry_bytes(&mut view, &new_fd, PathFlags::empty(), &new_path).await,
                    None => 0,
                };
                let rename = HostDescriptor::rename_at(&mut view, fd, old_path, new_fd, new_path);
                let out = charged(&quota, 0, refund, rename).await;
                answer(&mut view, out)
            })
        },
    )?;
    Ok(())
}

/// Runs one filesystem operation under the quota: `charge` is reserved first (the
/// operation is refused, `None`, when it does not fit), given back if the operation
/// fails, and `refund` is given back when it succeeds.
async fn charged<R>(
    quota: &Option<Arc<WorkspaceQuota>>,
    charge: u64,
    refund: u64,
    op: impl std::future::Future<Output = FsResult<R>>,
) -> Option<FsResult<R>> {
    if let Some(q) = quota
        && q.reserve(charge).is_err()
    {
        return None;
    }
    let out = op.await;
    release(quota, if out.is_ok() { refund } else { charge });
    Some(out)
}

/// What the guest gets back: the result, `insufficient-space` for a refusal, or
/// wasmtime-wasi's own error code.
fn answer<R>(
    view: &mut WasiFilesystemCtxView<'_>,
    out: Option<FsResult<R>>,
) -> wasmtime::Result<(Result<R, ErrorCode>,)> {
    match out {
        None => Ok((Err(ErrorCode::InsufficientSpace),)),
        Some(Ok(r)) => Ok((Ok(r),)),
        Some(Err(e)) => Ok((Err(view.convert_error_code(e)?),)),
    }
}

/// The length of an open file, when a quota needs it.
async fn size_of(
    view: &mut WasiFilesystemCtxView<'_>,
    quota: &Option<Arc<WorkspaceQuota>>,
    fd: &Resource<Descriptor>,
) -> Option<u64> {
    quota.as_ref()?;
    HostDescriptor::stat(view, borrow(fd)).await.ok().map(|s| s.size)
}

/// A second handle to a borrowed descriptor (the host functions take theirs by value).
fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

fn release(quota: &Option<Arc<WorkspaceQuota>>, n: u64) {
    if let Some(q) = quota {
        q.release(n);
    }
}

fn is_file(stat: &DescriptorStat) -> bool {
    matches!(stat.type_, DescriptorType::RegularFile)
}

/// What the entry at `path` counts for (its bytes and [`ENTRY_BYTES`]), 0 if none.
async fn entry_bytes(
    view: &mut WasiFilesystemCtxView<'_>,
    dir: &Resource<Descriptor>,
    flags: PathFlags,
    path: &str,
) -> u64 {
    match HostDescriptor::stat_at(view, borrow(dir), flags, path.to_string()).await {
        Ok(stat) if is_file(&stat) => ENTRY_BYTES + stat.size,
        Ok(_) => ENTRY_BYTES,
        Err(_) => 0,
    }
}

/// The open file behind a descriptor, for measuring the growth of its writes.
fn file_of<T: WasiView>(state: &mut T, fd: &Resource<Descriptor>) -> Option<Arc<std::fs::File>> {
    match state.ctx().table.get(fd) {
        Ok(wasmtime_wasi::filesystem::Descriptor::File(f)) => Some(f.file.clone()),
        _ => None,
    }
}

/// Replaces a fresh write stream in the table by one that charges its growth.
fn meter(
    table: &mut wasmtime::component::ResourceTable,
    stream: Resource<DynOutputStream>,
    quota: Option<Arc<WorkspaceQuota>>,
    file: Option<Arc<std::fs::File>>,
    at: Option<u64>,
) -> wasmtime::Result<Resource<DynOutputStream>> {
    let (Some(quota), Some(file)) = (quota, file) else { return Ok(stream) };
    let inner = table.delete(stream)?;
    let metered: DynOutputStream = Box::new(Metered { inner, file, at, quota });
    Ok(table.push(metered)?)
}

/// A file's write stream that charges each write's growth of the file to the quota.
struct Metered {
    inner: DynOutputStream,
    file: Arc<std::fs::File>,
    /// The write position, or `None` for an appending stream.
    at: Option<u64>,
    quota: Arc<WorkspaceQuota>,
}

impl Metered {
    /// Charges the growth `n` more bytes cause at the stream's position. The
    /// length is read with one `fstat`: a metadata read of an open file, which
    /// does not wait on the disk.
    fn charge(&mut self, n: usize) -> StreamResult<()> {
        let len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        let n = n as u64;
        let end = self.at.unwrap_or(len).saturating_add(n);
        self.quota.reserve(end.saturating_sub(len)).map_err(|_| StreamError::LastOperationFailed(no_space().into()))?;
        if let Some(at) = &mut self.at {
            *at = end;
        }
        Ok(())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Metered {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Metered {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_past_the_limit_is_refused_and_counts_nothing() {
        let q = WorkspaceQuota::new(1000);
        q.reserve(600).expect("fits");
        let e = q.reserve(500).expect_err("past the limit");
        assert_eq!((e.used, e.limit, e.wanted), (600, 1000, 500));
        assert_eq!(q.used(), 600);
        q.release(700);
        assert_eq!(q.used(), 0, "a release never wraps below zero");
    }

    #[test]
    fn the_walk_counts_entries_and_file_bytes_and_does_not_follow_links() {
        let dir = std::env::temp_dir().join(format!("hermes-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("a"), vec![0u8; 1000]).expect("write");
        std::fs::write(dir.join("sub/b"), vec![0u8; 24]).expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("/usr", dir.join("link")).expect("symlink");
        let entries = if cfg!(unix) { 4 } else { 3 };
        assert_eq!(measure(&dir), entries * ENTRY_BYTES + 1024);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
