//! The curriculum: a course's ordered sections of ordered lessons, what each viewer may see of it,
//! and progress earned by completing lessons (`progress`), edited by staff (`edit`).
//!
//! Who sees what: the course's staff (its instructor, admins) everything, drafts included; a student
//! whose enrollment grants access (active or completed) the published lessons with their own
//! completion state and progress; anyone else, on a course they can see, the published outline
//! (titles, kinds, durations) with bodies only of preview lessons.
use std::collections::{HashMap, HashSet};

use entity::course_sections;
use entity::courses;
use entity::enrollments;
use entity::lesson_completions::{self, CompletedVia};
use entity::lessons::{self, LessonKind};
use entity::users;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use crate::courses::{can_manage, can_view};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::rules::{Range, Text, enum_of, nullable_enum_of};

mod edit;
mod progress;
pub mod video;

pub(crate) use edit::create_live_lesson;
pub use edit::*;
pub(crate) use progress::complete_by_attendance;
pub use progress::*;

pub const SECTION_TITLE: Text = Text::between(1, 200);
pub const LESSON_TITLE: Text = Text::between(1, 200);
pub const LESSON_BODY: Text = Text::up_to(100_000);
pub const LESSON_URL: Text = Text::between(8, 2048).pattern(crate::rules::HTTP_URL);
pub const VIDEO_SECONDS: Range = Range::new(1, 86_400);
pub const ESTIMATED_MINUTES: Range = Range::new(0, 10_000);
pub const POSITION: Range = Range::new(0, 10_000);

crate::rule_schemas! {
    section_title_schema => SECTION_TITLE;
    lesson_title_schema => LESSON_TITLE;
    lesson_title_nullable => LESSON_TITLE, nullable;
    lesson_body_nullable => LESSON_BODY, nullable;
    lesson_url_schema => LESSON_URL;
    lesson_url_nullable => LESSON_URL, nullable;
    video_seconds_schema => VIDEO_SECONDS;
    video_seconds_nullable => VIDEO_SECONDS, nullable;
    estimated_minutes_nullable => ESTIMATED_MINUTES, nullable;
    position_schema => POSITION;
    position_nullable => POSITION, nullable;
}

/// Who is looking at a course's curriculum.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// Its instructor or an admin: everything, drafts included.
    Staff,
    /// A student whose enrollment grants access.
    Student(Box<enrollments::Model>),
    /// Anyone else who may see the course (signed in or not).
    Public,
}

impl Viewer {
    fn sees(&self, lesson: &lessons::Model) -> bool {
        lesson.deleted_at.is_none() && (matches!(self, Viewer::Staff) || lesson.published)
    }

    /// Whether the viewer may read the whole of `lesson` (body and URL).
    fn reads(&self, lesson: &lessons::Model) -> bool {
        self.sees(lesson) && (lesson.preview || !matches!(self, Viewer::Public))
    }
}

/// The course and how `user` sees it; 404 when the course does not exist for them.
pub async fn viewer_of(
    db: &impl ConnectionTrait,
    user: Option<&users::Model>,
    course_id: i64,
) -> Result<(courses::Model, Viewer)> {
    let not_found = || Error::NotFound("no such course".into());
    let course = courses::Entity::find_by_id(course_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if can_manage(user, &course) {
        return Ok((course, Viewer::Staff));
    }
    if let Some(user) = user {
        let enrollment = enrollments::Entity::find()
            .filter(enrollments::Column::CourseId.eq(course.id))
            .filter(enrollments::Column::UserId.eq(user.id))
            .one(db)
            .await?;
        if let Some(enrollment) = enrollment.filter(|e| e.status.grants_access()) {
            return Ok((course, Viewer::Student(Box::new(enrollment))));
        }
    }
    if can_view(user, &course) && course.status == courses::CourseStatus::Published {
        Ok((course, Viewer::Public))
    } else {
        Err(not_found())
    }
}

/// One lesson in the outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonSummary {
    pub id: i64,
    pub section_id: i64,
    pub position: i32,
    #[schema(schema_with = enum_of::<LessonKind>)]
    pub kind: LessonKind,
    pub title: String,
    pub required: bool,
    /// Always true except for staff, who also see drafts.
    pub published: bool,
    pub preview: bool,
    pub estimated_minutes: i32,
    /// Video lessons: the video's length.
    pub duration_seconds: Option<i32>,
    /// Markdown as written, for preview lessons (or whoever may read the lesson); null otherwise.
    pub body: Option<String>,
    /// The video or resource, for preview lessons (or whoever may read the lesson); null otherwise.
    pub url: Option<String>,
    /// For an enrolled student: whether they completed it; null for anyone else.
    pub completed: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectionView {
    pub id: i64,
    pub position: i32,
    pub title: String,
    pub lessons: Vec<LessonSummary>,
}

/// An enrolled student's progress in a course, computed by the server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressView {
    pub enrollment_id: i64,
    /// `active` or `completed`.
    #[schema(schema_with = enum_of::<enrollments::EnrollmentStatus>)]
    pub status: enrollments::EnrollmentStatus,
    /// Completed required published lessons / required published lessons (0 when there are none).
    pub percent: i16,
    pub completed_required: u64,
    pub required_total: u64,
    pub certificate_code: Option<String>,
}

