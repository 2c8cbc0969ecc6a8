//! Schema migrations, applied in order and recorded in `user_version`.

use rusqlite::Connection;

use super::StoreError;

/// Each entry upgrades the schema by one version; never edit a released one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE deployments (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    spec          TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    default_thread_id TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX deployments_by_account ON deployments(account_id, id);

CREATE TABLE threads (
    id            TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    title         TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX threads_by_deployment ON threads(deployment_id, id);

CREATE TABLE messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    thread_id     TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    run_id        TEXT,
    role          TEXT NOT NULL,
    content       TEXT NOT NULL,
    tool_calls    TEXT,
    tool_call_id  TEXT,
    is_error      INTEGER NOT NULL DEFAULT 0,
    delivered     INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);
CREATE INDEX messages_by_thread ON messages(thread_id, seq);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    thread_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    output        TEXT,
    instantiate_us INTEGER,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE INDEX runs_by_thread ON runs(thread_id, created_at);
CREATE INDEX runs_by_status ON runs(status);

CREATE TABLE tool_calls (
    run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    call_id       TEXT NOT NULL,
    tool          TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    PRIMARY KEY (run_id, call_id)
) WITHOUT ROWID;

CREATE TABLE events (
    deployment_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    type          TEXT NOT NULL,
    thread_id     TEXT,
    run_id        TEXT,
    created_at    TEXT NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    credits       INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    name          TEXT,
    hash          TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
"#,
    r#"
CREATE INDEX deployments_by_account_created ON deployments(account_id, created_at DESC, id DESC);
DROP INDEX deployments_by_account;
"#,
    r#"
CREATE TABLE secrets (
    account_id    TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    ciphertext    BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
CREATE INDEX secrets_by_account_created ON secrets(account_id, created_at DESC, id DESC);

CREATE TABLE usage (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    credits       INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX usage_by_account ON usage(account_id, deployment_id, model);

CREATE TABLE idempotency_keys (
    account_id    TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    content_type  TEXT,
    body          BLOB,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_created ON idempotency_keys(created_at);
"#,
    r#"
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE INDEX threads_by_deployment_created ON threads(deployment_id, created_at DESC, id DESC);
"#,
    // Listings break created_at ties by insertion order (rowid), not by the
    // random id, so rows created in the same millisecond still list newest first.
    r#"
CREATE INDEX deployments_by_account_time ON deployments(account_id, created_at);
DROP INDEX deployments_by_account_created;
CREATE INDEX threads_by_deployment_time ON threads(deployment_id, created_at);
DROP INDEX threads_by_deployment_created;
"#,
    // Observational memory (FTS5 over deployment-tagged tokens, written by
    // store::memories so a MATCH only walks its deployment's postings), tombstones
    // of forgotten entries, and dreams.
    r#"
CREATE TABLE memories (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    content       TEXT NOT NULL,
    source        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX memories_by_deployment ON memories(deployment_id, seq);
CREATE VIRTUAL TABLE memories_fts USING fts5(terms, tokenize = 'porter unicode61');
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    DELETE FROM memories_fts WHERE rowid = old.seq;
END;

CREATE TABLE memory_tombstones (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    content       TEXT NOT NULL,
    deleted_at    TEXT NOT NULL
);
CREATE INDEX memory_tombstones_by_deployment ON memory_tombstones(deployment_id, seq);

CREATE TABLE dreams (
    id            TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    trigger       TEXT NOT NULL,
    status        TEXT NOT NULL,
    summary       TEXT,
    error         TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX dreams_by_deployment ON dreams(deployment_id, created_at);
CREATE INDEX runs_by_deployment ON runs(deployment_id, created_at);
"#,
    // Webhook endpoints (signing secret encrypted like secrets) and the durable
    // delivery outbox, filled in the transaction that appends the event.
    r#"
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    deployment_id   TEXT,
    secret          BLOB NOT NULL,
    disabled_reason TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX webhooks_by_account ON webhooks(account_id);

CREATE TABLE webhook_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id          TEXT NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_ms);
CREATE INDEX webhook_outbox_by_webhook ON webhook_outbox(webhook_id);
"#,
    // Automations: `next_run_at` (unix ms) is claimed with a conditional UPDATE, and
    // `automation_runs` keeps one row per fired slot (UNIQUE: a slot never fires twice,
    // even with two processes on one data dir).
    r#"
CREATE TABLE automations (
    id               TEXT PRIMARY KEY,
    deployment_id    TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    timezone         TEXT,
    instructions     TEXT NOT NULL,
    thread_id        TEXT NOT NULL,
    dedicated_thread INTEGER NOT NULL,
    enabled          INTEGER NOT NULL,
    next_run_at      INTEGER,
    anchor_ms        INTEGER NOT NULL,
    last_run_at      TEXT,
    last_run_id      TEXT,
    last_outcome     TEXT,
    created_by_run   TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX automations_due ON automations(next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX automations_by_deployment_time ON automations(deployment_id, created_at);

CREATE TABLE automation_runs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    automation_id TEXT NOT NULL REFERENCES automations(id) ON DELETE CASCADE,
    slot          INTEGER,
    trigger       TEXT NOT NULL,
    run_id        TEXT,
    status        TEXT NOT NULL,
    reason        TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (automation_id, slot)
);
CREATE INDEX automation_runs_by_run ON automation_runs(run_id) WHERE run_id IS NOT NULL;
"#,
    // Steering: one approval per gated tool call of a run (UNIQUE run_id, call_id: a
    // fresh instance asking again finds the same one). `expires_at` is unix ms.
    r#"
CREATE TABLE approvals (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    thread_id     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    tool          TEXT NOT NULL,
    arguments     TEXT NOT NULL,
    summary       TEXT NOT NULL,
    status        TEXT NOT NULL,
    comment       TEXT,
    expires_at    INTEGER,
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    UNIQUE (run_id, call_id)
);
CREATE INDEX approvals_by_deployment ON approvals(deployment_id, status, seq);
CREATE INDEX approvals_expiring ON approvals(expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;
"#,
    // Which host process owns a run (see `instance.rs`): start-up recovery resumes only
    // runs whose owner is gone, so a second process on the same data dir leaves the
    // first one's live runs alone.
    r#"
ALTER TABLE runs ADD COLUMN owner TEXT;
"#,
    // Vendor plugins: metadata per account; the component bytes live on disk under
    // `plugins/<sha256>.wasm` (shared by identical uploads), compiled in the cache.
    r#"
CREATE TABLE plugins (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT,
    world         TEXT NOT NULL,
    wit_version   TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    tools         TEXT NOT NULL,
    capabilities  TEXT NOT NULL,
    imports       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX plugins_by_account ON plugins(account_id, created_at);
"#,
    // Where a secret may be sent (JSON array of host patterns); NULL: anywhere.
    r#"
ALTER TABLE secrets ADD COLUMN allowed_hosts TEXT;
"#,
    // Which model providers an account's deployments may use (JSON array); NULL: all.
    r#"
ALTER TABLE accounts ADD COLUMN providers TEXT;
"#,
    // Credits held for model calls in flight (deducted from the balance until the
    // call is charged or released; a start releases what a crash left).
    r#"
CREATE TABLE credit_holds (
    id            INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);
"#,
    // Inline skill bodies (up to 1 MiB each) kept beside the spec, not in it, so a
    // listing reads and parses only the small part of each deployment.
    r#"
ALTER TABLE deployments ADD COLUMN skill_bodies TEXT;
"#,
    // The latest compaction of each thread: a summary standing in for its entries
    // up to `through` (the harness sends the summary and what came after).
    r#"
CREATE TABLE thread_compactions (
    thread_id     TEXT PRIMARY KEY REFERENCES threads(id) ON DELETE CASCADE,
    through_id    TEXT NOT NULL,
    summary       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
"#,
    // Input tokens the provider read from its prompt cache (priced lower).
    r#"
ALTER TABLE usage ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
"#,
    // Subagents: a child run knows its parent and the tool call that started it (one
    // child per call), the tools it may use (JSON array; NULL: all) and its turn bound.
    r#"
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
ALTER TABLE runs ADD COLUMN parent_call_id TEXT;
ALTER TABLE runs ADD COLUMN child_tools TEXT;
ALTER TABLE runs ADD COLUMN max_turns INTEGER;
CREATE UNIQUE INDEX runs_by_parent_call ON runs(parent_run_id, parent_call_id) WHERE parent_run_id IS NOT NULL;
"#,
    // Workspaces kept by `DELETE …?retain_filesystem=true`, until `expires_at`.
    r#"
CREATE TABLE retained_workspaces (
    deployment_id TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    deleted_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX retained_by_account ON retained_workspaces(account_id, deleted_at, deployment_id);
CREATE INDEX retained_by_expiry ON retained_workspaces(expires_at);
"#,
    // The agents and sessions surface: versioned agents, the deployment each
    // (agent, user) pair owns, sessions (a thread each, pinned to a version), and a
    // thread's own configuration when it runs under one other than its deployment's.
    r#"
CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    archived_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX agents_by_account ON agents(account_id, created_at, id);
CREATE TABLE agent_versions (
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    config        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
);
CREATE TABLE agent_users (
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    user_key      TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    PRIMARY KEY (agent_id, user_key)
);
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    user_id       TEXT,
    deployment_id TEXT NOT NULL,
    thread_id     TEXT NOT NULL UNIQUE,
    title         TEXT,
    metadata      TEXT NOT NULL,
    archived_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions(account_id, created_at, id);
ALTER TABLE threads ADD COLUMN spec TEXT;
"#,
    // 19: the W3C trace context a run was started under, so its spans join the
    // caller's trace whenever and on whichever host it executes.
    r#"
ALTER TABLE runs ADD COLUMN traceparent TEXT;
"#,
];

/// Brings the database up to the latest schema version.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this host supports ({}); upgrade hermes-host",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
