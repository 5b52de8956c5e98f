//! `keyhouse backup` while the server serves and writes, and `keyhouse
//! restore`: the copy is the database of one instant, whole, and usable
//! with the same master key; what is not a sound backup is refused and
//! the database is left alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::common::{self, env};
use serde_json::{Value, json};

fn client_ids(e: &common::Env) -> Vec<String> {
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_that_instant() {
    let e = env().await;
    let backup = e.dir.join("backup.db");
    let backup_arg = backup.display().to_string();
    if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        let out = e.run(&["backup", "--to", &backup_arg]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        assert!(!backup.exists());
        return;
    }
    let before = common::register_agent(&e, "Before", "https://app.example/cb", &[]);
    let (mut server, base) = e
        .serve_with(None, &["--registrations-per-ip-per-hour", "0"])
        .await;
    // Writers keep going through the server during the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written, base) = (stop.clone(), written.clone(), base.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let res = http
                    .post(format!("{base}/oauth2/register"))
                    .json(&json!({
                        "client_name": format!("Agent {}", written.load(Ordering::Relaxed)),
                        "redirect_uris": ["http://127.0.0.1:9/cb"],
                        "token_endpoint_auth_method": "none",
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let said = e.ok(&["backup", "--to", &backup_arg]);
    assert!(said.contains("the integrity check passed"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup is the owner's only");
    }
    let during = written.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(written.load(Ordering::Relaxed) > 5);
    let after = common::register_agent(&e, "After", "https://app.example/cb", &[]);

    // Never over an existing file.
    let out = e.run(&["backup", "--to", &backup_arg]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("never replaces"));

    // Restored elsewhere, with the same master key: the instant of the backup.
    let copy = e.dir.join("copy.db");
    let copy_url = format!("sqlite://{}?mode=rwc", copy.display());
    let out = e.run(&[
        "--database-url",
        &copy_url,
        "restore",
        "--from",
        &backup_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = e.run(&["--database-url", &copy_url, "clients", "list", "--json"]);
    let restored: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ids: Vec<&str> = restored
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&before.client_id.as_str()));
    assert!(!ids.contains(&after.client_id.as_str()));
    let registered = ids.len() - 1;
    assert!(
        (5..=during + 1).contains(&registered),
        "{registered} registrations in the backup, {during} answered when it ended"
    );

    // Not while a server runs on it: refused, nothing changed.
    let out = e.run(&["restore", "--from", &backup_arg]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("stop every instance"), "{said}");
    assert!(client_ids(&e).contains(&after.client_id));

    // Over the live database once the server is stopped: the old one is
    // kept aside, and the restored one serves with the same keys.
    server.kill();
    let out = e.run(&["restore", "--from", &backup_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("moved to"), "{said}");
    let ids = client_ids(&e);
    assert!(ids.contains(&before.client_id));
    assert!(!ids.contains(&after.client_id));
    let (_server, base) = e.serve().await;
    let token = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&before.client_id, Some(&before.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    // The secret verifies (the master key matches): the client is known
    // and authenticated, whatever its grants allow.
    let body: Value = token.json().await.unwrap();
    assert_ne!(body["error"], json!("invalid_client"), "{body}");
}

#[tokio::test]
async fn what_is_not_a_sound_backup_is_refused_and_the_database_left_alone() {
    let e = env().await;
    if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        return;
    }
    let kept = common::register_agent(&e, "Kept", "https://app.example/cb", &[]);
    let junk = e.dir.join("junk.db");
    std::fs::write(&junk, b"this is not a database at all").unwrap();
    let other = e.dir.join("other.db");
    // A SQLite file, but not Keyhouse's.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3; c=sqlite3.connect('{}'); c.execute('create table t(x)'); c.commit()",
                other.display()
            ),
        ])
        .status()
        .unwrap();
    assert!(out.success());
    for bad in [
        &junk,
        &other,
        &e.dir.join("missing.db"),
        &e.dir.join("keyhouse.db"),
    ] {
        let out = e.run(&["restore", "--from", &bad.display().to_string()]);
        assert!(!out.status.success(), "{}", bad.display());
        assert!(
            client_ids(&e).contains(&kept.client_id),
            "{}",
            bad.display()
        );
    }
    assert!(
        std::fs::read_dir(&e.dir).unwrap().all(|f| !f
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("before-restore")),
        "nothing was moved aside"
    );
}
