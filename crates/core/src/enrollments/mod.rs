//! Enrollments: enroll (free -> active, paid -> pending_payment), progress and certificates, cancel,
//! reviews with exact course aggregates, and the payment provider's webhook.
//!
//! Every status change is one conditional UPDATE (`... WHERE status = <expected>`) plus an audit row in
//! the same transaction, so two racing requests cannot both move an enrollment, and the trail is never
//! missing a step. Course counters move in the same transaction as the change that moves them.
use chrono::Utc;
use entity::courses::{self, CourseStatus};
use entity::enrollment_events::{self, ActorKind};
use entity::enrollments::{self, EnrollmentStatus, PaymentMethod, PaymentStatus};
use entity::users::{self, UserRole};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Related, SqlErr,
};

use crate::courses::{can_manage, effective_price, find_visible};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::now;
use crate::paging::{Cursors, page_limit, split_page};
use crate::security::tokens::random_bytes;

mod payments;
mod progress;
mod reviews;
pub use payments::*;
pub use progress::*;
pub use reviews::*;

/// How an enrollment starts: free courses are active at once, paid ones wait for their payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub status: EnrollmentStatus,
    pub payment_method: Option<PaymentMethod>,
    pub payment_status: PaymentStatus,
}

impl Terms {
    pub fn at_enrollment(price_cents: i64) -> Self {
        if price_cents == 0 {
            Terms {
                status: EnrollmentStatus::Active,
                payment_method: Some(PaymentMethod::Free),
                payment_status: PaymentStatus::None,
            }
        } else {
            Terms {
                status: EnrollmentStatus::PendingPayment,
                payment_method: None,
                payment_status: PaymentStatus::Pending,
            }
        }
    }
}

/// Who moved an enrollment.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    User(i64),
    PaymentProvider,
    /// The LMS itself (a session that ended on its own completing a live lesson, ...).
    System,
}

