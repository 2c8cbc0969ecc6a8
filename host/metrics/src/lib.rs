//! The host's Prometheus metrics: counters and histograms every floor records into (the
//! store's commits, the runtime's instantiations, the core's runs, model calls, tool
//! calls, webhooks and MCP errors, the API's event streams), in one process-wide
//! registry that `/metrics` encodes beside the gauges read from the store.
//!
//! Labels are bounded: statuses, origins and outcomes are small fixed sets, and the
//! `model` label keeps the first [`MAX_MODELS`] distinct models and folds the rest into
//! `other` (a deployment chooses its model string; an unbounded label would let a
//! tenant grow the host's memory). No label names a deployment or account.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Distinct `model` label values kept before the rest are counted as `other`.
pub const MAX_MODELS: usize = 64;

/// `{status}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// A run status (`completed`, `error`, …).
    pub status: String,
}

/// `{provider, model}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// The registry name (`openai`, …).
    pub provider: String,
    /// The model, or `other` past [`MAX_MODELS`].
    pub model: String,
}

/// `{provider, model, kind}` for token counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// The registry name.
    pub provider: String,
    /// The model, or `other`.
    pub model: String,
    /// `input`, `output` or `cached_input`.
    pub kind: String,
}

/// `{origin, outcome}` for tool calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    /// `builtin`, `mcp` or `plugin`.
    pub origin: String,
    /// `ok` or `error`.
    pub outcome: String,
}

/// `{outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `delivered`, `failed`, `ok`, `error`, …
    pub outcome: String,
}

/// Every metric the host records.
pub struct Metrics {
    registry: Registry,
    /// Run status changes, by the status entered.
    pub run_status: Family<StatusLabel, Counter>,
    /// Seconds an executor worked on a run: from its claim until it let go (a final
    /// status, or parked waiting for a human or its subagents).
    pub run_duration: Histogram,
    /// Seconds of a model call (the whole stream), by provider and model.
    pub model_latency: Family<ModelLabels, Histogram>,
    /// Tokens of model calls, by provider, model and kind.
    pub model_tokens: Family<TokenLabels, Counter>,
    /// Model calls that failed, by provider and model.
    pub model_errors: Family<ModelLabels, Counter>,
    /// Tool calls, by origin and outcome.
    pub tool_calls: Family<ToolLabels, Counter>,
    /// Seconds to instantiate a guest.
    pub instantiate: Histogram,
    /// Event streams (SSE) open now.
    pub sse_subscribers: Gauge,
    /// Webhook delivery attempts, by outcome (`delivered`, `failed`).
    pub webhook_deliveries: Family<OutcomeLabel, Counter>,
    /// MCP calls and listings that failed.
    pub mcp_errors: Counter,
    /// Seconds of one store commit (a group of writes), fsync included.
    pub store_commit: Histogram,
    models: Mutex<HashSet<String>>,
}

