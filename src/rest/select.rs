//! Finding the records in a response body: a JSONPath-like `data_selector` (`$`, `$.data`,
//! `data.items`, `$.data[*]`, `$['@odata.x']`), or automatic detection.

use serde_json::Value;
use std::fmt;

/// Keys that commonly hold the records of a page, in the order they are tried.
pub const COMMON_KEYS: &[&str] = &[
    "data", "items", "results", "records", "value", "entries", "rows", "hits", "objects",
    "elements",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Auto,
    /// A path of object keys; empty = the whole body.
    Path(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectError {
    BadSelector(String),
    Missing {
        selector: String,
        at: String,
        keys: Vec<String>,
    },
    NotFound {
        keys: Vec<String>,
    },
    Ambiguous {
        keys: Vec<String>,
    },
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::BadSelector(s) => write!(
                f,
                "data_selector '{s}' is not a path like '$', '$.data' or 'data.items'"
            ),
            SelectError::Missing { selector, at, keys } => write!(
                f,
                "data_selector '{selector}' does not match the response: no key '{at}' (keys there: {})",
                list(keys)
            ),
            SelectError::NotFound { keys } => write!(
                f,
                "cannot find the records in the response (top-level keys: {}); set data_selector, e.g. data_selector := '$.data'",
                list(keys)
            ),
            SelectError::Ambiguous { keys } => write!(
                f,
                "the response has several arrays ({}); set data_selector to the one holding the records",
                list(keys)
            ),
        }
    }
}

impl std::error::Error for SelectError {}

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_string()
    } else {
        keys.join(", ")
    }
}

impl Selector {
    pub fn parse(text: Option<&str>) -> Result<Selector, SelectError> {
        let Some(text) = text.map(str::trim) else {
            return Ok(Selector::Auto);
        };
        let bad = || SelectError::BadSelector(text.to_string());
        let mut rest = text.strip_prefix('$').unwrap_or(text);
        let mut path = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("[*]") {
                rest = r;
                continue;
            }
            if let Some(r) = rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\"")) {
                let end = r.find(['\'', '"']).ok_or_else(bad)?;
                path.push(r[..end].to_string());
                rest = r[end + 1..].strip_prefix(']').ok_or_else(bad)?;
                continue;
            }
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            path.push(r[..end].to_string());
            rest = &r[end..];
        }
        Ok(Selector::Path(path))
    }

    pub fn describe(&self) -> String {
        match self {
            Selector::Auto => "auto".to_string(),
            Selector::Path(p) if p.is_empty() => "$".to_string(),
            Selector::Path(p) => format!("$.{}", p.join(".")),
        }
    }

    /// Where the records are in `body`: a path of object keys (empty = the body itself).
    pub fn locate(&self, body: &Value) -> Result<Vec<String>, SelectError> {
        match self {
            Selector::Path(path) => {
                let mut node = body;
                for key in path {
                    node = match node {
                        Value::Object(map) => map.get(key).ok_or_else(|| SelectError::Missing {
                            selector: self.describe(),
                            at: key.clone(),
                            keys: map.keys().cloned().collect(),
                        })?,
                        _ => {
                            return Err(SelectError::Missing {
                                selector: self.describe(),
                                at: key.clone(),
                                keys: vec![],
                            });
                        }
                    };
                }
                Ok(path.clone())
            }
            Selector::Auto => match body {
                Value::Array(_) => Ok(vec![]),
                Value::Object(map) => {
                    let common: Vec<&String> = COMMON_KEYS
                        .iter()
                        .filter_map(|k| map.get_key_value(*k))
                        .filter(|(_, v)| v.is_array())
                        .map(|(k, _)| k)
                        .collect();
                    let arrays: Vec<&String> = map
                        .iter()
                        .filter(|(_, v)| v.is_array())
                        .map(|(k, _)| k)
                        .collect();
                    match (common.len(), arrays.len()) {
                        (1, _) => Ok(vec![common[0].clone()]),
                        (0, 1) => Ok(vec![arrays[0].clone()]),
                        (0, 0) => Err(SelectError::NotFound {
                            keys: map.keys().cloned().collect(),
                        }),
                        _ => Err(SelectError::Ambiguous {
                            keys: arrays.into_iter().cloned().collect(),
                        }),
                    }
                }
                _ => Err(SelectError::NotFound { keys: vec![] }),
            },
        }
    }

    /// The records in `body`. Null at the path means no records; a single object at an
    /// explicit path is one record.
    pub fn select<'a>(&self, body: &'a Value) -> Result<Records<'a>, SelectError> {
        let path = self.locate(body)?;
        Ok(records_at(body, &path))
    }
}

/// The records at a located path (borrowed).
pub fn records_at<'a>(body: &'a Value, path: &[String]) -> Records<'a> {
    let mut node = body;
    for key in path {
        match node.get(key) {
            Some(next) => node = next,
            None => return Records::None,
        }
    }
    match node {
        Value::Array(items) => Records::Many(items),
        Value::Null => Records::None,
        other => Records::One(other),
    }
}

