//! Prometheus text exposition of the host's state.

use std::fmt::Write;

use crate::HostError;
use crate::services::Services;

/// Counts what committed events say happened: runs entering a status, tool calls by
/// origin and outcome. After the commit, so a rolled-back change is never counted.
pub(crate) struct EventCounter;

impl hermes_events::CommitHook for EventCounter {
    fn in_transaction(
        &self,
        _: &hermes_store::Tx<'_>,
        _: &[hermes_events::Event],
    ) -> Result<(), hermes_store::StoreError> {
        Ok(())
    }

    fn committed(&self, events: &[hermes_events::Event]) {
        let m = hermes_metrics::global();
        for e in events {
            match e.kind.as_str() {
                "run_status" => {
                    if let Some(status) = e.payload.get("status").and_then(|s| s.as_str()) {
                        m.run_entered(status);
                    }
                }
                "tool_result" => {
                    let origin = e.payload.get("origin").and_then(|o| o.as_str()).unwrap_or("builtin");
                    let failed = e.payload.get("is_error").and_then(|v| v.as_bool()).unwrap_or(false);
                    m.tool_call(origin, !failed);
                }
                _ => {}
            }
        }
    }
}

/// Renders the metrics page: the recorded counters and histograms, then gauges read
/// from the store and the runtime now.
pub(crate) async fn render(services: &Services) -> Result<String, HostError> {
    let (deployments, runs) = services
        .db
        .read(|conn| Ok((hermes_store::deployments::count(conn)?, hermes_store::runs::count_by_status(conn)?)))
        .await?;
    let limits = services.runtime.limits();
    let mut out = hermes_metrics::global().encode();
    let _ = writeln!(out, "# HELP hermes_deployments Deployments stored.\n# TYPE hermes_deployments gauge");
    let _ = writeln!(out, "hermes_deployments {deployments}");
    let _ = writeln!(out, "# HELP hermes_runs Runs by status.\n# TYPE hermes_runs gauge");
    for (status, n) in runs {
        let _ = writeln!(out, "hermes_runs{{status=\"{status}\"}} {n}");
    }
    let _ =
        writeln!(out, "# HELP hermes_instances_live Guest instances alive now.\n# TYPE hermes_instances_live gauge");
    let _ = writeln!(out, "hermes_instances_live {}", services.runtime.live_instances());
    let _ = writeln!(out, "# HELP hermes_instances_max Instance slots.\n# TYPE hermes_instances_max gauge");
    let _ = writeln!(out, "hermes_instances_max {}", limits.max_concurrent_instances);
    let _ = writeln!(
        out,
        "# HELP hermes_pooling_allocator 1 when the pooling allocator is in use.\n# TYPE hermes_pooling_allocator gauge"
    );
    let _ = writeln!(out, "hermes_pooling_allocator {}", u8::from(services.runtime.pooling()));
    out.push_str("# EOF\n");
    Ok(out)
}
