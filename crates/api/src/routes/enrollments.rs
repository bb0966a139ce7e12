//! Enrollments, certificates and the payment provider's webhook.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use entity::courses;
use entity::enrollment_events::ActorKind;
use entity::enrollments::{self, EnrollmentStatus, PaymentMethod, PaymentStatus};
use entity::users;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::courses::PageQuery;
use crate::error::{AppError, AppResult, Error, Problem};
use crate::extract::{AuthUser, Json, Path, Query};
use crate::state::AppState;
use lms_core::enrollments::{self as service, PaymentEvent, WebhookOutcome};

const JSON_PROBLEM: &str = "application/problem+json";
/// Webhook signatures older or newer than this are refused (replays).
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;
pub const SIGNATURE_HEADER: &str = "lms-signature";

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseSummary {
    pub id: i64,
    pub slug: String,
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentSummary {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

impl From<&users::Model> for StudentSummary {
    fn from(u: &users::Model) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
        }
    }
}

/// An enrollment with its payment, progress, certificate and review. Only the student, the course's
/// instructor and admins ever see one.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentResponse {
    pub id: i64,
    pub user_id: i64,
    pub course: CourseSummary,
    #[schema(value_type = String, example = "active")]
    pub status: EnrollmentStatus,
    /// Price of the enrollment in minor units of `currency` (what is due while `pending_payment`).
    pub amount_cents: i64,
    pub currency: String,
    #[schema(value_type = Option<String>)]
    pub payment_method: Option<PaymentMethod>,
    #[schema(value_type = String)]
    pub payment_status: PaymentStatus,
    pub payment_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub progress_percent: i16,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub certificate_code: Option<String>,
    pub certificate_issued_at: Option<DateTime<Utc>>,
    pub rating: Option<i16>,
    pub review_comment: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub enrolled_at: DateTime<Utc>,
}

impl EnrollmentResponse {
    pub fn new(e: enrollments::Model, course: &courses::Model) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id,
            course: CourseSummary {
                id: course.id,
                slug: course.slug.clone(),
                title: course.title.clone(),
            },
            status: e.status,
            amount_cents: e.amount_cents,
            currency: e.currency,
            payment_method: e.payment_method,
            payment_status: e.payment_status,
            payment_reference: e.payment_reference,
            paid_at: e.paid_at,
            progress_percent: e.progress_percent,
            last_accessed_at: e.last_accessed_at,
            completed_at: e.completed_at,
            certificate_code: e.certificate_code,
            certificate_issued_at: e.certificate_issued_at,
            rating: e.rating,
            review_comment: e.review_comment,
            reviewed_at: e.reviewed_at,
            enrolled_at: e.enrolled_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentListResponse {
    pub items: Vec<EnrollmentResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    #[schema(schema_with = lms_core::enrollments::rating_schema)]
    pub rating: i16,
    #[schema(schema_with = lms_core::enrollments::comment_schema)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateResponse {
    pub code: String,
    pub student_name: String,
    pub course_id: i64,
    pub course_title: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// `applied` or `duplicate` (already applied; nothing changed).
    pub status: &'static str,
}

// The old progress endpoint stays routed (and documented as deprecated) to answer 410.
#[allow(deprecated)]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_enrollments))
        .routes(routes!(get_enrollment))
        .routes(routes!(progress))
        .routes(routes!(mark_completed))
        .routes(routes!(enrollment_events))
        .routes(routes!(cancel))
        .routes(routes!(review))
        .routes(routes!(certificate))
        .routes(routes!(payment_webhook))
}

