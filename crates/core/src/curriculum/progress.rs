//! Progress earned from content: completing `text` and `link` lessons (and undoing it), watching
//! `video` lessons (covered intervals, `video`), and the recomputation that follows every change of a
//! student's completions or of the course's required published lessons.
//!
//! Every write for one enrollment starts by locking the enrollment's row (an UPDATE of its
//! `last_accessed_at`), so two completions of the same student run one after the other: the last one
//! sees both, and the certificate is issued once.
use std::collections::{HashMap, HashSet};

use entity::enrollments::EnrollmentStatus;
use entity::video_progress;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, DatabaseTransaction};

use super::video::Coverage;
use super::*;
use crate::enrollments::{Actor, complete_with_certificate, record_progress};
use crate::now;

/// A reported video position, in seconds.
pub const VIDEO_POSITION: Range = Range::new(0, 86_400);

crate::rule_schemas! {
    video_position_schema => VIDEO_POSITION;
}

/// A student's state on a lesson after a change, and their progress in the course.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonProgress {
    pub lesson_id: i64,
    pub completion: LessonCompletion,
    pub progress: ProgressView,
}

/// The lesson and the caller's enrollment that earns progress on it; 404 when the lesson does not
/// exist for the caller, 403 when they may see it but are not an enrolled student.
async fn student_target(
    db: &impl ConnectionTrait,
    user: &users::Model,
    lesson_id: i64,
) -> Result<(lessons::Model, enrollments::Model)> {
    let not_found = || Error::NotFound("no such lesson".into());
    let lesson = lessons::Entity::find_by_id(lesson_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let (_, viewer) = viewer_of(db, Some(user), lesson.course_id)
        .await
        .map_err(|_| not_found())?;
    if !viewer.sees(&lesson) {
        return Err(not_found());
    }
    match viewer {
        Viewer::Student(enrollment) => Ok((lesson, *enrollment)),
        Viewer::Staff => Err(Error::Forbidden(
            "progress is earned by enrolled students; staff mark enrollments completed with \
             POST /api/v1/enrollments/{id}/complete"
                .into(),
        )),
        Viewer::Public => Err(Error::Forbidden(
            "enroll in the course to complete its lessons".into(),
        )),
    }
}

/// Locks the enrollment's row for the rest of `txn` and reads it as it is now.
async fn lock(txn: &DatabaseTransaction, enrollment_id: i64) -> Result<enrollments::Model> {
    enrollments::Entity::update_many()
        .col_expr(enrollments::Column::LastAccessedAt, Expr::value(now()))
        .filter(enrollments::Column::Id.eq(enrollment_id))
        .exec(txn)
        .await?;
    enrollments::Entity::find_by_id(enrollment_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))
}

async fn insert_completion(
    txn: &DatabaseTransaction,
    enrollment_id: i64,
    lesson_id: i64,
    via: CompletedVia,
) -> Result<()> {
    lesson_completions::Entity::insert(lesson_completions::ActiveModel {
        enrollment_id: Set(enrollment_id),
        lesson_id: Set(lesson_id),
        via: Set(via),
        completed_at: Set(now()),
    })
    .on_conflict_do_nothing()
    .exec(txn)
    .await?;
    Ok(())
}

/// Marks a `text` or `link` lesson completed by the enrolled student (again: no change).
pub async fn complete_lesson(
    db: &impl Db,
    user: &users::Model,
    lesson_id: i64,
) -> Result<LessonProgress> {
    let (lesson, enrollment) = student_target(db, user, lesson_id).await?;
    completed_by_the_student(&lesson)?;
    let txn = db.begin().await?;
    lock(&txn, enrollment.id).await?;
    insert_completion(&txn, enrollment.id, lesson.id, CompletedVia::Student).await?;
    let why = format!("lesson {} completed", lesson.id);
    finish(txn, enrollment.id, lesson.id, Actor::User(user.id), &why).await
}

