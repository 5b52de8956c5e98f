//! `GET/POST /oauth2/userinfo` (OIDC Core §5.3).

use axum::Json;
use axum::extract::{Request, State};
use keyhouse_core::ScopeSet;
use keyhouse_core::claims::ProfileClaims;
use keyhouse_core::scope::OPENID;
use serde_json::{Value, json};

use crate::Keyhouse;
use crate::error::BearerError;
use crate::http::extract::bearer;

/// Answers the claims the token's scopes release.
pub(crate) async fn userinfo(
    State(kh): State<Keyhouse>,
    req: Request,
) -> Result<Json<Value>, BearerError> {
    let (parts, _) = req.into_parts();
    let token = bearer(&parts)?.to_owned();
    let audiences = [
        kh.config().issuer.clone(),
        kh.config().default_audience.clone(),
    ];
    let claims = match kh.verify_access_token(&token, Some(&audiences)).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(BearerError::invalid(
                "the access token is invalid, expired or revoked",
            ));
        }
        Err(e) => return Err(BearerError::unavailable(e.to_string())),
    };
    let scopes = ScopeSet::from_tokens(claims.scope.split(' ').filter(|s| !s.is_empty()));
    if !scopes.contains(OPENID) {
        return Err(BearerError::insufficient(OPENID));
    }
    let profile = match kh.profile(&claims.sub, claims.organization.as_ref()).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(BearerError::invalid("the user no longer exists")),
        Err(e) => return Err(BearerError::unavailable(e.to_string())),
    };
    let mut body = json!({ "sub": profile.subject });
    if let (Value::Object(map), Ok(Value::Object(extra))) = (
        &mut body,
        serde_json::to_value(ProfileClaims::for_scopes(&profile, &scopes)),
    ) {
        map.extend(extra);
        if let Some(org) = &profile.organization {
            map.insert("organization".into(), json!(org));
        }
    }
    Ok(Json(body))
}