async fn record(
    txn: &impl ConnectionTrait,
    enrollment_id: i64,
    from: Option<EnrollmentStatus>,
    to: EnrollmentStatus,
    actor: Actor,
    note: Option<String>,
) -> Result<(), sea_orm::DbErr> {
    let (actor_id, actor_kind) = match actor {
        Actor::User(id) => (Some(id), ActorKind::User),
        Actor::PaymentProvider => (None, ActorKind::PaymentProvider),
        Actor::System => (None, ActorKind::System),
    };
    enrollment_events::ActiveModel {
        enrollment_id: Set(enrollment_id),
        from_status: Set(from),
        to_status: Set(to),
        actor_id: Set(actor_id),
        actor_kind: Set(actor_kind),
        note: Set(note),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

async fn adjust_students(
    txn: &impl ConnectionTrait,
    course_id: i64,
    delta: i32,
) -> Result<(), sea_orm::DbErr> {
    if delta != 0 {
        courses::Entity::update_many()
            .col_expr(
                courses::Column::StudentCount,
                Expr::col(courses::Column::StudentCount).add(delta),
            )
            .filter(courses::Column::Id.eq(course_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Moves `enrollment` to `to` (with the extra column changes in `extra`), inside `txn`: refused with
/// 409 naming the current state when the transition is not allowed or someone else moved it first.
async fn transition(
    txn: &DatabaseTransaction,
    enrollment: &enrollments::Model,
    to: EnrollmentStatus,
    actor: Actor,
    note: Option<String>,
    extra: impl FnOnce(
        sea_orm::UpdateMany<enrollments::Entity>,
    ) -> sea_orm::UpdateMany<enrollments::Entity>,
) -> Result<enrollments::Model> {
    let from = enrollment.status;
    if !from.can_become(to) {
        return Err(Error::Conflict(format!(
            "an enrollment that is {} cannot become {}",
            from.name(),
            to.name()
        )));
    }
    let update = enrollments::Entity::update_many()
        .col_expr(enrollments::Column::Status, Expr::value(to))
        .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
        .filter(enrollments::Column::Id.eq(enrollment.id))
        .filter(enrollments::Column::Status.eq(from));
    if extra(update).exec(txn).await?.rows_affected != 1 {
        let current = enrollments::Entity::find_by_id(enrollment.id)
            .one(txn)
            .await?
            .map(|e| e.status)
            .unwrap_or(from);
        return Err(Error::Conflict(format!(
            "the enrollment changed meanwhile; it is now {}",
            current.name()
        )));
    }
    record(txn, enrollment.id, Some(from), to, actor, note).await?;
    let delta = i32::from(to.grants_access()) - i32::from(from.grants_access());
    adjust_students(txn, enrollment.course_id, delta).await?;
    enrollments::Entity::find_by_id(enrollment.id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))
}

/// Enrolls `user` in a published course: free courses start active, paid ones wait for payment of the
/// effective price. The database allows one enrollment per user and course.
pub async fn enroll(
    db: &impl Db,
    user: &users::Model,
    course_id: i64,
) -> Result<(enrollments::Model, courses::Model)> {
    let course = find_visible(db, Some(user), course_id).await?;
    if course.instructor_id == user.id {
        return Err(Error::Conflict(
            "instructors cannot enroll in their own course".into(),
        ));
    }
    if course.status != CourseStatus::Published {
        return Err(Error::Conflict(
            "the course is not open for enrollment".into(),
        ));
    }
    let at = now();
    let price = effective_price(&course, at);
    let Terms {
        status,
        payment_method: method,
        payment_status,
    } = Terms::at_enrollment(price);
    let txn = db.begin().await?;
    // The course's row first: concurrent enrollments in it queue here. Taken after the insert, it
    // deadlocked on MySQL: each waiting duplicate insert holds a shared lock on the course row (its
    // foreign-key check) that the first one's update then needs.
    adjust_students(&txn, course.id, i32::from(status.grants_access())).await?;
    let inserted = enrollments::ActiveModel {
        user_id: Set(user.id),
        course_id: Set(course.id),
        status: Set(status),
        amount_cents: Set(price),
        currency: Set(course.currency.clone()),
        payment_method: Set(method),
        payment_status: Set(payment_status),
        progress_percent: Set(0),
        enrolled_at: Set(at),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let enrollment = match inserted {
        Ok(enrollment) => enrollment,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            let existing = enrollments::Entity::find()
                .filter(enrollments::Column::UserId.eq(user.id))
                .filter(enrollments::Column::CourseId.eq(course.id))
                .one(db)
                .await?;
            let state = existing.map_or_else(|| "enrolled".into(), |e| e.status.name());
            return Err(Error::Conflict(format!(
                "already enrolled in this course (the enrollment is {state})"
            )));
        }
        Err(err) => return Err(err.into()),
    };
    record(
        &txn,
        enrollment.id,
        None,
        status,
        Actor::User(user.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok((enrollment, course))
}

/// Whether `user` may read this enrollment: the student, the course's instructor, or an admin.
fn can_read(user: &users::Model, enrollment: &enrollments::Model, course: &courses::Model) -> bool {
    enrollment.user_id == user.id || can_manage(Some(user), course)
}

/// An enrollment the actor may read, with its course; everyone else gets 404 (it does not exist for
/// them, and its id tells them nothing).
pub async fn get(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
) -> Result<(enrollments::Model, courses::Model)> {
    let (enrollment, course) = enrollments::Entity::find_by_id(id)
        .find_also_related(courses::Entity)
        .one(db)
        .await?
        .and_then(|(e, c)| Some((e, c?)))
        .filter(|(e, c)| can_read(actor, e, c))
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
    Ok((enrollment, course))
}

/// As `get`, for what only the student may do (403 for staff who can read it).
async fn own(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
) -> Result<(enrollments::Model, courses::Model)> {
    let (enrollment, course) = get(db, actor, id).await?;
    if enrollment.user_id != actor.id {
        return Err(Error::Forbidden(
            "only the enrolled student may do this".into(),
        ));
    }
    Ok((enrollment, course))
}

pub async fn list_mine(
    db: &impl Db,
    page: Page<'_>,
    user: &users::Model,
) -> Result<(Vec<(enrollments::Model, courses::Model)>, Option<String>)> {
    let filter = Condition::all().add(enrollments::Column::UserId.eq(user.id));
    let issued_for = format!("my-enrollments:{}", user.id);
    enrollment_page::<courses::Entity>(db, page, &issued_for, filter).await
}

/// The page a client asked for: a cursor a list returned, and a size.
#[derive(Clone, Copy)]
pub struct Page<'a> {
    pub cursors: &'a Cursors,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

/// One keyset page of the enrollments matching `filter`, newest first, each with its related `R`
/// (its course or its student), and the cursor of the next page.
async fn enrollment_page<R>(
    db: &impl Db,
    page: Page<'_>,
    issued_for: &str,
    filter: Condition,
) -> Result<(Vec<(enrollments::Model, R::Model)>, Option<String>)>
where
    R: EntityTrait,
    enrollments::Entity: Related<R>,
{
    let limit = page_limit(page.limit)?;
    let mut query = enrollments::Entity::find()
        .filter(filter)
        .find_also_related(R::default())
        .order_by_desc(enrollments::Column::Id);
    if let Some(cursor) = page.cursor {
        let before: i64 = page.cursors.open(issued_for, cursor)?;
        query = query.filter(enrollments::Column::Id.lt(before));
    }
    let rows: Vec<_> = query
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(e, r)| Some((e, r?)))
        .collect();
    Ok(split_page(rows, limit, |(e, _)| {
        page.cursors.issue(issued_for, &e.id)
    }))
}

/// The roster of a course, for its instructor and admins.
pub async fn roster(
    db: &impl Db,
    page: Page<'_>,
    actor: &users::Model,
    course_id: i64,
    status: Option<EnrollmentStatus>,
) -> Result<(Vec<(enrollments::Model, users::Model)>, Option<String>)> {
    page_limit(page.limit)?;
    super::courses::find_managed(db, actor, course_id).await?;
    let mut filter = Condition::all().add(enrollments::Column::CourseId.eq(course_id));
    if let Some(status) = status {
        filter = filter.add(enrollments::Column::Status.eq(status));
    }
    let issued_for = format!("roster:{course_id}:{status:?}");
    enrollment_page::<users::Entity>(db, page, &issued_for, filter).await
}

/// Cancels, by the student or an admin; progress and history stay.
pub async fn cancel(
    db: &impl Db,
    events: &Events,
    actor: &users::Model,
    id: i64,
) -> Result<enrollments::Model> {
    let (enrollment, _) = get(db, actor, id).await?;
    if enrollment.user_id != actor.id && actor.role != UserRole::Admin {
        return Err(Error::Forbidden(
            "only the student or an admin may cancel an enrollment".into(),
        ));
    }
    let txn = db.begin().await?;
    let updated = transition(
        &txn,
        &enrollment,
        EnrollmentStatus::Cancelled,
        Actor::User(actor.id),
        None,
        |u| u,
    )
    .await?;
    txn.commit().await?;
    events.access_changed(updated.user_id).await;
    Ok(updated)
}
