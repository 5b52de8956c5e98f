//! sea-orm entities, one module per table. Timestamps are unix seconds in
//! BIGINT columns, which read the same on SQLite and PostgreSQL.

macro_rules! relation_free {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

/// End users (consumer side). Organization members are in `members`; both
/// are "subjects" to sessions, grants and tokens, which store `subject_id`.
pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub email: String,
        pub password_hash: String,
        pub name: String,
        pub email_verified: bool,
        pub created_at: i64,
        pub updated_at: i64,
        /// Operators may use the admin API and dashboard.
        pub is_admin: bool,
        /// Disabled by an operator (since when): signs in nowhere.
        pub disabled_at: Option<i64>,
        /// The password signs in again only after a reset.
        pub password_reset_required: bool,
        /// The authenticator app's secret, sealed with the master key.
        #[sea_orm(column_type = "Text", nullable)]
        pub totp_secret: Option<String>,
        /// When a first code proved the app has the secret (NULL: being set up).
        pub totp_enabled_at: Option<i64>,
        /// The last step whose code was accepted: each code works once.
        pub totp_last_step: Option<i64>,
    }
    relation_free!();
}

/// Browser sessions, keyed by the hash of the cookie value.
pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub subject_kind: String,
        pub subject_id: String,
        pub organization_id: Option<String>,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        /// The browser it signed in with (`User-Agent`, trimmed).
        #[sea_orm(column_type = "Text", nullable)]
        pub user_agent: Option<String>,
        /// The address it signed in from.
        pub ip: Option<String>,
        /// Last used (updated at most every few minutes).
        pub last_seen_at: Option<i64>,
        /// How it was authenticated: RFC 8176 `amr` values, space-separated.
        pub amr: String,
        /// A factor still to come (`totp`): the session signs in nothing yet.
        pub pending_factor: Option<String>,
        /// Its OpenID Connect `sid` (derived from `id_hash` when NULL).
        pub sid: Option<String>,
    }
    relation_free!();
}

/// Connected Apps.
pub mod client {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_type: String,
        pub name: String,
        pub description: String,
        pub logo_uri: Option<String>,
        /// JSON array of exact redirect URIs.
        pub redirect_uris: String,
        pub access_token_ttl: i64,
        pub refresh_policy: String,
        pub created_at: i64,
        #[sea_orm(column_type = "Text", nullable)]
        pub audience: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub claims_template: Option<String>,
        /// Space-separated grant types.
        pub grant_types: String,
        pub resource_server: bool,
        pub token_endpoint_auth_method: Option<String>,
        /// `manual`, `cimd` or `dcr`.
        pub origin: String,
        /// Space-separated.
        pub default_scopes: String,
        pub refresh_grace: i64,
        pub last_used_at: Option<i64>,
        pub registration_token_hash: Option<String>,
        pub metadata_fingerprint: Option<String>,
        /// JSON array of exact post-logout redirect URIs.
        #[sea_orm(column_type = "Text")]
        pub post_logout_redirect_uris: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub backchannel_logout_uri: Option<String>,
        pub backchannel_logout_session_required: bool,
        /// `RS256`, `ES256` or `EdDSA`.
        pub id_token_signed_response_alg: String,
    }
    relation_free!();
}

/// Client secrets, as keyed hashes; `state` is `active` or `pending`
/// (a rotation in progress).
pub mod client_secret {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub secret_hash: String,
        pub state: String,
        pub created_at: i64,
    }
    relation_free!();
}

/// Remembered consent: subject × client × resource → scopes.
pub mod grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub subject_id: String,
        pub client_id: String,
        /// Empty when the grant is not for a particular resource.
        pub resource: String,
        pub scopes: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    relation_free!();
}

/// Authorization codes, keyed by hash, consumed once.
pub mod authorization_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorization_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub client_id: String,
        pub redirect_uri: String,
        pub subject_id: String,
        pub organization_id: Option<String>,
        pub scopes: String,
        pub nonce: Option<String>,
        pub code_challenge: Option<String>,
        pub resource: Option<String>,
        pub auth_time: i64,
        /// How the user authenticated (`amr`, space-separated).
        pub amr: String,
        /// The token family the exchange creates; a replay revokes it.
        pub family_id: String,
        /// The session it was issued in (`sid`), for back-channel logout.
        pub sid: Option<String>,
        pub created_at: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }
    relation_free!();
}

