//! Course chat over HTTP (this file) and its live feed over WebSocket ([`ws`]). Every endpoint
//! reaches the caller's membership the same way: the [`ChatMember`] extractor.
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use lms_core::chat::pages::{Version, none_match};
use lms_core::chat::{
    self as service, EditMessage, EditView, EventView, Limits, MessageDetail, MessagePage,
    MessageView, NewMessage, Page,
};
use lms_core::paging::SINCE_SEQ;
use lms_core::paging::page_limit;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ChatMember, Json, Path, Query};
use crate::state::AppState;

mod ws;
pub use ws::SUBPROTOCOL;
use ws::{__path_chat_socket, chat_socket};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history, post_message))
        .routes(routes!(pinned))
        .routes(routes!(get_message, edit_message, delete_message))
        .routes(routes!(replies))
        .routes(routes!(edit_history))
        .routes(routes!(pin, unpin))
        .routes(routes!(add_reaction, remove_reaction))
        .routes(routes!(events))
        .routes(routes!(chat_socket))
}

fn limits(state: &AppState) -> Limits {
    Limits {
        max_chars: state.config.chat_max_message_chars,
    }
}

/// Top-level messages, newest first; deleted ones are tombstones (`deleted: true`, no content).
///
/// Every page carries an `ETag`; send it back in `If-None-Match` and an unchanged page is answered
/// `304 Not Modified` with no body (any change to the course's messages or a rename of one of their
/// authors makes a new tag). Each answer is as fresh as the database, on every instance.
#[utoipa::path(get, operation_id = "listCourseMessages", path = "/courses/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), Page, IfNoneMatch),
    responses((status = 200, body = MessagePage, headers(("ETag" = String, description = "The page's entity tag, for `If-None-Match`"),
            ("Cache-Control" = String, description = "`private, no-cache`: keep it, but revalidate before reuse"))),
        (status = 304, description = "The page is unchanged since the tag in `If-None-Match` (no body)",
            headers(("ETag" = String, description = "The page's entity tag"))),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn history(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let limit = page_limit(page.limit)?;
    let version = Version::of(&state.db, member.course_id).await?;
    let name = format!("messages:{:?}:{:?}:{limit}", page.before, page.after);
    let etag = version.etag(member.course_id, &name);
    if unchanged(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    // The newest page (what every open client reads) is kept in memory, valid while the version is.
    let newest = page.before.is_none() && page.after.is_none();
    if newest && let Some(body) = state.pages.get(member.course_id, limit, version) {
        return Ok(page_answer(&etag, body));
    }
    let body = to_json(&service::history(&state.db, &member, page).await?)?;
    if newest {
        state
            .pages
            .put(member.course_id, limit, version, body.clone());
    }
    Ok(page_answer(&etag, body))
}

/// The `If-None-Match` request header of the history pages.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct IfNoneMatch {
    /// The `ETag` of a page read before: answered 304 (no body) while the page is unchanged.
    #[param(rename = "If-None-Match")]
    if_none_match: Option<String>,
}

fn unchanged(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| none_match(v, etag))
}

const PAGE_CACHE_CONTROL: &str = "private, no-cache";

fn not_modified(etag: &str) -> Response {
    (
        StatusCode::NOT_MODIFIED,
        [
            (header::ETAG, etag.to_string()),
            (header::CACHE_CONTROL, PAGE_CACHE_CONTROL.to_string()),
        ],
    )
        .into_response()
}

fn page_answer(etag: &str, body: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::ETAG, etag.to_string()),
            (header::CACHE_CONTROL, PAGE_CACHE_CONTROL.to_string()),
        ],
        body,
    )
        .into_response()
}

fn to_json(page: &MessagePage) -> AppResult<Bytes> {
    serde_json::to_vec(page)
        .map(Bytes::from)
        .map_err(|e| AppError::from(lms_core::Error::Internal(e.into())))
}

