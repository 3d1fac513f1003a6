//! The HTTP side of a scan: one shared tokio runtime, requests with auth, retries, rate limit
//! and circuit breaker, and the page loop (sequential, or concurrent for pages that can be
//! computed ahead). Pages leave through a bounded channel in page order, so memory stays
//! bounded by concurrency x page size.

use super::auth::{AccessToken, Auth, KeyLocation};
use super::breaker::CircuitBreaker;
use super::config::{BodyFormat, FUNCTION, PaginatorConfig, ScanConfig};
use super::decode::{
    Batch, Decoded, Fault, Plan, ZONED_KIND, decode_json, decode_ndjson, exact_misfit,
};
use super::incremental::{Watermark, older_than};
use super::origin::{Origins, origin_of, same_origin};
use super::paginate::{PageResponse, Paginator, RequestSpec};
use super::ratelimit::RateLimiter;
use super::redact::{Secrets, redact_url, redact_urls_in};
use super::retry::{Decision, Failure, parse_retry_after, too_long_wait};
use super::schema::quote_big_integers;
use super::select::{records_at, take_at};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A scan error; its text is final (prefixed, redacted) and safe to show.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError(pub String);

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RestError {}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process-wide runtime, created on first use (failure is an error, not a panic).
pub fn runtime() -> Result<&'static Runtime, RestError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("etl-rest")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RestError(format!("{FUNCTION}: cannot start the HTTP runtime: {e}")))
}

/// A response body, not yet parsed.
pub struct Raw {
    pub bytes: bytes::Bytes,
    pub link_header: Option<String>,
    pub url: String,
    pub content_type: String,
}

/// A parsed response (pages read during bind, to infer the schema).
pub struct Fetched {
    pub body: Value,
    /// The body as received: its rows are decoded from it like any later page's.
    pub bytes: bytes::Bytes,
    pub link_header: Option<String>,
    pub url: String,
    /// Hash of the body bytes (repeat guard).
    pub hash: u64,
}

/// Hash of a page body, to notice an API that returns the same page again.
fn body_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Records of one page, in order.
pub type PageRecords = Vec<Value>;

/// A page fetched during bind, whose rows the scan emits first.
pub struct PrefetchedPage {
    pub bytes: bytes::Bytes,
    pub url: String,
    /// Rows to emit (after the incremental filter, within max_records).
    pub kept: usize,
}

/// State after the pages fetched during bind (to infer the schema).
pub struct Prefetch {
    /// The sampled records as JSON values, before the incremental filter (the schema
    /// describes the API's records, whichever of them are new); only for inference.
    pub pages: Vec<PageRecords>,
    /// The same pages as bodies: their rows go through the streaming decoder, like every
    /// later page (one set of rules for exact text, duplicate keys and conversions).
    pub bodies: Vec<PrefetchedPage>,
    pub paginator: Box<dyn Paginator>,
    /// The request the sequential loop sends next.
    pub request: RequestSpec,
    /// The base request pages are computed from (offset / page number).
    pub base: RequestSpec,
    pub pages_fetched: u64,
    pub records: u64,
    /// Records read from the API (before incremental filtering), for numbering in messages.
    pub raw_records: u64,
    pub done: bool,
    /// The style in force (auto resolved after the first page).
    pub style: PaginatorConfig,
    /// Where the records are (data_selector resolved on the first page).
    pub path: Vec<String>,
    /// Hash of the previous page's body: offset and page-number APIs that ignore the paging
    /// parameter return the same page forever.
    pub last_hash: Option<u64>,
}

pub struct Client {
    http: reqwest::Client,
    /// For the OAuth2 token request (its own redirect policy).
    token_http: Option<reqwest::Client>,
    pub cfg: Arc<ScanConfig>,
    limiter: Option<RateLimiter>,
    breaker: CircuitBreaker,
    /// The last failed attempt, for the circuit breaker's message.
    last_failure: std::sync::Mutex<String>,
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// The configured secrets plus those learnt while running (the OAuth2 access token).
    secrets: std::sync::RwLock<Secrets>,
}

enum Attempt {
    Ok(Raw),
    Failed {
        failure: Failure,
        retry_after: Option<std::time::Duration>,
        detail: String,
    },
    Fatal(RestError),
}

