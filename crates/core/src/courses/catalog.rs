use crate::paging::Cursors;

use super::*;

/// The catalog's search text (trimmed).
pub const CATALOG_SEARCH: crate::rules::Text = crate::rules::Text::up_to(200);

crate::rule_schemas! {
    catalog_search_schema => CATALOG_SEARCH;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Newest,
    Rating,
    Popular,
    PriceAsc,
    PriceDesc,
}

#[derive(Debug, Default)]
pub struct CatalogFilter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub level: Option<CourseLevel>,
    pub language: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub free: Option<bool>,
    pub featured: Option<bool>,
    pub instructor_id: Option<i64>,
    pub sort: Sort,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

/// The position after the last item of a page: the sort key and the id.
#[derive(Serialize, Deserialize)]
pub(super) struct Cursor {
    k: serde_json::Value,
    id: i64,
}

/// Published public courses, filtered and sorted, one keyset page at a time: a page boundary is a
/// (sort key, id) position, so courses added meanwhile never shift or repeat what a client pages through.
pub async fn catalog(
    db: &impl Db,
    cursors: &Cursors,
    filter: CatalogFilter,
) -> Result<(Vec<courses::Model>, Option<String>)> {
    use courses::Column as C;
    let limit = page_limit(filter.limit)?;
    // A cursor is valid for this sort and these filters only.
    let issued_for = format!(
        "catalog:{:?}",
        (
            filter.sort,
            &filter.q,
            &filter.category,
            filter.level,
            &filter.language,
            (filter.min_price, filter.max_price, filter.free),
            (filter.featured, filter.instructor_id),
        )
    );
    let mut query = filtered(&filter)?;
    let (key, descending) = match filter.sort {
        Sort::Newest => (C::PublishedAt, true),
        Sort::Rating => (C::RatingAverage, true),
        Sort::Popular => (C::StudentCount, true),
        Sort::PriceAsc => (C::PriceCents, false),
        Sort::PriceDesc => (C::PriceCents, true),
    };
    if let Some(raw) = filter.cursor.as_deref() {
        let position: Cursor = cursors.open(&issued_for, raw)?;
        query = query.filter(after_cursor(position, filter.sort, key, descending)?);
    }
    query = if descending {
        query.order_by_desc(key).order_by_desc(C::Id)
    } else {
        query.order_by_asc(key).order_by_asc(C::Id)
    };
    let rows = query.limit(limit + 1).all(db).await?;
    Ok(split_page(rows, limit, |last| {
        let k = match filter.sort {
            Sort::Newest => serde_json::json!(last.published_at.map(|t| t.to_rfc3339())),
            Sort::Rating => serde_json::json!(last.rating_average),
            Sort::Popular => serde_json::json!(last.student_count),
            Sort::PriceAsc | Sort::PriceDesc => serde_json::json!(last.price_cents),
        };
        cursors.issue(&issued_for, &Cursor { k, id: last.id })
    }))
}

/// The published public courses that match the catalog's filters.
pub(super) fn filtered(filter: &CatalogFilter) -> Result<sea_orm::Select<courses::Entity>> {
    use courses::Column as C;
    let mut query = courses::Entity::find()
        .filter(C::Status.eq(CourseStatus::Published))
        .filter(C::Visibility.eq(CourseVisibility::Public));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        CATALOG_SEARCH
            .check(q)
            .map_err(|message| Error::invalid("q", message))?;
        query = query.filter(contains_any(
            q,
            &[C::Title, C::Description, C::ShortDescription],
        ));
    }
    if let Some(category) = &filter.category {
        query = query.filter(C::Category.eq(category.trim().to_lowercase()));
    }
    if let Some(level) = filter.level {
        query = query.filter(C::Level.eq(level));
    }
    if let Some(language) = filter.language.clone() {
        query = query.filter(C::Language.eq(language));
    }
    if let Some(min) = filter.min_price {
        query = query.filter(C::PriceCents.gte(min));
    }
    if let Some(max) = filter.max_price {
        query = query.filter(C::PriceCents.lte(max));
    }
    match filter.free {
        Some(true) => query = query.filter(C::PriceCents.eq(0)),
        Some(false) => query = query.filter(C::PriceCents.gt(0)),
        None => {}
    }
    if let Some(featured) = filter.featured {
        query = query.filter(C::IsFeatured.eq(featured));
    }
    if let Some(instructor) = filter.instructor_id {
        query = query.filter(C::InstructorId.eq(instructor));
    }

    Ok(query)
}

/// The rows after a cursor of this sort (`key`, then id, in the sort's direction).
pub(super) fn after_cursor(
    cursor: Cursor,
    sort: Sort,
    key: courses::Column,
    descending: bool,
) -> Result<Condition> {
    use courses::Column as C;
    let refused = || Error::BadRequest("cursor: not a cursor of this sort".into());
    let value: sea_orm::Value = match (sort, &cursor.k) {
        (Sort::Newest, serde_json::Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc).into())
            .map_err(|_| refused())?,
        (Sort::Rating, v) => v.as_f64().map(Into::into).ok_or_else(refused)?,
        (_, v) => v.as_i64().map(Into::into).ok_or_else(refused)?,
    };
    let after = if descending {
        Condition::any().add(Expr::col(key).lt(value.clone())).add(
            Condition::all()
                .add(Expr::col(key).eq(value))
                .add(C::Id.lt(cursor.id)),
        )
    } else {
        Condition::any().add(Expr::col(key).gt(value.clone())).add(
            Condition::all()
                .add(Expr::col(key).eq(value))
                .add(C::Id.gt(cursor.id)),
        )
    };
    Ok(after)
}

/// Instructors of the given courses, by id, for course summaries.
pub async fn instructors(
    db: &impl Db,
    list: &[courses::Model],
) -> Result<std::collections::HashMap<i64, users::Model>> {
    let ids: Vec<i64> = list.iter().map(|c| c.instructor_id).collect();
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}