/// Moves the records at a located path out of `body`.
pub fn take_at(mut body: Value, path: &[String]) -> Vec<Value> {
    let mut node = &mut body;
    for key in path {
        match node.get_mut(key) {
            Some(next) => node = next,
            None => return Vec::new(),
        }
    }
    match std::mem::take(node) {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Borrowed records of one page.
#[derive(Debug, Clone, Copy)]
pub enum Records<'a> {
    None,
    One(&'a Value),
    Many(&'a [Value]),
}

impl<'a> Records<'a> {
    pub fn len(&self) -> usize {
        match self {
            Records::None => 0,
            Records::One(_) => 1,
            Records::Many(items) => items.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> Option<&'a Value> {
        match self {
            Records::None => None,
            Records::One(v) => (i == 0).then_some(*v),
            Records::Many(items) => items.get(i),
        }
    }
    pub fn last(&self) -> Option<&'a Value> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }
}

/// Looks up a dotted path (`links.next`, `meta.total`, `@odata.nextLink`) in a body. A key
/// that itself contains dots is found when it matches exactly at the current level.
pub fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.strip_prefix("$.").unwrap_or(path);
    if let Some(v) = body.as_object().and_then(|m| m.get(path)) {
        return Some(v);
    }
    let (head, tail) = path.split_once('.')?;
    let next = body.as_object()?.get(head)?;
    lookup(next, tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_syntax_variants_parse_to_key_paths() {
        let p = |s: &str| Selector::parse(Some(s)).unwrap();
        assert_eq!(p("$"), Selector::Path(vec![]));
        assert_eq!(p("$.data"), Selector::Path(vec!["data".into()]));
        assert_eq!(
            p("data.items"),
            Selector::Path(vec!["data".into(), "items".into()])
        );
        assert_eq!(p("$.data[*]"), Selector::Path(vec!["data".into()]));
        assert_eq!(
            p("$['@odata.value']"),
            Selector::Path(vec!["@odata.value".into()])
        );
        assert_eq!(Selector::parse(None).unwrap(), Selector::Auto);
        assert!(Selector::parse(Some("$..")).is_err());
    }

    #[test]
    fn auto_finds_bare_arrays_and_common_keys() {
        let body = json!([{"id": 1}, {"id": 2}]);
        assert_eq!(Selector::Auto.select(&body).unwrap().len(), 2);
        let body = json!({"total": 3, "results": [{"id": 1}], "meta": {}});
        assert_eq!(Selector::Auto.select(&body).unwrap().len(), 1);
        let body = json!({"users": [{"id": 1}, {"id": 2}], "count": 2});
        assert_eq!(Selector::Auto.select(&body).unwrap().len(), 2);
    }

    #[test]
    fn auto_refuses_to_guess_between_arrays_or_without_any() {
        let body = json!({"users": [1], "groups": [2]});
        assert!(matches!(
            Selector::Auto.select(&body),
            Err(SelectError::Ambiguous { .. })
        ));
        let body = json!({"message": "hi"});
        let err = Selector::Auto.select(&body).unwrap_err().to_string();
        assert!(err.contains("top-level keys: message"), "{err}");
    }

    #[test]
    fn missing_path_names_the_key_and_what_is_there() {
        let body = json!({"data": {"rows": []}});
        let err = Selector::parse(Some("$.data.items"))
            .unwrap()
            .select(&body)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "data_selector '$.data.items' does not match the response: no key 'items' (keys there: rows)"
        );
    }

    #[test]
    fn null_means_no_records_and_object_means_one() {
        let sel = Selector::parse(Some("data")).unwrap();
        assert_eq!(sel.select(&json!({"data": null})).unwrap().len(), 0);
        assert_eq!(sel.select(&json!({"data": {"id": 1}})).unwrap().len(), 1);
    }

    #[test]
    fn take_moves_the_located_records_out() {
        let body = json!({"data": {"items": [{"id": 1}, {"id": 2}]}, "total": 2});
        let sel = Selector::parse(Some("data.items")).unwrap();
        let path = sel.locate(&body).unwrap();
        assert_eq!(records_at(&body, &path).len(), 2);
        assert_eq!(
            take_at(body, &path),
            vec![json!({"id": 1}), json!({"id": 2})]
        );
    }

    #[test]
    fn lookup_follows_dots_and_exact_dotted_keys() {
        let body = json!({"links": {"next": "u"}, "@odata.nextLink": "v", "meta": {"total": 5}});
        assert_eq!(lookup(&body, "links.next"), Some(&json!("u")));
        assert_eq!(lookup(&body, "@odata.nextLink"), Some(&json!("v")));
        assert_eq!(lookup(&body, "$.meta.total"), Some(&json!(5)));
        assert_eq!(lookup(&body, "meta.missing"), None);
    }
}
