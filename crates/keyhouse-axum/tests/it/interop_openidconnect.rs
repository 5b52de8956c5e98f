//! Interoperability: the `openidconnect` crate (v4) runs the whole
//! authorization-code flow against a real Keyhouse server — discovery,
//! authorize (PKCE, state, nonce), code exchange, ID-token verification
//! (signature from the discovered JWKS, `at_hash`), userinfo and refresh
//! rotation — with none of our own client code speaking the protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use keyhouse_core::ClientType;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata, CoreTokenType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope,
    TokenResponse,
};
use serde_json::Value;

const EMAIL: &str = "ada@example.com";

/// The HTTP client openidconnect uses: no redirects followed (its docs'
/// SSRF advice).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// The browser step of a flow whose authorize URL openidconnect built: the
/// `/idp` page posts its query to the authorize API and the user approves;
/// the code the redirect carries.
async fn approved(
    s: &common::TestServer,
    browser: &reqwest::Client,
    auth_url: &url::Url,
) -> String {
    let pairs: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    let params: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body: Value = s
        .authorize(browser, &params, true)
        .await
        .json()
        .await
        .expect("json");
    common::query_of(body["redirect_uri"].as_str().expect("redirect_uri"))["code"].clone()
}

/// Runs the full flow with a third-party client of type `t`.
async fn full_flow(t: ClientType) {
    let s = common::spawn().await;
    let http = http_client();

    // 1. Discovery (downloads the JWKS as well).
    let issuer = IssuerUrl::new(s.base.clone()).expect("issuer url");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    assert_eq!(metadata.issuer().as_str(), s.base);
    assert!(
        !metadata.jwks().keys().is_empty(),
        "JWKS downloaded by discovery"
    );

    // 2. The client, from the provider metadata.
    let created = s.client(t).await;
    let client_id = created.client.id.clone();
    let public = created.client_secret.is_none();
    assert_eq!(public, t == ClientType::ThirdPartyPublic);
    let mut client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        created.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(common::REDIRECT.to_owned()).expect("redirect url"));
    if public {
        // token_endpoint_auth_method=none: client_id in the body, no secret.
        client = client.set_auth_type(AuthType::RequestBody);
    }

    // 3. The authorization request, built by openidconnect.
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(pkce_challenge);
    if public {
        // Public third-party clients get refresh tokens only for offline_access.
        request = request.add_scope(Scope::new("offline_access".to_owned()));
    }
    let (auth_url, csrf, nonce) = request.url();
    assert_eq!(
        format!(
            "{}://{}{}",
            auth_url.scheme(),
            auth_url.authority(),
            auth_url.path()
        ),
        s.url("/idp")
    );
    let pairs: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    let find = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(find("code_challenge_method"), Some("S256"));
    assert!(find("scope").is_some_and(|sc| sc.split(' ').any(|x| x == "openid")));

    // The browser step: the /idp page posts the query to the authorize API.
    s.user(EMAIL).await;
    let browser = s.signed_in(EMAIL).await;
    let params: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = s.authorize(&browser, &params, true).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let redirect = body["redirect_uri"].as_str().expect("redirect_uri");
    assert!(redirect.starts_with(common::REDIRECT), "{redirect}");
    let back = common::query_of(redirect);
    assert_eq!(
        back.get("state").map(String::as_str),
        Some(csrf.secret().as_str())
    );
    assert_eq!(back.get("iss").map(String::as_str), Some(s.base.as_str()));
    assert!(!back.contains_key("error"), "{back:?}");
    let code = back.get("code").expect("code").clone();

    // 4. Code exchange with the PKCE verifier, then ID-token verification.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .expect("token endpoint known")
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert_eq!(*tokens.token_type(), CoreTokenType::Bearer);
    assert!(tokens.expires_in().is_some());
    let id_token = tokens.id_token().expect("id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("valid id_token");
    assert_eq!(claims.issuer().as_str(), s.base);
    assert!(claims.audiences().iter().any(|a| a.as_str() == client_id));
    assert_eq!(claims.nonce().map(Nonce::secret), Some(nonce.secret()));
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Ada Lovelace")
    );
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("signing key"),
    )
    .expect("hash");
    assert_eq!(actual_hash, *expected_hash);
    let subject = claims.subject().clone();

    // 5. Userinfo.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), Some(subject.clone()))
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(*info.subject(), subject);
    assert_eq!(info.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Ada Lovelace")
    );

    // 6. Refresh: a new access token and a rotated refresh token.
    let old_refresh = tokens.refresh_token().expect("refresh_token").clone();
    let refreshed = client
        .exchange_refresh_token(&old_refresh)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let new_refresh = refreshed
        .refresh_token()
        .expect("rotated refresh_token")
        .clone();
    assert_ne!(new_refresh.secret(), old_refresh.secret());
    let info: CoreUserInfoClaims = client
        .user_info(refreshed.access_token().to_owned(), Some(subject.clone()))
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo with the refreshed token");
    assert_eq!(*info.subject(), subject);

    // The old refresh token is spent; reusing it is refused...
    let reuse = client
        .exchange_refresh_token(&old_refresh)
        .expect("token endpoint known")
        .request_async(&http)
        .await;
    assert!(
        matches!(&reuse, Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant),
        "{reuse:?}"
    );
    // ...and revokes the family, so the rotated one is dead too.
    let after = client
        .exchange_refresh_token(&new_refresh)
        .expect("token endpoint known")
        .request_async(&http)
        .await;
    assert!(
        matches!(&after, Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant),
        "{after:?}"
    );
    // The code is single-use (a replay also revokes what it issued, so
    // this comes last).
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .request_async(&http)
        .await;
    assert!(
        matches!(&replay, Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant),
        "{replay:?}"
    );
}

