//! How a person signed in, and whether that is enough for a request.
//!
//! A session records its authentication methods as RFC 8176 `amr` values
//! (`pwd` a password, `otp` a one-time code from an authenticator app or a
//! recovery code, `mfa` when two factors were used, `pop` a passkey: proof
//! of possession of a key bound to this site, unlocked on the device;
//! `email` a code or link mailed to the address, which RFC 8176 does not
//! register). The ID token
//! carries them as `amr`, and their strength as `acr`, one of
//! [`ACR_VALUES`]. An authorization request's `acr_values` (OIDC Core
//! §3.1.2.1) names the levels it accepts; when the session is weaker than
//! every level named, the person is stepped up (a second factor) before a
//! code is issued.

/// One factor: a password, or a code or link mailed to the address.
pub const ACR_ONE_FACTOR: &str = "urn:keyhouse:acr:1fa";
/// Two factors: one of the above and a code from an authenticator app (or
/// a recovery code).
pub const ACR_TWO_FACTORS: &str = "urn:keyhouse:acr:2fa";

/// A passkey: two factors (the device, and the PIN or biometric that
/// unlocks it) bound to this site's origin, which a look-alike site cannot
/// relay (phishing-resistant, NIST SP 800-63B AAL2 and up).
pub const ACR_PHISHING_RESISTANT: &str = "urn:keyhouse:acr:phr";

/// The `acr` values Keyhouse issues and understands, weakest first
/// (discovery's `acr_values_supported`).
pub const ACR_VALUES: [&str; 3] = [ACR_ONE_FACTOR, ACR_TWO_FACTORS, ACR_PHISHING_RESISTANT];

/// `amr` values Keyhouse records.
pub mod amr {
    /// A password.
    pub const PASSWORD: &str = "pwd";
    /// A code or link mailed to the account's address.
    pub const EMAIL: &str = "email";
    /// A one-time password: an authenticator app's code or a recovery code.
    pub const OTP: &str = "otp";
    /// More than one factor.
    pub const MFA: &str = "mfa";
    /// Proof of possession of a key: a passkey.
    pub const POP: &str = "pop";
    /// Federated: the organization's own OpenID Provider signed the person
    /// in (single sign-on). Not among RFC 8176's values, which name no
    /// federation; one factor as far as Keyhouse can tell.
    pub const FED: &str = "fed";
}

/// How strongly a session was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing Keyhouse knows of (an app's own sign-in that said nothing).
    Unknown,
    /// One factor.
    OneFactor,
    /// Two factors.
    TwoFactors,
    /// A passkey: two factors, phishing-resistant.
    PhishingResistant,
}

impl Level {
    /// The level of a session's methods.
    pub fn of(amr: &[String]) -> Level {
        let has = |v: &str| amr.iter().any(|a| a == v);
        if has(amr::POP) && has(amr::MFA) {
            Level::PhishingResistant
        } else if has(amr::MFA) {
            Level::TwoFactors
        } else if amr.is_empty() {
            Level::Unknown
        } else {
            Level::OneFactor
        }
    }

    /// The `acr` claim for this level (`None` when unknown).
    pub fn acr(self) -> Option<&'static str> {
        match self {
            Level::Unknown => None,
            Level::OneFactor => Some(ACR_ONE_FACTOR),
            Level::TwoFactors => Some(ACR_TWO_FACTORS),
            Level::PhishingResistant => Some(ACR_PHISHING_RESISTANT),
        }
    }

    fn of_acr(value: &str) -> Option<Level> {
        match value {
            ACR_ONE_FACTOR => Some(Level::OneFactor),
            ACR_TWO_FACTORS => Some(Level::TwoFactors),
            ACR_PHISHING_RESISTANT => Some(Level::PhishingResistant),
            _ => None,
        }
    }
}

/// The weakest level an `acr_values` parameter accepts (any one of the
/// values it names is enough; values Keyhouse does not issue are ignored,
/// as OIDC makes `acr_values` a request, not a command). `None`: no demand.
pub fn demanded(acr_values: Option<&str>) -> Option<Level> {
    acr_values?.split(' ').filter_map(Level::of_acr).min()
}

/// Whether a session with these methods meets the demand.
pub fn satisfies(amr: &[String], demand: Option<Level>) -> bool {
    demand.is_none_or(|d| Level::of(amr) >= d)
}

/// Stored form: space-separated, in order, no repeats.
pub fn join(amr: &[String]) -> String {
    amr.join(" ")
}

/// Reads the stored form.
pub fn split(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

/// The methods of a passkey sign-in: `pop` and `mfa` (the authenticator
/// verified its user, with a PIN or biometric, before it signed).
pub fn passkey() -> Vec<String> {
    vec![amr::POP.to_owned(), amr::MFA.to_owned()]
}

/// The methods after a second factor was added to `first`: `first`, `otp`
/// and `mfa`, each once.
pub fn with_second_factor(first: &[String]) -> Vec<String> {
    let mut out: Vec<String> = first.to_vec();
    for v in [amr::OTP, amr::MFA] {
        if !out.iter().any(|a| a == v) {
            out.push(v.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        split(s)
    }

    #[test]
    fn levels_and_demands() {
        assert_eq!(Level::of(&v("")), Level::Unknown);
        assert_eq!(Level::of(&v("pwd")), Level::OneFactor);
        assert_eq!(Level::of(&v("email")), Level::OneFactor);
        assert_eq!(Level::of(&v("pwd otp mfa")), Level::TwoFactors);
        assert_eq!(Level::of(&v("pwd")).acr(), Some(ACR_ONE_FACTOR));
        assert_eq!(Level::Unknown.acr(), None);
        assert_eq!(Level::of(&passkey()), Level::PhishingResistant);
        assert_eq!(Level::of(&passkey()).acr(), Some(ACR_PHISHING_RESISTANT));

        let two = Some(ACR_TWO_FACTORS);
        assert_eq!(demanded(two), Some(Level::TwoFactors));
        assert_eq!(demanded(None), None);
        assert_eq!(demanded(Some("urn:other:gold")), None);
        // Any one named level is enough: the weakest decides.
        let either = format!("{ACR_TWO_FACTORS} {ACR_ONE_FACTOR}");
        assert_eq!(demanded(Some(&either)), Some(Level::OneFactor));

        let table = [
            ("pwd", two, false),
            ("email", two, false),
            ("", two, false),
            ("pwd otp mfa", two, true),
            ("pwd", Some(ACR_ONE_FACTOR), true),
            ("", Some(ACR_ONE_FACTOR), false),
            ("pwd", None, true),
            ("", None, true),
            ("pop mfa", two, true),
            ("pop mfa", Some(ACR_PHISHING_RESISTANT), true),
            ("pwd otp mfa", Some(ACR_PHISHING_RESISTANT), false),
            // `pop` alone is no verified user.
            ("pop", Some(ACR_PHISHING_RESISTANT), false),
        ];
        for (amr, acr_values, ok) in table {
            assert_eq!(
                satisfies(&v(amr), demanded(acr_values)),
                ok,
                "{amr} / {acr_values:?}"
            );
        }
    }

    #[test]
    fn second_factor_adds_each_value_once() {
        assert_eq!(join(&with_second_factor(&v("pwd"))), "pwd otp mfa");
        assert_eq!(join(&with_second_factor(&v("pwd otp mfa"))), "pwd otp mfa");
        assert_eq!(join(&with_second_factor(&v("email"))), "email otp mfa");
    }
}
