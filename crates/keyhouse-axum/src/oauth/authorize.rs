//! The backend of the `/idp` component: `POST /api/idp/authorize/start`
//! describes a request, `POST /api/idp/authorize` decides it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use keyhouse_core::authorize::{
    self, AuthorizePolicy, RawRequest, RedirectError, ValidatedRequest, VerifiedRedirect,
};
use keyhouse_core::client::{Client, ClientOrigin, GrantType, RefreshPolicy};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet, assurance, consent, redirect_uri, secret};
use keyhouse_store::{NewCode, NewGrant};
use keyhouse_types::{
    AuthorizeDecision, AuthorizeParams, AuthorizeStart, AuthorizeStartInPage,
    AuthorizeStartResponse, ClientSummary, RedirectResponse, ScopeDescription, SessionUser,
};

use crate::b2b::CurrentMember;
use crate::error::{ApiError, PageError, api_refusal, store_error};
use crate::http::json::JsonBody;
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
    /// How they authenticated (RFC 8176 `amr`).
    amr: Vec<String>,
    user: SessionUser,
    /// For members: their session, organization and permissions.
    member: Option<Box<CurrentMember>>,
    /// The hash of the session id, for per-session limits.
    session_key: String,
    /// The session's `sid`, when Keyhouse keeps the session.
    sid: Option<String>,
}

