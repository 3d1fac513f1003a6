//! Pages straight into column buffers: the response body is parsed once, with serde, and each
//! record's fields go directly into typed columns (no JSON tree per record). Only the columns
//! the query needs are kept; the rest is skipped while parsing. The fields around the records
//! (`total`, `links.next`, ...) are kept as a small JSON value for the paginator.

use super::schema::{JType, parse_date, parse_timestamp};
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
    pub incremental: Option<(String, String)>,
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

    /// Drops rows from `rows` on (undoes a record that is filtered out).
    pub fn truncate(&mut self, rows: usize) {
        if rows >= self.len() {
            return;
        }
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
                let end = if rows == 0 { 0 } else { ends[rows - 1] };
                bytes.truncate(end);
                ends.truncate(rows);
                valid.truncate(rows);
            }
            Column::List {
                entries,
                valid,
                child,
            } => {
                let child_len = entries.get(rows).map(|e| e.0).unwrap_or(child.len());
                child.truncate(child_len);
                entries.truncate(rows);
                valid.truncate(rows);
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

/// Shared state of one page decode: the first fault, and the current record number.
struct Ctx<'p> {
    plan: &'p Plan,
    fault: RefCell<Option<Fault>>,
    record: std::cell::Cell<usize>,
}

impl Ctx<'_> {
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
            kind: kind(value),
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
        kind: kind(v),
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
                Value::String(s) if s == "true" || s == "false" => s == "true",
                _ => return Err(misfit()),
            };
            values.push(b);
            valid.push(true);
        }
        (JType::BigInt, Column::Int { values, valid }) => {
            values.push(as_i64(v).ok_or_else(misfit)?);
            valid.push(true);
        }
        (JType::Integer, Column::Int32 { values, valid }) => {
            let n = as_i64(v)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(misfit)?;
            values.push(n);
            valid.push(true);
        }
        (JType::Double, Column::Double { values, valid }) => {
            let x = match v {
                Value::Number(n) => n.as_f64().ok_or_else(misfit)?,
                Value::String(s) => s.trim().parse::<f64>().map_err(|_| misfit())?,
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
            let us = v.as_str().and_then(timestamp_micros).ok_or_else(misfit)?;
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

fn timestamp_micros(s: &str) -> Option<i64> {
    parse_timestamp(s)
        .map(|(us, _)| us)
        .or_else(|| parse_date(s).map(|d| d as i64 * 86_400_000_000))
}

/// An integer from a JSON number (whole floats accepted) or a numeric string.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
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
        d.deserialize_any(self)
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
                match timestamp_micros(s) {
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
                while let Some(key) = map.next_key_seed(KeySeed)? {
                    match fields.iter().position(|(n, _)| n.as_str() == key.as_ref()) {
                        Some(i) => {
                            if cols[i].len() > start {
                                // A duplicate key: JSON's last value wins elsewhere; keep the first.
                                map.next_value::<IgnoredAny>()?;
                                continue;
                            }
                            let path = format!("{}.{}", self.path, key);
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

/// A record kept whole as JSON text (json_column). The cursor and incremental fields are read
/// from it when pagination or filtering needs them.
fn push_raw(plan: &Plan, batch: &mut Batch, last_cursor: &mut Option<Value>, raw: &RawValue) {
    if plan.cursor_field.is_some() || plan.incremental.is_some() {
        let record: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        if let Some(field) = &plan.cursor_field {
            *last_cursor = record.get(field.as_str()).cloned();
        }
        if let Some((column, bound)) = &plan.incremental
            && super::client::older_than(record.get(column.as_str()), bound)
        {
            return;
        }
    }
    if let Some(c) = batch.columns.first_mut() {
        c.push_text(raw.get());
    }
    batch.rows += 1;
}

/// Where each schema column goes (output position), per plan.
struct Layout {
    slot: Vec<Option<usize>>,
    seen: Vec<bool>,
}

struct Records<'a, 'p> {
    ctx: &'a Ctx<'p>,
    batch: &'a mut Batch,
    layout: &'a mut Layout,
    count: &'a mut usize,
    last_cursor: &'a mut Option<Value>,
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
                        push_raw(ctx.plan, batch, last_cursor, raw);
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
            push_raw(self.ctx.plan, self.batch, self.last_cursor, raw);
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl Record<'_, '_> {
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
            if i.is_some_and(|i| layout.seen[i]) {
                // A repeated key: the first value counts.
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(i) = i {
                layout.seen[i] = true;
            }
            if is_cursor || incremental.is_some() {
                // Needed as a value (pagination, incremental filter), even when the column is
                // not in a fixed schema: read it once, then push it.
                let v: Value = map.next_value()?;
                if let Some((_, bound)) = incremental
                    && super::client::older_than(Some(&v), bound)
                {
                    drop_record = true;
                }
                if let Some(i) = i
                    && let Some(out) = layout.slot[i]
                {
                    let (name, ty) = &plan.columns[i];
                    push_value(ctx, &mut batch.columns[out], ty, &v, name)
                        .map_err(|f| ctx.fail(f))?;
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
        let Body { path, records } = self;
        let mut meta = Map::new();
        let mut records = Some(records);
        while let Some(key) = map.next_key::<String>()? {
            if key == path[0] {
                let Some(r) = records.take() else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                let inner = map.next_value_seed(Body {
                    path: &path[1..],
                    records: r,
                })?;
                if !inner.is_null() {
                    meta.insert(key, inner);
                }
            } else {
                let v: Value = map.next_value()?;
                meta.insert(key, v);
            }
        }
        if let Some(r) = records {
            return Err(r.ctx.fail(Fault::Missing {
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
    Layout {
        slot,
        seen: vec![false; plan.columns.len()],
    }
}

/// Decodes one JSON body: the records at `path` (key path; empty = the body is the records)
/// into columns, everything else into `meta`.
pub fn decode_json(bytes: &[u8], path: &[String], plan: &Plan) -> Result<Decoded, Fault> {
    let ctx = Ctx {
        plan,
        fault: RefCell::new(None),
        record: std::cell::Cell::new(0),
    };
    let mut batch = Batch::new(plan);
    let mut layout = layout(plan);
    let mut count = 0;
    let mut last_cursor = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = Body {
        path,
        records: Records {
            ctx: &ctx,
            batch: &mut batch,
            layout: &mut layout,
            count: &mut count,
            last_cursor: &mut last_cursor,
        },
    }
    .deserialize(&mut de)
    .and_then(|meta| de.end().map(|_| meta));
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
    let ctx = Ctx {
        plan,
        fault: RefCell::new(None),
        record: std::cell::Cell::new(0),
    };
    let mut batch = Batch::new(plan);
    let mut layout = layout(plan);
    let mut last_cursor = None;
    let mut count = 0;
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        ctx.record.set(count);
        let mut de = serde_json::Deserializer::from_slice(line);
        Record {
            ctx: &ctx,
            batch: &mut batch,
            layout: &mut layout,
            last_cursor: &mut last_cursor,
        }
        .deserialize(&mut de)
        .and_then(|_| de.end())
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

/// Converts already parsed records (the pages fetched during bind) into a batch.
pub fn from_values(records: &[Value], plan: &Plan) -> Result<Batch, Fault> {
    let ctx = Ctx {
        plan,
        fault: RefCell::new(None),
        record: std::cell::Cell::new(0),
    };
    let mut batch = Batch::new(plan);
    for (n, record) in records.iter().enumerate() {
        ctx.record.set(n);
        if plan.json_column {
            if let Some((column, bound)) = &plan.incremental
                && super::client::older_than(record.get(column.as_str()), bound)
            {
                continue;
            }
            if let Some(c) = batch.columns.first_mut() {
                c.push_text(&record.to_string());
            }
            batch.rows += 1;
            continue;
        }
        let row = batch.rows;
        let obj = match record {
            Value::Object(map) => Some(map),
            _ => None,
        };
        if let (Some(map), true) = (obj, plan.unknown_error)
            && let Some(extra) = map
                .keys()
                .find(|k| !plan.columns.iter().any(|(n, _)| n == *k))
        {
            return Err(Fault::Unknown {
                record: n,
                path: extra.clone(),
            });
        }
        if let Some((column, bound)) = &plan.incremental
            && super::client::older_than(obj.and_then(|m| m.get(column)), bound)
        {
            continue;
        }
        for (out, &i) in plan.projected.iter().enumerate() {
            let (name, ty) = &plan.columns[i];
            let field = match obj {
                Some(map) => map.get(name),
                None if name == "value" => Some(record),
                None => None,
            };
            let col = &mut batch.columns[out];
            match field {
                Some(v) => push_value(&ctx, col, ty, v, name)?,
                None => col.push_null(),
            }
        }
        debug_assert!(batch.columns.iter().all(|c| c.len() == row + 1));
        batch.rows += 1;
    }
    Ok(batch)
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
    fn streaming_and_value_paths_agree() {
        let d = decode_json(BODY.as_bytes(), &["data".to_string()], &users_plan()).unwrap();
        let body: Value = serde_json::from_str(BODY).unwrap();
        let b = from_values(body["data"].as_array().unwrap(), &users_plan()).unwrap();
        assert_eq!(d.batch, b);
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
}
