//! Pagination styles, shaped like dlt's paginators: `init_request` prepares the first request,
//! `update_state` reads a response, `update_request` moves the request to the next page, and
//! `has_next_page` says whether there is one. Styles whose k-th request can be computed
//! without earlier responses (offset, page number) also answer `page_request(k)` so the client
//! can fetch ahead concurrently. Every style stops on explicit rules and guards against loops
//! (the same cursor or next URL twice is an error).

use super::select::lookup;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// One HTTP request, before auth is applied.
#[derive(Clone, PartialEq)]
pub struct RequestSpec {
    pub method: String,
    /// Absolute URL; may carry its own query string (next links do).
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Where pagination parameters go: the query string, or the JSON body.
    pub params_in_body: bool,
}

impl fmt::Debug for RequestSpec {
    /// Names only: header and parameter values may be credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names =
            |pairs: &[(String, String)]| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("url", &super::redact::redact_url(&self.url, &[]))
            .field("query", &names(&self.query))
            .field("headers", &names(&self.headers))
            .field("body", &self.body.is_some())
            .finish()
    }
}

impl RequestSpec {
    pub fn set_param(&mut self, name: &str, value: String) {
        if self.params_in_body {
            let body = self
                .body
                .get_or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(map) = body {
                let v = value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(value));
                map.insert(name.to_string(), v);
            }
            return;
        }
        match self.query.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.query.push((name.to_string(), value)),
        }
    }

    /// Follows a next link: the link carries all its parameters.
    pub fn follow(&mut self, url: String) {
        self.url = url;
        self.query.clear();
    }
}

/// What a paginator sees of a response.
pub struct PageResponse<'a> {
    pub body: &'a Value,
    /// Number of records the page held (after data_selector).
    pub records: usize,
    /// The last record, for cursors taken from records (Stripe's `starting_after`).
    pub last_record: Option<&'a Value>,
    /// The `Link` header, if any.
    pub link_header: Option<&'a str>,
    /// The URL the page was fetched from (to resolve relative next links).
    pub url: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PaginationError {
    Loop {
        what: &'static str,
        value: String,
    },
    BadValue {
        path: String,
        value: String,
        expected: &'static str,
    },
    MissingCursorField {
        field: String,
    },
    /// The page held a different number of records than asked for, while the API says more
    /// pages follow: continuing would skip or repeat rows.
    PageSize {
        returned: usize,
        asked: u64,
        why: String,
    },
    /// A total below what was already read: it counts something else (pages, the page's
    /// records), so it cannot end the scan.
    NotACount {
        /// The field, e.g. `total` (total_path) or `total_pages` (total_pages_path).
        path: String,
        option: &'static str,
        total: u64,
        /// What was read, e.g. `20 records` or `2 pages`.
        read: String,
    },
    /// Too many empty pages in a row, each pointing to yet another page.
    EmptyRun {
        pages: u64,
        what: &'static str,
    },
    /// The paginator would stop here, but the response says more pages follow: stopping would
    /// lose rows silently.
    Unfollowed {
        /// The page, e.g. `page 3` or `the page at offset 30`.
        at: String,
        /// What the page lacks, e.g. `returned no records`.
        problem: String,
        /// Why more pages follow ([`Signal::text`]).
        reason: String,
        /// What to do.
        hint: String,
    },
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaginationError::Loop { what, value } => write!(
                f,
                "pagination loop: the API returned the same {what} twice ({value}); stopping instead of fetching forever"
            ),
            PaginationError::BadValue {
                path,
                value,
                expected,
            } => {
                write!(
                    f,
                    "the response field '{path}' is {value}, expected {expected}"
                )
            }
            PaginationError::PageSize {
                returned,
                asked,
                why,
            } if (*returned as u64) < *asked => write!(
                f,
                "the API returned {returned} records for a page size of {asked} although {why}; it probably \
                 caps the page size, so pages would be skipped: set page_size to at most {returned}"
            ),
            PaginationError::PageSize {
                returned, asked, ..
            } => write!(
                f,
                "the API returned {returned} records for a page size of {asked}; offsets would skip or repeat \
                 rows: check limit_param, or set page_size to what the API returns"
            ),
            PaginationError::Unfollowed {
                at,
                problem,
                reason,
                hint,
            } => write!(
                f,
                "{at} {problem}, but {reason}; stopping here would lose rows silently: {hint}"
            ),
            PaginationError::NotACount {
                path,
                option,
                total,
                read,
            } => write!(
                f,
                "the response field '{path}' ({option}) is {total}, below the {read} already read, so it \
                 is not the count it should be (a page count, or the records of one page?); stopping \
                 at it could lose rows: set {option} to the field that holds it, or {option} := '' \
                 to ignore it"
            ),
            PaginationError::EmptyRun { pages, what } => write!(
                f,
                "{pages} pages in a row returned no records, each with a new {what}; stopping \
                 instead of fetching forever (an API that waits for new records? set max_pages)"
            ),
            PaginationError::MissingCursorField { field } => write!(
                f,
                "the last record of the page has no field '{field}' to continue from (cursor_record_field)"
            ),
        }
    }
}

impl std::error::Error for PaginationError {}

impl PaginationError {
    /// An empty page in the middle of a scan, while `reason` says more follow.
    fn empty_page(at: String, reason: String) -> Self {
        PaginationError::Unfollowed {
            at,
            problem: "returned no records".into(),
            reason,
            hint: EMPTY_PAGE_HINT.into(),
        }
    }
}

/// Stop and continuation rules shared by styles that read them.
#[derive(Debug, Clone)]
pub struct StopRules {
    /// Boolean fields saying whether more pages exist (false stops), tried in order; the first
    /// present one counts. Default: `has_more`, `meta.has_more`, `hasMore`.
    pub has_more_paths: Vec<String>,
    /// Stop when a page has fewer records than the page size.
    pub stop_on_short_page: bool,
    /// Fields with the total record count, read to notice a scan that would end early.
    pub total_paths: Vec<String>,
    /// Also read the flags of common APIs ([`MORE_FLAGS`]) for that (off with has_more_path '').
    pub known_flags: bool,
    /// The has_more_path the user gave: its value must be a flag. The default fields are
    /// read leniently (`"true"`, `0`/`1`; other types ignored).
    pub has_more_given: Option<String>,
    /// Whether the user named the next-page marker (cursor_path, next_url_path): then no other
    /// field is guessed to be the marker.
    pub marker_given: bool,
    /// The page count (max_pages) after which the scan stops anyway.
    pub max_pages: Option<u64>,
    /// The record count (max_records, without an incremental filter) at which the scan stops anyway.
    pub max_records: Option<u64>,
}

impl Default for StopRules {
    fn default() -> Self {
        StopRules {
            has_more_paths: Vec::new(),
            stop_on_short_page: true,
            total_paths: Vec::new(),
            known_flags: false,
            has_more_given: None,
            marker_given: false,
            max_pages: None,
            max_records: None,
        }
    }
}

impl StopRules {
    /// The rules for the options `has_more_path` and `total_path` (None: not given, '': off).
    pub fn new(has_more_path: Option<&str>, total_path: Option<&str>, short: bool) -> Self {
        let has_more_paths = match has_more_path {
            None | Some("has_more") => DEFAULT_HAS_MORE.iter().map(|s| s.to_string()).collect(),
            Some("") => Vec::new(),
            Some(p) => vec![p.to_string()],
        };
        let total_paths = match total_path {
            Some("") => Vec::new(),
            given => {
                let mut paths: Vec<String> = TOTAL_FIELDS.iter().map(|s| s.to_string()).collect();
                if let Some(p) = given
                    && !paths.iter().any(|q| q == p)
                {
                    paths.insert(0, p.to_string());
                }
                paths
            }
        };
        StopRules {
            has_more_paths,
            stop_on_short_page: short,
            total_paths,
            known_flags: has_more_path != Some(""),
            has_more_given: has_more_path.filter(|p| !p.is_empty()).map(str::to_string),
            marker_given: false,
            max_pages: None,
            max_records: None,
        }
    }

    /// Whether max_pages or max_records ends the scan after `pages` pages and `read` records.
    fn limit_reached(&self, pages: u64, read: u64) -> bool {
        self.max_pages.is_some_and(|m| pages >= m) || self.max_records.is_some_and(|m| read >= m)
    }

    /// The `has_more` of a response, as the paginators read it (false: the last page).
    pub fn has_more_of(&self, body: &Value) -> Result<Option<bool>, String> {
        self.has_more(body).map_err(|e| e.to_string())
    }

    fn has_more(&self, body: &Value) -> Result<Option<bool>, PaginationError> {
        for path in &self.has_more_paths {
            match lookup(body, path) {
                None | Some(Value::Null) => continue,
                Some(v) if flag(v).is_some() => return Ok(flag(v)),
                Some(_) if self.has_more_given.as_ref() != Some(path) => continue,
                Some(other) => {
                    return Err(PaginationError::BadValue {
                        path: path.clone(),
                        value: other.to_string(),
                        expected: "true or false (or \"true\"/\"false\", 1/0): set has_more_path to a \
                                   field that holds one, or has_more_path := '' to ignore it",
                    });
                }
            }
        }
        Ok(None)
    }
}

/// A flag's value: a boolean, `"true"`/`"false"` or 1/0 (APIs send all three).
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        Value::Number(n) if n.as_u64() == Some(1) => Some(true),
        Value::Number(n) if n.as_u64() == Some(0) => Some(false),
        _ => None,
    }
}

/// Where `has_more` is looked up when has_more_path is not given.
const DEFAULT_HAS_MORE: &[&str] = &["has_more", "meta.has_more", "hasMore"];

/// Fields of common APIs that hold the total number of records.
pub const TOTAL_FIELDS: &[&str] = &[
    "total",
    "total_count",
    "totalCount",
    "total_results",
    "totalResults",
    "totalSize",
    "totalElements",
    "count",
    "@odata.count",
    "meta.total",
    "meta.total_count",
];

/// Boolean fields of common APIs, with the value that means "more pages follow" (Salesforce
/// `done`, Jira `isLast`, Spring `last`, GraphQL `pageInfo.hasNextPage`).
pub const MORE_FLAGS: &[(&str, bool)] = &[
    ("has_more", true),
    ("meta.has_more", true),
    ("hasMore", true),
    ("has_next", true),
    ("hasNextPage", true),
    ("pageInfo.hasNextPage", true),
    ("done", false),
    ("isLast", false),
    ("last", false),
];

