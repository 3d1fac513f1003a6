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
        why: &'static str,
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
            PaginationError::MissingCursorField { field } => write!(
                f,
                "the last record of the page has no field '{field}' to continue from (cursor_record_field)"
            ),
        }
    }
}

impl std::error::Error for PaginationError {}

/// Stop and continuation rules shared by styles that read them.
#[derive(Debug, Clone, Default)]
pub struct StopRules {
    /// Boolean field saying whether more pages exist (false stops).
    pub has_more_path: Option<String>,
    /// Stop when a page has fewer records than the page size.
    pub stop_on_short_page: bool,
}

impl StopRules {
    fn has_more(&self, body: &Value) -> Result<Option<bool>, PaginationError> {
        let Some(path) = &self.has_more_path else {
            return Ok(None);
        };
        match lookup(body, path) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(PaginationError::BadValue {
                path: path.clone(),
                value: other.to_string(),
                expected: "true or false",
            }),
        }
    }
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
        if records > self.limit {
            return Err(PaginationError::PageSize {
                returned: r.records,
                asked: self.limit,
                why: "",
            });
        }
        if records > 0 && records < self.limit {
            if self.total.is_some_and(|t| self.offset + records < t) {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked: self.limit,
                    why: "its total says more records follow",
                });
            }
            if has_more == Some(true) {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked: self.limit,
                    why: "it says has_more = true",
                });
            }
        }
        self.more = if records == 0 || has_more == Some(false) {
            false
        } else if let Some(total) = self.total {
            next < total
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
            more: true,
        }
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
        if let Some(pages) = optional_count(r.body, &self.total_pages_path)? {
            self.total_pages = Some(pages);
        } else if let (Some(total), Some(size)) =
            (optional_count(r.body, &self.total_path)?, self.page_size)
        {
            self.total_pages = Some(total.div_ceil(size.max(1)));
        }
        let has_more = self.rules.has_more(r.body)?;
        let pages_done = self.page - self.base_page + 1;
        let short =
            matches!(self.page_size, Some(size) if r.records > 0 && (r.records as u64) < size);
        if short {
            let asked = self.page_size.unwrap_or(0);
            if self.total_pages.is_some_and(|pages| pages_done < pages) {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked,
                    why: "its page count says more pages follow",
                });
            }
            if has_more == Some(true) {
                return Err(PaginationError::PageSize {
                    returned: r.records,
                    asked,
                    why: "it says has_more = true",
                });
            }
        }
        self.more = if r.records == 0 || has_more == Some(false) {
            false
        } else if let Some(pages) = self.total_pages {
            pages_done < pages
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
}

impl Cursor {
    pub fn new(source: CursorSource, cursor_param: String, rules: StopRules) -> Self {
        Cursor {
            source,
            cursor_param,
            rules,
            cursor: None,
            seen: HashSet::new(),
        }
    }
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
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        let next = match &self.source {
            CursorSource::Body(path) => lookup(r.body, path).and_then(scalar_text),
            CursorSource::LastRecord(field) => match r.last_record {
                None => None,
                Some(record) => {
                    Some(lookup(record, field).and_then(scalar_text).ok_or_else(|| {
                        PaginationError::MissingCursorField {
                            field: field.clone(),
                        }
                    })?)
                }
            },
        };
        let stop = r.records == 0 || self.rules.has_more(r.body)? == Some(false);
        self.cursor = if stop { None } else { next };
        if let Some(c) = &self.cursor
            && !self.seen.insert(c.clone())
        {
            return Err(PaginationError::Loop {
                what: "cursor",
                value: c.clone(),
            });
        }
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
}

impl JsonLink {
    pub fn new(next_url_paths: Vec<String>, rules: StopRules) -> Self {
        JsonLink {
            next_url_paths,
            rules,
            next: None,
            seen: HashSet::new(),
        }
    }
}

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

impl Paginator for JsonLink {
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        let found = self
            .next_url_paths
            .iter()
            .find_map(|p| lookup(r.body, p).map(|v| (p, v)));
        let link = match found {
            None | Some((_, Value::Null)) => None,
            Some((_, Value::String(s))) if s.is_empty() => None,
            Some((_, Value::String(s))) => Some(resolve_link(r.url, s)),
            Some((path, other)) => {
                return Err(PaginationError::BadValue {
                    path: path.clone(),
                    value: other.to_string(),
                    expected: "a URL string or null",
                });
            }
        };
        let stop = self.rules.has_more(r.body)? == Some(false);
        self.next = if stop { None } else { link };
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
    next: Option<String>,
    seen: HashSet<String>,
}

impl Paginator for HeaderLink {
    fn init_request(&mut self, _request: &mut RequestSpec) {}
    fn update_state(&mut self, r: &PageResponse<'_>) -> Result<(), PaginationError> {
        self.next = r
            .link_header
            .and_then(parse_link_next)
            .map(|u| resolve_link(r.url, &u));
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
        StopRules {
            has_more_path: Some("has_more".into()),
            stop_on_short_page: short,
        }
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

    #[test]
    fn page_number_uses_total_pages_then_total() {
        let mut p = PageNumber::new(
            "page".into(),
            Some("per_page".into()),
            Some(10),
            1,
            Some("total_pages".into()),
            Some("total".into()),
            rules(true),
        );
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

    #[test]
    fn params_can_go_into_the_json_body() {
        let mut req = base();
        req.params_in_body = true;
        req.body = Some(json!({"filter": "x"}));
        req.set_param("offset", "20".into());
        assert_eq!(req.body, Some(json!({"filter": "x", "offset": 20})));
        assert!(req.query.is_empty());
    }
}
