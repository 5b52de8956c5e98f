//! The one HTTP client Keyhouse fetches with (client metadata documents,
//! `jwks_uri` key sets and client logos), posts back-channel logout
//! tokens with, and speaks to organizations' OpenID Providers with, built so a URL chosen by a stranger
//! cannot reach anything but the public internet (docs/threat-model.md
//! rows 62–64):
//!
//! - https only; redirects are never followed (a 3xx is a failure);
//! - every address a host name resolves to is checked against the
//!   special-use ranges (RFC 6890 and successors) *before* any connection,
//!   and the connection is made to exactly the addresses checked (the
//!   resolver below is the only one the client uses), so a DNS answer that
//!   changes between the check and the connect cannot slip through;
//! - host names that are IP literals are checked the same way;
//! - a few seconds to connect and to finish, a few KB of body (more for a
//!   logo), only a 200 with a JSON content type (an image type whose bytes
//!   say the same, for a logo) counts; no proxy from the environment.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use url::{Host, Url};

/// Largest body read, bytes.
pub(crate) const BODY_CAP: usize = 5 * 1024;
/// Largest logo read, bytes.
pub(crate) const LOGO_CAP: usize = 100 * 1024;
/// Time allowed to connect.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for the whole exchange, body included.
pub(crate) const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fetch failed. Clone, so one failure can answer every waiter of a
/// single-flight fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    /// Not an https URL.
    #[error("only https URLs are fetched")]
    NotHttps,
    /// The host resolves to (or is) a special-use address.
    #[error("{0} is a special-use address")]
    SpecialUse(IpAddr),
    /// The name did not resolve.
    #[error("the host does not resolve: {0}")]
    Dns(String),
    /// Connecting or TLS failed.
    #[error("the host could not be reached: {0}")]
    Connect(String),
    /// Too slow.
    #[error("the host took too long")]
    Timeout,
    /// Anything but 200 (a redirect included).
    #[error("the host answered {0}, not 200")]
    Status(u16),
    /// Not JSON.
    #[error("the host answered something other than JSON")]
    ContentType,
    /// Over [`BODY_CAP`] ([`LOGO_CAP`] for a logo).
    #[error("the body is larger than allowed")]
    TooLarge,
    /// Not a PNG, JPEG, GIF or WebP image (SVG is refused: it can carry
    /// scripts), or bytes that are not the type announced.
    #[error("the logo is not a PNG, JPEG, GIF or WebP image")]
    NotImage,
    /// Malformed JSON.
    #[error("the document is not valid JSON")]
    Json,
}

/// Name resolution, replaceable in tests (which map test names to the
/// addresses a defence must refuse, and never send them a packet).
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 443))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Fixed answers for some names, the system's resolver for the rest: how
/// the end-to-end tests point a test domain at a loopback server (with the
/// test-only loopback setting on; the guard still applies).
#[derive(Debug, Clone, Default)]
pub struct StaticLookup(pub std::collections::HashMap<String, Vec<IpAddr>>);

impl Lookup for StaticLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        match self.0.get(&host.to_ascii_lowercase()) {
            Some(ips) => {
                let ips = ips.clone();
                Box::pin(async move { Ok(ips) })
            }
            None => SystemLookup.lookup(host),
        }
    }
}

/// Whether `ip` is in a special-use range: loopback, private, link-local,
/// CGNAT, multicast, documentation, benchmarking, reserved, unspecified,
/// broadcast, and every IPv6 form that embeds or translates an IPv4
/// address (mapped, compatible, NAT64, 6to4, Teredo), unique-local and
/// site-local.
pub(crate) fn is_special_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                   // "this network"
        || a == 10                           // private
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || a == 127                          // loopback
        || (a == 169 && b == 254)            // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)    // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)    // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)  // 6to4 relay anycast
        || (a == 192 && b == 168)            // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)  // TEST-NET-3
        || a >= 224 // multicast, reserved, broadcast
}

fn special_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0xffff]          // IPv4-mapped
        || s[0..6] == [0, 0, 0, 0, 0, 0]               // IPv4-compatible
        || s[0..6] == [0x64, 0xff9b, 0, 0, 0, 0]       // NAT64
        || s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 // local NAT64
        || s[0..4] == [0x100, 0, 0, 0]                 // discard
        || (s[0] == 0x2001 && s[1] < 0x200)            // IETF protocol assignments, Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8)           // documentation
        || s[0] == 0x2002                              // 6to4
        || (s[0] & 0xfe00) == 0xfc00                   // unique local
        || (s[0] & 0xffc0) == 0xfe80                   // link-local
        || (s[0] & 0xffc0) == 0xfec0                   // site-local
        || (s[0] & 0xff00) == 0xff00 // multicast
}

