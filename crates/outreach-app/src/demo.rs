//! The demo installation's data: a job center with 300 synthetic
//! customers, a mandate, a running campaign with letters sent and results,
//! and one user per role whose passwords are made anew at every start.

use crate::{COMMAND_LINE, Error, Result};
use jiff::ToSpan;
use outreach_core::access::{Home, Role};
use outreach_core::audit::AuditAction;
use outreach_core::customer::FieldGroup;
use outreach_core::customer::{CustomerNumber, Record, Status};
use outreach_core::date::berlin_date;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::customer;
use outreach_store::org::{self, NewJobCenter};
use outreach_store::{Db, mandate, user};

const JOB_CENTER: &str = "oberhausen";
const CUSTOMERS: usize = 300;

/// The demo users: login, display name, role, organisation code, pAp-Kennung.
/// Every pAp-Kennung a demo customer carries is one of these logins'.
const USERS: [(&str, &str, Role, &str, Option<&str>); 8] = [
    (
        "agent.hamburg",
        "Jonas Petersen",
        Role::Agent,
        "sc-hamburg",
        None,
    ),
    (
        "teamleitung.hamburg",
        "Birte Hansen",
        Role::Supervisor,
        "sc-hamburg",
        None,
    ),
    (
        "pap.oberhausen",
        "Sabine Krüger",
        Role::CaseManager,
        JOB_CENTER,
        Some("PAP001"),
    ),
    (
        "pap2.oberhausen",
        "Murat Aydın",
        Role::CaseManager,
        JOB_CENTER,
        Some("PAP002"),
    ),
    (
        "pap3.oberhausen",
        "Julia Wagner",
        Role::CaseManager,
        JOB_CENTER,
        Some("PAP003"),
    ),
    (
        "admin.oberhausen",
        "Thomas Becker",
        Role::JobcenterAdmin,
        JOB_CENTER,
        None,
    ),
    (
        "datenschutz.oberhausen",
        "Dr. Petra Schulz",
        Role::Dpo,
        JOB_CENTER,
        None,
    ),
    ("sysadmin", "Kai Neumann", Role::Admin, "", None),
];

/// The demo's sign-ins: login, role, password (shown once).
pub struct Prepared {
    /// Whether the data was seeded now (else the file had it).
    pub fresh: bool,
    pub logins: Vec<(String, String, String)>,
}

/// Seeds the demo data into a database that lacks it and gives every demo
/// user a new password (audited).
pub async fn prepare(db: &Db, now: i64) -> Result<Prepared> {
    let mut tx = db.begin().await?;
    let fresh = org::job_center_by_code(&mut tx, JOB_CENTER)
        .await?
        .is_none();
    if fresh {
        seed(&mut tx, now).await?;
    }
    let logins = set_passwords(&mut tx, now).await?;
    tx.commit().await?;
    Ok(Prepared { fresh, logins })
}

async fn set_passwords(
    tx: &mut outreach_store::Tx,
    now: i64,
) -> Result<Vec<(String, String, String)>> {
    let mut logins = Vec::new();
    for (username, _, role, _, _) in USERS {
        let Some(u) = user::by_username(tx, username).await? else {
            continue;
        };
        let password = crate::password::generate();
        let hash = crate::password::hash(password.clone())
            .await
            .map_err(|e| Error::Internal(format!("{e}")))?;
        user::set_password(tx, u.id, &hash, now).await?;
        user::set_active(tx, u.id, true).await?;
        let event = AuditEvent::anonymous(COMMAND_LINE, AuditAction::PasswordReset, COMMAND_LINE)
            .record("user", u.id)
            .purpose("Demo-Start")
            .job_center(u.job_center_id);
        audit::append(tx, &event, now).await?;
        logins.push((username.to_string(), role.label().to_string(), password));
    }
    Ok(logins)
}

