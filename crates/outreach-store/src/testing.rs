//! Throw-away databases for tests and benchmarks: a fresh SQLite file or a fresh
//! PostgreSQL database per test, dropped afterwards.
//!
//! PostgreSQL is found at `OUTREACH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where it can't be reached,
//! tests run on SQLite only and say so — unless `CI` or
//! `OUTREACH_REQUIRE_POSTGRES` is set, where the missing database is an error.

use crate::{Backend, Db, StoreError, random_token};
use sqlx::Connection;
use std::path::PathBuf;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("OUTREACH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

fn postgres_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("OUTREACH_REQUIRE_POSTGRES").is_some()
}

/// The backends tests should run on. Panics when PostgreSQL is required but
/// unreachable (CI must fail, not skip).
#[allow(
    clippy::panic,
    reason = "test support: a missing database in CI must fail the test"
)]
pub async fn backends() -> Vec<Backend> {
    let reachable = sqlx::PgConnection::connect(&admin_url()).await.is_ok();
    match (reachable, postgres_required()) {
        (true, _) => vec![Backend::Sqlite, Backend::Postgres],
        (false, true) => panic!(
            "PostgreSQL ist nicht erreichbar unter {} – in CI ist das ein Fehler",
            admin_url()
        ),
        (false, false) => {
            eprintln!(
                "HINWEIS: PostgreSQL unter {} nicht erreichbar; dieser Test läuft nur mit SQLite.",
                admin_url()
            );
            vec![Backend::Sqlite]
        }
    }
}

/// A fresh, migrated database that is removed when dropped.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { name: String },
}

impl TestDb {
    pub async fn new(backend: Backend) -> Result<TestDb, StoreError> {
        let name = format!("outreach_test_{}", random_token(8));
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}", path.display());
                let db = Db::open(&url).await?;
                Ok(TestDb {
                    db,
                    url,
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                let url = match admin.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => return Err(StoreError::UnsupportedUrl),
                };
                let db = Db::open(&url).await?;
                Ok(TestDb {
                    db,
                    url,
                    cleanup: Cleanup::Postgres { name },
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { name } => {
                // Drop runs inside the test's runtime; a thread of its own
                // with its own runtime can block on the DROP.
                let name = name.clone();
                let admin = admin_url();
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
