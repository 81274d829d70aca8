//! Files the browser saves: an attachment with its type and name, and CSV
//! as the job centers' Excel opens it (`;`, UTF-8 with BOM).

use crate::AppError;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `body` as a download named `filename` (ASCII, chosen by the application).
pub fn attachment(body: Vec<u8>, content_type: &str, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Rows (the first is the header) as a CSV download, written by the one
/// CSV writer (`outreach_core::spreadsheet`: no cell a spreadsheet would
/// run as a formula).
pub fn csv<R, I, F>(filename: &str, rows: R) -> Result<Response, AppError>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let body =
        outreach_core::spreadsheet::to_bytes(rows).map_err(|e| AppError::internal("csv", e))?;
    Ok(attachment(body, "text/csv; charset=utf-8", filename))
}
