//! Prometheus text exposition of the host's state.

use std::fmt::Write;

use crate::HostError;
use crate::services::Services;

/// Renders the metrics page.
pub(crate) async fn render(services: &Services) -> Result<String, HostError> {
    let (deployments, runs) = services
        .db
        .read(|conn| Ok((hermes_store::deployments::count(conn)?, hermes_store::runs::count_by_status(conn)?)))
        .await?;
    let limits = services.runtime.limits();
    let mut out = String::new();
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
    Ok(out)
}
