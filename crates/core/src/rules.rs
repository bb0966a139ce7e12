//! Rules on single input values, each defined once: `check` enforces it and `schema` states it in the
//! OpenAPI document, so what the document promises is what the code does.
//!
//! Strings are counted in characters (Unicode scalar values) as sent. No text anywhere may hold NUL
//! (PostgreSQL cannot store it): every pattern here excludes it.
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};

/// Any text without NUL.
pub const NO_NUL: &str = "^[^\\u0000]*$";
/// Text without NUL with at least one character that is not white space (Unicode White_Space,
/// what `str::trim` removes, spelled out: `\\s` differs between regex dialects).
pub const NOT_BLANK: &str = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// An absolute http(s) URL whose host is a DNS name (labels of letters, digits and dashes, each
/// starting with a letter), optional port, then any visible ASCII (non-ASCII must be percent-encoded).
pub const HTTP_URL: &str = "^https?://[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,4})?(?:[/?#][!-~]*)?$";

/// A text field: `min..=max` characters; `not_blank`: not only white space; `pattern`, when set,
/// replaces the NUL/blank pattern (it must say those too) and is checked as well. Patterns use the
/// syntax common to ECMA-262, Python and Rust regexes (no look-around, no `\\s`).
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub min: usize,
    pub max: usize,
    pub not_blank: bool,
    pub pattern: Option<&'static str>,
    /// What a value that misses `pattern` is told (else the pattern itself).
    pub explained: Option<&'static str>,
    /// An OpenAPI `format` the value follows (`email`), checked by the caller's parser.
    pub format: Option<&'static str>,
}

impl Text {
    /// Optional text (may be empty): at most `max` characters.
    pub const fn up_to(max: usize) -> Self {
        Text {
            min: 0,
            max,
            not_blank: false,
            pattern: None,
            explained: None,
            format: None,
        }
    }

    /// Required text: `min..=max` characters, not blank.
    pub const fn between(min: usize, max: usize) -> Self {
        Text {
            min,
            max,
            not_blank: true,
            pattern: None,
            explained: None,
            format: None,
        }
    }

    /// `min..=max` characters of anything but NUL (white space counts: passwords).
    pub const fn chars(min: usize, max: usize) -> Self {
        Text {
            min,
            max,
            not_blank: false,
            pattern: None,
            explained: None,
            format: None,
        }
    }

    pub const fn pattern(self, pattern: &'static str) -> Self {
        Text {
            pattern: Some(pattern),
            ..self
        }
    }

    pub const fn explained(self, message: &'static str) -> Self {
        Text {
            explained: Some(message),
            ..self
        }
    }

    pub const fn format(self, format: &'static str) -> Self {
        Text {
            format: Some(format),
            ..self
        }
    }

    /// The length and blankness rule (a `pattern` is the caller's parser's to check).
    pub fn check(&self, value: &str) -> Result<(), String> {
        let n = value.chars().count();
        if n < self.min {
            return Err(if self.min == 1 {
                "must not be empty".into()
            } else {
                format!("must be at least {} characters", self.min)
            });
        }
        if n > self.max {
            return Err(format!("must be at most {} characters", self.max));
        }
        if self.not_blank && value.trim().is_empty() {
            return Err("must not be blank".into());
        }
        if let Some(pattern) = self.pattern
            && !matches(pattern, value)
        {
            return Err(self
                .explained
                .map_or_else(|| format!("must match the pattern {pattern}"), String::from));
        }
        if value.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        Ok(())
    }

    pub fn schema(&self) -> Object {
        self.builder(SchemaType::Type(Type::String)).build()
    }

    /// The schema of an optional field that may also be sent as `null`.
    pub fn nullable(&self) -> Object {
        self.builder(SchemaType::from_iter([Type::String, Type::Null]))
            .build()
    }

    fn builder(&self, schema_type: SchemaType) -> ObjectBuilder {
        let pattern = self
            .pattern
            .unwrap_or(if self.not_blank { NOT_BLANK } else { NO_NUL });
        ObjectBuilder::new()
            .schema_type(schema_type)
            .min_length((self.min > 0).then_some(self.min))
            .max_length(Some(self.max))
            .pattern(Some(pattern))
            .format(self.format.map(|f| SchemaFormat::Custom(f.to_string())))
    }
}

/// Whether `value` matches `pattern` (compiled once per pattern).
fn matches(pattern: &'static str, value: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static COMPILED: LazyLock<Mutex<HashMap<&'static str, regex::Regex>>> =
        LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    compiled
        .entry(pattern)
        .or_insert_with(|| regex::Regex::new(pattern).expect("rule patterns are valid regexes"))
        .is_match(value)
}

/// An integer field: `min..=max`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: i64,
    pub max: i64,
}

