//! The JSON API for a job center's own systems: import an export file,
//! fetch a campaign's results since a day. Authenticated by a bearer token
//! per job center (no cookies, so no CSRF); every call is audited under the
//! token's name. The OpenAPI document describes it. The administration
//! creates and revokes tokens on `/api-zugang`.

use crate::forms::{FormData, IdPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::api_tokens::Presented;
use outreach_app::imports::ImportError;
use outreach_core::access::Action;
use outreach_core::api_token::ApiScope;
use outreach_core::date::{
    berlin_date, berlin_day_start, format_de_datetime, parse_de_date, parse_iso_date,
};
use outreach_core::results::ExportRecord;

/// The largest file one API call imports (held in memory; whole exports of
/// a large job center go through the web upload or the command line).
const MAX_API_IMPORT: usize = 256 * 1024 * 1024;

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageApiTokens);
    Routes::new()
        .get("/api/v1/openapi.json", Access::Public, openapi)
        .get("/api/v1/ergebnisse", Access::Token, results)
        .post_with_limit(
            "/api/v1/kunden/import",
            Access::Token,
            import,
            DefaultBodyLimit::max(MAX_API_IMPORT),
        )
        .get("/api-zugang", manage, tokens_page)
        .post("/api-zugang", manage, create_token)
        .post("/api-zugang/{id}/widerrufen", manage, revoke_token)
        .post("/api-zugang/{id}/verlaengern", manage, renew_token)
}

/// An answer of the API: a status and `{"fehler": "..."}` in German.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "fehler": self.1 }).to_string(),
        )
            .into_response()
    }
}

impl From<outreach_app::Error> for ApiError {
    fn from(e: outreach_app::Error) -> ApiError {
        match e {
            outreach_app::Error::Store(e) => e.into(),
            e => {
                tracing::error!(error = %e, "api");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Interner Fehler; bitte später erneut versuchen.".into(),
                )
            }
        }
    }
}

impl From<outreach_app::StoreError> for ApiError {
    fn from(e: outreach_app::StoreError) -> ApiError {
        tracing::error!(error = %e, "api: store");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Interner Fehler; bitte später erneut versuchen.".into(),
        )
    }
}

/// The job center and token name of the request's bearer token, if the
/// token is valid and may do `needed`.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    needed: ApiScope,
) -> Result<(i64, String), ApiError> {
    let unauthorized = || {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "Zugangstoken fehlt oder ist ungültig (Kopfzeile „Authorization: Bearer …“).".into(),
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(unauthorized)?;
    let found = outreach_app::api_tokens::authenticate(&state.db, token, state.clock.now()).await?;
    match found {
        Presented::Valid {
            job_center_id,
            name,
            scopes,
        } if scopes.contains(&needed) => Ok((job_center_id, name)),
        Presented::Valid { .. } => Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "Dieses Zugangstoken ist für „{}“ nicht freigegeben; bitte unter „API-Zugang“ ein Token mit dieser Berechtigung anlegen.",
                needed.label()
            ),
        )),
        Presented::Expired { expired_at } => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            format!(
                "Das Zugangstoken ist am {} abgelaufen; die Administration Ihres Jobcenters kann es unter „API-Zugang“ verlängern.",
                format_de_datetime(expired_at)
            ),
        )),
        Presented::Invalid => Err(unauthorized()),
    }
}

