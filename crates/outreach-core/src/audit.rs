//! The audit log's vocabulary and its hash chain. Each event carries the hash of
//! the one before, so an edited, inserted or deleted row breaks the chain at the
//! first event after it.

use sha2::{Digest, Sha256};

/// The hash the first event links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. The code is stored; the label is shown to the DPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    LoginSuccess,
    LoginFailure,
    Logout,
    PasswordChange,
    PasswordReset,
    UserCreate,
    UserDeactivate,
    UserActivate,
    OrganisationCreate,
    MandateCreate,
    MandateStateChange,
    /// Per-agent figures switched on or off for a mandate.
    MandateAgentFigures,
    CustomerList,
    CustomerRead,
    CustomerWrite,
    CustomerImport,
    CustomerExport,
    AuditRead,
    CampaignCreate,
    CampaignEdit,
    CampaignStateChange,
    LetterBatchCreate,
    LetterPrint,
    LetterBatchSent,
    ObjectionRecord,
    GuideCreate,
    CaseLease,
    CallAttempt,
    CallResult,
    LeaseRelease,
    ResultList,
    ResultRead,
    ResultAcknowledge,
    ResultDispute,
    ResultReassign,
    ResultExport,
    InvitationCreate,
    ApiTokenChange,
    Backup,
    Restore,
    Purge,
    AccessRequest,
    CustomerRestrict,
    CustomerDispute,
    ProcessingRecord,
    AuditExport,
    AuditVerify,
    RetentionChange,
    UserChange,
    DirectorySync,
    SecondFactorEnrol,
    SecondFactorReset,
}

