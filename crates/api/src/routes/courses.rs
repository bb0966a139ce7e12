//! `/courses`: the catalog, course pages, the instructor's lifecycle, enrolling, rosters and reviews.
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use entity::courses::{self, CourseLevel, CourseStatus, CourseVisibility};
use entity::enrollments::EnrollmentStatus;
use entity::users;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::enrollments::{EnrollmentResponse, StudentSummary};
use crate::error::{AppResult, Problem};
use crate::extract::{AuthUser, Json, MaybeUser, Path, Query};
use crate::openapi::enum_of;
use crate::state::AppState;
use lms_core::courses::{
    self as service, CatalogFilter, CourseInput, NewCourse, Sort, effective_price,
};
use lms_core::enrollments::{self, Page};
use lms_core::now;

#[derive(Debug, Serialize, ToSchema)]
pub struct InstructorSummary {
    pub id: i64,
    pub name: String,
}

/// A course with its statistics and the price a student pays now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseResponse {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    #[schema(value_type = String, example = "beginner")]
    pub level: CourseLevel,
    pub language: String,
    /// List price in minor units of `currency`.
    pub price_cents: i64,
    pub currency: String,
    pub discount_price_cents: Option<i64>,
    pub discount_ends_at: Option<DateTime<Utc>>,
    /// What enrolling costs now (the discount applied while it runs), in minor units.
    pub effective_price_cents: i64,
    #[schema(value_type = String, example = "published")]
    pub status: CourseStatus,
    #[schema(value_type = String, example = "public")]
    pub visibility: CourseVisibility,
    pub is_featured: bool,
    /// Mean rating, rounded to 2 decimals (exact figures: `rating_sum` / `rating_count`).
    pub rating_average: f64,
    pub rating_sum: i64,
    pub rating_count: i32,
    /// Active and completed enrollments.
    pub student_count: i32,
    pub duration_minutes: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub thumbnail_url: Option<String>,
    pub instructor: Option<InstructorSummary>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CourseResponse {
    pub fn new(c: courses::Model, instructor: Option<&users::Model>) -> Self {
        let rating_average = if c.rating_count > 0 {
            ((c.rating_sum as f64 / f64::from(c.rating_count)) * 100.0).round() / 100.0
        } else {
            0.0
        };
        Self {
            effective_price_cents: effective_price(&c, now()),
            id: c.id,
            slug: c.slug,
            title: c.title,
            short_description: c.short_description,
            description: c.description,
            category: c.category,
            level: c.level,
            language: c.language,
            price_cents: c.price_cents,
            currency: c.currency,
            discount_price_cents: c.discount_price_cents,
            discount_ends_at: c.discount_ends_at,
            status: c.status,
            visibility: c.visibility,
            is_featured: c.is_featured,
            rating_average,
            rating_sum: c.rating_sum,
            rating_count: c.rating_count,
            student_count: c.student_count,
            duration_minutes: c.duration_minutes,
            published_at: c.published_at,
            thumbnail_url: c.thumbnail_url,
            instructor: instructor.map(|u| InstructorSummary {
                id: u.id,
                name: format!("{} {}", u.first_name, u.last_name),
            }),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseListResponse {
    pub items: Vec<CourseResponse>,
    /// Pass as `cursor` for the next page (also in the `Link` header); null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Words in the title or descriptions (case-insensitive).
    #[param(schema_with = lms_core::courses::catalog_search_schema)]
    pub q: Option<String>,
    pub category: Option<String>,
    #[param(schema_with = enum_of::<CourseLevel>)]
    pub level: Option<CourseLevel>,
    pub language: Option<String>,
    /// Minimum list price, minor units.
    pub min_price: Option<i64>,
    /// Maximum list price, minor units.
    pub max_price: Option<i64>,
    /// true: free courses only; false: paid only.
    pub free: Option<bool>,
    pub featured: Option<bool>,
    pub instructor_id: Option<i64>,
    /// newest (default), rating, popular, price_asc, price_desc
    pub sort: Option<Sort>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page (opaque; valid for this list only).
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RosterQuery {
    #[param(schema_with = enum_of::<EnrollmentStatus>)]
    pub status: Option<EnrollmentStatus>,
    /// The `next_cursor` of the previous page (opaque; valid for the same status filter only).
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    pub enrollment: EnrollmentResponse,
    pub student: StudentSummary,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterResponse {
    pub items: Vec<RosterEntry>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResponse {
    /// The reviewer as the public sees them: first name and last initial.
    pub reviewer: String,
    pub rating: i16,
    pub comment: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewListResponse {
    pub items: Vec<ReviewResponse>,
    pub next_cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalog, create))
        .routes(routes!(get_course, update, delete))
        .routes(routes!(publish))
        .routes(routes!(archive))
        .routes(routes!(enroll, roster))
        .routes(routes!(reviews))
}

const JSON_PROBLEM: &str = "application/problem+json";

/// The published catalog: filters, sort orders, keyset pages (`next_cursor`, also as a `Link` header).
#[utoipa::path(get, operation_id = "listCourses", path = "/courses", tag = "courses", params(CatalogQuery),
    responses((status = 200, body = CourseListResponse, headers(("Link" = String, description = "rel=\"next\" URL"))),
        (status = 400, body = Problem, content_type = JSON_PROBLEM), (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn catalog(
    State(state): State<AppState>,
    Query(q): Query<CatalogQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<(HeaderMap, Json<CourseListResponse>)> {
    let filter = CatalogFilter {
        q: q.q,
        category: q.category,
        level: q.level,
        language: q.language,
        min_price: q.min_price,
        max_price: q.max_price,
        free: q.free,
        featured: q.featured,
        instructor_id: q.instructor_id,
        sort: q.sort.unwrap_or_default(),
        cursor: q.cursor,
        limit: q.limit,
    };
    let (list, next_cursor) = service::catalog(&state.db, &state.cursors, filter).await?;
    let instructors = service::instructors(&state.db, &list).await?;
    let mut headers = HeaderMap::new();
    if let Some(cursor) = &next_cursor {
        let mut params: Vec<String> = raw
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("cursor="))
            .map(str::to_string)
            .collect();
        params.push(format!("cursor={cursor}"));
        let link = format!(
            "<{}/api/v1/courses?{}>; rel=\"next\"",
            state.config.public_url.trim_end_matches('/'),
            params.join("&")
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    let items = list.into_iter().map(|c| {
        let instructor = instructors.get(&c.instructor_id);
        CourseResponse::new(c, instructor)
    });
    Ok((
        headers,
        Json(CourseListResponse {
            items: items.collect(),
            next_cursor,
        }),
    ))
}

/// One course by id or slug. Drafts and private courses: their instructor and admins only.
#[utoipa::path(get, operation_id = "getCourse", path = "/courses/{id}", tag = "courses", params(("id" = String, Path, description = "Numeric id or slug")),
    responses((status = 200, body = CourseResponse), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_course(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<String>,
) -> AppResult<Json<CourseResponse>> {
    let course = service::find_visible(
        &state.db,
        viewer.as_ref().map(|a| &a.user),
        service::CourseRef::parse(&id),
    )
    .await?;
    let instructor = users::Entity::find_by_id(course.instructor_id)
        .one(&state.db)
        .await?;
    Ok(Json(CourseResponse::new(course, instructor.as_ref())))
}

use sea_orm::EntityTrait;

/// Create a draft (instructors and admins).
#[utoipa::path(post, operation_id = "createCourse", path = "/courses", tag = "courses", security(("bearer" = [])), request_body = NewCourse,
        responses((status = 201, body = CourseResponse), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 409, description = "Slug taken", body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(NewCourse(input)): Json<NewCourse>,
) -> AppResult<(StatusCode, Json<CourseResponse>)> {
    let course = service::create(&state.db, &auth.user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CourseResponse::new(course, Some(&auth.user))),
    ))
}

/// Edit a course (its instructor or an admin).
#[utoipa::path(patch, operation_id = "updateCourse", path = "/courses/{id}", tag = "courses", security(("bearer" = [])), params(("id" = i64, Path)), request_body = CourseInput,
    responses((status = 200, body = CourseResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Slug taken", body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(input): Json<CourseInput>,
) -> AppResult<Json<CourseResponse>> {
    let course = service::update(&state.db, &auth.user, id, input).await?;
    let instructor = users::Entity::find_by_id(course.instructor_id)
        .one(&state.db)
        .await?;
    Ok(Json(CourseResponse::new(course, instructor.as_ref())))
}

/// Publish (checks that the course is complete: description, category).
#[utoipa::path(post, operation_id = "publishCourse", path = "/courses/{id}/publish", tag = "courses", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = CourseResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not ready to publish (errors: field -> what is missing), or archived", body = Problem, content_type = JSON_PROBLEM)))]
async fn publish(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<CourseResponse>> {
    let course = service::publish(&state.db, &auth.user, id).await?;
    Ok(Json(CourseResponse::new(course, None)))
}

/// Archive: no new enrollments; existing students keep access.
#[utoipa::path(post, operation_id = "archiveCourse", path = "/courses/{id}/archive", tag = "courses", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = CourseResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM), (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn archive(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<CourseResponse>> {
    let course = service::archive(&state.db, &auth.user, id).await?;
    Ok(Json(CourseResponse::new(course, None)))
}

/// Delete a draft without enrollments; anything else is 409 (archive it instead).
#[utoipa::path(delete, operation_id = "deleteCourse", path = "/courses/{id}", tag = "courses", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM), (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    service::delete(&state.db, &state.events, &auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enroll yourself: a free course makes you an active student; a paid one waits for payment of
/// `amount_cents`.
#[utoipa::path(post, operation_id = "enrollInCourse", path = "/courses/{id}/enrollments", tag = "enrollments", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 201, body = EnrollmentResponse), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, description = "The Idempotency-Key was used with another request", body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Already enrolled, own course, or not open", body = Problem, content_type = JSON_PROBLEM)))]
async fn enroll(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<(StatusCode, Json<EnrollmentResponse>)> {
    let (enrollment, course) = enrollments::enroll(&state.db, &auth.user, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentResponse::new(enrollment, &course)),
    ))
}

/// The course's roster (its instructor and admins).
#[utoipa::path(get, operation_id = "listCourseEnrollments", path = "/courses/{id}/enrollments", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path), RosterQuery),
    responses((status = 200, body = RosterResponse), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn roster(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Query(q): Query<RosterQuery>,
) -> AppResult<Json<RosterResponse>> {
    let page = Page {
        cursors: &state.cursors,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    let (rows, next_cursor) =
        enrollments::roster(&state.db, page, &auth.user, id, q.status).await?;
    let course = service::find_visible(&state.db, Some(&auth.user), id).await?;
    let items = rows
        .into_iter()
        .map(|(e, u)| RosterEntry {
            enrollment: EnrollmentResponse::new(e, &course),
            student: StudentSummary::from(&u),
        })
        .collect();
    Ok(Json(RosterResponse { items, next_cursor }))
}

/// Reviews of a course, newest first.
#[utoipa::path(get, operation_id = "listCourseReviews", path = "/courses/{id}/reviews", tag = "enrollments", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = ReviewListResponse), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn reviews(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<ReviewListResponse>> {
    let page = Page {
        cursors: &state.cursors,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    let viewer = viewer.as_ref().map(|a| &a.user);
    let (rows, next_cursor) = enrollments::reviews(&state.db, page, viewer, id).await?;
    let items = rows
        .into_iter()
        .map(|(e, u)| ReviewResponse {
            reviewer: format!(
                "{} {}.",
                u.first_name,
                u.last_name.chars().next().unwrap_or(' ')
            ),
            rating: e.rating.unwrap_or_default(),
            comment: e.review_comment,
            reviewed_at: e.reviewed_at,
        })
        .collect();
    Ok(Json(ReviewListResponse { items, next_cursor }))
}
