//! Legacy enrollments: through the user and course mappings (a merged account's enrollments go to
//! the account it was merged into), one per student and course (duplicates are merged into the most
//! advanced), mapped onto this LMS's state machine (an unknown status is a skip, never a default),
//! money exact in minor units. Course student counts and rating aggregates are recomputed afterwards
//! from what was imported.
use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::enrollment_events::{self, ActorKind};
use entity::enrollments::{self, EnrollmentStatus, PaymentMethod, PaymentStatus};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, FromQueryResult, JsonValue, QuerySelect,
    Set, Value,
};
use serde::Serialize;

use crate::courses::minor_units;
use crate::report::{Outcome, TableReport};
use crate::target;
use crate::{Decided, Ids, Job, TargetId};

pub const TABLE: &str = "enrollments";

#[derive(Debug, Clone, FromQueryResult, Serialize)]
pub struct Enrollment {
    pub id: i32,
    pub user_id: i32,
    pub course_id: i32,
    pub status: Option<String>,
    pub payment_status: Option<String>,
    pub payment_method: Option<String>,
    pub amount_paid: Option<String>,
    pub currency: Option<String>,
    pub transaction_id: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub progress: String,
    pub completed_lessons: Option<JsonValue>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub certificate_id: Option<String>,
    pub certificate_url: Option<String>,
    pub certificate_issued_at: Option<DateTime<Utc>>,
    pub rating: Option<i32>,
    pub review: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub enrolled_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const PAGE_SQL: &str = r#"
SELECT id, "userId" AS user_id, "courseId" AS course_id, status,
       "paymentStatus"::text AS payment_status, "paymentMethod"::text AS payment_method,
       "amountPaid"::text AS amount_paid, currency, "transactionId" AS transaction_id,
       "paidAt" AS paid_at, progress::text AS progress, "completedLessons" AS completed_lessons,
       "lastAccessedAt" AS last_accessed_at, "completedAt" AS completed_at,
       "certificateId" AS certificate_id, "certificateUrl" AS certificate_url,
       "certificateIssuedAt" AS certificate_issued_at, rating, review, "reviewedAt" AS reviewed_at,
       "enrolledAt" AS enrolled_at, "expiresAt" AS expires_at, "createdAt" AS created_at,
       "updatedAt" AS updated_at
FROM enrollments
WHERE id > $1
ORDER BY id
LIMIT $2"#;

/// The first pass: who is enrolled where, to find duplicated pairs.
#[derive(Debug, Clone, FromQueryResult)]
struct Pair {
    id: i32,
    user_id: i32,
    course_id: i32,
    status: Option<String>,
    progress: String,
    enrolled_at: DateTime<Utc>,
}

const PAIRS_SQL: &str = r#"SELECT id, "userId" AS user_id, "courseId" AS course_id, status,
    progress::text AS progress, "enrolledAt" AS enrolled_at FROM enrollments ORDER BY id"#;

fn status(legacy: Option<&str>) -> Result<EnrollmentStatus, String> {
    match legacy {
        Some("pending") => Ok(EnrollmentStatus::PendingPayment),
        Some("active") => Ok(EnrollmentStatus::Active),
        Some("completed") => Ok(EnrollmentStatus::Completed),
        Some("cancelled") => Ok(EnrollmentStatus::Cancelled),
        Some("refunded") => Ok(EnrollmentStatus::Refunded),
        Some(other) => Err(format!(
            "status {other:?} is none of pending, active, completed, cancelled, refunded"
        )),
        None => Err("no status".into()),
    }
}

/// How far an enrollment got: of two for one student and course, the further one is kept.
fn rank(status: EnrollmentStatus) -> u8 {
    match status {
        EnrollmentStatus::Completed => 4,
        EnrollmentStatus::Active => 3,
        EnrollmentStatus::PendingPayment => 2,
        EnrollmentStatus::Refunded => 1,
        EnrollmentStatus::Cancelled => 0,
    }
}

/// `"93.75"` as 93 (whole percent, rounded down: 100 only when complete).
fn percent(text: &str) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(w, _)| w);
    whole.parse::<i64>().ok()
}

