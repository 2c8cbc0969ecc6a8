//! `model`: completions through the deployment's provider. Deltas become `token`
//! events (persisted, then broadcast) while the completion streams; usage is
//! recorded on the run before the guest sees the answer.

use serde_json::json;
use tokio::sync::mpsc;

use super::{MAX_TEXT, bounded};
use crate::runtime::wit::hermes::agent::model::{Completion, CompletionRequest, Host, ModelError, StopReason};
use crate::runtime::wit::hermes::agent::types::{Role, ToolCall, Usage};
use crate::runtime::{RunEnv, RunState};
use hermes_events::NewEvent;
use hermes_providers::{
    ChatMessage, ChatRequest, ChatRole, ProviderError, StopReason as PStop, ToolCall as PCall, ToolSpec,
};
use hermes_store::runs;
use hermes_store::usage::{self, UsageRow};

/// Most messages in one completion request.
const MAX_MESSAGES: usize = 4000;
/// Most tools offered in one request.
const MAX_TOOLS: usize = 256;
/// Most bytes of a whole request (messages + system + tools).
const MAX_REQUEST: usize = 16 << 20;
/// Most deltas persisted in one commit while streaming.
const TOKEN_BATCH: usize = 256;

fn convert(req: CompletionRequest, env: &RunEnv, model: String, max_tokens: u32) -> Result<ChatRequest, String> {
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
        });
    }
    let mut tools = Vec::with_capacity(req.tools.len());
    for t in req.tools {
        // A tool the deployment disabled is never shown to the model, whatever the guest sends.
        if env.spec.disabled_tools.iter().any(|d| d == &t.name) {
            continue;
        }
        total += t.parameters.len() + t.description.len();
        let parameters = serde_json::from_str(&t.parameters)
            .map_err(|e| format!("tool {:?} has a parameters schema that is not JSON: {e}", t.name))?;
        tools.push(ToolSpec { name: t.name, description: t.description, parameters });
    }
    if total > MAX_REQUEST {
        return Err(format!("the request is {total} bytes; the limit is {MAX_REQUEST}"));
    }
    let max_tokens = req.max_tokens.map_or(max_tokens, |m| m.min(max_tokens));
    Ok(ChatRequest { model, system: req.system, messages, tools, max_tokens })
}

/// Persists streamed deltas as `token` events, batching what has queued up.
async fn write_tokens(
    env: std::sync::Arc<RunEnv>,
    mut rx: mpsc::UnboundedReceiver<String>,
) -> Result<(), hermes_store::StoreError> {
    // Secret values are scrubbed from the deltas, even when split across several.
    let mut scrub = env.secrets.stream();
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        match rx.recv().await {
            Some(first) => batch.push(scrub.push(&first)),
            None => open = false,
        }
        while open && batch.len() < TOKEN_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(scrub.push(&d)),
                Err(_) => break,
            }
        }
        if !open {
            batch.push(scrub.finish());
        }
        batch.retain(|d| !d.is_empty());
        if batch.is_empty() {
            continue;
        }
        let events = batch
            .into_iter()
            .map(|delta| {
                NewEvent::new("token", &env.deployment_id, json!({"delta": delta}))
                    .scoped(Some(&env.thread_id), Some(&env.run_id))
            })
            .collect();
        env.services.hub.append_all(events).await?;
    }
    Ok(())
}

impl Host for RunState {
    async fn complete(&mut self, request: CompletionRequest) -> wasmtime::Result<Result<Completion, ModelError>> {
        let env = self.env.clone();
        let services = &env.services;
        let model = env.spec.model.clone().unwrap_or_else(|| services.config.default_model.clone());
        let (provider, model_name) = match services.providers.resolve(&model) {
            Ok(p) => p,
            Err(e) => return Ok(Err(ModelError::InvalidRequest(e.to_string()))),
        };
        // A run stops once its account is out of credits (the harness reports the
        // error as the run's): checked before each call, charged after it.
        match crate::billing::require_credits(services, &env.account_id).await {
            Ok(()) => {}
            Err(crate::HostError::InsufficientCredits(m)) => return Ok(Err(ModelError::InsufficientCredits(m))),
            Err(e) => return Err(e.into()),
        }
        let stream = request.stream_tokens;
        let chat = match convert(request, &env, model_name, services.config.max_output_tokens) {
            Ok(c) => c,
            Err(e) => return Ok(Err(ModelError::InvalidRequest(e))),
        };

        let (tx, rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(write_tokens(env.clone(), rx));
        let result = {
            let mut on_delta = |d: &str| {
                if stream && !d.is_empty() {
                    let _ = tx.send(d.to_string());
                }
            };
            tokio::select! {
                r = provider.complete(&chat, &mut on_delta) => Some(r),
                _ = env.cancel.cancelled() => None,
                _ = env.shutdown.cancelled() => None,
            }
        };
        drop(tx);
        // Every token event is durable before the guest can announce the message.
        writer.await??;

        let completion = match result {
            None => return Ok(Err(ModelError::Cancelled)),
            Some(Err(ProviderError::InvalidRequest(m))) => return Ok(Err(ModelError::InvalidRequest(m))),
            Some(Err(ProviderError::Unavailable(m))) => return Ok(Err(ModelError::Unavailable(m))),
            Some(Ok(c)) => c,
        };

        let (input, output) = (completion.usage.input_tokens, completion.usage.output_tokens);
        let credits = services.config.pricing.price(&model).cost(input as u64, output as u64);
        let usage_event = NewEvent::new(
            "usage",
            &env.deployment_id,
            json!({"model": model, "input_tokens": input, "output_tokens": output, "credits": credits}),
        )
        .scoped(Some(&env.thread_id), Some(&env.run_id));
        let charge = UsageRow {
            run_id: env.run_id.clone(),
            deployment_id: env.deployment_id.clone(),
            account_id: env.account_id.clone(),
            model,
            input_tokens: input as u64,
            output_tokens: output as u64,
            credits,
        };
        // The run's counters, the usage ledger and the account's debit: one commit.
        services
            .hub
            .commit(&env.deployment_id, move |conn| {
                runs::add_usage(conn, &charge.run_id, charge.input_tokens, charge.output_tokens)?;
                usage::charge(conn, &charge)?;
                Ok(((), vec![usage_event]))
            })
            .await?;
        let scrub = &env.secrets;

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
}
