//! Sessions: the stored session behind a browser's cookie, kept alive while
//! used and ended when it lapsed or its account can no longer sign in.

use crate::Result;
use outreach_store::Db;
use outreach_store::session;
pub use outreach_store::session::{CHANGES_READ_EVERY, SessionUser, hash_token, watch_changes};

/// The session of the cookie `token` with its account, if stored.
pub async fn find(db: &Db, token: &str) -> Result<Option<SessionUser>> {
    let mut tx = db.read().await?;
    Ok(session::find_with_user(&mut tx, token).await?)
}

/// Ends the session with the hash `id_hash`.
pub async fn end(db: &Db, id_hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    session::delete(&mut tx, id_hash).await?;
    tx.commit().await?;
    Ok(())
}

/// Records that the session was used at `now` (its idle time starts again).
pub async fn touch(db: &Db, id_hash: &str, now: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    session::touch(&mut tx, id_hash, now).await?;
    tx.commit().await?;
    Ok(())
}