async fn seed(tx: &mut outreach_store::Tx, now: i64) -> Result<()> {
    let jc = org::create_job_center(
        tx,
        &NewJobCenter {
            code: JOB_CENTER.into(),
            name: "Jobcenter Oberhausen".into(),
            street: "Marktstraße 165".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
            phone: "0208 8505-0".into(),
            email: "jobcenter-oberhausen@example.org".into(),
            state_code: "NW".into(),
            dpo_contact: "Datenschutzbeauftragte des Jobcenters Oberhausen, Marktstraße 165, 46045 Oberhausen".into(),
            supervisory_authority: "Die Bundesbeauftragte für den Datenschutz und die Informationsfreiheit, Graurheindorfer Str. 153, 53117 Bonn".into(),
        },
        now,
    )
    .await?;
    let mut service_centers = Vec::new();
    for (code, name, city, phone) in [
        (
            "sc-hamburg",
            "Service-Center Kundenbetreuung SGB II Hamburg",
            "Hamburg",
            "040 2485-0",
        ),
        (
            "sc-offenburg",
            "Service-Center Kundenbetreuung SGB II Offenburg",
            "Offenburg",
            "0781 9393-0",
        ),
        (
            "sc-goeppingen",
            "Service-Center Kundenbetreuung SGB II Göppingen",
            "Göppingen",
            "07161 9770-0",
        ),
    ] {
        service_centers.push((
            code,
            org::create_service_center(tx, code, name, city, phone, now).await?,
        ));
    }
    let org_id = |code: &str| -> Home {
        if code.is_empty() {
            Home::Global
        } else if code == JOB_CENTER {
            Home::JobCenter(jc)
        } else {
            service_centers
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(Home::Global, |(_, id)| Home::ServiceCenter(*id))
        }
    };
    let (mut admin_id, mut agent_id) = (0, 0);
    for (username, name, role, org_code, pap) in USERS {
        let id = user::create(
            tx,
            &user::NewUser {
                username: username.into(),
                display_name: name.into(),
                role,
                home: org_id(org_code),
                pap_code: pap.map(str::to_string),
                // Replaced before the demo starts; no usable password is ever stored here.
                password_hash: "!".into(),
            },
            now,
        )
        .await?;
        match role {
            Role::JobcenterAdmin => admin_id = id,
            Role::Agent => agent_id = id,
            _ => {}
        }
        let event = AuditEvent::anonymous(COMMAND_LINE, AuditAction::UserCreate, COMMAND_LINE)
            .record("user", id)
            .fields(&format!("Rolle {}", role.code()));
        audit::append(tx, &event, now).await?;
    }
    let today = berlin_date(now);
    let start = today.checked_sub(30.days()).map_err(date_error)?;
    let end = today.checked_add(150.days()).map_err(date_error)?;
    let hamburg = service_centers[0].1;
    let m = mandate::create(
        tx,
        jc,
        &NewMandate {
            service_center_id: hamburg,
            title: "Telefonische Aktualisierung der Bewerberdaten 2026/27".into(),
            allowed_fields: FieldGroup::default_for_mandate(),
            period_start: start,
            period_end: end,
            deletion_deadline: outreach_core::mandate::default_deletion_deadline(end),
            authority_notified_on: Some(start.checked_sub(14.days()).map_err(date_error)?),
            window: outreach_core::calls::CallingWindow::default(),
        },
        admin_id,
        now,
    )
    .await?;
    mandate::set_state(
        tx,
        outreach_store::RecordScope::Operator,
        m,
        MandateState::Draft,
        MandateState::Active,
    )
    .await?;
    for i in 0..CUSTOMERS {
        customer::insert(tx, jc, &synthetic_customer(i), now).await?;
    }
    // A running campaign whose advance letters went out ten days ago, so
    // that the Hamburg agents have cases to call (in the calling window).
    let guide = outreach_store::guide::builtin(tx).await?;
    let settings = outreach_core::campaign::CampaignSettings {
        name: "Aktualisierung Winter (Demo)".into(),
        selection: outreach_core::campaign::Selection::default(),
        guide_ref: guide.as_ref().map(|g| g.label()).unwrap_or_default(),
        guide_id: guide.map(|g| g.id),
        window: outreach_core::calls::CallingWindow::default(),
        attempts_per_day: 1,
        attempts_total: 6,
        lead_days: 7,
        period_start: today,
        period_end: today.checked_add(60.days()).map_err(date_error)?,
    };
    let campaign_id = outreach_store::campaign::create(tx, jc, m, &settings, admin_id, now).await?;
    let sent_on = today.checked_sub(10.days()).map_err(date_error)?;
    if let Some(c) =
        outreach_store::campaign::by_id(tx, outreach_store::RecordScope::Operator, campaign_id)
            .await?
    {
        outreach_store::campaign::activate(tx, &c, today, now).await?;
        if let Some((batch, _)) = crate::letters::create_advance_batch(
            tx,
            outreach_store::RecordScope::Operator,
            campaign_id,
            sent_on,
            Some(admin_id),
            now,
        )
        .await?
        {
            outreach_store::letters::mark_sent(
                tx,
                outreach_store::RecordScope::Operator,
                batch,
                sent_on,
                Some(admin_id),
            )
            .await?;
        }
        // A few calls already made, so that pap.oberhausen's inbox and the
        // reports have something to show.
        outreach_store::testing::demo_results(tx, campaign_id, agent_id, "PAP001", now).await?;
    }
    Ok(())
}

