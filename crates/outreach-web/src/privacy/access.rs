//! Access requests (Art. 15 GDPR): finding the person by customer number,
//! and everything stored about them as a page and as JSON.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "privacy/access_search.html")]
pub(super) struct SearchPage {
    pub(super) layout: Layout,
    pub(super) form: FormData,
    pub(super) errors: Errors,
    pub(super) found: Vec<Found>,
}

pub(super) async fn search(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let actor = &ctx.user.actor;
    let number = query.get("kundennummer").trim().to_uppercase();
    let mut errors = Errors::default();
    let mut found = Vec::new();
    if query.raw("kundennummer").is_empty() && !query.get("suchen").is_empty() {
        errors.add(
            "kundennummer",
            "Kundennummer",
            "Bitte geben Sie die Kundennummer der Person an.",
        );
    } else if !number.is_empty() {
        if number.chars().count() > 40 || number.chars().any(char::is_control) {
            errors.add(
                "kundennummer",
                "Kundennummer",
                "Eine Kundennummer hat höchstens 40 Zeichen ohne Steuerzeichen.",
            );
        } else {
            found = privacy::find(&state.db, actor, &number).await?;
            if found.is_empty() {
                errors.add(
                    "kundennummer",
                    "Kundennummer",
                    format!("Zur Kundennummer {number} ist nichts gespeichert."),
                );
            }
        }
    }
    if let [one] = found.as_slice() {
        return Ok(Redirect::to(&format!("/auskunft/{}", one.id)).into_response());
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        SearchPage {
            layout: Layout::new(&ctx.user, "Auskunft nach Art. 15 DSGVO", "/auskunft"),
            form: query,
            errors,
            found,
        },
    )
        .into_response())
}

pub(super) struct Line {
    pub(super) label: String,
    pub(super) value: String,
}

pub(super) struct Table {
    pub(super) caption: &'static str,
    pub(super) headers: Vec<&'static str>,
    pub(super) rows: Vec<Vec<String>>,
}

#[derive(Template, WebTemplate)]
#[template(path = "privacy/access_disclosure.html")]
pub(super) struct DisclosurePage {
    pub(super) layout: Layout,
    pub(super) id: i64,
    pub(super) job_center: String,
    pub(super) generated: String,
    pub(super) master: Vec<Line>,
    pub(super) restricted: String,
    pub(super) tables: Vec<Table>,
}

pub(super) fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// A stored telephone number as a person reads it.
fn opt_phone(v: &Option<String>) -> String {
    v.as_deref()
        .map(outreach_core::phone::display)
        .unwrap_or_default()
}

pub(super) fn opt_date(v: &Option<String>) -> String {
    v.as_deref().map(iso_to_de).unwrap_or_default()
}

pub(super) fn opt_time(v: Option<i64>) -> String {
    v.map(format_de_datetime).unwrap_or_default()
}

pub(super) fn attempt_label(code: &str) -> String {
    outreach_core::calls::rules::AttemptResult::parse(code, Some(0))
        .map_or(code.to_string(), |r| r.label().to_string())
}

pub(super) fn disposition_label(code: &str) -> String {
    outreach_core::campaign::FinalDisposition::parse(code)
        .map_or(code.to_string(), |d| d.label().to_string())
}

pub(super) fn action_label(code: &str) -> &str {
    AuditAction::parse(code).map_or(code, |a| a.label())
}

