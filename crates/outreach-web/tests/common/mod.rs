//! The test harness: an application on a fresh database (SQLite or PostgreSQL)
//! with two job centers, two service centers and one user per role on each
//! side, and a small cookie-keeping client that talks to the router directly.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::civil::date;
use outreach_core::access::{Home, Role};
use outreach_core::customer::Field;
use outreach_core::customer::FieldGroup;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::customer;
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::TestDb;
use outreach_store::testing::stored_record;
use outreach_store::{Backend, campaign, mandate, user};
use outreach_web::{AppState, WebConfig, app};
use std::collections::HashMap;
use tower::ServiceExt;

pub const PASSWORD: &str = "ein-langes-test-passwort";
/// The page of the sign-in's second step.
pub const SECOND_FACTOR: &str = "/login/zweiter-faktor";

/// Which organisation a test user belongs to: the one owning the fixtures, or another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Own,
    Foreign,
}

pub struct Fixtures {
    pub jc_a: i64,
    pub jc_b: i64,
    pub sc_x: i64,
    pub sc_y: i64,
    /// Active mandate A → X.
    pub mandate: i64,
    /// A customer of A with pAp-Kennung PAP1.
    pub customer_a: i64,
    pub customer_b: i64,
    /// A user the admin may deactivate or reset in tests.
    pub victim: i64,
    /// A closed campaign of A with cases and one letter batch.
    pub campaign: i64,
    pub batch: i64,
    pub case: i64,
    /// A final case of that campaign ("Auskunft verweigert", customer
    /// A000002 of pAp PAP2), reassigned to PAP1.
    pub result_case: i64,
    /// The built-in guide version.
    pub guide: i64,
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub fixtures: Fixtures,
    pub backend: Backend,
    /// This app's job worker, as `outreach serve` runs one.
    _jobs: JobWorker,
    _db: TestDb,
}

/// Stops the job worker with its app.
pub struct JobWorker(tokio::task::JoinHandle<()>);

impl Drop for JobWorker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The default settings, with the rate limits raised: the authorisation
/// test alone logs in thousands of times from one address.
pub fn test_config() -> WebConfig {
    let lots = outreach_web::rate_limit::Rate {
        per_minute: 1_000_000,
        burst: 1_000_000,
    };
    WebConfig {
        login_rate: lots,
        api_rate: lots,
        ..WebConfig::default()
    }
}

