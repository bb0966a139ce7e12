//! Staff edit the curriculum: sections and lessons created, changed, deleted, reordered and moved.
//!
//! Order stays dense and unique under concurrent edits: every change starts by locking the course's
//! row (a no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite), then reads the order,
//! changes it and renumbers 0, 1, 2, ... before it commits. A change to what counts for progress
//! (a required lesson published, unpublished, deleted, made optional...) recomputes the progress of
//! every active enrollment in the same transaction.
use entity::courses::CourseStatus;
use sea_orm::IntoActiveModel;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use serde::Deserialize;

use super::progress::recompute_course;
use super::*;
use crate::courses::find_managed;
use crate::domain::Errors;
use crate::enrollments::Actor;
use crate::now;

/// A section as staff see it after a change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Section {
    pub id: i64,
    pub course_id: i64,
    pub position: i32,
    pub title: String,
}

impl From<course_sections::Model> for Section {
    fn from(s: course_sections::Model) -> Self {
        Section {
            id: s.id,
            course_id: s.course_id,
            position: s.position,
            title: s.title,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSection {
    #[schema(schema_with = section_title_schema)]
    pub title: String,
    /// Where it goes (0 = first); at the end when absent or past the end.
    #[schema(schema_with = position_nullable)]
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionChanges {
    #[schema(schema_with = section_title_schema)]
    pub title: String,
}

/// Where to move a section within its course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionMove {
    /// The new position (0 = first; past the end = last).
    #[schema(schema_with = position_schema)]
    pub position: i64,
}

/// Where to move a lesson: within its section, or into another section of the same course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonMove {
    /// The new position (0 = first; past the end = last).
    #[schema(schema_with = position_schema)]
    pub position: i64,
    /// The section to move into (of the same course); absent to stay in its own.
    pub section_id: Option<i64>,
}

/// A new lesson, by kind: what each kind needs is required by its schema. (`live` lessons are made
/// by scheduling a live session of the course.)
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NewLesson {
    /// A Markdown body; the student marks it done.
    Text(NewTextLesson),
    /// A video; done once 90% of it is covered.
    Video(NewVideoLesson),
    /// An external resource; the student marks it done.
    Link(NewLinkLesson),
}

/// Declares a new-lesson body: its kind's own fields, then the fields every kind has.
macro_rules! new_lesson {
    ($(#[$doc:meta])* $name:ident { $($own:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[schema(schema_with = lesson_title_schema)]
            pub title: String,
            $($own)*
            #[schema(schema_with = estimated_minutes_nullable)]
            pub estimated_minutes: Option<i64>,
            /// Counts for progress (default true).
            pub required: Option<bool>,
            /// Visible to students (default false: a draft).
            pub published: Option<bool>,
            /// Readable by anyone who can see the course (default false).
            pub preview: Option<bool>,
            /// Where it goes in the section (0 = first); at the end when absent.
            #[schema(schema_with = position_nullable)]
            pub position: Option<i64>,
        }

        impl $name {
            fn options(&self) -> LessonOptions {
                LessonOptions {
                    estimated_minutes: self.estimated_minutes,
                    required: self.required,
                    published: self.published,
                    preview: self.preview,
                    position: self.position,
                }
            }
        }
    };
}

new_lesson!(
    /// A text lesson.
    NewTextLesson {
        /// Markdown, stored and served exactly as written.
        #[schema(schema_with = lesson_body_nullable)]
        pub body: Option<String>,
    }
);

new_lesson!(
    /// A video lesson.
    NewVideoLesson {
        #[schema(schema_with = lesson_url_schema)]
        pub url: String,
        #[schema(schema_with = video_seconds_schema)]
        pub duration_seconds: i64,
        /// Notes under the video (Markdown).
        #[schema(schema_with = lesson_body_nullable)]
        pub body: Option<String>,
    }
);

new_lesson!(
    /// A link lesson.
    NewLinkLesson {
        #[schema(schema_with = lesson_url_schema)]
        pub url: String,
        /// What to read there (Markdown).
        #[schema(schema_with = lesson_body_nullable)]
        pub body: Option<String>,
    }
);

/// What every new lesson may say besides its content.
struct LessonOptions {
    estimated_minutes: Option<i64>,
    required: Option<bool>,
    published: Option<bool>,
    preview: Option<bool>,
    position: Option<i64>,
}

/// A new lesson as one shape: kind, title, body, url, video length, options.
type LessonParts = (
    LessonKind,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    LessonOptions,
);

/// `oneOf` the kinds, each a closed object that names its `kind` (serde takes the tag off before the
/// variant's own fields are read, so the variants' derived schemas lack it: it is added here).
impl utoipa::PartialSchema for NewLesson {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
        let variant = |kind: &str, schema: RefOr<Schema>| -> RefOr<Schema> {
            let RefOr::T(Schema::Object(mut object)) = schema else {
                return schema;
            };
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]));
            object.properties.insert("kind".into(), tag.into());
            object.required.insert(0, "kind".into());
            RefOr::T(Schema::Object(object))
        };
        OneOfBuilder::new()
            .item(variant("text", NewTextLesson::schema()))
            .item(variant("video", NewVideoLesson::schema()))
            .item(variant("link", NewLinkLesson::schema()))
            .description(Some(
                "A new lesson, by `kind`: `text` (a Markdown body), `video` (url and duration), \
                 `link` (url). `live` lessons are made by scheduling a live session of the course.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for NewLesson {}

impl NewLesson {
    fn parts(self) -> LessonParts {
        match self {
            NewLesson::Text(l) => {
                let options = l.options();
                (LessonKind::Text, l.title, l.body, None, None, options)
            }
            NewLesson::Video(l) => {
                let options = l.options();
                let (url, seconds) = (Some(l.url), Some(l.duration_seconds));
                (LessonKind::Video, l.title, l.body, url, seconds, options)
            }
            NewLesson::Link(l) => {
                let options = l.options();
                (
                    LessonKind::Link,
                    l.title,
                    l.body,
                    Some(l.url),
                    None,
                    options,
                )
            }
        }
    }
}

/// The `live` lesson of a live session being scheduled, at the end of `section_id` (of the same
/// course; staff), inside the caller's transaction: it counts for progress at once.
pub(crate) async fn create_live_lesson(
    txn: &DatabaseTransaction,
    actor: &users::Model,
    course_id: i64,
    section_id: i64,
    title: &str,
    minutes: i32,
) -> Result<lessons::Model> {
    let section = course_sections::Entity::find_by_id(section_id)
        .one(txn)
        .await?
        .filter(|s| s.course_id == course_id)
        .ok_or_else(|| Error::invalid("section_id", "no such section in this course"))?;
    lock_course(txn, course_id).await?;
    let mut order = lesson_order(txn, section.id).await?;
    let lesson = lessons::ActiveModel {
        course_id: Set(course_id),
        section_id: Set(section.id),
        position: Set(order.len() as i32),
        kind: Set(LessonKind::Live),
        title: Set(title.to_string()),
        body: Set(None),
        url: Set(None),
        duration_seconds: Set(None),
        estimated_minutes: Set(minutes),
        required: Set(true),
        published: Set(true),
        preview: Set(false),
        created_at: Set(now()),
        updated_at: Set(now()),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    order.push(lesson.id);
    renumber_lessons(txn, section.id, &order).await?;
    let why = format!("live lesson {} scheduled", lesson.id);
    recompute_course(txn, course_id, Actor::User(actor.id), &why).await?;
    Ok(lesson)
}

/// Changes to a lesson; absent fields stay. Its kind does not change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonChanges {
    #[schema(schema_with = lesson_title_nullable)]
    pub title: Option<String>,
    #[schema(schema_with = lesson_body_nullable)]
    pub body: Option<String>,
    #[schema(schema_with = lesson_url_nullable)]
    pub url: Option<String>,
    #[schema(schema_with = video_seconds_nullable)]
    pub duration_seconds: Option<i64>,
    #[schema(schema_with = estimated_minutes_nullable)]
    pub estimated_minutes: Option<i64>,
    pub required: Option<bool>,
    pub published: Option<bool>,
    pub preview: Option<bool>,
}

/// Locks the course's row for the rest of `txn`: curriculum edits of one course run one at a time.
async fn lock_course(txn: &DatabaseTransaction, course_id: i64) -> Result<()> {
    courses::Entity::update_many()
        .col_expr(
            courses::Column::UpdatedAt,
            Expr::col(courses::Column::UpdatedAt),
        )
        .filter(courses::Column::Id.eq(course_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Where `requested` lands in a list of `len` (the end when absent or past it).
fn slot(requested: Option<i64>, len: usize) -> usize {
    requested.map_or(len, |p| usize::try_from(p).unwrap_or(0).min(len))
}

async fn section_order(txn: &DatabaseTransaction, course_id: i64) -> Result<Vec<i64>> {
    Ok(course_sections::Entity::find()
        .select_only()
        .column(course_sections::Column::Id)
        .filter(course_sections::Column::CourseId.eq(course_id))
        .order_by_asc(course_sections::Column::Position)
        .order_by_asc(course_sections::Column::Id)
        .into_tuple()
        .all(txn)
        .await?)
}

async fn lesson_order(txn: &DatabaseTransaction, section_id: i64) -> Result<Vec<i64>> {
    Ok(lessons::Entity::find()
        .select_only()
        .column(lessons::Column::Id)
        .filter(lessons::Column::SectionId.eq(section_id))
        .filter(lessons::Column::DeletedAt.is_null())
        .order_by_asc(lessons::Column::Position)
        .order_by_asc(lessons::Column::Id)
        .into_tuple()
        .all(txn)
        .await?)
}

/// Writes positions 0, 1, 2, ... in the order of `ids` (sections).
async fn renumber_sections(txn: &DatabaseTransaction, ids: &[i64]) -> Result<()> {
    for (position, id) in ids.iter().enumerate() {
        course_sections::Entity::update_many()
            .col_expr(
                course_sections::Column::Position,
                Expr::value(position as i32),
            )
            .filter(course_sections::Column::Id.eq(*id))
            .filter(course_sections::Column::Position.ne(position as i32))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Writes positions 0, 1, 2, ... in the order of `ids` (lessons of `section_id`).
async fn renumber_lessons(txn: &DatabaseTransaction, section_id: i64, ids: &[i64]) -> Result<()> {
    for (position, id) in ids.iter().enumerate() {
        lessons::Entity::update_many()
            .col_expr(lessons::Column::Position, Expr::value(position as i32))
            .col_expr(lessons::Column::SectionId, Expr::value(section_id))
            .filter(lessons::Column::Id.eq(*id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// A section of a course `actor` manages (404 when it does not exist for them, 403 when they may see
/// but not edit it).
async fn managed_section(
    db: &impl ConnectionTrait,
    actor: &users::Model,
    id: i64,
) -> Result<course_sections::Model> {
    let section = course_sections::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such section".into()))?;
    find_managed_in(db, actor, section.course_id).await?;
    Ok(section)
}

async fn managed_lesson(
    db: &impl ConnectionTrait,
    actor: &users::Model,
    id: i64,
) -> Result<lessons::Model> {
    let lesson = lessons::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|l| l.deleted_at.is_none())
        .ok_or_else(|| Error::NotFound("no such lesson".into()))?;
    find_managed_in(db, actor, lesson.course_id).await?;
    Ok(lesson)
}

async fn find_managed_in(
    db: &impl ConnectionTrait,
    actor: &users::Model,
    course_id: i64,
) -> Result<courses::Model> {
    let course = crate::courses::find_visible(db, Some(actor), course_id).await?;
    if !can_manage(Some(actor), &course) {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may edit its curriculum".into(),
        ));
    }
    if course.status == CourseStatus::Archived {
        return Err(Error::Conflict("an archived course cannot change".into()));
    }
    Ok(course)
}

pub async fn create_section(
    db: &impl Db,
    actor: &users::Model,
    course_id: i64,
    input: NewSection,
) -> Result<Section> {
    let mut errors = Errors::default();
    if let Err(m) = SECTION_TITLE.check(&input.title) {
        errors.add("title", m);
    }
    if let Some(Err(m)) = input.position.map(|p| POSITION.check(p)) {
        errors.add("position", m);
    }
    errors.finish()?;
    find_managed(db, actor, course_id).await?;
    find_managed_in(db, actor, course_id).await?;
    let txn = db.begin().await?;
    lock_course(&txn, course_id).await?;
    let mut order = section_order(&txn, course_id).await?;
    let at = slot(input.position, order.len());
    let section = course_sections::ActiveModel {
        course_id: Set(course_id),
        position: Set(at as i32),
        title: Set(input.title.trim().to_string()),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    order.insert(at, section.id);
    renumber_sections(&txn, &order).await?;
    txn.commit().await?;
    Ok(section.into())
}

pub async fn update_section(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    changes: SectionChanges,
) -> Result<Section> {
    SECTION_TITLE
        .check(&changes.title)
        .map_err(|m| Error::invalid("title", m))?;
    let section = managed_section(db, actor, id).await?;
    let mut active = section.into_active_model();
    active.title = Set(changes.title.trim().to_string());
    active.updated_at = Set(now());
    Ok(active.update(db).await?.into())
}

/// Deletes an empty section. One that still holds lessons is 409 (move or delete them first); so is
/// one whose deleted lessons students completed (kept for their history; students never see an
/// empty section).
pub async fn delete_section(db: &impl Db, actor: &users::Model, id: i64) -> Result<()> {
    let section = managed_section(db, actor, id).await?;
    let txn = db.begin().await?;
    lock_course(&txn, section.course_id).await?;
    let held: Vec<lessons::Model> = lessons::Entity::find()
        .filter(lessons::Column::SectionId.eq(section.id))
        .all(&txn)
        .await?;
    if held.iter().any(|l| l.deleted_at.is_none()) {
        return Err(Error::Conflict(
            "the section still holds lessons: move or delete them first".into(),
        ));
    }
    let history = lesson_completions::Entity::find()
        .filter(lesson_completions::Column::LessonId.is_in(held.iter().map(|l| l.id)))
        .one(&txn)
        .await?;
    if history.is_some() {
        return Err(Error::Conflict(
            "students completed lessons of this section: it stays, for their history (students do not see empty sections)"
                .into(),
        ));
    }
    course_sections::Entity::delete_by_id(section.id)
        .exec(&txn)
        .await?;
    let order = section_order(&txn, section.course_id).await?;
    renumber_sections(&txn, &order).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn move_section(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    to: SectionMove,
) -> Result<Section> {
    POSITION
        .check(to.position)
        .map_err(|m| Error::invalid("position", m))?;
    let section = managed_section(db, actor, id).await?;
    let txn = db.begin().await?;
    lock_course(&txn, section.course_id).await?;
    let mut order = section_order(&txn, section.course_id).await?;
    order.retain(|s| *s != section.id);
    order.insert(slot(Some(to.position), order.len()), section.id);
    renumber_sections(&txn, &order).await?;
    let moved = course_sections::Entity::find_by_id(section.id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such section".into()))?;
    txn.commit().await?;
    Ok(moved.into())
}

/// The fields a lesson of `kind` needs, checked together; every problem reported at once.
fn check_lesson(kind: LessonKind, lesson: &lessons::Model, errors: &mut Errors) {
    if let Err(m) = LESSON_TITLE.check(&lesson.title) {
        errors.add("title", m);
    }
    if let Some(Err(m)) = lesson.body.as_deref().map(|b| LESSON_BODY.check(b)) {
        errors.add("body", m);
    }
    if let Some(Err(m)) = lesson.url.as_deref().map(|u| LESSON_URL.check(u)) {
        errors.add("url", "must be an http(s) URL of at most 2048 characters");
        let _ = m;
    }
    if let Some(Err(m)) = lesson
        .duration_seconds
        .map(|d| VIDEO_SECONDS.check(d.into()))
    {
        errors.add("duration_seconds", m);
    }
    if let Err(m) = ESTIMATED_MINUTES.check(lesson.estimated_minutes.into()) {
        errors.add("estimated_minutes", m);
    }
    match kind {
        LessonKind::Text => {
            if lesson.url.is_some() {
                errors.add("url", "text lessons have a body, not a url");
            }
        }
        LessonKind::Video => {
            if lesson.url.is_none() {
                errors.add("url", "a video lesson needs the video's url");
            }
            if lesson.duration_seconds.is_none() {
                errors.add("duration_seconds", "a video lesson needs its length");
            }
        }
        LessonKind::Link => {
            if lesson.url.is_none() {
                errors.add("url", "a link lesson needs the resource's url");
            }
        }
        // Made with their live session (which holds the time and the room).
        LessonKind::Live => {
            if lesson.url.is_some() || lesson.duration_seconds.is_some() {
                errors.add("url", "a live lesson's session holds its time and room");
            }
        }
    }
}

/// Whether a lesson counts for progress.
fn counts(lesson: &lessons::Model) -> bool {
    lesson.required && lesson.published && lesson.deleted_at.is_none()
}

fn int(value: Option<i64>, field: &str, errors: &mut Errors) -> Option<i32> {
    value.and_then(|v| match i32::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.add(field, "is out of range");
            None
        }
    })
}

pub async fn create_lesson(
    db: &impl Db,
    actor: &users::Model,
    section_id: i64,
    input: NewLesson,
) -> Result<LessonView> {
    let section = managed_section(db, actor, section_id).await?;
    let (kind, title, body, url, seconds, options) = input.parts();
    let mut errors = Errors::default();
    let draft = lessons::Model {
        id: 0,
        course_id: section.course_id,
        section_id: section.id,
        position: 0,
        kind,
        title: title.trim().to_string(),
        body,
        url,
        duration_seconds: int(seconds, "duration_seconds", &mut errors),
        estimated_minutes: int(options.estimated_minutes, "estimated_minutes", &mut errors)
            .unwrap_or(0),
        required: options.required.unwrap_or(true),
        published: options.published.unwrap_or(false),
        preview: options.preview.unwrap_or(false),
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
    };
    if let Some(Err(m)) = options.position.map(|p| POSITION.check(p)) {
        errors.add("position", m);
    }
    check_lesson(kind, &draft, &mut errors);
    errors.finish()?;
    let txn = db.begin().await?;
    lock_course(&txn, section.course_id).await?;
    let mut order = lesson_order(&txn, section.id).await?;
    let at = slot(options.position, order.len());
    let mut active = draft.into_active_model();
    active.id = sea_orm::ActiveValue::NotSet;
    active.position = Set(at as i32);
    let lesson = active.insert(&txn).await?;
    order.insert(at, lesson.id);
    renumber_lessons(&txn, section.id, &order).await?;
    if counts(&lesson) {
        let why = format!("required lesson {} published", lesson.id);
        recompute_course(&txn, lesson.course_id, Actor::User(actor.id), &why).await?;
    }
    let lesson = lessons::Entity::find_by_id(lesson.id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such lesson".into()))?;
    txn.commit().await?;
    Ok(lesson_view(lesson, None))
}

pub async fn update_lesson(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    changes: LessonChanges,
) -> Result<LessonView> {
    let before = managed_lesson(db, actor, id).await?;
    let mut errors = Errors::default();
    let mut after = before.clone();
    if let Some(title) = changes.title {
        after.title = title.trim().to_string();
    }
    if let Some(body) = changes.body {
        after.body = Some(body).filter(|b| !b.is_empty());
    }
    if let Some(url) = changes.url {
        after.url = Some(url);
    }
    if let Some(seconds) = int(changes.duration_seconds, "duration_seconds", &mut errors) {
        after.duration_seconds = Some(seconds);
    }
    if let Some(minutes) = int(changes.estimated_minutes, "estimated_minutes", &mut errors) {
        after.estimated_minutes = minutes;
    }
    after.required = changes.required.unwrap_or(after.required);
    after.published = changes.published.unwrap_or(after.published);
    after.preview = changes.preview.unwrap_or(after.preview);
    after.updated_at = now();
    check_lesson(after.kind, &after, &mut errors);
    errors.finish()?;
    let txn = db.begin().await?;
    lock_course(&txn, before.course_id).await?;
    let mut active = before.clone().into_active_model();
    active.title = Set(after.title.clone());
    active.body = Set(after.body.clone());
    active.url = Set(after.url.clone());
    active.duration_seconds = Set(after.duration_seconds);
    active.estimated_minutes = Set(after.estimated_minutes);
    active.required = Set(after.required);
    active.published = Set(after.published);
    active.preview = Set(after.preview);
    active.updated_at = Set(after.updated_at);
    let lesson = active.update(&txn).await?;
    if counts(&before) != counts(&lesson) {
        let why = format!(
            "lesson {} {}",
            lesson.id,
            if counts(&lesson) {
                "now counts (required and published)"
            } else {
                "no longer counts (optional or unpublished)"
            }
        );
        recompute_course(&txn, lesson.course_id, Actor::User(actor.id), &why).await?;
    }
    txn.commit().await?;
    Ok(lesson_view(lesson, None))
}

/// Deletes a lesson: it leaves the curriculum, students' completions of it stay in their history,
/// and active enrollments' progress is recomputed without it.
pub async fn delete_lesson(db: &impl Db, actor: &users::Model, id: i64) -> Result<()> {
    let lesson = managed_lesson(db, actor, id).await?;
    let txn = db.begin().await?;
    lock_course(&txn, lesson.course_id).await?;
    lessons::Entity::update_many()
        .col_expr(lessons::Column::DeletedAt, Expr::value(now()))
        .filter(lessons::Column::Id.eq(lesson.id))
        .exec(&txn)
        .await?;
    let order = lesson_order(&txn, lesson.section_id).await?;
    renumber_lessons(&txn, lesson.section_id, &order).await?;
    if counts(&lesson) {
        let why = format!("required lesson {} deleted", lesson.id);
        recompute_course(&txn, lesson.course_id, Actor::User(actor.id), &why).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Moves a lesson within its section, or into another section of the same course.
pub async fn move_lesson(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    to: LessonMove,
) -> Result<LessonView> {
    POSITION
        .check(to.position)
        .map_err(|m| Error::invalid("position", m))?;
    let lesson = managed_lesson(db, actor, id).await?;
    let target = match to.section_id {
        Some(section_id) if section_id != lesson.section_id => {
            let target = course_sections::Entity::find_by_id(section_id)
                .one(db)
                .await?
                .filter(|s| s.course_id == lesson.course_id)
                .ok_or_else(|| {
                    Error::invalid("section_id", "no such section in this lesson's course")
                })?;
            target.id
        }
        _ => lesson.section_id,
    };
    let txn = db.begin().await?;
    lock_course(&txn, lesson.course_id).await?;
    // Read where it is now, under the lock: a concurrent move may have changed it.
    let current = lessons::Entity::find_by_id(lesson.id)
        .one(&txn)
        .await?
        .filter(|l| l.deleted_at.is_none())
        .ok_or_else(|| Error::NotFound("no such lesson".into()))?;
    let mut source = lesson_order(&txn, current.section_id).await?;
    source.retain(|l| *l != current.id);
    if target == current.section_id {
        source.insert(slot(Some(to.position), source.len()), current.id);
        renumber_lessons(&txn, target, &source).await?;
    } else {
        let mut destination = lesson_order(&txn, target).await?;
        destination.insert(slot(Some(to.position), destination.len()), current.id);
        renumber_lessons(&txn, current.section_id, &source).await?;
        renumber_lessons(&txn, target, &destination).await?;
    }
    let moved = lessons::Entity::find_by_id(lesson.id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such lesson".into()))?;
    txn.commit().await?;
    Ok(lesson_view(moved, None))
}
