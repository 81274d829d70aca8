//! Customer master data for the job center: the administration sees all its
//! customers, a case manager those with their pAp-Kennung. Every list and every
//! record read is audited.

use crate::forms::{IdPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use outreach_app::customers as app;
use outreach_app::customers::{Customer, CustomerChange, CustomerFilter, CustomerListing};
use outreach_core::access::{Action, Role};
use outreach_core::customer::{CustomerNumber, Field, Status};
use outreach_core::date::{format_de_date, format_de_datetime, iso_to_de};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewCustomers);
    Routes::new()
        .get("/kunden", view, list)
        .get("/kunden/{id}", view, detail)
}

const PAGE_SIZE: i64 = 50;

fn status_label(code: &str) -> &'static str {
    Status::parse(code).map_or("unbekannt", Status::label)
}

struct Row {
    c: CustomerListing,
    status: &'static str,
    last_contact: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "customers/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    total: i64,
    number: String,
    page: i64,
    pages: i64,
    number_error: &'static str,
    missing_only: bool,
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<ListPage, AppError> {
    let actor = &ctx.user.actor;
    let raw_number = query.get("nummer").to_uppercase();
    let parsed = CustomerNumber::parse(&raw_number);
    let valid = raw_number.trim().is_empty() || parsed.is_ok();
    let number = parsed.ok().map(CustomerNumber::into_string);
    let page = query.get("seite").parse::<i64>().unwrap_or(1).max(1);
    let missing_only = query.get("fehlend") == "1";
    let filter = CustomerFilter {
        number,
        missing_only,
    };
    let today = state.clock.today_iso();
    let now = state.clock.now();
    let listing = app::list(
        &state.db,
        ctx.caller(),
        &filter,
        page,
        PAGE_SIZE,
        &today,
        now,
    )
    .await?;
    let total = listing.total;
    let rows = listing
        .customers
        .into_iter()
        .map(|c| Row {
            status: status_label(&c.status),
            last_contact: c.last_contact.as_deref().map(iso_to_de).unwrap_or_default(),
            c,
        })
        .collect();
    let title = if actor.role == Role::CaseManager {
        "Meine Kundinnen und Kunden"
    } else {
        "Kundinnen und Kunden"
    };
    Ok(ListPage {
        layout: Layout::new(&ctx.user, title, "/kunden"),
        rows,
        total,
        number: raw_number,
        missing_only,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        number_error: if valid {
            ""
        } else {
            "Eine Kundennummer besteht aus Buchstaben, Ziffern, Bindestrich oder Schrägstrich (höchstens 32 Zeichen)."
        },
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "customers/detail.html")]
struct DetailPage {
    layout: Layout,
    c: Customer,
    status: &'static str,
    birth_date: String,
    unemployed_since: String,
    last_contact: String,
    /// The numbers as a person reads them.
    phone: String,
    mobile: String,
    changes: Vec<ChangeRow>,
    /// Disputed values: field name, the customer's note.
    disputes: Vec<(&'static str, String)>,
    can_restrict: bool,
}

/// A stored value that may be missing, as a person reads it.
fn shown(field: Field, value: &Option<String>) -> String {
    value
        .as_deref()
        .map(|v| field.display(v))
        .unwrap_or_default()
}

/// A field an import changed, as shown.
struct ChangeRow {
    at: String,
    field: &'static str,
    old: String,
    new: String,
    file_name: String,
}

impl ChangeRow {
    fn new(c: CustomerChange) -> ChangeRow {
        let field = outreach_core::customer::Field::parse(&c.field);
        let show = |v: Option<String>| match (v, field) {
            (None, _) => "–".to_string(),
            (Some(v), Some(f)) => f.display(&v),
            (Some(v), None) => v,
        };
        ChangeRow {
            at: format_de_datetime(c.changed_at),
            field: field.map_or("?", |f| f.label()),
            old: show(c.old_value),
            new: show(c.new_value),
            file_name: c.file_name,
        }
    }
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<DetailPage, AppError> {
    let actor = &ctx.user.actor;
    let today = state.clock.today_iso();
    let record = app::read(&state.db, ctx.caller(), id, &today, state.clock.now()).await?;
    let (c, changes, disputes) = (record.customer, record.changes, record.disputes);
    Ok(DetailPage {
        layout: Layout::new(
            &ctx.user,
            format!("Kunde {}", c.record.customer_number),
            "/kunden",
        ),
        status: c.record.status.label(),
        birth_date: format_de_date(c.record.birth_date),
        unemployed_since: c
            .record
            .unemployed_since
            .map(format_de_date)
            .unwrap_or_default(),
        last_contact: c
            .record
            .last_contact
            .map(format_de_date)
            .unwrap_or_default(),
        phone: shown(Field::Phone, &c.record.phone),
        mobile: shown(Field::Mobile, &c.record.mobile),
        changes: changes.into_iter().map(ChangeRow::new).collect(),
        disputes: disputes
            .into_iter()
            .map(|d| {
                (
                    outreach_core::customer::Field::parse(&d.field).map_or("?", |col| col.label()),
                    d.note,
                )
            })
            .collect(),
        can_restrict: outreach_core::access::can(actor, Action::RestrictProcessing),
        c,
    })
}
