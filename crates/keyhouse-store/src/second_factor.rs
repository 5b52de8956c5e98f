//! The second factor: an authenticator app (TOTP) set up on an account or
//! an organization member, its recovery codes, and the sessions that wait
//! for it.
//!
//! Every check that spends something is a conditional update decided by the
//! database, so two requests with one code cannot both pass, on one
//! instance or several.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};

use crate::entities::{member, recovery_code, session, user};
use crate::{Result, SessionRecord, Store};

/// Whose second factor: an account's, or an organization member's. Their
/// ids never collide (`user-…`, `member-…`), so recovery codes of both live
/// in one table under the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorHolder<'a> {
    /// A user (an account), by id.
    User(&'a str),
    /// A member of an organization, by id.
    Member(&'a str),
}

impl FactorHolder<'_> {
    /// The user or member id.
    pub fn id(&self) -> &str {
        match self {
            FactorHolder::User(id) | FactorHolder::Member(id) => id,
        }
    }
}

/// A table whose rows carry an authenticator app (`users`, `members`):
/// the same columns under the same names.
trait TotpTable: EntityTrait {
    const ID: Self::Column;
    const SECRET: Self::Column;
    const ENABLED_AT: Self::Column;
    const LAST_STEP: Self::Column;
    const UPDATED_AT: Self::Column;
}

impl TotpTable for user::Entity {
    const ID: user::Column = user::Column::Id;
    const SECRET: user::Column = user::Column::TotpSecret;
    const ENABLED_AT: user::Column = user::Column::TotpEnabledAt;
    const LAST_STEP: user::Column = user::Column::TotpLastStep;
    const UPDATED_AT: user::Column = user::Column::UpdatedAt;
}

impl TotpTable for member::Entity {
    const ID: member::Column = member::Column::Id;
    const SECRET: member::Column = member::Column::TotpSecret;
    const ENABLED_AT: member::Column = member::Column::TotpEnabledAt;
    const LAST_STEP: member::Column = member::Column::TotpLastStep;
    const UPDATED_AT: member::Column = member::Column::UpdatedAt;
}

/// Runs `$f::<table>(id, args…)` on the holder's table.
macro_rules! on_table {
    ($holder:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $holder {
            FactorHolder::User(id) => $f::<user::Entity, _>(id, $($arg),*).await,
            FactorHolder::Member(id) => $f::<member::Entity, _>(id, $($arg),*).await,
        }
    };
}

impl Store {
    /// Stores the sealed secret of an authenticator app being set up,
    /// replacing one being set up before. `false` when the holder already
    /// has one turned on (or does not exist): nothing is written.
    pub async fn set_pending_totp(
        &self,
        holder: FactorHolder<'_>,
        sealed: &str,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        on_table!(holder, set_pending(&self.db, sealed, now))
    }

    /// Turns on the app whose secret `sealed` is (the one a first code was
    /// checked against), spending that code's `step` and storing the
    /// recovery codes' hashes, in one transaction. `false` when the holder
    /// has another secret by now or one already turned on: nothing changes.
    pub async fn enable_totp(
        &self,
        holder: FactorHolder<'_>,
        sealed: &str,
        step: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let on = on_table!(holder, enable(&*txn, sealed, step, now))?;
        if !on {
            txn.rollback().await?;
            return Ok(false);
        }
        replace_codes(&txn, holder.id(), recovery_hashes, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Turns the second factor off: the secret and every recovery code go.
    /// `false` when there was none.
    pub async fn disable_totp(&self, holder: FactorHolder<'_>, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        let off = on_table!(holder, disable(&*txn, now))?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(holder.id()))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(off)
    }

    /// Replaces the holder's recovery codes (the old ones stop working).
    /// `false` when the holder has no second factor turned on.
    pub async fn replace_recovery_codes(
        &self,
        holder: FactorHolder<'_>,
        hashes: &[String],
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let on = on_table!(holder, is_on(&*txn))?;
        if !on {
            txn.rollback().await?;
            return Ok(false);
        }
        replace_codes(&txn, holder.id(), hashes, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Spends an authenticator code's step: `true` only for the request
    /// that moved the holder's last step forward to it (a code works once,
    /// and no code of an earlier step works after it), and only while the
    /// holder's secret is still `sealed`, the one the code was checked
    /// against.
    pub async fn spend_totp_step(
        &self,
        holder: FactorHolder<'_>,
        sealed: &str,
        step: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        on_table!(holder, spend_step(&self.db, sealed, step))
    }

    /// Spends a recovery code: `true` only for the request that marked it
    /// used.
    pub async fn spend_recovery_code(
        &self,
        holder: FactorHolder<'_>,
        hash: &str,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        let res = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
            .filter(recovery_code::Column::CodeHash.eq(hash))
            .filter(recovery_code::Column::UserId.eq(holder.id()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// How many of the holder's recovery codes are unused.
    pub async fn recovery_codes_left(&self, holder: FactorHolder<'_>) -> Result<u64> {
        Ok(recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(holder.id()))
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

async fn set_pending<E: TotpTable, C: ConnectionTrait>(
    id: &str,
    db: &C,
    sealed: &str,
    now: i64,
) -> Result<bool> {
    let res = E::update_many()
        .col_expr(E::SECRET, Expr::value(sealed))
        .col_expr(E::LAST_STEP, Expr::value(Option::<i64>::None))
        .col_expr(E::UPDATED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::ENABLED_AT.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

async fn enable<E: TotpTable, C: ConnectionTrait>(
    id: &str,
    db: &C,
    sealed: &str,
    step: i64,
    now: i64,
) -> Result<bool> {
    let res = E::update_many()
        .col_expr(E::ENABLED_AT, Expr::value(now))
        .col_expr(E::LAST_STEP, Expr::value(step))
        .col_expr(E::UPDATED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::SECRET.eq(sealed))
        .filter(E::ENABLED_AT.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

async fn disable<E: TotpTable, C: ConnectionTrait>(id: &str, db: &C, now: i64) -> Result<bool> {
    let res = E::update_many()
        .col_expr(E::SECRET, Expr::value(Option::<String>::None))
        .col_expr(E::ENABLED_AT, Expr::value(Option::<i64>::None))
        .col_expr(E::LAST_STEP, Expr::value(Option::<i64>::None))
        .col_expr(E::UPDATED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::SECRET.is_not_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

async fn is_on<E: TotpTable, C: ConnectionTrait>(id: &str, db: &C) -> Result<bool> {
    Ok(E::find()
        .filter(E::ID.eq(id))
        .filter(E::ENABLED_AT.is_not_null())
        .one(db)
        .await?
        .is_some())
}

async fn spend_step<E: TotpTable, C: ConnectionTrait>(
    id: &str,
    db: &C,
    sealed: &str,
    step: i64,
) -> Result<bool> {
    let res = E::update_many()
        .col_expr(E::LAST_STEP, Expr::value(step))
        .filter(E::ID.eq(id))
        .filter(E::ENABLED_AT.is_not_null())
        .filter(E::SECRET.eq(sealed))
        .filter(
            Condition::any()
                .add(E::LAST_STEP.is_null())
                .add(E::LAST_STEP.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
