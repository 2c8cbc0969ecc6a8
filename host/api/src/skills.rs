//! `/v1/deployments/{id}/skills`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::extract::Path;
use super::json::Body;
use super::schema::{CommonErrors, ErrorBody, SkillList};
use super::{ApiError, AppState, Caller};
use hermes_core::skills_api::SkillObject;
use hermes_types::spec::SkillSpec;

/// `GET …/skills`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/skills", tag = "skills", summary = "List a deployment's skills",
    params(("id" = String, Path, description = "dep_…")),
    responses(
        (status = 200, description = "Declared and agent-written skills (names and descriptions)", body = SkillList),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(json!({"data": state.host.skills(&caller.account_id, &id).await?})))
}

/// `POST …/skills`.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/skills", tag = "skills", summary = "Add a skill",
    params(("id" = String, Path, description = "dep_…")),
    request_body = SkillSpec,
    responses(
        (status = 201, description = "Added and installed", body = SkillObject),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 409, description = "A skill with this name exists", body = ErrorBody),
        (status = 422, description = "invalid_skill", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(skill): Body<SkillSpec>,
) -> Result<(StatusCode, Json<SkillObject>), ApiError> {
    caller.require("deployments:write")?;
    Ok((StatusCode::CREATED, Json(state.host.add_skill(&caller.account_id, &id, skill).await?)))
}

/// `GET …/skills/{skill_id}`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/skills/{skill_id}", tag = "skills", summary = "Get a skill with its content",
    params(("id" = String, Path, description = "dep_…"), ("skill_id" = String, Path, description = "skl_…")),
    responses(
        (status = 200, description = "The skill and its SKILL.md", body = SkillObject),
        CommonErrors,
        (status = 404, description = "No such deployment or skill", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, skill_id)): Path<(String, String)>,
) -> Result<Json<SkillObject>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.skill(&caller.account_id, &id, &skill_id).await?))
}

/// `PUT …/skills/{skill_id}`.
#[utoipa::path(
    put, path = "/v1/deployments/{id}/skills/{skill_id}", tag = "skills",
    summary = "Replace a skill (a url skill is fetched again)",
    params(("id" = String, Path, description = "dep_…"), ("skill_id" = String, Path, description = "skl_…")),
    request_body = SkillSpec,
    responses(
        (status = 200, description = "Replaced and installed", body = SkillObject),
        CommonErrors,
        (status = 404, description = "No such deployment or skill", body = ErrorBody),
        (status = 422, description = "invalid_skill", body = ErrorBody),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, skill_id)): Path<(String, String)>,
    Body(skill): Body<SkillSpec>,
) -> Result<Json<SkillObject>, ApiError> {
    caller.require("deployments:write")?;
    Ok(Json(state.host.replace_skill(&caller.account_id, &id, &skill_id, skill).await?))
}

/// `DELETE …/skills/{skill_id}`.
#[utoipa::path(
    delete, path = "/v1/deployments/{id}/skills/{skill_id}", tag = "skills", summary = "Remove a skill",
    params(("id" = String, Path, description = "dep_…"), ("skill_id" = String, Path, description = "skl_…")),
    responses(
        (status = 200, description = "Removed", body = Value),
        CommonErrors,
        (status = 404, description = "No such deployment or skill", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, skill_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    state.host.remove_skill(&caller.account_id, &id, &skill_id).await?;
    Ok(Json(json!({"skill_id": skill_id, "deleted": true})))
}