/// The login name of the test user with this role and side.
pub fn username(role: Role, side: Side) -> String {
    let side = match (role, side) {
        (Role::Admin, _) => "global",
        (_, Side::Own) => "own",
        (_, Side::Foreign) => "foreign",
    };
    format!("{}.{}", role.code().replace('_', "-"), side)
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        TestApp::with_config(backend, test_config()).await
    }

    pub async fn with_config(backend: Backend, config: WebConfig) -> TestApp {
        let tdb = TestDb::new(backend).await.expect("test database");
        let db = tdb.db.clone();
        let now = jiff::Timestamp::now().as_second();
        let hash = outreach_web::password::hash(PASSWORD.to_string())
            .await
            .expect("hash");
        let mut tx = db.begin().await.expect("tx");
        let jc = |code: &str, name: &str| NewJobCenter {
            code: code.into(),
            name: name.into(),
            state_code: "NW".into(),
            ..NewJobCenter::default()
        };
        let jc_a = org::create_job_center(&mut tx, &jc("jc-a", "Jobcenter A"), now)
            .await
            .expect("jc");
        let jc_b = org::create_job_center(&mut tx, &jc("jc-b", "Jobcenter B"), now)
            .await
            .expect("jc");
        let sc_x =
            org::create_service_center(&mut tx, "sc-x", "Service-Center X", "Hamburg", "", now)
                .await
                .expect("sc");
        let sc_y =
            org::create_service_center(&mut tx, "sc-y", "Service-Center Y", "Offenburg", "", now)
                .await
                .expect("sc");
        for role in Role::ALL {
            for side in [Side::Own, Side::Foreign] {
                if role == Role::Admin && side == Side::Foreign {
                    continue;
                }
                let home = match (role, side) {
                    (Role::Admin, _) => Home::Global,
                    (Role::Agent | Role::Supervisor, Side::Own) => Home::ServiceCenter(sc_x),
                    (Role::Agent | Role::Supervisor, Side::Foreign) => Home::ServiceCenter(sc_y),
                    (_, Side::Own) => Home::JobCenter(jc_a),
                    (_, Side::Foreign) => Home::JobCenter(jc_b),
                };
                user::create(
                    &mut tx,
                    &user::NewUser {
                        username: username(role, side),
                        display_name: format!("Test {}", role.label()),
                        role,
                        home,
                        pap_code: (role == Role::CaseManager).then(|| "PAP1".to_string()),
                        password_hash: hash.clone(),
                    },
                    now,
                )
                .await
                .expect("user");
            }
        }
        let victim = user::create(
            &mut tx,
            &user::NewUser {
                username: "opfer".into(),
                display_name: "Opfer".into(),
                role: Role::Agent,
                home: Home::ServiceCenter(sc_x),
                pap_code: None,
                password_hash: hash.clone(),
            },
            now,
        )
        .await
        .expect("victim");
        let customer = |number: &str, pap: &str| {
            stored_record(&[
                (Field::CustomerNumber, number),
                (Field::FirstName, "Erika"),
                (Field::LastName, "Mustermann"),
                (Field::BirthDate, "1980-05-17"),
                (Field::Postcode, "46045"),
                (Field::Status, "unemployed"),
                (Field::PapCode, pap),
                (Field::Phone, "+492081234567"),
            ])
        };
        let customer_a = customer::insert(&mut tx, jc_a, &customer("A000001", "PAP1"), now)
            .await
            .expect("c");
        customer::insert(&mut tx, jc_a, &customer("A000002", "PAP2"), now)
            .await
            .expect("c");
        let customer_b = customer::insert(&mut tx, jc_b, &customer("B000001", "PAP1"), now)
            .await
            .expect("c");
        let today = outreach_core::date::berlin_date(now);
        let admin_a = user::by_username(&mut tx, &username(Role::JobcenterAdmin, Side::Own))
            .await
            .expect("admin")
            .expect("admin");
        let mandate = mandate::create(
            &mut tx,
            jc_a,
            &NewMandate {
                service_center_id: sc_x,
                title: "Testauftrag".into(),
                allowed_fields: FieldGroup::default_for_mandate(),
                period_start: today.yesterday().unwrap_or(today),
                period_end: today.tomorrow().unwrap_or(today),
                deletion_deadline: date(2099, 1, 1),
                authority_notified_on: Some(date(2020, 1, 1)),
                window: outreach_core::calls::CallingWindow::default(),
            },
            admin_a.id,
            now,
        )
        .await
        .expect("mandate");
        mandate::set_state(
            &mut tx,
            outreach_store::RecordScope::Operator,
            mandate,
            MandateState::Draft,
            MandateState::Active,
        )
        .await
        .expect("activate");
        // A campaign of A with cases and a letter batch, then closed, so that
        // tests creating campaigns can select the same customers again.
        let settings = outreach_core::campaign::CampaignSettings {
            name: "Testaktion".into(),
            selection: outreach_core::campaign::Selection::default(),
            guide_ref: "Standardleitfaden".into(),
            guide_id: None,
            window: outreach_core::calls::CallingWindow::default(),
            attempts_per_day: 1,
            attempts_total: 6,
            lead_days: 7,
            period_start: today.yesterday().unwrap_or(today),
            period_end: today.tomorrow().unwrap_or(today),
        };
        let guide = outreach_store::guide::list(&mut tx, jc_a)
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.built_in())
            .expect("the built-in guide is stored on migration")
            .id;
        let campaign = campaign::create(&mut tx, jc_a, mandate, &settings, admin_a.id, now)
            .await
            .expect("campaign");
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, campaign)
            .await
            .expect("campaign")
            .expect("campaign");
        campaign::activate(&mut tx, &c, today, now)
            .await
            .expect("activate campaign");
        let (batch, _) = outreach_app::letters::create_advance_batch(
            &mut tx,
            outreach_store::RecordScope::Operator,
            campaign,
            today,
            None,
            now,
        )
        .await
        .expect("batch")
        .expect("letters");
        let (case,): (i64,) = tx
            .fetch_one(
                "SELECT MIN(id) FROM cases WHERE campaign_id = $1",
                outreach_store::args![campaign],
            )
            .await
            .expect("case");
        let (result_case,): (i64,) = tx
            .fetch_one(
                "SELECT k.id FROM cases k JOIN customers c ON c.id = k.customer_id
                 WHERE k.campaign_id = $1 AND c.customer_number = 'A000002'",
                outreach_store::args![campaign],
            )
            .await
            .expect("result case");
        tx.execute(
            "UPDATE cases SET final_disposition = 'refused', state = 'final', closed_at = $2 WHERE id = $1",
            outreach_store::args![result_case, now],
        )
        .await
        .expect("final case");
        let scope = outreach_core::access::CustomerScope::JobCenter {
            job_center_id: jc_a,
        };
        outreach_store::results::reassign(&mut tx, &scope, result_case, "PAP1")
            .await
            .expect("reassign");
        campaign::set_state(
            &mut tx,
            outreach_store::RecordScope::Operator,
            campaign,
            outreach_core::campaign::CampaignState::Active,
            outreach_core::campaign::CampaignState::Closed,
        )
        .await
        .expect("close campaign");
        tx.commit().await.expect("commit");
        // Every test account signs in with the test secret's codes, as a
        // person does with their app.
        outreach_store::testing::enrol_every_test_account(&db)
            .await
            .expect("second factors");
        let state = AppState::new(db, config);
        let jobs = JobWorker(outreach_web::maintenance::spawn_jobs(&state));
        TestApp {
            _jobs: jobs,
            router: app(state.clone()),
            state,
            fixtures: Fixtures {
                jc_a,
                jc_b,
                sc_x,
                sc_y,
                mandate,
                customer_a,
                customer_b,
                victim,
                campaign,
                batch,
                case,
                result_case,
                guide,
            },
            backend,
            _db: tdb,
        }
    }

    /// The app with sign-in through the directory of `settings` (the group
    /// table's organisation codes: `jc-a`, `jc-b`, `sc-x`, `sc-y`).
    #[allow(dead_code)]
    pub async fn with_directory(
        backend: Backend,
        settings: &outreach_directory::Settings,
    ) -> TestApp {
        let mut test = TestApp::new(backend).await;
        let sign_on = outreach_app::directory::SignOn::new(&test.state.db, settings, None)
            .await
            .expect("directory settings");
        let config = WebConfig {
            sign_on: Some(std::sync::Arc::new(sign_on)),
            ..test_config()
        };
        test.state = AppState::new(test.state.db.clone(), config);
        test.router = app(test.state.clone());
        test
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            db: self.state.db.clone(),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    /// A client logged in as `username`.
    pub async fn login(&self, username: &str) -> Client {
        let mut client = self.client();
        let response = client.login(username, PASSWORD).await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "[{:?}] login of {username} failed: {}",
            self.backend,
            response.body
        );
        client.refresh_csrf().await;
        client
    }
}

