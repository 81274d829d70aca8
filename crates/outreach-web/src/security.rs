//! Security in one place: response headers, cookies and the CSRF check.

use crate::cookies::{LOGIN_CSRF_COOKIE, cookie_value};
use crate::session::CurrentUser;
use crate::{AppError, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    // Ignored by browsers over plain HTTP; in production TLS ends at the load balancer.
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (key, value) = p.trim().split_once('=')?;
        key.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// How much of a multipart body is read to find its first field.
const FIRST_FIELD_BYTES: usize = 16 * 1024;

/// The value of the multipart body's first part if that part is the CSRF
/// field, and the body as it came (the bytes read put back in front).
async fn first_field_token(body: Body, boundary: &str) -> (Option<String>, Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut head = Vec::new();
    let mut token = None;
    while head.len() < FIRST_FIELD_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    head.extend_from_slice(&data);
                }
            }
            _ => break,
        }
        if let Some(found) = parse_first_field(&head, boundary) {
            token = found;
            break;
        }
    }
    let head = axum::body::Bytes::from(head);
    let rest = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, axum::Error>(head) }),
        body.into_data_stream(),
    );
    (token, Body::from_stream(rest))
}

/// `None` while more bytes are needed; `Some(None)` when the first part is
/// not the CSRF field; `Some(Some(token))` when it is.
fn parse_first_field(head: &[u8], boundary: &str) -> Option<Option<String>> {
    let text = String::from_utf8_lossy(head);
    let opening = format!("--{boundary}\r\n");
    if text.len() < opening.len() {
        return None;
    }
    let Some(part) = text.strip_prefix(&opening) else {
        return Some(None);
    };
    let (headers, value) = part.split_once("\r\n\r\n")?;
    let named = headers.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("content-disposition:")
            && l.contains(&format!("name=\"{CSRF_FIELD}\""))
    });
    if !named {
        return Some(None);
    }
    let (value, _) = value.split_once(&format!("\r\n--{boundary}"))?;
    Some(Some(value.to_string()))
}

fn same(a: &str, b: &str) -> bool {
    // Constant time in the length of the expected token.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Rejects every state-changing request whose CSRF token (form field `csrf` or
/// header `X-CSRF-Token`) doesn't match the session's — or, before login, the
/// login cookie's.
pub async fn csrf_check(State(_state): State<AppState>, request: Request, next: Next) -> Response {
    // The API authenticates by bearer token and reads no cookie: a forged
    // cross-site request carries no token.
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.uri().path().starts_with("/api/")
    {
        return next.run(request).await;
    }
    let expected = match request.extensions().get::<CurrentUser>() {
        Some(user) => Some(user.csrf_token.clone()),
        None if matches!(request.uri().path(), "/login" | "/login/zweiter-faktor") => {
            cookie_value(request.headers(), LOGIN_CSRF_COOKIE)
        }
        // No session (it ended, or never was): nothing is processed; the user
        // is sent to log in again instead of seeing a security error.
        None => return Redirect::to("/login?abgelaufen=1").into_response(),
    };
    let Some(expected) = expected else {
        return AppError::Csrf.into_response();
    };
    let from_header = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // File uploads are too large to read twice: their token is the form's
    // first field, read from the front of the body, which then goes on as
    // it came. (Never in the URL: URLs end up in logs and histories.)
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart_boundary);
    if let Some(boundary) = boundary {
        let (parts, body) = request.into_parts();
        let (from_form, body) = match from_header {
            Some(token) => (Some(token), body),
            None => first_field_token(body, &boundary).await,
        };
        return match from_form {
            Some(token) if same(&token, &expected) => {
                next.run(Request::from_parts(parts, body)).await
            }
            _ => AppError::Csrf.into_response(),
        };
    }
    let (parts, body) = request.into_parts();
    let bytes = match crate::forms::read_body(body, crate::forms::MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused.into_response(),
    };
    let provided = from_header.or_else(|| {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned())
    });
    match provided {
        Some(token) if same(&token, &expected) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => AppError::Csrf.into_response(),
    }
}