async fn results(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryData(query): QueryData,
) -> Result<Response, ApiError> {
    let (jc, name) = authenticate(&state, &headers, ApiScope::Results).await?;
    let bad = |m: &str| ApiError(StatusCode::BAD_REQUEST, m.to_string());
    let campaign_id = query
        .get("aktion")
        .parse::<i64>()
        .map_err(|_| bad("Parameter „aktion“: die Nummer einer Aktion fehlt."))?;
    let since = match query.get("seit") {
        "" => None,
        raw => Some(berlin_day_start(
            parse_iso_date(raw)
                .or_else(|| parse_de_date(raw).ok())
                .ok_or_else(|| {
                    bad("Parameter „seit“: ein Datum als JJJJ-MM-TT oder TT.MM.JJJJ.")
                })?,
        )),
    };
    let by = outreach_app::Source::Token {
        name: &name,
        job_center_id: jc,
    };
    let now = state.clock.now();
    let cases = outreach_app::results::hand_over(&state.db, by, jc, campaign_id, since, now)
        .await
        .map_err(|e| match e {
            outreach_app::Error::NotFound => ApiError(
                StatusCode::NOT_FOUND,
                format!("Die Aktion {campaign_id} gibt es für dieses Jobcenter nicht."),
            ),
            e => e.into(),
        })?;
    let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
    let body = serde_json::to_string(&records)
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Interner Fehler.".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The import through the API. The token is checked before a byte of the
/// body is read, so an anonymous request costs nothing; the body then
/// streams into a private file of the server's own, its limit enforced
/// while reading, and the file goes when the import ends.
async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryData(query): QueryData,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let (jc, name) = authenticate(&state, &headers, ApiScope::Import).await?;
    let file_name = match query.get("dateiname") {
        "" => "api-import.csv".to_string(),
        n => n.chars().filter(|c| !c.is_control()).take(200).collect(),
    };
    let path = state
        .spool_path("api-import", "csv")
        .map_err(|_| internal("no folder for uploads"))?;
    // Removed when this request ends, however it ends.
    let upload = Upload(path);
    receive(body, &upload.0).await?;
    let now = state.clock.now();
    let import = outreach_app::imports::Import {
        job_center_id: jc,
        file_name,
        dry_run: query.get("probelauf") == "1",
        job_id: None,
    };
    let by = outreach_app::Source::Token {
        name: &name,
        job_center_id: jc,
    };
    let path = upload.0.clone();
    let open = move || std::fs::File::open(&path).map(std::io::BufReader::new);
    let today = berlin_date(now);
    match outreach_app::imports::run(&state.db, by, import, open, |_| {}, today, now).await {
        Ok(report) => {
            let body = serde_json::to_string(&report).map_err(|_| {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Interner Fehler.".into())
            })?;
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(ImportError::Read(e)) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(ImportError::Spill(e)) => {
            tracing::error!(error = %e, "import failed");
            Err(ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Die Meldungen des Imports konnten nicht zwischengespeichert werden; es wurde nichts gespeichert.".into(),
            ))
        }
    }
}

fn internal(cause: &str) -> ApiError {
    tracing::error!(cause, "api import");
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Interner Fehler; bitte später erneut versuchen. Es wurde nichts gespeichert.".into(),
    )
}

/// An uploaded file, deleted when dropped.
struct Upload(std::path::PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Streams the body into a new private file at `path`, at most
/// [`MAX_API_IMPORT`] bytes.
async fn receive(body: axum::body::Body, path: &std::path::Path) -> Result<(), ApiError> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let mut out = crate::spool::Spool::create(path)
        .map(tokio::fs::File::from_std)
        .map_err(|_| internal("upload file"))?;
    let mut body = body;
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "Die Datei wurde nicht vollständig empfangen (Verbindung abgebrochen oder zu lange ohne Daten). Es wurde nichts gespeichert.".into(),
            ));
        };
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        size += chunk.len();
        if size > MAX_API_IMPORT {
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Die Datei ist größer als {} MB; größere Exporte bitte über die Weboberfläche oder die Kommandozeile einlesen. Es wurde nichts gespeichert.",
                    MAX_API_IMPORT / (1024 * 1024)
                ),
            ));
        }
        out.write_all(&chunk)
            .await
            .map_err(|_| internal("upload write"))?;
    }
    out.flush().await.map_err(|_| internal("upload flush"))?;
    Ok(())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../static/openapi.json"),
    )
        .into_response()
}

struct TokenRow {
    id: i64,
    name: String,
    created: String,
    used: String,
    revoked: String,
    /// "gültig bis …" or "abgelaufen am …".
    validity: String,
    expired: bool,
    scopes: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "api/tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    /// A token just created: shown this once.
    new_token: String,
    name: String,
    error: String,
    /// The scopes to offer, with whether each is ticked.
    scopes: Vec<(&'static str, &'static str, bool)>,
    scope_error: String,
}