/// Fields that hold the next page's URL, tried in order (json_link and auto).
pub const NEXT_URL_PATHS: &[&str] = &[
    "next",
    "links.next",
    "links.next.href",
    "@odata.nextLink",
    "odata.nextLink",
    "_links.next.href",
    "_links.next",
    "paging.next",
    "next_page_url",
    "next_page",
    "nextLink",
    "nextRecordsUrl",
    "nextPage",
];

/// Fields of common APIs that hold a next-page cursor (a value to send, not a URL).
pub const CURSOR_FIELDS: &[&str] = &[
    "next_cursor",
    "nextCursor",
    "paging.next.after",
    "meta.next_cursor",
    "response_metadata.next_cursor",
    "meta.next_token",
    "pagination.cursor",
    "next_page_token",
    "nextPageToken",
    "next_token",
    "nextToken",
    "NextToken",
    "continuation",
    "continuationToken",
];

/// Cursor shapes whose request parameter is part of the shape, so `auto` can follow them:
/// HubSpot (`paging.next.after` -> `after`), Slack (`response_metadata.next_cursor` -> `cursor`),
/// Twitter/X (`meta.next_token` -> `pagination_token`), Twitch (`pagination.cursor` -> `after`).
pub const AUTO_CURSORS: &[(&str, &str)] = &[
    ("paging.next.after", "after"),
    ("response_metadata.next_cursor", "cursor"),
    ("meta.next_token", "pagination_token"),
    ("pagination.cursor", "after"),
];

/// cursor_path's default.
pub const DEFAULT_CURSOR_PATH: &str = "next_cursor";

/// Request parameters that set the page size, to tell a full page (cursor style).
const LIMIT_PARAMS: &[&str] = &[
    "limit",
    "per_page",
    "page_size",
    "pageSize",
    "size",
    "maxResults",
    "max_results",
    "$top",
    "page[size]",
    "page[limit]",
];

/// How hard to look for signs that more pages follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Look {
    /// `has_more`-like flags and totals.
    Flags,
    /// Also next links and cursors of common APIs.
    Markers,
    /// Also any field (top level or one below) whose name looks like a next-page marker
    /// (`*next*`, `*cursor*`, ...), for a default marker that never appeared.
    Anything,
    /// As Anything, three levels deep (a full page whose default marker never appeared).
    Deep,
}

/// A sign in a response that more pages follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub field: String,
    /// Says why, e.g. `'has_more' = true says more pages follow`.
    pub text: String,
}

/// A field's value for a message: links with their credentials hidden, cut at 80 characters.
fn shown(v: &Value) -> String {
    let s = match v {
        Value::String(u) if u.contains("://") || u.starts_with('/') || u.starts_with('?') => {
            Value::String(super::redact::redact_url(u, &[])).to_string()
        }
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn non_empty_marker(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Number(_) => true,
        _ => false,
    }
}

/// Subtrees that echo the request (its filters), not the next page.
const ECHO_FIELDS: &[&str] = &[
    "query",
    "filter",
    "filters",
    "params",
    "parameters",
    "request",
];

/// A value that reads as a date or timestamp (`2024-01-01...`): a filter bound, not a cursor.
fn looks_like_date(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
}

/// Finds a field, at most `depth` objects below the top and outside arrays (records), whose
/// name looks like a next-page marker and that holds a non-empty string or a number. Sync
/// tokens (Google's `nextSyncToken`), dates (`updated_after`) and echoed filters (`query`,
/// `filter`) are not markers.
fn marker_like<'a>(body: &'a Value, prefix: &str, depth: usize) -> Option<(String, &'a Value)> {
    let map = body.as_object()?;
    for (key, v) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let lower = key.to_ascii_lowercase();
        if lower.contains("sync")
            || (lower.ends_with("after") && lower != "after")
            || (lower.ends_with("before"))
            || ECHO_FIELDS.contains(&lower.as_str())
            || looks_like_date(v)
        {
            continue;
        }
        let named = [
            "next",
            "cursor",
            "continuation",
            "token",
            "after",
            "scroll",
            "marker",
        ]
        .iter()
        .any(|w| lower.contains(w))
            && !["prev", "before", "self", "first"]
                .iter()
                .any(|w| lower.contains(w));
        if named && non_empty_marker(v) {
            return Some((path, v));
        }
        if depth > 0
            && v.is_object()
            && let Some(found) = marker_like(v, &path, depth - 1)
        {
            return Some(found);
        }
    }
    None
}

/// Whether a page says that more pages follow, although the paginator found nothing it can
/// follow: the check that keeps a scan from ending silently. `read` is the number of records
/// from the start of the list up to and including this page. An explicit end (`has_more` false,
/// `done` true, `isLast` true, ...) wins: then nothing says more.
///
/// `read` None: totals are not read (a link style that followed links: the missing link is the
/// API's own end, and search APIs report totals above what they serve).
pub fn more_signal(
    body: &Value,
    read: Option<u64>,
    rules: &StopRules,
    look: Look,
) -> Option<Signal> {
    let flags: Vec<(&str, bool)> = rules
        .has_more_paths
        .iter()
        .map(|p| (p.as_str(), true))
        .chain(MORE_FLAGS.iter().copied().filter(|_| rules.known_flags))
        .collect();
    let mut said = None;
    for (path, more) in &flags {
        if let Some(b) = lookup(body, path).and_then(flag) {
            if b != *more {
                return None;
            }
            said.get_or_insert(Signal {
                field: path.to_string(),
                text: format!("'{path}' = {b} says more pages follow"),
            });
        }
    }
    if said.is_some() {
        return said;
    }
    for path in rules.total_paths.iter().filter(|_| read.is_some()) {
        let read = read.unwrap_or(0);
        if let Some(total) = lookup(body, path).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        }) && total > read
        {
            return Some(Signal {
                field: path.clone(),
                text: format!("'{path}' = {total} says more records exist ({read} read so far)"),
            });
        }
    }
    if look >= Look::Markers {
        for path in NEXT_URL_PATHS.iter().chain(CURSOR_FIELDS) {
            if let Some(v) = lookup(body, path)
                && non_empty_marker(v)
            {
                return Some(Signal {
                    field: path.to_string(),
                    text: format!("'{path}' = {} looks like the next page", shown(v)),
                });
            }
        }
    }
    let depth = match look {
        Look::Anything => 1,
        Look::Deep => 3,
        _ => return None,
    };
    if rules.marker_given {
        return None;
    }
    if let Some((path, v)) = marker_like(body, "", depth) {
        return Some(Signal {
            text: format!("'{path}' = {} looks like the next page", shown(v)),
            field: path,
        });
    }
    // A full page: a top-level value shaped like an opaque token may be a cursor named otherwise.
    if look == Look::Deep
        && let Some((key, v)) = body.as_object()?.iter().find(|(k, v)| {
            !k.to_ascii_lowercase().contains("sync") && v.as_str().is_some_and(token_shaped)
        })
    {
        return Some(Signal {
            field: key.clone(),
            text: format!("'{key}' = {} looks like a cursor", shown(v)),
        });
    }
    None
}

/// An opaque token (`b2Zmc2V0OjEw`, `eyJpZCI6MTB9`): at least 8 characters of letters, digits
/// and `-_=+/:.`, with a letter and a digit, not a date or a path.
fn token_shaped(s: &str) -> bool {
    s.len() >= 8
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=+/:.".contains(&b))
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.bytes().any(|b| b.is_ascii_digit())
        && !s.starts_with('/')
        && !looks_like_date(&Value::String(s.to_string()))
}

pub trait Paginator: Send {
    fn init_request(&mut self, request: &mut RequestSpec);
    fn update_state(&mut self, response: &PageResponse<'_>) -> Result<(), PaginationError>;
    fn update_request(&mut self, request: &mut RequestSpec);
    fn has_next_page(&self) -> bool;
    /// The request for page `k` (0-based) computed from the base request, for styles that can
    /// fetch ahead; None for sequential styles.
    fn page_request(&self, _base: &RequestSpec, _k: u64) -> Option<RequestSpec> {
        None
    }
    /// How many pages exist in all, once a response told (total / total_pages).
    fn known_page_count(&self) -> Option<u64> {
        None
    }
}

/// Reads an optional non-negative integer field (null or missing = unknown).
fn optional_count(body: &Value, path: &Option<String>) -> Result<Option<u64>, PaginationError> {
    let Some(path) = path else { return Ok(None) };
    match lookup(body, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
            Ok(s.trim().parse::<u64>().ok())
        }
        Some(other) => Err(PaginationError::BadValue {
            path: path.clone(),
            value: other.to_string(),
            expected: "a whole number",
        }),
    }
}

/// One request, no pagination.
#[derive(Debug, Default)]
pub struct SinglePage {
    done: bool,
}

impl Paginator for SinglePage {
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, _response: &PageResponse<'_>) -> Result<(), PaginationError> {
        self.done = true;
        Ok(())
    }
    fn update_request(&mut self, _request: &mut RequestSpec) {}
    fn has_next_page(&self) -> bool {
        !self.done
    }
}

/// What to do about an empty page in the middle of a scan (offset, page number, cursor).
const EMPTY_PAGE_HINT: &str = "the API may have changed during the scan (run it again), or its \
     total / has_more does not match the records it serves (set total_path := '' or \
     has_more_path := '' to ignore that field)";

/// Why a short page (offset, page_number) is not the last: a flag or total says more, or it
/// carries a next link or cursor (an API that caps the page size below page_size).
fn short_page_reason(r: &PageResponse<'_>, read: u64, rules: &StopRules) -> Option<String> {
    if let Some(s) = more_signal(r.body, Some(read), rules, Look::Markers) {
        let field = s.field.as_str();
        let follow = if NEXT_URL_PATHS.contains(&field) {
            " (paginator := 'json_link' would follow it)".to_string()
        } else if CURSOR_FIELDS.contains(&field) {
            format!(" (paginator := 'cursor', cursor_path := '{field}' would follow it)")
        } else {
            String::new()
        };
        return Some(format!("{}{follow}", s.text));
    }
    let link = r.link_header.and_then(parse_link_next)?;
    Some(format!(
        "its Link header has a rel=\"next\" link ({}) (paginator := 'header_link' would follow it)",
        super::redact::redact_url(&resolve_link(r.url, &link), &[])
    ))
}

