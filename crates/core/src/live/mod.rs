//! Live sessions: scheduled video lessons of a course, their join window and their state machine
//! (`scheduled -> live -> ended`, `scheduled -> cancelled`), for the course's members; staff schedule,
//! edit, start, end and cancel them.
//!
//! Every status change is one conditional UPDATE (`... WHERE status = <expected>`), so two staff
//! pressing "start" at once move the session once and the other hears 409 naming its state. Each
//! change (scheduled, started, ended, cancelled, rescheduled) is also an event of the course's chat
//! change feed, written in the same transaction, so connected clients hear it over the WebSocket.
use chrono::{DateTime, Duration, Utc};
use entity::chat_events::EventKind;
use entity::courses;
use entity::enrollments;
use entity::live_session_attendance as attendance_rows;
use entity::live_sessions::{self, LiveStatus};
use entity::users;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::chat::{Change, NewEvent, Subject, record_event};
use crate::courses::{can_manage, can_view};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::events::{Committed, Events};
use crate::now;
use crate::paging::{Cursors, page_limit, split_page};
use crate::rules::{Range, Text, enum_of};

mod attendance;
pub mod calendar;
pub mod reminders;
pub use attendance::*;

pub const TITLE: Text = Text::between(1, 200);
pub const DESCRIPTION: Text = Text::up_to(20_000);
/// More than zero, at most 12 hours.
pub const DURATION_MINUTES: Range = Range::new(1, 720);
pub const BUFFER_MINUTES: Range = Range::new(0, 240);
pub const MAX_PARTICIPANTS: Range = Range::new(1, 100_000);
pub const THRESHOLD_PERCENT: Range = Range::new(0, 100);

crate::rule_schemas! {
    title_schema => TITLE;
    title_nullable => TITLE, nullable;
    description_nullable => DESCRIPTION, nullable;
    duration_schema => DURATION_MINUTES;
    duration_nullable => DURATION_MINUTES, nullable;
    buffer_nullable => BUFFER_MINUTES, nullable;
    max_participants_nullable => MAX_PARTICIPANTS, nullable;
    threshold_nullable => THRESHOLD_PERCENT, nullable;
}

/// What the session allows in the room.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Record the session (default false).
    pub recording: Option<bool>,
    /// The room's chat (default true).
    pub chat: Option<bool>,
    /// Screen sharing (default true).
    pub screen_share: Option<bool>,
}

/// A new live session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[schema(schema_with = title_schema)]
    pub title: String,
    #[schema(schema_with = description_nullable)]
    pub description: Option<String>,
    /// When it starts (RFC 3339); in the future, at most 5 years ahead.
    pub starts_at: DateTime<Utc>,
    #[schema(schema_with = duration_schema)]
    pub duration_minutes: i64,
    /// How early members may join (default 10).
    #[schema(schema_with = buffer_nullable)]
    pub join_early_minutes: Option<i64>,
    /// How long after the scheduled end members may still join (default 10).
    #[schema(schema_with = buffer_nullable)]
    pub join_late_minutes: Option<i64>,
    pub settings: Option<Settings>,
    /// Attendees in the room at once, course staff not counted (default: no cap).
    #[schema(schema_with = max_participants_nullable)]
    pub max_participants: Option<i64>,
    /// Attending at least this share of the scheduled duration counts as attended (default 75).
    #[schema(schema_with = threshold_nullable)]
    pub attendance_threshold_percent: Option<i64>,
    /// Make the session a `live` lesson at the end of this section of the course's curriculum:
    /// required and published at once, completed by attending at or above the threshold.
    pub section_id: Option<i64>,
}

