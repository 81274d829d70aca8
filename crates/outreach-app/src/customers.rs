//! Customer master data for the job center: the administration sees all its
//! customers, a case manager those with their pAp-Kennung. Every list and
//! every record read is audited.

use crate::{Caller, Error, Result};
use outreach_core::access::{Role, customer_scope};
use outreach_core::audit::AuditAction;
use outreach_store::Db;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::customer;
pub use outreach_store::customer::{Customer, CustomerChange, CustomerFilter, CustomerListing};
use outreach_store::subject::{self, Dispute};

/// Why the actor reads customer data, as the audit log records it.
fn purpose(role: Role) -> &'static str {
    match role {
        Role::CaseManager => "Betreuung der eigenen Kundinnen und Kunden",
        _ => "Verwaltung der Kundendaten des Jobcenters",
    }
}

/// One page of the customer list.
pub struct Listing {
    /// All customers the filter takes, on every page.
    pub total: i64,
    pub customers: Vec<CustomerListing>,
}

/// Page `page` (from 1) of `page_size` customers in the caller's scope;
/// audited when it shows any.
pub async fn list(
    db: &Db,
    by: Caller<'_>,
    filter: &CustomerFilter,
    page: i64,
    page_size: i64,
    today: &str,
    now: i64,
) -> Result<Listing> {
    let scope = customer_scope(by.actor).ok_or(Error::Forbidden)?;
    let mut tx = db.begin().await?;
    let total = customer::count(&mut tx, &scope, today, filter).await?;
    let offset = (page - 1) * page_size;
    let customers = customer::list(&mut tx, &scope, today, filter, page_size, offset).await?;
    if !customers.is_empty() {
        let event = AuditEvent::by(by.actor, AuditAction::CustomerList, by.client)
            .record(
                "customer_list",
                format!("Seite {page}, {} Datensätze", customers.len()),
            )
            .fields("Kundennummer, Name, Status, pAp-Kennung, Letzter Kontakt")
            .purpose(purpose(by.actor.role));
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(Listing { total, customers })
}

/// A customer's record as the detail page shows it.
pub struct Record {
    pub customer: Customer,
    /// The fields imports changed.
    pub changes: Vec<CustomerChange>,
    /// Values the customer disputes.
    pub disputes: Vec<Dispute>,
}

/// The fields the detail page shows, as recorded in the audit log.
const DETAIL_FIELDS: &str = "Kundennummer, BG-Nummer, Anrede, Name, Geburtsdatum, Anschrift, Telefon, Mobil, E-Mail, Status, Arbeitslos seit, Zielberuf, pAp-Kennung, Letzter Kontakt, Bundesland, Änderungen durch Importe";

/// One customer of the caller's scope with the import's changes and the
/// disputed values; audited.
pub async fn read(db: &Db, by: Caller<'_>, id: i64, today: &str, now: i64) -> Result<Record> {
    let scope = customer_scope(by.actor).ok_or(Error::Forbidden)?;
    // Read beside the writer (no snapshot across the three reads is needed:
    // they are one customer's), then the event on its own: on SQLite the one
    // writer is held for the append only, on PostgreSQL no BEGIN/COMMIT
    // round trips. Nothing is shown unless the event is stored.
    let mut tx = db.read().await?;
    let customer = customer::get(&mut tx, &scope, today, id)
        .await?
        .ok_or(Error::NotFound)?;
    let changes = customer::changes(&mut tx, &scope, today, id).await?;
    let disputes = subject::disputes(&mut tx, customer.id).await?;
    tx.commit().await?;
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("customer", customer.record.customer_number.as_str())
        .fields(DETAIL_FIELDS)
        .purpose(purpose(by.actor.role))
        .job_center(Some(customer.job_center_id));
    audit::append_alone(db, &event, now).await?;
    Ok(Record {
        customer,
        changes,
        disputes,
    })
}

/// Gives every customer of job center `job_center_id` to `write`, in pages
/// of 5,000 (memory stays flat), for the command line's export in the
/// export format; the export is audited as a read of all of them, named
/// `target`. Returns how many were written.
pub async fn operator_export(
    db: &Db,
    job_center_id: i64,
    target: &str,
    now: i64,
    mut write: impl FnMut(&Customer) -> std::io::Result<()>,
) -> Result<u64> {
    let scope = outreach_core::access::CustomerScope::JobCenter { job_center_id };
    let today = outreach_core::date::berlin_date(now).to_string();
    let (mut after, mut count) = (0i64, 0u64);
    loop {
        let mut tx = db.begin_read().await?;
        let page = customer::page_after(&mut tx, &scope, &today, after, 5000).await?;
        tx.commit().await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            write(c).map_err(|source| Error::Io {
                what: target.to_string(),
                source,
            })?;
            count += 1;
        }
    }
    let event = crate::Source::CommandLine
        .event(AuditAction::CustomerExport)
        .record("export", target)
        .fields(&format!("{count} Kunden, alle Spalten des Exportformats"))
        .purpose("Export der Kundendaten des Jobcenters")
        .job_center(Some(job_center_id));
    audit::append_alone(db, &event, now).await?;
    Ok(count)
}
