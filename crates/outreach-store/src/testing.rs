//! Throw-away databases for tests and benchmarks: a fresh SQLite file or a fresh
//! PostgreSQL database per test, dropped afterwards.
//!
//! PostgreSQL is found at `OUTREACH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where it can't be reached,
//! tests run on SQLite only and say so — unless `CI` or
//! `OUTREACH_REQUIRE_POSTGRES` is set, where the missing database is an error.

pub mod cluster;

use crate::{Backend, Db, StoreError, Tx, args, random_token};
use outreach_core::customer::{Field as StoredField, Record};
use sqlx::Connection;
use std::path::PathBuf;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("OUTREACH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// Whether PostgreSQL (and what tests start of it) must be there: in CI a
/// missing one fails the test instead of skipping it.
pub fn postgres_required() -> bool {
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
        TestDb::migrated_through(backend, i64::MAX).await
    }

    /// A new database with the migrations up to `version` only (see
    /// [`Db::migrate_through`]); `db.migrate()` applies the rest.
    pub async fn migrated_through(backend: Backend, version: i64) -> Result<TestDb, StoreError> {
        let name = format!("outreach_test_{}", random_token(8));
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}", path.display());
                let db = Db::connect(&url).await?;
                db.migrate_through(version).await?;
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
                let db = Db::connect(&url).await?;
                db.migrate_through(version).await?;
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

/// Customer `i` of [`letter_campaign`]: unemployed, with a full address and
/// umlauts in the names.
pub fn letter_customer(i: usize) -> Record {
    const LAST: [&str; 8] = [
        "Müller",
        "Yılmaz",
        "Weiß",
        "Schulze-Bäumer",
        "Nowak",
        "Öztürk",
        "Groß",
        "Şahin",
    ];
    const FIRST: [&str; 8] = [
        "Jürgen",
        "Ayşe",
        "Marie-Luise",
        "Björn",
        "Małgorzata",
        "Zoë",
        "Hans-Jörg",
        "Elif",
    ];
    let number = format!("K{i:07}");
    let bg_number = format!("12345BG{i:07}");
    let house_number = format!("{}", i % 200 + 1);
    let postcode = format!("{:05}", 46000 + i % 100);
    let mut values = vec![
        (StoredField::CustomerNumber, number.as_str()),
        (StoredField::Salutation, ["Herr", "Frau", ""][i % 3]),
        (StoredField::FirstName, FIRST[i % 8]),
        (StoredField::LastName, LAST[(i / 8) % 8]),
        (StoredField::BirthDate, "1980-01-01"),
        (StoredField::Street, "Mülheimer Straße"),
        (StoredField::HouseNumber, &house_number),
        (StoredField::Postcode, &postcode),
        (StoredField::City, "Oberhausen"),
        (StoredField::Status, "unemployed"),
    ];
    if !i.is_multiple_of(3) {
        values.push((StoredField::BgNumber, &bg_number));
    }
    stored_record(&values)
}

/// A record from its stored texts by field, for fixtures: what is not named
/// is empty (an empty text stays an empty text). The required fields and the
/// status must be named.
#[allow(clippy::expect_used)] // a fixture that can't be read is a broken test
pub fn stored_record(values: &[(StoredField, &str)]) -> Record {
    let stored = StoredField::ALL.map(|field| {
        values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.to_string())
    });
    Record::from_stored(stored).expect("a fixture's stored record")
}