impl Client {
    pub fn new(cfg: ScanConfig) -> Result<Arc<Client>, RestError> {
        // Redirects are followed only where requests may go anyway (the start URL's origin,
        // its https upgrade, allowed_hosts; anywhere when the scan sends nothing secret).
        // reqwest strips only Authorization and cookies on a cross-host redirect, not API-key
        // or custom headers, so no other redirect is followed at all.
        let origins = cfg.origins.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let previous = attempt.previous();
            let verdict = match (previous.first(), previous.last()) {
                (Some(first), Some(from)) => {
                    origins.redirect(first, from, attempt.url(), previous.len())
                }
                _ => Ok(()),
            };
            match verdict {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(RedirectRefused(why)),
            }
        });
        let http = Self::http_client(&cfg, policy)?;
        // The OAuth2 token request carries the client secret in its body, which a 307/308
        // redirect would post again: it follows redirects within token_url's origin only.
        let token_http = match &cfg.auth {
            Auth::OAuth2 { token_url, .. } => {
                let home = reqwest::Url::parse(token_url).map_err(|e| {
                    RestError(format!(
                        "{FUNCTION}: token_url '{}' is not a valid URL: {e}",
                        redact_url(token_url, &cfg.secret_params)
                    ))
                })?;
                let policy = reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() > 10 {
                        attempt.error(RedirectRefused(
                            "more than 10 redirects (a redirect loop?)".to_string(),
                        ))
                    } else if same_origin(&home, attempt.url()) {
                        attempt.follow()
                    } else {
                        let why = format!(
                            "the token endpoint redirected to {}, another origin than token_url's \
                             ({}); the client secret is sent only to token_url's origin, so the \
                             redirect is not followed: give the final token URL as token_url",
                            if matches!(attempt.url().scheme(), "http" | "https") {
                                origin_of(attempt.url())
                            } else {
                                format!("a '{}:' URL", attempt.url().scheme())
                            },
                            origin_of(&home)
                        );
                        attempt.error(RedirectRefused(why))
                    }
                });
                Some(Self::http_client(&cfg, policy)?)
            }
            _ => None,
        };
        Ok(Arc::new(Client {
            http,
            token_http,
            limiter: cfg.max_requests_per_second.map(RateLimiter::new),
            breaker: CircuitBreaker::new(cfg.breaker_threshold),
            last_failure: std::sync::Mutex::new(String::new()),
            token: tokio::sync::Mutex::new(None),
            secrets: std::sync::RwLock::new(cfg.secrets.clone()),
            cfg: Arc::new(cfg),
        }))
    }

    fn http_client(
        cfg: &ScanConfig,
        policy: reqwest::redirect::Policy,
    ) -> Result<reqwest::Client, RestError> {
        reqwest::Client::builder()
            .redirect(policy)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(30)))
            .pool_max_idle_per_host(cfg.concurrency.max(1) * 2)
            .user_agent(concat!("etl-duckdb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RestError(format!("{FUNCTION}: cannot create the HTTP client: {e}")))
    }

    /// An error message with the function name, and every known secret removed.
    pub fn error(&self, message: impl AsRef<str>) -> RestError {
        let text = format!("{FUNCTION}: {}", message.as_ref());
        RestError(self.with_secrets(|s| s.scrub(&text)))
    }

    /// A body a server sent, fit to quote in a message: scrubbed as it is cut, each secret
    /// whole however far past the cut it reaches (None: it holds a secret too short to
    /// scrub, so it is not shown).
    fn server_text(&self, bytes: &[u8], max_chars: usize) -> Option<String> {
        self.with_secrets(|s| s.server_bytes(bytes, max_chars))
    }

    /// Runs `f` on the known secrets (a poisoned lock still holds the configured ones at least).
    fn with_secrets<T>(&self, f: impl FnOnce(&Secrets) -> T) -> T {
        match self.secrets.read() {
            Ok(secrets) => f(&secrets),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// A paginator's error: it quotes the server's values (next links, cursors), so URLs in
    /// it are redacted with the api key's name too, and short secrets are masked as well.
    fn paging_error(&self, e: impl fmt::Display) -> RestError {
        let text = redact_urls_in(&e.to_string(), &self.cfg.secret_params);
        self.error(self.with_secrets(|s| s.scrub_all(&text)))
    }

    /// Remembers a secret learnt while running (the OAuth2 access token).
    fn learn_secret(&self, value: &str) {
        match self.secrets.write() {
            Ok(mut secrets) => secrets.add(value),
            Err(poisoned) => poisoned.into_inner().add(value),
        }
    }

    /// Requests go only to the start URL's origin and allowed_hosts: a next link elsewhere is
    /// refused (with the hosts that would be needed), never followed.
    fn check_origin(&self, url: &reqwest::Url) -> Result<(), RestError> {
        if self.cfg.origins.permits(url) {
            return Ok(());
        }
        Err(self.error(format!(
            "the next page is at {}, another origin than the start URL's ({}); rest_scan sends \
             requests, with their credentials and headers, only to the start URL's origin. If \
             that host is trusted, add {}",
            self.with_secrets(|s| s.scrub_all(&self.shown_url(url.as_str()))),
            self.cfg.origins.home(),
            Origins::suggestion(url)
        )))
    }

    fn shown_url(&self, url: &str) -> String {
        redact_url(url, &self.cfg.secret_params)
    }

    /// The full URL for a request, with auth query parameters.
    fn build_url(&self, spec: &RequestSpec) -> Result<reqwest::Url, RestError> {
        let mut url = reqwest::Url::parse(&spec.url)
            .map_err(|e| self.error(format!("invalid URL '{}': {e}", self.shown_url(&spec.url))))?;
        let mut extra: Vec<(&str, &str)> = spec
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Auth::ApiKey {
            name,
            value,
            location: KeyLocation::Query,
        } = &self.cfg.auth
        {
            extra.push((name, value));
        }
        if !extra.is_empty() {
            url.query_pairs_mut().extend_pairs(extra);
        }
        Ok(url)
    }

    async fn access_token(&self, force: bool) -> Result<String, RestError> {
        let Auth::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scope,
        } = &self.cfg.auth
        else {
            return Err(self.error("no OAuth2 configuration"));
        };
        let mut cached = self.token.lock().await;
        if !force
            && let Some(t) = cached.as_ref()
            && t.is_fresh(Instant::now())
        {
            return Ok(t.token.clone());
        }
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let shown = self.shown_url(token_url);
        let mut last = String::new();
        for attempt in 1..=self.cfg.retry.max_attempts {
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            let http = self.token_http.as_ref().unwrap_or(&self.http);
            let sent = http.post(token_url).form(&form).send().await;
            let (failure, retry_after) = match sent {
                Ok(mut resp) if resp.status().is_success() => {
                    let limit = self.cfg.max_page_bytes;
                    let (bytes, over) = read_body(&mut resp, limit).await.map_err(|e| {
                        self.error(format!(
                            "reading the OAuth2 token response from {shown}: {}",
                            describe_reqwest_error(&e)
                        ))
                    })?;
                    if over {
                        return Err(self.error(too_large(&shown, limit)));
                    }
                    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
                        self.error(format!(
                            "OAuth2 token response from {shown} is not JSON: {e}"
                        ))
                    })?;
                    let token = body
                        .get("access_token")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            self.error(format!(
                                "OAuth2 token response from {shown} has no access_token"
                            ))
                        })?
                        .to_string();
                    let expires_in = body
                        .get("expires_in")
                        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
                    self.learn_secret(&token);
                    *cached = Some(AccessToken::new(token.clone(), expires_in, Instant::now()));
                    return Ok(token);
                }
                Ok(resp) => {
                    let status = resp.status();
                    last = format!("HTTP {status}");
                    if !Failure::Status(status.as_u16()).is_retryable() {
                        return Err(self.error(format!(
                            "OAuth2 token request to {shown} failed: HTTP {status} (check client_id and client_secret)"
                        )));
                    }
                    let ra = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    (Failure::Status(status.as_u16()), ra)
                }
                Err(e) => {
                    last = describe_reqwest_error(&e);
                    (classify(&e), None)
                }
            };
            match self
                .cfg
                .retry
                .decide(attempt, &failure, retry_after, fastrand::f64())
            {
                Decision::Retry(wait) => tokio::time::sleep(wait).await,
                Decision::GiveUp => break,
                Decision::WaitTooLong(asked) => {
                    return Err(self.error(format!(
                        "OAuth2 token request to {shown} failed: {last}: {}",
                        too_long_wait(asked, self.cfg.retry.max_retry_after)
                    )));
                }
            }
        }
        Err(self.error(format!("OAuth2 token request to {shown} failed: {last}")))
    }

    async fn attempt(&self, spec: &RequestSpec) -> Attempt {
        let url = match self
            .build_url(spec)
            .and_then(|u| self.check_origin(&u).map(|()| u))
        {
            Ok(u) => u,
            Err(e) => return Attempt::Fatal(e),
        };
        let method = if spec.method == "POST" {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let mut req = self.http.request(method, url.clone());
        for (k, v) in &spec.headers {
            req = req.header(k, v);
        }
        req = match &self.cfg.auth {
            Auth::None
            | Auth::ApiKey {
                location: KeyLocation::Query,
                ..
            } => req,
            Auth::ApiKey {
                name,
                value,
                location: KeyLocation::Header,
            } => req.header(name.as_str(), value.as_str()),
            Auth::Bearer { token } => req.bearer_auth(token),
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::OAuth2 { .. } => match self.access_token(false).await {
                Ok(token) => req.bearer_auth(token),
                Err(e) => return Attempt::Fatal(e),
            },
        };
        if let Some(body) = &spec.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let shown = self.shown_url(url.as_str());
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Attempt::Fatal(self.error(format!(
                    "the request to {shown} could not be built: {} (check headers, params and the api key name)",
                    describe_reqwest_error(&e)
                )));
            }
            // Refused redirects and redirect loops fail the same way every time: not retried.
            Err(e) if e.is_redirect() => {
                return Attempt::Fatal(self.error(format!(
                    "following a redirect from {shown}: {}",
                    describe_reqwest_error(&e)
                )));
            }
            Err(e) => {
                let hint = if is_certificate_error(&e) {
                    "; the server's TLS certificate is not trusted, which fails the same way every \
                     time, so it is not retried: fix the certificate (or the host name in the URL)"
                } else {
                    ""
                };
                return Attempt::Failed {
                    failure: classify(&e),
                    retry_after: None,
                    detail: format!("{} ({shown}){hint}", describe_reqwest_error(&e)),
                };
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let link_header = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        // A redirect reqwest did not follow: its Location is missing or not a URL.
        let location = status.is_redirection().then(|| {
            resp.headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        });
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // An error body is only quoted: its first 64 KiB are enough.
        let limit = if status.is_success() {
            self.cfg.max_page_bytes
        } else {
            ERROR_BODY_BYTES
        };
        let bytes = match read_body(&mut resp, limit).await {
            Ok((_, true)) if status.is_success() => {
                return Attempt::Fatal(self.error(too_large(&shown, limit)));
            }
            Ok((b, _)) => bytes::Bytes::from(b),
            Err(e) => {
                return Attempt::Failed {
                    failure: if e.is_timeout() {
                        Failure::Timeout
                    } else {
                        Failure::Body
                    },
                    retry_after: None,
                    detail: format!(
                        "reading the response from {shown}: {}",
                        describe_reqwest_error(&e)
                    ),
                };
            }
        };
        if !status.is_success() {
            // Scrubbed as it is cut: a cut never leaves a secret's start.
            let snippet = self.server_text(&bytes, 200);
            let reason = status.canonical_reason().unwrap_or("");
            let mut detail = format!("HTTP {} {reason} from {shown}", status.as_u16());
            if let Some(location) = location {
                detail.push_str(&match location {
                    Some(l) => format!(
                        " with Location {:?}, which is not a URL that can be followed (call the \
                         final URL directly, or ask the API provider)",
                        self.with_secrets(|s| s.scrub_all(&redact_url(&l, &self.cfg.secret_params)))
                    ),
                    None => " without a Location header to follow".to_string(),
                });
            }
            match snippet {
                Some(snippet) if !snippet.trim().is_empty() => {
                    detail.push_str(&format!(": {}", snippet.trim()));
                }
                Some(_) => {}
                None => detail.push_str(": (body not shown: it contains a credential)"),
            }
            return Attempt::Failed {
                failure: Failure::Status(status.as_u16()),
                retry_after,
                detail,
            };
        }
        Attempt::Ok(Raw {
            bytes,
            link_header: (!link_header.is_empty()).then_some(link_header),
            url: url.to_string(),
            content_type,
        })
    }

    fn not_json(&self, raw: &Raw, detail: &str) -> RestError {
        if detail.contains("recursion limit exceeded") {
            // serde_json stops at 128 nested arrays/objects (its stack guard): valid JSON, but
            // not readable here.
            return self.error(format!(
                "the response from {} nests arrays/objects more than 128 levels deep ({detail}), \
                 more than rest_scan can read; ask the API for a flatter shape",
                self.shown_url(&raw.url)
            ));
        }
        // The head of the body, scrubbed as it is cut to 60 characters (a secret that
        // straddles the cut is matched whole, however long).
        let start = self
            .server_text(&raw.bytes, 60)
            .unwrap_or_else(|| "(not shown: it contains a credential)".to_string());
        let kind = if raw.content_type.is_empty() {
            String::new()
        } else {
            format!(", Content-Type {}", raw.content_type)
        };
        self.error(format!(
            "the response from {} is not valid JSON ({detail}{kind}; it starts with {:?})",
            self.shown_url(&raw.url),
            start
        ))
    }

    /// Parses a raw body into JSON (NDJSON: an array of its lines).
    /// Integers beyond 64 bits become strings in this value tree (serde_json would round
    /// them through f64): the schema sample types them VARCHAR and a cursor keeps its digits;
    /// rows are decoded from the bytes, exactly.
    fn parse(&self, raw: Raw) -> Result<Fetched, RestError> {
        let quoted = quote_big_integers(&raw.bytes);
        let text: &[u8] = quoted.as_deref().unwrap_or(&raw.bytes);
        let body = match self.cfg.format {
            BodyFormat::Json => serde_json::from_slice::<Value>(text)
                .map_err(|e| self.not_json(&raw, &e.to_string()))?,
            BodyFormat::Ndjson => {
                let mut records = Vec::new();
                for (n, line) in text.split(|b| *b == b'\n').enumerate() {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let v = serde_json::from_slice::<Value>(line)
                        .map_err(|e| self.not_json(&raw, &format!("line {}: {e}", n + 1)))?;
                    records.push(v);
                }
                Value::Array(records)
            }
        };
        Ok(Fetched {
            body,
            hash: body_hash(&raw.bytes),
            bytes: raw.bytes,
            link_header: raw.link_header,
            url: raw.url,
        })
    }

    /// Fetches and parses a page (bind time).
    pub async fn fetch(&self, spec: &RequestSpec) -> Result<Fetched, RestError> {
        let raw = self.fetch_raw(spec).await?;
        self.parse(raw)
    }

    /// Sends `spec` with retries, rate limit and circuit breaker.
    pub async fn fetch_raw(&self, spec: &RequestSpec) -> Result<Raw, RestError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if self.breaker.is_open() {
                let last = self
                    .last_failure
                    .lock()
                    .map(|l| l.clone())
                    .unwrap_or_default();
                return Err(self.breaker_error(&last));
            }
            attempt += 1;
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            let (failure, retry_after, detail) = match self.attempt(spec).await {
                Attempt::Ok(f) => {
                    self.breaker.record_success();
                    return Ok(f);
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::Failed {
                    failure: Failure::Status(401),
                    ..
                } if matches!(self.cfg.auth, Auth::OAuth2 { .. }) && !refreshed => {
                    // The token may have been revoked or expired early: get a new one, once.
                    refreshed = true;
                    self.access_token(true).await?;
                    attempt -= 1;
                    continue;
                }
                Attempt::Failed {
                    failure,
                    retry_after,
                    detail,
                } => (failure, retry_after, detail),
            };
            if let Ok(mut last) = self.last_failure.lock() {
                last.clone_from(&detail);
            }
            if failure.is_retryable() && self.breaker.record_failure() {
                return Err(self.breaker_error(&detail));
            }
            match self
                .cfg
                .retry
                .decide(attempt, &failure, retry_after, fastrand::f64())
            {
                Decision::Retry(wait) => tokio::time::sleep(wait).await,
                Decision::WaitTooLong(asked) => {
                    return Err(self.error(format!(
                        "{detail}: {}",
                        too_long_wait(asked, self.cfg.retry.max_retry_after)
                    )));
                }
                Decision::GiveUp => {
                    let hint = match failure {
                        Failure::Status(401) | Failure::Status(403) => {
                            " (check the credentials and the auth option)"
                        }
                        _ => "",
                    };
                    return Err(if failure.is_retryable() {
                        self.error(format!(
                            "{detail} (gave up after {attempt} attempt{})",
                            if attempt == 1 { "" } else { "s" }
                        ))
                    } else {
                        self.error(format!("{detail}{hint}"))
                    });
                }
            }
        }
    }

    fn breaker_error(&self, last: &str) -> RestError {
        self.error(format!(
            "circuit breaker open: {} consecutive failed requests, stopped calling the API (last: {last}); \
             raise circuit_breaker_threshold or try later",
            self.breaker.threshold()
        ))
    }

    /// Reads one parsed page (bind time): pagination state, then the records (moved out).
    fn process(
        &self,
        fetched: Fetched,
        path: &[String],
        paginator: &mut dyn Paginator,
    ) -> Result<PageRecords, RestError> {
        let records = records_at(&fetched.body, path);
        paginator
            .update_state(&PageResponse {
                body: &fetched.body,
                records: records.len(),
                last_record: records.last(),
                link_header: fetched.link_header.as_deref(),
                url: &fetched.url,
            })
            .map_err(|e| self.paging_error(e))?;
        Ok(take_at(fetched.body, path))
    }

    fn locate(&self, fetched: &Fetched) -> Result<Vec<String>, RestError> {
        if self.cfg.format == BodyFormat::Ndjson {
            return Ok(vec![]);
        }
        self.cfg
            .selector
            .locate(&fetched.body)
            .map_err(|e| self.error(format!("{e} ({})", self.shown_url(&fetched.url))))
    }

    /// Decides the style for `paginator := 'auto'` from the first response.
    fn resolve_auto(
        &self,
        first: &Fetched,
        next_url_paths: &[String],
    ) -> Result<PaginatorConfig, RestError> {
        let records = match self.cfg.selector.locate(&first.body) {
            Ok(path) if !(path.is_empty() && first.body.is_object()) => {
                Some(records_at(&first.body, &path).len() as u64)
            }
            _ => None,
        };
        super::config::resolve_auto(
            &first.body,
            first.link_header.as_deref(),
            records,
            next_url_paths,
            &self.cfg.stop_rules,
        )
        .map_err(|e| self.error(e))
    }

    /// Fetches the first page(s): enough records for the schema sample (`sample` records, 0 =
    /// just the first page).
    pub async fn prefetch(self: &Arc<Self>, sample: usize) -> Result<Prefetch, RestError> {
        self.breaker.reset();
        let mut style = self.cfg.paginator.clone();
        let mut paginator = style.build(&self.cfg.stop_rules);
        let base = self.cfg.request.clone();
        let mut request = base.clone();
        paginator.init_request(&mut request);
        let mut state = Prefetch {
            pages: Vec::new(),
            bodies: Vec::new(),
            paginator,
            request,
            base,
            pages_fetched: 0,
            records: 0,
            raw_records: 0,
            done: false,
            style: style.clone(),
            path: Vec::new(),
            last_hash: None,
        };
        // Sample pages that can be computed ahead are fetched together, not one by one.
        // Results are kept as they come, so an error of a page past the end (a 404 after the
        // last page) only counts if the scan reaches that page.
        let mut ahead: VecDeque<Result<Fetched, RestError>> = VecDeque::new();
        // The sample holds every page it read (bodies and parsed values) until the scan starts:
        // it ends once those bodies reach max_page_bytes, so bind costs about one page's budget
        // however small each page is (1,000 one-record pages of 1 MB held 2 GB).
        let mut sample_bytes = 0usize;
        loop {
            if ahead.is_empty()
                && state.pages_fetched > 0
                && state.style.computable()
                && self.cfg.concurrency > 1
            {
                let per_page = state.records.max(1) / state.pages_fetched.max(1);
                let wanted = (sample as u64)
                    .saturating_sub(state.records)
                    .div_ceil(per_page.max(1));
                let mut count = wanted.min(self.cfg.concurrency as u64);
                if let Some(known) = state.paginator.known_page_count() {
                    count = count.min(known.saturating_sub(state.pages_fetched));
                }
                if let Some(max) = self.cfg.max_pages {
                    count = count.min(max.saturating_sub(state.pages_fetched));
                }
                let mut handles = Vec::new();
                for k in state.pages_fetched..state.pages_fetched + count {
                    if let Some(request) = state.paginator.page_request(&state.base, k) {
                        let client = Arc::clone(self);
                        handles.push(AbortOnDrop(tokio::spawn(async move {
                            client.fetch(&request).await
                        })));
                    }
                }
                for mut handle in handles {
                    let fetched = (&mut handle.0)
                        .await
                        .map_err(|e| self.error(format!("a page fetch task failed: {e}")))
                        .and_then(|r| r);
                    ahead.push_back(fetched);
                }
            }
            let fetched = match ahead.pop_front() {
                Some(f) => f?,
                None => self.fetch(&state.request).await?,
            };
            if state.pages_fetched == 0 {
                if let PaginatorConfig::Auto { next_url_paths } = &style {
                    style = self.resolve_auto(&fetched, next_url_paths)?;
                    state.paginator = style.build(&self.cfg.stop_rules);
                    state.paginator.init_request(&mut state.request);
                    state.style = style.clone();
                }
                state.path = self.locate(&fetched)?;
            } else if self.cfg.format == BodyFormat::Json {
                // Later pages must hold the records at the same place.
                super::select::Selector::Path(state.path.clone())
                    .locate(&fetched.body)
                    .map_err(|e| self.error(format!("{e} ({})", self.shown_url(&fetched.url))))?;
            }
            self.check_repeat(&mut state, fetched.hash, &fetched.url)?;
            let bytes = fetched.bytes.clone();
            sample_bytes = sample_bytes.saturating_add(bytes.len());
            let url = fetched.url.clone();
            let records = self.process(fetched, &state.path.clone(), state.paginator.as_mut())?;
            state.raw_records += records.len() as u64;
            // max_records counts kept rows, here as on later pages.
            let kept = match (&self.cfg.cursor_column, &self.cfg.incremental_value) {
                (Some(column), Some(bound)) => {
                    let bound = Watermark::new(bound);
                    records
                        .iter()
                        .filter(|r| !older_than(r.get(column.as_str()), &bound))
                        .count()
                }
                _ => records.len(),
            };
            let before = state.records;
            let done = self.accept(&mut state, kept);
            let kept = (state.records - before) as usize;
            state.bodies.push(PrefetchedPage { bytes, url, kept });
            if sample > 0 {
                state.pages.push(records);
            }
            if done {
                state.done = true;
                return Ok(state);
            }
            state.paginator.update_request(&mut state.request);
            if state.raw_records as usize >= sample.max(1)
                || sample_bytes >= self.cfg.max_page_bytes
            {
                return Ok(state);
            }
        }
    }

    /// Counts a page of `n` records (capped by max_records); returns true when the scan is done.
    fn accept(&self, state: &mut Prefetch, n: usize) -> bool {
        let mut done = !state.paginator.has_next_page();
        let mut n = n as u64;
        if let Some(max) = self.cfg.max_records {
            let room = max.saturating_sub(state.records);
            if n >= room {
                n = room;
                done = true;
            }
        }
        state.pages_fetched += 1;
        state.records += n;
        if self.cfg.max_pages.is_some_and(|m| state.pages_fetched >= m) {
            done = true;
        }
        done
    }

    /// Turns a decode fault of the page whose first record is number `base` (0-based, over the
    /// whole scan) into the user's message.
    pub fn fault(
        &self,
        fault: Fault,
        base: u64,
        sampled: usize,
        url: &str,
        raw: Option<&Raw>,
    ) -> RestError {
        match fault {
            Fault::Misfit { record, path, kind, shown, ty } => {
                let origin = if sampled > 0 {
                    format!("the column type {ty} (inferred from the first {sampled} records)")
                } else {
                    format!("the column type {ty}")
                };
                let hint = if kind == ZONED_KIND {
                    // A TIMESTAMP column holds wall-clock times; shifting an offset away would
                    // change the value silently.
                    format!(
                        "a TIMESTAMP column takes only timestamps without a zone or in UTC (Z, +00:00); \
                         declare '{path}' as TIMESTAMPTZ in columns := {{...}} to keep the instant, \
                         or as VARCHAR to keep the text"
                    )
                } else {
                    "declare the type with columns := {...}, raise sample_size, or use json_column := true"
                        .to_string()
                };
                self.error(format!(
                    "record {} field '{path}' has {kind} value {shown}, which does not fit {origin}; {hint}",
                    base + record as u64 + 1
                ))
            }
            Fault::Unknown { record, path } => self.error(format!(
                "record {} has a field '{path}' that the first {sampled} records did not have, so it is not in the schema; \
                 raise sample_size, declare columns := {{...}}, or pass unknown_fields := 'ignore' to drop such fields",
                base + record as u64 + 1
            )),
            Fault::Missing { at, keys } => self.error(format!(
                "data_selector '{}' does not match the response: no key '{at}' (keys there: {}) ({})",
                self.cfg.selector.describe(),
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") },
                self.shown_url(url)
            )),
            Fault::Json(detail) => match raw {
                Some(raw) => self.not_json(raw, &detail),
                None => self.error(format!("the response from {} is not valid JSON ({detail})", self.shown_url(url))),
            },
        }
    }

    fn decode(&self, bytes: &[u8], path: &[String], plan: &Plan) -> Result<Decoded, Fault> {
        let run = |plan: &Plan| match self.cfg.format {
            BodyFormat::Json => decode_json(bytes, path, plan),
            BodyFormat::Ndjson => decode_ndjson(bytes, plan),
        };
        run(plan).map_err(|f| exact_misfit(f, plan, run))
    }

    /// Pagination state from a decoded page; returns its rows.
    /// Offset and page-number styles: the same non-empty body twice in a row means the API
    /// ignores the paging parameter; stop with an error instead of repeating rows forever.
    fn check_repeat(&self, state: &mut Prefetch, hash: u64, url: &str) -> Result<(), RestError> {
        if state.style.computable() && state.last_hash == Some(hash) {
            return Err(self.error(format!(
                "pagination loop: the API returned the same page twice ({}); it probably ignores \
                 the {} parameter: check offset_param / page_param",
                self.shown_url(url),
                if matches!(state.style, PaginatorConfig::Offset { .. }) {
                    "offset"
                } else {
                    "page"
                }
            )));
        }
        state.last_hash = Some(hash);
        Ok(())
    }

    fn advance(
        &self,
        state: &mut Prefetch,
        raw: &Raw,
        decoded: Decoded,
        plan: &Plan,
    ) -> Result<(Batch, bool), RestError> {
        if decoded.records > 0 {
            self.check_repeat(state, body_hash(&raw.bytes), &raw.url)?;
        }
        let last = match (&plan.cursor_field, decoded.last_cursor) {
            (Some(field), Some(v)) => {
                Some(Value::Object([(field.clone(), v)].into_iter().collect()))
            }
            (Some(_), None) if decoded.records > 0 => Some(Value::Object(Default::default())),
            _ => None,
        };
        state
            .paginator
            .update_state(&PageResponse {
                body: &decoded.meta,
                records: decoded.records,
                last_record: last.as_ref(),
                link_header: raw.link_header.as_deref(),
                url: &raw.url,
            })
            .map_err(|e| self.paging_error(e))?;
        state.raw_records += decoded.records as u64;
        let mut batch = decoded.batch;
        let before = state.records;
        let done = self.accept(state, batch.rows);
        batch.truncate((state.records - before) as usize);
        Ok((batch, done))
    }

    /// Streams every page (prefetched ones first) into `tx` as column batches, then ends.
    /// Errors are sent as the last item. Stops quietly when the receiver is gone.
    pub async fn run(
        self: Arc<Self>,
        mut state: Prefetch,
        plan: Arc<Plan>,
        sampled: usize,
        tx: mpsc::Sender<Result<Batch, RestError>>,
    ) {
        if let Err(e) = self.run_inner(&mut state, &plan, sampled, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    }

    async fn run_inner(
        self: &Arc<Self>,
        state: &mut Prefetch,
        plan: &Arc<Plan>,
        sampled: usize,
        tx: &mpsc::Sender<Result<Batch, RestError>>,
    ) -> Result<(), RestError> {
        let mut base = 0u64;
        state.pages.clear();
        for page in std::mem::take(&mut state.bodies) {
            let decoded = self
                .decode(&page.bytes, &state.path, plan)
                .map_err(|f| self.fault(f, base, sampled, &page.url, None))?;
            base += decoded.records as u64;
            let mut batch = decoded.batch;
            batch.truncate(page.kept);
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(());
            }
        }
        if state.done {
            return Ok(());
        }
        if state.style.computable() && self.cfg.concurrency > 1 {
            return self.run_concurrent(state, plan, sampled, tx).await;
        }
        loop {
            let raw = self.fetch_raw(&state.request).await?;
            let decoded = self
                .decode(&raw.bytes, &state.path, plan)
                .map_err(|f| self.fault(f, state.raw_records, sampled, &raw.url, Some(&raw)))?;
            let (batch, done) = self.advance(state, &raw, decoded, plan)?;
            if tx.send(Ok(batch)).await.is_err() || done {
                return Ok(());
            }
            state.paginator.update_request(&mut state.request);
        }
    }

    /// Offset and page-number pages: `concurrency` requests in flight at all times (a finished
    /// page frees its slot at once), each fetched and decoded on its own task; results are
    /// handled strictly in page order through a reorder buffer (stop rules see pages in order;
    /// nothing past the last page is ever emitted). In flight + buffered <= concurrency.
    async fn run_concurrent(
        self: &Arc<Self>,
        state: &mut Prefetch,
        plan: &Arc<Plan>,
        sampled: usize,
        tx: &mpsc::Sender<Result<Batch, RestError>>,
    ) -> Result<(), RestError> {
        type Page = (Raw, Result<Decoded, Fault>);
        let mut tasks: JoinSet<(u64, Result<Page, RestError>)> = JoinSet::new();
        let mut ready: BTreeMap<u64, Result<Page, RestError>> = BTreeMap::new();
        let mut next_k = state.pages_fetched;
        let mut emit_k = state.pages_fetched;
        let mut scratch = state.request.clone();
        loop {
            while tasks.len() + ready.len() < self.cfg.concurrency
                && state.paginator.has_next_page()
                && state
                    .paginator
                    .known_page_count()
                    .is_none_or(|n| next_k < n)
                && self.cfg.max_pages.is_none_or(|m| next_k < m)
            {
                let Some(request) = state.paginator.page_request(&state.base, next_k) else {
                    break;
                };
                let client = Arc::clone(self);
                let plan = Arc::clone(plan);
                let path = state.path.clone();
                let k = next_k;
                tasks.spawn(async move {
                    let page = match client.fetch_raw(&request).await {
                        Ok(raw) => {
                            let decoded = client.decode(&raw.bytes, &path, &plan);
                            Ok((raw, decoded))
                        }
                        Err(e) => Err(e),
                    };
                    (k, page)
                });
                next_k += 1;
            }
            let page = match ready.remove(&emit_k) {
                Some(page) => page,
                None => match tasks.join_next().await {
                    Some(joined) => {
                        let (k, page) = joined
                            .map_err(|e| self.error(format!("a page fetch task failed: {e}")))?;
                        ready.insert(k, page);
                        continue;
                    }
                    // Nothing in flight and nothing ready: the scan is complete.
                    None => return Ok(()),
                },
            };
            emit_k += 1;
            let (raw, decoded) = page?;
            let decoded = decoded
                .map_err(|f| self.fault(f, state.raw_records, sampled, &raw.url, Some(&raw)))?;
            let (batch, done) = self.advance(state, &raw, decoded, plan)?;
            if tx.send(Ok(batch)).await.is_err() || done {
                // Dropping the JoinSet aborts the requests still in flight.
                return Ok(());
            }
            state.paginator.update_request(&mut scratch);
        }
    }
}

