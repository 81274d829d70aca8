//! The one application error type: a status code and a German page. Internal
//! causes are logged once and never shown.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("login required")]
    LoginRequired,
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A field's value was refused (too long, a character nobody means to
    /// enter): the German message names the field.
    #[error("input refused: {0}")]
    Input(String),
    #[error("body too large")]
    BodyTooLarge,
    #[error("too many requests from one address")]
    TooManyRequests,
    #[error("request line too long")]
    UriTooLong,
    #[error("headers too large")]
    HeadersTooLarge,
    #[error("too many uploads at once")]
    UploadsBusy,
    /// The database can't be reached just now (see
    /// `StoreError::is_unavailable`).
    #[error("database unavailable")]
    DatabaseUnavailable,
    /// A failure below the page, with its cause: logged once (with the
    /// chain of causes), never shown.
    #[error("{context}")]
    Internal {
        context: &'static str,
        #[source]
        source: BoxError,
    },
}

/// Any cause of an internal failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppError {
    /// An internal failure while doing `context`, caused by `source`.
    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> AppError {
        AppError::Internal {
            context,
            source: source.into(),
        }
    }
}

impl From<outreach_app::Error> for AppError {
    fn from(error: outreach_app::Error) -> AppError {
        match error {
            outreach_app::Error::NotFound => AppError::NotFound,
            outreach_app::Error::Forbidden => AppError::Forbidden,
            outreach_app::Error::Store(e) if e.is_unavailable() => AppError::from(e),
            other => AppError::internal("application", other),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            return AppError::DatabaseUnavailable;
        }
        AppError::internal("store", error)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: std::borrow::Cow<'static, str>,
    /// The link back: to the form the reader came from (by script), or to
    /// the start page.
    back_to_form: bool,
    training: &'static str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            AppError::LoginRequired => return Redirect::to("/login").into_response(),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Seite nicht gefunden",
                "Die aufgerufene Seite gibt es nicht, oder sie ist für Sie nicht freigegeben.",
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Keine Berechtigung",
                "Mit Ihrer Rolle haben Sie keinen Zugriff auf diese Seite.",
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "Sicherheitsprüfung fehlgeschlagen",
                "Das Formular ist abgelaufen oder wurde nicht von dieser Anwendung gesendet. Bitte laden Sie die Seite neu und versuchen Sie es erneut.",
            ),
            AppError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Zu viele Anmeldeversuche",
                "Von Ihrer Adresse kamen in kurzer Zeit zu viele Anmeldeversuche. Bitte warten Sie einen Moment (die Wartezeit steht im Kopf der Antwort, Retry-After) und melden Sie sich dann erneut an.",
            ),
            AppError::UriTooLong => (
                StatusCode::URI_TOO_LONG,
                "Adresse zu lang",
                "Die aufgerufene Adresse ist länger als 8.192 Zeichen und wird nicht bearbeitet. Bitte kürzen Sie die Suche oder den Filter und versuchen Sie es erneut.",
            ),
            AppError::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Anfrage zu groß",
                "Die Kopfzeilen der Anfrage sind größer als 16 KB und werden nicht bearbeitet. Bitte löschen Sie die Cookies dieser Seite im Browser und melden Sie sich erneut an.",
            ),
            AppError::UploadsBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Zurzeit zu viele Übertragungen",
                "Gerade werden bereits mehrere Dateien an den Server übertragen. Bitte versuchen Sie es in einer Minute erneut; es wurde nichts gespeichert.",
            ),
            AppError::DatabaseUnavailable => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorPage {
                        title: "Datenbank nicht erreichbar",
                        message: "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es in einer Minute erneut. Falls Sie eben ein Formular gesendet haben, prüfen Sie danach, ob Ihre Eingabe gespeichert ist.".into(),
                        back_to_form: false,
                        training: crate::layout::training_banner(),
                    },
                )
                    .into_response();
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("10"),
                );
                return response;
            }
            AppError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "Ungültige Anfrage", *message)
            }
            AppError::Input(message) => {
                return ErrorPage::back(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Eingabe nicht übernommen",
                    format!(
                        "{message} Es wurde nichts gespeichert. Bitte gehen Sie im Browser zurück, korrigieren Sie die Eingabe und senden Sie das Formular erneut."
                    ),
                );
            }
            AppError::BodyTooLarge => {
                return ErrorPage::back(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Eingabe zu groß",
                    "Das Formular war größer als 1 MB und wurde nicht übernommen; es wurde nichts gespeichert. Bitte gehen Sie im Browser zurück und kürzen Sie die Eingabe (einen großen Leitfaden etwa in mehreren Schritten).".into(),
                );
            }
            AppError::Internal { context, source } => {
                let mut causes = vec![source.to_string()];
                let mut next = source.source();
                while let Some(cause) = next {
                    causes.push(cause.to_string());
                    next = cause.source();
                }
                tracing::error!(%context, causes = %causes.join(" ← "), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Interner Fehler",
                    "Die Anfrage konnte nicht bearbeitet werden. Bitte versuchen Sie es später erneut. Ihre Daten wurden nicht verändert.",
                )
            }
        };
        let training = crate::layout::training_banner();
        (
            status,
            ErrorPage {
                title,
                message: message.into(),
                back_to_form: false,
                training,
            },
        )
            .into_response()
    }
}

impl ErrorPage {
    /// A page about the reader's own input: it sends them back to the form.
    fn back(status: StatusCode, title: &'static str, message: String) -> Response {
        (
            status,
            ErrorPage {
                title,
                message: message.into(),
                back_to_form: true,
                training: crate::layout::training_banner(),
            },
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_internal_failure_keeps_its_cause_and_shows_none_of_it() {
        let error = AppError::from(outreach_app::Error::Store(StoreError::NotFound(
            "job center 7".into(),
        )));
        // The cause itself is kept, not its text.
        let cause = std::error::Error::source(&error);
        let kept = cause.and_then(|c| c.downcast_ref::<outreach_app::Error>());
        assert!(
            matches!(kept, Some(outreach_app::Error::Store(StoreError::NotFound(what))) if what == "job center 7"),
            "{cause:?}"
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        assert!(body.contains("Interner Fehler"), "{body}");
        assert!(!body.contains("job center 7"), "the cause is shown: {body}");
    }

    #[test]
    fn not_found_and_forbidden_from_the_application_keep_their_pages() {
        assert!(matches!(
            AppError::from(outreach_app::Error::NotFound),
            AppError::NotFound
        ));
        assert!(matches!(
            AppError::from(outreach_app::Error::Forbidden),
            AppError::Forbidden
        ));
    }
}
