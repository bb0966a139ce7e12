//! The legacy database, read in one read-only snapshot: a `REPEATABLE READ READ ONLY` transaction on
//! a single connection, so every table is read as of one instant and no statement can write.
//! Rows are read in pages (keyset on the import order), never whole tables at once.
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend,
    FromQueryResult, IsolationLevel, JsonValue, Statement, TransactionTrait, Value,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Rows per page read from the legacy database.
pub const PAGE: u64 = 1000;

pub struct Legacy {
    pub txn: DatabaseTransaction,
}

impl Legacy {
    /// Opens `url` (PostgreSQL: the legacy LMS ran on it) and starts the snapshot.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "the legacy database is PostgreSQL: --from takes a postgres:// URL"
        );
        let mut options = ConnectOptions::new(url);
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .context("cannot open the legacy database")?;
        let txn = db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
            .context("cannot start a read-only snapshot of the legacy database")?;
        let legacy = Legacy { txn };
        for table in ["users", "courses", "enrollments", "chat_messages"] {
            anyhow::ensure!(
                legacy.has_table(table).await?,
                "the legacy database has no table {table:?}: is --from the legacy LMS's database?"
            );
        }
        Ok(legacy)
    }

    pub async fn has_table(&self, table: &str) -> anyhow::Result<bool> {
        let row = self
            .txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT to_regclass($1) IS NOT NULL AS present",
                [Value::from(format!("public.\"{table}\""))],
            ))
            .await?
            .context("to_regclass answered no row")?;
        Ok(row.try_get::<bool>("", "present")?)
    }

    pub async fn count(&self, table: &str) -> anyhow::Result<i64> {
        let row = self
            .txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT COUNT(*) AS n FROM \"{table}\""),
            ))
            .await?
            .context("COUNT answered no row")?;
        Ok(row.try_get::<i64>("", "n")?)
    }

    pub async fn rows<T: FromQueryResult>(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> anyhow::Result<Vec<T>> {
        Ok(T::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .all(&self.txn)
        .await?)
    }
}

/// SHA-256 (hex) of a row as read: a later run compares it to see what changed.
pub fn checksum<T: Serialize>(row: &T) -> String {
    let bytes = serde_json::to_vec(row).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Who a legacy user is, for the first pass (duplicates, usernames): small enough to hold for all.
#[derive(Debug, Clone, FromQueryResult)]
pub struct UserIdentity {
    pub id: i32,
    pub email: String,
    pub username: String,
}

pub const USER_IDENTITIES: &str =
    r#"SELECT id, email, username FROM users ORDER BY "createdAt", id"#;

/// A legacy user as the importer uses it (verification and reset tokens are not carried over).
#[derive(Debug, Clone, FromQueryResult, Serialize)]
pub struct User {
    pub id: i32,
    pub email: String,
    pub username: String,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub bio: Option<String>,
    pub role: String,
    pub status: String,
    pub is_email_verified: bool,
    pub two_factor_enabled: bool,
    pub two_factor_secret: Option<String>,
    pub two_factor_backup_codes: Option<JsonValue>,
    pub social_provider: Option<String>,
    pub social_id: Option<String>,
    pub preferences: Option<JsonValue>,
    pub metadata: Option<JsonValue>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub login_attempts: i32,
    pub lock_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A page of `select` (`SELECT ... FROM table`) in original order (`createdAt`, then id), after the
/// `(created_at, id)` of the previous page's last row if there was one: the SQL and its values.
pub fn in_original_order(
    select: &str,
    after: Option<(DateTime<Utc>, i32)>,
    limit: i64,
) -> (String, Vec<Value>) {
    let (filter, values) = match after {
        None => ("", vec![Value::from(limit)]),
        Some((at, id)) => (
            r#"WHERE ("createdAt", id) > ($1, $2)"#,
            vec![Value::from(at), Value::from(id), Value::from(limit)],
        ),
    };
    let limit = if after.is_none() { "$1" } else { "$3" };
    (
        format!("{select}\n{filter}\nORDER BY \"createdAt\", id\nLIMIT {limit}"),
        values,
    )
}

/// Users in import order (oldest first: the oldest of duplicate accounts is imported before the
/// ones merged into it), paged by [`in_original_order`].
pub const USERS: &str = r#"
SELECT id, email, username, password, "firstName" AS first_name, "lastName" AS last_name, phone,
       avatar, bio, role::text AS role, status::text AS status,
       "isEmailVerified" AS is_email_verified, "twoFactorEnabled" AS two_factor_enabled,
       "twoFactorSecret" AS two_factor_secret, "twoFactorBackupCodes" AS two_factor_backup_codes,
       "socialProvider"::text AS social_provider, "socialId" AS social_id, preferences, metadata,
       "lastLoginAt" AS last_login_at, "loginAttempts" AS login_attempts, "lockUntil" AS lock_until,
       "createdAt" AS created_at, "updatedAt" AS updated_at, "deletedAt" AS deleted_at
FROM users"#;

/// A legacy course. Money is read as text (`DECIMAL(10,2)`, major units) and converted exactly.
#[derive(Debug, Clone, FromQueryResult, Serialize)]
pub struct Course {
    pub id: i32,
    pub title: String,
    pub slug: String,
    pub description: Option<String>,
    pub short_description: Option<String>,
    pub instructor_id: i32,
    pub price: String,
    pub discount_price: Option<String>,
    pub discount_expires_at: Option<DateTime<Utc>>,
    pub currency: String,
    pub category: Option<String>,
    pub tags: Option<JsonValue>,
    pub level: String,
    pub language: String,
    pub thumbnail: Option<String>,
    pub duration: i32,
    pub status: String,
    pub is_public: bool,
    pub is_featured: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub metadata: Option<JsonValue>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A page of courses by id, after `$1`.
pub const COURSES_PAGE: &str = r#"
SELECT id, title, slug, description, "shortDescription" AS short_description,
       "instructorId" AS instructor_id, price::text AS price, "discountPrice"::text AS discount_price,
       "discountExpiresAt" AS discount_expires_at, currency, category, to_jsonb(tags) AS tags,
       level::text AS level, language, thumbnail, duration, status::text AS status,
       "isPublic" AS is_public, "isFeatured" AS is_featured, "publishedAt" AS published_at, metadata,
       "createdAt" AS created_at, "updatedAt" AS updated_at, "deletedAt" AS deleted_at
FROM courses
WHERE id > $1
ORDER BY id
LIMIT $2"#;
