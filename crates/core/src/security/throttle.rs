//! Throttling of failures (logins, second-factor codes) with counters in the database, so every API
//! instance sees the same numbers. Fixed windows: a bucket counts failures from its first failure for
//! `window_secs`, then starts over.
use std::collections::BTreeMap;

use entity::rate_limits::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, OnConflict};

use crate::db::upsert;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

#[derive(Debug, Clone, Copy)]
pub enum Lock {
    /// Past `max_failures`, refuse until the window ends.
    UntilWindowEnds,
    /// Past `max_failures`, refuse for 1, 2, 4, ... seconds (whole seconds, rounded up) after each further
    /// failure, at most
    /// `cap_secs`: a guesser is slowed to a crawl, the real user waits at most `cap_secs`.
    Growing { cap_secs: i64 },
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub window_secs: i64,
    pub max_failures: i32,
    pub lock: Lock,
}

/// Failed sign-ins per account identifier (email or username as typed, known or not, so the throttle
/// says nothing about which accounts exist): 5 free, then growing delays up to 2 minutes. That allows
/// at most about 18 guesses per 15 minutes (72 an hour), and locks the real user out for 2 minutes at
/// most.
pub const LOGIN_ACCOUNT: Policy = Policy {
    window_secs: 15 * 60,
    max_failures: 5,
    lock: Lock::Growing { cap_secs: 120 },
};

/// Failed sign-ins from one client address: 50 per 15 minutes, then refused until the window ends.
pub const LOGIN_ADDRESS: Policy = Policy {
    window_secs: 15 * 60,
    max_failures: 50,
    lock: Lock::UntilWindowEnds,
};

/// Wrong second-factor codes per user (across all their pending logins): as for passwords.
pub const SECOND_FACTOR: Policy = LOGIN_ACCOUNT;

/// The buckets that exist among `keys` (one query for several throttles).
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    keys: &[&str],
) -> Result<Vec<rate_limits::Model>, DbErr> {
    rate_limits::Entity::find()
        .filter(Column::Key.is_in(keys.iter().copied()))
        .all(db)
        .await
}

/// The longest wait any of `buckets` imposes at `now`, if any.
pub fn longest_wait(buckets: &[rate_limits::Model], now: i64) -> Option<u64> {
    buckets
        .iter()
        .filter_map(|b| b.blocked_until)
        .filter(|until| *until > now)
        .max()
        .map(|until| (until - now) as u64)
}

/// Seconds until `key` may be tried again, or None when it is not blocked.
pub async fn blocked_for<C: ConnectionTrait>(
    db: &C,
    key: &str,
    now: i64,
) -> Result<Option<u64>, DbErr> {
    let row = rate_limits::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?;
    Ok(row
        .and_then(|r| r.blocked_until)
        .filter(|until| *until > now)
        .map(|until| (until - now) as u64))
}

/// Counts one failure on `key` and blocks it when the policy says so.
pub async fn record_failure<C: ConnectionTrait>(
    db: &C,
    key: &str,
    policy: Policy,
    now: i64,
) -> Result<(), DbErr> {
    upsert::insert_if_absent(
        db,
        rate_limits::Entity::insert(rate_limits::ActiveModel {
            key: Set(key.to_owned()),
            hits: Set(0),
            window_start: Set(now),
            blocked_until: Set(None),
        }),
        [Column::Key],
    )
    .await?;

    // One atomic statement per failure, so parallel failures are all counted.
    let expired = Expr::col(Column::WindowStart).lte(now - policy.window_secs);
    rate_limits::Entity::update_many()
        .col_expr(
            Column::Hits,
            Expr::case(expired.clone(), 1)
                .finally(Expr::col(Column::Hits).add(1))
                .into(),
        )
        .col_expr(
            Column::WindowStart,
            Expr::case(expired, now)
                .finally(Expr::col(Column::WindowStart))
                .into(),
        )
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;

    let Some(row) = rate_limits::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let over = row.hits - policy.max_failures;
    if over <= 0 {
        return Ok(());
    }
    let until = match policy.lock {
        Lock::UntilWindowEnds => row.window_start + policy.window_secs,
        // +1: times are whole seconds, so a block of d seconds must end at now + d + 1 to last at least d.
        Lock::Growing { cap_secs } => {
            now + Ord::min((1i64 << Ord::min(over - 1, 20)) + 1, cap_secs)
        }
    };
    rate_limits::Entity::update_many()
        .col_expr(Column::BlockedUntil, Expr::value(until))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets the failures on `key` (after a success).
pub async fn clear<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    rate_limits::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// A bucket's state: uses counted in the current window, and when the window began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub hits: i32,
    pub window_start: i64,
}

