//! Roles, the organisation a user belongs to, and the one authorisation decision
//! (`can`). The store turns [`CustomerScope`] into SQL, so a query for customer
//! data can't return rows outside the actor's scope.

use serde::Serialize;

/// A user's role (the table "Who uses it" in DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Role {
    /// Mitarbeiter/in Service-Center
    Agent,
    /// Teamleitung
    Supervisor,
    /// pAp / Fallmanager/in
    CaseManager,
    /// Jobcenter-Administration
    JobcenterAdmin,
    /// Datenschutzbeauftragte/r
    Dpo,
    /// Systemadministration
    Admin,
}

/// Which kind of organisation a role belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    JobCenter,
    ServiceCenter,
    /// Either a job center or none (global), as for the data protection officer.
    JobCenterOrGlobal,
    Global,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Agent,
        Role::Supervisor,
        Role::CaseManager,
        Role::JobcenterAdmin,
        Role::Dpo,
        Role::Admin,
    ];

    /// The code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::CaseManager => "case_manager",
            Role::JobcenterAdmin => "jobcenter_admin",
            Role::Dpo => "dpo",
            Role::Admin => "admin",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The German label users see.
    pub fn label(self) -> &'static str {
        match self {
            Role::Agent => "Mitarbeiter/in Service-Center",
            Role::Supervisor => "Teamleitung",
            Role::CaseManager => "pAp / Fallmanager/in",
            Role::JobcenterAdmin => "Jobcenter-Administration",
            Role::Dpo => "Datenschutzbeauftragte/r",
            Role::Admin => "Systemadministration",
        }
    }

    pub fn org_kind(self) -> OrgKind {
        match self {
            Role::Agent | Role::Supervisor => OrgKind::ServiceCenter,
            Role::CaseManager | Role::JobcenterAdmin => OrgKind::JobCenter,
            Role::Dpo => OrgKind::JobCenterOrGlobal,
            Role::Admin => OrgKind::Global,
        }
    }
}

/// The organisation a user belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    JobCenter(i64),
    ServiceCenter(i64),
    Global,
}

impl Home {
    /// Whether `role` may belong to this kind of organisation.
    pub fn fits(self, role: Role) -> bool {
        matches!(
            (role.org_kind(), self),
            (OrgKind::JobCenter, Home::JobCenter(_))
                | (OrgKind::ServiceCenter, Home::ServiceCenter(_))
                | (
                    OrgKind::JobCenterOrGlobal,
                    Home::JobCenter(_) | Home::Global
                )
                | (OrgKind::Global, Home::Global)
        )
    }

    pub fn job_center(self) -> Option<i64> {
        match self {
            Home::JobCenter(id) => Some(id),
            _ => None,
        }
    }

    pub fn service_center(self) -> Option<i64> {
        match self {
            Home::ServiceCenter(id) => Some(id),
            _ => None,
        }
    }
}

/// Who acts: the logged-in user as far as authorisation is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub home: Home,
    /// The pAp-Kennung of a case manager: their customers carry it.
    pub pap_code: Option<String>,
}

/// What an actor wants to do. Routes name one of these; targets owned by an
/// organisation are checked with [`can_on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Any logged-in user: start page, own password, own session.
    UseAccount,
    /// Create job centers and service centers.
    ManageOrganisations,
    /// Create, deactivate users and reset passwords.
    ManageUsers,
    /// Read mandates (job center admin: own job center; supervisor: own service center).
    ViewMandates,
    /// Create mandates and change their state.
    ManageMandates,
    /// Read customer master data in the actor's [`CustomerScope`].
    ViewCustomers,
    /// Import the job center's customer export.
    ImportCustomers,
    /// Read the audit log.
    ViewAuditLog,
    /// Create and run campaigns, produce and dispatch their letters, record
    /// objections (the job center's own campaigns).
    ManageCampaigns,
    /// Take cases from the call queue and call them (agents of a service center).
    CallCases,
    /// See the service center's queues and release stuck leases (supervisors).
    SuperviseCalls,
    /// Read final cases and their results in the actor's [`CustomerScope`],
    /// acknowledge them, mark disputed values (case managers, the job
    /// center's administration).
    ViewResults,
    /// Reassign results to another pAp and export them to the job center's
    /// system (the job center's administration).
    ManageResults,
    /// Campaign reports: aggregates only (the job center's administration
    /// for its campaigns, supervisors for their service center's).
    ViewReports,
    /// Create and revoke the job center's API tokens (its administration).
    ManageApiTokens,
    /// Answer a person's access request (Art. 15 GDPR): everything stored
    /// about them (the DPO: of their job center, or of every one).
    AnswerAccessRequests,
    /// Restrict processing of a customer and mark their values as disputed
    /// (the DPO and the job center's administration).
    RestrictProcessing,
    /// Read the record of processing activities (Art. 30 GDPR).
    ViewProcessingRecord,
    /// Set how long the job center keeps results after handover (its DPO).
    ManageRetention,
}

/// The one authorisation decision for an action that needs no particular target.
pub fn can(actor: &Actor, action: Action) -> bool {
    use Role::*;
    match action {
        Action::UseAccount => true,
        Action::ManageOrganisations | Action::ManageUsers => actor.role == Admin,
        Action::ViewMandates => matches!(actor.role, JobcenterAdmin | Supervisor),
        Action::ManageMandates | Action::ImportCustomers | Action::ManageCampaigns => {
            actor.role == JobcenterAdmin
        }
        Action::ViewCustomers => customer_scope(actor).is_some(),
        Action::ViewAuditLog => actor.role == Dpo,
        Action::CallCases => actor.role == Agent && actor.home.service_center().is_some(),
        Action::SuperviseCalls => actor.role == Supervisor && actor.home.service_center().is_some(),
        Action::ViewResults => customer_scope(actor).is_some(),
        Action::ViewReports => match actor.role {
            JobcenterAdmin => actor.home.job_center().is_some(),
            Supervisor => actor.home.service_center().is_some(),
            _ => false,
        },
        Action::ManageResults | Action::ManageApiTokens => {
            actor.role == JobcenterAdmin && actor.home.job_center().is_some()
        }
        Action::AnswerAccessRequests => actor.role == Dpo,
        Action::RestrictProcessing | Action::ViewProcessingRecord => match actor.role {
            Dpo => true,
            JobcenterAdmin => actor.home.job_center().is_some(),
            _ => false,
        },
        Action::ManageRetention => actor.role == Dpo && actor.home.job_center().is_some(),
    }
}

