//! rest_scan's options (declared once: name, kind, default, doc) and their translation into a
//! [`ScanConfig`]. Pure: the glue hands over parsed [`Options`], this checks combinations.

use super::auth::{Auth, KeyLocation, resolve_secret};
use super::origin::{AllowedHost, Origins};
pub use super::paginate::NEXT_URL_PATHS;
use super::paginate::{
    AUTO_CURSORS, CURSOR_FIELDS, Cursor, CursorSource, HeaderLink, JsonLink, Look, Offset,
    PageNumber, Paginator, RequestSpec, SinglePage, StopRules, more_signal, parse_link_next,
};
use super::redact::{Secrets, header_is_credential, looks_secret, percent_decode, percent_encode};
use super::retry::RetryPolicy;
use super::schema::{JType, parse_type};
use super::select::Selector;
use crate::options::{OptionKind as K, OptionSpec as S, OptionValue, Options};
use serde_json::Value;
use std::time::Duration;

pub const FUNCTION: &str = "rest_scan";

pub const PAGINATORS: &[&str] = &[
    "auto",
    "single_page",
    "offset",
    "page_number",
    "cursor",
    "json_link",
    "header_link",
];
pub const AUTHS: &[&str] = &["none", "api_key", "bearer", "basic", "oauth2"];

const POSITIVE: K = K::Int {
    min: 1,
    max: i64::MAX,
};
const NON_NEGATIVE: K = K::Int {
    min: 0,
    max: i64::MAX,
};

/// Every named parameter of rest_scan. docs/rest_scan.md documents the same table.
pub const OPTIONS: &[S] = &[
    // request
    S::new("method", K::Choice(&["GET", "POST"]), "HTTP method").default("GET"),
    S::new("params", K::Map, "query parameters"),
    S::new("headers", K::Map, "request headers"),
    S::new("body", K::Any, "JSON body for POST (JSON text or a STRUCT)"),
    S::new(
        "path_params",
        K::Map,
        "values for {name} placeholders in the URL",
    ),
    S::new("timeout", K::Float, "seconds to wait for each response").default("30"),
    S::new(
        "allowed_hosts",
        K::TextList,
        "other hosts that next links and redirects may lead to (they get the credentials too)",
    ),
    S::new(
        "max_page_bytes",
        POSITIVE,
        "largest response body, once decoded (gzip), that is read",
    )
    .default("33554432"),
    // records
    S::new(
        "data_selector",
        K::Text,
        "path to the records, e.g. '$.data' (default: detect)",
    ),
    S::new(
        "format",
        K::Choice(&["json", "ndjson"]),
        "response body format",
    )
    .default("json"),
    // pagination
    S::new("paginator", K::Choice(PAGINATORS), "pagination style").default("auto"),
    S::new(
        "page_size",
        POSITIVE,
        "records per page (limit / per_page value)",
    ),
    S::new("offset_param", K::Text, "offset parameter name").default("offset"),
    S::new("limit_param", K::Text, "limit parameter name").default("limit"),
    S::new("initial_offset", NON_NEGATIVE, "first offset").default("0"),
    S::new("page_param", K::Text, "page number parameter name").default("page"),
    S::new(
        "page_size_param",
        K::Text,
        "page size parameter name (page_number)",
    )
    .default("per_page"),
    S::new("base_page", NON_NEGATIVE, "number of the first page").default("1"),
    S::new(
        "total_path",
        K::Text,
        "response field with the total record count ('' to ignore)",
    )
    .default("total"),
    S::new(
        "total_pages_path",
        K::Text,
        "response field with the page count ('' to ignore)",
    )
    .default("total_pages"),
    S::new(
        "has_more_path",
        K::Text,
        "response field that is false on the last page ('' to ignore)",
    )
    .default("has_more"),
    S::new(
        "stop_on_short_page",
        K::Bool,
        "stop after a page with fewer records than page_size",
    )
    .default("true"),
    S::new(
        "cursor_path",
        K::Text,
        "response field with the next cursor",
    )
    .default("next_cursor"),
    S::new(
        "cursor_param",
        K::Text,
        "query parameter that sends the cursor",
    )
    .default("cursor"),
    S::new(
        "cursor_record_field",
        K::Text,
        "take the cursor from this field of the page's last record (Stripe)",
    ),
    S::new(
        "next_url_path",
        K::Text,
        "response field with the next page URL (default: next, links.next, @odata.nextLink, ...)",
    ),
    S::new(
        "pagination_in",
        K::Choice(&["query", "body"]),
        "where pagination parameters go",
    )
    .default("query"),
    S::new("max_pages", POSITIVE, "stop after this many pages"),
    S::new("max_records", POSITIVE, "stop after this many records"),
    // auth
    S::new("auth", K::Choice(AUTHS), "authentication").default("none"),
    S::new("api_key", K::Text, "API key").secret(),
    S::new(
        "api_key_env",
        K::Text,
        "environment variable holding the API key",
    ),
    S::new(
        "api_key_name",
        K::Text,
        "header or query parameter name of the API key",
    )
    .default("X-API-Key"),
    S::new(
        "api_key_location",
        K::Choice(&["header", "query"]),
        "where the API key goes",
    )
    .default("header"),
    S::new("token", K::Text, "bearer token").secret(),
    S::new(
        "token_env",
        K::Text,
        "environment variable holding the bearer token",
    ),
    S::new("username", K::Text, "basic auth user"),
    S::new("password", K::Text, "basic auth password").secret(),
    S::new(
        "password_env",
        K::Text,
        "environment variable holding the password",
    ),
    S::new("token_url", K::Text, "OAuth2 token endpoint"),
    S::new("client_id", K::Text, "OAuth2 client id"),
    S::new("client_secret", K::Text, "OAuth2 client secret").secret(),
    S::new(
        "client_secret_env",
        K::Text,
        "environment variable holding the client secret",
    ),
    S::new("scope", K::Text, "OAuth2 scope"),
    // resilience
    S::new(
        "max_attempts",
        POSITIVE,
        "attempts per request, including the first",
    )
    .default("5"),
    S::new(
        "retry_base_delay",
        K::Float,
        "first backoff step in seconds",
    )
    .default("0.25"),
    S::new(
        "retry_max_delay",
        K::Float,
        "longest backoff step in seconds",
    )
    .default("10"),
    S::new(
        "max_retry_after",
        K::Float,
        "longest Retry-After in seconds that is waited; a longer one fails the request",
    )
    .default("60"),
    S::new(
        "max_requests_per_second",
        K::Float,
        "rate limit shared by all requests of the scan",
    ),
    S::new(
        "circuit_breaker_threshold",
        NON_NEGATIVE,
        "consecutive failed attempts, across all concurrent requests, that stop the scan (0: off)",
    )
    .default("20"),
    S::new(
        "concurrency",
        K::Int { min: 1, max: 64 },
        "pages fetched at once when they can be computed ahead",
    )
    .default("16"),
    // incremental
    S::new(
        "incremental_param",
        K::Text,
        "query parameter sent with incremental_value",
    ),
    S::new(
        "incremental_value",
        K::Text,
        "the last value loaded, e.g. max(updated_at) of the previous run",
    ),
    S::new(
        "cursor_column",
        K::Text,
        "column compared with incremental_value; older records are skipped",
    ),
    // schema
    S::new("sample_size", POSITIVE, "records used to infer the schema").default("1000"),
    S::new(
        "columns",
        K::Any,
        "fixed schema, e.g. {'id': 'BIGINT', 'name': 'VARCHAR'}",
    ),
    S::new(
        "json_column",
        K::Bool,
        "return each record as one JSON column",
    )
    .default("false"),
    S::new(
        "unknown_fields",
        K::Choice(&["error", "ignore"]),
        "what to do with fields not in the schema",
    )
    .default("error"),
];

