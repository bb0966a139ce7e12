//! Text that reaches the API must be text a database can store: no NUL characters (PostgreSQL text
//! cannot hold U+0000) and valid UTF-8. Checked here, once, for every JSON body (at any depth, keys
//! included), path parameter and query parameter, so no endpoint can forget it: bodies get 422 naming
//! the field, paths and queries 400 naming the parameter.
use lms_core::error::FieldErrors;
use percent_encoding::percent_decode;
use serde_json::Value;

use crate::error::{AppError, Error};

const NUL: &str = "must not contain NUL characters";

/// Every field of `value` that holds a NUL (in a value or a key), by path (`a.b[2].c`).
pub fn nul_fields(value: &Value) -> FieldErrors {
    let mut errors = FieldErrors::new();
    walk(value, &mut String::new(), &mut errors);
    errors
}

fn walk(value: &Value, path: &mut String, errors: &mut FieldErrors) {
    match value {
        Value::String(text) if text.contains('\0') => {
            let field = if path.is_empty() { "body" } else { path };
            errors
                .entry(field.to_string())
                .or_default()
                .push(NUL.into());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, errors);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\u{FFFD}"));
                if key.contains('\0') {
                    let field = path.clone();
                    errors.entry(field).or_default().push(format!("keys {NUL}"));
                }
                walk(item, path, errors);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// 422 when a JSON body holds NUL anywhere.
pub fn check_body(value: &Value) -> Result<(), AppError> {
    let errors = nul_fields(value);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors).into())
    }
}

/// 400 naming the parameter when a path parameter holds NUL (axum has decoded it, and refused
/// invalid UTF-8 already).
pub fn check_path_params<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), AppError> {
    for (name, value) in params {
        if value.contains('\0') {
            return Err(Error::BadRequest(format!("path parameter {name} {NUL}")).into());
        }
    }
    Ok(())
}

/// 400 naming the parameter when a query string decodes to invalid UTF-8 or holds NUL (axum's own
/// query parsing would replace bad bytes silently).
pub fn check_query(raw: &str) -> Result<(), AppError> {
    form_pairs(raw).map(drop)
}

/// The decoded `name=value` pairs of a query string or an urlencoded form, refusing (400, naming the
/// parameter) invalid UTF-8 and NUL characters.
pub fn form_pairs(raw: &str) -> Result<Vec<(String, String)>, AppError> {
    let mut pairs = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(key).map_err(|_| bad_query("a parameter name", "is not valid UTF-8"))?;
        let value = decode(value).map_err(|_| bad_query(&name, "is not valid UTF-8"))?;
        if name.contains('\0') {
            return Err(bad_query("a parameter name", NUL));
        }
        if value.contains('\0') {
            return Err(bad_query(&name, NUL));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn decode(part: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = part.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(|text| text.into_owned())
}

fn bad_query(name: &str, problem: &str) -> AppError {
    Error::BadRequest(format!("query parameter {name} {problem}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_at_any_depth_and_named_by_its_path() {
        let body = serde_json::json!({"a": "ok", "b": {"c": ["x", "y\u{0}"]}, "k\u{0}": 1});
        let errors = nul_fields(&body);
        assert_eq!(
            errors.keys().map(String::as_str).collect::<Vec<_>>(),
            ["b.c[1]", "k\u{FFFD}"]
        );
    }

    #[test]
    fn queries_with_nul_or_bad_utf8_are_refused_and_good_ones_pass() {
        assert!(check_query("q=caf%C3%A9+au+lait&limit=5").is_ok());
        assert!(check_query("q=a%00b").is_err());
        assert!(check_query("q=%FF").is_err());
        assert!(check_query("%00=1").is_err());
    }
}
