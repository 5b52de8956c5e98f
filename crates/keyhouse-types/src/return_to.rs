//! The login page's `returnTo`: only same-origin relative paths (docs/threat-model.md
//! row 4), so login can never be turned into an open redirector.

/// Returns the path when it is a safe same-origin relative reference.
///
/// Refused: anything not starting with exactly one `/` (`//evil`,
/// `https:evil`, `javascript:`), backslashes (browsers read `/\evil` as
/// `//evil`), control characters, and encoded slashes or backslashes at the
/// start (`/%2F/evil`, `/%5Cevil`).
pub fn sanitize(raw: &str) -> Option<&str> {
    same_origin_path(raw, 2048)
}

/// The longest consent page a form may name
/// ([`crate::AuthorizeDecisionForm::page`]): an authorization request's
/// parameters may each be 2 KiB, so the page is longer than a `returnTo`.
pub const MAX_PAGE_LEN: usize = 16 * 1024;

/// [`sanitize`]'s rules, for a path of at most `max_len` bytes.
pub fn same_origin_path(raw: &str, max_len: usize) -> Option<&str> {
    let bytes = raw.as_bytes();
    let starts_ok = bytes.first() == Some(&b'/') && bytes.get(1) != Some(&b'/');
    if !starts_ok || raw.len() > max_len {
        return None;
    }
    if raw.contains('\\') || raw.chars().any(|c| c.is_control()) {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("/%2f") || lower.starts_with("/%5c") || lower.contains("%5c") {
        return None;
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn table() {
        let table = [
            ("/idp?client_id=a&redirect_uri=https%3A%2F%2Fx", true),
            ("/account", true),
            ("/", true),
            ("//evil.example", false),
            ("/\\evil.example", false),
            ("\\\\evil.example", false),
            ("https://evil.example", false),
            ("https:evil.example", false),
            ("%2F%2Fevil.example", false),
            ("/%2F/evil.example", false),
            ("/%5Cevil.example", false),
            ("javascript:alert(1)", false),
            ("/ok\r\nSet-Cookie: x", false),
            ("", false),
        ];
        for (input, ok) in table {
            assert_eq!(sanitize(input).is_some(), ok, "{input:?}");
        }
    }
}
