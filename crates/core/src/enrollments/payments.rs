use entity::payment_events::{self, PaymentOutcome};
use sea_orm::DbErr;

use super::*;

/// A webhook event from the payment provider.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct PaymentEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: PaymentData,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
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
    let txn = db.begin().await?;
    let logged = match log_delivery(&txn, &event, PaymentOutcome::Applied, None, None).await {
        Ok(row) => row,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            return Ok(WebhookOutcome::Duplicate);
        }
        Err(err) => return Err(err.into()),
    };
    let enrollment = enrollments::Entity::find_by_id(event.data.enrollment_id)
        .one(&txn)
        .await?;
    let Some(enrollment) = enrollment else {
        let detail = Some("no such enrollment".into());
        set_outcome(&txn, logged.id, PaymentOutcome::Rejected, detail, None).await?;
        txn.commit().await?;
        tracing::warn!(event = %event.id, "payment event for an unknown enrollment refused");
        return Err(Error::invalid("data.enrollment_id", "no such enrollment"));
    };
    if let Some(detail) = amount_mismatch(&event.data, &enrollment) {
        let outcome = PaymentOutcome::Rejected;
        set_outcome(
            &txn,
            logged.id,
            outcome,
            Some(detail.clone()),
            Some(enrollment.id),
        )
        .await?;
        txn.commit().await?;
        tracing::warn!(event = %event.id, enrollment_id = enrollment.id, %detail, "payment event refused: amount or currency mismatch");
        return Err(Error::invalid(
            "data.amount_cents",
            format!("the amount or currency does not match the enrollment: {detail}"),
        ));
    }
    match apply_kind(&txn, &event, &enrollment).await {
        None => {
            let detail = Some("already applied".into());
            let outcome = PaymentOutcome::Ignored;
            set_outcome(&txn, logged.id, outcome, detail, Some(enrollment.id)).await?;
            txn.commit().await?;
            Ok(WebhookOutcome::Duplicate)
        }
        Some(Ok(updated)) => {
            let outcome = PaymentOutcome::Applied;
            set_outcome(&txn, logged.id, outcome, None, Some(enrollment.id)).await?;
            txn.commit().await?;
            events.access_changed(updated.user_id).await;
            tracing::info!(event = %event.id, enrollment_id = updated.id, status = updated.status.name(), "payment event applied");
            Ok(WebhookOutcome::Applied(Box::new(updated)))
        }
        Some(Err(err)) => {
            txn.rollback().await?;
            // Keep a record of the refusal outside the rolled-back transaction.
            let detail = err.to_string();
            let outcome = PaymentOutcome::Rejected;
            let _ = log_delivery(
                db,
                &event,
                outcome,
                Some(enrollment.id),
                Some(detail.clone()),
            )
            .await;
            tracing::warn!(event = %event.id, enrollment_id = enrollment.id, %detail, "payment event refused");
            Err(err)
        }
    }
}

/// Logs a delivery in `payment_events` (its provider event id is unique: a redelivery fails here).
async fn log_delivery(
    db: &impl ConnectionTrait,
    event: &PaymentEvent,
    outcome: PaymentOutcome,
    enrollment_id: Option<i64>,
    detail: Option<String>,
) -> Result<payment_events::Model, DbErr> {
    payment_events::ActiveModel {
        provider_event_id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        payment_reference: Set(Some(event.data.reference.clone())),
        enrollment_id: Set(enrollment_id),
        outcome: Set(outcome),
        detail: Set(detail),
        received_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn set_outcome(
    txn: &DatabaseTransaction,
    logged_id: i64,
    outcome: PaymentOutcome,
    detail: Option<String>,
    enrollment_id: Option<i64>,
) -> Result<(), DbErr> {
    payment_events::Entity::update_many()
        .col_expr(payment_events::Column::Outcome, Expr::value(outcome))
        .col_expr(payment_events::Column::Detail, Expr::value(detail))
        .col_expr(
            payment_events::Column::EnrollmentId,
            Expr::value(enrollment_id),
        )
        .filter(payment_events::Column::Id.eq(logged_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Why the amount paid is not the amount due, if it is not.
fn amount_mismatch(paid: &PaymentData, enrollment: &enrollments::Model) -> Option<String> {
    let matches = paid.amount_cents == enrollment.amount_cents
        && paid.currency.eq_ignore_ascii_case(&enrollment.currency);
    (!matches).then(|| {
        format!(
            "paid {} {} but {} {} is due",
            paid.amount_cents, paid.currency, enrollment.amount_cents, enrollment.currency
        )
    })
}

/// Moves the enrollment as the event says: the moved enrollment, None when there is nothing to do
/// (already applied), or why the event is refused.
async fn apply_kind(
    txn: &DatabaseTransaction,
    event: &PaymentEvent,
    enrollment: &enrollments::Model,
) -> Option<Result<enrollments::Model>> {
    let reference = event.data.reference.clone();
    let paid_with_this = enrollment.payment_reference.as_deref() == Some(reference.as_str());
    match PaymentEventKind::parse(&event.kind) {
        Some(PaymentEventKind::Succeeded) => {
            if paid_with_this && enrollment.payment_status == PaymentStatus::Paid {
                return None;
            }
            let at = now();
            let note = Some(format!("payment {reference}"));
            let paid = |u: sea_orm::UpdateMany<enrollments::Entity>| {
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
            };
            let to = EnrollmentStatus::Active;
            Some(transition(txn, enrollment, to, Actor::PaymentProvider, note, paid).await)
        }
        Some(PaymentEventKind::Refunded) => {
            if !paid_with_this {
                return Some(Err(Error::Conflict(
                    "the refund does not match the enrollment's payment".into(),
                )));
            }
            if enrollment.status == EnrollmentStatus::Refunded {
                return None;
            }
            let note = Some(format!("refund of {reference}"));
            let refunded = |u: sea_orm::UpdateMany<enrollments::Entity>| {
                u.col_expr(
                    enrollments::Column::PaymentStatus,
                    Expr::value(PaymentStatus::Refunded),
                )
            };
            let to = EnrollmentStatus::Refunded;
            Some(transition(txn, enrollment, to, Actor::PaymentProvider, note, refunded).await)
        }
        None => Some(Err(Error::invalid(
            "type",
            format!("unsupported event type {:?}", event.kind),
        ))),
    }
}
