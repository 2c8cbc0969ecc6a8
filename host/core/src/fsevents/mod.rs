//! Filesystem events: with `features.filesystem_webhooks`, every change in a
//! deployment's workspace — by the agent through WASI, or through the Files API —
//! becomes a `filesystem` event `{change: created|modified|deleted, path, size}`.
//!
//! The kernel tells us what changed (inotify through the `notify` crate, one
//! recursive watch per enabled workspace), so no tree is ever scanned to find a
//! change. Raw notifications are coalesced per path: a path is reported once it has
//! been quiet for [`QUIET`] and is not open for writing (or has been changing for
//! [`MAX_HOLD`]). What is reported is decided by comparing whether it existed before
//! the burst with a `stat` after it: a file created then written three times is one
//! `created`; one created and removed within the burst is nothing at all. A folder
//! that appears is listed once (files written before the watch on it existed would
//! be missed otherwise), and what was reported is remembered for [`RECENT`], so a
//! late notification about an unchanged file is not reported a second time.
//!
//! Nothing is ignored, `.hermes/` included: skills the agent writes there are part of
//! the workspace the customer sees. Files already present when the watch starts
//! (uploads at creation, a PATCH turning the feature on) are not reported.

use hermes_types::sync::Locked;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::workspace;
use hermes_events::NewEvent;

/// A path is reported once no notification about it arrived for this long.
pub const QUIET: Duration = Duration::from_millis(50);
/// A path changing continuously is still reported this long after its first change.
pub const MAX_HOLD: Duration = Duration::from_millis(1000);
/// Events appended per commit.
const CHUNK: usize = 512;

type Raw = notify::Result<notify::Event>;

/// The workspace watcher: which deployments are watched, and the kernel watch.
pub(crate) struct FsWatcher {
    root: PathBuf,
    watcher: Mutex<Option<RecommendedWatcher>>,
    watched: Arc<Mutex<HashSet<String>>>,
    raw: Mutex<Option<mpsc::UnboundedReceiver<Raw>>>,
}

impl FsWatcher {
    /// A watcher over the workspaces under `data_dir`; nothing is watched until
    /// [`FsWatcher::watch`], nothing reported until [`spawn`].
    pub(crate) fn new(data_dir: &Path) -> FsWatcher {
        let (tx, rx) = mpsc::unbounded_channel();
        // Never follow a link: a relative one (`../../..`, which WASI lets a guest
        // plant) would put host paths and other tenants' files in this deployment's
        // events, and a link to `/usr` would spend the host's inotify watches.
        let config = notify::Config::default().with_follow_symlinks(false);
        let watcher = RecommendedWatcher::new(
            move |ev: Raw| {
                let _ = tx.send(ev);
            },
            config,
        )
        .map_err(|e| tracing::error!(error = %e, "filesystem events are off: cannot start the workspace watcher"))
        .ok();
        FsWatcher {
            root: workspace::root(data_dir),
            watcher: Mutex::new(watcher),
            watched: Arc::default(),
            raw: Mutex::new(Some(rx)),
        }
    }

    /// Whether a deployment's workspace is watched.
    pub(crate) fn is_watched(&self, deployment_id: &str) -> bool {
        self.watched.lock().map(|w| w.contains(deployment_id)).unwrap_or(false)
    }

    /// Starts (`on`) or stops watching a deployment's workspace; idempotent.
    /// Adding the watch walks the workspace's folders once, off the async threads.
    /// Returns the folder count when the workspace is over its watch budget (and so
    /// not watched).
    pub(crate) async fn set(self: &Arc<Self>, deployment_id: &str, on: bool) -> Option<usize> {
        if on == self.is_watched(deployment_id) {
            return None;
        }
        let this = self.clone();
        let dep = deployment_id.to_string();
        let done = tokio::task::spawn_blocking(move || {
            let dir = this.root.join(&dep);
            // One kernel watch per folder: a workspace over its budget is not watched
            // (the caller reports why) rather than drain the host's watches.
            if on && let Some(found) = over_budget(&dir, MAX_WATCHED_DIRS) {
                tracing::warn!(deployment_id = %dep, folders = found, "workspace over its watch budget; filesystem events off");
                return Some(found);
            }
            let mut guard = this.watcher.locked();
            let w = guard.as_mut()?;
            let result = if on { w.watch(&dir, RecursiveMode::Recursive) } else { w.unwatch(&dir) };
            let mut watched = this.watched.locked();
            match result {
                Ok(()) if on => {
                    watched.insert(dep);
                }
                Ok(()) => {
                    watched.remove(&dep);
                }
                Err(e) => {
                    if !on {
                        watched.remove(&dep);
                    }
                    tracing::error!(deployment_id = %dep, error = %e, on, "changing the workspace watch");
                }
            }
            None
        })
        .await;
        match done {
            Ok(over) => over,
            Err(e) => {
                tracing::error!(error = %e, "the workspace watch task failed");
                None
            }
        }
    }
}