/// `?offset=0&limit=100`, then offset 100, 200, ...
#[derive(Debug)]
pub struct Offset {
    pub offset_param: String,
    pub limit_param: String,
    pub limit: u64,
    pub initial_offset: u64,
    pub total_path: Option<String>,
    pub rules: StopRules,
    offset: u64,
    total: Option<u64>,
    more: bool,
}

impl Offset {
    pub fn new(
        offset_param: String,
        limit_param: String,
        limit: u64,
        initial_offset: u64,
        total_path: Option<String>,
        rules: StopRules,
    ) -> Self {
        Offset {
            offset_param,
            limit_param,
            limit,
            initial_offset,
            total_path,
            rules,
            offset: initial_offset,
            total: None,
            more: true,
        }
    }
}

impl Paginator for Offset {
    fn init_request(&mut self, request: &mut RequestSpec) {
        self.offset = self.initial_offset;
        request.set_param(&self.offset_param, self.offset.to_string());
        request.set_param(&self.limit_param, self.limit.to_string());
    }
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        let total = optional_count(r.body, &self.total_path)?;
        if total.is_some() {
            self.total = total;
        }
        let has_more = self.rules.has_more(r.body)?;
        let records = r.records as u64;
        let next = self.offset + self.limit;
        if let (Some(t), Some(path)) = (total, &self.total_path)
            && self.offset + records > t
        {
            return Err(PaginationError::NotACount {
                path: path.clone(),
                option: "total_path",
                total: t,
                read: format!("{} records", self.offset + records),
            });
        }
        if records > self.limit {
            return Err(PaginationError::PageSize {
                returned: r.records,
                asked: self.limit,
                why: String::new(),
            });
        }
        let end = has_more == Some(false);
        let position = self.offset + records;
        if records > 0 && records < self.limit && !end {
            let why = if self.total.is_some_and(|t| position < t) {
                Some("its total says more records follow".to_string())
            } else {
                short_page_reason(r, position, &self.rules)
            };
            if let Some(why) = why {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked: self.limit,
                    why,
                });
            }
        }
        if records == 0 && !end {
            let reason = match (self.total, &self.total_path) {
                (Some(t), Some(path)) if self.offset < t => Some(format!(
                    "'{path}' = {t} says more records exist ({} read so far)",
                    self.offset
                )),
                _ => more_signal(r.body, Some(position), &self.rules, Look::Flags).map(|s| s.text),
            };
            if let Some(reason) = reason {
                return Err(PaginationError::empty_page(
                    format!("the page at offset {}", self.offset),
                    reason,
                ));
            }
        }
        self.more = if records == 0 || end {
            false
        } else if let Some(total) = self.total {
            // A first full page that holds exactly `total` records: the total may count the
            // page's records only, so one more page tells (empty: the end; else an error).
            next < total
                || (self.offset == self.initial_offset
                    && records == self.limit
                    && position == total)
        } else {
            !(self.rules.stop_on_short_page && records < self.limit)
        };
        Ok(())
    }
    fn update_request(&mut self, request: &mut RequestSpec) {
        self.offset += self.limit;
        request.set_param(&self.offset_param, self.offset.to_string());
    }
    fn has_next_page(&self) -> bool {
        self.more
    }
    fn page_request(&self, base: &RequestSpec, k: u64) -> Option<RequestSpec> {
        let mut r = base.clone();
        r.set_param(
            &self.offset_param,
            (self.initial_offset + k * self.limit).to_string(),
        );
        r.set_param(&self.limit_param, self.limit.to_string());
        Some(r)
    }
    fn known_page_count(&self) -> Option<u64> {
        let total = self.total?;
        Some(
            total
                .saturating_sub(self.initial_offset)
                .div_ceil(self.limit.max(1)),
        )
    }
}

/// `?page=1&per_page=100`, then page 2, 3, ...
#[derive(Debug)]
pub struct PageNumber {
    pub page_param: String,
    pub page_size_param: Option<String>,
    pub page_size: Option<u64>,
    pub base_page: u64,
    pub total_pages_path: Option<String>,
    pub total_path: Option<String>,
    pub rules: StopRules,
    page: u64,
    total_pages: Option<u64>,
    /// The field the page count came from (for messages).
    pages_field: String,
    /// Records read so far.
    read: u64,
    more: bool,
}

impl PageNumber {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        page_param: String,
        page_size_param: Option<String>,
        page_size: Option<u64>,
        base_page: u64,
        total_pages_path: Option<String>,
        total_path: Option<String>,
        rules: StopRules,
    ) -> Self {
        PageNumber {
            page_param,
            page_size_param,
            page_size,
            base_page,
            total_pages_path,
            total_path,
            rules,
            page: base_page,
            total_pages: None,
            pages_field: String::new(),
            read: 0,
            more: true,
        }
    }

    /// Whether the total (total_path, not total_pages_path) equals the records read so far.
    fn total_is_page(&self, body: &Value) -> bool {
        optional_count(body, &self.total_path).ok().flatten() == Some(self.read)
            && optional_count(body, &self.total_pages_path)
                .ok()
                .flatten()
                .is_none()
    }

    fn set(&self, request: &mut RequestSpec, page: u64) {
        request.set_param(&self.page_param, page.to_string());
        if let (Some(param), Some(size)) = (&self.page_size_param, self.page_size) {
            request.set_param(param, size.to_string());
        }
    }
}

impl Paginator for PageNumber {
    fn init_request(&mut self, request: &mut RequestSpec) {
        self.page = self.base_page;
        self.set(request, self.page);
    }
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        let pages_done = self.page - self.base_page + 1;
        let read = self.read + r.records as u64;
        if let Some(pages) = optional_count(r.body, &self.total_pages_path)? {
            if r.records > 0 && pages_done > pages {
                return Err(PaginationError::NotACount {
                    path: self.total_pages_path.clone().unwrap_or_default(),
                    option: "total_pages_path",
                    total: pages,
                    read: format!("{pages_done} pages"),
                });
            }
            self.total_pages = Some(pages);
            self.pages_field = format!(
                "'{}' = {pages} says more pages follow",
                self.total_pages_path.as_deref().unwrap_or("")
            );
        } else if let (Some(total), Some(size)) =
            (optional_count(r.body, &self.total_path)?, self.page_size)
        {
            if read > total {
                return Err(PaginationError::NotACount {
                    path: self.total_path.clone().unwrap_or_default(),
                    option: "total_path",
                    total,
                    read: format!("{read} records"),
                });
            }
            let pages = total.div_ceil(size.max(1));
            self.total_pages = Some(pages);
            self.pages_field = format!(
                "'{}' = {total} says {pages} pages exist",
                self.total_path.as_deref().unwrap_or("")
            );
        }
        let has_more = self.rules.has_more(r.body)?;
        let end = has_more == Some(false);
        self.read = read;
        let more_pages = self.total_pages.is_some_and(|pages| pages_done < pages);
        let short =
            matches!(self.page_size, Some(size) if r.records > 0 && (r.records as u64) < size);
        if short && !end {
            let why = if more_pages {
                Some("its page count says more pages follow".to_string())
            } else {
                short_page_reason(r, self.read, &self.rules)
            };
            if let Some(why) = why {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked: self.page_size.unwrap_or(0),
                    why,
                });
            }
        }
        if r.records == 0 && !end {
            let reason = if more_pages {
                Some(self.pages_field.clone())
            } else {
                more_signal(r.body, Some(self.read), &self.rules, Look::Flags).map(|s| s.text)
            };
            if let Some(reason) = reason {
                return Err(PaginationError::empty_page(
                    format!("page {}", self.page),
                    reason,
                ));
            }
        }
        let full = matches!(self.page_size, Some(size) if r.records as u64 == size);
        self.more = if r.records == 0 || end {
            false
        } else if let Some(pages) = self.total_pages {
            // As for offset: a first full page whose total is exactly its records is checked
            // with one more page (a total of the page's records, or of pages, is an error).
            pages_done < pages || (pages_done == 1 && full && self.total_is_page(r.body))
        } else {
            !(short && self.rules.stop_on_short_page)
        };
        Ok(())
    }
    fn update_request(&mut self, request: &mut RequestSpec) {
        self.page += 1;
        self.set(request, self.page);
    }
    fn has_next_page(&self) -> bool {
        self.more
    }
    fn page_request(&self, base: &RequestSpec, k: u64) -> Option<RequestSpec> {
        let mut r = base.clone();
        self.set(&mut r, self.base_page + k);
        Some(r)
    }
    fn known_page_count(&self) -> Option<u64> {
        self.total_pages
    }
}

/// Where the next cursor comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CursorSource {
    /// A field of the response body (`next_cursor`, `meta.next`).
    Body(String),
    /// A field of the page's last record (Stripe: `starting_after` = last id).
    LastRecord(String),
}

/// `?cursor=<value from the previous response>`.
#[derive(Debug)]
pub struct Cursor {
    pub source: CursorSource,
    pub cursor_param: String,
    pub rules: StopRules,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: u64,
    read: u64,
    /// Consecutive empty pages up to this one.
    empty_run: u64,
    /// Whether the cursor field (Body) appeared in any response, even as null.
    marker_seen: bool,
    /// The page size the request asks for (a `limit`-like parameter), to tell a full page.
    asked: Option<(String, u64)>,
}

impl Cursor {
    pub fn new(source: CursorSource, cursor_param: String, rules: StopRules) -> Self {
        Cursor {
            source,
            cursor_param,
            rules,
            cursor: None,
            seen: HashSet::new(),
            pages: 0,
            read: 0,
            empty_run: 0,
            marker_seen: false,
            asked: None,
        }
    }

    /// Why there is no cursor to follow on this page.
    fn missing(&self, value: Option<&Value>) -> String {
        match (&self.source, value) {
            (CursorSource::Body(path), None) => {
                format!("has no field '{path}' (cursor_path) to take the next cursor from")
            }
            (CursorSource::Body(path), Some(v)) => {
                format!("has no next cursor ('{path}' = {})", shown(v))
            }
            (CursorSource::LastRecord(field), _) => format!(
                "is empty, so there is no last record to take the cursor from (cursor_record_field '{field}')"
            ),
        }
    }
}

