//! Course chat over HTTP, and its live feed over WebSocket.
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sea_orm::EntityTrait as _;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access_cache;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{BearerClaims, Json, Path, Query, authenticate, bearer_token};
use crate::realtime::{BATCH, Frame};
use crate::service::auth::session_is_live;
use crate::service::chat::{
    self as service, EditMessage, EditView, EventView, Limits, Member, MessageDetail, MessagePage,
    MessageView, NewMessage, Page,
};
use crate::service::paging::page_limit;
use crate::state::AppState;

const JSON_PROBLEM: &str = "application/problem+json";
/// The WebSocket subprotocol a browser offers (with `bearer.<token>`) and the server selects.
pub const SUBPROTOCOL: &str = "lms.chat.v1";
/// A connection that does not take a frame within this long is closed (it can resume later).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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

async fn member(state: &AppState, auth: &BearerClaims, course_id: i64) -> AppResult<Member> {
    access_cache::chat_member(state, &auth.0, course_id).await
}

fn limits(state: &AppState) -> Limits {
    Limits {
        max_chars: state.config.chat_max_message_chars,
        posts_per_minute: state.config.chat_posts_per_minute,
    }
}

/// Top-level messages, newest first; deleted ones are tombstones (`deleted: true`, no content).
#[utoipa::path(get, path = "/courses/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), Page),
    responses((status = 200, body = MessagePage), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn history(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path(id): Path<i64>,
    Query(page): Query<Page>,
) -> AppResult<Json<MessagePage>> {
    let member = member(&state, &auth, id).await?;
    Ok(Json(service::history(&state.db, &member, page).await?))
}

/// Post a message or, with `parent_id`, a reply. Announcements: course staff only. Rate-limited per
/// user (`LMS_CHAT_POSTS_PER_MINUTE`): 429 with Retry-After.
#[utoipa::path(post, path = "/courses/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")), request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM), (status = 429, body = Problem, content_type = JSON_PROBLEM)))]
async fn post_message(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path(id): Path<i64>,
    Json(body): Json<NewMessage>,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let member = member(&state, &auth, id).await?;
    let (view, change) = service::post(
        &state.db,
        state.chat_writer.as_deref(),
        &member,
        body,
        limits(&state),
    )
    .await?;
    state.hub.committed(Some(change));
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub items: Vec<MessageView>,
}

/// Pinned messages, most recently pinned first.
#[utoipa::path(get, path = "/courses/{id}/messages/pinned", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id")),
    responses((status = 200, body = MessageList), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn pinned(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path(id): Path<i64>,
) -> AppResult<Json<MessageList>> {
    let member = member(&state, &auth, id).await?;
    let items = service::pinned(&state.db, &member).await?;
    Ok(Json(MessageList { items }))
}

/// One message with its reply count, reaction counts and whether you reacted.
#[utoipa::path(get, path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_message(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageDetail>> {
    let member = member(&state, &auth, id).await?;
    Ok(Json(service::detail(&state.db, &member, mid).await?))
}

/// Edit your own message; the previous content goes to its edit history.
#[utoipa::path(patch, path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    request_body = EditMessage,
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn edit_message(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
    Json(body): Json<EditMessage>,
) -> AppResult<Json<MessageView>> {
    let member = member(&state, &auth, id).await?;
    let (view, change) = service::edit(&state.db, &member, mid, body, limits(&state)).await?;
    state.hub.committed(change);
    Ok(Json(view))
}

/// Delete a message (its author, the course's instructor, an admin): it stays as a tombstone, its
/// thread stays, its content, edit history and reactions go. Idempotent.
#[utoipa::path(delete, path = "/courses/{id}/messages/{mid}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn delete_message(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    let member = member(&state, &auth, id).await?;
    let change = service::delete(&state.db, &member, mid).await?;
    state.hub.committed(change);
    Ok(StatusCode::NO_CONTENT)
}

