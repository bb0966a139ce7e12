//! Accounts, sessions and TOTP two-factor auth, end to end over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod admin;
mod common;
mod email_and_passwords;
mod housekeeping;
mod login;
mod openapi;
mod registration;
mod sessions;
mod smtp;
mod two_factor;
