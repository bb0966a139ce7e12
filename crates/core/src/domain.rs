//! Parsed input: a value of these types has passed its rules, so services never see raw strings.
use std::collections::HashSet;
use std::sync::LazyLock;

use validator::ValidateEmail;

use crate::error::{Error, FieldErrors};
use crate::rules::Text;

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// An email address (trimmed and lower-cased before it is checked and stored).
pub const EMAIL: Text = Text::between(3, 254).format("email");
/// A username: letters, digits, `_`, `.`, `-`, starting with a letter or digit (lower-cased).
pub const USERNAME: Text = Text::between(3, 30).pattern("^[A-Za-z0-9][A-Za-z0-9_.-]*$");
/// A first or last name: no control characters, not blank (trimmed when stored).
pub const PERSON_NAME: Text = Text::between(1, 100).pattern(
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$",
)
.explained("must not be blank or contain control characters");
/// A new password: any characters, checked exactly as typed (plus the policy of `NewPassword`).
pub const NEW_PASSWORD: Text = Text::chars(PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
/// A password as typed at sign-in: only bounded.
pub const PRESENTED_PASSWORD: Text = Text::chars(1, PASSWORD_MAX_CHARS);

crate::rule_schemas! {
    email_schema => EMAIL;
    username_schema => USERNAME;
    person_name_schema => PERSON_NAME;
    person_name_nullable => PERSON_NAME, nullable;
    new_password_schema => NEW_PASSWORD;
    presented_password_schema => PRESENTED_PASSWORD;
}

/// ~19,600 common passwords (Django's list, BSD-licensed, from Royce Williams' breach corpus).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// Collects field errors so a request with several bad fields hears about all of them at once.
#[derive(Default)]
pub struct Errors(FieldErrors);

impl Errors {
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.0.entry(field.to_string()).or_default().push(message);
                None
            }
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    /// Err with every collected message, or Ok when there were none.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// A syntactically valid address, trimmed and lower-cased (addresses are compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        if EMAIL.check(&email).is_err() || !email.validate_email() {
            return Err("must be a valid email address".into());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `USERNAME`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.to_ascii_lowercase();
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if USERNAME.check(&name).is_err() || !valid_chars || !starts_well {
            return Err("must be 3 to 30 characters: letters, digits, '_', '.', '-', starting with a letter or digit".into());
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name (`PERSON_NAME`), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        PERSON_NAME.check(raw)?;
        let name = raw.trim();
        Ok(PersonName(name.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password that follows the policy: 12 to 128 characters (any characters, checked exactly as
/// typed), not a common password, and not containing the user's email name, username or names.
pub struct NewPassword(String);

impl NewPassword {
    /// `personal`: strings the password must not contain (email local part, username, names).
    pub fn parse(raw: &str, personal: &[&str]) -> Result<Self, String> {
        NEW_PASSWORD.check(raw)?;
        let lower = raw.to_lowercase();
        if COMMON_PASSWORDS.contains(lower.as_str()) {
            return Err(
                "is too common; choose a password that is not on lists of leaked passwords".into(),
            );
        }
        let personal_hit = personal
            .iter()
            .map(|p| p.trim().to_lowercase())
            .any(|p| p.chars().count() >= 3 && lower.contains(&p));
        if personal_hit {
            return Err("must not contain your email, username or name".into());
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A password as typed at sign-in: only bounded, never judged (old passwords may predate the policy).
pub fn presented_password(raw: &str) -> Result<&str, String> {
    PRESENTED_PASSWORD.check(raw)?;
    Ok(raw)
}

/// The local part of an email, for the "password contains your email" rule.
pub fn email_local_part(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}
