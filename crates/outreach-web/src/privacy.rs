//! Data protection for the DPO and the job center's administration: access
//! requests (Art. 15 GDPR) as a page and as JSON, restriction of processing
//! and disputed values, the record of processing activities (Art. 30) and the
//! retention setting. Every page and change is audited.

use crate::forms::{Errors, FormData, IdPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::audit_log::AuditAction;
use outreach_app::privacy::{
    self, Disclosure, DisputeProblem, Found, NOTE_MAX, NoteProblem, ProcessingRecord,
    RestrictProblem, disputable, field_label,
};
use outreach_core::access::{Action, Role};
use outreach_core::date::{format_de_datetime, iso_to_de};
use outreach_core::privacy::{Section, record_text};

pub fn routes() -> Routes {
    let access = Access::Action(Action::AnswerAccessRequests);
    let restrict = Access::Action(Action::RestrictProcessing);
    let record = Access::Action(Action::ViewProcessingRecord);
    let retention = Access::Action(Action::ManageRetention);
    Routes::new()
        .get("/auskunft", access, search)
        .get("/auskunft/{id}", access, disclosure_page)
        .get("/auskunft/{id}/auskunft.json", access, disclosure_json)
        .get("/betroffenenrechte/{id}", restrict, rights_page)
        .post(
            "/betroffenenrechte/{id}/einschraenkung",
            restrict,
            restrict_post,
        )
        .post("/betroffenenrechte/{id}/bestritten", restrict, dispute_post)
        .post(
            "/betroffenenrechte/{id}/bestritten/aufheben",
            restrict,
            dispute_clear,
        )
        .get("/verzeichnis", record, record_page)
        .get("/verzeichnis.txt", record, record_download)
        .get("/aufbewahrung", retention, retention_page)
        .post("/aufbewahrung", retention, retention_post)
}

fn note_message(problem: NoteProblem) -> String {
    match problem {
        NoteProblem::TooLong => format!("Die Notiz darf höchstens {NOTE_MAX} Zeichen lang sein."),
        NoteProblem::ControlCharacters => "Die Notiz enthält unzulässige Steuerzeichen.".into(),
        NoteProblem::Missing => "Bitte nennen Sie den Grund der Einschränkung (z. B. Antrag vom …, Art. 18 Abs. 1 lit. a DSGVO).".into(),
    }
}

// ---------------------------------------------------------------- Art. 15

#[derive(Template, WebTemplate)]
#[template(path = "access_search.html")]
struct SearchPage {
    layout: Layout,
    form: FormData,
    errors: Errors,
    found: Vec<Found>,
}

async fn search(
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

struct Line {
    label: String,
    value: String,
}

struct Table {
    caption: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

#[derive(Template, WebTemplate)]
#[template(path = "access_disclosure.html")]
struct DisclosurePage {
    layout: Layout,
    id: i64,
    job_center: String,
    generated: String,
    master: Vec<Line>,
    restricted: String,
    tables: Vec<Table>,
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn opt_date(v: &Option<String>) -> String {
    v.as_deref().map(iso_to_de).unwrap_or_default()
}

fn opt_time(v: Option<i64>) -> String {
    v.map(format_de_datetime).unwrap_or_default()
}

fn attempt_label(code: &str) -> String {
    outreach_core::calling::rules::AttemptResult::parse(code, Some(0))
        .map_or(code.to_string(), |r| r.label().to_string())
}

fn disposition_label(code: &str) -> String {
    outreach_core::campaign::FinalDisposition::parse(code)
        .map_or(code.to_string(), |d| d.label().to_string())
}

fn action_label(code: &str) -> &str {
    AuditAction::parse(code).map_or(code, |a| a.label())
}

fn disclosure_view(d: Disclosure) -> (Vec<Line>, String, Vec<Table>) {
    let c = &d.customer;
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
        line("Kundennummer", c.customer_number.clone()),
        line("BG-Nummer", opt(&c.bg_number) + &dispute_of("bg_number")),
        line("Anrede", opt(&c.salutation) + &dispute_of("salutation")),
        line("Vorname", opt(&c.first_name) + &dispute_of("first_name")),
        line("Nachname", c.last_name.clone() + &dispute_of("last_name")),
        line(
            "Geburtsdatum",
            iso_to_de(&c.birth_date) + &dispute_of("birth_date"),
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
        line("Telefon", opt(&c.phone) + &dispute_of("phone")),
        line("Mobil", opt(&c.mobile) + &dispute_of("mobile")),
        line("E-Mail", opt(&c.email) + &dispute_of("email")),
        line(
            "Status",
            outreach_core::customer::Status::parse(&c.status)
                .map_or("unbekannt", outreach_core::customer::Status::label)
                .to_string()
                + &dispute_of("status"),
        ),
        line(
            "Arbeitslos seit",
            opt_date(&c.unemployed_since) + &dispute_of("unemployed_since"),
        ),
        line(
            "Zielberuf",
            opt(&c.target_occupation) + &dispute_of("target_occupation"),
        ),
        line("pAp-Kennung", opt(&c.pap_code)),
        line(
            "Letzter persönlicher Kontakt",
            opt_date(&c.last_contact) + &dispute_of("last_contact"),
        ),
        line("Bundesland", opt(&c.state_code)),
        line(
            "Im letzten Export des Jobcenters",
            if c.in_latest_export { "ja" } else { "nein" }.to_string(),
        ),
    ];
    let restricted = if c.restricted {
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

async fn disclosure_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<DisclosurePage, AppError> {
    let d = privacy::disclose(&state.db, ctx.caller(), id, "Seite", state.clock.now()).await?;
    let job_center = d.job_center_name.clone();
    let customer_number = d.customer.customer_number.clone();
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

async fn disclosure_json(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let d = privacy::disclose(&state.db, ctx.caller(), id, "JSON", state.clock.now()).await?;
    let number = d.customer.customer_number.clone();
    let body = serde_json::to_vec_pretty(&serde_json::json!({
        "erstellt": format_de_datetime(state.clock.now()),
        "rechtsgrundlage": "Art. 15 DSGVO, § 83 SGB X",
        "daten": d,
    }))
    .map_err(|e| AppError::Internal(format!("json: {e}")))?;
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

// ------------------------------------------------- restriction and dispute

#[derive(Template, WebTemplate)]
#[template(path = "subject_rights.html")]
struct RightsPage {
    layout: Layout,
    id: i64,
    customer_number: String,
    name: String,
    restricted: bool,
    restriction: String,
    disputes: Vec<(String, String, String, String)>,
    fields: Vec<(&'static str, &'static str)>,
    form: FormData,
    errors: Errors,
    message: &'static str,
    can_disclose: bool,
}

async fn rights_view(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Errors,
    message: &'static str,
) -> Result<RightsPage, AppError> {
    let actor = &ctx.user.actor;
    let d = privacy::rights(&state.db, ctx.caller(), id, state.clock.now()).await?;
    let c = &d.customer;
    Ok(RightsPage {
        layout: Layout::new(
            &ctx.user,
            format!("Betroffenenrechte: Kundennummer {}", c.customer_number),
            if actor.role == Role::Dpo {
                "/auskunft"
            } else {
                "/kunden"
            },
        ),
        id,
        customer_number: c.customer_number.clone(),
        name: format!("{} {}", opt(&c.first_name), c.last_name)
            .trim()
            .to_string(),
        restricted: c.restricted,
        restriction: if c.restricted {
            format!(
                "Eingeschränkt seit {}{}",
                opt_time(d.restricted_at),
                if d.restriction_note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", d.restriction_note)
                }
            )
        } else {
            String::new()
        },
        disputes: d
            .disputes
            .iter()
            .map(|x| {
                (
                    x.field.clone(),
                    field_label(&x.field).to_string(),
                    x.note.clone(),
                    format!(
                        "{}, {}",
                        x.marked_by_name.clone().unwrap_or_default(),
                        format_de_datetime(x.marked_at)
                    ),
                )
            })
            .collect(),
        fields: disputable(),
        form,
        errors,
        message,
        can_disclose: outreach_core::access::can(actor, Action::AnswerAccessRequests),
    })
}

async fn rights_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<RightsPage, AppError> {
    let message = match query.get("meldung") {
        "eingeschraenkt" => {
            "Die Verarbeitung ist jetzt eingeschränkt: die Person ist aus allen Anruflisten genommen."
        }
        "freigegeben" => "Die Einschränkung ist aufgehoben.",
        "bestritten" => "Der Wert ist als bestritten markiert; er bleibt gespeichert.",
        "aufgehoben" => "Die Markierung „bestritten“ ist entfernt.",
        _ => "",
    };
    rights_view(
        &state,
        &ctx,
        id,
        FormData::default(),
        Errors::default(),
        message,
    )
    .await
}

/// The rights page again with the form's problems (422).
async fn refuse(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Errors,
) -> Result<Response, AppError> {
    let page = rights_view(state, ctx, id, form, errors, "").await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn restrict_post(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let restrict = match form.get("einschraenken") {
        "ja" => Some(true),
        "nein" => Some(false),
        _ => None,
    };
    let note = form.get("grund").trim();
    let now = state.clock.now();
    match privacy::restrict(&state.db, ctx.caller(), id, restrict, note, now).await? {
        Ok(()) => {}
        // The page's buttons send one of the two; anything else is no user's input.
        Err(RestrictProblem::NoChoice) => {
            return Err(AppError::BadRequest(
                "Bitte wählen Sie „einschränken“ oder „aufheben“.",
            ));
        }
        Err(RestrictProblem::Note(problem)) => {
            let mut errors = Errors::default();
            errors.add("grund", "Grund", note_message(problem));
            return refuse(&state, &ctx, id, form, errors).await;
        }
    }
    let message = if restrict == Some(true) {
        "eingeschraenkt"
    } else {
        "freigegeben"
    };
    Ok(Redirect::to(&format!("/betroffenenrechte/{id}?meldung={message}")).into_response())
}

async fn dispute_post(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let field = form.get("feld");
    let note = form.get("notiz").trim();
    let now = state.clock.now();
    let Err(problems) = privacy::dispute(&state.db, ctx.caller(), id, field, note, now).await?
    else {
        return Ok(
            Redirect::to(&format!("/betroffenenrechte/{id}?meldung=bestritten")).into_response(),
        );
    };
    let mut errors = Errors::default();
    for problem in problems {
        match problem {
            DisputeProblem::UnknownField => errors.add(
                "feld",
                "Feld",
                "Bitte wählen Sie das Feld, dessen Wert bestritten wird.",
            ),
            DisputeProblem::Note(problem) => errors.add("notiz", "Notiz", note_message(problem)),
        }
    }
    refuse(&state, &ctx, id, form, errors).await
}

async fn dispute_clear(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let field = form.get("feld");
    if !privacy::clear_dispute(&state.db, ctx.caller(), id, field, state.clock.now()).await? {
        let mut errors = Errors::default();
        errors.add(
            "feld",
            "Feld",
            "Dieser Wert ist nicht als bestritten markiert.",
        );
        return refuse(&state, &ctx, id, FormData::default(), errors).await;
    }
    Ok(Redirect::to(&format!("/betroffenenrechte/{id}?meldung=aufgehoben")).into_response())
}

// ---------------------------------------------------------------- Art. 30

#[derive(Template, WebTemplate)]
#[template(path = "processing_record.html")]
struct RecordPage {
    layout: Layout,
    sections: Vec<Section>,
    job_centers: Vec<(i64, String)>,
    selected: i64,
}

async fn record_sections(
    state: &AppState,
    ctx: &Ctx,
    query: &FormData,
) -> Result<ProcessingRecord, AppError> {
    Ok(privacy::processing_record_of(
        &state.db,
        ctx.caller(),
        query.get("jobcenter").parse::<i64>().ok(),
        state.config.retention.audit_months,
        state.clock.now(),
    )
    .await?)
}

async fn record_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<RecordPage, AppError> {
    let ProcessingRecord {
        sections,
        job_centers,
        selected,
    } = record_sections(&state, &ctx, &query).await?;
    Ok(RecordPage {
        layout: Layout::new(
            &ctx.user,
            "Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)",
            "/verzeichnis",
        ),
        sections,
        job_centers,
        selected,
    })
}

async fn record_download(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let ProcessingRecord {
        sections, selected, ..
    } = record_sections(&state, &ctx, &query).await?;
    Ok(crate::download::attachment(
        record_text(&sections).into_bytes(),
        "text/plain; charset=utf-8",
        &format!("verarbeitungsverzeichnis-{selected}.txt"),
    ))
}

// -------------------------------------------------------------- retention

#[derive(Template, WebTemplate)]
#[template(path = "retention.html")]
struct RetentionPage {
    layout: Layout,
    days: String,
    audit_months: i32,
    runs: Vec<(String, String)>,
    errors: Errors,
    saved: bool,
}

async fn retention_view(
    state: &AppState,
    ctx: &Ctx,
    days: Option<String>,
    errors: Errors,
    saved: bool,
) -> Result<RetentionPage, AppError> {
    let (stored, runs) = privacy::retention(&state.db, &ctx.user.actor).await?;
    Ok(RetentionPage {
        layout: Layout::new(&ctx.user, "Aufbewahrung und Löschung", "/aufbewahrung"),
        days: days.unwrap_or_else(|| stored.to_string()),
        audit_months: state.config.retention.audit_months,
        runs: runs
            .into_iter()
            .map(|(at, summary)| (format_de_datetime(at), summary))
            .collect(),
        errors,
        saved,
    })
}

async fn retention_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<RetentionPage, AppError> {
    retention_view(
        &state,
        &ctx,
        None,
        Errors::default(),
        query.get("meldung") == "gespeichert",
    )
    .await
}

async fn retention_post(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let raw = form.get("tage").trim();
    let saved = match raw.parse::<i64>() {
        Ok(days) => {
            privacy::set_retention(&state.db, ctx.caller(), days, state.clock.now()).await?
        }
        Err(_) => false,
    };
    if saved {
        return Ok(Redirect::to("/aufbewahrung?meldung=gespeichert").into_response());
    }
    let mut errors = Errors::default();
    errors.add(
        "tage",
        "Aufbewahrung der Ergebnisse",
        "Bitte geben Sie eine ganze Zahl von 1 bis 3650 Tagen an.",
    );
    let page = retention_view(&state, &ctx, Some(raw.to_string()), errors, false).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
