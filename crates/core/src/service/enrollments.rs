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

use super::courses::{can_manage, effective_price, find_visible};
use super::paging::{page_limit, split_page};
use super::{Db, now};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::security::tokens::random_bytes;

/// Who moved an enrollment.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    User(i64),
    PaymentProvider,
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
    let (status, method, payment_status) = if price == 0 {
        (
            EnrollmentStatus::Active,
            Some(PaymentMethod::Free),
            PaymentStatus::None,
        )
    } else {
        (
            EnrollmentStatus::PendingPayment,
            None,
            PaymentStatus::Pending,
        )
    };
    let txn = db.begin().await?;
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
    adjust_students(&txn, course.id, i32::from(status.grants_access())).await?;
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
    user: &users::Model,
    cursor: Option<i64>,
    limit: Option<u64>,
) -> Result<(Vec<(enrollments::Model, courses::Model)>, Option<i64>)> {
    let limit = page_limit(limit)?;
    enrollment_page::<courses::Entity>(
        db,
        Condition::all().add(enrollments::Column::UserId.eq(user.id)),
        cursor,
        limit,
    )
    .await
}

/// One keyset page of the enrollments matching `filter`, newest first, each with its related `R`
/// (its course or its student), and the cursor of the next page.
async fn enrollment_page<R>(
    db: &impl Db,
    filter: Condition,
    cursor: Option<i64>,
    limit: u64,
) -> Result<(Vec<(enrollments::Model, R::Model)>, Option<i64>)>
where
    R: EntityTrait,
    enrollments::Entity: Related<R>,
{
    let mut query = enrollments::Entity::find()
        .filter(filter)
        .find_also_related(R::default())
        .order_by_desc(enrollments::Column::Id);
    if let Some(before) = cursor {
        query = query.filter(enrollments::Column::Id.lt(before));
    }
    let rows: Vec<_> = query
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(e, r)| Some((e, r?)))
        .collect();
    Ok(split_page(rows, limit, |(e, _)| e.id))
}

/// The roster of a course, for its instructor and admins.
pub async fn roster(
    db: &impl Db,
    actor: &users::Model,
    course_id: i64,
    status: Option<EnrollmentStatus>,
    cursor: Option<i64>,
    limit: Option<u64>,
) -> Result<(Vec<(enrollments::Model, users::Model)>, Option<i64>)> {
    let limit = page_limit(limit)?;
    super::courses::find_managed(db, actor, course_id).await?;
    let mut filter = Condition::all().add(enrollments::Column::CourseId.eq(course_id));
    if let Some(status) = status {
        filter = filter.add(enrollments::Column::Status.eq(status));
    }
    enrollment_page::<users::Entity>(db, filter, cursor, limit).await
}