/// For each legacy enrollment that shares its student and course with another (after merging
/// accounts), the one it is merged into: the furthest status, then the most progress, then the
/// earliest.
async fn duplicates(job: &Job<'_>, ids: &Ids) -> anyhow::Result<HashMap<i32, i32>> {
    let pairs: Vec<Pair> = job.legacy.rows(PAIRS_SQL, vec![]).await?;
    let mut groups: HashMap<(TargetId, TargetId), Vec<&Pair>> = HashMap::new();
    for pair in &pairs {
        let (Some(user), Some(course), Ok(_)) = (
            ids.users.get(&i64::from(pair.user_id)),
            ids.courses.get(&i64::from(pair.course_id)),
            status(pair.status.as_deref()),
        ) else {
            continue;
        };
        groups.entry((*user, *course)).or_default().push(pair);
    }
    let mut merged = HashMap::new();
    for group in groups.values().filter(|g| g.len() > 1) {
        let best = group
            .iter()
            .max_by_key(|p| {
                (
                    status(p.status.as_deref()).map(rank).unwrap_or_default(),
                    percent(&p.progress).unwrap_or_default(),
                    std::cmp::Reverse((p.enrolled_at, p.id)),
                )
            })
            .expect("groups are not empty");
        for p in group.iter().filter(|p| p.id != best.id) {
            merged.insert(p.id, best.id);
        }
    }
    Ok(merged)
}

/// Enrollments this LMS already had (not imported), by student and course; payment references and
/// certificate codes in use.
struct Taken {
    pairs: HashMap<(i64, i64), i64>,
    references: HashSet<String>,
    certificates: HashSet<String>,
}

type EnrollmentKeys = (i64, i64, i64, Option<String>, Option<String>);

async fn taken(db: &DatabaseConnection, imported: &HashSet<i64>) -> anyhow::Result<Taken> {
    let mut taken = Taken {
        pairs: HashMap::new(),
        references: HashSet::new(),
        certificates: HashSet::new(),
    };
    if !target::has_table(db, TABLE).await? {
        return Ok(taken);
    }
    let rows: Vec<EnrollmentKeys> = enrollments::Entity::find()
        .select_only()
        .columns([
            enrollments::Column::Id,
            enrollments::Column::UserId,
            enrollments::Column::CourseId,
            enrollments::Column::PaymentReference,
            enrollments::Column::CertificateCode,
        ])
        .into_tuple()
        .all(db)
        .await?;
    for (id, user, course, reference, certificate) in rows {
        if !imported.contains(&id) {
            taken.pairs.insert((user, course), id);
        }
        taken.references.extend(reference);
        taken.certificates.extend(certificate);
    }
    Ok(taken)
}

