//! The one check engine: evaluates a [`Contract`] over Arrow batches (the form in which every
//! SQL surface receives rows: the COPY sink and the aggregate both convert DuckDB vectors with
//! `ffi::arrow`). Row-level predicates, aggregate state that merges across threads, and the
//! final verdicts live here, so `contract_check`, `contract_violations` and dw_staging can never
//! disagree.
//!
//! NULL semantics: a NULL is never a range, length, pattern or accepted-values violation; it is
//! a `nullValues` / `required` violation (and a `missingValues` one when NULL is listed as a
//! missing marker). NULLs never duplicate. NaN is a number outside every range.

use super::model::*;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use std::collections::HashSet;

/// One cell, as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    /// An integer (TINYINT ... UBIGINT, HUGEINT), exact.
    Int(i128),
    Number(f64),
    /// A FLOAT (REAL): compared with bounds and values rounded to f32, as DuckDB compares.
    Float32(f32),
    /// A DECIMAL(p, s) with s > 0: the value in units of 10^-s, and s.
    Decimal(i128, i8),
    Text(&'a str),
    Bool(bool),
    /// Microseconds since the epoch (dates, timestamps).
    Instant(i64),
    /// A value no check inspects (nested, binary).
    Other,
}

/// Reads row `i` of `array`.
pub fn cell(array: &ArrayRef, i: usize) -> Cell<'_> {
    if array.is_null(i) || array.data_type() == &DataType::Null {
        return Cell::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            Cell::Number(array.as_primitive::<$t>().value(i) as f64)
        };
    }
    macro_rules! int {
        ($t:ty) => {
            Cell::Int(array.as_primitive::<$t>().value(i) as i128)
        };
    }
    match array.data_type() {
        DataType::Boolean => Cell::Bool(array.as_boolean().value(i)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => Cell::Float32(array.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => num!(Float64Type),
        DataType::Decimal128(_, 0) => Cell::Int(array.as_primitive::<Decimal128Type>().value(i)),
        DataType::Decimal128(_, scale) => {
            Cell::Decimal(array.as_primitive::<Decimal128Type>().value(i), *scale)
        }
        DataType::Utf8 => Cell::Text(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Cell::Text(array.as_string::<i64>().value(i)),
        DataType::Dictionary(_, value) if value.as_ref() == &DataType::Utf8 => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            Cell::Text(dict.values().as_string::<i32>().value(key))
        }
        DataType::Date32 => Cell::Instant(
            (array.as_primitive::<Date32Type>().value(i) as i64).saturating_mul(86_400_000_000),
        ),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(i)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(i)
                    .saturating_mul(1000),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(i) / 1000
                }
            };
            Cell::Instant(v)
        }
        _ => Cell::Other,
    }
}

fn literal_matches(cell: &Cell<'_>, lit: &Literal) -> bool {
    match (cell, lit) {
        (Cell::Float32(x), Literal::Number(y)) => *x == *y as f32,
        // Rounded to FLOAT once, from the numeral, when the contract was read.
        (Cell::Float32(x), Literal::Decimal(_, _, y)) => x == y,
        (Cell::Float32(x), Literal::Integer(y)) => *x == *y as f32,
        (Cell::Float32(x), Literal::Text(t)) => t.trim().parse::<f32>().is_ok_and(|y| *x == y),
        (Cell::Float32(x), _) => literal_matches(&Cell::Number(*x as f64), lit),
        (Cell::Decimal(v, scale), _) => {
            literal_matches(&Cell::Number(*v as f64 / 10f64.powi(*scale as i32)), lit)
        }
        (Cell::Null, Literal::Null) => true,
        (Cell::Number(x), Literal::Number(y)) => x == y,
        // Integers compare exactly with integers; a float literal equals an integer only when
        // it is that integer exactly (every float beyond 2^53 is an integer, and i128 holds it).
        (Cell::Int(x), Literal::Integer(y)) => x == y,
        (Cell::Int(x), Literal::Decimal(_, e, _)) => e.as_i128() == Some(*x),
        (_, Literal::Decimal(y, _, _)) => literal_matches(cell, &Literal::Number(*y)),
        (Cell::Int(x), Literal::Number(y)) => {
            y.fract() == 0.0 && y.abs() < 1.7e38 && *x == *y as i128
        }
        (Cell::Number(x), Literal::Integer(y)) => *x == *y as f64,
        (Cell::Text(s), Literal::Integer(y)) => s.parse::<i128>().is_ok_and(|x| x == *y),
        (Cell::Text(s), Literal::Text(t)) => s == t,
        (Cell::Text(s), Literal::Number(y)) => s.parse::<f64>().is_ok_and(|x| x == *y),
        (Cell::Number(x), Literal::Text(t)) => t.parse::<f64>().is_ok_and(|y| *x == y),
        (Cell::Int(x), Literal::Text(t)) => match t.parse::<i128>() {
            Ok(y) => *x == y,
            Err(_) => Exact::parse(t).is_some_and(|e| e.as_i128() == Some(*x)),
        },
        (Cell::Bool(b), Literal::Bool(c)) => b == c,
        // A date/timestamp literal ('2024-01-31', '2024-01-31 12:00:00') equals the instant
        // it names (Cell::Instant counts microseconds).
        (Cell::Instant(t), Literal::Text(s)) => Bound::parse_instant(s)
            .and_then(|b| b.instant)
            .is_some_and(|ns| ns == *t as i128 * 1_000),
        _ => false,
    }
}

/// Whether row-level check `kind` fails for one cell.
pub fn violates(kind: &CheckKind, c: &Cell<'_>) -> bool {
    match kind {
        CheckKind::Null => matches!(c, Cell::Null),
        CheckKind::Missing(markers) => markers.iter().any(|m| literal_matches(c, m)),
        _ if matches!(c, Cell::Null) => false,
        CheckKind::Min { bound, exclusive } => match c {
            Cell::Instant(t) => bound.instant.is_some_and(|ns| {
                !IntRange::instant(false, ns, *exclusive, 1_000).holds(*t as i128)
            }),
            Cell::Int(v) => !IntRange::new(false, *bound, *exclusive, 0).holds(*v),
            Cell::Decimal(v, s) => !IntRange::new(false, *bound, *exclusive, *s as i32).holds(*v),
            Cell::Number(x) => {
                let b = bound.value;
                x.is_nan() || if *exclusive { *x <= b } else { *x < b }
            }
            Cell::Float32(x) => {
                let (x, b) = (*x as f64, bound.value32);
                x.is_nan() || if *exclusive { x <= b } else { x < b }
            }
            _ => false,
        },
        CheckKind::Max { bound, exclusive } => match c {
            Cell::Instant(t) => bound.instant.is_some_and(|ns| {
                !IntRange::instant(true, ns, *exclusive, 1_000).holds(*t as i128)
            }),
            Cell::Int(v) => !IntRange::new(true, *bound, *exclusive, 0).holds(*v),
            Cell::Decimal(v, s) => !IntRange::new(true, *bound, *exclusive, *s as i32).holds(*v),
            Cell::Number(x) => {
                let b = bound.value;
                x.is_nan() || if *exclusive { *x >= b } else { *x > b }
            }
            Cell::Float32(x) => {
                let (x, b) = (*x as f64, bound.value32);
                x.is_nan() || if *exclusive { x >= b } else { x > b }
            }
            _ => false,
        },
        CheckKind::MinLength(n) => matches!(c, Cell::Text(s) if s.chars().count() < *n),
        CheckKind::MaxLength(n) => matches!(c, Cell::Text(s) if s.chars().count() > *n),
        CheckKind::Pattern(re) => matches!(c, Cell::Text(s) if !re.is_match(s)),
        // A value the checks cannot read as text, number or time (UUID, BLOB, nested) is
        // judged by no value check, like a pattern on it.
        CheckKind::ValidValues(_) if matches!(c, Cell::Other) => false,
        CheckKind::ValidValues(values) => !values.iter().any(|v| literal_matches(c, v)),
        CheckKind::Duplicate(_) | CheckKind::RowCount | CheckKind::Freshness { .. } => false,
    }
}

impl Bound {
    /// The double a column of type `ty` compares with (FLOAT: the bound rounded to f32).
    fn for_type(&self, ty: &DataType) -> f64 {
        match ty {
            DataType::Float32 => self.value32,
            _ => self.value,
        }
    }
}

/// The values that satisfy a bound, for integer-valued data in units of `10^-scale` (integers:
/// scale 0; DECIMAL(p, s): scale s): `lo <= v <= hi`, exact (review L7).
#[derive(Debug, Clone, Copy, PartialEq)]
struct IntRange {
    lo: i128,
    hi: i128,
}

impl IntRange {
    const NONE: IntRange = IntRange {
        lo: i128::MAX,
        hi: i128::MIN,
    };
    const ALL: IntRange = IntRange {
        lo: i128::MIN,
        hi: i128::MAX,
    };

    /// For a numeric bound over values in units of `10^-scale`.
    fn new(upper: bool, bound: Bound, exclusive: bool, scale: i32) -> IntRange {
        let Some(exact) = bound.exact else {
            // A non-finite bound: -inf / +inf / NaN (NaN: no value satisfies it).
            let b = bound.value;
            let all = if upper {
                b == f64::INFINITY
            } else {
                b == f64::NEG_INFINITY
            };
            return if all { IntRange::ALL } else { IntRange::NONE };
        };
        let (floor, ceil, side) = exact.floor_ceil(scale);
        IntRange::from_cut(upper, exclusive, floor, ceil, side)
    }

    /// For an instant bound (`ns` nanoseconds since the epoch) over values counting units of
    /// `unit_ns` nanoseconds (seconds, milliseconds, ..., days).
    fn instant(upper: bool, ns: i128, exclusive: bool, unit_ns: i128) -> IntRange {
        let (q, r) = (ns.div_euclid(unit_ns), ns.rem_euclid(unit_ns));
        IntRange::from_cut(upper, exclusive, Some(q), Some(q + (r > 0) as i128), 0)
    }