/// A course's outline as the caller may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outline {
    pub course_id: i64,
    pub sections: Vec<SectionView>,
    /// The caller's progress when they are enrolled; null otherwise.
    pub progress: Option<ProgressView>,
}

fn summary(viewer: &Viewer, lesson: &lessons::Model, done: &HashSet<i64>) -> LessonSummary {
    let readable = viewer.reads(lesson);
    LessonSummary {
        id: lesson.id,
        section_id: lesson.section_id,
        position: lesson.position,
        kind: lesson.kind,
        title: lesson.title.clone(),
        required: lesson.required,
        published: lesson.published,
        preview: lesson.preview,
        estimated_minutes: lesson.estimated_minutes,
        duration_seconds: lesson.duration_seconds,
        body: readable.then(|| lesson.body.clone()).flatten(),
        url: readable.then(|| lesson.url.clone()).flatten(),
        completed: matches!(viewer, Viewer::Student(_)).then(|| done.contains(&lesson.id)),
    }
}

/// The outline, from a fixed number of queries whatever the number of lessons: the course (and the
/// caller's enrollment), the sections, the lessons, the caller's completions.
pub async fn outline(
    db: &impl ConnectionTrait,
    user: Option<&users::Model>,
    course_id: i64,
) -> Result<Outline> {
    let (course, viewer) = viewer_of(db, user, course_id).await?;
    let sections = course_sections::Entity::find()
        .filter(course_sections::Column::CourseId.eq(course.id))
        .order_by_asc(course_sections::Column::Position)
        .all(db)
        .await?;
    let lessons = lessons::Entity::find()
        .filter(lessons::Column::CourseId.eq(course.id))
        .filter(lessons::Column::DeletedAt.is_null())
        .order_by_asc(lessons::Column::Position)
        .all(db)
        .await?;
    let done: HashSet<i64> = match &viewer {
        Viewer::Student(enrollment) => completed_lessons(db, enrollment.id).await?,
        _ => HashSet::new(),
    };
    let mut by_section: HashMap<i64, Vec<LessonSummary>> = HashMap::new();
    for lesson in lessons.iter().filter(|l| viewer.sees(l)) {
        by_section
            .entry(lesson.section_id)
            .or_default()
            .push(summary(&viewer, lesson, &done));
    }
    let sections = sections
        .into_iter()
        .map(|s| SectionView {
            lessons: by_section.remove(&s.id).unwrap_or_default(),
            id: s.id,
            position: s.position,
            title: s.title,
        })
        // A section with nothing published is an empty heading to students: staff only.
        .filter(|s| matches!(viewer, Viewer::Staff) || !s.lessons.is_empty())
        .collect();
    let progress = match viewer {
        Viewer::Student(enrollment) => {
            let (completed_required, required_total) = required_counts(&lessons, &done);
            Some(progress_view(
                &enrollment,
                completed_required,
                required_total,
            ))
        }
        _ => None,
    };
    Ok(Outline {
        course_id: course.id,
        sections,
        progress,
    })
}