/// A job center with an active mandate, the given customers, and a draft
/// campaign that selects them all (for letter tests and benchmarks).
/// Returns the campaign id.
pub async fn letter_campaign(
    db: &Db,
    customers: impl Iterator<Item = Record>,
) -> Result<i64, StoreError> {
    use crate::{campaign, customer, mandate, org, user};
    use jiff::civil::date;
    use outreach_core::access::{Home, Role};
    use outreach_core::calls::CallingWindow;
    use outreach_core::campaign::{CampaignSettings, Selection};
    use outreach_core::customer::FieldGroup;
    use outreach_core::mandate::{MandateState, NewMandate};
    let mut tx = db.begin().await?;
    let jc = org::create_job_center(
        &mut tx,
        &org::NewJobCenter {
            code: "ob".into(),
            name: "Jobcenter Oberhausen".into(),
            street: "Marktstraße 1".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
            phone: "0208 12345-0".into(),
            email: "jobcenter-oberhausen@example.org".into(),
            state_code: "NW".into(),
            dpo_contact: "Datenschutzbeauftragte, datenschutz@example.org".into(),
            supervisory_authority: "Landesbeauftragte für Datenschutz NRW".into(),
        },
        0,
    )
    .await?;
    let sc = org::create_service_center(&mut tx, "sc", "Service-Center Hamburg", "Hamburg", "", 0)
        .await?;
    for c in customers {
        customer::insert(&mut tx, jc, &c, 0).await?;
    }
    let admin = user::create(
        &mut tx,
        &user::NewUser {
            username: "jc.admin".into(),
            display_name: "JC Admin".into(),
            role: Role::JobcenterAdmin,
            home: Home::JobCenter(jc),
            pap_code: None,
            password_hash: "x".into(),
        },
        0,
    )
    .await?;
    let m = NewMandate {
        service_center_id: sc,
        title: "Auftrag".into(),
        allowed_fields: FieldGroup::default_for_mandate(),
        period_start: date(2026, 1, 1),
        period_end: date(2027, 12, 31),
        deletion_deadline: date(2028, 3, 31),
        authority_notified_on: Some(date(2025, 12, 1)),
        window: CallingWindow::default(),
    };
    let mandate_id = mandate::create(&mut tx, jc, &m, admin, 0).await?;
    mandate::set_state(
        &mut tx,
        crate::RecordScope::Operator,
        mandate_id,
        MandateState::Draft,
        MandateState::Active,
    )
    .await?;
    let settings = CampaignSettings {
        name: "Winter".into(),
        selection: Selection::default(),
        guide_ref: "standard".into(),
        guide_id: None,
        window: CallingWindow::default(),
        attempts_per_day: 1,
        attempts_total: 6,
        lead_days: 7,
        period_start: date(2027, 1, 11),
        period_end: date(2027, 2, 26),
    };
    let id = campaign::create(&mut tx, jc, mandate_id, &settings, admin, 0).await?;
    tx.commit().await?;
    Ok(id)
}

/// A running campaign for queue tests and benchmarks: see [`queue_campaign`].
#[derive(Debug, Clone)]
pub struct QueueSetup {
    pub campaign_id: i64,
    pub service_center_id: i64,
    /// The agents' user names (`agent0`, `agent1`, …).
    pub agents: Vec<String>,
}

/// A campaign of `customers` generated customers (bulk, by SQL), activated
/// and with its advance letters sent on 01.12.2026, so every case is callable
/// on Tuesday 12.01.2027 inside the calling window; plus `agents` agent
/// accounts of its service center sharing `password_hash`, each with the
/// second factor of [`TEST_TOTP_SECRET`].
pub async fn queue_campaign(
    db: &Db,
    customers: i64,
    agents: usize,
    password_hash: &str,
) -> Result<QueueSetup, StoreError> {
    use crate::{campaign, user};
    use outreach_core::access::{Home, Role};
    let id = letter_campaign(db, std::iter::empty()).await?;
    let mut tx = db.begin().await?;
    let (jc, sc): (i64, i64) = tx
        .fetch_one(
            "SELECT k.job_center_id, m.service_center_id FROM campaigns k
             JOIN mandates m ON m.id = k.mandate_id WHERE k.id = $1",
            args![id],
        )
        .await?;
    // Every tenth customer is under 25, every seventh has a mobile number;
    // all live in North Rhine-Westphalia.
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
         INSERT INTO customers (job_center_id, customer_number, salutation, first_name,
             last_name, birth_date, phone, mobile, status, state_code, created_at, updated_at)
         SELECT $1, 'Q' || (10000000 + i), 'Frau', 'Erika', 'Muster' || i,
             CASE WHEN i % 10 = 0 THEN '2005-03-01' ELSE '1980-01-01' END,
             '+49208' || (1000000 + i),
             CASE WHEN i % 7 = 0 THEN '+49171' || (1000000 + i) ELSE NULL END,
             'unemployed', 'NW', 0, 0
         FROM n",
        args![jc, customers],
    )
    .await?;
    let c = campaign::by_id(&mut tx, crate::RecordScope::Operator, id)
        .await?
        .ok_or_else(|| StoreError::NotFound("the campaign just created".into()))?;
    campaign::activate(&mut tx, &c, jiff::civil::date(2027, 1, 4), 0).await?;
    tx.execute(
        "UPDATE cases SET letter_sent_on = '2026-12-01' WHERE campaign_id = $1",
        args![id],
    )
    .await?;
    let mut names = Vec::with_capacity(agents);
    for i in 0..agents {
        let username = format!("agent{i}");
        let id = user::create(
            &mut tx,
            &user::NewUser {
                username: username.clone(),
                display_name: format!("Agent {i}"),
                role: Role::Agent,
                home: Home::ServiceCenter(sc),
                pap_code: None,
                password_hash: password_hash.to_string(),
            },
            0,
        )
        .await?;
        // Signed in with the test secret's codes.
        crate::second_factor::enrol(&mut tx, id, TEST_TOTP_SECRET, 0, &[], 0).await?;
        names.push(username);
    }
    tx.commit().await?;
    Ok(QueueSetup {
        campaign_id: id,
        service_center_id: sc,
        agents: names,
    })
}