fn certificate_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: String = random_bytes::<12>()
        .iter()
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect();
    format!("LMS-{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// Records progress. Progress never goes down: a lower value (an out-of-order update) leaves the
/// stored one. Reaching 100 completes the enrollment and issues its certificate.
pub async fn update_progress(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    percent: i16,
) -> Result<enrollments::Model> {
    if !(0..=100).contains(&percent) {
        return Err(Error::invalid(
            "progress_percent",
            "must be between 0 and 100",
        ));
    }
    let (enrollment, _) = own(db, actor, id).await?;
    match enrollment.status {
        EnrollmentStatus::Active => {}
        EnrollmentStatus::Completed => return Ok(enrollment),
        other => {
            return Err(Error::Conflict(format!(
                "progress is recorded on active enrollments; this one is {}",
                other.name()
            )));
        }
    }
    let txn = db.begin().await?;
    enrollments::Entity::update_many()
        .col_expr(enrollments::Column::ProgressPercent, Expr::value(percent))
        .col_expr(enrollments::Column::LastAccessedAt, Expr::value(now()))
        .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
        .filter(enrollments::Column::Id.eq(id))
        .filter(enrollments::Column::ProgressPercent.lt(percent))
        .exec(&txn)
        .await?;
    let current = enrollments::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
    let updated = if percent == 100 && current.status == EnrollmentStatus::Active {
        let at = now();
        let code = certificate_code();
        transition(
            &txn,
            &current,
            EnrollmentStatus::Completed,
            Actor::User(actor.id),
            Some("progress reached 100%".into()),
            |u| {
                u.col_expr(enrollments::Column::CompletedAt, Expr::value(at))
                    .col_expr(enrollments::Column::CertificateCode, Expr::value(code))
                    .col_expr(enrollments::Column::CertificateIssuedAt, Expr::value(at))
            },
        )
        .await?
    } else {
        current
    };
    txn.commit().await?;
    Ok(updated)
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

/// Writes or edits the student's review. The course's sum and count move by exactly the difference, in
/// one UPDATE with the enrollment's own conditional update, so concurrent reviews never lose one.
pub async fn review(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    rating: i16,
    comment: Option<String>,
) -> Result<enrollments::Model> {
    if !(1..=5).contains(&rating) {
        return Err(Error::invalid("rating", "must be 1 to 5"));
    }
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 5000) {
        return Err(Error::invalid("comment", "must be at most 5000 characters"));
    }
    for _attempt in 0..5 {
        let (enrollment, _) = own(db, actor, id).await?;
        if !enrollment.status.grants_access() {
            return Err(Error::Conflict(format!(
                "only active or completed enrollments can be reviewed; this one is {}",
                enrollment.status.name()
            )));
        }
        let previous = enrollment.rating;
        let txn = db.begin().await?;
        let mut update = enrollments::Entity::update_many()
            .col_expr(enrollments::Column::Rating, Expr::value(rating))
            .col_expr(
                enrollments::Column::ReviewComment,
                Expr::value(comment.clone()),
            )
            .col_expr(enrollments::Column::ReviewedAt, Expr::value(now()))
            .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
            .filter(enrollments::Column::Id.eq(id));
        update = match previous {
            Some(old) => update.filter(enrollments::Column::Rating.eq(old)),
            None => update.filter(enrollments::Column::Rating.is_null()),
        };
        if update.exec(&txn).await?.rows_affected != 1 {
            // Another edit of this review won the race: read it again and apply ours on top.
            txn.rollback().await?;
            continue;
        }
        let (sum_delta, count_delta) = match previous {
            Some(old) => (i64::from(rating - old), 0),
            None => (i64::from(rating), 1),
        };
        use courses::Column as C;
        let new_sum = Expr::col(C::RatingSum).add(sum_delta);
        let new_count = Expr::col(C::RatingCount).add(count_delta);
        courses::Entity::update_many()
            .col_expr(C::RatingSum, new_sum.clone())
            .col_expr(C::RatingCount, new_count.clone())
            .col_expr(C::RatingAverage, new_sum.mul(Expr::val(1.0)).div(new_count))
            .filter(C::Id.eq(enrollment.course_id))
            .exec(&txn)
            .await?;
        let updated = enrollments::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
        txn.commit().await?;
        return Ok(updated);
    }
    Err(Error::Conflict(
        "the review is being edited elsewhere; try again".into(),
    ))
}

/// Published reviews of a visible course, newest first.
pub async fn reviews(
    db: &impl Db,
    viewer: Option<&users::Model>,
    course_id: i64,
    cursor: Option<i64>,
    limit: Option<u64>,
) -> Result<(Vec<(enrollments::Model, users::Model)>, Option<i64>)> {
    let limit = page_limit(limit)?;
    find_visible(db, viewer, course_id).await?;
    let filter = Condition::all()
        .add(enrollments::Column::CourseId.eq(course_id))
        .add(enrollments::Column::Rating.is_not_null());
    enrollment_page::<users::Entity>(db, filter, cursor, limit).await
}

/// Public verification of a certificate.
pub async fn certificate(
    db: &impl Db,
    code: &str,
) -> Result<(enrollments::Model, courses::Model, users::Model)> {
    let enrollment = enrollments::Entity::find()
        .filter(enrollments::Column::CertificateCode.eq(code.trim().to_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no certificate has this code".into()))?;
    let course = courses::Entity::find_by_id(enrollment.course_id)
        .one(db)
        .await?;
    let user = users::Entity::find_by_id(enrollment.user_id)
        .one(db)
        .await?;
    match (course, user) {
        (Some(course), Some(user)) => Ok((enrollment, course, user)),
        _ => Err(Error::NotFound("no certificate has this code".into())),
    }
}

/// A verified webhook event from the payment provider.
#[derive(Debug, serde::Deserialize)]
pub struct PaymentEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: PaymentData,
}

#[derive(Debug, serde::Deserialize)]
pub struct PaymentData {
    pub enrollment_id: i64,
    pub reference: String,
    pub amount_cents: i64,
    pub currency: String,
}

/// The kinds of payment event this LMS acts on. The provider's type string is kept as sent in
/// `payment_events.event_type` (a log of what arrived, supported or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEventKind {
    Succeeded,
    Refunded,
}

impl PaymentEventKind {
    pub const SUCCEEDED: &str = "payment.succeeded";
    pub const REFUNDED: &str = "payment.refunded";

    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            Self::SUCCEEDED => Some(Self::Succeeded),
            Self::REFUNDED => Some(Self::Refunded),
            _ => None,
        }
    }
}

/// What became of a webhook delivery.
pub enum WebhookOutcome {
    Applied(Box<enrollments::Model>),
    /// Already applied (a redelivery, or a parallel delivery that lost the race): nothing changed.
    Duplicate,
}

