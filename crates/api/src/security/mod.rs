//! Security primitives: password hashing, tokens, secret encryption, TOTP, throttling.
//! No HTTP and no business rules here; `service::auth` composes them.
pub mod crypto;
pub mod passwords;
pub mod throttle;
pub mod tokens;
pub mod totp;
