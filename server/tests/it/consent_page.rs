//! The consent page as the server sends it: the authorize start's answer
//! in a data block the component uses instead of asking, and the consent
//! screen already rendered, so the client is named before any wasm runs.

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A registered name that tries to leave the data block and the page's
/// markup: it must come out as text.
const HOSTILE_NAME: &str = "Notes GPT</script><script>alert(1)</script><!--<b>&amp;";

const LOADER: &str = "import init from '/app-0123456789abcdef.js';init();";

fn built_app(env: &common::Env) {
    let dist = env.dir.join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(
        dist.join("index.html"),
        format!(
            "<!DOCTYPE html><html><head><script type=\"module\">{LOADER}</script></head>\
             <body><noscript>needs JavaScript</noscript></body></html>"
        ),
    )
    .expect("index");
}

/// The JSON inside `<script type="application/json" id="kh-authorize-start">`.
fn data_block(html: &str) -> Option<Value> {
    let open = r#"<script type="application/json" id="kh-authorize-start">"#;
    let start = html.find(open)? + open.len();
    let end = start + html[start..].find("</script>")?;
    Some(serde_json::from_str(&html[start..end]).expect("the data block is JSON"))
}

#[tokio::test]
async fn the_consent_page_names_the_client_and_carries_the_start_answer() {
    let env = common::env().await;
    built_app(&env);
    let agent = common::register_agent(&env, HOSTILE_NAME, REDIRECT, &[]);
    let (_server, base) = env.serve().await;
    let browser = common::signed_up(&env, &base, "ada@example.test").await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", agent.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid notes:read"),
            ("state", "s1"),
        ])
        .finish();
    let page = format!("/idp?{query}");

    let res = browser
        .get(format!("{base}{page}"))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    // The person's own request is in it: no cache may keep it.
    assert_eq!(h["cache-control"], "no-store");
    let html = res.text().await.expect("html");

    // The same answer the API gives this browser, for this page only.
    let block = data_block(&html).expect("the page carries the answer");
    assert_eq!(block["page"], page);
    assert_eq!(block["status"], 200);
    assert_eq!(block["members"], false);
    let from_api: Value = browser
        .post(format!("{base}/api/idp/authorize/start"))
        .json(
            &json!({"response_type": "code", "client_id": agent.client_id,
                      "redirect_uri": REDIRECT, "scope": "openid notes:read", "state": "s1"}),
        )
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    assert_eq!(block["answer"], from_api);
    assert_eq!(block["answer"]["client"]["name"], HOSTILE_NAME);

    // Nothing the client registered leaves the text it belongs in: one
    // executable script (the loader), the name escaped in the markup.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert!(!html.contains("alert(1)</script>"), "{html}");
    assert!(!html.contains("<!--<b>"), "{html}");
    assert!(
        html.contains("Notes GPT&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is painted, as text: {html}"
    );
    // The screen is there before the bundle, and its buttons work: they
    // submit the decision's form (the script takes the clicks once it
    // runs).
    let paint = html
        .split(r#"id="kh-first-paint""#)
        .nth(1)
        .expect("the first paint");
    assert!(paint.contains(r#"data-testid="consent""#));
    assert!(
        paint.contains(r#"action="/api/idp/authorize/form""#),
        "{paint}"
    );
    for button in ["consent-approve", "consent-deny"] {
        let at = paint
            .find(&format!(r#"data-testid="{button}""#))
            .expect(button);
        let tag_start = paint[..at].rfind("<button").expect("a button");
        let tag = &paint[tag_start..at + paint[at..].find('>').expect("tag end")];
        assert!(
            tag.starts_with(r#"<button type="submit""#),
            "{button}: {tag}"
        );
        assert!(!tag.contains("disabled"), "{button} works: {tag}");
    }
    // The page's policy is the one every page has: the data block is not
    // a script, so it needs (and gets) no hash, and the form posts to this
    // site only (its answer forwards the browser to the client).
    let home = reqwest::get(format!("{base}/")).await.expect("home");
    assert_eq!(
        h["content-security-policy"],
        home.headers()["content-security-policy"]
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("form-action 'self';")
    );
    assert!(data_block(&home.text().await.expect("home html")).is_none());
}

#[tokio::test]
async fn without_a_consent_screen_the_page_carries_only_the_answer() {
    let env = common::env().await;
    built_app(&env);
    let agent = common::register_agent(&env, "Notes GPT", REDIRECT, &[]);
    let (_server, base) = env.serve().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        agent.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let unknown =
        "response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb";
    for (query, status, error) in [
        // Signed out: the answer says sign in first (the bundle goes to
        // the login page at once).
        (query.as_str(), 401, "login_required"),
        // An unknown client is refused in the page, never redirected.
        (unknown, 400, "invalid_client"),
    ] {
        let res = reqwest::get(format!("{base}/idp?{query}"))
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let html = res.text().await.expect("html");
        let block = data_block(&html).expect("the answer");
        assert_eq!(block["status"], status, "{block}");
        assert_eq!(block["error"]["error"], error, "{block}");
        assert!(!html.contains("kh-first-paint"), "nothing is painted");
        // In the head, where a hydrating app's body is left alone.
        assert!(html.find(r#"id="kh-authorize-start""#) < html.find("</head>"));
    }
    // A request that is not a navigation (a prefetch, a subresource) does
    // no authorization work.
    let res = reqwest::Client::new()
        .get(format!("{base}/idp?{query}"))
        .header("sec-fetch-mode", "no-cors")
        .send()
        .await
        .expect("page");
    assert!(data_block(&res.text().await.expect("html")).is_none());
}

async fn page_html(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("page")
        .text()
        .await
        .expect("html")
}

#[tokio::test]
async fn the_consent_pages_are_served_by_their_own_bundles() {
    let env = common::env().await;
    let dist = env.dir.join("dist");
    for (dir, marker) in [
        ("", "main"),
        ("org", "org"),
        ("idp", "idp"),
        ("org/idp", "org-idp"),
        ("admin", "admin"),
    ] {
        let at = dist.join(dir);
        std::fs::create_dir_all(&at).expect("dir");
        let sheet = format!("/{dir}/look.css").replace("//", "/");
        std::fs::write(at.join("look.css"), format!(".{marker}{{color:red}}")).expect("css");
        std::fs::write(
            at.join("index.html"),
            format!(
                "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"{sheet}\"/></head>\
                 <body><p>{marker}</p></body></html>"
            ),
        )
        .expect("index");
    }
    std::fs::write(dist.join("org/idp/org-idp-8004da7c9245c8f.js"), "//").expect("js");
    let (_server, base) = env.serve().await;
    for (path, marker) in [
        ("/idp?client_id=x", "idp"),
        ("/org/idp?client_id=x", "org-idp"),
        ("/org", "org"),
        ("/org/settings", "org"),
        ("/idpx", "main"),
        ("/login", "main"),
        ("/admin/users", "admin"),
    ] {
        let res = reqwest::get(format!("{base}{path}")).await.expect("page");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let html = res.text().await.expect("html");
        assert!(html.contains(&format!("<p>{marker}</p>")), "{path}: {html}");
        // The consent pages carry their stylesheets, admitted by hash; the
        // other pages link theirs.
        let css = format!(".{marker}{{color:red}}");
        let inlined = format!("<style>{css}</style>");
        let consent = marker.ends_with("idp");
        assert_eq!(html.contains(&inlined), consent, "{path}: {html}");
        assert_eq!(
            html.contains("rel=\"stylesheet\""),
            !consent,
            "{path}: {html}"
        );
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css));
        assert!(
            csp.contains(&format!("'sha256-{hash}'")) == consent,
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    // Below a consent page is no consent page.
    let html = page_html(&format!("{base}/idp/anything")).await;
    assert!(html.contains("<p>main</p>"), "{html}");
    // Its files are under its path, cached for good (Trunk's hash, here
    // without a leading zero).
    let res = reqwest::get(format!("{base}/org/idp/org-idp-8004da7c9245c8f.js"))
        .await
        .expect("file");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
}
