use super::*;

/// Posts a message (or a reply) as `member`.
pub async fn post(
    db: &DatabaseConnection,
    events: &Events,
    writer: &PostWriter,
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
    let (id, at) = (written.id, written.created_at);
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
