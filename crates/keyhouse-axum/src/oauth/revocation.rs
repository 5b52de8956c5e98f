//! `POST /oauth2/revoke` (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use keyhouse_core::secret;

use crate::Keyhouse;
use crate::error::{TokenError, store_error};
use crate::oauth::token::parse_form;

/// Revokes a refresh token (and with it its whole family, so access tokens
/// issued from it stop working too) or an access token. RFC 7009 §2.2:
/// 200 whether or not the token was known, so it reveals nothing.
pub(crate) async fn revoke(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, TokenError> {
    let form = parse_form(&headers, &body)?;
    let (client, _) = kh.authenticate_client(&headers, &form).await?;
    let Some(token) = form.get("token") else {
        return Err(keyhouse_core::OAuthError::invalid_request("token is missing").into());
    };
    let now = kh.now();
    // A refresh token is looked up by hash; anything else is tried as an
    // access token. `token_type_hint` only orders the attempts (§2.1), and
    // both lookups are cheap, so it is not needed.
    if let Some((_, _, family)) = kh
        .store()
        .find_refresh(&secret::hash_token(token))
        .await
        .map_err(store_error)?
    {
        if family.client_id == client.id {
            kh.store()
                .revoke_family(&family.id, now)
                .await
                .map_err(store_error)?;
            tracing::info!(client_id = %client.id, family = %family.id, "refresh token family revoked");
        }
        return Ok(StatusCode::OK);
    }
    let claims = kh.verify_access_token(token, None).await?;
    if let Some(claims) = claims.filter(|c| c.client_id == client.id) {
        kh.store()
            .revoke_jti(&claims.jti, claims.exp)
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %client.id, jti = %claims.jti, "access token revoked");
    }
    Ok(StatusCode::OK)
}