/// A grant family: every token issued from one authorization code.
pub mod token_family {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "token_families")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub subject_id: String,
        pub organization_id: Option<String>,
        pub scopes: String,
        pub resource: Option<String>,
        pub auth_time: i64,
        /// How the user authenticated (`amr`, space-separated).
        pub amr: String,
        pub created_at: i64,
        /// Absolute lifetime: no refresh past this.
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        /// The session it was issued in (`sid`), for back-channel logout.
        pub sid: Option<String>,
    }
    relation_free!();
}

/// Refresh tokens, keyed by hash; `rotated_at` is set when used.
pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub family_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub rotated_at: Option<i64>,
        /// The successor, sealed; only during the grace period.
        #[sea_orm(column_type = "Text", nullable)]
        pub successor: Option<String>,
    }
    relation_free!();
}

/// Access-token ids revoked before their expiry.
pub mod revoked_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "revoked_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub expires_at: i64,
    }
    relation_free!();
}

/// Signing keys; the private half is encrypted at rest.
pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub alg: String,
        /// `next` (published, not signing), `current`, `retiring`, `retired`.
        pub state: String,
        pub private_key: String,
        pub public_jwk: String,
        pub created_at: i64,
        pub activated_at: Option<i64>,
        pub retire_at: Option<i64>,
    }
    relation_free!();
}

/// Organizations (B2B).
pub mod organization {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub slug: String,
        pub name: String,
        /// JSON of `ConnectedAppsSettings`.
        #[sea_orm(column_type = "Text")]
        pub connected_apps: String,
        /// `one_factor`, `two_factors` or `passkey` (`RequiredSignIn`).
        pub required_sign_in: String,
        pub created_at: i64,
        pub updated_at: i64,
        /// The role of people who join by their address's domain (none:
        /// nobody joins that way).
        pub jit_role: Option<String>,
        /// Members sign in only through the organization's SSO connection.
        pub sso_required: bool,
        /// The https URL of its logo.
        #[sea_orm(column_type = "Text", nullable)]
        pub logo_uri: Option<String>,
    }
    relation_free!();
}

/// Organizations' single sign-on connections.
pub mod organization_sso {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organization_sso")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub organization_id: String,
        /// The upstream OpenID Provider's issuer.
        pub issuer: String,
        pub client_id: String,
        /// Sealed with the master key.
        #[sea_orm(column_type = "Text")]
        pub client_secret: String,
        /// The ID-token claim whose values map to roles.
        pub groups_claim: String,
        /// JSON list of `{"group", "role"}`.
        #[sea_orm(column_type = "Text")]
        pub role_mappings: String,
        /// The role of people signing in for the first time (none: only
        /// existing members sign in).
        pub provision_role: Option<String>,
        pub tested_at: Option<i64>,
        pub updated_at: i64,
    }
    relation_free!();
}

/// Upstream accounts tied to members.
pub mod sso_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_links")]
    pub struct Model {
        /// SHA-256 of organization, issuer and subject.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub organization_id: String,
        pub member_id: String,
        pub created_at: i64,
    }
    relation_free!();
}

/// Single sign-ons under way.
pub mod sso_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub organization_id: String,
        pub issuer: String,
        pub client_id: String,
        pub nonce: String,
        #[sea_orm(column_type = "Text")]
        pub pkce_verifier: String,
        pub binding_hash: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub return_to: Option<String>,
        /// The member testing the connection (no sign-in then).
        pub tested_by: Option<String>,
        pub expires_at: i64,
    }
    relation_free!();
}

/// The e-mail domains organizations claim.
pub mod organization_domain {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organization_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        pub organization_id: String,
        pub created_at: i64,
        /// Set by an operator once the organization proved it holds it.
        pub verified_at: Option<i64>,
    }
    relation_free!();
}