#[tokio::test]
async fn confidential_client_full_flow() {
    full_flow(ClientType::ThirdParty).await;
}

#[tokio::test]
async fn public_client_full_flow() {
    full_flow(ClientType::ThirdPartyPublic).await;
}

/// The flow `openidconnect` runs when it asks for the level `acr` with
/// `acr_values` (from the levels discovery lists): the browser `sign_in`
/// gives approves, and the ID token's `acr` and `amr` as openidconnect
/// reads them after verifying it. `http` reaches the issuer.
async fn acr_and_amr_after(
    s: &common::TestServer,
    http: &reqwest::Client,
    acr: &str,
    sign_in: impl AsyncFnOnce() -> reqwest::Client,
) -> (String, Vec<String>) {
    use openidconnect::AuthenticationContextClass;

    let issuer = IssuerUrl::new(s.kh.config().issuer.clone()).expect("issuer url");
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .expect("discovery");
    let level = AuthenticationContextClass::new(acr.to_owned());
    assert!(
        metadata
            .acr_values_supported()
            .is_some_and(|v| v.contains(&level))
    );
    let created = s.client(ClientType::ThirdParty).await;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(created.client.id.clone()),
        created.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(common::REDIRECT.to_owned()).expect("redirect url"));
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_auth_context_value(level)
        .set_pkce_challenge(pkce_challenge)
        .url();
    let browser = sign_in().await;
    let code = approved(s, &browser, &auth_url).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(pkce_verifier)
        .request_async(http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("valid id_token");
    let acr = claims
        .auth_context_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let amr = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    (acr, amr)
}

/// Two factors: the user turns an authenticator app on, then signs in
/// with the password and a recovery code.
#[tokio::test]
async fn acr_and_amr_after_a_second_factor() {
    use keyhouse_core::assurance::ACR_TWO_FACTORS;

    let s = common::spawn().await;
    s.user(EMAIL).await;
    let sign_in = async || {
        let setup_browser = s.signed_in(EMAIL).await;
        let setup: Value = common::post(
            &setup_browser,
            &s,
            "/api/account/second-factor/setup",
            serde_json::json!({"password": common::PASSWORD}),
        )
        .await
        .json()
        .await
        .expect("setup");
        let secret = keyhouse_core::totp::decode_secret(setup["secret"].as_str().expect("secret"))
            .expect("base32");
        let code = keyhouse_core::totp::code_at(&secret, s.kh.now());
        let on: Value = common::post(
            &setup_browser,
            &s,
            "/api/account/second-factor/enable",
            serde_json::json!({"code": code}),
        )
        .await
        .json()
        .await
        .expect("enable");
        let browser = common::browser();
        let res = common::post(
            &browser,
            &s,
            "/api/session/login",
            serde_json::json!({"email": EMAIL, "password": common::PASSWORD}),
        )
        .await;
        assert_eq!(res.status(), 401);
        let res = common::post(
            &browser,
            &s,
            "/api/session/second-factor",
            serde_json::json!({"code": on["codes"][0]}),
        )
        .await;
        assert_eq!(res.status(), 200);
        browser
    };
    let (acr, amr) = acr_and_amr_after(&s, &http_client(), ACR_TWO_FACTORS, sign_in).await;
    assert_eq!(acr, ACR_TWO_FACTORS);
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
}

