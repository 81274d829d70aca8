//! System administration: job centers, service centers and user accounts.
//! The admin manages organisations and people, never customer data.

use crate::forms::{Errors, FormData, IdPath};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState, password};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use outreach_app::administration::{self, Taken};
use outreach_app::administration::{JobCenter, NewJobCenter, NewUser, ServiceCenter, UserListing};
use outreach_core::access::{Action, Home, Role};
use outreach_core::account::Username;

pub fn routes() -> Routes {
    let orgs = Access::Action(Action::ManageOrganisations);
    let users = Access::Action(Action::ManageUsers);
    Routes::new()
        .get("/admin/organisationen", orgs, organisations)
        .post("/admin/jobcenter", orgs, create_job_center)
        .post("/admin/servicecenter", orgs, create_service_center)
        .get("/admin/benutzer", users, user_list)
        .get("/admin/benutzer/neu", users, new_user_page)
        .post("/admin/benutzer", users, create_user)
        .post("/admin/benutzer/{id}/deaktivieren", users, deactivate_user)
        .post("/admin/benutzer/{id}/aktivieren", users, activate_user)
        .post("/admin/benutzer/{id}/passwort", users, reset_password)
        .post(
            "/admin/benutzer/{id}/zweiter-faktor",
            users,
            reset_second_factor,
        )
}

use outreach_core::customer::STATES;

#[derive(Template, WebTemplate)]
#[template(path = "admin/organisations.html")]
struct OrganisationsPage {
    layout: Layout,
    job_centers: Vec<JobCenter>,
    service_centers: Vec<ServiceCenter>,
    states: &'static [(&'static str, &'static str)],
    jc_form: FormData,
    sc_form: FormData,
    errors: Errors,
    created: String,
}

async fn organisations_page(
    state: &AppState,
    ctx: &Ctx,
    jc_form: FormData,
    sc_form: FormData,
    errors: Errors,
    created: String,
) -> Result<OrganisationsPage, AppError> {
    let (job_centers, service_centers) = administration::organisations(&state.db).await?;
    Ok(OrganisationsPage {
        layout: Layout::new(&ctx.user, "Organisationen", "/admin/organisationen"),
        job_centers,
        service_centers,
        states: &STATES,
        jc_form,
        sc_form,
        errors,
        created,
    })
}

