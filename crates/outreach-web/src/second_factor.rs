//! The second step of a local account's sign-in: the code of the
//! authenticator app (or a recovery code), or, the first time, setting the
//! app up with a QR code and a first code, after which the ten recovery
//! codes are shown once.

use crate::cookies::{
    LOGIN_CSRF_COOKIE, SECOND_FACTOR_COOKIE, SESSION_COOKIE, cookie, cookie_value,
};
use crate::forms::{Errors, FormData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::MaybeCtx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::accounts::{self, CHALLENGE_SECONDS, Pending, SecondStep};
use outreach_app::sessions as session;

pub const PATH: &str = "/login/zweiter-faktor";

pub fn routes() -> Routes {
    Routes::new()
        .get(PATH, Access::Public, code_page)
        .post(PATH, Access::Public, answer)
}

/// The cookie that carries a sign-in from the password to the code.
pub fn challenge_cookie(state: &AppState, token: &str) -> axum::http::HeaderValue {
    cookie(state, SECOND_FACTOR_COOKIE, token, Some(CHALLENGE_SECONDS))
}

/// Setting up the app: the QR code and the secret to type instead.
struct Enrolment {
    username: String,
    /// The secret in groups of four, easier to type.
    secret: String,
    /// The QR code as SVG (built here, holding no text of the user's).
    qr_svg: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/second_factor.html")]
struct CodePage {
    layout: Layout,
    errors: Errors,
    enrolment: Option<Enrolment>,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
}

const WRONG_CODE: &str = "Der Code stimmt nicht oder wurde schon verwendet. Bitte geben Sie den Code ein, den Ihre App gerade anzeigt (er wechselt alle 30 Sekunden), oder einen Ihrer Wiederherstellungscodes.";
const WRONG_FIRST_CODE: &str = "Der Code stimmt nicht. Bitte geben Sie den sechsstelligen Code ein, den Ihre App nach dem Einrichten gerade anzeigt (er wechselt alle 30 Sekunden).";
const LOCKED: &str = "Die Anmeldung ist fehlgeschlagen: Das Konto ist nach fünf Fehlversuchen für 15 Minuten gesperrt. Bitte versuchen Sie es später erneut oder wenden Sie sich an die Systemadministration.";

/// Back to the password, the sign-in (if any) forgotten; `query` says why.
fn start_again(state: &AppState, query: &str) -> Response {
    let mut response = Redirect::to(&format!("/login?{query}")).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(state, SECOND_FACTOR_COOKIE, "", Some(0)),
    );
    response
}

fn qr_svg(url: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(url, QrCodeEcc::Medium) else {
        return String::new();
    };
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" role=\"img\" aria-labelledby=\"qr-titel\" viewBox=\"0 0 {size} {size}\" width=\"240\" height=\"240\" shape-rendering=\"crispEdges\"><title id=\"qr-titel\">QR-Code zum Einrichten der Authenticator-App</title><rect width=\"{size}\" height=\"{size}\" fill=\"#ffffff\"/><path d=\"{path}\" fill=\"#000000\"/></svg>"
    )
}

fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The page that asks, for the sign-in `token` of this browser.
async fn page(
    state: &AppState,
    token: &str,
    errors: Errors,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(pending) = accounts::pending(&state.db, token, now).await? else {
        return Ok(start_again(state, "zeit=1"));
    };
    let (title, enrolment) = match pending {
        Pending::Code => ("Anmeldung: Bestätigungscode", None),
        Pending::Enrol {
            secret,
            url,
            username,
        } => (
            "Anmeldung: Zweiten Faktor einrichten",
            Some(Enrolment {
                username,
                secret: grouped(&secret),
                qr_svg: qr_svg(&url),
            }),
        ),
    };
    let csrf = cookie_value(headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let page = CodePage {
        layout: Layout::anonymous(title, csrf),
        errors,
        enrolment,
    };
    Ok((status, page).into_response())
}

async fn code_page(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if ctx.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let Some(token) = cookie_value(&headers, SECOND_FACTOR_COOKIE) else {
        return Ok(start_again(&state, "zeit=1"));
    };
    page(&state, &token, Errors::default(), StatusCode::OK, &headers).await
}

async fn answer(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some(token) = cookie_value(&headers, SECOND_FACTOR_COOKIE) else {
        return Ok(start_again(&state, "zeit=1"));
    };
    let code: String = form.get("code").split_whitespace().collect();
    if code.is_empty() {
        let mut errors = Errors::default();
        errors.add(
            "code",
            "Code",
            "Bitte geben Sie den Code aus Ihrer Authenticator-App ein.",
        );
        return page(
            &state,
            &token,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
            &headers,
        )
        .await;
    }
    let now = state.clock.now();
    let old = cookie_value(&headers, SESSION_COOKIE).map(|old| session::hash_token(&old));
    let enrolling = matches!(
        accounts::pending(&state.db, &token, now).await?,
        Some(Pending::Enrol { .. })
    );
    let answered = accounts::answer_second_factor(
        &state.db,
        &token,
        &code,
        &ctx.client,
        old,
        now,
        state.clock.wall(),
    )
    .await?;
    match answered {
        SecondStep::Started {
            token,
            ended,
            recovery_codes,
        } => {
            let page = if recovery_codes.is_empty() {
                Redirect::to("/").into_response()
            } else {
                RecoveryCodesPage {
                    layout: Layout::anonymous("Wiederherstellungscodes", String::new()),
                    codes: recovery_codes,
                }
                .into_response()
            };
            let mut response = crate::auth::session_started(&state, page, &token, ended);
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie(&state, SECOND_FACTOR_COOKIE, "", Some(0)),
            );
            h.insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        SecondStep::Wrong => {
            let mut errors = Errors::default();
            let message = if enrolling {
                WRONG_FIRST_CODE
            } else {
                WRONG_CODE
            };
            errors.add("code", "Code", message);
            page(
                &state,
                &token,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                &headers,
            )
            .await
        }
        SecondStep::Locked => {
            let mut errors = Errors::default();
            errors.add("password", "Anmeldung", LOCKED);
            let mut response = crate::auth::login_form(
                &state,
                &headers,
                errors,
                String::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
                &FormData::default(),
            );
            response.headers_mut().append(
                header::SET_COOKIE,
                cookie(&state, SECOND_FACTOR_COOKIE, "", Some(0)),
            );
            Ok(response)
        }
        SecondStep::Expired => Ok(start_again(&state, "zeit=1")),
    }
}
