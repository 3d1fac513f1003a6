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
use std::collections::HashMap;

/// One cell, as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Number(f64),
    Text(&'a str),
    Bool(bool),
    /// Microseconds since the epoch (dates, timestamps).
    Instant(i64),
    /// A value no check inspects (nested, binary).
    Other,
}

/// Reads row `i` of `array`.
pub fn cell(array: &ArrayRef, i: usize) -> Cell<'_> {
    if array.is_null(i) {
        return Cell::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            Cell::Number(array.as_primitive::<$t>().value(i) as f64)
        };
    }
    match array.data_type() {
        DataType::Boolean => Cell::Bool(array.as_boolean().value(i)),
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float32 => num!(Float32Type),
        DataType::Float64 => num!(Float64Type),
        DataType::Decimal128(_, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(i) as f64;
            Cell::Number(v / 10f64.powi(*scale as i32))
        }
        DataType::Utf8 => Cell::Text(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Cell::Text(array.as_string::<i64>().value(i)),
        DataType::Dictionary(_, value) if value.as_ref() == &DataType::Utf8 => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            Cell::Text(dict.values().as_string::<i32>().value(key))
        }
        DataType::Date32 => {
            Cell::Instant(array.as_primitive::<Date32Type>().value(i) as i64 * 86_400_000_000)
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<TimestampSecondType>().value(i) * 1_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(i) * 1000
                }
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
        (Cell::Null, Literal::Null) => true,
        (Cell::Number(x), Literal::Number(y)) => x == y,
        (Cell::Text(s), Literal::Text(t)) => s == t,
        (Cell::Text(s), Literal::Number(y)) => s.parse::<f64>().is_ok_and(|x| x == *y),
        (Cell::Number(x), Literal::Text(t)) => t.parse::<f64>().is_ok_and(|y| *x == y),
        (Cell::Bool(b), Literal::Bool(c)) => b == c,
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
            Cell::Number(x) => x.is_nan() || if *exclusive { x <= bound } else { x < bound },
            _ => false,
        },
        CheckKind::Max { bound, exclusive } => match c {
            Cell::Number(x) => x.is_nan() || if *exclusive { x >= bound } else { x > bound },
            _ => false,
        },
        CheckKind::MinLength(n) => matches!(c, Cell::Text(s) if s.chars().count() < *n),
        CheckKind::MaxLength(n) => matches!(c, Cell::Text(s) if s.chars().count() > *n),
        CheckKind::Pattern(re) => matches!(c, Cell::Text(s) if !re.is_match(s)),
        CheckKind::ValidValues(values) => !values.iter().any(|v| literal_matches(c, v)),
        CheckKind::Duplicate(_) | CheckKind::RowCount | CheckKind::Freshness { .. } => false,
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
    match kind {
        CheckKind::Min { bound, exclusive } => {
            let (b, e) = (*bound, *exclusive);
            by_number_type!(|x: f64| x.is_nan() || if e { x <= b } else { x < b });
        }
        CheckKind::Max { bound, exclusive } => {
            let (b, e) = (*bound, *exclusive);
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
        Cell::Number(x) => x.to_string(),
        Cell::Text(s) => s.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Instant(t) => t.to_string(),
        Cell::Other => "(value)".into(),
    })
}

