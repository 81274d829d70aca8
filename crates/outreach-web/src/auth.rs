//! Login, logout, password change and session extension.

use crate::cookies::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, cookie_value};
use crate::forms::{Errors, FormData, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::{Ctx, MaybeCtx};
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::accounts::{self, SignIn};
use outreach_app::random_token;
use outreach_app::sessions as session;
use outreach_core::access::Action;
use outreach_core::account::check_new_password;

pub fn routes() -> Routes {
    Routes::new()
        .get("/login", Access::Public, login_page)
        .post("/login", Access::Public, login)
        .post("/logout", Access::Action(Action::UseAccount), logout)
        .get(
            "/konto/passwort",
            Access::Action(Action::UseAccount),
            password_page,
        )
        .post(
            "/konto/passwort",
            Access::Action(Action::UseAccount),
            change_password,
        )
        .post(
            "/sitzung/verlaengern",
            Access::Action(Action::UseAccount),
            extend_session,
        )
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    errors: Errors,
    username: String,
    expired: bool,
    logged_out: bool,
    /// The second step was not taken within its five minutes.
    timed_out: bool,
}

/// The one answer to an unknown name, a wrong password and a locked or
/// deactivated account alike, so that none of them can be told apart.
/// The directory did not answer: local accounts still sign in.
const DIRECTORY_UNAVAILABLE: &str = "Die Anmeldung über das Verzeichnis Ihrer Organisation ist gerade nicht möglich, weil das Verzeichnis nicht antwortet. Bitte versuchen Sie es in einigen Minuten erneut; wer schon angemeldet ist, kann weiterarbeiten.";
/// Known to the directory, but no group of theirs gives a role here (the
/// message names no group).
const NO_ROLE: &str = "Ihr Konto im Verzeichnis ist für Outreach nicht freigeschaltet. Bitte wenden Sie sich an die IT Ihrer Organisation, damit sie Ihnen eine Rolle zuordnet.";
const LOGIN_FAILED: &str = "Die Anmeldung ist fehlgeschlagen: Benutzername oder Passwort ist falsch, oder das Konto ist nach fünf Fehlversuchen für 15 Minuten gesperrt. Bitte versuchen Sie es später erneut oder wenden Sie sich an die Systemadministration.";

pub(crate) fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    errors: Errors,
    username: String,
    status: StatusCode,
    query: &FormData,
) -> Response {
    let existing = cookie_value(headers, LOGIN_CSRF_COOKIE);
    let token = existing.clone().unwrap_or_else(|| random_token(32));
    let page = LoginPage {
        layout: Layout::anonymous("Anmeldung", token.clone()),
        errors,
        username,
        expired: query.get("abgelaufen") == "1",
        logged_out: query.get("abgemeldet") == "1",
        timed_out: query.get("zeit") == "1",
    };
    let mut response = (status, page).into_response();
    if existing.is_none() {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookie(state, LOGIN_CSRF_COOKIE, &token, None),
        );
    }
    response
}

async fn login_page(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    QueryData(query): QueryData,
    headers: HeaderMap,
) -> Response {
    if ctx.user.is_some() {
        return Redirect::to("/").into_response();
    }
    login_form(
        &state,
        &headers,
        Errors::default(),
        String::new(),
        StatusCode::OK,
        &query,
    )
}

