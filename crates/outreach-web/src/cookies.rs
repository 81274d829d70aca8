//! The cookies the server sets and reads: the session and the login
//! form's token.

use crate::AppState;
use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION_COOKIE: &str = "outreach_sitzung";
/// The token that protects the login form (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "outreach_anmeldung";
/// The sign-in between the right password and the second factor.
pub const SECOND_FACTOR_COOKIE: &str = "outreach_zweiter_faktor";

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, and Secure unless
/// switched off. `max_age` 0 deletes the cookie.
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if state.config.secure_cookies {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of a cookie sent by the browser.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}
