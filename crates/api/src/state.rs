use std::sync::Arc;

use axum::extract::FromRef;
use lms_core::chat::PostWriter;
use lms_core::chat::access::AccessCache;
use lms_core::chat::feed::Hub;
use lms_core::chat::pages::PageCache;
use lms_core::db::Backend;
use lms_core::events::Events;
use lms_core::paging::Cursors;
use lms_core::security::Auth;
use sea_orm::DatabaseConnection;

use crate::config::Config;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub backend: Backend,
    pub config: Arc<Config>,
    pub auth: Arc<Auth>,
    /// Signs and opens the keyset cursors of list endpoints.
    pub cursors: Cursors,
    /// The one port through which services publish what they committed.
    pub events: Events,
    /// Live delivery of chat events to this instance's WebSocket connections.
    pub hub: Arc<Hub>,
    /// Who may use which course chat, remembered for a few seconds (see `lms_core::chat::access`).
    pub chat_access: Arc<AccessCache>,
    /// Writes chat posts, in batches where the backend calls for it (`Backend::batches_chat_posts`).
    pub chat_writer: Arc<PostWriter>,
    /// Newest chat history pages, serialized, validated on every read (see `lms_core::chat::pages`).
    pub pages: Arc<PageCache>,
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}
