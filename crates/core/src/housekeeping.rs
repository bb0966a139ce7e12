//! Periodic clean-up of what authentication and retries leave behind, so these tables stay small:
//! throttle buckets whose window ended a day ago, 2FA challenges that expired an hour ago, sessions
//! (with their refresh tokens) that ended more than 30 days ago, and idempotency keys older than a
//! day. Every instance runs it; the deletes are idempotent, so instances running it at once do no harm.
use std::time::Duration;

use chrono::Utc;
use entity::{mfa_challenges, refresh_tokens, sessions};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use crate::security::throttle;

pub const INTERVAL: Duration = Duration::from_secs(600);
/// How long ended sessions stay listed for forensics before they are deleted.
pub const KEEP_ENDED_SESSIONS_DAYS: i64 = 30;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub rate_limits: u64,
    pub mfa_challenges: u64,
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub idempotency_keys: u64,
    /// Access signals of polling instances (MySQL) older than an hour.
    pub access_signals: u64,
}

pub async fn run_once(db: &DatabaseConnection) -> Result<Report, DbErr> {
    let now = Utc::now();
    let rate_limits = throttle::prune(db, now.timestamp(), 24 * 3600).await?;
    let mfa_challenges = mfa_challenges::Entity::delete_many()
        .filter(mfa_challenges::Column::ExpiresAt.lt(now - chrono::Duration::hours(1)))
        .exec(db)
        .await?
        .rows_affected;
    let cutoff = now - chrono::Duration::days(KEEP_ENDED_SESSIONS_DAYS);
    let ended = Condition::any()
        .add(sessions::Column::ExpiresAt.lt(cutoff))
        .add(sessions::Column::RevokedAt.lt(cutoff));
    // Refresh tokens of live sessions that were rotated long ago are kept: they are what reuse
    // detection compares against, and they go with their session.
    let ended_ids: Vec<i64> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(ended.clone())
        .into_tuple()
        .all(db)
        .await?;
    let refresh_tokens = if ended_ids.is_empty() {
        0
    } else {
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::SessionId.is_in(ended_ids))
            .exec(db)
            .await?
            .rows_affected
    };
    let sessions = sessions::Entity::delete_many()
        .filter(ended)
        .exec(db)
        .await?
        .rows_affected;
    let idempotency_keys = crate::idempotency::prune(db).await?;
    let access_signals = crate::chat::poll::prune(db, chrono::Duration::hours(1)).await?;
    Ok(Report {
        access_signals,
        rate_limits,
        mfa_challenges,
        sessions,
        refresh_tokens,
        idempotency_keys,
    })
}

/// Runs `run_once` now and then every `INTERVAL`, for the life of the process.
pub fn spawn(db: DatabaseConnection) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        loop {
            ticker.tick().await;
            match run_once(&db).await {
                Ok(report) if report != Report::default() => {
                    tracing::info!(?report, "housekeeping removed stale rows")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "housekeeping failed; will try again"),
            }
        }
    });
}
