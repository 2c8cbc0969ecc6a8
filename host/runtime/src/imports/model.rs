//! `model`: completions through the run's model port. The boundary bounds the
//! request and hides disabled tools; the port streams deltas as `token` events and
//! records usage before the guest sees the answer, which is scrubbed here.

use super::{MAX_TEXT, bounded};
use crate::RunState;
use crate::ports::{ModelFailure, ModelRequest};
use crate::state::RunEnv;
use crate::wit::hermes::agent::model::{Completion, CompletionRequest, Host, ModelError, StopReason};
use crate::wit::hermes::agent::types::{Role, ToolCall, Usage};
use hermes_providers::{ChatMessage, ChatRole, StopReason as PStop, ToolCall as PCall, ToolSpec};

/// Most messages in one completion request.
const MAX_MESSAGES: usize = 4000;
/// Most tools offered in one request.
const MAX_TOOLS: usize = 256;
/// Most bytes of a whole request (messages + system + tools).
const MAX_REQUEST: usize = 16 << 20;
/// Largest parameters schema of one tool (JSON text).
const MAX_SCHEMA: usize = 64 << 10;
fn convert(req: CompletionRequest, env: &RunEnv) -> Result<ModelRequest, String> {
    if req.messages.len() > MAX_MESSAGES {
        return Err(format!("{} messages; the limit is {MAX_MESSAGES}", req.messages.len()));
    }
    if req.tools.len() > MAX_TOOLS {
        return Err(format!("{} tools; the limit is {MAX_TOOLS}", req.tools.len()));
    }
    bounded("system prompt", &req.system, MAX_TEXT)?;
    let mut total = req.system.len();
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in req.messages {
        total += m.content.len() + m.tool_calls.iter().map(|c| c.arguments.len() + c.name.len()).sum::<usize>();
        messages.push(ChatMessage {
            role: match m.role {
                Role::User => ChatRole::User,
                Role::Assistant => ChatRole::Assistant,
                Role::Tool => ChatRole::Tool,
            },
            content: m.content,
            tool_calls: m
                .tool_calls
                .into_iter()
                .map(|c| PCall { id: c.id, name: c.name, arguments: c.arguments })
                .collect(),
            tool_call_id: m.tool_call_id,
            is_error: m.is_error,
            images: Vec::new(),
        });
    }
    let mut tools = Vec::with_capacity(req.tools.len());
    for t in req.tools {
        // A tool the deployment disabled (or a subagent was not given) is never shown to
        // the model, whatever the guest sends.
        if !env.tool_allowed(&t.name) {
            continue;
        }
        total += t.parameters.len() + t.description.len();
        // Sizes before parsing: a schema costs many times its text once parsed.
        if total > MAX_REQUEST {
            return Err(format!("the request is over {total} bytes; the limit is {MAX_REQUEST}"));
        }
        if t.parameters.len() > MAX_SCHEMA {
            return Err(format!(
                "tool {:?} has a {} byte schema; the limit is {MAX_SCHEMA}",
                t.name,
                t.parameters.len()
            ));
        }
        let parameters = serde_json::from_str(&t.parameters)
            .map_err(|e| format!("tool {:?} has a parameters schema that is not JSON: {e}", t.name))?;
        tools.push(ToolSpec { name: t.name, description: t.description, parameters });
    }
    if total > MAX_REQUEST {
        return Err(format!("the request is {total} bytes; the limit is {MAX_REQUEST}"));
    }
    Ok(ModelRequest {
        system: req.system,
        messages,
        tools,
        max_tokens: req.max_tokens,
        stream_tokens: req.stream_tokens,
    })
}

impl Host for RunState {
    async fn complete(&mut self, request: CompletionRequest) -> wasmtime::Result<Result<Completion, ModelError>> {
        let env = self.env.clone();
        let request = match convert(request, &env) {
            Ok(r) => r,
            Err(e) => return Ok(Err(ModelError::InvalidRequest(e))),
        };
        let completion = match env.ports.model.complete(request).await {
            Ok(c) => c,
            Err(ModelFailure::InvalidRequest(m)) => return Ok(Err(ModelError::InvalidRequest(m))),
            Err(ModelFailure::Unavailable(m)) => return Ok(Err(ModelError::Unavailable(m))),
            Err(ModelFailure::InsufficientCredits(m)) => return Ok(Err(ModelError::InsufficientCredits(m))),
            Err(ModelFailure::Cancelled) => return Ok(Err(ModelError::Cancelled)),
            Err(ModelFailure::Host(e)) => return Err(wasmtime::Error::from_boxed(e)),
        };
        let scrub = &env.secrets;
        let (input, output) = (completion.usage.input_tokens, completion.usage.output_tokens);
        Ok(Ok(Completion {
            // Nothing secret reaches the guest, even when the model echoes a value.
            content: scrub.scrub_owned(completion.content),
            tool_calls: completion
                .tool_calls
                .into_iter()
                .map(|c| ToolCall { id: c.id, name: c.name, arguments: scrub.scrub_owned(c.arguments) })
                .collect(),
            stop_reason: match completion.stop_reason {
                PStop::EndTurn => StopReason::EndTurn,
                PStop::ToolUse => StopReason::ToolUse,
                PStop::MaxTokens => StopReason::MaxTokens,
                PStop::Other => StopReason::Other,
            },
            usage: Usage { input_tokens: input, output_tokens: output },
        }))
    }

    async fn context_window(&mut self) -> wasmtime::Result<u32> {
        Ok(self.env.ports.model.context_window())
    }

    async fn count_tokens(&mut self, texts: Vec<String>) -> wasmtime::Result<Vec<u32>> {
        // Bounded like a request: past it the guest gets the estimate, uncounted.
        let bytes: usize = texts.iter().map(String::len).sum();
        if texts.len() > MAX_COUNTED_TEXTS || bytes > MAX_REQUEST {
            return Ok(hermes_providers::tokens::Tokenizer::Estimate.count(&texts));
        }
        Ok(self.env.ports.model.count_tokens(texts).await)
    }
}

/// Texts one `count-tokens` call counts with the model's tokenizer at most.
const MAX_COUNTED_TEXTS: usize = 10_000;