/// What the token form showed or was sent: name, scopes, their errors.
#[derive(Default)]
struct TokenForm {
    name: String,
    error: String,
    /// The ticked scopes (`None`: the form's default, all of them).
    scopes: Option<Vec<ApiScope>>,
    scope_error: String,
}

async fn tokens_view(
    state: &AppState,
    ctx: &Ctx,
    new_token: String,
    form: TokenForm,
) -> Result<TokensPage, AppError> {
    let now = state.clock.now();
    let tokens = outreach_app::api_tokens::list(&state.db, &ctx.user.actor).await?;
    let ticked = form.scopes.unwrap_or_else(|| ApiScope::ALL.to_vec());
    Ok(TokensPage {
        layout: Layout::new(&ctx.user, "Zugang für Fachverfahren (API)", "/api-zugang"),
        tokens: tokens
            .into_iter()
            .map(|t| {
                let expired = t.expires_at.is_some_and(|at| at <= now);
                let validity = match t.expires_at {
                    Some(at) if expired => format!("abgelaufen am {}", format_de_datetime(at)),
                    Some(at) => format!("gültig bis {}", format_de_datetime(at)),
                    None => "unbefristet".to_string(),
                };
                TokenRow {
                    id: t.id,
                    name: t.name,
                    created: format_de_datetime(t.created_at),
                    used: t.last_used_at.map(format_de_datetime).unwrap_or_default(),
                    revoked: t.revoked_at.map(format_de_datetime).unwrap_or_default(),
                    validity,
                    expired,
                    scopes: ApiScope::split(&t.scopes)
                        .into_iter()
                        .map(ApiScope::label)
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })
            .collect(),
        new_token,
        name: form.name,
        error: form.error,
        scopes: ApiScope::ALL
            .iter()
            .map(|s| (s.code(), s.label(), ticked.contains(s)))
            .collect(),
        scope_error: form.scope_error,
    })
}

async fn tokens_page(State(state): State<AppState>, ctx: Ctx) -> Result<TokensPage, AppError> {
    tokens_view(&state, &ctx, String::new(), TokenForm::default()).await
}

async fn create_token(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    job_center(&ctx)?;
    let name = form.get("name");
    let scopes: Vec<ApiScope> = ApiScope::ALL
        .into_iter()
        .filter(|s| form.get(&format!("recht_{}", s.code())) == "1")
        .collect();
    let mut refused = TokenForm {
        name: name.to_string(),
        scopes: Some(scopes.clone()),
        ..TokenForm::default()
    };
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        refused.error = "Bitte geben Sie eine Bezeichnung mit höchstens 100 Zeichen an, zum Beispiel „Fachverfahren Übergabe“.".into();
    }
    if scopes.is_empty() {
        refused.scope_error = "Bitte wählen Sie mindestens eine Berechtigung für das Token.".into();
    }
    if !refused.error.is_empty() || !refused.scope_error.is_empty() {
        let page = tokens_view(&state, &ctx, String::new(), refused).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.clock.now();
    let token =
        outreach_app::api_tokens::create(&state.db, ctx.caller(), name, &scopes, now).await?;
    Ok(tokens_view(&state, &ctx, token, TokenForm::default())
        .await?
        .into_response())
}

/// The job center whose tokens the actor manages.
fn job_center(ctx: &Ctx) -> Result<i64, AppError> {
    ctx.user.actor.home.job_center().ok_or(AppError::Forbidden)
}

async fn renew_token(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    change_token(&state, &ctx, id, true).await
}

async fn revoke_token(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    change_token(&state, &ctx, id, false).await
}

/// Renews (`renew`) or revokes a token of the job center, audited; a token
/// it doesn't have is not found.
async fn change_token(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    renew: bool,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    if renew {
        outreach_app::api_tokens::renew(&state.db, ctx.caller(), id, now).await?;
    } else {
        outreach_app::api_tokens::revoke(&state.db, ctx.caller(), id, now).await?;
    }
    Ok(Redirect::to("/api-zugang").into_response())
}
