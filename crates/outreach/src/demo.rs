//! `outreach demo`: the product with seeded data on an embedded SQLite
//! file, as a training installation.

use crate::commands::{Listening, open, serve_db};
use outreach_app::demo::Prepared;
use std::process::ExitCode;

pub async fn run(file: &str, bind: &str) -> anyhow::Result<ExitCode> {
    let url = format!("sqlite://{file}");
    let db = open(&url).await?;
    let now = jiff::Timestamp::now().as_second();
    let Prepared { fresh, logins } = outreach_app::demo::prepare(&db, now).await?;

    println!();
    println!(
        "Outreach-Demo {} {file}",
        if fresh {
            "angelegt in"
        } else {
            "verwendet vorhandene Datei"
        }
    );
    println!("Adresse: http://{bind}/");
    println!();
    println!(
        "Anmeldungen (Passwörter werden bei jedem Start neu erzeugt und nur jetzt angezeigt):"
    );
    for (username, role, password) in &logins {
        println!("  {:<26} {:<32} {password}", username, role);
    }
    println!();
    // The demo is a training installation: a moved clock is accepted, a
    // banner says so, and nothing is deleted on schedule.
    let config = outreach_web::WebConfig {
        training: true,
        ..outreach_web::WebConfig::default()
    };
    serve_db(db, bind, config, Listening::default()).await
}
