//! Connected Apps and their secrets.

use keyhouse_core::ClientType;
use keyhouse_core::client::{Client, ClientOrigin, GrantType, IdTokenAlg, RefreshPolicy};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{
    authorization_code, blocked_domain, client, client_secret, grant, token_family,
};
use crate::{Result, Store, StoreError};

/// A client as stored: the protocol's [`Client`].
pub type StoredClient = Client;

/// What creating a client needs.
#[derive(Clone)]
pub struct NewClient {
    /// The client.
    pub client: Client,
    /// Keyed hash of the secret, for confidential clients.
    pub secret_hash: Option<String>,
    /// Id of the secret row.
    pub secret_id: String,
    /// RFC 7592: hash of the registration access token (self-registered
    /// clients only).
    pub registration_token_hash: Option<String>,
    /// Hash of a public self-registration's metadata (de-duplication).
    pub metadata_fingerprint: Option<String>,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("client", &self.client)
            .field("secret_hash", &"[redacted]")
            .finish()
    }
}

pub(crate) fn to_client(m: client::Model) -> Result<Client> {
    let client_type = ClientType::parse(&m.client_type)
        .ok_or_else(|| StoreError::Corrupt(format!("client type {}", m.client_type)))?;
    let refresh_policy = RefreshPolicy::parse(&m.refresh_policy)
        .ok_or_else(|| StoreError::Corrupt(format!("refresh policy {}", m.refresh_policy)))?;
    let redirect_uris: Vec<String> = serde_json::from_str(&m.redirect_uris)
        .map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?;
    let post_logout_redirect_uris: Vec<String> = serde_json::from_str(&m.post_logout_redirect_uris)
        .map_err(|e| StoreError::Corrupt(format!("post_logout_redirect_uris: {e}")))?;
    let id_token_alg = IdTokenAlg::parse(&m.id_token_signed_response_alg).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "id_token_signed_response_alg {}",
            m.id_token_signed_response_alg
        ))
    })?;
    Ok(Client {
        id: m.id,
        client_type,
        name: m.name,
        description: m.description,
        logo_uri: m.logo_uri,
        redirect_uris,
        access_token_ttl: m.access_token_ttl,
        refresh_policy,
        created_at: m.created_at,
        audience: m.audience,
        claims_template: m.claims_template,
        grant_types: GrantType::parse_list(&m.grant_types),
        resource_server: m.resource_server,
        token_endpoint_auth_method: m.token_endpoint_auth_method,
        origin: ClientOrigin::parse(&m.origin),
        default_scopes: crate::list_of(&m.default_scopes),
        refresh_grace: m.refresh_grace,
        post_logout_redirect_uris,
        backchannel_logout_uri: m.backchannel_logout_uri,
        backchannel_logout_session_required: m.backchannel_logout_session_required,
        id_token_alg,
    })
}

