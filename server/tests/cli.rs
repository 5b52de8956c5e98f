//! The `keyhouse` command line, in the exact forms other tools rely on, on
//! SQLite or (with `KEYHOUSE_TEST_DB=postgres`) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    url: String,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn env() -> Env {
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("keyhouse-cli-{}-{n:x}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        let admin = std::env::var("KEYHOUSE_TEST_PG_URL").unwrap();
        let name = format!("kh_cli_{n:x}");
        let store = keyhouse_store::Store::connect(&admin).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(
            store.connection(),
            &format!("CREATE DATABASE {name}"),
        )
        .await
        .unwrap();
        let base = admin.rsplit_once('/').unwrap().0.to_owned();
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("keyhouse.db").display())
    };
    Env { url, dir }
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_keyhouse"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("KEYHOUSE_KEY_FILE", self.dir.join("keyhouse.key"))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[tokio::test]
async fn clients_create_list_delete() {
    let e = env().await;
    let created: Value = serde_json::from_str(&e.ok(&[
        "clients",
        "create",
        "--name",
        "My GPT",
        "--type",
        "third_party",
        "--redirect-uri",
        "https://chat.openai.com/aip/g-1/oauth/callback",
        "--redirect-uri",
        "https://chatgpt.com/aip/g-1/oauth/callback",
        "--json",
    ]))
    .unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["client_secret"].as_str().map(str::len), Some(43));
    let public: Value = serde_json::from_str(&e.ok(&[
        "clients",
        "create",
        "--name",
        "CLI app",
        "--type",
        "first_party_public",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--json",
    ]))
    .unwrap();
    assert!(
        public.get("client_secret").is_none(),
        "public clients have no secret"
    );

    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()));
    assert_eq!(ids.len(), 2);
    assert!(
        !e.ok(&["clients", "list", "--json"])
            .contains(created["client_secret"].as_str().unwrap())
    );

    e.ok(&["clients", "delete", &id]);
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !e.run(&["clients", "delete", &id]).status.success(),
        "deleting twice fails"
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_message() {
    let e = env().await;
    let table: [&[&str]; 4] = [
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "fourth_party",
            "--redirect-uri",
            "https://a.example/cb",
        ],
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "third_party",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "third_party",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        &[
            "users",
            "create",
            "--email",
            "not-an-email",
            "--password",
            "long enough password",
        ],
    ];
    for args in table {
        let out = e.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} should say why");
    }
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "no half-written client");
}

#[tokio::test]
async fn users_keys_migrate_and_serve() {
    let e = env().await;
    e.ok(&["migrate"]);
    e.ok(&[
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        "correct horse",
        "--name",
        "Ada",
    ]);
    assert!(
        !e.run(&[
            "users",
            "create",
            "--email",
            "ADA@example.com",
            "--password",
            "correct horse"
        ])
        .status
        .success()
    );
    e.ok(&["keys", "rotate"]);

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .args(["serve", "--bind", &bind])
        .env("DATABASE_URL", &e.url)
        .env("KEYHOUSE_KEY_FILE", e.dir.join("keyhouse.key"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://{bind}");
    let mut doc = None;
    for _ in 0..100 {
        if let Ok(res) = reqwest::get(format!("{base}/.well-known/openid-configuration")).await {
            doc = res.json::<Value>().await.ok();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let jwks: Option<Value> = match reqwest::get(format!("{base}/.well-known/jwks.json")).await {
        Ok(r) => r.json().await.ok(),
        Err(_) => None,
    };
    let login = reqwest::Client::new()
        .post(format!("{base}/api/session/login"))
        .json(&serde_json::json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let _ = child.kill();
    let _ = child.wait();
    let doc = doc.expect("discovery answered");
    assert_eq!(
        doc["issuer"],
        base.as_str(),
        "issuer defaults to the bind address"
    );
    // After one rotation: retiring, current and next for both algorithms.
    assert_eq!(
        jwks.expect("jwks")["keys"].as_array().map(Vec::len),
        Some(6)
    );
    assert_eq!(login.ok(), Some(200), "the CLI-created user can log in");
}