impl AuditAction {
    pub const ALL: [AuditAction; 52] = [
        AuditAction::LoginSuccess,
        AuditAction::LoginFailure,
        AuditAction::Logout,
        AuditAction::PasswordChange,
        AuditAction::PasswordReset,
        AuditAction::UserCreate,
        AuditAction::UserDeactivate,
        AuditAction::UserActivate,
        AuditAction::OrganisationCreate,
        AuditAction::MandateCreate,
        AuditAction::MandateStateChange,
        AuditAction::MandateAgentFigures,
        AuditAction::CustomerList,
        AuditAction::CustomerRead,
        AuditAction::CustomerWrite,
        AuditAction::CustomerImport,
        AuditAction::CustomerExport,
        AuditAction::AuditRead,
        AuditAction::CampaignCreate,
        AuditAction::CampaignEdit,
        AuditAction::CampaignStateChange,
        AuditAction::LetterBatchCreate,
        AuditAction::LetterPrint,
        AuditAction::LetterBatchSent,
        AuditAction::ObjectionRecord,
        AuditAction::GuideCreate,
        AuditAction::CaseLease,
        AuditAction::CallAttempt,
        AuditAction::CallResult,
        AuditAction::LeaseRelease,
        AuditAction::ResultList,
        AuditAction::ResultRead,
        AuditAction::ResultAcknowledge,
        AuditAction::ResultDispute,
        AuditAction::ResultReassign,
        AuditAction::ResultExport,
        AuditAction::InvitationCreate,
        AuditAction::ApiTokenChange,
        AuditAction::Backup,
        AuditAction::Restore,
        AuditAction::Purge,
        AuditAction::AccessRequest,
        AuditAction::CustomerRestrict,
        AuditAction::CustomerDispute,
        AuditAction::ProcessingRecord,
        AuditAction::AuditExport,
        AuditAction::AuditVerify,
        AuditAction::RetentionChange,
        AuditAction::UserChange,
        AuditAction::DirectorySync,
        AuditAction::SecondFactorEnrol,
        AuditAction::SecondFactorReset,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuditAction::LoginSuccess => "login_success",
            AuditAction::LoginFailure => "login_failure",
            AuditAction::Logout => "logout",
            AuditAction::PasswordChange => "password_change",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::UserCreate => "user_create",
            AuditAction::UserDeactivate => "user_deactivate",
            AuditAction::UserActivate => "user_activate",
            AuditAction::OrganisationCreate => "organisation_create",
            AuditAction::MandateCreate => "mandate_create",
            AuditAction::MandateStateChange => "mandate_state_change",
            AuditAction::MandateAgentFigures => "mandate_agent_figures",
            AuditAction::CustomerList => "customer_list",
            AuditAction::CustomerRead => "customer_read",
            AuditAction::CustomerWrite => "customer_write",
            AuditAction::CustomerImport => "customer_import",
            AuditAction::CustomerExport => "customer_export",
            AuditAction::AuditRead => "audit_read",
            AuditAction::CampaignCreate => "campaign_create",
            AuditAction::CampaignEdit => "campaign_edit",
            AuditAction::CampaignStateChange => "campaign_state_change",
            AuditAction::LetterBatchCreate => "letter_batch_create",
            AuditAction::LetterPrint => "letter_print",
            AuditAction::LetterBatchSent => "letter_batch_sent",
            AuditAction::ObjectionRecord => "objection_record",
            AuditAction::GuideCreate => "guide_create",
            AuditAction::CaseLease => "case_lease",
            AuditAction::CallAttempt => "call_attempt",
            AuditAction::CallResult => "call_result",
            AuditAction::LeaseRelease => "lease_release",
            AuditAction::ResultList => "result_list",
            AuditAction::ResultRead => "result_read",
            AuditAction::ResultAcknowledge => "result_acknowledge",
            AuditAction::ResultDispute => "result_dispute",
            AuditAction::ResultReassign => "result_reassign",
            AuditAction::ResultExport => "result_export",
            AuditAction::InvitationCreate => "invitation_create",
            AuditAction::ApiTokenChange => "api_token_change",
            AuditAction::Backup => "backup",
            AuditAction::Restore => "restore",
            AuditAction::Purge => "purge",
            AuditAction::AccessRequest => "access_request",
            AuditAction::CustomerRestrict => "customer_restrict",
            AuditAction::CustomerDispute => "customer_dispute",
            AuditAction::ProcessingRecord => "processing_record",
            AuditAction::AuditExport => "audit_export",
            AuditAction::AuditVerify => "audit_verify",
            AuditAction::RetentionChange => "retention_change",
            AuditAction::UserChange => "user_change",
            AuditAction::DirectorySync => "directory_sync",
            AuditAction::SecondFactorEnrol => "second_factor_enrol",
            AuditAction::SecondFactorReset => "second_factor_reset",
        }
    }

    pub fn parse(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditAction::LoginSuccess => "Anmeldung erfolgreich",
            AuditAction::LoginFailure => "Anmeldung fehlgeschlagen",
            AuditAction::Logout => "Abmeldung",
            AuditAction::PasswordChange => "Passwort geändert",
            AuditAction::PasswordReset => "Passwort zurückgesetzt",
            AuditAction::UserCreate => "Benutzer angelegt",
            AuditAction::UserDeactivate => "Benutzer deaktiviert",
            AuditAction::UserActivate => "Benutzer wieder aktiviert",
            AuditAction::OrganisationCreate => "Organisation angelegt",
            AuditAction::MandateCreate => "Auftrag angelegt",
            AuditAction::MandateStateChange => "Auftragsstatus geändert",
            AuditAction::MandateAgentFigures => "Zahlen je Mitarbeiter/in ein- oder ausgeschaltet",
            AuditAction::CustomerList => "Kundenliste gelesen",
            AuditAction::CustomerRead => "Kundendaten gelesen",
            AuditAction::CustomerWrite => "Kundendaten geändert",
            AuditAction::CustomerImport => "Kundendaten importiert",
            AuditAction::CustomerExport => "Kundendaten exportiert",
            AuditAction::AuditRead => "Protokoll gelesen",
            AuditAction::CampaignCreate => "Aktion angelegt",
            AuditAction::CampaignEdit => "Aktionsentwurf geändert",
            AuditAction::CampaignStateChange => "Aktionsstatus geändert",
            AuditAction::LetterBatchCreate => "Briefstapel erstellt",
            AuditAction::LetterPrint => "Briefe gedruckt (PDF erzeugt)",
            AuditAction::LetterBatchSent => "Briefstapel als versandt markiert",
            AuditAction::ObjectionRecord => "Widerspruch erfasst",
            AuditAction::GuideCreate => "Leitfaden-Version gespeichert",
            AuditAction::CaseLease => "Fall zugeteilt (Anzeige für den Anruf)",
            AuditAction::CallAttempt => "Anrufversuch gestartet",
            AuditAction::CallResult => "Ergebnis eines Anrufversuchs erfasst",
            AuditAction::LeaseRelease => "Zuteilung durch die Teamleitung aufgehoben",
            AuditAction::ResultList => "Ergebnisliste gelesen",
            AuditAction::ResultRead => "Gesprächsergebnis gelesen",
            AuditAction::ResultAcknowledge => "Ergebnis zur Kenntnis genommen",
            AuditAction::ResultDispute => "Wert als bestritten markiert",
            AuditAction::ResultReassign => "Ergebnis anderem pAp zugewiesen",
            AuditAction::ResultExport => "Ergebnisse exportiert (übergeben)",
            AuditAction::InvitationCreate => "Einladung erstellt",
            AuditAction::ApiTokenChange => "API-Zugangstoken geändert",
            AuditAction::Backup => "Datenbank gesichert",
            AuditAction::Restore => "Datenbank wiederhergestellt",
            AuditAction::Purge => "Daten nach Frist gelöscht",
            AuditAction::AccessRequest => "Auskunft nach Art. 15 DSGVO erteilt",
            AuditAction::CustomerRestrict => "Verarbeitung eingeschränkt oder freigegeben",
            AuditAction::CustomerDispute => "Kundenwert als bestritten markiert",
            AuditAction::ProcessingRecord => "Verzeichnis der Verarbeitungstätigkeiten erstellt",
            AuditAction::AuditExport => "Protokoll exportiert",
            AuditAction::AuditVerify => "Protokollkette geprüft",
            AuditAction::RetentionChange => "Aufbewahrungsfrist geändert",
            AuditAction::UserChange => "Rolle oder Organisation aus dem Verzeichnis übernommen",
            AuditAction::DirectorySync => "Abgleich mit dem Verzeichnis",
            AuditAction::SecondFactorEnrol => "Zweiter Faktor eingerichtet",
            AuditAction::SecondFactorReset => "Zweiter Faktor zurückgesetzt",
        }
    }
}