/// Applies a payment event once. The provider's event id is unique in `payment_events`, and the
/// enrollment moves with a conditional UPDATE, in one transaction: redeliveries and parallel deliveries
/// change the enrollment once. Amounts or currencies that do not match are refused and logged.
pub async fn apply_payment_event(
    db: &impl Db,
    events: &Events,
    event: PaymentEvent,
) -> Result<WebhookOutcome> {
    use entity::payment_events::{self, PaymentOutcome};
    let txn = db.begin().await?;
    let logged = payment_events::ActiveModel {
        provider_event_id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        payment_reference: Set(Some(event.data.reference.clone())),
        enrollment_id: Set(None),
        outcome: Set(PaymentOutcome::Applied),
        detail: Set(None),
        received_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let logged = match logged {
        Ok(row) => row,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            return Ok(WebhookOutcome::Duplicate);
        }
        Err(err) => return Err(err.into()),
    };
    let set_outcome =
        |outcome: PaymentOutcome, detail: Option<String>, enrollment_id: Option<i64>| {
            payment_events::Entity::update_many()
                .col_expr(payment_events::Column::Outcome, Expr::value(outcome))
                .col_expr(payment_events::Column::Detail, Expr::value(detail))
                .col_expr(
                    payment_events::Column::EnrollmentId,
                    Expr::value(enrollment_id),
                )
                .filter(payment_events::Column::Id.eq(logged.id))
        };

    let enrollment = enrollments::Entity::find_by_id(event.data.enrollment_id)
        .one(&txn)
        .await?;
    let Some(enrollment) = enrollment else {
        set_outcome(
            PaymentOutcome::Rejected,
            Some("no such enrollment".into()),
            None,
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        tracing::warn!(event = %event.id, "payment event for an unknown enrollment refused");
        return Err(Error::invalid("data.enrollment_id", "no such enrollment"));
    };
    if event.data.amount_cents != enrollment.amount_cents
        || !event
            .data
            .currency
            .eq_ignore_ascii_case(&enrollment.currency)
    {
        let detail = format!(
            "paid {} {} but {} {} is due",
            event.data.amount_cents,
            event.data.currency,
            enrollment.amount_cents,
            enrollment.currency
        );
        set_outcome(
            PaymentOutcome::Rejected,
            Some(detail.clone()),
            Some(enrollment.id),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        tracing::warn!(event = %event.id, enrollment_id = enrollment.id, %detail, "payment event refused: amount or currency mismatch");
        return Err(Error::invalid(
            "data.amount_cents",
            format!("the amount or currency does not match the enrollment: {detail}"),
        ));
    }
    let reference = event.data.reference.clone();
    let result = match PaymentEventKind::parse(&event.kind) {
        Some(PaymentEventKind::Succeeded) => {
            if enrollment.payment_reference.as_deref() == Some(reference.as_str())
                && enrollment.payment_status == PaymentStatus::Paid
            {
                None
            } else {
                let at = now();
                Some(
                    transition(
                        &txn,
                        &enrollment,
                        EnrollmentStatus::Active,
                        Actor::PaymentProvider,
                        Some(format!("payment {reference}")),
                        |u| {
                            u.col_expr(
                                enrollments::Column::PaymentStatus,
                                Expr::value(PaymentStatus::Paid),
                            )
                            .col_expr(
                                enrollments::Column::PaymentMethod,
                                Expr::value(PaymentMethod::Card),
                            )
                            .col_expr(
                                enrollments::Column::PaymentReference,
                                Expr::value(reference.clone()),
                            )
                            .col_expr(enrollments::Column::PaidAt, Expr::value(at))
                        },
                    )
                    .await,
                )
            }
        }
        Some(PaymentEventKind::Refunded) => {
            if enrollment.payment_reference.as_deref() != Some(reference.as_str()) {
                Some(Err(Error::Conflict(
                    "the refund does not match the enrollment's payment".into(),
                )))
            } else if enrollment.status == EnrollmentStatus::Refunded {
                None
            } else {
                Some(
                    transition(
                        &txn,
                        &enrollment,
                        EnrollmentStatus::Refunded,
                        Actor::PaymentProvider,
                        Some(format!("refund of {reference}")),
                        |u| {
                            u.col_expr(
                                enrollments::Column::PaymentStatus,
                                Expr::value(PaymentStatus::Refunded),
                            )
                        },
                    )
                    .await,
                )
            }
        }
        None => Some(Err(Error::invalid(
            "type",
            format!("unsupported event type {:?}", event.kind),
        ))),
    };
    match result {
        None => {
            set_outcome(
                PaymentOutcome::Ignored,
                Some("already applied".into()),
                Some(enrollment.id),
            )
            .exec(&txn)
            .await?;
            txn.commit().await?;
            Ok(WebhookOutcome::Duplicate)
        }
        Some(Ok(updated)) => {
            set_outcome(PaymentOutcome::Applied, None, Some(enrollment.id))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            events.access_changed(updated.user_id).await;
            tracing::info!(event = %event.id, enrollment_id = updated.id, status = updated.status.name(), "payment event applied");
            Ok(WebhookOutcome::Applied(Box::new(updated)))
        }
        Some(Err(err)) => {
            txn.rollback().await?;
            // Keep a record of the refusal outside the rolled-back transaction.
            let detail = err.to_string();
            let _ = payment_events::ActiveModel {
                provider_event_id: Set(event.id.clone()),
                event_type: Set(event.kind.clone()),
                payment_reference: Set(Some(reference)),
                enrollment_id: Set(Some(enrollment.id)),
                outcome: Set(PaymentOutcome::Rejected),
                detail: Set(Some(detail.clone())),
                received_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await;
            tracing::warn!(event = %event.id, enrollment_id = enrollment.id, %detail, "payment event refused");
            Err(err)
        }
    }
}
