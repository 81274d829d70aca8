//! Customer master data. Every read takes a [`CustomerScope`]; the scope is part
//! of the SQL, so rows outside it can't be returned.

use crate::{StoreError, Tx, args};
use outreach_core::access::CustomerScope;
use outreach_core::customer::{DateText, Field, Record};
use outreach_core::date::iso_to_de;
use outreach_core::import::Values;
use std::borrow::Cow;

/// One customer as stored: the record, and what the store keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Customer {
    pub id: i64,
    pub job_center_id: i64,
    #[serde(flatten)]
    pub record: Record,
    pub restricted: bool,
    pub in_latest_export: bool,
}

/// The stored fields of a row (its columns named by [`Field::code`]) as a
/// record; a value that can't be read is a decoding error, not a default.
pub(crate) fn record_from_row<'r, R: sqlx::Row>(row: &'r R) -> Result<Record, sqlx::Error>
where
    &'r str: sqlx::ColumnIndex<R>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut values: [Option<String>; Field::ALL.len()] = Default::default();
    for (slot, field) in values.iter_mut().zip(Field::ALL) {
        *slot = row.try_get(field.code())?;
    }
    Record::from_stored(values).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A customer's record as a part of a larger row: with `#[sqlx(flatten)]`
/// it is read from the columns named by [`Field::code`] (select `c.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordColumns(pub Record);

impl std::ops::Deref for RecordColumns {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.0
    }
}

/// `FromRow` on both backends for a row type that holds a [`Record`].
macro_rules! record_row {
    ($row:ty, $t:ty, |$r:ident| $body:expr) => {
        impl<'r> sqlx::FromRow<'r, $row> for $t {
            fn from_row($r: &'r $row) -> Result<$t, sqlx::Error> {
                #[allow(unused_imports)]
                use sqlx::Row;
                Ok($body)
            }
        }
    };
    ($t:ty, |$r:ident| $body:expr) => {
        $crate::customer::record_row!(sqlx::sqlite::SqliteRow, $t, |$r| $body);
        $crate::customer::record_row!(sqlx::postgres::PgRow, $t, |$r| $body);
    };
}
pub(crate) use record_row;

record_row!(RecordColumns, |row| RecordColumns(record_from_row(row)?));

record_row!(Customer, |row| Customer {
    id: row.try_get("id")?,
    job_center_id: row.try_get("job_center_id")?,
    record: record_from_row(row)?,
    restricted: row.try_get("restricted")?,
    in_latest_export: row.try_get("in_latest_export")?,
});

impl Customer {
    /// The record in the export format's columns and notation (dates
    /// `TT.MM.JJJJ`, phones E.164), as the job center's own export has them.
    pub fn export_values(&self) -> Values {
        let mut v = Values::default();
        let mut dates = DateText::default();
        for (field, value) in Field::ALL.into_iter().zip(self.record.stored(&mut dates)) {
            match value {
                _ if field == Field::Status => v.set(field, self.record.status.export_word()),
                Some(text) if field.is_date() => v.set(field, &iso_to_de(&text)),
                Some(text) => v.set(field, &text),
                None => {}
            }
        }
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

/// Inserts one customer of `job_center_id`.
pub async fn insert(
    tx: &mut Tx,
    job_center_id: i64,
    c: &Record,
    now: i64,
) -> Result<i64, StoreError> {
    static INSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let columns: Vec<&str> = Field::ALL.iter().map(|f| f.code()).collect();
        let values: Vec<String> = (2..columns.len() + 2).map(|i| format!("${i}")).collect();
        let now = columns.len() + 2;
        format!(
            "INSERT INTO customers (job_center_id, {}, created_at, updated_at)
             VALUES ($1, {}, ${now}, ${now}) RETURNING id",
            columns.join(", "),
            values.join(", ")
        )
    });
    let mut params = args![job_center_id];
    let mut dates = DateText::default();
    params.extend(
        c.stored(&mut dates)
            .into_iter()
            .map(|v| crate::Arg::from(v.map(Cow::into_owned))),
    );
    params.extend(args![now]);
    let (id,): (i64,) = tx.fetch_one(INSERT.as_str(), params).await?;
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
        scoped!("SELECT c.* FROM customers c", "AND c.id = $5"),
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
            "SELECT c.* FROM customers c",
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
