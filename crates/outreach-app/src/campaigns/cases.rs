//! One case of a campaign: its page (audited) and the customer's
//! objection.

use super::*;

/// Case `case_id` of campaign `id`, if the actor owns the campaign.
pub async fn case(
    db: &Db,
    actor: &Actor,
    id: i64,
    case_id: i64,
) -> Result<(Campaign, CaseListing)> {
    let c = get(db, actor, id).await?;
    let mut tx = db.begin_read().await?;
    let k = campaign::case_by_id(&mut tx, &c, case_id).await?;
    tx.commit().await?;
    Ok((c, k.ok_or(Error::NotFound)?))
}

/// Records that the caller reads case `k` of campaign `c` (its page shows
/// the customer's number, name, letter and objection).
pub async fn record_case_read(
    db: &Db,
    by: Caller<'_>,
    (c, k): (&Campaign, &CaseListing),
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("case", k.id)
        .fields("Kundennummer, Name, Stand der Vorabinformation, Widerspruch")
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Why an objection was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectionProblem {
    /// The date lies after today.
    InTheFuture,
    /// The case is closed already.
    Closed,
}

/// Records the customer's objection received on `received` (`None`: the
/// form's date was not readable): the case closes before any call
/// (audited).
pub async fn record_objection(
    db: &Db,
    by: Caller<'_>,
    (c, k): (&Campaign, &CaseListing),
    received: Option<Date>,
    today: Date,
    now: i64,
) -> Result<std::result::Result<(), Vec<ObjectionProblem>>> {
    let mut problems = Vec::new();
    if received.is_some_and(|d| d > today) {
        problems.push(ObjectionProblem::InTheFuture);
    }
    if k.final_disposition.is_some() {
        problems.push(ObjectionProblem::Closed);
    }
    let Some(received) = received.filter(|_| problems.is_empty()) else {
        return Ok(Err(problems));
    };
    let mut tx = db.begin().await?;
    if campaign::record_objection(
        &mut tx,
        scope_of(by.actor)?,
        k.id,
        received,
        by.actor.user_id,
        now,
    )
    .await?
    {
        let event = AuditEvent::by(by.actor, AuditAction::ObjectionRecord, by.client)
            .record("case", k.id)
            .fields(&format!(
                "Widerspruch vom {}; Fall abgeschlossen: Widerspruch vor Anruf",
                format_de_date(received)
            ))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Ok(()))
}
