//! Legacy users: one account per person (emails that differ only in case are merged, the oldest
//! wins), usernames that fit this LMS's rules and stay unique (renamed deterministically), bcrypt
//! hashes kept (upgraded to argon2id at the first sign-in), enabled TOTP secrets and unused backup
//! codes kept, soft-deleted users kept as accounts that cannot sign in.
use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::recovery_codes;
use entity::users::{self, SocialProvider, UserRole, UserStatus};
use lms_core::domain::{Email, Username};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JsonValue,
    QueryFilter, Set,
};

use crate::legacy::{self, USER_IDENTITIES, UserIdentity};
use crate::report::{Outcome, TableReport};
use crate::target::{self, TakenUsers};
use crate::{Decided, Ids, Job, TargetId};

pub const TABLE: &str = "users";

/// What the first pass decided for a legacy user.
enum Identity {
    /// Imported as its own account, with this username (and the reason it was renamed, if it was).
    Own {
        email: String,
        username: String,
        renamed: Option<String>,
    },
    /// Folded into the account of an older legacy user with the same email.
    IntoLegacy(i32),
    /// Folded into an account this LMS already had (not from an import).
    IntoExisting(i64),
    Skip(String),
}

/// A username that fits this LMS's rules, from a legacy one that may not: lower-cased, other
/// characters as `_`, starting with a letter or digit, 3 to 30 characters.
fn fitted_username(raw: &str, legacy_id: i32) -> String {
    if let Ok(name) = Username::parse(raw) {
        return name.as_str().to_string();
    }
    let mapped: String = raw
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name: String = trimmed.chars().take(30).collect();
    if name.len() < 3 {
        name = format!("user{legacy_id}");
    }
    name
}

/// `name` with `-<legacy id>` (and a counter if even that is taken), within 30 characters.
fn unique_username(name: &str, legacy_id: i32, taken: &TakenUsers) -> String {
    (0..)
        .map(|n| {
            let suffix = if n == 0 {
                format!("-{legacy_id}")
            } else {
                format!("-{legacy_id}-{n}")
            };
            let keep = 30usize.saturating_sub(suffix.len());
            format!("{}{suffix}", &name[..name.len().min(keep)])
        })
        .find(|candidate| !taken.username.contains(candidate))
        .expect("an unbounded search finds a free name")
}

/// The first pass: every legacy user's identity, oldest first.
async fn identities(
    job: &Job<'_>,
    mapped: &HashMap<i64, target::Mapped>,
    taken: &mut TakenUsers,
) -> anyhow::Result<HashMap<i32, Identity>> {
    let all: Vec<UserIdentity> = job.legacy.rows(USER_IDENTITIES, vec![]).await?;
    // Accounts created by earlier runs of the importer, by target id.
    let imported: HashMap<i64, i64> = mapped
        .iter()
        .filter_map(|(legacy, m)| m.created().map(|t| (t, *legacy)))
        .collect();
    let mut owner_of_email: HashMap<String, i32> = HashMap::new();
    let mut out = HashMap::with_capacity(all.len());
    for user in all {
        let Ok(email) = Email::parse(&user.email) else {
            out.insert(
                user.id,
                Identity::Skip("email is not a valid address".into()),
            );
            continue;
        };
        let email = email.as_str().to_string();
        if let Some(older) = owner_of_email.get(&email) {
            out.insert(user.id, Identity::IntoLegacy(*older));
            continue;
        }
        if let Some(&existing) = taken.email.get(&email)
            && imported.get(&existing) != Some(&i64::from(user.id))
        {
            out.insert(user.id, Identity::IntoExisting(existing));
            continue;
        }
        owner_of_email.insert(email.clone(), user.id);
        let already = mapped.get(&i64::from(user.id)).and_then(|m| m.created());
        let identity = if already.is_some() {
            // Imported before: its username in this LMS stays what it is.
            Identity::Own {
                email,
                username: String::new(),
                renamed: None,
            }
        } else {
            let fitted = fitted_username(&user.username, user.id);
            let mut renamed = (fitted != user.username.to_ascii_lowercase()
                || Username::parse(&user.username).is_err())
            .then(|| "username breaks this LMS's rules (3-30 of a-z 0-9 _ . -)".to_string());
            let username = if taken.username.contains(&fitted) {
                renamed = Some("username taken by another account once lower-cased".into());
                unique_username(&fitted, user.id, taken)
            } else {
                fitted
            };
            taken.username.insert(username.clone());
            if let Some(why) = &mut renamed {
                *why = format!("{why}: {:?} -> {username:?}", user.username);
            }
            Identity::Own {
                email,
                username,
                renamed,
            }
        };
        out.insert(user.id, identity);
    }
    Ok(out)
}