/// Which pagination style, with its settings, so a fresh paginator can be built per scan.
#[derive(Debug, Clone, PartialEq)]
pub enum PaginatorConfig {
    Auto {
        next_url_paths: Vec<String>,
    },
    SinglePage,
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
        initial_offset: u64,
        total_path: Option<String>,
    },
    PageNumber {
        page_param: String,
        page_size_param: Option<String>,
        page_size: Option<u64>,
        base_page: u64,
        total_pages_path: Option<String>,
        total_path: Option<String>,
    },
    Cursor {
        source: CursorSource,
        cursor_param: String,
    },
    JsonLink {
        next_url_paths: Vec<String>,
    },
    HeaderLink,
}

impl PaginatorConfig {
    /// Whether pages can be computed ahead and fetched concurrently.
    pub fn computable(&self) -> bool {
        matches!(
            self,
            PaginatorConfig::Offset { .. } | PaginatorConfig::PageNumber { .. }
        )
    }

    pub fn build(&self, rules: &StopRules) -> Box<dyn Paginator> {
        match self.clone() {
            PaginatorConfig::Auto { .. } | PaginatorConfig::SinglePage => {
                Box::new(SinglePage::default())
            }
            PaginatorConfig::Offset {
                offset_param,
                limit_param,
                limit,
                initial_offset,
                total_path,
            } => Box::new(Offset::new(
                offset_param,
                limit_param,
                limit,
                initial_offset,
                total_path,
                rules.clone(),
            )),
            PaginatorConfig::PageNumber {
                page_param,
                page_size_param,
                page_size,
                base_page,
                total_pages_path,
                total_path,
            } => Box::new(PageNumber::new(
                page_param,
                page_size_param,
                page_size,
                base_page,
                total_pages_path,
                total_path,
                rules.clone(),
            )),
            PaginatorConfig::Cursor {
                source,
                cursor_param,
            } => Box::new(Cursor::new(source, cursor_param, rules.clone())),
            PaginatorConfig::JsonLink { next_url_paths } => {
                Box::new(JsonLink::new(next_url_paths, rules.clone()))
            }
            PaginatorConfig::HeaderLink => Box::new(HeaderLink::new(rules.clone())),
        }
    }
}

/// What `paginator := 'auto'` makes of the first response: a `Link: rel="next"` header, a
/// next-URL field, or a cursor whose request parameter is part of the API's shape (HubSpot,
/// Slack); otherwise one page, unless the response says more pages follow (a total above the
/// records, `has_more: true`, a cursor auto cannot send back): then an error naming the field.
/// `records` is None when the body itself is the one record.
pub fn resolve_auto(
    body: &Value,
    link_header: Option<&str>,
    records: Option<u64>,
    next_url_paths: &[String],
    rules: &StopRules,
) -> Result<PaginatorConfig, String> {
    if link_header.and_then(parse_link_next).is_some() {
        return Ok(PaginatorConfig::HeaderLink);
    }
    for path in next_url_paths {
        if let Some(Value::String(s)) = super::select::lookup(body, path)
            && (s.starts_with("http") || s.starts_with('/') || s.starts_with('?'))
        {
            return Ok(PaginatorConfig::JsonLink {
                next_url_paths: vec![path.clone()],
            });
        }
    }
    for (path, param) in AUTO_CURSORS {
        if let Some(Value::String(s)) = super::select::lookup(body, path)
            && !s.is_empty()
        {
            return Ok(PaginatorConfig::Cursor {
                source: CursorSource::Body(path.to_string()),
                cursor_param: param.to_string(),
            });
        }
    }
    let Some(n) = records else {
        return Ok(PaginatorConfig::SinglePage);
    };
    // A total larger than the page means there are more pages we do not know how to get.
    for key in &rules.total_paths {
        if let Some(total) = super::select::lookup(body, key).and_then(Value::as_u64)
            && total > n
        {
            return Err(format!(
                "the response says {key} = {total} but holds {n} records, and no next link was found; \
                 set paginator := 'offset', 'page_number' or 'cursor' (see docs/rest_scan.md)"
            ));
        }
    }
    if let Some(signal) = more_signal(body, Some(n), rules, Look::Markers) {
        let field = signal.field.as_str();
        let cursor = format!(
            "paginator := 'cursor', cursor_path := '{field}' and cursor_param := <the parameter the API reads it from>"
        );
        let hint = if CURSOR_FIELDS.contains(&field) {
            format!("set {cursor}")
        } else if NEXT_URL_PATHS.contains(&field) {
            format!(
                "set paginator := 'json_link', next_url_path := '{field}' if it is a link, or {cursor} if it is a cursor"
            )
        } else {
            "set paginator := 'cursor' (with cursor_path or cursor_record_field, and cursor_param), \
             'offset' or 'page_number'"
                .to_string()
        };
        return Err(format!(
            "the first page has no next link that auto can follow, but {}; {hint} (see docs/rest_scan.md)",
            signal.text
        ));
    }
    Ok(PaginatorConfig::SinglePage)
}

/// The schema: inferred from a sample, or fixed by the user.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaMode {
    Infer { sample_size: usize },
    Fixed(Vec<(String, JType)>),
    JsonColumn,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodyFormat {
    Json,
    Ndjson,
}

/// Everything one scan needs, checked. Its Debug output holds no secret (RequestSpec, Auth and
/// Secrets print names only).
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub request: RequestSpec,
    pub paginator: PaginatorConfig,
    pub stop_rules: StopRules,
    pub selector: Selector,
    pub format: BodyFormat,
    pub auth: Auth,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// Largest decoded body of one response (page, sample or OAuth2 token) that is read.
    pub max_page_bytes: usize,
    pub concurrency: usize,
    pub max_requests_per_second: Option<f64>,
    pub breaker_threshold: u32,
    pub max_pages: Option<u64>,
    pub max_records: Option<u64>,
    pub schema: SchemaMode,
    pub unknown_fields_error: bool,
    pub cursor_column: Option<String>,
    pub incremental_value: Option<String>,
    pub secrets: Secrets,
    /// Query parameter names whose values are secret (an API key in the query).
    pub secret_params: Vec<String>,
    /// Where requests may go: the start URL's origin and `allowed_hosts`.
    pub origins: Origins,
}

/// 32 MiB: ten times the largest pages of common APIs (a few MB), and with the default
/// `concurrency` (16) at most 512 MiB of bodies in flight (docs/rest_scan.md, "Memory").
pub const DEFAULT_MAX_PAGE_BYTES: i64 = 32 << 20;
/// A longer Retry-After (an hourly or daily quota) fails at once instead of holding the query,
/// which cannot be interrupted while it waits (docs/design.md).
pub const DEFAULT_MAX_RETRY_AFTER: f64 = 60.0;

fn err(message: impl Into<String>) -> String {
    format!("{FUNCTION}: {}", message.into())
}

fn non_empty(o: &Options, name: &str) -> Option<String> {
    o.text(name).filter(|s| !s.is_empty()).map(String::from)
}

/// Whether a URL path segment is `.` or `..` (also percent-encoded: the URL standard resolves
/// `%2e` as a dot), which would move the request to another path.
fn is_dot_segment(segment: &str) -> bool {
    let d = segment.to_ascii_lowercase().replace("%2e", ".");
    d == "." || d == ".."
}