/// Says on the deployment's stream that its workspace is too large to watch.
pub(crate) async fn report_over_budget(hub: &hermes_events::EventHub, deployment_id: &str, folders: usize) {
    let ev = NewEvent::new(
        "filesystem",
        deployment_id,
        json!({"change": "overflow", "path": "", "reason": format!(
            "the workspace has more than {MAX_WATCHED_DIRS} folders ({folders} counted); filesystem events are off for it"
        )}),
    );
    if let Err(e) = hub.append_all(vec![ev]).await {
        tracing::warn!(deployment_id, error = %e, "reporting a workspace over its watch budget");
    }
}

/// Folders one deployment's workspace may have watched (one inotify watch each).
pub const MAX_WATCHED_DIRS: usize = 2000;

/// How many folders `dir` has, when that is more than `budget` (counting stops
/// there); links are not followed.
fn over_budget(dir: &Path, budget: usize) -> Option<usize> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            // `file_type` does not follow links: a link to a folder is not a folder here.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                found += 1;
                if found > budget {
                    return Some(found);
                }
                stack.push(entry.path());
            }
        }
    }
    None
}

/// What the reporting task works with: the store (which deployments are watched),
/// the hub (events out), the watcher, and the host's shutdown.
pub(crate) struct Reporter {
    /// The store.
    pub db: hermes_store::Db,
    /// Where `filesystem` events are appended.
    pub hub: hermes_events::EventHub,
    /// The kernel watch and the watched set.
    pub watcher: Arc<FsWatcher>,
    /// Cancelled when the host shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Where the reporting task is tracked.
    pub tasks: tokio_util::task::TaskTracker,
}

