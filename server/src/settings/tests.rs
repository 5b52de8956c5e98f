#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::layers::{Layer, load};
use super::reference::{self, ENV_ALIASES, FLAGS};
use super::*;

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn env(list: &[(&str, &str)]) -> Layer {
    Layer::environment(vars(list)).unwrap()
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keyhouse-settings-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn each_layer_wins_over_the_one_before() {
    let file = temp("k.toml", "[tokens]\ncode_ttl = 120\nid_token_ttl = 600\n");
    let from_file = load(
        Some(&file),
        Layer::new("environment variable"),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(from_file.tokens.code_ttl, 120);
    assert_eq!(from_file.tokens.id_token_ttl, 600);
    assert_eq!(
        from_file.tokens.refresh_token_ttl,
        TokenSettings::default().refresh_token_ttl
    );

    let e = env(&[("KEYHOUSE_TOKENS__CODE_TTL", "180")]);
    let over_file = load(Some(&file), e.clone(), Layer::new("flag")).unwrap();
    assert_eq!(over_file.tokens.code_ttl, 180);
    assert_eq!(
        over_file.tokens.id_token_ttl, 600,
        "the file's other keys stay"
    );

    let mut flags = Layer::new("flag");
    flags.set("--x", "tokens.code_ttl", 240);
    assert_eq!(load(Some(&file), e, flags).unwrap().tokens.code_ttl, 240);
}

#[test]
fn older_variable_names_still_work_and_the_table_form_wins() {
    let s = load(
        None,
        env(&[
            ("KEYHOUSE_BIND", "127.0.0.1:4000"),
            ("DATABASE_URL", "postgres://kh@db.internal/kh"),
            ("KEYHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ("KEYHOUSE_METADATA_DOCUMENTS", "off"),
        ]),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:4000");
    assert_eq!(s.issuer(), "http://127.0.0.1:4000");
    assert_eq!(s.database.url, "postgres://kh@db.internal/kh");
    assert_eq!(s.server.trusted_proxies, ["10.0.0.0/8", "192.168.1.1"]);
    assert!(!s.agents.metadata_documents);

    let s = load(
        None,
        env(&[
            ("KEYHOUSE_SERVER__BIND", "127.0.0.1:5000"),
            ("KEYHOUSE_BIND", "127.0.0.1:4000"),
            (
                "KEYHOUSE_AGENTS__DENY_DOMAINS",
                r#"["evil.example", "*.bad.example"]"#,
            ),
        ]),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:5000");
    assert_eq!(s.agents.deny_domains, ["evil.example", "*.bad.example"]);
}

#[test]
fn variables_that_are_not_settings_are_left_alone_but_a_misspelt_key_is_not() {
    // A test harness's variables share the prefix.
    let s = load(
        None,
        env(&[
            ("KEYHOUSE_BIN", "/usr/bin/keyhouse"),
            ("KEYHOUSE_TEST_DB", "postgres"),
            ("KEYHOUSE_MASTER_KEY", "x"),
            ("KEYHOUSE_CONFIG", "/etc/keyhouse.toml"),
            ("HOME", "/root"),
        ]),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:3000");
    let errors = Layer::environment(vars(&[
        ("KEYHOUSE_TOKENS__CODE_TL", "60"),
        ("KEYHOUSE_SIGN_UP__ENABLED", "perhaps"),
        ("KEYHOUSE_TOKENS__ID_TOKEN_TTL", "1h"),
    ]))
    .unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("KEYHOUSE_TOKENS__CODE_TL: names no configuration key"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("sign_up.enabled: \"perhaps\" is not true or false"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tokens.id_token_ttl: \"1h\" is not a whole number"))
    );
    // Empty counts as unset.
    let s = load(None, env(&[("KEYHOUSE_SMTP_URL", "")]), Layer::new("flag")).unwrap();
    assert_eq!(s.mail.smtp_url, None);
}

#[test]
fn values_that_cannot_work_are_refused_with_their_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[tokens]\naccess_token_ttl = 0",
            "tokens.access_token_ttl: 0 is out of range",
        ),
        (
            "[tokens]\naccess_token_ttl = 59",
            "tokens.access_token_ttl: 59 is out of range: 60 to 86400",
        ),
        (
            "[tokens]\nclient_cache_ttl = 61",
            "tokens.client_cache_ttl: 61 is out of range: 0 to 60",
        ),
        (
            "[server]\ndrain_seconds = 301",
            "server.drain_seconds: 301 is out of range: 0 to 300",
        ),
        (
            "[housekeeping]\npurge_interval = 9",
            "housekeeping.purge_interval: 9 is out of range: 10 to 86400",
        ),
        (
            "[housekeeping]\npurge_interval = 86401",
            "housekeeping.purge_interval: 86401 is out of range: 10 to 86400",
        ),
        (
            "[server]\nshutdown_timeout = 0",
            "server.shutdown_timeout: 0 is out of range: 1 to 300",
        ),
        (
            "[tokens]\ncode_ttl = 601",
            "tokens.code_ttl: 601 is out of range",
        ),
        (
            "[tokens]\nclient_cache_ttl = -1",
            "tokens.client_cache_ttl: invalid value",
        ),
        ("[sessions]\nttl = 59", "sessions.ttl: 59 is out of range"),
        (
            "[organizations]\ninvitation_ttl = 3599",
            "organizations.invitation_ttl: 3599 is out of range: 3600 to 2592000",
        ),
        (
            "[organizations]\ninvitation_ttl = 2592001",
            "organizations.invitation_ttl: 2592001 is out of range: 3600 to 2592000",
        ),
        (
            "[pages]\ninvitation = \"org/invitation\"",
            "pages.invitation",
        ),
        (
            "[email_sign_in]\nattempts = 11",
            "email_sign_in.attempts: 11 is out of range",
        ),
        (
            "[login]\nattempts_per_account = 0",
            "login.attempts_per_account: 0 is out of range",
        ),
        (
            "issuer = \"http://id.example.com\"",
            "issuer: http://id.example.com must be https",
        ),
        (
            "issuer = \"https://id.example.com/?x=1\"",
            "issuer: https://id.example.com/?x=1 must have no query",
        ),
        (
            "issuer = \"id.example.com\"",
            "issuer: \"id.example.com\" is not a URL",
        ),
        (
            "[server]\nbind = \"0.0.0.0:3000\"",
            "issuer: required when server.bind (0.0.0.0:3000)",
        ),
        (
            "[server]\nbind = \"127.0.0.1\"",
            "server.bind: not HOST:PORT",
        ),
        (
            "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]",
            "server.trusted_proxies: \"10.0.0.0/33\"",
        ),
        (
            "[database]\nurl = \"mysql://x\"",
            "database.url: not a database URL",
        ),
        (
            "[database]\npassword_file = \"/p\"",
            "database.password_file: a SQLite database has no password",
        ),
        (
            "[agents]\nregistration = \"token\"",
            "agents.registration_token_file: required",
        ),
        (
            "[agents]\nregistration = \"closed\"",
            "agents.registration: unknown variant",
        ),
        (
            "[agents]\ndeny_domains = [\"https://evil.example\"]",
            "agents.deny_domains: \"https://evil.example\"",
        ),
        (
            "[mail]\nsmtp_url = \"http://mail.example\"",
            "mail.smtp_url: not an SMTP URL",
        ),
        (
            "[mail]\nsmtp_password_file = \"/p\"",
            "mail.smtp_password_file: set, but mail.smtp_url is not",
        ),
        (
            "[pages]\nlogout = \"//evil.example\"",
            "pages.logout: \"//evil.example\" is not a path",
        ),
        ("[pages]\nlogout = \"https://evil.example\"", "pages.logout"),
        (
            "[tokens]\ncode_ttl = \"600\"",
            "tokens.code_ttl: invalid type",
        ),
        ("[tokenz]\ncode_ttl = 600", "tokenz: unknown key"),
        (
            "issuer = \"https://id.example.com\"\nbind = \"x\"",
            "bind: unknown key",
        ),
    ];
    for (text, expected) in cases {
        let file = temp("k.toml", text);
        let errors = load(
            Some(&file),
            Layer::new("environment variable"),
            Layer::new("flag"),
        )
        .expect_err(text);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{text:?}: {errors:?} should start with {expected:?}"
        );
    }
    // Loopback issuers may be http.
    for ok in [
        "http://127.0.0.1:3000",
        "http://localhost:8080",
        "http://[::1]:3000",
        "https://id.example.com/",
    ] {
        let file = temp("k.toml", &format!("issuer = \"{ok}\""));
        load(
            Some(&file),
            Layer::new("environment variable"),
            Layer::new("flag"),
        )
        .expect(ok);
    }
    // The purge interval's boundaries are accepted and reach the library
    // as they are (its own clamp starts lower).
    for secs in [10, 86_400] {
        let text = format!("[housekeeping]\npurge_interval = {secs}");
        let s = load(
            Some(&temp("k.toml", &text)),
            Layer::new("environment variable"),
            Layer::new("flag"),
        )
        .expect(&text);
        let config = s.to_config(Config::default()).unwrap().normalized();
        assert_eq!(
            config.purge_interval,
            std::time::Duration::from_secs(secs),
            "{text}"
        );
    }
}

#[test]
fn secret_files_fill_the_urls_and_masking_hides_them() {
    let password = temp("pw", "p@ss word/1\n");
    let mut s = Settings::default();
    s.database.url = "postgres://kh@db.internal:5432/kh".into();
    s.database.password_file = Some(password.clone());
    assert!(s.check().is_empty(), "{:?}", s.check());
    let url = s.database_url().unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.username(), "kh");
    assert_eq!(parsed.password(), Some("p%40ss%20word%2F1"));
    assert_eq!(
        percent_decode(parsed.password().unwrap()),
        "p@ss word/1",
        "the password as written, encoded"
    );

    s.mail.smtp_url = Some("smtps://mailer@smtp.example:465".into());
    s.mail.smtp_password_file = Some(password);
    let config = s.to_config(Config::default()).unwrap();
    match &config.mail.transport {
        keyhouse_axum::MailTransport::Smtp(u) => {
            assert!(
                u.starts_with("smtps://mailer:p%40ss%20word%2F1@smtp.example:465"),
                "{u}"
            );
        }
        other => panic!("{other:?}"),
    }
    let printed = reference::to_toml(&s.masked());
    assert!(
        !printed.contains("p@ss") && !printed.contains("p%40ss"),
        "{printed}"
    );
    s.mail.smtp_url = Some("smtps://mailer:inline@smtp.example:465".into());
    s.database.url = "postgres://kh:inline@db.internal/kh".into();
    let printed = reference::to_toml(&s.masked());
    assert!(!printed.contains("inline"), "{printed}");
    assert!(
        printed.contains("postgres://kh:****@db.internal/kh"),
        "{printed}"
    );
    assert_eq!(
        mask_password("not a url with:secret"),
        "not a url with:****"
    );
    let masked = mask_password("postgres://kh@db/kh?sslmode=require&password=q-s3cret&PASSWORD=x");
    assert!(
        !masked.contains("s3cret") && !masked.contains("=x"),
        "{masked}"
    );
    assert!(masked.contains("sslmode=require"), "{masked}");
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[test]
fn the_defaults_are_the_library_defaults() {
    let s = Settings::default();
    let c = s.to_config(Config::default()).unwrap();
    let d = Config::default();
    assert_eq!(
        (
            c.access_token_ttl,
            c.code_ttl,
            c.id_token_ttl,
            c.refresh_token_ttl,
            c.refresh_family_ttl
        ),
        (
            d.access_token_ttl,
            d.code_ttl,
            d.id_token_ttl,
            d.refresh_token_ttl,
            d.refresh_family_ttl
        )
    );
    assert_eq!(c.access_token_alg, d.access_token_alg);
    assert_eq!(
        (c.session_ttl, c.recent_sign_in),
        (d.session_ttl, d.recent_sign_in)
    );
    assert_eq!(
        (
            c.signup_enabled,
            c.verify_email_at_signup,
            c.signups_per_ip_per_hour
        ),
        (
            d.signup_enabled,
            d.verify_email_at_signup,
            d.signups_per_ip_per_hour
        )
    );
    assert_eq!(
        (
            c.login_attempts_per_account,
            c.login_attempts_per_ip,
            c.login_window,
            c.login_max_delay
        ),
        (
            d.login_attempts_per_account,
            d.login_attempts_per_ip,
            d.login_window,
            d.login_max_delay
        )
    );
    assert_eq!(
        (
            c.email_sign_in,
            c.email_code_ttl,
            c.email_code_attempts,
            c.email_codes_per_ip_per_hour
        ),
        (
            d.email_sign_in,
            d.email_code_ttl,
            d.email_code_attempts,
            d.email_codes_per_ip_per_hour
        )
    );
    assert_eq!(
        c.decisions_per_session_per_minute,
        d.decisions_per_session_per_minute
    );
    assert_eq!(c.agents.registration, d.agents.registration);
    assert_eq!(
        c.agents.registrations_per_ip_per_hour,
        d.agents.registrations_per_ip_per_hour
    );
    assert_eq!(c.mail.from, d.mail.from);
    assert_eq!(c.purge_interval, d.purge_interval);
    assert_eq!(
        (
            c.reset_password_path,
            c.email_link_path,
            c.member_email_link_path,
            c.logout_path
        ),
        (
            d.reset_password_path,
            d.email_link_path,
            d.member_email_link_path,
            d.logout_path
        )
    );
    assert!(s.check().is_empty(), "{:?}", s.check());
}

#[test]
fn every_key_is_documented_and_every_alias_and_flag_names_one() {
    let keys = reference::keys();
    assert!(keys.len() > 40, "{}", keys.len());
    for k in &keys {
        assert!(!k.description.is_empty(), "{} has no doc comment", k.path);
    }
    for (name, path) in ENV_ALIASES {
        assert!(keys.iter().any(|k| k.path == *path), "{name} -> {path}");
    }
    for (path, flag) in FLAGS {
        assert!(keys.iter().any(|k| k.path == *path), "{flag} -> {path}");
    }
}

#[test]
fn the_reference_page_is_the_code_s() {
    let page = include_str!("../../../docs/configuration.md");
    assert!(
        page == reference::markdown(),
        "docs/configuration.md is stale: run `cargo run -p keyhouse --bin keyhouse -- config reference > docs/configuration.md`"
    );
}

#[test]
fn the_printed_file_reads_back_as_the_same_settings() {
    let mut s = Settings {
        issuer: Some("https://id.example.com".into()),
        ..Settings::default()
    };
    s.tokens.code_ttl = 90;
    s.agents.deny_domains = vec!["evil.example".into()];
    s.mail.from = "Keyhouse \"Ops\" <ops@example.com>".into();
    let file = temp("printed.toml", &reference::to_toml(&s));
    let back = load(
        Some(&file),
        Layer::new("environment variable"),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&s).unwrap()
    );
}

