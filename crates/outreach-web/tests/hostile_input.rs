//! Hostile input to every form on both databases: for every state-changing
//! route, `OUTREACH_HOSTILE_INPUTS` (default 200) requests by a user the
//! route is open to, each with random fields of the application's forms
//! carrying overlong text, control characters, HTML and script, SQL
//! fragments, broken dates and numbers and invalid UTF-8. Every answer is a
//! page or a redirect — never a 500, never internals — and a refused form
//! stores nothing. Random bytes as an uploaded export (as many uploads) get
//! a German message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use outreach_web::route_table;

/// Every field name the application's forms use.
const FIELDS: [&str; 85] = [
    "action",
    "aktion",
    "ansprechperson",
    "antwort",
    "attempts_per_day",
    "attempts_total",
    "authority_notified_on",
    "benutzer",
    "bis",
    "code",
    "contact_weeks",
    "current",
    "datei",
    "datensatz",
    "datum",
    "deletion_deadline",
    "display_name",
    "einschraenken",
    "ergebnis",
    "fehlend",
    "feld",
    "fields",
    "format",
    "frage",
    "grund",
    "guide",
    "jc_authority",
    "jc_city",
    "jc_code",
    "jc_dpo",
    "jc_email",
    "jc_name",
    "jc_phone",
    "jc_postcode",
    "jc_state",
    "jc_street",
    "jobcenter",
    "kldb",
    "kunde",
    "kundennummer",
    "lead_days",
    "mandate",
    "merkmal",
    "name",
    "new",
    "notiz",
    "nummer",
    "objection_on",
    "organisation",
    "ort",
    "pap",
    "pap_code",
    "password",
    "period_end",
    "period_start",
    "postcodes",
    "probelauf",
    "quelle",
    "raum",
    "repeat",
    "role",
    "rueckruf_datum",
    "rueckruf_zeit",
    "sc_city",
    "sc_code",
    "sc_name",
    "sc_phone",
    "seit",
    "service_center",
    "state",
    "statuses",
    "submitted",
    "suche",
    "suchen",
    "tag",
    "tage",
    "telefon",
    "termin",
    "title",
    "uhrzeit",
    "ungelesen",
    "unterlagen",
    "username",
    "von",
    "window_days",
];

/// Values an attacker or a broken client sends.
fn hostile(rng: &mut Rng) -> String {
    const FIXED: [&str; 24] = [
        "",
        " ",
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "'; DROP TABLE customers; --",
        "1 OR 1=1",
        "' UNION SELECT password_hash FROM users --",
        "%00%ff",
        "\u{0}\u{1}\u{7}\u{1b}[31m\u{7f}",
        "\r\n\r\nX-Injected: 1",
        "31.02.2027",
        "99.99.9999",
        "-1",
        "0",
        "99999999999999999999999999",
        "1e309",
        "NaN",
        "😀🇩🇪",
        "\u{202e}gnp.exe",
        "Ä\u{308}\u{308}\u{308}",
        "../../etc/passwd",
        "${jndi:ldap://x}",
        "{{7*7}}",
        "unemployed",
    ];
    match rng.next() % 6 {
        0 => "A".repeat(1 + (rng.next() % 70_000) as usize),
        1 => (0..(rng.next() % 40))
            .map(|_| char::from_u32((rng.next() % 0x2FFF) as u32).unwrap_or('?'))
            .collect(),
        2 => format!("{}", rng.next() as i64),
        _ => FIXED[(rng.next() % FIXED.len() as u64) as usize].to_string(),
    }
}

/// xorshift64*: the same inputs in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A urlencoded body of random fields; now and then raw bytes that are not UTF-8.
fn body(rng: &mut Rng, csrf: &str) -> Vec<u8> {
    let mut fields = form_urlencoded::Serializer::new(String::new());
    fields.append_pair("csrf", csrf);
    for _ in 0..(1 + rng.next() % 8) {
        let name = FIELDS[(rng.next() % FIELDS.len() as u64) as usize];
        fields.append_pair(name, &hostile(rng));
    }
    let mut out = fields.finish().into_bytes();
    if rng.next().is_multiple_of(5) {
        let name = FIELDS[(rng.next() % FIELDS.len() as u64) as usize];
        out.extend_from_slice(format!("&{name}=").as_bytes());
        out.extend_from_slice(b"%FF%FE%C3%28\xff\xfe");
    }
    out
}

/// Rows in the tables a form writes to: a refused form changes none.
async fn stored(app: &TestApp) -> String {
    let mut tx = app.state.db.read().await.unwrap();
    let (counts,): (String,) = tx
        .fetch_one(
            "SELECT CAST((SELECT COUNT(*) FROM customers) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM campaigns) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM mandates) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM users) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM guides) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM appointment_slots) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM invitations) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM api_tokens) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM customer_disputes) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM result_disputes) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM job_centers) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM service_centers) AS TEXT)
                 || ',' || CAST((SELECT COUNT(*) FROM attempts) AS TEXT) || ',' || CAST((SELECT COUNT(*) FROM letter_batches) AS TEXT)",
            vec![],
        )
        .await
        .unwrap();
    counts
}

