//! RFC 6238 TOTP as authenticator apps expect it: SHA1, 6 digits, 30 s steps, one step of skew.
use crate::rules::Text;
use totp_rs::{Builder, Secret, Totp};

pub const ISSUER: &str = "LMS";
/// 160-bit secrets (RFC 4226 recommends at least 128; authenticator apps expect 160).
pub const SECRET_LEN: usize = 20;

pub fn new_secret() -> [u8; SECRET_LEN] {
    super::tokens::random_bytes::<SECRET_LEN>()
}

/// Secrets shorter than this (in bytes) are accepted for checking codes only: accounts imported from
/// the legacy Node LMS, whose libraries (speakeasy, otplib) made 80-bit secrets by default. Their
/// authenticator apps must keep working; new secrets are always [`SECRET_LEN`].
const COMPLIANT_LEN: usize = 16;

fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    let builder = Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account);
    if secret.len() < COMPLIANT_LEN && !secret.is_empty() {
        // totp-rs refuses secrets under 128 bits unless asked not to; the algorithm is the same.
        return Ok(builder.build_noncompliant());
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP setup failed: {e:?}"))
}

pub struct Enrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_png_data_uri: String,
}

pub fn enrollment(secret: &[u8], account: &str) -> anyhow::Result<Enrollment> {
    let totp = totp(secret, account)?;
    let qr = totp
        .to_qr_base64()
        .map_err(|e| anyhow::anyhow!("QR code failed: {e:?}"))?;
    Ok(Enrollment {
        secret_base32: Secret::from(secret.to_vec()).to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| anyhow::anyhow!("otpauth URI failed: {e:?}"))?,
        qr_png_data_uri: format!("data:image/png;base64,{qr}"),
    })
}

/// The raw bytes of a base32 secret as authenticator apps show it (spaces ignored, any case).
pub fn secret_from_base32(base32: &str) -> Option<Vec<u8>> {
    let normalized: String = base32
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    Secret::try_from_base32(normalized.trim_end_matches('='))
        .ok()
        .map(|s| s.as_ref().to_vec())
}

/// Digits only (spaces and dashes that apps show are dropped); anything else is not a code.
pub fn normalize_code(code: &str) -> Option<String> {
    CODE.check(code).ok()?;
    let digits: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// A code as typed: six digits, spaces and dashes allowed between them (`123 456`, `123-456`).
pub const CODE: Text = Text::between(6, 32).pattern("^[ -]*(?:[0-9][ -]*){6}$");

crate::rule_schemas! {
    code_schema => CODE;
}

/// The time step the code matches at `unix_secs` (within one step of skew), if any. Whether that step
/// was already used is the caller's business (see `crate::auth`).
pub fn matching_step(
    secret: &[u8],
    account: &str,
    code: &str,
    unix_secs: u64,
) -> anyhow::Result<Option<u64>> {
    let Some(code) = normalize_code(code) else {
        return Ok(None);
    };
    Ok(totp(secret, account)?.check(&code, unix_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An 80-bit secret as the legacy Node LMS made them, in the base32 its users typed into their
    /// authenticator apps.
    #[test]
    fn legacy_80_bit_secrets_still_check_codes() {
        let secret = secret_from_base32("jbsw y3dp ehpk 3pxp").expect("base32");
        assert_eq!(secret.len(), 10);
        let at = 1_700_000_000;
        // The code an authenticator app shows for that secret at that time (RFC 6238, SHA1, 30 s).
        let app = Builder::new()
            .with_secret(secret.clone())
            .build_noncompliant()
            .generate(at)
            .to_string();
        let step = at / 30;
        assert_eq!(
            matching_step(&secret, "legacy@example.com", &app, at).ok(),
            Some(Some(step))
        );
        assert_eq!(
            matching_step(&secret, "legacy@example.com", &app, at + 120).ok(),
            Some(None),
            "four steps later it is stale"
        );
        // New secrets are full length, and a full-length secret is built the compliant way.
        assert_eq!(new_secret().len(), SECRET_LEN);
        assert!(totp(&new_secret(), "new@example.com").is_ok());
    }
}