/// Changes to a scheduled session; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionChanges {
    #[schema(schema_with = title_nullable)]
    pub title: Option<String>,
    #[schema(schema_with = description_nullable)]
    pub description: Option<String>,
    /// Reschedule (RFC 3339); in the future, at most 5 years ahead.
    pub starts_at: Option<DateTime<Utc>>,
    #[schema(schema_with = duration_nullable)]
    pub duration_minutes: Option<i64>,
    #[schema(schema_with = buffer_nullable)]
    pub join_early_minutes: Option<i64>,
    #[schema(schema_with = buffer_nullable)]
    pub join_late_minutes: Option<i64>,
    pub settings: Option<Settings>,
    #[schema(schema_with = max_participants_nullable)]
    pub max_participants: Option<i64>,
    #[schema(schema_with = threshold_nullable)]
    pub attendance_threshold_percent: Option<i64>,
}

/// When members may join: from `opens_at` (early-join time) to `closes_at` (the scheduled end plus
/// the late-join buffer).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct JoinWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

impl JoinWindow {
    pub fn of(session: &live_sessions::Model) -> Self {
        let ends = scheduled_end(session);
        JoinWindow {
            opens_at: session.starts_at - Duration::minutes(session.join_early_minutes.into()),
            closes_at: ends + Duration::minutes(session.join_late_minutes.into()),
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.opens_at <= at && at <= self.closes_at
    }
}

pub fn scheduled_end(session: &live_sessions::Model) -> DateTime<Utc> {
    session.starts_at + Duration::minutes(session.duration_minutes.into())
}

/// A live session as members see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub course_id: i64,
    /// The curriculum lesson this session is, if any.
    pub lesson_id: Option<i64>,
    pub title: String,
    pub description: Option<String>,
    #[schema(schema_with = enum_of::<LiveStatus>)]
    pub status: LiveStatus,
    pub starts_at: DateTime<Utc>,
    /// `starts_at` plus the duration.
    pub ends_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub join_early_minutes: i32,
    pub join_late_minutes: i32,
    pub join_window: JoinWindow,
    pub settings: SettingsView,
    pub max_participants: Option<i32>,
    pub attendance_threshold_percent: i16,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Participants in the room now (open attendance intervals).
    pub live_attendees: u64,
}

/// A live session as the course's change feed shows it (as it is now): enough to tell members that
/// it went live, ended, was cancelled or moved; `GET /live-sessions/{id}` has the rest.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionBrief {
    pub id: i64,
    pub lesson_id: Option<i64>,
    pub title: String,
    #[schema(schema_with = enum_of::<LiveStatus>)]
    pub status: LiveStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub join_window: JoinWindow,
}

