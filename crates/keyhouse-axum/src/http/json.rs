//! JSON request bodies, read so that bad input gets the protocol's own error
//! (`invalid_request`, or `invalid_client_metadata` for a client's fields)
//! as JSON, naming the field at fault and never echoing the value sent,
//! instead of the framework's plain-text 422.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; one that does not fit `T` is refused with `invalid_request`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

/// A client's metadata (the admin API's create and update); one that does not
/// fit `T` is refused with `invalid_client_metadata` (RFC 7591 §3.2.2), like
/// every other bad client field.
#[derive(Debug)]
pub(crate) struct ClientMetadata<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        read(req, state, ErrorCode::InvalidRequest)
            .await
            .map(JsonBody)
    }
}

impl<T, S> FromRequest<S> for ClientMetadata<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        read(req, state, ErrorCode::InvalidClientMetadata)
            .await
            .map(ClientMetadata)
    }
}

/// A JSON body, or no body at all (`T::default()`): for an endpoint that
/// took none at first, so older callers keep working.
#[derive(Debug)]
pub(crate) struct JsonOrNothing<T>(pub T);

impl<T, S> FromRequest<S> for JsonOrNothing<T>
where
    T: DeserializeOwned + Default + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let json = is_json(&req);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.is_empty() {
            return Ok(JsonOrNothing(T::default()));
        }
        if !json {
            let e = OAuthError::invalid_request("send the body as application/json");
            return Err(ApiError(e).into_response());
        }
        parse(&bytes, ErrorCode::InvalidRequest)
            .map(JsonOrNothing)
            .map_err(|e| ApiError(e).into_response())
    }
}

/// `application/json` or `application/…+json`, as axum's own extractor takes.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

async fn read<T, S>(req: Request, state: &S, code: ErrorCode) -> Result<T, Response>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    if !is_json(&req) {
        let e = OAuthError::invalid_request("send the body as application/json");
        return Err(ApiError(e).into_response());
    }
    // The body limit answers 413 itself.
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    parse(&bytes, code).map_err(|e| ApiError(e).into_response())
}

/// Parses `bytes` as a `T`. The description names the field at fault (a
/// path of our own names) but never the value, which came from the caller.
fn parse<T: DeserializeOwned>(bytes: &[u8], code: ErrorCode) -> Result<T, OAuthError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let description = match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                format!("{path} has the wrong type or an unknown value")
            }
            // serde names only our own field here: `missing field `name``.
            serde_json::error::Category::Data if inner.to_string().starts_with("missing field") => {
                inner
                    .to_string()
                    .split(" at line")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            }
            serde_json::error::Category::Data => "the body has the wrong shape".to_owned(),
            _ => "the body is not valid JSON".to_owned(),
        };
        OAuthError::new(code, description).with_debug(e.to_string())
    })?;
    de.end().map_err(|e| {
        OAuthError::new(code, "the body is not valid JSON").with_debug(e.to_string())
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use keyhouse_core::ErrorCode;
    use serde::Deserialize;

    use super::parse;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        ttl: Option<u32>,
    }

    #[test]
    fn refusals_name_the_field_and_never_the_value() {
        let table = [
            (
                r#"{"name": "a", "ttl": "secret-value"}"#,
                "ttl has the wrong type or an unknown value",
            ),
            (r#"{"ttl": 5}"#, "missing field `name`"),
            (
                r#"{"name": "a"} trailing-secret-value"#,
                "the body is not valid JSON",
            ),
            ("not json secret-value", "the body is not valid JSON"),
            (r#"["secret-value"]"#, "the body has the wrong shape"),
        ];
        for (body, expected) in table {
            let e = parse::<Body>(body.as_bytes(), ErrorCode::InvalidRequest).expect_err(body);
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.description.as_deref(), Some(expected), "{body}");
        }
        assert!(parse::<Body>(br#"{"name": "a", "ttl": 3}"#, ErrorCode::InvalidRequest).is_ok());
    }
}