/// Members of organizations: one row per (organization, email).
pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub organization_id: String,
        pub email: String,
        pub name: String,
        pub password_hash: String,
        /// JSON list of role ids.
        #[sea_orm(column_type = "Text")]
        pub roles: String,
        pub status: String,
        pub created_at: i64,
        pub updated_at: i64,
        /// The authenticator app's secret, sealed (as on `users`).
        #[sea_orm(column_type = "Text", nullable)]
        pub totp_secret: Option<String>,
        /// When the app was turned on (a first code was right).
        pub totp_enabled_at: Option<i64>,
        /// The last time step a code was accepted for.
        pub totp_last_step: Option<i64>,
    }
    relation_free!();
}

/// Invitations into an organization.
pub mod invitation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invitations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub organization_id: String,
        pub email: String,
        /// JSON list of role ids.
        #[sea_orm(column_type = "Text")]
        pub roles: String,
        /// The inviting member's id (or `operator`).
        pub invited_by: String,
        /// SHA-256 of the link's token; replaced by a resend.
        pub token_hash: String,
        pub created_at: i64,
        /// When the current link was mailed.
        pub sent_at: i64,
        pub expires_at: i64,
        pub accepted_at: Option<i64>,
        /// The member accepting created.
        pub member_id: Option<String>,
        pub revoked_at: Option<i64>,
    }
    relation_free!();
}

/// RBAC roles.
pub mod rbac_role {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rbac_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: String,
        pub description: String,
        /// JSON list of `Permission`.
        #[sea_orm(column_type = "Text")]
        pub permissions: String,
    }
    relation_free!();
}

/// RBAC custom scopes.
pub mod rbac_scope {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rbac_scopes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        pub description: String,
        /// JSON list of `Permission`.
        #[sea_orm(column_type = "Text")]
        pub permissions: String,
    }
    relation_free!();
}

/// Admin API keys, keyed by the hash of the key.
pub mod admin_api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        #[sea_orm(unique)]
        pub key_hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
    }
    relation_free!();
}

/// The audit log.
pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: i64,
        pub actor: String,
        pub action: String,
        pub client_id: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub details: String,
        /// The organization the event belongs to, if any.
        pub organization_id: Option<String>,
    }
    relation_free!();
}

/// Hosts whose client metadata documents are refused.
pub mod blocked_domain {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blocked_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        pub created_at: i64,
    }
    relation_free!();
}

/// Protected resources registered at run time.
pub mod resource {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "resources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub uri: String,
        pub name: String,
        pub scopes: String,
        pub default_scopes: String,
        pub accepts_unbound_tokens: bool,
        pub created_at: i64,
    }
    relation_free!();
}

/// Settings changed at run time, as JSON.
pub mod setting {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: String,
        pub updated_at: i64,
    }
    relation_free!();
}

/// Client assertions already accepted (`private_key_jwt` replay guard).
pub mod client_assertion {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub expires_at: i64,
    }
    relation_free!();
}

/// Single-use tokens mailed to an account holder, by the SHA-256 of the
/// token (password reset).
pub mod account_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub purpose: String,
        pub user_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }
    relation_free!();
}

pub mod email_challenge {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "email_challenges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub purpose: String,
        pub email: String,
        pub user_id: Option<String>,
        pub code_hash: String,
        pub browser_hash: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub payload: Option<String>,
        pub attempts: i32,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }
    relation_free!();
}

/// Recovery codes: keyed hashes, each spent once (`used_at`).
pub mod recovery_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub user_id: String,
        pub created_at: i64,
        pub used_at: Option<i64>,
    }
    relation_free!();
}

/// Logout tokens still to post to clients' `backchannel_logout_uri`:
/// written with the session's end, deleted once delivered or given up on.
pub mod logout_notice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "logout_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub subject_id: String,
        pub sid: Option<String>,
        pub created_at: i64,
        pub attempts: i32,
        /// Not before this; a delivery in progress pushes it on, which is
        /// also how one instance claims a notice.
        pub next_attempt_at: i64,
    }
    relation_free!();
}

/// Passkeys: WebAuthn credentials on accounts.
pub mod passkey {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "passkeys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub credential_id: String,
        pub user_id: String,
        pub user_handle: String,
        pub name: String,
        pub credential: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
    }
    relation_free!();
}

/// WebAuthn ceremonies started and not finished yet.
pub mod webauthn_ceremony {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webauthn_ceremonies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub kind: String,
        pub user_id: Option<String>,
        pub state: String,
        pub expires_at: i64,
    }
    relation_free!();
}
