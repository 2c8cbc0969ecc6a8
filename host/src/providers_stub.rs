use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
#[derive(Clone, Debug)] pub enum ChatRole { User, Assistant, Tool }
#[derive(Clone, Debug)] pub struct ToolCall { pub id: String, pub name: String, pub arguments: String }
#[derive(Clone, Debug)] pub struct ChatMessage { pub role: ChatRole, pub content: String, pub tool_calls: Vec<ToolCall>, pub tool_call_id: Option<String>, pub is_error: bool }
#[derive(Clone, Debug)] pub struct ToolSpec { pub name: String, pub description: String, pub parameters: serde_json::Value }
#[derive(Clone, Debug)] pub struct ChatRequest { pub model: String, pub system: String, pub messages: Vec<ChatMessage>, pub tools: Vec<ToolSpec>, pub max_tokens: u32 }
#[derive(Clone, Debug)] pub enum StopReason { EndTurn, ToolUse, MaxTokens, Other }
#[derive(Clone, Debug)] pub struct Usage { pub input_tokens: u32, pub output_tokens: u32 }
#[derive(Clone, Debug)] pub struct Completion { pub content: String, pub tool_calls: Vec<ToolCall>, pub stop_reason: StopReason, pub usage: Usage }
#[derive(Debug, thiserror::Error)] pub enum ProviderError { #[error("{0}")] InvalidRequest(String), #[error("{0}")] Unavailable(String) }
#[async_trait::async_trait] pub trait Provider: Send + Sync { async fn complete(&self, req: &ChatRequest, on_delta: &mut (dyn FnMut(&str) + Send)) -> Result<Completion, ProviderError>; }
pub struct Providers;
impl Providers { pub fn new(_c: &ProvidersConfig, _e: &HashMap<String,String>, _r: RetryPolicy) -> Self { Providers } pub fn resolve(&self, _m: &str) -> Result<(Arc<dyn Provider>, String), ProviderError> { Err(ProviderError::InvalidRequest("x".into())) } }
#[derive(Clone, Debug, Default, serde::Deserialize)] pub struct ProvidersConfig { pub entries: BTreeMap<String, String> }
#[derive(Clone, Debug)] pub struct RetryPolicy { pub max_attempts: u32, pub base_delay: Duration, pub max_delay: Duration }
impl Default for RetryPolicy { fn default() -> Self { RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(20) } } }