/// Why a redirect was not followed (the text is the message).
#[derive(Debug)]
struct RedirectRefused(String);

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// A spawned fetch that is aborted when dropped: a failed or cancelled scan leaves no request
/// running in the background.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How much of an error response's body is read (it is only quoted, cut short).
const ERROR_BODY_BYTES: usize = 64 << 10;

/// Reads a response body as it arrives, decoded (gzip is inflated on the way), and stops as
/// soon as it would pass `limit` bytes: a small compressed body never inflates in memory beyond
/// the limit. Returns at most `limit` bytes, and whether the body was longer.
async fn read_body(
    resp: &mut reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    // The announced length only sizes the first allocation, and at most 1 MiB of it: a server
    // that claims a huge Content-Length (or a user's raised limit) must not make one allocation
    // the host cannot satisfy (an allocation failure aborts the process).
    let announced = resp.content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(announced.min(limit as u64).min(1 << 20) as usize);
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The error for a body past `max_page_bytes`.
fn too_large(shown_url: &str, limit: usize) -> String {
    format!(
        "the response from {shown_url} is larger than max_page_bytes ({limit} bytes) once decoded; \
         reading stopped there. Ask for smaller pages (page_size) or raise max_page_bytes"
    )
}

/// Whether rustls rejected the server's certificate (deterministic: retrying cannot help).
/// rustls is not a direct dependency, so its error is recognised by its text.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.to_string().contains("invalid peer certificate") {
            return true;
        }
        source = s.source();
    }
    false
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_redirect() || e.is_builder() || is_certificate_error(e) {
        Failure::Refused
    } else if e.is_timeout() {
        Failure::Timeout
    } else if e.is_connect() {
        Failure::Connect
    } else if e.is_body() || e.is_decode() {
        Failure::Body
    } else {
        Failure::Connect
    }
}

/// reqwest's message plus its sources (without the URL, which we redact ourselves).
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    if causes.is_empty() {
        what
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}
