//! Customer master data. Every read takes a [`CustomerScope`]; the scope is part
//! of the SQL, so rows outside it can't be returned.

use crate::{StoreError, Tx, args};
use outreach_core::access::CustomerScope;
use outreach_core::customer::Status;
use outreach_core::date::iso_to_de;
use outreach_core::import::{Column, Values};

/// The full record of one customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Customer {
    pub id: i64,
    pub job_center_id: i64,
    pub customer_number: String,
    pub bg_number: Option<String>,
    pub salutation: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub birth_date: String,
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub unemployed_since: Option<String>,
    pub target_occupation: Option<String>,
    pub pap_code: Option<String>,
    pub last_contact: Option<String>,
    pub state_code: Option<String>,
    pub restricted: bool,
    pub in_latest_export: bool,
}

impl Customer {
    /// The record in the export format's columns and notation (dates
    /// `TT.MM.JJJJ`, phones E.164), as the job center's own export has them.
    pub fn export_values(&self) -> Values {
        let mut v = Values::default();
        let mut set = |column, value: Option<&str>| {
            if let Some(value) = value {
                v.set(column, value);
            }
        };
        let date = |d: &Option<String>| d.as_deref().map(iso_to_de);
        set(Column::CustomerNumber, Some(&self.customer_number));
        set(Column::BgNumber, self.bg_number.as_deref());
        set(Column::Salutation, self.salutation.as_deref());
        set(Column::FirstName, self.first_name.as_deref());
        set(Column::LastName, Some(&self.last_name));
        set(Column::BirthDate, Some(&iso_to_de(&self.birth_date)));
        set(Column::Street, self.street.as_deref());
        set(Column::HouseNumber, self.house_number.as_deref());
        set(Column::Postcode, self.postcode.as_deref());
        set(Column::City, self.city.as_deref());
        set(Column::Phone, self.phone.as_deref());
        set(Column::Mobile, self.mobile.as_deref());
        set(Column::Email, self.email.as_deref());
        set(
            Column::Status,
            Status::parse(&self.status).map(Status::export_word),
        );
        set(
            Column::UnemployedSince,
            date(&self.unemployed_since).as_deref(),
        );
        set(Column::TargetOccupation, self.target_occupation.as_deref());
        set(Column::PapCode, self.pap_code.as_deref());
        set(Column::LastContact, date(&self.last_contact).as_deref());
        set(Column::State, self.state_code.as_deref());
        v
    }
}

/// A line of a customer list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomerListing {
    pub id: i64,
    pub customer_number: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub status: String,
    pub pap_code: Option<String>,
    pub last_contact: Option<String>,
    pub in_latest_export: bool,
}

/// What a customer list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// A prefix of the customer number.
    pub number: Option<String>,
    /// Only customers the latest export no longer contained.
    pub missing_only: bool,
}

impl CustomerFilter {
    pub fn number(prefix: &str) -> CustomerFilter {
        CustomerFilter {
            number: Some(prefix.to_string()),
            ..CustomerFilter::default()
        }
    }

    fn args(&self) -> Vec<crate::Arg> {
        args![
            self.number
                .as_ref()
                .map(|n| format!("{}%", n.replace(['%', '_'], ""))),
            self.missing_only
        ]
    }
}

/// A field a customer import changed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomerChange {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub changed_at: i64,
    pub file_name: String,
}

/// A customer to insert (the importer fills this from an export row).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewCustomer {
    pub customer_number: String,
    pub bg_number: Option<String>,
    pub salutation: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub birth_date: String,
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub unemployed_since: Option<String>,
    pub target_occupation: Option<String>,
    pub pap_code: Option<String>,
    pub last_contact: Option<String>,
    pub state_code: Option<String>,
}

/// The scope as bind parameters: `$1` kind, `$2` organisation id, `$3` pAp
/// code, `$4` today (ISO date, for the mandate period).
fn scope_args(scope: &CustomerScope, today: &str) -> Vec<crate::Arg> {
    match scope {
        CustomerScope::JobCenter { job_center_id } => {
            args!["jc", *job_center_id, Option::<String>::None, today]
        }
        CustomerScope::CaseManager {
            job_center_id,
            pap_code,
        } => args!["pap", *job_center_id, pap_code.clone(), today],
        CustomerScope::ServiceCenter { service_center_id } => {
            args!["sc", *service_center_id, Option::<String>::None, today]
        }
    }
}

// The scope predicate, the same text in every query below. A service center sees
// a job center's customers only through a mandate that is active today; restricted
// customers are seen by the job center's administration only.
macro_rules! scoped {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            " WHERE ((($1 = 'jc' OR $1 = 'pap') AND c.job_center_id = $2 AND ($1 = 'jc' OR c.pap_code = $3))
               OR ($1 = 'sc' AND c.job_center_id IN (
                    SELECT m.job_center_id FROM mandates m
                    WHERE m.service_center_id = $2 AND m.state = 'active'
                      AND m.period_start <= $4 AND m.period_end >= $4)))
             AND ($1 = 'jc' OR c.restricted = FALSE) ",
            $tail
        )
    };
}