/// The checks applied to every address before a connection.
#[derive(Debug, Clone, Copy)]
struct Guard {
    /// Tests only: loopback addresses pass.
    allow_loopback: bool,
}

impl Guard {
    fn check(self, ip: IpAddr) -> Result<(), FetchError> {
        let loopback = match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback(),
        };
        if is_special_use(ip) && !(self.allow_loopback && loopback) {
            return Err(FetchError::SpecialUse(ip));
        }
        Ok(())
    }
}

/// The resolver the HTTP client connects through: it resolves, refuses the
/// whole answer if any address is special-use, and hands the checked
/// addresses to the connector, which uses nothing else.
struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let guard = self.guard;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            type BoxError = Box<dyn std::error::Error + Send + Sync>;
            let ips = lookup
                .lookup(host.clone())
                .await
                .map_err(|e| -> BoxError { Box::new(FetchError::Dns(e.to_string())) })?;
            if ips.is_empty() {
                return Err(Box::new(FetchError::Dns(host)) as BoxError);
            }
            for ip in &ips {
                guard.check(*ip).map_err(|e| -> BoxError { Box::new(e) })?;
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The SSRF-safe fetcher.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    guard: Guard,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("allow_loopback", &self.guard.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// A fetched logo.
#[derive(Debug, Clone)]
pub(crate) struct FetchedImage {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`, from the
    /// bytes themselves.
    pub content_type: &'static str,
    /// Seconds the host says it may be kept.
    pub max_age: Option<u64>,
}

/// The image type `bytes` are, by their signature.
pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A fetched JSON document and how long it may be cached.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The body.
    pub body: serde_json::Value,
    /// `Cache-Control: max-age` in seconds; `Some(0)` for `no-store` or
    /// `no-cache`; `None` when the answer says nothing.
    pub max_age: Option<u64>,
}

impl Fetcher {
    /// A fetcher on `lookup`. `allow_loopback` and `extra_root_pem` exist
    /// for tests (a loopback https server with a test CA); the server never
    /// sets them from its configuration.
    pub fn new(
        lookup: Arc<dyn Lookup>,
        allow_loopback: bool,
        extra_root_pem: Option<&str>,
    ) -> Result<Fetcher, FetchError> {
        let guard = Guard { allow_loopback };
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // Every fetch resolves and checks again: documents are cached
            // anyway, and a pooled connection would outlive a DNS change.
            .pool_max_idle_per_host(0)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("keyhouse/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver { lookup, guard }));
        if let Some(pem) = extra_root_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| FetchError::Connect(format!("test CA: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        Ok(Fetcher { client, guard })
    }

    /// GETs a JSON document.
    pub async fn get_json(&self, url: &Url) -> Result<Fetched, FetchError> {
        let raw = self
            .get(url, "application/json", BODY_CAP, |t| {
                t == "application/json" || t.ends_with("+json")
            })
            .await?;
        let body = serde_json::from_slice(&raw.body).map_err(|_| FetchError::Json)?;
        Ok(Fetched {
            body,
            max_age: raw.max_age,
        })
    }

    /// Fetches a logo: a PNG, JPEG, GIF or WebP image of at most
    /// [`LOGO_CAP`] bytes whose signature matches its announced type.
    pub async fn get_image(&self, url: &Url) -> Result<FetchedImage, FetchError> {
        let raw = self
            .get(
                url,
                "image/png, image/jpeg, image/gif, image/webp",
                LOGO_CAP,
                |t| matches!(t, "image/png" | "image/jpeg" | "image/gif" | "image/webp"),
            )
            .await
            .map_err(|e| match e {
                FetchError::ContentType => FetchError::NotImage,
                e => e,
            })?;
        match sniff_image(&raw.body) {
            Some(t) if t == raw.content_type => Ok(FetchedImage {
                bytes: raw.body,
                content_type: t,
                max_age: raw.max_age,
            }),
            _ => Err(FetchError::NotImage),
        }
    }

    /// POSTs a form (a back-channel logout token) and reads no more than
    /// [`BODY_CAP`] of the answer; 200 and 204 count as delivered (OpenID
    /// Connect Back-Channel Logout §2.8), anything else is its status.
    pub async fn post_form(&self, url: &Url, form: &[(&str, &str)]) -> Result<(), FetchError> {
        self.allowed(url)?;
        let exchange = async {
            let mut res = self
                .client
                .post(url.clone())
                .form(form)
                .send()
                .await
                .map_err(classify)?;
            let mut read = 0;
            while let Some(chunk) = res.chunk().await.map_err(classify)? {
                read += chunk.len();
                if read > BODY_CAP {
                    break;
                }
            }
            match res.status().as_u16() {
                200 | 204 => Ok(()),
                other => Err(FetchError::Status(other)),
            }
        };
        tokio::time::timeout(TOTAL_TIMEOUT, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    /// Sends a request built by the OpenID Connect library (single
    /// sign-on: discovery, the key set, the code exchange) through the same
    /// guard, reading at most `cap` bytes of the answer, whatever its
    /// status and type (the library judges those).
    pub(crate) async fn send(
        &self,
        request: axum::http::Request<Vec<u8>>,
        cap: usize,
    ) -> Result<axum::http::Response<Vec<u8>>, FetchError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| FetchError::Connect(format!("request: {e}")))?;
        self.allowed(request.url())?;
        let exchange = async {
            let mut res = self.client.execute(request).await.map_err(classify)?;
            if res.content_length().is_some_and(|n| n > cap as u64) {
                return Err(FetchError::TooLarge);
            }
            let mut out = axum::http::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                out = out.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > cap {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            out.body(body)
                .map_err(|e| FetchError::Connect(format!("response: {e}")))
        };
        tokio::time::timeout(TOTAL_TIMEOUT, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    /// The checks made before anything is resolved: https, and an IP
    /// literal host outside the special-use ranges.
    fn allowed(&self, url: &Url) -> Result<(), FetchError> {
        if url.scheme() != "https" {
            return Err(FetchError::NotHttps);
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => self.guard.check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.guard.check(IpAddr::V6(ip)),
            Some(Host::Domain(_)) => Ok(()),
            None => Err(FetchError::Dns(String::new())),
        }
    }

    async fn get(
        &self,
        url: &Url,
        accept: &'static str,
        cap: usize,
        wanted: fn(&str) -> bool,
    ) -> Result<Raw, FetchError> {
        self.allowed(url)?;
        tokio::time::timeout(TOTAL_TIMEOUT, self.exchange(url, accept, cap, wanted))
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn exchange(
        &self,
        url: &Url,
        accept: &'static str,
        cap: usize,
        wanted: fn(&str) -> bool,
    ) -> Result<Raw, FetchError> {
        let mut res = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(classify)?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if !wanted(&content_type) {
            return Err(FetchError::ContentType);
        }
        if res.content_length().is_some_and(|n| n > cap as u64) {
            return Err(FetchError::TooLarge);
        }
        let max_age = cache_lifetime(res.headers().get(reqwest::header::CACHE_CONTROL));
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Raw {
            body,
            content_type,
            max_age,
        })
    }
}

struct Raw {
    body: Vec<u8>,
    content_type: String,
    max_age: Option<u64>,
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    // The guard's own refusal comes back wrapped in the connect error.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<FetchError>() {
            return f.clone();
        }
        // An io::Error's source() skips its own payload: look inside.
        if let Some(f) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<FetchError>())
        {
            return f.clone();
        }
        source = s.source();
    }
    FetchError::Connect(e.to_string())
}

fn cache_lifetime(value: Option<&reqwest::header::HeaderValue>) -> Option<u64> {
    let v = value?.to_str().ok()?.to_ascii_lowercase();
    let mut max_age = None;
    for d in v.split(',').map(str::trim) {
        if d == "no-store" || d == "no-cache" {
            return Some(0);
        }
        if let Some(n) = d.strip_prefix("max-age=") {
            max_age = n.trim_matches('"').parse().ok();
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_ranges_are_refused_and_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001::1",
            "2001:db8::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            let parsed: Result<IpAddr, _> = ip.parse();
            assert!(
                parsed.is_ok_and(is_special_use),
                "{ip} should be special-use"
            );
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            let parsed: Result<IpAddr, _> = ip.parse();
            assert!(parsed.is_ok_and(|p| !is_special_use(p)), "{ip} is public");
        }
    }

    #[test]
    fn cache_control_is_read_conservatively() {
        let h = |s: &'static str| reqwest::header::HeaderValue::from_static(s);
        assert_eq!(cache_lifetime(Some(&h("public, max-age=600"))), Some(600));
        assert_eq!(cache_lifetime(Some(&h("no-store"))), Some(0));
        assert_eq!(cache_lifetime(Some(&h("max-age=60, no-cache"))), Some(0));
        assert_eq!(cache_lifetime(None), None);
    }
}