/// Your enrollments, newest first, with course summary and progress.
#[utoipa::path(get, operation_id = "listMyEnrollments", path = "/users/me/enrollments", tag = "enrollments", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = EnrollmentListResponse), (status = 401, body = Problem, content_type = JSON_PROBLEM)))]
async fn my_enrollments(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<EnrollmentListResponse>> {
    let page = service::Page {
        cursors: &state.cursors,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    let (rows, next_cursor) = service::list_mine(&state.db, page, &auth.user).await?;
    let items = rows
        .into_iter()
        .map(|(e, c)| EnrollmentResponse::new(e, &c))
        .collect();
    Ok(Json(EnrollmentListResponse { items, next_cursor }))
}

/// One enrollment: the student, the course's instructor, or an admin (404 for anyone else).
#[utoipa::path(get, operation_id = "getEnrollment", path = "/enrollments/{id}", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EnrollmentResponse), (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn get_enrollment(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EnrollmentResponse>> {
    let (e, c) = service::get(&state.db, &auth.user, id).await?;
    Ok(Json(EnrollmentResponse::new(e, &c)))
}

/// Gone: progress is earned from the curriculum now (410 names the replacements). Students complete
/// lessons (`POST /lessons/{id}/complete`, `PUT /lessons/{id}/position`); staff mark an enrollment
/// completed (`POST /enrollments/{id}/complete`).
#[utoipa::path(put, operation_id = "setEnrollmentProgress", path = "/enrollments/{id}/progress", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 410, description = "Progress is computed from completed lessons", body = Problem, content_type = JSON_PROBLEM)))]
#[deprecated = "progress is computed by the server from completed lessons"]
async fn progress(_auth: AuthUser, Path(_id): Path<i64>) -> AppResult<StatusCode> {
    Err(Error::Gone(
        "progress is earned by completing lessons: POST /api/v1/lessons/{id}/complete (text and \
         link lessons) and PUT /api/v1/lessons/{id}/position (video lessons); course staff mark an \
         enrollment completed with POST /api/v1/enrollments/{id}/complete"
            .into(),
    )
    .into())
}

/// Why staff complete an enrollment.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Kept in the audit trail (e.g. "passed the in-person exam").
    #[schema(schema_with = service::staff_note_schema)]
    pub note: Option<String>,
}

/// Mark an active enrollment completed (the course's instructor or an admin), for work done elsewhere;
/// issues the certificate. Courses without lessons complete only this way. Audited.
#[utoipa::path(post, operation_id = "markEnrollmentCompleted", path = "/enrollments/{id}/complete", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = CompleteRequest,
    responses((status = 200, body = EnrollmentResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, description = "Not active (already completed, cancelled, ...)", body = Problem, content_type = JSON_PROBLEM)))]
async fn mark_completed(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<CompleteRequest>,
) -> AppResult<Json<EnrollmentResponse>> {
    let (e, c) = service::mark_completed(&state.db, &auth.user, id, body.note).await?;
    Ok(Json(EnrollmentResponse::new(e, &c)))
}

/// One entry of an enrollment's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentEventResponse {
    pub id: i64,
    /// Null for the enrollment's creation; equal to `to_status` for a progress change.
    #[schema(schema_with = lms_core::rules::nullable_enum_of::<EnrollmentStatus>)]
    pub from_status: Option<EnrollmentStatus>,
    #[schema(schema_with = lms_core::rules::enum_of::<EnrollmentStatus>)]
    pub to_status: EnrollmentStatus,
    /// Who acted (null for the payment provider or the system).
    pub actor_id: Option<i64>,
    #[schema(schema_with = lms_core::rules::enum_of::<ActorKind>)]
    pub actor_kind: ActorKind,
    /// What happened, e.g. "progress 40% -> 60%: lesson 12 completed".
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentEventList {
    pub items: Vec<EnrollmentEventResponse>,
}

/// The enrollment's audit trail, oldest first: every status change and progress change, with who
/// and why (the student, the course's instructor, admins).
#[utoipa::path(get, operation_id = "listEnrollmentEvents", path = "/enrollments/{id}/events", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EnrollmentEventList), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn enrollment_events(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EnrollmentEventList>> {
    let items = service::trail(&state.db, &auth.user, id)
        .await?
        .into_iter()
        .map(|e| EnrollmentEventResponse {
            id: e.id,
            from_status: e.from_status,
            to_status: e.to_status,
            actor_id: e.actor_id,
            actor_kind: e.actor_kind,
            note: e.note,
            created_at: e.created_at,
        })
        .collect();
    Ok(Json(EnrollmentEventList { items }))
}

