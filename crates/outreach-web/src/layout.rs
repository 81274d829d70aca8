//! The page frame every page shares: title, the user bar, the navigation for
//! the user's role, and the CSRF token for forms.

use crate::session::CurrentUser;
use outreach_core::access::{Action, can};
use outreach_core::account::session_warning_seconds;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct Layout {
    pub title: String,
    pub user_name: String,
    pub role_label: String,
    pub logged_in: bool,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub session_seconds: i64,
    pub warning_seconds: i64,
    /// The training banner's text, on a training server only.
    pub training: &'static str,
}

/// The navigation entries: each shown only to those allowed to follow it.
const NAV: [(&str, &str, Option<Action>); 19] = [
    ("/", "Start", None),
    ("/anrufe", "Anrufe", Some(Action::CallCases)),
    (
        "/teamleitung",
        "Warteschlange",
        Some(Action::SuperviseCalls),
    ),
    ("/ergebnisse", "Ergebnisse", Some(Action::ViewResults)),
    ("/termine", "Termine", Some(Action::ViewResults)),
    ("/kunden", "Kunden", Some(Action::ViewCustomers)),
    ("/kunden/import", "Import", Some(Action::ImportCustomers)),
    ("/auftraege", "Aufträge", Some(Action::ViewMandates)),
    ("/aktionen", "Aktionen", Some(Action::ManageCampaigns)),
    ("/leitfaeden", "Leitfäden", Some(Action::ManageCampaigns)),
    ("/berichte", "Berichte", Some(Action::ViewReports)),
    ("/api-zugang", "API-Zugang", Some(Action::ManageApiTokens)),
    ("/protokoll", "Protokoll", Some(Action::ViewAuditLog)),
    ("/auskunft", "Auskunft", Some(Action::AnswerAccessRequests)),
    (
        "/verzeichnis",
        "Verzeichnis",
        Some(Action::ViewProcessingRecord),
    ),
    (
        "/aufbewahrung",
        "Aufbewahrung",
        Some(Action::ManageRetention),
    ),
    (
        "/admin/organisationen",
        "Organisationen",
        Some(Action::ManageOrganisations),
    ),
    ("/admin/benutzer", "Benutzer", Some(Action::ManageUsers)),
    ("/konto/passwort", "Passwort ändern", None),
];

impl Layout {
    /// The frame for a logged-in user; `current` is the navigation entry to mark.
    pub fn new(user: &CurrentUser, title: impl ToString, current: &str) -> Layout {
        let nav = NAV
            .iter()
            .filter(|(_, _, action)| action.is_none_or(|a| can(&user.actor, a)))
            .map(|(href, label, _)| NavItem {
                href,
                label,
                current: *href == current,
            })
            .collect();
        Layout {
            title: title.to_string(),
            user_name: user.display_name.clone(),
            role_label: user.actor.role.label().to_string(),
            logged_in: true,
            csrf: user.csrf_token.clone(),
            nav,
            session_seconds: user.idle_seconds,
            warning_seconds: session_warning_seconds(user.idle_seconds),
            training: training_banner(),
        }
    }

    /// The frame for pages before login.
    pub fn anonymous(title: impl ToString, csrf: String) -> Layout {
        Layout {
            title: title.to_string(),
            user_name: String::new(),
            role_label: String::new(),
            logged_in: false,
            csrf,
            nav: Vec::new(),
            session_seconds: 0,
            warning_seconds: 0,
            training: training_banner(),
        }
    }
}

/// The training banner on a training server, else nothing.
pub fn training_banner() -> &'static str {
    if crate::training::active() {
        crate::training::BANNER
    } else {
        ""
    }
}