/// Tuesday 12.01.2027, 10:00 in Berlin (RFC 3339): a working day inside
/// the calling window of [`queue_campaign`].
pub const QUEUE_CLOCK: &str = "2027-01-12T10:00:00+01:00";

/// Closes a few cases of `campaign_id` whose customers carry `pap_code`, as
/// if agent `agent_id` had called them a few days before `now` — one data
/// update (a new mobile number, appointment wanted), one confirmation, one
/// refusal, one not reached — so that a demo's inbox and reports have
/// something to show. Returns how many cases were closed.
pub async fn demo_results(
    tx: &mut Tx,
    campaign_id: i64,
    agent_id: i64,
    pap_code: &str,
    now: i64,
) -> Result<usize, StoreError> {
    use outreach_core::guide::Field;
    use outreach_core::guide::session::{Change, Flags};
    let cases: Vec<(i64, Option<String>)> = tx
        .fetch_all(
            "SELECT k.id, c.mobile FROM cases k JOIN customers c ON c.id = k.customer_id
             WHERE k.campaign_id = $1 AND c.pap_code = $2 AND k.final_disposition IS NULL
             ORDER BY k.id LIMIT 4",
            args![campaign_id, pap_code],
        )
        .await?;
    for (n, (case_id, mobile)) in cases.iter().enumerate() {
        let at = now - 86_400 * (4 - i64::try_from(n).unwrap_or(0));
        let reached = n < 3;
        tx.execute(
            "INSERT INTO attempts (case_id, user_id, started_at, ended_at, result, phone_used)
             VALUES ($1, $2, $3, $4, $5, 'phone')",
            args![
                *case_id,
                agent_id,
                at - 600,
                at - 540,
                if reached { "reached" } else { "no_answer" }
            ],
        )
        .await?;
        tx.execute(
            "UPDATE cases SET leased_to = $2, lease_expires_at = $3, attempts_count = 1 WHERE id = $1",
            args![*case_id, agent_id, at + 600],
        )
        .await?;
        let (outcome, changes, flags) = match n {
            0 => (
                "updated",
                vec![Change {
                    field: Field::Stored(StoredField::Mobile),
                    question: "mobil".into(),
                    old: mobile.clone().unwrap_or_default(),
                    new: "+491701234567".into(),
                    old_display: mobile.clone().unwrap_or_default(),
                    new_display: "+49 170 1234567".into(),
                }],
                Flags {
                    wants_appointment: true,
                    contact_updated: true,
                    health_restriction: Some("no".into()),
                    ..Flags::default()
                },
            ),
            1 => ("confirmed", Vec::new(), Flags::default()),
            2 => ("refused", Vec::new(), Flags::default()),
            _ => {
                crate::calls::reschedule(tx, *case_id, agent_id, None, Some("not_reached"), at)
                    .await?;
                continue;
            }
        };
        let changes = serde_json::to_string(&changes).unwrap_or_else(|_| "[]".into());
        let codes = outreach_core::results::flag_codes(&flags);
        let flags = serde_json::to_string(&flags).unwrap_or_else(|_| "{}".into());
        crate::conversation::finish(
            tx,
            *case_id,
            agent_id,
            &crate::conversation::NewResult {
                outcome,
                guide_version: "Demo",
                identity_method: Some("items"),
                identity_passed: true,
                consent: outcome != "refused",
                answers: "[]",
                changes: &changes,
                flags: &flags,
                flag_codes: &codes,
            },
            outcome,
            at,
        )
        .await?;
    }
    Ok(cases.len())
}

