//! Course chat end to end: the HTTP endpoints, the change feed and live WebSocket delivery, on SQLite
//! and PostgreSQL (and two API instances on one PostgreSQL).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod access;
mod authorization;
mod class;
mod messages;
mod pages;
mod realtime;
#[allow(dead_code)] // the chat tests use part of the courses' test world
#[path = "../courses/world.rs"]
mod world;
mod writer;
