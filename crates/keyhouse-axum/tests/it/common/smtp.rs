//! A real SMTP server for one test: Debian's aiosmtpd (installed by
//! `scripts/setup.sh test`) on a loopback port, storing what it receives
//! in a Maildir the test reads. Stopped and removed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The first `https?://…` link in the text body that contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| (w.starts_with("http://") || w.starts_with("https://")) && w.contains(needle))
            .map(str::to_owned)
    }

    /// The six-digit code of the text body (a line of its own).
    pub fn code(&self) -> Option<String> {
        self.text
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct SmtpServer {
    child: Child,
    dir: PathBuf,
    /// `smtp://127.0.0.1:<port>`, for `MailTransport::Smtp`.
    pub url: String,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> String {
    std::env::var("KEYHOUSE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned())
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let n: u64 = rand::random();
        let dir = std::env::temp_dir().join(format!("keyhouse-smtp-{}-{n:x}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("maildir parent");
        let maildir = dir.join("mail");
        // A free loopback port (the race with another process taking it in
        // between is retried below).
        for _ in 0..5 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                l.local_addr().expect("addr").port()
            };
            let mut child = Command::new(python())
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start aiosmtpd (scripts/setup.sh test installs python3-aiosmtpd)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return SmtpServer {
                        child,
                        dir,
                        url: format!("smtp://127.0.0.1:{port}"),
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("aiosmtpd did not start");
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join("mail").join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((modified, e.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read(p).ok())
            .map(|raw| parse(&raw))
            .collect()
    }

    /// Waits (up to 10 s) for the `n`th message (counting from 1) sent to
    /// `to`, and returns it.
    pub async fn wait_for(&self, to: &str, n: usize) -> Received {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mine: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|m| m.to.contains(to))
                .collect();
            if mine.len() >= n {
                return mine[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no message #{n} to {to} within 10 s (received: {:?})",
                self.received()
                    .iter()
                    .map(|m| (&m.to, &m.subject))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many messages were sent to `to` so far.
    pub fn count_to(&self, to: &str) -> usize {
        self.received().iter().filter(|m| m.to.contains(to)).count()
    }
}

fn parse(raw: &[u8]) -> Received {
    let mail = mailparse::parse_mail(raw).expect("a parsable message");
    let headers: Vec<(String, String)> = mail
        .headers
        .iter()
        .map(|h| (h.get_key(), h.get_value()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut text = String::new();
    let mut html = String::new();
    let mut parts = vec![&mail];
    while let Some(p) = parts.pop() {
        match p.ctype.mimetype.as_str() {
            "text/plain" => text = p.get_body().expect("text body"),
            "text/html" => html = p.get_body().expect("html body"),
            _ => parts.extend(p.subparts.iter()),
        }
    }
    Received {
        to: get("To"),
        subject: get("Subject"),
        text,
        html,
        headers,
    }
}
