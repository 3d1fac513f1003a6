//! Pages straight into column buffers: the response body is parsed once, with serde, and each
//! record's fields go directly into typed columns (no JSON tree per record). Only the columns
//! the query needs are kept; the rest is skipped while parsing. The fields around the records
//! (`total`, `links.next`, ...) are kept as a small JSON value for the paginator.

use super::schema::{JType, number_text, parse_date, parse_timestamp_offset};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// What to decode and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The full schema (top-level columns).
    pub columns: Vec<(String, JType)>,
    /// Schema indices to materialise, in output order.
    pub projected: Vec<usize>,
    /// A field not in the schema is an error (inferred schemas), or is skipped.
    pub unknown_error: bool,
    /// Each record as one JSON text column.
    pub json_column: bool,
    /// A top-level field whose value of the page's last record the paginator needs.
    pub cursor_field: Option<String>,
    /// Skip records whose `.0` field is older than `.1` (incremental loads).
    pub incremental: Option<(String, super::incremental::Watermark)>,
    /// The schema was inferred from a sample: a value fits a column only as it would have in
    /// the sample (a string never fits a number or boolean column: in the sample it would
    /// have made the column VARCHAR). Declared columns also convert numeric strings.
    pub inferred: bool,
}

/// Why a page could not be decoded. `record` is 0-based within the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Misfit {
        record: usize,
        path: String,
        kind: &'static str,
        shown: String,
        ty: String,
    },
    Unknown {
        record: usize,
        path: String,
    },
    Missing {
        at: String,
        keys: Vec<String>,
    },
    Json(String),
}

/// One typed column of decoded rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Bool {
        values: Vec<bool>,
        valid: Vec<bool>,
    },
    Int {
        values: Vec<i64>,
        valid: Vec<bool>,
    },
    Double {
        values: Vec<f64>,
        valid: Vec<bool>,
    },
    /// DATE (days) as i32 and INTEGER
    Int32 {
        values: Vec<i32>,
        valid: Vec<bool>,
    },
    Text {
        bytes: Vec<u8>,
        ends: Vec<usize>,
        valid: Vec<bool>,
    },
    List {
        entries: Vec<(usize, usize)>,
        valid: Vec<bool>,
        child: Box<Column>,
    },
    Struct {
        fields: Vec<Column>,
        valid: Vec<bool>,
    },
}

impl Column {
    pub fn new(ty: &JType) -> Column {
        match ty {
            JType::Boolean => Column::Bool {
                values: vec![],
                valid: vec![],
            },
            JType::BigInt | JType::Timestamp | JType::TimestampTz => Column::Int {
                values: vec![],
                valid: vec![],
            },
            JType::Integer | JType::Date => Column::Int32 {
                values: vec![],
                valid: vec![],
            },
            JType::Double => Column::Double {
                values: vec![],
                valid: vec![],
            },
            JType::Null | JType::Varchar | JType::Json => Column::Text {
                bytes: vec![],
                ends: vec![],
                valid: vec![],
            },
            JType::List(child) => Column::List {
                entries: vec![],
                valid: vec![],
                child: Box::new(Column::new(child)),
            },
            JType::Struct(fields) => Column::Struct {
                fields: fields.iter().map(|(_, t)| Column::new(t)).collect(),
                valid: vec![],
            },
        }
    }

    pub fn valid(&self) -> &[bool] {
        match self {
            Column::Bool { valid, .. }
            | Column::Int { valid, .. }
            | Column::Double { valid, .. }
            | Column::Int32 { valid, .. }
            | Column::Text { valid, .. }
            | Column::List { valid, .. }
            | Column::Struct { valid, .. } => valid,
        }
    }

