//! Consent grants, authorization codes, token families, refresh tokens and
//! revoked access-token ids.

use keyhouse_core::{OAuthError, ScopeSet};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
};

use crate::entities::{
    authorization_code, grant, refresh_token, revoked_token, session, token_family,
};
use crate::{Result, Store, scopes_of};

/// A code to store (its hash; the code itself goes to the client only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client.
    pub client_id: String,
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// The user.
    pub subject_id: String,
    /// The organization (B2B).
    pub organization_id: Option<String>,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 `amr` values).
    pub amr: Vec<String>,
    /// The family the exchange will create.
    pub family_id: String,
    /// The browser session it was issued in (its `sid`).
    pub sid: Option<String>,
    /// Now.
    pub created_at: i64,
    /// Expiry (≤ 10 minutes; default 5).
    pub expires_at: i64,
}

/// A stored code, as read back when it is redeemed.
pub type CodeRecord = NewCode;

/// A token family: every token issued from one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRecord {
    /// Id (the `fid` claim of its access tokens).
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub subject_id: String,
    /// The organization (B2B).
    pub organization_id: Option<String>,
    /// Scopes granted to the family.
    pub scopes: ScopeSet,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 `amr` values).
    pub amr: Vec<String>,
    /// The browser session it was issued in (its `sid`).
    pub sid: Option<String>,
    /// Absolute expiry.
    pub expires_at: i64,
    /// When revoked.
    pub revoked_at: Option<i64>,
}

impl FamilyRecord {
    /// Whether tokens of this family are still good.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A refresh token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Its family.
    pub family_id: String,
    /// Issued.
    pub created_at: i64,
    /// Expiry of this token (idle lifetime), never past the family's.
    pub expires_at: i64,
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum RedeemOutcome {
    /// First use; the family (and refresh token, if any) is committed.
    Redeemed {
        /// The code.
        code: Box<CodeRecord>,
    },
    /// The code had been used: its family is now revoked (RFC 6749 §4.1.2).
    Replayed,
    /// No such code.
    Unknown,
    /// The checks refused the code; it is burned all the same.
    Refused(OAuthError),
}

/// What rotating a refresh token found.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Rotated: the old token is spent, the new one committed.
    Rotated {
        /// The family.
        family: FamilyRecord,
    },
    /// The token had been rotated moments ago, within the client's grace
    /// period: nothing changes, and the caller answers with the same
    /// successor (sealed as it was given to `rotate_refresh`).
    Grace {
        /// The family.
        family: FamilyRecord,
        /// The successor, sealed.
        successor: String,
    },
    /// The token had been rotated already: the family is revoked
    /// (RFC 9700 §4.14.2).
    Reused,
    /// Unknown, expired, or its family is revoked or expired.
    Invalid,
    /// The checks refused it (wrong client, …); nothing was rotated.
    Refused(OAuthError),
}

fn code_from(m: authorization_code::Model) -> CodeRecord {
    NewCode {
        code_hash: m.code_hash,
        client_id: m.client_id,
        redirect_uri: m.redirect_uri,
        subject_id: m.subject_id,
        organization_id: m.organization_id,
        scopes: scopes_of(&m.scopes),
        nonce: m.nonce,
        code_challenge: m.code_challenge,
        resource: m.resource,
        auth_time: m.auth_time,
        amr: keyhouse_core::assurance::split(&m.amr),
        family_id: m.family_id,
        sid: m.sid,
        created_at: m.created_at,
        expires_at: m.expires_at,
    }
}

fn family_from(m: token_family::Model) -> FamilyRecord {
    FamilyRecord {
        id: m.id,
        client_id: m.client_id,
        subject_id: m.subject_id,
        organization_id: m.organization_id,
        scopes: scopes_of(&m.scopes),
        resource: m.resource,
        auth_time: m.auth_time,
        amr: keyhouse_core::assurance::split(&m.amr),
        sid: m.sid,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
    }
}

fn refresh_record(m: &refresh_token::Model) -> RefreshRecord {
    RefreshRecord {
        token_hash: m.token_hash.clone(),
        family_id: m.family_id.clone(),
        created_at: m.created_at,
        expires_at: m.expires_at,
    }
}

/// How a refresh token is rotated.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    /// The client's grace period, seconds (0: any second presentation
    /// revokes the family).
    pub grace: i64,
    /// The successor's plaintext, sealed by the caller; stored with the
    /// spent token only when `grace` > 0, and handed back within it.
    pub sealed_successor: String,
}

