//! Everything that differs between the databases this project runs on, in one place.
//!
//! Code that behaves differently per database asks [`Backend`] and never branches on
//! `if postgres { .. } else { /* must be SQLite */ }`. Every method matches the enum exhaustively, so
//! adding a database is adding a variant here and answering what the compiler then lists.
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one process: changes are announced in-process.
    Sqlite,
    /// Many instances: changes are announced to all of them with LISTEN/NOTIFY.
    Postgres,
    /// MySQL 8 / MariaDB 10.11 (InnoDB, utf8mb4). Many instances: each polls for the others' changes.
    MySql,
}

/// How committed changes reach the instances that serve other clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Only this process serves the database: signal it directly.
    InProcess,
    /// Several instances may serve it: the database carries the signal to each of them (PostgreSQL
    /// `NOTIFY`, delivered at commit); every instance also listens.
    Database,
    /// Several instances may serve it and the database cannot push (MySQL/MariaDB): every instance
    /// polls it every few tens of milliseconds (`chat::poll`).
    Polled,
}

/// How large amounts of rows are best loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkLoad {
    /// Multi-row `INSERT` statements inside one transaction.
    MultiRowInsert,
    /// PostgreSQL `COPY ... FROM STDIN` on the transaction's connection.
    Copy,
}

impl Backend {
    /// The backend of a connection (or transaction).
    pub fn of(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        Self::from_db_backend(db.get_database_backend())
    }

    pub fn from_db_backend(backend: DbBackend) -> Result<Self, DbErr> {
        match backend {
            DbBackend::Sqlite => Ok(Backend::Sqlite),
            DbBackend::Postgres => Ok(Backend::Postgres),
            DbBackend::MySql => Ok(Backend::MySql),
            other => Err(unsupported(&format!("{other:?}"))),
        }
    }

