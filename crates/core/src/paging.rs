//! What every list endpoint shares: the page size bound, keyset page splitting, and text search.
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr};

use crate::error::{Error, Result};

/// No list answers with more than this many items.
pub const MAX_PAGE: u64 = 100;
pub const DEFAULT_PAGE: u64 = 20;

/// The requested page size, or the default; 422 outside 1..=MAX_PAGE.
pub fn page_limit(limit: Option<u64>) -> Result<u64> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(limit)
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