/// The replies to a message, oldest first.
#[utoipa::path(get, path = "/courses/{id}/messages/{mid}/replies", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"), Page),
    responses((status = 200, body = MessagePage), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn replies(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
    Query(page): Query<Page>,
) -> AppResult<Json<MessagePage>> {
    let member = member(&state, &auth, id).await?;
    Ok(Json(service::replies(&state.db, &member, mid, page).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EditList {
    /// Earlier versions, oldest first.
    pub items: Vec<EditView>,
}

/// A message's edit history: its author and the course's staff.
#[utoipa::path(get, path = "/courses/{id}/messages/{mid}/edits", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = EditList), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn edit_history(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<EditList>> {
    let member = member(&state, &auth, id).await?;
    let items = service::edits(&state.db, &member, mid).await?;
    Ok(Json(EditList { items }))
}

/// Pin a message (course staff). Idempotent.
#[utoipa::path(post, path = "/courses/{id}/messages/{mid}/pin", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn pin(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageView>> {
    set_pinned(state, auth, id, mid, true).await
}

/// Unpin a message (course staff). Idempotent.
#[utoipa::path(delete, path = "/courses/{id}/messages/{mid}/pin", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn unpin(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<MessageView>> {
    set_pinned(state, auth, id, mid, false).await
}

async fn set_pinned(
    state: AppState,
    auth: BearerClaims,
    id: i64,
    mid: i64,
    pin: bool,
) -> AppResult<Json<MessageView>> {
    let member = member(&state, &auth, id).await?;
    let (view, change) = service::set_pinned(&state.db, &member, mid, pin).await?;
    state.hub.committed(change);
    Ok(Json(view))
}

/// Add your reaction (one emoji, percent-encoded in the path). Idempotent.
#[utoipa::path(put, path = "/courses/{id}/messages/{mid}/reactions/{emoji}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"),
        ("emoji" = String, Path, description = "One emoji, e.g. %F0%9F%91%8D for 👍")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn add_reaction(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid, emoji)): Path<(i64, i64, String)>,
) -> AppResult<Json<MessageDetail>> {
    react(state, auth, id, mid, emoji, true).await
}

/// Remove your reaction. Idempotent.
#[utoipa::path(delete, path = "/courses/{id}/messages/{mid}/reactions/{emoji}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), ("mid" = i64, Path, description = "Message id"),
        ("emoji" = String, Path, description = "One emoji, percent-encoded")),
    responses((status = 200, body = MessageDetail), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn remove_reaction(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path((id, mid, emoji)): Path<(i64, i64, String)>,
) -> AppResult<Json<MessageDetail>> {
    react(state, auth, id, mid, emoji, false).await
}

async fn react(
    state: AppState,
    auth: BearerClaims,
    id: i64,
    mid: i64,
    emoji: String,
    add: bool,
) -> AppResult<Json<MessageDetail>> {
    let member = member(&state, &auth, id).await?;
    let (detail, change) = service::react(&state.db, &member, mid, &emoji, add).await?;
    state.hub.committed(change);
    Ok(Json(detail))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only events after this sequence number (default 0: from the start).
    pub since_seq: Option<i64>,
    /// 1 to 100 (default 100).
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

/// The change feed: every create / edit / delete / pin / unpin / reaction event after `since_seq`, in
/// order. Sequence numbers are per course, gapless, in commit order.
#[utoipa::path(get, path = "/courses/{id}/events", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), FeedQuery),
    responses((status = 200, body = EventPage), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn events(
    State(state): State<AppState>,
    auth: BearerClaims,
    Path(id): Path<i64>,
    Query(q): Query<FeedQuery>,
) -> AppResult<Json<EventPage>> {
    let member = member(&state, &auth, id).await?;
    let since = q.since_seq.unwrap_or(0);
    if since < 0 {
        return Err(AppError::invalid("since_seq", "must not be negative"));
    }
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SocketQuery {
    /// Resume: first send every event after this sequence number, then live ones. Without it, only
    /// events from now on.
    pub since_seq: Option<i64>,
}

/// The token of a WebSocket handshake: `Authorization: Bearer <token>`, or (browsers cannot set
/// headers) a `bearer.<token>` entry in `Sec-WebSocket-Protocol` next to `lms.chat.v1`.
fn socket_token(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers).or_else(|| {
        headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|p| p.trim().strip_prefix("bearer."))
    })
}

/// Live chat events over WebSocket: the same JSON objects as the change feed, one per text frame, in
/// sequence order, each exactly once. After the backlog (`since_seq`) the server sends
/// `{"type":"ready","last_seq":N}`. Authenticate with `Authorization: Bearer <token>` or, from a browser,
/// `new WebSocket(url, ["lms.chat.v1", "bearer." + token])`. Closes with 4401 when the session ends and
/// 4403 when the user stops being a member; reconnect with `since_seq` to resume.
#[utoipa::path(get, path = "/courses/{id}/chat/ws", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), SocketQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, body = Problem, content_type = JSON_PROBLEM), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn chat_socket(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<SocketQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> AppResult<Response> {
    let token = socket_token(&headers).ok_or_else(|| {
        AppError::Unauthorized(
            "a valid access token is required (Authorization: Bearer <token>, or the bearer.<token> subprotocol)"
                .into(),
        )
    })?;
    let auth = authenticate(&state, token).await?;
    let member = service::member(&state.db, &auth.user, id).await?;
    if q.since_seq.is_some_and(|s| s < 0) {
        return Err(AppError::invalid("since_seq", "must not be negative"));
    }
    let session_id = auth.session.id;
    Ok(upgrade
        .protocols([SUBPROTOCOL])
        // Clients send next to nothing: a small read buffer keeps idle connections cheap.
        .read_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let mut connection = Connection {
                state,
                member,
                session_id,
                socket,
                last: 0,
            };
            let reason = connection.run(q.since_seq).await;
            tracing::debug!(course_id = id, ?reason, "chat socket closed");
        }))
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    ClientGone,
    TooSlow,
    SessionEnded,
    NotMember,
    Failed(AppError),
}

