//! Courses: the catalog, one course, and the instructor's lifecycle (draft -> published -> archived).
//! Money is integer minor units with a currency code; there is no floating point in any price.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Timelike, Utc};
use entity::courses::{self, CourseLevel, CourseStatus, CourseVisibility};
use entity::enrollments::EnrollmentStatus;
use entity::users::{self, UserRole};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::domain::Errors;
use crate::error::{Error, Result};
use crate::events::{AccessScope, Committed, Events};
use crate::now;
use crate::paging::{contains_any, page_limit, split_page};

/// The price a student pays now: the discount while it runs, else the list price.
pub fn effective_price(course: &courses::Model, at: DateTime<Utc>) -> i64 {
    match (course.discount_price_cents, course.discount_ends_at) {
        (Some(discount), None) => discount,
        (Some(discount), Some(ends)) if ends > at => discount,
        _ => course.price_cents,
    }
}

pub fn can_manage(user: Option<&users::Model>, course: &courses::Model) -> bool {
    user.is_some_and(|u| u.role == UserRole::Admin || u.id == course.instructor_id)
}

/// Drafts and private courses are seen by their instructor and admins only; to anyone else they do
/// not exist (404).
pub fn can_view(user: Option<&users::Model>, course: &courses::Model) -> bool {
    can_manage(user, course)
        || (course.status != CourseStatus::Draft && course.visibility != CourseVisibility::Private)
}

/// How a course is named: by id, or (in public URLs) by slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CourseRef {
    Id(i64),
    Slug(String),
}

impl CourseRef {
    /// A path segment: all digits is an id (slugs always hold a letter), anything else a slug.
    pub fn parse(segment: &str) -> Self {
        match segment.parse::<i64>() {
            Ok(id) => CourseRef::Id(id),
            Err(_) => CourseRef::Slug(segment.to_lowercase()),
        }
    }
}

impl From<i64> for CourseRef {
    fn from(id: i64) -> Self {
        CourseRef::Id(id)
    }
}

/// A course by id or slug, if `viewer` may see it.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    viewer: Option<&users::Model>,
    course: impl Into<CourseRef>,
) -> Result<courses::Model> {
    let query = match course.into() {
        CourseRef::Id(id) => courses::Entity::find_by_id(id),
        CourseRef::Slug(slug) => courses::Entity::find().filter(courses::Column::Slug.eq(slug)),
    };
    query
        .one(db)
        .await?
        .filter(|c| can_view(viewer, c))
        .ok_or_else(|| Error::NotFound("no such course".into()))
}

/// A course the actor may manage (its instructor or an admin): 404 if they cannot see it, 403 if they
/// can see it but not change it.
pub async fn find_managed(
    db: &impl Db,
    actor: &users::Model,
    course_id: i64,
) -> Result<courses::Model> {
    let course = find_visible(db, Some(actor), course_id).await?;
    if !can_manage(Some(actor), &course) {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may do this".into(),
        ));
    }
    Ok(course)
}

/// Fields of a course as a client sends them; absent fields are left alone on update.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    pub title: Option<String>,
    /// Lower-case letters, digits and dashes; made from the title when absent at creation.
    pub slug: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    #[schema(value_type = Option<String>, example = "beginner")]
    pub level: Option<CourseLevel>,
    /// BCP 47 language tag, e.g. `en` or `pt-BR`.
    pub language: Option<String>,
    /// List price in minor units (cents); 0 is free.
    pub price_cents: Option<i64>,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: Option<String>,
    /// Discounted price in minor units; must be below the list price. `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub discount_price_cents: Option<Option<i64>>,
    /// When the discount ends; `null` for no end.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub discount_ends_at: Option<Option<DateTime<Utc>>>,
    #[schema(value_type = Option<String>, example = "public")]
    pub visibility: Option<CourseVisibility>,
    pub duration_minutes: Option<i32>,
    pub thumbnail_url: Option<String>,
    /// Admins only.
    pub is_featured: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(200).collect()
}

fn check_len(errors: &mut Errors, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min || n > max {
        errors.add(field, format!("must be {min} to {max} characters"));
    }
}

