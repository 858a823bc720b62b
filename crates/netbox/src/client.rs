//! The NetBox REST client: authentication, pagination, retries and request counting.
//!
//! HTTP is reqwest (on hyper 1 and rustls with ring, no OpenSSL): it brings connection pooling,
//! timeouts and query encoding that a bare hyper client would make us write again, and both are
//! already in the tree through kube.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// The largest page NetBox serves by default (`MAX_PAGE_SIZE`).
pub const PAGE_SIZE: usize = 1000;

/// Condition reason of a list that changed under its pagination (objects created or deleted
/// while the pages were read).
pub const LIST_CHANGED: &str = "ListChanged";
/// Condition reason of a NetBox without a plugin the sync reads (netbox-bgp).
pub const PLUGIN_MISSING: &str = "PluginMissing";

/// An API token, told apart by its form.
#[derive(Clone, PartialEq, Eq)]
pub enum Token {
    /// A v1 token, 40 hex characters: `Authorization: Token <token>`.
    V1(String),
    /// A v2 token, `nbt_<id>.<secret>`: `Authorization: Bearer <token>`.
    V2(String),
}

impl Token {
    /// Parses a token as stored in a Secret (surrounding whitespace, e.g. a trailing newline, is
    /// ignored). The error never repeats the token.
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        let t = raw.trim();
        if let Some(rest) = t.strip_prefix("nbt_") {
            let ok = rest
                .split_once('.')
                .is_some_and(|(id, secret)| !id.is_empty() && !secret.is_empty())
                && t.bytes().all(|b| b.is_ascii_graphic());
            if ok {
                return Ok(Self::V2(t.to_owned()));
            }
            return Err(ClientError::InvalidToken(
                "a v2 token must look like nbt_<id>.<secret>".into(),
            ));
        }
        if t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self::V1(t.to_owned()));
        }
        Err(ClientError::InvalidToken(format!(
            "expected a v1 token (40 hex characters) or a v2 token (nbt_<id>.<secret>), got {} characters",
            t.len()
        )))
    }

    fn header(&self) -> HeaderValue {
        let s = match self {
            Self::V1(t) => format!("Token {t}"),
            Self::V2(t) => format!("Bearer {t}"),
        };
        // Only printable ASCII gets past `parse`, which HeaderValue accepts.
        let mut v = HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""));
        v.set_sensitive(true);
        v
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V1(_) => f.write_str("Token::V1(..)"),
            Self::V2(_) => f.write_str("Token::V2(..)"),
        }
    }
}

/// What can go wrong talking to NetBox. Secrets never appear in the messages.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid NetBox URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid NetBox API token: {0}")]
    InvalidToken(String),
    #[error(
        "NetBox refused the API token (HTTP {status} for {url}): {detail}; check the token Secret and the token's permissions"
    )]
    Unauthorized {
        url: String,
        status: u16,
        detail: String,
    },
    #[error(
        "NetBox answered 404 Not Found for {url}: check the NetBox URL (NetBox's base URL, without /api/)"
    )]
    NotFound { url: String },
    #[error(
        "NetBox answered 404 Not Found for {url}: {plugin} is not installed in this NetBox (PLUGINS in its configuration.py)"
    )]
    PluginMissing { url: String, plugin: String },
    #[error("NetBox at {url} is unreachable after {attempts} attempt(s): {source}")]
    Unreachable {
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("NetBox answered HTTP {status} for {url} after {attempts} attempt(s): {body}")]
    Server {
        url: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error("NetBox rejected {method} {url} (HTTP {status}): {body}")]
    Rejected {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "NetBox's list {url} changed while its pages were read, twice ({detail}): objects may have been skipped, so nothing is concluded from it"
    )]
    ListChanged { url: String, detail: String },
    #[error("unexpected answer from {url} (is this NetBox's API?): {source}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// A CamelCase reason for a status condition (bounded, safe as a metric label).
    pub fn reason(&self) -> &'static str {
        use fabric_api::conditions::reasons;
        match self {
            Self::InvalidUrl { .. } | Self::NotFound { .. } => reasons::INVALID_URL,
            Self::InvalidToken(_) | Self::Unauthorized { .. } => reasons::UNAUTHORIZED,
            Self::Unreachable { .. } => reasons::UNREACHABLE,
            Self::Server { .. } => reasons::SERVER_ERROR,
            Self::Rejected { .. } => reasons::REJECTED,
            Self::Decode { .. } => reasons::INVALID_RESPONSE,
            Self::ListChanged { .. } => LIST_CHANGED,
            Self::PluginMissing { .. } => PLUGIN_MISSING,
        }
    }

    /// Whether trying again later may help (network or server trouble), as opposed to a
    /// configuration error that waits for a change (bad token, wrong URL).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Server { .. } | Self::ListChanged { .. }
        )
    }
}

