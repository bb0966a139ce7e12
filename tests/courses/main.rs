//! Courses and enrollments end to end over HTTP, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod authorization;
mod catalog;
mod curriculum;
mod enrollments;
mod hostile_text;
mod live;
mod payments;
mod retries;
mod world;