/// Imports (or, for `plan`, decides) every legacy user.
pub async fn import(job: &mut Job<'_>, ids: &mut Ids) -> anyhow::Result<TableReport> {
    let mut report = TableReport {
        found: u64::try_from(job.legacy.count(TABLE).await?).unwrap_or_default(),
        ..TableReport::default()
    };
    job.start(TABLE, report.found);
    let mapped = target::mapped(job.target, TABLE).await?;
    let mut taken = target::taken_users(job.target).await?;
    let identities = identities(job, &mapped, &mut taken).await?;
    let mut after: Option<(DateTime<Utc>, i32)> = None;
    loop {
        let (sql, values) = legacy::in_original_order(legacy::USERS, after, legacy::PAGE as i64);
        let page: Vec<legacy::User> = job.legacy.rows(&sql, values).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id));
        let txn = job.begin().await?;
        let mut records = Vec::new();
        let mut new_users: Vec<(&legacy::User, String, Fields, users::ActiveModel)> = Vec::new();
        // Accounts merged into an older one come after the page's new accounts are written.
        let merged_later =
            |u: &&legacy::User| matches!(identities.get(&u.id), Some(Identity::IntoLegacy(_)));
        let (later, first): (Vec<&legacy::User>, Vec<&legacy::User>) =
            page.iter().partition(merged_later);
        for (n, user) in first.iter().chain(later.iter()).enumerate() {
            if n == first.len()
                && let Some(txn) = &txn
            {
                insert_new(
                    txn,
                    job,
                    std::mem::take(&mut new_users),
                    &mut taken,
                    &mut report,
                    &mut records,
                    &mut ids.users,
                )
                .await?;
            }
            let checksum = legacy::checksum(user);
            let previous = mapped.get(&i64::from(user.id));
            let identity = identities
                .get(&user.id)
                .context("a user appeared after the first pass (the snapshot should prevent it)")?;
            let (outcome, target_id, reason) = match identity {
                Identity::Skip(reason) => (Outcome::Skipped, None, Some(reason.clone())),
                Identity::IntoLegacy(older) => match ids.users.get(&i64::from(*older)) {
                    Some(t) => (
                        Outcome::Merged,
                        Some(*t),
                        Some(format!(
                            "email differs only in case or spaces from older legacy user {older}"
                        )),
                    ),
                    None => (
                        Outcome::Skipped,
                        None,
                        Some(format!(
                            "its email's older account (legacy user {older}) was skipped"
                        )),
                    ),
                },
                Identity::IntoExisting(t) => (
                    Outcome::Merged,
                    Some(TargetId::Existing(*t)),
                    Some("email belongs to an account this LMS already had".into()),
                ),
                Identity::Own {
                    email,
                    username,
                    renamed,
                } => {
                    let existing = previous.and_then(|p| p.created());
                    let unchanged = previous.is_some_and(|p| p.checksum == checksum);
                    let fields = fields(user, email, &mut report);
                    let outcome = match (existing, unchanged) {
                        (Some(_), true) => Outcome::Unchanged,
                        (Some(_), false) => Outcome::Updated,
                        (None, _) => Outcome::Created,
                    };
                    match fields {
                        Err(reason) => (Outcome::Skipped, None, Some(reason)),
                        Ok(fields) => {
                            if outcome == Outcome::Created
                                && let Some(why) = renamed
                            {
                                report.rename(i64::from(user.id), why.clone());
                            }
                            let target = match (&txn, outcome) {
                                (_, Outcome::Unchanged) => {
                                    TargetId::Existing(existing.expect("unchanged rows exist"))
                                }
                                (None, Outcome::Updated) => {
                                    TargetId::Existing(existing.expect("updated rows exist"))
                                }
                                (None, _) => TargetId::Planned(i64::from(user.id)),
                                (Some(txn), Outcome::Updated) => {
                                    let id = existing.expect("updated rows exist");
                                    update(txn, id, fields, &mut taken).await?;
                                    TargetId::Existing(id)
                                }
                                (Some(_), _) => {
                                    let mut fields = fields;
                                    let model =
                                        prepare(username, &mut fields, &mut taken, &mut report);
                                    new_users.push((user, checksum, fields, model));
                                    continue;
                                }
                            };
                            (outcome, Some(target), None)
                        }
                    }
                }
            };
            let decided = Decided {
                legacy_id: i64::from(user.id),
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
                    &mut ids.users,
                )
                .await?;
        }
        if let Some(txn) = txn {
            insert_new(
                &txn,
                job,
                new_users,
                &mut taken,
                &mut report,
                &mut records,
                &mut ids.users,
            )
            .await?;
            target::record_all(&txn, std::mem::take(&mut records)).await?;
            txn.commit().await?;
        }
        job.progress(page.len());
    }
    Ok(report)
}