    /// The values satisfying a bound b given floor(b) and ceil(b) (None: saturated on `side`).
    fn from_cut(
        upper: bool,
        exclusive: bool,
        floor: Option<i128>,
        ceil: Option<i128>,
        side: i8,
    ) -> IntRange {
        match (upper, exclusive) {
            // v >= b  <=>  v >= ceil(b)
            (false, false) => match ceil {
                Some(c) => IntRange {
                    lo: c,
                    hi: i128::MAX,
                },
                None if side < 0 => IntRange::ALL,
                None => IntRange::NONE,
            },
            // v > b  <=>  v >= floor(b) + 1
            (false, true) => match floor.map(|f| f.checked_add(1)) {
                Some(Some(c)) => IntRange {
                    lo: c,
                    hi: i128::MAX,
                },
                Some(None) => IntRange::NONE,
                None if side < 0 => IntRange::ALL,
                None => IntRange::NONE,
            },
            // v <= b  <=>  v <= floor(b)
            (true, false) => match floor {
                Some(f) => IntRange {
                    lo: i128::MIN,
                    hi: f,
                },
                None if side > 0 => IntRange::ALL,
                None => IntRange::NONE,
            },
            // v < b  <=>  v <= ceil(b) - 1
            (true, true) => match ceil.map(|c| c.checked_sub(1)) {
                Some(Some(c)) => IntRange {
                    lo: i128::MIN,
                    hi: c,
                },
                Some(None) => IntRange::NONE,
                None if side > 0 => IntRange::ALL,
                None => IntRange::NONE,
            },
        }
    }

    fn holds(self, v: i128) -> bool {
        v >= self.lo && v <= self.hi
    }
}

/// Sets `out[i]` when row `i` of `array` fails row-level check `kind` (`out` has one entry per
/// row, all false on entry). Typed loops for the common column types; every other type goes
/// through [`cell`] and [`violates`], which define the semantics (the typed loops must agree).
fn fail_mask(kind: &CheckKind, array: &ArrayRef, out: &mut [bool]) {
    let rows = out.len();
    let nulls = array.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    if let CheckKind::Null = kind {
        if let Some(n) = &nulls {
            for (i, o) in out.iter_mut().enumerate() {
                *o = n.is_null(i);
            }
        }
        return;
    }
    macro_rules! numbers {
        ($t:ty, $test:expr) => {{
            let values = array.as_primitive::<$t>().values();
            let test = $test;
            for (i, o) in out.iter_mut().enumerate() {
                *o = valid(i) && test(values[i] as f64);
            }
            return;
        }};
    }
    macro_rules! by_number_type {
        ($test:expr) => {
            match array.data_type() {
                DataType::Int8 => numbers!(Int8Type, $test),
                DataType::Int16 => numbers!(Int16Type, $test),
                DataType::Int32 => numbers!(Int32Type, $test),
                DataType::Int64 => numbers!(Int64Type, $test),
                DataType::UInt8 => numbers!(UInt8Type, $test),
                DataType::UInt16 => numbers!(UInt16Type, $test),
                DataType::UInt32 => numbers!(UInt32Type, $test),
                DataType::UInt64 => numbers!(UInt64Type, $test),
                DataType::Float32 => numbers!(Float32Type, $test),
                DataType::Float64 => numbers!(Float64Type, $test),
                _ => {}
            }
        };
    }
    macro_rules! texts {
        ($test:expr) => {
            if let DataType::Utf8 = array.data_type() {
                let strings = array.as_string::<i32>();
                let test = $test;
                for (i, o) in out.iter_mut().enumerate() {
                    *o = valid(i) && test(strings.value(i));
                }
                return;
            }
        };
    }
    // Integers and decimals compare exactly with the bound's exact value: no rounding through
    // f64, no allocation per row.
    macro_rules! exact {
        ($t:ty, $range:expr) => {{
            let values = array.as_primitive::<$t>().values();
            let IntRange { lo, hi } = $range;
            for (i, o) in out.iter_mut().enumerate() {
                let v = values[i] as i128;
                *o = valid(i) && (v < lo || v > hi);
            }
            return;
        }};
    }
    if let CheckKind::ValidValues(values) = kind
        && let Some(unit_ns) = instant_unit(array.data_type())
    {
        // Date/timestamp literals, parsed once per batch into the column's unit (a literal
        // finer than the unit equals no value).
        let accepted: HashSet<i128> = values
            .iter()
            .filter_map(|v| match v {
                Literal::Text(t) => Bound::parse_instant(t)?.instant,
                _ => None,
            })
            .filter(|ns| ns % unit_ns == 0)
            .map(|ns| ns / unit_ns)
            .collect();
        macro_rules! instants {
            ($t:ty) => {{
                let values = array.as_primitive::<$t>().values();
                for (i, o) in out.iter_mut().enumerate() {
                    *o = valid(i) && !accepted.contains(&(values[i] as i128));
                }
                return;
            }};
        }
        match array.data_type() {
            DataType::Date32 => instants!(Date32Type),
            DataType::Timestamp(TimeUnit::Second, _) => instants!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => instants!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => instants!(TimestampMicrosecondType),
            _ => {}
        }
    }
    if let CheckKind::Min { bound, exclusive } | CheckKind::Max { bound, exclusive } = kind
        && let Some(ns) = bound.instant
    {
        // A date/timestamp bound over dates and timestamps, exactly at the column's unit.
        let upper = matches!(kind, CheckKind::Max { .. });
        let range = |unit_ns: i128| IntRange::instant(upper, ns, *exclusive, unit_ns);
        match array.data_type() {
            DataType::Date32 => exact!(Date32Type, range(86_400_000_000_000)),
            DataType::Date64 => exact!(Date64Type, range(1_000_000)),
            DataType::Timestamp(TimeUnit::Second, _) => {
                exact!(TimestampSecondType, range(1_000_000_000))
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                exact!(TimestampMillisecondType, range(1_000_000))
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                exact!(TimestampMicrosecondType, range(1_000))
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                exact!(TimestampNanosecondType, range(1))
            }
            _ => {}
        }
    } else if let CheckKind::Min { bound, exclusive } | CheckKind::Max { bound, exclusive } = kind {
        let upper = matches!(kind, CheckKind::Max { .. });
        let range = |scale: i32| IntRange::new(upper, *bound, *exclusive, scale);
        match array.data_type() {
            DataType::Int8 => exact!(Int8Type, range(0)),
            DataType::Int16 => exact!(Int16Type, range(0)),
            DataType::Int32 => exact!(Int32Type, range(0)),
            DataType::Int64 => exact!(Int64Type, range(0)),
            DataType::UInt8 => exact!(UInt8Type, range(0)),
            DataType::UInt16 => exact!(UInt16Type, range(0)),
            DataType::UInt32 => exact!(UInt32Type, range(0)),
            DataType::UInt64 => exact!(UInt64Type, range(0)),
            DataType::Decimal128(_, scale) => exact!(Decimal128Type, range(*scale as i32)),
            _ => {}
        }
    }
    match kind {
        CheckKind::Min { bound, exclusive } => {
            let (b, e) = (bound.for_type(array.data_type()), *exclusive);
            by_number_type!(|x: f64| x.is_nan() || if e { x <= b } else { x < b });
        }
        CheckKind::Max { bound, exclusive } => {
            let (b, e) = (bound.for_type(array.data_type()), *exclusive);
            by_number_type!(|x: f64| x.is_nan() || if e { x >= b } else { x > b });
        }
        CheckKind::Pattern(re) => texts!(|s: &str| !re.is_match(s)),
        CheckKind::MinLength(n) => texts!(|s: &str| s.len() < *n || s.chars().count() < *n),
        CheckKind::MaxLength(n) => texts!(|s: &str| s.len() > *n && s.chars().count() > *n),
        CheckKind::ValidValues(values) if values.iter().all(|v| matches!(v, Literal::Text(_))) => {
            texts!(|s: &str| !values
                .iter()
                .any(|v| matches!(v, Literal::Text(t) if t == s)));
        }
        _ => {}
    }
    for (i, o) in out.iter_mut().enumerate().take(rows) {
        *o = violates(kind, &cell(array, i));
    }
}

/// Nanoseconds per unit of a date or timestamp column whose cells count microseconds exactly
/// (nanosecond timestamps are read as microseconds by [`cell`], so they go the generic way).
fn instant_unit(ty: &DataType) -> Option<i128> {
    Some(match ty {
        DataType::Date32 => 86_400_000_000_000,
        DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        _ => return None,
    })
}

/// A UUID column (16-byte values, as [`crate`]'s Arrow conversion writes them: big-endian,
/// the canonical byte order) as its canonical text, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
/// so that patterns, lengths and accepted values read it as DuckDB prints it.
pub fn uuid_text(array: &ArrayRef) -> Option<ArrayRef> {
    let DataType::FixedSizeBinary(16) = array.data_type() else {
        return None;
    };
    let bin = array.as_fixed_size_binary();
    let mut out = arrow_array::builder::StringBuilder::with_capacity(bin.len(), bin.len() * 36);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 36];
    for i in 0..bin.len() {
        if bin.is_null(i) {
            out.append_null();
            continue;
        }
        let mut at = 0;
        for (k, b) in bin.value(i).iter().enumerate() {
            if matches!(k, 4 | 6 | 8 | 10) {
                text[at] = b'-';
                at += 1;
            }
            text[at] = HEX[(b >> 4) as usize];
            text[at + 1] = HEX[(b & 15) as usize];
            at += 2;
        }
        // The buffer holds only ASCII hex digits and dashes.
        out.append_value(std::str::from_utf8(&text).unwrap_or_default());
    }
    Some(std::sync::Arc::new(out.finish()))
}

