//! Schema of JSON records: inferred from a sample (nested objects -> STRUCT, arrays -> LIST,
//! conflicting types widen), or declared with `columns := {'id': 'BIGINT', ...}`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;
use std::fmt;

/// A column type, in the subset rest_scan produces.
#[derive(Debug, Clone, PartialEq)]
pub enum JType {
    /// Only nulls seen so far (becomes VARCHAR when the sample ends).
    Null,
    Boolean,
    Integer,
    BigInt,
    Double,
    Varchar,
    /// JSON text (DuckDB's JSON type): values of mixed shapes.
    Json,
    Date,
    Timestamp,
    TimestampTz,
    List(Box<JType>),
    Struct(Vec<(String, JType)>),
}

impl fmt::Display for JType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JType::Null | JType::Varchar => write!(f, "VARCHAR"),
            JType::Boolean => write!(f, "BOOLEAN"),
            JType::Integer => write!(f, "INTEGER"),
            JType::BigInt => write!(f, "BIGINT"),
            JType::Double => write!(f, "DOUBLE"),
            JType::Json => write!(f, "JSON"),
            JType::Date => write!(f, "DATE"),
            JType::Timestamp => write!(f, "TIMESTAMP"),
            JType::TimestampTz => write!(f, "TIMESTAMP WITH TIME ZONE"),
            JType::List(child) => write!(f, "{child}[]"),
            JType::Struct(fields) => {
                write!(f, "STRUCT(")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "\"{name}\" {ty}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// Days since 1970-01-01 for an ISO date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<i32> {
    if s.len() != 10 {
        return None;
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

/// Microseconds since the epoch for an ISO-8601 timestamp; the flag says whether it carried a
/// zone (`Z` or an offset; converted to UTC).
pub fn parse_timestamp(s: &str) -> Option<(i64, bool)> {
    parse_timestamp_offset(s).map(|(us, offset)| (us, offset.is_some()))
}

/// Microseconds since the epoch (UTC) for an ISO-8601 timestamp and its zone's offset from UTC
/// in seconds (`Some(0)` for `Z` and `+00:00`; `None` without a zone).
pub fn parse_timestamp_offset(s: &str) -> Option<(i64, Option<i32>)> {
    let bytes = s.as_bytes();
    if s.len() < 19
        || s.len() > 40
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !(bytes[10] == b'T' || bytes[10] == b' ')
    {
        return None;
    }
    let zoned = |dt: DateTime<chrono::FixedOffset>| {
        Some((dt.timestamp_micros(), Some(dt.offset().local_minus_utc())))
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return zoned(dt);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return zoned(dt);
        }
    }
    // An hour-only offset, as DuckDB prints TIMESTAMPTZ ("2026-01-02 05:00:00+09").
    let tail = s.get(s.len() - 3..).unwrap_or("");
    if (tail.starts_with('+') || tail.starts_with('-'))
        && tail.bytes().skip(1).all(|b| b.is_ascii_digit())
    {
        return parse_timestamp_offset(&format!("{s}:00"));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some((dt.and_utc().timestamp_micros(), None));
        }
    }
    None
}

/// The deepest nesting of LIST and STRUCT levels rest_scan builds, in declared types
/// (`columns`) and in inferred schemas. DuckDB's own parser stops at 1,000; nesting is bounded
/// far below so that building types, decoding and writing vectors (all recursive) stay within
/// a thread's stack and linear in the type's size. Inferred values nested deeper keep their
/// JSON text (type JSON) from this level on.
pub const MAX_DEPTH: usize = 100;

