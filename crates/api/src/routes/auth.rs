//! `/auth/*`: registration, sign-in (with TOTP second factor), tokens, sessions, email verification,
//! passwords and two-factor management.
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::users::UserResponse;
use crate::error::{AppResult, Problem};
use crate::extract::{AuthUser, ClientInfo, Json, Path};
use crate::state::AppState;
use lms_core::auth::{self as service, LoginOutcome, Registration, SecondFactor, Tokens};
use lms_core::domain;
use lms_core::security::totp;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(schema_with = domain::email_schema, example = "ada@example.com")]
    pub email: String,
    /// Letters, digits, `_`, `.`, `-`; stored lower-cased.
    #[schema(schema_with = domain::username_schema, example = "ada")]
    pub username: String,
    /// 12 to 128 characters; not a common password; not containing your email, username or names.
    #[schema(schema_with = domain::new_password_schema, example = "correct horse battery staple")]
    pub password: String,
    #[schema(schema_with = domain::person_name_schema, example = "Ada")]
    pub first_name: String,
    #[schema(schema_with = domain::person_name_schema, example = "Lovelace")]
    pub last_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email or username (`email` and `username` are accepted as names for this field).
    #[serde(alias = "email", alias = "username")]
    #[schema(schema_with = service::login_schema, example = "ada@example.com")]
    pub login: String,
    #[schema(schema_with = domain::presented_password_schema)]
    pub password: String,
}

/// A signed-in session's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// JWT for `Authorization: Bearer`; short-lived.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange at /auth/refresh for new tokens. Single use.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    /// Id of this session (see /auth/sessions).
    pub session_id: String,
    pub user: UserResponse,
    /// After signing in with a recovery code: how many unused codes remain; null otherwise.
    pub recovery_codes_remaining: Option<u64>,
}

impl From<Tokens> for TokenResponse {
    fn from(t: Tokens) -> Self {
        Self {
            token_type: "Bearer",
            access_token: t.access_token,
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            refresh_expires_at: t.session.expires_at,
            session_id: t.session.public_id,
            user: t.user.into(),
            recovery_codes_remaining: t.recovery_codes_remaining,
        }
    }
}

/// The password was right and the account has 2FA: finish at /auth/login/2fa.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredResponse {
    pub mfa_required: bool,
    /// Single use, about 5 minutes; good for /auth/login/2fa only.
    pub mfa_token: String,
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(Box<TokenResponse>),
    MfaRequired(MfaRequiredResponse),
}

/// The `mfa_token` from /auth/login with exactly one second factor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    untagged,
    expecting = "an object with `mfa_token` and exactly one of `code` and `recovery_code`"
)]
pub enum SecondFactorRequest {
    Code(CodeFactor),
    RecoveryCode(RecoveryCodeFactor),
}

/// The second factor as the authenticator app's current code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeFactor {
    pub mfa_token: String,
    /// The 6-digit code from the authenticator app (spaces and dashes are ignored).
    #[schema(schema_with = totp::code_schema, example = "123456")]
    pub code: String,
}

/// The second factor as one of the recovery codes (each works once).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeFactor {
    pub mfa_token: String,
    #[schema(schema_with = service::recovery_code_schema)]
    pub recovery_code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    /// The session of the token making this request.
    pub current: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(schema_with = domain::email_schema)]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: String,
    /// The password policy of registration.
    #[schema(schema_with = domain::new_password_schema)]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(schema_with = domain::presented_password_schema)]
    pub current_password: String,
    /// The password policy of registration.
    #[schema(schema_with = domain::new_password_schema)]
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorSetupResponse {
    /// Base32 secret, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/...` URI (what the QR code encodes).
    pub otpauth_uri: String,
    /// PNG QR code as a `data:image/png;base64,...` URI.
    pub qr_code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(schema_with = totp::code_schema, example = "123456")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordAndCodeRequest {
    #[schema(schema_with = domain::presented_password_schema)]
    pub password: String,
    #[schema(schema_with = totp::code_schema, example = "123456")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Shown once; each works once. Store them somewhere safe.
    pub recovery_codes: Vec<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(login_second_factor))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(setup_two_factor))
        .routes(routes!(enable_two_factor))
        .routes(routes!(disable_two_factor))
        .routes(routes!(regenerate_recovery_codes))
}

