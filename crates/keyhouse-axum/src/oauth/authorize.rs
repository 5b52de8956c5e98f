//! The backend of the `/idp` component: `POST /api/idp/authorize/start`
//! describes a request, `POST /api/idp/authorize` decides it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use keyhouse_core::authorize::{
    self, AuthorizePolicy, RawRequest, RedirectError, ValidatedRequest, VerifiedRedirect,
};
use keyhouse_core::client::{Client, ClientOrigin, GrantType, RefreshPolicy};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet, consent, redirect_uri, secret};
use keyhouse_store::NewCode;
use keyhouse_types::{
    AuthorizeDecision, AuthorizeParams, AuthorizeStart, AuthorizeStartResponse, ClientSummary,
    RedirectResponse, ScopeDescription, SessionUser,
};

use crate::accounts::session;
use crate::b2b::CurrentMember;
use crate::error::{ApiError, store_error};
use crate::{Keyhouse, b2b};

/// Which side of the provider an authorization request comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Users (`/api/idp/*`).
    Users,
    /// Members of organizations (`/api/b2b/idp/*`).
    Members,
}

/// Who is authorizing the client.
struct Subject {
    /// User id, or member id.
    id: String,
    auth_time: i64,
    user: SessionUser,
    /// For members: their session, organization and permissions.
    member: Option<Box<CurrentMember>>,
    /// The hash of the session id, for per-session limits.
    session_key: String,
}

impl Subject {
    async fn load(
        kh: &Keyhouse,
        headers: &HeaderMap,
        side: Side,
    ) -> Result<Option<Subject>, OAuthError> {
        Ok(match side {
            Side::Users => session::load(kh, headers).await?.map(|s| Subject {
                id: s.user.id.clone(),
                auth_time: s.session.auth_time,
                user: session::session_user(&s.user),
                member: None,
                session_key: s.session.id_hash,
            }),
            Side::Members => kh.member_session(headers).await?.map(|m| Subject {
                id: m.member.id.clone(),
                auth_time: m.session.auth_time,
                user: m.user(),
                session_key: m.session.id_hash.clone(),
                member: Some(Box::new(m)),
            }),
        })
    }

    /// The audit log's `actor`.
    fn actor(&self) -> String {
        match &self.member {
            Some(_) => format!("member:{}", self.id),
            None => format!("user:{}", self.id),
        }
    }

    fn organization_id(&self) -> Option<String> {
        self.member.as_ref().map(|m| m.organization.id.clone())
    }
}

/// Where the pipeline got to.
enum Checked {
    /// Valid, with a signed-in subject and the consent decision.
    Ready {
        request: Box<ValidatedRequest>,
        /// Everything the client asked for; `request.scopes` keeps only what
        /// this subject may grant.
        requested: ScopeSet,
        client: std::sync::Arc<Client>,
        subject: Box<Subject>,
        consent_required: bool,
    },
    /// Send the browser back to the client with this URL.
    Redirect(String),
}

fn redirect_error(kh: &Keyhouse, redirect: &VerifiedRedirect, error: OAuthError) -> Checked {
    tracing::info!(client_id = %redirect.client_id, error = %error, "authorization request refused (redirected)");
    Checked::Redirect(redirect.error_url(&kh.config().issuer, &error))
}