impl From<live_sessions::Model> for SessionBrief {
    fn from(session: live_sessions::Model) -> Self {
        Self {
            join_window: JoinWindow::of(&session),
            ends_at: scheduled_end(&session),
            id: session.id,
            lesson_id: session.lesson_id,
            title: session.title,
            status: session.status,
            starts_at: session.starts_at,
            duration_minutes: session.duration_minutes,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct SettingsView {
    pub recording: bool,
    pub chat: bool,
    pub screen_share: bool,
}

pub fn view(session: live_sessions::Model, live_attendees: u64) -> SessionView {
    SessionView {
        join_window: JoinWindow::of(&session),
        ends_at: scheduled_end(&session),
        id: session.id,
        course_id: session.course_id,
        lesson_id: session.lesson_id,
        title: session.title,
        description: session.description,
        status: session.status,
        starts_at: session.starts_at,
        duration_minutes: session.duration_minutes,
        join_early_minutes: session.join_early_minutes,
        join_late_minutes: session.join_late_minutes,
        settings: SettingsView {
            recording: session.recording_enabled,
            chat: session.chat_enabled,
            screen_share: session.screen_share_enabled,
        },
        max_participants: session.max_participants,
        attendance_threshold_percent: session.attendance_threshold_percent,
        started_at: session.started_at,
        ended_at: session.ended_at,
        cancelled_at: session.cancelled_at,
        live_attendees,
    }
}

/// How `user` stands in a course: its staff, a member (an enrollment that grants access), or
/// neither (403 when they can see the course, 404 when they cannot).
pub async fn member_of(
    db: &impl ConnectionTrait,
    user: &users::Model,
    course_id: i64,
) -> Result<(courses::Model, bool)> {
    let not_found = || Error::NotFound("no such course".into());
    let course = courses::Entity::find_by_id(course_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if can_manage(Some(user), &course) {
        return Ok((course, true));
    }
    let enrolled = enrollments::Entity::find()
        .filter(enrollments::Column::CourseId.eq(course.id))
        .filter(enrollments::Column::UserId.eq(user.id))
        .one(db)
        .await?
        .is_some_and(|e| e.status.grants_access());
    if enrolled {
        Ok((course, false))
    } else if can_view(Some(user), &course) {
        Err(Error::Forbidden(
            "live sessions are for the course's enrolled students and staff".into(),
        ))
    } else {
        Err(not_found())
    }
}

async fn staff_of(
    db: &impl ConnectionTrait,
    user: &users::Model,
    course_id: i64,
) -> Result<courses::Model> {
    let (course, staff) = member_of(db, user, course_id).await?;
    if !staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may do this".into(),
        ));
    }
    Ok(course)
}

/// The session and whether `user` is its course's staff (404 when it does not exist for them).
pub async fn find(
    db: &impl ConnectionTrait,
    user: &users::Model,
    id: i64,
) -> Result<(live_sessions::Model, bool)> {
    let session = live_sessions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such live session".into()))?;
    let (_, staff) = member_of(db, user, session.course_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => Error::NotFound("no such live session".into()),
            other => other,
        })?;
    Ok((session, staff))
}