const LEAKS: [&str; 7] = [
    "panicked",
    "sqlx",
    "SQLSTATE",
    "error returned from database",
    "stack backtrace",
    "src/",
    "SqliteError",
];

fn inputs() -> u64 {
    std::env::var("OUTREACH_HOSTILE_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[tokio::test]
async fn hostile_input_to_every_form_never_breaks_anything() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut rng = Rng(0x0075_7472_6561_6368);
        let mut sent = 0u64;
        for route in route_table() {
            if route.method != "POST" || route.path.starts_with("/api/") {
                continue;
            }
            // Logging out or in is not a form with data; the session must stay.
            // (The second step of the sign-in has a test of its own.)
            if matches!(
                route.path,
                "/logout" | "/login" | "/login/zweiter-faktor" | "/sitzung/verlaengern"
            ) {
                continue;
            }
            let role = allowed_role(route.path);
            let mut client = app.login(&username(role, Side::Own)).await;
            let target = common::concrete(route.path, &app.fixtures);
            for _ in 0..inputs() {
                let before = stored(&app).await;
                let request = Request::post(target.as_str())
                    .header(header::COOKIE, client.cookie_header())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body(&mut rng, &client.csrf)))
                    .unwrap();
                let response = client.send(request).await;
                sent += 1;
                // The form was read as the user's: the session holds.
                assert!(
                    !(response.status.is_redirection()
                        && response.location().starts_with("/login")),
                    "[{backend:?}] POST {target} sent the user to {}",
                    response.location()
                );
                assert_ne!(
                    response.status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "[{backend:?}] POST {target}: {}",
                    response.body
                );
                for leak in LEAKS {
                    assert!(
                        !response.body.contains(leak),
                        "[{backend:?}] POST {target} shows {leak}: {}",
                        response.body
                    );
                }
                // Nothing sent comes back as markup.
                for script in REFLECTED {
                    assert!(
                        !response.body.contains(script),
                        "[{backend:?}] POST {target} reflects {script}: {}",
                        &response.body[..response.body.len().min(2000)]
                    );
                }
                if response.status.is_client_error() {
                    assert_eq!(
                        stored(&app).await,
                        before,
                        "[{backend:?}] POST {target} was refused ({}) but stored something",
                        response.status
                    );
                    assert!(
                        names_the_problem(response.status, &response.body),
                        "[{backend:?}] POST {target} ({}) names no problem next to {:?}: {}",
                        response.status,
                        field_messages_missing(&response.body),
                        &response.body[..response.body.len().min(3000)]
                    );
                }
            }
        }
        // Random bytes as an export file: read, refused with a German message.
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        for _ in 0..inputs() {
            let len = (rng.next() % 4000) as usize;
            let file: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let response = admin
                .post_multipart(
                    "/kunden/import",
                    &[("probelauf", None, b"1"), ("datei", Some("x.csv"), &file)],
                )
                .await;
            sent += 1;
            assert_ne!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
            for leak in LEAKS {
                assert!(!response.body.contains(leak), "{}", response.body);
            }
            // Refused at once (empty), or read in the background: then the
            // dry run ends with its report or a German message, storing nothing.
            if response.status == StatusCode::SEE_OTHER {
                let before = stored(&app).await;
                let job = response.location().to_string();
                let page = finished(&mut admin, &job).await;
                assert!(
                    page.contains("Probelauf abgeschlossen")
                        || page.contains("class=\"warning\" role=\"alert\"><p>"),
                    "[{backend:?}] {job}: {page}"
                );
                for leak in LEAKS {
                    assert!(!page.contains(leak), "{page}");
                }
                assert_eq!(stored(&app).await, before, "[{backend:?}] a dry run stored");
            } else {
                assert!(
                    names_the_problem(response.status, &response.body),
                    "[{backend:?}] upload ({}): {}",
                    response.status,
                    response.body
                );
            }
        }
        assert!(sent >= inputs() * 40, "{sent}");
    }
}