/// The demo case managers' pAp-Kennungen, in the order of [`USERS`].
const PAP_CODES: [&str; 3] = {
    let mut codes = [""; 3];
    let (mut i, mut n) = (0, 0);
    while i < USERS.len() {
        if let Some(code) = USERS[i].4 {
            codes[n] = code;
            n += 1;
        }
        i += 1;
    }
    codes
};

/// A made-up customer; deterministic, so every demo looks alike.
fn synthetic_customer(i: usize) -> Record {
    const FIRST: [&str; 16] = [
        "Anna",
        "Mehmet",
        "Marie-Luise",
        "Jürgen",
        "Sofia",
        "Lukas",
        "Ayşe",
        "Peter",
        "Olga",
        "Thomas",
        "Fatma",
        "Jan",
        "Katarzyna",
        "Dirk",
        "Leonie",
        "Hans-Jörg",
    ];
    const LAST: [&str; 16] = [
        "Müller", "Schmidt", "Köhler", "Yılmaz", "Hoffmann", "Weiß", "Nowak", "Becker", "Schäfer",
        "Öztürk", "Wagner", "Groß", "Kowalski", "Meyer", "Fuchs", "Brandt",
    ];
    const STREETS: [&str; 8] = [
        "Königstraße",
        "Mülheimer Straße",
        "Essener Straße",
        "Schulstraße",
        "Marktstraße",
        "Elsässer Straße",
        "Bahnhofstraße",
        "Lothringer Straße",
    ];
    const JOBS: [&str; 8] = [
        "Lagerlogistik",
        "Altenpflegehelfer/in",
        "Bürokaufmann/-frau",
        "Reinigungskraft",
        "Berufskraftfahrer/in",
        "Verkäufer/in",
        "Koch/Köchin",
        "Elektroniker/in",
    ];
    // A small linear congruential generator is enough for made-up data.
    let mut x = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((x >> 33) % n) as usize
    };
    let year = 1960 + next(46);
    let month = 1 + next(12);
    let day = 1 + next(28);
    let status = [
        Status::Unemployed,
        Status::Unemployed,
        Status::Unemployed,
        Status::JobSeeking,
    ][next(4)];
    // Day 1–28 of a month 1–12: always a date.
    let day_of = |year: usize, month: usize, day: usize| {
        jiff::civil::date(year as i16, month as i8, day as i8)
    };
    Record {
        customer_number: CustomerNumber::from_stored(format!("420E{:06}", i + 1)),
        bg_number: Some(format!("42001BG{:07}", 1_000_000 + next(8_999_999))),
        salutation: Some(["Frau", "Herr", "Divers"][next(3)].into()),
        first_name: Some(FIRST[next(16)].into()),
        last_name: LAST[next(16)].into(),
        birth_date: day_of(year, month, day),
        street: Some(STREETS[next(8)].into()),
        house_number: Some((1 + next(180)).to_string()),
        postcode: Some(["46045", "46047", "46049", "46117", "46119", "46145"][next(6)].into()),
        city: Some("Oberhausen".into()),
        phone: Some(format!("+49208{:07}", 1_000_000 + next(8_999_999))),
        mobile: (next(2) == 0).then(|| format!("+49170{:07}", 1_000_000 + next(8_999_999))),
        email: None,
        status,
        unemployed_since: Some(day_of(2019 + next(7), 1 + next(12), 1)),
        target_occupation: Some(JOBS[next(8)].into()),
        pap_code: Some(PAP_CODES[next(10) % PAP_CODES.len()].into()),
        last_contact: Some(day_of(2026, 1 + next(10), 1 + next(28))),
        state_code: Some("NW".into()),
    }
}

fn date_error(e: jiff::Error) -> Error {
    Error::Internal(format!("demo date: {e}"))
}