pub async fn live_attendees(db: &impl ConnectionTrait, session_id: i64) -> Result<u64> {
    Ok(attendance_rows::Entity::find()
        .filter(attendance_rows::Column::SessionId.eq(session_id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .count(db)
        .await?)
}

/// How far ahead a session may be scheduled (5 years): a start in the year 9999 would end in 10000,
/// which RFC 3339 cannot write.
const SCHEDULING_HORIZON_DAYS: i64 = 5 * 365 + 1;

/// The fields of a session, checked together (every problem at once).
struct Fields {
    title: String,
    description: Option<String>,
    starts_at: DateTime<Utc>,
    duration: i32,
    early: i32,
    late: i32,
    max_participants: Option<i32>,
    threshold: i16,
}

fn checked(fields: &Fields, new_start: bool) -> Result<()> {
    let mut errors = crate::domain::Errors::default();
    if let Err(m) = TITLE.check(&fields.title) {
        errors.add("title", m);
    }
    if let Some(Err(m)) = fields.description.as_deref().map(|d| DESCRIPTION.check(d)) {
        errors.add("description", m);
    }
    if new_start && fields.starts_at <= now() {
        errors.add("starts_at", "must be in the future");
    }
    if new_start && fields.starts_at > now() + Duration::days(SCHEDULING_HORIZON_DAYS) {
        errors.add("starts_at", "must be at most 5 years ahead");
    }
    for (field, rule, value) in [
        ("duration_minutes", DURATION_MINUTES, fields.duration),
        ("join_early_minutes", BUFFER_MINUTES, fields.early),
        ("join_late_minutes", BUFFER_MINUTES, fields.late),
    ] {
        if let Err(m) = rule.check(value.into()) {
            errors.add(field, m);
        }
    }
    if let Some(Err(m)) = fields
        .max_participants
        .map(|m| MAX_PARTICIPANTS.check(m.into()))
    {
        errors.add("max_participants", m);
    }
    if let Err(m) = THRESHOLD_PERCENT.check(fields.threshold.into()) {
        errors.add("attendance_threshold_percent", m);
    }
    errors.finish()
}

/// An i64 from the request as the column's width; out of range is the rule's own message.
fn narrow<T: TryFrom<i64>>(value: i64, fallback: T) -> T {
    T::try_from(value).unwrap_or(fallback)
}

pub async fn schedule(
    db: &impl Db,
    events: &Events,
    actor: &users::Model,
    course_id: i64,
    input: NewSession,
) -> Result<SessionView> {
    let course = staff_of(db, actor, course_id).await?;
    let fields = Fields {
        title: input.title.trim().to_string(),
        description: input.description,
        starts_at: input.starts_at,
        duration: narrow(input.duration_minutes, 0),
        early: narrow(input.join_early_minutes.unwrap_or(10), -1),
        late: narrow(input.join_late_minutes.unwrap_or(10), -1),
        max_participants: input.max_participants.map(|m| narrow(m, 0)),
        threshold: narrow(input.attendance_threshold_percent.unwrap_or(75), -1),
    };
    checked(&fields, true)?;
    let settings = input.settings.unwrap_or_default();
    let txn = db.begin().await?;
    let lesson = match input.section_id {
        Some(section) => Some(
            crate::curriculum::create_live_lesson(
                &txn,
                actor,
                course.id,
                section,
                &fields.title,
                fields.duration,
            )
            .await?,
        ),
        None => None,
    };
    let room = format!(
        "lms-{}",
        hex::encode(crate::security::tokens::random_bytes::<16>())
    );
    let session = live_sessions::ActiveModel {
        course_id: Set(course.id),
        lesson_id: Set(lesson.map(|l| l.id)),
        title: Set(fields.title),
        description: Set(fields.description),
        starts_at: Set(fields.starts_at),
        duration_minutes: Set(fields.duration),
        join_early_minutes: Set(fields.early),
        join_late_minutes: Set(fields.late),
        status: Set(LiveStatus::Scheduled),
        room_id: Set(room),
        recording_enabled: Set(settings.recording.unwrap_or(false)),
        chat_enabled: Set(settings.chat.unwrap_or(true)),
        screen_share_enabled: Set(settings.screen_share.unwrap_or(true)),
        max_participants: Set(fields.max_participants),
        attendance_threshold_percent: Set(fields.threshold),
        started_at: Set(None),
        ended_at: Set(None),
        cancelled_at: Set(None),
        reminder_sent_at: Set(None),
        created_by: Set(Some(actor.id)),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let change = announce(
        &txn,
        course.id,
        session.id,
        EventKind::LiveSessionScheduled,
        Some(actor.id),
    )
    .await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(view(session, 0))
}

/// Edits a scheduled session (409 once it is live, ended or cancelled).
pub async fn edit(
    db: &impl Db,
    events: &Events,
    actor: &users::Model,
    id: i64,
    changes: SessionChanges,
) -> Result<SessionView> {
    let (session, staff) = find(db, actor, id).await?;
    if !staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may do this".into(),
        ));
    }
    if session.status != LiveStatus::Scheduled {
        return Err(Error::Conflict(format!(
            "only a scheduled session can be edited; this one is {}",
            session.status.name()
        )));
    }
    let fields = Fields {
        title: changes
            .title
            .map_or_else(|| session.title.clone(), |t| t.trim().to_string()),
        description: changes.description.or_else(|| session.description.clone()),
        starts_at: changes.starts_at.unwrap_or(session.starts_at),
        duration: changes
            .duration_minutes
            .map_or(session.duration_minutes, |d| narrow(d, 0)),
        early: changes
            .join_early_minutes
            .map_or(session.join_early_minutes, |m| narrow(m, -1)),
        late: changes
            .join_late_minutes
            .map_or(session.join_late_minutes, |m| narrow(m, -1)),
        max_participants: changes
            .max_participants
            .map_or(session.max_participants, |m| Some(narrow(m, 0))),
        threshold: changes
            .attendance_threshold_percent
            .map_or(session.attendance_threshold_percent, |t| narrow(t, -1)),
    };
    checked(&fields, changes.starts_at.is_some())?;
    let rescheduled =
        fields.starts_at != session.starts_at || fields.duration != session.duration_minutes;
    let settings = changes.settings.unwrap_or_default();
    let txn = db.begin().await?;
    let update = live_sessions::Entity::update_many()
        .col_expr(live_sessions::Column::Title, Expr::value(fields.title))
        .col_expr(
            live_sessions::Column::Description,
            Expr::value(fields.description),
        )
        .col_expr(
            live_sessions::Column::StartsAt,
            Expr::value(fields.starts_at),
        )
        .col_expr(
            live_sessions::Column::DurationMinutes,
            Expr::value(fields.duration),
        )
        .col_expr(
            live_sessions::Column::JoinEarlyMinutes,
            Expr::value(fields.early),
        )
        .col_expr(
            live_sessions::Column::JoinLateMinutes,
            Expr::value(fields.late),
        )
        .col_expr(
            live_sessions::Column::MaxParticipants,
            Expr::value(fields.max_participants),
        )
        .col_expr(
            live_sessions::Column::AttendanceThresholdPercent,
            Expr::value(fields.threshold),
        )
        .col_expr(
            live_sessions::Column::RecordingEnabled,
            Expr::value(settings.recording.unwrap_or(session.recording_enabled)),
        )
        .col_expr(
            live_sessions::Column::ChatEnabled,
            Expr::value(settings.chat.unwrap_or(session.chat_enabled)),
        )
        .col_expr(
            live_sessions::Column::ScreenShareEnabled,
            Expr::value(
                settings
                    .screen_share
                    .unwrap_or(session.screen_share_enabled),
            ),
        )
        .col_expr(live_sessions::Column::UpdatedAt, Expr::value(now()))
        // A reschedule sends the reminder again.
        .col_expr(
            live_sessions::Column::ReminderSentAt,
            if changes.starts_at.is_some() {
                Expr::value(Option::<DateTime<Utc>>::None)
            } else {
                Expr::col(live_sessions::Column::ReminderSentAt)
            },
        )
        .filter(live_sessions::Column::Id.eq(session.id))
        .filter(live_sessions::Column::Status.eq(LiveStatus::Scheduled))
        .exec(&txn)
        .await?;
    if update.rows_affected != 1 {
        txn.rollback().await?;
        return Err(current_state_conflict(db, session.id, "edited").await);
    }
    let change = if rescheduled {
        let kind = EventKind::LiveSessionRescheduled;
        Some(announce(&txn, session.course_id, session.id, kind, Some(actor.id)).await?)
    } else {
        None
    };
    txn.commit().await?;
    if let Some(change) = change {
        events.publish(Committed::Chat(change)).await;
    }
    get(db, actor, id).await
}

