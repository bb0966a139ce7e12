//! Throttling of failures (logins, second-factor codes) with counters in the database, so every API
//! instance sees the same numbers. Fixed windows: a bucket counts failures from its first failure for
//! `window_secs`, then starts over.
use entity::rate_limits::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
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
    rate_limits::Entity::insert(rate_limits::ActiveModel {
        key: Set(key.to_owned()),
        hits: Set(0),
        window_start: Set(now),
        blocked_until: Set(None),
    })
    .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
    .try_insert()
    .exec_without_returning(db)
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

/// Counts one use of `key` in a fixed window of `window_secs` (one statement, so parallel uses are all
/// counted) and returns Some(seconds until the window ends) when the use is over `limit`. Run it inside
/// the transaction of the action it limits: a refused action rolls back and does not count.
pub async fn count_use<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: i32,
    window_secs: i64,
    now: i64,
) -> Result<Option<u64>, DbErr> {
    let expired = Expr::col((rate_limits::Entity, Column::WindowStart)).lte(now - window_secs);
    let insert = sea_orm::sea_query::Query::insert()
        .into_table(rate_limits::Entity)
        .columns([Column::Key, Column::Hits, Column::WindowStart])
        .values_panic([key.into(), 1.into(), now.into()])
        .on_conflict(
            OnConflict::column(Column::Key)
                .value(
                    Column::Hits,
                    Expr::case(expired.clone(), 1)
                        .finally(Expr::col((rate_limits::Entity, Column::Hits)).add(1)),
                )
                .value(
                    Column::WindowStart,
                    Expr::case(expired, now)
                        .finally(Expr::col((rate_limits::Entity, Column::WindowStart))),
                )
                .to_owned(),
        )
        .returning(
            sea_orm::sea_query::Query::returning().columns([Column::Hits, Column::WindowStart]),
        )
        .to_owned();
    let row = db
        .query_one(&insert)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate limit bucket".into()))?;
    let hits: i32 = row.try_get("", "hits")?;
    let window_start: i64 = row.try_get("", "window_start")?;
    Ok((hits > limit).then(|| retry_after(window_start, window_secs, now)))
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
