//! `POST /oauth2/introspect` (RFC 7662).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use keyhouse_core::client::Client;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use serde_json::{Value, json};

use crate::Keyhouse;
use crate::error::{TokenError, store_error};
use crate::oauth::token::parse_form;

/// Tells a confidential client whether a token is active. An access token
/// may be introspected by the client it was issued to and by clients the
/// operator marked as resource servers; a refresh token only by its own
/// client. To anyone else every token is `{"active": false}` (RFC 7662
/// §2.2), so one client cannot read another's grants (docs/threat-model.md
/// row 57).
pub(crate) async fn introspect(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, TokenError> {
    let form = parse_form(&headers, &body)?;
    let (client, _) = kh.authenticate_client(&headers, &form).await?;
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "introspection needs a confidential client",
        )
        .into());
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let answer = match access_token_info(&kh, &client, token).await? {
        Some(info) => Some(info),
        None => refresh_token_info(&kh, &client, token).await?,
    };
    Ok(Json(answer.unwrap_or_else(|| json!({ "active": false }))))
}

/// An active access token, for its own client or a resource server.
async fn access_token_info(
    kh: &Keyhouse,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some(c) = kh.verify_access_token(token, None).await? else {
        return Ok(None);
    };
    if c.client_id != client.id && !client.resource_server {
        return Ok(None);
    }
    let mut body = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": c.scope,
        "client_id": c.client_id,
        "sub": c.sub,
        "aud": c.aud,
        "iss": c.iss,
        "exp": c.exp,
        "iat": c.iat,
        "nbf": c.nbf,
        "jti": c.jti,
    });
    if let Some(org) = &c.organization {
        body["organization"] = json!(org);
    }
    Ok(Some(body))
}

/// An active refresh token (not rotated, not expired, its family live), for
/// its own client only.
async fn refresh_token_info(
    kh: &Keyhouse,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let now = kh.now();
    let Some((rt, rotated_at, family)) = kh
        .store()
        .find_refresh(&secret::hash_token(token))
        .await
        .map_err(store_error)?
    else {
        return Ok(None);
    };
    let active = rotated_at.is_none()
        && rt.expires_at > now
        && family.is_active(now)
        && family.client_id == client.id;
    if !active {
        return Ok(None);
    }
    let organization = kh
        .organization_claim(family.organization_id.as_deref())
        .await
        .ok()
        .flatten();
    let mut body = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": family.scopes.to_string(),
        "client_id": family.client_id,
        "sub": family.subject_id,
        "iss": kh.config().issuer,
        "exp": rt.expires_at,
        "iat": rt.created_at,
    });
    if let Some(org) = organization {
        body["organization"] = json!(org);
    }
    Ok(Some(body))
}