/// Fills `{name}` placeholders with percent-encoded values (`/` too, so a value stays one path
/// segment). A value that would turn a whole path segment into `.`, `..` or nothing is refused:
/// the URL would then name another endpoint. In the query, or as part of a segment
/// (`/files/{name}.json`), any value is fine.
pub fn fill_path_params(url: &str, params: &[(String, String)]) -> Result<String, String> {
    for (name, _) in params {
        if !url.contains(&format!("{{{name}}}")) {
            return Err(err(format!(
                "path_params has '{name}' but the URL has no {{{name}}} placeholder"
            )));
        }
    }
    let fill = |text: &str| {
        let mut out = text.to_string();
        for (name, value) in params {
            out = out.replace(&format!("{{{name}}}"), &percent_encode(value));
        }
        out
    };
    let path_start = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|i| url[i..].find('/').map(|j| i + j))
        .unwrap_or(url.len());
    let path_end = url[path_start..]
        .find(['?', '#'])
        .map(|j| path_start + j)
        .unwrap_or(url.len());
    let mut out = fill(&url[..path_start]);
    for (i, segment) in url[path_start..path_end].split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let filled = fill(segment);
        if filled != segment && (is_dot_segment(&filled) || filled.is_empty()) {
            let given: Vec<String> = params
                .iter()
                .filter(|(name, _)| segment.contains(&format!("{{{name}}}")))
                .map(|(name, value)| format!("'{name}' = '{value}'"))
                .collect();
            return Err(err(if filled.is_empty() {
                format!(
                    "path_params {} would make a URL path segment empty, which names another \
                     endpoint: give a value",
                    given.join(", ")
                )
            } else {
                format!(
                    "path_params {} would make the URL path segment '{filled}' a dot segment, \
                     which resolves to another endpoint; '.' and '..' cannot be path values",
                    given.join(", ")
                )
            }));
        }
        out.push_str(&filled);
    }
    out.push_str(&fill(&url[path_end..]));
    if let (Some(start), true) = (out.find('{'), out.contains('}')) {
        let end = out[start..]
            .find('}')
            .map(|e| start + e + 1)
            .unwrap_or(out.len());
        return Err(err(format!(
            "the URL placeholder {} has no value in path_params",
            &out[start..end]
        )));
    }
    Ok(out)
}

/// The values of credential-like keys (`api_key`, `password`, ...) anywhere in a JSON body.
fn add_body_secrets(body: &Value, secrets: &mut Secrets) {
    match body {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(s) if looks_secret(key) => secrets.add(s),
                    Value::Number(n) if looks_secret(key) => secrets.add(&n.to_string()),
                    other => add_body_secrets(other, secrets),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| add_body_secrets(v, secrets)),
        _ => {}
    }
}

fn option_value_to_json(v: &OptionValue) -> Value {
    match v {
        OptionValue::Null => Value::Null,
        OptionValue::Bool(b) => Value::Bool(*b),
        OptionValue::Int(i) => Value::from(*i),
        OptionValue::Float(x) => serde_json::Number::from_f64(*x)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        OptionValue::Text(s) => Value::String(s.clone()),
        OptionValue::List(items) => Value::Array(items.iter().map(option_value_to_json).collect()),
        OptionValue::Struct(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), option_value_to_json(v)))
                .collect(),
        ),
    }
}

fn parse_columns(v: &OptionValue) -> Result<Vec<(String, JType)>, String> {
    let OptionValue::Struct(fields) = v else {
        return Err(err(format!(
            "option columns got {v}, expected a STRUCT or MAP of column name to type, e.g. {{'id': 'BIGINT'}}"
        )));
    };
    if fields.is_empty() {
        return Err(err("option columns names no columns"));
    }
    fields
        .iter()
        .map(|(name, ty)| match ty {
            OptionValue::Text(t) => parse_type(t)
                .map(|jt| (name.clone(), jt))
                .map_err(|e| err(format!("option columns, column '{name}': {e}"))),
            other => Err(err(format!(
                "option columns, column '{name}': type {other} is not a type name"
            ))),
        })
        .collect()
}

/// Options that only mean something with certain values of another option (a paginator style,
/// an auth method): (option, governing option, the values it applies to). Given with any other
/// value they would be ignored silently, so that is an error naming both.
const APPLIES_TO: &[(&str, &str, &[&str])] = &[
    ("page_size", "paginator", &["offset", "page_number"]),
    ("offset_param", "paginator", &["offset"]),
    ("limit_param", "paginator", &["offset"]),
    ("initial_offset", "paginator", &["offset"]),
    ("page_param", "paginator", &["page_number"]),
    ("page_size_param", "paginator", &["page_number"]),
    ("base_page", "paginator", &["page_number"]),
    ("total_pages_path", "paginator", &["page_number"]),
    ("cursor_path", "paginator", &["cursor"]),
    ("cursor_param", "paginator", &["cursor"]),
    ("cursor_record_field", "paginator", &["cursor"]),
    ("next_url_path", "paginator", &["json_link", "auto"]),
    (
        "pagination_in",
        "paginator",
        &["offset", "page_number", "cursor"],
    ),
    ("data_selector", "format", &["json"]),
    ("api_key", "auth", &["api_key"]),
    ("api_key_env", "auth", &["api_key"]),
    ("api_key_name", "auth", &["api_key"]),
    ("api_key_location", "auth", &["api_key"]),
    ("token", "auth", &["bearer"]),
    ("token_env", "auth", &["bearer"]),
    ("username", "auth", &["basic"]),
    ("password", "auth", &["basic"]),
    ("password_env", "auth", &["basic"]),
    ("token_url", "auth", &["oauth2"]),
    ("client_id", "auth", &["oauth2"]),
    ("client_secret", "auth", &["oauth2"]),
    ("client_secret_env", "auth", &["oauth2"]),
    ("scope", "auth", &["oauth2"]),
];

fn check_applies(o: &Options) -> Result<(), String> {
    for (option, governing, values) in APPLIES_TO {
        let actual = o.text(governing).unwrap_or_default();
        if o.given(option) && !values.contains(&actual) {
            let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
            let accepted = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => quoted.join(""),
            };
            return Err(err(format!(
                "{option} applies to {governing} {accepted}, not '{actual}' (set {governing} := '{}', or remove {option})",
                values[0]
            )));
        }
    }
    let schema_given = o.given("columns") || o.bool("json_column") == Some(true);
    for option in ["sample_size", "unknown_fields"] {
        if o.given(option) && schema_given {
            return Err(err(format!(
                "{option} applies to an inferred schema; with columns or json_column it would be ignored (remove {option})"
            )));
        }
    }
    if o.given("cursor_path") && o.given("cursor_record_field") {
        return Err(err(
            "give either cursor_path (a field of the body) or cursor_record_field (a field of the last record), not both",
        ));
    }
    // Only when both are given: a default that does not fit the other option follows it.
    if let (Some(base), Some(max)) = (o.float("retry_base_delay"), o.float("retry_max_delay"))
        && o.given("retry_base_delay")
        && o.given("retry_max_delay")
        && base > max
    {
        return Err(err(format!(
            "retry_base_delay ({base} s) is above retry_max_delay ({max} s), so it would never be used: \
             lower retry_base_delay or raise retry_max_delay"
        )));
    }
    Ok(())
}

