use super::*;

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