impl Range {
    pub const fn new(min: i64, max: i64) -> Self {
        Range { min, max }
    }

    pub fn check(&self, value: i64) -> Result<(), String> {
        if (self.min..=self.max).contains(&value) {
            Ok(())
        } else if self.max == i64::MAX {
            Err(format!("must be at least {}", self.min))
        } else {
            Err(format!("must be between {} and {}", self.min, self.max))
        }
    }

    pub fn schema(&self) -> Object {
        self.builder(SchemaType::Type(Type::Integer)).build()
    }

    pub fn nullable(&self) -> Object {
        self.builder(SchemaType::from_iter([Type::Integer, Type::Null]))
            .build()
    }

    fn builder(&self, schema_type: SchemaType) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(schema_type)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(self.min as f64))
            .maximum((self.max != i64::MAX).then_some(self.max as f64))
    }
}

/// The schema of a stored enumeration: a string with exactly the values the type stores.
pub fn enum_of<E>() -> Object
where
    E: sea_orm::ActiveEnum<Value = String> + sea_orm::Iterable,
{
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::iter().map(|value| value.to_value())))
        .build()
}

/// `enum_of`, for an optional field that may also be sent as `null` (a `oneOf` with `null`, the
/// form client generators turn into an optional enum).
pub fn nullable_enum_of<E>() -> utoipa::openapi::schema::Schema
where
    E: sea_orm::ActiveEnum<Value = String> + sea_orm::Iterable,
{
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(enum_of::<E>())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// Declares `fn $name() -> Object` returning a rule's schema, for `#[schema(schema_with = ...)]`
/// (utoipa takes a function path there). `nullable` makes the optional-or-null variant.
#[macro_export]
macro_rules! rule_schemas {
    ($($name:ident => $rule:expr $(, $nullable:ident)?;)*) => {
        $(
            pub fn $name() -> utoipa::openapi::schema::Object {
                $crate::rule_schemas!(@pick $rule $(, $nullable)?)
            }
        )*
    };
    (@pick $rule:expr) => { $rule.schema() };
    (@pick $rule:expr, nullable) => { $rule.nullable() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_characters_and_refuses_blank() {
        let title = Text::between(1, 5);
        assert!(title.check("héllo").is_ok());
        assert!(title.check("héllo!").is_err());
        assert!(title.check("   ").is_err());
        assert!(title.check("").is_err());
        assert!(Text::up_to(3).check("").is_ok());
    }

    #[test]
    fn ranges_are_inclusive() {
        let rating = Range::new(1, 5);
        assert!(rating.check(1).is_ok() && rating.check(5).is_ok());
        assert!(rating.check(0).is_err() && rating.check(6).is_err());
    }

    #[test]
    fn the_blank_pattern_matches_what_check_accepts() {
        let re = regex::Regex::new(NOT_BLANK).expect("a valid pattern");
        for (text, ok) in [("a", true), (" a ", true), ("  ", false), ("", false)] {
            assert_eq!(re.is_match(text), ok, "{text:?}");
            assert_eq!(Text::between(0, 10).check(text).is_ok(), ok, "{text:?}");
        }
    }

    /// Every pattern compiles (in Rust; the document's readers use the same subset) and says what
    /// its parser accepts.
    #[test]
    fn the_patterns_of_the_rules_accept_and_refuse_what_they_say() {
        use crate::{courses, domain, security::totp, users};
        let cases: &[(Text, &[&str], &[&str])] = &[
            (
                domain::USERNAME,
                &["ada", "Ada_9.x-y"],
                &["_ada", "a b", "ad"],
            ),
            (domain::PERSON_NAME, &["Ada", " Ada "], &["  ", "A\u{7}da"]),
            (
                courses::SLUG,
                &["rust-101", "2048-game", "go1"],
                &["2048", "-go", "Go"],
            ),
            (courses::LANGUAGE, &["en", "pt-BR"], &["e n", "e"]),
            (courses::CURRENCY, &["USD", "eur"], &["US1", "EURO"]),
            (
                courses::THUMBNAIL_URL,
                &["http://x.io:8080/p?q=1#f"],
                &[
                    "ftp://x.io",
                    "http://[::1]/",
                    "https://1.2.3.4/",
                    "https://exa mple.com",
                    "https://cdn.example.com/a b",
                ],
            ),
            (
                users::AVATAR_URL,
                &["https://example.com/me.png"],
                &["https://"],
            ),
            (
                totp::CODE,
                &["123456", "123 456", "123-456"],
                &["12345", "12345a", "1234567"],
            ),
        ];
        for (rule, good, bad) in cases {
            for value in *good {
                assert!(rule.check(value).is_ok(), "{value:?}");
            }
            for value in *bad {
                assert!(rule.check(value).is_err(), "{value:?}");
            }
        }
    }
}