/// Phishing-resistant: the user adds a passkey, then a new browser signs in
/// with it alone (the software authenticator of `common::authenticator`).
/// The issuer is `http://localhost:PORT` (passkeys need a domain name);
/// openidconnect's HTTP client resolves that name to 127.0.0.1 itself.
#[tokio::test]
async fn acr_and_amr_after_a_passkey() {
    use common::authenticator::{Ceremony, SoftPasskey};
    use keyhouse_core::assurance::ACR_PHISHING_RESISTANT;

    let s = common::spawn_with(
        |c| c.issuer = c.issuer.replace("127.0.0.1", "localhost"),
        false,
    )
    .await;
    let addr: std::net::SocketAddr = s
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("listening address");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .build()
        .expect("http client");
    s.user(EMAIL).await;
    let sign_in = async || {
        let setup_browser = s.signed_in(EMAIL).await;
        let origin = s.kh.config().origin();
        let started: Value = common::post(
            &setup_browser,
            &s,
            "/api/account/passkeys/options",
            serde_json::json!({"password": common::PASSWORD}),
        )
        .await
        .json()
        .await
        .expect("options");
        let (mut passkey, credential) =
            SoftPasskey::create(&started["options"], &Ceremony::at(&origin));
        let res = common::post(
            &setup_browser,
            &s,
            "/api/account/passkeys",
            serde_json::json!({"ceremony": started["ceremony"], "credential": credential}),
        )
        .await;
        assert_eq!(res.status(), 201);
        let browser = common::browser();
        let started: Value = common::post(
            &browser,
            &s,
            "/api/session/passkey/options",
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .expect("options");
        let assertion = passkey.get(&started["options"], &Ceremony::at(&origin));
        let res = common::post(
            &browser,
            &s,
            "/api/session/passkey",
            serde_json::json!({"ceremony": started["ceremony"], "credential": assertion}),
        )
        .await;
        assert_eq!(res.status(), 200);
        browser
    };
    let (acr, amr) = acr_and_amr_after(&s, &http, ACR_PHISHING_RESISTANT, sign_in).await;
    assert_eq!(acr, ACR_PHISHING_RESISTANT);
    assert_eq!(amr, ["pop", "mfa"]);
}

/// RP-Initiated Logout as `openidconnect` builds it: the end-session
/// endpoint from discovery, the ID token it verified as the hint, a
/// registered post-logout redirect URI and `state`. The endpoint sends the
/// browser to the `/logout` page with that query, which the page passes to
/// the end-session API, as this test does.
#[tokio::test]
async fn rp_initiated_logout_built_by_openidconnect() {
    use openidconnect::core::CoreIdToken;
    use openidconnect::{LogoutRequest, PostLogoutRedirectUrl, ProviderMetadataWithLogout};

    let s = common::spawn().await;
    let http = http_client();
    let issuer = IssuerUrl::new(s.base.clone()).expect("issuer url");
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    assert_eq!(end_session.as_str(), s.url("/oauth2/logout"));

    let bye = "https://client.example/signed-out";
    let mut spec = keyhouse_axum::ClientSpec::new(
        "Partner",
        ClientType::ThirdParty,
        vec![common::REDIRECT.to_owned()],
    );
    spec.post_logout_redirect_uris = vec![bye.to_owned()];
    let created = s.client_with(spec).await;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(created.client.id.clone()),
        created.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(common::REDIRECT.to_owned()).expect("redirect url"));
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(pkce_challenge)
        .url();
    s.user(EMAIL).await;
    let browser = s.signed_in(EMAIL).await;
    let code = approved(&s, &browser, &auth_url).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token: &CoreIdToken = tokens.id_token().expect("id_token");
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("valid id_token");

    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(bye.to_owned()).expect("url"))
        .set_state(CsrfToken::new("bye-state".to_owned()))
        .http_get_url();
    let page = http
        .get(logout_url)
        .send()
        .await
        .expect("end_session_endpoint");
    assert_eq!(page.status(), 303);
    let page = url::Url::parse(
        &s.url(
            page.headers()[reqwest::header::LOCATION]
                .to_str()
                .expect("location"),
        ),
    )
    .expect("page url");
    assert_eq!(page.path(), "/logout");
    let query: serde_json::Map<String, Value> = page
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let res = common::post(
        &browser,
        &s,
        "/api/session/end-session",
        Value::Object(query),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["redirect_to"], format!("{bye}?state=bye-state"));
    assert_eq!(common::signed_in_status(&browser, &s).await, 401);
}

