//! Reminder emails: enrolled students hear about a session `lead` before it starts, once.
//!
//! Every instance looks for due reminders (`spawn`: at least every 30 s). A session's reminder is
//! claimed by a conditional UPDATE of `reminder_sent_at` inside a transaction that stays open while
//! the emails go out: another instance's claim waits on the row and then finds it taken, and a
//! failed send rolls the claim back so the next look sends it. Rescheduling clears the claim.
use chrono::Duration;
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::*;
use crate::mail::{Email, Mailer};

/// How often due reminders are looked for.
pub const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Sends the reminders due now (sessions scheduled to start within `lead`); how many emails went out.
pub async fn send_due(db: &DatabaseConnection, mailer: &Mailer, lead: Duration) -> Result<usize> {
    let at = now();
    let due = live_sessions::Entity::find()
        .filter(live_sessions::Column::Status.eq(LiveStatus::Scheduled))
        .filter(live_sessions::Column::ReminderSentAt.is_null())
        .filter(live_sessions::Column::StartsAt.gt(at))
        .filter(live_sessions::Column::StartsAt.lte(at + lead))
        .all(db)
        .await?;
    let mut sent = 0;
    for session in due {
        let txn = db.begin().await?;
        let claimed = live_sessions::Entity::update_many()
            .col_expr(live_sessions::Column::ReminderSentAt, Expr::value(at))
            .filter(live_sessions::Column::Id.eq(session.id))
            .filter(live_sessions::Column::ReminderSentAt.is_null())
            .filter(live_sessions::Column::Status.eq(LiveStatus::Scheduled))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            continue;
        }
        let course = courses::Entity::find_by_id(session.course_id)
            .one(&txn)
            .await?;
        let students: Vec<users::Model> = enrollments::Entity::find()
            .filter(enrollments::Column::CourseId.eq(session.course_id))
            .filter(
                enrollments::Column::Status.is_in(
                    entity::enrollments::EnrollmentStatus::GRANTING_ACCESS
                        .iter()
                        .copied(),
                ),
            )
            .find_also_related(users::Entity)
            .all(&txn)
            .await?
            .into_iter()
            .filter_map(|(_, user)| user)
            .collect();
        let course_title = course.map_or_else(|| "your course".to_string(), |c| c.title);
        for student in &students {
            let email = Email {
                to: student.email.clone(),
                subject: format!("Starting soon: {}", session.title),
                body: format!(
                    "Hello {},\n\n\"{}\" ({course_title}) starts at {} UTC and runs {} minutes. You can \
                     join from {} UTC.\n",
                    student.first_name,
                    session.title,
                    session.starts_at.format("%Y-%m-%d %H:%M"),
                    session.duration_minutes,
                    JoinWindow::of(&session).opens_at.format("%H:%M"),
                ),
            };
            if let Err(err) = mailer.send(email).await {
                // Rolled back with the claim: the next look sends the session's reminders again.
                tracing::warn!(session = session.id, error = %err, "a reminder could not be sent; will retry");
                return Ok(sent);
            }
            sent += 1;
        }
        txn.commit().await?;
    }
    Ok(sent)
}

/// Every `LOOK_EVERY`, for the life of the process: sends due reminders (when `lead` is set) and ends
/// the live sessions whose join window closed without anyone ending them (`end_expired`).
pub fn spawn(
    db: DatabaseConnection,
    events: Events,
    mailer: Mailer,
    lead: Option<Duration>,
    grace: Grace,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(LOOK_EVERY);
        loop {
            ticker.tick().await;
            if let Some(lead) = lead {
                match send_due(&db, &mailer, lead).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(emails = n, "live-session reminders sent"),
                    Err(err) => {
                        tracing::warn!(error = %err, "live-session reminders failed; will retry")
                    }
                }
            }
            match end_expired(&db, &events, grace).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(sessions = n, "live sessions ended at their window's close")
                }
                Err(err) => {
                    tracing::warn!(error = %err, "ending expired live sessions failed; will retry")
                }
            }
        }
    });
}
