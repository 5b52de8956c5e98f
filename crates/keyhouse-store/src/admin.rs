//! Operator storage: the admin flag, admin API keys, the audit log,
//! client updates and secret rotation, and users' grants.

use keyhouse_core::ScopeSet;
use keyhouse_core::client::Client;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{
    admin_api_key, audit_event, client, client_secret, grant, refresh_token, token_family, user,
};
use crate::{Result, Store, StoreError};

/// One stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing id.
    pub id: i64,
    /// When.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which client.
    pub client_id: Option<String>,
    /// JSON details.
    pub details: String,
}

/// A user's grant to a client, with when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The client.
    pub client_id: String,
    /// The granted scopes (union over resources).
    pub scopes: ScopeSet,
    /// When first granted.
    pub created_at: i64,
    /// When tokens were last issued from it.
    pub last_used_at: Option<i64>,
}

/// How a secret rotation can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationError {
    /// No such client, or it has no secret (public).
    NoSecret,
    /// `start` while one is pending, or `complete`/`cancel` with none.
    WrongState,
}

impl Store {
    /// Makes a user an operator (or not).
    pub async fn set_user_admin(&self, user_id: &str, admin: bool) -> Result<bool> {
        let _lane = self.lane().await;
        let res = user::Entity::update_many()
            .col_expr(user::Column::IsAdmin, Expr::value(admin))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Stores an admin API key (by hash).
    pub async fn create_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> Result<()> {
        let _lane = self.lane().await;
        admin_api_key::Entity::insert(admin_api_key::ActiveModel {
            id: Set(id.to_owned()),
            name: Set(name.to_owned()),
            key_hash: Set(key_hash.to_owned()),
            created_at: Set(now),
            revoked_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// The id of the live API key with this hash.
    pub async fn find_api_key(&self, key_hash: &str) -> Result<Option<String>> {
        Ok(admin_api_key::Entity::find()
            .filter(admin_api_key::Column::KeyHash.eq(key_hash))
            .filter(admin_api_key::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .map(|k| k.id))
    }

    /// Every API key: (id, name, created_at, revoked_at).
    pub async fn list_api_keys(&self) -> Result<Vec<(String, String, i64, Option<i64>)>> {
        Ok(admin_api_key::Entity::find()
            .order_by_asc(admin_api_key::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|k| (k.id, k.name, k.created_at, k.revoked_at))
            .collect())
    }

    /// Revokes an API key; `false` when there was no live one.
    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = admin_api_key::Entity::update_many()
            .col_expr(admin_api_key::Column::RevokedAt, Expr::value(now))
            .filter(admin_api_key::Column::Id.eq(id))
            .filter(admin_api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Appends an audit event.
    pub async fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        client_id: Option<&str>,
        organization_id: Option<&str>,
        details: &str,
    ) -> Result<()> {
        let _lane = self.lane().await;
        audit_event::Entity::insert(audit_event::ActiveModel {
            at: Set(at),
            actor: Set(actor.to_owned()),
            action: Set(action.to_owned()),
            client_id: Set(client_id.map(str::to_owned)),
            organization_id: Set(organization_id.map(str::to_owned)),
            details: Set(details.to_owned()),
            ..Default::default()
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Audit events newest first, older than `before` (an id) when given;
    /// only one organization's when `organization_id` is given.
    pub async fn list_audit(
        &self,
        limit: u64,
        before: Option<i64>,
        organization_id: Option<&str>,
    ) -> Result<Vec<AuditRecord>> {
        let mut q = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
        if let Some(b) = before {
            q = q.filter(audit_event::Column::Id.lt(b));
        }
        if let Some(org) = organization_id {
            q = q.filter(audit_event::Column::OrganizationId.eq(org));
        }
        Ok(q.limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| AuditRecord {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                client_id: e.client_id,
                details: e.details,
            })
            .collect())
    }

    /// Clients newest first; `after` is the (created_at, id) of the last
    /// client of the previous page.
    pub async fn list_clients_page(
        &self,
        limit: u64,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<Client>> {
        let mut q = client::Entity::find()
            .order_by_desc(client::Column::CreatedAt)
            .order_by_desc(client::Column::Id);
        if let Some((at, id)) = after {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(client::Column::CreatedAt.lt(at))
                    .add(
                        sea_orm::Condition::all()
                            .add(client::Column::CreatedAt.eq(at))
                            .add(client::Column::Id.lt(id)),
                    ),
            );
        }
        q.limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(crate::clients::to_client)
            .collect()
    }

    /// Replaces a client's editable fields.
    pub async fn update_client(&self, c: &Client) -> Result<bool> {
        let redirect_uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let post_logout = serde_json::to_string(&c.post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _lane = self.lane().await;
        let res = client::Entity::update_many()
            .col_expr(
                client::Column::PostLogoutRedirectUris,
                Expr::value(post_logout),
            )
            .col_expr(
                client::Column::BackchannelLogoutUri,
                Expr::value(c.backchannel_logout_uri.clone()),
            )
            .col_expr(
                client::Column::BackchannelLogoutSessionRequired,
                Expr::value(c.backchannel_logout_session_required),
            )
            .col_expr(
                client::Column::IdTokenSignedResponseAlg,
                Expr::value(c.id_token_alg.as_str()),
            )
            .col_expr(client::Column::Name, Expr::value(c.name.clone()))
            .col_expr(
                client::Column::Description,
                Expr::value(c.description.clone()),
            )
            .col_expr(client::Column::LogoUri, Expr::value(c.logo_uri.clone()))
            .col_expr(client::Column::RedirectUris, Expr::value(redirect_uris))
            .col_expr(
                client::Column::ClientType,
                Expr::value(c.client_type.as_str()),
            )
            .col_expr(
                client::Column::AccessTokenTtl,
                Expr::value(c.access_token_ttl),
            )
            .col_expr(
                client::Column::RefreshPolicy,
                Expr::value(c.refresh_policy.as_str()),
            )
            .col_expr(client::Column::Audience, Expr::value(c.audience.clone()))
            .col_expr(
                client::Column::ClaimsTemplate,
                Expr::value(c.claims_template.clone()),
            )
            .col_expr(
                client::Column::GrantTypes,
                Expr::value(keyhouse_core::client::GrantType::list_string(
                    &c.grant_types,
                )),
            )
            .col_expr(
                client::Column::ResourceServer,
                Expr::value(c.resource_server),
            )
            .col_expr(
                client::Column::TokenEndpointAuthMethod,
                Expr::value(c.token_endpoint_auth_method.clone()),
            )
            .col_expr(
                client::Column::DefaultScopes,
                Expr::value(c.default_scopes.join(" ")),
            )
            .col_expr(client::Column::RefreshGrace, Expr::value(c.refresh_grace))
            // Changed metadata is no longer what an identical registration
            // would be given.
            .col_expr(
                client::Column::MetadataFingerprint,
                Expr::value(None::<String>),
            )
            .filter(client::Column::Id.eq(c.id.clone()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Whether a secret rotation is pending for `client_id`.
    pub async fn rotation_pending(&self, client_id: &str) -> Result<bool> {
        Ok(client_secret::Entity::find()
            .filter(client_secret::Column::ClientId.eq(client_id))
            .filter(client_secret::Column::State.eq("pending"))
            .count(&self.db)
            .await?
            > 0)
    }

    /// Starts a rotation: a second (pending) secret that works alongside
    /// the active one.
    pub async fn start_rotation(
        &self,
        client_id: &str,
        secret_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<std::result::Result<(), RotationError>> {
        let txn = self.begin_write().await?;
        let secrets = client_secret::Entity::find()
            .filter(client_secret::Column::ClientId.eq(client_id))
            .all(&*txn)
            .await?;
        if !secrets.iter().any(|s| s.state == "active") {
            return Ok(Err(RotationError::NoSecret));
        }
        if secrets.iter().any(|s| s.state == "pending") {
            return Ok(Err(RotationError::WrongState));
        }
        client_secret::Entity::insert(client_secret::ActiveModel {
            id: Set(secret_id.to_owned()),
            client_id: Set(client_id.to_owned()),
            secret_hash: Set(hash.to_owned()),
            state: Set("pending".to_owned()),
            created_at: Set(now),
        })
        .exec_without_returning(&*txn)
        .await?;
        txn.commit().await?;
        Ok(Ok(()))
    }

    /// Ends a rotation: `complete` keeps only the new secret, otherwise
    /// (cancel) the new one is discarded.
    pub async fn finish_rotation(
        &self,
        client_id: &str,
        complete: bool,
    ) -> Result<std::result::Result<(), RotationError>> {
        let txn = self.begin_write().await?;
        let pending = client_secret::Entity::find()
            .filter(client_secret::Column::ClientId.eq(client_id))
            .filter(client_secret::Column::State.eq("pending"))
            .one(&*txn)
            .await?;
        let Some(pending) = pending else {
            return Ok(Err(RotationError::WrongState));
        };
        if complete {
            client_secret::Entity::delete_many()
                .filter(client_secret::Column::ClientId.eq(client_id))
                .filter(client_secret::Column::State.eq("active"))
                .exec(&*txn)
                .await?;
            client_secret::Entity::update_many()
                .col_expr(client_secret::Column::State, Expr::value("active"))
                .filter(client_secret::Column::Id.eq(pending.id))
                .exec(&*txn)
                .await?;
        } else {
            client_secret::Entity::delete_by_id(pending.id)
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        Ok(Ok(()))
    }

    /// A subject's grants, one per client, newest first.
    pub async fn grants_of(&self, subject_id: &str) -> Result<Vec<GrantRecord>> {
        let rows = grant::Entity::find()
            .filter(grant::Column::SubjectId.eq(subject_id))
            .order_by_desc(grant::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let mut out: Vec<GrantRecord> = Vec::new();
        for g in rows {
            let scopes = crate::scopes_of(&g.scopes);
            if let Some(existing) = out.iter_mut().find(|x| x.client_id == g.client_id) {
                existing.scopes = existing.scopes.union(&scopes);
                existing.created_at = existing.created_at.min(g.created_at);
                continue;
            }
            let last_used_at = self.last_used(subject_id, &g.client_id).await?;
            out.push(GrantRecord {
                client_id: g.client_id,
                scopes,
                created_at: g.created_at,
                last_used_at,
            });
        }
        Ok(out)
    }

    /// When tokens were last issued to `client_id` for `subject_id`.
    async fn last_used(&self, subject_id: &str, client_id: &str) -> Result<Option<i64>> {
        let families: Vec<token_family::Model> = token_family::Entity::find()
            .filter(token_family::Column::SubjectId.eq(subject_id))
            .filter(token_family::Column::ClientId.eq(client_id))
            .all(&self.db)
            .await?;
        let mut last = families.iter().map(|f| f.created_at).max();
        let ids: Vec<String> = families.into_iter().map(|f| f.id).collect();
        if !ids.is_empty() {
            let newest = refresh_token::Entity::find()
                .filter(refresh_token::Column::FamilyId.is_in(ids))
                .order_by_desc(refresh_token::Column::CreatedAt)
                .one(&self.db)
                .await?;
            last = last.max(newest.map(|r| r.created_at));
        }
        Ok(last)
    }

    /// Revokes what `subject_id` gave `client_id`: the grants go, every
    /// token family is revoked (refresh and access tokens with it) and
    /// unused codes are deleted. `false` when there was no grant.
    pub async fn revoke_grant(&self, subject_id: &str, client_id: &str, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        let removed = revoke_grants_on(&txn, subject_id, Some(client_id), now).await?;
        txn.commit().await?;
        Ok(removed > 0)
    }
}

/// Inside the caller's transaction: deletes a subject's grants (to one
/// client, or to every one), revokes the token families issued from them
/// and deletes their unredeemed codes. How many grants went.
pub(crate) async fn revoke_grants_on(
    txn: &sea_orm::DatabaseTransaction,
    subject_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<u64> {
    use crate::entities::authorization_code;
    let mut grants = grant::Entity::delete_many().filter(grant::Column::SubjectId.eq(subject_id));
    let mut families = token_family::Entity::update_many()
        .col_expr(token_family::Column::RevokedAt, Expr::value(now))
        .filter(token_family::Column::SubjectId.eq(subject_id))
        .filter(token_family::Column::RevokedAt.is_null());
    let mut codes = authorization_code::Entity::delete_many()
        .filter(authorization_code::Column::SubjectId.eq(subject_id));
    if let Some(client_id) = client_id {
        grants = grants.filter(grant::Column::ClientId.eq(client_id));
        families = families.filter(token_family::Column::ClientId.eq(client_id));
        codes = codes.filter(authorization_code::Column::ClientId.eq(client_id));
    }
    let removed = grants.exec(txn).await?.rows_affected;
    families.exec(txn).await?;
    codes.exec(txn).await?;
    Ok(removed)
}