/// Who owns a record that an action targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A record of one job center (a campaign, its cases and letters).
    JobCenter(i64),
    /// A mandate: commissioned by a job center, carried out by a service center.
    Mandate {
        job_center_id: i64,
        service_center_id: i64,
    },
}

/// The authorisation decision for an action on a record owned by an organisation.
pub fn can_on(actor: &Actor, action: Action, owner: Owner) -> bool {
    if !can(actor, action) {
        return false;
    }
    match owner {
        Owner::JobCenter(owner) => actor.home == Home::JobCenter(owner),
        Owner::Mandate {
            job_center_id,
            service_center_id,
        } => match (action, actor.home) {
            (Action::ViewMandates | Action::ManageMandates, Home::JobCenter(jc)) => {
                actor.role == Role::JobcenterAdmin && jc == job_center_id
            }
            (Action::ViewMandates, Home::ServiceCenter(sc)) => {
                actor.role == Role::Supervisor && sc == service_center_id
            }
            _ => false,
        },
    }
}

/// The customers an actor may read. Turned into SQL by the store; there is no
/// way to query customer data without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerScope {
    /// All customers of one job center (the controller's administration).
    JobCenter { job_center_id: i64 },
    /// The customers of one case manager: those carrying their pAp-Kennung.
    CaseManager {
        job_center_id: i64,
        pap_code: String,
    },
    /// The customers of every job center that has an active mandate with this
    /// service center on the given day.
    ServiceCenter { service_center_id: i64 },
}

/// The customer scope of an actor, or `None` where the role sees no customer
/// lists at all (the admin never; agents only their leased case; the DPO
/// through access requests only).
pub fn customer_scope(actor: &Actor) -> Option<CustomerScope> {
    match (actor.role, actor.home) {
        (Role::JobcenterAdmin, Home::JobCenter(job_center_id)) => {
            Some(CustomerScope::JobCenter { job_center_id })
        }
        (Role::CaseManager, Home::JobCenter(job_center_id)) => {
            actor
                .pap_code
                .clone()
                .map(|pap_code| CustomerScope::CaseManager {
                    job_center_id,
                    pap_code,
                })
        }
        _ => None,
    }
}

/// The scope for counting a service center's mandated customers (supervisors).
pub fn mandate_scope(actor: &Actor) -> Option<CustomerScope> {
    match (actor.role, actor.home) {
        (Role::Supervisor, Home::ServiceCenter(service_center_id)) => {
            Some(CustomerScope::ServiceCenter { service_center_id })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, home: Home) -> Actor {
        Actor {
            user_id: 1,
            username: "x".into(),
            role,
            home,
            pap_code: Some("PAP001".into()),
        }
    }

    #[test]
    fn admin_sees_no_customer_data() {
        let admin = actor(Role::Admin, Home::Global);
        assert!(!can(&admin, Action::ViewCustomers));
        assert_eq!(customer_scope(&admin), None);
        assert!(can(&admin, Action::ManageUsers));
    }

    #[test]
    fn roles_fit_their_organisation_kind() {
        assert!(Home::JobCenter(1).fits(Role::JobcenterAdmin));
        assert!(!Home::ServiceCenter(1).fits(Role::JobcenterAdmin));
        assert!(Home::ServiceCenter(1).fits(Role::Agent));
        assert!(!Home::Global.fits(Role::Agent));
        assert!(Home::Global.fits(Role::Dpo));
        assert!(Home::JobCenter(3).fits(Role::Dpo));
        assert!(!Home::JobCenter(3).fits(Role::Admin));
    }

    #[test]
    fn mandates_are_visible_to_own_organisations_only() {
        let owner = Owner::Mandate {
            job_center_id: 1,
            service_center_id: 7,
        };
        assert!(can_on(
            &actor(Role::JobcenterAdmin, Home::JobCenter(1)),
            Action::ManageMandates,
            owner
        ));
        assert!(!can_on(
            &actor(Role::JobcenterAdmin, Home::JobCenter(2)),
            Action::ViewMandates,
            owner
        ));
        assert!(can_on(
            &actor(Role::Supervisor, Home::ServiceCenter(7)),
            Action::ViewMandates,
            owner
        ));
        assert!(!can_on(
            &actor(Role::Supervisor, Home::ServiceCenter(7)),
            Action::ManageMandates,
            owner
        ));
        assert!(!can_on(
            &actor(Role::Agent, Home::ServiceCenter(7)),
            Action::ViewMandates,
            owner
        ));
    }

    #[test]
    fn case_manager_scope_is_their_pap_code() {
        let cm = actor(Role::CaseManager, Home::JobCenter(4));
        assert_eq!(
            customer_scope(&cm),
            Some(CustomerScope::CaseManager {
                job_center_id: 4,
                pap_code: "PAP001".into()
            })
        );
        let without_code = Actor {
            pap_code: None,
            ..cm
        };
        assert_eq!(customer_scope(&without_code), None);
    }

    #[test]
    fn role_codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.code()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
