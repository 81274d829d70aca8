//! Campaigns (Aktionen) for the job center administration: create under an
//! active mandate with a live preview of the selection, activate (the
//! selection is frozen into cases), produce advance letters in print batches,
//! mark them sent, and see for every case why it can't be called yet.

use crate::forms::{Errors, FormData, IdPath, IdsPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use outreach_app::campaigns::{
    self, Batch, BatchCreation, Campaign, CampaignInput, CaseListing, Editable, Mandate,
    ObjectionProblem, Overview, Refusal, Saved, SentProblem, StateChange, StateRefusal,
    StoredGuide,
};
use outreach_core::access::{Action, Actor};
use outreach_core::calls::{CallingWindow, WEEKDAYS};
use outreach_core::campaign::{CampaignState, Selection, parse_postcodes};
use outreach_core::customer::Status;
use outreach_core::date::{berlin_date, format_de_date, iso_to_de, parse_de_date};

mod form;
use form::*;
mod detail;
use detail::*;
mod batches;
pub(crate) use batches::owned_batch;
use batches::*;
mod cases;
use cases::*;

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageCampaigns);
    Routes::new()
        .get("/aktionen", manage, list)
        .get("/aktionen/neu", manage, new_page)
        .post("/aktionen", manage, create)
        .get("/aktionen/vorschau", manage, preview)
        .get("/aktionen/{id}", manage, detail)
        .get("/aktionen/{id}/bearbeiten", manage, edit_page)
        .post("/aktionen/{id}/bearbeiten", manage, update)
        .post("/aktionen/{id}/status", manage, change_state)
        .post("/aktionen/{id}/briefe", manage, create_batch)
        .get(
            "/aktionen/{id}/stapel/{batch}/teil/{part}",
            manage,
            batch_pdf,
        )
        .get(
            "/aktionen/{id}/stapel/{batch}/manifest",
            manage,
            batch_manifest,
        )
        .post("/aktionen/{id}/stapel/{batch}/versandt", manage, batch_sent)
        .get("/aktionen/{id}/faelle/{case}", manage, case_page)
        .post(
            "/aktionen/{id}/faelle/{case}/widerspruch",
            manage,
            objection,
        )
}

fn today(state: &AppState) -> Date {
    berlin_date(state.clock.now())
}

fn date(form: &FormData, errors: &mut Errors, field: &str, label: &str) -> Option<Date> {
    match parse_de_date(form.get(field)) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.add(field, label, e);
            None
        }
    }
}