pub async fn insert(
    tx: &mut Tx,
    job_center_id: i64,
    c: &NewCustomer,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO customers (job_center_id, customer_number, bg_number, salutation, first_name, last_name, birth_date,
                street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation,
                pap_code, last_contact, state_code, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)
             RETURNING id",
            args![
                job_center_id,
                &c.customer_number,
                c.bg_number.clone(),
                c.salutation.clone(),
                c.first_name.clone(),
                &c.last_name,
                &c.birth_date,
                c.street.clone(),
                c.house_number.clone(),
                c.postcode.clone(),
                c.city.clone(),
                c.phone.clone(),
                c.mobile.clone(),
                c.email.clone(),
                &c.status,
                c.unemployed_since.clone(),
                c.target_occupation.clone(),
                c.pap_code.clone(),
                c.last_contact.clone(),
                c.state_code.clone(),
                now
            ],
        )
        .await?;
    Ok(id)
}

/// One page of the customers in scope, by customer number. `number` filters
/// on a customer-number prefix.
pub async fn list(
    tx: &mut Tx,
    scope: &CustomerScope,
    today: &str,
    filter: &CustomerFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<CustomerListing>, StoreError> {
    let mut params = scope_args(scope, today);
    params.extend(filter.args());
    params.extend(args![limit, offset]);
    tx.fetch_all(
        scoped!(
            "SELECT c.id, c.customer_number, c.first_name, c.last_name, c.status, c.pap_code, c.last_contact, c.in_latest_export FROM customers c",
            "AND ($5 IS NULL OR c.customer_number LIKE $5) AND ($6 = FALSE OR c.in_latest_export = FALSE)
             ORDER BY c.customer_number LIMIT $7 OFFSET $8"
        ),
        params,
    )
    .await
}

/// How many customers are in scope.
pub async fn count(
    tx: &mut Tx,
    scope: &CustomerScope,
    today: &str,
    filter: &CustomerFilter,
) -> Result<i64, StoreError> {
    let mut params = scope_args(scope, today);
    params.extend(filter.args());
    let (n,): (i64,) = tx
        .fetch_one(
            scoped!(
                "SELECT COUNT(*) FROM customers c",
                "AND ($5 IS NULL OR c.customer_number LIKE $5) AND ($6 = FALSE OR c.in_latest_export = FALSE)"
            ),
            params,
        )
        .await?;
    Ok(n)
}

/// One customer, if in scope; a customer outside the scope looks exactly like
/// one that doesn't exist.
pub async fn get(
    tx: &mut Tx,
    scope: &CustomerScope,
    today: &str,
    id: i64,
) -> Result<Option<Customer>, StoreError> {
    let mut params = scope_args(scope, today);
    params.extend(args![id]);
    tx.fetch_optional(
        scoped!(
            "SELECT c.id, c.job_center_id, c.customer_number, c.bg_number, c.salutation, c.first_name, c.last_name, c.birth_date,
                    c.street, c.house_number, c.postcode, c.city, c.phone, c.mobile, c.email, c.status, c.unemployed_since,
                    c.target_occupation, c.pap_code, c.last_contact, c.state_code, c.restricted, c.in_latest_export
             FROM customers c",
            "AND c.id = $5"
        ),
        params,
    )
    .await
}

/// The next page of full records in scope after the customer `after_id`, by
/// id (for exports that must not hold every record in memory).
pub async fn page_after(
    tx: &mut Tx,
    scope: &CustomerScope,
    today: &str,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Customer>, StoreError> {
    let mut params = scope_args(scope, today);
    params.extend(args![after_id, limit]);
    tx.fetch_all(
        scoped!(
            "SELECT c.id, c.job_center_id, c.customer_number, c.bg_number, c.salutation, c.first_name, c.last_name, c.birth_date,
                    c.street, c.house_number, c.postcode, c.city, c.phone, c.mobile, c.email, c.status, c.unemployed_since,
                    c.target_occupation, c.pap_code, c.last_contact, c.state_code, c.restricted, c.in_latest_export
             FROM customers c",
            "AND c.id > $5 ORDER BY c.id LIMIT $6"
        ),
        params,
    )
    .await
}

/// The fields imports changed for one customer in scope, newest first.
pub async fn changes(
    tx: &mut Tx,
    scope: &CustomerScope,
    today: &str,
    id: i64,
) -> Result<Vec<CustomerChange>, StoreError> {
    let mut params = scope_args(scope, today);
    params.extend(args![id]);
    tx.fetch_all(
        scoped!(
            "SELECT ch.field, ch.old_value, ch.new_value, COALESCE(i.finished_at, i.started_at) AS changed_at, i.file_name
             FROM customers c
             JOIN customer_changes ch ON ch.customer_id = c.id
             JOIN imports i ON i.id = ch.import_id",
            "AND c.id = $5 ORDER BY ch.id DESC"
        ),
        params,
    )
    .await
}