/// Client settings besides URL and token.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of a read after a 5xx, 429, timeout or connection error.
    pub max_retries: u32,
    /// First backoff; doubles on each retry.
    pub backoff: Duration,
    /// Requests in flight at once (pages of one list and lists of one sync together).
    pub concurrency: usize,
    /// Page size of list requests.
    pub page_size: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff: Duration::from_millis(250),
            // A webhook's re-sync sends 5 requests at once (device, interfaces, addresses,
            // BGP sessions, VNIs): 6 lets them go in one round trip. Full syncs were faster
            // with 6 than with 4 too (crates/netbox/README.md).
            concurrency: 6,
            page_size: PAGE_SIZE,
        }
    }
}

/// Counts of HTTP requests, for the operator's metrics.
#[derive(Debug, Default)]
pub struct RequestCounters {
    requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

impl RequestCounters {
    /// HTTP requests sent (each attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Attempts that were retries.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
    /// Requests that ended in an error after all retries.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// A NetBox REST API client. Cheap to clone; clones share the connection pool and counters.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// NetBox's base URL, ending in `/`.
    base: Url,
    auth: HeaderValue,
    options: ClientOptions,
    permits: Arc<Semaphore>,
    counters: Arc<RequestCounters>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Page<T> {
    count: usize,
    results: Vec<T>,
}

impl Client {
    /// A client for NetBox at `url` (its base URL, e.g. `https://netbox.example.net` or
    /// `https://example.net/netbox`) with default options.
    pub fn new(url: &str, token: Token) -> Result<Self, ClientError> {
        Self::with_options(url, token, ClientOptions::default())
    }

    pub fn with_options(
        url: &str,
        token: Token,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("the URL must not have a query or fragment"));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(options.concurrency.max(1))
            // gunicorn (NetBox's server) closes an idle keep-alive connection after 2 s; a
            // connection reused just as it closes fails the request (IncompleteMessage). Drop
            // idle ones before the server does: a sync's requests follow each other closely.
            .pool_idle_timeout(Duration::from_secs(1))
            .user_agent(concat!("fabric-netbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(&format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            auth: token.header(),
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            counters: Arc::new(RequestCounters::default()),
        })
    }

    /// The base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Request counters shared by all clones of this client.
    pub fn counters(&self) -> &Arc<RequestCounters> {
        &self.counters
    }