/// A response with its body read.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as sent (for binary downloads).
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Cookie-keeping client calling the router in process.
pub struct Client {
    router: Router,
    /// The test's database: a sign-in may reuse the code step of the last.
    db: outreach_store::Db,
    pub cookies: HashMap<String, String>,
    /// The CSRF token forms of this client carry.
    pub csrf: String,
}

/// The text between the first `start` and the next `end`, or "".
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    text.find(start)
        .map(|i| &text[i + start.len()..])
        .and_then(|rest| rest.find(end).map(|j| &rest[..j]))
        .unwrap_or("")
}

/// The recovery codes a page shows.
pub fn recovery_codes_in(body: &str) -> Vec<String> {
    between(body, "<ol class=\"recovery-codes\">", "</ol>")
        .split("<code>")
        .skip(1)
        .filter_map(|part| part.split("</code>").next())
        .map(str::to_string)
        .collect()
}

/// The value of `<meta name="csrf-token" content="...">` or of the hidden field.
pub fn csrf_in(body: &str) -> String {
    for marker in ["name=\"csrf-token\" content=\"", "name=\"csrf\" value=\""] {
        if let Some(start) = body.find(marker) {
            let rest = &body[start + marker.len()..];
            return rest.split('"').next().unwrap_or("").to_string();
        }
    }
    String::new()
}

