//! What every list endpoint shares: the page size bound, keyset page splitting with signed cursors,
//! and text search.
use crate::rules::Range;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::error::{Error, Result};

/// No list answers with more than this many items.
pub const MAX_PAGE: u64 = 100;
pub const DEFAULT_PAGE: u64 = 20;

/// The requested page size, or the default; 422 outside 1..=MAX_PAGE.
pub fn page_limit(limit: Option<u64>) -> Result<u64> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    LIMIT
        .check(i64::try_from(limit).unwrap_or(i64::MAX))
        .map_err(|message| Error::invalid("limit", message))?;
    Ok(limit)
}

/// A page size.
pub const LIMIT: Range = Range::new(1, MAX_PAGE as i64);
/// A sequence number to read after.
pub const SINCE_SEQ: Range = Range::new(0, i64::MAX);

crate::rule_schemas! {
    limit_schema => LIMIT;
    since_seq_schema => SINCE_SEQ;
}

/// Rows fetched with `LIMIT limit + 1`: keeps `limit` of them and, when there were more, returns the
/// cursor of the last one kept (the next page starts after it).
pub fn split_page<T, K>(
    mut rows: Vec<T>,
    limit: u64,
    cursor: impl FnOnce(&T) -> K,
) -> (Vec<T>, Option<K>) {
    if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(cursor);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// Case-insensitive "contains `q`" on any of `columns`, with LIKE's `%`, `_` and `\` in `q` taken
/// literally.
pub fn contains_any<C: IntoColumnRef + Copy>(q: &str, columns: &[C]) -> Condition {
    let pattern = format!(
        "%{}%",
        q.to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    columns.iter().fold(Condition::any(), |any, col| {
        any.add(
            Expr::expr(Func::lower(Expr::col(*col)))
                .like(LikeExpr::new(pattern.clone()).escape('\\')),
        )
    })
}

/// Keyset cursors that clients cannot forge or move between queries: a cursor is the position of the
/// last row of a page (as JSON, base64url) and an HMAC of it together with the query it was issued for
/// (the list, its sort and its filters), under a key derived from the server secret. Anything else
/// handed back as a cursor is a 400, so a position never reaches a query it was not made for.
#[derive(Clone)]
pub struct Cursors {
    key: [u8; 32],
}

/// The part of the MAC a cursor carries (128 bits).
const MAC_BYTES: usize = 16;

impl Cursors {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, query: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(query.as_bytes());
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        mac
    }

    /// The cursor of `position` for `query`.
    pub fn issue<T: Serialize>(&self, query: &str, position: &T) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default());
        let tag = self.mac(query, &payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// The position in a cursor this server issued for `query`; 400 for anything else.
    pub fn open<T: DeserializeOwned>(&self, query: &str, cursor: &str) -> Result<T> {
        let refused =
            || Error::BadRequest("cursor: not a cursor this API issued for this query".into());
        let (payload, tag) = cursor.split_once('.').ok_or_else(refused)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| refused())?;
        if tag.len() != MAC_BYTES {
            return Err(refused());
        }
        self.mac(query, payload)
            .verify_truncated_left(&tag)
            .map_err(|_| refused())?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused())?;
        serde_json::from_slice(&bytes).map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use super::Cursors;

    #[test]
    fn a_cursor_opens_only_for_the_query_it_was_issued_for() {
        let cursors = Cursors::new([7; 32]);
        let cursor = cursors.issue("users:student", &42_i64);
        assert_eq!(cursors.open::<i64>("users:student", &cursor).ok(), Some(42));
        assert!(cursors.open::<i64>("users:admin", &cursor).is_err());
        let other = cursors.issue("users:student", &43_i64);
        let (_, tag) = cursor.split_once('.').unwrap_or_default();
        let (payload, _) = other.split_once('.').unwrap_or_default();
        let forged = format!("{payload}.{tag}");
        assert!(cursors.open::<i64>("users:student", &forged).is_err());
        assert!(
            cursors
                .open::<i64>("users:student", "eyJrIjoxLCJpZCI6MX0")
                .is_err()
        );
        assert!(
            Cursors::new([8; 32])
                .open::<i64>("users:student", &cursor)
                .is_err()
        );
    }
}