/// Undoes the student's completion of a `text` or `link` lesson while the enrollment is active (a
/// completed course stays completed).
pub async fn undo_lesson(
    db: &impl Db,
    user: &users::Model,
    lesson_id: i64,
) -> Result<LessonProgress> {
    let (lesson, enrollment) = student_target(db, user, lesson_id).await?;
    completed_by_the_student(&lesson)?;
    let txn = db.begin().await?;
    let enrollment = lock(&txn, enrollment.id).await?;
    if enrollment.status != EnrollmentStatus::Active {
        return Err(Error::Conflict(format!(
            "the enrollment is {}: its completions stay",
            enrollment.status.name()
        )));
    }
    lesson_completions::Entity::delete_by_id((enrollment.id, lesson.id))
        .exec(&txn)
        .await?;
    let why = format!("lesson {} marked not completed", lesson.id);
    finish(txn, enrollment.id, lesson.id, Actor::User(user.id), &why).await
}

/// The end of every student write on a lesson: progress recomputed, the lesson's state read back,
/// the transaction committed.
async fn finish(
    txn: DatabaseTransaction,
    enrollment_id: i64,
    lesson_id: i64,
    actor: Actor,
    why: &str,
) -> Result<LessonProgress> {
    let progress = settle(&txn, enrollment_id, actor, why).await?;
    let completion = completion_of(&txn, enrollment_id, lesson_id).await?;
    txn.commit().await?;
    Ok(LessonProgress {
        lesson_id,
        completion,
        progress,
    })
}

fn completed_by_the_student(lesson: &lessons::Model) -> Result<()> {
    match lesson.kind {
        LessonKind::Text | LessonKind::Link => Ok(()),
        LessonKind::Video => Err(Error::Conflict(
            "a video lesson completes when its positions cover 90% of it: PUT /api/v1/lessons/{id}/position"
                .into(),
        )),
        LessonKind::Live => Err(Error::Conflict(
            "a live lesson completes by attending its session".into(),
        )),
    }
}

/// Records the student's position in a video lesson; the lesson completes once the covered intervals
/// reach 90% of the video.
pub async fn report_position(
    db: &impl Db,
    user: &users::Model,
    lesson_id: i64,
    seconds: i64,
) -> Result<LessonProgress> {
    VIDEO_POSITION
        .check(seconds)
        .map_err(|message| Error::invalid("seconds", message))?;
    let (lesson, enrollment) = student_target(db, user, lesson_id).await?;
    let (LessonKind::Video, Some(duration)) = (lesson.kind, lesson.duration_seconds) else {
        return Err(Error::Conflict(
            "positions are reported on video lessons only".into(),
        ));
    };
    let txn = db.begin().await?;
    lock(&txn, enrollment.id).await?;
    let stored = video_progress::Entity::find_by_id((enrollment.id, lesson.id))
        .one(&txn)
        .await?;
    let mut coverage = stored
        .as_ref()
        .map(|v| Coverage::from_stored(&v.intervals, v.last_position_seconds))
        .unwrap_or_default();
    coverage.report(seconds as i32, duration);
    let row = video_progress::ActiveModel {
        enrollment_id: Set(enrollment.id),
        lesson_id: Set(lesson.id),
        last_position_seconds: Set(coverage.last_position.unwrap_or(0)),
        covered_seconds: Set(coverage.covered()),
        intervals: Set(coverage.intervals_json()),
        updated_at: Set(now()),
    };
    video_progress::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                video_progress::Column::EnrollmentId,
                video_progress::Column::LessonId,
            ])
            .update_columns([
                video_progress::Column::LastPositionSeconds,
                video_progress::Column::CoveredSeconds,
                video_progress::Column::Intervals,
                video_progress::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(&txn)
        .await?;
    let why = format!("video lesson {} watched to 90%", lesson.id);
    if coverage.completes(duration) {
        insert_completion(&txn, enrollment.id, lesson.id, CompletedVia::Video).await?;
    }
    finish(txn, enrollment.id, lesson.id, Actor::User(user.id), &why).await
}

/// Completes a `live` lesson for an enrollment whose student attended its session at or above the
/// threshold (called when the session ends); the enrollment's progress follows.
pub(crate) async fn complete_by_attendance(
    db: &impl Db,
    enrollment_id: i64,
    lesson_id: i64,
    actor: Actor,
) -> Result<()> {
    let txn = db.begin().await?;
    let enrollment = lock(&txn, enrollment_id).await?;
    if !enrollment.status.grants_access() {
        return Ok(());
    }
    insert_completion(&txn, enrollment.id, lesson_id, CompletedVia::Live).await?;
    let why = format!("live lesson {lesson_id} attended");
    settle(&txn, enrollment.id, actor, &why).await?;
    txn.commit().await?;
    Ok(())
}

/// Recomputes one enrollment's progress (inside `txn`, its row locked by the caller) and returns it.
async fn settle(
    txn: &DatabaseTransaction,
    enrollment_id: i64,
    actor: Actor,
    why: &str,
) -> Result<ProgressView> {
    let enrollment = enrollments::Entity::find_by_id(enrollment_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
    let settled = settle_all(txn, enrollment.course_id, vec![enrollment], actor, why).await?;
    settled
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))
}