impl Subject {
    async fn load(kh: &Keyhouse, parts: &Parts, side: Side) -> Result<Option<Subject>, OAuthError> {
        Ok(match side {
            Side::Users => kh.end_user(parts).await?.map(|u| Subject {
                id: u.id,
                auth_time: u.auth_time,
                amr: u.amr,
                user: u.user,
                member: None,
                session_key: u.session_key,
                sid: u.sid,
            }),
            Side::Members => kh.member_session(&parts.headers).await?.map(|m| Subject {
                id: m.member.id.clone(),
                auth_time: m.session.auth_time,
                amr: m.session.amr.clone(),
                user: m.user(),
                session_key: m.session.id_hash.clone(),
                sid: Some(m.session.sid.clone()),
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

/// A request that passed every check, with its signed-in subject.
struct Ready {
    request: Box<ValidatedRequest>,
    /// Everything the client asked for; `request.scopes` keeps only what
    /// this subject may grant.
    requested: ScopeSet,
    client: Arc<Client>,
    subject: Box<Subject>,
    consent_required: bool,
}

/// Where the pipeline stopped.
enum Stop {
    /// Shown on the page, never redirected: an unknown client or redirect
    /// URI, or something the person must act on (sign in, a refusal by the
    /// organization).
    Show(PageError),
    /// Sent back to the client's verified redirect URI with this URL.
    Redirect(String),
}

impl<E: Into<ApiError>> From<E> for Stop {
    fn from(e: E) -> Stop {
        Stop::Show(PageError::from(e))
    }
}

/// An error for the client, at its verified redirect URI (RFC 6749 §4.1.2.1).
fn redirect_error(kh: &Keyhouse, redirect: &VerifiedRedirect, error: OAuthError) -> Stop {
    tracing::info!(client_id = %redirect.client_id, error = %error, "authorization request refused (redirected)");
    Stop::Redirect(redirect.error_url(&kh.config().issuer, &error))
}

/// The whole pipeline, a chain of named steps. Until the redirect URI is
/// verified every failure is shown on the page; after it, the protocol's
/// failures go back to the client.
async fn check(
    kh: &Keyhouse,
    parts: &Parts,
    params: &AuthorizeParams,
    side: Side,
) -> Result<Ready, Stop> {
    let raw = RawRequest::from_params(params)?;
    let client = registered_client(kh, &raw).await?;
    let redirect = authorize::verify_client_redirect(&raw, &client)?;
    let mut request = validated(kh, &raw, redirect, &client).await?;
    let subject = signed_in(kh, parts, side, &request).await?;
    let requested = request.scopes.clone();
    if let Some(m) = &subject.member {
        organization_allows(m, &client)?;
        request.scopes = grantable_scopes(kh, m, &requested).await?;
    }
    let consent_required = consent_decision(kh, &subject, &client, &request).await?;
    Ok(Ready {
        request: Box::new(request),
        requested,
        client,
        subject: Box::new(subject),
        consent_required,
    })
}

/// The client the request names; an unknown one gets an error page.
async fn registered_client(kh: &Keyhouse, raw: &RawRequest) -> Result<Arc<Client>, Stop> {
    let client_id = raw.client_id()?;
    let client = kh.client(client_id).await?.ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidClient,
            "this application is not registered here",
        )
        .with_debug(format!("unknown client_id {client_id}"))
    })?;
    Ok(client)
}

/// The request's parameters against the client and this deployment's
/// scopes and resources (`keyhouse_core::authorize::validate`).
async fn validated(
    kh: &Keyhouse,
    raw: &RawRequest,
    redirect: VerifiedRedirect,
    client: &Client,
) -> Result<ValidatedRequest, Stop> {
    let protected = kh.resources().await?;
    let resources = kh.audiences(&protected);
    let policy = AuthorizePolicy {
        catalog: &kh.config().scopes,
        resources: &resources,
        protected: &protected,
        default_scopes: &kh.config().default_scopes,
    };
    authorize::validate(raw, redirect, client, &policy).map_err(|e| {
        let RedirectError { redirect, error } = *e;
        redirect_error(kh, &redirect, error)
    })
}

/// The signed-in subject, recently enough for `prompt=login` and `max_age`
/// (OIDC Core §3.1.2.1). Without one: `login_required`, redirected for
/// `prompt=none`, otherwise shown so the component sends the person to sign in.
async fn signed_in(
    kh: &Keyhouse,
    parts: &Parts,
    side: Side,
    request: &ValidatedRequest,
) -> Result<Subject, Stop> {
    match Subject::load(kh, parts, side).await? {
        Some(s)
            if !consent::reauthentication_required(
                request.prompt,
                request.max_age,
                s.auth_time,
                kh.now(),
            ) =>
        {
            strong_enough(kh, s, request)
        }
        _ if request.prompt.none => {
            let e = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            Err(redirect_error(kh, &request.redirect, e))
        }
        _ => Err(Stop::Show(PageError {
            error: OAuthError::new(ErrorCode::LoginRequired, "sign in to continue").into(),
            login_url: kh.login_hint(),
        })),
    }
}

/// The subject, when their sign-in is as strong as the request's
/// `acr_values` ask (docs/threat-model.md row 112). Otherwise `prompt=none`
/// gets `interaction_required` at the redirect URI. A session that does
/// not say how it signed in (one from before Keyhouse recorded it) is sent
/// to sign in again, which records it; an app's own sign-in that reports
/// nothing ([`crate::SignedIn::with_amr`]) cannot meet a demand. For two
/// factors, a user with a second factor is asked for it
/// (`second_factor_required`: the component steps the session up and asks
/// again); anyone else is told to turn one on. For a phishing-resistant
/// sign-in, only a passkey will do (`passkey_required`; the account's or the
/// member's).
fn strong_enough(kh: &Keyhouse, s: Subject, request: &ValidatedRequest) -> Result<Subject, Stop> {
    // docs/threat-model.md row 183: a member session of an organization
    // that requires single sign-on, opened another way (before the
    // requirement), authorizes nothing.
    if let Some(m) = s
        .member
        .as_ref()
        .filter(|m| m.organization.sso_required && !s.amr.iter().any(|a| a == assurance::amr::FED))
    {
        tracing::info!(subject = %s.id, organization_id = %m.organization.id, "authorization refused: the organization requires single sign-on");
        if request.prompt.none {
            let e = OAuthError::new(
                ErrorCode::InteractionRequired,
                "the organization requires single sign-on",
            );
            return Err(redirect_error(kh, &request.redirect, e));
        }
        return Err(Stop::Show(PageError {
            error: crate::b2b::sso::sso_required(&m.organization).into(),
            login_url: None,
        }));
    }
    // An organization that asks its members for two factors asks it of
    // every app too, whatever the request's `acr_values`.
    let organization = s
        .member
        .as_ref()
        .and_then(|m| b2b::required_level(m.organization.required_sign_in));
    let demand = request.acr.max(organization);
    if assurance::satisfies(&s.amr, demand) {
        return Ok(s);
    }
    tracing::info!(subject = %s.id, amr = ?s.amr, demanded = ?request.acr, ?organization, "sign-in weaker than acr_values or the organization ask");
    if request.prompt.none {
        let e = OAuthError::new(
            ErrorCode::InteractionRequired,
            "the app asks for a stronger sign-in than this session's",
        );
        return Err(redirect_error(kh, &request.redirect, e));
    }
    if assurance::Level::of(&s.amr) == assurance::Level::Unknown {
        let error = match kh.keeps_own_users() && s.member.is_none() {
            true => OAuthError::new(
                ErrorCode::AccessDenied,
                "the app asks for a sign-in level this site does not report",
            ),
            false => OAuthError::new(ErrorCode::LoginRequired, "sign in again to continue"),
        };
        return Err(Stop::Show(PageError {
            error: error.into(),
            login_url: None,
        }));
    }
    if demand == Some(assurance::Level::PhishingResistant) {
        // Only a passkey gives it: signing in with one steps the session up.
        // Where there are none (an app's own users, an issuer at an
        // address) the request cannot be met. Members always have them
        // where the issuer can.
        let can = match s.member {
            Some(_) => crate::accounts::passkeys::relying_party(kh).is_ok(),
            None => kh.offers_passkeys(),
        };
        // The organization's own words, when it is the one asking.
        if let (true, Some(m), Some(assurance::Level::PhishingResistant)) =
            (can, &s.member, organization)
        {
            return Err(Stop::Show(PageError {
                error: m.policy_refusal().into(),
                login_url: None,
            }));
        }
        let error = match can {
            true => OAuthError::new(
                ErrorCode::PasskeyRequired,
                "this app asks for a passkey: sign in with one, or add one in your account settings, then come back",
            ),
            false => OAuthError::new(
                ErrorCode::AccessDenied,
                "the app asks for a passkey sign-in, which this site does not offer",
            ),
        };
        return Err(Stop::Show(PageError {
            error: error.into(),
            login_url: None,
        }));
    }
    let error = match (&s.member, organization.is_some()) {
        // The organization's own words, when it is the one asking.
        (Some(m), true) => m.policy_refusal(),
        _ if s.user.second_factor => OAuthError::new(
            ErrorCode::SecondFactorRequired,
            "this app asks for two-step verification: enter the code from your authenticator app",
        ),
        _ => OAuthError::new(
            ErrorCode::SecondFactorSetupRequired,
            "this app asks for two-step verification: turn it on in your account settings, then come back",
        ),
    };
    Err(Stop::Show(PageError {
        error: error.into(),
        login_url: None,
    }))
}

/// The organization decides which apps its members may use.
fn organization_allows(m: &CurrentMember, client: &Client) -> Result<(), OAuthError> {
    if m.organization
        .connected_apps
        .allows(&client.id, client.client_type)
    {
        return Ok(());
    }
    let kind = if client.client_type.is_first_party() {
        "first-party"
    } else {
        "third-party"
    };
    Err(OAuthError::new(
        ErrorCode::AccessDenied,
        format!("{} does not allow this {kind} app", m.organization.name),
    )
    .with_debug(format!(
        "organization {} refused client {}",
        m.organization.id, client.id
    )))
}

/// A member grants only what their roles cover; the rest is listed apart on
/// the consent screen and never reaches the token.
async fn grantable_scopes(
    kh: &Keyhouse,
    m: &CurrentMember,
    requested: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let rbac = kh.rbac().await?;
    Ok(requested.filter(|s| rbac.grantable(&m.permissions, s)))
}

/// Whether the person must be asked (`keyhouse_core::consent`), given what
/// they granted this client before; `prompt=none` cannot ask, so it gets
/// `consent_required` at the redirect URI.
async fn consent_decision(
    kh: &Keyhouse,
    subject: &Subject,
    client: &Client,
    request: &ValidatedRequest,
) -> Result<bool, Stop> {
    let granted = kh
        .store()
        .find_grant(&subject.id, &client.id, request.resource.as_deref())
        .await
        .map_err(store_error)?;
    let required = consent::consent_required(
        client.client_type,
        request.prompt,
        &request.scopes,
        granted.as_ref(),
    );
    if required && request.prompt.none {
        let e = OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not approved this application",
        );
        return Err(redirect_error(kh, &request.redirect, e));
    }
    Ok(required)
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
    parts: Parts,
    JsonBody(params): JsonBody<AuthorizeParams>,
) -> Result<Json<AuthorizeStartResponse>, PageError> {
    describe(&kh, &parts, &params, Side::Users).await
}

/// `POST /api/b2b/idp/authorize/start`.
pub(crate) async fn start_b2b(
    State(kh): State<Keyhouse>,
    parts: Parts,
    JsonBody(params): JsonBody<AuthorizeParams>,
) -> Result<Json<AuthorizeStartResponse>, PageError> {
    describe(&kh, &parts, &params, Side::Members).await
}

impl Keyhouse {
    /// What the authorize API's start would answer the browser whose
    /// request `parts` are, for the authorization request in `page` (the
    /// `/idp` page's path and query, its parameters parsed as the component
    /// parses them): for a server that writes the answer into the page
    /// ([`AuthorizeStartInPage::to_html`]), so the component starts without
    /// a round trip. `members` answers as `/api/b2b/idp/authorize/start`.
    ///
    /// It has no effect the API call would not have (the session is seen,
    /// a client identified by a metadata document may be fetched and
    /// stored), and a refusal is logged the same way. It issues no code.
    /// Give it a time budget: such a fetch can take seconds.
    pub async fn authorize_start_in_page(
        &self,
        parts: &Parts,
        page: &str,
        params: &AuthorizeParams,
        members: bool,
    ) -> AuthorizeStartInPage {
        let side = if members { Side::Members } else { Side::Users };
        match describe(self, parts, params, side).await {
            Ok(Json(answer)) => AuthorizeStartInPage {
                page: page.to_owned(),
                members,
                status: 200,
                answer: Some(answer),
                error: None,
            },
            Err(e) => {
                let (status, body) = api_refusal(&e.error.0, e.login_url);
                AuthorizeStartInPage {
                    page: page.to_owned(),
                    members,
                    status: status.as_u16(),
                    answer: None,
                    error: Some(body),
                }
            }
        }
    }
}

async fn describe(
    kh: &Keyhouse,
    parts: &Parts,
    params: &AuthorizeParams,
    side: Side,
) -> Result<Json<AuthorizeStartResponse>, PageError> {
    let ready = match check(kh, parts, params, side).await {
        Ok(ready) => ready,
        Err(Stop::Redirect(redirect_uri)) => {
            return Ok(Json(AuthorizeStartResponse::Redirect(RedirectResponse {
                redirect_uri,
            })));
        }
        Err(Stop::Show(e)) => return Err(e),
    };
    let resource_name = match ready.request.resource.as_deref() {
        Some(r) => kh
            .resources()
            .await?
            .iter()
            .find(|p| p.uri == r)
            .map(|p| p.name.clone()),
        None => None,
    };
    Ok(Json(AuthorizeStartResponse::Describe(Box::new(
        consent_screen(kh, ready, resource_name),
    ))))
}

/// What the consent screen shows: who asks, where the browser will go, and
/// each requested scope with whether this person may grant it.
fn consent_screen(kh: &Keyhouse, ready: Ready, resource_name: Option<String>) -> AuthorizeStart {
    let Ready {
        request,
        requested,
        client,
        subject,
        consent_required,
    } = ready;
    let scopes = requested
        .iter()
        .map(|s| ScopeDescription {
            scope: s.to_owned(),
            description: kh.scope_description(s),
            // Users may grant every scope the deployment offers; members
            // only what their roles cover.
            grantable: request.scopes.contains(s),
        })
        .collect();
    AuthorizeStart {
        client: client_summary(kh, &client),
        redirect_host: redirect_uri::display_host(&request.redirect.redirect_uri),
        redirect_is_local: redirect_uri::is_loopback(&request.redirect.redirect_uri),
        scopes,
        resource_name,
        resource: request.resource.clone(),
        consent_required,
        organization: subject
            .member
            .as_ref()
            .map(|m| b2b::summary(&m.organization)),
        user: subject.user,
        // docs/threat-model.md row 51: a refresh token that comes without
        // offline_access is stated on consent.
        continues_until_revoked: client.refresh_policy == RefreshPolicy::Always
            && client.allows_grant(GrantType::RefreshToken),
    }
}

impl Keyhouse {
    /// What the consent screen and the connected-apps list say a scope
    /// grants (empty for a scope the catalogue does not describe).
    pub(crate) fn scope_description(&self, scope: &str) -> String {
        self.config()
            .scopes
            .get(scope)
            .map(|d| d.description.clone())
            .unwrap_or_default()
    }
}

/// The client as the consent screen names it.
fn client_summary(kh: &Keyhouse, client: &Client) -> ClientSummary {
    ClientSummary {
        client_id: client.id.clone(),
        name: client.name.clone(),
        description: client.description.clone(),
        // docs/threat-model.md rows 55 and 74: the consent page loads nothing
        // from the client's host; its logo comes through Keyhouse.
        logo_uri: kh.logo_url(client),
        client_type: client.client_type,
        verified_domain: verified_domain(client),
        self_registered: client.origin == ClientOrigin::Dynamic,
    }
}

/// `POST /api/idp/authorize`: records consent, issues a code and answers the
/// redirect URI (`code`, `state`, `iss`), or `access_denied`.
pub(crate) async fn decide(
    State(kh): State<Keyhouse>,
    parts: Parts,
    JsonBody(decision): JsonBody<AuthorizeDecision>,
) -> Result<Json<RedirectResponse>, PageError> {
    record(&kh, &parts, &decision, Side::Users).await
}

/// `POST /api/b2b/idp/authorize`: the same, for a member; the code carries
/// the organization.
pub(crate) async fn decide_b2b(
    State(kh): State<Keyhouse>,
    parts: Parts,
    JsonBody(decision): JsonBody<AuthorizeDecision>,
) -> Result<Json<RedirectResponse>, PageError> {
    record(&kh, &parts, &decision, Side::Members).await
}

/// The decision: the whole pipeline runs again (nothing from the first call
/// is trusted), then a refusal goes back as `access_denied` and an approval
/// stores the consent and a code.
pub(super) async fn record(
    kh: &Keyhouse,
    parts: &Parts,
    decision: &AuthorizeDecision,
    side: Side,
) -> Result<Json<RedirectResponse>, PageError> {
    let ready = match check(kh, parts, &decision.params, side).await {
        Ok(ready) => ready,
        Err(Stop::Redirect(redirect_uri)) => return Ok(Json(RedirectResponse { redirect_uri })),
        Err(Stop::Show(e)) => return Err(e),
    };
    within_decision_limit(kh, &ready.subject).await?;
    let redirect_uri = if decision.consent_granted {
        approve(kh, &ready).await?
    } else {
        deny(kh, &ready).await
    };
    Ok(Json(RedirectResponse { redirect_uri }))
}

/// docs/threat-model.md row 49: every decision writes a code and a token
/// family; one session cannot write them without bound.
async fn within_decision_limit(kh: &Keyhouse, subject: &Subject) -> Result<(), OAuthError> {
    let limit = kh.config().decisions_per_session_per_minute;
    if limit == 0 {
        return Ok(());
    }
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
        ));
    }
    Ok(())
}