impl JType {
    /// LIST and STRUCT levels, counting this one.
    pub fn depth(&self) -> usize {
        match self {
            JType::List(child) => 1 + child.depth(),
            JType::Struct(fields) => 1 + fields.iter().map(|(_, t)| t.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// A number written as text (`"3.25"`, `" 10 "`): JSON number syntax only, finite; `NaN`,
/// `inf` and the like are not numbers.
pub fn number_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let syntax = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    t.parse::<f64>().ok().filter(|x| syntax && x.is_finite())
}

/// The type of one value, looking inside strings for dates and timestamps.
pub fn type_of(value: &Value) -> JType {
    type_at(value, 0)
}

/// The type of a value nested in `depth` LIST/STRUCT levels: at [`MAX_DEPTH`] a nested value
/// is JSON text.
fn type_at(value: &Value, depth: usize) -> JType {
    if depth >= MAX_DEPTH && (value.is_array() || value.is_object()) {
        return JType::Json;
    }
    match value {
        Value::Null => JType::Null,
        Value::Bool(_) => JType::Boolean,
        Value::Number(n) => {
            if n.is_i64() {
                JType::BigInt
            } else if n.is_u64() {
                // Beyond BIGINT: keep every digit as text rather than round it.
                JType::Varchar
            } else {
                JType::Double
            }
        }
        Value::String(s) => {
            if parse_date(s).is_some() {
                JType::Date
            } else if let Some((_, zoned)) = parse_timestamp(s) {
                if zoned {
                    JType::TimestampTz
                } else {
                    JType::Timestamp
                }
            } else {
                JType::Varchar
            }
        }
        Value::Array(items) => {
            let child = items
                .iter()
                .fold(JType::Null, |acc, v| widen(&acc, &type_at(v, depth + 1)));
            JType::List(Box::new(child))
        }
        Value::Object(map) => JType::Struct(
            map.iter()
                .map(|(k, v)| (k.clone(), type_at(v, depth + 1)))
                .collect(),
        ),
    }
}

/// The narrowest type that holds values of both types.
pub fn widen(a: &JType, b: &JType) -> JType {
    use JType::*;
    match (a, b) {
        (x, y) if x == y => x.clone(),
        (Null, x) | (x, Null) => x.clone(),
        (Integer, BigInt) | (BigInt, Integer) => BigInt,
        (Integer | BigInt, Double) | (Double, Integer | BigInt) => Double,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        (Date, TimestampTz) | (TimestampTz, Date) => TimestampTz,
        (List(x), List(y)) => List(Box::new(widen(x, y))),
        (Struct(x), Struct(y)) => {
            let mut fields = x.clone();
            for (name, ty) in y {
                match fields.iter_mut().find(|(n, _)| n == name) {
                    Some((_, existing)) => *existing = widen(existing, ty),
                    None => fields.push((name.clone(), ty.clone())),
                }
            }
            Struct(fields)
        }
        // A nested value meeting anything else keeps its JSON text.
        (List(_) | Struct(_) | Json, _) | (_, List(_) | Struct(_) | Json) => Json,
        // Scalars that do not share a type (text and number, bool and number, naive and
        // zoned timestamps) become text: nothing is lost.
        _ => Varchar,
    }
}

/// Replaces types that stayed unknown (only nulls) with VARCHAR, also inside STRUCT and LIST.
pub fn finish(t: JType) -> JType {
    match t {
        JType::Null => JType::Varchar,
        JType::List(child) => JType::List(Box::new(finish(*child))),
        JType::Struct(fields) => {
            JType::Struct(fields.into_iter().map(|(n, t)| (n, finish(t))).collect())
        }
        other => other,
    }
}

/// The top-level columns for a sample of records. Non-object records become one column
/// named `value`.
pub fn infer<'a>(records: impl Iterator<Item = &'a Value>) -> Vec<(String, JType)> {
    let mut acc = JType::Null;
    for record in records {
        let t = match record {
            Value::Object(_) => type_of(record),
            other => JType::Struct(vec![("value".to_string(), type_of(other))]),
        };
        acc = widen(&acc, &t);
    }
    match finish(acc) {
        JType::Struct(fields) => fields,
        JType::Json | JType::Varchar => vec![("value".to_string(), JType::Json)],
        _ => vec![],
    }
}

/// JSON text with every integer literal beyond 64 bits (below `i64::MIN`, above `u64::MAX`)
/// turned into a string holding its digits, or `None` when there is none (the usual case:
/// one linear scan, no copy). serde_json would read such integers as rounded f64s; as
/// strings, the sample types their column VARCHAR and their digits survive.
pub fn quote_big_integers(json: &[u8]) -> Option<Vec<u8>> {
    let n = json.len();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < n {
        match json[i] {
            b'"' => {
                i += 1;
                while i < n {
                    match json[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += usize::from(json[i] == b'-');
                while i < n && json[i].is_ascii_digit() {
                    i += 1;
                }
                let end = i;
                let integer = !(i < n && matches!(json[i], b'.' | b'e' | b'E'));
                while i < n && matches!(json[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let text = std::str::from_utf8(&json[start..end]).unwrap_or("");
                let digits = end - start - usize::from(json[start] == b'-');
                let fits = digits < 19
                    || if json[start] == b'-' {
                        text.parse::<i64>().is_ok()
                    } else {
                        text.parse::<u64>().is_ok()
                    };
                if integer && !fits && digits > 0 {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(n + 64));
                    o.extend_from_slice(&json[copied..start]);
                    o.push(b'"');
                    o.extend_from_slice(&json[start..end]);
                    o.push(b'"');
                    copied = end;
                }
            }
            _ => i += 1,
        }
    }
    out.map(|mut o| {
        o.extend_from_slice(&json[copied.min(n)..]);
        o
    })
}

/// Two columns (or two fields of one STRUCT) whose names differ only in case: DuckDB's names
/// are case-insensitive, so it would refuse the schema with a bare "duplicate column" error.
pub fn name_clash(columns: &[(String, JType)]) -> Option<String> {
    fn clash_in(fields: &[(String, JType)], at: &str) -> Option<String> {
        let mut seen: std::collections::HashMap<String, &str> = Default::default();
        for (name, ty) in fields {
            // As DuckDB will see the name: without NULs (add_result_column drops them).
            if let Some(other) = seen.insert(name.replace('\0', "").to_lowercase(), name) {
                let (other, name) = (other.replace('\0', "\\0"), name.replace('\0', "\\0"));
                return Some(format!(
                    "the fields '{at}{other}' and '{at}{name}' differ only in case, and DuckDB \
                     names are case-insensitive; pick the fields you need with \
                     columns := {{'{other}': 'TYPE', ...}} or read whole records with json_column := true"
                ));
            }
            let mut inner = ty;
            while let JType::List(child) = inner {
                inner = child;
            }
            if let JType::Struct(members) = inner
                && let Some(found) = clash_in(members, &format!("{at}{name}."))
            {
                return Some(found);
            }
        }
        None
    }
    clash_in(columns, "")
}

/// Parses a declared column type (`BIGINT`, `VARCHAR[]`, `STRUCT(a BIGINT, b VARCHAR)`, ...).
pub fn parse_type(text: &str) -> Result<JType, String> {
    let mut p = TypeParser {
        s: text.as_bytes(),
        pos: 0,
        text,
        depth: 0,
    };
    let (t, _) = p.parse()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.error());
    }
    Ok(t)
}

pub const SUPPORTED_TYPES: &str = "BOOLEAN, INTEGER, BIGINT, DOUBLE, VARCHAR, JSON, DATE, TIMESTAMP, TIMESTAMPTZ, <type>[] and STRUCT(name type, ...)";

/// A type's text as shown in messages: at most 60 characters (a type may be huge).
fn shown_type(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Reads a type in one pass (linear in its length); nesting is bounded by [`MAX_DEPTH`].
struct TypeParser<'a> {
    s: &'a [u8],
    pos: usize,
    text: &'a str,
    /// LIST/STRUCT levels open around the current position.
    depth: usize,
}

impl TypeParser<'_> {
    fn error(&self) -> String {
        format!(
            "cannot read type '{}' (supported: {SUPPORTED_TYPES})",
            shown_type(self.text)
        )
    }
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn word(&mut self) -> String {
        self.skip_ws();
        if self.pos < self.s.len() && self.s[self.pos] == b'"' {
            let start = self.pos + 1;
            let mut end = start;
            while end < self.s.len() && self.s[end] != b'"' {
                end += 1;
            }
            self.pos = (end + 1).min(self.s.len());
            return String::from_utf8_lossy(&self.s[start..end]).into_owned();
        }
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.pos < self.s.len() && self.s[self.pos] == c {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    /// One type and its LIST/STRUCT levels. `self.depth` counts the levels around it.
    fn parse(&mut self) -> Result<(JType, usize), String> {
        let name = self.word().to_ascii_uppercase();
        let (mut t, mut levels) = match name.as_str() {
            "BOOLEAN" | "BOOL" => (JType::Boolean, 0),
            "INTEGER" | "INT" | "INT4" => (JType::Integer, 0),
            "BIGINT" | "INT8" | "LONG" => (JType::BigInt, 0),
            "DOUBLE" | "FLOAT8" | "REAL" | "FLOAT" => (JType::Double, 0),
            "VARCHAR" | "TEXT" | "STRING" => (JType::Varchar, 0),
            "JSON" => (JType::Json, 0),
            "DATE" => (JType::Date, 0),
            "TIMESTAMP" | "DATETIME" => {
                self.skip_ws();
                const TZ: &[u8] = b"WITH TIME ZONE";
                // Only the next bytes are compared: the parser stays linear.
                let rest = &self.s[self.pos..];
                if rest.len() >= TZ.len() && rest[..TZ.len()].eq_ignore_ascii_case(TZ) {
                    self.pos += TZ.len();
                    (JType::TimestampTz, 0)
                } else {
                    (JType::Timestamp, 0)
                }
            }
            "TIMESTAMPTZ" => (JType::TimestampTz, 0),
            "STRUCT" => {
                if !self.eat(b'(') {
                    return Err(self.error());
                }
                self.depth += 1;
                self.check_depth(0)?;
                let mut fields = Vec::new();
                let mut inner = 0;
                loop {
                    let field = self.word();
                    if field.is_empty() {
                        return Err(self.error());
                    }
                    let (ty, levels) = self.parse()?;
                    inner = inner.max(levels);
                    fields.push((field, ty));
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b',') {
                        return Err(self.error());
                    }
                }
                self.depth -= 1;
                (JType::Struct(fields), inner + 1)
            }
            _ => return Err(self.error()),
        };
        // `[]` suffixes wrap the type read so far: each adds a level on top of its own.
        while self.eat(b'[') {
            if !self.eat(b']') {
                return Err(self.error());
            }
            levels += 1;
            self.check_depth(levels)?;
            t = JType::List(Box::new(t));
        }
        Ok((t, levels))
    }

    /// An error when `levels` more levels inside the open ones exceed [`MAX_DEPTH`].
    fn check_depth(&self, levels: usize) -> Result<(), String> {
        if self.depth + levels > MAX_DEPTH {
            return Err(format!(
                "type '{}' nests more than {MAX_DEPTH} LIST/STRUCT levels, the most rest_scan supports; \
                 declare the deeper part as JSON",
                shown_type(self.text)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_become_structs_and_arrays_lists() {
        let cols = infer([json!({"id": 1, "address": {"city": "Oslo", "geo": {"lat": 1.5}}, "tags": ["a", "b"]})].iter());
        assert_eq!(
            cols,
            vec![
                ("id".into(), JType::BigInt),
                (
                    "address".into(),
                    JType::Struct(vec![
                        ("city".into(), JType::Varchar),
                        (
                            "geo".into(),
                            JType::Struct(vec![("lat".into(), JType::Double)])
                        )
                    ])
                ),
                ("tags".into(), JType::List(Box::new(JType::Varchar))),
            ]
        );
    }

    #[test]
    fn mixed_types_widen() {
        let cols = infer(
            [
                json!({"n": 1, "s": "x", "mix": 1, "b": true, "later": null, "o": {"a": 1}}),
                json!({"n": 2.5, "s": null, "mix": "one", "b": 1, "later": "2026-01-02", "o": {"b": "x"}}),
            ]
            .iter(),
        );
        let get = |name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(get("n"), JType::Double);
        assert_eq!(get("s"), JType::Varchar);
        assert_eq!(get("mix"), JType::Varchar);
        assert_eq!(get("b"), JType::Varchar);
        assert_eq!(get("later"), JType::Date);
        assert_eq!(
            get("o"),
            JType::Struct(vec![
                ("a".into(), JType::BigInt),
                ("b".into(), JType::Varchar)
            ])
        );
    }

    #[test]
    fn temporal_strings_are_typed_only_when_every_value_parses() {
        let cols = infer(
            [
                json!({"d": "2026-01-01", "ts": "2026-01-01T10:00:00", "tz": "2026-01-01T10:00:00Z", "dd": "2026-01-01"}),
                json!({"d": "2026-02-01", "ts": "2026-01-01 11:00:00.5", "tz": "2026-01-01T10:00:00+02:00", "dd": "soon"}),
            ]
            .iter(),
        );
        let types: Vec<_> = cols.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(
            types,
            vec![
                JType::Date,
                JType::Timestamp,
                JType::TimestampTz,
                JType::Varchar
            ]
        );
    }

    #[test]
    fn nested_values_meeting_scalars_keep_json_text() {
        assert_eq!(widen(&JType::Struct(vec![]), &JType::BigInt), JType::Json);
        assert_eq!(
            widen(&JType::List(Box::new(JType::BigInt)), &JType::Varchar),
            JType::Json
        );
        assert_eq!(
            finish(JType::List(Box::new(JType::Null))),
            JType::List(Box::new(JType::Varchar))
        );
    }

    #[test]
    fn timestamps_parse_to_utc_micros() {
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01Z"),
            Some((1_000_000, true))
        );
        assert_eq!(
            parse_timestamp("1970-01-01T02:00:01+02:00"),
            Some((1_000_000, true))
        );
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:00.25"),
            Some((250_000, false))
        );
        assert_eq!(parse_timestamp("2026-13-01T00:00:00"), None);
        assert_eq!(
            parse_timestamp("1970-01-01 09:00:01+09"),
            Some((1_000_000, true))
        );
        assert_eq!(parse_timestamp("hello world, how are you"), None);
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("1970-1-2"), None);
    }

    #[test]
    fn declared_types_parse() {
        assert_eq!(parse_type("bigint").unwrap(), JType::BigInt);
        assert_eq!(
            parse_type("VARCHAR[]").unwrap(),
            JType::List(Box::new(JType::Varchar))
        );
        assert_eq!(
            parse_type("TIMESTAMP WITH TIME ZONE").unwrap(),
            JType::TimestampTz
        );
        assert_eq!(
            parse_type("STRUCT(city VARCHAR, \"zip code\" INTEGER)[]").unwrap(),
            JType::List(Box::new(JType::Struct(vec![
                ("city".into(), JType::Varchar),
                ("zip code".into(), JType::Integer)
            ])))
        );
        assert!(
            parse_type("DECIMAL(10,2)")
                .unwrap_err()
                .contains("supported: BOOLEAN")
        );
        assert!(parse_type("STRUCT(a)").is_err());
    }

    #[test]
    fn huge_unsigned_numbers_stay_text() {
        assert_eq!(type_of(&json!(18446744073709551615u64)), JType::Varchar);
        assert_eq!(type_of(&json!(-5)), JType::BigInt);
    }

    #[test]
    fn declared_types_nested_beyond_the_limit_fail_fast_naming_the_limit() {
        // C1: 10,000 list levels or 20,000 STRUCT( segfaulted the host; 2,000 took 1.8 s.
        let lists = format!("BIGINT{}", "[]".repeat(10_000));
        let structs = format!("{}BIGINT", "STRUCT(a ".repeat(20_000));
        for text in [&lists, &structs] {
            let started = std::time::Instant::now();
            let err = parse_type(text).unwrap_err();
            assert!(started.elapsed() < std::time::Duration::from_millis(200));
            assert!(
                err.contains("nests more than 100 LIST/STRUCT levels"),
                "{err}"
            );
            assert!(err.len() < 300, "the type is shown shortened: {err}");
        }
        let at_limit = format!("BIGINT{}", "[]".repeat(MAX_DEPTH));
        assert_eq!(parse_type(&at_limit).unwrap().depth(), MAX_DEPTH);
        let mixed = format!("{}BIGINT{}[]", "STRUCT(a ".repeat(50), ")".repeat(50));
        assert!(parse_type(&format!("{mixed}{}", "[]".repeat(49))).is_ok());
        assert!(parse_type(&format!("{mixed}{}", "[]".repeat(50))).is_err());
    }

    #[test]
    fn declared_types_parse_in_linear_time() {
        // Many TIMESTAMP fields: the zone check must not copy the rest of the text each time.
        let fields: Vec<String> = (0..20_000).map(|i| format!("f{i} TIMESTAMP")).collect();
        let text = format!("STRUCT({})", fields.join(", "));
        let started = std::time::Instant::now();
        let t = parse_type(&text).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(t.depth(), 1);
    }

    #[test]
    fn values_nested_beyond_the_limit_are_inferred_as_json() {
        let mut v = json!(1);
        for _ in 0..120 {
            v = json!([v]);
        }
        let t = type_of(&v);
        assert_eq!(t.depth(), MAX_DEPTH);
        let mut inner = &t;
        for _ in 0..MAX_DEPTH {
            inner = match inner {
                JType::List(c) => c,
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(inner, &JType::Json);
    }

    #[test]
    fn integers_beyond_64_bits_become_strings_only_outside_strings() {
        assert_eq!(quote_big_integers(br#"{"a": 1, "b": [2.5, -3e400]}"#), None);
        assert_eq!(
            quote_big_integers(br#"{"u": 18446744073709551615, "i": -9223372036854775808}"#),
            None
        );
        let q = quote_big_integers(
            br#"{"a": 123456789012345678901234567890, "s": "99999999999999999999", "b": [-9223372036854775809], "f": 123456789012345678901.5}"#,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&q).unwrap(),
            r#"{"a": "123456789012345678901234567890", "s": "99999999999999999999", "b": ["-9223372036854775809"], "f": 123456789012345678901.5}"#
        );
        let v: Value = serde_json::from_slice(&q).unwrap();
        assert_eq!(type_of(&v["a"]), JType::Varchar);
        assert_eq!(
            quote_big_integers(br#"["a\"b", 18446744073709551616]"#).unwrap(),
            br#"["a\"b", "18446744073709551616"]"#
        );
    }

    #[test]
    fn names_that_differ_only_in_case_are_found_at_any_level() {
        let t = |names: &[&str]| -> Vec<(String, JType)> {
            names
                .iter()
                .map(|n| (n.to_string(), JType::BigInt))
                .collect()
        };
        assert_eq!(name_clash(&t(&["a", "b", "c"])), None);
        assert!(
            name_clash(&t(&["id", "name", "Name"]))
                .unwrap()
                .starts_with("the fields 'name' and 'Name' differ only in case")
        );
        let nested = vec![(
            "o".to_string(),
            JType::List(Box::new(JType::Struct(t(&["ab", "a\0B"])))),
        )];
        let e = name_clash(&nested).unwrap();
        assert!(e.contains("'o.ab' and 'o.a\\0B'"), "{e}");
        // linear: 100,000 distinct names
        let many: Vec<String> = (0..100_000).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(name_clash(&t(&refs)), None);
    }
}