/// Cancel (the student or an admin); progress and history are kept.
#[utoipa::path(post, operation_id = "cancelEnrollment", path = "/enrollments/{id}/cancel", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EnrollmentResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM), (status = 409, body = Problem, content_type = JSON_PROBLEM)))]
async fn cancel(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<EnrollmentResponse>> {
    service::cancel(&state.db, &state.events, &auth.user, id).await?;
    let (e, c) = service::get(&state.db, &auth.user, id).await?;
    Ok(Json(EnrollmentResponse::new(e, &c)))
}

/// Review the course (the student, active or completed): one review per enrollment, editable.
#[utoipa::path(put, operation_id = "writeReview", path = "/enrollments/{id}/review", tag = "enrollments", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ReviewRequest,
    responses((status = 200, body = EnrollmentResponse), (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM), (status = 409, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM)))]
async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<ReviewRequest>,
) -> AppResult<Json<EnrollmentResponse>> {
    service::review(&state.db, &auth.user, id, body.rating, body.comment).await?;
    let (e, c) = service::get(&state.db, &auth.user, id).await?;
    Ok(Json(EnrollmentResponse::new(e, &c)))
}

/// Public verification of a certificate: who, which course, when.
#[utoipa::path(get, operation_id = "getCertificate", path = "/certificates/{code}", tag = "enrollments", params(("code" = String, Path)),
    responses((status = 200, body = CertificateResponse), (status = 404, body = Problem, content_type = JSON_PROBLEM)))]
async fn certificate(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Json<CertificateResponse>> {
    let (e, c, u) = service::certificate(&state.db, &code).await?;
    Ok(Json(CertificateResponse {
        code: e.certificate_code.unwrap_or_default(),
        student_name: format!("{} {}", u.first_name, u.last_name),
        course_id: c.id,
        course_title: c.title,
        completed_at: e.completed_at,
        issued_at: e.certificate_issued_at,
    }))
}

/// Checks `LMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn verify_signature(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let header = header.ok_or("missing LMS-Signature header")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig.to_string()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("the signature has no timestamp")?;
    if (now - timestamp).abs() > WEBHOOK_TOLERANCE_SECS {
        return Err("the signature timestamp is outside the replay window");
    }
    let matches = signatures.iter().any(|sig| {
        let Ok(expected) = hex::decode(sig) else {
            return false;
        };
        let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err("the signature does not match")
    }
}

/// The payment provider's webhook: `payment.succeeded` activates a pending enrollment,
/// `payment.refunded` refunds it. Signed with HMAC-SHA256 (see the README); idempotent.
#[utoipa::path(post, operation_id = "receivePaymentEvent", path = "/payments/webhook", tag = "payments",
    params(("LMS-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>")),
    request_body(content = PaymentEvent, content_type = "application/json", description = "The event as the provider sends it, e.g. {\"id\": \"evt_1\", \"type\": \"payment.succeeded\", \"data\": {\"enrollment_id\": 1, \"reference\": \"pi_1\", \"amount_cents\": 4900, \"currency\": \"USD\"}}; the signature covers its raw bytes"),
    responses((status = 200, body = WebhookResponse), (status = 401, description = "Bad signature", body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM), (status = 422, description = "Mismatched amount or currency", body = Problem, content_type = JSON_PROBLEM),
        (status = 503, description = "No webhook secret configured", body = Problem, content_type = JSON_PROBLEM)))]
async fn payment_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<WebhookResponse>)> {
    let Some(secret) = state.config.payment_webhook_secret.as_deref() else {
        return Err(Error::Unavailable(
            "the payment webhook is not configured (LMS_PAYMENT_WEBHOOK_SECRET)".into(),
        )
        .into());
    };
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    verify_signature(secret, header, &body, Utc::now().timestamp()).map_err(|why| {
        tracing::warn!(why, "payment webhook refused");
        Error::Unauthorized(why.into())
    })?;
    let event: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::invalid("body", format!("not a payment event: {e}")))?;
    crate::extract::text::check_body(&event)?;
    let event: PaymentEvent = serde_json::from_value(event)
        .map_err(|e| AppError::invalid("body", format!("not a payment event: {e}")))?;
    let status = match service::apply_payment_event(&state.db, &state.events, event).await? {
        WebhookOutcome::Applied(_) => "applied",
        WebhookOutcome::Duplicate => "duplicate",
    };
    Ok((StatusCode::OK, Json(WebhookResponse { status })))
}
