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
use outreach_app::audit::AuditAction;
use outreach_app::privacy::{
    self, Disclosure, DisputeProblem, Found, NOTE_MAX, NoteProblem, ProcessingRecord,
    RestrictProblem, disputable, field_label,
};
use outreach_core::access::{Action, Role};
use outreach_core::date::{format_de_date, format_de_datetime, iso_to_de};
use outreach_core::privacy::{Section, record_text};

mod access;
use access::*;
mod rights;
use rights::*;
mod record;
use record::*;
mod retention;
use retention::*;

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
