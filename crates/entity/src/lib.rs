//! SeaORM entities for the LMS schema: data and relations only, no business rules.
//!
//! Each entity matches its migration in `crates/migration` column for column; the end-to-end tests
//! insert and read back every column on SQLite and PostgreSQL to prove it.
pub mod chat_message_reactions;
pub mod chat_messages;
pub mod courses;
pub mod enrollments;
pub mod users;

pub mod prelude {
    pub use super::chat_message_reactions::Entity as ChatMessageReactions;
    pub use super::chat_messages::Entity as ChatMessages;
    pub use super::courses::Entity as Courses;
    pub use super::enrollments::Entity as Enrollments;
    pub use super::users::Entity as Users;
}