    /// Counts into `counters` from now on, e.g. counters that outlive this client (the operator
    /// builds a new client when a token rotates, and its metric must not start again from 0).
    pub fn with_counters(mut self, counters: Arc<RequestCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// A clone with its own limit of requests in flight (connections and counters shared): a
    /// webhook's few requests then do not queue behind the pages of a full sync on the same
    /// client.
    pub fn with_own_permits(&self) -> Self {
        let mut c = self.clone();
        c.permits = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        c
    }

    /// The number of HTTP requests sent so far.
    pub fn request_count(&self) -> u64 {
        self.counters.requests()
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ClientError> {
        let mut url =
            self.base
                .join(path.trim_start_matches('/'))
                .map_err(|e| ClientError::InvalidUrl {
                    url: format!("{}{path}", self.base),
                    reason: e.to_string(),
                })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends one request, retrying reads and idempotent writes (GET, PUT, PATCH: the same body
    /// again sets the same fields) on 5xx, 429, timeouts and connection errors with exponential
    /// backoff; a POST or DELETE is sent once. Returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ClientError> {
        let retry = matches!(method, Method::GET | Method::PUT | Method::PATCH);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = self.permits.acquire().await.ok();
                self.counters.requests.fetch_add(1, Ordering::Relaxed);
                if attempt > 1 {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                let mut req = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(AUTHORIZATION, self.auth.clone())
                    .header("Accept", "application/json");
                if let Some(b) = body {
                    req = req.json(b);
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        resp.bytes().await.map(|b| (status, b.to_vec()))
                    }
                    Err(e) => Err(e),
                }
            };
            let can_retry = retry && attempt <= self.options.max_retries;
            let err = match outcome {
                Ok((status, bytes)) if status.is_success() => return Ok(bytes),
                Ok((status, bytes)) => {
                    let transient =
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                    if transient && can_retry {
                        warn!(%url, status = status.as_u16(), attempt, "NetBox request failed, retrying");
                        self.sleep_backoff(attempt).await;
                        continue;
                    }
                    status_error(&method, &url, status, &bytes, attempt)
                }
                Err(e) => {
                    if can_retry && (e.is_timeout() || e.is_connect() || e.is_request()) {
                        warn!(%url, error = %e, attempt, "NetBox unreachable, retrying");
                        self.sleep_backoff(attempt).await;
                        continue;
                    }
                    ClientError::Unreachable {
                        url: url.to_string(),
                        attempts: attempt,
                        source: e,
                    }
                }
            };
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            return Err(err);
        }
    }

    async fn sleep_backoff(&self, attempt: u32) {
        let factor = 1u32 << (attempt - 1).min(6);
        tokio::time::sleep(self.options.backoff * factor).await;
    }

    fn decode<T: DeserializeOwned>(url: &Url, bytes: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(bytes).map_err(|source| ClientError::Decode {
            url: url.to_string(),
            source,
        })
    }

    /// GETs one object (or any JSON document) at `path`, relative to the base URL
    /// (`api/dcim/devices/12/`).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let url = self.url(path, query)?;
        let bytes = self.send(Method::GET, url.clone(), None).await?;
        Self::decode(&url, &bytes)
    }

    /// Every object of a list endpoint: the first page tells the count, the other pages are
    /// fetched concurrently (up to `concurrency` requests in flight across the client).
    /// `query` holds filters and, where useful, `fields` (`("fields", "id,name".into())`).
    ///
    /// An object created or deleted while the pages are read shifts the later pages: one
    /// object would be skipped or read twice. Every page must report the first page's count and
    /// the pages must add up to it; otherwise the list is read once more, and a second mismatch
    /// is [`ClientError::ListChanged`] (transient: the caller retries later, concluding nothing).
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        match self.list_once(path, query).await {
            Err(ClientError::ListChanged { url, detail }) => {
                warn!(%url, %detail, "NetBox list changed while read; reading it again");
                self.list_once(path, query).await
            }
            other => other,
        }
    }

    async fn list_once<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        let limit = self.options.page_size.max(1);
        let page_url = |offset: usize| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("limit", limit.to_string()));
            q.push(("offset", offset.to_string()));
            // A stable order, so that concurrent pages neither skip nor repeat objects.
            if !query.iter().any(|(k, _)| *k == "ordering") {
                q.push(("ordering", "id".into()));
            }
            self.url(path, &q)
        };
        let first_url = page_url(0)?;
        let bytes = self.send(Method::GET, first_url.clone(), None).await?;
        let first: Page<T> = Self::decode(&first_url, &bytes)?;
        let count = first.count;
        let mut out = first.results;
        if out.len() >= count || out.is_empty() {
            return Ok(out);
        }
        let step = out.len();
        let offsets: Vec<usize> = (1..).map(|i| i * step).take_while(|o| *o < count).collect();
        debug!(path, count, pages = offsets.len() + 1, "paginating");
        let pages: Vec<Page<T>> = stream::iter(offsets)
            .map(|offset| async move {
                let url = page_url(offset)?;
                let bytes = self.send(Method::GET, url.clone(), None).await?;
                Self::decode::<Page<T>>(&url, &bytes)
            })
            .buffered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        let changed = |detail: String| ClientError::ListChanged {
            url: first_url.to_string(),
            detail,
        };
        if let Some(p) = pages.iter().find(|p| p.count != count) {
            return Err(changed(format!(
                "the first page counted {count} objects, a later one {}",
                p.count
            )));
        }
        out.extend(pages.into_iter().flat_map(|p| p.results));
        if out.len() != count {
            return Err(changed(format!(
                "{count} objects counted, {} read",
                out.len()
            )));
        }
        Ok(out)
    }

    /// POSTs `body` (one object or a list, for bulk creation) and returns the answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        let url = self.url(path, &[])?;
        let bytes = self.send(Method::POST, url.clone(), Some(body)).await?;
        Self::decode(&url, &bytes)
    }

    /// PATCHes the object at `path` (or a list of `{id, ...}` objects on a list endpoint).
    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        let url = self.url(path, &[])?;
        let bytes = self.send(Method::PATCH, url.clone(), Some(body)).await?;
        Self::decode(&url, &bytes)
    }

    /// DELETEs the object at `path`, or with a body of `[{"id": n}, ...]`, a list of objects.
    pub async fn delete(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(), ClientError> {
        let url = self.url(path, &[])?;
        self.send(Method::DELETE, url, body).await.map(|_| ())
    }
}

