//! The curriculum: the outline, sections and lessons (staff edit them), and progress earned by
//! completing lessons (enrolled students).
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppResult, Problem};
use crate::extract::{AuthUser, Json, MaybeUser, Path};
use crate::state::AppState;
use lms_core::curriculum::{
    self as service, LessonChanges, LessonMove, LessonProgress, LessonView, NewLesson, NewSection,
    Outline, Section, SectionChanges, SectionMove,
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(outline))
        .routes(routes!(create_section))
        .routes(routes!(update_section, delete_section))
        .routes(routes!(move_section))
        .routes(routes!(create_lesson))
        .routes(routes!(get_lesson, update_lesson, delete_lesson))
        .routes(routes!(move_lesson))
        .routes(routes!(complete_lesson, undo_lesson))
        .routes(routes!(report_position))
}

/// The course's outline: sections and lessons in order. Enrolled students (active or completed) get
/// the published lessons with their own completion state and their progress; staff everything,
/// drafts included; anyone else who can see the course the published titles, kinds and durations,
/// with bodies only of preview lessons. Built from a fixed number of queries whatever its size.
#[utoipa::path(get, operation_id = "getCurriculum", path = "/courses/{id}/curriculum", tag = "curriculum",
    security((), ("bearer" = [])), params(("id" = i64, Path, description = "Course id")),
    responses((status = 200, body = Outline), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn outline(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Outline>> {
    let user = viewer.as_ref().map(|a| &a.user);
    Ok(Json(service::outline(&state.db, user, id).await?))
}

/// Add a section (the course's instructor, admins), at `position` or at the end.
#[utoipa::path(post, operation_id = "createSection", path = "/courses/{id}/sections", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")), request_body = NewSection,
    responses((status = 201, body = Section), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn create_section(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<NewSection>,
) -> AppResult<(StatusCode, Json<Section>)> {
    let section = service::create_section(&state.db, &auth.user, id, body).await?;
    Ok((StatusCode::CREATED, Json(section)))
}

/// Rename a section (staff).
#[utoipa::path(patch, operation_id = "updateSection", path = "/sections/{id}", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = SectionChanges,
    responses((status = 200, body = Section), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn update_section(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<SectionChanges>,
) -> AppResult<Json<Section>> {
    Ok(Json(
        service::update_section(&state.db, &auth.user, id, body).await?,
    ))
}

/// Delete an empty section (staff); the others close ranks.
#[utoipa::path(delete, operation_id = "deleteSection", path = "/sections/{id}", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "It still holds lessons, or lessons students completed", body = Problem, content_type = JSON_PROBLEM)))]
async fn delete_section(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    service::delete_section(&state.db, &auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move a section to `position` within its course (staff). One request; the order stays dense and
/// unique even when several staff reorder at once.
#[utoipa::path(post, operation_id = "moveSection", path = "/sections/{id}/move", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = SectionMove,
    responses((status = 200, body = Section), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn move_section(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<SectionMove>,
) -> AppResult<Json<Section>> {
    Ok(Json(
        service::move_section(&state.db, &auth.user, id, body).await?,
    ))
}

/// Add a lesson to a section (staff). A required lesson that is published counts for progress at
/// once: active enrollments are recomputed.
#[utoipa::path(post, operation_id = "createLesson", path = "/sections/{id}/lessons", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Section id")), request_body = NewLesson,
    responses((status = 201, body = LessonView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn create_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<NewLesson>,
) -> AppResult<(StatusCode, Json<LessonView>)> {
    let lesson = service::create_lesson(&state.db, &auth.user, id, body).await?;
    Ok((StatusCode::CREATED, Json(lesson)))
}

/// One lesson: whole for staff and enrolled students (published lessons), preview lessons for anyone
/// who can see the course; 403 for a lesson you would have to enroll to read.
#[utoipa::path(get, operation_id = "getLesson", path = "/lessons/{id}", tag = "curriculum",
    security((), ("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = LessonView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_lesson(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Json<LessonView>> {
    let user = viewer.as_ref().map(|a| &a.user);
    Ok(Json(service::lesson(&state.db, user, id).await?))
}

/// Edit a lesson (staff); its kind stays. Publishing, unpublishing or changing `required` recomputes
/// active enrollments' progress; completed enrollments stay completed.
#[utoipa::path(patch, operation_id = "updateLesson", path = "/lessons/{id}", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = LessonChanges,
    responses((status = 200, body = LessonView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn update_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<LessonChanges>,
) -> AppResult<Json<LessonView>> {
    Ok(Json(
        service::update_lesson(&state.db, &auth.user, id, body).await?,
    ))
}

/// Delete a lesson (staff). Students' completions of it stay in their history; active enrollments'
/// progress is recomputed without it.
#[utoipa::path(delete, operation_id = "deleteLesson", path = "/lessons/{id}", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn delete_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    service::delete_lesson(&state.db, &auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move a lesson to `position` in its section, or into another section of the course
/// (`section_id`), in one request (staff).
#[utoipa::path(post, operation_id = "moveLesson", path = "/lessons/{id}/move", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = LessonMove,
    responses((status = 200, body = LessonView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "The course is archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn move_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<LessonMove>,
) -> AppResult<Json<LessonView>> {
    Ok(Json(
        service::move_lesson(&state.db, &auth.user, id, body).await?,
    ))
}

/// Mark a `text` or `link` lesson completed (the enrolled student; again: no change). Completing the
/// last required lesson completes the enrollment and issues its certificate, once.
#[utoipa::path(post, operation_id = "completeLesson", path = "/lessons/{id}/complete", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = LessonProgress), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Video and live lessons complete otherwise", body = Problem, content_type = JSON_PROBLEM)))]
async fn complete_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<LessonProgress>> {
    Ok(Json(
        service::complete_lesson(&state.db, &auth.user, id).await?,
    ))
}

/// Undo your completion of a `text` or `link` lesson while the enrollment is active.
#[utoipa::path(delete, operation_id = "undoLessonCompletion", path = "/lessons/{id}/complete", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = LessonProgress), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "A video or live lesson, or a completed enrollment", body = Problem, content_type = JSON_PROBLEM)))]
async fn undo_lesson(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<LessonProgress>> {
    Ok(Json(service::undo_lesson(&state.db, &auth.user, id).await?))
}

/// Where the player is in a video lesson.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionRequest {
    /// Seconds from the start (clamped to the video's length).
    #[schema(schema_with = service::video_position_schema)]
    pub seconds: i64,
}

/// Report the student's position in a video lesson (every few seconds of playback). Between two
/// reports the span counts as watched when the position moved forward by at most 30 s; a larger jump
/// or a move back (a seek) covers nothing. The lesson completes at 90% covered.
#[utoipa::path(put, operation_id = "reportVideoPosition", path = "/lessons/{id}/position", tag = "curriculum", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PositionRequest,
    responses((status = 200, body = LessonProgress), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not a video lesson", body = Problem, content_type = JSON_PROBLEM)))]
async fn report_position(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<PositionRequest>,
) -> AppResult<Json<LessonProgress>> {
    Ok(Json(
        service::report_position(&state.db, &auth.user, id, body.seconds).await?,
    ))
}