/// Applies `input` to `active`, collecting every problem.
fn apply(
    input: CourseInput,
    active: &mut courses::ActiveModel,
    actor: &users::Model,
    creating: bool,
) -> Result<()> {
    let mut errors = Errors::default();
    if let Some(title) = &input.title {
        check_len(&mut errors, "title", title, 3, 200);
        active.title = Set(title.trim().to_string());
    } else if creating {
        errors.add("title", "is required");
    }
    let slug = input
        .slug
        .clone()
        .or_else(|| creating.then(|| slugify(input.title.as_deref().unwrap_or(""))));
    if let Some(slug) = slug {
        let valid = (3..=200).contains(&slug.len())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && slug.parse::<i64>().is_err();
        if !valid {
            errors.add(
                "slug",
                "must be 3 to 200 of a-z, 0-9 and '-', not only digits",
            );
        }
        active.slug = Set(slug);
    }
    if let Some(text) = input.short_description {
        check_len(&mut errors, "short_description", &text, 0, 500);
        active.short_description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(text) = input.description {
        check_len(&mut errors, "description", &text, 0, 20_000);
        active.description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(category) = input.category {
        check_len(&mut errors, "category", &category, 1, 100);
        active.category = Set(Some(category.trim().to_lowercase()));
    }
    if let Some(level) = input.level {
        active.level = Set(level);
    }
    if let Some(language) = input.language {
        let ok = (2..=16).contains(&language.len())
            && language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            errors.add("language", "must be a language tag such as en or pt-BR");
        }
        active.language = Set(language);
    }
    let price = input.price_cents.or(match &active.price_cents {
        sea_orm::ActiveValue::Set(p) | sea_orm::ActiveValue::Unchanged(p) => Some(*p),
        sea_orm::ActiveValue::NotSet => None,
    });
    if let Some(p) = input.price_cents {
        if !(0..=100_000_000).contains(&p) {
            errors.add(
                "price_cents",
                "must be between 0 and 100000000 (minor units)",
            );
        }
        active.price_cents = Set(p);
    }
    if let Some(currency) = input.currency {
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            errors.add("currency", "must be an ISO 4217 code such as USD");
        }
        active.currency = Set(currency.to_uppercase());
    }
    let discount = input
        .discount_price_cents
        .unwrap_or(match &active.discount_price_cents {
            sea_orm::ActiveValue::Set(d) | sea_orm::ActiveValue::Unchanged(d) => *d,
            sea_orm::ActiveValue::NotSet => None,
        });
    if let (Some(d), Some(p)) = (discount, price)
        && (d < 0 || d >= p)
    {
        errors.add(
            "discount_price_cents",
            "must be at least 0 and below the list price",
        );
    }
    if let Some(d) = input.discount_price_cents {
        active.discount_price_cents = Set(d);
    }
    if let Some(ends) = input.discount_ends_at {
        active.discount_ends_at = Set(ends);
    }
    if let Some(visibility) = input.visibility {
        active.visibility = Set(visibility);
    }
    if let Some(minutes) = input.duration_minutes {
        if !(0..=1_000_000).contains(&minutes) {
            errors.add("duration_minutes", "must be between 0 and 1000000");
        }
        active.duration_minutes = Set(minutes);
    }
    if let Some(url) = input.thumbnail_url {
        if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
            errors.add(
                "thumbnail_url",
                "must be an http(s) URL of at most 2048 characters",
            );
        }
        active.thumbnail_url = Set(Some(url));
    }
    if let Some(featured) = input.is_featured {
        if actor.role != UserRole::Admin {
            return Err(Error::Forbidden("only admins feature courses".into()));
        }
        active.is_featured = Set(featured);
    }
    errors.finish()
}

fn slug_taken(err: DbErr) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::Conflict("this slug is already used by another course".into())
        }
        _ => Error::Database(err),
    }
}