pub async fn import(job: &mut Job<'_>, ids: &mut Ids) -> anyhow::Result<TableReport> {
    let mut report = TableReport {
        found: u64::try_from(job.legacy.count(TABLE).await?).unwrap_or_default(),
        ..TableReport::default()
    };
    job.start(TABLE, report.found);
    let mapped = target::mapped(job.target, TABLE).await?;
    let imported: HashSet<i64> = mapped
        .values()
        .filter_map(target::Mapped::created)
        .collect();
    let mut taken = taken(job.target, &imported).await?;
    let duplicates = duplicates(job, ids).await?;
    let mut mine: HashMap<i64, TargetId> = HashMap::new();
    let mut deferred: Vec<(i32, String)> = Vec::new();
    let mut after = 0i32;
    loop {
        let page: Vec<Enrollment> = job
            .legacy
            .rows(
                PAGE_SQL,
                vec![Value::from(after), Value::from(crate::legacy::PAGE as i64)],
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let txn = job.begin().await?;
        let mut records = Vec::new();
        let mut new_rows = Vec::new();
        for row in &page {
            let checksum = crate::legacy::checksum(row);
            let previous = mapped
                .get(&i64::from(row.id))
                .and_then(|m| m.created().map(|id| (id, m.checksum == checksum)));
            let user = ids.users.get(&i64::from(row.user_id)).copied();
            let course = ids.courses.get(&i64::from(row.course_id)).copied();
            let (outcome, target_id, reason) = match (user, course) {
                (None, _) => (
                    Outcome::Skipped,
                    None,
                    Some(format!(
                        "its student (legacy user {}) does not exist or was not imported",
                        row.user_id
                    )),
                ),
                (_, None) => (
                    Outcome::Skipped,
                    None,
                    Some(format!(
                        "its course (legacy course {}) does not exist or was not imported",
                        row.course_id
                    )),
                ),
                (Some(user), Some(course)) => {
                    let existing_pair = match (user, course) {
                        (TargetId::Existing(u), TargetId::Existing(c)) => {
                            taken.pairs.get(&(u, c)).copied()
                        }
                        _ => None,
                    };
                    if duplicates.contains_key(&row.id) {
                        // After every other row: the one it merges into may come later.
                        deferred.push((row.id, checksum));
                        continue;
                    } else if let (Some(existing), None) = (existing_pair, previous) {
                        (
                            Outcome::Merged,
                            Some(TargetId::Existing(existing)),
                            Some(
                                "the student already had an enrollment in this course here".into(),
                            ),
                        )
                    } else {
                        match fields(row, user, course, &mut taken, &mut report) {
                            Err(reason) => (Outcome::Skipped, None, Some(reason)),
                            Ok(_) if previous.is_some_and(|(_, same)| same) => (
                                Outcome::Unchanged,
                                previous.map(|(id, _)| TargetId::Existing(id)),
                                None,
                            ),
                            Ok(mut active) => match (&txn, previous) {
                                (None, Some((id, _))) => {
                                    (Outcome::Updated, Some(TargetId::Existing(id)), None)
                                }
                                (None, None) => (
                                    Outcome::Created,
                                    Some(TargetId::Planned(i64::from(row.id))),
                                    None,
                                ),
                                (Some(txn), Some((id, _))) => {
                                    active.id = Set(id);
                                    active.update(txn).await.with_context(|| {
                                        format!("updating legacy enrollment {}", row.id)
                                    })?;
                                    (Outcome::Updated, Some(TargetId::Existing(id)), None)
                                }
                                (Some(_), None) => {
                                    // Written with the page's other new rows, below.
                                    new_rows.push((row.id, checksum, active, row.updated_at));
                                    continue;
                                }
                            },
                        }
                    }
                }
            };
            Decided {
                legacy_id: i64::from(row.id),
                outcome,
                target: target_id,
                reason,
            }
            .settle(
                txn.is_some().then_some(&mut records),
                TABLE,
                &checksum,
                &mut report,
                &mut mine,
            )
            .await?;
        }
        if let Some(txn) = txn {
            let models = new_rows.iter().map(|(_, _, m, _)| m.clone()).collect();
            let rows = target::insert_all(&txn, models).await?;
            let events: Vec<enrollment_events::ActiveModel> = rows
                .iter()
                .zip(&new_rows)
                .map(|(row, (legacy, _, _, at))| enrollment_events::ActiveModel {
                    enrollment_id: Set(row.id),
                    from_status: Set(None),
                    to_status: Set(row.status),
                    actor_id: Set(None),
                    actor_kind: Set(ActorKind::System),
                    note: Set(Some(format!("imported from legacy enrollment {legacy}"))),
                    created_at: Set(*at),
                    ..Default::default()
                })
                .collect();
            if !events.is_empty() {
                enrollment_events::Entity::insert_many(events)
                    .exec_without_returning(&txn)
                    .await?;
            }
            for (row, (legacy, checksum, _, _)) in rows.iter().zip(new_rows) {
                taken.pairs.insert((row.user_id, row.course_id), row.id);
                Decided {
                    legacy_id: i64::from(legacy),
                    outcome: Outcome::Created,
                    target: Some(TargetId::Existing(row.id)),
                    reason: None,
                }
                .settle(Some(&mut records), TABLE, &checksum, &mut report, &mut mine)
                .await?;
            }
            target::record_all(&txn, std::mem::take(&mut records)).await?;
            txn.commit().await?;
        }
        job.progress(page.len());
    }
    // Duplicated student-course pairs, now that what they merge into is known.
    let txn = job.begin().await?;
    let mut records = Vec::new();
    for (id, checksum) in deferred {
        let into = duplicates[&id];
        let (outcome, target, reason) = match mine.get(&i64::from(into)) {
            Some(t) => (
                Outcome::Merged,
                Some(*t),
                format!(
                    "the same student and course as legacy enrollment {into}, which got further"
                ),
            ),
            None => (
                Outcome::Skipped,
                None,
                format!("a duplicate of legacy enrollment {into}, which was skipped"),
            ),
        };
        Decided {
            legacy_id: i64::from(id),
            outcome,
            target,
            reason: Some(reason),
        }
        .settle(
            txn.is_some().then_some(&mut records),
            TABLE,
            &checksum,
            &mut report,
            &mut mine,
        )
        .await?;
    }
    if let Some(txn) = txn {
        lms_core::courses::recompute_counters(&txn).await?;
        target::record_all(&txn, std::mem::take(&mut records)).await?;
        txn.commit().await?;
    }
    Ok(report)
}

/// The enrollment's columns from the legacy row, counting each value mapping; `Err` is a skip reason.
fn fields(
    row: &Enrollment,
    user: TargetId,
    course: TargetId,
    taken: &mut Taken,
    report: &mut TableReport,
) -> Result<enrollments::ActiveModel, String> {
    let status = status(row.status.as_deref())?;
    let payment_method = match row.payment_method.as_deref() {
        None => None,
        Some("free") => Some(PaymentMethod::Free),
        Some("credit_card") => Some(PaymentMethod::Card),
        Some("stripe") => {
            report.mapped("payment method stripe -> card");
            Some(PaymentMethod::Card)
        }
        Some("paypal") => Some(PaymentMethod::Paypal),
        Some("bank_transfer") => Some(PaymentMethod::BankTransfer),
        Some("coupon") => {
            report.mapped("payment method coupon -> voucher");
            Some(PaymentMethod::Voucher)
        }
        Some(other) => {
            return Err(format!(
                "payment method {other:?} is not one the legacy schema declares"
            ));
        }
    };
    let payment_status = match row.payment_status.as_deref() {
        None => {
            report.mapped("no payment status -> none");
            PaymentStatus::None
        }
        Some("completed") if payment_method == Some(PaymentMethod::Free) => {
            report.mapped("payment completed for a free enrollment -> none (nothing was paid)");
            PaymentStatus::None
        }
        Some("completed") => PaymentStatus::Paid,
        Some("pending") => PaymentStatus::Pending,
        Some("failed") => PaymentStatus::Failed,
        Some("refunded") => PaymentStatus::Refunded,
        Some(other) => {
            return Err(format!(
                "payment status {other:?} is not one the legacy schema declares"
            ));
        }
    };
    let amount = match row.amount_paid.as_deref() {
        None => {
            report.mapped("no amount paid -> 0");
            0
        }
        Some(text) => match minor_units(text) {
            Some(cents) if cents >= 0 => cents,
            _ => {
                return Err(format!(
                    "amount paid {text:?} is not an amount of at least 0"
                ));
            }
        },
    };
    let currency = match row
        .currency
        .as_deref()
        .map(|c| c.trim().to_ascii_uppercase())
    {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => c,
        Some(c) => return Err(format!("currency {c:?} is not a 3-letter code")),
        None => {
            report.mapped("no currency -> USD (the legacy default)");
            "USD".into()
        }
    };
    let progress = match percent(&row.progress) {
        Some(p @ 0..=100) => p,
        Some(p) => {
            report.mapped("progress outside 0-100 -> clamped");
            p.clamp(0, 100)
        }
        None => return Err(format!("progress {:?} is not a number", row.progress)),
    };
    if row
        .progress
        .split_once('.')
        .is_some_and(|(_, f)| !f.trim_end_matches('0').is_empty())
    {
        report.mapped("fractional progress -> whole percent, rounded down");
    }
    let reference = row
        .transaction_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let reference = match reference {
        Some(r) if taken.references.contains(&r) => {
            report.mapped(
                "payment reference already on another enrollment -> not kept (unique here)",
            );
            None
        }
        other => other,
    };
    let certificate = row
        .certificate_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let certificate = match certificate {
        Some(c) if taken.certificates.contains(&c) => {
            report.mapped("certificate id already on another enrollment -> not kept (unique here)");
            None
        }
        other => other,
    };
    if row.certificate_url.is_some() {
        report.mapped("certificate URL -> not kept (this LMS serves certificates by their code)");
    }
    let rating = match row.rating {
        Some(r @ 1..=5) => Some(r as i16),
        Some(_) => {
            report.mapped("review rating outside 1-5 -> no rating (the review text is kept)");
            None
        }
        None => None,
    };
    if row
        .completed_lessons
        .as_ref()
        .is_some_and(|l| l.as_array().is_some_and(|a| !a.is_empty()))
    {
        report
            .mapped("completedLessons -> not kept (the legacy LMS had no lessons to map them to)");
    }
    if row.expires_at.is_some() {
        report.mapped("expiresAt -> not kept (enrollments here do not expire)");
    }
    taken.references.extend(reference.clone());
    taken.certificates.extend(certificate.clone());
    Ok(enrollments::ActiveModel {
        user_id: Set(user.existing().unwrap_or_default()),
        course_id: Set(course.existing().unwrap_or_default()),
        status: Set(status),
        amount_cents: Set(amount),
        currency: Set(currency),
        payment_method: Set(payment_method),
        payment_status: Set(payment_status),
        payment_reference: Set(reference),
        paid_at: Set(row.paid_at),
        progress_percent: Set(progress as i16),
        last_accessed_at: Set(row.last_accessed_at),
        completed_at: Set(row.completed_at),
        certificate_code: Set(certificate),
        certificate_issued_at: Set(row.certificate_issued_at),
        rating: Set(rating),
        review_comment: Set(row.review.clone()),
        reviewed_at: Set(row.reviewed_at),
        enrolled_at: Set(row.enrolled_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_statuses_map_or_are_refused() {
        assert_eq!(
            status(Some("pending")),
            Ok(EnrollmentStatus::PendingPayment)
        );
        assert_eq!(status(Some("refunded")), Ok(EnrollmentStatus::Refunded));
        assert!(status(Some("on_hold")).is_err());
        assert!(status(None).is_err());
    }

    #[test]
    fn progress_is_a_whole_percent_rounded_down() {
        assert_eq!(percent("100.00"), Some(100));
        assert_eq!(percent("99.99"), Some(99));
        assert_eq!(percent("-5.00"), Some(-5));
        assert_eq!(percent("x"), None);
    }
}