/// Key bytes of a cell for uniqueness (None for NULL: NULLs never duplicate).
fn key_part(c: &Cell<'_>, out: &mut Vec<u8>) -> bool {
    match c {
        Cell::Null | Cell::Other => return false,
        Cell::Number(x) => {
            out.push(1);
            out.extend_from_slice(
                &(if *x == 0.0 { 0.0f64 } else { *x })
                    .to_bits()
                    .to_le_bytes(),
            );
        }
        Cell::Text(s) => {
            out.push(2);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Cell::Bool(b) => out.extend_from_slice(&[3, *b as u8]),
        Cell::Instant(t) => {
            out.push(4);
            out.extend_from_slice(&t.to_le_bytes());
        }
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
    let mut note = |row: usize, before: u64| {
        if before > 0
            && let Some(m) = mark.as_deref_mut()
        {
            m[row] = true;
        }
    };
    if let [c] = cols {
        let array = &batch[*c];
        let nulls = array.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        macro_rules! ints {
            ($t:ty) => {{
                let values = array.as_primitive::<$t>().values();
                for row in 0..rows {
                    if valid(row) {
                        let n = state
                            .seen_numbers
                            .entry(values[row] as i64 as u64)
                            .or_insert(0);
                        note(row, *n);
                        *n += 1;
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
            _ => {}
        }
        for row in 0..rows {
            // A column has one type, so each family may use its own key bits. Integers took
            // the typed path above; floats have one NaN and one zero.
            let bits = match cell(array, row) {
                Cell::Null | Cell::Other => continue,
                Cell::Number(x) => float_key(x),
                Cell::Instant(t) => t as u64,
                Cell::Bool(b) => b as u64,
                Cell::Text(s) => {
                    // Allocate only for a value not seen before.
                    let before = match state.seen.get_mut(s.as_bytes()) {
                        Some(n) => {
                            *n += 1;
                            *n - 1
                        }
                        None => {
                            state.seen.insert(s.as_bytes().to_vec(), 1);
                            0
                        }
                    };
                    note(row, before);
                    continue;
                }
            };
            let n = state.seen_numbers.entry(bits).or_insert(0);
            note(row, *n);
            *n += 1;
        }
        return;
    }
    for row in 0..rows {
        key.clear();
        if cols.iter().all(|&c| key_part(&cell(&batch[c], row), key)) {
            let before = match state.seen.get_mut(key.as_slice()) {
                Some(n) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    state.seen.insert(key.clone(), 1);
                    0
                }
            };
            note(row, before);
        }
    }
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

#[derive(Debug, Clone, Default)]
struct CheckState {
    failed: u64,
    samples: Vec<Option<String>>,
    /// Duplicate checks: occurrences per key.
    seen: HashMap<Vec<u8>, u64, FastHash>,
    /// Duplicate checks on one number/time column: occurrences per value (no allocation).
    seen_numbers: HashMap<u64, u64, FastHash>,
    /// Freshness: the newest instant seen.
    newest: Option<i64>,
}

/// Evaluation of one contract over batches whose columns are `columns` (name, DuckDB type).
#[derive(Debug, Clone)]
pub struct Evaluator {
    checks: Vec<Check>,
    /// Per check: the batch column indices it reads (None: a column is missing).
    bound: Vec<Option<Vec<usize>>>,
    state: Vec<CheckState>,
    rows: u64,
    schema_results: Vec<CheckResult>,
}

const MAX_SAMPLES: usize = 5;

impl Evaluator {
    /// Binds the contract to the actual columns; schema checks (missing columns, wrong types,
    /// extra columns under `strict`) are decided here.
    pub fn new(contract: &Contract, columns: &[(String, String)]) -> Evaluator {
        let index = |name: &str| {
            columns
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case(name))
        };
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
                        .is_some_and(|p| !p.eq_ignore_ascii_case(actual));
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
            for (name, _) in columns {
                if !contract
                    .columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(name))
                {
                    schema_fail(
                        format!("{name}.extra"),
                        "schema",
                        Some(name.clone()),
                        format!("column '{name}' is not in the contract (strict)"),
                    );
                }
            }
        }
        let bound = contract
            .checks
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
        Evaluator {
            checks: contract.checks.clone(),
            bound,
            state: vec![CheckState::default(); contract.checks.len()],
            rows: 0,
            schema_results,
        }
    }

    /// The checks of the contract, in order (indices of [`Marks::per_check`]).
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Schema checks that failed when the contract was bound to the columns.
    pub fn schema_failures(&self) -> &[CheckResult] {
        &self.schema_results
    }

    /// Marks the rows of `batch` that fail each row-level check (no state is changed).
    pub fn mark_rows(&self, batch: &[ArrayRef], rows: usize, marks: &mut Marks) {
        marks.reset(self.checks.len(), rows);
        for (k, (check, bound)) in self.checks.iter().zip(&self.bound).enumerate() {
            if check.kind.is_row_level()
                && let Some(cols) = bound
                && let Some(&c) = cols.first()
            {
                fail_mask(&check.kind, &batch[c], marks.slot(k));
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
                    let array = &batch[cols[0]];
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
            for (k, n) in theirs.seen_numbers {
                *mine.seen_numbers.entry(k).or_insert(0) += n;
            }
            for (k, n) in theirs.seen {
                *mine.seen.entry(k).or_insert(0) += n;
            }
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
        for ((check, bound), state) in self.checks.iter().zip(&self.bound).zip(&self.state) {
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
                let mut r = base(
                    bad,
                    0,
                    format!("cannot check {}: a column it reads is missing", check.id),
                );
                r.schema = true;
                out.push(r);
                continue;
            }
            let (failed, measured, what) = match &check.kind {
                CheckKind::RowCount => (0, total as f64, format!("{total} rows")),
                CheckKind::Duplicate(cols) => {
                    // Rows beyond the first occurrence of each value.
                    let extra: u64 = state
                        .seen
                        .values()
                        .chain(state.seen_numbers.values())
                        .filter(|n| **n > 1)
                        .map(|n| n - 1)
                        .sum();
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
                bound: 0.0,
                exclusive: false,
            },
            CheckKind::Min {
                bound: 0.0,
                exclusive: true,
            },
            CheckKind::Max {
                bound: 99.5,
                exclusive: false,
            },
            CheckKind::Max {
                bound: 99.5,
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
}