impl Store {
    /// Stores a client and, for confidential clients, its secret hash, in one
    /// transaction.
    pub async fn create_client(&self, new: &NewClient) -> Result<()> {
        let c = &new.client;
        let redirect_uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let post_logout = serde_json::to_string(&c.post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let txn = self.begin_write().await?;
        client::Entity::insert(client::ActiveModel {
            id: Set(c.id.clone()),
            client_type: Set(c.client_type.as_str().to_owned()),
            name: Set(c.name.clone()),
            description: Set(c.description.clone()),
            logo_uri: Set(c.logo_uri.clone()),
            redirect_uris: Set(redirect_uris),
            access_token_ttl: Set(c.access_token_ttl),
            refresh_policy: Set(c.refresh_policy.as_str().to_owned()),
            created_at: Set(c.created_at),
            audience: Set(c.audience.clone()),
            claims_template: Set(c.claims_template.clone()),
            grant_types: Set(GrantType::list_string(&c.grant_types)),
            resource_server: Set(c.resource_server),
            token_endpoint_auth_method: Set(c.token_endpoint_auth_method.clone()),
            origin: Set(c.origin.as_str().to_owned()),
            default_scopes: Set(c.default_scopes.join(" ")),
            refresh_grace: Set(c.refresh_grace),
            last_used_at: Set(None),
            registration_token_hash: Set(new.registration_token_hash.clone()),
            metadata_fingerprint: Set(new.metadata_fingerprint.clone()),
            post_logout_redirect_uris: Set(post_logout),
            backchannel_logout_uri: Set(c.backchannel_logout_uri.clone()),
            backchannel_logout_session_required: Set(c.backchannel_logout_session_required),
            id_token_signed_response_alg: Set(c.id_token_alg.as_str().to_owned()),
        })
        .exec_without_returning(&*txn)
        .await
        .map_err(StoreError::from_insert)?;
        if let Some(hash) = &new.secret_hash {
            client_secret::Entity::insert(client_secret::ActiveModel {
                id: Set(new.secret_id.clone()),
                client_id: Set(c.id.clone()),
                secret_hash: Set(hash.clone()),
                state: Set("active".to_owned()),
                created_at: Set(c.created_at),
            })
            .exec_without_returning(&*txn)
            .await
            .map_err(StoreError::from_insert)?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Finds a client.
    pub async fn find_client(&self, id: &str) -> Result<Option<Client>> {
        client::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(to_client)
            .transpose()
    }

    /// All clients, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        client::Entity::find()
            .order_by_asc(client::Column::CreatedAt)
            .order_by_asc(client::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_client)
            .collect()
    }

    /// Records the authentication method a confidential client used first,
    /// if none is pinned yet; returns the method now pinned.
    pub async fn pin_auth_method(&self, client_id: &str, method: &str) -> Result<Option<String>> {
        {
            let _lane = self.lane().await;
            client::Entity::update_many()
                .col_expr(client::Column::TokenEndpointAuthMethod, Expr::value(method))
                .filter(client::Column::Id.eq(client_id))
                .filter(client::Column::TokenEndpointAuthMethod.is_null())
                .exec(&self.db)
                .await?;
        }
        Ok(client::Entity::find_by_id(client_id.to_owned())
            .one(&self.db)
            .await?
            .and_then(|m| m.token_endpoint_auth_method))
    }

    /// The hashes of the secrets that currently authenticate the client.
    pub async fn client_secret_hashes(&self, client_id: &str) -> Result<Vec<String>> {
        Ok(client_secret::Entity::find()
            .filter(client_secret::Column::ClientId.eq(client_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.secret_hash)
            .collect())
    }

    /// Deletes a client and everything issued to it: secrets, codes and
    /// grants are removed, token families are revoked (so access tokens
    /// already issued stop working). Returns whether the client existed.
    pub async fn delete_client(&self, id: &str, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        token_family::Entity::update_many()
            .col_expr(token_family::Column::RevokedAt, Expr::value(now))
            .filter(token_family::Column::ClientId.eq(id))
            .filter(token_family::Column::RevokedAt.is_null())
            .exec(&*txn)
            .await?;
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ClientId.eq(id))
            .exec(&*txn)
            .await?;
        grant::Entity::delete_many()
            .filter(grant::Column::ClientId.eq(id))
            .exec(&*txn)
            .await?;
        client_secret::Entity::delete_many()
            .filter(client_secret::Column::ClientId.eq(id))
            .exec(&*txn)
            .await?;
        let res = client::Entity::delete_by_id(id.to_owned())
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected > 0)
    }

    /// Records that a token was issued to `id` (at most one write an hour
    /// per client): the purge deletes self-registered clients left unused.
    pub async fn touch_client(&self, id: &str, now: i64) -> Result<()> {
        client::Entity::update_many()
            .col_expr(client::Column::LastUsedAt, Expr::value(now))
            .filter(client::Column::Id.eq(id))
            .filter(
                sea_orm::Condition::any()
                    .add(client::Column::LastUsedAt.is_null())
                    .add(client::Column::LastUsedAt.lt(now - 3600)),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// When a token was last issued to each client (to the hour), by id.
    pub async fn client_last_use(&self) -> Result<std::collections::HashMap<String, i64>> {
        Ok(client::Entity::find()
            .filter(client::Column::LastUsedAt.is_not_null())
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|m| Some((m.id, m.last_used_at?)))
            .collect())
    }

    /// Self-registered (RFC 7591) clients with no token issued since
    /// `before` (nor created since).
    pub async fn unused_registered_clients(&self, before: i64) -> Result<Vec<String>> {
        Ok(client::Entity::find()
            .filter(client::Column::Origin.eq(ClientOrigin::Dynamic.as_str()))
            .filter(client::Column::CreatedAt.lt(before))
            .filter(
                sea_orm::Condition::any()
                    .add(client::Column::LastUsedAt.is_null())
                    .add(client::Column::LastUsedAt.lt(before)),
            )
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    /// The public self-registered client with this metadata fingerprint.
    pub async fn find_client_by_fingerprint(&self, fingerprint: &str) -> Result<Option<Client>> {
        client::Entity::find()
            .filter(client::Column::MetadataFingerprint.eq(fingerprint))
            .one(&self.db)
            .await?
            .map(to_client)
            .transpose()
    }

    /// The hash of a self-registered client's registration access token.
    pub async fn registration_token_hash(&self, id: &str) -> Result<Option<String>> {
        Ok(client::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .and_then(|m| m.registration_token_hash))
    }

    /// Stores what a Client ID Metadata Document says now: inserted the
    /// first time, the display and redirect fields, the authentication
    /// method and the ID-token algorithm replaced afterwards.
    pub async fn upsert_metadata_client(&self, c: &Client) -> Result<()> {
        let redirect_uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let lane = self.lane().await;
        let updated = client::Entity::update_many()
            .col_expr(client::Column::Name, Expr::value(c.name.clone()))
            .col_expr(client::Column::LogoUri, Expr::value(c.logo_uri.clone()))
            .col_expr(
                client::Column::Description,
                Expr::value(c.description.clone()),
            )
            .col_expr(client::Column::RedirectUris, Expr::value(redirect_uris))
            .col_expr(
                client::Column::TokenEndpointAuthMethod,
                Expr::value(c.token_endpoint_auth_method.clone()),
            )
            .col_expr(
                client::Column::IdTokenSignedResponseAlg,
                Expr::value(c.id_token_alg.as_str()),
            )
            .filter(client::Column::Id.eq(c.id.as_str()))
            .filter(client::Column::Origin.eq(ClientOrigin::MetadataDocument.as_str()))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 1 {
            return Ok(());
        }
        let new = NewClient {
            client: c.clone(),
            secret_hash: None,
            secret_id: String::new(),
            registration_token_hash: None,
            metadata_fingerprint: None,
        };
        drop(lane);
        match self.create_client(&new).await {
            // Inserted meanwhile by a concurrent first request, or the id is
            // an operator's client: the caller reads the row again.
            Err(StoreError::Conflict) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// When a token was last issued to `id` (recorded for agents) and how
    /// many subjects have a grant for it.
    pub async fn client_usage(&self, id: &str) -> Result<(Option<i64>, i64)> {
        use sea_orm::{PaginatorTrait, QuerySelect};
        let last = client::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .and_then(|m| m.last_used_at);
        let users = grant::Entity::find()
            .select_only()
            .column(grant::Column::SubjectId)
            .distinct()
            .filter(grant::Column::ClientId.eq(id))
            .count(&self.db)
            .await?;
        Ok((last, i64::try_from(users).unwrap_or(i64::MAX)))
    }

    /// Adds `domain` to the blocked hosts (no-op when it is there).
    pub async fn block_domain(&self, domain: &str, now: i64) -> Result<()> {
        let res = blocked_domain::Entity::insert(blocked_domain::ActiveModel {
            domain: Set(domain.to_owned()),
            created_at: Set(now),
        })
        .exec_without_returning(&self.db)
        .await;
        match res.map_err(StoreError::from_insert) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes `domain` from the blocked hosts; whether it was there.
    pub async fn unblock_domain(&self, domain: &str) -> Result<bool> {
        Ok(blocked_domain::Entity::delete_by_id(domain.to_owned())
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    /// The blocked hosts, in order.
    pub async fn blocked_domains(&self) -> Result<Vec<String>> {
        Ok(blocked_domain::Entity::find()
            .order_by_asc(blocked_domain::Column::Domain)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.domain)
            .collect())
    }

    /// The ids of metadata-document clients (their ids are URLs).
    pub async fn metadata_client_ids(&self) -> Result<Vec<String>> {
        Ok(client::Entity::find()
            .filter(client::Column::Origin.eq(ClientOrigin::MetadataDocument.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }
}