    /// The backend a database URL names (by its scheme).
    pub fn from_url(url: &str) -> Result<Self, DbErr> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            other => Err(unsupported(other)),
        }
    }

    /// SeaORM's name for it (to build statements).
    pub fn db_backend(self) -> DbBackend {
        match self {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
            Backend::MySql => DbBackend::MySql,
        }
    }

    /// The name health checks and logs use.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Pool size for schema changes, when it must differ from the normal pool.
    ///
    /// SQLite: one connection. Each SQLite connection caches the schema, and a `CREATE INDEX` or
    /// `CREATE TABLE` is checked against that cache when it is prepared, before SQLite notices the
    /// schema changed: a second pooled connection that still remembers an index another connection
    /// dropped refuses to create it again ("index ... already exists"). PostgreSQL has no such cache.
    pub fn schema_change_pool_size(self) -> Option<u32> {
        match self {
            Backend::Sqlite => Some(1),
            Backend::Postgres | Backend::MySql => None,
        }
    }

    /// Checks a fresh pool: SQLite must have foreign keys on (a connection that would silently ignore
    /// them is refused).
    pub async fn check_connection(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        match self {
            Backend::Sqlite => {
                let row = db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Sqlite,
                        "PRAGMA foreign_keys",
                    ))
                    .await?;
                let on: i32 = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
                if on != 1 {
                    return Err(DbErr::Custom(
                        "SQLite foreign keys could not be enabled".into(),
                    ));
                }
                Ok(())
            }
            Backend::Postgres => Ok(()),
            // The connection says what it needs (sqlx sets `NAMES utf8mb4` and `time_zone='+00:00'`
            // on every connection); check, since a server's defaults may be latin1 and local time.
            // Strict mode comes from the server (the default of MySQL 8 and MariaDB 10.2+): without
            // it, text that is too long would be cut short with a warning instead of refused.
            Backend::MySql => {
                let row = db
                    .query_one_raw(Statement::from_string(
                        DbBackend::MySql,
                        "SELECT @@character_set_connection, @@time_zone, @@sql_mode",
                    ))
                    .await?
                    .ok_or_else(|| DbErr::Custom("no session settings".into()))?;
                let charset: String = row.try_get_by_index(0)?;
                let zone: String = row.try_get_by_index(1)?;
                let mode: String = row.try_get_by_index(2)?;
                if charset != "utf8mb4" || !matches!(zone.as_str(), "+00:00" | "UTC") {
                    return Err(DbErr::Custom(format!(
                        "MySQL session is {charset} in time zone {zone}; utf8mb4 and UTC are required"
                    )));
                }
                if !mode
                    .split(',')
                    .any(|m| m == "STRICT_TRANS_TABLES" || m == "STRICT_ALL_TABLES")
                {
                    return Err(DbErr::Custom(format!(
                        "MySQL sql_mode is {mode:?}: STRICT_TRANS_TABLES is required (the server default; \
                         without it values that do not fit are silently cut)"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Whether the pool should close idle and old connections. A server (PostgreSQL) or something in
    /// between may drop them; a local file never does. SQLite pools keep theirs, which also keeps
    /// sqlx 0.9's reaper task away from one-connection pools (it once spun at 100% CPU on one).
    pub fn reaps_idle_connections(self) -> bool {
        match self {
            Backend::Sqlite => false,
            Backend::Postgres | Backend::MySql => true,
        }
    }

    /// How committed changes reach other instances.
    pub fn delivery(self) -> Delivery {
        match self {
            Backend::Sqlite => Delivery::InProcess,
            Backend::Postgres => Delivery::Database,
            Backend::MySql => Delivery::Polled,
        }
    }

    /// Announces `payload` on `channel` to every instance. Inside a transaction it is sent when (and
    /// only if) the transaction commits. In-process backends have nobody else to tell: the dispatcher
    /// of this process signals its own subscribers; polling instances read the committed rows.
    pub async fn notify(
        self,
        db: &impl ConnectionTrait,
        channel: &str,
        payload: &str,
    ) -> Result<(), DbErr> {
        match self.delivery() {
            // Polling instances read the committed rows themselves.
            Delivery::InProcess | Delivery::Polled => Ok(()),
            Delivery::Database => {
                db.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [channel.into(), payload.into()],
                ))
                .await?;
                Ok(())
            }
        }
    }

    /// Whether concurrent chat posts are committed in batches by one writer per instance (one
    /// statement, one transaction; see `chat::writer`). Where writers serialize on the whole
    /// database anyway (SQLite), each post is its own transaction.
    pub fn batches_chat_posts(self) -> bool {
        match self {
            Backend::Sqlite | Backend::MySql => false,
            Backend::Postgres => true,
        }
    }

    /// Whether schema changes are transactional (a migration that fails half-way leaves nothing
    /// behind). MySQL commits each DDL statement by itself: the migration runner keeps per-statement
    /// progress there instead and resumes a migration that failed half-way.
    pub fn transactional_ddl(self) -> bool {
        match self {
            Backend::Sqlite | Backend::Postgres => true,
            Backend::MySql => false,
        }
    }

    /// Whether indexes can be built without blocking writes (`CREATE INDEX CONCURRENTLY`), which
    /// must run outside a transaction and can leave an INVALID index behind when interrupted.
    pub fn builds_indexes_concurrently(self) -> bool {
        match self {
            Backend::Sqlite | Backend::MySql => false,
            Backend::Postgres => true,
        }
    }

    pub fn bulk_load(self) -> BulkLoad {
        match self {
            Backend::Sqlite | Backend::MySql => BulkLoad::MultiRowInsert,
            Backend::Postgres => BulkLoad::Copy,
        }
    }

    /// Whether rows inserted with explicit ids leave the id generator behind (PostgreSQL sequences
    /// must then be moved past the largest id; SQLite's AUTOINCREMENT and MySQL's AUTO_INCREMENT follow
    /// by themselves).
    pub fn explicit_ids_need_sequence_fix(self) -> bool {
        match self {
            Backend::Sqlite | Backend::MySql => false,
            Backend::Postgres => true,
        }
    }
}

fn unsupported(name: &str) -> DbErr {
    DbErr::Custom(format!(
        "unsupported database {name:?}: use sqlite://..., postgres://... or mysql://..."
    ))
}