/// Watches the workspaces of every deployment with `features.filesystem_webhooks`
/// and starts the task reporting their changes; it stops at shutdown.
pub(crate) async fn spawn(services: Arc<Reporter>) {
    let rx = services.watcher.raw.locked().take();
    let Some(rx) = rx else { return };
    // The initial walks run beside serving, not before it: a host with many large
    // workspaces starts at once, and their events begin as each watch is added.
    let initial = services.clone();
    services.tasks.clone().spawn(async move {
        match initial.db.read(hermes_store::webhooks::watched_deployments).await {
            Ok(ids) => {
                for id in ids {
                    if initial.shutdown.is_cancelled() {
                        break;
                    }
                    if let Some(folders) = initial.watcher.set(&id, true).await {
                        report_over_budget(&initial.hub, &id, folders).await;
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "listing deployments with filesystem events"),
        }
    });
    services.tasks.clone().spawn(debounce(services, rx));
}

/// Changes seen for one path since it was last reported.
#[derive(Clone, Copy)]
struct Pending {
    first: Instant,
    last: Instant,
    /// Whether the path existed before this burst (its first notification was not
    /// a creation).
    existed: bool,
    /// A folder appeared here: its files may predate the watch on it.
    scan: bool,
    /// Opened for writing and not closed yet: a writer that pauses between `open`
    /// and its last `write` is still one change.
    writing: bool,
}

impl Pending {
    /// When the path is reported if nothing else happens to it.
    fn ready_at(&self) -> Instant {
        let hold = self.first + MAX_HOLD;
        if self.writing { hold } else { (self.last + QUIET).min(hold) }
    }
}

/// A path in a workspace: (deployment, workspace-relative path).
type Key = (String, PathBuf);

/// A file as last reported: `Some((size, mtime))`, or `None` when it was deleted.
type State = Option<(u64, Option<std::time::SystemTime>)>;

/// How long reported paths and new folders are remembered: notifications that
/// arrive late for them (the watch on a new folder races its first writes) are
/// judged against what was reported instead of being reported twice.
const RECENT: Duration = Duration::from_secs(2);
/// How long a new folder counts as new: long enough to cover the race between its
/// creation and the watch on it, short enough that later writes inside it are
/// judged by what was reported ([`RECENT`] outlives it).
const FRESH: Duration = Duration::from_millis(500);

/// What a flushed path came to.
struct Change {
    key: Key,
    change: &'static str,
    state: State,
}

/// The coalescing state of the reporting task.
struct Debouncer {
    root: PathBuf,
    pending: HashMap<Key, Pending>,
    /// Paths reported lately, with what was reported.
    recent: HashMap<Key, (Instant, State)>,
    /// Folders that appeared lately: nothing inside them existed before.
    fresh: HashMap<Key, Instant>,
}

async fn debounce(services: Arc<Reporter>, mut rx: mpsc::UnboundedReceiver<Raw>) {
    let mut d = Debouncer {
        root: services.watcher.root.clone(),
        pending: HashMap::new(),
        recent: HashMap::new(),
        fresh: HashMap::new(),
    };
    loop {
        let deadline = d.pending.values().map(Pending::ready_at).min();
        tokio::select! {
            // Notifications already queued are absorbed before anything is flushed.
            biased;
            _ = services.shutdown.cancelled() => return,
            raw = rx.recv() => {
                let Some(raw) = raw else { return };
                d.absorb(raw);
                while let Ok(raw) = rx.try_recv() {
                    d.absorb(raw);
                }
            }
            _ = sleep_until(deadline) => d.flush(&services).await,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// `<root>/<deployment>/<rel>` → (deployment, rel); `None` for the workspace itself.
fn split(root: &Path, path: &Path) -> Option<Key> {
    let mut parts = path.strip_prefix(root).ok()?.components();
    let dep = parts.next()?.as_os_str().to_str()?.to_string();
    let rel = parts.as_path().to_path_buf();
    if rel.as_os_str().is_empty() { None } else { Some((dep, rel)) }
}

impl Debouncer {
    /// Whether `key` lies inside a folder that appeared in this burst or lately.
    fn in_new_folder(&self, (dep, rel): &Key) -> bool {
        rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).any(|a| {
            let k = (dep.clone(), a.to_path_buf());
            self.fresh.contains_key(&k) || self.pending.get(&k).is_some_and(|p| p.scan && !p.existed)
        })
    }

    /// Folds one raw notification into the pending set.
    fn absorb(&mut self, raw: Raw) {
        let event = match raw {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "workspace watcher error");
                return;
            }
        };
        if event.need_rescan() {
            // The kernel queue overflowed (fs.inotify.max_queued_events): changes were
            // lost and cannot be recovered without a snapshot to compare with.
            tracing::warn!("workspace watcher overflowed: some filesystem events were lost");
        }
        let now = Instant::now();
        if let EventKind::Access(AccessKind::Close(AccessMode::Write)) = event.kind {
            for key in event.paths.iter().filter_map(|p| split(&self.root, p)) {
                if let Some(p) = self.pending.get_mut(&key) {
                    p.writing = false;
                }
            }
            return;
        }
        let writing = matches!(
            event.kind,
            EventKind::Create(CreateKind::File | CreateKind::Any)
                | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
        );
        // (existed before, may be a new folder) per kind; None = not a content change.
        let hint = match event.kind {
            EventKind::Create(CreateKind::Folder) => Some((false, true)),
            EventKind::Create(_) => Some((false, false)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => Some((false, true)),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) => Some((true, false)),
            EventKind::Modify(ModifyKind::Metadata(_)) => None,
            EventKind::Modify(_) => Some((true, false)),
            // A folder's files report their own removal.
            EventKind::Remove(RemoveKind::Folder) => None,
            EventKind::Remove(_) => Some((true, false)),
            EventKind::Access(_) | EventKind::Any | EventKind::Other => None,
        };
        let Some((existed, scan)) = hint else { return };
        let both = matches!(event.kind, EventKind::Modify(ModifyKind::Name(RenameMode::Both)));
        for (i, path) in event.paths.iter().enumerate() {
            let Some(key) = split(&self.root, path) else { continue };
            // A rename seen as one event: the first path left, the second arrived.
            let (existed, scan) = if both { (i == 0, i == 1) } else { (existed, scan) };
            // The watch on a new folder may miss a file's creation and see only its
            // first write: a write inside a new folder is to a file that did not exist.
            let existed = existed && !(writing && self.in_new_folder(&key));
            self.pending
                .entry(key)
                .and_modify(|p| {
                    p.last = now;
                    p.scan |= scan;
                    p.writing |= writing;
                })
                .or_insert(Pending { first: now, last: now, existed, scan, writing });
        }
    }

    /// Reports every path that is ready, in the order they first changed.
    async fn flush(&mut self, services: &Arc<Reporter>) {
        let now = Instant::now();
        self.recent.retain(|_, (at, _)| now.duration_since(*at) < RECENT);
        self.fresh.retain(|_, at| now.duration_since(*at) < FRESH);
        let mut ready: Vec<(Key, Pending, Option<State>)> = Vec::new();
        self.pending.retain(|key, p| {
            if now >= p.ready_at() {
                ready.push((key.clone(), *p, None));
                false
            } else {
                true
            }
        });
        ready.retain(|((dep, _), _, _)| services.watcher.is_watched(dep));
        if ready.is_empty() {
            return;
        }
        ready.sort_by_key(|(_, p, _)| p.first);
        for (key, _, last) in &mut ready {
            *last = self.recent.get(key).map(|(_, s)| *s);
        }
        let root = self.root.clone();
        let (changes, found, new_folders) = match tokio::task::spawn_blocking(move || inspect(&root, ready)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "inspecting workspace changes");
                return;
            }
        };
        for key in new_folders {
            self.fresh.insert(key, now);
        }
        for c in &changes {
            self.recent.insert(c.key.clone(), (now, c.state));
        }
        // Files found in a new folder (some were written before its watch existed):
        // reported as created unless their own notifications already were, or are
        // pending (then they did not exist before either).
        for key in found {
            if self.recent.contains_key(&key) {
                continue;
            }
            self.pending.entry(key).and_modify(|p| p.existed = false).or_insert(Pending {
                first: now,
                last: now,
                existed: false,
                scan: false,
                writing: false,
            });
        }
        let mut by_deployment: HashMap<String, Vec<NewEvent>> = HashMap::new();
        for c in changes {
            let (dep, rel) = c.key;
            let payload = json!({"change": c.change, "path": rel.to_string_lossy(), "size": c.state.map(|(s, _)| s)});
            by_deployment.entry(dep.clone()).or_default().push(NewEvent::new("filesystem", &dep, payload));
        }
        for (dep, events) in by_deployment {
            for chunk in events.chunks(CHUNK) {
                if let Err(e) = services.hub.append_all(chunk.to_vec()).await {
                    tracing::error!(deployment_id = %dep, error = %e, "appending filesystem events");
                }
            }
        }
    }
}

