//! `memory`: observational memory is not built yet; every call says so.

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::memory::{Host, MemoryEntry};

const UNSUPPORTED: &str = "observational memory is not available on this host yet";

impl Host for RunState {
    async fn recall(&mut self, _query: String, _limit: u32) -> wasmtime::Result<Result<Vec<MemoryEntry>, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn add(&mut self, _content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn update(&mut self, _id: String, _content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn forget(&mut self, _id: String) -> wasmtime::Result<Result<(), String>> {
        Ok(Err(UNSUPPORTED.into()))
    }
}
