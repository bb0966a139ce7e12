//! Own profile (`/users/me`) and user administration (`/admin/users`).
use axum::extract::State;
use chrono::{DateTime, Utc};
use entity::users::{self, UserRole, UserStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppResult, Problem};
use crate::extract::{AdminUser, AuthUser, Json, Path, Query};
use crate::openapi::enum_of;
use crate::state::AppState;
use lms_core::domain;
use lms_core::users::{self as service, AdminChanges, ProfileChanges, UserFilter};

/// A user as the API shows it: never a hash, token or secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    #[schema(value_type = String, example = "student")]
    pub role: UserRole,
    #[schema(value_type = String, example = "active")]
    pub status: UserStatus,
    pub email_verified: bool,
    pub two_factor_enabled: bool,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<users::Model> for UserResponse {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            avatar_url: u.avatar_url,
            bio: u.bio,
            role: u.role,
            status: u.status,
            email_verified: u.email_verified_at.is_some(),
            two_factor_enabled: u.two_factor_enabled,
            preferences: u.preferences,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        }
    }
}

/// Fields to change; absent fields stay as they are, `null` clears `bio` and `avatar_url`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(schema_with = domain::person_name_nullable)]
    pub first_name: Option<String>,
    #[schema(schema_with = domain::person_name_nullable)]
    pub last_name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(schema_with = service::bio_schema)]
    pub bio: Option<Option<String>>,
    /// An http(s) URL.
    #[serde(default, with = "double_option")]
    #[schema(schema_with = service::avatar_url_schema)]
    pub avatar_url: Option<Option<String>>,
    /// Your settings, as a flat object (replaces the stored one): up to 50 keys, each a string, a
    /// number, a boolean or null, e.g. `{"theme": "dark", "emails.digest": false}`.
    #[schema(schema_with = service::preferences_schema)]
    pub preferences: Option<serde_json::Value>,
}

/// Tells "absent" (None) from "null" (Some(None)).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    #[param(schema_with = enum_of::<UserRole>)]
    pub role: Option<UserRole>,
    #[param(schema_with = enum_of::<UserStatus>)]
    pub status: Option<UserStatus>,
    /// Case-insensitive search in email, username and names.
    #[param(schema_with = service::user_search_schema)]
    pub q: Option<String>,
    /// The `next_cursor` of the previous page (opaque; valid for the same filters only).
    pub cursor: Option<String>,
    /// 1 to 100 (default 20).
    #[param(schema_with = lms_core::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserListResponse {
    pub items: Vec<UserResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdateUserRequest {
    #[schema(schema_with = enum_of::<UserRole>, example = "instructor")]
    pub role: Option<UserRole>,
    #[schema(schema_with = enum_of::<UserStatus>, example = "suspended")]
    pub status: Option<UserStatus>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(list_users))
        .routes(routes!(update_user))
}

/// Your own profile.
#[utoipa::path(get, operation_id = "getMe", path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn me(auth: AuthUser) -> Json<UserResponse> {
    Json(auth.user.into())
}

/// Edit your names, bio, avatar and preferences.
#[utoipa::path(patch, operation_id = "updateMe", path = "/users/me", tag = "users", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<UpdateMeRequest>,
) -> AppResult<Json<UserResponse>> {
    let changes = ProfileChanges {
        first_name: body.first_name,
        last_name: body.last_name,
        bio: body.bio,
        avatar_url: body.avatar_url,
        preferences: body.preferences,
    };
    Ok(Json(
        service::update_profile(&state.db, &state.events, &auth.user, changes)
            .await?
            .into(),
    ))
}

/// List and filter users (admins only), in id order with keyset paging.
#[utoipa::path(get, operation_id = "listUsers", path = "/admin/users", tag = "admin", security(("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = UserListResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<UserListQuery>,
) -> AppResult<Json<UserListResponse>> {
    let filter = UserFilter {
        role: q.role,
        status: q.status,
        q: q.q,
        cursor: q.cursor,
        limit: q.limit,
    };
    let (users, next_cursor) = service::list_users(&state.db, &state.cursors, filter).await?;
    Ok(Json(UserListResponse {
        items: users.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Change a user's role or status (admins only). Suspending ends all of the user's sessions.
#[utoipa::path(patch, operation_id = "updateUser", path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")), request_body = AdminUpdateUserRequest,
    responses((status = 200, body = UserResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
    Json(body): Json<AdminUpdateUserRequest>,
) -> AppResult<Json<UserResponse>> {
    let changes = AdminChanges {
        role: body.role,
        status: body.status,
    };
    Ok(Json(
        service::admin_update(&state.db, &state.events, &admin.user, id, changes)
            .await?
            .into(),
    ))
}