/// The ids of a course's required published lessons.
async fn required_lessons(txn: &DatabaseTransaction, course_id: i64) -> Result<HashSet<i64>> {
    Ok(lessons::Entity::find()
        .select_only()
        .column(lessons::Column::Id)
        .filter(lessons::Column::CourseId.eq(course_id))
        .filter(lessons::Column::Required.eq(true))
        .filter(lessons::Column::Published.eq(true))
        .filter(lessons::Column::DeletedAt.is_null())
        .into_tuple::<i64>()
        .all(txn)
        .await?
        .into_iter()
        .collect())
}

/// Recomputes the progress of `enrollments` (of one course) from their completions: a change is
/// stored and written to the audit trail; an active enrollment with every required lesson done
/// becomes completed, with its certificate, once. Completed enrollments are never revoked.
async fn settle_all(
    txn: &DatabaseTransaction,
    course_id: i64,
    enrollments: Vec<enrollments::Model>,
    actor: Actor,
    why: &str,
) -> Result<Vec<ProgressView>> {
    let required = required_lessons(txn, course_id).await?;
    let mut done: HashMap<i64, u64> = HashMap::new();
    for chunk in enrollments.chunks(500) {
        let rows: Vec<(i64, i64)> = lesson_completions::Entity::find()
            .select_only()
            .column(lesson_completions::Column::EnrollmentId)
            .column(lesson_completions::Column::LessonId)
            .filter(lesson_completions::Column::EnrollmentId.is_in(chunk.iter().map(|e| e.id)))
            .into_tuple()
            .all(txn)
            .await?;
        for (enrollment_id, lesson_id) in rows {
            if required.contains(&lesson_id) {
                *done.entry(enrollment_id).or_default() += 1;
            }
        }
    }
    let total = required.len() as u64;
    let mut views = Vec::with_capacity(enrollments.len());
    for enrollment in enrollments {
        let completed = done.get(&enrollment.id).copied().unwrap_or(0);
        let percent = (completed * 100).checked_div(total).unwrap_or(0) as i16;
        let mut current = enrollment;
        if current.status == EnrollmentStatus::Active {
            if percent != current.progress_percent {
                current = record_progress(txn, &current, percent, actor, why).await?;
            }
            if total > 0 && completed == total {
                current = complete_with_certificate(
                    txn,
                    &current,
                    actor,
                    "every required lesson completed",
                )
                .await?;
            }
        }
        views.push(progress_view(&current, completed, total));
    }
    Ok(views)
}

/// After the course's required published lessons changed (staff edited the curriculum): every active
/// enrollment's progress, recomputed. Completed ones stay completed.
pub(crate) async fn recompute_course(
    txn: &DatabaseTransaction,
    course_id: i64,
    actor: Actor,
    why: &str,
) -> Result<()> {
    // Lock them all first (a no-op update), so no student's own completion slips in between the
    // read of completions and the write of progress.
    enrollments::Entity::update_many()
        .col_expr(
            enrollments::Column::UpdatedAt,
            Expr::col(enrollments::Column::UpdatedAt),
        )
        .filter(enrollments::Column::CourseId.eq(course_id))
        .filter(enrollments::Column::Status.eq(EnrollmentStatus::Active))
        .exec(txn)
        .await?;
    let active = enrollments::Entity::find()
        .filter(enrollments::Column::CourseId.eq(course_id))
        .filter(enrollments::Column::Status.eq(EnrollmentStatus::Active))
        .all(txn)
        .await?;
    settle_all(txn, course_id, active, actor, why).await?;
    Ok(())
}
