//! The start page: what each role works on, at a glance.

use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use outreach_app::calls::CallingTime;
use outreach_core::access::{Action, Role};

pub fn routes() -> Routes {
    Routes::new().get("/", Access::Action(Action::UseAccount), start)
}

/// A line of work on the start page, with where to do it.
struct WorkLine {
    text: String,
    href: String,
}

/// A figure on the start page.
struct Figure {
    label: &'static str,
    value: String,
    href: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "home/home.html")]
struct HomePage {
    layout: Layout,
    organisation: String,
    intro: &'static str,
    figures: Vec<Figure>,
    work: Vec<WorkLine>,
    /// For the DPO: the alert of a broken audit chain found by the last
    /// check, and of audit retention held.
    alerts: Vec<String>,
}

fn intro(role: Role) -> &'static str {
    match role {
        Role::Agent => {
            "Unter „Anrufe“ teilt Ihnen die Warteschlange den nächsten fälligen Fall zu, solange Anrufzeit ist."
        }
        Role::Supervisor => {
            "Hier sehen Sie, was in den laufenden Aktionen Ihres Service-Centers jetzt zu tun ist; Einzelheiten unter „Teamleitung“."
        }
        Role::CaseManager => {
            "Hier finden Sie die Ergebnisse der Telefonate mit Ihren Kundinnen und Kunden (nach Ihrer pAp-Kennung) und Ihre Termine."
        }
        Role::JobcenterAdmin => {
            "Sie verwalten die Kundendaten Ihres Jobcenters und die Aufträge an Service-Center."
        }
        Role::Dpo => {
            "Sie prüfen das Protokoll aller Zugriffe auf Sozialdaten und dessen Unversehrtheit, beantworten Auskunftsersuchen, schränken die Verarbeitung ein und legen Aufbewahrungsfristen fest."
        }
        Role::Admin => {
            "Sie verwalten Jobcenter, Service-Center und Benutzerkonten. Auf Kundendaten haben Sie keinen Zugriff."
        }
    }
}

