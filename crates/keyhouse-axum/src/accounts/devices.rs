//! The account's sessions: where it is signed in, and signing out one of
//! them or every one but this.
//!
//! A session is named to the browser by a derived id (a hash of the key it
//! is stored under), never by its cookie or its key: the list cannot be
//! turned into a way to take over one of them. Ending one is scoped to the
//! account, so an id from someone else's list ends nothing.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::SessionRecord;
use keyhouse_types::{AccountSession, SessionsEnded, SubjectKind};

use crate::Keyhouse;
use crate::accounts::session::CurrentSession;
use crate::error::{ApiError, store_error};

/// The id a session is shown under.
fn public_id(s: &SessionRecord) -> String {
    let mut id = secret::hash_token(&format!("keyhouse-session-id:{}", s.id_hash));
    id.truncate(22);
    id
}

/// "Firefox on Windows", from a `User-Agent`; good enough for a person to
/// recognise their own devices, not a fingerprint.
pub(crate) fn describe_user_agent(ua: Option<&str>) -> String {
    let Some(ua) = ua.filter(|u| !u.trim().is_empty()) else {
        return "Unknown browser".to_owned();
    };
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("Firefox/") || has("FxiOS/") {
        "Firefox"
    } else if has("HeadlessChrome/") {
        "Headless Chrome"
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        // A tool or library: its product name ("curl", "python-requests").
        let product: String = ua
            .split(['/', ' '])
            .next()
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        return if product.is_empty() {
            "Unknown browser".to_owned()
        } else {
            product
        };
    };
    let system = if has("Windows") {
        Some("Windows")
    } else if has("Android") {
        Some("Android")
    } else if has("iPhone") || has("iPad") || has("iOS") {
        Some("iOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

fn shown(s: &SessionRecord, current: &SessionRecord) -> AccountSession {
    AccountSession {
        id: public_id(s),
        current: s.id_hash == current.id_hash,
        browser: describe_user_agent(s.user_agent.as_deref()),
        user_agent: s.user_agent.clone(),
        ip: s.ip.clone(),
        signed_in_at: s.auth_time,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
    }
}

/// `GET /api/account/sessions`: the account's live sessions, this one
/// first, then by last use.
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    current: CurrentSession,
) -> Result<Json<Vec<AccountSession>>, ApiError> {
    let mut all: Vec<AccountSession> = kh
        .store()
        .sessions_of(SubjectKind::User, &current.user.id, kh.now())
        .await
        .map_err(store_error)?
        .iter()
        .map(|s| shown(s, &current.session))
        .collect();
    all.sort_by_key(|s| !s.current);
    Ok(Json(all))
}

/// `DELETE /api/account/sessions/{id}`: signs out one session of the
/// account (this one too: that is signing out).
pub(crate) async fn end_one(
    State(kh): State<Keyhouse>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user_id = &current.user.id;
    let sessions = kh
        .store()
        .sessions_of(SubjectKind::User, user_id, kh.now())
        .await
        .map_err(store_error)?;
    let Some(target) = sessions.iter().find(|s| public_id(s) == id) else {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such session of yours").into());
    };
    let ended = kh
        .store()
        .end_session_of(SubjectKind::User, user_id, &target.id_hash, kh.now())
        .await
        .map_err(store_error)?;
    if !ended {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such session of yours").into());
    }
    kh.deliver_logout_notices_later();
    tracing::info!(user_id = %user_id, "one session signed out from the account page");
    kh.audit(
        &format!("user:{user_id}"),
        "session.ended",
        None,
        serde_json::json!({ "session": id }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/sessions/sign-out-others`: every other session of
/// the account ends; this one stays.
pub(crate) async fn end_others(
    State(kh): State<Keyhouse>,
    current: CurrentSession,
) -> Result<Json<SessionsEnded>, ApiError> {
    let user_id = &current.user.id;
    let ended = kh
        .store()
        .end_sessions_except(
            SubjectKind::User,
            user_id,
            &current.session.id_hash,
            kh.now(),
        )
        .await
        .map_err(store_error)?;
    kh.deliver_logout_notices_later();
    tracing::info!(user_id = %user_id, ended, "signed out everywhere else");
    kh.audit(
        &format!("user:{user_id}"),
        "session.ended_others",
        None,
        serde_json::json!({ "ended": ended }),
    )
    .await;
    Ok(Json(SessionsEnded { ended }))
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn user_agents_read_as_a_person_would_name_them() {
        let table = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Headless Chrome on Linux",
            ),
            ("curl/8.11.0", "curl"),
            ("", "Unknown browser"),
        ];
        for (ua, want) in table {
            assert_eq!(describe_user_agent(Some(ua)), want, "{ua}");
        }
        assert_eq!(describe_user_agent(None), "Unknown browser");
    }
}
