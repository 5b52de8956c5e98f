//! The messages' words: a subject, a plain-text body and an HTML body per
//! message, built in, each replaceable by a file of the same name in the
//! folder `MailConfig::templates` names (read at each send, so an edit
//! applies without a restart).
//!
//! A template holds `{{name}}` placeholders, filled from the message's
//! values; in the HTML body each value is escaped. The values every
//! message has: `issuer` (the issuer URL), `issuer_name` (its host),
//! `name` and `email` (the recipient's), `time`, `ip` and `user_agent`
//! (of the request that caused the message). Per message:
//!
//! | Template | Sent when | Also |
//! |---|---|---|
//! | `password_reset` | a password reset is asked for | `link`, `minutes` |
//! | `password_changed` | a reset link was used | |
//! | `verify_email` | sign-up, to confirm a new address | `link`, `code`, `minutes` |
//! | `account_exists` | sign-up with an address that has an account | |
//! | `sign_in_code` | sign-in by mail asked | `link`, `code`, `minutes` |
//! | `sign_up_code` | sign-in by mail for an address with no account | `link`, `code`, `minutes` |
//! | `member_sign_in_code` | an organization member's sign-in by mail asked | `link`, `code`, `minutes`, `organization` (its name, or "your organizations") |
//! | `verify_address` | a signed-in user verifies their address | `link`, `minutes` |
//! | `confirm_new_address` | a signed-in user moves the account to this address | `link`, `code`, `minutes` |
//! | `address_in_use` | another account asked to move to this address | |
//! | `email_changed` | the account moved away from this address | `new_email` |
//! | `account_deleted` | the account was deleted | `apps` |
//! | `second_factor_changed` | two-step verification turned on or off, new recovery codes, a recovery code used | `what` (the sentence naming the change) |
//! | `passkeys_changed` | a passkey added or removed | `what` (the sentence naming the change) |
//! | `invitation` | an organization's admin invites an address | `link`, `days`, `organization`, `inviter`, `roles` |

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::mail::MailError;

/// The templates' names.
pub const NAMES: [&str; 15] = [
    "password_reset",
    "password_changed",
    "verify_email",
    "account_exists",
    "sign_in_code",
    "sign_up_code",
    "member_sign_in_code",
    "verify_address",
    "confirm_new_address",
    "address_in_use",
    "email_changed",
    "account_deleted",
    "second_factor_changed",
    "passkeys_changed",
    "invitation",
];

/// The built-in `(name, subject, text, html)`.
const BUILT_IN: [(&str, &str, &str, &str); 15] = [
    (
        "password_reset",
        include_str!("../../templates/mail/password_reset.subject"),
        include_str!("../../templates/mail/password_reset.txt"),
        include_str!("../../templates/mail/password_reset.html"),
    ),
    (
        "password_changed",
        include_str!("../../templates/mail/password_changed.subject"),
        include_str!("../../templates/mail/password_changed.txt"),
        include_str!("../../templates/mail/password_changed.html"),
    ),
    (
        "verify_email",
        include_str!("../../templates/mail/verify_email.subject"),
        include_str!("../../templates/mail/verify_email.txt"),
        include_str!("../../templates/mail/verify_email.html"),
    ),
    (
        "account_exists",
        include_str!("../../templates/mail/account_exists.subject"),
        include_str!("../../templates/mail/account_exists.txt"),
        include_str!("../../templates/mail/account_exists.html"),
    ),
    (
        "sign_in_code",
        include_str!("../../templates/mail/sign_in_code.subject"),
        include_str!("../../templates/mail/sign_in_code.txt"),
        include_str!("../../templates/mail/sign_in_code.html"),
    ),
    (
        "sign_up_code",
        include_str!("../../templates/mail/sign_up_code.subject"),
        include_str!("../../templates/mail/sign_up_code.txt"),
        include_str!("../../templates/mail/sign_up_code.html"),
    ),
    (
        "member_sign_in_code",
        include_str!("../../templates/mail/member_sign_in_code.subject"),
        include_str!("../../templates/mail/member_sign_in_code.txt"),
        include_str!("../../templates/mail/member_sign_in_code.html"),
    ),
    (
        "verify_address",
        include_str!("../../templates/mail/verify_address.subject"),
        include_str!("../../templates/mail/verify_address.txt"),
        include_str!("../../templates/mail/verify_address.html"),
    ),
    (
        "confirm_new_address",
        include_str!("../../templates/mail/confirm_new_address.subject"),
        include_str!("../../templates/mail/confirm_new_address.txt"),
        include_str!("../../templates/mail/confirm_new_address.html"),
    ),
    (
        "address_in_use",
        include_str!("../../templates/mail/address_in_use.subject"),
        include_str!("../../templates/mail/address_in_use.txt"),
        include_str!("../../templates/mail/address_in_use.html"),
    ),
    (
        "email_changed",
        include_str!("../../templates/mail/email_changed.subject"),
        include_str!("../../templates/mail/email_changed.txt"),
        include_str!("../../templates/mail/email_changed.html"),
    ),
    (
        "account_deleted",
        include_str!("../../templates/mail/account_deleted.subject"),
        include_str!("../../templates/mail/account_deleted.txt"),
        include_str!("../../templates/mail/account_deleted.html"),
    ),
    (
        "second_factor_changed",
        include_str!("../../templates/mail/second_factor_changed.subject"),
        include_str!("../../templates/mail/second_factor_changed.txt"),
        include_str!("../../templates/mail/second_factor_changed.html"),
    ),
    (
        "passkeys_changed",
        include_str!("../../templates/mail/passkeys_changed.subject"),
        include_str!("../../templates/mail/passkeys_changed.txt"),
        include_str!("../../templates/mail/passkeys_changed.html"),
    ),
    (
        "invitation",
        include_str!("../../templates/mail/invitation.subject"),
        include_str!("../../templates/mail/invitation.txt"),
        include_str!("../../templates/mail/invitation.html"),
    ),
];