/// `openidconnect` registers a client (RFC 7591 through its own
/// registration request) that asks for `alg` as its
/// `id_token_signed_response_alg`, runs the code flow, and verifies the ID
/// token with that algorithm alone: the signature from the discovered JWKS
/// and `at_hash` (SHA-512 for EdDSA, as openidconnect computes it). A
/// verifier that allows RS256 alone refuses the same token.
async fn registered_client_gets_id_tokens_in(alg: openidconnect::core::CoreJwsSigningAlgorithm) {
    use openidconnect::core::{
        CoreClientAuthMethod, CoreClientRegistrationRequest, CoreJwsSigningAlgorithm,
    };
    use openidconnect::registration::EmptyAdditionalClientMetadata;
    use openidconnect::{ClaimsVerificationError, JsonWebKey, SignatureVerificationError};

    let s = common::spawn_with(
        |c| c.agents.registration = keyhouse_axum::config::RegistrationPolicy::Open,
        false,
    )
    .await;
    let http = http_client();
    let issuer = IssuerUrl::new(s.base.clone()).expect("issuer url");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    assert_eq!(
        metadata.id_token_signing_alg_values_supported(),
        &vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EdDsa,
        ]
    );
    let endpoint = metadata
        .registration_endpoint()
        .expect("registration_endpoint")
        .clone();
    let registered = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(common::REDIRECT.to_owned()).expect("redirect url")],
        EmptyAdditionalClientMetadata {},
    )
    .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::ClientSecretBasic))
    .set_id_token_signed_response_alg(Some(alg.clone()))
    .register_async(&endpoint, &http)
    .await
    .expect("registration");
    assert_eq!(registered.id_token_signed_response_alg(), Some(&alg));

    let client = CoreClient::from_provider_metadata(
        metadata,
        registered.client_id().clone(),
        registered.client_secret().cloned(),
    )
    .set_redirect_uri(RedirectUrl::new(common::REDIRECT.to_owned()).expect("redirect url"));
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(pkce_challenge)
        .url();
    s.user(EMAIL).await;
    let browser = s.signed_in(EMAIL).await;
    let code = approved(&s, &browser, &auth_url).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id_token");

    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![alg.clone()]);
    let claims = id_token.claims(&verifier, &nonce).expect("valid id_token");
    assert_eq!(*id_token.signing_alg().expect("alg"), alg);
    let key = id_token.signing_key(&verifier).expect("signing key");
    assert_eq!(
        key.key_id().map(|k| k.as_str()),
        id_token_kid(id_token).as_deref()
    );
    assert_eq!(
        *claims.access_token_hash().expect("at_hash"),
        AccessTokenHash::from_token(tokens.access_token(), &alg, key).expect("hash")
    );

    // A verifier that allows RS256 alone (the library's own default when
    // it is not built from discovery) refuses the same token for its
    // algorithm: it really is signed with the one registered.
    let rs256_only = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let refused = id_token.claims(&rs256_only, &nonce);
    assert!(
        matches!(
            refused,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::DisallowedAlg(_)
            ))
        ),
        "{refused:?}"
    );
}

/// The `kid` in an ID token's header.
fn id_token_kid(token: &openidconnect::core::CoreIdToken) -> Option<String> {
    let text = serde_json::to_value(token).expect("serializes");
    common::header(text.as_str().expect("compact"))["kid"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn a_registered_es256_client_s_id_tokens_verify_with_openidconnect() {
    registered_client_gets_id_tokens_in(
        openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    )
    .await;
}

#[tokio::test]
async fn a_registered_eddsa_client_s_id_tokens_verify_with_openidconnect() {
    registered_client_gets_id_tokens_in(openidconnect::core::CoreJwsSigningAlgorithm::EdDsa).await;
}
