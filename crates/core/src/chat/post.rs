use super::*;

/// Posts a message (or a reply) as `member`.
pub async fn post(
    db: &DatabaseConnection,
    events: &Events,
    writer: Option<&ChatWriter>,
    member: &Member,
    input: NewMessage,
    limits: Limits,
) -> Result<MessageView> {
    check_content(&input.content, limits)?;
    let message_type = input.message_type.unwrap_or(MessageType::Text);
    match message_type {
        MessageType::System => {
            return Err(Error::invalid(
                "type",
                "system messages are written by the LMS itself",
            ));
        }
        MessageType::Announcement if !member.staff => {
            return Err(Error::Forbidden(
                "only the course's instructor or an admin may post announcements".into(),
            ));
        }
        _ => {}
    }
    if let Some(parent_id) = input.parent_id {
        let parent = chat_messages::Entity::find_by_id(parent_id)
            .filter(chat_messages::Column::CourseId.eq(member.course_id))
            .one(db)
            .await?
            .ok_or_else(|| Error::invalid("parent_id", "no such message in this course"))?;
        if parent.parent_id.is_some() {
            return Err(Error::invalid(
                "parent_id",
                "replies go to the thread's first message, not to another reply",
            ));
        }
        if parent.deleted_at.is_some() {
            return Err(Error::invalid("parent_id", "that message was deleted"));
        }
    }

    let (id, change, at) = if let Some(writer) = writer {
        let written = writer
            .post(PendingPost {
                course_id: member.course_id,
                user_id: member.user.id,
                parent_id: input.parent_id,
                message_type,
                content: input.content.clone(),
            })
            .await?;
        let change = Change {
            course_id: member.course_id,
            seq: written.seq,
        };
        (written.id, change, written.created_at)
    } else {
        let at = now();
        let key = format!("{POST_LIMIT_KEY}{}", member.user.id);
        let txn = db.begin().await?;
        if let Some(retry_after_secs) = throttle::count_use(
            &txn,
            &key,
            limits.posts_per_minute,
            POST_LIMIT_WINDOW_SECS,
            at.timestamp(),
        )
        .await?
        {
            return Err(Error::TooManyRequests { retry_after_secs });
        }
        let inserted = chat_messages::Entity::insert(chat_messages::ActiveModel {
            course_id: Set(member.course_id),
            user_id: Set(Some(member.user.id)),
            parent_id: Set(input.parent_id),
            message_type: Set(message_type),
            content: Set(input.content.clone()),
            edit_count: Set(0),
            metadata: Set(serde_json::json!({})),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        let id = inserted.last_insert_id;
        let change = record_event(
            &txn,
            member.course_id,
            EventKind::MessageCreated,
            id,
            member.user.id,
            None,
        )
        .await?;
        txn.commit().await?;
        (id, change, at)
    };
    let user = &member.user;
    let view = MessageView {
        id,
        course_id: member.course_id,
        parent_id: input.parent_id,
        author: Some(Author::new(
            user.id,
            user.username.clone(),
            &user.first_name,
            &user.last_name,
        )),
        message_type,
        content: Some(input.content),
        deleted: false,
        deleted_at: None,
        edited_at: None,
        edit_count: 0,
        pinned_at: None,
        created_at: at,
    };
    events.publish(Committed::Chat(change)).await;
    Ok(view)
}