impl Client {
    pub async fn send(&mut self, request: Request<Body>) -> Response {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let request = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// Posts a form as is (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Posts a multipart form: `(name, filename, content)`; a part without a
    /// filename is a plain field. The CSRF token is the first field, as the
    /// page sends it.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Response {
        let csrf = self.csrf.clone();
        let mut all: Vec<(&str, Option<&str>, &[u8])> = vec![("csrf", None, csrf.as_bytes())];
        all.extend_from_slice(parts);
        self.post_multipart_raw(path, &all).await
    }

    /// Posts a multipart form as is (no CSRF token added).
    pub async fn post_multipart_raw(
        &mut self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Response {
        let boundary = "----outreach-test-boundary";
        let mut body = Vec::new();
        for (name, filename, content) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Posts a form with this client's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Fetches a page to learn the current CSRF token.
    pub async fn refresh_csrf(&mut self) {
        let page = self.get("/konto/passwort").await;
        self.csrf = csrf_in(&page.body);
    }

    /// Signs in with the password and, when asked, the test secret's code
    /// (see [`Client::password_step`] for the first step alone).
    pub async fn login(&mut self, username: &str, password: &str) -> Response {
        let response = self.password_step(username, password).await;
        if response.location() != SECOND_FACTOR {
            return response;
        }
        self.code_step(username, &outreach_store::testing::test_totp_code())
            .await
    }

    /// Signs in an account that has no second factor yet: the password,
    /// the set-up page's secret (as a person types it into the app) and
    /// its first code. Returns the last answer, the secret and the
    /// recovery codes shown.
    pub async fn login_enrolling(
        &mut self,
        username: &str,
        password: &str,
    ) -> (Response, String, Vec<String>) {
        let first = self.password_step(username, password).await;
        assert_eq!(first.location(), SECOND_FACTOR, "{}", first.body);
        let page = self.get(SECOND_FACTOR).await;
        let secret = between(&page.body, "<p class=\"secret\"><code>", "</code>").replace(' ', "");
        assert!(!secret.is_empty(), "no secret shown: {}", page.body);
        let code =
            outreach_core::second_factor::code_at(&secret, jiff::Timestamp::now().as_second())
                .expect("a secret of the right form");
        let done = self.post(SECOND_FACTOR, &[("code", &code)]).await;
        let codes = recovery_codes_in(&done.body);
        (done, secret, codes)
    }

    /// The sign-in's first step: the login form with the password.
    pub async fn password_step(&mut self, username: &str, password: &str) -> Response {
        // Signed in already, the form isn't shown: the session's token then.
        let page = self.get("/login").await;
        let token = csrf_in(&page.body);
        if !token.is_empty() {
            self.csrf = token;
        }
        self.post("/login", &[("username", username), ("password", password)])
            .await
    }

    /// The sign-in's second step with `code` (this test's sign-ins may
    /// share a 30-second step: the account's last step is forgotten).
    pub async fn code_step(&mut self, username: &str, code: &str) -> Response {
        outreach_store::testing::forget_used_code_step(&self.db, username)
            .await
            .expect("forget the step");
        self.post(SECOND_FACTOR, &[("code", code)]).await
    }

    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("outreach_sitzung")
    }
}

/// Tuesday 12.01.2027, 10:00 in Berlin: a working day inside the window.
pub fn target() -> i64 {
    jiff::civil::date(2027, 1, 12)
        .at(10, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
        .as_second()
}

/// A running campaign of job center A for service center X with the two
/// customers of A, letters sent; the clock moved to [`target`].
pub async fn running_campaign(app: &TestApp) -> i64 {
    app.state.clock.advance(target() - app.state.clock.now());
    let mut tx = app.state.db.begin().await.unwrap();
    tx.execute(
        "UPDATE mandates SET period_start = '2026-01-01', period_end = '2027-12-31' WHERE id = $1",
        outreach_store::args![app.fixtures.mandate],
    )
    .await
    .unwrap();
    let settings = outreach_core::campaign::CampaignSettings {
        name: "Winter 2027".into(),
        selection: outreach_core::campaign::Selection::default(),
        guide_ref: "Standard".into(),
        guide_id: Some(app.fixtures.guide),
        window: outreach_core::calls::CallingWindow::default(),
        attempts_per_day: 1,
        attempts_total: 6,
        lead_days: 7,
        period_start: jiff::civil::date(2027, 1, 11),
        period_end: jiff::civil::date(2027, 2, 26),
    };
    let (admin,): (i64,) = tx
        .fetch_one(
            "SELECT id FROM users WHERE username = $1",
            outreach_store::args![username(Role::JobcenterAdmin, Side::Own)],
        )
        .await
        .unwrap();
    let id = outreach_store::campaign::create(
        &mut tx,
        app.fixtures.jc_a,
        app.fixtures.mandate,
        &settings,
        admin,
        0,
    )
    .await
    .unwrap();
    let c = outreach_store::campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
        .await
        .unwrap()
        .unwrap();
    let cases = outreach_store::campaign::activate(&mut tx, &c, jiff::civil::date(2027, 1, 4), 0)
        .await
        .unwrap();
    assert_eq!(cases, Some(2));
    tx.execute(
        "UPDATE cases SET letter_sent_on = '2026-12-01' WHERE campaign_id = $1",
        outreach_store::args![id],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The concrete URL for a route pattern, with ids of records owned by A / X
/// (an import job that doesn't exist where the pattern names one).
pub fn concrete(path: &str, f: &Fixtures) -> String {
    path.replace("{job}", "0")
        .replace("{file}", "app.css")
        .replace("{batch}", &f.batch.to_string())
        .replace("{part}", "1")
        .replace("{case}", &f.case.to_string())
        .replace(
            "{id}",
            &if path.starts_with("/aktionen") {
                f.campaign
            } else if path.starts_with("/leitfaeden") {
                f.guide
            } else if path.starts_with("/anrufe") || path.starts_with("/teamleitung") {
                f.case
            } else if path.starts_with("/ergebnisse") {
                f.result_case
            } else if path.starts_with("/auftraege") {
                f.mandate
            } else if path.starts_with("/kunden")
                || path.starts_with("/auskunft")
                || path.starts_with("/betroffenenrechte")
            {
                f.customer_a
            } else {
                f.victim
            }
            .to_string(),
        )
}

/// The cells of a CSV export that a spreadsheet would run as a formula.
pub fn formula_cells(body: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| r.expect("a CSV row"))
        .flat_map(|r| r.iter().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| outreach_core::spreadsheet::would_run(c))
        .collect()
}

/// A conversation with customer A000001 in a running campaign, finished by
/// the own agent with `outcome` (a final disposition code), these changes
/// and flags; returns the case.
pub async fn finished_result(
    app: &TestApp,
    outcome: &'static str,
    changes: &[outreach_core::guide::session::Change],
    flags: &outreach_core::guide::session::Flags,
) -> i64 {
    use outreach_store::conversation::{self, NewResult};
    use outreach_store::{Tx, args};
    let campaign = running_campaign(app).await;
    let mut tx: Tx = app.state.db.begin().await.unwrap();
    let (case,): (i64,) = tx
        .fetch_one(
            "SELECT k.id FROM cases k JOIN customers c ON c.id = k.customer_id
             WHERE k.campaign_id = $1 AND c.customer_number = 'A000001'",
            args![campaign],
        )
        .await
        .unwrap();
    let (agent,): (i64,) = tx
        .fetch_one(
            "SELECT id FROM users WHERE username = $1",
            args![username(Role::Agent, Side::Own)],
        )
        .await
        .unwrap();
    tx.execute(
        "UPDATE cases SET leased_to = $2, lease_expires_at = $3 WHERE id = $1",
        args![case, agent, app.state.clock.now() + 600],
    )
    .await
    .unwrap();
    let codes = outreach_core::results::flag_codes(flags);
    let changes = serde_json::to_string(changes).unwrap();
    let flags = serde_json::to_string(flags).unwrap();
    let result = NewResult {
        outcome,
        guide_version: "2027-01",
        identity_method: Some("items"),
        identity_passed: true,
        consent: true,
        answers: "[]",
        changes: &changes,
        flags: &flags,
        flag_codes: &codes,
    };
    let now = app.state.clock.now();
    assert!(
        conversation::finish(&mut tx, case, agent, &result, outcome, now)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    case
}
