//! A user's own account: the sessions they can see and end, and deleting
//! the account with everything that hangs off it.

use keyhouse_types::SubjectKind;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{
    account_token, authorization_code, email_challenge, grant, passkey, recovery_code,
    refresh_token, session, token_family, user, webauthn_ceremony,
};
use crate::{Result, SessionRecord, Store};

/// What deleting an account took with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletedAccount {
    /// Connected apps (grants) removed.
    pub grants: u64,
    /// Token families removed: their refresh and access tokens stop working.
    pub token_families: u64,
    /// Sessions ended.
    pub sessions: u64,
}

/// The sessions of one subject (a user's or a member's).
pub(crate) fn sessions_of_subject(kind: SubjectKind, subject_id: &str) -> Condition {
    Condition::all()
        .add(session::Column::SubjectKind.eq(kind.as_str()))
        .add(session::Column::SubjectId.eq(subject_id))
}

impl Store {
    /// The live sessions of a subject, most recently used first.
    pub async fn sessions_of(
        &self,
        kind: SubjectKind,
        subject_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>> {
        let mut all: Vec<SessionRecord> = session::Entity::find()
            .filter(sessions_of_subject(kind, subject_id))
            .filter(session::Column::ExpiresAt.gt(now))
            .filter(session::Column::PendingFactor.is_null())
            .order_by_desc(session::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(SessionRecord::from)
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
        Ok(all)
    }

    /// Notes that a session was used now.
    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<()> {
        let _lane = self.lane().await;
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::IdHash.eq(id_hash))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends one session of a subject (`false` when it has no such session:
    /// a session of someone else is never touched).
    pub async fn end_session_of(
        &self,
        kind: SubjectKind,
        subject_id: &str,
        id_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let which = sessions_of_subject(kind, subject_id).add(session::Column::IdHash.eq(id_hash));
        Ok(self.end_sessions_where(which, now).await? > 0)
    }

    /// Ends every session of a subject but `keep`. How many ended.
    pub async fn end_sessions_except(
        &self,
        kind: SubjectKind,
        subject_id: &str,
        keep: &str,
        now: i64,
    ) -> Result<u64> {
        let which = sessions_of_subject(kind, subject_id).add(session::Column::IdHash.ne(keep));
        self.end_sessions_where(which, now).await
    }

    /// Deletes a user and everything Keyhouse keeps about them, in one
    /// transaction: their grants, unredeemed codes, token families with
    /// their refresh tokens (so every token issued to an app stops
    /// working), sessions, mailed links and codes, and the account row.
    /// `None` when there is no such user (nothing written). The audit log
    /// keeps only the id, which names nobody once the row is gone.
    pub async fn delete_user(&self, user_id: &str, now: i64) -> Result<Option<DeletedAccount>> {
        let txn = self.begin_write().await?;
        let Some(found) = user::Entity::find_by_id(user_id.to_owned())
            .one(&*txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        // First, while the token families still say which clients each
        // session signed into: their logout notices are queued.
        let sessions = crate::logout::end_sessions(
            &*txn,
            sessions_of_subject(SubjectKind::User, user_id),
            now,
        )
        .await?;
        let grants = grant::Entity::delete_many()
            .filter(grant::Column::SubjectId.eq(user_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::SubjectId.eq(user_id))
            .exec(&*txn)
            .await?;
        let families = Query::select()
            .column(token_family::Column::Id)
            .from(token_family::Entity)
            .and_where(token_family::Column::SubjectId.eq(user_id))
            .to_owned();
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::FamilyId.in_subquery(families))
            .exec(&*txn)
            .await?;
        let token_families = token_family::Entity::delete_many()
            .filter(token_family::Column::SubjectId.eq(user_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        account_token::Entity::delete_many()
            .filter(account_token::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
        passkey::Entity::delete_many()
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
        webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
        // The account's messages (a member's sign-in to the same address
        // is not the account's).
        email_challenge::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(email_challenge::Column::UserId.eq(user_id))
                    .add(email_challenge::Column::Email.eq(&found.email)),
            )
            .filter(
                email_challenge::Column::Purpose.ne(crate::ChallengePurpose::MemberSignIn.as_str()),
            )
            .exec(&*txn)
            .await?;
        user::Entity::delete_by_id(user_id.to_owned())
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(Some(DeletedAccount {
            grants,
            token_families,
            sessions,
        }))
    }
}