/// Create an account (role student). A verification email is sent.
#[utoipa::path(post, operation_id = "register", path = "/auth/register", tag = "auth", request_body = RegisterRequest,
        responses((status = 201, body = UserResponse),
        (status = 409, description = "Email or username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn register(
    State(state): State<AppState>,
    Json(body): Json<RegisterRequest>,
) -> AppResult<(StatusCode, Json<UserResponse>)> {
    let input = Registration {
        email: body.email,
        username: body.username,
        password: body.password,
        first_name: body.first_name,
        last_name: body.last_name,
    };
    let user = service::register(&state.db, &state.auth, input).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Sign in with email or username and password: tokens, or with 2FA on, an `mfa_token` and no tokens.
#[utoipa::path(post, operation_id = "login", path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
        (status = 401, description = "Wrong credentials (the same for unknown accounts)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Json(body): Json<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let outcome =
        service::login(&state.db, &state.auth, &body.login, &body.password, &client).await?;
    Ok(Json(match outcome {
        LoginOutcome::SignedIn(tokens) => LoginResponse::Tokens(Box::new((*tokens).into())),
        LoginOutcome::SecondFactorRequired {
            mfa_token,
            expires_in,
        } => LoginResponse::MfaRequired(MfaRequiredResponse {
            mfa_required: true,
            mfa_token,
            expires_in,
        }),
    }))
}

/// Finish a 2FA sign-in with a TOTP code or a recovery code.
#[utoipa::path(post, operation_id = "loginSecondFactor", path = "/auth/login/2fa", tag = "auth", request_body = SecondFactorRequest,
    responses((status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn login_second_factor(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Json(body): Json<SecondFactorRequest>,
) -> AppResult<Json<TokenResponse>> {
    let (mfa_token, factor) = match body {
        SecondFactorRequest::Code(f) => (f.mfa_token, SecondFactor::Code(f.code)),
        SecondFactorRequest::RecoveryCode(f) => {
            (f.mfa_token, SecondFactor::RecoveryCode(f.recovery_code))
        }
    };
    let tokens =
        service::login_second_factor(&state.db, &state.auth, &mfa_token, factor, &client).await?;
    Ok(Json(tokens.into()))
}

/// Exchange a refresh token for new tokens. The old refresh token dies; presenting it again ends the
/// whole session.
#[utoipa::path(post, operation_id = "refreshTokens", path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> AppResult<Json<TokenResponse>> {
    Ok(Json(
        service::refresh(&state.db, &state.events, &state.auth, &body.refresh_token)
            .await?
            .into(),
    ))
}

/// End this session (its access and refresh tokens stop working at once).
#[utoipa::path(post, operation_id = "logout", path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn logout(State(state): State<AppState>, auth: AuthUser) -> AppResult<StatusCode> {
    service::logout(&state.db, &state.events, &auth.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Your live sessions, most recently used first.
#[utoipa::path(get, operation_id = "listSessions", path = "/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionResponse>), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn list_sessions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<Vec<SessionResponse>>> {
    let sessions = service::list_sessions(&state.db, auth.user.id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionResponse {
                current: s.id == auth.session.id,
                id: s.public_id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
                ip_address: s.ip_address,
            })
            .collect(),
    ))
}

/// Revoke one of your sessions.
#[utoipa::path(delete, operation_id = "revokeSession", path = "/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_session(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    service::revoke_own_session(&state.db, &state.events, auth.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirm an email address with the token from the verification email.
#[utoipa::path(post, operation_id = "verifyEmail", path = "/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses((status = 204), (status = 400, description = "Invalid, used or expired token", body = Problem, content_type = "application/problem+json")))]
async fn verify_email(
    State(state): State<AppState>,
    Json(body): Json<TokenRequest>,
) -> AppResult<StatusCode> {
    service::verify_email(&state.db, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification email (the previous link stops working). At most 3 an hour (429).
#[utoipa::path(post, operation_id = "resendVerificationEmail", path = "/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202, body = Accepted), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already verified", body = Problem, content_type = "application/problem+json")))]
async fn resend_verification(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    service::resend_verification(&state.db, &state.auth, &auth.user).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "a new verification email is on its way",
        }),
    ))
}

