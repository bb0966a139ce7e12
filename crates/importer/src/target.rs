//! This LMS's database as the importer sees it: what earlier runs imported (`import_map`) and which
//! identities (emails, usernames, phones, social accounts, slugs) are already taken.
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::import_map;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
};
use sea_orm_migration::SchemaManager;

use crate::report::Outcome;

/// One `import_map` row, as a later run reads it.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub target_id: Option<i64>,
    pub outcome: String,
    pub checksum: String,
}

impl Mapped {
    pub fn created(&self) -> Option<i64> {
        (self.outcome == "created")
            .then_some(self.target_id)
            .flatten()
    }
}

/// Whether the target's schema is there yet (`plan` never migrates; `run` does first).
pub async fn has_table(db: &DatabaseConnection, table: &str) -> anyhow::Result<bool> {
    Ok(SchemaManager::new(db).has_table(table).await?)
}

/// What earlier runs did with the rows of `source_table`; empty before the first run.
pub async fn mapped(
    db: &DatabaseConnection,
    source_table: &str,
) -> anyhow::Result<HashMap<i64, Mapped>> {
    if !has_table(db, "import_map").await? {
        return Ok(HashMap::new());
    }
    let rows = import_map::Entity::find()
        .filter(import_map::Column::SourceTable.eq(source_table))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.source_id,
                Mapped {
                    target_id: r.target_id,
                    outcome: r.outcome,
                    checksum: r.checksum,
                },
            )
        })
        .collect())
}

/// The `import_map` row saying what was done with one legacy row.
pub fn record(
    source_table: &str,
    source_id: i64,
    outcome: Outcome,
    target_id: Option<i64>,
    reason: Option<String>,
    checksum: &str,
) -> import_map::ActiveModel {
    let now = Utc::now();
    import_map::ActiveModel {
        source_table: Set(source_table.to_string()),
        source_id: Set(source_id),
        target_id: Set(target_id),
        outcome: Set(outcome.stored().to_string()),
        reason: Set(reason),
        checksum: Set(checksum.to_string()),
        imported_at: Set(now),
        updated_at: Set(now),
    }
}

/// Writes a page's `import_map` rows (new ones inserted, earlier runs' replaced), in statements of
/// at most 4,000 rows (8 parameters each: within every database's limit).
pub async fn record_all<C: ConnectionTrait>(
    db: &C,
    records: Vec<import_map::ActiveModel>,
) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    if matches!(
        lms_core::db::Backend::of(db)?,
        lms_core::db::Backend::Postgres
    ) {
        return record_all_from_json(db, records).await;
    }
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<import_map::ActiveModel> = records.by_ref().take(4000).collect();
        import_map::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    import_map::Column::SourceTable,
                    import_map::Column::SourceId,
                ])
                .update_columns([
                    import_map::Column::TargetId,
                    import_map::Column::Outcome,
                    import_map::Column::Reason,
                    import_map::Column::Checksum,
                    import_map::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// PostgreSQL: the page's records as one JSON document expanded by `jsonb_to_recordset` (one
/// statement text, planned once, whatever the page's size).
async fn record_all_from_json<C: ConnectionTrait>(
    db: &C,
    records: Vec<import_map::ActiveModel>,
) -> anyhow::Result<()> {
    fn value<T: Into<sea_orm::Value> + Clone>(v: &sea_orm::ActiveValue<T>) -> Option<T> {
        v.clone().take()
    }
    let document: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "source_table": value(&r.source_table),
                "source_id": value(&r.source_id),
                "target_id": value(&r.target_id).flatten(),
                "outcome": value(&r.outcome),
                "reason": value(&r.reason).flatten(),
                "checksum": value(&r.checksum),
                "imported_at": value(&r.imported_at),
                "updated_at": value(&r.updated_at),
            })
        })
        .collect();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "INSERT INTO import_map (source_table, source_id, target_id, outcome, reason, checksum, imported_at, updated_at) \
         SELECT * FROM jsonb_to_recordset($1) AS r(source_table varchar, source_id bigint, target_id bigint, \
         outcome varchar, reason text, checksum varchar, imported_at timestamptz, updated_at timestamptz) \
         ON CONFLICT (source_table, source_id) DO UPDATE SET target_id = excluded.target_id, \
         outcome = excluded.outcome, reason = excluded.reason, checksum = excluded.checksum, \
         updated_at = excluded.updated_at",
        [sea_orm::Value::from(serde_json::Value::Array(document))],
    ))
    .await?;
    Ok(())
}

/// The identities of the target's users: none may be taken twice.
#[derive(Default)]
pub struct TakenUsers {
    pub email: HashMap<String, i64>,
    pub username: HashSet<String>,
    pub phone: HashMap<String, i64>,
    pub social: HashMap<(String, String), i64>,
}

/// id, email, username, phone, social provider, social account id.
type UserKeys = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub async fn taken_users(db: &DatabaseConnection) -> anyhow::Result<TakenUsers> {
    use entity::users;
    let mut taken = TakenUsers::default();
    if !has_table(db, "users").await? {
        return Ok(taken);
    }
    let rows: Vec<UserKeys> = users::Entity::find()
        .select_only()
        .columns([
            users::Column::Id,
            users::Column::Email,
            users::Column::Username,
            users::Column::Phone,
            users::Column::SocialProvider,
            users::Column::SocialProviderId,
        ])
        .into_tuple()
        .all(db)
        .await?;
    for (id, email, username, phone, provider, social_id) in rows {
        taken.email.insert(email, id);
        taken.username.insert(username.to_lowercase());
        if let Some(phone) = phone {
            taken.phone.insert(phone, id);
        }
        if let (Some(p), Some(s)) = (provider, social_id) {
            taken.social.insert((p, s), id);
        }
    }
    Ok(taken)
}

/// Course slugs in the target, with their course.
pub async fn taken_slugs(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, i64>> {
    use entity::courses;
    if !has_table(db, "courses").await? {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String)> = courses::Entity::find()
        .select_only()
        .columns([courses::Column::Id, courses::Column::Slug])
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, slug)| (slug, id)).collect())
}

/// Inserts `models` and returns their rows, in order: one multi-row INSERT ... RETURNING where the
/// database has it, one INSERT (and read-back) each on MySQL.
pub async fn insert_all<A>(
    txn: &sea_orm::DatabaseTransaction,
    models: Vec<A>,
) -> anyhow::Result<Vec<<A::Entity as EntityTrait>::Model>>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    if models.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(
        lms_core::db::Backend::of(txn)?,
        lms_core::db::Backend::MySql
    ) {
        let mut rows = Vec::with_capacity(models.len());
        for model in models {
            rows.push(
                <A::Entity as EntityTrait>::insert(model)
                    .exec_with_returning(txn)
                    .await?,
            );
        }
        return Ok(rows);
    }
    Ok(<A::Entity as EntityTrait>::insert_many(models)
        .exec_with_returning(txn)
        .await?)
}