/// The person refused: `access_denied` at the redirect URI, and an audit entry.
async fn deny(kh: &Keyhouse, ready: &Ready) -> String {
    let (client, subject) = (&ready.client, &ready.subject);
    tracing::info!(client_id = %client.id, subject = %subject.id, "consent denied");
    kh.audit(
        &subject.actor(),
        "consent.denied",
        Some(&client.id),
        serde_json::json!({ "scopes": ready.request.scopes.to_string() }),
    )
    .await;
    let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
    ready.request.redirect.error_url(&kh.config().issuer, &e)
}

/// The person approved: the consent is remembered when it was asked for,
/// and a code is stored (only its hash) with the empty token family its
/// exchange fills. Answers the redirect URI with `code`, `state` and `iss`.
async fn approve(kh: &Keyhouse, ready: &Ready) -> Result<String, OAuthError> {
    let (request, client, subject) = (&ready.request, &ready.client, &ready.subject);
    let now = kh.now();
    let (grant_id, code, family_id) = {
        let mut rng = rand::rng();
        (
            secret::generate_id("grant", &mut rng),
            secret::generate_token(&mut rng),
            secret::generate_id("fam", &mut rng),
        )
    };
    if ready.consent_required {
        remember_consent(kh, ready, &grant_id, now).await?;
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
                amr: subject.amr.clone(),
                family_id,
                sid: subject.sid.clone(),
                created_at: now,
                expires_at: now + kh.config().code_ttl,
            },
            now + kh.config().refresh_family_ttl,
        )
        .await
        .map_err(store_error)?;
    Ok(request
        .redirect
        .response_url(&kh.config().issuer, &[("code", &code)]))
}

/// Stores the consent (added to what was granted before) and audits it.
async fn remember_consent(
    kh: &Keyhouse,
    ready: &Ready,
    grant_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let (request, client, subject) = (&ready.request, &ready.client, &ready.subject);
    kh.store()
        .save_grant(&NewGrant {
            id: grant_id,
            subject_id: &subject.id,
            client_id: &client.id,
            resource: request.resource.as_deref(),
            scopes: &request.scopes,
            now,
        })
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
    Ok(())
}