/// Inside `txn`: records a change of `session` in its course's change feed (the chat's WebSocket and
/// `GET /courses/{id}/events`), numbered with the course's chat changes. Publish the returned change
/// after the commit.
async fn announce(
    txn: &DatabaseTransaction,
    course_id: i64,
    session_id: i64,
    kind: EventKind,
    actor: Option<i64>,
) -> Result<Change> {
    record_event(
        txn,
        NewEvent {
            course_id,
            kind,
            subject: Subject::LiveSession(session_id),
            actor_id: actor,
            emoji: None,
            at: None,
        },
    )
    .await
}

async fn current_state_conflict(db: &impl ConnectionTrait, id: i64, what: &str) -> Error {
    let status = live_sessions::Entity::find_by_id(id)
        .one(db)
        .await
        .ok()
        .flatten()
        .map_or("gone", |s| s.status.name());
    Error::Conflict(format!(
        "the session changed meanwhile and cannot be {what}; it is now {status}"
    ))
}

pub async fn get(db: &impl ConnectionTrait, actor: &users::Model, id: i64) -> Result<SessionView> {
    let (session, _) = find(db, actor, id).await?;
    let attendees = live_attendees(db, session.id).await?;
    Ok(view(session, attendees))
}

/// Which state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Start,
    End,
    Cancel,
}

