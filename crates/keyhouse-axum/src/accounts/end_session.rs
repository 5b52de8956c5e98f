//! OpenID Connect RP-Initiated Logout 1.0. The `end_session_endpoint`,
//! `/oauth2/logout`, takes the request by GET or form POST and sends the
//! browser on to the app's sign-out page (`logout_path`, `/logout`) with
//! the same parameters; that page (a page over a JSON API, decision 0010)
//! posts them to `POST /api/session/end-session/check` and, once the person
//! agrees (or the request proves it comes from a client this session
//! signed into), to `POST /api/session/end-session`.
//!
//! - A request naming a client (`id_token_hint` or `client_id`) may name a
//!   `post_logout_redirect_uri`; it must be one the client registered, byte
//!   for byte, and a request that fails any check is answered with an error
//!   for the page to show: nothing redirects to an unchecked address.
//! - The hint must be an ID token this server signed; an expired one counts
//!   (the specification asks for that: a client signs out long after its ID
//!   token expired).
//! - Signing out ends every Keyhouse session this browser holds (the user's
//!   and a member's), and queues the back-channel notices of every client
//!   those sessions signed into. The clients' tokens are untouched: a
//!   connected app keeps working until the user disconnects it.
//! - The endpoint itself checks nothing and ends nothing: it only moves the
//!   request to the page, so every answer comes from the same checks.

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::rejection::FormRejection};
use keyhouse_core::client::{Client, ClientOrigin};
use keyhouse_core::logout::post_logout_redirect;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_types::logout::{EndSessionCheck, EndSessionDone, EndSessionRequest};
use serde::Deserialize;

use crate::Keyhouse;
use crate::b2b::session::member_cookie_name;
use crate::error::{ApiError, store_error};
use crate::http::cookies::{read_cookie, see_other, set_named_cookie};
use crate::oauth::keys::SigningAlg;

use super::session::cookie_name;

/// The longest `state` carried back, bytes.
const MAX_STATE: usize = 2048;

/// What an `id_token_hint` says once its signature checked out.
#[derive(Debug, Deserialize)]
struct Hint {
    sub: String,
    aud: Audience,
    #[serde(default)]
    sid: Option<String>,
}

/// `aud`: one client id, or a list holding it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn single(&self) -> Option<&str> {
        match self {
            Audience::One(a) => Some(a),
            Audience::Many(list) if list.len() == 1 => list.first().map(String::as_str),
            Audience::Many(_) => None,
        }
    }
}

/// A request that passed every check.
struct Checked {
    client: Option<std::sync::Arc<Client>>,
    hint: Option<Hint>,
    redirect_to: Option<String>,
}

fn invalid(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

async fn check(kh: &Keyhouse, req: &EndSessionRequest) -> Result<Checked, OAuthError> {
    if req.state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(invalid("the state is too long"));
    }
    let hint = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(token) => {
            let hint: Hint = kh
                .keys()
                .verify_ignoring_expiry(token, "JWT", &SigningAlg::ID_TOKEN, &kh.config().issuer)
                .await
                .ok_or_else(|| invalid("the id_token_hint is not an ID token issued here"))?;
            Some(hint)
        }
    };
    let hinted_client = match &hint {
        Some(h) => Some(
            h.aud
                .single()
                .ok_or_else(|| invalid("the id_token_hint names more than one audience"))?
                .to_owned(),
        ),
        None => None,
    };
    let client_id = match (
        hinted_client,
        req.client_id.as_deref().filter(|c| !c.is_empty()),
    ) {
        (Some(h), Some(c)) if h != c => {
            return Err(invalid(
                "the client_id is not the audience of the id_token_hint",
            ));
        }
        (Some(h), _) => Some(h),
        (None, c) => c.map(str::to_owned),
    };
    let client = match &client_id {
        Some(id) => Some(
            kh.named_client(id)
                .await?
                .ok_or_else(|| invalid("the app is not registered here"))?,
        ),
        None => None,
    };
    let redirect_to = match req.post_logout_redirect_uri.as_deref() {
        None | Some("") => None,
        Some(uri) => {
            let Some(c) = &client else {
                return Err(invalid(
                    "a post_logout_redirect_uri needs an id_token_hint or a client_id",
                ));
            };
            Some(
                post_logout_redirect(&c.post_logout_redirect_uris, uri, req.state.as_deref())
                    .ok_or_else(|| {
                        invalid(
                            "the address to return to (post_logout_redirect_uri) is not registered for this app",
                        )
                    })?,
            )
        }
    };
    Ok(Checked {
        client,
        hint,
        redirect_to,
    })
}

/// The sessions this browser holds: (sid, subject) of the user's and of a
/// member's.
async fn sessions_here(
    kh: &Keyhouse,
    headers: &HeaderMap,
) -> Result<Vec<(String, String)>, OAuthError> {
    let mut out = Vec::new();
    if let Some(s) = kh.session(headers).await? {
        out.push((s.session.sid, s.user.id));
    }
    if let Some(m) = kh.member_session(headers).await? {
        out.push((m.session.sid.clone(), m.member.id.clone()));
    }
    Ok(out)
}

