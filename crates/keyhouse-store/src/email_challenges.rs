//! Challenges mailed to an address: a link token and a short code that
//! prove the holder reads the mailbox. Only hashes are stored. Spending one
//! is a conditional update inside the transaction that acts on it, so of
//! two requests racing with the same link or code exactly one wins, and a
//! refused completion writes nothing.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::entities::{email_challenge, user};
use crate::{NewUser, Result, Store, StoreError, User};

/// What proving the address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengePurpose {
    /// Creates the account waiting in the challenge's payload, verified.
    SignUp,
    /// Signs in the account with this address (creating a password-less
    /// one when the caller allows).
    SignIn,
    /// Marks a signed-in user's address verified.
    VerifyEmail,
    /// Moves the challenge's account to the address it was mailed to,
    /// verified (the user asked from their account page).
    ChangeEmail,
    /// Proves the address of organization members: spending it opens the
    /// organizations where the address is an active member (B2B
    /// discovery). No account is touched.
    MemberSignIn,
}

impl ChallengePurpose {
    /// The name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::SignUp => "sign_up",
            ChallengePurpose::SignIn => "sign_in",
            ChallengePurpose::VerifyEmail => "verify_email",
            ChallengePurpose::ChangeEmail => "change_email",
            ChallengePurpose::MemberSignIn => "member_sign_in",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<ChallengePurpose> {
        [
            ChallengePurpose::SignUp,
            ChallengePurpose::SignIn,
            ChallengePurpose::VerifyEmail,
            ChallengePurpose::ChangeEmail,
            ChallengePurpose::MemberSignIn,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A stored challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailChallenge {
    /// SHA-256 of the link token (the key).
    pub id_hash: String,
    /// What it is for (`None`: a purpose this version does not know).
    pub purpose: Option<ChallengePurpose>,
    /// The normalised address it was mailed to.
    pub email: String,
    /// The account it concerns, when it existed when mailed.
    pub user_id: Option<String>,
    /// Hash of the code (salted with `id_hash`).
    pub code_hash: String,
    /// Hash of the asking browser's cookie, when bound to one.
    pub browser_hash: Option<String>,
    /// What the caller kept for completion (a pending sign-up's password
    /// hash and name, where to go afterwards).
    pub payload: Option<String>,
    /// Wrong codes so far.
    pub attempts: i32,
    /// Mailed.
    pub created_at: i64,
    /// Last second it works.
    pub expires_at: i64,
}

impl std::fmt::Debug for EmailChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChallenge")
            .field("purpose", &self.purpose)
            .field("user_id", &self.user_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl From<email_challenge::Model> for EmailChallenge {
    fn from(m: email_challenge::Model) -> EmailChallenge {
        EmailChallenge {
            id_hash: m.id_hash,
            purpose: ChallengePurpose::parse(&m.purpose),
            email: m.email,
            user_id: m.user_id,
            code_hash: m.code_hash,
            browser_hash: m.browser_hash,
            payload: m.payload,
            attempts: m.attempts,
            created_at: m.created_at,
            expires_at: m.expires_at,
        }
    }
}

/// A challenge to store.
#[derive(Clone)]
pub struct NewEmailChallenge {
    /// SHA-256 of the link token.
    pub id_hash: String,
    /// What it is for.
    pub purpose: ChallengePurpose,
    /// The normalised address.
    pub email: String,
    /// The account, when there is one.
    pub user_id: Option<String>,
    /// Hash of the code.
    pub code_hash: String,
    /// Hash of the asking browser's cookie.
    pub browser_hash: Option<String>,
    /// Kept for completion.
    pub payload: Option<String>,
    /// Now.
    pub created_at: i64,
    /// Last second it works.
    pub expires_at: i64,
}

fn live(now: i64) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(email_challenge::Column::UsedAt.is_null())
        .add(email_challenge::Column::ExpiresAt.gt(now))
}

impl Store {
    /// Stores a challenge, spending the older live ones it replaces: those
    /// of the same address asked from the same browser (sign-up and
    /// sign-in together; a member's sign-in apart from them), of the same
    /// address and account (verification), or every
    /// pending change of the account's address (one at a time). So a
    /// browser has one live code per address, and asking for another gives
    /// no extra guesses, while messages asked from other browsers (someone
    /// else typing the address) are left alone.
    pub async fn create_email_challenge(&self, c: &NewEmailChallenge) -> Result<()> {
        let model = email_challenge::ActiveModel {
            id_hash: Set(c.id_hash.clone()),
            purpose: Set(c.purpose.as_str().to_owned()),
            email: Set(c.email.clone()),
            user_id: Set(c.user_id.clone()),
            code_hash: Set(c.code_hash.clone()),
            browser_hash: Set(c.browser_hash.clone()),
            payload: Set(c.payload.clone()),
            attempts: Set(0),
            created_at: Set(c.created_at),
            expires_at: Set(c.expires_at),
            used_at: Set(None),
        };
        let txn = self.begin_write().await?;
        let older = email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(c.created_at))
            .filter(live(c.created_at));
        let older = match (&c.browser_hash, &c.user_id) {
            (_, user) if c.purpose == ChallengePurpose::ChangeEmail => older
                .filter(email_challenge::Column::UserId.eq(user.clone()))
                .filter(email_challenge::Column::Purpose.eq(c.purpose.as_str())),
            (Some(browser), _) if c.purpose == ChallengePurpose::MemberSignIn => older
                .filter(email_challenge::Column::Email.eq(&c.email))
                .filter(email_challenge::Column::BrowserHash.eq(browser))
                .filter(email_challenge::Column::Purpose.eq(c.purpose.as_str())),
            (Some(browser), _) => older
                .filter(email_challenge::Column::Email.eq(&c.email))
                .filter(email_challenge::Column::BrowserHash.eq(browser))
                .filter(email_challenge::Column::Purpose.is_in([
                    ChallengePurpose::SignUp.as_str(),
                    ChallengePurpose::SignIn.as_str(),
                ])),
            (None, user) => older
                .filter(email_challenge::Column::Email.eq(&c.email))
                .filter(email_challenge::Column::BrowserHash.is_null())
                .filter(email_challenge::Column::UserId.eq(user.clone()))
                .filter(email_challenge::Column::Purpose.eq(c.purpose.as_str())),
        };
        older.exec(&*txn).await?;
        email_challenge::Entity::insert(model)
            .exec_without_returning(&*txn)
            .await
            .map_err(StoreError::from_insert)?;
        txn.commit().await?;
        Ok(())
    }

    /// The unused, unexpired challenge with this link token.
    pub async fn live_email_challenge(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<EmailChallenge>> {
        Ok(email_challenge::Entity::find_by_id(id_hash.to_owned())
            .filter(live(now))
            .one(&self.db)
            .await?
            .map(EmailChallenge::from))
    }

    /// The live challenge mailed to `email` for one of `purposes` at the
    /// request of the browser whose cookie hashes to `browser_hash` (there
    /// is at most one: a newer one spends the older). A code is checked
    /// against this one only.
    pub async fn newest_email_challenge(
        &self,
        email: &str,
        purposes: &[ChallengePurpose],
        browser_hash: &str,
        now: i64,
    ) -> Result<Option<EmailChallenge>> {
        Ok(email_challenge::Entity::find()
            .filter(email_challenge::Column::Email.eq(email))
            .filter(email_challenge::Column::BrowserHash.eq(browser_hash))
            .filter(email_challenge::Column::Purpose.is_in(purposes.iter().map(|p| p.as_str())))
            .filter(live(now))
            .order_by_desc(email_challenge::Column::CreatedAt)
            .one(&self.db)
            .await?
            .map(EmailChallenge::from))
    }

    /// The live address change the user asked for (at most one: a newer
    /// one spends the older). Its code is checked against this one only.
    pub async fn pending_email_change(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Option<EmailChallenge>> {
        Ok(email_challenge::Entity::find()
            .filter(email_challenge::Column::UserId.eq(user_id))
            .filter(email_challenge::Column::Purpose.eq(ChallengePurpose::ChangeEmail.as_str()))
            .filter(live(now))
            .order_by_desc(email_challenge::Column::CreatedAt)
            .one(&self.db)
            .await?
            .map(EmailChallenge::from))
    }

    /// Counts a wrong code against a challenge; at `max_attempts` the
    /// challenge is spent. Whether it still works.
    pub async fn note_wrong_code(
        &self,
        id_hash: &str,
        max_attempts: i32,
        now: i64,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        email_challenge::Entity::update_many()
            .col_expr(
                email_challenge::Column::Attempts,
                Expr::col(email_challenge::Column::Attempts).add(1),
            )
            .filter(email_challenge::Column::IdHash.eq(id_hash))
            .filter(email_challenge::Column::UsedAt.is_null())
            .exec(&*txn)
            .await?;
        let spent = email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
            .filter(email_challenge::Column::IdHash.eq(id_hash))
            .filter(email_challenge::Column::UsedAt.is_null())
            .filter(email_challenge::Column::Attempts.gte(max_attempts))
            .exec(&*txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(spent == 0)
    }

    /// Spends a challenge and does what it proves, in one transaction:
    ///
    /// - `SignUp`: creates `new_user` (its address taken from the
    ///   challenge) with a verified address; `Conflict` when an account has
    ///   the address by now (nothing written).
    /// - `SignIn`: marks the account with the address verified; with no
    ///   such account, creates `new_user` if given, else nothing happens.
    /// - `VerifyEmail`: marks the challenge's account verified if its
    ///   address is still the one mailed.
    /// - `ChangeEmail`: moves the challenge's account to the address
    ///   mailed, verified, and spends its open reset links (they went to
    ///   the old address); `Conflict` when an account has the address by
    ///   now (nothing written).
    ///
    /// Every other live challenge of the same address and purpose is spent
    /// too (an older mail must not act again). The account, or `None` when
    /// the challenge is unknown, spent or expired or there is nothing to act
    /// on (then nothing is written).
    pub async fn complete_email_challenge(
        &self,
        id_hash: &str,
        new_user: Option<NewUser>,
        now: i64,
    ) -> Result<Option<User>> {
        let txn = self.begin_write().await?;
        let spent = email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
            .filter(email_challenge::Column::IdHash.eq(id_hash))
            .filter(live(now))
            .exec(&*txn)
            .await?
            .rows_affected;
        let challenge = if spent == 1 {
            email_challenge::Entity::find_by_id(id_hash.to_owned())
                .one(&*txn)
                .await?
        } else {
            None
        };
        let Some(challenge) = challenge else {
            txn.rollback().await?;
            return Ok(None);
        };
        let existing = user::Entity::find()
            .filter(user::Column::Email.eq(&challenge.email))
            .one(&*txn)
            .await?;
        let purpose = ChallengePurpose::parse(&challenge.purpose);
        let acted: Option<user::Model> = match (purpose, existing) {
            (Some(ChallengePurpose::SignUp | ChallengePurpose::ChangeEmail), Some(_)) => {
                txn.rollback().await?;
                return Err(StoreError::Conflict);
            }
            (Some(ChallengePurpose::ChangeEmail), None) => {
                // A disabled account does not move (its pending change was
                // spent when it was disabled; this holds in a race too).
                let owner = match &challenge.user_id {
                    Some(id) => {
                        user::Entity::find_by_id(id.clone())
                            .filter(user::Column::DisabledAt.is_null())
                            .one(&*txn)
                            .await?
                    }
                    None => None,
                };
                match owner {
                    Some(mut u) => {
                        user::Entity::update_many()
                            .col_expr(user::Column::Email, Expr::value(challenge.email.clone()))
                            .col_expr(user::Column::EmailVerified, Expr::value(true))
                            .col_expr(user::Column::UpdatedAt, Expr::value(now))
                            .filter(user::Column::Id.eq(&u.id))
                            .exec(&*txn)
                            .await
                            .map_err(StoreError::from_insert)?;
                        crate::account_tokens::spend_reset_links(&txn, &u.id, now).await?;
                        u.email = challenge.email.clone();
                        u.email_verified = true;
                        u.updated_at = now;
                        Some(u)
                    }
                    None => None,
                }
            }
            (Some(ChallengePurpose::SignUp), None) | (Some(ChallengePurpose::SignIn), None) => {
                match new_user {
                    Some(n) => {
                        let model = user::Model {
                            id: n.id,
                            email: challenge.email.clone(),
                            password_hash: n.password_hash,
                            name: n.name,
                            email_verified: true,
                            is_admin: false,
                            created_at: n.now,
                            updated_at: n.now,
                            disabled_at: None,
                            password_reset_required: false,
                            totp_secret: None,
                            totp_enabled_at: None,
                            totp_last_step: None,
                        };
                        // Every column set: the row is written as built,
                        // so it need not be read back.
                        user::Entity::insert(model.clone().into_active_model().reset_all())
                            .exec_without_returning(&*txn)
                            .await
                            .map_err(StoreError::from_insert)?;
                        Some(model)
                    }
                    None => None,
                }
            }
            (Some(ChallengePurpose::SignIn), Some(u)) => Some(u),
            (Some(ChallengePurpose::VerifyEmail), Some(u))
                if challenge.user_id.as_deref() == Some(u.id.as_str()) =>
            {
                Some(u)
            }
            _ => None,
        };
        let Some(mut acted) = acted else {
            txn.rollback().await?;
            return Ok(None);
        };
        if !acted.email_verified {
            user::Entity::update_many()
                .col_expr(user::Column::EmailVerified, Expr::value(true))
                .col_expr(user::Column::UpdatedAt, Expr::value(now))
                .filter(user::Column::Id.eq(&acted.id))
                .exec(&*txn)
                .await?;
            acted.email_verified = true;
            acted.updated_at = now;
        }
        email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
            .filter(email_challenge::Column::Email.eq(&challenge.email))
            .filter(email_challenge::Column::Purpose.eq(&challenge.purpose))
            .filter(email_challenge::Column::UsedAt.is_null())
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(Some(User::from(acted)))
    }

    /// Spends a live challenge that acts on no account
    /// ([`ChallengePurpose::MemberSignIn`]), with every other live one of
    /// the same address and purpose (an older mail must not open the
    /// organizations again). The challenge as it was, or `None` when it is
    /// unknown, spent, expired or of another purpose (then nothing is
    /// written): of two requests racing with the same link or code, one
    /// gets it.
    pub async fn spend_member_challenge(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<EmailChallenge>> {
        let purpose = ChallengePurpose::MemberSignIn.as_str();
        let txn = self.begin_write().await?;
        let spent = email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
            .filter(email_challenge::Column::IdHash.eq(id_hash))
            .filter(email_challenge::Column::Purpose.eq(purpose))
            .filter(live(now))
            .exec(&*txn)
            .await?
            .rows_affected;
        if spent != 1 {
            txn.rollback().await?;
            return Ok(None);
        }
        let Some(challenge) = email_challenge::Entity::find_by_id(id_hash.to_owned())
            .one(&*txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        email_challenge::Entity::update_many()
            .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
            .filter(email_challenge::Column::Email.eq(&challenge.email))
            .filter(email_challenge::Column::Purpose.eq(purpose))
            .filter(email_challenge::Column::UsedAt.is_null())
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(Some(EmailChallenge::from(challenge)))
    }

    /// Deletes challenges expired for more than a day.
    pub(crate) async fn purge_email_challenges(&self, now: i64) -> Result<u64> {
        let _lane = self.lane().await;
        Ok(email_challenge::Entity::delete_many()
            .filter(email_challenge::Column::ExpiresAt.lt(now - 86_400))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

/// Spends every live challenge that concerns an account (its sign-in
/// codes, verification and pending address change), inside the caller's
/// transaction: an operator's action or a new password must not leave a
/// mailed code that acts for the account afterwards.
pub(crate) async fn spend_user_challenges(
    txn: &sea_orm::DatabaseTransaction,
    user_id: &str,
    now: i64,
) -> Result<()> {
    email_challenge::Entity::update_many()
        .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
        .filter(email_challenge::Column::UserId.eq(user_id))
        .filter(email_challenge::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