/// Column `c` of `batch` as value checks read it: UUID columns as text, converted once per
/// batch (`as_text` keeps the conversions).
fn checked_column(
    uuid_columns: &[usize],
    batch: &[ArrayRef],
    c: usize,
    as_text: &mut Vec<(usize, ArrayRef)>,
) -> ArrayRef {
    if !uuid_columns.contains(&c) {
        return batch[c].clone();
    }
    if let Some((_, t)) = as_text.iter().find(|(k, _)| *k == c) {
        return t.clone();
    }
    match uuid_text(&batch[c]) {
        Some(t) => {
            as_text.push((c, t.clone()));
            t
        }
        None => batch[c].clone(),
    }
}

/// Why a value check cannot judge a column of DuckDB type `ty` (None: it can).
fn unfit_reason(kind: &CheckKind, ty: &str) -> Option<&'static str> {
    let text = {
        let t = ty.trim().to_ascii_uppercase();
        // UUIDs are checked as their canonical text (see [`uuid_text`]).
        !t.ends_with(']')
            && matches!(
                t.split('(').next().unwrap_or("").trim(),
                "VARCHAR" | "JSON" | "UUID"
            )
    };
    let time = LogicalType::Date.accepts(ty) || LogicalType::Timestamp.accepts(ty);
    match kind {
        // Accepted values compare text, numbers, booleans, dates and timestamps; on any other
        // type (BLOB, INTERVAL, TIME, nested) they never fired (review: validValues on such
        // columns passed or failed every row).
        CheckKind::ValidValues(_)
            if !(text
                || time
                || LogicalType::String.accepts(ty)
                || LogicalType::Number.accepts(ty)
                || LogicalType::Boolean.accepts(ty)) =>
        {
            Some("accepted values compare texts, numbers, booleans, dates and timestamps")
        }
        CheckKind::Pattern(_) if !text => Some("a pattern reads text"),
        CheckKind::MinLength(_) | CheckKind::MaxLength(_) if !text => {
            Some("a length check reads text")
        }
        CheckKind::Min { bound, .. } | CheckKind::Max { bound, .. } => {
            if bound.instant.is_some() && !time {
                Some("a date/timestamp bound reads dates and timestamps")
            } else if bound.instant.is_none() && !LogicalType::Number.accepts(ty) {
                Some(if time {
                    "a date or timestamp column needs a date/timestamp bound, e.g. ge('2024-01-31')"
                } else {
                    "a numeric bound reads numbers"
                })
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Per-batch marks: which rows fail which check (row-level checks, and with
/// [`Evaluator::update_marked`] also duplicates beyond a key's first occurrence).
#[derive(Debug, Default)]
pub struct Marks {
    /// One entry per check of the contract: its failing rows (empty when not evaluated).
    pub per_check: Vec<Vec<bool>>,
    pub rows: usize,
}

impl Marks {
    fn reset(&mut self, checks: usize, rows: usize) {
        self.per_check.resize_with(checks, Vec::new);
        for m in &mut self.per_check {
            m.clear();
        }
        self.rows = rows;
    }

    /// The ids of the checks each row fails, in contract order.
    pub fn ids_per_row<'c>(&self, checks: &'c [Check]) -> Vec<Vec<&'c str>> {
        let mut out = vec![Vec::new(); self.rows];
        for (check, marks) in checks.iter().zip(&self.per_check) {
            for (row, _) in marks.iter().enumerate().filter(|(_, f)| **f) {
                out[row].push(check.id.as_str());
            }
        }
        out
    }

    fn slot(&mut self, check: usize) -> &mut Vec<bool> {
        let m = &mut self.per_check[check];
        m.resize(self.rows, false);
        m
    }
}

fn sample_text(c: &Cell<'_>) -> Option<String> {
    Some(match c {
        Cell::Null => return None,
        Cell::Int(x) => x.to_string(),
        Cell::Number(x) => x.to_string(),
        Cell::Float32(x) => x.to_string(),
        Cell::Decimal(v, s) => {
            let digits = format!("{:0>width$}", v.unsigned_abs(), width = *s as usize + 1);
            let (int, frac) = digits.split_at(digits.len() - *s as usize);
            format!("{}{int}.{frac}", if *v < 0 { "-" } else { "" })
        }
        Cell::Text(s) => s.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Instant(t) => t.to_string(),
        Cell::Other => "(value)".into(),
    })
}

/// Appends the exact key bytes of row `row` of `array` for uniqueness; false for NULL (NULLs
/// never duplicate) and for values no key can be made of (nested types). Values compare as
/// DuckDB compares them: exact integers, decimals and times (no rounding through f64), one NaN
/// and one zero, intervals normalised (30-day months, 24-hour days).
fn key_bytes(array: &ArrayRef, row: usize, out: &mut Vec<u8>) -> bool {
    if array.is_null(row) {
        return false;
    }
    macro_rules! fixed {
        ($t:ty) => {
            out.extend_from_slice(&array.as_primitive::<$t>().value(row).to_le_bytes())
        };
    }
    let var = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match array.data_type() {
        DataType::Boolean => out.push(array.as_boolean().value(row) as u8),
        DataType::Int8 => fixed!(Int8Type),
        DataType::Int16 => fixed!(Int16Type),
        DataType::Int32 => fixed!(Int32Type),
        DataType::Int64 => fixed!(Int64Type),
        DataType::UInt8 => fixed!(UInt8Type),
        DataType::UInt16 => fixed!(UInt16Type),
        DataType::UInt32 => fixed!(UInt32Type),
        DataType::UInt64 => fixed!(UInt64Type),
        DataType::Float32 => out.extend_from_slice(
            &float_key(array.as_primitive::<Float32Type>().value(row) as f64).to_le_bytes(),
        ),
        DataType::Float64 => out.extend_from_slice(
            &float_key(array.as_primitive::<Float64Type>().value(row)).to_le_bytes(),
        ),
        DataType::Decimal128(_, _) => fixed!(Decimal128Type),
        DataType::Date32 => fixed!(Date32Type),
        DataType::Date64 => fixed!(Date64Type),
        DataType::Time32(TimeUnit::Second) => fixed!(Time32SecondType),
        DataType::Time32(_) => fixed!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => fixed!(Time64MicrosecondType),
        DataType::Time64(_) => fixed!(Time64NanosecondType),
        DataType::Timestamp(TimeUnit::Second, _) => fixed!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => fixed!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => fixed!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => fixed!(TimestampNanosecondType),
        DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            let days = v.months as i128 * 30 + v.days as i128;
            out.extend_from_slice(
                &(days * 86_400_000_000_000 + v.nanoseconds as i128).to_le_bytes(),
            );
        }
        DataType::Utf8 => var(out, array.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => var(out, array.as_string::<i64>().value(row).as_bytes()),
        DataType::Binary => var(out, array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => var(out, array.as_binary::<i64>().value(row)),
        DataType::FixedSizeBinary(_) => {
            out.extend_from_slice(array.as_fixed_size_binary().value(row))
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[row];
            return key_bytes(dict.values(), key, out);
        }
        _ => return false,
    }
    true
}

/// A fast, non-cryptographic hasher for uniqueness keys (the keys are data values, not
/// attacker-chosen table layouts; SipHash made uniqueness the slowest check by far).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // A final avalanche so that sequential keys spread over the table.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FastHash = std::hash::BuildHasherDefault<FastHasher>;

/// Key bits of a float: one zero, one NaN.
fn float_key(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// The distinct values of an integer key while they are dense (ids, sequence numbers): one
/// bit per value of their range, far cheaper than hashing. The range stays within 64 bits per
/// distinct value (or 1 Mbit), so memory stays bounded by the distinct values; a sparser key
/// moves to the hash set.
#[derive(Debug, Clone, Default)]
struct DenseSet {
    base: i64,
    bits: Vec<u64>,
    len: u64,
}

/// Range (in values) a dense set may always cover, whatever its count.
const DENSE_FLOOR: u64 = 1 << 20;

impl DenseSet {
    fn range(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn allowed(&self, range: u64) -> bool {
        range <= DENSE_FLOOR.max(self.len.saturating_mul(64))
    }

    /// Inserts `v`; None when `v` would make the set too sparse (the caller moves to hashing).
    fn insert(&mut self, v: i64) -> Option<bool> {
        let offset = v as i128 - self.base as i128;
        if self.bits.is_empty() || offset < 0 || offset >= self.range() as i128 {
            self.grow_to(v)?;
        }
        let offset = (v as i128 - self.base as i128) as u64;
        let (word, bit) = ((offset / 64) as usize, offset % 64);
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        self.len += fresh as u64;
        Some(fresh)
    }

    fn grow_to(&mut self, v: i64) -> Option<()> {
        if self.bits.is_empty() {
            self.base = v.saturating_sub(1024);
            self.bits = vec![0; 64];
            return (v - self.base < 64 * 64).then_some(());
        }
        let low = self.base.min(v);
        let high = (self.base as i128 + self.range() as i128 - 1).max(v as i128);
        let needed = (high - low as i128 + 1) as u128;
        // Grow geometrically, keeping the low end when growing upwards.
        let range = (needed.max(self.range() as u128 * 2)).next_multiple_of(64);
        if range > u64::MAX as u128 || !self.allowed(range as u64) {
            return None;
        }
        // Growing downwards keeps the high end (clamped at i64::MIN, where `range` still
        // covers `high`: range >= needed = high - low + 1 and low >= i64::MIN).
        let new_base = if v < self.base {
            (high - range as i128 + 1).max(i64::MIN as i128) as i64
        } else {
            self.base
        };
        let shift = (self.base - new_base) as u64;
        let mut bits = vec![0u64; (range / 64) as usize];
        for (w, word) in self.bits.iter().enumerate() {
            let mut x = *word;
            while x != 0 {
                let b = x.trailing_zeros() as u64;
                let o = w as u64 * 64 + b + shift;
                bits[(o / 64) as usize] |= 1 << (o % 64);
                x &= x - 1;
            }
        }
        self.base = new_base;
        self.bits = bits;
        Some(())
    }

    fn values(&self) -> impl Iterator<Item = i64> + '_ {
        self.bits.iter().enumerate().flat_map(move |(w, word)| {
            let base = self.base;
            (0..64)
                .filter(move |b| word & (1u64 << b) != 0)
                .map(move |b| base + (w as i64) * 64 + b)
        })
    }
}

/// Counts the keys of one batch for a duplicate check; with `mark`, marks the rows whose key
/// was already seen (every occurrence after the first). NULLs never duplicate.
fn count_duplicates(
    batch: &[ArrayRef],
    cols: &[usize],
    rows: usize,
    state: &mut CheckState,
    key: &mut Vec<u8>,
    mut mark: Option<&mut Vec<bool>>,
) {
    // Duplicates = keys - distinct keys, so a set suffices (half the memory of counts).
    let mut note = |row: usize, first: bool| {
        if !first && let Some(m) = mark.as_deref_mut() {
            m[row] = true;
        }
    };
    if let [c] = cols {
        let array = &batch[*c];
        let nulls = array.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        // One integer-like column: its value is the key (a column has one type, so values of
        // different types never meet in one set).
        macro_rules! ints {
            ($t:ty) => {{
                let values = array.as_primitive::<$t>().values();
                for row in 0..rows {
                    if valid(row) {
                        state.keys += 1;
                        let v = values[row] as i64;
                        let fresh = match state.dense.as_mut().map(|d| d.insert(v)) {
                            Some(Some(fresh)) => fresh,
                            Some(None) => {
                                state.undense();
                                state.seen_numbers.insert(v as u64)
                            }
                            None => state.seen_numbers.insert(v as u64),
                        };
                        note(row, fresh);
                    }
                }
                return;
            }};
        }
        match array.data_type() {
            DataType::Int8 => ints!(Int8Type),
            DataType::Int16 => ints!(Int16Type),
            DataType::Int32 => ints!(Int32Type),
            DataType::Int64 => ints!(Int64Type),
            DataType::UInt8 => ints!(UInt8Type),
            DataType::UInt16 => ints!(UInt16Type),
            DataType::UInt32 => ints!(UInt32Type),
            DataType::UInt64 => ints!(UInt64Type),
            DataType::Date32 => ints!(Date32Type),
            DataType::Timestamp(TimeUnit::Second, _) => ints!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => ints!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => ints!(TimestampMicrosecondType),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => ints!(TimestampNanosecondType),
            DataType::Float64 => {
                let values = array.as_primitive::<Float64Type>().values();
                for row in 0..rows {
                    if valid(row) {
                        state.keys += 1;
                        note(row, state.seen_numbers.insert(float_key(values[row])));
                    }
                }
                return;
            }
            _ => {}
        }
    }
    for row in 0..rows {
        key.clear();
        if cols.iter().all(|&c| key_bytes(&batch[c], row, key)) {
            state.keys += 1;
            // Allocate only for a key not seen before.
            let first = !state.seen.contains(key.as_slice());
            if first {
                state.seen.insert(key.as_slice().into());
            }
            note(row, first);
        }
    }
}

/// Adds `other` to `set`, iterating the smaller of the two.
fn union_into<T: Eq + std::hash::Hash>(
    set: &mut HashSet<T, FastHash>,
    mut other: HashSet<T, FastHash>,
) {
    if other.len() > set.len() {
        std::mem::swap(set, &mut other);
    }
    set.extend(other);
}

/// Status of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub check_id: String,
    pub kind: String,
    pub column: Option<String>,
    pub severity: Severity,
    pub status: Status,
    pub failed_rows: u64,
    pub total_rows: u64,
    pub failed_percent: f64,
    /// Failing values as text (None: a NULL value).
    pub samples: Vec<Option<String>>,
    pub message: String,
    /// A schema check, or a check that could not run because a column it reads is missing:
    /// handled as a schema violation (`on_schema_violation`).
    pub schema: bool,
}

impl CheckState {
    fn new(check: &Check) -> CheckState {
        CheckState {
            dense: matches!(&check.kind, CheckKind::Duplicate(cols) if cols.len() == 1)
                .then(DenseSet::default),
            ..CheckState::default()
        }
    }

    /// Moves the dense bitmap's values to the hash set.
    fn undense(&mut self) {
        if let Some(d) = self.dense.take() {
            self.seen_numbers.reserve(d.len as usize);
            self.seen_numbers.extend(d.values().map(|v| v as u64));
        }
    }

    fn distinct(&self) -> u64 {
        self.seen.len() as u64
            + self.seen_numbers.len() as u64
            + self.dense.as_ref().map_or(0, |d| d.len)
    }
}

#[derive(Debug, Clone, Default)]
struct CheckState {
    failed: u64,
    samples: Vec<Option<String>>,
    /// Duplicate checks: the non-NULL keys counted, and the distinct ones.
    keys: u64,
    seen: HashSet<Box<[u8]>, FastHash>,
    /// Duplicate checks on one number/time column: the distinct values (no allocation).
    seen_numbers: HashSet<u64, FastHash>,
    /// ... or, while an integer key is dense, its bitmap (a value is in one of the two).
    dense: Option<DenseSet>,
    /// Freshness: the newest instant seen.
    newest: Option<i64>,
}

/// Evaluation of one contract over batches whose columns are `columns` (name, DuckDB type).
#[derive(Debug, Clone)]
pub struct Evaluator {
    /// Shared by the clones of one evaluator (one per aggregate state, thread or group).
    checks: std::sync::Arc<[Check]>,
    /// Per check: the batch column indices it reads (None: a column is missing, or the check
    /// cannot read the column's type).
    bound: Vec<Option<Vec<usize>>>,
    /// Per check: why it cannot read its column's type (a pattern on a BIGINT column).
    unfit: Vec<Option<String>>,
    state: Vec<CheckState>,
    rows: u64,
    schema_results: Vec<CheckResult>,
    /// Batch columns of type UUID: value checks read them as text.
    uuid_columns: Vec<usize>,
}

const MAX_SAMPLES: usize = 5;

impl Evaluator {
    /// Binds the contract to the actual columns; schema checks (missing columns, wrong types,
    /// extra columns under `strict`) are decided here.
    pub fn new(contract: &Contract, columns: &[(String, String)]) -> Evaluator {
        Self::with_checks(contract, contract.checks.clone().into(), columns)
    }

    /// As [`Evaluator::new`], with `checks` (the contract's checks, shared with other
    /// evaluators) instead of `contract.checks`.
    pub fn with_checks(
        contract: &Contract,
        checks: std::sync::Arc<[Check]>,
        columns: &[(String, String)],
    ) -> Evaluator {
        // Names compare case-insensitively; looked up in a map, since contracts and tables
        // may both have tens of thousands of columns.
        let mut by_name: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(columns.len());
        for (i, (n, _)) in columns.iter().enumerate() {
            by_name.entry(n.to_ascii_lowercase()).or_insert(i);
        }
        let index = |name: &str| by_name.get(&name.to_ascii_lowercase()).copied();
        let mut schema_results = Vec::new();
        let mut schema_fail = |id: String, kind: &str, column: Option<String>, message: String| {
            schema_results.push(CheckResult {
                check_id: id,
                kind: kind.to_string(),
                column,
                severity: Severity::Error,
                status: Status::Fail,
                failed_rows: 0,
                total_rows: 0,
                failed_percent: 0.0,
                samples: Vec::new(),
                message,
                schema: true,
            });
        };
        for spec in &contract.columns {
            match index(&spec.name) {
                None => schema_fail(
                    format!("{}.present", spec.name),
                    "schema",
                    Some(spec.name.clone()),
                    format!("column '{}' is missing", spec.name),
                ),
                Some(i) => {
                    let actual = &columns[i].1;
                    let wrong_logical = spec.logical_type.is_some_and(|t| !t.accepts(actual));
                    let wrong_physical = spec
                        .physical_type
                        .as_ref()
                        .is_some_and(|p| !super::model::same_type_text(p, actual));
                    if wrong_logical || wrong_physical {
                        let expected = spec
                            .physical_type
                            .clone()
                            .or(spec.logical_type.map(|t| t.name().to_string()))
                            .unwrap_or_default();
                        schema_fail(
                            format!("{}.type", spec.name),
                            "schema",
                            Some(spec.name.clone()),
                            format!(
                                "column '{}' has type {actual}, expected {expected}",
                                spec.name
                            ),
                        );
                    }
                }
            }
        }
        if contract.strict {
            let declared: std::collections::HashSet<String> = contract
                .columns
                .iter()
                .map(|c| c.name.to_ascii_lowercase())
                .collect();
            for (name, _) in columns {
                if !declared.contains(&name.to_ascii_lowercase()) {
                    schema_fail(
                        format!("{name}.extra"),
                        "schema",
                        Some(name.clone()),
                        format!("column '{name}' is not in the contract (strict)"),
                    );
                }
            }
        }
        let mut bound: Vec<Option<Vec<usize>>> = checks
            .iter()
            .map(|c| {
                let names: Vec<&str> = match (&c.kind, &c.column) {
                    (CheckKind::Duplicate(cols), _) => cols.iter().map(String::as_str).collect(),
                    (_, Some(col)) => vec![col.as_str()],
                    (_, None) => vec![],
                };
                names.iter().map(|n| index(n)).collect::<Option<Vec<_>>>()
            })
            .collect();
        // A value check on a type it cannot read would never fire: it is a schema violation
        // that says so instead (review U5: a pattern on an integer column passed silently).
        let unfit: Vec<Option<String>> = checks
            .iter()
            .zip(&mut bound)
            .map(|(check, b)| {
                let col = b.as_ref()?.first()?;
                let (name, ty) = &columns[*col];
                let why = unfit_reason(&check.kind, ty)?;
                *b = None;
                Some(format!(
                    "cannot check {}: {why}, and column '{name}' has type {ty}; cast the column \
                     in the query or change the check",
                    check.id
                ))
            })
            .collect();
        let uuid_columns = columns
            .iter()
            .enumerate()
            .filter(|(_, (_, ty))| ty.trim().eq_ignore_ascii_case("UUID"))
            .map(|(i, _)| i)
            .collect();
        Evaluator {
            uuid_columns,
            state: checks.iter().map(CheckState::new).collect(),
            checks,
            bound,
            unfit,
            rows: 0,
            schema_results,
        }
    }

    /// Why each row-level check that cannot run (its column is missing, or of a type it cannot
    /// read) does not: a row filter must refuse them, or every row would pass them silently.
    pub fn unrunnable_row_checks(&self) -> Vec<String> {
        self.checks
            .iter()
            .zip(&self.bound)
            .zip(&self.unfit)
            .filter(|((c, b), _)| c.kind.is_row_level() && b.is_none())
            .map(|((c, _), why)| {
                why.clone().unwrap_or_else(|| {
                    format!(
                        "cannot check {}: column '{}' is missing",
                        c.id,
                        c.column.as_deref().unwrap_or_default()
                    )
                })
            })
            .collect()
    }

    /// Whether `other` evaluates the very same compiled checks (one parse of one file
    /// version), so that their states can be merged.
    pub fn same_checks(&self, other: &Evaluator) -> bool {
        std::sync::Arc::ptr_eq(&self.checks, &other.checks)
    }

    /// The checks of the contract, in order (indices of [`Marks::per_check`]).
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Marks the rows of `batch` that fail each row-level check (no state is changed).
    pub fn mark_rows(&self, batch: &[ArrayRef], rows: usize, marks: &mut Marks) {
        marks.reset(self.checks.len(), rows);
        let mut as_text = Vec::new();
        for (k, (check, bound)) in self.checks.iter().zip(&self.bound).enumerate() {
            if check.kind.is_row_level()
                && let Some(cols) = bound
                && let Some(&c) = cols.first()
            {
                let array = checked_column(&self.uuid_columns, batch, c, &mut as_text);
                fail_mask(&check.kind, &array, marks.slot(k));
            }
        }
    }

    /// The row-level checks each row of `batch` violates (ids, in contract order).
    pub fn violations_per_row(&self, batch: &[ArrayRef], rows: usize) -> Vec<Vec<&str>> {
        let mut marks = Marks::default();
        self.mark_rows(batch, rows, &mut marks);
        marks.ids_per_row(&self.checks)
    }

    /// The row-level checks row `row` of `batch` violates (ids, in contract order).
    #[cfg(test)]
    pub fn row_violations(&self, batch: &[ArrayRef], row: usize) -> Vec<String> {
        let one: Vec<ArrayRef> = batch.iter().map(|a| a.slice(row, 1)).collect();
        self.violations_per_row(&one, 1)
            .pop()
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Accumulates a batch of `rows` rows.
    pub fn update(&mut self, batch: &[ArrayRef], rows: usize) {
        self.update_marked(batch, rows, None);
    }

    /// Accumulates a batch and, with `marks`, records which rows fail each row-level check and
    /// which rows repeat a key seen before (in this evaluator, earlier rows first): the rows a
    /// quarantine sets aside.
    pub fn update_marked(
        &mut self,
        batch: &[ArrayRef],
        rows: usize,
        mut marks: Option<&mut Marks>,
    ) {
        self.rows += rows as u64;
        if let Some(m) = marks.as_deref_mut() {
            m.reset(self.checks.len(), rows);
        }
        let mut scratch = Vec::new();
        let mut key = Vec::new();
        // UUID columns as text, converted once per batch for every value check reading them.
        let mut as_text: Vec<(usize, ArrayRef)> = Vec::new();
        for (k, ((check, bound), state)) in self
            .checks
            .iter()
            .zip(&self.bound)
            .zip(&mut self.state)
            .enumerate()
        {
            let Some(cols) = bound else { continue };
            match &check.kind {
                CheckKind::RowCount => {}
                CheckKind::Duplicate(_) => {
                    let mark = marks.as_deref_mut().map(|m| m.slot(k));
                    count_duplicates(batch, cols, rows, state, &mut key, mark);
                }
                CheckKind::Freshness { .. } => {
                    for row in 0..rows {
                        if let Cell::Instant(t) = cell(&batch[cols[0]], row) {
                            state.newest = Some(state.newest.map_or(t, |n| n.max(t)));
                        }
                    }
                }
                kind => {
                    let array = &checked_column(&self.uuid_columns, batch, cols[0], &mut as_text);
                    let mask = match marks.as_deref_mut() {
                        Some(m) => m.slot(k),
                        None => {
                            scratch.clear();
                            scratch.resize(rows, false);
                            &mut scratch
                        }
                    };
                    fail_mask(kind, array, mask);
                    let failed = mask.iter().filter(|f| **f).count();
                    state.failed += failed as u64;
                    if failed > 0 && state.samples.len() < MAX_SAMPLES {
                        for row in mask.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i) {
                            if state.samples.len() >= MAX_SAMPLES {
                                break;
                            }
                            state.samples.push(sample_text(&cell(array, row)));
                        }
                    }
                }
            }
        }
    }

    /// Combines the state of another evaluator of the same contract (parallel aggregation).
    pub fn merge(&mut self, other: Evaluator) {
        self.rows += other.rows;
        for (mine, theirs) in self.state.iter_mut().zip(other.state) {
            mine.failed += theirs.failed;
            for s in theirs.samples {
                if mine.samples.len() < MAX_SAMPLES {
                    mine.samples.push(s);
                }
            }
            mine.keys += theirs.keys;
            match (&mut mine.dense, theirs.dense) {
                (Some(d), Some(t)) => {
                    let mut fits = true;
                    for v in t.values() {
                        if d.insert(v).is_none() {
                            fits = false;
                            break;
                        }
                    }
                    if !fits {
                        mine.undense();
                        mine.seen_numbers.extend(t.values().map(|v| v as u64));
                    }
                }
                (_, Some(t)) => {
                    mine.undense();
                    mine.seen_numbers.extend(t.values().map(|v| v as u64));
                }
                (Some(_), None) => mine.undense(),
                (None, None) => {}
            }
            union_into(&mut mine.seen_numbers, theirs.seen_numbers);
            union_into(&mut mine.seen, theirs.seen);
            mine.newest = match (mine.newest, theirs.newest) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// The verdicts: schema checks first, then every check in contract order. `now_micros` is
    /// the reference time for freshness.
    pub fn finish(&self, now_micros: i64) -> Vec<CheckResult> {
        let mut out = self.schema_results.clone();
        for (k, ((check, bound), state)) in self
            .checks
            .iter()
            .zip(&self.bound)
            .zip(&self.state)
            .enumerate()
        {
            let total = self.rows;
            let base = |status: Status, failed: u64, message: String| CheckResult {
                check_id: check.id.clone(),
                kind: check.kind.name().to_string(),
                column: check.column.clone(),
                severity: check.severity,
                status,
                failed_rows: failed,
                total_rows: total,
                failed_percent: if total == 0 {
                    0.0
                } else {
                    failed as f64 * 100.0 / total as f64
                },
                samples: state.samples.clone(),
                message,
                schema: false,
            };
            let bad = match check.severity {
                Severity::Error => Status::Fail,
                Severity::Warning => Status::Warn,
            };
            if bound.is_none() {
                let message = self.unfit[k].clone().unwrap_or_else(|| {
                    format!("cannot check {}: a column it reads is missing", check.id)
                });
                let mut r = base(bad, 0, message);
                r.schema = true;
                out.push(r);
                continue;
            }
            let (failed, measured, what) = match &check.kind {
                CheckKind::RowCount => (0, total as f64, format!("{total} rows")),
                CheckKind::Duplicate(cols) => {
                    // Rows beyond the first occurrence of each value.
                    let extra = state.keys - state.distinct();
                    (
                        extra,
                        0.0,
                        format!("{extra} duplicate rows in ({})", cols.join(", ")),
                    )
                }
                CheckKind::Freshness { max_age_seconds } => {
                    let age = state.newest.map(|t| (now_micros - t) as f64 / 1e6);
                    let stale = age.is_none_or(|a| a > *max_age_seconds);
                    let message = match age {
                        Some(a) => {
                            format!("newest value is {a:.0} s old (at most {max_age_seconds} s)")
                        }
                        None => "no values to judge freshness".to_string(),
                    };
                    out.push(base(if stale { bad } else { Status::Pass }, 0, message));
                    continue;
                }
                _ => (state.failed, 0.0, format!("{} failing rows", state.failed)),
            };
            let measured = match (&check.kind, check.threshold.unit) {
                (CheckKind::RowCount, _) => measured,
                (_, Unit::Rows) => failed as f64,
                (_, Unit::Percent) => {
                    if total == 0 {
                        0.0
                    } else {
                        failed as f64 * 100.0 / total as f64
                    }
                }
            };
            let ok = check.threshold.op.holds(measured);
            let mut r = base(if ok { Status::Pass } else { bad }, failed, what);
            if !ok {
                let unit = match check.threshold.unit {
                    Unit::Rows => "",
                    Unit::Percent => " percent",
                };
                r.message = format!(
                    "{}: {}; required {}{unit} (declared at {})",
                    check.id, r.message, check.threshold.op, check.origin
                );
            }
            out.push(r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::parse;
    use arrow_array::{Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    const C: &str = r#"
columns:
  id: {dtype: int, nullable: false, unique: true}
  score: {dtype: float, checks: ["ge(0)", "le(100)"]}
  status: {dtype: str, checks: ["isin(['new', 'done'])", "str_matches('^[a-z]+$')"]}
strict: true
"#;

    fn batch(
        ids: Vec<Option<i64>>,
        scores: Vec<Option<f64>>,
        status: Vec<Option<&str>>,
    ) -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Float64Array::from(scores)),
            Arc::new(StringArray::from(status)),
        ]
    }

    fn cols() -> Vec<(String, String)> {
        vec![
            ("id".into(), "BIGINT".into()),
            ("score".into(), "DOUBLE".into()),
            ("status".into(), "VARCHAR".into()),
        ]
    }

    #[test]
    fn nulls_violate_only_null_checks_and_never_duplicate() {
        let contract = parse("c.yaml", C).unwrap();
        let mut ev = Evaluator::new(&contract, &cols());
        let b = batch(
            vec![Some(1), None, None, Some(1)],
            vec![Some(5.0), None, Some(f64::NAN), Some(101.0)],
            vec![Some("new"), None, Some(""), Some("Done")],
        );
        assert_eq!(
            ev.row_violations(&b, 1),
            vec!["id.null_values"],
            "NULL score/status are fine"
        );
        assert_eq!(
            ev.row_violations(&b, 2),
            vec![
                "id.null_values",
                "score.minimum",
                "score.maximum",
                "status.valid_values",
                "status.pattern"
            ]
        );
        assert_eq!(
            ev.row_violations(&b, 3),
            vec!["score.maximum", "status.valid_values", "status.pattern"]
        );
        ev.update(&b, 4);
        let results = ev.finish(0);
        let r = |id: &str| results.iter().find(|r| r.check_id == id).unwrap().clone();
        assert_eq!(r("id.null_values").failed_rows, 2);
        assert_eq!(
            r("id.duplicate_values").failed_rows,
            1,
            "two NULL ids are not duplicates"
        );
        assert_eq!(r("score.maximum").failed_rows, 2);
        assert_eq!(
            r("score.maximum").samples,
            vec![Some("NaN".to_string()), Some("101".to_string())]
        );
        assert_eq!(r("status.pattern").status, Status::Fail);
        assert_eq!(r("status.valid_values").failed_percent, 50.0);
    }

    #[test]
    fn merged_parallel_states_give_the_same_verdicts() {
        let contract = parse("c.yaml", C).unwrap();
        let b1 = batch(
            vec![Some(1), Some(2)],
            vec![Some(1.0), Some(2.0)],
            vec![Some("new"), Some("new")],
        );
        let b2 = batch(
            vec![Some(2), Some(3)],
            vec![Some(1.0), Some(-2.0)],
            vec![Some("done"), Some("x")],
        );
        let mut whole = Evaluator::new(&contract, &cols());
        whole.update(&b1, 2);
        whole.update(&b2, 2);
        let mut left = Evaluator::new(&contract, &cols());
        let mut right = Evaluator::new(&contract, &cols());
        left.update(&b1, 2);
        right.update(&b2, 2);
        left.merge(right);
        assert_eq!(whole.finish(0), left.finish(0));
        let dup = left
            .finish(0)
            .into_iter()
            .find(|r| r.check_id == "id.duplicate_values")
            .unwrap();
        assert_eq!(dup.failed_rows, 1, "id 2 appears in both threads' halves");
    }

    #[test]
    fn schema_checks_report_missing_wrong_and_extra_columns() {
        let contract = parse("c.yaml", C).unwrap();
        let actual = vec![
            ("id".to_string(), "VARCHAR".to_string()),
            ("status".to_string(), "VARCHAR".to_string()),
            ("surprise".to_string(), "INTEGER".to_string()),
        ];
        let results = Evaluator::new(&contract, &actual).finish(0);
        let msgs: Vec<&str> = results
            .iter()
            .filter(|r| r.kind == "schema")
            .map(|r| r.message.as_str())
            .collect();
        assert_eq!(
            msgs,
            [
                "column 'id' has type VARCHAR, expected integer",
                "column 'score' is missing",
                "column 'surprise' is not in the contract (strict)",
            ]
        );
        let score_min = results
            .iter()
            .find(|r| r.check_id == "score.minimum")
            .unwrap();
        assert_eq!(score_min.status, Status::Fail);
        assert!(score_min.message.contains("missing"));
    }

    #[test]
    fn thresholds_units_severity_row_count_and_freshness() {
        let odcs = r#"
apiVersion: v3.1.0
kind: DataContract
schema:
  - name: t
    properties:
      - name: v
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {validValues: [a]}
            mustBeLessThan: 30
            unit: percent
          - metric: nullValues
            mustBe: 0
            severity: warning
      - name: ts
        logicalType: timestamp
    quality:
      - metric: rowCount
        mustBeGreaterThan: 3
slaProperties:
  - {property: freshness, value: 1, unit: h, element: t.ts}
"#;
        let contract = parse("o.yaml", odcs).unwrap();
        let columns = vec![
            ("v".to_string(), "VARCHAR".to_string()),
            ("ts".to_string(), "TIMESTAMP".to_string()),
        ];
        let mut ev = Evaluator::new(&contract, &columns);
        let ts = arrow_array::TimestampMicrosecondArray::from(vec![
            Some(0i64),
            Some(3_000_000_000),
            None,
        ]);
        ev.update(
            &[
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
                Arc::new(ts),
            ],
            3,
        );
        let results = ev.finish(3_000_000_000 + 3_600_000_000);
        let r = |id: &str| results.iter().find(|r| r.check_id == id).unwrap().clone();
        assert_eq!(
            r("v.invalidValues").status,
            Status::Fail,
            "1 of 3 rows = 33% >= 30%"
        );
        assert_eq!(
            r("v.nullValues").status,
            Status::Warn,
            "warning severity never fails"
        );
        assert_eq!(r("rowCount").status, Status::Fail, "3 rows is not > 3");
        assert_eq!(
            r("ts.freshness").status,
            Status::Pass,
            "exactly one hour old"
        );
        let stale = ev.finish(3_000_000_000 + 3_600_000_001 + 1_000_000);
        assert_eq!(
            stale
                .iter()
                .find(|r| r.check_id == "ts.freshness")
                .unwrap()
                .status,
            Status::Fail
        );
    }

    #[test]
    fn typed_masks_agree_with_the_cell_semantics() {
        use arrow_array::{Int32Array, UInt8Array};
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![
                Some(-1),
                None,
                Some(0),
                Some(5),
                Some(100),
            ])),
            Arc::new(UInt8Array::from(vec![
                Some(0),
                Some(255),
                None,
                Some(7),
                Some(1),
            ])),
            Arc::new(Float64Array::from(vec![
                Some(f64::NAN),
                Some(f64::INFINITY),
                None,
                Some(-0.0),
                Some(99.5),
            ])),
            Arc::new(StringArray::from(vec![
                Some(""),
                None,
                Some("ünïcødé"),
                Some("abc"),
                Some("a@b"),
            ])),
        ];
        let kinds = vec![
            CheckKind::Null,
            CheckKind::Min {
                bound: Bound::float(0.0, None),
                exclusive: false,
            },
            CheckKind::Min {
                bound: Bound::float(0.0, None),
                exclusive: true,
            },
            CheckKind::Max {
                bound: Bound::float(99.5, None),
                exclusive: false,
            },
            CheckKind::Max {
                bound: Bound::float(99.5, None),
                exclusive: true,
            },
            CheckKind::MinLength(3),
            CheckKind::MaxLength(3),
            CheckKind::Pattern(regex::Regex::new("^[a-z]+$").unwrap()),
            CheckKind::ValidValues(vec![Literal::Text("abc".into()), Literal::Text("".into())]),
            CheckKind::ValidValues(vec![Literal::Number(5.0), Literal::Number(0.0)]),
            CheckKind::Missing(vec![Literal::Null, Literal::Text("".into())]),
        ];
        for array in &arrays {
            for kind in &kinds {
                let mut typed = vec![false; array.len()];
                fail_mask(kind, array, &mut typed);
                let generic: Vec<bool> = (0..array.len())
                    .map(|i| violates(kind, &cell(array, i)))
                    .collect();
                assert_eq!(typed, generic, "{kind:?} over {array:?}");
            }
        }
    }

    #[test]
    fn marks_flag_every_repeat_of_a_key_after_its_first_occurrence() {
        let contract = parse("c.yaml", C).unwrap();
        let mut ev = Evaluator::new(&contract, &cols());
        let b = batch(
            vec![Some(7), Some(7), None, None, Some(8), Some(7)],
            vec![Some(1.0); 6],
            vec![Some("new"); 6],
        );
        let mut marks = Marks::default();
        ev.update_marked(&b, 6, Some(&mut marks));
        let dup = ev
            .checks()
            .iter()
            .position(|c| c.id == "id.duplicate_values")
            .unwrap();
        assert_eq!(
            marks.per_check[dup],
            [false, true, false, false, false, true]
        );
        let ids = marks.ids_per_row(ev.checks());
        assert_eq!(ids[2], ["id.null_values"]);
        assert_eq!(ids[5], ["id.duplicate_values"]);
        let more = batch(vec![Some(8)], vec![Some(1.0)], vec![Some("new")]);
        ev.update_marked(&more, 1, Some(&mut marks));
        assert_eq!(
            marks.per_check[dup],
            [true],
            "a key from an earlier batch repeats"
        );
    }

    #[test]
    fn dense_integer_keys_count_like_hashed_ones_and_fall_back_when_sparse() {
        let contract = parse("c.yaml", "columns:\n  id: {dtype: int, unique: true}\n").unwrap();
        let cols = vec![("id".to_string(), "BIGINT".to_string())];
        let run = |values: Vec<Option<i64>>, split: usize| {
            let mut left = Evaluator::new(&contract, &cols);
            let mut right = Evaluator::new(&contract, &cols);
            let (a, b) = values.split_at(split);
            left.update(
                &[Arc::new(Int64Array::from(a.to_vec())) as ArrayRef],
                a.len(),
            );
            right.update(
                &[Arc::new(Int64Array::from(b.to_vec())) as ArrayRef],
                b.len(),
            );
            left.merge(right);
            left.finish(0)
                .into_iter()
                .find(|r| r.check_id == "id.duplicate_values")
                .unwrap()
                .failed_rows
        };
        let expected = |values: &[Option<i64>]| {
            let keys: Vec<i64> = values.iter().flatten().copied().collect();
            let distinct: std::collections::HashSet<i64> = keys.iter().copied().collect();
            (keys.len() - distinct.len()) as u64
        };
        let mut rng = fastrand::Rng::with_seed(7);
        // Dense ids growing both ways, sparse ids, extremes, NULLs; merged at several points.
        let cases: Vec<Vec<Option<i64>>> = vec![
            (0..5000).map(|i| Some(i % 3000)).collect(),
            (0..5000).map(|i| Some(10_000 - i % 4000)).collect(),
            (0..3000)
                .map(|_| Some(rng.i64(..)))
                .chain((0..10).map(|_| Some(5)))
                .collect(),
            vec![
                Some(i64::MIN),
                Some(i64::MAX),
                Some(i64::MIN),
                None,
                None,
                Some(0),
                Some(-1),
            ],
            (0..20_000)
                .map(|i| {
                    if i % 7 == 0 {
                        None
                    } else {
                        Some((i * 37) % 9000 - 4500)
                    }
                })
                .collect(),
            (0..4000)
                .map(|i| Some(if i < 2000 { i } else { i * 1_000_000_000 }))
                .chain([Some(5), Some(2_000_000_000_000)])
                .collect(),
        ];
        for values in cases {
            for split in [0, 1, values.len() / 2, values.len()] {
                assert_eq!(
                    run(values.clone(), split),
                    expected(&values),
                    "split {split}"
                );
            }
        }
    }

    #[test]
    fn bounds_compare_integers_and_decimals_exactly() {
        use arrow_array::{Decimal128Array, UInt64Array};
        // Review L7: ge(9007199254740993) as an f64 passed 9007199254740992.
        let c = parse(
            "c.yaml",
            "columns:\n  v: {checks: [\"ge(9007199254740993)\", \"lt(18446744073709551615)\"]}\n",
        )
        .unwrap();
        let mask = |array: ArrayRef, k: usize| {
            let mut out = vec![false; array.len()];
            fail_mask(&c.checks[k].kind, &array, &mut out);
            let generic: Vec<bool> = (0..array.len())
                .map(|i| violates(&c.checks[k].kind, &cell(&array, i)))
                .collect();
            assert_eq!(out, generic, "typed and generic agree");
            out
        };
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            9007199254740992,
            9007199254740993,
            i64::MIN,
        ]));
        assert_eq!(mask(ints, 0), [true, false, true]);
        let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![
            9007199254740992,
            u64::MAX - 1,
            u64::MAX,
        ]));
        assert_eq!(mask(unsigned.clone(), 0), [true, false, false]);
        assert_eq!(mask(unsigned, 1), [false, false, true]);
        // HUGEINT arrives as DECIMAL(38,0).
        let huge: ArrayRef = Arc::new(
            Decimal128Array::from(vec![9007199254740992i128, 9007199254740993, i128::MAX])
                .with_precision_and_scale(38, 0)
                .unwrap(),
        );
        assert_eq!(mask(huge, 0), [true, false, false]);
        // DECIMAL(20,2): 900719925474.92 is below 900719925474.93 (a float bound is exact as
        // written).
        let d = parse(
            "d.yaml",
            "columns:\n  v: {checks: [\"ge(900719925474.93)\", \"le(0.1)\"]}\n",
        )
        .unwrap();
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![90071992547492i128, 90071992547493, 10])
                .with_precision_and_scale(20, 2)
                .unwrap(),
        );
        let mut out = vec![false; 3];
        fail_mask(&d.checks[0].kind, &dec, &mut out);
        assert_eq!(out, [true, false, true]);
        fail_mask(&d.checks[1].kind, &dec, &mut out);
        assert_eq!(out, [true, true, false], "0.10 <= 0.1 exactly");
    }

    /// Rows of `array` failing check `check` (simple format) of a column `v`, typed and
    /// generic paths agreeing.
    fn failing_rows(check: &str, array: ArrayRef) -> Vec<bool> {
        let c = parse(
            "x.yaml",
            &format!("columns:\n  v: {{checks: [\"{check}\"]}}\n"),
        )
        .unwrap();
        let mut out = vec![false; array.len()];
        fail_mask(&c.checks[0].kind, &array, &mut out);
        let generic: Vec<bool> = (0..array.len())
            .map(|i| violates(&c.checks[0].kind, &cell(&array, i)))
            .collect();
        assert_eq!(out, generic, "{check}: typed and generic agree");
        out
    }

    #[test]
    fn fractional_and_huge_bounds_compare_as_written_not_as_doubles() {
        use arrow_array::Decimal128Array;
        // Each passed (or failed) through the double before (review L7).
        let dec = |v: Vec<i128>, p, s| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(v)
                    .with_precision_and_scale(p, s)
                    .unwrap(),
            )
        };
        let big = dec(vec![1_000_000_000_000_000_000_000i128], 38, 4);
        assert_eq!(
            failing_rows("le(99999999999999999.9999)", big.clone()),
            [true]
        );
        assert_eq!(failing_rows("le(100000000000000000.0000)", big), [false]);
        let d = dec(vec![150, 151], 10, 2);
        assert_eq!(
            failing_rows("ge(1.50000000000000001)", d.clone()),
            [true, false]
        );
        assert_eq!(failing_rows("gt(1.50000000000000000001)", d), [true, false]);
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![9007199254740993, 9007199254740994]));
        assert_eq!(
            failing_rows("le(9007199254740993.0)", ints.clone()),
            [false, true]
        );
        assert_eq!(
            failing_rows("le(9007199254740993.5)", ints.clone()),
            [false, true]
        );
        assert_eq!(
            failing_rows("ge(9.007199254740993e15)", ints.clone()),
            [false, false]
        );
        assert_eq!(
            failing_rows("isin([9007199254740993.0])", ints.clone()),
            [false, true]
        );
        assert_eq!(
            failing_rows("isin(['9007199254740993.0'])", ints),
            [false, true]
        );
        let huge = dec(vec![i128::MIN + 1, i128::MAX], 38, 0);
        for c in [
            "ge(-170141183460469231731687303715884105729)",
            "ge(-170141183460469231731687303715884105728.5)",
            "le(170141183460469231731687303715884105727.0)",
            "le(1e39)",
        ] {
            assert_eq!(failing_rows(c, huge.clone()), [false, false], "{c}");
        }
        assert_eq!(
            failing_rows(
                "lt(170141183460469231731687303715884105727.0)",
                huge.clone()
            ),
            [false, true]
        );
        assert_eq!(failing_rows("gt(-1e39)", huge.clone()), [false, false]);
        assert_eq!(failing_rows("ge(1e-300)", huge), [true, false]);
    }

    #[test]
    fn odcs_bounds_compare_as_written() {
        let c = parse(
            "o.yaml",
            "apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n    properties:\n      \
             - name: v\n        logicalType: integer\n        logicalTypeOptions:\n          \
             maximum: 9007199254740993.5\n",
        )
        .unwrap();
        let kind = &c
            .checks
            .iter()
            .find(|k| matches!(k.kind, CheckKind::Max { .. }))
            .unwrap()
            .kind;
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![9007199254740993, 9007199254740994]));
        let mut out = vec![false; 2];
        fail_mask(kind, &ints, &mut out);
        assert_eq!(out, [false, true]);
    }

    #[test]
    fn float_columns_compare_with_the_bound_rounded_to_float() {
        use arrow_array::Float32Array;
        // DuckDB: 0.7::FLOAT >= 0.7 holds (the constant is cast to FLOAT); failed before.
        let f: ArrayRef = Arc::new(Float32Array::from(vec![0.7f32, 0.6999999, 0.7000001]));
        assert_eq!(failing_rows("ge(0.7)", f.clone()), [false, true, false]);
        assert_eq!(failing_rows("le(0.7)", f.clone()), [false, false, true]);
        assert_eq!(failing_rows("gt(0.7)", f.clone()), [true, true, false]);
        assert_eq!(failing_rows("isin([0.7])", f.clone()), [false, true, true]);
        assert_eq!(
            failing_rows("isin(['0.7'])", f.clone()),
            [false, true, true]
        );
        // Beyond FLOAT's range the double is used; DOUBLE columns compare with the double.
        assert_eq!(failing_rows("le(1e39)", f.clone()), [false, false, false]);
        assert_eq!(failing_rows("ge(-1e39)", f), [false, false, false]);
        let d: ArrayRef = Arc::new(Float64Array::from(vec![0.7f32 as f64, 0.7]));
        assert_eq!(failing_rows("ge(0.7)", d), [true, false]);
    }

    /// Failed rows per check of `checks` on a column `v` of DuckDB type `ty` (None: the check
    /// did not run; its schema result says why).
    fn results_on(checks: &str, ty: &str, array: ArrayRef) -> Vec<(u64, String)> {
        let c = parse(
            "x.yaml",
            &format!("columns:\n  v: {{checks: [{checks}]}}\n"),
        )
        .unwrap();
        let mut ev = Evaluator::new(&c, &[("v".into(), ty.into())]);
        let rows = array.len();
        ev.update(std::slice::from_ref(&array), rows);
        let mut marks = Marks::default();
        ev.mark_rows(&[array], rows, &mut marks);
        let results = ev.finish(0);
        for (k, r) in results.iter().filter(|r| !r.schema).enumerate() {
            let marked = marks.per_check[k].iter().filter(|m| **m).count() as u64;
            assert_eq!(marked, r.failed_rows, "mark_rows and update agree");
        }
        results
            .into_iter()
            .map(|r| (r.failed_rows, format!("{} {:?}", r.message, r.samples)))
            .collect()
    }

    #[test]
    fn uuid_columns_are_checked_as_their_canonical_text() {
        use arrow_array::FixedSizeBinaryArray;
        // Was a schema failure ("a pattern reads text") for patterns and lengths.
        let a: [u8; 16] = [
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        let uuids: ArrayRef = Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                [Some(a), Some([0u8; 16]), None].into_iter(),
                16,
            )
            .unwrap(),
        );
        let r = results_on(
            "\"str_matches('^12345678-9abc-def0-0123-456789abcdef$')\", \
             \"isin(['12345678-9abc-def0-0123-456789abcdef'])\"",
            "UUID",
            uuids,
        );
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 1], "{r:?}");
        assert!(
            r[0].1.contains("00000000-0000-0000-0000-000000000000"),
            "{r:?}"
        );
    }

    #[test]
    fn accepted_values_on_dates_and_timestamps_compare_instants() {
        use arrow_array::{Date32Array, TimestampMicrosecondArray, TimestampSecondArray};
        // Every row failed before: a text literal never equalled a date.
        let days: ArrayRef = Arc::new(Date32Array::from(vec![19753, 19754])); // 2024-01-31, 02-01
        let r = results_on("\"isin(['2024-01-31'])\"", "DATE", days);
        assert_eq!(r[0].0, 1, "{r:?}");
        let micros: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            1_706_702_400_000_000,
            1_706_702_400_000_001,
        ]));
        let r = results_on(
            "\"isin(['2024-01-31 12:00:00', '2024-01-31'])\"",
            "TIMESTAMP",
            micros,
        );
        assert_eq!(r[0].0, 1, "{r:?}");
        let secs: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_706_702_400, 1]));
        let r = results_on(
            "\"isin(['2024-01-31T12:00:00Z', '2024-01-31 12:00:00.5'])\"",
            "TIMESTAMP_S",
            secs,
        );
        assert_eq!(r[0].0, 1, "{r:?}");
    }

    #[test]
    fn accepted_values_on_unreadable_types_are_reported_unfit() {
        use arrow_array::BinaryArray;
        // A BLOB isin never fired (every row passed).
        let blobs: ArrayRef = Arc::new(BinaryArray::from(vec![&b"a"[..], &b"b"[..]]));
        let r = results_on("\"isin(['a'])\"", "BLOB", blobs);
        assert!(
            r.iter()
                .any(|(_, m)| m.contains("accepted values compare") && m.contains("BLOB")),
            "{r:?}"
        );
    }

    #[test]
    fn exact_decimals_parse_as_written() {
        let e = |t: &str| Exact::parse(t).map(|e| e.to_string());
        assert_eq!(e("1.50"), Some("1.5".into()));
        assert_eq!(e("-0.0"), Some("0".into()));
        assert_eq!(e("+12.5e-3"), Some("0.0125".into()));
        assert_eq!(e(".5"), Some("0.5".into()));
        assert_eq!(e("5."), Some("5".into()));
        assert_eq!(e("00012.000"), Some("12".into()));
        assert_eq!(e("1e38"), Some(format!("1{}", "0".repeat(38))));
        assert_eq!(e("1e-39"), Some(format!("0.{}...", "0".repeat(38))));
        assert_eq!(e("1e999999999999"), Some("(beyond 2^128)".into()));
        for bad in [
            "", ".", "e5", "1e", "1.2.3", "0x1F", "1_000", ".inf", "--1", "1e+-2",
        ] {
            assert_eq!(Exact::parse(bad), None, "{bad}");
        }
        // Two numerals that are one double cannot both be kept exactly.
        let err = super::super::yaml::parse("a: 0.1\nb: 0.10000000000000001\n").unwrap_err();
        assert!(err.0.contains("read as the same double"), "{err}");
        assert!(super::super::yaml::parse("a: 0.1\nb: 0.10\n").is_ok());
    }

    #[test]
    fn integer_ranges_round_the_bound_the_right_way() {
        let r = |upper, b: Bound, ex, scale| IntRange::new(upper, b, ex, scale);
        let half = Bound::float(2.5, None);
        assert_eq!(r(false, half, false, 0).lo, 3, "v >= 2.5 <=> v >= 3");
        assert_eq!(r(false, half, true, 0).lo, 3, "v > 2.5 <=> v >= 3");
        assert_eq!(r(true, half, false, 0).hi, 2, "v <= 2.5 <=> v <= 2");
        assert_eq!(r(true, half, true, 0).hi, 2);
        let neg = Bound::float(-2.5, None);
        assert_eq!(r(false, neg, false, 0).lo, -2);
        assert_eq!(r(true, neg, false, 0).hi, -3);
        assert_eq!(r(false, Bound::int(5), true, 0).lo, 6);
        assert_eq!(r(true, Bound::int(5), true, 0).hi, 4);
        assert_eq!(r(false, Bound::int(5), false, 2).lo, 500, "scale 2: 5.00");
        // Beyond every 128-bit value.
        let above = Bound::uint(300_000_000_000_000_000_000_000_000_000_000_000_000);
        assert_eq!(r(false, above, false, 0), IntRange::NONE);
        assert_eq!(r(true, above, false, 0), IntRange::ALL);
        assert_eq!(
            r(false, Bound::float(1e300, None), false, 0),
            IntRange::NONE
        );
        assert_eq!(
            r(false, Bound::float(-1e300, None), false, 0),
            IntRange::ALL
        );
        assert_eq!(
            r(false, Bound::float(f64::NEG_INFINITY, None), false, 0),
            IntRange::ALL
        );
        assert_eq!(
            r(true, Bound::float(f64::INFINITY, None), true, 0),
            IntRange::ALL
        );
        assert_eq!(r(false, Bound::float(1e-300, None), false, 0).lo, 1);
        assert_eq!(r(true, Bound::float(1e-300, None), false, 0).hi, 0);
    }

    #[test]
    fn date_and_timestamp_bounds_compare_exactly_at_the_column_unit() {
        use arrow_array::{Date32Array, TimestampMicrosecondArray, TimestampNanosecondArray};
        let c = parse(
            "t.yaml",
            "columns:\n  t: {checks: [\"ge('2024-01-01 00:00:00.000000001')\", \"lt('2024-01-02')\"]}\n",
        )
        .unwrap();
        let base_ns: i64 = 1_704_067_200_000_000_000; // 2024-01-01 UTC
        let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            base_ns,
            base_ns + 1,
            base_ns + 86_400_000_000_000 - 1,
            base_ns + 86_400_000_000_000,
        ]));
        let mask = |k: usize, a: &ArrayRef| {
            let mut out = vec![false; a.len()];
            fail_mask(&c.checks[k].kind, a, &mut out);
            out
        };
        assert_eq!(mask(0, &ns), [true, false, false, false]);
        assert_eq!(mask(1, &ns), [false, false, false, true]);
        // Microseconds: the first microsecond after midnight is above the 1 ns bound.
        let us: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            base_ns / 1000,
            base_ns / 1000 + 1,
        ]));
        assert_eq!(mask(0, &us), [true, false]);
        let generic: Vec<bool> = (0..2)
            .map(|i| violates(&c.checks[0].kind, &cell(&us, i)))
            .collect();
        assert_eq!(generic, [true, false], "typed and generic agree");
        // Dates: 2024-01-01 is below the bound, 2024-01-02 is not below lt('2024-01-02').
        let days = (base_ns / 86_400_000_000_000) as i32;
        let d: ArrayRef = Arc::new(Date32Array::from(vec![days, days + 1]));
        assert_eq!(mask(0, &d), [true, false]);
        assert_eq!(mask(1, &d), [false, true]);
    }

    #[test]
    fn value_checks_on_a_type_they_cannot_read_are_schema_violations() {
        // Review U5: str_matches on an integer column never fired.
        let c = parse(
            "u.yaml",
            "columns:\n  n: {checks: [\"str_matches('^[0-9]+$')\"]}\n  s: {checks: [\"ge(0)\"]}\n  t: {checks: [\"ge(0)\"]}\n  d: {checks: [\"ge('2024-01-01')\"]}\n",
        )
        .unwrap();
        let cols = vec![
            ("n".to_string(), "BIGINT".to_string()),
            ("s".to_string(), "VARCHAR".to_string()),
            ("t".to_string(), "TIMESTAMP".to_string()),
            ("d".to_string(), "DOUBLE".to_string()),
        ];
        let results = Evaluator::new(&c, &cols).finish(0);
        let msgs: Vec<(String, Status, bool)> = results
            .iter()
            .map(|r| (r.message.clone(), r.status, r.schema))
            .collect();
        assert_eq!(msgs.len(), 4);
        assert!(
            msgs.iter()
                .all(|(_, s, schema)| *s == Status::Fail && *schema),
            "{msgs:?}"
        );
        assert!(
            msgs[0].0.starts_with(
                "cannot check n.pattern: a pattern reads text, and column 'n' has type BIGINT"
            ),
            "{msgs:?}"
        );
        assert!(
            msgs[1].0.contains("a numeric bound reads numbers"),
            "{msgs:?}"
        );
        assert!(
            msgs[2]
                .0
                .contains("needs a date/timestamp bound, e.g. ge('2024-01-31')"),
            "{msgs:?}"
        );
        assert!(
            msgs[3]
                .0
                .contains("a date/timestamp bound reads dates and timestamps"),
            "{msgs:?}"
        );
    }

    #[test]
    fn accepted_values_compare_integers_exactly() {
        use arrow_array::UInt64Array;
        let c = parse(
            "v.yaml",
            "columns:\n  v: {checks: [\"isin([9007199254740993, 5.0, '7'])\"]}\n",
        )
        .unwrap();
        let a: ArrayRef = Arc::new(Int64Array::from(vec![
            9007199254740992,
            9007199254740993,
            5,
            7,
            6,
        ]));
        let mut out = vec![false; 5];
        fail_mask(&c.checks[0].kind, &a, &mut out);
        assert_eq!(out, [true, false, false, false, true]);
        let u: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 9007199254740993]));
        let mut out = vec![false; 2];
        fail_mask(&c.checks[0].kind, &u, &mut out);
        assert_eq!(out, [true, false]);
    }
}
