//! Passkeys: WebAuthn credentials on accounts, and the ceremonies that
//! register them or sign in with them.
//!
//! A ceremony's server half is written when it starts and taken (read and
//! deleted, in one transaction) by the request that finishes it: the
//! deletion's affected-row count decides, so a ceremony finishes once even
//! when two requests race on one instance or several.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{passkey, webauthn_ceremony};
use crate::{Result, Store, StoreError};

/// A passkey on an account.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url without padding.
    pub credential_id: String,
    /// The account.
    pub user_id: String,
    /// The account's WebAuthn user handle (a UUID), as the authenticator
    /// stores it.
    pub user_handle: String,
    /// What the account holder calls it.
    pub name: String,
    /// The public key and signature counter (the WebAuthn library's JSON).
    pub credential: String,
    /// When it was registered (unix seconds).
    pub created_at: i64,
    /// When it last signed in (unix seconds).
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("credential_id", &self.credential_id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl From<passkey::Model> for StoredPasskey {
    fn from(m: passkey::Model) -> StoredPasskey {
        StoredPasskey {
            credential_id: m.credential_id,
            user_id: m.user_id,
            user_handle: m.user_handle,
            name: m.name,
            credential: m.credential,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
        }
    }
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a passkey on a signed-in account.
    Register,
    /// Signing in with a passkey.
    SignIn,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::SignIn => "sign_in",
        }
    }
}

/// The server half of a ceremony, taken back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// The account it was started for (registration only).
    pub user_id: Option<String>,
    /// The WebAuthn library's state (JSON).
    pub state: String,
}

impl Store {
    /// Stores a passkey. [`StoreError::Conflict`] when its credential id is
    /// already registered, to this account or another.
    pub async fn add_passkey(&self, p: &StoredPasskey) -> Result<()> {
        let _lane = self.lane().await;
        passkey::Entity::insert(passkey::ActiveModel {
            credential_id: Set(p.credential_id.clone()),
            user_id: Set(p.user_id.clone()),
            user_handle: Set(p.user_handle.clone()),
            name: Set(p.name.clone()),
            credential: Set(p.credential.clone()),
            created_at: Set(p.created_at),
            last_used_at: Set(p.last_used_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// An account's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: &str) -> Result<Vec<StoredPasskey>> {
        Ok(passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id))
            .order_by_asc(passkey::Column::CreatedAt)
            .order_by_asc(passkey::Column::CredentialId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredPasskey::from)
            .collect())
    }

    /// The passkey with this credential id.
    pub async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>> {
        Ok(passkey::Entity::find_by_id(credential_id.to_owned())
            .one(&self.db)
            .await?
            .map(StoredPasskey::from))
    }

    /// Records a sign-in with a passkey: its new counter state, written
    /// only if the stored state is still `before` (a parallel sign-in with
    /// the same passkey moved it: `false`, nothing written).
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        before: &str,
        after: &str,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        let res = passkey::Entity::update_many()
            .col_expr(passkey::Column::Credential, Expr::value(after))
            .col_expr(passkey::Column::LastUsedAt, Expr::value(now))
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::Credential.eq(before))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Removes one of an account's passkeys. `false` when the account has
    /// no passkey with that id.
    pub async fn remove_passkey(&self, user_id: &str, credential_id: &str) -> Result<bool> {
        let _lane = self.lane().await;
        let res = passkey::Entity::delete_many()
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Stores the server half of a ceremony under the hash of its id.
    pub async fn start_ceremony(
        &self,
        id_hash: &str,
        kind: CeremonyKind,
        user_id: Option<&str>,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        let _lane = self.lane().await;
        webauthn_ceremony::Entity::insert(webauthn_ceremony::ActiveModel {
            id_hash: Set(id_hash.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            user_id: Set(user_id.map(str::to_owned)),
            state: Set(state.to_owned()),
            expires_at: Set(expires_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Takes a live ceremony of `kind` back: read and deleted in one
    /// transaction, so only one request gets it. `None` when there is no
    /// such ceremony, it is of another kind, it expired, or another request
    /// took it first.
    pub async fn take_ceremony(
        &self,
        id_hash: &str,
        kind: CeremonyKind,
        now: i64,
    ) -> Result<Option<Ceremony>> {
        let txn = self.begin_write().await?;
        let found = webauthn_ceremony::Entity::find_by_id(id_hash.to_owned())
            .one(&*txn)
            .await?;
        let Some(found) = found else {
            txn.rollback().await?;
            return Ok(None);
        };
        let gone = webauthn_ceremony::Entity::delete_by_id(id_hash.to_owned())
            .exec(&*txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        // A ceremony of the wrong kind or out of time is spent all the same.
        if gone != 1 || found.kind != kind.as_str() || found.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(Ceremony {
            user_id: found.user_id,
            state: found.state,
        }))
    }

    /// Deletes ceremonies that ran out of time.
    pub(crate) async fn purge_ceremonies(&self, now: i64) -> Result<u64> {
        let _lane = self.lane().await;
        Ok(webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