/// The account's row for a new user; its phone and social account are taken from now on (by a
/// placeholder until the row has its id), so that a later row of the page does not take them too.
fn prepare(
    username: &str,
    fields: &mut Fields,
    taken: &mut TakenUsers,
    report: &mut TableReport,
) -> users::ActiveModel {
    without_taken(fields, None, taken, Some(report));
    remember(taken, 0, fields);
    let mut active = users::ActiveModel {
        username: Set(username.to_string()),
        two_factor_enabled: Set(false),
        ..Default::default()
    };
    apply(&mut active, fields);
    active
}

/// Writes the page's new accounts (one statement where the database allows), then their second
/// factor and recovery codes, and settles them.
#[allow(clippy::too_many_arguments)]
async fn insert_new(
    txn: &sea_orm::DatabaseTransaction,
    job: &Job<'_>,
    new_users: Vec<(&legacy::User, String, Fields, users::ActiveModel)>,
    taken: &mut TakenUsers,
    report: &mut TableReport,
    records: &mut Vec<entity::import_map::ActiveModel>,
    ids: &mut HashMap<i64, TargetId>,
) -> anyhow::Result<()> {
    let models = new_users.iter().map(|(_, _, _, m)| m.clone()).collect();
    let rows = target::insert_all(txn, models)
        .await
        .context("inserting a page of legacy users")?;
    for (row, (user, checksum, fields, _)) in rows.iter().zip(&new_users) {
        remember(taken, row.id, fields);
        if let Some((secret, codes)) = &fields.two_factor {
            second_factor(txn, job, row.id, secret, codes, fields.updated_at, report).await?;
        }
        Decided {
            legacy_id: i64::from(user.id),
            outcome: Outcome::Created,
            target: Some(TargetId::Existing(row.id)),
            reason: None,
        }
        .settle(Some(records), TABLE, checksum, report, ids)
        .await?;
    }
    Ok(())
}

/// The columns of the account that follow the legacy row (not its identity: email and username).
struct Fields {
    email: String,
    password_hash: Option<String>,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    avatar_url: Option<String>,
    bio: Option<String>,
    role: UserRole,
    status: UserStatus,
    email_verified_at: Option<DateTime<Utc>>,
    social: Option<(SocialProvider, String)>,
    preferences: JsonValue,
    metadata: JsonValue,
    last_login_at: Option<DateTime<Utc>>,
    failed_login_attempts: i32,
    locked_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// An enabled TOTP secret (raw bytes) and the unused backup codes.
    two_factor: Option<(Vec<u8>, Vec<String>)>,
}

const BCRYPT_PREFIXES: [&str; 3] = ["$2a$", "$2b$", "$2y$"];

