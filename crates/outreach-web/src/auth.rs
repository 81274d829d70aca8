//! Login, logout, password change and session extension.

use crate::forms::{Errors, FormData, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::security::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, cookie_value};
use crate::session::{Ctx, MaybeCtx};
use crate::{AppError, AppState, password};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use outreach_core::access::Action;
use outreach_core::account::{LOCKOUT_SECONDS, MAX_FAILED_LOGINS, check_new_password};
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::{random_token, session, user};

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
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    errors: Errors,
    username: String,
    expired: bool,
    logged_out: bool,
}

/// The one answer to an unknown name, a wrong password and a locked or
/// deactivated account alike, so that none of them can be told apart.
const LOGIN_FAILED: &str = "Die Anmeldung ist fehlgeschlagen: Benutzername oder Passwort ist falsch, oder das Konto ist nach fünf Fehlversuchen für 15 Minuten gesperrt. Bitte versuchen Sie es später erneut oder wenden Sie sich an die Systemadministration.";

fn login_form(
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
    let mut tx = state.db.begin_read().await?;
    let found = user::by_username(&mut tx, &username).await?;
    drop(tx);
    let audit_name: String = username.chars().take(64).collect();
    // An active account's password is checked against its hash only in one
    // of the few checks it allows per window, taken before the check;
    // unknown, deactivated and locked accounts get the same work (a check
    // against a dummy hash) and the same answer.
    let check = match &found {
        Some(u) if u.active => {
            let mut tx = state.db.begin().await?;
            let check =
                user::take_login_check(&mut tx, u.id, now, LOCKOUT_SECONDS, MAX_FAILED_LOGINS)
                    .await?;
            tx.commit().await?;
            check
        }
        _ => None,
    };
    let hash = check.and(found.as_ref().map(|u| u.password_hash.clone()));
    let verified = password::verify(password_given, hash).await;

    let mut tx = state.db.begin().await?;
    // Read again after the check: deactivated or changed meanwhile?
    let current = match (&found, verified) {
        (Some(u), true) => user::by_id(&mut tx, u.id).await?,
        _ => None,
    };
    let usable = current
        .filter(|u| u.active)
        .and_then(|u| u.actor().map(|a| (u, a)));
    let (Some((user, actor)), Some(check)) = (usable, check) else {
        let reason = match (&found, check) {
            (None, _) => "falsche Anmeldedaten",
            (Some(u), _) if !u.active => "Konto deaktiviert",
            (Some(_), None) => "gesperrt",
            (Some(_), Some(c)) if c.place >= MAX_FAILED_LOGINS => {
                "falsche Anmeldedaten; Konto gesperrt"
            }
            (Some(_), Some(_)) => "falsche Anmeldedaten",
        };
        let event = AuditEvent::anonymous(&audit_name, AuditAction::LoginFailure, &ctx.client)
            .record("user", &audit_name)
            .purpose(reason);
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
        let mut errors = Errors::default();
        errors.add("password", "Anmeldung", LOGIN_FAILED);
        return fail(errors, username, StatusCode::UNPROCESSABLE_ENTITY);
    };
    user::clear_login_checks(&mut tx, user.id, check).await?;
    // A new session id at every login; the old one (if any) ends.
    let old = cookie_value(&headers, SESSION_COOKIE).map(|old| session::hash_token(&old));
    if let Some(old) = &old {
        session::delete(&mut tx, old).await?;
    }
    let new = session::create(&mut tx, user.id, &ctx.client, now).await?;
    let event =
        AuditEvent::by(&actor, AuditAction::LoginSuccess, &ctx.client).record("user", user.id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    if let Some(old) = old {
        state.sessions.changed(Some(&format!("s:{old}")));
    }
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie(&state, SESSION_COOKIE, &new.token, None),
    );
    h.append(
        header::SET_COOKIE,
        cookie(&state, LOGIN_CSRF_COOKIE, "", Some(0)),
    );
    Ok(response)
}

async fn logout(State(state): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    session::delete(&mut tx, &ctx.user.session_hash).await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::Logout, &ctx.client)
        .record("user", ctx.user.actor.user_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
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
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    errors: Errors,
    changed: bool,
    /// The system administration reset the password: a new one is due.
    forced: bool,
}

async fn password_page(ctx: Ctx) -> PasswordPage {
    PasswordPage {
        layout: Layout::new(&ctx.user, "Passwort ändern", "/konto/passwort"),
        errors: Errors::default(),
        changed: false,
        forced: ctx.user.must_change_password,
    }
}

async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
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
    let mut tx = state.db.begin_read().await?;
    let stored = user::by_id(&mut tx, ctx.user.actor.user_id)
        .await?
        .map(|u| u.password_hash);
    drop(tx);
    if !current.is_empty() && !password::verify(current, stored).await {
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
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let hash = password::hash(new).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    user::set_password(&mut tx, ctx.user.actor.user_id, &hash, now).await?;
    session::delete_for_user(
        &mut tx,
        ctx.user.actor.user_id,
        Some(&ctx.user.session_hash),
    )
    .await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::PasswordChange, &ctx.client)
        .record("user", ctx.user.actor.user_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    // This server forgets the session it kept, with its old flag.
    state
        .sessions
        .changed(Some(&format!("s:{}", ctx.user.session_hash)));
    Ok(PasswordPage {
        layout: Layout::new(&ctx.user, "Passwort ändern", "/konto/passwort"),
        errors: Errors::default(),
        changed: true,
        forced: false,
    }
    .into_response())
}

/// Called by the warning dialog (WCAG 2.2.1): the session starts a new idle period.
async fn extend_session(State(state): State<AppState>, ctx: Ctx) -> Result<StatusCode, AppError> {
    let mut tx = state.db.begin().await?;
    session::touch(&mut tx, &ctx.user.session_hash, state.clock.now()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
