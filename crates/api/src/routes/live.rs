//! Live sessions: scheduling, the join window and the state machine.
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entity::live_sessions::LiveStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppResult, Problem};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::openapi::enum_of;
use crate::state::AppState;
use lms_core::live::{
    self as service, AttendeeReport, JoinAnswer, NewSession, SessionChanges, SessionView,
    Transition,
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schedule, list))
        .routes(routes!(get_session, edit))
        .routes(routes!(start))
        .routes(routes!(end))
        .routes(routes!(cancel))
        .routes(routes!(join))
        .routes(routes!(heartbeat))
        .routes(routes!(leave))
        .routes(routes!(attendance))
        .routes(routes!(my_sessions))
        .routes(routes!(calendar_token))
        .routes(routes!(calendar_feed))
}

/// Schedule a live session (the course's instructor, admins). `starts_at` in the future; a duration
/// of 1 minute to 12 hours; buffers of 0 to 240 minutes.
#[utoipa::path(post, operation_id = "scheduleLiveSession", path = "/courses/{id}/live-sessions", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")), request_body = NewSession,
    responses((status = 201, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn schedule(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<NewSession>,
) -> AppResult<(StatusCode, Json<SessionView>)> {
    let session = service::schedule(&state.db, &state.events, &auth.user, id, body).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    #[param(schema_with = enum_of::<LiveStatus>)]
    pub status: Option<LiveStatus>,
    /// Sessions starting at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Sessions starting before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page (opaque; valid for the same filters only).
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    pub next_cursor: Option<String>,
}

/// The course's live sessions in start order (members: enrolled students and staff).
#[utoipa::path(get, operation_id = "listLiveSessions", path = "/courses/{id}/live-sessions", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), SessionQuery),
    responses((status = 200, body = SessionList), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Query(q): Query<SessionQuery>,
) -> AppResult<Json<SessionList>> {
    let filter = service::SessionFilter {
        status: q.status,
        from: q.from,
        to: q.to,
        cursor: q.cursor,
        limit: q.limit,
    };
    let (items, next_cursor) =
        service::list(&state.db, &state.cursors, &auth.user, id, filter).await?;
    Ok(Json(SessionList { items, next_cursor }))
}

/// One session: its join window and how many are in the room now (members).
#[utoipa::path(get, operation_id = "getLiveSession", path = "/live-sessions/{id}", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_session(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<SessionView>> {
    Ok(Json(service::get(&state.db, &auth.user, id).await?))
}

/// Reschedule or edit a session while it is scheduled (staff); 409 once live, ended or cancelled.
#[utoipa::path(patch, operation_id = "updateLiveSession", path = "/live-sessions/{id}", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = SessionChanges,
    responses((status = 200, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not scheduled any more", body = Problem, content_type = JSON_PROBLEM)))]
async fn edit(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<SessionChanges>,
) -> AppResult<Json<SessionView>> {
    Ok(Json(
        service::edit(&state.db, &state.events, &auth.user, id, body).await?,
    ))
}

async fn move_to(
    state: AppState,
    auth: AuthUser,
    id: i64,
    what: Transition,
) -> AppResult<Json<SessionView>> {
    let grace = state.config.live_grace();
    Ok(Json(
        service::transition(&state.db, &state.events, grace, &auth.user, id, what).await?,
    ))
}

/// Start a scheduled session (staff), from its early-join time on; 409 naming the state otherwise.
#[utoipa::path(post, operation_id = "startLiveSession", path = "/live-sessions/{id}/start", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not scheduled, or before the early-join time", body = Problem, content_type = JSON_PROBLEM)))]
async fn start(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<SessionView>> {
    move_to(state, auth, id, Transition::Start).await
}

/// End a live session (staff); everyone still in the room leaves with it.
#[utoipa::path(post, operation_id = "endLiveSession", path = "/live-sessions/{id}/end", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not live", body = Problem, content_type = JSON_PROBLEM)))]
async fn end(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<SessionView>> {
    move_to(state, auth, id, Transition::End).await
}

/// Cancel a scheduled session (staff).
#[utoipa::path(post, operation_id = "cancelLiveSession", path = "/live-sessions/{id}/cancel", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SessionView), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not scheduled", body = Problem, content_type = JSON_PROBLEM)))]
async fn cancel(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<SessionView>> {
    move_to(state, auth, id, Transition::Cancel).await
}

/// Join (members): inside the join window of a scheduled or live session. Answers how to enter the
/// room: its URL at the video service and, when configured, a Jitsi JWT (moderator for staff).
/// Joining again while in the room keeps the one interval. Outside the window, or when the session is
/// full, cancelled or ended: 409 (with the window).
#[utoipa::path(post, operation_id = "joinLiveSession", path = "/live-sessions/{id}/join", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = JoinAnswer), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Outside the join window, full, cancelled or ended", body = Problem, content_type = JSON_PROBLEM)))]
async fn join(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<JoinAnswer>> {
    let (jitsi, grace) = (state.config.jitsi(), state.config.live_grace());
    Ok(Json(
        service::join(&state.db, &jitsi, grace, &auth.user, id).await?,
    ))
}

/// Keep your attendance interval open (every `heartbeat_every_secs`); 409 when you are not in the
/// room (left, timed out, never joined).
#[utoipa::path(post, operation_id = "sendLiveHeartbeat", path = "/live-sessions/{id}/heartbeat", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Still in the room"), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not in the room", body = Problem, content_type = JSON_PROBLEM)))]
async fn heartbeat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    service::heartbeat(&state.db, state.config.live_grace(), &auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave the room: your interval closes (nothing open: nothing to do).
#[utoipa::path(post, operation_id = "leaveLiveSession", path = "/live-sessions/{id}/leave", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Left"), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn leave(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    service::leave(&state.db, &auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceReport {
    pub session_id: i64,
    pub attendance_threshold_percent: i16,
    pub attendees: Vec<AttendeeReport>,
}

/// Attendance (staff): per attendee, first join, last leave, seconds in the room while the session
/// was live (overlaps merged), percent of the scheduled duration, attended by the threshold. JSON, or
/// CSV with `Accept: text/csv`.
#[utoipa::path(get, operation_id = "getLiveAttendance", path = "/live-sessions/{id}/attendance", tag = "live", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The report", content((AttendanceReport = "application/json"), (String = "text/csv"))),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn attendance(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (session, attendees) =
        service::report(&state.db, state.config.live_grace(), &auth.user, id).await?;
    let wants_csv = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if wants_csv {
        let disposition = format!("attachment; filename=\"attendance-{}.csv\"", session.id);
        return Ok((
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_string(),
                ),
                (axum::http::header::CONTENT_DISPOSITION, disposition),
            ],
            service::report_csv(&attendees),
        )
            .into_response());
    }
    Ok(Json(AttendanceReport {
        session_id: session.id,
        attendance_threshold_percent: session.attendance_threshold_percent,
        attendees,
    })
    .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MySessions {
    pub items: Vec<SessionView>,
}

/// Your scheduled and live sessions across the courses you study or teach, soonest first (at most
/// 100).
#[utoipa::path(get, operation_id = "listMyLiveSessions", path = "/users/me/live-sessions", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = MySessions)))]
async fn my_sessions(State(state): State<AppState>, auth: AuthUser) -> AppResult<Json<MySessions>> {
    Ok(Json(MySessions {
        items: service::mine(&state.db, &auth.user).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    pub course_id: i64,
    pub title: String,
    /// Subscribe to this URL in a calendar app (it carries your token).
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarToken {
    /// Shown once; it revokes the previous one. Treat it as a password: the feeds need no sign-in.
    pub token: String,
    /// A feed per course you study or teach.
    pub feeds: Vec<CalendarFeed>,
}

/// A fresh calendar token (revoking the previous one) and the iCalendar feed URL of each of your
/// courses.
#[utoipa::path(post, operation_id = "issueCalendarToken", path = "/users/me/calendar-token", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = CalendarToken)))]
async fn calendar_token(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<CalendarToken>> {
    let token = service::calendar::issue_token(&state.db, &auth.user).await?;
    let base = state.config.public_url.trim_end_matches('/');
    let feeds = service::calendar::feed_courses(&state.db, &auth.user)
        .await?
        .into_iter()
        .map(|(course_id, title)| CalendarFeed {
            url: format!("{base}/api/v1/courses/{course_id}/live-sessions.ics?token={token}"),
            course_id,
            title,
        })
        .collect();
    Ok(Json(CalendarToken { token, feeds }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Your calendar token (POST /users/me/calendar-token).
    pub token: String,
}

/// The course's live sessions as an iCalendar (RFC 5545) feed for calendar apps, authorised by the
/// calendar token in the URL (members only; 404 for an unknown or revoked token). Cancelled sessions
/// appear with `STATUS:CANCELLED`.
#[utoipa::path(get, operation_id = "getLiveSessionCalendar", path = "/courses/{id}/live-sessions.ics", tag = "live",
    params(("id" = i64, Path, description = "Course id"), FeedQuery),
    responses((status = 200, description = "The calendar", content_type = "text/calendar", body = String),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn calendar_feed(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<FeedQuery>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let ics = service::calendar::feed(&state.db, id, &q.token).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/calendar; charset=utf-8",
        )],
        ics,
    )
        .into_response())
}
