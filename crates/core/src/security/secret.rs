//! The one server secret (`LMS_SECRET_KEY`) and the keys derived from it, one per purpose. The API
//! and the seeder both derive their keys here, so they always agree on a label.
use std::path::Path;

use super::crypto::{SecretBox, derive_key};
use super::tokens::{JwtKeys, random_bytes};

const JWT_LABEL: &str = "lms/jwt-hs256/v1";
const TOTP_LABEL: &str = "lms/totp-secret-encryption/v1";
const CURSOR_LABEL: &str = "lms/cursor-hmac/v1";
/// Shortest secret accepted, in characters.
pub const MIN_CHARS: usize = 32;

pub struct ServerSecret(Vec<u8>);

impl ServerSecret {
    /// The configured secret, or (only when `generate_if_missing`, i.e. in development) a random one
    /// kept in `file`, created on first use and readable by its owner only.
    pub fn load(
        configured: Option<&str>,
        file: &Path,
        generate_if_missing: bool,
    ) -> anyhow::Result<Self> {
        if let Some(secret) = configured {
            anyhow::ensure!(
                secret.len() >= MIN_CHARS,
                "LMS_SECRET_KEY must be at least {MIN_CHARS} characters"
            );
            return Ok(Self(secret.as_bytes().to_vec()));
        }
        anyhow::ensure!(
            generate_if_missing,
            "LMS_SECRET_KEY is required when LMS_ENV=production"
        );
        if let Ok(existing) = std::fs::read_to_string(file) {
            let existing = existing.trim();
            anyhow::ensure!(
                existing.len() >= MIN_CHARS,
                "{} holds a secret shorter than {MIN_CHARS} characters",
                file.display()
            );
            return Ok(Self(existing.as_bytes().to_vec()));
        }
        let secret = hex::encode(random_bytes::<32>());
        write_private(file, &secret)?;
        tracing::warn!(file = %file.display(), "LMS_SECRET_KEY is not set: created a development secret");
        Ok(Self(secret.into_bytes()))
    }

    /// Signs and checks access and 2FA-pending tokens.
    pub fn jwt_keys(&self) -> JwtKeys {
        JwtKeys::new(&derive_key(&self.0, JWT_LABEL))
    }

    /// Signs the keyset cursors of list endpoints.
    pub fn cursors(&self) -> crate::paging::Cursors {
        crate::paging::Cursors::new(derive_key(&self.0, CURSOR_LABEL))
    }

    /// Encrypts TOTP secrets at rest.
    pub fn totp_secret_box(&self) -> SecretBox {
        SecretBox::new(derive_key(&self.0, TOTP_LABEL))
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