async fn organisations(
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<OrganisationsPage, AppError> {
    organisations_page(
        &state,
        &ctx,
        FormData::default(),
        FormData::default(),
        Errors::default(),
        String::new(),
    )
    .await
}

fn valid_code(code: &str) -> bool {
    (2..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

const CODE_RULE: &str = "Bitte 2 bis 32 Zeichen: Kleinbuchstaben a–z, Ziffern und Bindestrich.";

/// Which of the two organisation forms was sent.
#[derive(Clone, Copy)]
enum OrgForm {
    JobCenter,
    ServiceCenter,
}

impl OrgForm {
    /// The prefix of the form's field names.
    fn prefix(self) -> &'static str {
        match self {
            OrgForm::JobCenter => "jc",
            OrgForm::ServiceCenter => "sc",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            OrgForm::JobCenter => "Jobcenter",
            OrgForm::ServiceCenter => "Service-Center",
        }
    }

    fn field(self, name: &str) -> String {
        format!("{}_{name}", self.prefix())
    }

    /// Checks code and name, the fields both forms have; returns the code.
    fn check_common(self, form: &FormData, errors: &mut Errors) -> String {
        let code = form.get(&self.field("code")).to_lowercase();
        if !valid_code(&code) {
            errors.add(
                &self.field("code"),
                &format!("Kürzel des {}s", self.noun()),
                CODE_RULE,
            );
        }
        if form.get(&self.field("name")).is_empty() {
            errors.add(
                &self.field("name"),
                &format!("Name des {}s", self.noun()),
                "Bitte geben Sie den Namen an.",
            );
        }
        code
    }

    /// After the insert: a taken code becomes a field error; then shows the page.
    async fn finish(
        self,
        state: &AppState,
        ctx: &Ctx,
        form: FormData,
        mut errors: Errors,
        inserted: Option<Result<i64, Taken>>,
    ) -> Result<Response, AppError> {
        match inserted {
            Some(Ok(_)) => {
                let notice = format!(
                    "{} „{}“ wurde angelegt.",
                    self.noun(),
                    form.get(&self.field("name"))
                );
                let page = organisations_page(
                    state,
                    ctx,
                    FormData::default(),
                    FormData::default(),
                    Errors::default(),
                    notice,
                )
                .await?;
                return Ok(page.into_response());
            }
            Some(Err(Taken)) => errors.add(
                &self.field("code"),
                &format!("Kürzel des {}s", self.noun()),
                "Dieses Kürzel ist schon vergeben.",
            ),
            None => {}
        }
        let (jc_form, sc_form) = match self {
            OrgForm::JobCenter => (form, FormData::default()),
            OrgForm::ServiceCenter => (FormData::default(), form),
        };
        let page = organisations_page(state, ctx, jc_form, sc_form, errors, String::new()).await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    }
}

async fn create_job_center(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let kind = OrgForm::JobCenter;
    let mut errors = Errors::default();
    let code = kind.check_common(&form, &mut errors);
    let postcode = form.get("jc_postcode");
    if !postcode.is_empty() && !outreach_core::customer::is_postcode(postcode) {
        errors.add("jc_postcode", "PLZ", "Die Postleitzahl hat fünf Ziffern.");
    }
    let state_code = form.get("jc_state");
    if !STATES.iter().any(|(c, _)| *c == state_code) {
        errors.add(
            "jc_state",
            "Bundesland",
            "Bitte wählen Sie das Bundesland aus.",
        );
    }
    if !errors.is_empty() {
        return kind.finish(&state, &ctx, form, errors, None).await;
    }
    let new = NewJobCenter {
        code,
        name: form.get("jc_name").to_string(),
        street: form.get("jc_street").to_string(),
        postcode: postcode.to_string(),
        city: form.get("jc_city").to_string(),
        phone: form.get("jc_phone").to_string(),
        email: form.get("jc_email").to_string(),
        state_code: state_code.to_string(),
        dpo_contact: form.get("jc_dpo").to_string(),
        supervisory_authority: form.get("jc_authority").to_string(),
    };
    let now = state.clock.now();
    let result = administration::create_job_center(&state.db, ctx.caller(), &new, now).await?;
    kind.finish(&state, &ctx, form, errors, Some(result)).await
}

async fn create_service_center(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let kind = OrgForm::ServiceCenter;
    let mut errors = Errors::default();
    let code = kind.check_common(&form, &mut errors);
    if !errors.is_empty() {
        return kind.finish(&state, &ctx, form, errors, None).await;
    }
    let fields = (
        code.as_str(),
        form.get("sc_name"),
        form.get("sc_city"),
        form.get("sc_phone"),
    );
    let now = state.clock.now();
    let result =
        administration::create_service_center(&state.db, ctx.caller(), fields, now).await?;
    kind.finish(&state, &ctx, form, errors, Some(result)).await
}

/// A user line with German labels.
struct UserRow {
    user: UserListing,
    role_label: &'static str,
    locked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    notice: String,
    /// With a directory configured: when the sync last ran, and its report.
    directory_sync: Option<String>,
}

async fn user_list(State(state): State<AppState>, ctx: Ctx) -> Result<UsersPage, AppError> {
    users_page(&state, &ctx, String::new()).await
}

async fn users_page(state: &AppState, ctx: &Ctx, notice: String) -> Result<UsersPage, AppError> {
    let now = state.clock.now();
    let users = administration::users(&state.db)
        .await?
        .into_iter()
        .map(|u| UserRow {
            role_label: Role::parse(&u.role).map_or("unbekannt", Role::label),
            locked: u.locked_until.is_some_and(|t| t > now),
            user: u,
        })
        .collect();
    let directory_sync = match &state.config.sign_on {
        None => None,
        Some(_) => Some(
            match administration::last_directory_sync(&state.db).await? {
                (Some(at), report) => format!(
                    "Letzter Abgleich mit dem Verzeichnis: {}. {report}",
                    outreach_core::date::format_de_datetime(at)
                ),
                (None, _) => {
                    "Der Abgleich mit dem Verzeichnis ist noch nicht gelaufen.".to_string()
                }
            },
        ),
    };
    Ok(UsersPage {
        layout: Layout::new(&ctx.user, "Benutzer", "/admin/benutzer"),
        users,
        notice,
        directory_sync,
    })
}

/// An option of the organisation select.
struct OrgOption {
    value: String,
    label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_new.html")]
struct NewUserPage {
    layout: Layout,
    errors: Errors,
    form: FormData,
    roles: Vec<(&'static str, &'static str)>,
    job_centers: Vec<OrgOption>,
    service_centers: Vec<OrgOption>,
}

async fn new_user_form(
    state: &AppState,
    ctx: &Ctx,
    form: FormData,
    errors: Errors,
) -> Result<NewUserPage, AppError> {
    let (job_centers, service_centers) = administration::organisations(&state.db).await?;
    let job_centers = job_centers
        .into_iter()
        .map(|j| OrgOption {
            value: format!("jc:{}", j.id),
            label: j.name,
        })
        .collect();
    let service_centers = service_centers
        .into_iter()
        .map(|s| OrgOption {
            value: format!("sc:{}", s.id),
            label: s.name,
        })
        .collect();
    Ok(NewUserPage {
        layout: Layout::new(&ctx.user, "Benutzer anlegen", "/admin/benutzer"),
        errors,
        form,
        roles: Role::ALL.iter().map(|r| (r.code(), r.label())).collect(),
        job_centers,
        service_centers,
    })
}

async fn new_user_page(State(state): State<AppState>, ctx: Ctx) -> Result<NewUserPage, AppError> {
    new_user_form(&state, &ctx, FormData::default(), Errors::default()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/password_shown.html")]
struct PasswordShownPage {
    layout: Layout,
    username: String,
    password: String,
    created: bool,
}

fn parse_home(value: &str) -> Option<Home> {
    match value.split_once(':') {
        Some(("jc", id)) => id.parse().ok().map(Home::JobCenter),
        Some(("sc", id)) => id.parse().ok().map(Home::ServiceCenter),
        None if value == "global" => Some(Home::Global),
        _ => None,
    }
}

async fn create_user(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let username = Username::parse(form.get("username"));
    if let Err(e) = &username {
        errors.add("username", "Benutzername", e);
    }
    if form.get("display_name").is_empty() {
        errors.add(
            "display_name",
            "Name",
            "Bitte geben Sie den Namen der Person an.",
        );
    }
    let role = Role::parse(form.get("role"));
    let home = parse_home(form.get("organisation"));
    match role {
        None => errors.add("role", "Rolle", "Bitte wählen Sie eine Rolle aus."),
        Some(role) => match home {
            Some(home) if home.fits(role) => {}
            _ => errors.add(
                "organisation",
                "Organisation",
                match role {
                    Role::Agent | Role::Supervisor => "Diese Rolle gehört zu einem Service-Center.",
                    Role::CaseManager | Role::JobcenterAdmin => {
                        "Diese Rolle gehört zu einem Jobcenter."
                    }
                    Role::Dpo => "Diese Rolle gehört zu einem Jobcenter oder ist bundesweit.",
                    Role::Admin => {
                        "Die Systemadministration gehört zu keiner Organisation (bundesweit)."
                    }
                },
            ),
        },
    }
    let pap_code = form.get("pap_code").to_uppercase();
    if role == Some(Role::CaseManager) && pap_code.is_empty() {
        errors.add("pap_code", "pAp-Kennung", "Für pAp / Fallmanager/innen ist die pAp-Kennung anzugeben; über sie werden ihre Kundinnen und Kunden zugeordnet.");
    }
    let (Ok(username), Some(role), Some(home), true) = (username, role, home, errors.is_empty())
    else {
        let page = new_user_form(&state, &ctx, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let generated = password::generate();
    let hash = password::hash(generated.clone()).await?;
    let now = state.clock.now();
    let new = NewUser {
        username: username.as_str().to_string(),
        display_name: form.get("display_name").to_string(),
        role,
        home,
        pap_code: (role == Role::CaseManager).then_some(pap_code),
        password_hash: hash,
    };
    let by = outreach_app::Source::User(ctx.caller());
    match administration::create_user(&state.db, by, &new, now).await? {
        Ok(_) => {}
        Err(Taken) => {
            let mut errors = Errors::default();
            errors.add(
                "username",
                "Benutzername",
                "Diesen Benutzernamen gibt es schon.",
            );
            let page = new_user_form(&state, &ctx, form, errors).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    }
    Ok(PasswordShownPage {
        layout: Layout::new(&ctx.user, "Benutzer angelegt", "/admin/benutzer"),
        username: new.username,
        password: generated,
        created: true,
    }
    .into_response())
}

async fn deactivate_user(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    set_user_active(&state, &ctx, id, false).await
}

async fn activate_user(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    set_user_active(&state, &ctx, id, true).await
}

/// Deactivates an account (ending its sessions) or activates it again.
async fn set_user_active(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    active: bool,
) -> Result<Response, AppError> {
    if id == ctx.user.actor.user_id {
        let notice = "Sie können Ihr eigenes Konto nicht deaktivieren.".to_string();
        let page = users_page(state, ctx, notice).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.clock.now();
    let target = administration::set_active(&state.db, ctx.caller(), id, active, now).await?;
    let notice = if active {
        format!("Das Konto {} ist wieder aktiv.", target.username)
    } else {
        format!(
            "Das Konto {} wurde deaktiviert und abgemeldet.",
            target.username
        )
    };
    Ok(users_page(state, ctx, notice).await?.into_response())
}

async fn reset_password(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let generated = password::generate();
    let hash = password::hash(generated.clone()).await?;
    let now = state.clock.now();
    let Ok(target) =
        administration::reset_password(&state.db, ctx.caller(), id, &hash, now).await?
    else {
        let notice = "Dieses Konto meldet sich über das Verzeichnis an; sein Passwort wird dort verwaltet, nicht hier.".to_string();
        return Ok(users_page(&state, &ctx, notice).await?.into_response());
    };
    Ok(PasswordShownPage {
        layout: Layout::new(&ctx.user, "Passwort zurückgesetzt", "/admin/benutzer"),
        username: target.username,
        password: generated,
        created: false,
    }
    .into_response())
}

/// A lost phone: the account sets its second factor up again at its next
/// sign-in.
async fn reset_second_factor(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let notice = match administration::reset_second_factor(&state.db, ctx.caller(), id, now)
        .await?
    {
        Ok(target) => format!(
            "Der zweite Faktor von {} ist zurückgesetzt; seine Sitzungen sind beendet. Bei der nächsten Anmeldung richtet das Konto ihn nach dem Passwort neu ein.",
            target.username
        ),
        Err(_) => "Dieses Konto meldet sich über das Verzeichnis an; seine Anmeldung wird dort geschützt, nicht hier.".to_string(),
    };
    Ok(users_page(&state, &ctx, notice).await?.into_response())
}
