//! Reading the authorize request from the page URL, and building the login
//! URL with `returnTo`.

use keyhouse_types::AuthorizeParams;
#[cfg(test)]
use keyhouse_types::ParamValue;

/// Parses a query string (with or without the leading `?`) into authorize
/// parameters: [`keyhouse_types::parse_authorize_query`].
pub fn parse_query(query: &str) -> AuthorizeParams {
    keyhouse_types::parse_authorize_query(query)
}

/// `login_path?returnTo=<path_and_query>`, percent-encoded.
pub fn login_url(login_path: &str, path_and_query: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    let sep = if login_path.contains('?') { '&' } else { '?' };
    format!("{login_path}{sep}returnTo={encoded}")
}

/// The `returnTo` of a login or sign-up page's query, when it is a safe
/// same-origin relative path (docs/threat-model.md row 4); `None` otherwise.
pub fn return_to(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "returnTo")
        .and_then(|(_, v)| keyhouse_types::return_to::sanitize(&v).map(str::to_owned))
}

/// The first value of `name` in a query string.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether `path` is a safe same-origin relative path.
pub fn is_same_origin_path(path: &str) -> bool {
    keyhouse_types::return_to::sanitize(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_malformed() {
        let p = parse_query("?client_id=a&scope=x&scope=y&bad=%ZZ%&=&state=%E2%9C%93");
        assert_eq!(p.get("client_id"), Some(&ParamValue::One("a".into())));
        assert_eq!(
            p.get("scope"),
            Some(&ParamValue::Many(vec!["x".into(), "y".into()]))
        );
        assert!(p.contains_key("bad"));
        assert_eq!(p.get("state"), Some(&ParamValue::One("✓".into())));
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn login_and_return_to() {
        let url = login_url("/login", "/idp?client_id=a&state=b c");
        assert_eq!(url, "/login?returnTo=%2Fidp%3Fclient_id%3Da%26state%3Db+c");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(
            return_to(query).as_deref(),
            Some("/idp?client_id=a&state=b c")
        );
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            let q = login_url("/login", evil);
            let q = q.split_once('?').map(|(_, q)| q).unwrap_or_default();
            assert_eq!(return_to(q), None, "{evil}");
        }
    }
}