pub async fn create(
    db: &impl Db,
    actor: &users::Model,
    input: CourseInput,
) -> Result<courses::Model> {
    if !matches!(actor.role, UserRole::Instructor | UserRole::Admin) {
        return Err(Error::Forbidden(
            "only instructors and admins create courses".into(),
        ));
    }
    let at = now();
    let mut active = courses::ActiveModel {
        instructor_id: Set(actor.id),
        level: Set(CourseLevel::AllLevels),
        language: Set("en".into()),
        price_cents: Set(0),
        currency: Set("USD".into()),
        status: Set(CourseStatus::Draft),
        visibility: Set(CourseVisibility::Public),
        is_featured: Set(false),
        rating_average: Set(0.0),
        rating_sum: Set(0),
        rating_count: Set(0),
        student_count: Set(0),
        duration_minutes: Set(0),
        metadata: Set(serde_json::json!({})),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    apply(input, &mut active, actor, true)?;
    active.insert(db).await.map_err(slug_taken)
}

pub async fn update(
    db: &impl Db,
    actor: &users::Model,
    course_id: i64,
    input: CourseInput,
) -> Result<courses::Model> {
    let course = find_managed(db, actor, course_id).await?;
    let mut active = course.into_active_model();
    apply(input, &mut active, actor, false)?;
    active.updated_at = Set(now());
    active.update(db).await.map_err(slug_taken)
}

/// Publishing checks that the course is complete enough to sell.
pub async fn publish(db: &impl Db, actor: &users::Model, course_id: i64) -> Result<courses::Model> {
    let course = find_managed(db, actor, course_id).await?;
    if course.status == CourseStatus::Published {
        return Err(Error::Conflict("the course is already published".into()));
    }
    let mut errors = Errors::default();
    if course
        .description
        .as_deref()
        .is_none_or(|d| d.chars().count() < 20)
    {
        errors.add(
            "description",
            "a published course needs a description of at least 20 characters",
        );
    }
    if course.category.is_none() {
        errors.add("category", "a published course needs a category");
    }
    errors.finish()?;
    let mut active = course.clone().into_active_model();
    active.status = Set(CourseStatus::Published);
    if course.published_at.is_none() {
        // Whole seconds: the catalog pages on this value, and text timestamps then compare exactly.
        active.published_at = Set(Some(now().with_nanosecond(0).unwrap_or_else(now)));
    }
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

pub async fn archive(db: &impl Db, actor: &users::Model, course_id: i64) -> Result<courses::Model> {
    let course = find_managed(db, actor, course_id).await?;
    if course.status == CourseStatus::Archived {
        return Err(Error::Conflict("the course is already archived".into()));
    }
    let mut active = course.into_active_model();
    active.status = Set(CourseStatus::Archived);
    active.updated_at = Set(now());
    Ok(active.update(db).await?)
}

/// Only a draft without enrollments can be deleted; anything else is archived instead.
pub async fn delete(
    db: &impl Db,
    events: &Events,
    actor: &users::Model,
    course_id: i64,
) -> Result<()> {
    let course = find_managed(db, actor, course_id).await?;
    if course.status != CourseStatus::Draft {
        return Err(Error::Conflict(
            format!(
                "only drafts can be deleted; this course is {:?}: archive it instead",
                course.status
            )
            .to_lowercase(),
        ));
    }
    courses::Entity::delete_by_id(course.id)
        .exec(db)
        .await
        .map_err(|err| match err.sql_err() {
            // The database refuses (ON DELETE RESTRICT) while enrollments exist.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Error::Conflict("the course has enrollments: archive it instead".into())
            }
            _ => Error::Database(err),
        })?;
    // Its staff may have its chat cached.
    events
        .publish(Committed::AccessChanged(AccessScope::Everyone))
        .await;
    Ok(())
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
struct Cursor {
    k: serde_json::Value,
    id: i64,
}

/// Published public courses, filtered and sorted, one keyset page at a time: a page boundary is a
/// (sort key, id) position, so courses added meanwhile never shift or repeat what a client pages through.
pub async fn catalog(
    db: &impl Db,
    filter: CatalogFilter,
) -> Result<(Vec<courses::Model>, Option<String>)> {
    use courses::Column as C;
    let limit = page_limit(filter.limit)?;
    let mut query = courses::Entity::find()
        .filter(C::Status.eq(CourseStatus::Published))
        .filter(C::Visibility.eq(CourseVisibility::Public));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 200 {
            return Err(Error::invalid("q", "must be at most 200 characters"));
        }
        query = query.filter(contains_any(
            q,
            &[C::Title, C::Description, C::ShortDescription],
        ));
    }
    if let Some(category) = filter.category {
        query = query.filter(C::Category.eq(category.trim().to_lowercase()));
    }
    if let Some(level) = filter.level {
        query = query.filter(C::Level.eq(level));
    }
    if let Some(language) = filter.language {
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

    let (key, descending) = match filter.sort {
        Sort::Newest => (C::PublishedAt, true),
        Sort::Rating => (C::RatingAverage, true),
        Sort::Popular => (C::StudentCount, true),
        Sort::PriceAsc => (C::PriceCents, false),
        Sort::PriceDesc => (C::PriceCents, true),
    };
    if let Some(raw) = filter.cursor.as_deref() {
        let cursor: Cursor = URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API returned"))?;
        let value: sea_orm::Value = match (filter.sort, &cursor.k) {
            (Sort::Newest, serde_json::Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc).into())
                .map_err(|_| Error::invalid("cursor", "is not a cursor this API returned"))?,
            (Sort::Rating, v) => v
                .as_f64()
                .map(Into::into)
                .ok_or_else(|| Error::invalid("cursor", "bad cursor"))?,
            (_, v) => v
                .as_i64()
                .map(Into::into)
                .ok_or_else(|| Error::invalid("cursor", "bad cursor"))?,
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
        query = query.filter(after);
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
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor { k, id: last.id }).unwrap_or_default())
    }))
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

/// Sets every course's derived values from its rows: students are the enrollments that grant access
/// ([`EnrollmentStatus::grants_access`]); rating sum, count and average come from the reviews. For
/// rows written in bulk (seeded or imported); the API keeps them current change by change.
pub async fn recompute_counters(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let granting: Vec<String> = EnrollmentStatus::GRANTING_ACCESS
        .iter()
        .map(|s| format!("'{}'", s.name()))
        .collect();
    db.execute_unprepared(&format!(
        "UPDATE courses SET \
         student_count = (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = courses.id AND e.status IN ({})), \
         rating_sum = (SELECT COALESCE(SUM(e.rating), 0) FROM enrollments e WHERE e.course_id = courses.id), \
         rating_count = (SELECT COUNT(e.rating) FROM enrollments e WHERE e.course_id = courses.id), \
         rating_average = COALESCE((SELECT AVG(e.rating) FROM enrollments e WHERE e.course_id = courses.id), 0)",
        granting.join(", ")
    ))
    .await?;
    Ok(())
}
