//! Table and column identifiers shared by the migrations.
//!
//! Only ever add variants here: an applied migration must keep generating the same SQL.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    Email,
    Username,
    PasswordHash,
    FirstName,
    LastName,
    Phone,
    AvatarUrl,
    Bio,
    Role,
    Status,
    EmailVerifiedAt,
    EmailVerificationTokenHash,
    EmailVerificationExpiresAt,
    PasswordResetTokenHash,
    PasswordResetExpiresAt,
    TwoFactorEnabled,
    TwoFactorSecretEnc,
    TwoFactorLastStep,
    TwoFactorPendingSecretEnc,
    SocialProvider,
    SocialProviderId,
    Preferences,
    Metadata,
    LastLoginAt,
    FailedLoginAttempts,
    LockedUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Courses {
    Table,
    Id,
    InstructorId,
    Title,
    Slug,
    ShortDescription,
    Description,
    Category,
    Level,
    Language,
    PriceCents,
    Currency,
    DiscountPriceCents,
    DiscountEndsAt,
    Status,
    Visibility,
    IsFeatured,
    RatingAverage,
    RatingSum,
    RatingCount,
    StudentCount,
    DurationMinutes,
    PublishedAt,
    ThumbnailUrl,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Enrollments {
    Table,
    Id,
    UserId,
    CourseId,
    Status,
    AmountCents,
    Currency,
    PaymentMethod,
    PaymentStatus,
    PaymentReference,
    PaidAt,
    ProgressPercent,
    LastAccessedAt,
    CompletedAt,
    CertificateCode,
    CertificateIssuedAt,
    Rating,
    ReviewComment,
    ReviewedAt,
    EnrolledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ChatMessages {
    Table,
    Id,
    CourseId,
    UserId,
    ParentId,
    MessageType,
    Content,
    EditedAt,
    EditCount,
    DeletedAt,
    DeletedBy,
    PinnedAt,
    PinnedBy,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ChatMessageReactions {
    Table,
    MessageId,
    UserId,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Sessions {
    Table,
    Id,
    PublicId,
    UserId,
    UserAgent,
    IpAddress,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    CreatedAt,
    RotatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum MfaChallenges {
    Table,
    TokenHash,
    UserId,
    FailedAttempts,
    UserAgent,
    IpAddress,
    ExpiresAt,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum RateLimits {
    Table,
    Key,
    Hits,
    WindowStart,
    BlockedUntil,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum EnrollmentEvents {
    Table,
    Id,
    EnrollmentId,
    FromStatus,
    ToStatus,
    ActorId,
    ActorKind,
    Note,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum PaymentEvents {
    Table,
    Id,
    ProviderEventId,
    EventType,
    PaymentReference,
    EnrollmentId,
    Outcome,
    Detail,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ChatMessageEdits {
    Table,
    Id,
    MessageId,
    Content,
    EditedBy,
    EditedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ChatSequences {
    Table,
    CourseId,
    LastSeq,
    AuthorsVersion,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ChatEvents {
    Table,
    Id,
    CourseId,
    Seq,
    Kind,
    MessageId,
    ActorId,
    Emoji,
    CreatedAt,
    LiveSessionId,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum IdempotencyKeys {
    Table,
    Caller,
    Key,
    Fingerprint,
    ResponseStatus,
    ResponseContentType,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum CourseSections {
    Table,
    Id,
    CourseId,
    Position,
    Title,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Lessons {
    Table,
    Id,
    CourseId,
    SectionId,
    Position,
    Kind,
    Title,
    Body,
    Url,
    DurationSeconds,
    EstimatedMinutes,
    Required,
    Published,
    Preview,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum LessonCompletions {
    Table,
    EnrollmentId,
    LessonId,
    Via,
    CompletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum VideoProgress {
    Table,
    EnrollmentId,
    LessonId,
    LastPositionSeconds,
    CoveredSeconds,
    Intervals,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum LiveSessions {
    Table,
    Id,
    CourseId,
    LessonId,
    Title,
    Description,
    StartsAt,
    DurationMinutes,
    JoinEarlyMinutes,
    JoinLateMinutes,
    Status,
    RoomId,
    RecordingEnabled,
    ChatEnabled,
    ScreenShareEnabled,
    MaxParticipants,
    AttendanceThresholdPercent,
    StartedAt,
    EndedAt,
    CancelledAt,
    ReminderSentAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum LiveSessionAttendance {
    Table,
    Id,
    SessionId,
    UserId,
    JoinedAt,
    LastHeartbeatAt,
    LeftAt,
    IsModerator,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum CalendarTokens {
    Table,
    UserId,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum AccessSignals {
    Table,
    Id,
    Scope,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ImportMap {
    Table,
    SourceTable,
    SourceId,
    TargetId,
    Outcome,
    Reason,
    Checksum,
    ImportedAt,
    UpdatedAt,
}
