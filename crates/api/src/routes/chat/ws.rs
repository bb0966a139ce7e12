//! The live chat feed over WebSocket: the framing of what `lms_core::chat::feed` delivers.
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use lms_core::chat::feed::{BATCH, Frame};
use lms_core::chat::{self as service, Member};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::JSON_PROBLEM;
use crate::error::{AppError, AppResult, Error, Problem};
use crate::extract::{ChatMember, Path, Query, bearer_token};
use crate::state::AppState;

/// The WebSocket subprotocol a browser offers (with `bearer.<token>`) and the server selects.
pub const SUBPROTOCOL: &str = "lms.chat.v1";
/// A connection that does not take a frame within this long is closed (it can resume later).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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
#[utoipa::path(get, operation_id = "openChatSocket", path = "/courses/{id}/chat/ws", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Course id"), SocketQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, body = Problem, content_type = JSON_PROBLEM), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
pub(super) async fn chat_socket(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<SocketQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let token = socket_token(&headers).ok_or_else(|| {
        Error::Unauthorized(
            "a valid access token is required (Authorization: Bearer <token>, or the bearer.<token> subprotocol)"
                .into(),
        )
    })?;
    let claims = crate::extract::auth::verify(&state, token)?;
    let ChatMember(member) = ChatMember::resolve(&state, &claims, id).await?;
    if let Some(Err(message)) = q.since_seq.map(|s| lms_core::paging::SINCE_SEQ.check(s)) {
        return Err(AppError::invalid("since_seq", message));
    }
    // Who may connect is decided before whether the request is a WebSocket handshake at all.
    let upgrade = upgrade.map_err(|rejection| {
        Error::BadRequest(format!(
            "not a WebSocket handshake: {}",
            rejection.body_text()
        ))
    })?;
    Ok(upgrade
        .protocols([SUBPROTOCOL])
        // Clients send next to nothing: a small read buffer keeps idle connections cheap.
        .read_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let mut connection = Connection {
                state,
                claims,
                member,
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

impl From<Error> for End {
    fn from(e: Error) -> Self {
        End::Failed(e.into())
    }
}

struct Connection {
    state: AppState,
    /// The token the connection was opened with: access is re-checked with it.
    claims: lms_core::security::tokens::AccessClaims,
    member: Member,
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
                scope = access.recv() => match scope {
                    Ok(scope) if !scope.concerns(self.member.user.id) => {}
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
        self.send(text(frame.json)?).await?;
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
                self.send(text(frame.json)?).await?;
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

    /// Still signed in, and still a member? Asked the way every chat request asks it (an access
    /// signal has already made the cache forget what it concerned).
    async fn check_access(&mut self) -> Result<(), End> {
        match ChatMember::resolve(&self.state, &self.claims, self.member.course_id).await {
            Ok(ChatMember(member)) => {
                self.member = member;
                Ok(())
            }
            Err(AppError::Domain(Error::Unauthorized(_))) => Err(End::SessionEnded),
            Err(AppError::Domain(Error::Forbidden(_) | Error::NotFound(_))) => Err(End::NotMember),
            Err(e) => Err(End::Failed(e)),
        }
    }
}

/// A frame's JSON as a text message (the hub renders UTF-8 JSON; checked, not trusted).
fn text(json: bytes::Bytes) -> Result<Message, End> {
    Utf8Bytes::try_from(json).map(Message::Text).map_err(|e| {
        End::Failed(Error::Internal(anyhow::anyhow!("a chat frame is not UTF-8: {e}")).into())
    })
}