/// A message's values, by placeholder name.
pub type Vars = BTreeMap<&'static str, String>;

/// A rendered message.
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

pub(crate) struct Templates {
    dir: Option<PathBuf>,
}

impl Templates {
    pub(crate) fn new(dir: Option<PathBuf>) -> Templates {
        Templates { dir }
    }

    pub(crate) async fn render(&self, name: &str, vars: &Vars) -> Result<Rendered, MailError> {
        let Some(&(_, subject, text, html)) = BUILT_IN.iter().find(|t| t.0 == name) else {
            return Err(MailError::Template(format!("no template {name}")));
        };
        let subject = self.part(name, "subject", subject).await?;
        let text = self.part(name, "txt", text).await?;
        let html = self.part(name, "html", html).await?;
        Ok(Rendered {
            // One line: a header cannot hold a line break.
            subject: fill(subject.trim(), vars, plain).replace(['\r', '\n'], " "),
            text: fill(&text, vars, plain),
            html: fill(&html, vars, escape_html),
        })
    }

    /// The operator's `<name>.<ext>` when there is one, else the built-in.
    async fn part(&self, name: &str, ext: &str, built_in: &str) -> Result<String, MailError> {
        let Some(dir) = &self.dir else {
            return Ok(built_in.to_owned());
        };
        let file = dir.join(format!("{name}.{ext}"));
        match tokio::fs::read_to_string(&file).await {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(built_in.to_owned()),
            Err(e) => Err(MailError::Template(format!("{}: {e}", file.display()))),
        }
    }
}

fn plain(s: &str) -> String {
    s.to_owned()
}

/// `s` with the characters HTML gives a meaning escaped.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{name}}` with its value (escaped); an unknown name is
/// left as written, so a typo shows in the message instead of vanishing.
fn fill(template: &str, vars: &Vars, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                match vars.get(key) {
                    Some(v) => out.push_str(&escape(v)),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let v = vars(&[("name", "<script>alert(1)</script> & Co")]);
        assert_eq!(
            fill("Hi {{name}}", &v, escape_html),
            "Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"
        );
        assert_eq!(
            fill("Hi {{ name }}", &v, plain),
            "Hi <script>alert(1)</script> & Co"
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_stay_as_written() {
        let v = vars(&[("a", "1")]);
        assert_eq!(fill("{{a}} {{b}} {{a", &v, plain), "1 {{b}} {{a");
    }

    #[tokio::test]
    async fn a_subject_cannot_inject_a_header() {
        let v = vars(&[("issuer_name", "x\r\nBcc: victim@example.com")]);
        let r = Templates::new(None)
            .render("password_changed", &v)
            .await
            .unwrap();
        assert!(
            !r.subject.contains('\n') && !r.subject.contains('\r'),
            "{}",
            r.subject
        );
    }

    #[tokio::test]
    async fn an_operator_file_replaces_the_built_in_part() {
        let dir = std::env::temp_dir().join(format!("kh-templates-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        tokio::fs::write(
            dir.join("password_reset.subject"),
            "Réinitialiser {{issuer_name}}",
        )
        .await
        .unwrap();
        let v = vars(&[
            ("issuer_name", "notes.example"),
            ("link", "https://x/r?t=1"),
        ]);
        let r = Templates::new(Some(dir.clone()))
            .render("password_reset", &v)
            .await
            .unwrap();
        assert_eq!(r.subject, "Réinitialiser notes.example");
        // The parts not replaced stay built in.
        assert!(r.text.contains("https://x/r?t=1"), "{}", r.text);
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }

    #[test]
    fn every_name_has_a_built_in_template() {
        for name in NAMES {
            assert!(BUILT_IN.iter().any(|t| t.0 == name), "{name}");
        }
    }
}