/// Changes the audit log behind the application's back, as someone with
/// direct database access could: the protecting triggers are switched off
/// (SQLite: dropped) and `statement` runs. For tests of the chain check.
pub async fn tamper_with_audit(db: &Db, statement: &'static str) -> Result<u64, StoreError> {
    crate::audit::seal(db).await?;
    let mut tx = db.begin().await?;
    match db.backend() {
        Backend::Sqlite => {
            tx.execute("DROP TRIGGER IF EXISTS audit_events_no_update", vec![])
                .await?;
            tx.execute("DROP TRIGGER IF EXISTS audit_events_retention_only", vec![])
                .await?;
        }
        Backend::Postgres => {
            tx.execute(
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_protect",
                vec![],
            )
            .await?;
        }
    }
    let changed = tx.execute(statement, vec![]).await?;
    if db.backend() == Backend::Postgres {
        tx.execute(
            "ALTER TABLE audit_events ENABLE TRIGGER audit_events_protect",
            vec![],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// A local system administrator `admin.notfall` (the break-glass account),
/// created at `now` with a placeholder hash; its id.
pub async fn break_glass_admin(db: &Db, now: i64) -> Result<i64, StoreError> {
    use outreach_core::access::{Home, Role};
    let mut tx = db.begin().await?;
    let id = crate::user::create(
        &mut tx,
        &crate::user::NewUser {
            username: "admin.notfall".into(),
            display_name: "Notfall-Administration".into(),
            role: Role::Admin,
            home: Home::Global,
            pap_code: None,
            password_hash: "x".into(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The TOTP secret every test account is enrolled with: tests, benchmarks
/// and the authorisation matrix compute its codes, as a person's app does.
pub const TEST_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// One recovery code of every test account's second factor.
pub const TEST_RECOVERY_CODE: &str = "test-wied-erhe-rstl";

/// Enrols account `user_id` with [`TEST_TOTP_SECRET`] and the one recovery
/// code [`TEST_RECOVERY_CODE`].
pub async fn enrol_test_second_factor(db: &Db, user_id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let hashes = [outreach_core::second_factor::recovery_hash(
        TEST_RECOVERY_CODE,
    )];
    crate::second_factor::enrol(&mut tx, user_id, TEST_TOTP_SECRET, 0, &hashes, 0).await?;
    tx.commit().await?;
    Ok(())
}

/// Enrols account `username` with the test secret (see
/// [`enrol_test_second_factor`]).
pub async fn enrol_test_account(db: &Db, username: &str) -> Result<(), StoreError> {
    let mut tx = db.begin_read().await?;
    let user = crate::user::by_username(&mut tx, username)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
    drop(tx);
    enrol_test_second_factor(db, user.id).await
}

/// Enrols every local account of the database with the test secret.
pub async fn enrol_every_test_account(db: &Db) -> Result<(), StoreError> {
    let mut tx = db.begin_read().await?;
    let ids: Vec<(i64,)> = tx
        .fetch_all(
            "SELECT id FROM users WHERE identity_source = 'local' AND totp_enrolled_at IS NULL",
            args![],
        )
        .await?;
    drop(tx);
    for (id,) in ids {
        enrol_test_second_factor(db, id).await?;
    }
    Ok(())
}

/// The test secret's code now (real time, as the server checks it).
pub fn test_totp_code() -> String {
    outreach_core::second_factor::code_at(TEST_TOTP_SECRET, jiff::Timestamp::now().as_second())
        .unwrap_or_default()
}

/// Forgets which step account `username` used last, so that a test may
/// sign in with it twice within one 30-second step (a person can't).
pub async fn forget_used_code_step(db: &Db, username: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.execute(
        "UPDATE users SET totp_last_step = 0 WHERE username = $1",
        args![username],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