async fn start(State(state): State<AppState>, ctx: Ctx) -> Result<HomePage, AppError> {
    let actor = &ctx.user.actor;
    let today = state.clock.today_iso();
    let o = outreach_app::home::overview(&state.db, actor, &today, state.clock.now()).await?;
    let mut alerts = Vec::new();
    if let Some(check) = o.broken_check
        && let Some(seq) = check.broken_seq
    {
        alerts.push(format!(
            "Warnung: Die Prüfung der Protokollkette am {} hat eine Verletzung gefunden (Ereignis Nr. {seq}, {}). Bitte informieren Sie die Systemadministration und sichern Sie die Datenbank.",
            outreach_core::date::format_de_datetime(check.checked_at),
            check.reason
        ));
    }
    for reset in o.resets {
        alerts.push(format!(
            "Hinweis: Am {} hat die Systemadministration ({}) das Passwort von {} ({}, {}) zurückgesetzt. Das Konto muss bei der nächsten Anmeldung ein neues Passwort wählen.",
            outreach_core::date::format_de_datetime(reset.password_reset_at),
            reset.password_reset_by,
            reset.display_name,
            Role::parse(&reset.role).map_or("–", Role::label),
            reset.username
        ));
    }
    alerts.extend(o.retention_held);
    let mut figures = Vec::new();
    if let Some(n) = o.customers {
        figures.push(Figure {
            label: if actor.role == Role::CaseManager {
                "Meine Kundinnen und Kunden"
            } else {
                "Kundinnen und Kunden"
            },
            value: n.to_string(),
            href: "/kunden",
        });
    }
    if let Some(n) = o.customers_in_mandates {
        figures.push(Figure {
            label: "Kundinnen und Kunden in aktiven Aufträgen",
            value: n.to_string(),
            href: "/auftraege",
        });
    }
    if let Some(active) = o.active_mandates {
        figures.push(Figure {
            label: "Aktive Aufträge",
            value: active.to_string(),
            href: "/auftraege",
        });
    }
    if let (Some(jcs), Some(scs)) = (o.job_centers, o.service_centers) {
        figures.push(Figure {
            label: "Jobcenter",
            value: jcs.to_string(),
            href: "/admin/organisationen",
        });
        figures.push(Figure {
            label: "Service-Center",
            value: scs.to_string(),
            href: "/admin/organisationen",
        });
    }
    let mut work = Vec::new();
    for c in &o.campaigns {
        let percent = if c.case_count > 0 {
            c.closed * 100 / c.case_count
        } else {
            0
        };
        work.push(WorkLine {
            text: format!(
                "Aktion „{}“ läuft: {} von {} Fällen abgeschlossen ({percent} %).",
                c.name, c.closed, c.case_count
            ),
            href: format!("/aktionen/{}", c.id),
        });
    }
    if let Some(n) = o.unsent_batches.filter(|n| *n > 0) {
        work.push(WorkLine {
            text: format!(
                "{} warte{} darauf, als versandt markiert zu werden.",
                if n == 1 {
                    "1 Druckstapel".to_string()
                } else {
                    format!("{n} Druckstapel")
                },
                if n == 1 { "t" } else { "n" }
            ),
            href: "/aktionen".into(),
        });
    }
    if actor.role == Role::JobcenterAdmin {
        work.push(WorkLine {
            text: match &o.last_import {
                Some(i) => format!(
                    "Letzter Import: „{}“ am {}, {} Zeilen übernommen, {} abgelehnt.",
                    i.file_name,
                    outreach_core::date::format_de_datetime(i.finished_at),
                    i.accepted,
                    i.rejected
                ),
                None => "Noch kein Import: Kundendaten kommen über „Import“ herein.".into(),
            },
            href: "/kunden/import".into(),
        });
    }
    if actor.role == Role::Dpo {
        work.push(WorkLine {
            text: match &o.last_check {
                Some(c) if c.broken_seq.is_none() => format!(
                    "Letzte Prüfung der Protokollkette am {}: {} {}Ereignisse geprüft, unversehrt.",
                    outreach_core::date::format_de_datetime(c.checked_at),
                    c.events_checked,
                    if c.full_check { "" } else { "neue " }
                ),
                Some(c) => format!(
                    "Letzte Prüfung der Protokollkette am {}: verletzt ({}).",
                    outreach_core::date::format_de_datetime(c.checked_at),
                    c.reason
                ),
                None => "Die Protokollkette wurde noch nicht geprüft.".into(),
            },
            href: "/protokoll".into(),
        });
        work.push(WorkLine {
            text: match o.deletion_runs.first() {
                Some((at, summary)) => format!(
                    "Letzter Löschlauf am {}: {summary}",
                    outreach_core::date::format_de_datetime(*at)
                ),
                None => "Noch kein Löschlauf.".into(),
            },
            href: "/aufbewahrung".into(),
        });
        if let Some(n) = o.access_requests {
            work.push(WorkLine {
                text: format!("Auskunftsersuchen (Art. 15) in den letzten 30 Tagen: {n}."),
                href: "/protokoll?aktion=access_request".into(),
            });
        }
    }
    if let Some(n) = o.unread_results {
        figures.push(Figure {
            label: "Ungelesene Ergebnisse",
            value: n.to_string(),
            href: "/ergebnisse?ungelesen=1",
        });
    }
    if let Some(n) = o.appointments_this_week {
        figures.push(Figure {
            label: "Termine aus Einladungen in den nächsten 7 Tagen",
            value: n.to_string(),
            href: "/einladungen",
        });
    }
    if let Some(team) = &o.team {
        figures.push(Figure {
            label: "Laufende Aktionen (Anrufzeit jetzt offen)",
            value: format!("{} ({})", team.campaigns, team.open),
            href: "/teamleitung",
        });
        figures.push(Figure {
            label: "Jetzt fällige Fälle",
            value: team.due_now.to_string(),
            href: "/teamleitung",
        });
        figures.push(Figure {
            label: "Rückrufe in der nächsten Stunde",
            value: team.callbacks_next_hour.to_string(),
            href: "/teamleitung",
        });
        figures.push(Figure {
            label: "Zuteilungen länger als 15 Minuten",
            value: team.stuck_leases.to_string(),
            href: "/teamleitung",
        });
    }
    if let Some(calling) = o.calling {
        figures.push(Figure {
            label: "Anrufzeit",
            value: match calling {
                CallingTime::Open => "jetzt offen".to_string(),
                CallingTime::OpensAt(at) => format!(
                    "beginnt wieder am {}",
                    outreach_core::date::format_de_datetime(at)
                ),
                CallingTime::NoneRunning => "keine laufende Aktion".to_string(),
            },
            href: "/anrufe",
        });
    }
    if actor.role == Role::Dpo {
        figures.push(Figure {
            label: "Protokoll einsehen und prüfen",
            value: "→".to_string(),
            href: "/protokoll",
        });
    }
    Ok(HomePage {
        layout: Layout::new(
            &ctx.user,
            format!("Willkommen, {}", ctx.user.display_name),
            "/",
        ),
        organisation: o.organisation,
        alerts,
        intro: intro(actor.role),
        figures,
        work,
    })
}