/// (completed, total) required published lessons among `lessons` (the course's, not deleted).
fn required_counts(lessons: &[lessons::Model], done: &HashSet<i64>) -> (u64, u64) {
    let required: Vec<_> = lessons
        .iter()
        .filter(|l| l.required && l.published && l.deleted_at.is_none())
        .collect();
    let completed = required.iter().filter(|l| done.contains(&l.id)).count();
    (completed as u64, required.len() as u64)
}

fn progress_view(enrollment: &enrollments::Model, completed: u64, total: u64) -> ProgressView {
    ProgressView {
        enrollment_id: enrollment.id,
        status: enrollment.status,
        percent: enrollment.progress_percent,
        completed_required: completed,
        required_total: total,
        certificate_code: enrollment.certificate_code.clone(),
    }
}

async fn completed_lessons(db: &impl ConnectionTrait, enrollment_id: i64) -> Result<HashSet<i64>> {
    Ok(lesson_completions::Entity::find()
        .filter(lesson_completions::Column::EnrollmentId.eq(enrollment_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.lesson_id)
        .collect())
}

/// A whole lesson.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonView {
    pub id: i64,
    pub course_id: i64,
    pub section_id: i64,
    pub position: i32,
    #[schema(schema_with = enum_of::<LessonKind>)]
    pub kind: LessonKind,
    pub title: String,
    /// Markdown, exactly as written (never rendered to HTML by the API).
    pub body: Option<String>,
    pub url: Option<String>,
    pub duration_seconds: Option<i32>,
    pub estimated_minutes: i32,
    pub required: bool,
    pub published: bool,
    pub preview: bool,
    /// For an enrolled student: whether they completed it, how, and their video coverage.
    pub completion: Option<LessonCompletion>,
}

/// An enrolled student's state on one lesson.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonCompletion {
    pub completed: bool,
    /// How it was completed (`student`, `video`, `live`), when it was.
    #[schema(schema_with = nullable_enum_of::<CompletedVia>)]
    pub via: Option<CompletedVia>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Video lessons: seconds covered so far, and the last reported position.
    pub covered_seconds: Option<i32>,
    pub last_position_seconds: Option<i32>,
}

/// One lesson for `user`: whole for staff and enrolled students (published lessons), preview lessons
/// for anyone who may see the course; 403 for a lesson the caller could enroll to read; 404 otherwise.
pub async fn lesson(
    db: &impl ConnectionTrait,
    user: Option<&users::Model>,
    id: i64,
) -> Result<LessonView> {
    let not_found = || Error::NotFound("no such lesson".into());
    let lesson = lessons::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let (_, viewer) = viewer_of(db, user, lesson.course_id)
        .await
        .map_err(|_| not_found())?;
    if !viewer.sees(&lesson) {
        return Err(not_found());
    }
    if !viewer.reads(&lesson) {
        return Err(Error::Forbidden(
            "enroll in the course to read this lesson".into(),
        ));
    }
    let completion = match &viewer {
        Viewer::Student(enrollment) => Some(completion_of(db, enrollment.id, lesson.id).await?),
        _ => None,
    };
    Ok(lesson_view(lesson, completion))
}

pub(crate) fn lesson_view(
    lesson: lessons::Model,
    completion: Option<LessonCompletion>,
) -> LessonView {
    LessonView {
        id: lesson.id,
        course_id: lesson.course_id,
        section_id: lesson.section_id,
        position: lesson.position,
        kind: lesson.kind,
        title: lesson.title,
        body: lesson.body,
        url: lesson.url,
        duration_seconds: lesson.duration_seconds,
        estimated_minutes: lesson.estimated_minutes,
        required: lesson.required,
        published: lesson.published,
        preview: lesson.preview,
        completion,
    }
}

async fn completion_of(
    db: &impl ConnectionTrait,
    enrollment_id: i64,
    lesson_id: i64,
) -> Result<LessonCompletion> {
    let done = lesson_completions::Entity::find_by_id((enrollment_id, lesson_id))
        .one(db)
        .await?;
    let video = entity::video_progress::Entity::find_by_id((enrollment_id, lesson_id))
        .one(db)
        .await?;
    Ok(LessonCompletion {
        completed: done.is_some(),
        via: done.as_ref().map(|d| d.via),
        completed_at: done.map(|d| d.completed_at),
        covered_seconds: video.as_ref().map(|v| v.covered_seconds),
        last_position_seconds: video.map(|v| v.last_position_seconds),
    })
}