/// Whether the request proves it comes from a client one of these sessions
/// signed into: its hint names one of them (by `sid`, or by subject for
/// an ID token that carries none).
fn proven(hint: Option<&Hint>, sessions: &[(String, String)]) -> bool {
    let Some(h) = hint else { return false };
    sessions.iter().any(|(sid, subject)| match &h.sid {
        Some(hinted) => hinted == sid,
        None => *subject == h.sub,
    })
}

impl Checked {
    /// Where the browser may go afterwards. A client an operator registered
    /// was vetted with its addresses; one that registered itself (dynamic
    /// registration, a metadata document) could list any address, so its
    /// address is used only when the request proves this browser signed
    /// into it: otherwise the sign-out page would be an open redirect for
    /// anyone who registers a client.
    fn redirect(&self, sessions: &[(String, String)]) -> Option<String> {
        let vouched = self
            .client
            .as_ref()
            .is_some_and(|c| c.origin == ClientOrigin::Manual);
        self.redirect_to
            .clone()
            .filter(|_| vouched || proven(self.hint.as_ref(), sessions))
    }
}

/// An app that keeps its own users signs them out itself: Keyhouse has no
/// session of theirs to end.
fn own_sessions_only(kh: &Keyhouse) -> Result<(), ApiError> {
    if kh.keeps_own_users() {
        return Err(
            OAuthError::new(ErrorCode::NotFound, "this app signs its users out itself").into(),
        );
    }
    Ok(())
}

fn refused(e: OAuthError) -> ApiError {
    tracing::info!(error = ?e.code, description = ?e.description, "end-session request refused");
    ApiError::from(e)
}

/// `POST /api/session/end-session/check`.
pub(crate) async fn check_request(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(req): Json<EndSessionRequest>,
) -> Result<Json<EndSessionCheck>, ApiError> {
    own_sessions_only(&kh)?;
    let checked = check(&kh, &req).await.map_err(refused)?;
    let sessions = sessions_here(&kh, &headers).await?;
    Ok(Json(EndSessionCheck {
        client_name: checked.client.as_ref().map(|c| c.name.clone()),
        signed_in: !sessions.is_empty(),
        confirm: !sessions.is_empty() && !proven(checked.hint.as_ref(), &sessions),
        returns_to_client: checked.redirect(&sessions).is_some(),
    }))
}

/// `POST /api/session/end-session`: ends every session this browser holds
/// (the page asked the person first when the check said to), clears both
/// cookies, and answers where to go.
pub(crate) async fn end(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(req): Json<EndSessionRequest>,
) -> Result<Response, ApiError> {
    own_sessions_only(&kh)?;
    let checked = check(&kh, &req).await.map_err(refused)?;
    let redirect_to = checked.redirect(&sessions_here(&kh, &headers).await?);
    let now = kh.now();
    let mut ended = 0;
    for name in [cookie_name(&kh), member_cookie_name(&kh)] {
        if let Some(token) = read_cookie(&headers, name)
            && kh
                .store()
                .delete_session(&secret::hash_token(token), now)
                .await
                .map_err(store_error)?
        {
            ended += 1;
        }
    }
    kh.deliver_logout_notices_later();
    tracing::info!(
        client_id = ?checked.client.as_ref().map(|c| c.id.as_str()),
        ended,
        redirect = redirect_to.is_some(),
        "signed out through the end-session endpoint"
    );
    let mut res = Json(EndSessionDone { redirect_to }).into_response();
    for name in [cookie_name(&kh), member_cookie_name(&kh)] {
        if let Some(c) = set_named_cookie(&kh, name, "", 0) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, c);
        }
    }
    Ok(res)
}

/// `GET /oauth2/logout`: the sign-out page, with the same query.
pub(crate) async fn endpoint_get(
    State(kh): State<Keyhouse>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(e) = own_sessions_only(&kh) {
        return e.into_response();
    }
    let page = &kh.config().logout_path;
    match query.filter(|q| !q.is_empty()) {
        Some(q) => see_other(&format!("{page}?{q}")),
        None => see_other(page),
    }
}

/// `POST /oauth2/logout` (a form, as RP-Initiated Logout §2 allows): the
/// sign-out page, with the parameters in its query.
pub(crate) async fn endpoint_post(
    State(kh): State<Keyhouse>,
    form: Result<Form<EndSessionRequest>, FormRejection>,
) -> Response {
    if let Err(e) = own_sessions_only(&kh) {
        return e.into_response();
    }
    let Ok(Form(req)) = form else {
        return (StatusCode::BAD_REQUEST, "malformed logout request").into_response();
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("id_token_hint", &req.id_token_hint),
        ("client_id", &req.client_id),
        ("post_logout_redirect_uri", &req.post_logout_redirect_uri),
        ("state", &req.state),
        ("logout_hint", &req.logout_hint),
        ("ui_locales", &req.ui_locales),
    ] {
        if let Some(v) = value {
            query.append_pair(name, v);
        }
    }
    let query = query.finish();
    let page = &kh.config().logout_path;
    if query.is_empty() {
        see_other(page)
    } else {
        see_other(&format!("{page}?{query}"))
    }
}
