//! Every page as every role sees it, recorded: for each role (own
//! organisation) and every GET route, the status, the content type and a
//! digest of the page, on a seeded database with the clock fixed, random
//! tokens, dates and times masked. The restructure into an application
//! layer must leave every line as it was; a changed page fails the test.
//!
//! `OUTREACH_PAGE_SNAPSHOT=record` writes the recorded lines anew (after a
//! change meant to alter pages); `OUTREACH_PAGE_DUMP=DIR` also writes every
//! masked page to `DIR/<database>/<role>/…html`, so that the pages of two
//! builds can be compared with `diff -r`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::Backend;
use outreach_store::testing::backends;
use outreach_web::route_table;
use regex::Regex;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The recorded lines of one database.
fn recorded(backend: Backend) -> PathBuf {
    let name = match backend {
        Backend::Sqlite => "pages-sqlite.txt",
        Backend::Postgres => "pages-postgres.txt",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

/// The page with what differs from run to run replaced by a mark: CSRF and
/// other tokens, hashes, dates, times and the build's asset version.
fn masked(body: &str) -> String {
    let rules = [
        (r"[0-9a-f]{16,}", "#hex"),
        (r"[A-Za-z0-9_-]{32,}={0,2}", "#token"),
        (
            r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?",
            "#iso",
        ),
        (r"\d{2}\.\d{2}\.\d{4}", "#datum"),
        // A chart's day label ("07.12."): the fixtures close a case at the
        // real time, so the day is the day the test runs.
        (r"\b\d{2}\.\d{2}\.", "#tag"),
        (r"\d{1,2}:\d{2}(:\d{2})?", "#zeit"),
        (r"\b1[6-9]\d{8}\b", "#sekunden"),
    ];
    let mut text = body.to_string();
    for (pattern, mark) in rules {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, mark)
            .into_owned();
    }
    text
}

fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A file name for a path: `/aktionen/1/briefe` → `aktionen_1_briefe.html`.
fn file_name(path: &str) -> String {
    let name: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}.html", if name.is_empty() { "start" } else { &name })
}

async fn snapshot(backend: Backend, dump: Option<&Path>) -> Vec<String> {
    let app = TestApp::new(backend).await;
    common::running_campaign(&app).await;
    let routes: Vec<_> = route_table()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path != "/logout")
        .collect();
    let mut lines = Vec::new();
    for role in Role::ALL {
        let mut client = app.login(&username(role, Side::Own)).await;
        for route in &routes {
            let target = common::concrete(route.path, &app.fixtures);
            let response = client.get(&target).await;
            let kind = response
                .headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            let page = if kind.starts_with("text/html") {
                masked(&response.body)
            } else {
                String::new()
            };
            let location = masked(response.location());
            lines.push(format!(
                "{} GET {} {} {} {} {}",
                role.code(),
                route.path,
                response.status.as_u16(),
                kind,
                if location.is_empty() { "-" } else { &location },
                digest(&page)
            ));
            if let Some(dir) = dump {
                let dir = dir.join(format!("{backend:?}")).join(role.code());
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(file_name(route.path)), &page).unwrap();
            }
        }
    }
    lines
}

#[tokio::test]
async fn every_page_for_every_role_is_as_recorded() {
    let record = std::env::var("OUTREACH_PAGE_SNAPSHOT").is_ok_and(|v| v == "record");
    let dump = std::env::var_os("OUTREACH_PAGE_DUMP").map(PathBuf::from);
    for backend in backends().await {
        let lines = snapshot(backend, dump.as_deref()).await;
        assert!(lines.len() > 300, "{} pages", lines.len());
        let file = recorded(backend);
        let text = lines.join("\n") + "\n";
        if record {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, text).unwrap();
            continue;
        }
        let before = std::fs::read_to_string(&file).unwrap_or_else(|_| {
            panic!(
                "{} is missing: record it with OUTREACH_PAGE_SNAPSHOT=record",
                file.display()
            )
        });
        let changed: Vec<String> = before
            .lines()
            .zip(&lines)
            .filter(|(old, new)| old != new)
            .map(|(old, new)| format!("  was {old}\n  now {new}"))
            .collect();
        assert!(
            changed.is_empty() && before.lines().count() == lines.len(),
            "[{backend:?}] {} of {} pages differ from {} (dump both builds' pages with \
             OUTREACH_PAGE_DUMP=DIR and compare with diff -r):\n{}",
            changed.len(),
            lines.len(),
            file.display(),
            changed.join("\n")
        );
    }
}