/// Counts uses against a limit of `limit` per fixed window of `window_secs`, for several keys at once
/// (`wanted`: key -> uses asked for). Each key is granted what is left of its limit, at most what it
/// asked for; only granted uses count, so a refused attempt does not eat into the next one's share.
/// Returns each key's grant and bucket (after counting). Inside a transaction the buckets stay locked
/// until it ends, so concurrent callers queue and never grant more than the limit together.
pub async fn count_uses<C: ConnectionTrait>(
    db: &C,
    wanted: &BTreeMap<String, i32>,
    limit: i32,
    window_secs: i64,
    now: i64,
) -> Result<BTreeMap<String, (i32, Bucket)>, DbErr> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    // 1. Start a new window where the old one ended, and lock every bucket (keys in order, so two
    //    callers lock in the same order).
    let expired = Expr::col((rate_limits::Entity, Column::WindowStart)).lte(now - window_secs);
    let mut open = sea_orm::sea_query::Query::insert();
    open.into_table(rate_limits::Entity)
        .columns([Column::Key, Column::Hits, Column::WindowStart]);
    for key in wanted.keys() {
        open.values_panic([key.as_str().into(), 0.into(), now.into()]);
    }
    open.on_conflict(
        OnConflict::column(Column::Key)
            .value(
                Column::Hits,
                Expr::case(expired.clone(), 0)
                    .finally(Expr::col((rate_limits::Entity, Column::Hits))),
            )
            .value(
                Column::WindowStart,
                Expr::case(expired, now)
                    .finally(Expr::col((rate_limits::Entity, Column::WindowStart))),
            )
            .to_owned(),
    );
    let keys = wanted.keys().map(|key| key.as_str().into()).collect();
    let columns = [Column::Key, Column::Hits, Column::WindowStart].map(IntoIden::into_iden);
    let rows = upsert::upsert_returning(
        db,
        open,
        rate_limits::Entity,
        Column::Key,
        keys,
        columns.into(),
    )
    .await?;
    let mut granted = BTreeMap::new();
    for row in rows {
        let key: String = row.try_get("", "key")?;
        let bucket = Bucket {
            hits: row.try_get("", "hits")?,
            window_start: row.try_get("", "window_start")?,
        };
        let asked = wanted.get(&key).copied().unwrap_or(0);
        let grant = (limit - bucket.hits).clamp(0, asked);
        granted.insert(key, (grant, bucket));
    }
    // 2. Count what was granted, in one statement.
    let counted: Vec<(&String, i32)> = granted
        .iter()
        .filter(|(_, (grant, _))| *grant > 0)
        .map(|(key, (grant, _))| (key, *grant))
        .collect();
    if !counted.is_empty() {
        let mut increment = Expr::case(
            Expr::col(Column::Key).eq(counted[0].0.as_str()),
            counted[0].1,
        );
        for (key, grant) in &counted[1..] {
            increment = increment.case(Expr::col(Column::Key).eq(key.as_str()), *grant);
        }
        rate_limits::Entity::update_many()
            .col_expr(
                Column::Hits,
                Expr::col(Column::Hits).add(increment.finally(0)),
            )
            .filter(Column::Key.is_in(counted.iter().map(|(key, _)| key.as_str())))
            .exec(db)
            .await?;
    }
    for (grant, bucket) in granted.values_mut() {
        bucket.hits += *grant;
    }
    Ok(granted)
}

/// Seconds until a fixed window that started at `window_start` ends (at least 1): the Retry-After of
/// a refused use.
pub fn retry_after(window_start: i64, window_secs: i64, now: i64) -> u64 {
    Ord::max(window_start + window_secs - now, 1) as u64
}

/// Deletes buckets whose window ended long ago and that block nothing.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    now: i64,
    older_than_secs: i64,
) -> Result<u64, DbErr> {
    let result = rate_limits::Entity::delete_many()
        .filter(Column::WindowStart.lt(now - older_than_secs))
        .filter(
            Column::BlockedUntil
                .is_null()
                .or(Column::BlockedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Takes one use of every `(key, limit)` bucket of a fixed window, all or none: Some(seconds to wait)
/// when any of them is used up (and then none is counted). For actions limited several ways at once
/// (per account and per client address).
pub async fn take_all<C: crate::db::Db>(
    db: &C,
    buckets: &[(&str, i32)],
    window_secs: i64,
    now: i64,
) -> Result<Option<u64>, DbErr> {
    let txn = db.begin().await?;
    for (key, limit) in buckets {
        let wanted = BTreeMap::from([(key.to_string(), 1)]);
        let granted = count_uses(&txn, &wanted, *limit, window_secs, now).await?;
        if let Some((0, bucket)) = granted.get(*key) {
            txn.rollback().await?;
            return Ok(Some(retry_after(bucket.window_start, window_secs, now)));
        }
    }
    txn.commit().await?;
    Ok(None)
}