/// Runs the whole pipeline: display errors come back as `Err`, redirectable
/// ones as `Checked::Redirect`.
async fn check(
    kh: &Keyhouse,
    headers: &HeaderMap,
    params: &AuthorizeParams,
    side: Side,
) -> Result<Checked, ApiError> {
    let raw = RawRequest::from_params(params)?;
    let client_id = raw.client_id()?;
    let client = kh.client(client_id).await?.ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidClient,
            "this application is not registered here",
        )
        .with_debug(format!("unknown client_id {client_id}"))
    })?;
    let redirect = authorize::verify_client_redirect(&raw, &client)?;
    let protected = kh.resources().await?;
    let resources = kh.audiences(&protected);
    let policy = AuthorizePolicy {
        catalog: &kh.config().scopes,
        resources: &resources,
        protected: &protected,
        default_scopes: &kh.config().default_scopes,
    };
    let mut request = match authorize::validate(&raw, redirect, &client, &policy) {
        Ok(r) => r,
        Err(e) => {
            let RedirectError { redirect, error } = *e;
            return Ok(redirect_error(kh, &redirect, error));
        }
    };
    let now = kh.now();
    let subject = match Subject::load(kh, headers, side).await? {
        Some(s)
            if !consent::reauthentication_required(
                request.prompt,
                request.max_age,
                s.auth_time,
                now,
            ) =>
        {
            s
        }
        _ if request.prompt.none => {
            let e = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            return Ok(redirect_error(kh, &request.redirect, e));
        }
        _ => {
            return Err(OAuthError::new(ErrorCode::LoginRequired, "sign in to continue").into());
        }
    };
    let requested = request.scopes.clone();
    if let Some(m) = &subject.member {
        // The organization decides which apps its members may use.
        if !m
            .organization
            .connected_apps
            .allows(&client.id, client.client_type)
        {
            let kind = if client.client_type.is_first_party() {
                "first-party"
            } else {
                "third-party"
            };
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                format!("{} does not allow this {kind} app", m.organization.name),
            )
            .with_debug(format!(
                "organization {} refused client {}",
                m.organization.id, client.id
            ))
            .into());
        }
        // A member grants only what their roles cover; the rest is listed
        // apart on the consent screen and never reaches the token.
        let rbac = kh.rbac().await?;
        request.scopes = requested.filter(|s| rbac.grantable(&m.permissions, s));
    }
    let granted = kh
        .store()
        .find_grant(&subject.id, &client.id, request.resource.as_deref())
        .await
        .map_err(store_error)?;
    let consent_required = consent::consent_required(
        client.client_type,
        request.prompt,
        &request.scopes,
        granted.as_ref(),
    );
    if consent_required && request.prompt.none {
        let e = OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not approved this application",
        );
        return Ok(redirect_error(kh, &request.redirect, e));
    }
    Ok(Checked::Ready {
        request: Box::new(request),
        requested,
        client,
        subject: Box::new(subject),
        consent_required,
    })
}

/// The host of a metadata-document client's `client_id`.
pub(crate) fn verified_domain(client: &Client) -> Option<String> {
    (client.origin == ClientOrigin::MetadataDocument)
        .then(|| {
            url::Url::parse(&client.id)
                .ok()?
                .host_str()
                .map(str::to_owned)
        })
        .flatten()
}

/// `POST /api/idp/authorize/start`.
pub(crate) async fn start(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(params): Json<AuthorizeParams>,
) -> Result<Json<AuthorizeStartResponse>, ApiError> {
    describe(&kh, &headers, &params, Side::Users).await
}

/// `POST /api/b2b/idp/authorize/start`.
pub(crate) async fn start_b2b(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(params): Json<AuthorizeParams>,
) -> Result<Json<AuthorizeStartResponse>, ApiError> {
    describe(&kh, &headers, &params, Side::Members).await
}

async fn describe(
    kh: &Keyhouse,
    headers: &HeaderMap,
    params: &AuthorizeParams,
    side: Side,
) -> Result<Json<AuthorizeStartResponse>, ApiError> {
    match check(kh, headers, params, side).await? {
        Checked::Redirect(redirect_uri) => {
            Ok(Json(AuthorizeStartResponse::Redirect(RedirectResponse {
                redirect_uri,
            })))
        }
        Checked::Ready {
            request,
            requested,
            client,
            subject,
            consent_required,
        } => {
            let scopes = requested
                .iter()
                .map(|s| ScopeDescription {
                    scope: s.to_owned(),
                    description: kh
                        .config()
                        .scopes
                        .get(s)
                        .map(|d| d.description.clone())
                        .unwrap_or_default(),
                    // Users may grant every scope the deployment offers;
                    // members only what their roles cover.
                    grantable: request.scopes.contains(s),
                })
                .collect();
            Ok(Json(AuthorizeStartResponse::Describe(Box::new(
                AuthorizeStart {
                    client: ClientSummary {
                        client_id: client.id.clone(),
                        name: client.name.clone(),
                        description: client.description.clone(),
                        // docs/threat-model.md rows 55 and 74: the consent
                        // page loads nothing from the client's host; its
                        // logo comes through Keyhouse.
                        logo_uri: kh.logo_url(&client),
                        client_type: client.client_type,
                        verified_domain: verified_domain(&client),
                        self_registered: client.origin == ClientOrigin::Dynamic,
                    },
                    redirect_host: redirect_uri::display_host(&request.redirect.redirect_uri),
                    redirect_is_local: redirect_uri::is_loopback(&request.redirect.redirect_uri),
                    scopes,
                    resource_name: match request.resource.as_deref() {
                        Some(r) => kh
                            .resources()
                            .await?
                            .iter()
                            .find(|p| p.uri == r)
                            .map(|p| p.name.clone()),
                        None => None,
                    },
                    resource: request.resource.clone(),
                    consent_required,
                    organization: subject
                        .member
                        .as_ref()
                        .map(|m| b2b::summary(&m.organization)),
                    user: subject.user,
                    // docs/threat-model.md row 51: a refresh token that comes
                    // without offline_access is stated on consent.
                    continues_until_revoked: client.refresh_policy == RefreshPolicy::Always
                        && client.allows_grant(GrantType::RefreshToken),
                },
            ))))
        }
    }
}

