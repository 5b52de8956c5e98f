//! Signing keys, shared by every instance through the database.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::entities::signing_key;
use crate::{Result, Store};

/// A stored key. `private_key` is the encrypted private half.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `next`, `current`, `retiring` or `retired`.
    pub state: String,
    /// Encrypted private key (opaque to the store).
    pub private_key: String,
    /// The public JWK as JSON.
    pub public_jwk: String,
    /// Created.
    pub created_at: i64,
    /// When it started signing.
    pub activated_at: Option<i64>,
    /// When it may leave the JWKS.
    pub retire_at: Option<i64>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl From<signing_key::Model> for StoredKey {
    fn from(m: signing_key::Model) -> StoredKey {
        StoredKey {
            kid: m.kid,
            alg: m.alg,
            state: m.state,
            private_key: m.private_key,
            public_jwk: m.public_jwk,
            created_at: m.created_at,
            activated_at: m.activated_at,
            retire_at: m.retire_at,
        }
    }
}

impl Store {
    /// Every key that is not retired, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<StoredKey>> {
        Ok(signing_key::Entity::find()
            .filter(signing_key::Column::State.ne("retired"))
            .order_by_asc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Kid)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredKey::from)
            .collect())
    }

    /// Installs what the key set lacks, from `candidates` (a `current` and
    /// a `next` key for each algorithm to fill): a candidate `current` key
    /// goes in when its algorithm has no current key, a `next` one when it
    /// has no next key. It serves the first start on an empty database and
    /// a start after an upgrade that brought a new algorithm alike.
    ///
    /// Instances starting together on one database each call this; the
    /// transaction is held by one of them at a time (`BEGIN IMMEDIATE` on
    /// SQLite, an advisory lock on PostgreSQL, which rotations take too)
    /// and looks again at what is there, so an algorithm is filled once.
    /// Returns the `kid`s inserted.
    pub async fn install_missing_keys(&self, candidates: &[StoredKey]) -> Result<Vec<String>> {
        let txn = self.begin_keys_write().await?;
        let mut present: Vec<(String, String)> = signing_key::Entity::find()
            .filter(signing_key::Column::State.is_in(["current", "next"]))
            .all(&*txn)
            .await?
            .into_iter()
            .map(|m| (m.alg, m.state))
            .collect();
        let mut inserted = Vec::new();
        for k in candidates {
            if present.iter().any(|(a, s)| *a == k.alg && *s == k.state) {
                continue;
            }
            insert_key(&*txn, k).await?;
            present.push((k.alg.clone(), k.state.clone()));
            inserted.push(k.kid.clone());
        }
        if inserted.is_empty() {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
        }
        Ok(inserted)
    }

    /// A write transaction on the key set: on PostgreSQL it first takes a
    /// transaction-scoped advisory lock, so installs and rotations from
    /// several instances happen one after the other (SQLite's
    /// `BEGIN IMMEDIATE` already does).
    async fn begin_keys_write(&self) -> Result<crate::WriteTxn> {
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7244552)")
                .await?;
        }
        Ok(txn)
    }

    /// Rotates, for each algorithm in `new_next`: `current` → `retiring`
    /// (until `retire_at`), `next` → `current`, and the new key → `next`.
    /// The key that starts signing was published as `next` since the last
    /// rotation, so verifiers have had time to fetch it.
    pub async fn rotate_keys(
        &self,
        new_next: &[StoredKey],
        now: i64,
        retire_at: i64,
    ) -> Result<()> {
        let txn = self.begin_keys_write().await?;
        for k in new_next {
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::State, Expr::value("retiring"))
                .col_expr(signing_key::Column::RetireAt, Expr::value(retire_at))
                .filter(signing_key::Column::Alg.eq(k.alg.as_str()))
                .filter(signing_key::Column::State.eq("current"))
                .exec(&*txn)
                .await?;
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::State, Expr::value("current"))
                .col_expr(signing_key::Column::ActivatedAt, Expr::value(now))
                .filter(signing_key::Column::Alg.eq(k.alg.as_str()))
                .filter(signing_key::Column::State.eq("next"))
                .exec(&*txn)
                .await?;
            insert_key(&*txn, k).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Marks retiring keys whose tokens have all expired as retired (they
    /// leave the JWKS). Returns how many.
    pub async fn retire_keys(&self, now: i64) -> Result<u64> {
        let _lane = self.lane().await;
        Ok(signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("retired"))
            .filter(signing_key::Column::State.eq("retiring"))
            .filter(signing_key::Column::RetireAt.lte(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

async fn insert_key<C: sea_orm::ConnectionTrait>(db: &C, k: &StoredKey) -> Result<()> {
    signing_key::Entity::insert(signing_key::ActiveModel {
        kid: Set(k.kid.clone()),
        alg: Set(k.alg.clone()),
        state: Set(k.state.clone()),
        private_key: Set(k.private_key.clone()),
        public_jwk: Set(k.public_jwk.clone()),
        created_at: Set(k.created_at),
        activated_at: Set(k.activated_at),
        retire_at: Set(k.retire_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
