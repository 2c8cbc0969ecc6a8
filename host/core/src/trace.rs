//! The spans of a run, named and attributed as the OpenTelemetry GenAI semantic
//! conventions say: `invoke_agent` per run, `chat` per model call, `execute_tool` per
//! tool call (an MCP call inside it as `tools/call <tool>`). Exported only when the
//! binary installs an OTLP layer (`hermes_telemetry`); otherwise they are ordinary
//! `tracing` spans that cost next to nothing.
//!
//! Integers are recorded as `i64`: the OpenTelemetry bridge exports unsigned ones as
//! strings, which backends would not sum or compare.
//!
//! No prompt, answer or tool content goes into a span unless the operator sets
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, and then only tool
//! arguments and results, scrubbed of the deployment's secret values.

use std::collections::HashMap;
use std::sync::Mutex;

use tracing::Span;
use tracing::field::Empty;

use hermes_types::sync::Locked;

/// The `invoke_agent` span of one execution of run `run_id`, in the trace the run was
/// started under (`known`, else read from the store, and only when traces are
/// exported), else a root.
pub(crate) async fn run_span(db: &hermes_store::Db, run_id: &str, known: Option<String>) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "run",
        otel.name = "invoke_agent hermes",
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "hermes",
        gen_ai.agent.id = Empty,
        gen_ai.conversation.id = Empty,
        gen_ai.request.model = Empty,
        error.type = Empty,
        hermes.run_id = %run_id,
        hermes.deployment_id = Empty,
        run_id = %run_id,
    );
    match known {
        Some(tp) => hermes_telemetry::adopt(&span, &tp),
        None => join_run_trace(db, &span, run_id).await,
    }
    span
}

/// Makes the trace run `run_id` was started under (kept in the store) the parent of
/// `span`, which must not have been entered yet. Reads nothing when traces are not
/// exported.
pub(crate) async fn join_run_trace(db: &hermes_store::Db, span: &Span, run_id: &str) {
    if !hermes_telemetry::requested() {
        return;
    }
    let id = run_id.to_string();
    match db.read(move |tx| hermes_store::runs::traceparent(tx, &id)).await {
        Ok(Some(tp)) => hermes_telemetry::adopt(span, &tp),
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, run_id, "reading a run's trace context"),
    }
}

/// Fills in the current run span once the run is loaded.
pub(crate) fn describe_run(deployment_id: &str, thread_id: &str, model: &str) {
    let span = Span::current();
    span.record("gen_ai.agent.id", deployment_id);
    span.record("hermes.deployment_id", deployment_id);
    span.record("gen_ai.conversation.id", thread_id);
    span.record("gen_ai.request.model", model);
}

/// Marks the current span failed with `error_type` (a short, low-cardinality reason).
pub(crate) fn record_error(error_type: &str) {
    let span = Span::current();
    span.record("otel.status_code", "ERROR");
    span.record("error.type", error_type);
}

/// The `chat` span of one model call.
pub(crate) fn chat_span(provider: &str, model: &str, max_tokens: u32) -> Span {
    tracing::info_span!(
        "chat",
        otel.name = %format!("chat {model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = %provider,
        gen_ai.request.model = %model,
        gen_ai.request.max_tokens = i64::from(max_tokens),
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        error.type = Empty,
    )
}

/// The `tools/call` span of one MCP call (the MCP semantic conventions' client span).
pub(crate) fn mcp_span(server: &str, tool: &str) -> Span {
    tracing::info_span!(
        "mcp",
        otel.name = %format!("tools/call {tool}"),
        otel.kind = "client",
        otel.status_code = Empty,
        mcp.method.name = "tools/call",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = %tool,
        network.transport = "tcp",
        jsonrpc.request.id = Empty,
        mcp.protocol.version = Empty,
        mcp.session.id = Empty,
        error.type = Empty,
        hermes.mcp_server = %server,
    )
}

/// The open `execute_tool` spans of one run, by call id: a call's span opens when
/// the guest announces it (`tool-started`) and closes when its result is appended,
/// so it covers the tool's whole execution wherever it runs (in the guest, in the
/// sandbox, on an MCP server, in a plugin).
#[derive(Default)]
pub(crate) struct ToolSpans {
    open: Mutex<HashMap<String, Span>>,
    /// Arguments by call id, kept only when content capture is on.
    arguments: Mutex<HashMap<String, String>>,
}

impl ToolSpans {
    /// Opens the span of call `call_id` to `tool` (`kind`: `function` for the host's
    /// and plugins' tools, `extension` for an MCP server's), under the current span.
    pub fn start(&self, call_id: &str, tool: &str, kind: &str) -> Span {
        let span = tracing::info_span!(
            "tool",
            otel.name = %format!("execute_tool {tool}"),
            otel.kind = "internal",
            otel.status_code = Empty,
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = %tool,
            gen_ai.tool.call.id = %call_id,
            gen_ai.tool.type = %kind,
            gen_ai.tool.call.arguments = Empty,
            gen_ai.tool.call.result = Empty,
            error.type = Empty,
        );
        if let Some(args) = self.arguments.locked().remove(call_id) {
            span.record("gen_ai.tool.call.arguments", args.as_str());
        }
        self.open.locked().insert(call_id.to_string(), span.clone());
        span
    }

    /// The open span of `call_id`, if the guest announced it.
    pub fn get(&self, call_id: &str) -> Option<Span> {
        self.open.locked().get(call_id).cloned()
    }

    /// Keeps a call's arguments for its span (only called when capture is on).
    pub fn remember_arguments(&self, call_id: &str, arguments: String) {
        self.arguments.locked().insert(call_id.to_string(), arguments);
    }

    /// Closes the span of `call_id` with its outcome; `result` only when capture is on.
    pub fn finish(&self, call_id: &str, is_error: bool, result: Option<&str>) {
        let Some(span) = self.open.locked().remove(call_id) else { return };
        if is_error {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", "tool_error");
        }
        if let Some(r) = result {
            span.record("gen_ai.tool.call.result", r);
        }
    }
}
