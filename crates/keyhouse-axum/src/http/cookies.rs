//! Cookies: reading one from a request, and the `Set-Cookie` headers Keyhouse
//! writes (`HttpOnly`, `SameSite=Lax`, `Secure` and the `__Host-` prefix on https).

use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Keyhouse;

pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A session cookie header: HttpOnly, SameSite=Lax, Secure under https
/// (docs/threat-model.md row 27).
pub(crate) fn set_named_cookie(
    kh: &Keyhouse,
    name: &str,
    value: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if kh.config().secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

pub(crate) fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().insert(SET_COOKIE, cookie);
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;
    use axum::http::{HeaderMap, HeaderValue};

    use super::read_cookie;

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; keyhouse_session=tok; b=2"),
        );
        assert_eq!(read_cookie(&h, "keyhouse_session"), Some("tok"));
        assert_eq!(read_cookie(&h, "missing"), None);
    }
}
