//! Stored guide versions. A version is never changed: editing a guide stores
//! a new version. The built-in guide (job center NULL) is stored on
//! migration; a job center sees the built-in guides and its own.

use crate::{Db, StoreError, Tx, args};
use outreach_core::guide::{DEFAULT_GUIDE, Guide};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredGuide {
    pub id: i64,
    pub job_center_id: Option<i64>,
    pub name: String,
    pub version: String,
    pub valid_from: String,
    pub content_hash: String,
    pub source: String,
    pub created_at: i64,
    /// Campaigns pinning this version.
    pub campaign_count: i64,
}

impl StoredGuide {
    /// The checked guide. A stored version was checked when it was stored;
    /// an error here means the checks grew stricter since.
    pub fn guide(&self) -> Result<Guide, Vec<outreach_core::guide::Problem>> {
        Guide::parse(&self.source)
    }

    /// "Name, Version x".
    pub fn label(&self) -> String {
        format!("{}, Version {}", self.name, self.version)
    }

    pub fn built_in(&self) -> bool {
        self.job_center_id.is_none()
    }
}

macro_rules! guide_select {
    () => {
        "SELECT g.id, g.job_center_id, g.name, g.version, g.valid_from, g.content_hash, g.source, g.created_at,
                (SELECT COUNT(*) FROM campaigns p WHERE p.guide_id = g.id) AS campaign_count
         FROM guides g "
    };
}

/// Why a version was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStored {
    /// This name and version exist already (with other content).
    VersionTaken { id: i64 },
    /// Exactly this text is stored already.
    Unchanged { id: i64 },
}

/// Stores a checked guide as a new version of the job center's guides
/// (`None`: built in).
pub async fn insert(
    tx: &mut Tx,
    job_center_id: Option<i64>,
    guide: &Guide,
    source: &str,
    created_by: Option<i64>,
    now: i64,
) -> Result<Result<i64, NotStored>, StoreError> {
    let existing: Option<(i64, String)> = tx
        .fetch_optional(
            "SELECT id, content_hash FROM guides
             WHERE COALESCE(job_center_id, 0) = COALESCE($1, 0) AND name = $2 AND version = $3",
            args![job_center_id, guide.name.as_str(), guide.version.as_str()],
        )
        .await?;
    if let Some((id, hash)) = existing {
        return Ok(Err(if hash == guide.hash {
            NotStored::Unchanged { id }
        } else {
            NotStored::VersionTaken { id }
        }));
    }
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO guides (job_center_id, name, version, valid_from, content_hash, source, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            args![
                job_center_id,
                guide.name.as_str(),
                guide.version.as_str(),
                guide.valid_from.to_string(),
                guide.hash.as_str(),
                source,
                created_by,
                now
            ],
        )
        .await?;
    Ok(Ok(id))
}

/// Stores the built-in guide unless this version is there already.
pub async fn ensure_builtin(db: &Db) -> Result<(), StoreError> {
    let Ok(guide) = Guide::parse(DEFAULT_GUIDE) else {
        // The built-in guide is checked by the tests; a broken one is not stored.
        return Ok(());
    };
    let mut tx = db.begin().await?;
    let now = jiff::Timestamp::now().as_second();
    match insert(&mut tx, None, &guide, DEFAULT_GUIDE, None, now).await {
        Ok(_) => tx.commit().await,
        // Another process stored it at the same moment (unique index).
        Err(e) => {
            let _ = tx.rollback().await;
            let mut tx = db.begin_read().await?;
            let found: Option<(i64,)> = tx
                .fetch_optional(
                    "SELECT id FROM guides WHERE job_center_id IS NULL AND content_hash = $1",
                    args![guide.hash.as_str()],
                )
                .await?;
            tx.commit().await?;
            found.map(|_| ()).ok_or(e)
        }
    }
}

/// The guides a job center may use: the built-in ones and its own, newest
/// first within each name.
pub async fn list(tx: &mut Tx, job_center_id: i64) -> Result<Vec<StoredGuide>, StoreError> {
    tx.fetch_all(
        concat!(
            guide_select!(),
            "WHERE g.job_center_id IS NULL OR g.job_center_id = $1
             ORDER BY g.name, g.id DESC"
        ),
        args![job_center_id],
    )
    .await
}

/// One version by id, if `scope` may use it: the built-in guide, a job
/// center's own versions, and for a service center the versions its
/// mandates' campaigns are pinned to.
pub async fn by_id(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
) -> Result<Option<StoredGuide>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_optional(
        concat!(
            guide_select!(),
            "WHERE g.id = $1 AND (g.job_center_id IS NULL OR $2 = 'all'
                OR ($2 = 'jc' AND g.job_center_id = $3)
                OR ($2 = 'sc' AND EXISTS (SELECT 1 FROM campaigns p
                                          JOIN mandates sm ON sm.id = p.mandate_id
                                          WHERE p.guide_id = g.id AND sm.service_center_id = $3)))"
        ),
        args![id, kind, owner],
    )
    .await
}

/// The newest built-in version (for campaigns made before guides were stored).
pub async fn builtin(tx: &mut Tx) -> Result<Option<StoredGuide>, StoreError> {
    tx.fetch_optional(
        concat!(
            guide_select!(),
            "WHERE g.job_center_id IS NULL ORDER BY g.id DESC LIMIT 1"
        ),
        vec![],
    )
    .await
}