/// Moves the session along its state machine (staff). Start is allowed from the early-join time; any
/// other move than the machine's is 409 naming the current state.
pub async fn transition(
    db: &impl Db,
    events: &Events,
    grace: Grace,
    actor: &users::Model,
    id: i64,
    what: Transition,
) -> Result<SessionView> {
    let (session, staff) = find(db, actor, id).await?;
    if !staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may do this".into(),
        ));
    }
    let (to, column, verb, kind) = match what {
        Transition::Start => (
            LiveStatus::Live,
            live_sessions::Column::StartedAt,
            "started",
            EventKind::LiveSessionStarted,
        ),
        Transition::End => (
            LiveStatus::Ended,
            live_sessions::Column::EndedAt,
            "ended",
            EventKind::LiveSessionEnded,
        ),
        Transition::Cancel => (
            LiveStatus::Cancelled,
            live_sessions::Column::CancelledAt,
            "cancelled",
            EventKind::LiveSessionCancelled,
        ),
    };
    if !session.status.can_become(to) {
        return Err(Error::Conflict(format!(
            "a {} session cannot be {verb}",
            session.status.name()
        )));
    }
    let at = now();
    let window = JoinWindow::of(&session);
    if what == Transition::Start && at < window.opens_at {
        return Err(Error::Conflict(format!(
            "the session can start from {} (its early-join time)",
            window.opens_at.to_rfc3339()
        )));
    }
    // The move, the room emptied (at the end) and the feed's event commit together.
    let txn = db.begin().await?;
    let moved = live_sessions::Entity::update_many()
        .col_expr(live_sessions::Column::Status, Expr::value(to))
        .col_expr(column, Expr::value(at))
        .col_expr(live_sessions::Column::UpdatedAt, Expr::value(at))
        .filter(live_sessions::Column::Id.eq(session.id))
        .filter(live_sessions::Column::Status.eq(session.status))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        txn.rollback().await?;
        return Err(current_state_conflict(db, session.id, verb).await);
    }
    if what == Transition::End {
        // Everyone still in the room leaves with the session (gone-silent ones when they went silent).
        close_all(&txn, session.id, at, grace).await?;
    }
    let change = announce(&txn, session.course_id, session.id, kind, Some(actor.id)).await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    if what == Transition::End {
        complete_live_lesson(db, crate::enrollments::Actor::User(actor.id), session.id).await?;
    }
    get(db, actor, id).await
}

/// A session that is a `live` lesson, once ended: every enrolled student who attended at or above the
/// threshold completes the lesson (and their progress follows).
async fn complete_live_lesson(
    db: &impl Db,
    actor: crate::enrollments::Actor,
    id: i64,
) -> Result<()> {
    let session = live_sessions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such live session".into()))?;
    let Some(lesson) = session.lesson_id else {
        return Ok(());
    };
    // Everyone has left: the grace period no longer matters.
    let reports = tally(db, &session, Grace(Duration::zero())).await?;
    for report in reports.iter().filter(|r| r.attended && !r.moderator) {
        let enrollment = enrollments::Entity::find()
            .filter(enrollments::Column::CourseId.eq(session.course_id))
            .filter(enrollments::Column::UserId.eq(report.user_id))
            .one(db)
            .await?;
        if let Some(enrollment) = enrollment {
            crate::curriculum::complete_by_attendance(db, enrollment.id, lesson, actor).await?;
        }
    }
    Ok(())
}