    pub fn len(&self) -> usize {
        self.valid().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push_null(&mut self) {
        match self {
            Column::Bool { values, valid } => {
                values.push(false);
                valid.push(false);
            }
            Column::Int { values, valid } => {
                values.push(0);
                valid.push(false);
            }
            Column::Double { values, valid } => {
                values.push(0.0);
                valid.push(false);
            }
            Column::Int32 { values, valid } => {
                values.push(0);
                valid.push(false);
            }
            Column::Text { bytes, ends, valid } => {
                ends.push(bytes.len());
                valid.push(false);
            }
            Column::List {
                entries,
                valid,
                child,
            } => {
                entries.push((child.len(), 0));
                valid.push(false);
            }
            Column::Struct { fields, valid } => {
                for f in fields.iter_mut() {
                    f.push_null();
                }
                valid.push(false);
            }
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Column::Text { bytes, ends, valid } = self {
            bytes.extend_from_slice(text.as_bytes());
            ends.push(bytes.len());
            valid.push(true);
        }
    }

    /// The text of row `i` of a Text column.
    pub fn text(&self, i: usize) -> &str {
        match self {
            Column::Text { bytes, ends, .. } => {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                // Only whole UTF-8 strings are ever appended.
                std::str::from_utf8(&bytes[start..ends[i]]).unwrap_or("")
            }
            _ => "",
        }
    }

    /// Drops rows from `rows` on (undoes a record that is filtered out), also the parts of a
    /// row whose value failed halfway (children of a LIST or STRUCT not yet counted).
    pub fn truncate(&mut self, rows: usize) {
        match self {
            Column::Bool { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
            Column::Int { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
            Column::Double { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
            Column::Int32 { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
            Column::Text { bytes, ends, valid } => {
                ends.truncate(rows);
                valid.truncate(rows);
                bytes.truncate(ends.last().copied().unwrap_or(0));
            }
            Column::List {
                entries,
                valid,
                child,
            } => {
                entries.truncate(rows);
                valid.truncate(rows);
                let child_len = entries.last().map(|e| e.0 + e.1).unwrap_or(0);
                child.truncate(child_len);
            }
            Column::Struct { fields, valid } => {
                for f in fields.iter_mut() {
                    f.truncate(rows);
                }
                valid.truncate(rows);
            }
        }
    }
}

/// Decoded rows of one page: one column per projected schema column, in output order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub columns: Vec<Column>,
}

impl Batch {
    pub fn new(plan: &Plan) -> Batch {
        Batch {
            rows: 0,
            columns: plan
                .projected
                .iter()
                .map(|&i| Column::new(&plan.columns[i].1))
                .collect(),
        }
    }

    pub fn truncate(&mut self, rows: usize) {
        if rows < self.rows {
            for c in &mut self.columns {
                c.truncate(rows);
            }
            self.rows = rows;
        }
    }
}

/// A decoded page: rows, the body without the records (for the paginator), how many records
/// the page held before filtering, and the cursor field of its last record.
#[derive(Debug)]
pub struct Decoded {
    pub batch: Batch,
    pub meta: Value,
    pub records: usize,
    pub last_cursor: Option<Value>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shown(text: String) -> String {
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// A number that does not fit its column is shown as serde_json read it, which for integers
/// beyond 64 bits is a rounded f64. On this error path only, the page is decoded again with
/// that field as text (a fresh plan with only its column), to show the value's own digits.
/// Fields inside lists, or not found, keep the message as it was.
pub fn exact_misfit(
    fault: Fault,
    plan: &Plan,
    decode: impl Fn(&Plan) -> Result<Decoded, Fault>,
) -> Fault {
    let Fault::Misfit {
        record,
        path,
        kind: "number",
        ty,
        ..
    } = &fault
    else {
        return fault;
    };
    let segments: Vec<&str> = path.split('.').collect();
    let Some(top) = plan.columns.iter().position(|(n, _)| n == segments[0]) else {
        return fault;
    };
    let mut columns = plan.columns.clone();
    if !as_text_at(&mut columns[top].1, &segments[1..]) {
        return fault;
    }
    let probe = Plan {
        columns,
        projected: vec![top],
        unknown_error: false,
        json_column: false,
        cursor_field: None,
        incremental: None,
        inferred: false,
    };
    let Ok(decoded) = decode(&probe) else {
        return fault;
    };
    let mut column = decoded.batch.columns.first();
    let mut ty_at = &probe.columns[top].1;
    for segment in &segments[1..] {
        let (Some(Column::Struct { fields, .. }), JType::Struct(types)) = (column, ty_at) else {
            return fault;
        };
        let Some(i) = types.iter().position(|(n, _)| n == segment) else {
            return fault;
        };
        column = fields.get(i);
        ty_at = &types[i].1;
    }
    match column {
        Some(c @ Column::Text { .. }) if c.valid().get(*record) == Some(&true) => Fault::Misfit {
            record: *record,
            path: path.clone(),
            kind: "number",
            shown: shown(c.text(*record).to_string()),
            ty: ty.clone(),
        },
        _ => fault,
    }
}

/// Makes the field at `path` (STRUCT field names) of `t` VARCHAR; false when there is none.
fn as_text_at(t: &mut JType, path: &[&str]) -> bool {
    match path.split_first() {
        None => {
            *t = JType::Varchar;
            true
        }
        Some((segment, rest)) => match t {
            JType::Struct(fields) => fields
                .iter_mut()
                .find(|(n, _)| n == segment)
                .is_some_and(|(_, ft)| as_text_at(ft, rest)),
            _ => false,
        },
    }
}

/// Shared state of one page decode: the first fault, and the current record number.
struct Ctx<'p> {
    plan: &'p Plan,
    fault: RefCell<Option<Fault>>,
    record: std::cell::Cell<usize>,
    /// A page that failed on a misfit is decoded again in this mode: each object field is read
    /// as text first and a misfit is held until the object ends, so that a repeated key's
    /// earlier value (which the last one replaces) is never checked.
    last_key_wins: bool,
}

impl Ctx<'_> {
    /// In [`Ctx::last_key_wins`] mode: decodes one object field (its JSON text) into `col`;
    /// a misfit truncates `col` back to `start` rows and is returned as held (`Ok(Some)`).
    fn held_field(
        &self,
        col: &mut Column,
        ty: &JType,
        path: &str,
        raw: &RawValue,
        start: usize,
    ) -> Result<Option<Fault>, serde_json::Error> {
        let mut inner = serde_json::Deserializer::from_str(raw.get());
        match (Into {
            ctx: self,
            col: &mut *col,
            ty,
            path,
        })
        .deserialize(&mut inner)
        {
            Ok(()) => Ok(None),
            Err(e) => match self.fault.borrow_mut().take() {
                Some(fault @ Fault::Misfit { .. }) => {
                    col.truncate(start);
                    Ok(Some(fault))
                }
                Some(other) => Err(self.fail(other)),
                None => Err(e),
            },
        }
    }

    fn fail<E: de::Error>(&self, fault: Fault) -> E {
        let mut slot = self.fault.borrow_mut();
        if slot.is_none() {
            *slot = Some(fault);
        }
        E::custom("decode fault")
    }
    fn misfit<E: de::Error>(&self, path: &str, value: &Value, ty: &JType) -> E {
        self.fail(Fault::Misfit {
            record: self.record.get(),
            path: path.to_string(),
            kind: misfit_kind(value, ty),
            shown: shown(value.to_string()),
            ty: ty.to_string(),
        })
    }
}

/// Pushes a JSON value into a column of type `ty` (used for prefetched pages and for fields
/// read as values, such as the cursor field).
fn push_value(
    ctx: &Ctx<'_>,
    col: &mut Column,
    ty: &JType,
    v: &Value,
    path: &str,
) -> Result<(), Fault> {
    let misfit = || Fault::Misfit {
        record: ctx.record.get(),
        path: path.to_string(),
        kind: misfit_kind(v, ty),
        shown: shown(v.to_string()),
        ty: ty.to_string(),
    };
    if v.is_null() {
        col.push_null();
        return Ok(());
    }
    match (ty, col) {
        (JType::Boolean, Column::Bool { values, valid }) => {
            let b = match v {
                Value::Bool(b) => *b,
                Value::String(s) if !ctx.plan.inferred && (s == "true" || s == "false") => {
                    s == "true"
                }
                _ => return Err(misfit()),
            };
            values.push(b);
            valid.push(true);
        }
        (JType::BigInt, Column::Int { values, valid }) => {
            values.push(as_i64(v, ctx.plan.inferred).ok_or_else(misfit)?);
            valid.push(true);
        }
        (JType::Integer, Column::Int32 { values, valid }) => {
            let n = as_i64(v, ctx.plan.inferred)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(misfit)?;
            values.push(n);
            valid.push(true);
        }
        (JType::Double, Column::Double { values, valid }) => {
            let x = match v {
                Value::Number(n) => n.as_f64().ok_or_else(misfit)?,
                Value::String(s) if !ctx.plan.inferred => number_text(s).ok_or_else(misfit)?,
                _ => return Err(misfit()),
            };
            values.push(x);
            valid.push(true);
        }
        (JType::Date, Column::Int32 { values, valid }) => {
            let d = v.as_str().and_then(parse_date).ok_or_else(misfit)?;
            values.push(d);
            valid.push(true);
        }
        (JType::Timestamp | JType::TimestampTz, Column::Int { values, valid }) => {
            let us = v
                .as_str()
                .and_then(|s| timestamp_micros(s, ty))
                .ok_or_else(misfit)?;
            values.push(us);
            valid.push(true);
        }
        (JType::Null | JType::Varchar, col @ Column::Text { .. }) => match v {
            Value::String(s) => col.push_text(s),
            other => col.push_text(&other.to_string()),
        },
        (JType::Json, col @ Column::Text { .. }) => col.push_text(&v.to_string()),
        (
            JType::List(child_ty),
            Column::List {
                entries,
                valid,
                child,
            },
        ) => {
            let Value::Array(items) = v else {
                return Err(misfit());
            };
            let start = child.len();
            let child_path = format!("{path}[]");
            for item in items {
                push_value(ctx, child, child_ty, item, &child_path)?;
            }
            entries.push((start, items.len()));
            valid.push(true);
        }
        (
            JType::Struct(fields),
            Column::Struct {
                fields: cols,
                valid,
            },
        ) => {
            let Value::Object(map) = v else {
                return Err(misfit());
            };
            if ctx.plan.unknown_error
                && let Some(extra) = map.keys().find(|k| !fields.iter().any(|(n, _)| n == *k))
            {
                return Err(Fault::Unknown {
                    record: ctx.record.get(),
                    path: format!("{path}.{extra}"),
                });
            }
            for ((name, fty), col) in fields.iter().zip(cols.iter_mut()) {
                match map.get(name) {
                    Some(fv) => push_value(ctx, col, fty, fv, &format!("{path}.{name}"))?,
                    None => col.push_null(),
                }
            }
            valid.push(true);
        }
        _ => return Err(misfit()),
    }
    Ok(())
}

/// Pushes a field read both as a value and as its JSON text: text columns take the text.
fn push_field(
    ctx: &Ctx<'_>,
    col: &mut Column,
    ty: &JType,
    v: &Value,
    raw: &str,
    path: &str,
) -> Result<(), Fault> {
    if matches!(ty, JType::Null | JType::Varchar | JType::Json) {
        return push_raw_text(col, ty, raw).map_err(|e| Fault::Json(e.to_string()));
    }
    push_value(ctx, col, ty, v, path)
}

/// Microseconds for a TIMESTAMP (`ty`) or TIMESTAMPTZ column: a TIMESTAMP column takes
/// timestamps without a zone and UTC ones (`Z`, `+00:00`: the same wall clock, nothing
/// shifts), a TIMESTAMPTZ column only ones with a zone (as in the sample, where the two never
/// share a type), so no value is shifted silently. A date is midnight (UTC) in both.
fn timestamp_micros(s: &str, ty: &JType) -> Option<i64> {
    match parse_timestamp_offset(s) {
        Some((us, None | Some(0))) if *ty == JType::Timestamp => Some(us),
        Some((us, Some(_))) if *ty == JType::TimestampTz => Some(us),
        Some(_) => None,
        None => parse_date(s).map(|d| d as i64 * 86_400_000_000),
    }
}

/// The kind of value shown in a misfit: a timestamp with a zone offset other than UTC met by a
/// TIMESTAMP column is named as such (the error then says to declare TIMESTAMPTZ).
fn misfit_kind(v: &Value, ty: &JType) -> &'static str {
    match v {
        Value::String(s)
            if *ty == JType::Timestamp
                && parse_timestamp_offset(s).is_some_and(|(_, o)| o.is_some_and(|o| o != 0)) =>
        {
            ZONED_KIND
        }
        _ => kind(v),
    }
}

/// [`misfit_kind`] of a timestamp with a zone offset other than UTC.
pub const ZONED_KIND: &str = "zoned timestamp";

/// An integer from a JSON number (whole floats accepted) or, unless `inferred`, a numeric
/// string.
pub fn as_i64(v: &Value, inferred: bool) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) if !inferred => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming: one value into one column
// ---------------------------------------------------------------------------------------------

struct Into<'a, 'p> {
    ctx: &'a Ctx<'p>,
    col: &'a mut Column,
    ty: &'a JType,
    path: &'a str,
}

impl<'de> DeserializeSeed<'de> for Into<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if matches!(self.ty, JType::Null | JType::Varchar | JType::Json) {
            // Text columns keep the value's own text: a number is never re-printed (integers
            // beyond 64 bits would come back rounded through f64).
            let raw: &'de RawValue = Deserialize::deserialize(d)?;
            push_raw_text(self.col, self.ty, raw.get()).map_err(de::Error::custom)?;
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

/// Pushes the JSON text `raw` of one value into a VARCHAR or JSON column: null is NULL; a
/// JSON column keeps the text (without insignificant whitespace); a VARCHAR column keeps a
/// string's content and any other value's text.
fn push_raw_text(col: &mut Column, ty: &JType, raw: &str) -> Result<(), serde_json::Error> {
    let b = raw.as_bytes();
    if b == b"null" {
        col.push_null();
        return Ok(());
    }
    let Column::Text { bytes, ends, valid } = col else {
        return Ok(());
    };
    if *ty != JType::Json && b.first() == Some(&b'"') {
        let inner = &b[1..b.len() - 1];
        match inner.iter().position(|&c| c == b'\\') {
            None => bytes.extend_from_slice(inner),
            Some(first) => {
                let start = bytes.len();
                if !unescape_into(bytes, inner, first) {
                    // not a well-formed escape (a lone surrogate): serde_json's rule and error
                    bytes.truncate(start);
                    let text: String = serde_json::from_str(raw)?;
                    bytes.extend_from_slice(text.as_bytes());
                }
            }
        }
    } else {
        compact_into(bytes, b);
    }
    ends.push(bytes.len());
    valid.push(true);
    Ok(())
}

/// Appends the content of a JSON string (`inner`: between the quotes, valid JSON, its first
/// backslash at `first`) to `out`, unescaped, without allocating. False (with `out` partly
/// written) for an escape this does not read (a lone surrogate, a malformed `\u`).
fn unescape_into(out: &mut Vec<u8>, inner: &[u8], first: usize) -> bool {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = inner.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        u32::from_str_radix(text, 16).ok()
    };
    out.extend_from_slice(&inner[..first]);
    let mut i = first;
    while i < inner.len() {
        let Some(rel) = inner[i..].iter().position(|&c| c == b'\\') else {
            out.extend_from_slice(&inner[i..]);
            return true;
        };
        out.extend_from_slice(&inner[i..i + rel]);
        i += rel;
        let Some(&e) = inner.get(i + 1) else {
            return false;
        };
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        if e != b'u' {
            return false;
        }
        let Some(hi) = hex4(i + 2) else {
            return false;
        };
        i += 6;
        let code = if (0xD800..0xDC00).contains(&hi) {
            // a surrogate pair: \uD83D\uDE00
            if inner.get(i..i + 2) != Some(b"\\u".as_slice()) {
                return false;
            }
            let Some(lo) = hex4(i + 2).filter(|lo| (0xDC00..0xE000).contains(lo)) else {
                return false;
            };
            i += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        let Some(ch) = char::from_u32(code) else {
            return false;
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    true
}

/// Appends JSON text without the whitespace between tokens (strings are copied unchanged).
fn compact_into(out: &mut Vec<u8>, json: &[u8]) {
    if !json
        .iter()
        .any(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
    {
        out.extend_from_slice(json);
        return;
    }
    let mut in_string = false;
    let mut escaped = false;
    for &c in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            continue;
        }
        out.push(c);
    }
}

impl Into<'_, '_> {
    /// Falls back to the value form (rare shapes: text conversions, nested into VARCHAR).
    fn via_value<E: de::Error>(self, v: Value) -> Result<(), E> {
        push_value(self.ctx, self.col, self.ty, &v, self.path).map_err(|f| self.ctx.fail(f))
    }
}

impl<'de> Visitor<'de> for Into<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.col.push_null();
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        match self.col {
            Column::Bool { values, valid } => {
                values.push(b);
                valid.push(true);
                Ok(())
            }
            _ => self.via_value(Value::Bool(b)),
        }
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        match (self.ty, &mut *self.col) {
            (JType::BigInt, Column::Int { values, valid }) => {
                values.push(n);
                valid.push(true);
                Ok(())
            }
            (JType::Double, Column::Double { values, valid }) => {
                values.push(n as f64);
                valid.push(true);
                Ok(())
            }
            _ => self.via_value(Value::from(n)),
        }
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        match i64::try_from(n) {
            Ok(i) => self.visit_i64(i),
            Err(_) => self.via_value(Value::from(n)),
        }
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        match self.col {
            Column::Double { values, valid } => {
                values.push(x);
                valid.push(true);
                Ok(())
            }
            _ => self.via_value(
                serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            ),
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        match (self.ty, &mut *self.col) {
            (JType::Null | JType::Varchar, col) => {
                col.push_text(s);
                Ok(())
            }
            (JType::Timestamp | JType::TimestampTz, Column::Int { values, valid }) => {
                match timestamp_micros(s, self.ty) {
                    Some(us) => {
                        values.push(us);
                        valid.push(true);
                        Ok(())
                    }
                    None => Err(self
                        .ctx
                        .misfit(self.path, &Value::String(s.to_string()), self.ty)),
                }
            }
            (JType::Date, Column::Int32 { values, valid }) => match parse_date(s) {
                Some(d) => {
                    values.push(d);
                    valid.push(true);
                    Ok(())
                }
                None => Err(self
                    .ctx
                    .misfit(self.path, &Value::String(s.to_string()), self.ty)),
            },
            _ => self.via_value(Value::String(s.to_string())),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match (self.ty, &mut *self.col) {
            (
                JType::List(child_ty),
                Column::List {
                    entries,
                    valid,
                    child,
                },
            ) => {
                let start = child.len();
                let child_path = format!("{}[]", self.path);
                let mut n = 0;
                while seq
                    .next_element_seed(Into {
                        ctx: self.ctx,
                        col: child,
                        ty: child_ty,
                        path: &child_path,
                    })?
                    .is_some()
                {
                    n += 1;
                }
                entries.push((start, n));
                valid.push(true);
                Ok(())
            }
            _ => {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                self.via_value(v)
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match (self.ty, &mut *self.col) {
            (
                JType::Struct(fields),
                Column::Struct {
                    fields: cols,
                    valid,
                },
            ) => {
                let start = valid.len();
                let mut held: Vec<Option<Fault>> = Vec::new();
                if self.ctx.last_key_wins {
                    held.resize(fields.len(), None);
                }
                while let Some(key) = map.next_key_seed(KeySeed)? {
                    match fields.iter().position(|(n, _)| n.as_str() == key.as_ref()) {
                        Some(i) => {
                            // A repeated key: the last value counts (as in the sample).
                            if cols[i].len() > start {
                                cols[i].truncate(start);
                            }
                            let path = format!("{}.{}", self.path, key);
                            if self.ctx.last_key_wins {
                                let raw: &'de RawValue = map.next_value()?;
                                held[i] = self
                                    .ctx
                                    .held_field(&mut cols[i], &fields[i].1, &path, raw, start)
                                    .map_err(de::Error::custom)?;
                                continue;
                            }
                            map.next_value_seed(Into {
                                ctx: self.ctx,
                                col: &mut cols[i],
                                ty: &fields[i].1,
                                path: &path,
                            })?;
                        }
                        None if self.ctx.plan.unknown_error => {
                            return Err(self.ctx.fail(Fault::Unknown {
                                record: self.ctx.record.get(),
                                path: format!("{}.{}", self.path, key),
                            }));
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if let Some(fault) = held.into_iter().flatten().next() {
                    return Err(self.ctx.fail(fault));
                }
                for c in cols.iter_mut() {
                    if c.len() == start {
                        c.push_null();
                    }
                }
                valid.push(true);
                Ok(())
            }
            _ => {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                self.via_value(v)
            }
        }
    }
}

use serde::Deserialize;

/// Object keys, borrowed when they have no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming: records
// ---------------------------------------------------------------------------------------------

/// A JSON value from its text (a raw value serde_json has read), with integers beyond 64 bits
/// as strings of their digits (a cursor or watermark value is sent back or compared exactly,
/// never through f64).
pub fn exact_value(raw: &str) -> Result<Value, serde_json::Error> {
    let b = raw.as_bytes();
    // The usual cursor values, read without the scan for big integers: an integer of up to
    // 18 digits (always an i64), a string without escapes.
    match b.first() {
        // ("-0" is -0.0 to serde_json)
        Some(b'-' | b'0'..=b'9')
            if b.len() <= 18 && b[1..].iter().all(u8::is_ascii_digit) && raw != "-0" =>
        {
            if let Ok(n) = raw.parse::<i64>() {
                return Ok(Value::from(n));
            }
        }
        Some(b'"')
            if b.len() >= 2
                && b[b.len() - 1] == b'"'
                && !b[1..b.len() - 1]
                    .iter()
                    .any(|&c| c == b'\\' || c == b'"' || c < 0x20) =>
        {
            return Ok(Value::String(raw[1..raw.len() - 1].to_string()));
        }
        _ => {}
    }
    match super::schema::quote_big_integers(b) {
        Some(quoted) => serde_json::from_slice(&quoted),
        None => serde_json::from_str(raw),
    }
}

/// A record kept whole as JSON text (json_column). The cursor and incremental fields are read
/// from it when pagination or filtering needs them.
fn push_raw(
    plan: &Plan,
    batch: &mut Batch,
    last_cursor: &mut Option<Value>,
    raw: &RawValue,
) -> Result<(), serde_json::Error> {
    if plan.cursor_field.is_some() || plan.incremental.is_some() {
        let record = exact_value(raw.get())?;
        if let Some(field) = &plan.cursor_field {
            *last_cursor = record.get(field.as_str()).cloned();
        }
        if let Some((column, bound)) = &plan.incremental
            && super::incremental::older_than(record.get(column.as_str()), bound)
        {
            return Ok(());
        }
    }
    if let Some(c) = batch.columns.first_mut() {
        c.push_text(raw.get());
    }
    batch.rows += 1;
    Ok(())
}

/// Where each schema column goes (output position), per plan.
struct Layout {
    slot: Vec<Option<usize>>,
    seen: Vec<bool>,
    /// The schema is the one column `value` (records that are not objects): each record is
    /// decoded as that column's value.
    value_only: bool,
}

struct Records<'a, 'p> {
    ctx: &'a Ctx<'p>,
    batch: &'a mut Batch,
    layout: &'a mut Layout,
    count: &'a mut usize,
    last_cursor: &'a mut Option<Value>,
}

impl<'p> Records<'_, 'p> {
    fn one<E: de::Error>(self, v: Value) -> Result<(), E> {
        self.ctx.record.set(*self.count);
        if self.ctx.plan.json_column {
            if let Some(c) = self.batch.columns.first_mut() {
                c.push_text(&v.to_string());
            }
            self.batch.rows += 1;
        } else {
            Record {
                ctx: self.ctx,
                batch: self.batch,
                layout: self.layout,
                last_cursor: self.last_cursor,
            }
            .scalar(v)?;
        }
        *self.count += 1;
        Ok(())
    }
    fn reborrow(&mut self) -> Records<'_, 'p> {
        Records {
            ctx: self.ctx,
            batch: self.batch,
            layout: self.layout,
            count: self.count,
            last_cursor: self.last_cursor,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of records")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    // A scalar where the records are expected is the one record (as for the sample's values).
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.one(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.one(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.one(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        self.one(
            serde_json::Number::from_f64(x)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        )
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.one(Value::String(s.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Records {
            ctx,
            batch,
            layout,
            count,
            last_cursor,
        } = self;
        loop {
            ctx.record.set(*count);
            let more = if ctx.plan.json_column {
                match seq.next_element::<&'de RawValue>()? {
                    Some(raw) => {
                        push_raw(ctx.plan, batch, last_cursor, raw).map_err(de::Error::custom)?;
                        true
                    }
                    None => false,
                }
            } else {
                seq.next_element_seed(Record {
                    ctx,
                    batch,
                    layout,
                    last_cursor,
                })?
                .is_some()
            };
            if !more {
                return Ok(());
            }
            *count += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // An object where the records are expected: it is the one record.
        let Records {
            ctx,
            batch,
            layout,
            count,
            last_cursor,
        } = self;
        ctx.record.set(*count);
        Record {
            ctx,
            batch,
            layout,
            last_cursor,
        }
        .visit_map(map)?;
        *count += 1;
        Ok(())
    }
}

struct Record<'a, 'p> {
    ctx: &'a Ctx<'p>,
    batch: &'a mut Batch,
    layout: &'a mut Layout,
    last_cursor: &'a mut Option<Value>,
}

impl<'de> DeserializeSeed<'de> for Record<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.ctx.plan.json_column {
            let raw: &RawValue = Deserialize::deserialize(d)?;
            push_raw(self.ctx.plan, self.batch, self.last_cursor, raw)
                .map_err(de::Error::custom)?;
            return Ok(());
        }
        if self.layout.value_only {
            // Records that are not objects are the column `value`: decode them like any
            // field (text columns keep their text). Objects are read as records.
            let raw: &'de RawValue = Deserialize::deserialize(d)?;
            let mut inner = serde_json::Deserializer::from_str(raw.get());
            let result = if raw.get().starts_with('{') {
                de::Deserializer::deserialize_any(&mut inner, self)
            } else {
                self.scalar_raw(&mut inner)
            };
            return result.map_err(de::Error::custom);
        }
        d.deserialize_any(self)
    }
}

impl Record<'_, '_> {
    /// A record that is not an object, streamed into the column `value`.
    fn scalar_raw<'de>(
        self,
        inner: &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    ) -> Result<(), serde_json::Error> {
        let plan = self.ctx.plan;
        for (out, &i) in plan.projected.iter().enumerate() {
            let (name, ty) = &plan.columns[i];
            Into {
                ctx: self.ctx,
                col: &mut self.batch.columns[out],
                ty,
                path: name,
            }
            .deserialize(&mut *inner)?;
        }
        self.batch.rows += 1;
        Ok(())
    }

    /// A record that is not an object is the single column `value`.
    fn scalar<E: de::Error>(self, v: Value) -> Result<(), E> {
        let plan = self.ctx.plan;
        let row = self.batch.rows;
        for (out, &i) in plan.projected.iter().enumerate() {
            let (name, ty) = &plan.columns[i];
            let col = &mut self.batch.columns[out];
            if name == "value" {
                push_value(self.ctx, col, ty, &v, name).map_err(|f| self.ctx.fail(f))?;
            } else {
                col.push_null();
            }
        }
        debug_assert!(self.batch.columns.iter().all(|c| c.len() == row + 1));
        self.batch.rows += 1;
        Ok(())
    }
}

impl<'de> Visitor<'de> for Record<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a record")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.scalar(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.scalar(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.scalar(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        self.scalar(
            serde_json::Number::from_f64(x)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        )
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.scalar(Value::String(s.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.scalar(v)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Record {
            ctx,
            batch,
            layout,
            last_cursor,
        } = self;
        let plan = ctx.plan;
        let row = batch.rows;
        layout.seen.iter_mut().for_each(|s| *s = false);
        let mut drop_record = false;
        let mut cursor_seen = false;
        // last_key_wins mode: a misfit per column, held until the record ends
        let mut held: Vec<Option<Fault>> = Vec::new();
        if ctx.last_key_wins {
            held.resize(plan.columns.len(), None);
        }
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let i = plan
                .columns
                .iter()
                .position(|(n, _)| n.as_str() == key.as_ref());
            let is_cursor = plan.cursor_field.as_deref() == Some(key.as_ref());
            let incremental = plan
                .incremental
                .as_ref()
                .filter(|(c, _)| c.as_str() == key.as_ref());
            if let Some(i) = i {
                // A repeated key: the last value counts (as in the sample and in meta).
                if layout.seen[i]
                    && let Some(out) = layout.slot[i]
                {
                    batch.columns[out].truncate(row);
                }
                if let Some(h) = held.get_mut(i) {
                    *h = None;
                }
                layout.seen[i] = true;
            }
            if is_cursor || incremental.is_some() {
                // Needed as a value (pagination, incremental filter), even when the column is
                // not in a fixed schema: read it once as text, then push it.
                let raw: &'de RawValue = map.next_value()?;
                let v = exact_value(raw.get()).map_err(de::Error::custom)?;
                if let Some((_, bound)) = incremental {
                    drop_record = super::incremental::older_than(Some(&v), bound);
                }
                if let Some(i) = i
                    && let Some(out) = layout.slot[i]
                {
                    let (name, ty) = &plan.columns[i];
                    let col = &mut batch.columns[out];
                    match push_field(ctx, col, ty, &v, raw.get(), name) {
                        Ok(()) => {}
                        Err(f @ Fault::Misfit { .. }) if ctx.last_key_wins => {
                            col.truncate(row);
                            held[i] = Some(f);
                        }
                        Err(f) => return Err(ctx.fail(f)),
                    }
                }
                if is_cursor {
                    *last_cursor = Some(v);
                    cursor_seen = true;
                }
                continue;
            }
            let Some(i) = i else {
                if plan.unknown_error {
                    return Err(ctx.fail(Fault::Unknown {
                        record: ctx.record.get(),
                        path: key.into_owned(),
                    }));
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match layout.slot[i] {
                Some(out) if ctx.last_key_wins => {
                    let raw: &'de RawValue = map.next_value()?;
                    let (name, ty) = &plan.columns[i];
                    held[i] = ctx
                        .held_field(&mut batch.columns[out], ty, name, raw, row)
                        .map_err(de::Error::custom)?;
                }
                Some(out) => map.next_value_seed(Into {
                    ctx,
                    col: &mut batch.columns[out],
                    ty: &plan.columns[i].1,
                    path: &plan.columns[i].0,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(fault) = held.into_iter().flatten().next() {
            return Err(ctx.fail(fault));
        }
        for (out, &i) in plan.projected.iter().enumerate() {
            if !layout.seen[i] {
                batch.columns[out].push_null();
            }
        }
        if plan.cursor_field.is_some() && !cursor_seen {
            *last_cursor = None;
        }
        if drop_record {
            for c in &mut batch.columns {
                c.truncate(row);
            }
        } else {
            batch.rows += 1;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming: the body around the records
// ---------------------------------------------------------------------------------------------

/// The largest array around the records that is read as a value (16 times that per page at
/// most; larger ones are kept empty): pagination metadata is a few hundred bytes. Objects are
/// always read (a cursor may sit beside large facets).
pub const META_CONTAINER_BYTES: usize = 64 << 10;

struct Body<'a, 'p> {
    path: &'a [String],
    records: Records<'a, 'p>,
}

impl<'de> DeserializeSeed<'de> for Body<'_, '_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.path.is_empty() {
            self.records.deserialize(d)?;
            return Ok(Value::Null);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Body<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an object holding '{}'",
            self.path.first().map(String::as_str).unwrap_or("")
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Body { path, mut records } = self;
        let mut meta = Map::new();
        let mut found = false;
        // Arrays and objects around the records are read as values only while small: totals,
        // cursors and links are, and a page's worth of other data kept as a value tree costs
        // ~30 times its text in every buffered page ([C2] class).
        let mut container_bytes = 0usize;
        while let Some(key) = map.next_key::<String>()? {
            if key == path[0] {
                if found {
                    // The key again: the last value counts, as in the sample's value tree.
                    records.batch.truncate(0);
                    *records.count = 0;
                    *records.last_cursor = None;
                    meta.remove(&key);
                }
                found = true;
                let inner = map.next_value_seed(Body {
                    path: &path[1..],
                    records: records.reborrow(),
                })?;
                if !inner.is_null() {
                    meta.insert(key, inner);
                }
            } else {
                // Around the records (total, cursors, links): small, read exactly.
                let raw: &'de RawValue = map.next_value()?;
                let text = raw.get();
                // Only arrays: an object may hold a cursor, total or link next to large
                // facets (`meta: {facets: ..., next_cursor: ...}`) and is always read whole;
                // a large array beside the records is data, never pagination metadata.
                let array = text.starts_with('[');
                let read = !array
                    || (text.len() <= META_CONTAINER_BYTES
                        && container_bytes + text.len() <= 16 * META_CONTAINER_BYTES);
                if array && read {
                    container_bytes += text.len();
                }
                let v = if !read {
                    // Kept as an empty array: its kind stays visible, its content is not read.
                    Value::Array(Vec::new())
                } else {
                    exact_value(text).map_err(de::Error::custom)?
                };
                meta.insert(key, v);
            }
        }
        if !found {
            return Err(records.ctx.fail(Fault::Missing {
                at: path[0].clone(),
                keys: meta.keys().cloned().collect(),
            }));
        }
        Ok(Value::Object(meta))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Value, A::Error> {
        Err(self.records.ctx.fail(Fault::Missing {
            at: self.path[0].clone(),
            keys: vec![],
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(self.records.ctx.fail(Fault::Missing {
            at: self.path[0].clone(),
            keys: vec![],
        }))
    }
}

fn layout(plan: &Plan) -> Layout {
    let mut slot = vec![None; plan.columns.len()];
    for (out, &i) in plan.projected.iter().enumerate() {
        if let Some(s) = slot.get_mut(i) {
            *s = Some(out);
        }
    }
    let value_only = plan.columns.len() == 1 && plan.columns[0].0 == "value";
    Layout {
        slot,
        seen: vec![false; plan.columns.len()],
        value_only: value_only && plan.projected.len() == 1,
    }
}

/// Decodes one JSON body: the records at `path` (key path; empty = the body is the records)
/// into columns, everything else into `meta`.
pub fn decode_json(bytes: &[u8], path: &[String], plan: &Plan) -> Result<Decoded, Fault> {
    match decode_json_as(bytes, path, plan, false) {
        // A repeated key's earlier value may be the misfit: with last_key_wins it is not
        // checked (the error path only; the page decodes as it would have with one key).
        Err(Fault::Misfit { .. }) => decode_json_as(bytes, path, plan, true),
        other => other,
    }
}

/// The body (records and meta) from `de`, which must then be at its end.
fn parse_body<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    body: Body<'_, '_>,
) -> Result<Value, serde_json::Error> {
    let meta = body.deserialize(&mut de)?;
    de.end()?;
    Ok(meta)
}

/// One NDJSON record from `de`, which must then be at its end.
fn parse_line<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    record: Record<'_, '_>,
) -> Result<(), serde_json::Error> {
    record.deserialize(&mut de)?;
    de.end()
}

fn decode_json_as(
    bytes: &[u8],
    path: &[String],
    plan: &Plan,
    last_key_wins: bool,
) -> Result<Decoded, Fault> {
    let ctx = Ctx {
        plan,
        fault: RefCell::new(None),
        record: std::cell::Cell::new(0),
        last_key_wins,
    };
    let mut batch = Batch::new(plan);
    let mut layout = layout(plan);
    let mut count = 0;
    let mut last_cursor = None;
    let body = Body {
        path,
        records: Records {
            ctx: &ctx,
            batch: &mut batch,
            layout: &mut layout,
            count: &mut count,
            last_cursor: &mut last_cursor,
        },
    };
    // A body checked as UTF-8 once (fast) is read as text: serde_json then does not check
    // every string and raw value again.
    let result = match std::str::from_utf8(bytes) {
        Ok(text) => parse_body(serde_json::Deserializer::from_str(text), body),
        Err(_) => parse_body(serde_json::Deserializer::from_slice(bytes), body),
    };
    match result {
        Ok(meta) => Ok(Decoded {
            batch,
            meta,
            records: count,
            last_cursor,
        }),
        Err(e) => Err(ctx
            .fault
            .into_inner()
            .unwrap_or_else(|| Fault::Json(e.to_string()))),
    }
}

/// Decodes NDJSON: one record per non-blank line.
pub fn decode_ndjson(bytes: &[u8], plan: &Plan) -> Result<Decoded, Fault> {
    match decode_ndjson_as(bytes, plan, false) {
        Err(Fault::Misfit { .. }) => decode_ndjson_as(bytes, plan, true),
        other => other,
    }
}

fn decode_ndjson_as(bytes: &[u8], plan: &Plan, last_key_wins: bool) -> Result<Decoded, Fault> {
    let ctx = Ctx {
        plan,
        fault: RefCell::new(None),
        record: std::cell::Cell::new(0),
        last_key_wins,
    };
    let mut batch = Batch::new(plan);
    let mut layout = layout(plan);
    let mut last_cursor = None;
    let mut count = 0;
    // as for JSON bodies: a body checked as UTF-8 once is read as text, line by line
    let lines: Box<dyn Iterator<Item = (&[u8], Option<&str>)>> = match std::str::from_utf8(bytes) {
        Ok(text) => Box::new(text.split('\n').map(|l| (l.as_bytes(), Some(l)))),
        Err(_) => Box::new(bytes.split(|b| *b == b'\n').map(|l| (l, None))),
    };
    for (n, (line, text)) in lines.enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        ctx.record.set(count);
        let record = Record {
            ctx: &ctx,
            batch: &mut batch,
            layout: &mut layout,
            last_cursor: &mut last_cursor,
        };
        match text {
            Some(text) => parse_line(serde_json::Deserializer::from_str(text), record),
            None => parse_line(serde_json::Deserializer::from_slice(line), record),
        }
        .map_err(|e| {
            ctx.fault
                .take()
                .unwrap_or_else(|| Fault::Json(format!("line {}: {e}", n + 1)))
        })?;
        count += 1;
    }
    Ok(Decoded {
        batch,
        meta: Value::Null,
        records: count,
        last_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(columns: Vec<(&str, JType)>, projected: Vec<usize>) -> Plan {
        Plan {
            columns: columns
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect(),
            projected,
            unknown_error: true,
            json_column: false,
            cursor_field: None,
            incremental: None,
            inferred: false,
        }
    }

    fn users_plan() -> Plan {
        plan(
            vec![
                ("id", JType::BigInt),
                ("name", JType::Varchar),
                (
                    "address",
                    JType::Struct(vec![
                        ("city".into(), JType::Varchar),
                        ("zip".into(), JType::Integer),
                    ]),
                ),
                ("tags", JType::List(Box::new(JType::Varchar))),
                ("at", JType::TimestampTz),
            ],
            vec![0, 1, 2, 3, 4],
        )
    }

    const BODY: &str = r#"{"total": 2, "data": [
        {"id": 1, "name": "a", "address": {"city": "Oslo", "zip": 123}, "tags": ["x", "y"], "at": "1970-01-01T00:00:01Z"},
        {"id": 2, "name": null, "tags": [], "address": null, "at": null}
    ], "links": {"next": "u"}}"#;

    #[test]
    fn large_arrays_around_the_records_are_not_kept_as_value_trees() {
        let junk = format!("[{}0]", "0,".repeat(META_CONTAINER_BYTES));
        let body =
            format!(r#"{{"data":[{{"id":1}}],"total":1,"junk":{junk},"links":{{"next":null}}}}"#);
        let d = decode_json(body.as_bytes(), &["data".to_string()], &users_plan()).unwrap();
        assert_eq!(d.meta["junk"], json!([]));
        assert_eq!(d.meta["total"], json!(1));
        // Small metadata after the large field is still read.
        assert_eq!(d.meta["links"], json!({"next": null}));
        // A large object is read whole: its cursor is pagination metadata.
        let body =
            format!(r#"{{"data":[{{"id":1}}],"meta":{{"facets":{junk},"next_cursor":"c2"}}}}"#);
        let d = decode_json(body.as_bytes(), &["data".to_string()], &users_plan()).unwrap();
        assert_eq!(d.meta["meta"]["next_cursor"], json!("c2"));
    }

    #[test]
    fn records_stream_into_typed_columns_and_meta_keeps_the_rest() {
        let d = decode_json(BODY.as_bytes(), &["data".to_string()], &users_plan()).unwrap();
        assert_eq!(d.records, 2);
        assert_eq!(d.batch.rows, 2);
        assert_eq!(d.meta, json!({"total": 2, "links": {"next": "u"}}));
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![1, 2],
                valid: vec![true, true]
            }
        );
        assert_eq!(d.batch.columns[1].text(0), "a");
        assert_eq!(d.batch.columns[1].valid(), &[true, false]);
        match &d.batch.columns[2] {
            Column::Struct { fields, valid } => {
                assert_eq!(valid, &vec![true, false]);
                assert_eq!(fields[0].text(0), "Oslo");
                assert_eq!(
                    fields[1],
                    Column::Int32 {
                        values: vec![123, 0],
                        valid: vec![true, false]
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        match &d.batch.columns[3] {
            Column::List { entries, child, .. } => {
                assert_eq!(entries, &vec![(0, 2), (2, 0)]);
                assert_eq!(child.text(1), "y");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            d.batch.columns[4],
            Column::Int {
                values: vec![1_000_000, 0],
                valid: vec![true, false]
            }
        );
    }

    #[test]
    fn projection_keeps_only_requested_columns() {
        let p = plan(
            vec![("id", JType::BigInt), ("name", JType::Varchar)],
            vec![1],
        );
        let d = decode_json(
            br#"[{"id": 1, "name": "a"}, {"name": "b", "id": 2}]"#,
            &[],
            &p,
        )
        .unwrap();
        assert_eq!(d.batch.columns.len(), 1);
        assert_eq!(d.batch.columns[0].text(1), "b");
    }

    #[test]
    fn misfits_and_unknown_fields_are_faults_naming_record_and_path() {
        let p = plan(vec![("id", JType::BigInt)], vec![0]);
        let err = decode_json(br#"[{"id": 1}, {"id": "x"}]"#, &[], &p).unwrap_err();
        assert_eq!(
            err,
            Fault::Misfit {
                record: 1,
                path: "id".into(),
                kind: "string",
                shown: "\"x\"".into(),
                ty: "BIGINT".into()
            }
        );
        let err = decode_json(br#"[{"id": 1, "new": 2}]"#, &[], &p).unwrap_err();
        assert_eq!(
            err,
            Fault::Unknown {
                record: 0,
                path: "new".into()
            }
        );
        let mut lenient = p.clone();
        lenient.unknown_error = false;
        assert_eq!(
            decode_json(br#"[{"id": 1, "new": 2}]"#, &[], &lenient)
                .unwrap()
                .batch
                .rows,
            1
        );
    }

    #[test]
    fn varchar_and_json_columns_keep_text_of_any_value() {
        let p = plan(vec![("v", JType::Varchar), ("j", JType::Json)], vec![0, 1]);
        let d = decode_json(
            br#"[{"v": 1.5, "j": "s"}, {"v": {"a": [1]}, "j": {"a": 1}}, {"v": true, "j": 2}]"#,
            &[],
            &p,
        )
        .unwrap();
        let v = &d.batch.columns[0];
        let j = &d.batch.columns[1];
        assert_eq!(
            (v.text(0), v.text(1), v.text(2)),
            ("1.5", r#"{"a":[1]}"#, "true")
        );
        assert_eq!(
            (j.text(0), j.text(1), j.text(2)),
            ("\"s\"", r#"{"a":1}"#, "2")
        );
    }

    #[test]
    fn missing_selector_key_and_bad_json_are_faults() {
        let p = plan(vec![("id", JType::BigInt)], vec![0]);
        assert_eq!(
            decode_json(br#"{"items": []}"#, &["data".to_string()], &p).unwrap_err(),
            Fault::Missing {
                at: "data".into(),
                keys: vec!["items".into()]
            }
        );
        assert!(matches!(
            decode_json(br#"{"data": [{"id": 1"#, &["data".to_string()], &p),
            Err(Fault::Json(_))
        ));
    }

    #[test]
    fn cursor_field_and_incremental_filter() {
        let mut p = plan(vec![("id", JType::BigInt), ("at", JType::Varchar)], vec![0]);
        p.cursor_field = Some("id".into());
        p.incremental = Some(("at".into(), "2026-01-02".into()));
        let d = decode_json(
            br#"[{"id": 1, "at": "2026-01-01"}, {"id": 2, "at": "2026-01-02"}, {"id": 3, "at": "2026-01-03"}]"#,
            &[],
            &p,
        )
        .unwrap();
        assert_eq!(d.records, 3);
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![2, 3],
                valid: vec![true, true]
            }
        );
        assert_eq!(d.last_cursor, Some(json!(3)));
    }

    #[test]
    fn cursor_and_incremental_fields_work_outside_a_fixed_schema() {
        let mut p = plan(vec![("name", JType::Varchar)], vec![0]);
        p.unknown_error = false;
        p.cursor_field = Some("id".into());
        p.incremental = Some(("at".into(), "2".into()));
        let d = decode_json(
            br#"[{"id": 7, "name": "a", "at": 1}, {"id": 8, "name": "b", "at": 3}]"#,
            &[],
            &p,
        )
        .unwrap();
        assert_eq!(d.batch.rows, 1);
        assert_eq!(d.batch.columns[0].text(0), "b");
        assert_eq!(d.last_cursor, Some(json!(8)));
    }

    #[test]
    fn json_column_still_reads_the_cursor_and_filters_old_records() {
        let mut p = plan(vec![("json", JType::Json)], vec![0]);
        p.json_column = true;
        p.cursor_field = Some("id".into());
        p.incremental = Some(("at".into(), "2".into()));
        let d = decode_json(br#"[{"id": 1, "at": 1}, {"id": 2, "at": 3}]"#, &[], &p).unwrap();
        assert_eq!(d.batch.rows, 1);
        assert_eq!(d.last_cursor, Some(json!(2)));
    }

    #[test]
    fn json_column_keeps_each_record_text() {
        let mut p = plan(vec![("json", JType::Json)], vec![0]);
        p.json_column = true;
        let d = decode_json(br#"{"data": [{"a": 1}, [2]]}"#, &["data".to_string()], &p).unwrap();
        assert_eq!(
            (d.batch.columns[0].text(0), d.batch.columns[0].text(1)),
            (r#"{"a": 1}"#, "[2]")
        );
    }

    #[test]
    fn ndjson_lines_and_scalar_records() {
        let p = plan(vec![("value", JType::BigInt)], vec![0]);
        let d = decode_ndjson(b"1\n\n2\n3\n", &p).unwrap();
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![1, 2, 3],
                valid: vec![true; 3]
            }
        );
        let d = decode_json(b"[4, null]", &[], &p).unwrap();
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![4, 0],
                valid: vec![true, false]
            }
        );
    }

    #[test]
    fn truncate_undoes_rows_in_nested_columns() {
        let d = decode_json(BODY.as_bytes(), &["data".to_string()], &users_plan()).unwrap();
        let mut b = d.batch.clone();
        b.truncate(1);
        assert_eq!(b.rows, 1);
        assert!(b.columns.iter().all(|c| c.len() == 1));
        match &b.columns[3] {
            Column::List { child, .. } => assert_eq!(child.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    const BIG: &str = "123456789012345678901234567890";

    #[test]
    fn integers_beyond_64_bits_keep_their_digits_in_text_columns() {
        // L3: they came back as 1.2345678901234568e+29.
        let p = plan(
            vec![
                ("v", JType::Varchar),
                ("j", JType::Json),
                ("s", JType::Struct(vec![("n".into(), JType::Varchar)])),
                ("l", JType::List(Box::new(JType::Varchar))),
            ],
            vec![0, 1, 2, 3],
        );
        let body = format!(
            r#"[{{"v": {BIG}, "j": {{"n": -{BIG}, "x": [ 1 , 2.50 ]}}, "s": {{"n": {BIG}}}, "l": [{BIG}, "a\"b"]}}]"#
        );
        let d = decode_json(body.as_bytes(), &[], &p).unwrap();
        assert_eq!(d.batch.columns[0].text(0), BIG);
        assert_eq!(
            d.batch.columns[1].text(0),
            format!(r#"{{"n":-{BIG},"x":[1,2.50]}}"#)
        );
        match (&d.batch.columns[2], &d.batch.columns[3]) {
            (Column::Struct { fields, .. }, Column::List { child, .. }) => {
                assert_eq!(fields[0].text(0), BIG);
                assert_eq!((child.text(0), child.text(1)), (BIG, "a\"b"));
            }
            other => panic!("{other:?}"),
        }
        // json_column and records that are not objects keep them too
        let mut j = plan(vec![("json", JType::Json)], vec![0]);
        j.json_column = true;
        let d = decode_json(format!(r#"[{{"a": {BIG}}}]"#).as_bytes(), &[], &j).unwrap();
        assert_eq!(d.batch.columns[0].text(0), format!(r#"{{"a": {BIG}}}"#));
        let v = plan(vec![("value", JType::Varchar)], vec![0]);
        let d = decode_json(format!(r#"[{BIG}, "x", null]"#).as_bytes(), &[], &v).unwrap();
        assert_eq!(
            (d.batch.columns[0].text(0), d.batch.columns[0].text(1)),
            (BIG, "x")
        );
        assert_eq!(d.batch.columns[0].valid(), &[true, true, false]);
        // a BIGINT column refuses them instead of rounding
        let b = plan(vec![("id", JType::BigInt)], vec![0]);
        assert!(matches!(
            decode_json(format!(r#"[{{"id": {BIG}}}]"#).as_bytes(), &[], &b),
            Err(Fault::Misfit { .. })
        ));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_everywhere() {
        // L4: the sample (serde_json values) kept the last value, later pages the first.
        let p = plan(
            vec![
                ("id", JType::BigInt),
                (
                    "o",
                    JType::Struct(vec![("a".into(), JType::List(Box::new(JType::BigInt)))]),
                ),
            ],
            vec![0, 1],
        );
        let body =
            br#"{"data": [{"id": 0}], "data": [{"id": 1, "o": {"a": [1, 2], "a": [3]}, "id": 2}]}"#;
        let d = decode_json(body, &["data".to_string()], &p).unwrap();
        assert_eq!(d.records, 1);
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![2],
                valid: vec![true]
            }
        );
        match &d.batch.columns[1] {
            Column::Struct { fields, .. } => match &fields[0] {
                Column::List { entries, child, .. } => {
                    assert_eq!(entries, &vec![(0, 1)]);
                    assert_eq!(
                        **child,
                        Column::Int {
                            values: vec![3],
                            valid: vec![true]
                        }
                    );
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let value: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(value["data"][0]["id"], json!(2), "serde_json's rule");
        // the incremental filter reads the last value too
        let mut f = plan(vec![("at", JType::BigInt)], vec![0]);
        f.incremental = Some(("at".into(), "5".into()));
        let d = decode_json(br#"[{"at": 9, "at": 1}, {"at": 1, "at": 9}]"#, &[], &f).unwrap();
        assert_eq!(
            d.batch.columns[0],
            Column::Int {
                values: vec![9],
                valid: vec![true]
            }
        );
    }

    #[test]
    fn zoned_and_naive_timestamps_never_mix_silently() {
        // U11: "...+02:00" was shifted into a TIMESTAMP column.
        let p = plan(
            vec![("ts", JType::Timestamp), ("tz", JType::TimestampTz)],
            vec![0, 1],
        );
        let ok = decode_json(
            br#"[{"ts": "2026-01-01 10:00:00", "tz": "2026-01-01T10:00:00+02:00"}, {"ts": "2026-01-01", "tz": "2026-01-01"}]"#,
            &[],
            &p,
        )
        .unwrap();
        assert_eq!(ok.batch.rows, 2);
        for body in [
            br#"[{"ts": "2026-01-01T10:00:00+02:00"}]"#.as_slice(),
            br#"[{"tz": "2026-01-01T10:00:00"}]"#.as_slice(),
        ] {
            assert!(
                matches!(decode_json(body, &[], &p), Err(Fault::Misfit { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bodies_read_as_text_or_bytes_decode_alike() {
        let p = plan(
            vec![("a", JType::Varchar), ("n", JType::BigInt)],
            vec![0, 1],
        );
        let ok = decode_json(br#"[{"a":"caf\u00e9 \u00e9","n":1}]"#, &[], &p).unwrap();
        assert_eq!(ok.batch.columns[0].text(0), "café é");
        let ok = decode_ndjson(
            b"{\"a\":\"x\\ny\",\"n\":1}\n\n{\"a\":\"\xc3\xa9\",\"n\":2}\n",
            &p,
        )
        .unwrap();
        assert_eq!((ok.batch.rows, ok.batch.columns[0].text(1)), (2, "é"));
        // invalid UTF-8 in a string is still an error, in either format
        assert!(matches!(
            decode_json(b"[{\"a\":\"\xff\",\"n\":1}]", &[], &p),
            Err(Fault::Json(_))
        ));
        assert!(matches!(
            decode_ndjson(b"{\"a\":\"\xff\",\"n\":1}\n", &p),
            Err(Fault::Json(_))
        ));
    }

    #[test]
    fn exact_values_fast_path_reads_as_the_general_one() {
        let general = |raw: &str| match super::super::schema::quote_big_integers(raw.as_bytes()) {
            Some(q) => serde_json::from_slice::<Value>(&q).unwrap(),
            None => serde_json::from_str::<Value>(raw).unwrap(),
        };
        for raw in [
            "0",
            "-5",
            "123456789012345678",
            "-12345678901234567",
            "1234567890123456789",
            "123456789012345678901234567890",
            "1.5",
            "-0",
            r#""""#,
            r#""abc""#,
            r#""a\nb""#,
            r#""2024-01-01T00:00:00Z""#,
            "true",
            r#"{"a":1}"#,
        ] {
            assert_eq!(exact_value(raw).unwrap(), general(raw), "{raw}");
        }
    }

    #[test]
    fn escaped_strings_unescape_into_the_column_as_serde_json_reads_them() {
        // item 12: text columns unescape into their byte buffer (no String per value)
        for raw in [
            r#""https:\/\/example.com\/a""#,
            r#""caf\u00e9 \"q\" \\ \b\f\n\r\t end""#,
            r#""\ud83d\ude00 smile \u20ac""#,
            r#""\u0000""#,
            r#""tail\\""#,
            r#""\"""#,
        ] {
            let mut col = Column::new(&JType::Varchar);
            push_raw_text(&mut col, &JType::Varchar, raw).unwrap();
            let expected: String = serde_json::from_str(raw).unwrap();
            assert_eq!(col.text(0), expected, "{raw}");
        }
        // escapes serde_json refuses are refused, not written half
        for raw in [r#""\ud83d alone""#, r#""\ude00""#] {
            let mut col = Column::new(&JType::Varchar);
            assert_eq!(
                push_raw_text(&mut col, &JType::Varchar, raw).is_err(),
                serde_json::from_str::<String>(raw).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_earlier_duplicate_keys_value_is_never_checked() {
        // item 10: [{"a":"x","a":1},{"a":2}] infers BIGINT (the last value), then failed on "x".
        let mut p = plan(vec![("a", JType::BigInt)], vec![0]);
        p.inferred = true;
        let ok = decode_json(br#"[{"a":"x","a":1},{"a":2}]"#, &[], &p).unwrap();
        assert_eq!(
            ok.batch.columns[0],
            Column::Int {
                values: vec![1, 2],
                valid: vec![true, true]
            }
        );
        let ok = decode_ndjson(b"{\"a\":\"x\",\"a\":1}\n{\"a\":2}\n", &p).unwrap();
        assert_eq!(ok.batch.rows, 2);
        // the last value still has to fit
        assert!(matches!(
            decode_json(br#"[{"a":1,"a":"x"}]"#, &[], &p),
            Err(Fault::Misfit { record: 0, .. })
        ));
        // a failure halfway through a list or struct value leaves nothing behind
        let p = plan(
            vec![
                ("l", JType::List(Box::new(JType::BigInt))),
                ("s", JType::Struct(vec![("x".into(), JType::BigInt)])),
                ("t", JType::Varchar),
            ],
            vec![0, 1, 2],
        );
        let ok = decode_json(
            br#"[{"l":[1,"x"],"s":{"x":"y","x":2},"s":{"x":[],"x":3},"l":[2],"t":"a","t":"b"}]"#,
            &[],
            &p,
        )
        .unwrap();
        assert_eq!(
            ok.batch.columns[0],
            Column::List {
                entries: vec![(0, 1)],
                valid: vec![true],
                child: Box::new(Column::Int {
                    values: vec![2],
                    valid: vec![true]
                })
            }
        );
        let Column::Struct { fields, .. } = &ok.batch.columns[1] else {
            panic!("struct column expected");
        };
        assert_eq!(
            fields[0],
            Column::Int {
                values: vec![3],
                valid: vec![true]
            }
        );
        assert_eq!(ok.batch.columns[2].text(0), "b");
        // the cursor and incremental fields follow the same rule
        let mut p = plan(vec![("id", JType::BigInt)], vec![0]);
        p.cursor_field = Some("id".into());
        p.incremental = Some(("id".into(), "2".into()));
        let ok = decode_json(br#"[{"id":"x","id":5},{"id":1,"id":"y","id":3}]"#, &[], &p).unwrap();
        assert_eq!(ok.batch.rows, 2);
        assert_eq!(ok.last_cursor, Some(json!(3)));
    }

    #[test]
    fn utc_timestamps_fit_timestamp_columns_other_offsets_do_not() {
        // item 8: "2024-01-01T00:00:00Z" was refused by a declared TIMESTAMP column.
        for inferred in [false, true] {
            let mut p = plan(vec![("ts", JType::Timestamp)], vec![0]);
            p.inferred = inferred;
            let ok = decode_json(
                br#"[{"ts": "2024-01-01T00:00:00Z"}, {"ts": "2024-01-01 00:00:00+00:00"}, {"ts": "2024-01-01T00:00:00+0000"}, {"ts": "2024-01-01 00:00:00+00"}, {"ts": "2024-01-01T00:00:00"}]"#,
                &[],
                &p,
            )
            .unwrap();
            assert_eq!(
                ok.batch.columns[0],
                Column::Int {
                    values: vec![1_704_067_200_000_000; 5],
                    valid: vec![true; 5]
                }
            );
            for body in [
                br#"[{"ts": "2024-01-01T00:00:00+02:00"}]"#.as_slice(),
                br#"[{"ts": "2024-01-01 00:00:00-05"}]"#.as_slice(),
            ] {
                let Err(Fault::Misfit { kind, .. }) = decode_json(body, &[], &p) else {
                    panic!("{}", String::from_utf8_lossy(body));
                };
                assert_eq!(kind, ZONED_KIND);
            }
        }
        // a value of another shape in a TIMESTAMP column keeps its plain kind
        let p = plan(vec![("ts", JType::Timestamp)], vec![0]);
        let Err(Fault::Misfit { kind, .. }) = decode_json(br#"[{"ts": "soon"}]"#, &[], &p) else {
            panic!("misfit expected");
        };
        assert_eq!(kind, "string");
    }

    #[test]
    fn strings_fit_number_columns_only_when_declared_and_numeric() {
        // U11: "NaN" and "inf" entered an inferred DOUBLE column after the sample.
        let mut p = plan(
            vec![
                ("x", JType::Double),
                ("n", JType::BigInt),
                ("b", JType::Boolean),
            ],
            vec![0, 1, 2],
        );
        p.inferred = true;
        for body in [
            br#"[{"x": "NaN"}]"#.as_slice(),
            br#"[{"x": "inf"}]"#.as_slice(),
            br#"[{"x": "1.5"}]"#.as_slice(),
            br#"[{"n": "5"}]"#.as_slice(),
            br#"[{"b": "true"}]"#.as_slice(),
        ] {
            assert!(
                matches!(decode_json(body, &[], &p), Err(Fault::Misfit { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        p.inferred = false;
        let d = decode_json(br#"[{"x": " 1.5 ", "n": "5", "b": "true"}]"#, &[], &p).unwrap();
        assert_eq!(
            d.batch.columns[0],
            Column::Double {
                values: vec![1.5],
                valid: vec![true]
            }
        );
        for bad in ["NaN", "inf", "-Infinity", "0x10", "1e999"] {
            let body = format!(r#"[{{"x": "{bad}"}}]"#);
            assert!(
                matches!(
                    decode_json(body.as_bytes(), &[], &p),
                    Err(Fault::Misfit { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn bodies_nested_beyond_serde_json_limit_are_an_error_or_json_text_never_a_crash() {
        let deep = format!(r#"[{{"a": {}1{}}}]"#, "[".repeat(5000), "]".repeat(5000));
        // a JSON column keeps the text (serde_json skips values without recursing)
        let p = plan(vec![("a", JType::Json)], vec![0]);
        let d = decode_json(deep.as_bytes(), &[], &p).unwrap();
        assert_eq!(d.batch.columns[0].text(0).len(), 10_001);
        // a typed column reads values: serde_json's recursion limit is an error
        let p = plan(vec![("a", JType::List(Box::new(JType::BigInt)))], vec![0]);
        match decode_json(deep.as_bytes(), &[], &p) {
            Err(Fault::Json(detail)) => assert!(detail.contains("recursion limit"), "{detail}"),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("decoded"),
        }
    }

    #[test]
    fn cursors_and_meta_beyond_64_bits_keep_their_digits() {
        // L3 class: a cursor read back through f64 would ask the API for the wrong page.
        let mut p = plan(vec![("id", JType::Varchar)], vec![0]);
        p.cursor_field = Some("id".into());
        let body = format!(r#"{{"data": [{{"id": {BIG}}}], "next_cursor": {BIG}}}"#);
        let d = decode_json(body.as_bytes(), &["data".to_string()], &p).unwrap();
        assert_eq!(d.last_cursor, Some(json!(BIG)));
        assert_eq!(d.meta, json!({"next_cursor": BIG}));
        p.json_column = true;
        p.columns = vec![("json".into(), JType::Json)];
        let d = decode_json(body.as_bytes(), &["data".to_string()], &p).unwrap();
        assert_eq!(d.last_cursor, Some(json!(BIG)));
    }

    #[test]
    fn a_number_misfit_shows_the_digits_of_integers_beyond_64_bits() {
        let p = plan(
            vec![
                ("id", JType::BigInt),
                ("o", JType::Struct(vec![("n".into(), JType::BigInt)])),
            ],
            vec![0, 1],
        );
        for (body, path) in [
            (format!(r#"[{{"id": 1}}, {{"id": {BIG}}}]"#), "id"),
            (
                format!(r#"[{{"id": 1, "o": {{"n": 2}}}}, {{"o": {{"n": -{BIG}}}}}]"#),
                "o.n",
            ),
        ] {
            let run = |p: &Plan| decode_json(body.as_bytes(), &[], p);
            let fault = exact_misfit(run(&p).unwrap_err(), &p, run);
            let Fault::Misfit {
                record,
                path: at,
                shown,
                ..
            } = fault
            else {
                panic!("{fault:?}")
            };
            assert_eq!((record, at.as_str()), (1, path));
            assert!(shown.trim_start_matches('-') == BIG, "{shown}");
        }
    }

    #[test]
    fn a_scalar_at_the_selector_is_one_record_as_in_the_sample() {
        let p = plan(vec![("value", JType::BigInt)], vec![0]);
        let d = decode_json(br#"{"data": 7}"#, &["data".to_string()], &p).unwrap();
        assert_eq!((d.records, d.batch.rows), (1, 1));
        let body: Value = serde_json::from_slice(br#"{"data": 7}"#).unwrap();
        assert_eq!(
            crate::rest::select::take_at(body, &["data".to_string()]),
            vec![json!(7)]
        );
    }
}
