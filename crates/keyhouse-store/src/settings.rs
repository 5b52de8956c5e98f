//! What operators change at run time (protected resources, named settings)
//! and the replay guard of client assertions.

use keyhouse_core::resource::ProtectedResource;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use sea_orm::sea_query::Expr;

use crate::entities::{
    authorization_code, client_assertion, grant, resource, setting, token_family,
};
use crate::{Result, Store, StoreError, list_of};

impl Store {
    /// The resources registered at run time, by URI.
    pub async fn resources(&self) -> Result<Vec<ProtectedResource>> {
        Ok(resource::Entity::find()
            .order_by_asc(resource::Column::Uri)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| ProtectedResource {
                uri: m.uri,
                name: m.name,
                scopes: list_of(&m.scopes),
                default_scopes: list_of(&m.default_scopes),
                accepts_unbound_tokens: m.accepts_unbound_tokens,
            })
            .collect())
    }

    /// Registers `r`, or replaces the resource with its URI.
    pub async fn put_resource(&self, r: &ProtectedResource, now: i64) -> Result<()> {
        resource::Entity::insert(resource::ActiveModel {
            uri: Set(r.uri.clone()),
            name: Set(r.name.clone()),
            scopes: Set(r.scopes.join(" ")),
            default_scopes: Set(r.default_scopes.join(" ")),
            accepts_unbound_tokens: Set(r.accepts_unbound_tokens),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(resource::Column::Uri)
                .update_columns([
                    resource::Column::Name,
                    resource::Column::Scopes,
                    resource::Column::DefaultScopes,
                    resource::Column::AcceptsUnboundTokens,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Removes the resource `uri` and everything issued for it, in one
    /// transaction: grants for it go, token families bound to it are
    /// revoked (their refresh and access tokens stop at once) and unused
    /// codes for it are deleted. Whether it was there.
    pub async fn delete_resource(&self, uri: &str, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        let removed = resource::Entity::delete_by_id(uri.to_owned())
            .exec(&*txn)
            .await?
            .rows_affected;
        if removed == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        grant::Entity::delete_many()
            .filter(grant::Column::Resource.eq(uri))
            .exec(&*txn)
            .await?;
        token_family::Entity::update_many()
            .col_expr(token_family::Column::RevokedAt, Expr::value(now))
            .filter(token_family::Column::Resource.eq(uri))
            .filter(token_family::Column::RevokedAt.is_null())
            .exec(&*txn)
            .await?;
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::Resource.eq(uri))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The setting `name`, if set.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(setting::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await?
            .map(|m| m.value))
    }

    /// Sets `name` to `value`.
    pub async fn put_setting(&self, name: &str, value: &str, now: i64) -> Result<()> {
        setting::Entity::insert(setting::ActiveModel {
            name: Set(name.to_owned()),
            value: Set(value.to_owned()),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(setting::Column::Name)
                .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Clears `name` (the configuration applies again); whether it was set.
    pub async fn clear_setting(&self, name: &str) -> Result<bool> {
        Ok(setting::Entity::delete_by_id(name.to_owned())
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    /// Records a client assertion by `key` (a hash of its client and
    /// `jti`) until `expires_at`. `false` when it was recorded before: a
    /// replay. The primary key decides a race between two instances.
    pub async fn record_client_assertion(&self, key: &str, expires_at: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = client_assertion::Entity::insert(client_assertion::ActiveModel {
            key: Set(key.to_owned()),
            expires_at: Set(expires_at),
        })
        .exec_without_returning(&self.db)
        .await;
        match res.map_err(StoreError::from_insert) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Forgets client assertions that expired before `now`.
    pub(crate) async fn purge_client_assertions(&self, now: i64) -> Result<u64> {
        Ok(client_assertion::Entity::delete_many()
            .filter(client_assertion::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
