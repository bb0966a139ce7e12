//! `verify`: reconciles the legacy database with what the importer recorded and wrote. Every
//! difference is listed; any makes the command fail.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{chat_messages, courses, enrollments, import_map, users};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use serde::Serialize;

use crate::legacy::Legacy;

/// Rows compared field by field per table: every n-th imported row, so that the sample spans the
/// whole table.
pub const SAMPLE: usize = 200;

#[derive(Debug, Default, Serialize)]
pub struct Verification {
    /// Per table: legacy rows, and how import_map accounts for them.
    pub tables: Vec<TableCheck>,
    /// Everything that does not reconcile; empty when the import is complete and consistent.
    pub differences: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub legacy_rows: u64,
    pub created: u64,
    pub merged: u64,
    pub skipped: u64,
    pub compared: u64,
}

impl Verification {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            out.push_str(&format!(
                "{}: {} legacy rows = {} imported + {} merged + {} skipped; {} compared field by field\n",
                t.table, t.legacy_rows, t.created, t.merged, t.skipped, t.compared
            ));
        }
        if self.differences.is_empty() {
            out.push_str("verified: no difference\n");
        } else {
            out.push_str(&format!("{} differences:\n", self.differences.len()));
            for d in &self.differences {
                out.push_str(&format!("  {d}\n"));
            }
        }
        out
    }
}

#[derive(FromQueryResult)]
struct IdAndParent {
    id: i32,
    parent: i32,
}

/// `(legacy id, its course or user)` of a legacy table, all of it.
async fn legacy_pairs(legacy: &Legacy, sql: &str) -> anyhow::Result<HashMap<i64, i64>> {
    let rows: Vec<IdAndParent> = legacy.rows(sql, vec![]).await?;
    Ok(rows
        .into_iter()
        .map(|r| (i64::from(r.id), i64::from(r.parent)))
        .collect())
}

async fn map_of(
    db: &DatabaseConnection,
    table: &str,
) -> anyhow::Result<HashMap<i64, import_map::Model>> {
    Ok(import_map::Entity::find()
        .filter(import_map::Column::SourceTable.eq(table))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.source_id, m))
        .collect())
}

/// Every legacy row has exactly one fate in import_map, every recorded row still exists in the
/// legacy database, and every created or merged row points at a row that exists here.
fn account(
    out: &mut Verification,
    table: &str,
    legacy_ids: impl Iterator<Item = i64>,
    map: &HashMap<i64, import_map::Model>,
    target_exists: impl Fn(i64) -> bool,
) -> TableCheck {
    let mut check = TableCheck {
        table: table.to_string(),
        ..TableCheck::default()
    };
    let mut seen = 0usize;
    for id in legacy_ids {
        check.legacy_rows += 1;
        match map.get(&id) {
            None => out.differences.push(format!(
                "{table} {id}: in the legacy database, not imported"
            )),
            Some(m) => {
                seen += 1;
                match m.outcome.as_str() {
                    "created" => check.created += 1,
                    "merged" => check.merged += 1,
                    _ => check.skipped += 1,
                }
                if m.outcome == "skipped" && m.reason.as_deref().unwrap_or("").is_empty() {
                    out.differences
                        .push(format!("{table} {id}: skipped without a reason"));
                }
                match m.target_id {
                    Some(t) if m.outcome != "skipped" && !target_exists(t) => out.differences.push(
                        format!("{table} {id}: its row here ({t}) is gone (orphan record)"),
                    ),
                    None if m.outcome != "skipped" => out
                        .differences
                        .push(format!("{table} {id}: {} without a row here", m.outcome)),
                    _ => {}
                }
            }
        }
    }
    if seen != map.len() {
        out.differences.push(format!(
            "{table}: {} rows recorded as imported are no longer in the legacy database",
            map.len() - seen
        ));
    }
    check
}