pub(super) fn disclosure_view(d: Disclosure) -> (Vec<Line>, String, Vec<Table>) {
    let c = &d.customer.record;
    let line = |label: &str, value: String| Line {
        label: label.to_string(),
        value,
    };
    let dispute_of = |code: &str| {
        d.disputes
            .iter()
            .find(|x| x.field == code)
            .map(|x| format!(" (bestritten: {})", x.note))
            .unwrap_or_default()
    };
    let master = vec![
        line("Kundennummer", c.customer_number.to_string()),
        line("BG-Nummer", opt(&c.bg_number) + &dispute_of("bg_number")),
        line("Anrede", opt(&c.salutation) + &dispute_of("salutation")),
        line("Vorname", opt(&c.first_name) + &dispute_of("first_name")),
        line("Nachname", c.last_name.clone() + &dispute_of("last_name")),
        line(
            "Geburtsdatum",
            format_de_date(c.birth_date) + &dispute_of("birth_date"),
        ),
        line(
            "Straße und Hausnummer",
            format!("{} {}", opt(&c.street), opt(&c.house_number))
                .trim()
                .to_string()
                + &dispute_of("street"),
        ),
        line(
            "PLZ und Ort",
            format!("{} {}", opt(&c.postcode), opt(&c.city))
                .trim()
                .to_string()
                + &dispute_of("city"),
        ),
        line("Telefon", opt_phone(&c.phone) + &dispute_of("phone")),
        line("Mobil", opt_phone(&c.mobile) + &dispute_of("mobile")),
        line("E-Mail", opt(&c.email) + &dispute_of("email")),
        line(
            "Status",
            c.status.label().to_string() + &dispute_of("status"),
        ),
        line(
            "Arbeitslos seit",
            c.unemployed_since.map(format_de_date).unwrap_or_default()
                + &dispute_of("unemployed_since"),
        ),
        line(
            "Zielberuf",
            opt(&c.target_occupation) + &dispute_of("target_occupation"),
        ),
        line("pAp-Kennung", opt(&c.pap_code)),
        line(
            "Letzter persönlicher Kontakt",
            c.last_contact.map(format_de_date).unwrap_or_default() + &dispute_of("last_contact"),
        ),
        line("Bundesland", opt(&c.state_code)),
        line(
            "Im letzten Export des Jobcenters",
            if d.customer.in_latest_export {
                "ja"
            } else {
                "nein"
            }
            .to_string(),
        ),
    ];
    let restricted = if d.customer.restricted {
        format!(
            "Die Verarbeitung ist eingeschränkt seit {}{}.",
            opt_time(d.restricted_at),
            if d.restriction_note.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.restriction_note)
            }
        )
    } else {
        String::new()
    };
    let tables = vec![
        Table {
            caption: "Bestrittene Werte (§ 84 SGB X)",
            headers: vec!["Feld", "Notiz", "markiert von", "am"],
            rows: d
                .disputes
                .iter()
                .map(|x| {
                    vec![
                        field_label(&x.field).to_string(),
                        x.note.clone(),
                        x.marked_by_name.clone().unwrap_or_default(),
                        format_de_datetime(x.marked_at),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Änderungen durch Importe des Jobcenters",
            headers: vec!["Import", "Zeitpunkt", "Feld", "bisher", "neu"],
            rows: d
                .import_changes
                .iter()
                .map(|x| {
                    vec![
                        x.import_id.to_string(),
                        format_de_datetime(x.imported_at),
                        field_label(&x.field).to_string(),
                        opt(&x.old_value),
                        opt(&x.new_value),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Fälle in Aktionen",
            headers: vec![
                "Fall",
                "Aktion",
                "Service-Center",
                "Vorabinformation versandt",
                "Widerspruch",
                "Versuche",
                "Abschluss",
                "angelegt",
                "abgeschlossen",
            ],
            rows: d
                .cases
                .iter()
                .map(|x| {
                    vec![
                        x.id.to_string(),
                        x.campaign.clone(),
                        x.service_center.clone(),
                        opt_date(&x.letter_sent_on),
                        opt_date(&x.objection_on),
                        x.attempts_count.to_string(),
                        x.final_disposition
                            .as_deref()
                            .map(disposition_label)
                            .unwrap_or_else(|| "offen".into()),
                        format_de_datetime(x.created_at),
                        opt_time(x.closed_at),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Anrufversuche",
            headers: vec!["Fall", "Beginn", "Ende", "Ergebnis", "Nummer", "Notiz"],
            rows: d
                .attempts
                .iter()
                .map(|x| {
                    vec![
                        x.case_id.to_string(),
                        format_de_datetime(x.started_at),
                        opt_time(x.ended_at),
                        x.result.as_deref().map(attempt_label).unwrap_or_default(),
                        opt(&x.phone_used),
                        opt(&x.note),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Gesprächsergebnisse",
            headers: vec![
                "Fall",
                "Ergebnis",
                "Leitfaden",
                "Identitätsprüfung",
                "Einwilligung",
                "Antworten",
                "Änderungen",
                "Hinweise",
                "Notiz",
                "erfasst",
                "übergeben",
            ],
            rows: d
                .results
                .iter()
                .map(|x| {
                    vec![
                        x.case_id.to_string(),
                        x.outcome.clone(),
                        x.guide_version.clone(),
                        opt(&x.identity_method),
                        if x.consent_given { "ja" } else { "nein" }.to_string(),
                        x.answers.clone(),
                        x.changes.clone(),
                        x.flags.clone(),
                        opt(&x.note),
                        format_de_datetime(x.created_at),
                        opt_time(x.handed_over_at),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Bestrittene Werte in Gesprächsergebnissen",
            headers: vec!["Fall", "Feld", "Notiz", "am"],
            rows: d
                .result_disputes
                .iter()
                .map(|x| {
                    vec![
                        x.case_id.to_string(),
                        x.field.clone(),
                        x.note.clone(),
                        format_de_datetime(x.marked_at),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Schreiben",
            headers: vec![
                "Art",
                "Fall",
                "Vorlage",
                "Prüfsumme",
                "erstellt",
                "versandt",
            ],
            rows: d
                .letters
                .iter()
                .map(|x| {
                    vec![
                        match x.kind.as_str() {
                            "advance" => "Vorabinformation".to_string(),
                            "invitation" => "Einladung".to_string(),
                            other => other.to_string(),
                        },
                        x.case_id.map(|n| n.to_string()).unwrap_or_default(),
                        x.template_version.clone(),
                        x.content_hash.clone(),
                        format_de_datetime(x.generated_at),
                        opt_date(&x.sent_on),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Arbeiten, die die Daten gerade enthalten (hochgeladene Exportdateien, Druckdateien)",
            headers: vec!["Art", "Datei", "Begonnen", "von", "Stand"],
            rows: d
                .jobs
                .iter()
                .map(|j| {
                    vec![
                        match j.kind.as_str() {
                            "import" => "Kundenimport (hochgeladene Exportdatei)".to_string(),
                            "print" => "Druckdateien eines Briefstapels (ZIP)".to_string(),
                            other => other.to_string(),
                        },
                        j.file_name.clone(),
                        format_de_datetime(j.created_at),
                        j.username.clone(),
                        match j.state.as_str() {
                            "queued" => "wartet".to_string(),
                            "running" => "läuft".to_string(),
                            "done" => "fertig, bis zur Löschung gespeichert".to_string(),
                            "failed" => "abgebrochen".to_string(),
                            other => other.to_string(),
                        },
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Einladungen",
            headers: vec![
                "Nr.",
                "Zweck",
                "Termin",
                "Ort",
                "Raum",
                "Ansprechpartner/in",
                "Briefdatum",
                "Rechtsfolgenbelehrung",
            ],
            rows: d
                .invitations
                .iter()
                .map(|x| {
                    vec![
                        x.id.to_string(),
                        x.purpose.clone(),
                        format!(
                            "{} {} Uhr",
                            iso_to_de(&x.appointment_on),
                            x.appointment_time
                        ),
                        x.place.clone(),
                        x.room.clone(),
                        x.contact.clone(),
                        iso_to_de(&x.letter_date),
                        x.legal_notice_version.clone(),
                    ]
                })
                .collect(),
        },
        Table {
            caption: "Protokoll der Zugriffe auf diese Daten",
            headers: vec![
                "Nr.",
                "Zeitpunkt",
                "Benutzer",
                "Rolle",
                "Aktion",
                "Felder",
                "Zweck",
            ],
            rows: d
                .audit_events
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        format_de_datetime(e.at),
                        e.username.clone(),
                        Role::parse(&e.role).map_or("–", Role::label).to_string(),
                        action_label(&e.action).to_string(),
                        e.fields.clone(),
                        e.purpose.clone(),
                    ]
                })
                .collect(),
        },
    ];
    (master, restricted, tables)
}

pub(super) async fn disclosure_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<DisclosurePage, AppError> {
    let d = privacy::disclose(&state.db, ctx.caller(), id, "Seite", state.clock.now()).await?;
    let job_center = d.job_center_name.clone();
    let customer_number = d.customer.record.customer_number.to_string();
    let (master, restricted, tables) = disclosure_view(d);
    Ok(DisclosurePage {
        layout: Layout::new(
            &ctx.user,
            format!("Auskunft zu Kundennummer {customer_number}"),
            "/auskunft",
        ),
        id,
        job_center,
        generated: format_de_datetime(state.clock.now()),
        master,
        restricted,
        tables,
    })
}

pub(super) async fn disclosure_json(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let d = privacy::disclose(&state.db, ctx.caller(), id, "JSON", state.clock.now()).await?;
    let number = d.customer.record.customer_number.to_string();
    let body = serde_json::to_vec_pretty(&serde_json::json!({
        "erstellt": format_de_datetime(state.clock.now()),
        "rechtsgrundlage": "Art. 15 DSGVO, § 83 SGB X",
        "daten": d,
    }))
    .map_err(|e| AppError::internal("json", e))?;
    let safe: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Ok(crate::download::attachment(
        body,
        "application/json",
        &format!("auskunft-{safe}.json"),
    ))
}
