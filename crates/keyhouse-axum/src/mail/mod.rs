//! Outgoing mail: over SMTP (plain on a trusted network, STARTTLS or TLS,
//! with authentication) when a server is configured, else into an outbox
//! folder, one `.eml` file per message, so a laptop without a mail server
//! still goes through every flow. Bodies come from templates the operator
//! can replace ([`templates`]).

pub mod templates;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::mail::templates::{Rendered, Templates, Vars};

/// Where mail goes, and who it is from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MailConfig {
    /// The `From` of every message (`Name <address>` or an address).
    pub from: String,
    /// SMTP or the outbox folder.
    pub transport: MailTransport,
    /// A folder whose `<template>.subject`, `<template>.txt` and
    /// `<template>.html` files replace the built-in ones (see
    /// [`templates::NAMES`]).
    pub templates: Option<PathBuf>,
}

impl MailConfig {
    /// Mail from `from`, over `transport`, with the built-in templates.
    pub fn new(from: impl Into<String>, transport: MailTransport) -> MailConfig {
        MailConfig {
            from: from.into(),
            transport,
            templates: None,
        }
    }
}

impl Default for MailConfig {
    /// From `Keyhouse <no-reply@localhost>` into the outbox `data/outbox`.
    fn default() -> MailConfig {
        MailConfig::new(
            "Keyhouse <no-reply@localhost>",
            MailTransport::Outbox(PathBuf::from("data/outbox")),
        )
    }
}

/// How messages leave.
#[derive(Clone)]
#[non_exhaustive]
pub enum MailTransport {
    /// An SMTP server, as a URL: `smtps://user:password@host:465` (TLS),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS, refusing a
    /// server that cannot), `smtp://host:25` (no encryption: a relay on
    /// the same host or a trusted network only). Percent-encode reserved
    /// characters in the user and password.
    Smtp(String),
    /// A folder: each message is written to `<id>.eml` there and the path
    /// logged. For development; nothing is delivered.
    Outbox(PathBuf),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL may carry the SMTP password.
            MailTransport::Smtp(url) => f.debug_tuple("Smtp").field(&redact_url(url)).finish(),
            MailTransport::Outbox(dir) => f.debug_tuple("Outbox").field(dir).finish(),
        }
    }
}

/// An SMTP URL without its password, for logs.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // Setting a password cannot fail on a URL that already has one.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// Mail could not be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The configuration is wrong (a bad `From`, a bad SMTP URL).
    #[error("mail configuration: {0}")]
    Config(String),
    /// A template is missing or unreadable.
    #[error("mail template: {0}")]
    Template(String),
    /// The recipient or the message is invalid.
    #[error("building the message: {0}")]
    Message(String),
    /// The SMTP server or the outbox refused it.
    #[error("sending: {0}")]
    Send(String),
}

/// The configured transport, ready to send.
pub(crate) struct Mailer {
    from: Mailbox,
    transport: Transport,
    templates: Templates,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// How long one SMTP exchange may take before it is abandoned.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

impl Mailer {
    pub(crate) fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("From {:?}: {e}", config.from)))?;
        let transport = match &config.transport {
            MailTransport::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Config(format!("{}: {e}", redact_url(url))))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            MailTransport::Outbox(dir) => {
                Transport::Outbox(AsyncFileTransport::new(dir), dir.clone())
            }
        };
        Ok(Mailer {
            from,
            transport,
            templates: Templates::new(config.templates.clone()),
        })
    }

    /// Where messages go, for the start-up log line.
    pub(crate) fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".to_owned(),
            Transport::Outbox(_, dir) => format!("the outbox folder {}", dir.display()),
        }
    }

    /// Renders `template` with `vars` and sends it to `to`.
    pub(crate) async fn send(
        &self,
        to: &str,
        template: &str,
        vars: &Vars,
    ) -> Result<(), MailError> {
        let Rendered {
            subject,
            text,
            html,
        } = self.templates.render(template, vars).await?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Message(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Message(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message)
                    .await
                    .map_err(|e| MailError::Send(e.to_string()))?;
                tracing::info!(template, "mail sent over SMTP");
            }
            Transport::Outbox(outbox, dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Send(format!("{}: {e}", dir.display())))?;
                let id = outbox
                    .send(message)
                    .await
                    .map_err(|e| MailError::Send(e.to_string()))?;
                let file = outbox_file(dir, &id);
                tracing::info!(template, file = %file.display(), "mail written to the outbox (no SMTP server configured)");
            }
        }
        Ok(())
    }

    /// Sends in the background and logs a failure: the request that
    /// caused the mail answers at once, and the same way whether or not a
    /// mail was sent (a reset request must not tell who has an account).
    pub(crate) fn send_later(self: &Arc<Self>, to: String, template: &'static str, vars: Vars) {
        let mailer = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&to, template, &vars).await {
                tracing::error!(template, error = %e, "mail not sent");
            }
        });
    }
}

fn outbox_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.eml"))
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies.
#[derive(Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_smtp_password_never_reaches_a_log() {
        let t = MailTransport::Smtp("smtps://mailer:hunter2@mail.example:465".into());
        let shown = format!("{t:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("mailer"), "{shown}");
    }

    #[test]
    fn a_bad_from_or_url_is_a_configuration_error() {
        let bad_from = MailConfig::new("not an address", MailTransport::Outbox("x".into()));
        assert!(matches!(Mailer::new(&bad_from), Err(MailError::Config(_))));
        let bad_url = MailConfig::new("a@b.example", MailTransport::Smtp("ftp://x".into()));
        assert!(matches!(Mailer::new(&bad_url), Err(MailError::Config(_))));
    }
}