async fn login(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let username = form.get("username").to_lowercase();
    let password_given = form.raw("password").to_string();
    let mut errors = Errors::default();
    if username.is_empty() {
        errors.add(
            "username",
            "Benutzername",
            "Bitte geben Sie Ihren Benutzernamen ein.",
        );
    }
    if password_given.is_empty() {
        errors.add("password", "Passwort", "Bitte geben Sie Ihr Passwort ein.");
    }
    let fail = |errors: Errors, username: String, status| {
        Ok(login_form(
            &state,
            &headers,
            errors,
            username,
            status,
            &FormData::default(),
        ))
    };
    if !errors.is_empty() {
        return fail(errors, username, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = state.clock.now();
    let old = cookie_value(&headers, SESSION_COOKIE).map(|old| session::hash_token(&old));
    let signed_in = accounts::sign_in(
        &state.db,
        state.config.sign_on.as_deref(),
        &state.config.second_factor(),
        &ctx.client,
        &username,
        password_given,
        old,
        now,
    )
    .await?;
    let (token, ended) = match signed_in {
        SignIn::Started { token, ended } => (token, ended),
        SignIn::SecondFactor { token } => {
            let mut response = Redirect::to(crate::second_factor::PATH).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                crate::second_factor::challenge_cookie(&state, &token),
            );
            return Ok(response);
        }
        refused => {
            let (message, status) = match refused {
                SignIn::DirectoryUnavailable => {
                    (DIRECTORY_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE)
                }
                SignIn::NoRole => (NO_ROLE, StatusCode::FORBIDDEN),
                _ => (LOGIN_FAILED, StatusCode::UNPROCESSABLE_ENTITY),
            };
            let mut errors = Errors::default();
            errors.add("password", "Anmeldung", message);
            return fail(errors, username, status);
        }
    };
    Ok(session_started(
        &state,
        Redirect::to("/").into_response(),
        &token,
        ended,
    ))
}

/// `response` with the new session's cookie (token `token`), the login
/// form's token gone; the earlier session (`ended`, its hash) forgotten here.
pub(crate) fn session_started(
    state: &AppState,
    mut response: Response,
    token: &str,
    ended: Option<String>,
) -> Response {
    if let Some(old) = ended {
        state.sessions.changed(Some(&format!("s:{old}")));
    }
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie(state, SESSION_COOKIE, token, None),
    );
    h.append(
        header::SET_COOKIE,
        cookie(state, LOGIN_CSRF_COOKIE, "", Some(0)),
    );
    response
}

async fn logout(State(state): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let now = state.clock.now();
    accounts::sign_out(&state.db, ctx.caller(), &ctx.user.session_hash, now).await?;
    // This server forgets it now; the others when PostgreSQL tells them.
    state
        .sessions
        .changed(Some(&format!("s:{}", ctx.user.session_hash)));
    let mut response = Redirect::to("/login?abgemeldet=1").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(&state, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: Errors,
    changed: bool,
    /// The system administration reset the password: a new one is due.
    forced: bool,
    /// The password is the directory's: nothing to change here.
    directory: bool,
}

async fn password_page(ctx: Ctx) -> PasswordPage {
    PasswordPage {
        layout: Layout::new(&ctx.user, "Passwort ändern", "/konto/passwort"),
        errors: Errors::default(),
        changed: false,
        forced: ctx.user.must_change_password,
        directory: ctx.user.from_directory,
    }
}

async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    if ctx.user.from_directory {
        return Ok((StatusCode::CONFLICT, password_page(ctx).await).into_response());
    }
    let mut errors = Errors::default();
    let current = form.raw("current").to_string();
    let new = form.raw("new").to_string();
    if current.is_empty() {
        errors.add(
            "current",
            "Bisheriges Passwort",
            "Bitte geben Sie Ihr bisheriges Passwort ein.",
        );
    }
    if let Err(e) = check_new_password(&new, &ctx.user.actor.username) {
        errors.add("new", "Neues Passwort", e);
    } else if new != form.raw("repeat") {
        errors.add(
            "repeat",
            "Wiederholung",
            "Die beiden neuen Passwörter stimmen nicht überein.",
        );
    }
    if !current.is_empty()
        && !accounts::is_current_password(&state.db, &ctx.user.actor, current).await?
    {
        errors.add(
            "current",
            "Bisheriges Passwort",
            "Das bisherige Passwort ist falsch.",
        );
    }
    if !errors.is_empty() {
        let page = PasswordPage {
            layout: Layout::new(&ctx.user, "Passwort ändern", "/konto/passwort"),
            errors,
            changed: false,
            forced: ctx.user.must_change_password,
            directory: false,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.clock.now();
    accounts::change_password(&state.db, ctx.caller(), new, &ctx.user.session_hash, now).await?;
    // This server forgets the session it kept, with its old flag.
    state
        .sessions
        .changed(Some(&format!("s:{}", ctx.user.session_hash)));
    Ok(PasswordPage {
        layout: Layout::new(&ctx.user, "Passwort ändern", "/konto/passwort"),
        errors: Errors::default(),
        changed: true,
        forced: false,
        directory: false,
    }
    .into_response())
}

/// Called by the warning dialog (WCAG 2.2.1): the session starts a new idle period.
async fn extend_session(State(state): State<AppState>, ctx: Ctx) -> Result<StatusCode, AppError> {
    outreach_app::sessions::touch(&state.db, &ctx.user.session_hash, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
