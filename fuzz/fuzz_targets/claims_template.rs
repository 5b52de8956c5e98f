//! `keyhouse_core::claims::{validate_template, render_template}`.
//!
//! Input: the first line is the user, `sub|email|name[|organization_id|slug]`;
//! the rest is the template.
//!
//! Invariants: never a panic; an accepted template is a JSON object of at
//! most 20 claims and 4 KiB naming no reserved claim; the rendered map never
//! holds a reserved claim and holds every other claim of the template, with
//! non-string values copied as they are; placeholders are expanded in one
//! pass (a user's own text is inserted verbatim, never expanded again); an
//! accepted template rendered for a user with no braces in their data leaves
//! no `{{` behind; and the rendered claims placed in an access token cannot
//! change its named claims.
#![no_main]

use keyhouse_core::claims::{
    AccessTokenClaims, OrganizationClaim, RESERVED_CLAIMS, UserProfile, render_template,
    validate_template,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const SENTINELS: [&str; 5] = [
    "\u{1}S\u{1}",
    "\u{1}E\u{1}",
    "\u{1}N\u{1}",
    "\u{1}I\u{1}",
    "\u{1}L\u{1}",
];

fn user(fields: [&str; 5], org: bool) -> UserProfile {
    UserProfile {
        subject: fields[0].to_owned(),
        email: fields[1].to_owned(),
        email_verified: true,
        name: fields[2].to_owned(),
        updated_at: 0,
        organization: org.then(|| OrganizationClaim {
            organization_id: fields[3].to_owned(),
            slug: fields[4].to_owned(),
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, template) = text.split_once('\n').unwrap_or(("", text));
    let parts: Vec<&str> = first.split('|').collect();
    let field = |i: usize| parts.get(i).copied().unwrap_or("");
    let fields = [field(0), field(1), field(2), field(3), field(4)];
    let org = parts.len() >= 4;
    let profile = user(fields, org);

    let parsed: Option<Map<String, Value>> = match serde_json::from_str(template) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let valid = validate_template(template).is_ok();
    if valid {
        let obj = parsed
            .as_ref()
            .expect("an accepted template is a JSON object");
        assert!(obj.len() <= 20 && template.len() <= 4096);
        assert!(obj.keys().all(|k| !RESERVED_CLAIMS.contains(&k.as_str())));
    }

    let out = render_template(template, &profile);
    for k in out.keys() {
        assert!(
            !RESERVED_CLAIMS.contains(&k.as_str()),
            "rendered a reserved claim {k:?}"
        );
    }
    match &parsed {
        None => assert!(out.is_empty()),
        Some(obj) => {
            let kept: Vec<&String> = obj
                .keys()
                .filter(|k| !RESERVED_CLAIMS.contains(&k.as_str()))
                .collect();
            assert_eq!(out.keys().collect::<Vec<_>>(), kept);
            for (k, v) in obj {
                if !v.is_string() && !RESERVED_CLAIMS.contains(&k.as_str()) {
                    assert_eq!(out.get(k), Some(v), "{k:?} changed");
                }
            }
        }
    }

    // One pass: rendering with stand-ins, then swapping the stand-ins for the
    // user's data, gives the same as rendering with the data itself. (U+0001
    // marks the stand-ins, so inputs holding it are skipped.)
    if !template.contains('\u{1}') && !fields.iter().any(|f| f.contains('\u{1}')) {
        let stand_in = render_template(template, &user(SENTINELS, org));
        let swapped: Map<String, Value> = stand_in
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => {
                    let mut s = s;
                    for (sentinel, value) in SENTINELS.iter().zip(fields) {
                        s = s.replace(sentinel, value);
                    }
                    (k, Value::String(s))
                }
                other => (k, other),
            })
            .collect();
        assert_eq!(swapped, out, "a user's data was expanded again");
    }

    if valid && !fields.iter().any(|f| f.contains('{') || f.contains('}')) {
        for (k, v) in &out {
            if let Value::String(s) = v {
                assert!(!s.contains("{{"), "{k:?} = {s:?} still holds a placeholder");
            }
        }
    }

    let claims = AccessTokenClaims {
        iss: "https://idp.example".into(),
        sub: profile.subject.clone(),
        aud: "https://api.example".into(),
        client_id: "c1".into(),
        scope: "openid".into(),
        exp: 2,
        iat: 1,
        nbf: 1,
        jti: "j".into(),
        auth_time: Some(1),
        fid: Some("f".into()),
        organization: None,
        extra: out,
    };
    let value = serde_json::to_value(&claims).expect("claims serialize");
    let back: AccessTokenClaims = serde_json::from_value(value).expect("claims decode");
    assert_eq!(back, claims, "the template changed a named claim");
});