/// The German name of the kind of record an event concerns.
pub fn record_type_label(code: &str) -> &str {
    match code {
        "user" => "Benutzer",
        "customer" => "Kunde",
        "customer_list" => "Kundenliste",
        "mandate" => "Auftrag",
        "guide" => "Gesprächsleitfaden",
        "job_center" => "Jobcenter",
        "service_center" => "Service-Center",
        "audit_log" => "Protokoll",
        "import" => "Import",
        "export" => "Export",
        "campaign" => "Aktion",
        "letter_batch" => "Briefstapel",
        "case" => "Fall",
        "database" => "Datenbank",
        "processing_record" => "Verarbeitungsverzeichnis",
        other => other,
    }
}

/// One audit event as it is hashed. `at` is UTC unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub fields: String,
    pub purpose: String,
    pub client: String,
    pub job_center_id: Option<i64>,
    pub service_center_id: Option<i64>,
    pub prev_hash: String,
}

/// The hash of an event: SHA-256 over every field, each length-prefixed so
/// that no two different events serialise alike.
pub fn event_hash(record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    let opt = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let parts: [String; 14] = [
        record.seq.to_string(),
        record.at.to_string(),
        opt(record.user_id),
        record.username.clone(),
        record.role.clone(),
        record.action.clone(),
        record.record_type.clone(),
        record.record_id.clone(),
        record.fields.clone(),
        record.purpose.clone(),
        record.client.clone(),
        opt(record.job_center_id),
        opt(record.service_center_id),
        record.prev_hash.clone(),
    ];
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence number of the first event that doesn't verify.
    pub seq: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// The event's stored hash doesn't match its content.
    ContentChanged,
    /// The event doesn't link to the hash of the event before it.
    LinkBroken,
    /// A sequence number is missing.
    Gap,
}

impl BreakReason {
    pub fn label(self) -> &'static str {
        match self {
            BreakReason::ContentChanged => "Inhalt wurde verändert",
            BreakReason::LinkBroken => "Verkettung zum vorigen Ereignis unterbrochen",
            BreakReason::Gap => "Ereignis fehlt (Lücke in der Nummerierung)",
        }
    }
}

/// Verifies events in sequence order, each given with its stored hash.
/// `start` is the hash and sequence number before the first event (the
/// genesis, or the last event removed by retention).
pub struct ChainVerifier {
    prev_hash: String,
    prev_seq: Option<i64>,
    pub checked: u64,
}

impl ChainVerifier {
    pub fn new(prev_hash: &str, prev_seq: Option<i64>) -> ChainVerifier {
        ChainVerifier {
            prev_hash: prev_hash.to_string(),
            prev_seq,
            checked: 0,
        }
    }

    pub fn check(&mut self, record: &AuditRecord, stored_hash: &str) -> Result<(), ChainBreak> {
        let fail = |reason| ChainBreak {
            seq: record.seq,
            reason,
        };
        if let Some(prev) = self.prev_seq
            && record.seq != prev + 1
        {
            return Err(fail(BreakReason::Gap));
        }
        if record.prev_hash != self.prev_hash {
            return Err(fail(BreakReason::LinkBroken));
        }
        if event_hash(record) != stored_hash {
            return Err(fail(BreakReason::ContentChanged));
        }
        self.prev_hash = stored_hash.to_string();
        self.prev_seq = Some(record.seq);
        self.checked += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditRecord, String)> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let record = AuditRecord {
                    seq,
                    at: 1000 + seq,
                    username: format!("user{seq}"),
                    action: "login_success".into(),
                    prev_hash: prev.clone(),
                    ..AuditRecord::default()
                };
                let hash = event_hash(&record);
                prev = hash.clone();
                (record, hash)
            })
            .collect()
    }

    fn verify(events: &[(AuditRecord, String)]) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::new(GENESIS_HASH, None);
        for (r, h) in events {
            v.check(r, h)?;
        }
        Ok(v.checked)
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn edited_event_is_named() {
        let mut events = chain(5);
        events[2].0.username = "mallory".into();
        assert_eq!(
            verify(&events),
            Err(ChainBreak {
                seq: 3,
                reason: BreakReason::ContentChanged
            })
        );
    }

    #[test]
    fn deleted_event_is_found() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).map_err(|b| b.seq), Err(3));
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].0.username = "mallory".into();
        events[2].1 = event_hash(&events[2].0);
        assert_eq!(
            verify(&events),
            Err(ChainBreak {
                seq: 4,
                reason: BreakReason::LinkBroken
            })
        );
    }

    #[test]
    fn field_boundaries_matter() {
        let a = AuditRecord {
            username: "ab".into(),
            role: "c".into(),
            ..AuditRecord::default()
        };
        let b = AuditRecord {
            username: "a".into(),
            role: "bc".into(),
            ..AuditRecord::default()
        };
        assert_ne!(event_hash(&a), event_hash(&b));
    }
}