impl From<AppError> for End {
    fn from(e: AppError) -> Self {
        End::Failed(e)
    }
}

struct Connection {
    state: AppState,
    member: Member,
    session_id: i64,
    socket: WebSocket,
    /// The last seq sent to this client.
    last: i64,
}

impl Connection {
    async fn run(&mut self, since: Option<i64>) -> End {
        let end = match self.serve(since).await {
            Ok(()) => End::ClientGone,
            Err(end) => end,
        };
        if let End::Failed(error) = &end {
            tracing::warn!(%error, "chat socket failed");
        }
        let close = match &end {
            End::SessionEnded => Some((4401, "session ended")),
            End::NotMember => Some((4403, "not a member of this course")),
            End::TooSlow => Some((4408, "too slow; resume with since_seq")),
            End::Failed(_) => Some((1011, "server error; resume with since_seq")),
            End::ClientGone => None,
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                self.socket.send(Message::Close(Some(frame))),
            )
            .await;
        }
        end
    }

    async fn serve(&mut self, since: Option<i64>) -> Result<(), End> {
        let course_id = self.member.course_id;
        let hub = self.state.hub.clone();
        let mut live = hub
            .subscribe(course_id)
            .await
            .map_err(|e| End::Failed(e.into()))?;
        let mut access = hub.access_signals();
        self.last = match since {
            Some(since) => since,
            None => service::last_seq(&self.state.db, course_id).await?,
        };
        self.catch_up(None).await?;
        let ready = serde_json::json!({"type": "ready", "last_seq": self.last}).to_string();
        self.send(Message::Text(ready.into())).await?;

        let period = Duration::from_secs(self.state.config.chat_access_recheck_secs.max(1));
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                frame = live.recv() => match frame {
                    Ok(frame) => self.forward(frame).await?,
                    Err(RecvError::Lagged(_)) => self.catch_up(None).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                incoming = self.socket.recv() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                    Some(Ok(_)) => {}
                },
                user = access.recv() => match user {
                    Ok(user) if user != self.member.user.id && user != 0 => {}
                    _ => self.check_access().await?,
                },
                _ = recheck.tick() => self.check_access().await?,
            }
        }
    }

    /// Sends a live frame, first filling any gap from the database, and never a frame twice.
    async fn forward(&mut self, frame: Frame) -> Result<(), End> {
        if frame.seq <= self.last {
            return Ok(());
        }
        if frame.seq > self.last + 1 {
            self.catch_up(Some(frame.seq)).await?;
        }
        self.send(Message::Text(frame.json)).await?;
        self.last = frame.seq;
        Ok(())
    }

    /// Sends every stored event after `last` (and before `until`).
    async fn catch_up(&mut self, until: Option<i64>) -> Result<(), End> {
        loop {
            let events = service::events(
                &self.state.db,
                self.member.course_id,
                self.last,
                until,
                BATCH,
            )
            .await?;
            for event in &events {
                let frame = Frame::new(event);
                self.send(Message::Text(frame.json)).await?;
                self.last = frame.seq;
            }
            if (events.len() as u64) < BATCH {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientGone),
            Err(_) => Err(End::TooSlow),
        }
    }

    /// Still signed in, and still a member?
    async fn check_access(&mut self) -> Result<(), End> {
        let session = entity::sessions::Entity::find_by_id(self.session_id)
            .find_also_related(entity::users::Entity)
            .one(&self.state.db)
            .await
            .map_err(|e| End::Failed(e.into()))?;
        let Some((session, Some(user))) = session else {
            return Err(End::SessionEnded);
        };
        if !session_is_live(&session, &user) {
            return Err(End::SessionEnded);
        }
        match service::member(&self.state.db, &user, self.member.course_id).await {
            Ok(member) => {
                self.member = member;
                Ok(())
            }
            Err(AppError::Forbidden(_) | AppError::NotFound(_)) => Err(End::NotMember),
            Err(e) => Err(End::Failed(e)),
        }
    }
}
