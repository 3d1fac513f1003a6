//! The HTTP side of a scan: one shared tokio runtime, requests with auth, retries, rate limit
//! and circuit breaker, and the page loop (sequential, or concurrent for pages that can be
//! computed ahead). Pages leave through a bounded channel in page order, so memory stays
//! bounded by concurrency x page size.

use super::auth::{AccessToken, Auth, KeyLocation};
use super::breaker::CircuitBreaker;
use super::config::{BodyFormat, FUNCTION, PaginatorConfig, ScanConfig};
use super::paginate::{PageResponse, Paginator, RequestSpec, parse_link_next};
use super::ratelimit::RateLimiter;
use super::redact::redact_url;
use super::retry::{Decision, Failure, parse_retry_after};
use super::schema::{parse_date, parse_timestamp};
use super::select::{lookup, records_at, take_at};
use serde_json::Value;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

/// A parsed response.
pub struct Fetched {
    pub body: Value,
    pub link_header: Option<String>,
    pub url: String,
}

/// Records of one page, in order.
pub type PageRecords = Vec<Value>;

/// State after the pages fetched during bind (to infer the schema).
pub struct Prefetch {
    pub pages: Vec<PageRecords>,
    pub paginator: Box<dyn Paginator>,
    /// The request the sequential loop sends next.
    pub request: RequestSpec,
    /// The base request pages are computed from (offset / page number).
    pub base: RequestSpec,
    pub pages_fetched: u64,
    pub records: u64,
    pub done: bool,
    /// The style in force (auto resolved after the first page).
    pub style: PaginatorConfig,
}

