//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations, and the offline docs page that renders it.

use axum::Json;
use axum::response::Html;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::schema::*;

use hermes_types::spec::{DeploymentSpec, Features, McpServerSpec, Sandbox, SkillSpec};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("hk_…").build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Hermes Host API", description = "Wasm-sandboxed AI agent deployments: create, message, stream."),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    paths(
        super::system::healthz,
        super::system::readyz,
        super::system::metrics,
        super::system::account,
        super::secrets::usage,
        super::secrets::create,
        super::secrets::list,
        super::secrets::get,
        super::secrets::update,
        super::secrets::delete,
        super::deployments::create,
        super::deployments::list,
        super::deployments::get,
        super::deployments::patch,
        super::deployments::delete,
        super::tools::list,
        super::tools::patch,
        super::skills::list,
        super::skills::create,
        super::skills::get,
        super::skills::replace,
        super::skills::delete,
        super::messages::send,
        super::messages::get_run,
        super::messages::cancel_run,
        super::approvals::list,
        super::approvals::get,
        super::approvals::decide,
        super::approvals::steer,
        super::memories::list,
        super::memories::create,
        super::memories::get,
        super::memories::patch,
        super::memories::delete,
        super::memories::dream,
        super::threads::create,
        super::threads::list,
        super::threads::get,
        super::threads::patch,
        super::threads::delete,
        super::automations::create,
        super::automations::list,
        super::automations::get,
        super::automations::patch,
        super::automations::delete,
        super::automations::run,
        super::events::stream,
        super::files::list,
        super::files::content,
        super::files::put,
        super::files::delete,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::get,
        super::webhooks::delete,
        super::plugins::upload,
        super::plugins::list,
        super::plugins::get,
        super::plugins::delete,
        super::agents::create,
        super::agents::list,
        super::agents::get,
        super::agents::update,
        super::agents::patch,
        super::agents::versions,
        super::agents::archive,
        super::agents::create_session,
        super::agents::list_sessions,
        super::agents::get_session,
        super::agents::patch_session,
        super::agents::delete_session,
        super::agents::archive_session,
        super::sessions::send,
        super::sessions::list,
        super::sessions::stream,
        super::retained::list,
        super::retained::get,
        super::retained::files,
        super::retained::content,
        super::retained::delete,
    ),
    components(schemas(
        ErrorBody, DeploymentObject, DeploymentList, DeploymentDeleted, super::schema::RetainedFilesystem, ToolObject, ToolList, StatusBody, DeploymentUpload, DeploymentPatch, super::tools::SetEnabled, hermes_core::skills_api::SkillObject, SkillList,
        AccountObject, super::secrets::CreateSecret, super::secrets::UpdateSecret, super::secrets::SecretObject, super::secrets::SecretList,
        super::secrets::SecretDeleted, super::secrets::UsageReport, super::secrets::UsageLine, super::secrets::UsageTotals,
        DeploymentSpec, Sandbox, McpServerSpec, SkillSpec, Features,
        hermes_core::memory::MemoryObject, super::memories::MemoryBody, hermes_core::dreaming::DreamObject,
        hermes_core::dreaming::MemoryChanges, hermes_core::dreaming::SkillChange,
        hermes_types::spec::Steering, hermes_core::approvals::Approval, super::approvals::Decide, super::approvals::ApprovalList,
        super::approvals::Steer,
        hermes_core::automations::Automation, hermes_core::automations::AutomationFire, super::automations::CreateAutomation,
        super::automations::PatchAutomation, super::automations::AutomationList,
        hermes_core::plugins::PluginInfo, hermes_core::plugins::PluginTool, super::plugins::PluginUpload,
        super::plugins::PluginList, hermes_types::spec::PluginAttachment, hermes_types::spec::PluginGrants,
        hermes_types::spec::WorkspaceAccess, hermes_core::retained::RetainedWorkspace, super::retained::RetainedList,
        hermes_core::agents::Agent, hermes_core::agents::AgentConfig, hermes_core::agents::Toolset, hermes_core::agents::ToolsetKind,
        hermes_core::agents::ToolDefaults, hermes_core::agents::ToolConfig, hermes_core::agents::PermissionPolicy,
        hermes_core::agents::PolicyKind, hermes_core::agents::AgentMcpServer, hermes_core::agents::Session,
        hermes_core::agents::NewSession, super::agents::AgentList, super::agents::SessionList, super::agents::AgentUpdate,
        super::agents::SessionPatch, super::sessions::Envelope, super::sessions::EnvelopeList, super::sessions::Inputs,
        super::sessions::Input, super::sessions::Content, super::sessions::TextBlock, super::sessions::Processed,
        super::sessions::ProcessedInput,
    ))
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `GET /docs`: a self-contained page (no external assets) listing every operation.
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
