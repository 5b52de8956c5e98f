//! A signed-in user's own account: their sessions, a new address, and
//! deleting the account (`/api/account/...`).

use serde::{Deserialize, Serialize};

/// One live session of the account, as its sessions list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSession {
    /// Names the session in `DELETE /api/account/sessions/{id}` (not its
    /// cookie, and not the key it is stored under).
    pub id: String,
    /// Whether it is the session making this request.
    pub current: bool,
    /// The browser and system, read from its `User-Agent` ("Firefox on
    /// Windows"), or "Unknown browser".
    pub browser: String,
    /// The `User-Agent` it signed in with, if known.
    pub user_agent: Option<String>,
    /// The address it signed in from, if known.
    pub ip: Option<String>,
    /// When it signed in (unix seconds).
    pub signed_in_at: i64,
    /// When it was last used (to within a few minutes).
    pub last_seen_at: i64,
    /// When it ends by itself.
    pub expires_at: i64,
}

/// The answer to "sign out everywhere else".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsEnded {
    /// How many sessions were signed out.
    pub ended: u64,
}

/// `POST /api/account/email`: move the account to a new address. The new
/// address gets a link and a code; nothing changes until one comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEmailRequest {
    /// The new address.
    pub email: String,
    /// The current password (accounts that have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /api/account/email/confirm`: the code mailed to the new address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmEmailChangeRequest {
    /// The code.
    pub code: String,
}

/// `POST /api/account/delete`: delete the account, for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAccountRequest {
    /// The account's address, typed again: the user means it.
    pub confirm_email: String,
    /// The current password (accounts that have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The answer to [`DeleteAccountRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDeleted {
    /// Connected apps whose access ended with it.
    pub apps_disconnected: u64,
    /// Sessions signed out (this one included).
    pub sessions_ended: u64,
}

/// `GET /api/account/second-factor`: whether an authenticator app is a
/// second factor of the account, and how many recovery codes are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorStatus {
    /// Whether signing in takes an authenticator app's code.
    pub enabled: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
}

/// `POST /api/account/second-factor/setup`, `/disable` and
/// `/recovery-codes`: the current password (ignored for an account with
/// none, whose sign-in must be recent instead).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfirmHolder {
    /// The current password.
    #[serde(default)]
    pub password: Option<String>,
}

/// The answer to `POST /api/account/second-factor/setup`: the secret for
/// the authenticator app, as a QR code and as text. Nothing is turned on
/// until a first code from the app comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code: a `data:image/svg+xml;base64,…` URL of an SVG image
    /// drawn by the server, for an `<img>`.
    pub qr_code: String,
}

/// A code from the authenticator app (`POST /api/account/second-factor/enable`),
/// or at sign-in a code from the app or a recovery code
/// (`POST /api/session/second-factor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorCode {
    /// Six digits, or a recovery code (`xxxxx-xxxxx`).
    pub code: String,
}

/// New recovery codes, shown once: each signs in once in place of the
/// authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    /// The codes.
    pub codes: Vec<String>,
}

/// A passkey on the account (`GET /api/account/passkeys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    /// Its id (the credential id, base64url), for removing it.
    pub id: String,
    /// What the account holder calls it.
    pub name: String,
    /// When it was added (unix seconds).
    pub created_at: i64,
    /// When it last signed in (unix seconds).
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

/// `GET /api/account/passkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyList {
    /// The account's passkeys, oldest first.
    pub passkeys: Vec<PasskeyInfo>,
}

/// The start of a WebAuthn ceremony: `POST /api/account/passkeys/options`
/// (adding a passkey) or `POST /api/session/passkey/options` (signing in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyOptions {
    /// Names this ceremony when it is finished (single use, a few minutes).
    pub ceremony: String,
    /// What `navigator.credentials.create()` or `.get()` takes, as JSON:
    /// `{"publicKey": …}` with binary values in base64url (the form
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` and
    /// `parseRequestOptionsFromJSON` read).
    pub options: serde_json::Value,
}

/// `POST /api/account/passkeys`: the browser's new credential
/// (`PublicKeyCredential.toJSON()`), for the ceremony that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddPasskey {
    /// From [`PasskeyOptions`].
    pub ceremony: String,
    /// The credential, as the browser's `toJSON()` gives it.
    pub credential: serde_json::Value,
    /// A name for it (default: the browser and system it was made on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /api/session/passkey/options` (and the members' at
/// `/api/b2b/session/passkey/options`): how the sign-in was started. `{}`
/// (or no body) is a press of a "Sign in with a passkey" button.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StartPasskeySignIn {
    /// The sign-in waits among an address field's suggestions (the
    /// browser's passkey autofill, WebAuthn conditional mediation) from the
    /// moment the page loads: it is counted apart from button presses, so
    /// many page views from one network never use up the sign-ins people
    /// ask for.
    pub autofill: bool,
}

/// `POST /api/session/passkey`: the browser's assertion
/// (`PublicKeyCredential.toJSON()`), for the ceremony that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeySignIn {
    /// From [`PasskeyOptions`].
    pub ceremony: String,
    /// The assertion, as the browser's `toJSON()` gives it.
    pub credential: serde_json::Value,
}