/// The account's columns from the legacy row, counting each value mapping; `Err` is a skip reason.
fn fields(user: &legacy::User, email: &str, report: &mut TableReport) -> Result<Fields, String> {
    let role = match user.role.as_str() {
        "student" => UserRole::Student,
        "instructor" => UserRole::Instructor,
        "admin" => UserRole::Admin,
        other => {
            return Err(format!(
                "role {other:?} is not one the legacy schema declares"
            ));
        }
    };
    let mut status = match user.status.as_str() {
        "active" => UserStatus::Active,
        "pending" => {
            report.mapped("status pending -> active (the email flag says whether it was verified)");
            UserStatus::Active
        }
        "inactive" => {
            report.mapped("status inactive -> deactivated");
            UserStatus::Deactivated
        }
        "suspended" => UserStatus::Suspended,
        "banned" => {
            report.mapped("status banned -> suspended");
            UserStatus::Suspended
        }
        other => {
            return Err(format!(
                "status {other:?} is not one the legacy schema declares"
            ));
        }
    };
    if user.deleted_at.is_some() && status != UserStatus::Deactivated {
        report.mapped("soft-deleted (deletedAt) -> deactivated: cannot sign in, keeps its history");
        status = UserStatus::Deactivated;
    }
    let password_hash = match user.password.as_deref() {
        None => None,
        Some(hash) if BCRYPT_PREFIXES.iter().any(|p| hash.starts_with(p)) => Some(hash.to_string()),
        Some(_) => {
            report.mapped("password not a bcrypt hash -> no password (sign in after a reset)");
            None
        }
    };
    let name = |raw: &Option<String>, which: &str, report: &mut TableReport| {
        let trimmed = raw.as_deref().map(str::trim).unwrap_or_default();
        if trimmed.is_empty() {
            report.mapped(&format!("no {which} name -> empty"));
        }
        trimmed.chars().take(100).collect::<String>()
    };
    let first_name = name(&user.first_name, "first", report);
    let last_name = name(&user.last_name, "last", report);
    let social = match (user.social_provider.as_deref(), user.social_id.as_deref()) {
        (Some(p), Some(id)) if !id.is_empty() => Some((
            match p {
                "google" => SocialProvider::Google,
                "facebook" => SocialProvider::Facebook,
                "github" => SocialProvider::Github,
                other => {
                    return Err(format!(
                        "social provider {other:?} is not one the legacy schema declares"
                    ));
                }
            },
            id.to_string(),
        )),
        (Some(_), _) => {
            report.mapped("social provider without an account id -> no social sign-in");
            None
        }
        _ => None,
    };
    let object = |value: &Option<JsonValue>, what: &str, report: &mut TableReport| match value {
        Some(JsonValue::Object(map)) => JsonValue::Object(map.clone()),
        None | Some(JsonValue::Null) => serde_json::json!({}),
        Some(_) => {
            report.mapped(&format!("{what} not a JSON object -> {{}}"));
            serde_json::json!({})
        }
    };
    let two_factor = if user.two_factor_enabled {
        let secret = user
            .two_factor_secret
            .as_deref()
            .and_then(totp_secret)
            .ok_or("two-factor authentication is on but its secret is missing or not base32")?;
        let codes = match &user.two_factor_backup_codes {
            Some(JsonValue::Array(codes)) => codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .filter(|c| !c.trim().is_empty())
                .collect(),
            None | Some(JsonValue::Null) => Vec::new(),
            Some(_) => {
                report.mapped("backup codes not a JSON array -> none");
                Vec::new()
            }
        };
        Some((secret, codes))
    } else {
        if user.two_factor_secret.is_some() {
            report.mapped("TOTP secret of a disabled second factor -> not kept");
        }
        None
    };
    Ok(Fields {
        email: email.to_string(),
        password_hash,
        first_name,
        last_name,
        phone: user
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        avatar_url: user.avatar.clone().filter(|a| !a.trim().is_empty()),
        bio: user.bio.clone(),
        role,
        status,
        email_verified_at: user.is_email_verified.then_some(user.created_at),
        social,
        preferences: object(&user.preferences, "preferences", report),
        metadata: object(&user.metadata, "metadata", report),
        last_login_at: user.last_login_at,
        failed_login_attempts: user.login_attempts.max(0),
        locked_until: user.lock_until,
        created_at: user.created_at,
        updated_at: user.updated_at,
        two_factor,
    })
}

/// A legacy TOTP secret as its user's authenticator app has it: base32, in any case, with spaces or
/// padding as the app displayed it.
fn totp_secret(raw: &str) -> Option<Vec<u8>> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = totp_rs::Secret::try_from_base32(&cleaned)
        .ok()?
        .as_ref()
        .to_vec();
    (bytes.len() >= 10).then_some(bytes)
}

/// Drops the phone or social account if another account already has it (both are unique here).
fn without_taken(
    fields: &mut Fields,
    own: Option<i64>,
    taken: &TakenUsers,
    report: Option<&mut TableReport>,
) {
    let mut dropped = Vec::new();
    if let Some(phone) = &fields.phone
        && taken.phone.get(phone).is_some_and(|t| Some(*t) != own)
    {
        fields.phone = None;
        dropped.push("phone already on another account -> not kept");
    }
    if let Some((p, id)) = &fields.social
        && taken
            .social
            .get(&(social_name(*p), id.clone()))
            .is_some_and(|t| Some(*t) != own)
    {
        fields.social = None;
        dropped.push("social account already linked to another account -> not kept");
    }
    if let Some(report) = report {
        for d in dropped {
            report.mapped(d);
        }
    }
}

fn social_name(p: SocialProvider) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn apply(active: &mut users::ActiveModel, f: &Fields) {
    active.email = Set(f.email.clone());
    active.password_hash = Set(f.password_hash.clone());
    active.first_name = Set(f.first_name.clone());
    active.last_name = Set(f.last_name.clone());
    active.phone = Set(f.phone.clone());
    active.avatar_url = Set(f.avatar_url.clone());
    active.bio = Set(f.bio.clone());
    active.role = Set(f.role);
    active.status = Set(f.status);
    active.email_verified_at = Set(f.email_verified_at);
    active.social_provider = Set(f.social.as_ref().map(|s| s.0));
    active.social_provider_id = Set(f.social.as_ref().map(|s| s.1.clone()));
    active.preferences = Set(f.preferences.clone());
    active.metadata = Set(f.metadata.clone());
    active.last_login_at = Set(f.last_login_at);
    active.failed_login_attempts = Set(f.failed_login_attempts);
    active.locked_until = Set(f.locked_until);
    active.created_at = Set(f.created_at);
    active.updated_at = Set(f.updated_at);
}

