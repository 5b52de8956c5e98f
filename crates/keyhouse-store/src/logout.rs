//! Ending browser sessions, and the logout notices that ending one owes the
//! clients it signed into (OpenID Connect Back-Channel Logout).
//!
//! Every path that ends sessions (signing out, ending another device,
//! a password reset or change, disabling or deleting an account, requiring a
//! reset) goes through [`end_sessions`], which queues the notices in the
//! same transaction: a session cannot end without its clients being owed a
//! notice, and a notice is never queued for a session that did not end.

use keyhouse_core::logout::session_sid;
use keyhouse_core::secret;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::{client, logout_notice, session, token_family};
use crate::{Result, Store};

/// A logout token still to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    /// Its id (one per client and session).
    pub id: String,
    /// The client to tell.
    pub client_id: String,
    /// The subject whose session ended.
    pub subject_id: String,
    /// The session that ended.
    pub sid: Option<String>,
    /// When the session ended.
    pub created_at: i64,
    /// Deliveries tried so far.
    pub attempts: i32,
    /// Not before this.
    pub next_attempt_at: i64,
}

fn notice_from(m: logout_notice::Model) -> LogoutNotice {
    LogoutNotice {
        id: m.id,
        client_id: m.client_id,
        subject_id: m.subject_id,
        sid: m.sid,
        created_at: m.created_at,
        attempts: m.attempts,
        next_attempt_at: m.next_attempt_at,
    }
}

/// Ends the sessions `which` selects, inside `txn`, first queueing a
/// logout notice for every client with a `backchannel_logout_uri` that a
/// token family was issued to in one of them. How many sessions ended.
pub(crate) async fn end_sessions<C: ConnectionTrait>(
    txn: &C,
    which: Condition,
    now: i64,
) -> Result<u64> {
    let ending: Vec<(String, Option<String>)> = session::Entity::find()
        .select_only()
        .column(session::Column::IdHash)
        .column(session::Column::Sid)
        .filter(which.clone())
        .into_tuple()
        .all(txn)
        .await?;
    if ending.is_empty() {
        return Ok(0);
    }
    let sids: Vec<String> = ending
        .into_iter()
        .map(|(id_hash, sid)| sid.unwrap_or_else(|| session_sid(&id_hash)))
        .collect();
    queue_notices(txn, &sids, now).await?;
    Ok(session::Entity::delete_many()
        .filter(which)
        .exec(txn)
        .await?
        .rows_affected)
}

/// Queues a notice per (client, session) for the sessions `sids`, for the
/// clients that registered a back-channel URI. One row per pair, whatever
/// the number of families: its id is derived from the pair.
async fn queue_notices<C: ConnectionTrait>(txn: &C, sids: &[String], now: i64) -> Result<()> {
    let signed_into: Vec<(String, String, Option<String>)> = token_family::Entity::find()
        .select_only()
        .column(token_family::Column::ClientId)
        .column(token_family::Column::SubjectId)
        .column(token_family::Column::Sid)
        .filter(token_family::Column::Sid.is_in(sids.iter().cloned()))
        .distinct()
        .into_tuple()
        .all(txn)
        .await?;
    if signed_into.is_empty() {
        return Ok(());
    }
    let listening: Vec<String> = client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .filter(client::Column::Id.is_in(signed_into.iter().map(|(c, _, _)| c.clone())))
        .filter(client::Column::BackchannelLogoutUri.is_not_null())
        .into_tuple()
        .all(txn)
        .await?;
    for (client_id, subject_id, sid) in signed_into {
        if !listening.contains(&client_id) {
            continue;
        }
        let id = secret::hash_token(&format!(
            "logout {client_id} {}",
            sid.as_deref().unwrap_or_default()
        ));
        logout_notice::Entity::insert(logout_notice::ActiveModel {
            id: Set(id),
            client_id: Set(client_id),
            subject_id: Set(subject_id),
            sid: Set(sid),
            created_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(now),
        })
        .on_conflict_do_nothing_on([logout_notice::Column::Id])
        .exec(txn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Notices due at `now`, oldest first, at most `limit`.
    pub async fn due_logout_notices(&self, now: i64, limit: u64) -> Result<Vec<LogoutNotice>> {
        Ok(logout_notice::Entity::find()
            .filter(logout_notice::Column::NextAttemptAt.lte(now))
            .order_by_asc(logout_notice::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(notice_from)
            .collect())
    }

    /// Claims a notice for one delivery: pushes its next attempt to
    /// `until` and counts the attempt, only if nobody else did since it was
    /// read (`seen` is the `next_attempt_at` read). Whether this caller won.
    pub async fn claim_logout_notice(&self, id: &str, seen: i64, until: i64) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(logout_notice::Entity::update_many()
            .col_expr(logout_notice::Column::NextAttemptAt, Expr::value(until))
            .col_expr(
                logout_notice::Column::Attempts,
                Expr::col(logout_notice::Column::Attempts).add(1),
            )
            .filter(logout_notice::Column::Id.eq(id))
            .filter(logout_notice::Column::NextAttemptAt.eq(seen))
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    /// Removes a notice: delivered, or given up on.
    pub async fn delete_logout_notice(&self, id: &str) -> Result<()> {
        let _lane = self.lane().await;
        logout_notice::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// How many notices wait (for health checks and tests).
    pub async fn pending_logout_notices(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(logout_notice::Entity::find().count(&self.db).await?)
    }

    /// Ends the sessions `which` selects in a transaction of their own,
    /// queueing their logout notices. How many ended.
    pub(crate) async fn end_sessions_where(&self, which: Condition, now: i64) -> Result<u64> {
        let txn = self.begin_write().await?;
        let ended = end_sessions(&*txn, which, now).await?;
        txn.commit().await?;
        Ok(ended)
    }
}