/// The sign-in's second step, between the password and the code: hostile
/// codes and fields never give a session, a 500 or internals; each is
/// refused with the message at the field (or, once the account is locked,
/// at the login form), and nothing is stored.
#[tokio::test]
async fn hostile_codes_at_the_second_step_of_the_sign_in() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut rng = Rng(0x0063_6f64_6531_3233);
        let agent = username(Role::Agent, Side::Own);
        let mut client = app.client();
        for i in 0..inputs() {
            // A new sign-in every third code (the lockout lets four wrong
            // codes through per window; the clock moves past it).
            if i % 3 == 0 {
                app.state.clock.advance(15 * 60 + 1);
                client = app.client();
                let first = client.password_step(&agent, common::PASSWORD).await;
                assert_eq!(first.location(), common::SECOND_FACTOR, "[{backend:?}]");
            }
            let before = stored(&app).await;
            let mut fields = form_urlencoded::Serializer::new(String::new());
            fields.append_pair("code", &hostile(&mut rng));
            let mut bytes = fields.finish().into_bytes();
            bytes.push(b'&');
            bytes.extend(body(&mut rng, &client.csrf));
            let request = Request::post(common::SECOND_FACTOR)
                .header(header::COOKIE, client.cookie_header())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(bytes))
                .unwrap();
            let response = client.send(request).await;
            assert!(
                !client.has_session(),
                "[{backend:?}] a hostile code signed in"
            );
            assert_ne!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
            for leak in LEAKS.iter().chain(REFLECTED.iter()) {
                assert!(
                    !response.body.contains(leak),
                    "[{backend:?}] the second step shows {leak}: {}",
                    response.body
                );
            }
            assert!(
                response.status.is_client_error(),
                "[{backend:?}] {}: {}",
                response.status,
                response.body
            );
            assert!(
                names_the_problem(response.status, &response.body),
                "[{backend:?}] names no problem: {}",
                response.body
            );
            assert_eq!(stored(&app).await, before, "[{backend:?}]");
        }
    }
}

/// Hostile values that must never come back unescaped.
const REFLECTED: [&str; 2] = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"];

/// Whether a refused request's page says what was wrong: a form refused
/// field by field (422) shows a message next to a field or in the error
/// summary; any other refusal is an error page with its own title.
fn names_the_problem(status: StatusCode, body: &str) -> bool {
    // A value refused before any form sees it: the page names the field
    // („…“) and what is wrong with it.
    if body.contains("<h1>Eingabe nicht übernommen</h1>") {
        return body.contains("<p>„")
            && ["darf höchstens", "enthält", "einzeilig"]
                .iter()
                .any(|what| body.contains(what));
    }
    if status == StatusCode::UNPROCESSABLE_ENTITY || body.contains("class=\"error-summary\"") {
        return field_messages_missing(body).is_empty();
    }
    // An answer for the page's script: a German sentence, no markup.
    if !body.starts_with('<') && body.ends_with('.') && body.contains(' ') {
        return true;
    }
    [
        "<h1>Ungültige Anfrage</h1>",
        "<h1>Seite nicht gefunden</h1>",
        "<h1>Keine Berechtigung</h1>",
        "<h1>Sicherheitsprüfung fehlgeschlagen</h1>",
        "<h1>Zurzeit zu viele Übertragungen</h1>",
        "<h1>Eingabe zu groß</h1>",
    ]
    .iter()
    .any(|title| body.contains(title))
}

/// The fields the error summary names (`href="#field"`) that have no
/// message next to them on the page (`id="field-fehler"` with "Fehler: ")
/// or no element to jump to.
fn field_messages_missing(body: &str) -> Vec<String> {
    let Some(start) = body.find("class=\"error-summary\"") else {
        // A form without a summary: a message next to one of its fields.
        let next_to_field = body
            .split("class=\"error-text\" id=\"")
            .skip(1)
            .any(|rest| {
                rest.split('"')
                    .next()
                    .is_some_and(|id| id.ends_with("-fehler"))
                    && rest
                        .chars()
                        .take(200)
                        .collect::<String>()
                        .contains("Fehler: ")
            });
        return if next_to_field {
            Vec::new()
        } else {
            vec!["(keine Fehlermeldung am Feld)".into()]
        };
    };
    let summary = &body[start
        ..body[start..]
            .find("</div>")
            .map_or(body.len(), |e| start + e)];
    let mut missing = Vec::new();
    for part in summary.split("href=\"#").skip(1) {
        let field = part.split('"').next().unwrap_or("");
        let target = format!("id=\"{field}\"");
        let message = format!("id=\"{field}-fehler\"");
        let next_to = body.find(&message).is_some_and(|i| {
            body[i..]
                .chars()
                .take(200)
                .collect::<String>()
                .contains("Fehler: ")
        });
        if !body.contains(&target) || !next_to {
            missing.push(field.to_string());
        }
    }
    if summary.split("href=\"#").count() < 2 {
        missing.push("(leere Fehlerübersicht)".into());
    }
    missing
}

/// Polls an import's status until it ended; returns the job page.
async fn finished(client: &mut common::Client, job: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = client.get(&format!("{job}/status")).await;
        if status.body.contains("\"running\":false") {
            return client.get(job).await.body;
        }
        assert!(std::time::Instant::now() < deadline, "import still running");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A role of the own organisation the route is open to.
fn allowed_role(path: &str) -> Role {
    use Role::*;
    if path.starts_with("/admin/") {
        Admin
    } else if path.starts_with("/anrufe") {
        Agent
    } else if path.starts_with("/teamleitung") {
        Supervisor
    } else if path.starts_with("/protokoll") || path.starts_with("/aufbewahrung") {
        Dpo
    } else if path.starts_with("/ergebnisse/{id}/kenntnis")
        || path.starts_with("/ergebnisse/{id}/bestritten")
        || path.starts_with("/termine")
    {
        CaseManager
    } else {
        JobcenterAdmin
    }
}
