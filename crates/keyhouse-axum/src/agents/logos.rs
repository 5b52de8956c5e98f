//! Client logos, served by Keyhouse from its own origin
//! (`GET /api/idp/logo?client_id=…`). The browser never loads anything from
//! a client's host (that would tell the host who looked at consent, and
//! when, and let it serve active content): Keyhouse fetches the logo
//! through the guarded fetcher, keeps only PNG, JPEG, GIF and WebP images
//! whose bytes match their type, and serves them with `nosniff` and a
//! policy that runs nothing. docs/threat-model.md row 74.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyhouse_core::client::Client;
use serde::Deserialize;

use crate::Keyhouse;
use crate::agents::fetch::FetchedImage;
use crate::agents::single_flight::SingleFlight;

/// A failed logo fetch is not tried again for this long (a consent page
/// viewed many times must not make Keyhouse fetch many times).
const RETRY_AFTER: Duration = Duration::from_secs(60);

type Entry = (Option<Arc<FetchedImage>>, Instant);

/// Logos by URL, and failures, with the time they hold until; the fetches
/// under way (one per URL however many ask).
#[derive(Default)]
pub(crate) struct Logos {
    entries: Mutex<HashMap<String, Entry>>,
    in_flight: SingleFlight<Option<Arc<FetchedImage>>>,
    fetches: std::sync::atomic::AtomicU64,
}

impl Keyhouse {
    /// The URL Keyhouse serves `client`'s logo at, if it has one.
    pub(crate) fn logo_url(&self, client: &Client) -> Option<String> {
        client.logo_uri.as_ref()?;
        let mut u = url::Url::parse(&format!("{}/api/idp/logo", self.config().issuer)).ok()?;
        u.query_pairs_mut().append_pair("client_id", &client.id);
        Some(u.to_string())
    }

    /// How many logos this instance fetched (tests).
    pub fn logo_fetches(&self) -> u64 {
        self.0
            .logos
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The logo at `uri`: cached, or fetched now (once, however many ask
    /// at the same time).
    pub(crate) async fn logo(&self, uri: &str) -> Option<Arc<FetchedImage>> {
        if let Some((logo, until)) = self
            .0
            .logos
            .entries
            .lock()
            .ok()
            .and_then(|m| m.get(uri).cloned())
            && until > Instant::now()
        {
            return logo;
        }
        let kh = self.clone();
        let key = uri.to_owned();
        self.0
            .logos
            .in_flight
            .run(uri, move || async move { kh.fetch_logo(&key).await })
            .await
    }

    async fn fetch_logo(&self, uri: &str) -> Option<Arc<FetchedImage>> {
        let now = Instant::now();
        let url = url::Url::parse(uri).ok()?;
        let fetcher = self.fetcher().ok()?;
        self.0
            .logos
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fetched = fetcher.get_image(&url).await;
        let (logo, ttl) = match fetched {
            Ok(img) => {
                let ttl = self.config().agents.cache_lifetime(img.max_age);
                (Some(Arc::new(img)), ttl)
            }
            Err(e) => {
                tracing::info!(logo_uri = %uri, error = %e, "client logo refused");
                (None, RETRY_AFTER)
            }
        };
        if let Ok(mut m) = self.0.logos.entries.lock() {
            if m.len() > 1_000 {
                m.clear();
            }
            m.insert(uri.to_owned(), (logo.clone(), now + ttl));
        }
        logo
    }

    /// Fetches `client`'s logo in the background, so that its host learns
    /// of a fetch when its document is read, not when a person looks at
    /// consent.
    pub(crate) fn prefetch_logo(&self, client: &Client) {
        if let Some(uri) = client.logo_uri.clone() {
            let kh = self.clone();
            tokio::spawn(async move {
                let _ = kh.logo(&uri).await;
            });
        }
    }
}

/// `?client_id=`.
#[derive(Deserialize)]
pub(crate) struct LogoQuery {
    client_id: String,
}

/// `GET /api/idp/logo?client_id=…`: the client's logo, or 404.
pub(crate) async fn serve(State(kh): State<Keyhouse>, Query(q): Query<LogoQuery>) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let Ok(Some(client)) = kh.client(&q.client_id).await else {
        return not_found();
    };
    let Some(uri) = client.logo_uri.as_deref() else {
        return not_found();
    };
    image_response(kh.logo(uri).await)
}

/// A fetched logo as Keyhouse serves it (`nosniff`, a policy that runs
/// nothing, an hour in caches), or 404.
pub(crate) fn image_response(logo: Option<Arc<FetchedImage>>) -> Response {
    let Some(logo) = logo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = logo.bytes.clone().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(logo.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    res
}
