//! Profiles and user administration.
use crate::rules::Text;
use entity::users::{self, UserRole, UserStatus};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::domain::{Errors, PersonName};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::now;
use crate::paging::{Cursors, contains_any, page_limit, split_page};

#[derive(Default)]
pub struct ProfileChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Some(None) clears it.
    pub bio: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub preferences: Option<serde_json::Value>,
}

pub const BIO: Text = Text::up_to(2000);
/// An http(s) URL without white space.
pub const AVATAR_URL: Text = Text::between(8, 2048).pattern(crate::rules::HTTP_URL);
/// The admin list's search text (trimmed).
pub const USER_SEARCH: Text = Text::up_to(100);

/// Preferences are a flat map of settings: at most `MAX_PREFERENCES` keys, each a `PREFERENCE_KEY`, to
/// a string (`PREFERENCE_TEXT`), a number, a boolean or null.
pub const MAX_PREFERENCES: usize = 50;
pub const PREFERENCE_KEY: Text = Text::between(1, 64);
pub const PREFERENCE_TEXT: Text = Text::up_to(500);

fn check_preferences(preferences: &serde_json::Value) -> std::result::Result<(), String> {
    use serde_json::Value;
    let Value::Object(map) = preferences else {
        return Err("must be a JSON object".into());
    };
    if map.len() > MAX_PREFERENCES {
        return Err(format!("must have at most {MAX_PREFERENCES} settings"));
    }
    for (key, value) in map {
        PREFERENCE_KEY
            .check(key)
            .map_err(|message| format!("key {key:?} {message}"))?;
        match value {
            Value::String(text) => PREFERENCE_TEXT
                .check(text)
                .map_err(|message| format!("{key}: {message}"))?,
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
            Value::Array(_) | Value::Object(_) => {
                return Err(format!(
                    "{key}: a setting is a string, a number, a boolean or null"
                ));
            }
        }
    }
    Ok(())
}

/// The schema of `preferences`: what `check_preferences` accepts.
pub fn preferences_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{
        AdditionalProperties, ObjectBuilder, OneOfBuilder, SchemaType, Type,
    };
    let setting = OneOfBuilder::new()
        .item(PREFERENCE_TEXT.schema())
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::Null));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(MAX_PREFERENCES))
        .property_names(Some(PREFERENCE_KEY.schema()))
        .additional_properties(Some(AdditionalProperties::RefOr(
            utoipa::openapi::RefOr::T(setting.build().into()),
        )))
        .build()
}

crate::rule_schemas! {
    bio_schema => BIO, nullable;
    avatar_url_schema => AVATAR_URL, nullable;
    user_search_schema => USER_SEARCH;
}

pub async fn update_profile(
    db: &DatabaseConnection,
    events: &Events,
    user: &users::Model,
    changes: ProfileChanges,
) -> Result<users::Model> {
    let mut errors = Errors::default();
    let mut active = user.clone().into_active_model();
    if let Some(name) = changes
        .first_name
        .and_then(|n| errors.check("first_name", PersonName::parse(&n)))
    {
        active.first_name = Set(name.into_inner());
    }
    if let Some(name) = changes
        .last_name
        .and_then(|n| errors.check("last_name", PersonName::parse(&n)))
    {
        active.last_name = Set(name.into_inner());
    }
    if let Some(bio) = changes.bio {
        if let Some(Err(message)) = bio.as_deref().map(|b| BIO.check(b)) {
            errors.add("bio", message);
        }
        active.bio = Set(bio.map(|b| b.trim().to_string()).filter(|b| !b.is_empty()));
    }
    if let Some(url) = changes.avatar_url {
        let ok = url.as_ref().is_none_or(|u| {
            AVATAR_URL.check(u).is_ok()
                && (u.starts_with("https://") || u.starts_with("http://"))
                && !u.chars().any(char::is_whitespace)
        });
        if !ok {
            errors.add(
                "avatar_url",
                "must be an http(s) URL of at most 2048 characters",
            );
        }
        active.avatar_url = Set(url);
    }
    if let Some(preferences) = changes.preferences {
        if let Err(message) = check_preferences(&preferences) {
            errors.add("preferences", message);
        }
        active.preferences = Set(preferences);
    }
    errors.finish()?;
    let renamed = active.first_name.is_set() || active.last_name.is_set();
    active.updated_at = Set(now());
    let txn = db.begin().await?;
    let user = active.update(&txn).await?;
    if renamed {
        // Chat pages show authors' names: the pages of every course they wrote in are new ones now.
        crate::chat::authors_renamed(&txn, user.id).await?;
    }
    txn.commit().await?;
    // Instances that cached the user for chat (which shows the author's name) read it again.
    events.access_changed(user.id).await;
    Ok(user)
}

#[derive(Default)]
pub struct UserFilter {
    pub role: Option<UserRole>,
    pub status: Option<UserStatus>,
    /// Case-insensitive substring of email, username or names.
    pub q: Option<String>,
    /// Keyset cursor: a `next_cursor` this list returned.
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

/// A page of users in id order, and the cursor of the next page if there is one.
pub async fn list_users(
    db: &DatabaseConnection,
    cursors: &Cursors,
    filter: UserFilter,
) -> Result<(Vec<users::Model>, Option<String>)> {
    let limit = page_limit(filter.limit)?;
    let issued_for = format!("users:{:?}", (filter.role, filter.status, &filter.q));
    let mut query = users::Entity::find().order_by_asc(users::Column::Id);
    if let Some(role) = filter.role {
        query = query.filter(users::Column::Role.eq(role));
    }
    if let Some(status) = filter.status {
        query = query.filter(users::Column::Status.eq(status));
    }
    if let Some(cursor) = filter.cursor.as_deref() {
        let after: i64 = cursors.open(&issued_for, cursor)?;
        query = query.filter(users::Column::Id.gt(after));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        USER_SEARCH
            .check(q)
            .map_err(|message| Error::invalid("q", message))?;
        use users::Column as U;
        query = query.filter(contains_any(
            q,
            &[U::Email, U::Username, U::FirstName, U::LastName],
        ));
    }
    let rows = query.limit(limit + 1).all(db).await?;
    Ok(split_page(rows, limit, |u| {
        cursors.issue(&issued_for, &u.id)
    }))
}

pub struct AdminChanges {
    pub role: Option<UserRole>,
    pub status: Option<UserStatus>,
}

/// Changes a user's role or status. Suspending or deactivating ends all of the user's sessions at once.
pub async fn admin_update(
    db: &DatabaseConnection,
    events: &Events,
    admin: &users::Model,
    user_id: i64,
    changes: AdminChanges,
) -> Result<users::Model> {
    if user_id == admin.id {
        return Err(Error::Conflict(
            "admins cannot change their own role or status".into(),
        ));
    }
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such user".into()))?;
    let txn = db.begin().await?;
    let mut active = user.into_active_model();
    if let Some(role) = changes.role {
        active.role = Set(role);
    }
    let ends_sessions = changes.status.is_some_and(|s| s != UserStatus::Active);
    if let Some(status) = changes.status {
        active.status = Set(status);
    }
    active.updated_at = Set(now());
    let user = active.update(&txn).await?;
    if ends_sessions {
        super::auth::revoke_all_sessions(&txn, user.id, None, "suspended").await?;
    }
    txn.commit().await?;
    events.access_changed(user.id).await;
    tracing::info!(admin_id = admin.id, user_id = user.id, role = ?user.role, status = ?user.status, "user changed by admin");
    Ok(user)
}
