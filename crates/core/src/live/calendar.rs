//! Calendar feeds (RFC 5545): a member's calendar app subscribes to a course's live sessions with a
//! per-user token in the URL (no sign-in header: calendar apps cannot send one). The token is stored
//! as its SHA-256 and shown once; issuing a new one revokes the old. Cancelled sessions stay in the
//! feed with `STATUS:CANCELLED`, so subscribed calendars drop them.
use icalendar::{Calendar, Component, EventLike, EventStatus};

use super::*;
use crate::security::tokens::{random_token, sha256_hex};

/// Issues the caller's calendar token, replacing (revoking) the previous one.
pub async fn issue_token(db: &impl Db, user: &users::Model) -> Result<String> {
    let token = random_token();
    let txn = db.begin().await?;
    entity::calendar_tokens::Entity::delete_by_id(user.id)
        .exec(&txn)
        .await?;
    entity::calendar_tokens::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(sha256_hex(&token)),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// The courses whose feeds the caller may subscribe to (as member or staff), by id and title.
pub async fn feed_courses(
    db: &impl ConnectionTrait,
    user: &users::Model,
) -> Result<Vec<(i64, String)>> {
    let enrolled: Vec<i64> = enrollments::Entity::find()
        .select_only()
        .column(enrollments::Column::CourseId)
        .filter(enrollments::Column::UserId.eq(user.id))
        .filter(
            enrollments::Column::Status.is_in(
                entity::enrollments::EnrollmentStatus::GRANTING_ACCESS
                    .iter()
                    .copied(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(courses::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(courses::Column::Id.is_in(enrolled))
                .add(courses::Column::InstructorId.eq(user.id)),
        )
        .order_by_asc(courses::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect())
}

/// The course's sessions as an iCalendar document, for the holder of `token` while they are a member;
/// 404 for a token that is unknown or revoked, or a course it gives no access to.
pub async fn feed(db: &impl ConnectionTrait, course_id: i64, token: &str) -> Result<String> {
    let not_found = || Error::NotFound("no such calendar feed".into());
    let holder = entity::calendar_tokens::Entity::find()
        .filter(entity::calendar_tokens::Column::TokenHash.eq(sha256_hex(token)))
        .find_also_related(users::Entity)
        .one(db)
        .await?
        .and_then(|(_, user)| user)
        .filter(|u| u.status == entity::users::UserStatus::Active)
        .ok_or_else(not_found)?;
    let (course, _) = member_of(db, &holder, course_id)
        .await
        .map_err(|_| not_found())?;
    let sessions = live_sessions::Entity::find()
        .filter(live_sessions::Column::CourseId.eq(course.id))
        .order_by_asc(live_sessions::Column::StartsAt)
        .all(db)
        .await?;
    let mut calendar = Calendar::new();
    calendar.name(&format!("{}: live sessions", course.title));
    for session in &sessions {
        let mut event = icalendar::Event::new();
        event
            .uid(&format!("live-session-{}@{}", session.id, course.slug))
            .summary(&session.title)
            .starts(session.starts_at)
            .ends(scheduled_end(session))
            .timestamp(session.updated_at)
            // Every change bumps it, so calendars replace what they hold.
            .sequence(u32::try_from(session.updated_at.timestamp().max(0) / 60).unwrap_or(0))
            .status(if session.status == LiveStatus::Cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            });
        if let Some(description) = &session.description {
            event.description(description);
        }
        calendar.push(event.done());
    }
    Ok(calendar.done().to_string())
}