/// Stats each ready path (through cap-std, never following a link out of the
/// workspace) and decides what it came to, against what was last reported for it
/// when that is recent (an unchanged file is not reported again). Also lists the
/// files of new folders, and returns those folders.
#[allow(clippy::type_complexity)]
fn inspect(root: &Path, ready: Vec<(Key, Pending, Option<State>)>) -> (Vec<Change>, Vec<Key>, Vec<Key>) {
    let mut dirs: HashMap<String, Option<cap_std::fs::Dir>> = HashMap::new();
    let (mut changes, mut found, mut new_folders) = (Vec::new(), Vec::new(), Vec::new());
    for ((dep, rel), p, last) in ready {
        let dir = dirs.entry(dep.clone()).or_insert_with(|| workspace::open(&root.join(&dep)).ok());
        let Some(dir) = dir.as_ref() else { continue };
        let meta = dir.symlink_metadata(&rel).ok();
        if let Some(m) = &meta
            && m.is_dir()
        {
            if p.scan && !p.existed {
                list_files(dir, &rel, &mut |f| found.push((dep.clone(), f)));
                new_folders.push((dep.clone(), rel));
            }
            continue;
        }
        let state: State = meta.map(|m| (m.len(), m.modified().ok().map(|t| t.into_std())));
        if last == Some(state) {
            continue;
        }
        let existed = last.map_or(p.existed, |s| s.is_some());
        let change = match (state.is_some(), existed) {
            (true, false) => "created",
            (true, true) => "modified",
            (false, true) => "deleted",
            (false, false) => continue,
        };
        changes.push(Change { key: (dep, rel), change, state });
    }
    (changes, found, new_folders)
}

/// Every file under `rel` (bounded, so a huge tree moved in cannot stall the watcher).
fn list_files(dir: &cap_std::fs::Dir, rel: &Path, out: &mut dyn FnMut(PathBuf)) {
    const MAX: usize = 10_000;
    let mut stack = vec![rel.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let Ok(entries) = dir.read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = d.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => {
                    out(path);
                    seen += 1;
                    if seen >= MAX {
                        return;
                    }
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;
    use std::path::Path;

    #[test]
    fn paths_split_into_deployment_and_relative_path() {
        let root = Path::new("/data/workspaces");
        assert_eq!(
            split(root, Path::new("/data/workspaces/dep_1/a/b.txt")),
            Some(("dep_1".to_string(), "a/b.txt".into()))
        );
        assert_eq!(split(root, Path::new("/data/workspaces/dep_1")), None);
        assert_eq!(split(root, Path::new("/elsewhere/x")), None);
    }
}
