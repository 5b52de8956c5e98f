//! What an operator does to an account: find it, disable it (and enable it
//! again), require a password reset.

use keyhouse_types::SubjectKind;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::account::sessions_of_subject;
use crate::entities::user;
use crate::{Result, Store, User};

/// What disabling an account ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Disabled {
    /// Sessions signed out.
    pub sessions: u64,
    /// Connected apps (grants) removed: their tokens stop working.
    pub grants: u64,
}

/// `%`, `_` and the escape itself taken literally in a LIKE pattern.
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Users whose address or name contains `query` (in any case: for every
    /// letter on PostgreSQL, for ASCII letters on SQLite, whose `LOWER`
    /// leaves others alone; every user when it is empty), newest first, `limit` of them after `after`
    /// (`(created_at, id)` of the last one of the previous page).
    pub async fn search_users(
        &self,
        query: &str,
        limit: u64,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<User>> {
        let mut q = user::Entity::find();
        let needle = query.trim().to_lowercase();
        if !needle.is_empty() {
            let pattern = format!("%{}%", like_escaped(&needle));
            let lower = |c: user::Column| Expr::expr(Func::lower(Expr::col(c)));
            q = q.filter(
                Condition::any()
                    .add(lower(user::Column::Email).like(LikeExpr::new(&pattern).escape('\\')))
                    .add(lower(user::Column::Name).like(LikeExpr::new(&pattern).escape('\\'))),
            );
        }
        if let Some((at, id)) = after {
            q = q.filter(
                Condition::any().add(user::Column::CreatedAt.lt(at)).add(
                    Condition::all()
                        .add(user::Column::CreatedAt.eq(at))
                        .add(user::Column::Id.lt(id)),
                ),
            );
        }
        Ok(q.order_by_desc(user::Column::CreatedAt)
            .order_by_desc(user::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Disables an account, in one transaction: it is marked disabled, and
    /// every session, grant and unredeemed code of it goes, with every
    /// token family revoked (so each app's tokens stop at their next
    /// check), and every mailed code, link and reset link of it is spent.
    /// `None` when there is no such user (nothing written).
    pub async fn disable_user(&self, user_id: &str, now: i64) -> Result<Option<Disabled>> {
        let txn = self.begin_write().await?;
        let found = user::Entity::update_many()
            .col_expr(
                user::Column::DisabledAt,
                Expr::col(user::Column::DisabledAt).if_null(now),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        if found == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let sessions = crate::logout::end_sessions(
            &*txn,
            sessions_of_subject(SubjectKind::User, user_id),
            now,
        )
        .await?;
        let grants = crate::admin::revoke_grants_on(&txn, user_id, None, now).await?;
        // Nothing mailed before acts for it afterwards.
        crate::email_challenges::spend_user_challenges(&txn, user_id, now).await?;
        crate::account_tokens::spend_reset_links(&txn, user_id, now).await?;
        txn.commit().await?;
        Ok(Some(Disabled { sessions, grants }))
    }

    /// Enables a disabled account (its apps stay disconnected: the user
    /// connects them again). Whether there is such a user.
    pub async fn enable_user(&self, user_id: &str, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(user::Entity::update_many()
            .col_expr(user::Column::DisabledAt, Expr::value(None::<i64>))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    /// Requires a password reset: the password stops signing in until a
    /// reset, every session of the account ends and its mailed codes and
    /// pending address change are spent, in one transaction.
    /// How many sessions ended, or `None` when there is no such user.
    pub async fn require_password_reset(&self, user_id: &str, now: i64) -> Result<Option<u64>> {
        let txn = self.begin_write().await?;
        let found = user::Entity::update_many()
            .col_expr(user::Column::PasswordResetRequired, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        if found == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let sessions = crate::logout::end_sessions(
            &*txn,
            sessions_of_subject(SubjectKind::User, user_id),
            now,
        )
        .await?;
        // A pending address change would move the account before the reset.
        crate::email_challenges::spend_user_challenges(&txn, user_id, now).await?;
        txn.commit().await?;
        Ok(Some(sessions))
    }
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(like_escaped("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(like_escaped("ada@example.com"), "ada@example.com");
    }
}