/// Builds the scan configuration from the URL and checked options.
pub fn scan_config(
    url: &str,
    o: &Options,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ScanConfig, String> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(err(format!(
            "the URL '{}' must start with http:// or https://",
            super::redact::redact_url(url, &[])
        )));
    }
    if url.contains('\0') {
        return Err(err(
            "the URL contains a NUL character (chr(0)); it would be cut there: remove it",
        ));
    }
    let url = fill_path_params(url, o.map("path_params").unwrap_or(&[]))?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        err(format!(
            "the URL '{}' is not valid: {e}",
            super::redact::redact_url(&url, &[])
        ))
    })?;
    let allowed = o
        .text_list("allowed_hosts")
        .unwrap_or(&[])
        .iter()
        .map(|h| AllowedHost::parse(h).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    let origins = Origins::new(parsed.clone(), allowed);
    let method = o.text("method").unwrap_or("GET").to_string();
    let body = match o.value("body") {
        None => None,
        Some(OptionValue::Text(t)) => Some(
            serde_json::from_str::<Value>(t)
                .map_err(|e| err(format!("option body is not valid JSON: {e}")))?,
        ),
        Some(other) => Some(option_value_to_json(other)),
    };
    if body.is_some() && method == "GET" {
        return Err(err("option body needs method := 'POST'"));
    }
    let params_in_body = o.text("pagination_in") == Some("body");
    if params_in_body && method == "GET" {
        return Err(err("pagination_in := 'body' needs method := 'POST'"));
    }
    let mut request = RequestSpec {
        method,
        url,
        query: o.map("params").map(|m| m.to_vec()).unwrap_or_default(),
        headers: o.map("headers").map(|m| m.to_vec()).unwrap_or_default(),
        body,
        params_in_body,
    };

    // incremental
    let incremental_value = non_empty(o, "incremental_value");
    match (non_empty(o, "incremental_param"), &incremental_value) {
        (Some(param), Some(value)) => request.query.push((param, value.clone())),
        (Some(_), None) => return Err(err("incremental_param needs incremental_value")),
        _ => {}
    }
    let cursor_column = non_empty(o, "cursor_column");
    if cursor_column.is_some() && incremental_value.is_none() {
        return Err(err(
            "cursor_column needs incremental_value (the last value already loaded)",
        ));
    }
    if incremental_value.is_some()
        && non_empty(o, "incremental_param").is_none()
        && cursor_column.is_none()
    {
        return Err(err(
            "incremental_value is given but neither incremental_param (to send it to the API) nor \
             cursor_column (to skip older records) is, so it would be ignored: add one of them",
        ));
    }

    let mut rules = StopRules::new(
        o.text("has_more_path"),
        o.text("total_path"),
        o.bool("stop_on_short_page").unwrap_or(true),
    );
    // Only a has_more_path the user gave must hold a flag (the default fields are lenient).
    rules.has_more_given = non_empty(o, "has_more_path").filter(|_| o.given("has_more_path"));
    // A marker the user named is the API's: no other field is guessed to be one.
    rules.marker_given = o.given("cursor_path") || o.given("next_url_path");
    rules.max_pages = o.int("max_pages").map(|n| n as u64);
    // max_records counts kept rows: with an incremental filter, fewer than were read.
    rules.max_records = o
        .int("max_records")
        .map(|n| n as u64)
        .filter(|_| cursor_column.is_none());
    let page_size = o.int("page_size").map(|n| n as u64);
    let next_url_paths = match non_empty(o, "next_url_path") {
        Some(p) => vec![p],
        None => NEXT_URL_PATHS.iter().map(|s| s.to_string()).collect(),
    };
    let style = o.text("paginator").unwrap_or("auto");
    let paginator = match style {
        "single_page" => PaginatorConfig::SinglePage,
        "offset" => PaginatorConfig::Offset {
            offset_param: o.text("offset_param").unwrap_or("offset").to_string(),
            limit_param: o.text("limit_param").unwrap_or("limit").to_string(),
            limit: page_size.unwrap_or(100),
            initial_offset: o.int("initial_offset").unwrap_or(0) as u64,
            total_path: non_empty(o, "total_path"),
        },
        "page_number" => PaginatorConfig::PageNumber {
            page_param: o.text("page_param").unwrap_or("page").to_string(),
            page_size_param: non_empty(o, "page_size_param"),
            page_size,
            base_page: o.int("base_page").unwrap_or(1) as u64,
            total_pages_path: non_empty(o, "total_pages_path"),
            total_path: non_empty(o, "total_path"),
        },
        "cursor" => PaginatorConfig::Cursor {
            source: match non_empty(o, "cursor_record_field") {
                Some(field) if field.contains('.') => {
                    return Err(err(format!(
                        "cursor_record_field '{field}' must be a top-level field of the record"
                    )));
                }
                Some(field) => CursorSource::LastRecord(field),
                None => {
                    CursorSource::Body(o.text("cursor_path").unwrap_or("next_cursor").to_string())
                }
            },
            cursor_param: o.text("cursor_param").unwrap_or("cursor").to_string(),
        },
        "json_link" => PaginatorConfig::JsonLink { next_url_paths },
        "header_link" => PaginatorConfig::HeaderLink,
        _ => PaginatorConfig::Auto { next_url_paths },
    };
    check_applies(o)?;
    if o.text("format") == Some("ndjson")
        && !matches!(
            paginator,
            PaginatorConfig::SinglePage
                | PaginatorConfig::Auto { .. }
                | PaginatorConfig::Offset { .. }
                | PaginatorConfig::PageNumber { .. }
        )
    {
        return Err(err(format!(
            "format 'ndjson' has no response fields to paginate by; paginator '{style}' needs JSON"
        )));
    }

    // auth
    let mut secrets = Secrets::new();
    let mut secret_params = Vec::new();
    let secret = |name: &str| {
        resolve_secret(
            FUNCTION,
            name,
            o.text(name),
            o.text(&format!("{name}_env")),
            &env,
        )
    };
    let auth = match o.text("auth").unwrap_or("none") {
        "api_key" => {
            let location = if o.text("api_key_location") == Some("query") {
                KeyLocation::Query
            } else {
                KeyLocation::Header
            };
            let name = o.text("api_key_name").unwrap_or("X-API-Key").to_string();
            if location == KeyLocation::Query {
                secret_params.push(name.clone());
            }
            Auth::ApiKey {
                name,
                value: secret("api_key")?,
                location,
            }
        }
        "bearer" => Auth::Bearer {
            token: secret("token")?,
        },
        "basic" => Auth::Basic {
            user: non_empty(o, "username").ok_or_else(|| err("auth 'basic' needs username"))?,
            password: secret("password")?,
        },
        "oauth2" => Auth::OAuth2 {
            token_url: non_empty(o, "token_url")
                .ok_or_else(|| err("auth 'oauth2' needs token_url"))?,
            client_id: non_empty(o, "client_id")
                .ok_or_else(|| err("auth 'oauth2' needs client_id"))?,
            client_secret: secret("client_secret")?,
            scope: non_empty(o, "scope"),
        },
        _ => Auth::None,
    };
    match &auth {
        Auth::Basic { user, password } => secrets.add_basic(user, password),
        other => {
            for s in other.secrets() {
                secrets.add(s);
            }
        }
    }
    // Credentials in the URL (`http://user:pass@host`, or a token as the user alone,
    // `http://tok@host`) are sent as basic auth.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let user = percent_decode(parsed.username());
        let password = percent_decode(parsed.password().unwrap_or(""));
        if let Some(raw) = parsed.password() {
            secrets.add(raw);
        } else {
            secrets.add(&user);
            secrets.add(parsed.username());
        }
        secrets.add_basic(&user, &password);
    }
    // Every header value is a secret in messages, whatever its name or length
    // (`X-Auth: k9`), except those of headers that never carry one (`Accept`, `*-Version`,
    // ...); so are the values of parameters whose names look like credentials (`sessionid`,
    // `access_token`, the api key's name, ...), in `params`, in the start URL's own query, in
    // path_params (`/bot{token}/`) and in a JSON body, which URLs in messages show as `***`.
    for (name, value) in &request.headers {
        if header_is_credential(name) {
            secrets.add(value);
        }
    }
    let is_secret_param = |name: &str, known: &[String]| {
        looks_secret(name) || known.iter().any(|k| k.eq_ignore_ascii_case(name))
    };
    let url_pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (name, value) in request.query.iter().chain(&url_pairs) {
        if is_secret_param(name, &secret_params) {
            secrets.add(value);
            if !secret_params.contains(name) {
                secret_params.push(name.clone());
            }
        }
    }
    for (name, value) in o.map("path_params").unwrap_or(&[]) {
        if looks_secret(name) {
            secrets.add(value);
        }
    }
    if let Some(body) = &request.body {
        add_body_secrets(body, &mut secrets);
    }
    // Nothing secret is sent (no credentials; headers, if any, are plain ones like Accept): a
    // next link or redirect to another origin gives nothing away.
    let origins = if secrets.is_empty() {
        origins.without_credentials()
    } else {
        origins
    };
    let schema = if o.bool("json_column") == Some(true) {
        if o.value("columns").is_some() {
            return Err(err("give either columns or json_column := true, not both"));
        }
        SchemaMode::JsonColumn
    } else if let Some(columns) = o.value("columns") {
        SchemaMode::Fixed(parse_columns(columns)?)
    } else {
        SchemaMode::Infer {
            sample_size: o.int("sample_size").unwrap_or(1000) as usize,
        }
    };
    if let (Some(column), SchemaMode::Fixed(cols)) = (&cursor_column, &schema)
        && !cols.iter().any(|(n, _)| n == column)
    {
        return Err(err(format!(
            "cursor_column '{column}' is not among the columns"
        )));
    }

    let seconds = |name: &str, default: f64| -> Result<Duration, String> {
        let v = o.float(name).unwrap_or(default);
        if !(v.is_finite() && v > 0.0 && v < 1e7) {
            return Err(err(format!(
                "option {name} got {v}, expected a positive number of seconds"
            )));
        }
        Ok(Duration::from_secs_f64(v))
    };
    // retry_max_delay := 0.1 alone lowers the default base delay to it; retry_base_delay :=
    // 20 alone raises the default max delay to it.
    let (mut base_delay, mut max_delay) = (
        seconds("retry_base_delay", 0.25)?,
        seconds("retry_max_delay", 10.0)?,
    );
    if !o.given("retry_base_delay") {
        base_delay = base_delay.min(max_delay);
    }
    if !o.given("retry_max_delay") {
        max_delay = max_delay.max(base_delay);
    }
    let max_requests_per_second = match o.float("max_requests_per_second") {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            return Err(err(format!(
                "option max_requests_per_second got {r}, expected a positive number"
            )));
        }
        other => other,
    };

    Ok(ScanConfig {
        request,
        paginator,
        stop_rules: rules,
        selector: Selector::parse(o.text("data_selector")).map_err(|e| err(e.to_string()))?,
        format: if o.text("format") == Some("ndjson") {
            BodyFormat::Ndjson
        } else {
            BodyFormat::Json
        },
        auth,
        retry: RetryPolicy {
            max_attempts: u32::try_from(o.int("max_attempts").unwrap_or(5)).unwrap_or(u32::MAX),
            base_delay,
            max_delay,
            max_retry_after: seconds("max_retry_after", DEFAULT_MAX_RETRY_AFTER)?,
        },
        timeout: seconds("timeout", 30.0)?,
        max_page_bytes: usize::try_from(o.int("max_page_bytes").unwrap_or(DEFAULT_MAX_PAGE_BYTES))
            .unwrap_or(usize::MAX),
        concurrency: o.int("concurrency").unwrap_or(16) as usize,
        max_requests_per_second,
        breaker_threshold: u32::try_from(o.int("circuit_breaker_threshold").unwrap_or(20))
            .unwrap_or(u32::MAX),
        max_pages: o.int("max_pages").map(|n| n as u64),
        max_records: o.int("max_records").map(|n| n as u64),
        schema,
        unknown_fields_error: o.text("unknown_fields") != Some("ignore"),
        cursor_column,
        incremental_value,
        secrets,
        secret_params,
        origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> Options {
        let given: Vec<(String, OptionValue)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Options::parse(FUNCTION, OPTIONS, &given).unwrap()
    }
    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }
    fn no_env(_: &str) -> Option<String> {
        None
    }
    fn bind_error(pairs: &[(&str, OptionValue)]) -> String {
        scan_config("http://h/u", &opts(pairs), no_env).unwrap_err()
    }

    #[test]
    fn option_table_has_unique_names_and_valid_defaults() {
        let mut names: Vec<_> = OPTIONS.iter().map(|s| s.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        // Parsing with no options exercises every default.
        Options::parse(FUNCTION, OPTIONS, &[]).unwrap();
    }

    #[test]
    fn defaults_give_auto_pagination_and_inferred_schema() {
        let c = scan_config("http://h/users", &opts(&[]), no_env).unwrap();
        assert!(matches!(c.paginator, PaginatorConfig::Auto { .. }));
        assert_eq!(c.schema, SchemaMode::Infer { sample_size: 1000 });
        assert_eq!(c.concurrency, 16);
        assert_eq!(c.request.method, "GET");
    }

    #[test]
    fn page_bytes_and_retry_after_caps_default_to_32_mib_and_60_s_and_follow_the_options() {
        let c = scan_config("http://h/users", &opts(&[]), no_env).unwrap();
        assert_eq!(c.max_page_bytes, 32 << 20);
        assert_eq!(c.retry.max_retry_after, Duration::from_secs(60));
        let c = scan_config(
            "http://h/users",
            &opts(&[
                ("max_page_bytes", OptionValue::Int(1024)),
                ("max_retry_after", OptionValue::Float(600.0)),
            ]),
            no_env,
        )
        .unwrap();
        assert_eq!(c.max_page_bytes, 1024);
        assert_eq!(c.retry.max_retry_after, Duration::from_secs(600));
    }

    #[test]
    fn path_params_fill_placeholders_and_missing_ones_are_errors() {
        let o = opts(&[(
            "path_params",
            OptionValue::Struct(vec![("org".into(), text("duck db"))]),
        )]);
        let c = scan_config("http://h/orgs/{org}/repos", &o, no_env).unwrap();
        assert_eq!(c.request.url, "http://h/orgs/duck%20db/repos");
        let e = scan_config("http://h/orgs/{org}/{repo}", &o, no_env).unwrap_err();
        assert_eq!(
            e,
            "rest_scan: the URL placeholder {repo} has no value in path_params"
        );
    }

    #[test]
    fn secrets_come_from_the_environment_and_are_registered_for_scrubbing() {
        let env = |n: &str| (n == "API_TOKEN").then(|| "tok-from-env-1".to_string());
        let o = opts(&[("auth", text("bearer")), ("token_env", text("API_TOKEN"))]);
        let c = scan_config("http://h/u", &o, env).unwrap();
        assert_eq!(
            c.auth,
            Auth::Bearer {
                token: "tok-from-env-1".into()
            }
        );
        assert_eq!(c.secrets.scrub("x tok-from-env-1 y"), "x *** y");
        let o = opts(&[("auth", text("bearer"))]);
        assert_eq!(
            scan_config("http://h/u", &o, env).unwrap_err(),
            "rest_scan: this auth needs token or token_env"
        );
    }

    #[test]
    fn api_key_in_query_marks_the_parameter_secret() {
        let o = opts(&[
            ("auth", text("api_key")),
            ("api_key", text("k-123456")),
            ("api_key_location", text("query")),
            ("api_key_name", text("apikey2")),
        ]);
        let c = scan_config("http://h/u", &o, no_env).unwrap();
        assert_eq!(c.secret_params, vec!["apikey2".to_string()]);
    }

    #[test]
    fn every_header_value_and_credential_like_params_are_scrubbed_but_other_params_are_not() {
        let o = opts(&[
            (
                "headers",
                OptionValue::Struct(vec![
                    ("Authorization".into(), text("Bearer abcdefgh-1234")),
                    ("X-Auth".into(), text("k9")),
                    ("X-Tenant".into(), text("tenant-acme")),
                ]),
            ),
            (
                "params",
                OptionValue::Struct(vec![
                    ("access_token".into(), text("zyxwvuts-99")),
                    ("sessionid".into(), text("s3ss")),
                    ("status".into(), text("active-only")),
                ]),
            ),
        ]);
        let c = scan_config("http://h/u", &o, no_env).unwrap();
        assert_eq!(
            c.secrets
                .scrub("Bearer abcdefgh-1234 zyxwvuts-99 tenant-acme active-only"),
            "*** *** *** active-only"
        );
        // values too short to scrub safely withhold server text that contains them
        assert_eq!(c.secrets.server_text("bad header k9", 200), None);
        assert_eq!(c.secrets.server_text("session s3ss", 200), None);
        assert_eq!(
            c.secret_params,
            vec!["access_token".to_string(), "sessionid".to_string()]
        );
    }

    #[test]
    fn credentials_in_the_url_are_scrubbed_as_given_and_as_basic_auth() {
        let c = scan_config("http://bob:p%40ss-word@h/u", &opts(&[]), no_env).unwrap();
        let basic = crate::rest::redact::base64(b"bob:p@ss-word");
        assert_eq!(
            c.secrets
                .scrub(&format!("p%40ss-word p@ss-word Basic {basic}")),
            "*** *** Basic ***"
        );
    }

    #[test]
    fn credentials_in_the_start_urls_own_query_are_secrets() {
        let c = scan_config(
            "http://h/u?api_key=sk_live_abcdef123&page=2&k=custom-key-value",
            &opts(&[
                ("auth", text("api_key")),
                ("api_key", text("other-key-1234")),
                ("api_key_location", text("query")),
                ("api_key_name", text("k")),
            ]),
            no_env,
        )
        .unwrap();
        assert_eq!(
            c.secrets
                .scrub("GET /u?api_key=sk_live_abcdef123&page=2&k=custom%2Dkey%2Dvalue"),
            "GET /u?api_key=***&page=2&k=***"
        );
        assert!(c.secret_params.iter().any(|p| p == "api_key"));
        assert!(c.origins.credentials());
    }

    #[test]
    fn a_token_given_as_the_urls_user_alone_is_a_secret() {
        let c = scan_config("https://tok_SECRET_abcdef@h/u", &opts(&[]), no_env).unwrap();
        let basic = crate::rest::redact::base64(b"tok_SECRET_abcdef:");
        assert_eq!(
            c.secrets
                .scrub(&format!("user tok_SECRET_abcdef, Basic {basic}")),
            "user ***, Basic ***"
        );
    }

    #[test]
    fn well_known_plain_headers_are_not_secrets_but_every_other_header_is() {
        let o = opts(&[(
            "headers",
            OptionValue::Struct(vec![
                ("Accept".into(), text("application/json")),
                ("Accept-Language".into(), text("de")),
                ("X-Api-Version".into(), text("2")),
                ("If-None-Match".into(), text("etag-12345678")),
                ("X-Token-Version".into(), text("tv-12345678")),
                ("X-Tenant".into(), text("tenant-acme")),
            ]),
        )]);
        let c = scan_config("http://h/u", &o, no_env).unwrap();
        assert_eq!(
            c.secrets.server_text(
                "Content-Type application/json, version 2, de, etag-12345678; tv-12345678 tenant-acme",
                200
            ),
            Some("Content-Type application/json, version 2, de, etag-12345678; *** ***".into())
        );
        // only plain headers: nothing secret is sent, so any origin may be followed
        let o = opts(&[(
            "headers",
            OptionValue::Struct(vec![("Accept".into(), text("application/json"))]),
        )]);
        assert!(
            !scan_config("http://h/u", &o, no_env)
                .unwrap()
                .origins
                .credentials()
        );
        assert!(
            !scan_config("http://h/u?n=1", &opts(&[]), no_env)
                .unwrap()
                .origins
                .credentials()
        );
    }

    #[test]
    fn credentials_in_a_json_body_and_in_path_params_are_secrets() {
        let o = opts(&[
            ("method", text("POST")),
            (
                "body",
                text(
                    r#"{"query": "q", "auth": {"api_key": "body-key-12345", "pin": 4711}, "password": 98765}"#,
                ),
            ),
            (
                "path_params",
                OptionValue::Struct(vec![
                    ("token".into(), text("123456:bot-token-abc")),
                    ("org".into(), text("duckdb-labs")),
                ]),
            ),
        ]);
        let c = scan_config("http://h/bot{token}/{org}/x", &o, no_env).unwrap();
        assert_eq!(
            c.secrets
                .scrub("body-key-12345 4711 123456%3Abot-token-abc duckdb-labs q"),
            "*** 4711 *** duckdb-labs q"
        );
        assert_eq!(c.secrets.server_text("pw 98765", 200), None);
    }

    #[test]
    fn one_retry_delay_alone_moves_the_others_default() {
        let c = scan_config(
            "http://h/u",
            &opts(&[("retry_max_delay", OptionValue::Float(0.1))]),
            no_env,
        )
        .unwrap();
        assert_eq!(c.retry.base_delay, Duration::from_millis(100));
        assert_eq!(c.retry.max_delay, Duration::from_millis(100));
        let c = scan_config(
            "http://h/u",
            &opts(&[("retry_base_delay", OptionValue::Float(20.0))]),
            no_env,
        )
        .unwrap();
        assert_eq!(c.retry.base_delay, Duration::from_secs(20));
        assert_eq!(c.retry.max_delay, Duration::from_secs(20));
        let e = bind_error(&[
            ("retry_base_delay", OptionValue::Float(20.0)),
            ("retry_max_delay", OptionValue::Float(10.0)),
        ]);
        assert!(
            e.contains("retry_base_delay (20 s) is above retry_max_delay (10 s)"),
            "{e}"
        );
    }

    #[test]
    fn debug_output_of_a_config_holds_no_secret() {
        let o = opts(&[
            ("auth", text("bearer")),
            ("token", text("tok-9876543210")),
            (
                "headers",
                OptionValue::Struct(vec![("X-Api-Key".into(), text("hdr-9876543210"))]),
            ),
            (
                "params",
                OptionValue::Struct(vec![("access_token".into(), text("par-9876543210"))]),
            ),
        ]);
        let c = scan_config("http://u:pw-9876543210@h/u?key=url-9876543210", &o, no_env).unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("9876543210"), "{text}");
    }

    #[test]
    fn bad_combinations_are_named() {
        let e = bind_error;
        assert_eq!(
            e(&[("body", text("{\"a\":1}"))]),
            "rest_scan: option body needs method := 'POST'"
        );
        assert!(
            e(&[("method", text("POST")), ("body", text("{bad"))])
                .starts_with("rest_scan: option body is not valid JSON")
        );
        assert_eq!(
            e(&[
                ("paginator", text("cursor")),
                ("page_size", OptionValue::Int(10))
            ]),
            "rest_scan: page_size applies to paginator 'offset' or 'page_number', not 'cursor' \
             (set paginator := 'offset', or remove page_size)"
        );
        assert_eq!(
            e(&[("incremental_param", text("since"))]),
            "rest_scan: incremental_param needs incremental_value"
        );
        assert!(
            scan_config("ftp://h/u", &opts(&[]), no_env)
                .unwrap_err()
                .contains("must start with http://")
        );
        assert!(e(&[("timeout", OptionValue::Float(-1.0))]).contains("option timeout got -1"));
    }

    #[test]
    fn columns_option_parses_types_and_names_bad_ones() {
        let cols = OptionValue::Struct(vec![
            ("id".into(), text("BIGINT")),
            ("tags".into(), text("VARCHAR[]")),
        ]);
        let c = scan_config("http://h/u", &opts(&[("columns", cols)]), no_env).unwrap();
        assert_eq!(
            c.schema,
            SchemaMode::Fixed(vec![
                ("id".into(), JType::BigInt),
                ("tags".into(), JType::List(Box::new(JType::Varchar)))
            ])
        );
        let cols = OptionValue::Struct(vec![("id".into(), text("MONEY"))]);
        let e = scan_config("http://h/u", &opts(&[("columns", cols)]), no_env).unwrap_err();
        assert!(
            e.starts_with("rest_scan: option columns, column 'id': cannot read type 'MONEY'"),
            "{e}"
        );
    }

    fn auto(
        body: serde_json::Value,
        link: Option<&str>,
        n: u64,
    ) -> Result<PaginatorConfig, String> {
        let paths: Vec<String> = NEXT_URL_PATHS.iter().map(|s| s.to_string()).collect();
        resolve_auto(
            &body,
            link,
            Some(n),
            &paths,
            &StopRules::new(None, None, true),
        )
    }

    #[test]
    fn auto_follows_links_next_urls_and_known_cursors_of_public_apis() {
        use serde_json::json;
        // GitHub / Shopify: the Link header
        assert_eq!(
            auto(json!([]), Some("<http://h/r?page=2>; rel=\"next\""), 30),
            Ok(PaginatorConfig::HeaderLink)
        );
        let link = |path: &str| {
            Ok(PaginatorConfig::JsonLink {
                next_url_paths: vec![path.to_string()],
            })
        };
        // Graph / OData, Salesforce, Zendesk (offset and cursor), JSON:API (plain and link objects)
        assert_eq!(
            auto(
                json!({"@odata.nextLink": "http://h/u?$skiptoken=x"}),
                None,
                100
            ),
            link("@odata.nextLink")
        );
        assert_eq!(
            auto(
                json!({"done": false, "totalSize": 30, "nextRecordsUrl": "/q/01g-10"}),
                None,
                10
            ),
            link("nextRecordsUrl")
        );
        assert_eq!(
            auto(
                json!({"next_page": "http://h/t.json?page=2", "count": 30}),
                None,
                10
            ),
            link("next_page")
        );
        assert_eq!(
            auto(
                json!({"meta": {"has_more": true}, "links": {"next": "http://h/u?page[after]=x"}}),
                None,
                10
            ),
            link("links.next")
        );
        assert_eq!(
            auto(json!({"links": {"next": {"href": "/a?page=2"}}}), None, 10),
            link("links.next.href")
        );
        // [L6] HubSpot: paging.next.after, sent back as `after`
        assert_eq!(
            auto(
                json!({"paging": {"next": {"after": "100", "link": "?after=100"}}}),
                None,
                100
            ),
            Ok(PaginatorConfig::Cursor {
                source: CursorSource::Body("paging.next.after".into()),
                cursor_param: "after".into()
            })
        );
        // Slack: response_metadata.next_cursor, sent back as `cursor` ("" on the last page)
        assert_eq!(
            auto(
                json!({"ok": true, "response_metadata": {"next_cursor": "dXNlcjpV"}}),
                None,
                100
            ),
            Ok(PaginatorConfig::Cursor {
                source: CursorSource::Body("response_metadata.next_cursor".into()),
                cursor_param: "cursor".into()
            })
        );
        assert_eq!(
            auto(
                json!({"ok": true, "response_metadata": {"next_cursor": ""}}),
                None,
                100
            ),
            Ok(PaginatorConfig::SinglePage)
        );
    }

    #[test]
    fn only_a_has_more_path_the_user_gave_must_hold_a_flag() {
        use serde_json::json;
        let body = json!({"has_more": "maybe"});
        let c = scan_config("http://h/u", &opts(&[]), no_env).unwrap();
        assert_eq!(c.stop_rules.clone().has_more_of(&body), Ok(None));
        let c = scan_config(
            "http://h/u",
            &opts(&[("has_more_path", text("has_more"))]),
            no_env,
        )
        .unwrap();
        assert!(c.stop_rules.has_more_of(&body).is_err());
        // cursor_path given (even as its default) marks the marker as the user's
        let c = scan_config(
            "http://h/u",
            &opts(&[("paginator", text("cursor"))]),
            no_env,
        )
        .unwrap();
        assert!(!c.stop_rules.marker_given);
        let pairs = [
            ("paginator", text("cursor")),
            ("cursor_path", text("next_cursor")),
        ];
        let c = scan_config("http://h/u", &opts(&pairs), no_env).unwrap();
        assert!(c.stop_rules.marker_given);
    }

    #[test]
    fn auto_follows_confluence_twitter_and_twitch_shapes() {
        use serde_json::json;
        // [B3-1] Confluence: _links.next is the link itself
        assert_eq!(
            auto(
                json!({"results": [], "_links": {"base": "http://h", "next": "/c?start=25"}}),
                None,
                25
            ),
            Ok(PaginatorConfig::JsonLink {
                next_url_paths: vec!["_links.next".into()]
            })
        );
        // Twitter/X: meta.next_token, sent back as pagination_token
        assert_eq!(
            auto(
                json!({"data": [], "meta": {"result_count": 10, "next_token": "b26v89c19zqg8o3f"}}),
                None,
                10
            ),
            Ok(PaginatorConfig::Cursor {
                source: CursorSource::Body("meta.next_token".into()),
                cursor_param: "pagination_token".into()
            })
        );
        // Twitch: pagination.cursor, sent back as after ({} on the last page)
        assert_eq!(
            auto(
                json!({"data": [], "pagination": {"cursor": "eyJiIjpudWxs"}}),
                None,
                20
            ),
            Ok(PaginatorConfig::Cursor {
                source: CursorSource::Body("pagination.cursor".into()),
                cursor_param: "after".into()
            })
        );
        assert_eq!(
            auto(json!({"data": [], "pagination": {}}), None, 20),
            Ok(PaginatorConfig::SinglePage)
        );
    }

    #[test]
    fn auto_fails_naming_the_field_when_a_page_says_more_but_has_no_link_it_can_follow() {
        use serde_json::json;
        // Stripe and Notion: has_more without a link
        let e = auto(
            json!({"object": "list", "url": "/v1/customers", "has_more": true}),
            None,
            10,
        )
        .unwrap_err();
        assert!(
            e.starts_with("the first page has no next link that auto can follow, but 'has_more' = true says more pages follow; set paginator := 'cursor'"),
            "{e}"
        );
        let e = auto(json!({"next_cursor": "abc", "has_more": true}), None, 10).unwrap_err();
        assert!(e.contains("'has_more' = true"), "{e}");
        // a next field that is not a URL auto recognises: a relative link, or a cursor
        let e = auto(json!({"next": "users?page=2"}), None, 10).unwrap_err();
        assert!(
            e.contains("set paginator := 'json_link', next_url_path := 'next' if it is a link, or paginator := 'cursor', cursor_path := 'next'"),
            "{e}"
        );
        // a cursor without has_more
        let e = auto(json!({"nextPageToken": "abc"}), None, 10).unwrap_err();
        assert!(
            e.contains("'nextPageToken' = \"abc\" looks like the next page; set paginator := 'cursor', cursor_path := 'nextPageToken'"),
            "{e}"
        );
        // Jira: a total, and isLast
        let e = auto(
            json!({"startAt": 0, "maxResults": 50, "total": 120}),
            None,
            50,
        )
        .unwrap_err();
        assert!(
            e.starts_with("the response says total = 120 but holds 50 records"),
            "{e}"
        );
        let e = auto(json!({"startAt": 0, "isLast": false}), None, 50).unwrap_err();
        assert!(e.contains("'isLast' = false says more pages follow"), "{e}");
        // a last page says so: one page
        assert_eq!(
            auto(json!({"has_more": false, "next_cursor": "x"}), None, 3),
            Ok(PaginatorConfig::SinglePage)
        );
        assert_eq!(
            auto(json!({"done": true, "totalSize": 3}), None, 3),
            Ok(PaginatorConfig::SinglePage)
        );
        assert_eq!(
            auto(json!({"results": []}), None, 0),
            Ok(PaginatorConfig::SinglePage)
        );
    }

    #[test]
    fn has_more_path_and_total_path_default_to_the_known_fields_and_empty_turns_them_off() {
        let r = StopRules::new(None, None, true);
        assert_eq!(
            r.has_more_paths,
            vec!["has_more", "meta.has_more", "hasMore"]
        );
        assert!(r.known_flags);
        assert_eq!(r.total_paths[0], "total");
        let r = StopRules::new(Some("meta.more"), Some("meta.n"), true);
        assert_eq!(r.has_more_paths, vec!["meta.more"]);
        assert_eq!(r.total_paths[0], "meta.n");
        let r = StopRules::new(Some(""), Some(""), true);
        assert!(r.has_more_paths.is_empty() && r.total_paths.is_empty() && !r.known_flags);
    }

    #[test]
    fn incremental_value_is_sent_as_a_query_parameter() {
        let o = opts(&[
            ("incremental_param", text("since")),
            ("incremental_value", text("2026-01-01")),
        ]);
        let c = scan_config("http://h/u", &o, no_env).unwrap();
        assert_eq!(
            c.request.query,
            vec![("since".to_string(), "2026-01-01".to_string())]
        );
    }

    #[test]
    fn path_params_never_change_the_endpoint() {
        let pp = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        // the encoded '%' makes '%2e%2e' a literal value, not a dot segment
        assert_eq!(
            fill_path_params("http://h/orgs/{org}/repos", &pp(&[("org", "%2e%2e")])).unwrap(),
            "http://h/orgs/%252e%252e/repos"
        );
        assert!(fill_path_params("http://h/orgs/{org}/repos", &pp(&[("org", "..")])).is_err());
        assert!(fill_path_params("http://h/orgs/{org}/repos", &pp(&[("org", ".")])).is_err());
        // a value next to template text that completes a dot segment
        let e = fill_path_params("http://h/a/{x}%2e/b", &pp(&[("x", ".")])).unwrap_err();
        assert!(e.contains("'x' = '.'"), "{e}");
        assert_eq!(
            fill_path_params("http://h/a/{x}/b?q={x}", &pp(&[("x", "../c d")])).unwrap(),
            "http://h/a/..%2Fc%20d/b?q=..%2Fc%20d"
        );
        assert_eq!(
            fill_path_params("http://h/a/{x}", &pp(&[("x", "...")])).unwrap(),
            "http://h/a/..."
        );
        assert!(
            fill_path_params("http://h/a/{x}", &pp(&[("x", "")]))
                .unwrap_err()
                .contains("path_params 'x' = '' would make a URL path segment empty")
        );
        // a dot segment the user wrote in the URL is theirs
        assert_eq!(
            fill_path_params("http://h/a/../{x}", &pp(&[("x", "b")])).unwrap(),
            "http://h/a/../b"
        );
    }

    #[test]
    fn an_empty_path_param_is_refused_only_where_it_empties_a_whole_segment() {
        let pp = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let empty = pp(&[("q", "")]);
        assert_eq!(
            fill_path_params("http://h/search?q={q}", &empty).unwrap(),
            "http://h/search?q="
        );
        assert_eq!(
            fill_path_params("http://h/files/{q}.json", &empty).unwrap(),
            "http://h/files/.json"
        );
        assert_eq!(
            fill_path_params("http://h/files/v{q}/x", &empty).unwrap(),
            "http://h/files/v/x"
        );
        for url in ["http://h/a/{q}/b", "http://h/a/{q}", "http://h/{q}{q}/b"] {
            let e = fill_path_params(url, &empty).unwrap_err();
            assert!(
                e.contains("'q' = ''") && e.contains("path segment empty"),
                "{e}"
            );
        }
        // a value that makes `{q}.` a dot segment is still refused, also when empty
        assert!(fill_path_params("http://h/a/{q}./b", &empty).is_err());
    }

    #[test]
    fn options_that_would_be_ignored_are_errors() {
        assert_eq!(
            bind_error(&[("token_env", text("T"))]),
            "rest_scan: token_env applies to auth 'bearer', not 'none' (set auth := 'bearer', or remove token_env)"
        );
        let cases: Vec<(Vec<(&str, OptionValue)>, &str)> = vec![
            (
                vec![
                    ("auth", text("bearer")),
                    ("token", text("t")),
                    ("scope", text("s")),
                ],
                "scope applies to auth 'oauth2', not 'bearer'",
            ),
            (
                vec![("api_key_location", text("query"))],
                "applies to auth 'api_key'",
            ),
            (
                vec![("page_param", text("p")), ("paginator", text("offset"))],
                "page_param applies to paginator 'page_number', not 'offset'",
            ),
            (
                vec![("next_url_path", text("n")), ("paginator", text("cursor"))],
                "next_url_path applies to paginator 'json_link' or 'auto'",
            ),
            (
                vec![
                    ("json_column", OptionValue::Bool(true)),
                    ("unknown_fields", text("ignore")),
                ],
                "unknown_fields applies to an inferred schema",
            ),
            (vec![("incremental_value", text("5"))], "would be ignored"),
            (
                vec![
                    ("format", text("ndjson")),
                    ("data_selector", text("$.data")),
                ],
                "data_selector applies to format 'json', not 'ndjson'",
            ),
            (
                vec![
                    ("method", text("POST")),
                    ("pagination_in", text("body")),
                    ("paginator", text("json_link")),
                ],
                "pagination_in applies to paginator 'offset', 'page_number' or 'cursor'",
            ),
            (
                vec![
                    ("retry_base_delay", OptionValue::Float(2.0)),
                    ("retry_max_delay", OptionValue::Float(1.0)),
                ],
                "retry_base_delay (2 s) is above retry_max_delay (1 s)",
            ),
            (
                vec![
                    ("paginator", text("cursor")),
                    ("cursor_path", text("a")),
                    ("cursor_record_field", text("id")),
                ],
                "not both",
            ),
        ];
        for (pairs, want) in cases {
            let e = bind_error(&pairs);
            assert!(e.contains(want), "{e}");
        }
        // the same options with what they need are fine
        for ok in [
            vec![("auth", text("bearer")), ("token_env", text("T"))],
            vec![
                ("paginator", text("page_number")),
                ("page_param", text("p")),
            ],
            vec![
                ("incremental_value", text("5")),
                ("incremental_param", text("since")),
            ],
            vec![("next_url_path", text("links.next"))],
        ] {
            let env = |_: &str| Some("v".to_string());
            scan_config("http://h/u", &opts(&ok), env).unwrap();
        }
    }

    #[test]
    fn allowed_hosts_are_parsed_and_bad_entries_named() {
        let o = opts(&[
            (
                "allowed_hosts",
                OptionValue::List(vec![text("api2.example.com"), text("127.0.0.1:9001")]),
            ),
            ("auth", text("bearer")),
            ("token", text("tok-12345678")),
        ]);
        let c = scan_config("https://api.example.com/v1", &o, no_env).unwrap();
        assert!(
            c.origins
                .permits(&reqwest::Url::parse("https://api2.example.com/x").unwrap())
        );
        assert!(
            !c.origins
                .permits(&reqwest::Url::parse("https://api3.example.com/x").unwrap())
        );
        let o = opts(&[("allowed_hosts", text("h/x"))]);
        assert!(
            scan_config("http://h/u", &o, no_env)
                .unwrap_err()
                .starts_with("rest_scan: allowed_hosts entry 'h/x' is not a host name")
        );
    }
}