async fn revoke_family_on<C: ConnectionTrait>(
    db: &C,
    family_id: &str,
    now: i64,
) -> std::result::Result<(), sea_orm::DbErr> {
    token_family::Entity::update_many()
        .col_expr(token_family::Column::RevokedAt, Expr::value(now))
        .filter(token_family::Column::Id.eq(family_id))
        .filter(token_family::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The rotation's one transaction: spends the presented token (only if it
/// is unspent and its family unrevoked) and stores its successor. `None` when
/// this call spent it; otherwise when and to what it was spent before, by a
/// concurrent rotation committed first (writes go one at a time) or a
/// revocation meanwhile.
async fn spend_and_succeed(
    txn: &DatabaseTransaction,
    hash: String,
    family_id: String,
    now: i64,
    sealed: Option<String>,
    next: RefreshRecord,
) -> std::result::Result<Option<(i64, Option<String>)>, sea_orm::DbErr> {
    let family_live = Query::select()
        .expr(Expr::val(1))
        .from(token_family::Entity)
        .and_where(token_family::Column::Id.eq(family_id.as_str()))
        .and_where(token_family::Column::RevokedAt.is_null())
        .to_owned();
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .col_expr(refresh_token::Column::Successor, Expr::value(sealed))
        .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(Expr::exists(family_live))
        .exec(txn)
        .await?;
    if spent.rows_affected != 1 {
        let row = refresh_token::Entity::find_by_id(hash).one(txn).await?;
        return Ok(row.and_then(|r| Some((r.rotated_at?, r.successor))));
    }
    insert_refresh(txn, &next).await?;
    Ok(None)
}

async fn insert_refresh<C: ConnectionTrait>(
    db: &C,
    r: &RefreshRecord,
) -> std::result::Result<(), sea_orm::DbErr> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        token_hash: Set(r.token_hash.clone()),
        family_id: Set(r.family_id.clone()),
        created_at: Set(r.created_at),
        expires_at: Set(r.expires_at),
        rotated_at: Set(None),
        successor: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Consent to remember: what a subject granted a client, for a resource.
/// Named fields, because three ids in a row are easy to swap.
#[derive(Debug, Clone, Copy)]
pub struct NewGrant<'a> {
    /// The grant's id, used when the subject had granted nothing before.
    pub id: &'a str,
    /// The user or member who consented.
    pub subject_id: &'a str,
    /// The client they consented to.
    pub client_id: &'a str,
    /// The RFC 8707 resource, if the request named one.
    pub resource: Option<&'a str>,
    /// The scopes approved now (added to those approved before).
    pub scopes: &'a ScopeSet,
    /// Now, unix seconds.
    pub now: i64,
}

impl Store {
    /// The scopes this subject has granted this client (for this resource).
    pub async fn find_grant(
        &self,
        subject_id: &str,
        client_id: &str,
        resource: Option<&str>,
    ) -> Result<Option<ScopeSet>> {
        Ok(grant::Entity::find()
            .filter(grant::Column::SubjectId.eq(subject_id))
            .filter(grant::Column::ClientId.eq(client_id))
            .filter(grant::Column::Resource.eq(resource.unwrap_or("")))
            .one(&self.db)
            .await?
            .map(|g| scopes_of(&g.scopes)))
    }

    /// Remembers consent: the union of what was granted before and the new
    /// grant's scopes.
    pub async fn save_grant(&self, new: &NewGrant<'_>) -> Result<()> {
        let NewGrant {
            id,
            subject_id,
            client_id,
            resource,
            scopes,
            now,
        } = *new;
        let txn = self.begin_write().await?;
        let existing = grant::Entity::find()
            .filter(grant::Column::SubjectId.eq(subject_id))
            .filter(grant::Column::ClientId.eq(client_id))
            .filter(grant::Column::Resource.eq(resource.unwrap_or("")))
            .one(&*txn)
            .await?;
        let merged = match &existing {
            Some(g) => scopes_of(&g.scopes).union(scopes),
            None => scopes.clone(),
        };
        grant::Entity::insert(grant::ActiveModel {
            id: Set(existing.map(|g| g.id).unwrap_or_else(|| id.to_owned())),
            subject_id: Set(subject_id.to_owned()),
            client_id: Set(client_id.to_owned()),
            resource: Set(resource.unwrap_or("").to_owned()),
            scopes: Set(merged.to_string()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                grant::Column::SubjectId,
                grant::Column::ClientId,
                grant::Column::Resource,
            ])
            .update_columns([grant::Column::Scopes, grant::Column::UpdatedAt])
            .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Stores a new authorization code and the (empty) token family its
    /// exchange will fill, in one transaction. Creating the family here keeps
    /// the exchange, the hot path, one statement shorter.
    pub async fn insert_code(&self, c: &NewCode, family_expires_at: i64) -> Result<()> {
        let c = c.clone();
        self.write(move |txn| {
            Box::pin(async move {
                authorization_code::Entity::insert(authorization_code::ActiveModel {
                    code_hash: Set(c.code_hash.clone()),
                    client_id: Set(c.client_id.clone()),
                    redirect_uri: Set(c.redirect_uri.clone()),
                    subject_id: Set(c.subject_id.clone()),
                    organization_id: Set(c.organization_id.clone()),
                    scopes: Set(c.scopes.to_string()),
                    nonce: Set(c.nonce.clone()),
                    code_challenge: Set(c.code_challenge.clone()),
                    resource: Set(c.resource.clone()),
                    auth_time: Set(c.auth_time),
                    amr: Set(keyhouse_core::assurance::join(&c.amr)),
                    family_id: Set(c.family_id.clone()),
                    sid: Set(c.sid.clone()),
                    created_at: Set(c.created_at),
                    expires_at: Set(c.expires_at),
                    consumed_at: Set(None),
                })
                .exec_without_returning(txn)
                .await?;
                token_family::Entity::insert(token_family::ActiveModel {
                    id: Set(c.family_id.clone()),
                    client_id: Set(c.client_id.clone()),
                    subject_id: Set(c.subject_id.clone()),
                    organization_id: Set(c.organization_id.clone()),
                    scopes: Set(c.scopes.to_string()),
                    resource: Set(c.resource.clone()),
                    auth_time: Set(c.auth_time),
                    amr: Set(keyhouse_core::assurance::join(&c.amr)),
                    created_at: Set(c.created_at),
                    expires_at: Set(family_expires_at),
                    revoked_at: Set(None),
                    sid: Set(c.sid.clone()),
                })
                .exec_without_returning(txn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Redeems a code exactly once (docs/threat-model.md rows 5 and 6).
    ///
    /// The code is read first and `check` runs on it (client, redirect URI,
    /// PKCE, expiry). Then, in one write transaction, the code is consumed
    /// only if it still is unconsumed (a conditional UPDATE whose affected-row
    /// count decides among concurrent exchanges) and the family's first
    /// refresh token, if `check` returned one, is stored. A code that fails
    /// `check` is consumed all the same. A code that was consumed already has
    /// its family revoked, so tokens issued from it stop working
    /// (RFC 6749 §4.1.2).
    pub async fn redeem_code<F>(&self, code_hash: &str, now: i64, check: F) -> Result<RedeemOutcome>
    where
        F: FnOnce(&CodeRecord) -> std::result::Result<Option<RefreshRecord>, OAuthError>,
    {
        let Some(row) = authorization_code::Entity::find_by_id(code_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(RedeemOutcome::Unknown);
        };
        let consumed_before = row.consumed_at.is_some();
        let code = code_from(row);
        if consumed_before {
            self.revoke_family(&code.family_id, now).await?;
            return Ok(RedeemOutcome::Replayed);
        }
        let checked = check(&code);
        let refresh = checked.as_ref().ok().cloned().flatten();
        let hash = code_hash.to_owned();
        let family_id = code.family_id.clone();
        let won = self
            .write(move |txn| {
                Box::pin(async move {
                    let consumed = authorization_code::Entity::update_many()
                        .col_expr(authorization_code::Column::ConsumedAt, Expr::value(now))
                        .filter(authorization_code::Column::CodeHash.eq(hash))
                        .filter(authorization_code::Column::ConsumedAt.is_null())
                        .exec(txn)
                        .await?;
                    if consumed.rows_affected != 1 {
                        revoke_family_on(txn, &family_id, now).await?;
                        return Ok(false);
                    }
                    if let Some(r) = &refresh {
                        insert_refresh(txn, r).await?;
                    }
                    Ok(true)
                })
            })
            .await?;
        Ok(match (won, checked) {
            (false, _) => RedeemOutcome::Replayed,
            (true, Err(e)) => RedeemOutcome::Refused(e),
            (true, Ok(_)) => RedeemOutcome::Redeemed {
                code: Box::new(code),
            },
        })
    }

    /// Rotates a refresh token (docs/threat-model.md rows 21 and 22).
    ///
    /// The token and its family are read first, outside the write lane, and
    /// `check` runs on them (wrong client, wider scope: refused, nothing
    /// spent). Then, in one write transaction, the token is spent only if it
    /// is still unspent and its family still live (a conditional UPDATE whose
    /// affected-row count decides among concurrent rotations), and `next` is
    /// stored. A token that was spent already revokes its whole family
    /// (reuse detection, RFC 9700 §4.14.2), except within `grace` seconds of
    /// its rotation, when the successor sealed at that rotation is handed
    /// back instead (`RefreshOutcome::Grace`): concurrent refreshes of one
    /// token then all end with the same live token.
    pub async fn rotate_refresh<F>(
        &self,
        token_hash: &str,
        now: i64,
        next: &RefreshRecord,
        rotation: Rotation,
        check: F,
    ) -> Result<RefreshOutcome>
    where
        F: FnOnce(&FamilyRecord) -> std::result::Result<(), OAuthError>,
    {
        let Some((token, rotated, family)) = self.find_refresh_rotation(token_hash).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        if let Some((rotated_at, successor)) = rotated {
            return self
                .spent_again(family, rotated_at, successor, now, rotation.grace, check)
                .await;
        }
        if !family.is_active(now) || token.expires_at <= now {
            return Ok(RefreshOutcome::Invalid);
        }
        if let Err(e) = check(&family) {
            return Ok(RefreshOutcome::Refused(e));
        }
        let hash = token_hash.to_owned();
        let family_id = family.id.clone();
        let next = RefreshRecord {
            family_id: family.id.clone(),
            expires_at: next.expires_at.min(family.expires_at),
            ..next.clone()
        };
        let sealed = (rotation.grace > 0).then_some(rotation.sealed_successor);
        let rotated = self
            .write(move |txn| Box::pin(spend_and_succeed(txn, hash, family_id, now, sealed, next)))
            .await?;
        match rotated {
            None => Ok(RefreshOutcome::Rotated { family }),
            Some((rotated_at, successor)) => {
                self.spent_again(family, rotated_at, successor, now, rotation.grace, |_| {
                    Ok(())
                })
                .await
            }
        }
    }

    /// A spent token presented again: its successor within the grace
    /// period (and the family still live), otherwise the family dies.
    async fn spent_again<F>(
        &self,
        family: FamilyRecord,
        rotated_at: i64,
        successor: Option<String>,
        now: i64,
        grace: i64,
        check: F,
    ) -> Result<RefreshOutcome>
    where
        F: FnOnce(&FamilyRecord) -> std::result::Result<(), OAuthError>,
    {
        let current = self.find_family(&family.id).await?.unwrap_or(family);
        match successor {
            Some(successor) if grace > 0 && now <= rotated_at + grace => {
                if !current.is_active(now) {
                    return Ok(RefreshOutcome::Invalid);
                }
                if let Err(e) = check(&current) {
                    return Ok(RefreshOutcome::Refused(e));
                }
                Ok(RefreshOutcome::Grace {
                    family: current,
                    successor,
                })
            }
            _ => {
                self.revoke_family(&current.id, now).await?;
                Ok(RefreshOutcome::Reused)
            }
        }
    }

    async fn find_refresh_rotation(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRecord, Option<(i64, Option<String>)>, FamilyRecord)>> {
        // One statement: the token joined to its family (the refresh grant
        // reads both before it decides anything).
        let of_family: RelationDef = refresh_token::Entity::belongs_to(token_family::Entity)
            .from(refresh_token::Column::FamilyId)
            .to(token_family::Column::Id)
            .into();
        let Some((token, Some(family))) = refresh_token::Entity::find_by_id(token_hash.to_owned())
            .select_also(token_family::Entity)
            .join(JoinType::InnerJoin, of_family)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let rotated = token.rotated_at.map(|at| (at, token.successor.clone()));
        Ok(Some((refresh_record(&token), rotated, family_from(family))))
    }

    /// Finds a refresh token and its family, for introspection and revocation.
    pub async fn find_refresh(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRecord, Option<i64>, FamilyRecord)>> {
        Ok(self
            .find_refresh_rotation(token_hash)
            .await?
            .map(|(token, rotated, family)| (token, rotated.map(|(at, _)| at), family)))
    }

    /// Finds a token family.
    pub async fn find_family(&self, id: &str) -> Result<Option<FamilyRecord>> {
        Ok(token_family::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(family_from))
    }

    /// The live (unrevoked, unexpired) token families of an organization,
    /// or of one subject in it when `subject_id` is given.
    pub async fn live_families_in_organization(
        &self,
        organization_id: &str,
        subject_id: Option<&str>,
        now: i64,
    ) -> Result<Vec<FamilyRecord>> {
        let mut q = token_family::Entity::find()
            .filter(token_family::Column::OrganizationId.eq(organization_id))
            .filter(token_family::Column::RevokedAt.is_null())
            .filter(token_family::Column::ExpiresAt.gt(now));
        if let Some(s) = subject_id {
            q = q.filter(token_family::Column::SubjectId.eq(s));
        }
        Ok(q.all(&self.db)
            .await?
            .into_iter()
            .map(family_from)
            .collect())
    }

    /// Revokes a family: its refresh tokens and access tokens stop working.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> Result<()> {
        let _lane = self.lane().await;
        revoke_family_on(&self.db, family_id, now).await?;
        Ok(())
    }

    /// Records a revoked access-token id until the token's expiry.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        let _lane = self.lane().await;
        revoked_token::Entity::insert(revoked_token::ActiveModel {
            jti: Set(jti.to_owned()),
            expires_at: Set(expires_at),
        })
        .on_conflict(
            OnConflict::column(revoked_token::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Whether an access token is still live as far as storage knows: its id
    /// is not revoked and, for tokens issued from a code, its family is
    /// neither revoked nor past its absolute expiry. One round trip: this runs
    /// on every protected API call and introspection.
    pub async fn access_token_live(
        &self,
        jti: &str,
        family_id: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let p = self.placeholders(3);
        let mut sql = format!(
            "SELECT CAST(CASE WHEN NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = {})",
            p[0]
        );
        let mut values: Vec<sea_orm::Value> = vec![jti.into()];
        if let Some(fid) = family_id {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM token_families WHERE id = {} AND revoked_at IS NULL AND expires_at > {})",
                p[1], p[2]
            ));
            values.push(fid.into());
            values.push(now.into());
        }
        // BIGINT on both backends, so it decodes as i64 on PostgreSQL too.
        sql.push_str(" THEN 1 ELSE 0 END AS BIGINT) AS live");
        let live = self.scalar(sql, values, "live").await?;
        Ok(live == 1)
    }
}

/// How long after its family ends an access token minted from it may still
/// be presented: the longest access-token lifetime a client can have.
const ACCESS_TOKEN_TAIL: i64 = *keyhouse_core::client::ACCESS_TOKEN_TTL_RANGE.end();

/// docs/threat-model.md row 49: families end, and their rows go. A family
/// is dead once its code expired unredeemed, or a day (the longest access
/// token) after its absolute expiry or its revocation: nothing it issued can
/// still be presented. Its refresh tokens go first, then the family.
async fn purge_dead_families(db: &DatabaseConnection, now: i64) -> Result<u64> {
    let unredeemed = Query::select()
        .column(authorization_code::Column::FamilyId)
        .from(authorization_code::Entity)
        .and_where(authorization_code::Column::ConsumedAt.is_null())
        .and_where(authorization_code::Column::ExpiresAt.lte(now - 3600))
        .to_owned();
    let dead = || {
        sea_orm::Condition::any()
            .add(token_family::Column::Id.in_subquery(unredeemed.clone()))
            .add(token_family::Column::ExpiresAt.lte(now - ACCESS_TOKEN_TAIL))
            .add(token_family::Column::RevokedAt.lte(now - ACCESS_TOKEN_TAIL))
    };
    let dead_ids = Query::select()
        .column(token_family::Column::Id)
        .from(token_family::Entity)
        .cond_where(dead())
        .to_owned();
    let tokens = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::FamilyId.in_subquery(dead_ids))
        .exec(db)
        .await?
        .rows_affected;
    let families = token_family::Entity::delete_many()
        .filter(dead())
        .exec(db)
        .await?
        .rows_affected;
    Ok(tokens + families)
}

/// Removes every row past its use: dead token families, expired sessions,
/// codes, revocation entries and refresh tokens, and sealed successors past
/// any grace period. Answers how many rows went.
pub(crate) async fn purge_expired(db: &DatabaseConnection, now: i64) -> Result<u64> {
    let mut removed = purge_dead_families(db, now).await?;
    removed += session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    removed += authorization_code::Entity::delete_many()
        .filter(authorization_code::Column::ExpiresAt.lte(now - 3600))
        .exec(db)
        .await?
        .rows_affected;
    removed += revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    removed += refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    // A sealed successor is needed only within its grace period.
    refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::Successor,
            Expr::value(None::<String>),
        )
        .filter(refresh_token::Column::Successor.is_not_null())
        .filter(
            refresh_token::Column::RotatedAt.lte(now - keyhouse_core::client::MAX_REFRESH_GRACE),
        )
        .exec(db)
        .await?;
    Ok(removed)
}
