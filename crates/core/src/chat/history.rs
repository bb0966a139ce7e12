use super::*;
use entity::live_sessions;

/// Fetches one page of `select`. Returned oldest first when `oldest_first`, else newest first. Paging
/// walks towards older messages with `before` (and by default when newest first) and towards newer
/// ones with `after` (and by default when oldest first).
pub(super) async fn page<C: ConnectionTrait>(
    db: &C,
    select: Select<chat_messages::Entity>,
    page: Page,
    oldest_first: bool,
) -> Result<MessagePage> {
    let limit = page_limit(Some(page.limit.unwrap_or(50)))?;
    let mut select = select;
    if let Some(before) = page.before {
        select = select.filter(chat_messages::Column::Id.lt(before));
    }
    if let Some(after) = page.after {
        select = select.filter(chat_messages::Column::Id.gt(after));
    }
    let towards_older = match (page.before, page.after) {
        (Some(_), _) => true,
        (None, Some(_)) => false,
        (None, None) => !oldest_first,
    };
    let order = if towards_older {
        Order::Desc
    } else {
        Order::Asc
    };
    // The page size goes into the SQL text rather than a parameter: PostgreSQL re-plans a prepared
    // statement whose LIMIT is a parameter on every execution (its generic plan cannot know how few
    // rows are wanted), which costs about as much as running it. It is a validated integer (at most
    // 101 distinct statements).
    let mut statement = select
        .order_by(chat_messages::Column::Id, order)
        .build(db.get_database_backend());
    statement.sql.push_str(&format!(" LIMIT {}", limit + 1));
    let mut rows = MessageRow::find_by_statement(statement).all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if towards_older == oldest_first {
        rows.reverse();
    }
    Ok(MessagePage {
        items: rows.into_iter().map(MessageView::from).collect(),
        has_more,
    })
}

/// Top-level messages of the course, newest first.
pub async fn history(db: &DatabaseConnection, member: &Member, p: Page) -> Result<MessagePage> {
    let select = messages()
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .filter(chat_messages::Column::ParentId.is_null());
    page(db, select, p, false).await
}

/// The replies to a message, oldest first.
pub async fn replies(
    db: &DatabaseConnection,
    member: &Member,
    message_id: i64,
    p: Page,
) -> Result<MessagePage> {
    find(db, member, message_id).await?;
    let select = messages().filter(chat_messages::Column::ParentId.eq(message_id));
    page(db, select, p, true).await
}

/// The pinned messages of the course, most recently pinned first (at most 100).
pub async fn pinned(db: &DatabaseConnection, member: &Member) -> Result<Vec<MessageView>> {
    let rows = messages()
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .filter(chat_messages::Column::PinnedAt.is_not_null())
        .filter(chat_messages::Column::DeletedAt.is_null())
        .order_by_desc(chat_messages::Column::PinnedAt)
        .order_by_desc(chat_messages::Column::Id)
        .limit(MAX_PAGE)
        .into_model::<MessageRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(MessageView::from).collect())
}

/// A message of the member's course, or 404.
pub(super) async fn find<C: ConnectionTrait>(
    db: &C,
    member: &Member,
    id: i64,
) -> Result<MessageView> {
    messages()
        .filter(chat_messages::Column::Id.eq(id))
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .into_model::<MessageRow>()
        .one(db)
        .await?
        .map(MessageView::from)
        .ok_or_else(|| Error::NotFound("no such message in this course".into()))
}

