//! `skills`: the skill index and skill files of the workspace, through the port.

use super::{for_guest, trap};
use crate::RunState;
use crate::wit::hermes::agent::skills::{Host, SkillSummary};

impl Host for RunState {
    async fn list_skills(&mut self) -> wasmtime::Result<Vec<SkillSummary>> {
        self.env.ports.skills.list().await.map_err(trap)
    }

    async fn read(&mut self, name: String, file: Option<String>) -> wasmtime::Result<Result<String, String>> {
        for_guest(self.env.ports.skills.read(&name, file.as_deref()).await)
    }
}
