//! The domain's side of the guest-import boundary: one small implementation of each
//! `hermes-runtime` port per run, each holding only the handles its interface needs
//! (the store, the hub, the MCP pool, the providers), never the run manager or the
//! runtime. [`for_run`] assembles them for one instance.

mod approvals;
mod automations;
mod events;
mod mcp;
mod memory;
mod model;
mod skills;
mod subagents;
mod threads;

use std::sync::Arc;

use hermes_runtime::{PortError, Ports};

use crate::HostError;
use crate::plugins::Attached;
use crate::run_scope::RunScope;
use crate::services::Services;

/// A domain error as a port failure: what the guest can act on (bad input, not
/// found, conflict) it sees; anything else is the host's and ends the run.
fn refusal(e: HostError) -> PortError {
    match e {
        HostError::Validation { message, .. } | HostError::NotFound(message) | HostError::Conflict(message) => {
            PortError::Guest(message)
        }
        other => PortError::host(other),
    }
}

/// The ports of one run (or dream) of `scope`.
pub(crate) fn for_run(
    services: &Arc<Services>,
    scope: &Arc<RunScope>,
    plugins: Arc<[Attached]>,
    starter: Option<Arc<dyn crate::handle::RunStarter>>,
) -> Ports {
    let target = crate::mcp::Target {
        deployment_id: scope.deployment_id.clone(),
        account_id: scope.account_id.clone(),
        spec: scope.spec.clone(),
    };
    let model = services.config.model_of(&scope.spec);
    let spans = Arc::new(crate::trace::ToolSpans::default());
    Ports {
        model: Arc::new(model::ModelGate {
            providers: services.providers.clone(),
            db: services.db.clone(),
            hub: services.hub.clone(),
            default_model: services.config.default_model.clone(),
            max_output_tokens: services.config.max_output_tokens,
            pricing: services.pricing.clone(),
            context_window: services.config.context.harness_window(model),
            sees_images: services.config.context.sees_images(model),
            tokenizer: hermes_providers::tokens::Tokenizer::for_model(model),
            scope: scope.clone(),
        }),
        threads: Arc::new(threads::Transcript {
            db: services.db.clone(),
            hub: services.hub.clone(),
            scope: scope.clone(),
            plugins: plugins.clone(),
            spans: spans.clone(),
        }),
        memory: Arc::new(memory::MemoryDesk {
            db: services.db.clone(),
            hub: services.hub.clone(),
            scope: scope.clone(),
        }),
        mcp: Arc::new(mcp::ToolDesk {
            pool: services.mcp.clone(),
            target,
            plugins,
            runtime: services.runtime.clone(),
            sandbox: services.sandbox.clone(),
            web: services.web.clone(),
            secrets: services.secrets.clone(),
            db: services.db.clone(),
            scope: scope.clone(),
            spans,
        }),
        approvals: Arc::new(approvals::ApprovalDesk { hub: services.hub.clone(), scope: scope.clone() }),
        automations: Arc::new(automations::AutomationDesk {
            desk: crate::automations::Desk::of(services),
            scope: scope.clone(),
        }),
        events: Arc::new(events::EventDesk { hub: services.hub.clone(), scope: scope.clone() }),
        skills: Arc::new(skills::SkillShelf { scope: scope.clone() }),
        subagents: Arc::new(subagents::Delegator { services: services.clone(), scope: scope.clone(), starter }),
    }
}
