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
        if !preferences.is_object() || preferences.to_string().len() > 8 * 1024 {
            errors.add("preferences", "must be a JSON object of at most 8 KiB");
        }
        active.preferences = Set(preferences);
    }
    errors.finish()?;
    active.updated_at = Set(now());
    let user = active.update(db).await?;
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
