//! Fake ports for unit tests of the import boundary: no SQLite, no wasmtime instance.
//! Each records what crossed to it, the way the harness's `fake_host.rs` does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hermes_providers::Completion;
use hermes_secrets::{Scrubber, SecretValue};
use hermes_types::spec::DeploymentSpec;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::ports::*;
use crate::state::{RunEnv, RunScope};
use crate::wit::hermes::agent::approvals::Decision;
use crate::wit::hermes::agent::automations::Automation;
use crate::wit::hermes::agent::memory::MemoryEntry;
use crate::wit::hermes::agent::skills::SkillSummary;
use crate::wit::hermes::agent::threads::Entry;
use crate::wit::hermes::agent::types::{ToolDefinition, ToolOutput};

/// One `emit`: the event type and its payload.
type Emitted = (String, Map<String, Value>);

/// Every port at once; `emitted` records the events port's calls.
#[derive(Clone, Default)]
pub(crate) struct FakePorts {
    events: Arc<Mutex<Vec<Emitted>>>,
}

impl FakePorts {
    /// The events emitted so far: `(type, payload)`.
    pub(crate) fn emitted(&self) -> Vec<Emitted> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

fn unused<T>() -> PortResult<T> {
    Err(PortError::Guest("not offered by the fake".into()))
}

#[async_trait]
impl EventsPort for FakePorts {
    async fn emit(&self, kind: &str, payload: Map<String, Value>) -> PortResult<()> {
        self.events.lock().map_err(|_| PortError::host("poisoned"))?.push((kind.to_string(), payload));
        Ok(())
    }
}

#[async_trait]
impl ModelPort for FakePorts {
    async fn complete(&self, _request: ModelRequest) -> Result<Completion, ModelFailure> {
        Err(ModelFailure::Unavailable("not offered by the fake".into()))
    }
}

#[async_trait]
impl ThreadsPort for FakePorts {
    async fn history(&self, _limit: u32) -> PortResult<Vec<Entry>> {
        Ok(Vec::new())
    }
    async fn append(&self, _append: Append) -> PortResult<String> {
        unused()
    }
    async fn tool_started(&self, _call_id: &str, _tool: &str) -> PortResult<()> {
        Ok(())
    }
    async fn interrupted_calls(&self) -> PortResult<Vec<String>> {
        Ok(Vec::new())
    }
    async fn take_steering(&self) -> PortResult<Vec<String>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl MemoryPort for FakePorts {
    async fn recall(&self, _query: &str, _limit: u32) -> PortResult<Vec<MemoryEntry>> {
        Ok(Vec::new())
    }
    async fn add(&self, _content: &str) -> PortResult<MemoryEntry> {
        unused()
    }
    async fn update(&self, _id: &str, _content: &str) -> PortResult<MemoryEntry> {
        unused()
    }
    async fn forget(&self, _id: &str) -> PortResult<()> {
        unused()
    }
}

#[async_trait]
impl McpPort for FakePorts {
    async fn list_tools(&self) -> PortResult<(Vec<ToolDefinition>, Vec<String>)> {
        Ok((Vec::new(), Vec::new()))
    }
    async fn call_tool(&self, _name: &str, _arguments: &str, _call_id: Option<&str>) -> PortResult<ToolOutput> {
        unused()
    }
}

#[async_trait]
impl ApprovalsPort for FakePorts {
    fn requires_approval(&self, _tool: &str) -> bool {
        false
    }
    async fn request(&self, _ask: Ask) -> PortResult<Decision> {
        unused()
    }
}

#[async_trait]
impl AutomationsPort for FakePorts {
    async fn refused(&self) -> PortResult<Option<String>> {
        Ok(Some("not offered by the fake".into()))
    }
    async fn create(&self, _name: String, _schedule: String, _instructions: String) -> PortResult<Automation> {
        unused()
    }
    async fn list(&self) -> PortResult<Vec<Automation>> {
        Ok(Vec::new())
    }
    async fn set_enabled(&self, _id: &str, _enabled: bool) -> PortResult<Automation> {
        unused()
    }
    async fn delete(&self, _id: &str) -> PortResult<()> {
        unused()
    }
}

#[async_trait]
impl SkillsPort for FakePorts {
    async fn list(&self) -> PortResult<Vec<SkillSummary>> {
        Ok(Vec::new())
    }
    async fn read(&self, _name: &str, _file: Option<&str>) -> PortResult<String> {
        unused()
    }
}

#[async_trait]
impl SubagentsPort for FakePorts {
    async fn delegate(&self, _delegation: Delegate) -> PortResult<crate::wit::hermes::agent::subagents::Child> {
        unused()
    }
}

/// A run environment whose every port is `fake` and whose secrets are `secrets`.
pub(crate) fn env_with(fake: &FakePorts, secrets: &[(&str, &str)]) -> RunEnv {
    let f = Arc::new(fake.clone());
    let spec: DeploymentSpec = serde_json::from_value(serde_json::json!({
        "customer_id": "cus_1", "name": "test", "system_prompt": "You help."
    }))
    .expect("a minimal spec parses");
    RunEnv {
        ports: Ports {
            model: f.clone(),
            threads: f.clone(),
            memory: f.clone(),
            mcp: f.clone(),
            approvals: f.clone(),
            automations: f.clone(),
            events: f.clone(),
            skills: f.clone(),
            subagents: f,
        },
        scope: Arc::new(RunScope {
            deployment_id: "dep_test".into(),
            account_id: "acct_test".into(),
            secrets: Arc::new(Scrubber::new(
                secrets.iter().map(|(n, v)| (n.to_string(), SecretValue::new(*v))).collect(),
            )),
            customer_id: "cus_1".into(),
            thread_id: "thr_test".into(),
            run_id: "run_test".into(),
            spec: Arc::new(spec),
            tools: None,
            workspace: PathBuf::from("/nonexistent"),
            cancel: CancellationToken::new(),
            shutdown: CancellationToken::new(),
        }),
    }
}