/// The page size a request asks for, from a `limit`-like parameter in its query or body.
fn asked_page_size(request: &RequestSpec) -> Option<(String, u64)> {
    LIMIT_PARAMS.iter().find_map(|name| {
        let value = request
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .or_else(|| {
                let v = request.body.as_ref()?.get(*name)?;
                Some(v.as_str().map_or_else(|| v.to_string(), str::to_string))
            })?;
        Some((name.to_string(), value.parse().ok()?))
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

impl Paginator for Cursor {
    fn init_request(&mut self, request: &mut RequestSpec) {
        self.asked = asked_page_size(request);
    }
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        self.pages += 1;
        self.read += r.records as u64;
        self.cursor = None;
        let (next, value) = match &self.source {
            CursorSource::Body(path) => {
                let v = lookup(r.body, path);
                self.marker_seen |= v.is_some();
                (v.and_then(scalar_text), v)
            }
            CursorSource::LastRecord(field) => match r.last_record {
                None => (None, None),
                Some(record) => (
                    Some(lookup(record, field).and_then(scalar_text).ok_or_else(|| {
                        PaginationError::MissingCursorField {
                            field: field.clone(),
                        }
                    })?),
                    None,
                ),
            },
        };
        let has_more = self.rules.has_more(r.body)?;
        if has_more == Some(false) {
            return Ok(());
        }
        let at = format!("page {}", self.pages);
        self.empty_run = if r.records == 0 {
            self.empty_run + 1
        } else {
            0
        };
        // Once a cursor was followed, its absence is the API's own end, as for links: a total
        // above the records read (a search API that serves fewer) is not read.
        let read = Some(self.read).filter(|_| self.seen.is_empty());
        if r.records == 0 && next.is_none() && has_more != Some(true) {
            // An empty page without a cursor ends the scan, unless the response says more follow.
            return match more_signal(r.body, read, &self.rules, Look::Flags) {
                Some(signal) => Err(PaginationError::empty_page(at, signal.text)),
                None => Ok(()),
            };
        }
        let Some(next) = next else {
            // max_pages / max_records end the scan here anyway: nothing is lost.
            if self.rules.limit_reached(self.pages, self.read) {
                return Ok(());
            }
            // The default cursor field never appeared (cursor_path not given): other fields
            // that look like a marker are read, deeper on a full page.
            let never_seen = matches!(self.source, CursorSource::Body(_)) && !self.marker_seen;
            let full = self
                .asked
                .as_ref()
                .filter(|(_, size)| r.records as u64 >= *size);
            let look = match (never_seen, full) {
                (false, _) => Look::Markers,
                (true, None) => Look::Anything,
                (true, Some(_)) => Look::Deep,
            };
            let hint = match &self.source {
                CursorSource::Body(_) => {
                    "set cursor_path to the field that holds the next cursor (and cursor_param to \
                     the parameter that sends it); if that field is not one, give cursor_path \
                     explicitly (even 'next_cursor') to stop guessing, or has_more_path := '' / \
                     total_path := '' if a flag or total cannot be trusted"
                }
                CursorSource::LastRecord(_) => EMPTY_PAGE_HINT,
            };
            if let Some(signal) = more_signal(r.body, read, &self.rules, look) {
                let reason = match full.filter(|_| never_seen) {
                    Some((param, size)) => format!(
                        "{} (and the page is full: {} records for {param} = {size})",
                        signal.text, r.records
                    ),
                    None => signal.text,
                };
                return Err(PaginationError::Unfollowed {
                    at,
                    problem: self.missing(value),
                    reason,
                    hint: hint.into(),
                });
            }
            return Ok(());
        };
        // An empty page with a cursor is followed (Slack returns runs of empty pages mid-list,
        // with no flag), up to MAX_EMPTY_PAGES in a row; then an error, never a quiet end that
        // could drop the rest of the list.
        empty_run_guard(self.empty_run, "cursor")?;
        if !self.seen.insert(next.clone()) {
            return Err(PaginationError::Loop {
                what: "cursor",
                value: next,
            });
        }
        self.cursor = Some(next);
        Ok(())
    }
    fn update_request(&mut self, request: &mut RequestSpec) {
        if let Some(c) = &self.cursor {
            request.set_param(&self.cursor_param, c.clone());
        }
    }
    fn has_next_page(&self) -> bool {
        self.cursor.is_some()
    }
}

/// How many empty pages in a row a cursor or link style follows, while a flag or total says
/// more follow, before it gives up with an error.
pub const MAX_EMPTY_PAGES: u64 = 100;

fn empty_run_guard(run: u64, what: &'static str) -> Result<(), PaginationError> {
    if run >= MAX_EMPTY_PAGES {
        return Err(PaginationError::EmptyRun { pages: run, what });
    }
    Ok(())
}

/// Resolves a possibly relative link against the URL it came from.
pub fn resolve_link(base: &str, link: &str) -> String {
    if link.contains("://") {
        return link.to_string();
    }
    let Some(scheme_end) = base.find("://") else {
        return link.to_string();
    };
    let after = scheme_end + 3;
    let host_end = base[after..]
        .find('/')
        .map(|i| after + i)
        .unwrap_or(base.len());
    if link.starts_with('/') {
        return format!("{}{}", &base[..host_end], link);
    }
    if link.starts_with('?') {
        let path_end = base.find('?').unwrap_or(base.len());
        return format!("{}{}", &base[..path_end], link);
    }
    let path = base[..base.find('?').unwrap_or(base.len())].to_string();
    let dir_end = path
        .rfind('/')
        .filter(|i| *i >= host_end)
        .map(|i| i + 1)
        .unwrap_or(path.len());
    format!(
        "{}{}{}",
        &path[..dir_end],
        if dir_end == path.len() && !path.ends_with('/') {
            "/"
        } else {
            ""
        },
        link
    )
}

/// Next-page URL in the body (`next`, `links.next`, `@odata.nextLink`).
#[derive(Debug)]
pub struct JsonLink {
    /// Candidate fields, tried in order; the first present one holds the link.
    pub next_url_paths: Vec<String>,
    pub rules: StopRules,
    next: Option<String>,
    seen: HashSet<String>,
    pages: u64,
    read: u64,
    empty_run: u64,
    /// Whether any candidate field appeared in a response, even as null.
    marker_seen: bool,
}

impl JsonLink {
    pub fn new(next_url_paths: Vec<String>, rules: StopRules) -> Self {
        JsonLink {
            next_url_paths,
            rules,
            next: None,
            seen: HashSet::new(),
            pages: 0,
            read: 0,
            empty_run: 0,
            marker_seen: false,
        }
    }
}

/// The hint for a link style that found no next link although the response says more follow.
const LINK_HINT: &str = "set paginator and its options to how this API pages (see docs/rest_scan.md, \
     Pagination), or total_path := '' / has_more_path := '' if that field cannot be trusted";

fn check_loop(
    seen: &mut HashSet<String>,
    url: &Option<String>,
    first_url: &str,
) -> Result<(), PaginationError> {
    if seen.is_empty() {
        seen.insert(first_url.to_string());
    }
    if let Some(u) = url
        && !seen.insert(u.clone())
    {
        return Err(PaginationError::Loop {
            what: "next page URL",
            value: super::redact::redact_url(u, &[]),
        });
    }
    Ok(())
}

/// Resolves the link `link` found at `path`. A rooted link beside a `context` path
/// (Confluence: `_links.context` = `/wiki`, `_links.next` = `/rest/api/...`) is under it.
fn resolve_at(r: &PageResponse<'_>, path: &str, link: &str) -> String {
    let context = path
        .rsplit_once('.')
        .and_then(|(parent, _)| lookup(r.body, &format!("{parent}.context")))
        .and_then(Value::as_str)
        .map(|c| c.trim_end_matches('/'))
        .filter(|c| c.starts_with('/') && link.starts_with('/') && !link.starts_with(c));
    match context {
        Some(c) => resolve_link(r.url, &format!("{c}{link}")),
        None => resolve_link(r.url, link),
    }
}

impl Paginator for JsonLink {
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        self.pages += 1;
        self.read += r.records as u64;
        // A link object (JSON:API, HAL: `{"href": ...}`) stands for its href.
        let present: Vec<(&String, &Value)> = self
            .next_url_paths
            .iter()
            .filter_map(|p| lookup(r.body, p).map(|v| (p, v.get("href").unwrap_or(v))))
            .collect();
        self.marker_seen |= !present.is_empty();
        // The first candidate holding a URL or null.
        let found = present
            .iter()
            .find(|(_, v)| v.is_string() || v.is_null())
            .or(present.first());
        let link = match found {
            None | Some((_, Value::Null)) => None,
            Some((_, Value::String(s))) if s.is_empty() => None,
            Some((path, Value::String(s))) => Some(resolve_at(r, path, s)),
            Some((path, other)) => {
                return Err(PaginationError::BadValue {
                    path: path.to_string(),
                    value: other.to_string(),
                    expected: "a URL string or null",
                });
            }
        };
        if self.rules.has_more(r.body)? == Some(false) {
            self.next = None;
            return Ok(());
        }
        if link.is_none() && !self.rules.limit_reached(self.pages, self.read) {
            // Once a next link was followed, its absence is the API's own end: a total above
            // the records read (search APIs, a list started mid-way) is not read. On the first
            // page (a `next: null` beside a total) the total still counts.
            let look = if self.marker_seen {
                Look::Markers
            } else {
                Look::Anything
            };
            let read = if self.next.is_some() {
                None
            } else {
                Some(self.read)
            };
            if let Some(signal) = more_signal(r.body, read, &self.rules, look) {
                let problem = match found {
                    Some((path, v)) => format!("has no next link ('{path}' = {})", shown(v)),
                    None => format!(
                        "has no next link (no field {})",
                        self.next_url_paths
                            .iter()
                            .map(|p| format!("'{p}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(PaginationError::Unfollowed {
                    at: format!("page {}", self.pages),
                    problem,
                    reason: signal.text,
                    hint: format!("set next_url_path to the field that holds it; {LINK_HINT}"),
                });
            }
        }
        self.empty_run = if r.records == 0 {
            self.empty_run + 1
        } else {
            0
        };
        if link.is_some() {
            empty_run_guard(self.empty_run, "next page URL")?;
        }
        self.next = link;
        check_loop(&mut self.seen, &self.next, r.url)
    }
    fn update_request(&mut self, request: &mut RequestSpec) {
        if let Some(url) = &self.next {
            request.follow(url.clone());
        }
    }
    fn has_next_page(&self) -> bool {
        self.next.is_some()
    }
}

/// The `rel="next"` target of an RFC 8288 Link header. URLs may contain commas and
/// parameters may be quoted strings with commas; a malformed part is skipped, not fatal.
pub fn parse_link_next(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let tail = &after[close + 1..];
        // The parameters run to the next link: a '<' after a comma outside quotes.
        let mut in_quotes = false;
        let mut after_comma = false;
        let mut next_link = tail.len();
        for (i, c) in tail.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => after_comma = true,
                '<' if after_comma && !in_quotes => {
                    next_link = i;
                    break;
                }
                c if c.is_whitespace() => {}
                _ => after_comma = false,
            }
        }
        let params = &tail[..next_link];
        let is_next = params.split(';').any(|param| match param.split_once('=') {
            Some((k, v)) => {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            }
            None => false,
        });
        if is_next {
            return Some(url.to_string());
        }
        rest = &tail[next_link..];
    }
    None
}

