//! The model port: the deployment's provider and model, a credit check before each
//! call and the charge after it, streamed deltas persisted as `token` events.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_events::{EventHub, NewEvent};
use hermes_providers::tokens::Tokenizer;
use hermes_providers::{ChatRequest, Completion, ProviderError, Providers};
use hermes_runtime::ports::{ModelFailure, ModelPort, ModelRequest};
use hermes_store::runs;
use hermes_store::usage::{self, UsageRow};
use hermes_store::{Db, StoreError};
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::Pricing;
use crate::run_scope::RunScope;

/// Most deltas persisted in one commit while streaming.
const TOKEN_BATCH: usize = 256;

/// Model calls of one run.
pub(crate) struct ModelGate {
    pub providers: Providers,
    pub db: Db,
    pub hub: EventHub,
    pub default_model: String,
    pub max_output_tokens: u32,
    pub pricing: Arc<Pricing>,
    /// The deployment model's context window, in tokens.
    pub context_window: u32,
    /// The deployment's model takes images: image attachments become image parts.
    pub sees_images: bool,
    /// How the deployment's model counts tokens.
    pub tokenizer: Tokenizer,
    pub scope: Arc<RunScope>,
}

/// Persists streamed deltas as `token` events, batching what has queued up.
async fn write_tokens(
    hub: EventHub,
    scope: Arc<RunScope>,
    mut rx: mpsc::UnboundedReceiver<String>,
) -> Result<(), hermes_store::StoreError> {
    // Secret values are scrubbed from the deltas, even when split across several.
    let mut scrub = scope.secrets.stream();
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
                NewEvent::new("token", &scope.deployment_id, json!({"delta": delta}))
                    .scoped(Some(&scope.thread_id), Some(&scope.run_id))
            })
            .collect();
        hub.append_all(events).await?;
    }
    Ok(())
}

#[async_trait]
impl ModelPort for ModelGate {
    fn context_window(&self) -> u32 {
        self.context_window
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Vec<u32> {
        let tokenizer = self.tokenizer;
        if tokenizer == Tokenizer::Estimate {
            return tokenizer.count(&texts);
        }
        // Tokenizing is CPU work (and the first use loads the vocabulary).
        let fallback: Vec<usize> = texts.iter().map(String::len).collect();
        tokio::task::spawn_blocking(move || tokenizer.count(&texts)).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "counting tokens failed; estimating");
            fallback
                .into_iter()
                .map(|b| u32::try_from(hermes_providers::tokens::estimate(b)).unwrap_or(u32::MAX))
                .collect()
        })
    }

    async fn complete(&self, request: ModelRequest) -> Result<Completion, ModelFailure> {
        let scope = &self.scope;
        let model = scope.spec.model.clone().unwrap_or_else(|| self.default_model.clone());
        // The account's allowlist may have narrowed since the deployment was made.
        crate::accounts::check_provider(&self.db, &scope.account_id, &model)
            .await
            .map_err(ModelFailure::InvalidRequest)?;
        // Resolved before anything is held, so an unknown model costs nothing.
        if let Err(e) = self.providers.resolve(&model) {
            return Err(ModelFailure::InvalidRequest(e.to_string()));
        }
        let max_tokens = request.max_tokens.map_or(self.max_output_tokens, |m| m.min(self.max_output_tokens));
        // A run stops once its account is out of credits (the harness reports the
        // error as the run's). Before the call its estimated cost is held (what is
        // left, when that is less), so concurrent calls cannot spend the same credits
        // and the balance never goes below zero; the charge after it replaces the hold.
        let request_bytes: usize = request.system.len()
            + request.messages.iter().map(|m| m.content.len() + 64).sum::<usize>()
            + request
                .tools
                .iter()
                .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
                .sum::<usize>();
        let estimate = self.pricing.price(&model).cost((request_bytes / 4) as u64, u64::from(max_tokens));
        let (account, run) = (scope.account_id.clone(), scope.run_id.clone());
        let hold =
            match self.db.write(move |tx| usage::hold(tx, &account, &run, estimate, &hermes_types::ids::now())).await {
                Ok(hold) => hold,
                Err(StoreError::InsufficientCredits(b)) => {
                    return Err(ModelFailure::InsufficientCredits(crate::billing::exhausted(b)));
                }
                Err(e) => return Err(ModelFailure::Host(e.into())),
            };
        let result = self.call_and_charge(request, model, max_tokens, hold).await;
        if result.is_err()
            && let Some(id) = hold
        {
            // The call failed or was cancelled: nothing was charged, the hold goes back.
            if let Err(e) = self.db.write(move |tx| usage::release(tx, id)).await {
                tracing::error!(error = %e, "releasing a credit hold failed; it is released at the next start");
            }
        }
        result
    }
}