/// Ask for a password-reset email. The answer is the same whether or not the address is known, and is
/// given before the address is looked up. At most 3 per address and 10 per client an hour (429).
#[utoipa::path(post, operation_id = "forgotPassword", path = "/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 202, body = Accepted), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn forgot_password(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Json(body): Json<ForgotPasswordRequest>,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    service::forgot_password(&state.db, &state.auth, &body.email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "if an account uses this address, a reset link has been sent to it",
        }),
    ))
}

/// Set a new password with the token from the reset email. Ends every session; does not sign in.
#[utoipa::path(post, operation_id = "resetPassword", path = "/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetPasswordRequest>,
) -> AppResult<StatusCode> {
    service::reset_password(
        &state.db,
        &state.events,
        &state.auth,
        &body.token,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change your password (the current one is required). Your other sessions end.
#[utoipa::path(post, operation_id = "changePassword", path = "/auth/password/change", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Current password wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json")))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<ChangePasswordRequest>,
) -> AppResult<StatusCode> {
    service::change_password(
        &state.db,
        &state.events,
        &state.auth,
        &auth.user,
        &auth.session,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start 2FA enrollment: a new pending secret, as base32, otpauth URI and QR code.
#[utoipa::path(post, operation_id = "setUpTwoFactor", path = "/auth/2fa/setup", tag = "two-factor", security(("bearer" = [])),
    responses((status = 200, body = TwoFactorSetupResponse), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "2FA already on", body = Problem, content_type = "application/problem+json")))]
async fn setup_two_factor(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<TwoFactorSetupResponse>> {
    let enrollment = service::setup_two_factor(&state.db, &state.auth, &auth.user).await?;
    Ok(Json(TwoFactorSetupResponse {
        secret: enrollment.secret_base32,
        otpauth_uri: enrollment.otpauth_uri,
        qr_code: enrollment.qr_png_data_uri,
    }))
}

/// Confirm the pending secret with a first code: 2FA is on, and here are 10 recovery codes (shown once).
#[utoipa::path(post, operation_id = "enableTwoFactor", path = "/auth/2fa/enable", tag = "two-factor", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json")))]
async fn enable_two_factor(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<CodeRequest>,
) -> AppResult<Json<RecoveryCodesResponse>> {
    let recovery_codes =
        service::enable_two_factor(&state.db, &state.auth, &auth.user, &body.code).await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}

/// Turn 2FA off (password and a current code required).
#[utoipa::path(post, operation_id = "disableTwoFactor", path = "/auth/2fa/disable", tag = "two-factor", security(("bearer" = [])), request_body = PasswordAndCodeRequest,
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json")))]
async fn disable_two_factor(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<PasswordAndCodeRequest>,
) -> AppResult<StatusCode> {
    service::disable_two_factor(
        &state.db,
        &state.auth,
        &auth.user,
        &body.password,
        &body.code,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes (password and a current code required); the old set stops working.
#[utoipa::path(post, operation_id = "regenerateRecoveryCodes", path = "/auth/2fa/recovery-codes", tag = "two-factor", security(("bearer" = [])), request_body = PasswordAndCodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json")))]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<PasswordAndCodeRequest>,
) -> AppResult<Json<RecoveryCodesResponse>> {
    let recovery_codes = service::regenerate_recovery_codes(
        &state.db,
        &state.auth,
        &auth.user,
        &body.password,
        &body.code,
    )
    .await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}