pub async fn verify(legacy: &Legacy, db: &DatabaseConnection) -> anyhow::Result<Verification> {
    let mut out = Verification::default();
    if !crate::target::has_table(db, "import_map").await? {
        out.differences
            .push("nothing was imported into this database yet (no import_map)".into());
        return Ok(out);
    }
    let user_rows: HashMap<i64, String> = users::Entity::find()
        .select_only()
        .columns([users::Column::Id, users::Column::Email])
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let course_rows: HashMap<i64, courses::Model> = courses::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let enrollment_rows: HashMap<i64, (i64, Option<i16>)> = enrollments::Entity::find()
        .select_only()
        .columns([
            enrollments::Column::Id,
            enrollments::Column::CourseId,
            enrollments::Column::Rating,
        ])
        .into_tuple::<(i64, i64, Option<i16>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, course, rating)| (id, (course, rating)))
        .collect();
    let message_rows: HashMap<i64, i64> = chat_messages::Entity::find()
        .select_only()
        .columns([chat_messages::Column::Id, chat_messages::Column::CourseId])
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();

    let user_map = map_of(db, "users").await?;
    let legacy_users = legacy_pairs(legacy, "SELECT id, id AS parent FROM users").await?;
    let check = account(
        &mut out,
        "users",
        legacy_users.keys().copied(),
        &user_map,
        |t| user_rows.contains_key(&t),
    );
    out.tables.push(check);

    let course_map = map_of(db, "courses").await?;
    let legacy_courses = legacy_pairs(
        legacy,
        r#"SELECT id, "instructorId" AS parent FROM courses"#,
    )
    .await?;
    let check = account(
        &mut out,
        "courses",
        legacy_courses.keys().copied(),
        &course_map,
        |t| course_rows.contains_key(&t),
    );
    out.tables.push(check);

    // Enrollments and messages: per course, what the legacy database holds (less what was skipped
    // or merged) is what this course holds from the import.
    for (table, sql, rows) in [
        (
            "enrollments",
            r#"SELECT id, "courseId" AS parent FROM enrollments"#,
            enrollment_rows
                .iter()
                .map(|(id, (course, _))| (*id, *course))
                .collect::<HashMap<i64, i64>>(),
        ),
        (
            "chat_messages",
            r#"SELECT id, "courseId" AS parent FROM chat_messages"#,
            message_rows.clone(),
        ),
    ] {
        let map = map_of(db, table).await?;
        let legacy_rows = legacy_pairs(legacy, sql).await?;
        let check = account(&mut out, table, legacy_rows.keys().copied(), &map, |t| {
            rows.contains_key(&t)
        });
        out.tables.push(check);
        let mut expected: HashMap<i64, i64> = HashMap::new();
        let mut actual: HashMap<i64, i64> = HashMap::new();
        for (id, legacy_course) in &legacy_rows {
            let Some(m) = map.get(id).filter(|m| m.outcome == "created") else {
                continue;
            };
            let course = course_map.get(legacy_course).and_then(|c| c.target_id);
            *expected.entry(course.unwrap_or(-1)).or_default() += 1;
            if let Some(here) = m.target_id.and_then(|t| rows.get(&t)) {
                *actual.entry(*here).or_default() += 1;
            }
        }
        for (course, n) in &expected {
            let got = actual.get(course).copied().unwrap_or(0);
            if got != *n {
                out.differences.push(format!(
                    "{table} of course {course}: {n} imported from the legacy database, {got} here"
                ));
            }
        }
    }

    // Course aggregates, from the enrollments and reviews this database holds.
    let mut reviews: HashMap<i64, (i64, i64)> = HashMap::new();
    for (course, rating) in enrollment_rows.values() {
        if let Some(r) = rating {
            let e = reviews.entry(*course).or_default();
            e.0 += i64::from(*r);
            e.1 += 1;
        }
    }
    for m in course_map.values().filter(|m| m.outcome == "created") {
        let Some(course) = m.target_id.and_then(|t| course_rows.get(&t)) else {
            continue;
        };
        let (sum, count) = reviews.get(&course.id).copied().unwrap_or_default();
        let average = if count > 0 {
            sum as f64 / count as f64
        } else {
            0.0
        };
        if course.rating_sum != sum
            || i64::from(course.rating_count) != count
            || (course.rating_average - average).abs() > 1e-9
        {
            out.differences.push(format!(
                "course {}: rating {} from {} reviews (sum {}), but its reviews give {average} from {count} (sum {sum})",
                course.id, course.rating_average, course.rating_count, course.rating_sum
            ));
        }
    }

    compare_samples(legacy, db, &mut out, &user_map, &course_map).await?;
    Ok(out)
}