/// Post a message or, with `parent_id`, a reply. Announcements: course staff only. Rate-limited per
/// user (`LMS_CHAT_POSTS_PER_MINUTE`): 429 with Retry-After.
#[utoipa::path(post, operation_id = "postMessage", path = "/courses/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")), request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM), (status = 429, body = Problem, content_type = JSON_PROBLEM)))]
async fn post_message(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Json(body): Json<NewMessage>,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let view = service::post(
        &state.db,
        &state.events,
        &state.chat_writer,
        &member,
        body,
        limits(&state),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub items: Vec<MessageView>,
}

/// Pinned messages, most recently pinned first.
#[utoipa::path(get, operation_id = "listPinnedMessages", path = "/courses/{id}/messages/pinned", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")),
    responses((status = 200, body = MessageList), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn pinned(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
) -> AppResult<Json<MessageList>> {
    let items = service::pinned(&state.db, &member).await?;
    Ok(Json(MessageList { items }))
}

/// One message with its reply count, reaction counts and whether you reacted.
#[utoipa::path(get, operation_id = "getMessage", path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_message(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageDetail>> {
    Ok(Json(service::detail(&state.db, &member, mid).await?))
}

/// Edit your own message; the previous content goes to its edit history.
#[utoipa::path(patch, operation_id = "editMessage", path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    request_body = EditMessage,
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn edit_message(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
    Json(body): Json<EditMessage>,
) -> AppResult<Json<MessageView>> {
    let view = service::edit(&state.db, &state.events, &member, mid, body, limits(&state)).await?;
    Ok(Json(view))
}

/// Delete a message (its author, the course's instructor, an admin): it stays as a tombstone, its
/// thread stays, its content, edit history and reactions go. Idempotent.
#[utoipa::path(delete, operation_id = "deleteMessage", path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn delete_message(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    service::delete(&state.db, &state.events, &member, mid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The replies to a message, oldest first. Pages carry an `ETag` and answer `If-None-Match` with 304
/// as the course's history does.
#[utoipa::path(get, operation_id = "listReplies", path = "/courses/{id}/messages/{mid}/replies", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"), Page, IfNoneMatch),
    responses((status = 200, body = MessagePage, headers(("ETag" = String, description = "The page's entity tag, for `If-None-Match`"),
            ("Cache-Control" = String, description = "`private, no-cache`: keep it, but revalidate before reuse"))),
        (status = 304, description = "The page is unchanged since the tag in `If-None-Match` (no body)",
            headers(("ETag" = String, description = "The page's entity tag"))),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn replies(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let limit = page_limit(page.limit)?;
    let version = Version::of(&state.db, member.course_id).await?;
    let name = format!("replies:{mid}:{:?}:{:?}:{limit}", page.before, page.after);
    let etag = version.etag(member.course_id, &name);
    if unchanged(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let body = to_json(&service::replies(&state.db, &member, mid, page).await?)?;
    Ok(page_answer(&etag, body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EditList {
    /// Earlier versions, oldest first.
    pub items: Vec<EditView>,
}

/// A message's edit history: its author and the course's staff.
#[utoipa::path(get, operation_id = "listMessageEdits", path = "/courses/{id}/messages/{mid}/edits", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = EditList), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn edit_history(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
) -> AppResult<Json<EditList>> {
    let items = service::edits(&state.db, &member, mid).await?;
    Ok(Json(EditList { items }))
}

/// Pin a message (course staff). Idempotent.
#[utoipa::path(post, operation_id = "pinMessage", path = "/courses/{id}/messages/{mid}/pin", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn pin(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageView>> {
    set_pinned(state, member, mid, true).await
}

/// Unpin a message (course staff). Idempotent.
#[utoipa::path(delete, operation_id = "unpinMessage", path = "/courses/{id}/messages/{mid}/pin", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn unpin(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageView>> {
    set_pinned(state, member, mid, false).await
}

async fn set_pinned(
    state: AppState,
    member: service::Member,
    mid: i64,
    pin: bool,
) -> AppResult<Json<MessageView>> {
    let view = service::set_pinned(&state.db, &state.events, &member, mid, pin).await?;
    Ok(Json(view))
}

/// Add your reaction (one emoji, percent-encoded in the path). Idempotent.
#[utoipa::path(put, operation_id = "addReaction", path = "/courses/{id}/messages/{mid}/reactions/{emoji}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"),
        ("emoji" = inline(lms_core::chat::Emoji), Path, description = "One emoji, e.g. %F0%9F%91%8D for 👍")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn add_reaction(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid, emoji)): Path<(i64, i64, String)>,
) -> AppResult<Json<MessageDetail>> {
    react(state, member, mid, emoji, true).await
}

/// Remove your reaction. Idempotent.
#[utoipa::path(delete, operation_id = "removeReaction", path = "/courses/{id}/messages/{mid}/reactions/{emoji}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"),
        ("emoji" = inline(lms_core::chat::Emoji), Path, description = "One emoji, percent-encoded")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn remove_reaction(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Path((_course, mid, emoji)): Path<(i64, i64, String)>,
) -> AppResult<Json<MessageDetail>> {
    react(state, member, mid, emoji, false).await
}

async fn react(
    state: AppState,
    member: service::Member,
    mid: i64,
    emoji: String,
    add: bool,
) -> AppResult<Json<MessageDetail>> {
    let detail = service::react(&state.db, &state.events, &member, mid, &emoji, add).await?;
    Ok(Json(detail))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only events after this sequence number (default 0: from the start).
    #[param(schema_with = lms_core::paging::since_seq_schema)]
    pub since_seq: Option<i64>,
    /// 1 to 100 (default 100).
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// The sequence number to pass as `since_seq` next time.
    pub last_seq: i64,
    /// Whether more events follow right away.
    pub has_more: bool,
}

/// The change feed: every create / edit / delete / pin / unpin / reaction event, and every live
/// session's status change (scheduled, started, ended, cancelled, rescheduled), after `since_seq`, in
/// order. Sequence numbers are per course, gapless, in commit order.
#[utoipa::path(get, operation_id = "listChatEvents", path = "/courses/{id}/events", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), FeedQuery),
    responses((status = 200, body = EventPage), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn events(
    State(state): State<AppState>,
    ChatMember(member): ChatMember,
    Query(q): Query<FeedQuery>,
) -> AppResult<Json<EventPage>> {
    let since = q.since_seq.unwrap_or(0);
    SINCE_SEQ
        .check(since)
        .map_err(|message| AppError::invalid("since_seq", message))?;
    let limit = page_limit(Some(q.limit.unwrap_or(100)))?;
    let mut events = service::events(&state.db, member.course_id, since, None, limit + 1).await?;
    let has_more = events.len() as u64 > limit;
    events.truncate(limit as usize);
    let last_seq = events.last().map_or(since, |e| e.seq);
    Ok(Json(EventPage {
        events,
        last_seq,
        has_more,
    }))
}
