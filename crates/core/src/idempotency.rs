//! Safe retries of create requests (the IETF `Idempotency-Key` header, as Stripe and others use it).
//!
//! The first request with a key claims it (one INSERT; the (caller, key) primary key lets exactly one
//! of two racing requests win, on every instance). Its answer is stored with it; a retry with the same
//! key and the same request gets that answer and creates nothing, the same key with another request is
//! refused, and a retry while the first still runs is told so. A claim whose request failed on the
//! server side is released, so the retry runs again; one left without an answer for [`ABANDONED`] (its
//! process stopped mid-request) is taken over by the next retry. Keys live for a day (housekeeping
//! deletes them).
use chrono::Duration;
use entity::idempotency_keys::{self, Column};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::db::upsert;
use crate::now;

/// How long a key is remembered.
pub const KEEP: Duration = Duration::hours(24);
/// A claim this old without an answer belongs to a request that can no longer finish (its process
/// stopped): the key is taken over. Far longer than any request may run.
pub const ABANDONED: Duration = Duration::minutes(5);
/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: run the request, then [`complete`] or [`release`].
    Fresh,
    /// The same request was answered already: answer the same.
    Replay(Answer),
    /// The same request is still running (on this or another instance).
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// The fingerprint of a request: its method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b" ");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Claims `key` for `caller`'s request with `fingerprint`, or says what became of the earlier one.
pub async fn claim(
    db: &impl ConnectionTrait,
    caller: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, DbErr> {
    // A key older than a day is forgotten, whether or not housekeeping has run yet.
    idempotency_keys::Entity::delete_many()
        .filter(Column::Caller.eq(caller))
        .filter(Column::Key.eq(key))
        .filter(Column::CreatedAt.lt(now() - KEEP))
        .exec(db)
        .await?;
    let fresh = upsert::insert_if_absent(
        db,
        idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
            caller: Set(caller.to_string()),
            key: Set(key.to_string()),
            fingerprint: Set(fingerprint.to_string()),
            response_status: Set(None),
            response_content_type: Set(None),
            response_body: Set(None),
            created_at: Set(now()),
        }),
        [Column::Caller, Column::Key],
    )
    .await?;
    if fresh {
        return Ok(Claim::Fresh);
    }
    let Some(earlier) = idempotency_keys::Entity::find_by_id((caller.to_string(), key.to_string()))
        .one(db)
        .await?
    else {
        // Released between our insert and our read: the caller may simply retry.
        return Ok(Claim::InProgress);
    };
    if earlier.fingerprint != fingerprint {
        return Ok(Claim::Mismatch);
    }
    if earlier.response_status.is_none() && earlier.created_at < now() - ABANDONED {
        let taken = idempotency_keys::Entity::update_many()
            .col_expr(Column::CreatedAt, sea_orm::sea_query::Expr::value(now()))
            .filter(Column::Caller.eq(caller))
            .filter(Column::Key.eq(key))
            .filter(Column::ResponseStatus.is_null())
            .filter(Column::CreatedAt.eq(earlier.created_at))
            .exec(db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Claim::Fresh);
        }
    }
    Ok(match (earlier.response_status, earlier.response_body) {
        (Some(status), Some(body)) => Claim::Replay(Answer {
            status: status as u16,
            content_type: earlier.response_content_type,
            body,
        }),
        _ => Claim::InProgress,
    })
}

/// Stores the answer of a claimed request.
pub async fn complete(
    db: &impl ConnectionTrait,
    caller: &str,
    key: &str,
    answer: &Answer,
) -> Result<(), DbErr> {
    idempotency_keys::Entity::update_many()
        .col_expr(
            Column::ResponseStatus,
            sea_orm::sea_query::Expr::value(answer.status as i16),
        )
        .col_expr(
            Column::ResponseContentType,
            sea_orm::sea_query::Expr::value(answer.content_type.clone()),
        )
        .col_expr(
            Column::ResponseBody,
            sea_orm::sea_query::Expr::value(answer.body.clone()),
        )
        .filter(Column::Caller.eq(caller))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives a claimed key back (its request failed on the server side: a retry may run it again).
pub async fn release(db: &impl ConnectionTrait, caller: &str, key: &str) -> Result<(), DbErr> {
    idempotency_keys::Entity::delete_many()
        .filter(Column::Caller.eq(caller))
        .filter(Column::Key.eq(key))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets keys older than [`KEEP`] (housekeeping).
pub async fn prune(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Ok(idempotency_keys::Entity::delete_many()
        .filter(Column::CreatedAt.lt(now() - KEEP))
        .exec(db)
        .await?
        .rows_affected)
}