#[derive(FromQueryResult)]
struct UserSample {
    id: i32,
    email: String,
    created_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct CourseSample {
    id: i32,
    title: String,
    price: String,
    currency: String,
    created_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct EnrollmentSample {
    id: i32,
    amount_paid: Option<String>,
    enrolled_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct MessageSample {
    id: i32,
    content: String,
    created_at: DateTime<Utc>,
}

/// Every n-th of `ids` (sorted), at most [`SAMPLE`].
fn sample(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    let step = ids.len().div_ceil(SAMPLE).max(1);
    ids.into_iter().step_by(step).collect()
}

fn ids_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// A sample of imported users, courses and messages: the fields that carry over unchanged (or
/// converted exactly) are compared with the legacy row.
async fn compare_samples(
    legacy: &Legacy,
    db: &DatabaseConnection,
    out: &mut Verification,
    user_map: &HashMap<i64, import_map::Model>,
    course_map: &HashMap<i64, import_map::Model>,
) -> anyhow::Result<()> {
    let created = |map: &HashMap<i64, import_map::Model>| {
        sample(
            map.values()
                .filter(|m| m.outcome == "created")
                .map(|m| m.source_id)
                .collect(),
        )
    };
    let picked = created(user_map);
    let rows: Vec<UserSample> = legacy
        .rows(
            &format!(
                r#"SELECT id, email, "createdAt" AS created_at FROM users WHERE id IN ({})"#,
                ids_list(&picked)
            ),
            vec![],
        )
        .await?;
    for row in &rows {
        let target = user_map[&i64::from(row.id)].target_id.unwrap_or_default();
        match users::Entity::find_by_id(target).one(db).await? {
            Some(u)
                if u.email == row.email.trim().to_lowercase() && u.created_at == row.created_at => {
            }
            Some(u) => out.differences.push(format!(
                "user {}: email or creation time differ ({:?} {} here, {:?} {} there)",
                row.id, u.email, u.created_at, row.email, row.created_at
            )),
            None => {}
        }
    }
    let mut compared = rows.len() as u64;
    if let Some(t) = out.tables.iter_mut().find(|t| t.table == "users") {
        t.compared = compared;
    }
    let picked = created(course_map);
    let rows: Vec<CourseSample> = legacy
        .rows(
            &format!(
                r#"SELECT id, title, price::text AS price, currency, "createdAt" AS created_at FROM courses WHERE id IN ({})"#,
                ids_list(&picked)
            ),
            vec![],
        )
        .await?;
    for row in &rows {
        let target = course_map[&i64::from(row.id)].target_id.unwrap_or_default();
        if let Some(c) = courses::Entity::find_by_id(target).one(db).await?
            && (Some(c.price_cents) != crate::courses::minor_units(&row.price)
                || c.currency != row.currency.trim().to_ascii_uppercase()
                || c.created_at != row.created_at
                || (!row.title.trim().is_empty() && !row.title.trim().starts_with(&c.title)))
        {
            out.differences.push(format!(
                "course {}: title, price, currency or creation time differ",
                row.id
            ));
        }
    }
    compared = rows.len() as u64;
    if let Some(t) = out.tables.iter_mut().find(|t| t.table == "courses") {
        t.compared = compared;
    }
    let enrollment_map = map_of(db, "enrollments").await?;
    let picked = created(&enrollment_map);
    let rows: Vec<EnrollmentSample> = legacy
        .rows(
            &format!(
                r#"SELECT id, "amountPaid"::text AS amount_paid, "enrolledAt" AS enrolled_at FROM enrollments WHERE id IN ({})"#,
                ids_list(&picked)
            ),
            vec![],
        )
        .await?;
    for row in &rows {
        let target = enrollment_map[&i64::from(row.id)]
            .target_id
            .unwrap_or_default();
        let paid = row
            .amount_paid
            .as_deref()
            .map_or(Some(0), crate::courses::minor_units);
        if let Some(e) = enrollments::Entity::find_by_id(target).one(db).await?
            && (Some(e.amount_cents) != paid || e.enrolled_at != row.enrolled_at)
        {
            out.differences.push(format!(
                "enrollment {}: amount or enrollment time differ",
                row.id
            ));
        }
    }
    if let Some(t) = out.tables.iter_mut().find(|t| t.table == "enrollments") {
        t.compared = rows.len() as u64;
    }
    let message_map = map_of(db, "chat_messages").await?;
    let picked = created(&message_map);
    let rows: Vec<MessageSample> = legacy
        .rows(
            &format!(
                r#"SELECT id, content, "createdAt" AS created_at FROM chat_messages WHERE id IN ({})"#,
                ids_list(&picked)
            ),
            vec![],
        )
        .await?;
    for row in &rows {
        let target = message_map[&i64::from(row.id)]
            .target_id
            .unwrap_or_default();
        if let Some(m) = chat_messages::Entity::find_by_id(target).one(db).await?
            && (m.content != row.content || m.created_at != row.created_at)
        {
            out.differences.push(format!(
                "chat message {}: content or creation time differ",
                row.id
            ));
        }
    }
    if let Some(t) = out.tables.iter_mut().find(|t| t.table == "chat_messages") {
        t.compared = rows.len() as u64;
    }
    Ok(())
}