/// One message with its reply count and reactions (none shown on a deleted message).
pub async fn detail<C: ConnectionTrait>(db: &C, member: &Member, id: i64) -> Result<MessageDetail> {
    let message = find(db, member, id).await?;
    let reply_count = chat_messages::Entity::find()
        .filter(chat_messages::Column::ParentId.eq(id))
        .filter(chat_messages::Column::DeletedAt.is_null())
        .select_only()
        .column_as(Expr::col(chat_messages::Column::Id).count(), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    let mut reactions = Vec::new();
    if !message.deleted {
        let rows: Vec<(String, i64, i32)> = reactions::Entity::find()
            .filter(reactions::Column::MessageId.eq(id))
            .select_only()
            .column(reactions::Column::Emoji)
            .column_as(Expr::col(reactions::Column::UserId).count(), "n")
            .column_as(
                Expr::case(Expr::col(reactions::Column::UserId).eq(member.user.id), 1)
                    .finally(0)
                    .max(),
                "mine",
            )
            .group_by(reactions::Column::Emoji)
            .order_by_asc(reactions::Column::Emoji)
            .into_tuple()
            .all(db)
            .await?;
        reactions = rows
            .into_iter()
            .map(|(emoji, count, mine)| ReactionCount {
                emoji,
                count,
                mine: mine > 0,
            })
            .collect();
    }
    Ok(MessageDetail {
        message,
        reply_count,
        reactions,
    })
}

/// The edit history, oldest first: the author and course staff only.
pub async fn edits(db: &DatabaseConnection, member: &Member, id: i64) -> Result<Vec<EditView>> {
    let message = find(db, member, id).await?;
    let is_author = message.is_by(&member.user);
    if !(is_author || member.staff) {
        return Err(Error::Forbidden(
            "only the author and the course's staff may read the edit history".into(),
        ));
    }
    let rows = chat_message_edits::Entity::find()
        .filter(chat_message_edits::Column::MessageId.eq(id))
        .order_by_asc(chat_message_edits::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| EditView {
            content: e.content,
            edited_at: e.edited_at,
        })
        .collect())
}

/// Events of a course with `after < seq < until` (if given), in order, at most `limit`.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    course_id: i64,
    after: i64,
    until: Option<i64>,
    limit: u64,
) -> Result<Vec<EventView>> {
    let mut query = chat_events::Entity::find()
        .filter(chat_events::Column::CourseId.eq(course_id))
        .filter(chat_events::Column::Seq.gt(after));
    if let Some(until) = until {
        query = query.filter(chat_events::Column::Seq.lt(until));
    }
    let rows = query
        .order_by_asc(chat_events::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = rows.iter().filter_map(|e| e.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut messages: HashMap<i64, MessageView> = HashMap::new();
    if !ids.is_empty() {
        for row in self::messages()
            .filter(chat_messages::Column::Id.is_in(ids))
            .into_model::<MessageRow>()
            .all(db)
            .await?
        {
            messages.insert(row.id, row.into());
        }
    }
    let mut session_ids: Vec<i64> = rows.iter().filter_map(|e| e.live_session_id).collect();
    session_ids.sort_unstable();
    session_ids.dedup();
    let mut sessions: HashMap<i64, crate::live::SessionBrief> = HashMap::new();
    if !session_ids.is_empty() {
        for session in live_sessions::Entity::find()
            .filter(live_sessions::Column::Id.is_in(session_ids))
            .all(db)
            .await?
        {
            sessions.insert(session.id, session.into());
        }
    }
    Ok(rows
        .into_iter()
        .map(|e| EventView {
            live_session: e.live_session_id.and_then(|id| sessions.get(&id).cloned()),
            live_session_id: e.live_session_id,
            seq: e.seq,
            course_id: e.course_id,
            kind: e.kind,
            message: e.message_id.and_then(|id| messages.get(&id).cloned()),
            message_id: e.message_id,
            actor_id: e.actor_id,
            emoji: e.emoji,
            at: e.created_at,
        })
        .collect())
}

/// The last sequence number handed out for a course (0 before its first change).
pub async fn last_seq<C: ConnectionTrait>(db: &C, course_id: i64) -> Result<i64> {
    Ok(chat_sequences::Entity::find_by_id(course_id)
        .one(db)
        .await?
        .map_or(0, |s| s.last_seq))
}
