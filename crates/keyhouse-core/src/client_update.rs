//! Editing a Connected App: the fields present in an update request are
//! merged into the client, and the result is checked as a new registration
//! would be. A pure function, so the edge writes nothing when it refuses.

use keyhouse_types::admin::UpdateClientRequest;

use crate::claims;
use crate::client::{self, Client, IdTokenAlg, validate_auth_method};
use crate::error::{ErrorCode, OAuthError};
use crate::logout;

/// A client after an accepted update, with the names of the fields it changed
/// (for the audit log).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The client as it should be stored.
    pub client: Client,
    /// The fields the request set, in a fixed order.
    pub changed: Vec<&'static str>,
}

/// `Some` when the trimmed text is not empty: an empty string clears an
/// optional field.
fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Merges `req` into `current` and checks the result; `current` is never
/// changed, whatever the outcome.
pub fn apply_update(current: &Client, req: &UpdateClientRequest) -> Result<Updated, OAuthError> {
    let mut c = current.clone();
    let mut changed = Vec::new();
    if let Some(n) = &req.name {
        c.name = n.trim().to_owned();
        changed.push("name");
    }
    if let Some(d) = &req.description {
        c.description = d.trim().to_owned();
        changed.push("description");
    }
    if let Some(l) = &req.logo_uri {
        c.logo_uri = optional(l);
        changed.push("logo_uri");
    }
    if let Some(r) = &req.redirect_uris {
        c.redirect_uris = r.iter().map(|u| u.trim().to_owned()).collect();
        changed.push("redirect_uris");
    }
    if let Some(t) = req.client_type {
        // A secret cannot appear or vanish by editing: confidential stays
        // confidential, public stays public.
        if t.is_public() != c.client_type.is_public() {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "a client cannot switch between confidential and public; create a new one",
            ));
        }
        c.client_type = t;
        changed.push("client_type");
    }
    if let Some(ttl) = req.access_token_ttl {
        c.access_token_ttl = ttl;
        changed.push("access_token_ttl");
    }
    if let Some(p) = req.refresh_policy {
        c.refresh_policy = p;
        changed.push("refresh_policy");
    }
    apply_advanced(&mut c, req, &mut changed)?;
    validate_merged(&c)?;
    Ok(Updated { client: c, changed })
}

/// The fields of the dashboard's advanced section.
fn apply_advanced(
    c: &mut Client,
    req: &UpdateClientRequest,
    changed: &mut Vec<&'static str>,
) -> Result<(), OAuthError> {
    if let Some(a) = &req.audience {
        c.audience = optional(a);
        changed.push("audience");
    }
    if let Some(t) = &req.claims_template {
        c.claims_template = optional(t);
        changed.push("claims_template");
    }
    if let Some(g) = &req.grant_types {
        c.grant_types = client::validate_grant_types(c.client_type, g)?;
        changed.push("grant_types");
    }
    if let Some(r) = req.resource_server {
        c.resource_server = r;
        changed.push("resource_server");
    }
    if let Some(m) = &req.token_endpoint_auth_method {
        let m = Some(m.trim()).filter(|m| !m.is_empty());
        c.token_endpoint_auth_method = validate_auth_method(c.client_type, m)?;
        changed.push("token_endpoint_auth_method");
    }
    if let Some(uris) = &req.post_logout_redirect_uris {
        let trimmed: Vec<String> = uris.iter().map(|u| u.trim().to_owned()).collect();
        c.post_logout_redirect_uris =
            logout::validate_post_logout_redirect_uris(&trimmed, c.is_public())?;
        changed.push("post_logout_redirect_uris");
    }
    if let Some(u) = &req.backchannel_logout_uri {
        c.backchannel_logout_uri = optional(u);
        logout::validate_backchannel_logout_uri(c.backchannel_logout_uri.as_deref())?;
        changed.push("backchannel_logout_uri");
    }
    if let Some(r) = req.backchannel_logout_session_required {
        c.backchannel_logout_session_required = r;
        changed.push("backchannel_logout_session_required");
    }
    if let Some(a) = &req.id_token_signed_response_alg {
        c.id_token_alg = IdTokenAlg::validate(Some(a.trim()))?;
        changed.push("id_token_signed_response_alg");
    }
    Ok(())
}