/// Ends the live sessions nobody ended once their join window has closed: at the window's close, with
/// every interval still open closed there too, and their live lessons completed for those who attended
/// enough. Sessions never started stay as they are (staff cancel them). Returns how many it ended.
pub async fn end_expired(db: &impl Db, events: &Events, grace: Grace) -> Result<usize> {
    let live = live_sessions::Entity::find()
        .filter(live_sessions::Column::Status.eq(LiveStatus::Live))
        .all(db)
        .await?;
    let at = now();
    let mut ended = 0;
    for session in live {
        let closes = JoinWindow::of(&session).closes_at;
        if closes > at {
            continue;
        }
        let txn = db.begin().await?;
        let moved = live_sessions::Entity::update_many()
            .col_expr(
                live_sessions::Column::Status,
                Expr::value(LiveStatus::Ended),
            )
            .col_expr(live_sessions::Column::EndedAt, Expr::value(closes))
            .col_expr(live_sessions::Column::UpdatedAt, Expr::value(at))
            .filter(live_sessions::Column::Id.eq(session.id))
            .filter(live_sessions::Column::Status.eq(LiveStatus::Live))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            continue; // another instance (or staff) ended it
        }
        close_all(&txn, session.id, closes, grace).await?;
        let kind = EventKind::LiveSessionEnded;
        let change = announce(&txn, session.course_id, session.id, kind, None).await?;
        txn.commit().await?;
        events.publish(Committed::Chat(change)).await;
        complete_live_lesson(db, crate::enrollments::Actor::System, session.id).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Filters of a course's session list.
#[derive(Debug, Default)]
pub struct SessionFilter {
    pub status: Option<LiveStatus>,
    /// Sessions starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Sessions starting before.
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

/// A course's sessions in start order, a keyset page at a time (members).
pub async fn list(
    db: &impl ConnectionTrait,
    cursors: &Cursors,
    actor: &users::Model,
    course_id: i64,
    filter: SessionFilter,
) -> Result<(Vec<SessionView>, Option<String>)> {
    let limit = page_limit(filter.limit)?;
    member_of(db, actor, course_id).await?;
    let issued_for = format!(
        "live:{course_id}:{:?}:{:?}:{:?}",
        filter.status, filter.from, filter.to
    );
    let mut query = live_sessions::Entity::find()
        .filter(live_sessions::Column::CourseId.eq(course_id))
        .order_by_asc(live_sessions::Column::StartsAt)
        .order_by_asc(live_sessions::Column::Id);
    if let Some(status) = filter.status {
        query = query.filter(live_sessions::Column::Status.eq(status));
    }
    if let Some(from) = filter.from {
        query = query.filter(live_sessions::Column::StartsAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(live_sessions::Column::StartsAt.lt(to));
    }
    if let Some(cursor) = filter.cursor.as_deref() {
        let (starts, id): (DateTime<Utc>, i64) = cursors.open(&issued_for, cursor)?;
        query = query.filter(
            sea_orm::Condition::any()
                .add(live_sessions::Column::StartsAt.gt(starts))
                .add(
                    sea_orm::Condition::all()
                        .add(live_sessions::Column::StartsAt.eq(starts))
                        .add(live_sessions::Column::Id.gt(id)),
                ),
        );
    }
    let rows = query.limit(limit + 1).all(db).await?;
    let (rows, next) = split_page(rows, limit, |s| {
        cursors.issue(&issued_for, &(s.starts_at, s.id))
    });
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let open: Vec<(i64, i64)> = attendance_rows::Entity::find()
        .select_only()
        .column(attendance_rows::Column::SessionId)
        .column_as(attendance_rows::Column::Id.count(), "open")
        .filter(attendance_rows::Column::SessionId.is_in(ids))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .group_by(attendance_rows::Column::SessionId)
        .into_tuple()
        .all(db)
        .await?;
    let open: std::collections::HashMap<i64, i64> = open.into_iter().collect();
    let views = rows
        .into_iter()
        .map(|s| {
            let n = open.get(&s.id).copied().unwrap_or(0);
            view(s, n.max(0) as u64)
        })
        .collect();
    Ok((views, next))
}
