//! Operator actions shared by the CLI, the admin API and tests: creating
//! and deleting clients and users, rotating keys.

use keyhouse_core::client::{self, Client, GrantType, RefreshPolicy};
use keyhouse_core::rbac::{self, Policy};
use keyhouse_core::{ClientType, ErrorCode, OAuthError, secret};
use keyhouse_store::{Member, NewClient, Organization, StoreError, User};
use keyhouse_types::b2b::{ConnectedAppsSettings, RoleInfo, ScopeInfo};

use crate::Keyhouse;
use crate::error::store_error;
use crate::keys::{KeyError, Keys};

/// What an operator asks for when creating a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Display name.
    pub name: String,
    /// Type.
    pub client_type: ClientType,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Description.
    pub description: String,
    /// https logo.
    pub logo_uri: Option<String>,
    /// Access-token lifetime (default 3600).
    pub access_token_ttl: i64,
    /// Refresh policy (default by type).
    pub refresh_policy: Option<RefreshPolicy>,
    /// A custom `aud` for its access tokens.
    pub audience: Option<String>,
    /// Extra access-token claims (see `keyhouse_core::claims::render_template`).
    pub claims_template: Option<String>,
    /// Grant types (default: authorization_code and refresh_token;
    /// `client_credentials` only when named here).
    pub grant_types: Option<Vec<String>>,
    /// Whether it may introspect other clients' access tokens.
    pub resource_server: bool,
    /// `client_secret_basic` or `client_secret_post`; `None` pins the
    /// method of its first authentication.
    pub token_endpoint_auth_method: Option<String>,
    /// Scopes a request naming none gets (RFC 6749 §3.3).
    pub default_scopes: Vec<String>,
    /// Refresh grace period, seconds (0: strict reuse detection).
    pub refresh_grace: i64,
}

impl ClientSpec {
    /// A spec with defaults.
    pub fn new(name: &str, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSpec {
        ClientSpec {
            name: name.to_owned(),
            client_type,
            redirect_uris,
            description: String::new(),
            logo_uri: None,
            access_token_ttl: 3600,
            refresh_policy: None,
            audience: None,
            claims_template: None,
            grant_types: None,
            resource_server: false,
            token_endpoint_auth_method: None,
            default_scopes: Vec::new(),
            refresh_grace: 0,
        }
    }
}

/// Checks a requested token-endpoint authentication method: a confidential
/// client uses `client_secret_basic` or `client_secret_post`, a public one
/// `none`.
pub(crate) fn validate_auth_method(
    client_type: ClientType,
    method: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let ok = match method {
        None => return Ok(None),
        Some("none") => client_type.is_public(),
        Some("client_secret_basic" | "client_secret_post") => !client_type.is_public(),
        Some(_) => false,
    };
    if ok {
        Ok(method.map(str::to_owned))
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "token_endpoint_auth_method must be client_secret_basic or client_secret_post \
             (none for public clients)",
        ))
    }
}

/// A client just created, with its secret (shown once; only its hash is kept).
#[derive(Clone)]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for CreatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedClient")
            .field("client", &self.client)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