/// `POST /api/idp/authorize`: records consent, issues a code and answers the
/// redirect URI (`code`, `state`, `iss`), or `access_denied`.
pub(crate) async fn decide(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(decision): Json<AuthorizeDecision>,
) -> Result<Json<RedirectResponse>, ApiError> {
    record(&kh, &headers, &decision, Side::Users).await
}

/// `POST /api/b2b/idp/authorize`: the same, for a member; the code carries
/// the organization.
pub(crate) async fn decide_b2b(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(decision): Json<AuthorizeDecision>,
) -> Result<Json<RedirectResponse>, ApiError> {
    record(&kh, &headers, &decision, Side::Members).await
}

async fn record(
    kh: &Keyhouse,
    headers: &HeaderMap,
    decision: &AuthorizeDecision,
    side: Side,
) -> Result<Json<RedirectResponse>, ApiError> {
    let (request, client, subject, consent_required) =
        match check(kh, headers, &decision.params, side).await? {
            Checked::Redirect(redirect_uri) => return Ok(Json(RedirectResponse { redirect_uri })),
            Checked::Ready {
                request,
                client,
                subject,
                consent_required,
                ..
            } => (request, client, subject, consent_required),
        };
    // docs/threat-model.md row 49: every decision writes a code and a token
    // family; one session cannot write them without bound.
    let limit = kh.config().decisions_per_session_per_minute;
    if limit > 0 {
        let bucket = format!("decide:{}", subject.session_key);
        let hits = kh
            .store()
            .hit(&bucket, 60, kh.now())
            .await
            .map_err(store_error)?;
        if hits > limit {
            tracing::warn!(subject = %subject.id, hits, "authorization decisions throttled");
            return Err(OAuthError::new(
                ErrorCode::TooManyAttempts,
                "too many authorization requests; wait a minute and try again",
            )
            .into());
        }
    }
    let issuer = &kh.config().issuer;
    if !decision.consent_granted {
        tracing::info!(client_id = %client.id, subject = %subject.id, "consent denied");
        kh.audit(
            &subject.actor(),
            "consent.denied",
            Some(&client.id),
            serde_json::json!({ "scopes": request.scopes.to_string() }),
        )
        .await;
        let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        return Ok(Json(RedirectResponse {
            redirect_uri: request.redirect.error_url(issuer, &e),
        }));
    }
    let now = kh.now();
    let (grant_id, code, family_id) = {
        let mut rng = rand::rng();
        (
            secret::generate_id("grant", &mut rng),
            secret::generate_token(&mut rng),
            secret::generate_id("fam", &mut rng),
        )
    };
    if consent_required {
        kh.store()
            .save_grant(
                &grant_id,
                &subject.id,
                &client.id,
                request.resource.as_deref(),
                &request.scopes,
                now,
            )
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %client.id, subject = %subject.id, organization_id = ?subject.organization_id(), scopes = %request.scopes, "consent granted");
        kh.audit(
            &subject.actor(),
            "consent.granted",
            Some(&client.id),
            serde_json::json!({ "scopes": request.scopes.to_string(), "organization_id": subject.organization_id() }),
        )
        .await;
    }
    kh.store()
        .insert_code(
            &NewCode {
                code_hash: secret::hash_token(&code),
                client_id: client.id.clone(),
                redirect_uri: request.redirect.redirect_uri.clone(),
                subject_id: subject.id.clone(),
                organization_id: subject.organization_id(),
                scopes: request.scopes.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                resource: request.resource.clone(),
                auth_time: subject.auth_time,
                family_id,
                created_at: now,
                expires_at: now + kh.config().code_ttl,
            },
            now + kh.config().refresh_family_ttl,
        )
        .await
        .map_err(store_error)?;
    Ok(Json(RedirectResponse {
        redirect_uri: request.redirect.response_url(issuer, &[("code", &code)]),
    }))
}
