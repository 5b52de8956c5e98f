//! The configuration file and its layers, through the binary: a value in
//! the file reaches the server, the environment and flags override it, and
//! a value that cannot work stops the start naming its key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, env};
use serde_json::Value;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn created_ttl(e: &common::Env, config: &str, vars: &[(&str, &str)], extra: &[&str]) -> i64 {
    let mut args = vec![
        "--config",
        config,
        "clients",
        "create",
        "--name",
        "Layered",
        "--type",
        "third_party",
        "--redirect-uri",
        "https://app.example/cb",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = e.run_with_env(&args, vars);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    created["access_token_ttl"].as_i64().unwrap()
}

#[tokio::test]
async fn the_file_is_read_and_the_environment_then_flags_override_it() {
    let e = env().await;
    let file = write(
        &e.dir,
        "keyhouse.toml",
        "[tokens]\naccess_token_ttl = 120\n",
    );
    assert_eq!(created_ttl(&e, &file, &[], &[]), 120, "the file's value");
    let env_wins = [("KEYHOUSE_TOKENS__ACCESS_TOKEN_TTL", "240")];
    assert_eq!(created_ttl(&e, &file, &env_wins, &[]), 240, "env over file");
    assert_eq!(
        created_ttl(&e, &file, &env_wins, &["--access-token-ttl", "480"]),
        480,
        "the command's own flag over both"
    );
    // Without the file, the built-in default.
    let empty = write(&e.dir, "empty.toml", "");
    assert_eq!(created_ttl(&e, &empty, &[], &[]), 3600);
}

/// Runs `keyhouse serve` and waits for it to exit; a server that starts
/// instead is killed and the test fails.
fn serve_refused(e: &common::Env, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("DATABASE_URL", &e.url)
        .env("KEYHOUSE_KEY_FILE", e.dir.join("keyhouse.key"))
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(!status.success(), "serve exited 0 with {args:?}");
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with {args:?} {vars:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_value_that_cannot_work_stops_the_start_naming_its_key() {
    let e = env().await;
    let zero = write(&e.dir, "zero.toml", "[tokens]\naccess_token_ttl = 0\n");
    let said = serve_refused(&e, &["--config", &zero], &[]);
    assert!(
        said.contains("tokens.access_token_ttl: 0 is out of range") && said.contains("zero.toml"),
        "{said}"
    );
    let typo = write(&e.dir, "typo.toml", "[tokens]\ncode_tll = 60\n");
    let said = serve_refused(&e, &["--config", &typo], &[]);
    assert!(said.contains("tokens.code_tll: unknown key"), "{said}");
    let wrong_type = write(&e.dir, "type.toml", "[sign_up]\nenabled = \"maybe\"\n");
    let said = serve_refused(&e, &["--config", &wrong_type], &[]);
    assert!(said.contains("sign_up.enabled: invalid type"), "{said}");
    let said = serve_refused(&e, &["--issuer", "http://id.example.com"], &[]);
    assert!(
        said.contains("issuer: http://id.example.com must be https"),
        "{said}"
    );
    let said = serve_refused(&e, &[], &[("KEYHOUSE_TOKENS__CODE_TTL", "900")]);
    assert!(
        said.contains("tokens.code_ttl: 900 is out of range")
            && said.contains("KEYHOUSE_TOKENS__CODE_TTL"),
        "{said}"
    );
    let said = serve_refused(&e, &[], &[("KEYHOUSE_TOKEN__CODE_TTL", "60")]);
    assert!(
        said.contains("KEYHOUSE_TOKEN__CODE_TTL: names no configuration key"),
        "{said}"
    );
    let missing = e.dir.join("missing.toml").display().to_string();
    let said = serve_refused(&e, &["--config", &missing], &[]);
    assert!(said.contains("no such configuration file"), "{said}");
}

/// Without the `otlp` feature, an endpoint for traces stops the start
/// (the spans would otherwise be lost without a word).
#[cfg(not(feature = "otlp"))]
#[tokio::test]
async fn a_build_without_traces_refuses_an_endpoint() {
    let e = env().await;
    let file = write(
        &e.dir,
        "traces.toml",
        "[traces]\notlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"\n",
    );
    let said = serve_refused(&e, &["--config", &file], &[]);
    assert!(
        said.contains("traces.otlp_endpoint: this keyhouse was built without traces")
            && said.contains("--features otlp")
            && said.contains("traces.toml"),
        "{said}"
    );
    let said = serve_refused(
        &e,
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")],
    );
    assert!(
        said.contains("traces.otlp_endpoint: this keyhouse was built without traces")
            && said.contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{said}"
    );
}

#[tokio::test]
async fn the_server_runs_on_the_file() {
    let e = env().await;
    let file = write(
        &e.dir,
        "keyhouse.toml",
        "[agents]\nregistration = \"off\"\n",
    );
    let (_server, base) = e.serve_with(None, &["--config", &file]).await;
    let discovery = common::get_json(format!("{base}/.well-known/openid-configuration")).await;
    assert!(
        discovery.get("registration_endpoint").is_none(),
        "registration is off in the file: {discovery}"
    );
    let refused = reqwest::Client::new()
        .post(format!("{base}/oauth2/register"))
        .json(&serde_json::json!({"redirect_uris": ["https://app.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.status(), 201);
}

#[tokio::test]
async fn secrets_come_from_files_and_are_never_printed() {
    let e = env().await;
    let password = write(&e.dir, "smtp-password", "s3cret-from-file\n");
    let file = write(
        &e.dir,
        "keyhouse.toml",
        &format!(
            "[mail]\nsmtp_url = \"smtp://mailer@127.0.0.1:2525\"\nsmtp_password_file = \"{password}\"\n"
        ),
    );
    let out = e.run(&["--config", &file, "config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A password written in the URL is masked in the printed file.
    let inline = write(
        &e.dir,
        "inline.toml",
        "[mail]\nsmtp_url = \"smtp://mailer:inline-s3cret@127.0.0.1:2525\"\n",
    );
    let printed = e.ok(&["--config", &inline, "config", "print"]);
    assert!(
        printed.contains("smtp_url = \"smtp://mailer:****@127.0.0.1:2525\""),
        "{printed}"
    );
    assert!(!printed.contains("inline-s3cret"), "{printed}");
    // Both a password in the URL and a password file: which one is meant?
    let both = write(
        &e.dir,
        "both.toml",
        &format!(
            "[mail]\nsmtp_url = \"smtp://mailer:x@127.0.0.1:2525\"\nsmtp_password_file = \"{password}\"\n"
        ),
    );
    let out = e.run(&["--config", &both, "config", "check"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("mail.smtp_password_file"), "{said}");
    assert!(!said.contains("s3cret-from-file"), "{said}");
    // An empty secret file is refused, naming the key.
    let empty = write(&e.dir, "empty-password", "\n");
    let file = write(
        &e.dir,
        "empty.toml",
        &format!(
            "[mail]\nsmtp_url = \"smtp://mailer@127.0.0.1:2525\"\nsmtp_password_file = \"{empty}\"\n"
        ),
    );
    let out = e.run(&["--config", &file, "config", "check"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mail.smtp_password_file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
