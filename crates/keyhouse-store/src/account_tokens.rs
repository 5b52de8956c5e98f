//! Single-use tokens mailed to an account holder. Only the SHA-256 of a
//! token is stored; spending one is a conditional update, so of two
//! requests racing with the same token exactly one wins.

use keyhouse_types::SubjectKind;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::account::sessions_of_subject;
use crate::entities::{account_token, session, user};
use crate::{Result, Store, StoreError, User};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountTokenPurpose {
    /// Set a new password (the "forgot password" link).
    PasswordReset,
}

impl AccountTokenPurpose {
    /// The name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountTokenPurpose::PasswordReset => "password_reset",
        }
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewAccountToken {
    /// SHA-256 of the token mailed.
    pub token_hash: String,
    /// What it is for.
    pub purpose: AccountTokenPurpose,
    /// Whose account.
    pub user_id: String,
    /// Now.
    pub created_at: i64,
    /// Last second it works.
    pub expires_at: i64,
}

impl Store {
    /// Stores a token.
    pub async fn create_account_token(&self, t: &NewAccountToken) -> Result<()> {
        let model = account_token::ActiveModel {
            token_hash: Set(t.token_hash.clone()),
            purpose: Set(t.purpose.as_str().to_owned()),
            user_id: Set(t.user_id.clone()),
            created_at: Set(t.created_at),
            expires_at: Set(t.expires_at),
            used_at: Set(None),
        };
        let _lane = self.lane().await;
        account_token::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Spends a password-reset token and sets the account's new password,
    /// in one transaction: the token is marked used (only if it is unused
    /// and unexpired), the password hash replaced, every session of the
    /// account deleted and every other unused reset token of the account
    /// spent; the address counts as verified (the link came through it). The account, or `None` when the token is unknown, used,
    /// expired or its account gone (then nothing is written).
    pub async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<User>> {
        let purpose = AccountTokenPurpose::PasswordReset.as_str();
        let txn = self.begin_write().await?;
        let spent = account_token::Entity::update_many()
            .col_expr(account_token::Column::UsedAt, Expr::value(now))
            .filter(account_token::Column::TokenHash.eq(token_hash))
            .filter(account_token::Column::Purpose.eq(purpose))
            .filter(account_token::Column::UsedAt.is_null())
            .filter(account_token::Column::ExpiresAt.gt(now))
            .exec(&*txn)
            .await?
            .rows_affected;
        let token = if spent == 1 {
            account_token::Entity::find_by_id(token_hash.to_owned())
                .one(&*txn)
                .await?
        } else {
            None
        };
        // A disabled account is not taken back with a reset link.
        let found = match token {
            Some(t) => {
                user::Entity::find_by_id(t.user_id)
                    .filter(user::Column::DisabledAt.is_null())
                    .one(&*txn)
                    .await?
            }
            None => None,
        };
        let Some(found) = found else {
            txn.rollback().await?;
            return Ok(None);
        };
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            // The link came through the mailbox: the address is proven.
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            // The reset an operator required is done.
            .col_expr(user::Column::PasswordResetRequired, Expr::value(false))
            .filter(user::Column::Id.eq(&found.id))
            .exec(&*txn)
            .await?;
        crate::logout::end_sessions(
            &*txn,
            sessions_of_subject(SubjectKind::User, &found.id),
            now,
        )
        .await?;
        spend_reset_links(&txn, &found.id, now).await?;
        crate::email_challenges::spend_user_challenges(&txn, &found.id, now).await?;
        txn.commit().await?;
        let mut updated = User::from(found);
        updated.password_hash = password_hash.to_owned();
        updated.email_verified = true;
        updated.password_reset_required = false;
        Ok(Some(updated))
    }

    /// Sets a signed-in user's new password (after the current one was
    /// checked), in one transaction: the hash is replaced, every other
    /// session of the account is deleted (the one at `keep_session` stays)
    /// and every unused reset link is spent. How many sessions ended, or
    /// `None` when there is no such user (nothing written).
    pub async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<Option<u64>> {
        let txn = self.begin_write().await?;
        let changed = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            .filter(user::Column::Id.eq(user_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let ended = crate::logout::end_sessions(
            &*txn,
            sessions_of_subject(SubjectKind::User, user_id)
                .add(session::Column::IdHash.ne(keep_session)),
            now,
        )
        .await?;
        spend_reset_links(&txn, user_id, now).await?;
        // A pending address change asked by whoever knew the old password
        // dies with it.
        crate::email_challenges::spend_user_challenges(&txn, user_id, now).await?;
        txn.commit().await?;
        Ok(Some(ended))
    }

    /// Whether `token_hash` is an unused, unexpired token for `purpose`
    /// (a cheap check before the slow work of spending it).
    pub async fn account_token_is_live(
        &self,
        token_hash: &str,
        purpose: AccountTokenPurpose,
        now: i64,
    ) -> Result<bool> {
        Ok(account_token::Entity::find_by_id(token_hash.to_owned())
            .filter(account_token::Column::Purpose.eq(purpose.as_str()))
            .filter(account_token::Column::UsedAt.is_null())
            .filter(account_token::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Deletes tokens expired for more than a day.
    pub(crate) async fn purge_account_tokens(&self, now: i64) -> Result<u64> {
        let _lane = self.lane().await;
        Ok(account_token::Entity::delete_many()
            .filter(account_token::Column::ExpiresAt.lt(now - 86_400))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

/// Spends every unused password-reset link of `user_id` (after a reset or a
/// change, an older link must not set the password again).
pub(crate) async fn spend_reset_links(
    txn: &sea_orm::DatabaseTransaction,
    user_id: &str,
    now: i64,
) -> Result<()> {
    account_token::Entity::update_many()
        .col_expr(account_token::Column::UsedAt, Expr::value(now))
        .filter(account_token::Column::UserId.eq(user_id))
        .filter(account_token::Column::Purpose.eq(AccountTokenPurpose::PasswordReset.as_str()))
        .filter(account_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