fn status_error(
    method: &Method,
    url: &Url,
    status: StatusCode,
    body: &[u8],
    attempts: u32,
) -> ClientError {
    let text = String::from_utf8_lossy(body);
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_else(|| truncate(&text, 300));
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ClientError::Unauthorized {
            url: url.to_string(),
            status: status.as_u16(),
            detail,
        },
        StatusCode::NOT_FOUND => match plugin_of(url) {
            Some(plugin) => ClientError::PluginMissing {
                url: url.to_string(),
                plugin,
            },
            None => ClientError::NotFound {
                url: url.to_string(),
            },
        },
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => ClientError::Server {
            url: url.to_string(),
            status: s.as_u16(),
            attempts,
            body: truncate(&text, 300),
        },
        s => ClientError::Rejected {
            method: method.to_string(),
            url: url.to_string(),
            status: s.as_u16(),
            body: truncate(&text, 1000),
        },
    }
}

/// The plugin package serving `url`, when it is a plugin's endpoint (`/api/plugins/bgp/...`).
fn plugin_of(url: &Url) -> Option<String> {
    let (_, rest) = url.path().split_once("/api/plugins/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(match name {
        "bgp" => "netbox-bgp".to_owned(),
        other => format!("the plugin serving /api/plugins/{other}/"),
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A list endpoint on loopback whose answers `answer(request number, offset)` gives as
    /// (count, ids); every request is answered on its own connection.
    async fn list_server(
        answer: impl Fn(usize, usize) -> (usize, Vec<u64>) + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<usize>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(0usize));
        let (answer, counter) = (Arc::new(answer), served.clone());
        tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let (answer, counter) = (answer.clone(), counter.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = conn.read(&mut chunk).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let target = head.split(' ').nth(1).unwrap_or("/");
                    let url = Url::parse(&format!("http://x{target}")).unwrap();
                    let offset: usize = url
                        .query_pairs()
                        .find(|(k, _)| k == "offset")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let n = {
                        let mut c = counter.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    let (count, ids) = answer(n, offset);
                    let results: Vec<serde_json::Value> =
                        ids.iter().map(|id| serde_json::json!({"id": id})).collect();
                    let body = serde_json::json!({"count": count, "results": results}).to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    conn.write_all(reply.as_bytes()).await.unwrap();
                });
            }
        });
        (url, served)
    }

    fn paging_client(url: &str) -> Client {
        let token = Token::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        Client::with_options(
            url,
            token,
            ClientOptions {
                page_size: 2,
                ..ClientOptions::default()
            },
        )
        .unwrap()
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Id {
        id: u64,
    }

    async fn read_ids(url: &str) -> Vec<u64> {
        let got: Vec<Id> = paging_client(url)
            .list("api/dcim/devices/", &[])
            .await
            .unwrap();
        got.into_iter().map(|i| i.id).collect()
    }

    /// Objects 1..=n from `offset`, two a page.
    fn page(n: u64, offset: usize) -> Vec<u64> {
        (1..=n).skip(offset).take(2).collect()
    }

    #[tokio::test]
    async fn a_list_that_changes_while_paginated_is_read_again_then_refused() {
        // Object 1 is deleted after the first page of the first read: the later pages count
        // 4 and start one object later (object 3 would be skipped). The second read is whole.
        let (url, served) = list_server(|n, offset| match (n, offset) {
            (1, 0) => (5, page(5, 0)),
            (_, o) => (4, page(5, o + 1)),
        })
        .await;
        assert_eq!(
            read_ids(&url).await,
            [2, 3, 4, 5],
            "the second, consistent read"
        );
        assert_eq!(*served.lock().unwrap(), 3 + 2);

        // Changing under every read: refused as transient, after two reads.
        let (url, served) = list_server(|_, offset| {
            if offset == 0 {
                (5, page(5, 0))
            } else {
                (4, page(5, offset))
            }
        })
        .await;
        let err = paging_client(&url)
            .list::<Id>("api/dcim/devices/", &[])
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::ListChanged { .. }), "{err:?}");
        assert!(err.is_transient());
        assert_eq!(err.reason(), LIST_CHANGED);
        assert!(
            err.to_string()
                .contains("changed while its pages were read"),
            "{err}"
        );
        assert_eq!(*served.lock().unwrap(), 6);

        // Pages that report the same count but fall short of it (a proxy dropping objects).
        let (url, _) = list_server(|_, offset| {
            (
                5,
                if offset == 2 {
                    vec![3]
                } else {
                    page(5, offset)
                },
            )
        })
        .await;
        let err = paging_client(&url)
            .list::<Id>("api/dcim/devices/", &[])
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("5 objects counted, 4 read"),
            "{err}"
        );

        // A steady list reads whole, in order.
        let (url, served) = list_server(|_, offset| (5, page(5, offset))).await;
        assert_eq!(read_ids(&url).await, [1, 2, 3, 4, 5]);
        assert_eq!(*served.lock().unwrap(), 3);
    }

    #[test]
    fn tokens_are_told_apart_by_their_form() {
        let v1 = Token::parse("0123456789abcdef0123456789abcdef01234567\n").unwrap();
        assert_eq!(
            v1.header().to_str().unwrap(),
            "Token 0123456789abcdef0123456789abcdef01234567"
        );
        let v2 = Token::parse("nbt_abc123.s3cr3tS3cr3t").unwrap();
        assert_eq!(
            v2.header().to_str().unwrap(),
            "Bearer nbt_abc123.s3cr3tS3cr3t"
        );
        for bad in ["", "nbt_nodot", "nbt_.x", "xyz", "0123456789abcdef"] {
            let err = Token::parse(bad).unwrap_err();
            assert!(matches!(err, ClientError::InvalidToken(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn token_never_shows_in_debug_or_errors() {
        let t = Token::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert!(!format!("{t:?}").contains("0123"));
        let err = Token::parse("nbt_secretbutbroken").unwrap_err();
        assert!(!err.to_string().contains("secretbutbroken"));
    }

    #[test]
    fn base_url_keeps_a_path_prefix() {
        let token = Token::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        let c = Client::new("https://example.net/netbox", token.clone()).unwrap();
        let u = c
            .url("api/dcim/devices/", &[("site", "lab".into())])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://example.net/netbox/api/dcim/devices/?site=lab"
        );
        assert!(matches!(
            Client::new("ftp://example.net", token.clone()),
            Err(ClientError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Client::new("not a url", token),
            Err(ClientError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn statuses_become_errors_a_user_can_act_on() {
        let url = Url::parse("http://nb/api/dcim/devices/").unwrap();
        let e = status_error(
            &Method::GET,
            &url,
            StatusCode::FORBIDDEN,
            br#"{"detail":"Invalid v1 token"}"#,
            1,
        );
        assert_eq!(e.reason(), "Unauthorized");
        assert!(e.to_string().contains("Invalid v1 token"), "{e}");
        let e = status_error(&Method::GET, &url, StatusCode::NOT_FOUND, b"<html>", 1);
        assert_eq!(e.reason(), "InvalidURL");
        assert!(e.to_string().contains("check the NetBox URL"), "{e}");
        let bgp = Url::parse("http://nb/api/plugins/bgp/session/?device_id=1").unwrap();
        let e = status_error(&Method::GET, &bgp, StatusCode::NOT_FOUND, b"<html>", 1);
        assert_eq!(e.reason(), "PluginMissing");
        assert!(e.to_string().contains("netbox-bgp is not installed"), "{e}");
        assert!(!e.is_transient());
        let e = status_error(&Method::GET, &url, StatusCode::BAD_GATEWAY, b"", 4);
        assert!(e.is_transient());
        let e = status_error(&Method::POST, &url, StatusCode::BAD_REQUEST, b"{}", 1);
        assert!(!e.is_transient());
        assert_eq!(e.reason(), "Rejected");
    }
}