fn seconds() -> Histogram {
    // 100 µs … ~52 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

fn model_histograms() -> Family<ModelLabels, Histogram> {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14)))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("hermes");
        let m = Metrics {
            run_status: Family::default(),
            run_duration: Histogram::new(exponential_buckets(0.01, 2.0, 18)),
            model_latency: model_histograms(),
            model_tokens: Family::default(),
            model_errors: Family::default(),
            tool_calls: Family::default(),
            instantiate: seconds(),
            sse_subscribers: Gauge::default(),
            webhook_deliveries: Family::default(),
            mcp_errors: Counter::default(),
            store_commit: seconds(),
            models: Mutex::new(HashSet::new()),
            registry: Registry::default(),
        };
        registry.register("run_status_changes", "Run status changes, by the status entered", m.run_status.clone());
        registry.register(
            "run_duration_seconds",
            "Seconds an executor worked on a run, from its claim until it ended or parked",
            m.run_duration.clone(),
        );
        registry.register(
            "model_call_duration_seconds",
            "Seconds of a model call, the whole stream, by provider and model",
            m.model_latency.clone(),
        );
        registry.register("model_tokens", "Tokens of model calls, by provider, model and kind", m.model_tokens.clone());
        registry.register(
            "model_call_errors",
            "Model calls that failed, by provider and model",
            m.model_errors.clone(),
        );
        registry.register("tool_calls", "Tool calls, by origin and outcome", m.tool_calls.clone());
        registry.register("instantiate_duration_seconds", "Seconds to instantiate a guest", m.instantiate.clone());
        registry.register("sse_subscribers", "Event streams (SSE) open now", m.sse_subscribers.clone());
        registry.register("webhook_deliveries", "Webhook delivery attempts, by outcome", m.webhook_deliveries.clone());
        registry.register("mcp_errors", "MCP calls and listings that failed", m.mcp_errors.clone());
        registry.register(
            "store_commit_duration_seconds",
            "Seconds of one store commit (a group of writes), fsync included",
            m.store_commit.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The `model` label for `model`: itself, or `other` once [`MAX_MODELS`] are known.
    pub fn model_label(&self, model: &str) -> String {
        let mut known = self.models.lock().unwrap_or_else(|p| p.into_inner());
        if known.contains(model) || known.len() < MAX_MODELS {
            known.insert(model.to_string());
            model.to_string()
        } else {
            "other".into()
        }
    }

    /// Records a finished model call.
    pub fn model_call(&self, provider: &str, model: &str, took: Duration, tokens: [(&str, u64); 3], ok: bool) {
        let model = self.model_label(model);
        let labels = ModelLabels { provider: provider.to_string(), model: model.clone() };
        self.model_latency.get_or_create(&labels).observe(took.as_secs_f64());
        if !ok {
            self.model_errors.get_or_create(&labels).inc();
        }
        for (kind, n) in tokens {
            if n > 0 {
                let t = TokenLabels { provider: provider.to_string(), model: model.clone(), kind: kind.to_string() };
                self.model_tokens.get_or_create(&t).inc_by(n);
            }
        }
    }

    /// Records a tool call's outcome.
    pub fn tool_call(&self, origin: &str, ok: bool) {
        let origin = if origin.starts_with("plugin") { "plugin" } else { origin };
        let labels = ToolLabels { origin: origin.to_string(), outcome: if ok { "ok" } else { "error" }.into() };
        self.tool_calls.get_or_create(&labels).inc();
    }

    /// Records a run entering `status`.
    pub fn run_entered(&self, status: &str) {
        self.run_status.get_or_create(&StatusLabel { status: status.to_string() }).inc();
    }

    /// Records a webhook delivery attempt.
    pub fn webhook(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.webhook_deliveries.get_or_create(&OutcomeLabel { outcome: outcome.into() }).inc();
    }

    /// The text exposition (OpenMetrics) of every metric here, without the `# EOF`
    /// line, so the caller can append its own gauges.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Holds one open event stream in [`Metrics::sse_subscribers`] until dropped.
#[derive(Debug)]
pub struct StreamGuard(());

impl StreamGuard {
    /// Counts a stream as open.
    pub fn open() -> StreamGuard {
        global().sse_subscribers.inc();
        StreamGuard(())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        global().sse_subscribers.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_past_the_bound_fold_into_other() {
        let m = Metrics::new();
        for i in 0..MAX_MODELS {
            assert_eq!(m.model_label(&format!("p/m{i}")), format!("p/m{i}"));
        }
        assert_eq!(m.model_label("p/one-too-many"), "other");
        assert_eq!(m.model_label("p/m3"), "p/m3", "a known model keeps its label");
        m.model_call("p", "p/m3", Duration::from_millis(20), [("input", 10), ("output", 5), ("cached_input", 0)], true);
        m.tool_call("plugin:plg_1", false);
        let text = m.encode();
        assert!(text.contains("hermes_model_tokens_total{provider=\"p\",model=\"p/m3\",kind=\"input\"} 10"), "{text}");
        assert!(text.contains("hermes_tool_calls_total{origin=\"plugin\",outcome=\"error\"} 1"), "{text}");
    }
}
