//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as every
//! authenticator app computes them: HMAC-SHA-1, 6 digits, 30-second steps;
//! and the recovery codes that stand in for the app when it is lost.
//!
//! Pure: the caller keeps the secret (sealed), the last step used (so a
//! code works once) and the hashes of the recovery codes.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;

/// Seconds per step.
pub const STEP: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226 §4's recommendation).
pub const SECRET_LEN: usize = 20;
/// Steps either side of now that are accepted (a clock a little off, a code
/// typed as it turned over).
pub const SKEW: i64 = 1;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

/// A new random secret.
pub fn generate_secret(rng: &mut impl Rng) -> Vec<u8> {
    let mut s = vec![0u8; SECRET_LEN];
    rng.fill(&mut s[..]);
    s
}

/// The secret as authenticator apps take it (RFC 4648 base32, no padding).
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The secret from its base32 form (spaces ignored, any case).
pub fn decode_secret(text: &str) -> Option<Vec<u8>> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    BASE32_NOPAD.decode(t.as_bytes()).ok()
}

/// HOTP (RFC 4226 §5.3): the `DIGITS`-digit code for `counter`.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    // HMAC accepts a key of any length.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The step a unix time falls in.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP)
}

/// The code for a unix time.
pub fn code_at(secret: &[u8], now: i64) -> String {
    hotp(secret, u64::try_from(step_at(now)).unwrap_or(0))
}

/// The step whose code `typed` is (spaces ignored), within [`SKEW`] steps
/// of `now` and later than `last_used` (a code works once: the caller
/// records the step it answered, conditionally, so two requests with one
/// code cannot both pass). `None` for anything else.
pub fn verify(secret: &[u8], typed: &str, now: i64, last_used: Option<i64>) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = step_at(now);
    let mut found = None;
    // Every candidate is computed and compared in constant time, so the
    // time taken says nothing about which one matched.
    for step in now_step - SKEW..=now_step + SKEW {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let code = hotp(secret, counter);
        if crate::secret::hashes_equal(&code, &typed) && last_used.is_none_or(|l| step > l) {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator app reads from the QR code
/// (Google Authenticator's key URI format): the issuer names the service,
/// the label the account.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    // The label is a path: a `+` would read as itself, so spaces are %20.
    let label = format!("{}:{}", enc(issuer), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        encode_secret(secret),
        enc(issuer).replace('+', "%20"),
    )
}

/// The letters of recovery codes: no 0/o, 1/l/i to misread.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// New recovery codes, `xxxxx-xxxxx` (10 characters of 31: 49 bits each).
pub fn generate_recovery_codes(rng: &mut impl Rng) -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut s = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    s.push('-');
                }
                let k = rng.random_range(0..RECOVERY_ALPHABET.len());
                s.push(char::from(RECOVERY_ALPHABET[k]));
            }
            s
        })
        .collect()
}

/// A typed recovery code in the form it is hashed in (lower case, no spaces
/// or dashes), or `None` when it cannot be one.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == 10 && s.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64), *code, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_last_six_digits() {
        let table = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        for (time, code) in table {
            assert_eq!(code_at(RFC_SECRET, time), code, "time {time}");
        }
    }

    #[test]
    fn verify_accepts_one_step_either_side_once() {
        let now = 1_234_567_890;
        let here = step_at(now);
        let code = code_at(RFC_SECRET, now);
        assert_eq!(verify(RFC_SECRET, &code, now, None), Some(here));
        assert_eq!(
            verify(
                RFC_SECRET,
                &format!("{} {}", &code[..3], &code[3..]),
                now,
                None
            ),
            Some(here)
        );
        // Used: the same step again, or an earlier one, is refused.
        assert_eq!(verify(RFC_SECRET, &code, now, Some(here)), None);
        // The previous and next steps' codes pass; two steps away do not.
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now - 30), now, None),
            Some(here - 1)
        );
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now + 30), now, None),
            Some(here + 1)
        );
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now - 60), now, None),
            None
        );
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now + 60), now, None),
            None
        );
        // The next step's code after this one was used: still good.
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, now + 30), now, Some(here)),
            Some(here + 1)
        );
        for bad in ["", "12345", "1234567", "abcdef", "２８７０８２"] {
            assert_eq!(verify(RFC_SECRET, bad, now, None), None, "{bad}");
        }
    }

    #[test]
    fn secrets_and_uris() {
        let s = generate_secret(&mut rand::rng());
        assert_eq!(s.len(), SECRET_LEN);
        assert_ne!(s, generate_secret(&mut rand::rng()));
        assert_eq!(
            encode_secret(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            otpauth_uri("Notes & Co", "ada@example.com", RFC_SECRET),
            "otpauth://totp/Notes%20%26%20Co:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Notes%20%26%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes() {
        let codes = generate_recovery_codes(&mut rand::rng());
        assert_eq!(codes.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 11);
            let n = normalize_recovery_code(&c.to_uppercase()).unwrap_or_default();
            assert_eq!(n, c.replace('-', ""));
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for bad in ["", "abcde-fghi", "abcde-fghij-k", "abcde-fgh0j", "123456"] {
            assert_eq!(normalize_recovery_code(bad), None, "{bad}");
        }
    }
}
