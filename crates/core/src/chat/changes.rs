use sea_orm::DatabaseTransaction;

use super::*;
use crate::db::upsert;

/// Edits the author's own message, keeping the previous content in the edit history.
pub async fn edit(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    input: EditMessage,
    limits: Limits,
) -> Result<MessageView> {
    let current = find(db, member, id).await?;
    if !current.is_by(&member.user) {
        return Err(Error::Forbidden(
            "only the author may edit a message".into(),
        ));
    }
    let Some(old) = current.content.clone() else {
        return Err(Error::Conflict("a deleted message cannot be edited".into()));
    };
    check_content(&input.content, limits)?;
    if input.content == old {
        return Ok(current);
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::Content, Expr::value(input.content))
        .col_expr(M::EditCount, Expr::col(M::EditCount).add(1))
        .col_expr(M::EditedAt, Expr::value(at))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .filter(M::Content.eq(old.clone()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(
            "the message changed meanwhile; read it again".into(),
        ));
    }
    chat_message_edits::Entity::insert(chat_message_edits::ActiveModel {
        message_id: Set(id),
        content: Set(old),
        edited_by: Set(Some(member.user.id)),
        edited_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    commit_with_event(txn, events, member, id, EventKind::MessageEdited).await
}

/// Soft-deletes: the row and its thread stay, the content, edit history and reactions go. Idempotent.
pub async fn delete(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
) -> Result<()> {
    let current = find(db, member, id).await?;
    let is_author = current.is_by(&member.user);
    if !(is_author || member.staff) {
        return Err(Error::Forbidden(
            "only the author, the course's instructor or an admin may delete a message".into(),
        ));
    }
    if current.deleted {
        return Ok(());
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::Content, Expr::value(""))
        .col_expr(M::DeletedAt, Expr::value(at))
        .col_expr(M::DeletedBy, Expr::value(member.user.id))
        .col_expr(M::PinnedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(M::PinnedBy, Expr::value(Option::<i64>::None))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(());
    }
    chat_message_edits::Entity::delete_many()
        .filter(chat_message_edits::Column::MessageId.eq(id))
        .exec(&txn)
        .await?;
    reactions::Entity::delete_many()
        .filter(reactions::Column::MessageId.eq(id))
        .exec(&txn)
        .await?;
    let change = record_event(
        &txn,
        NewEvent {
            course_id: member.course_id,
            kind: EventKind::MessageDeleted,
            subject: Subject::Message(id),
            actor_id: Some(member.user.id),
            emoji: None,
            at: None,
        },
    )
    .await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(())
}

/// Pins or unpins (course staff). Idempotent: pinning a pinned message changes nothing.
pub async fn set_pinned(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    pin: bool,
) -> Result<MessageView> {
    if !member.staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may pin messages".into(),
        ));
    }
    let current = find(db, member, id).await?;
    if current.deleted {
        return Err(Error::Conflict("a deleted message cannot be pinned".into()));
    }
    if current.pinned_at.is_some() == pin {
        return Ok(current);
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let (pinned_at, pinned_by) = if pin {
        (Some(at), Some(member.user.id))
    } else {
        (None, None)
    };
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::PinnedAt, Expr::value(pinned_at))
        .col_expr(M::PinnedBy, Expr::value(pinned_by))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .filter(if pin {
            M::PinnedAt.is_null()
        } else {
            M::PinnedAt.is_not_null()
        })
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        drop(txn);
        return find(db, member, id).await;
    }
    let kind = if pin {
        EventKind::MessagePinned
    } else {
        EventKind::MessageUnpinned
    };
    commit_with_event(txn, events, member, id, kind).await
}

/// Adds or removes the member's reaction (idempotent); an event only when something changed.
pub async fn react(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    emoji: &str,
    add: bool,
) -> Result<MessageDetail> {
    if !is_emoji(emoji) {
        return Err(Error::invalid(
            "emoji",
            "must be a single emoji (at most 16 characters)",
        ));
    }
    let current = find(db, member, id).await?;
    if current.deleted {
        return Err(Error::Conflict(
            "a deleted message cannot be reacted to".into(),
        ));
    }
    let txn = db.begin().await?;
    let changed = toggle_reaction(&txn, member.user.id, id, emoji, add).await?;
    let mut change = None;
    if changed {
        let kind = if add {
            EventKind::ReactionAdded
        } else {
            EventKind::ReactionRemoved
        };
        change = Some(
            record_event(
                &txn,
                NewEvent {
                    course_id: member.course_id,
                    kind,
                    subject: Subject::Message(id),
                    actor_id: Some(member.user.id),
                    emoji: Some(emoji.to_string()),
                    at: None,
                },
            )
            .await?,
        );
    }
    let detail = detail(&txn, member, id).await?;
    txn.commit().await?;
    if let Some(change) = change {
        events.publish(Committed::Chat(change)).await;
    }
    Ok(detail)
}

/// Adds or removes one reaction; whether anything changed.
async fn toggle_reaction(
    txn: &DatabaseTransaction,
    user_id: i64,
    id: i64,
    emoji: &str,
    add: bool,
) -> Result<bool> {
    Ok(if add {
        upsert::insert_if_absent(
            txn,
            reactions::Entity::insert(reactions::ActiveModel {
                message_id: Set(id),
                user_id: Set(user_id),
                emoji: Set(emoji.to_string()),
                created_at: Set(now()),
            }),
            [
                reactions::Column::MessageId,
                reactions::Column::UserId,
                reactions::Column::Emoji,
            ],
        )
        .await?
    } else {
        reactions::Entity::delete_many()
            .filter(reactions::Column::MessageId.eq(id))
            .filter(reactions::Column::UserId.eq(user_id))
            .filter(reactions::Column::Emoji.eq(emoji))
            .exec(txn)
            .await?
            .rows_affected
            == 1
    })
}

/// Records the message's event, commits, publishes the change, and returns the message as it now is.
async fn commit_with_event(
    txn: DatabaseTransaction,
    events: &Events,
    member: &Member,
    id: i64,
    kind: EventKind,
) -> Result<MessageView> {
    let event = NewEvent {
        course_id: member.course_id,
        kind,
        subject: Subject::Message(id),
        actor_id: Some(member.user.id),
        emoji: None,
        at: None,
    };
    let change = record_event(&txn, event).await?;
    let view = find(&txn, member, id).await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(view)
}
