//! Reading form bodies, query strings and path ids without ever answering with
//! a framework's English rejection, and the field errors forms show. Every
//! field's value is checked against its rule ([`fields::rule`]) before a
//! handler sees the form.

use crate::AppError;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use http_body_util::BodyExt;

mod fields;

/// The largest form body read (a guide's source is the largest form).
pub const MAX_FORM_BYTES: usize = 1024 * 1024;
/// A larger body is still read, up to this much, and dropped, so that the
/// sender reads the German answer before the connection is closed.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// The fields of a submitted form (`application/x-www-form-urlencoded`).
/// Repeated names (checkbox lists) keep every value.
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The trimmed value of a field, "" when missing.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// A value as typed, untrimmed (passwords).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Sets a field (replacing its values), for forms filled with defaults.
    pub fn set(&mut self, name: &str, value: String) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), value));
    }

    /// Adds one more value under `name` (check boxes of one group).
    pub fn push(&mut self, name: &str, value: String) {
        self.0.push((name.to_string(), value));
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl FormData {
    /// The fields of `bytes`, each checked against its rule: the first value
    /// refused is the answer, naming the field and what is wrong.
    pub fn checked(bytes: &[u8]) -> Result<FormData, AppError> {
        let form = FormData::parse(bytes);
        for (name, value) in &form.0 {
            let rule = fields::rule(name);
            let checked = if rule.machine {
                outreach_core::text::check_length(value, rule.max)
            } else {
                outreach_core::text::check(value, rule.max, rule.lines)
            };
            if let Err(refusal) = checked {
                return Err(AppError::Input(refusal.message(rule.label)));
            }
        }
        Ok(form)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;

    async fn from_request(request: Request, _state: &S) -> Result<FormData, AppError> {
        let bytes = read_body(request.into_body(), MAX_FORM_BYTES).await?;
        FormData::checked(&bytes)
    }
}

/// The body, at most `limit` bytes. A larger one is read on (up to
/// [`DRAIN_BYTES`]) and dropped before the German 413 answers it: a
/// connection closed while the browser still sends loses the answer.
pub(crate) async fn read_body(
    mut body: axum::body::Body,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(AppError::BadRequest(
                "Die gesendeten Daten kamen nicht vollständig an.",
            ));
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            bytes.extend_from_slice(&data);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if seen > limit {
        return Err(AppError::BodyTooLarge);
    }
    Ok(bytes)
}

/// The query string's fields.
pub struct QueryData(pub FormData);

impl<S: Send + Sync> FromRequestParts<S> for QueryData {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<QueryData, AppError> {
        FormData::checked(parts.uri.query().unwrap_or("").as_bytes()).map(QueryData)
    }
}

/// A numeric id from the path; anything else is "not found".
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<IdPath, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        raw.parse().map(IdPath).map_err(|_| AppError::NotFound)
    }
}

/// Several numeric ids from the path, in order; anything else is "not found".
pub struct IdsPath(pub Vec<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IdsPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<IdsPath, AppError> {
        let Path(raw) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        raw.iter()
            .map(|(_, v)| v.parse().map_err(|_| AppError::NotFound))
            .collect::<Result<Vec<i64>, AppError>>()
            .map(IdsPath)
    }
}

/// An error shown next to a form field and in the error summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's `id` (the summary links to it).
    pub field: String,
    pub label: String,
    pub message: String,
}

/// The errors of one form submission.
#[derive(Debug, Clone, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, label: &str, message: impl ToString) {
        self.0.push(FieldError {
            field: field.to_string(),
            label: label.to_string(),
            message: message.to_string(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for a field, "" when it has none (templates show it if set).
    pub fn of(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map_or("", |e| e.message.as_str())
    }
}
