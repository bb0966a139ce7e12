//! Courses: the catalog, one course, and the instructor's lifecycle (draft -> published -> archived).
//! Money is integer minor units with a currency code; there is no floating point in any price.
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

mod catalog;
mod input;
pub use catalog::*;
pub use input::*;

/// The price a student pays now: the discount while it runs, else the list price.
pub fn effective_price(course: &courses::Model, at: DateTime<Utc>) -> i64 {
    match (course.discount_price_cents, course.discount_ends_at) {
        (Some(discount), None) => discount,
        (Some(discount), Some(ends)) if ends > at => discount,
        _ => course.price_cents,
    }
}

/// Course staff: admins, and the course's instructor while they hold the instructor role (an
/// instructor demoted to student keeps their name on the course but no longer runs it).
pub fn is_staff(user: &users::Model, instructor_id: i64) -> bool {
    match user.role {
        UserRole::Admin => true,
        UserRole::Instructor => user.id == instructor_id,
        UserRole::Student => false,
    }
}

/// Whether `user` may edit, publish, archive or delete the course and read its roster.
pub fn can_manage(user: Option<&users::Model>, course: &courses::Model) -> bool {
    user.is_some_and(|u| is_staff(u, course.instructor_id))
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

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
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
    errors.finish().map_err(|e| match e {
        Error::Validation(fields) => {
            Error::NotReady("the course is not ready to publish".into(), fields)
        }
        other => other,
    })?;
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