impl ModelGate {
    /// The provider call, its token events, and the charge that replaces `hold`.
    async fn call_and_charge(
        &self,
        request: ModelRequest,
        model: String,
        max_tokens: u32,
        hold: Option<i64>,
    ) -> Result<Completion, ModelFailure> {
        let scope = &self.scope;
        let (provider, model_name) = match self.providers.resolve(&model) {
            Ok(p) => p,
            Err(e) => return Err(ModelFailure::InvalidRequest(e.to_string())),
        };
        let stream = request.stream_tokens;
        let mut messages = request.messages;
        if self.sees_images {
            // Image attachments of user messages go to a vision model as image parts
            // (their list stays in the text, so the model knows their names).
            for m in messages.iter_mut().filter(|m| m.role == hermes_providers::ChatRole::User) {
                m.images = hermes_store::threads::attached_images(&m.content)
                    .into_iter()
                    .map(|url| hermes_providers::ImagePart { url })
                    .collect();
            }
        }
        let chat =
            ChatRequest { model: model_name, system: request.system, messages, tools: request.tools, max_tokens };

        let (tx, rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(write_tokens(self.hub.clone(), scope.clone(), rx));
        let started = std::time::Instant::now();
        let provider_name = model.split_once('/').map_or(model.as_str(), |(p, _)| p).to_string();
        let span = crate::trace::chat_span(&provider_name, &chat.model, max_tokens);
        let result = {
            let mut on_delta = |d: &str| {
                if stream && !d.is_empty() {
                    let _ = tx.send(d.to_string());
                }
            };
            let call = tracing::Instrument::instrument(provider.complete(&chat, &mut on_delta), span.clone());
            tokio::select! {
                r = call => Some(r),
                _ = scope.cancel.cancelled() => None,
                _ = scope.shutdown.cancelled() => None,
            }
        };
        match &result {
            Some(Ok(c)) => {
                span.record("gen_ai.usage.input_tokens", i64::from(c.usage.input_tokens));
                span.record("gen_ai.usage.output_tokens", i64::from(c.usage.output_tokens));
                let reason = match c.stop_reason {
                    hermes_providers::StopReason::EndTurn => "stop",
                    hermes_providers::StopReason::ToolUse => "tool_calls",
                    hermes_providers::StopReason::MaxTokens => "length",
                    hermes_providers::StopReason::Other => "other",
                };
                span.record("gen_ai.response.finish_reasons", reason);
            }
            Some(Err(e)) => {
                span.record("otel.status_code", "ERROR");
                let kind = match e {
                    ProviderError::InvalidRequest(_) => "invalid_request",
                    ProviderError::Unavailable(_) => "unavailable",
                };
                span.record("error.type", kind);
            }
            None => {
                span.record("error.type", "cancelled");
            }
        }
        drop(span);
        drop(tx);
        // Every token event is durable before the guest can announce the message.
        match writer.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ModelFailure::Host(e.into())),
            Err(e) => return Err(ModelFailure::Host(e.into())),
        }

        let metrics = hermes_metrics::global();
        let took = started.elapsed();
        if let Some(Err(_)) = &result {
            metrics.model_call(&provider_name, &model, took, [("input", 0), ("output", 0), ("cached_input", 0)], false);
        }
        let completion = match result {
            None => return Err(ModelFailure::Cancelled),
            Some(Err(ProviderError::InvalidRequest(m))) => return Err(ModelFailure::InvalidRequest(m)),
            Some(Err(ProviderError::Unavailable(m))) => return Err(ModelFailure::Unavailable(m)),
            Some(Ok(c)) => c,
        };

        let (input, output) = (completion.usage.input_tokens, completion.usage.output_tokens);
        let cached = completion.usage.cached_input_tokens.min(input);
        let tokens = [("input", input as u64), ("output", output as u64), ("cached_input", cached as u64)];
        metrics.model_call(&provider_name, &model, took, tokens, true);
        let credits = self.pricing.price(&model).cost_cached(input as u64, cached as u64, output as u64);
        let usage_event = NewEvent::new(
            "usage",
            &scope.deployment_id,
            json!({"model": model, "input_tokens": input, "cached_input_tokens": cached, "output_tokens": output,
                   "credits": credits}),
        )
        .scoped(Some(&scope.thread_id), Some(&scope.run_id));
        let charge = UsageRow {
            run_id: scope.run_id.clone(),
            deployment_id: scope.deployment_id.clone(),
            account_id: scope.account_id.clone(),
            model,
            input_tokens: input as u64,
            cached_input_tokens: cached as u64,
            output_tokens: output as u64,
            credits,
        };
        // The run's counters, the usage ledger and the account's debit: one commit.
        self.hub
            .commit(&scope.deployment_id, move |conn| {
                runs::add_usage(conn, &charge.run_id, charge.input_tokens, charge.output_tokens)?;
                usage::charge(conn, &charge, &hermes_types::ids::now(), hold)?;
                Ok(((), vec![usage_event]))
            })
            .await
            .map_err(|e| ModelFailure::Host(e.into()))?;
        let mut completion = completion;
        if !completion.tool_calls.is_empty() {
            let run_id = scope.run_id.clone();
            let used =
                self.db.read(move |tx| runs::call_ids(tx, &run_id)).await.map_err(|e| ModelFailure::Host(e.into()))?;
            unique_call_ids(&scope.run_id, &mut completion.tool_calls, used);
        }
        Ok(completion)
    }
}

/// Gives every call a run-unique id: a provider that reuses ids (or sends none) must
/// never let a new call inherit an earlier call's approval or recorded result.
fn unique_call_ids(run_id: &str, calls: &mut [hermes_providers::ToolCall], used: Vec<String>) {
    let mut seen: std::collections::HashSet<String> = used.into_iter().collect();
    for c in calls {
        if c.id.is_empty() || !seen.insert(c.id.clone()) {
            let fresh = hermes_types::ids::new_id("call");
            tracing::warn!(run_id, reused = %c.id, renamed = %fresh, "the model reused a tool call id; renamed");
            c.id = fresh.clone();
            seen.insert(fresh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_and_missing_call_ids_are_renamed() {
        let call = |id: &str| hermes_providers::ToolCall { id: id.into(), name: "t".into(), arguments: "{}".into() };
        let mut calls = vec![call("call_1"), call("call_2"), call("call_2"), call("")];
        unique_call_ids("run_1", &mut calls, vec!["call_1".into()]);
        assert_ne!(calls[0].id, "call_1", "used earlier in the run");
        assert_eq!(calls[1].id, "call_2");
        assert_ne!(calls[2].id, "call_2", "twice in one reply");
        assert!(!calls[3].id.is_empty());
        let ids: std::collections::HashSet<_> = calls.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), 4);
    }
}