fn remember(taken: &mut TakenUsers, id: i64, f: &Fields) {
    taken.email.insert(f.email.clone(), id);
    if let Some(phone) = &f.phone {
        taken.phone.insert(phone.clone(), id);
    }
    if let Some((p, s)) = &f.social {
        taken.social.insert((social_name(*p), s.clone()), id);
    }
}

/// An imported account's enabled TOTP secret (sealed as this LMS stores secrets) and its unused
/// backup codes as recovery codes; a code another account already has is dropped.
async fn second_factor<C: ConnectionTrait>(
    db: &C,
    job: &Job<'_>,
    id: i64,
    secret: &[u8],
    codes: &[String],
    at: DateTime<Utc>,
    report: &mut TableReport,
) -> anyhow::Result<()> {
    let secrets = job
        .secrets
        .as_ref()
        .context("no server secret to seal TOTP secrets")?;
    users::ActiveModel {
        id: Set(id),
        two_factor_enabled: Set(true),
        two_factor_secret_enc: Set(Some(lms_core::auth::seal_totp_secret(secrets, id, secret))),
        ..Default::default()
    }
    .update(db)
    .await?;
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| lms_core::auth::recovery_code_hash(c))
        .collect();
    let in_use: Vec<String> = recovery_codes::Entity::find()
        .filter(recovery_codes::Column::CodeHash.is_in(hashes.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.code_hash)
        .collect();
    let mut kept = std::collections::HashSet::new();
    for hash in hashes {
        if in_use.contains(&hash) || !kept.insert(hash.clone()) {
            report.mapped("backup code already in use by another account -> not kept");
            continue;
        }
        recovery_codes::ActiveModel {
            user_id: Set(id),
            code_hash: Set(hash),
            used_at: Set(None),
            created_at: Set(at),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Brings an account imported earlier up to date with its changed legacy row. Its username, and
/// a password or second factor changed in this LMS since, stay as they are.
async fn update<C: ConnectionTrait>(
    db: &C,
    id: i64,
    mut f: Fields,
    taken: &mut TakenUsers,
) -> anyhow::Result<()> {
    let current = users::Entity::find_by_id(id)
        .one(db)
        .await?
        .context("an imported account is gone from this LMS")?;
    without_taken(&mut f, Some(id), taken, None);
    if taken.email.get(&f.email).is_some_and(|t| *t != id) {
        f.email = current.email.clone();
    }
    let upgraded = current
        .password_hash
        .as_deref()
        .is_some_and(|h| !BCRYPT_PREFIXES.iter().any(|p| h.starts_with(p)));
    let mut active = current.clone().into_active_model();
    apply(&mut active, &f);
    if upgraded {
        active.password_hash = Set(current.password_hash.clone());
    }
    active.update(db).await?;
    remember(taken, id, &f);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_fitted_to_the_rules() {
        assert_eq!(fitted_username("Ana_Lima", 6), "ana_lima");
        assert_eq!(fitted_username("josé maría", 3), "jos__mar_a");
        assert_eq!(fitted_username("__x", 9), "user9");
        assert_eq!(fitted_username(&"a".repeat(45), 1), "a".repeat(30));
    }

    #[test]
    fn a_taken_username_gets_the_legacy_id() {
        let mut taken = TakenUsers::default();
        taken.username.insert("ana_lima".into());
        assert_eq!(unique_username("ana_lima", 7, &taken), "ana_lima-7");
        taken.username.insert("ana_lima-7".into());
        assert_eq!(unique_username("ana_lima", 7, &taken), "ana_lima-7-1");
        let long = "a".repeat(30);
        assert_eq!(unique_username(&long, 123, &taken).len(), 30);
    }

    #[test]
    fn legacy_totp_secrets_are_read_as_displayed() {
        let displayed =
            totp_secret("j56p 4ut5 p6rj lu32 23vc jjaq x272 3cti").expect("as displayed");
        assert_eq!(
            displayed,
            totp_secret("J56P4UT5P6RJLU3223VCJJAQX2723CTI").expect("canonical")
        );
        assert_eq!(displayed.len(), 20);
        assert!(totp_secret("not base32!").is_none());
        assert!(totp_secret("").is_none());
    }
}
