//! Leasing the next case: one statement on PostgreSQL (`FOR UPDATE SKIP
//! LOCKED`), the writer's turn on SQLite.

use super::*;

/// PostgreSQL: the steps of [`lease_sqlite`] and the audit event in one
/// statement, through the function `queue_lease` (migration 0016); the event
/// is written as [`lease_event`] writes it.
pub(super) async fn lease_postgres(
    tx: &mut Tx,
    scope: &QueueScope,
    event: Option<&AuditEvent>,
    memory: &crate::db::QueueMemory,
) -> Result<Option<Lease>, StoreError> {
    let sweep = memory.sweep_due(scope.now);
    let join = |f: fn(&OpenCampaign) -> String| {
        scope.campaigns.iter().map(f).collect::<Vec<_>>().join(",")
    };
    // Per campaign, where the search for a fresh case starts (0: the front).
    let floors: Vec<crate::db::FreshFloor> = scope
        .campaigns
        .iter()
        .map(|c| memory.floor(c.id).unwrap_or((-1, String::new(), 0)))
        .collect();
    let floor_list = |f: fn(&crate::db::FreshFloor) -> i64| {
        floors
            .iter()
            .map(|fl| f(fl).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let floor_contacts = text_array(floors.iter().map(|(_, contact, _)| contact.as_str()));
    let template = event.map(|e| crate::audit::record_of(e, 0, String::new(), scope.now));
    let t = template.as_ref();
    let text = |f: fn(&outreach_core::audit::AuditRecord) -> &String| {
        t.map(|r| f(r).clone()).unwrap_or_default()
    };
    let [own, team, fresh, retry] = KINDS.map(LeaseKind::label);
    type Row = (i32, i64, i64, i64, Option<i64>, Option<String>);
    let row: Option<Row> = tx
        .fetch_optional(
            concat!(
                "WITH l AS MATERIALIZED (
                 SELECT kind, case_id, campaign_id, expires_at, fresh_group, fresh_contact
                 FROM queue_lease($1, $2, $3, $4, $5, $6, $19, $20, CAST($21 AS TEXT[]), $22)),
             a AS (",
                crate::audit::insert_unsealed_into!(),
                "
                   SELECT $2, $8, $9, $10, $11, 'case', CAST(l.case_id AS TEXT),
                       'Zuteilung (' || CASE l.kind WHEN 0 THEN $14 WHEN 1 THEN $15 WHEN 2 THEN $16 ELSE $17 END || ')',
                       'Aktion ' || l.campaign_id, $12, $13, $18
                   FROM l WHERE l.kind < 4 AND $7)
             SELECT kind, case_id, campaign_id, expires_at, fresh_group, fresh_contact FROM l"
            ),
            args![
                scope.agent_id,
                scope.now,
                scope.holiday_states.as_str(),
                join(|c| c.id.to_string()),
                join(|c| c.letter_cutoff.clone()),
                LEASE_SECONDS,
                t.is_some(),
                t.and_then(|r| r.user_id),
                text(|r| &r.username),
                text(|r| &r.role),
                text(|r| &r.action),
                text(|r| &r.client),
                t.and_then(|r| r.job_center_id),
                own,
                team,
                fresh,
                retry,
                t.and_then(|r| r.service_center_id),
                sweep,
                floor_list(|f| f.0),
                floor_contacts,
                floor_list(|f| f.2)
            ],
        )
        .await?;
    let Some((kind, case_id, campaign_id, expires_at, group, contact)) = row else {
        return Ok(None);
    };
    if let (Some(group), Some(contact)) = (group, contact) {
        memory.leased_fresh(campaign_id, (group, contact, case_id));
    }
    let kind = usize::try_from(kind)
        .ok()
        .and_then(|k| KINDS.get(k).copied())
        .unwrap_or(LeaseKind::Held);
    if kind != LeaseKind::Held && t.is_some() {
        tx.appended_unsealed();
    }
    Ok(Some(Lease {
        case_id,
        campaign_id,
        expires_at,
        kind,
    }))
}

/// A PostgreSQL array literal of `items` (`{"a","b"}`), each quoted.
pub(super) fn text_array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// SQLite (the single writer): the running lease if there is one, else the
/// first candidate in queue order, claimed. Whether the lease is new.
pub(super) async fn lease_sqlite(
    tx: &mut Tx,
    scope: &QueueScope,
    sweep: bool,
) -> Result<(Option<Lease>, bool), StoreError> {
    // The agent's leases: a running one is returned; expired or finished
    // ones are let go (one lease per agent) — usually there is none, and
    // then nothing is written.
    let leases: Vec<(i64, i64, i64, bool)> = tx
        .fetch_all(
            "SELECT id, campaign_id, COALESCE(lease_expires_at, 0),
                    COALESCE(lease_expires_at >= $2 AND final_disposition IS NULL, FALSE)
             FROM cases WHERE leased_to = $1",
            args![scope.agent_id, scope.now],
        )
        .await?;
    if let Some(&(case_id, campaign_id, expires_at, _)) = leases.iter().find(|l| l.3) {
        let held = Lease {
            case_id,
            campaign_id,
            expires_at,
            kind: LeaseKind::Held,
        };
        return Ok((Some(held), false));
    }
    if !leases.is_empty() {
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL WHERE leased_to = $1",
            args![scope.agent_id],
        )
        .await?;
    }
    // Expired leases of others return to the queue, and so to the indexes
    // the candidates are read from (migration 0019) — every few seconds
    // (`QueueMemory`), through the leased cases (`cases_one_lease`).
    if sweep {
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL
             WHERE leased_to IS NOT NULL AND lease_expires_at < $1",
            args![scope.now],
        )
        .await?;
    }
    // Kinds first, then campaigns in their order.
    let mut found: Option<(LeaseKind, i64, i64)> = None;
    for campaign in &scope.campaigns {
        let params = args![
            campaign.id,
            scope.now,
            scope.holiday_states.as_str(),
            campaign.letter_cutoff.as_str(),
            scope.agent_id
        ];
        let best = tx
            .fetch_optional::<(i64, i64)>(SQLITE_CANDIDATE, params)
            .await?
            .and_then(|(kind, id)| Some((*KINDS.get(usize::try_from(kind).ok()?)?, id)));
        if let Some((kind, id)) = best
            && found.is_none_or(|(earlier, _, _)| kind < earlier)
        {
            found = Some((kind, id, campaign.id));
        }
    }
    let Some((kind, case_id, campaign_id)) = found else {
        return Ok((None, false));
    };
    let expires_at = scope.now + LEASE_SECONDS;
    let claimed = tx
        .execute(
            "UPDATE cases SET leased_to = $1, lease_expires_at = $2, leased_at = $4
             WHERE id = $3 AND final_disposition IS NULL
               AND (leased_to IS NULL OR lease_expires_at < $4)",
            args![scope.agent_id, expires_at, case_id, scope.now],
        )
        .await?;
    let lease = (claimed == 1).then_some(Lease {
        case_id,
        campaign_id,
        expires_at,
        kind,
    });
    Ok((lease, lease.is_some()))
}
