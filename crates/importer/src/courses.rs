//! Legacy courses: instructor through the user mapping, money converted exactly to minor units in its
//! own currency, slugs that fit this LMS's rules, statuses and levels mapped, soft-deleted courses
//! archived. Ratings and student counts start at zero: the enrollments step recomputes them from the
//! imported enrollments and reviews.
use anyhow::Context as _;
use entity::courses::{self, CourseLevel, CourseStatus, CourseVisibility};
use lms_core::courses::{CATEGORY, DISCOUNT, LANGUAGE, PRICE, SLUG, THUMBNAIL_URL};
use sea_orm::{ActiveModelTrait, EntityTrait, JsonValue, Set, Value};

use crate::legacy::{self, COURSES_PAGE};
use crate::report::{Outcome, TableReport};
use crate::target;
use crate::{Decided, Ids, Job, TargetId};

pub const TABLE: &str = "courses";

/// `"49.99"` (a `DECIMAL(10,2)` as PostgreSQL writes it) as 4999, exactly; `None` if it is not a
/// plain decimal with at most two fractional digits.
pub fn minor_units(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    let value = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    Some(if negative { -value } else { value })
}

/// A slug that fits this LMS's rules from a legacy one that may not.
fn fitted_slug(raw: &str, legacy_id: i32) -> String {
    if SLUG.check(raw).is_ok() {
        return raw.to_string();
    }
    let mut slug = String::new();
    for c in raw.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(180).collect();
    if SLUG.check(&slug).is_ok() {
        slug
    } else {
        format!("course-{legacy_id}")
    }
}

