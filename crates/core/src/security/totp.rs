//! RFC 6238 TOTP as authenticator apps expect it: SHA1, 6 digits, 30 s steps, one step of skew.
use crate::rules::Text;
use totp_rs::{Builder, Secret, Totp};

pub const ISSUER: &str = "LMS";
/// 160-bit secrets (RFC 4226 recommends at least 128; authenticator apps expect 160).
pub const SECRET_LEN: usize = 20;

pub fn new_secret() -> [u8; SECRET_LEN] {
    super::tokens::random_bytes::<SECRET_LEN>()
}

fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
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
