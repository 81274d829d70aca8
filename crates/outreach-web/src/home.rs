//! The start page: what each role works on, at a glance.

use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use outreach_core::access::{Action, Role};

pub fn routes() -> Routes {
    Routes::new().get("/", Access::Action(Action::UseAccount), start)
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
    /// For the DPO: the alert of a broken audit chain found by the last
    /// check, and of audit retention held.
    alerts: Vec<String>,
}

fn intro(role: Role) -> &'static str {
    match role {
        Role::Agent => {
            "Zurzeit liegt kein Fall für Sie vor. Sobald die Anrufwarteschlange Ihnen einen Fall zuteilt, erscheint er hier."
        }
        Role::Supervisor => {
            "Hier sehen Sie die Aufträge Ihres Service-Centers und die Zahl der Kundinnen und Kunden, die Sie im Auftrag betreuen."
        }
        Role::CaseManager => {
            "Hier finden Sie Ihre Kundinnen und Kunden (nach Ihrer pAp-Kennung) und künftig die Ergebnisse der Telefonate."
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
    })
}