/// Imports (or, for `plan`, decides) every legacy course.
pub async fn import(job: &mut Job<'_>, ids: &mut Ids) -> anyhow::Result<TableReport> {
    let mut report = TableReport {
        found: u64::try_from(job.legacy.count(TABLE).await?).unwrap_or_default(),
        ..TableReport::default()
    };
    job.start(TABLE, report.found);
    let mapped = target::mapped(job.target, TABLE).await?;
    let mut slugs = target::taken_slugs(job.target).await?;
    let mut after = 0i32;
    loop {
        let page: Vec<legacy::Course> = job
            .legacy
            .rows(
                COURSES_PAGE,
                vec![Value::from(after), Value::from(legacy::PAGE as i64)],
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let txn = job.begin().await?;
        let mut records = Vec::new();
        for course in &page {
            let checksum = legacy::checksum(course);
            let previous = mapped
                .get(&i64::from(course.id))
                .and_then(|m| m.created().map(|id| (id, m.checksum == checksum)));
            let decided = match ids.users.get(&i64::from(course.instructor_id)) {
                None => Err(format!(
                    "its instructor (legacy user {}) does not exist or was not imported",
                    course.instructor_id
                )),
                Some(instructor) => fields(course, *instructor, &mut report),
            };
            let (outcome, target_id, reason) = match (decided, previous) {
                (Err(reason), _) => (Outcome::Skipped, None, Some(reason)),
                (Ok(_), Some((id, true))) => {
                    (Outcome::Unchanged, Some(TargetId::Existing(id)), None)
                }
                (Ok(mut active), Some((id, false))) => {
                    if let Some(txn) = &txn {
                        active.id = Set(id);
                        active.slug = sea_orm::ActiveValue::NotSet;
                        active
                            .update(txn)
                            .await
                            .with_context(|| format!("updating legacy course {}", course.id))?;
                    }
                    (Outcome::Updated, Some(TargetId::Existing(id)), None)
                }
                (Ok(mut active), None) => {
                    let fitted = fitted_slug(&course.slug, course.id);
                    let slug = if slugs.contains_key(&fitted) {
                        let suffix = format!("-{}", course.id);
                        format!(
                            "{}{suffix}",
                            &fitted[..fitted.len().min(200 - suffix.len())]
                        )
                    } else {
                        fitted
                    };
                    if slug != course.slug {
                        report.rename(
                            i64::from(course.id),
                            format!(
                                "slug breaks this LMS's rules or is taken: {:?} -> {slug:?}",
                                course.slug
                            ),
                        );
                    }
                    active.slug = Set(slug.clone());
                    let target = match &txn {
                        Some(txn) => TargetId::Existing(
                            courses::Entity::insert(active)
                                .exec(txn)
                                .await
                                .with_context(|| format!("inserting legacy course {}", course.id))?
                                .last_insert_id,
                        ),
                        None => TargetId::Planned(i64::from(course.id)),
                    };
                    slugs.insert(slug, target.existing().unwrap_or_default());
                    (Outcome::Created, Some(target), None)
                }
            };
            let decided = Decided {
                legacy_id: i64::from(course.id),
                outcome,
                target: target_id,
                reason,
            };
            decided
                .settle(
                    txn.is_some().then_some(&mut records),
                    TABLE,
                    &checksum,
                    &mut report,
                    &mut ids.courses,
                )
                .await?;
        }
        if let Some(txn) = txn {
            target::record_all(&txn, std::mem::take(&mut records)).await?;
            txn.commit().await?;
        }
        job.progress(page.len());
    }
    Ok(report)
}

/// The course's columns from the legacy row (all but the slug), counting each value mapping; `Err`
/// is a skip reason.
fn fields(
    course: &legacy::Course,
    instructor: TargetId,
    report: &mut TableReport,
) -> Result<courses::ActiveModel, String> {
    let price = minor_units(&course.price)
        .ok_or_else(|| format!("price {:?} is not an amount", course.price))?;
    if PRICE.check(price).is_err() {
        return Err(format!(
            "price {} is outside what this LMS accepts (0 to 1,000,000.00)",
            course.price
        ));
    }
    let discount = match course.discount_price.as_deref().map(minor_units) {
        None => None,
        Some(Some(d)) if d < price && DISCOUNT.check(d).is_ok() => Some(d),
        Some(_) => {
            report.mapped("discount price not below the price -> no discount");
            None
        }
    };
    let currency = course.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "currency {:?} is not a 3-letter code",
            course.currency
        ));
    }
    let level = match course.level.as_str() {
        "beginner" => CourseLevel::Beginner,
        "intermediate" => CourseLevel::Intermediate,
        "advanced" => CourseLevel::Advanced,
        "all" => {
            report.mapped("level all -> all_levels");
            CourseLevel::AllLevels
        }
        other => {
            return Err(format!(
                "level {other:?} is not one the legacy schema declares"
            ));
        }
    };
    let mut status = match course.status.as_str() {
        "draft" => CourseStatus::Draft,
        "published" => CourseStatus::Published,
        "archived" => CourseStatus::Archived,
        "pending_review" => {
            report.mapped("status pending_review -> draft (no review step here)");
            CourseStatus::Draft
        }
        other => {
            return Err(format!(
                "status {other:?} is not one the legacy schema declares"
            ));
        }
    };
    if course.deleted_at.is_some() && status != CourseStatus::Archived {
        report.mapped("soft-deleted (deletedAt) -> archived");
        status = CourseStatus::Archived;
    }
    let visibility = if course.is_public {
        CourseVisibility::Public
    } else {
        report.mapped("isPublic false -> unlisted (not in the catalog, open by its link)");
        CourseVisibility::Unlisted
    };
    let mut title: String = course.title.trim().chars().take(200).collect();
    if title.is_empty() {
        report.mapped("empty title -> \"Untitled course <legacy id>\"");
        title = format!("Untitled course {}", course.id);
    }
    let language = if LANGUAGE.check(course.language.trim()).is_ok() {
        course.language.trim().to_string()
    } else {
        report.mapped("language code outside 2-16 of A-Z a-z 0-9 - -> en");
        "en".to_string()
    };
    let category = course
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    if category
        .as_deref()
        .is_some_and(|c| CATEGORY.check(c).is_err())
    {
        return Err("category breaks this LMS's rules".into());
    }
    let thumbnail = course
        .thumbnail
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let thumbnail = match thumbnail {
        Some(t) if THUMBNAIL_URL.check(t).is_ok() => Some(t.to_string()),
        Some(_) => {
            report.mapped("thumbnail not an http(s) URL -> none");
            None
        }
        None => None,
    };
    if course.duration < 0 {
        report.mapped("negative duration -> 0");
    }
    let mut metadata = match &course.metadata {
        Some(JsonValue::Object(map)) => map.clone(),
        None | Some(JsonValue::Null) => serde_json::Map::new(),
        Some(_) => {
            report.mapped("metadata not a JSON object -> {}");
            serde_json::Map::new()
        }
    };
    if let Some(tags @ JsonValue::Array(list)) = &course.tags
        && !list.is_empty()
    {
        report.mapped("tags -> metadata.tags");
        metadata.insert("tags".into(), tags.clone());
    }
    let published_at = match (status, course.published_at) {
        (CourseStatus::Published, None) => {
            report.mapped("published without publishedAt -> published at its creation");
            Some(course.created_at)
        }
        (_, at) => at,
    };
    Ok(courses::ActiveModel {
        instructor_id: Set(instructor.existing().unwrap_or_default()),
        title: Set(title),
        short_description: Set(course.short_description.clone()),
        description: Set(course.description.clone()),
        category: Set(category),
        level: Set(level),
        language: Set(language),
        price_cents: Set(price),
        currency: Set(currency),
        discount_price_cents: Set(discount),
        discount_ends_at: Set(discount.and(course.discount_expires_at)),
        status: Set(status),
        visibility: Set(visibility),
        is_featured: Set(course.is_featured),
        rating_average: Set(0.0),
        rating_sum: Set(0),
        rating_count: Set(0),
        student_count: Set(0),
        duration_minutes: Set(course.duration.max(0)),
        published_at: Set(published_at),
        thumbnail_url: Set(thumbnail),
        metadata: Set(JsonValue::Object(metadata)),
        created_at: Set(course.created_at),
        updated_at: Set(course.updated_at),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_converted_exactly() {
        assert_eq!(minor_units("49.99"), Some(4999));
        assert_eq!(minor_units("0.00"), Some(0));
        assert_eq!(minor_units("19.5"), Some(1950));
        assert_eq!(minor_units("99999999.99"), Some(9_999_999_999));
        assert_eq!(minor_units("-1.00"), Some(-100));
        assert_eq!(minor_units("1.005"), None);
        assert_eq!(minor_units("abc"), None);
        assert_eq!(minor_units(".5"), None);
    }

    #[test]
    fn slugs_are_fitted_to_the_rules() {
        assert_eq!(fitted_slug("rust-from-scratch", 1), "rust-from-scratch");
        assert_eq!(fitted_slug("Rust From Scratch!", 1), "rust-from-scratch");
        assert_eq!(fitted_slug("12345", 7), "course-7");
        assert_eq!(fitted_slug("--", 8), "course-8");
    }
}
