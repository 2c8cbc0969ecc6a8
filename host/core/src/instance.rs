//! Which host process owns a run, and whether that process is still alive.
//!
//! Several host processes may share one data dir (a rolling restart, or two hosts by
//! mistake). A run belongs to the process that queued it; at start-up a host resumes
//! only the unfinished runs whose owner is gone, so a second process never executes a
//! run the first one is still executing. Liveness is an exclusive `flock` on
//! `<data-dir>/instances/<id>.lock`, held for the life of the process: the kernel
//! drops it when the process dies, even on `kill -9`, so there are no timeouts to tune.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This process's owner id (`inst_…`), the same for every `Host` it builds.
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| hermes_types::ids::new_id("inst"))
}

/// The lock that says "this process is alive" to other processes on the data dir.
#[derive(Debug)]
pub struct Lease {
    /// Held (locked) while the process lives; `None` when another `Host` of this
    /// process on the same data dir already holds it.
    _file: Option<File>,
}

fn lock_path(data_dir: &Path, owner: &str) -> PathBuf {
    data_dir.join("instances").join(format!("{owner}.lock"))
}

impl Lease {
    /// Takes this process's lease on `data_dir` (blocking file I/O: call at start-up).
    pub fn acquire(data_dir: &Path) -> std::io::Result<Lease> {
        let path = lock_path(data_dir, id());
        std::fs::create_dir_all(path.parent().unwrap_or(data_dir))?;
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Lease { _file: Some(file) }),
            // flock conflicts between two opens in one process too: ours already.
            Err(TryLockError::WouldBlock) => Ok(Lease { _file: None }),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Whether the process that owns `owner` still runs (blocking file I/O). This
/// process counts as gone for itself: at start-up its own earlier runs (from a
/// `Host` it dropped) are its to resume.
pub fn owner_alive(data_dir: &Path, owner: &str) -> bool {
    if owner == id() || owner.contains(['/', '\\']) || owner.contains("..") {
        return false;
    }
    let path = lock_path(data_dir, owner);
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            // Its process is gone: tidy up its lock file.
            let _ = std::fs::remove_file(&path);
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(e)) => {
            tracing::warn!(owner, error = %e, "cannot tell whether a run's owner is alive; assuming it is");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lease_is_alive_and_a_released_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let other = "inst_other";
        let path = lock_path(dir.path(), other);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let held = OpenOptions::new().create(true).truncate(false).write(true).open(&path).unwrap();
        held.lock().unwrap();
        assert!(owner_alive(dir.path(), other));
        drop(held);
        assert!(!owner_alive(dir.path(), other));
        assert!(!path.exists(), "a dead owner's lock file is removed");
        assert!(!owner_alive(dir.path(), "inst_never_existed"));
        assert!(!owner_alive(dir.path(), id()));
        let _lease = Lease::acquire(dir.path()).unwrap();
        let _again = Lease::acquire(dir.path()).unwrap();
    }
}
