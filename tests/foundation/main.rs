//! Foundation: migrations, the migration CLI, entities against the migrated schema, and the HTTP
//! skeleton (health, OpenAPI, docs, problem+json errors). Every test runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod api_binary;
mod entities;
mod http;
mod migration_cli;
mod migrations;
mod outage;
mod readme;
