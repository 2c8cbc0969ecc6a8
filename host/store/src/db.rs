//! The connection owner: writer thread, reader pool, and the error type of the store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Errors raised by the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The row asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The write conflicts with the current state (e.g. a run already active).
    #[error("{0}")]
    Conflict(String),
    /// The writer thread is gone (the host is shutting down).
    #[error("the store is closed")]
    Closed,
    /// Events a subscriber needs are gone (retention), or it fell too far behind.
    #[error("{0}")]
    Expired(String),
    /// The account's balance does not cover the work (its balance).
    #[error("insufficient credits (balance {0})")]
    InsufficientCredits(i64),
    /// A per-tenant bound is reached (e.g. runs waiting for a slot); retry later.
    #[error("{0}")]
    Limited(String),
}

/// The open transaction (or read snapshot) a unit of work runs in. Everything above
/// the store sees only this and the aggregate functions that take it: no SQLite type
/// crosses the floor, so a second backend changes what is inside, not the callers.
pub struct Tx<'a>(&'a Connection);

impl Tx<'_> {
    /// The SQLite connection, for the aggregate modules of this crate only.
    pub(crate) fn sql(&self) -> &Connection {
        self.0
    }
}

type PostCommit = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A queued write: runs on the writer thread (with no connection when the
/// transaction could not begin) and hands back what to do after the commit.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, PostCommit) + Send>;

/// Handle to the SQLite database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
}

/// Most writes queued behind one commit.
const MAX_BATCH: usize = 512;

impl Db {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let mut conn = open_conn(path)?;
        super::schema::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hermes-db-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` in the next group commit; returns its value once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_then(f, |_| ()).await
    }

    /// Like [`Db::write`], and runs `announce` on the writer thread right after the
    /// commit, so announcements leave in commit order (used to broadcast events).
    pub async fn write_then<T, F, A>(&self, f: F, announce: A) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(&Tx(conn)),
                None => Err(StoreError::Corrupt("could not begin a transaction".into())),
            };
            let ok = result.is_ok();
            let post: PostCommit = Box::new(move |committed| {
                let out = match (result, committed) {
                    (Ok(v), Ok(())) => {
                        announce(&v);
                        Ok(v)
                    }
                    (Ok(_), Err(e)) => Err(StoreError::Corrupt(format!("commit failed: {e}"))),
                    (Err(e), _) => Err(e),
                };
                let _ = tx.send(out);
            });
            (ok, post)
        });
        let sender = self.inner.writer.lock().map_err(|_| StoreError::Closed)?.clone().ok_or(StoreError::Closed)?;
        sender.send(job).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a read-only query on a pooled connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().map_err(|_| StoreError::Closed)?.pop() {
                Some(c) => c,
                None => open_conn(&inner.path)?,
            };
            let out = f(&Tx(&conn));
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Stops accepting writes; queued writes still commit.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }
}

fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // WAL + NORMAL: a committed transaction survives a process crash (kill -9); the
    // last commits could be lost only to a power cut before the next checkpoint.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
         PRAGMA busy_timeout=5000;",
    )?;
    // Hot paths use `prepare_cached`; rusqlite's default of 16 statements is smaller
    // than one run's or one automation fire's working set, so they would evict each other.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let began = conn.execute_batch("BEGIN IMMEDIATE");
        let mut posts = Vec::with_capacity(batch.len());
        for job in batch {
            if began.is_err() {
                // Run nothing: report the failure to every waiter below.
                let (_, post) = job(None);
                posts.push(post);
                continue;
            }
            let _ = conn.execute_batch("SAVEPOINT job");
            let (ok, post) = job(Some(&conn));
            if !ok {
                let _ = conn.execute_batch("ROLLBACK TO job");
            }
            let _ = conn.execute_batch("RELEASE job");
            posts.push(post);
        }
        let committed = match began {
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                e.to_string()
            }),
            Err(e) => Err(e.to_string()),
        };
        hermes_metrics::global().store_commit.observe(started.elapsed().as_secs_f64());
        for post in posts {
            post(committed.clone());
        }
    }
}