#[test]
fn trace_settings_are_checked_and_otel_variables_set_them() {
    let refused = |text: &str| -> Vec<String> {
        let file = temp("k.toml", text);
        load(
            Some(&file),
            Layer::new("environment variable"),
            Layer::new("flag"),
        )
        .expect_err(text)
    };
    let said = refused("[traces]\nsample_ratio = 1.5");
    assert!(
        said[0].starts_with("traces.sample_ratio: 1.5 is out of range: 0 to 1"),
        "{said:?}"
    );
    assert!(refused("[traces]\nsample_ratio = -0.1")[0].starts_with("traces.sample_ratio"));
    assert!(refused("[traces]\nsample_ratio = nan")[0].starts_with("traces.sample_ratio"));
    assert!(refused("[traces]\nservice_name = \" \"")[0].starts_with("traces.service_name: empty"));
    let ratio = load(
        None,
        env(&[("KEYHOUSE_TRACES__SAMPLE_RATIO", "0.25")]),
        Layer::new("flag"),
    )
    .unwrap();
    assert!((ratio.traces.sample_ratio - 0.25).abs() < f64::EPSILON);
    let whole = temp("k.toml", "[traces]\nsample_ratio = 0");
    let whole = load(
        Some(&whole),
        Layer::new("environment variable"),
        Layer::new("flag"),
    )
    .unwrap();
    assert!(
        whole.traces.sample_ratio.abs() < f64::EPSILON,
        "an integer is a number"
    );
    assert!(
        Layer::environment(vars(&[("KEYHOUSE_TRACES__SAMPLE_RATIO", "half")])).is_err(),
        "not a number"
    );
    let named = load(
        None,
        env(&[("OTEL_SERVICE_NAME", "idp-eu")]),
        Layer::new("flag"),
    )
    .unwrap();
    assert_eq!(named.traces.service_name, "idp-eu");

    let endpoint = |list: &[(&str, &str)]| {
        load(None, env(list), Layer::new("flag")).map(|s| s.traces.otlp_endpoint)
    };
    let generic = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
    let traces = (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://collector:4318/custom/traces",
    );
    let ours = (
        "KEYHOUSE_TRACES__OTLP_ENDPOINT",
        "https://otel.example.com/v1/traces",
    );
    if cfg!(feature = "otlp") {
        assert_eq!(
            endpoint(&[generic]).unwrap().as_deref(),
            Some("http://collector:4318/v1/traces"),
            "the base URL gets the traces path"
        );
        for order in [[generic, traces], [traces, generic]] {
            assert_eq!(
                endpoint(&order).unwrap().as_deref(),
                Some("http://collector:4318/custom/traces"),
                "the traces' own variable wins, as is"
            );
        }
        assert_eq!(
            endpoint(&[traces, ours, generic]).unwrap().as_deref(),
            Some("https://otel.example.com/v1/traces")
        );
        for bad in [
            "ftp://collector/v1/traces",
            "collector:4318",
            "http://user:secret@collector:4318/v1/traces",
            "http://collector:4318/v1/traces#x",
            "http://",
        ] {
            let said = endpoint(&[("KEYHOUSE_TRACES__OTLP_ENDPOINT", bad)]).expect_err(bad);
            assert!(
                said[0].starts_with("traces.otlp_endpoint: ")
                    && said[0].contains("is not an http(s) URL")
                    && !said[0].contains("secret"),
                "{bad}: {said:?}"
            );
        }
    } else {
        // A build without traces is told an endpoint, whichever way: it
        // refuses, naming the key and where it came from.
        for given in [generic, traces, ours] {
            let said = endpoint(&[given]).expect_err(given.0);
            assert!(
                said[0].starts_with("traces.otlp_endpoint: this keyhouse was built without traces")
                    && said[0].contains("--features otlp")
                    && said[0].contains(given.0),
                "{said:?}"
            );
        }
        let file = temp(
            "k.toml",
            "[traces]\notlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"",
        );
        let said = load(
            Some(&file),
            Layer::new("environment variable"),
            Layer::new("flag"),
        )
        .expect_err("refused");
        assert!(
            said[0].starts_with("traces.otlp_endpoint: this keyhouse was built without traces")
                && said[0].contains("k.toml"),
            "{said:?}"
        );
    }
    assert_eq!(
        endpoint(&[]).unwrap(),
        None,
        "no endpoint: no traces, in every build"
    );
}