/// The `Link: <url>; rel="next"` header (GitHub style).
#[derive(Debug, Default)]
pub struct HeaderLink {
    pub rules: StopRules,
    next: Option<String>,
    seen: HashSet<String>,
    pages: u64,
    read: u64,
    empty_run: u64,
    /// Whether a response had a `rel="next"` link.
    link_seen: bool,
}

impl HeaderLink {
    pub fn new(rules: StopRules) -> Self {
        HeaderLink {
            rules,
            ..Default::default()
        }
    }
}

impl Paginator for HeaderLink {
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        self.pages += 1;
        self.read += r.records as u64;
        self.next = r
            .link_header
            .and_then(parse_link_next)
            .map(|u| resolve_link(r.url, &u));
        // Once a next link appeared, its absence is the API's own end: a total above the
        // records read (GitHub search: total_count 5000, 1000 served) is not read.
        let read = Some(self.read).filter(|_| !self.link_seen);
        self.link_seen |= self.next.is_some();
        if self.next.is_none()
            && !self.rules.limit_reached(self.pages, self.read)
            && let Some(signal) = more_signal(r.body, read, &self.rules, Look::Markers)
        {
            return Err(PaginationError::Unfollowed {
                at: format!("page {}", self.pages),
                problem: "has no Link header with rel=\"next\"".into(),
                reason: signal.text,
                hint: LINK_HINT.into(),
            });
        }
        self.empty_run = if r.records == 0 {
            self.empty_run + 1
        } else {
            0
        };
        if self.next.is_some() {
            empty_run_guard(self.empty_run, "next page URL")?;
        }
        check_loop(&mut self.seen, &self.next, r.url)
    }
    fn update_request(&mut self, request: &mut RequestSpec) {
        if let Some(url) = &self.next {
            request.follow(url.clone());
        }
    }
    fn has_next_page(&self) -> bool {
        self.next.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> RequestSpec {
        RequestSpec {
            method: "GET".into(),
            url: "http://h/users".into(),
            query: vec![],
            headers: vec![],
            body: None,
            params_in_body: false,
        }
    }

    fn resp<'a>(body: &'a Value, records: usize) -> PageResponse<'a> {
        PageResponse {
            body,
            records,
            last_record: None,
            link_header: None,
            url: "http://h/users",
        }
    }

    fn rules(short: bool) -> StopRules {
        StopRules::new(None, None, short)
    }

    fn offset(total: Option<&str>, short: bool) -> Offset {
        Offset::new(
            "offset".into(),
            "limit".into(),
            10,
            0,
            total.map(String::from),
            rules(short),
        )
    }

    #[test]
    fn offset_stops_when_total_is_reached() {
        let mut p = offset(Some("total"), true);
        let mut req = base();
        p.init_request(&mut req);
        assert_eq!(
            req.query,
            vec![("offset".into(), "0".into()), ("limit".into(), "10".into())]
        );
        let body = json!({"total": 25});
        p.update_state(&resp(&body, 10)).unwrap();
        assert!(p.has_next_page());
        assert_eq!(p.known_page_count(), Some(3));
        p.update_request(&mut req);
        assert_eq!(req.query[0].1, "10");
        p.update_state(&resp(&body, 10)).unwrap();
        p.update_request(&mut req);
        p.update_state(&resp(&body, 5)).unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn offset_stops_on_empty_page_short_page_and_has_more_false() {
        let null_total = json!({"total": null});
        let mut p = offset(Some("total"), false);
        p.update_state(&resp(&null_total, 10)).unwrap();
        assert!(p.has_next_page(), "null total is unknown, not zero");
        p.update_state(&resp(&null_total, 3)).unwrap();
        assert!(p.has_next_page(), "short page rule off");
        p.update_state(&resp(&null_total, 0)).unwrap();
        assert!(!p.has_next_page(), "empty page stops");

        let mut p = offset(None, true);
        p.update_state(&resp(&json!({}), 3)).unwrap();
        assert!(!p.has_next_page(), "short page stops");

        let mut p = offset(None, false);
        p.update_state(&resp(&json!({"has_more": false}), 10))
            .unwrap();
        assert!(!p.has_next_page(), "has_more false stops");
    }

    #[test]
    fn a_capped_page_size_is_an_error_not_lost_rows() {
        // asked 10, got 4, but total says 25: the API caps page sizes
        let mut p = offset(Some("total"), true);
        let err = p.update_state(&resp(&json!({"total": 25}), 4)).unwrap_err();
        assert!(
            err.to_string().contains("set page_size to at most 4"),
            "{err}"
        );
        // has_more = true on a short page
        let mut p = offset(None, true);
        assert!(
            p.update_state(&resp(&json!({"has_more": true}), 4))
                .is_err()
        );
        // more records than asked: offsets would repeat rows
        let mut p = offset(None, true);
        assert!(
            p.update_state(&resp(&json!({}), 11))
                .unwrap_err()
                .to_string()
                .contains("skip or repeat")
        );
        // a short last page that reaches the total is fine
        let mut p = offset(Some("total"), true);
        p.update_state(&resp(&json!({"total": 4}), 4)).unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn offset_pages_can_be_computed_ahead() {
        let p = offset(None, true);
        let r = p.page_request(&base(), 3).unwrap();
        assert_eq!(
            r.query,
            vec![
                ("offset".into(), "30".into()),
                ("limit".into(), "10".into())
            ]
        );
    }

    #[test]
    fn ill_typed_total_is_an_error_naming_the_field() {
        let mut p = offset(Some("meta.total"), true);
        let err = p
            .update_state(&resp(&json!({"meta": {"total": "lots"}}), 10))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the response field 'meta.total' is \"lots\", expected a whole number"
        );
    }

    /// Pages of 10 with total_pages and total.
    fn page_number(short: bool) -> PageNumber {
        PageNumber::new(
            "page".into(),
            Some("per_page".into()),
            Some(10),
            1,
            Some("total_pages".into()),
            Some("total".into()),
            rules(short),
        )
    }

    #[test]
    fn page_number_uses_total_pages_then_total() {
        let mut p = page_number(true);
        let mut req = base();
        p.init_request(&mut req);
        assert_eq!(
            req.query,
            vec![
                ("page".into(), "1".into()),
                ("per_page".into(), "10".into())
            ]
        );
        p.update_state(&resp(&json!({"total_pages": 2}), 10))
            .unwrap();
        assert!(p.has_next_page());
        p.update_request(&mut req);
        assert_eq!(req.query[0].1, "2");
        p.update_state(&resp(&json!({"total_pages": 2}), 10))
            .unwrap();
        assert!(!p.has_next_page());
        assert_eq!(p.page_request(&base(), 4).unwrap().query[0].1, "5");
    }

    #[test]
    fn cursor_from_body_stops_on_null_and_detects_loops() {
        let mut p = Cursor::new(
            CursorSource::Body("next_cursor".into()),
            "cursor".into(),
            rules(false),
        );
        let mut req = base();
        p.update_state(&resp(&json!({"next_cursor": "abc"}), 5))
            .unwrap();
        assert!(p.has_next_page());
        p.update_request(&mut req);
        assert_eq!(req.query, vec![("cursor".into(), "abc".into())]);
        let err = p
            .update_state(&resp(&json!({"next_cursor": "abc"}), 5))
            .unwrap_err();
        assert!(matches!(err, PaginationError::Loop { what: "cursor", .. }));
        let mut p = Cursor::new(
            CursorSource::Body("next_cursor".into()),
            "cursor".into(),
            rules(false),
        );
        p.update_state(&resp(&json!({"next_cursor": null}), 5))
            .unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn cursor_from_last_record_follows_stripe_style() {
        let mut p = Cursor::new(
            CursorSource::LastRecord("id".into()),
            "starting_after".into(),
            rules(false),
        );
        let last = json!({"id": 42});
        let body = json!({"has_more": true});
        let r = PageResponse {
            last_record: Some(&last),
            ..resp(&body, 2)
        };
        p.update_state(&r).unwrap();
        let mut req = base();
        p.update_request(&mut req);
        assert_eq!(req.query, vec![("starting_after".into(), "42".into())]);
        let body = json!({"has_more": false});
        let r = PageResponse {
            last_record: Some(&last),
            ..resp(&body, 2)
        };
        p.update_state(&r).unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn json_link_resolves_relative_links_and_detects_repeats() {
        let mut p = JsonLink::new(vec!["links.next".into()], StopRules::default());
        p.update_state(&resp(&json!({"links": {"next": "/users?page=2"}}), 1))
            .unwrap();
        let mut req = base();
        req.query.push(("page".into(), "1".into()));
        p.update_request(&mut req);
        assert_eq!(req.url, "http://h/users?page=2");
        assert!(req.query.is_empty());
        let err = p
            .update_state(&resp(&json!({"links": {"next": "/users?page=2"}}), 1))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("pagination loop: the API returned the same next page URL twice")
        );
        let mut p = JsonLink::new(vec!["next".into()], StopRules::default());
        p.update_state(&resp(&json!({"next": null}), 1)).unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn link_header_rel_next_is_parsed() {
        let h = r#"<http://h/u?page=3>; rel="next", <http://h/u?page=9>; rel="last""#;
        assert_eq!(parse_link_next(h).as_deref(), Some("http://h/u?page=3"));
        assert_eq!(parse_link_next(r#"<http://h/u?page=9>; rel="last""#), None);
        // commas inside URLs and quoted parameters do not hide the next link
        let h = r#"<http://h/u?fields=id,name&page=1>; rel="prev"; title="a, b", <http://h/u?fields=id,name&page=3>; rel="next""#;
        assert_eq!(
            parse_link_next(h).as_deref(),
            Some("http://h/u?fields=id,name&page=3")
        );
        assert_eq!(
            parse_link_next(r#"garbage, <http://h/n>; rel=next"#).as_deref(),
            Some("http://h/n")
        );
        assert_eq!(
            parse_link_next(r#"<http://h/u?p=2>; rel="prev next""#).as_deref(),
            Some("http://h/u?p=2")
        );
    }

    #[test]
    fn resolve_link_handles_absolute_rooted_query_and_relative() {
        assert_eq!(
            resolve_link("http://h:1/a/b?x=1", "https://o/z"),
            "https://o/z"
        );
        assert_eq!(
            resolve_link("http://h:1/a/b?x=1", "/c?y=2"),
            "http://h:1/c?y=2"
        );
        assert_eq!(
            resolve_link("http://h:1/a/b?x=1", "?x=2"),
            "http://h:1/a/b?x=2"
        );
        assert_eq!(
            resolve_link("http://h:1/a/b?x=1", "c?x=2"),
            "http://h:1/a/c?x=2"
        );
    }

    fn cursor(path: &str) -> Cursor {
        Cursor::new(
            CursorSource::Body(path.into()),
            "cursor".into(),
            rules(false),
        )
    }

    /// Runs a paginator over pages (body, records) and returns how many pages it read, or the
    /// first error.
    fn run(p: &mut dyn Paginator, pages: &[(Value, usize)]) -> Result<usize, String> {
        let mut req = base();
        p.init_request(&mut req);
        for (i, (body, n)) in pages.iter().enumerate() {
            p.update_state(&resp(body, *n)).map_err(|e| e.to_string())?;
            if !p.has_next_page() {
                return Ok(i + 1);
            }
            p.update_request(&mut req);
        }
        Ok(pages.len())
    }

    /// Three full pages of 10, then an empty one, all with `body`: the error.
    fn empty_fourth_page(p: &mut dyn Paginator, body: Value) -> String {
        let full = (body.clone(), 10);
        run(p, &[full.clone(), full.clone(), full, (body, 0)]).unwrap_err()
    }

    #[test]
    fn offset_empty_page_mid_scan_fails_when_total_says_more_records_exist() {
        // [L2] 30 of 100 rows, then an empty page: an error, also with the short-page rule off
        for short in [true, false] {
            let mut p = offset(Some("total"), short);
            let err = empty_fourth_page(&mut p, json!({"total": 100}));
            assert!(
                err.starts_with(
                    "the page at offset 30 returned no records, but 'total' = 100 says more records exist (30 read so far)"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn offset_empty_page_mid_scan_fails_when_has_more_is_true() {
        let mut p = offset(None, false);
        let more = json!({"has_more": true});
        let err = run(&mut p, &[(more.clone(), 10), (more, 0)]).unwrap_err();
        assert!(
            err.starts_with(
                "the page at offset 10 returned no records, but 'has_more' = true says more pages follow"
            ),
            "{err}"
        );
        // an empty page without any sign of more is the end
        let mut p = offset(Some("total"), false);
        assert_eq!(run(&mut p, &[(json!({}), 10), (json!({}), 0)]), Ok(2));
        // has_more false ends it even when total disagrees
        let mut p = offset(Some("total"), false);
        let body = json!({"total": 100, "has_more": false});
        assert_eq!(run(&mut p, &[(body, 0)]), Ok(1));
    }

    #[test]
    fn offset_short_page_fails_when_a_known_flag_says_more() {
        // Jira's isLast = false on a short page: the API caps the page size
        let mut p = offset(None, true);
        let err = run(&mut p, &[(json!({"isLast": false}), 4)]).unwrap_err();
        assert!(
            err.contains("although 'isLast' = false says more pages follow"),
            "{err}"
        );
        // has_more_path := '' turns the flags off
        let mut p = Offset::new(
            "offset".into(),
            "limit".into(),
            10,
            0,
            None,
            StopRules::new(Some(""), Some(""), true),
        );
        assert_eq!(run(&mut p, &[(json!({"isLast": false}), 4)]), Ok(1));
    }

    #[test]
    fn page_number_empty_page_mid_scan_fails_when_total_pages_says_more() {
        let mut p = page_number(false);
        let err = empty_fourth_page(&mut p, json!({"total_pages": 10}));
        assert!(
            err.starts_with(
                "page 4 returned no records, but 'total_pages' = 10 says more pages follow"
            ),
            "{err}"
        );
        // without a page size, has_more still counts
        let mut p = PageNumber::new("page".into(), None, None, 1, None, None, rules(false));
        let more = json!({"has_more": true});
        assert!(
            run(&mut p, &[(more.clone(), 7), (more, 0)])
                .unwrap_err()
                .starts_with("page 2 returned no records, but 'has_more' = true")
        );
    }

    #[test]
    fn cursor_blank_or_null_with_has_more_true_fails_naming_the_field() {
        // [L2] a cursor "" with has_more: true is not the end
        for (value, shown) in [(json!(""), "\"\""), (json!(null), "null")] {
            let mut p = cursor("next_cursor");
            let pages = [
                (json!({"next_cursor": "a", "has_more": true}), 20),
                (json!({"next_cursor": value, "has_more": true}), 20),
            ];
            let err = run(&mut p, &pages).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "page 2 has no next cursor ('next_cursor' = {shown}), but 'has_more' = true says more pages follow"
                )),
                "{err}"
            );
        }
        // null with has_more false, or with nothing else said, is the end
        let mut p = cursor("next_cursor");
        let end = json!({"next_cursor": null, "has_more": false});
        assert_eq!(run(&mut p, &[(end, 20)]), Ok(1));
        let mut p = cursor("next_cursor");
        assert_eq!(run(&mut p, &[(json!({"next_cursor": ""}), 20)]), Ok(1));
    }

    #[test]
    fn cursor_follows_an_empty_page_that_carries_a_cursor_but_not_forever() {
        // Slack: pages may be empty mid-list while next_cursor goes on
        let mut p = cursor("next_cursor");
        let pages = [
            (json!({"next_cursor": "a"}), 0),
            (json!({"next_cursor": "b"}), 5),
            (json!({"next_cursor": ""}), 0),
        ];
        assert_eq!(run(&mut p, &pages), Ok(3));
        // has_more true on every empty page: followed, but not forever
        let mut p = cursor("next_cursor");
        let endless: Vec<(Value, usize)> = (0..200)
            .map(|i| {
                (
                    json!({ "next_cursor": format!("c{i}"), "has_more": true }),
                    0,
                )
            })
            .collect();
        let err = run(&mut p, &endless).unwrap_err();
        assert!(
            err.starts_with("100 pages in a row returned no records, each with a new cursor"),
            "{err}"
        );
        let mut p = JsonLink::new(vec!["next".into()], rules(false));
        let endless: Vec<(Value, usize)> = (0..200)
            .map(|i| (json!({ "next": format!("/u?p={i}"), "hasMore": true }), 0))
            .collect();
        assert!(
            run(&mut p, &endless).unwrap_err().starts_with(
                "100 pages in a row returned no records, each with a new next page URL"
            )
        );
    }

    #[test]
    fn a_first_page_with_a_null_link_below_its_total_is_an_error() {
        let mut p = JsonLink::new(vec!["next".into()], rules(false));
        let err = run(&mut p, &[(json!({"next": null, "total": 100}), 25)]).unwrap_err();
        assert!(err.contains("total"), "{err}");
    }

    #[test]
    fn empty_pages_with_fresh_cursors_are_followed_then_fail_never_end_quietly() {
        // A run of empty pages that carry cursors, then records (Slack with archived channels):
        // every record is read.
        let slack: Vec<(Value, usize)> = std::iter::once((json!({"next_cursor": "c0"}), 5))
            .chain((1..10).map(|i| (json!({ "next_cursor": format!("c{i}") }), 0)))
            .chain(std::iter::once((json!({"next_cursor": "c10"}), 5)))
            .chain(std::iter::once((json!({"next_cursor": null}), 5)))
            .collect();
        let mut p = cursor("next_cursor");
        assert_eq!(run(&mut p, &slack), Ok(12));
        // A feed that hands out fresh cursors forever: an error after MAX_EMPTY_PAGES (the
        // user bounds such a feed with max_pages), never a quiet end that could drop rows.
        let feed = |key: &str| -> Vec<(Value, usize)> {
            std::iter::once((json!({ key: "c0" }), 5))
                .chain((1..200).map(|i| (json!({ key: format!("c{i}") }), 0)))
                .collect()
        };
        let mut p = cursor("next_cursor");
        let err = run(&mut p, &feed("next_cursor")).unwrap_err();
        assert!(err.contains("pages in a row returned no records"), "{err}");
        let mut p = JsonLink::new(vec!["next".into()], rules(false));
        let pages: Vec<(Value, usize)> = (0..200)
            .map(|i| (json!({ "next": format!("/u?p={i}") }), 0))
            .collect();
        let err = run(&mut p, &pages).unwrap_err();
        assert!(err.contains("pages in a row returned no records"), "{err}");
        let mut p = HeaderLink::new(rules(false));
        let failed = (0..200).find_map(|i| {
            let link = format!("</u?p={i}>; rel=\"next\"");
            let body = json!({});
            p.update_state(&PageResponse {
                link_header: Some(&link),
                ..resp(&body, 0)
            })
            .err()
        });
        assert!(matches!(failed, Some(PaginationError::EmptyRun { .. })));
    }

    #[test]
    fn cursor_follows_an_empty_page_when_has_more_is_true() {
        let mut p = cursor("next_cursor");
        let pages = [
            (json!({"next_cursor": "a", "has_more": true}), 0),
            (json!({"next_cursor": "b", "has_more": true}), 5),
            (json!({"next_cursor": null, "has_more": false}), 5),
        ];
        assert_eq!(run(&mut p, &pages), Ok(3));
        // empty, has_more true, nothing to continue from: an error
        let mut p = Cursor::new(
            CursorSource::LastRecord("id".into()),
            "starting_after".into(),
            rules(false),
        );
        let err = run(&mut p, &[(json!({"has_more": true}), 0)]).unwrap_err();
        assert!(
            err.starts_with("page 1 is empty, so there is no last record to take the cursor from"),
            "{err}"
        );
    }

    #[test]
    fn cursor_path_that_never_appears_fails_naming_the_field_that_looks_like_the_cursor() {
        // [L6] a typo: has_more says more
        let mut p = cursor("next_cursr");
        let err = run(
            &mut p,
            &[(json!({"next_cursor": "abc", "has_more": true}), 10)],
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "page 1 has no field 'next_cursr' (cursor_path) to take the next cursor from, but 'has_more' = true"
            ),
            "{err}"
        );
        // [L6] the default next_cursor against HubSpot's shape
        let mut p = cursor("next_cursor");
        let body = json!({"paging": {"next": {"after": "100", "link": "?after=100"}}});
        let err = run(&mut p, &[(body, 100)]).unwrap_err();
        assert!(
            err.contains("but 'paging.next.after' = \"100\" looks like the next page"),
            "{err}"
        );
        // a name of no known API, but it looks like a marker
        let mut p = cursor("next_cursor");
        let err = run(&mut p, &[(json!({"scroll_ptr": "xyz"}), 3)]).unwrap_err();
        assert!(err.contains("'scroll_ptr' = \"xyz\""), "{err}");
    }

    #[test]
    fn cursor_path_never_seen_on_a_full_page_fails_when_a_deeper_marker_exists() {
        let mut p = cursor("next_cursor");
        let mut req = base();
        req.query.push(("limit".into(), "10".into()));
        p.init_request(&mut req);
        let body = json!({"result": {"paging": {"next_key": "k2"}}});
        let err = p.update_state(&resp(&body, 10)).unwrap_err();
        assert!(
            err.to_string().contains(
                "'result.paging.next_key' = \"k2\" looks like the next page (and the page is full: 10 records for limit = 10)"
            ),
            "{err}"
        );
        // a short page, or a one-page result with nothing else in it, is the end
        let mut p = cursor("next_cursor");
        p.init_request(&mut req);
        p.update_state(&resp(&json!({"zz": 1}), 4)).unwrap();
        assert!(!p.has_next_page());
        p.update_state(&resp(&body, 4)).unwrap();
        assert!(!p.has_next_page());
        // a path the user chose may be one the API leaves out of its last page (HubSpot)
        let mut p = cursor("paging.next.after");
        p.init_request(&mut req);
        p.update_state(&resp(&json!({}), 10)).unwrap();
        assert!(!p.has_next_page());
    }

    #[test]
    fn cursor_missing_on_the_last_page_after_it_was_seen_is_the_end() {
        // HubSpot: no "paging" on the last page
        let mut p = cursor("paging.next.after");
        let pages = [
            (json!({"paging": {"next": {"after": "10"}}}), 10),
            (json!({}), 10),
        ];
        assert_eq!(run(&mut p, &pages), Ok(2));
    }

    #[test]
    fn json_link_without_a_link_fails_when_the_response_says_more() {
        let mut p = JsonLink::new(vec!["next".into()], rules(false));
        let err = run(&mut p, &[(json!({"next": null, "has_more": true}), 10)]).unwrap_err();
        assert!(
            err.starts_with("page 1 has no next link ('next' = null), but 'has_more' = true"),
            "{err}"
        );
        // Salesforce: done = false without nextRecordsUrl
        let mut p = JsonLink::new(vec!["nextRecordsUrl".into()], rules(false));
        let pages = [
            (
                json!({"nextRecordsUrl": "/q/2", "done": false, "totalSize": 30}),
                10,
            ),
            (json!({"done": false, "totalSize": 30}), 10),
        ];
        let err = run(&mut p, &pages).unwrap_err();
        assert!(
            err.contains("but 'done' = false says more pages follow"),
            "{err}"
        );
        // a total above what was read, with no link field ever seen
        let mut p = JsonLink::new(vec!["links.next".into()], rules(false));
        let err = run(&mut p, &[(json!({"meta": {"total": 30}}), 10)]).unwrap_err();
        assert!(
            err.contains("'meta.total' = 30 says more records exist (10 read so far)"),
            "{err}"
        );
        // a configured link field that never appears, next to one that looks like it
        let mut p = JsonLink::new(vec!["links.nxt".into()], rules(false));
        let err = run(&mut p, &[(json!({"links": {"next": "/u?p=2"}}), 10)]).unwrap_err();
        assert!(err.contains("'links.next' = \"/u?p=2\""), "{err}");
    }

    #[test]
    fn json_link_stops_on_meta_has_more_false_although_a_next_link_is_given() {
        // Zendesk cursor pagination gives links.next on its last page too
        let mut p = JsonLink::new(vec!["links.next".into()], rules(false));
        let body = json!({"links": {"next": "/u?after=x"}, "meta": {"has_more": false}});
        assert_eq!(run(&mut p, &[(body, 10)]), Ok(1));
    }

    #[test]
    fn json_link_reads_link_objects_at_the_configured_path() {
        let mut p = JsonLink::new(vec!["links.next".into()], rules(false));
        let body = json!({"links": {"next": {"href": "/a?page=2", "meta": {}}}});
        p.update_state(&resp(&body, 10)).unwrap();
        let mut req = base();
        p.update_request(&mut req);
        assert_eq!(req.url, "http://h/a?page=2");
        // an object without href is still an error naming the field
        let mut p = JsonLink::new(vec!["links.next".into()], rules(false));
        let err = p
            .update_state(&resp(&json!({"links": {"next": {"url": "/a"}}}), 10))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the response field 'links.next' is {"),
            "{err}"
        );
    }

    #[test]
    fn json_link_reads_link_objects_through_a_later_candidate() {
        // JSON:API allows {"href": ...} link objects
        let mut p = JsonLink::new(
            vec!["links.next".into(), "links.next.href".into()],
            rules(false),
        );
        let body = json!({"links": {"next": {"href": "/a?page=2"}}});
        p.update_state(&resp(&body, 10)).unwrap();
        let mut req = base();
        p.update_request(&mut req);
        assert_eq!(req.url, "http://h/a?page=2");
    }

    #[test]
    fn header_link_without_next_fails_when_a_total_says_more() {
        // GitHub search serves 1000 results while total_count says more
        let mut p = HeaderLink::new(rules(false));
        let err = run(&mut p, &[(json!({"total_count": 5000}), 1000)]).unwrap_err();
        assert!(
            err.starts_with(
                "page 1 has no Link header with rel=\"next\", but 'total_count' = 5000 says more records exist (1000 read so far)"
            ),
            "{err}"
        );
        let mut p = HeaderLink::new(StopRules::new(None, Some(""), false));
        assert_eq!(run(&mut p, &[(json!({"total_count": 5000}), 1000)]), Ok(1));
    }

    #[test]
    fn links_in_messages_hide_their_credentials() {
        let mut p = JsonLink::new(vec!["links.nxt".into()], rules(false));
        let body =
            json!({"links": {"next": "https://u:pw-123456789@h/a?page=2&api_key=k-123456789"}});
        let err = run(&mut p, &[(body, 10)]).unwrap_err();
        assert!(err.contains("'links.next' = \"https://"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
    }

    #[test]
    fn an_explicit_end_flag_wins_over_markers_and_totals() {
        let r = rules(false);
        let body = json!({"meta": {"has_more": false}, "links": {"next": "/x"}, "total": 99});
        assert_eq!(more_signal(&body, Some(1), &r, Look::Anything), None);
        let body = json!({"done": true, "nextRecordsUrl": "/x"});
        assert_eq!(more_signal(&body, Some(1), &r, Look::Anything), None);
        let body = json!({"isLast": false});
        assert_eq!(
            more_signal(&body, Some(1), &r, Look::Flags).map(|s| s.field),
            Some("isLast".to_string())
        );
        // markers are looked for only when asked; previous links never count
        let body = json!({"links": {"prev": "/p", "self": "/s"}, "next_cursor": "c"});
        assert_eq!(more_signal(&body, Some(1), &r, Look::Flags), None);
        assert_eq!(
            more_signal(&body, Some(1), &r, Look::Markers).map(|s| s.field),
            Some("next_cursor".to_string())
        );
        assert_eq!(
            more_signal(
                &json!({"links": {"prev": "/p"}}),
                Some(1),
                &r,
                Look::Anything
            ),
            None
        );
    }

    #[test]
    fn params_can_go_into_the_json_body() {
        let mut req = base();
        req.params_in_body = true;
        req.body = Some(json!({"filter": "x"}));
        req.set_param("offset", "20".into());
        assert_eq!(req.body, Some(json!({"filter": "x", "offset": 20})));
        assert!(req.query.is_empty());
    }

    fn given(path: &str) -> Cursor {
        let mut r = rules(false);
        r.marker_given = true;
        Cursor::new(CursorSource::Body(path.into()), "cursor".into(), r)
    }

    #[test]
    fn sync_tokens_echoed_filters_and_deep_fields_are_not_taken_for_a_next_page() {
        // [B3-5] Google Calendar: one page with nextSyncToken
        let gcal =
            json!({"kind": "calendar#events", "nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="});
        assert_eq!(
            run(&mut given("nextPageToken"), &[(gcal.clone(), 5)]),
            Ok(1)
        );
        assert_eq!(run(&mut cursor("nextPageToken"), &[(gcal, 5)]), Ok(1));
        // an echoed filter, a date bound
        let echo = json!({"query": {"updated_after": "2024-01-01", "next": "x"}, "updated_after": "2024-01-01"});
        assert_eq!(run(&mut cursor("next_cursor"), &[(echo, 5)]), Ok(1));
        // top level and one below count, deeper only on a full page
        let err = run(
            &mut cursor("next_cursor"),
            &[(json!({"a": {"next_key": "x"}}), 5)],
        )
        .unwrap_err();
        assert!(
            err.contains("'a.next_key' = \"x\" looks like the next page"),
            "{err}"
        );
        assert_eq!(
            run(
                &mut cursor("next_cursor"),
                &[(json!({"a": {"b": {"next_key": "x"}}}), 5)]
            ),
            Ok(1)
        );
        // booleans, objects and empty strings are not markers
        let body = json!({"next_token": "", "cursor": {"x": true}, "has_next_token": true});
        assert_eq!(run(&mut cursor("next_cursor"), &[(body, 5)]), Ok(1));
        // a cursor_path given explicitly silences the guess (a known field still counts)
        assert_eq!(
            run(
                &mut given("next_cursor"),
                &[(json!({"scroll_ptr": "xyz"}), 3)]
            ),
            Ok(1)
        );
        let err = run(
            &mut given("next_cursr"),
            &[(json!({"next_cursor": "abc"}), 3)],
        )
        .unwrap_err();
        assert!(err.contains("'next_cursor' = \"abc\""), "{err}");
        // next_url_path given: the same for json_link
        let mut r = rules(false);
        r.marker_given = true;
        let mut p = JsonLink::new(vec!["links.nxt".into()], r);
        assert_eq!(run(&mut p, &[(json!({"scroll_ptr": "xyz"}), 3)]), Ok(1));
    }

    #[test]
    fn a_full_page_without_the_cursor_is_the_end_when_the_path_was_given_or_max_pages_ends_it() {
        // [B3-6]
        let mut req = base();
        req.query.push(("limit".into(), "10".into()));
        let deep = json!({"result": {"paging": {"next_key": "k2"}}});
        for mut p in [given("next_cursor"), given("paging.next.after")] {
            p.init_request(&mut req);
            p.update_state(&resp(&deep, 10)).unwrap();
            assert!(!p.has_next_page());
        }
        // nothing else that looks like a marker: the end
        let mut p = cursor("next_cursor");
        p.init_request(&mut req);
        let body =
            json!({"zz": 1, "kind": "calendar#events", "v": "v1.2", "at": "2024-01-01T00:00:00Z"});
        p.update_state(&resp(&body, 10)).unwrap();
        assert!(!p.has_next_page());
        // a value shaped like a token under a name nothing recognises (L6)
        let mut p = cursor("next_cursor");
        p.init_request(&mut req);
        let err = p
            .update_state(&resp(&json!({"zz": "b2Zmc2V0OjEw"}), 10))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("but 'zz' = \"b2Zmc2V0OjEw\" looks like a cursor (and the page is full"),
            "{err}"
        );
        // max_pages / max_records end the scan here anyway
        for (pages, records) in [(Some(1), None), (None, Some(10))] {
            let mut r = rules(false);
            r.max_pages = pages;
            r.max_records = records;
            let mut p = Cursor::new(CursorSource::Body("next_cursor".into()), "cursor".into(), r);
            p.init_request(&mut req);
            p.update_state(&resp(&json!({"nextToken": "t", "has_more": true}), 10))
                .unwrap();
            assert!(!p.has_next_page());
        }
    }

    #[test]
    fn a_total_above_the_records_served_is_not_an_error_once_links_were_followed() {
        // [B3-7] GitHub search: total_count 5000, 5 pages served through the Link header
        let mut p = HeaderLink::new(rules(false));
        let body = json!({"total_count": 5000, "incomplete_results": false});
        for i in 1..=5 {
            let link = format!("</s?page={}>; rel=\"next\"", i + 1);
            p.update_state(&PageResponse {
                link_header: (i < 5).then_some(link.as_str()),
                ..resp(&body, 10)
            })
            .unwrap();
            assert_eq!(p.has_next_page(), i < 5);
        }
        // DRF started mid-list (?offset=50): count 100, 50 read when next is null
        let mut p = JsonLink::new(
            NEXT_URL_PATHS.iter().map(|s| s.to_string()).collect(),
            rules(false),
        );
        let pages: Vec<(Value, usize)> = (5..10)
            .map(|i| {
                let next = (i < 9).then(|| format!("/drf?offset={}", (i + 1) * 10));
                (json!({"count": 100, "next": next, "results": []}), 10)
            })
            .collect();
        assert_eq!(run(&mut p, &pages), Ok(5));
        // the same for a cursor that was followed (HubSpot search stops at 10,000 of its total)
        let mut p = cursor("paging.next.after");
        let pages = [
            (
                json!({"total": 100, "paging": {"next": {"after": "10"}}}),
                10,
            ),
            (json!({"total": 100}), 10),
        ];
        assert_eq!(run(&mut p, &pages), Ok(2));
        let mut p = cursor("next_cursor");
        let err = run(&mut p, &[(json!({"total": 100, "next_cursor": null}), 10)]).unwrap_err();
        assert!(
            err.contains("'total' = 100 says more records exist"),
            "{err}"
        );
        // a marker that is not followed still fails (L6)
        let mut p = HeaderLink::new(rules(false));
        let err = run(&mut p, &[(json!({"next_cursor": "abc"}), 10)]).unwrap_err();
        assert!(err.contains("'next_cursor' = \"abc\""), "{err}");
    }

    #[test]
    fn default_has_more_fields_accept_strings_and_numbers_and_ignore_other_types() {
        // [B3-11]
        let r = rules(false);
        assert_eq!(r.has_more(&json!({"hasMore": "true"})), Ok(Some(true)));
        assert_eq!(
            r.has_more(&json!({"meta": {"has_more": "false"}})),
            Ok(Some(false))
        );
        assert_eq!(r.has_more(&json!({"has_more": 1})), Ok(Some(true)));
        assert_eq!(r.has_more(&json!({"has_more": 0})), Ok(Some(false)));
        assert_eq!(
            r.has_more(&json!({"has_more": {"x": 1}, "hasMore": false})),
            Ok(Some(false))
        );
        assert_eq!(r.has_more(&json!({"has_more": "maybe"})), Ok(None));
        let mut p = cursor("next_cursor");
        assert_eq!(
            run(
                &mut p,
                &[(json!({"next_cursor": "c", "hasMore": "false"}), 5)]
            ),
            Ok(1)
        );
        // a has_more_path the user gave must hold a flag
        let r = StopRules::new(Some("more"), None, true);
        assert_eq!(r.has_more(&json!({"more": "true"})), Ok(Some(true)));
        let err = r
            .has_more(&json!({"more": "maybe"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'more'") && err.contains("\"maybe\""), "{err}");
        // more_signal reads the same values
        let body = json!({"done": "false"});
        assert_eq!(
            more_signal(&body, Some(1), &rules(false), Look::Flags).map(|s| s.field),
            Some("done".to_string())
        );
    }

    #[test]
    fn confluence_next_links_are_resolved_under_their_context() {
        // [B3-1] _links.next is a string, rooted under _links.context
        let mut p = JsonLink::new(
            NEXT_URL_PATHS.iter().map(|s| s.to_string()).collect(),
            rules(false),
        );
        let body = json!({"results": [], "_links": {"base": "https://x.atlassian.net/wiki", "context": "/wiki", "next": "/rest/api/space?start=25"}});
        p.update_state(&PageResponse {
            url: "https://x.atlassian.net/wiki/rest/api/space",
            ..resp(&body, 25)
        })
        .unwrap();
        let mut req = base();
        p.update_request(&mut req);
        assert_eq!(
            req.url,
            "https://x.atlassian.net/wiki/rest/api/space?start=25"
        );
        let mut p = JsonLink::new(vec!["_links.next".into()], rules(false));
        p.update_state(&resp(&json!({"_links": {"next": "/c?start=25"}}), 25))
            .unwrap();
        p.update_request(&mut req);
        assert_eq!(req.url, "http://h/c?start=25");
    }

    #[test]
    fn a_short_page_with_a_next_link_or_cursor_fails_naming_it() {
        // [B3-2] an API that caps the page size below page_size, without totals
        let mut p = offset(None, true);
        let body = json!({"_links": {"next": "/c?start=5"}});
        let err = run(&mut p, &[(body, 5)]).unwrap_err();
        assert!(
            err.starts_with("the API returned 5 records for a page size of 10 although '_links.next' = \"/c?start=5\" looks like the next page (paginator := 'json_link' would follow it)"),
            "{err}"
        );
        let mut p = page_number(true);
        let err = p
            .update_state(&PageResponse {
                link_header: Some("<http://h/u?page=2>; rel=\"next\""),
                ..resp(&json!([]), 5)
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("although its Link header has a rel=\"next\" link (http://h/u?page=2) (paginator := 'header_link'"), "{err}");
        // a null next link, or none, is the end
        let mut p = offset(None, true);
        assert_eq!(run(&mut p, &[(json!({"next": null}), 5)]), Ok(1));
    }

    #[test]
    fn a_total_below_the_records_read_is_an_error_naming_the_field() {
        // [B3-3] page_number: total holds the page count
        let mut p = page_number(true);
        let err = run(&mut p, &[(json!({"total": 3}), 10)]).unwrap_err();
        assert!(
            err.starts_with(
                "the response field 'total' (total_path) is 3, below the 10 records already read"
            ),
            "{err}"
        );
        // offset: a total below what was read
        let mut p = offset(Some("total"), true);
        let pages = [(json!({"total": 30}), 10), (json!({"total": 3}), 10)];
        let err = run(&mut p, &pages).unwrap_err();
        assert!(
            err.contains("'total' (total_path) is 3, below the 20 records already read"),
            "{err}"
        );
        // a total that counts the page's records: a first full page holding exactly `total`
        // records is checked with one more page
        let mut p = offset(Some("total"), true);
        let pages = [(json!({"total": 10}), 10), (json!({"total": 10}), 10)];
        let err = run(&mut p, &pages).unwrap_err();
        assert!(
            err.contains("'total' (total_path) is 10, below the 20 records already read"),
            "{err}"
        );
        let mut p = offset(Some("total"), true);
        let pages = [(json!({"total": 10}), 10), (json!({"total": 10}), 0)];
        assert_eq!(run(&mut p, &pages), Ok(2));
        let mut p = page_number(true);
        let pages = [(json!({"total": 10}), 10), (json!({"total": 10}), 10)];
        assert!(
            run(&mut p, &pages)
                .unwrap_err()
                .contains("is 10, below the 20 records")
        );
        let mut p = page_number(true);
        let pages = [(json!({"total": 10, "total_pages": 1}), 10)];
        assert_eq!(run(&mut p, &pages), Ok(1));
        // total_pages below the pages read
        let mut p = PageNumber::new(
            "page".into(),
            None,
            None,
            1,
            Some("total_pages".into()),
            None,
            rules(false),
        );
        let pages = [
            (json!({"total_pages": 5}), 10),
            (json!({"total_pages": 1}), 10),
        ];
        let err = run(&mut p, &pages).unwrap_err();
        assert!(
            err.contains("'total_pages' (total_pages_path) is 1, below the 2 pages already read"),
            "{err}"
        );
    }
}