pub struct Client {
    http: reqwest::Client,
    pub cfg: Arc<ScanConfig>,
    limiter: Option<RateLimiter>,
    breaker: CircuitBreaker,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

enum Attempt {
    Ok(Fetched),
    Failed {
        failure: Failure,
        retry_after: Option<std::time::Duration>,
        detail: String,
    },
    Fatal(RestError),
}

impl Client {
    pub fn new(cfg: ScanConfig) -> Result<Arc<Client>, RestError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(30)))
            .pool_max_idle_per_host(cfg.concurrency.max(1) * 2)
            .user_agent(concat!("etl-duckdb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RestError(format!("{FUNCTION}: cannot create the HTTP client: {e}")))?;
        Ok(Arc::new(Client {
            http,
            limiter: cfg.max_requests_per_second.map(RateLimiter::new),
            breaker: CircuitBreaker::new(cfg.breaker_threshold),
            token: tokio::sync::Mutex::new(None),
            cfg: Arc::new(cfg),
        }))
    }

    /// An error message with the function name, and every known secret removed.
    pub fn error(&self, message: impl AsRef<str>) -> RestError {
        RestError(
            self.cfg
                .secrets
                .scrub(&format!("{FUNCTION}: {}", message.as_ref())),
        )
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
            let sent = self.http.post(token_url).form(&form).send().await;
            let (failure, retry_after) = match sent {
                Ok(resp) if resp.status().is_success() => {
                    let bytes = resp.bytes().await.map_err(|e| {
                        self.error(format!(
                            "reading the OAuth2 token response from {shown}: {e}"
                        ))
                    })?;
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
            }
        }
        Err(self.error(format!("OAuth2 token request to {shown} failed: {last}")))
    }

    async fn attempt(&self, spec: &RequestSpec) -> Attempt {
        let url = match self.build_url(spec) {
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
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Failed {
                    failure: classify(&e),
                    retry_after: None,
                    detail: format!("{} ({shown})", describe_reqwest_error(&e)),
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
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
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
            let snippet: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            let reason = status.canonical_reason().unwrap_or("");
            let mut detail = format!("HTTP {} {reason} from {shown}", status.as_u16());
            if !snippet.trim().is_empty() {
                detail.push_str(&format!(": {}", snippet.trim()));
            }
            return Attempt::Failed {
                failure: Failure::Status(status.as_u16()),
                retry_after,
                detail,
            };
        }
        let body = match self.cfg.format {
            BodyFormat::Json => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    let start: String = String::from_utf8_lossy(&bytes).chars().take(60).collect();
                    let kind = if content_type.is_empty() {
                        String::new()
                    } else {
                        format!(", Content-Type {content_type}")
                    };
                    return Attempt::Fatal(self.error(format!(
                        "the response from {shown} is not valid JSON ({e}{kind}; it starts with {:?})",
                        start
                    )));
                }
            },
            BodyFormat::Ndjson => {
                let mut records = Vec::new();
                for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<Value>(line) {
                        Ok(v) => records.push(v),
                        Err(e) => {
                            return Attempt::Fatal(self.error(format!(
                                "line {} of the NDJSON response from {shown} is not valid JSON ({e})",
                                n + 1
                            )));
                        }
                    }
                }
                Value::Array(records)
            }
        };
        Attempt::Ok(Fetched {
            body,
            link_header: (!link_header.is_empty()).then_some(link_header),
            url: url.to_string(),
        })
    }

    /// Sends `spec` with retries, rate limit and circuit breaker.
    pub async fn fetch(&self, spec: &RequestSpec) -> Result<Fetched, RestError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if self.breaker.is_open() {
                return Err(self.breaker_error("(earlier requests)"));
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
            if failure.is_retryable() && self.breaker.record_failure() {
                return Err(self.breaker_error(&detail));
            }
            match self
                .cfg
                .retry
                .decide(attempt, &failure, retry_after, fastrand::f64())
            {
                Decision::Retry(wait) => tokio::time::sleep(wait).await,
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

    /// Reads one page: pagination state, then the records (moved out of the body).
    fn process(
        &self,
        fetched: Fetched,
        paginator: &mut dyn Paginator,
    ) -> Result<PageRecords, RestError> {
        let path = self
            .cfg
            .selector
            .locate(&fetched.body)
            .map_err(|e| self.error(format!("{e} ({})", self.shown_url(&fetched.url))))?;
        let records = records_at(&fetched.body, &path);
        paginator
            .update_state(&PageResponse {
                body: &fetched.body,
                records: records.len(),
                last_record: records.last(),
                link_header: fetched.link_header.as_deref(),
                url: &fetched.url,
            })
            .map_err(|e| self.error(e.to_string()))?;
        let mut out = take_at(fetched.body, &path);
        if let (Some(column), Some(bound)) = (&self.cfg.cursor_column, &self.cfg.incremental_value)
        {
            out.retain(|r| !older_than(r.get(column.as_str()), bound));
        }
        Ok(out)
    }

    /// Decides the style for `paginator := 'auto'` from the first response.
    fn resolve_auto(
        &self,
        first: &Fetched,
        next_url_paths: &[String],
    ) -> Result<PaginatorConfig, RestError> {
        if first
            .link_header
            .as_deref()
            .and_then(parse_link_next)
            .is_some()
        {
            return Ok(PaginatorConfig::HeaderLink);
        }
        for path in next_url_paths {
            if let Some(Value::String(s)) = lookup(&first.body, path)
                && (s.starts_with("http") || s.starts_with('/') || s.starts_with('?'))
            {
                return Ok(PaginatorConfig::JsonLink {
                    next_url_paths: vec![path.clone()],
                });
            }
        }
        // A total larger than the page means there are more pages we do not know how to get.
        if let Ok(path) = self.cfg.selector.locate(&first.body)
            && !(path.is_empty() && first.body.is_object())
        {
            let n = records_at(&first.body, &path).len() as u64;
            for key in [
                "total",
                "total_count",
                "totalCount",
                "count",
                "total_results",
            ] {
                if let Some(total) = lookup(&first.body, key).and_then(Value::as_u64)
                    && total > n
                {
                    return Err(self.error(format!(
                        "the response says {key} = {total} but holds {n} records, and no next link was found; \
                         set paginator := 'offset', 'page_number' or 'cursor' (see docs/rest_scan.md)"
                    )));
                }
            }
        }
        Ok(PaginatorConfig::SinglePage)
    }

    /// Fetches the first page(s): enough records for the schema sample (`sample` records, 0 =
    /// just the first page).
    pub async fn prefetch(&self, sample: usize) -> Result<Prefetch, RestError> {
        self.breaker.reset();
        let mut style = self.cfg.paginator.clone();
        let mut paginator = style.build(&self.cfg.stop_rules);
        let base = self.cfg.request.clone();
        let mut request = base.clone();
        paginator.init_request(&mut request);
        let mut state = Prefetch {
            pages: Vec::new(),
            paginator,
            request,
            base,
            pages_fetched: 0,
            records: 0,
            done: false,
            style: style.clone(),
        };
        loop {
            let fetched = self.fetch(&state.request).await?;
            if state.pages_fetched == 0
                && let PaginatorConfig::Auto { next_url_paths } = &style
            {
                style = self.resolve_auto(&fetched, next_url_paths)?;
                state.paginator = style.build(&self.cfg.stop_rules);
                state.style = style.clone();
            }
            let records = self.process(fetched, state.paginator.as_mut())?;
            if self.accept(&mut state, records) {
                state.done = true;
                return Ok(state);
            }
            state.paginator.update_request(&mut state.request);
            if state.records as usize >= sample.max(1) {
                return Ok(state);
            }
        }
    }

    /// Adds a page to the state; returns true when the scan is complete.
    fn accept(&self, state: &mut Prefetch, mut records: PageRecords) -> bool {
        let mut done = !state.paginator.has_next_page();
        if let Some(max) = self.cfg.max_records {
            let room = max.saturating_sub(state.records) as usize;
            if records.len() >= room {
                records.truncate(room);
                done = true;
            }
        }
        state.pages_fetched += 1;
        state.records += records.len() as u64;
        if self.cfg.max_pages.is_some_and(|m| state.pages_fetched >= m) {
            done = true;
        }
        state.pages.push(records);
        done
    }

    /// Streams every page (prefetched ones first) into `tx`, then ends. Errors are sent as the
    /// last item. Stops quietly when the receiver is gone (query finished or cancelled).
    pub async fn run(
        self: Arc<Self>,
        mut state: Prefetch,
        tx: mpsc::Sender<Result<PageRecords, RestError>>,
    ) {
        if let Err(e) = self.run_inner(&mut state, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    }

    async fn flush(
        state: &mut Prefetch,
        tx: &mpsc::Sender<Result<PageRecords, RestError>>,
    ) -> bool {
        for page in state.pages.drain(..) {
            if tx.send(Ok(page)).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn run_inner(
        self: &Arc<Self>,
        state: &mut Prefetch,
        tx: &mpsc::Sender<Result<PageRecords, RestError>>,
    ) -> Result<(), RestError> {
        if !Self::flush(state, tx).await || state.done {
            return Ok(());
        }
        if state.style.computable() && self.cfg.concurrency > 1 {
            return self.run_concurrent(state, tx).await;
        }
        loop {
            let fetched = self.fetch(&state.request).await?;
            let records = self.process(fetched, state.paginator.as_mut())?;
            let done = self.accept(state, records);
            if !Self::flush(state, tx).await || done {
                return Ok(());
            }
            state.paginator.update_request(&mut state.request);
        }
    }

    /// Offset and page-number pages: up to `concurrency` requests in flight, results handled
    /// strictly in page order (stop rules see pages in order; nothing past the last page is
    /// ever emitted).
    async fn run_concurrent(
        self: &Arc<Self>,
        state: &mut Prefetch,
        tx: &mpsc::Sender<Result<PageRecords, RestError>>,
    ) -> Result<(), RestError> {
        struct InFlight(VecDeque<(u64, JoinHandle<Result<Fetched, RestError>>)>);
        impl Drop for InFlight {
            fn drop(&mut self) {
                for (_, handle) in &self.0 {
                    handle.abort();
                }
            }
        }
        let mut inflight = InFlight(VecDeque::new());
        let mut next_k = state.pages_fetched;
        let mut scratch = state.request.clone();
        loop {
            while inflight.0.len() < self.cfg.concurrency
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
                inflight.0.push_back((
                    next_k,
                    tokio::spawn(async move { client.fetch(&request).await }),
                ));
                next_k += 1;
            }
            let Some((_, handle)) = inflight.0.pop_front() else {
                return Ok(());
            };
            let fetched = handle
                .await
                .map_err(|e| self.error(format!("a page fetch task failed: {e}")))??;
            let records = self.process(fetched, state.paginator.as_mut())?;
            let done = self.accept(state, records);
            if !Self::flush(state, tx).await || done {
                return Ok(());
            }
            state.paginator.update_request(&mut scratch);
        }
    }
}

/// Whether a record's cursor value is strictly older than the incremental bound (numbers
/// compare as numbers, timestamps and dates as instants, anything else as text). Missing or
/// null values are kept.
pub fn older_than(value: Option<&Value>, bound: &str) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Number(n)) => match (n.as_f64(), bound.trim().parse::<f64>()) {
            (Some(v), Ok(b)) => v < b,
            _ => false,
        },
        Some(Value::String(s)) => {
            let instant = |t: &str| {
                parse_timestamp(t)
                    .map(|(us, _)| us)
                    .or_else(|| parse_date(t).map(|d| d as i64 * 86_400_000_000))
            };
            match (instant(s), instant(bound.trim())) {
                (Some(v), Some(b)) => v < b,
                _ => s.as_str() < bound,
            }
        }
        Some(_) => false,
    }
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn older_than_compares_numbers_instants_and_text() {
        assert!(older_than(Some(&json!(5)), "6"));
        assert!(!older_than(Some(&json!(6)), "6"));
        assert!(older_than(
            Some(&json!("2026-01-01T00:00:00Z")),
            "2026-01-02"
        ));
        assert!(!older_than(
            Some(&json!("2026-01-02T00:00:00+00:00")),
            "2026-01-02"
        ));
        assert!(older_than(Some(&json!("abc")), "abd"));
        assert!(!older_than(None, "x"));
        assert!(!older_than(Some(&Value::Null), "x"));
    }
}
