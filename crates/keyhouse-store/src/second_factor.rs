//! The second factor: an authenticator app (TOTP) set up on an account, its
//! recovery codes, and the sessions that wait for it.
//!
//! Every check that spends something is a conditional update decided by the
//! database, so two requests with one code cannot both pass, on one
//! instance or several.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entities::{recovery_code, session, user};
use crate::{Result, SessionRecord, Store};

impl Store {
    /// Stores the sealed secret of an authenticator app being set up,
    /// replacing one being set up before. `false` when the account already
    /// has one turned on (or does not exist): nothing is written.
    pub async fn set_pending_totp(&self, user_id: &str, sealed: &str, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = user::Entity::update_many()
            .col_expr(user::Column::TotpSecret, Expr::value(sealed))
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::TotpEnabledAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Turns on the app whose secret `sealed` is (the one a first code was
    /// checked against), spending that code's `step` and storing the
    /// recovery codes' hashes, in one transaction. `false` when the account
    /// has another secret by now or one already turned on: nothing changes.
    pub async fn enable_totp(
        &self,
        user_id: &str,
        sealed: &str,
        step: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let res = user::Entity::update_many()
            .col_expr(user::Column::TotpEnabledAt, Expr::value(now))
            .col_expr(user::Column::TotpLastStep, Expr::value(step))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::TotpSecret.eq(sealed))
            .filter(user::Column::TotpEnabledAt.is_null())
            .exec(&*txn)
            .await?;
        if res.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        replace_codes(&txn, user_id, recovery_hashes, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Turns the second factor off: the secret and every recovery code go.
    /// `false` when there was none.
    pub async fn disable_totp(&self, user_id: &str, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        let res = user::Entity::update_many()
            .col_expr(
                user::Column::TotpSecret,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                user::Column::TotpEnabledAt,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::TotpSecret.is_not_null())
            .exec(&*txn)
            .await?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected == 1)
    }

    /// Replaces the account's recovery codes (the old ones stop working).
    /// `false` when the account has no second factor turned on.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let on = user::Entity::find_by_id(user_id.to_owned())
            .filter(user::Column::TotpEnabledAt.is_not_null())
            .count(&*txn)
            .await?
            == 1;
        if !on {
            txn.rollback().await?;
            return Ok(false);
        }
        replace_codes(&txn, user_id, hashes, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Spends an authenticator code's step: `true` only for the request
    /// that moved the account's last step forward to it (a code works once,
    /// and no code of an earlier step works after it), and only while the
    /// account's secret is still `sealed`, the one the code was checked
    /// against.
    pub async fn spend_totp_step(&self, user_id: &str, sealed: &str, step: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(step))
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::TotpEnabledAt.is_not_null())
            .filter(user::Column::TotpSecret.eq(sealed))
            .filter(
                Condition::any()
                    .add(user::Column::TotpLastStep.is_null())
                    .add(user::Column::TotpLastStep.lt(step)),
            )
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Spends a recovery code: `true` only for the request that marked it
    /// used.
    pub async fn spend_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
            .filter(recovery_code::Column::CodeHash.eq(hash))
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// How many of the account's recovery codes are unused.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<u64> {
        Ok(recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// A live session waiting for its second factor.
    pub async fn find_pending_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        Ok(session::Entity::find_by_id(id_hash.to_owned())
            .filter(session::Column::ExpiresAt.gt(now))
            .filter(session::Column::PendingFactor.is_not_null())
            .one(&self.db)
            .await?
            .map(SessionRecord::from))
    }

    /// Replaces the session `old` (waiting for its second factor, or one
    /// being stepped up) with `new`, in one transaction: `false`, with
    /// nothing written, when `old` is gone (spent by a parallel request,
    /// ended elsewhere).
    pub async fn replace_session(&self, old: &str, new: &SessionRecord) -> Result<bool> {
        let txn = self.begin_write().await?;
        let gone = session::Entity::delete_by_id(old.to_owned())
            .exec(&*txn)
            .await?
            .rows_affected;
        if gone != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        session::Entity::insert(crate::users::session_model(new))
            .exec_without_returning(&*txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }
}

async fn replace_codes(
    txn: &sea_orm::DatabaseTransaction,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> Result<()> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    if hashes.is_empty() {
        return Ok(());
    }
    recovery_code::Entity::insert_many(hashes.iter().map(|h| recovery_code::ActiveModel {
        code_hash: Set(h.clone()),
        user_id: Set(user_id.to_owned()),
        created_at: Set(now),
        used_at: Set(None),
    }))
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