/// The merged client, checked as a new registration is.
fn validate_merged(c: &Client) -> Result<(), OAuthError> {
    client::validate_audience(c.audience.as_deref())?;
    if let Some(t) = &c.claims_template {
        claims::validate_template(t)?;
    }
    client::validate_new_client(
        &c.name,
        c.client_type,
        &c.redirect_uris,
        c.logo_uri.as_deref(),
        c.access_token_ttl,
    )
}

#[cfg(test)]
mod tests {
    use keyhouse_types::ClientType;
    use keyhouse_types::admin::UpdateClientRequest;

    use super::apply_update;
    use crate::client::{Client, ClientOrigin, GrantType, IdTokenAlg, RefreshPolicy};
    use crate::error::ErrorCode;

    fn gpt() -> Client {
        Client {
            id: "client_1".into(),
            client_type: ClientType::ThirdParty,
            name: "GPT".into(),
            description: String::new(),
            logo_uri: Some("https://a.example/logo.png".into()),
            redirect_uris: vec!["https://a.example/cb".into()],
            access_token_ttl: 3600,
            refresh_policy: RefreshPolicy::OfflineAccess,
            created_at: 0,
            audience: None,
            claims_template: None,
            grant_types: GrantType::defaults(),
            resource_server: false,
            token_endpoint_auth_method: None,
            origin: ClientOrigin::Manual,
            default_scopes: Vec::new(),
            refresh_grace: 0,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            id_token_alg: IdTokenAlg::Rs256,
        }
    }

    #[test]
    fn accepted_updates_change_only_what_they_name() {
        type Check = fn(&Client) -> bool;
        let table: [(UpdateClientRequest, &[&str], Check); 6] = [
            (
                UpdateClientRequest {
                    id_token_signed_response_alg: Some("EdDSA".into()),
                    ..Default::default()
                },
                &["id_token_signed_response_alg"],
                |c| c.id_token_alg == IdTokenAlg::EdDsa,
            ),
            (
                UpdateClientRequest {
                    name: Some("  Notes GPT ".into()),
                    ..Default::default()
                },
                &["name"],
                |c| c.name == "Notes GPT" && c.logo_uri.is_some(),
            ),
            (
                UpdateClientRequest {
                    logo_uri: Some(" ".into()),
                    ..Default::default()
                },
                &["logo_uri"],
                |c| c.logo_uri.is_none(),
            ),
            (
                UpdateClientRequest {
                    redirect_uris: Some(vec![" https://b.example/cb ".into()]),
                    refresh_policy: Some(RefreshPolicy::Always),
                    ..Default::default()
                },
                &["redirect_uris", "refresh_policy"],
                |c| {
                    c.redirect_uris == ["https://b.example/cb"]
                        && c.refresh_policy == RefreshPolicy::Always
                },
            ),
            (
                UpdateClientRequest {
                    client_type: Some(ClientType::FirstParty),
                    ..Default::default()
                },
                &["client_type"],
                |c| c.client_type == ClientType::FirstParty,
            ),
            (UpdateClientRequest::default(), &[], |c| {
                *c == super::tests::gpt()
            }),
        ];
        for (req, changed, check) in table {
            let updated = apply_update(&gpt(), &req).expect("accepted");
            assert_eq!(updated.changed, changed, "{req:?}");
            assert!(check(&updated.client), "{req:?}");
        }
    }

    #[test]
    fn refused_updates_name_the_rule_they_break() {
        let table = [
            (
                UpdateClientRequest {
                    client_type: Some(ClientType::ThirdPartyPublic),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    name: Some("   ".into()),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    redirect_uris: Some(vec!["http://evil.example/cb".into()]),
                    ..Default::default()
                },
                ErrorCode::InvalidRedirectUri,
            ),
            (
                UpdateClientRequest {
                    access_token_ttl: Some(5),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    audience: Some("not a url".into()),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    token_endpoint_auth_method: Some("none".into()),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    id_token_signed_response_alg: Some("none".into()),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
            (
                UpdateClientRequest {
                    id_token_signed_response_alg: Some("HS256".into()),
                    ..Default::default()
                },
                ErrorCode::InvalidClientMetadata,
            ),
        ];
        for (req, code) in table {
            let err = apply_update(&gpt(), &req).expect_err("refused");
            assert_eq!(err.code, code, "{req:?}");
        }
    }
}