impl Keyhouse {
    /// Registers a client.
    pub async fn create_client(&self, spec: ClientSpec) -> Result<CreatedClient, OAuthError> {
        client::validate_new_client(
            &spec.name,
            spec.client_type,
            &spec.redirect_uris,
            spec.logo_uri.as_deref(),
            spec.access_token_ttl,
        )?;
        client::validate_audience(spec.audience.as_deref())?;
        if let Some(t) = &spec.claims_template {
            keyhouse_core::claims::validate_template(t)?;
        }
        let grant_types = match &spec.grant_types {
            Some(list) => client::validate_grant_types(spec.client_type, list)?,
            None => GrantType::defaults(),
        };
        let auth_method =
            validate_auth_method(spec.client_type, spec.token_endpoint_auth_method.as_deref())?;
        let default_scopes = self.validate_default_scopes(&spec.default_scopes)?;
        let refresh_grace = client::validate_refresh_grace(spec.refresh_grace)?;
        // ThreadRng is not Send: use it before the first await.
        let (new, c, client_secret) = {
            let mut rng = rand::rng();
            let c = Client {
                id: secret::generate_id("client", &mut rng),
                client_type: spec.client_type,
                name: spec.name.trim().to_owned(),
                description: spec.description,
                logo_uri: spec.logo_uri,
                redirect_uris: spec.redirect_uris,
                access_token_ttl: spec.access_token_ttl,
                refresh_policy: spec.refresh_policy.unwrap_or_default(),
                created_at: self.now(),
                audience: spec.audience,
                claims_template: spec.claims_template,
                grant_types,
                resource_server: spec.resource_server,
                token_endpoint_auth_method: auth_method,
                origin: client::ClientOrigin::Manual,
                default_scopes,
                refresh_grace,
            };
            let client_secret = (!c.is_public()).then(|| secret::generate_token(&mut rng));
            let new = NewClient {
                secret_hash: client_secret
                    .as_deref()
                    .map(|s| secret::hash_client_secret(&self.0.secret_key, s)),
                secret_id: secret::generate_id("secret", &mut rng),
                client: c.clone(),
                registration_token_hash: None,
                metadata_fingerprint: None,
            };
            (new, c, client_secret)
        };
        self.store()
            .create_client(&new)
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %c.id, client_type = c.client_type.as_str(), "client created");
        Ok(CreatedClient {
            client: c,
            client_secret,
        })
    }

    /// Checks a client's default scopes: known scopes of the catalogue.
    pub(crate) fn validate_default_scopes(
        &self,
        scopes: &[String],
    ) -> Result<Vec<String>, OAuthError> {
        let metadata = |mut e: OAuthError| {
            e.code = ErrorCode::InvalidClientMetadata;
            e
        };
        let set = keyhouse_core::ScopeSet::parse(&scopes.join(" ")).map_err(metadata)?;
        self.config().scopes.check_known(&set).map_err(metadata)?;
        Ok(set.iter().map(str::to_owned).collect())
    }

    /// Deletes a client and revokes everything issued to it.
    pub async fn delete_client(&self, id: &str) -> Result<bool, OAuthError> {
        let existed = self
            .store()
            .delete_client(id, self.now())
            .await
            .map_err(store_error)?;
        self.forget_client(id);
        Ok(existed)
    }

    /// Creates a user (email normalised, password checked and hashed).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<User, OAuthError> {
        crate::session::create_user(self, email, password, name).await
    }

    /// Rotates the signing keys; the retiring ones stay published until
    /// every token they signed has expired.
    pub async fn rotate_keys(&self) -> Result<(), KeyError> {
        let now = self.now();
        let longest = self.config().id_token_ttl.max(crate::MAX_ACCESS_TOKEN_TTL);
        Keys::rotate(self.store(), self.master_key(), now, now + longest + 60).await?;
        self.keys().reload().await
    }

    /// Creates an organization (`slug`: 2–40 of `a-z`, `0-9`, `-`), with
    /// every kind of Connected App allowed.
    pub async fn create_organization(
        &self,
        name: &str,
        slug: &str,
    ) -> Result<Organization, OAuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(OAuthError::invalid_request(
                "the name must be 1 to 100 characters",
            ));
        }
        let slug_ok = (2..=40).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if !slug_ok {
            return Err(OAuthError::invalid_request(
                "the slug must be 2 to 40 lower-case letters, digits or dashes",
            ));
        }
        let org = Organization {
            id: secret::generate_id("org", &mut rand::rng()),
            slug: slug.to_owned(),
            name: name.to_owned(),
            connected_apps: ConnectedAppsSettings::default(),
            created_at: self.now(),
        };
        self.store()
            .create_organization(&org)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    OAuthError::new(ErrorCode::Conflict, "an organization with this slug exists")
                }
                other => store_error(other),
            })?;
        tracing::info!(organization_id = %org.id, slug = %org.slug, "organization created");
        Ok(org)
    }

    /// Adds a member to the organization `slug` (email normalised, password
    /// checked and hashed, every role defined in the policy).
    pub async fn create_member(
        &self,
        slug: &str,
        email: &str,
        password: &str,
        name: &str,
        roles: &[String],
    ) -> Result<Member, OAuthError> {
        let org = self
            .store()
            .find_organization_by_slug(slug)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::NotFound, format!("no organization {slug}"))
            })?;
        let email = crate::session::normalize_email(email)
            .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
        if !self.rbac().await?.knows_roles(roles) {
            return Err(OAuthError::invalid_request(
                "unknown role (see `keyhouse roles list`)",
            ));
        }
        // The same address with the same password shares one credential
        // across organizations, so discovery proves it with one hash check
        // (docs/threat-model.md row 59).
        let existing = self
            .store()
            .members_with_email(&email, 1)
            .await
            .map_err(store_error)?;
        let shared = match existing.first() {
            Some(m)
                if crate::session::verify_password(
                    self,
                    password,
                    Some(m.password_hash.clone()),
                )
                .await =>
            {
                Some(m.password_hash.clone())
            }
            _ => None,
        };
        let password_hash = match shared {
            Some(h) => h,
            None => crate::session::hash_password(self, password).await?,
        };
        let member = Member {
            id: secret::generate_id("member", &mut rand::rng()),
            organization_id: org.id,
            email,
            name: name.trim().to_owned(),
            password_hash,
            roles: roles.to_vec(),
            status: "active".to_owned(),
            updated_at: self.now(),
        };
        self.store()
            .create_member(&member, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict => OAuthError::new(
                    ErrorCode::Conflict,
                    "this email is already a member of the organization",
                ),
                other => store_error(other),
            })?;
        tracing::info!(member_id = %member.id, organization_id = %member.organization_id, "member created");
        Ok(member)
    }

    /// Defines or replaces a role.
    pub async fn put_role(&self, role: &RoleInfo) -> Result<(), OAuthError> {
        check_rbac_name(&role.role_id)?;
        self.store().put_role(role).await.map_err(store_error)
    }

    /// Defines or replaces a custom scope (it must be in the scope catalog,
    /// so clients can request it).
    pub async fn put_scope(&self, scope: &ScopeInfo) -> Result<(), OAuthError> {
        if self.config().scopes.get(&scope.scope).is_none() {
            return Err(OAuthError::invalid_request(format!(
                "{} is not in the server's scope catalog",
                scope.scope
            )));
        }
        self.store().put_scope(scope).await.map_err(store_error)
    }

    /// Defines what is missing of `policy`: roles and scopes that already
    /// exist are kept as the operator changed them. Safe to run from every
    /// instance at start-up, concurrently.
    pub async fn ensure_policy(&self, policy: &Policy) -> Result<(), OAuthError> {
        for role in &policy.roles {
            check_rbac_name(&role.role_id)?;
            self.store()
                .add_role_if_absent(role)
                .await
                .map_err(store_error)?;
        }
        for scope in &policy.scopes {
            if self.config().scopes.get(&scope.scope).is_none() {
                return Err(OAuthError::invalid_request(format!(
                    "{} is not in the server's scope catalog",
                    scope.scope
                )));
            }
            self.store()
                .add_scope_if_absent(scope)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

fn check_rbac_name(name: &str) -> Result<(), OAuthError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "role ids are 1 to 64 letters, digits, '-', '_', ':' or '.'",
        ))
    }
}

/// The default roles: `admin` may do everything in its organization;
/// `member` starts with no permission (deployments grant it some).
pub fn default_roles() -> Vec<RoleInfo> {
    vec![
        RoleInfo {
            role_id: "admin".into(),
            description: "Manages the organization: settings, members and all data".into(),
            permissions: vec![rbac::permission(rbac::ANY, &[rbac::ANY])],
        },
        RoleInfo {
            role_id: "member".into(),
            description: "A regular member of the organization".into(),
            permissions: Vec::new(),
        },
    ]
}
