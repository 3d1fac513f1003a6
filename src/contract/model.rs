//! The contract model every SQL surface evaluates: columns with expected types, and checks.
//! Both contract formats (ODCS v3.1 and the simple column format) parse into this one model, so
//! their verdicts can never disagree.

use regex::Regex;

/// A family of DuckDB types, as ODCS `logicalType` (and the simple format's `dtype`) name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Time,
    Object,
    Array,
}

impl LogicalType {
    pub const ODCS_NAMES: &'static [&'static str] = &[
        "string",
        "integer",
        "number",
        "boolean",
        "date",
        "timestamp",
        "time",
        "object",
        "array",
    ];

    pub fn from_odcs(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "string" => LogicalType::String,
            "integer" => LogicalType::Integer,
            "number" => LogicalType::Number,
            "boolean" => LogicalType::Boolean,
            "date" => LogicalType::Date,
            "timestamp" => LogicalType::Timestamp,
            "time" => LogicalType::Time,
            "object" => LogicalType::Object,
            "array" => LogicalType::Array,
            _ => return None,
        })
    }

    pub const SIMPLE_NAMES: &'static [&'static str] = &[
        "str",
        "string",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "integer",
        "float",
        "float32",
        "float64",
        "double",
        "number",
        "decimal",
        "bool",
        "boolean",
        "date",
        "datetime",
        "timestamp",
        "time",
        "object",
        "struct",
        "list",
        "array",
    ];

    /// The simple format's `dtype` (pandas/pandera-style names).
    pub fn from_simple(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "str" | "string" => LogicalType::String,
            "int" | "int8" | "int16" | "int32" | "int64" | "integer" => LogicalType::Integer,
            "float" | "float32" | "float64" | "double" | "number" | "decimal" => {
                LogicalType::Number
            }
            "bool" | "boolean" => LogicalType::Boolean,
            "date" => LogicalType::Date,
            "datetime" | "timestamp" => LogicalType::Timestamp,
            "time" => LogicalType::Time,
            "object" | "struct" => LogicalType::Object,
            "list" | "array" => LogicalType::Array,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LogicalType::String => "string",
            LogicalType::Integer => "integer",
            LogicalType::Number => "number",
            LogicalType::Boolean => "boolean",
            LogicalType::Date => "date",
            LogicalType::Timestamp => "timestamp",
            LogicalType::Time => "time",
            LogicalType::Object => "object",
            LogicalType::Array => "array",
        }
    }

    /// Whether a DuckDB type (its SQL name, e.g. `DECIMAL(10,2)`, `VARCHAR[]`) belongs to the
    /// family.
    pub fn accepts(self, sql_type: &str) -> bool {
        let t = sql_type.trim().to_ascii_uppercase();
        if t.ends_with(']') {
            return self == LogicalType::Array;
        }
        let base = t.split('(').next().unwrap_or("").trim();
        let integer = matches!(
            base,
            "TINYINT"
                | "SMALLINT"
                | "INTEGER"
                | "BIGINT"
                | "HUGEINT"
                | "UTINYINT"
                | "USMALLINT"
                | "UINTEGER"
                | "UBIGINT"
                | "UHUGEINT"
        );
        match self {
            LogicalType::String => matches!(base, "VARCHAR" | "UUID" | "ENUM" | "JSON"),
            LogicalType::Integer => integer,
            LogicalType::Number => integer || matches!(base, "FLOAT" | "DOUBLE" | "DECIMAL"),
            LogicalType::Boolean => base == "BOOLEAN",
            LogicalType::Date => base == "DATE",
            LogicalType::Timestamp => base.starts_with("TIMESTAMP"),
            LogicalType::Time => base.starts_with("TIME") && !base.starts_with("TIMESTAMP"),
            LogicalType::Object => matches!(base, "STRUCT" | "MAP"),
            LogicalType::Array => false,
        }
    }
}

/// A declared column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    pub logical_type: Option<LogicalType>,
    /// An exact DuckDB type (`physicalType`), compared case-insensitively.
    pub physical_type: Option<String>,
    pub required: bool,
    pub unique: bool,
    pub primary_key: bool,
}

/// How a failing check is handled when staging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Block,
    Warn,
    Quarantine,
}

impl Handling {
    pub const NAMES: &'static [&'static str] = &["block", "warn", "quarantine"];
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "block" => Some(Handling::Block),
            "warn" => Some(Handling::Warn),
            "quarantine" => Some(Handling::Quarantine),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A scalar a check compares with (bounds, accepted values).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer, exact (up to 128 bits): `isin([9007199254740993])` does not accept
    /// 9007199254740992.
    Integer(i128),
    Number(f64),
    /// A float written as a decimal numeral: its double, its exact value (integer columns
    /// compare with it: `isin([9007199254740993.0])` accepts 9007199254740993) and its
    /// nearest FLOAT (what FLOAT columns compare with).
    Decimal(f64, Exact, f32),
    Text(String),
    Bool(bool),
    Null,
}

/// A decimal exactly as the contract wrote it (review L7): `±(int + frac / 10^38)`, plus a
/// nonzero remainder below 10^-38 when `sticky`; `int` is None beyond u128 (above every value
/// a column holds). Zero is never negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exact {
    pub negative: bool,
    pub int: Option<u128>,
    pub frac: u128,
    pub sticky: bool,
}

/// Fraction digits [`Exact`] keeps.
const FRAC_DIGITS: usize = 38;

impl Exact {
    pub fn int(i: i128) -> Exact {
        Exact {
            negative: i < 0,
            int: Some(i.unsigned_abs()),
            frac: 0,
            sticky: false,
        }
    }

    pub fn uint(u: u128) -> Exact {
        Exact {
            negative: false,
            int: Some(u),
            frac: 0,
            sticky: false,
        }
    }

    /// The value as an i128 when it is an integer that fits.
    pub fn as_i128(&self) -> Option<i128> {
        if self.frac != 0 || self.sticky {
            return None;
        }
        let m = self.int?;
        if self.negative {
            0i128.checked_sub_unsigned(m)
        } else {
            i128::try_from(m).ok()
        }
    }

    /// A decimal numeral: `[+-]digits[.digits][(e|E)[+-]digits]` (either digit run may be
    /// empty, not both). None for anything else (`.inf`, `0x1F`, `1_000`).
    pub fn parse(text: &str) -> Option<Exact> {
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int_digits.len() + frac_digits.len() == 0
            || !all_digits(int_digits)
            || !all_digits(frac_digits)
        {
            return None;
        }
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                // Beyond 10^±9 every bound saturates the same way.
                let digits = digits.trim_start_matches('0');
                let magnitude = if digits.len() > 10 {
                    1_000_000_000
                } else {
                    digits.parse::<i64>().unwrap_or(0).min(1_000_000_000)
                };
                if e.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        // The significant digits, and where the decimal point falls among them.
        let digits: Vec<u8> = int_digits
            .bytes()
            .chain(frac_digits.bytes())
            .skip_while(|&b| b == b'0')
            .map(|b| b - b'0')
            .collect();
        let point = int_digits.len() as i64 + exp
            - (int_digits.len() + frac_digits.len() - digits.len()) as i64;
        if digits.is_empty() {
            return Some(Exact::int(0));
        }
        // The integer part: 40 digits or more (the first one nonzero) exceed u128.
        let int = if point <= 0 {
            Some(0)
        } else if point > 39 {
            None
        } else {
            let mut acc: Option<u128> = Some(0);
            for k in 0..point as usize {
                let d = digits.get(k).copied().unwrap_or(0) as u128;
                acc = acc.and_then(|a| a.checked_mul(10)?.checked_add(d));
            }
            acc
        };
        // The fraction: digits from `point` on, 38 kept, the rest only noted.
        let mut frac = 0u128;
        let mut sticky = false;
        for k in 0..FRAC_DIGITS as i64 {
            let at = point.saturating_add(k);
            let d = if at < 0 {
                0
            } else {
                digits.get(at as usize).copied().unwrap_or(0)
            };
            frac = frac * 10 + d as u128;
        }
        let rest = point.saturating_add(FRAC_DIGITS as i64).max(0);
        if (rest as u128) < digits.len() as u128 {
            sticky = digits[rest as usize..].iter().any(|&d| d != 0);
        }
        Some(Exact {
            negative,
            int,
            frac,
            sticky,
        })
    }

    /// `self × 10^scale` rounded down and up, saturated to i128 (None: below / above every
    /// i128), and the side a saturated result lies on (-1 below, 1 above, 0 none). `scale` is
    /// a DECIMAL scale, 0..=38.
    pub fn floor_ceil(&self, scale: i32) -> (Option<i128>, Option<i128>, i8) {
        let scale = scale.clamp(0, FRAC_DIGITS as i32) as u32;
        let side = if self.negative { -1 } else { 1 };
        let unit = 10u128.pow(FRAC_DIGITS as u32 - scale);
        // The magnitude's floor, and whether anything was cut off.
        let whole = self
            .int
            .and_then(|i| i.checked_mul(10u128.pow(scale)))
            .and_then(|i| i.checked_add(self.frac / unit));
        let Some(whole) = whole else {
            return (None, None, side);
        };
        let cut = (!self.frac.is_multiple_of(unit) || self.sticky) as u128;
        if self.negative {
            // -(whole + cut) <= value <= -whole
            let floor = whole
                .checked_add(cut)
                .and_then(|m| 0i128.checked_sub_unsigned(m));
            let ceil = 0i128.checked_sub_unsigned(whole);
            (floor, ceil, side)
        } else {
            let floor = i128::try_from(whole).ok();
            let ceil = whole.checked_add(cut).and_then(|m| i128::try_from(m).ok());
            (floor, ceil, side)
        }
    }
}

impl std::fmt::Display for Exact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        match self.int {
            Some(i) => write!(f, "{i}")?,
            None => f.write_str("(beyond 2^128)")?,
        }
        if self.frac != 0 || self.sticky {
            let frac = format!("{:038}", self.frac);
            if self.sticky {
                write!(f, ".{frac}...")?;
            } else {
                write!(f, ".{}", frac.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

/// A range bound: the nearest double (for FLOAT/DOUBLE columns, compared as DuckDB compares
/// them) and, for finite bounds, the exact decimal the contract wrote, which integer, HUGEINT
/// and DECIMAL columns are compared with exactly (review L7: a bound of 9007199254740993 read
/// as a double passed 9007199254740992).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    /// The bound as FLOAT (REAL) columns see it: rounded to f32 as DuckDB casts a constant to
    /// the column's FLOAT (`0.7::FLOAT >= 0.7` holds), widened back to f64; the double where
    /// f32 has no finite value for it.
    pub value32: f64,
    pub exact: Option<Exact>,
    /// A date or timestamp bound (`ge('2024-01-01')`): nanoseconds since the epoch, UTC.
    pub instant: Option<i128>,
}

/// `value` (exactly `exact` when known) rounded once to the nearest f32.
fn round32(value: f64, exact: Option<&Exact>) -> f64 {
    let x = exact
        .filter(|e| e.int.is_some())
        .and_then(|e| e.to_string().trim_end_matches("...").parse::<f32>().ok())
        .unwrap_or(value as f32);
    if x.is_finite() || !value.is_finite() {
        x as f64
    } else {
        value
    }
}

impl Bound {
    fn number(value: f64, exact: Option<Exact>) -> Bound {
        Bound {
            value,
            value32: round32(value, exact.as_ref()),
            exact,
            instant: None,
        }
    }

    /// An exact integer bound.
    pub fn int(i: i128) -> Bound {
        Bound::number(i as f64, Some(Exact::int(i)))
    }

    /// An integer beyond i128 (up to u128), exact.
    pub fn uint(u: u128) -> Bound {
        Bound::number(u as f64, Some(Exact::uint(u)))
    }

    /// A bound written as a float, exact as `exact` (the numeral the contract wrote) when
    /// known, else as the shortest decimal that reads back as `x`.
    pub fn float(x: f64, exact: Option<Exact>) -> Bound {
        if !x.is_finite() {
            return Bound::number(x, None);
        }
        Bound::number(x, exact.or_else(|| Exact::parse(&format!("{x:e}"))))
    }
}

impl Bound {
    /// A date or timestamp written as text: `2024-01-01`, `2024-01-01 12:00:00[.fff]`, with a
    /// `T` or a space, and an optional offset (`Z`, `+02:00`); without one it is UTC (the
    /// clock of TIMESTAMP columns, and of TIMESTAMPTZ as DuckDB stores them).
    pub fn parse_instant(text: &str) -> Option<Bound> {
        use chrono::{DateTime, NaiveDate, NaiveDateTime};
        let t = text.trim();
        let utc = if let Ok(d) = DateTime::parse_from_rfc3339(t) {
            d.naive_utc()
        } else if let Ok(d) = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f") {
            d
        } else if let Ok(d) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
            d
        } else {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)?
        };
        let utc = utc.and_utc();
        let ns = utc.timestamp() as i128 * 1_000_000_000 + utc.timestamp_subsec_nanos() as i128;
        Some(Bound {
            value: f64::NAN,
            value32: f64::NAN,
            exact: None,
            instant: Some(ns),
        })
    }
}

impl PartialEq<f64> for Bound {
    fn eq(&self, other: &f64) -> bool {
        self.value == *other
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ns) = self.instant {
            let secs = ns.div_euclid(1_000_000_000) as i64;
            let nanos = ns.rem_euclid(1_000_000_000) as u32;
            return match chrono::DateTime::from_timestamp(secs, nanos) {
                Some(t) => write!(f, "'{}'", t.naive_utc()),
                None => write!(f, "{ns} ns"),
            };
        }
        match self.exact {
            Some(e) if e.int.is_some() => write!(f, "{e}"),
            _ => write!(f, "{}", self.value),
        }
    }
}

/// What is counted or tested, per check.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// Rows where the column is NULL (`required`, `nullable: false`, `nullValues`).
    Null,
    /// Rows whose value is one of the missing markers (NULL counts when listed).
    Missing(Vec<Literal>),
    /// Non-NULL values below/above a bound (`minimum`, `ge(0)`, ...).
    Min {
        bound: Bound,
        exclusive: bool,
    },
    Max {
        bound: Bound,
        exclusive: bool,
    },
    /// Non-NULL text shorter/longer than a length.
    MinLength(usize),
    MaxLength(usize),
    /// Non-NULL text not matching the regular expression.
    Pattern(Regex),
    /// Non-NULL values not among the accepted values (`validValues`, `isin([...])`).
    ValidValues(Vec<Literal>),
    /// Rows whose value (or tuple of `columns`) occurs more than once; NULLs never duplicate.
    Duplicate(Vec<String>),
    /// The number of rows.
    RowCount,
    /// The newest value of a timestamp column is at most `max_age_seconds` old.
    Freshness {
        max_age_seconds: f64,
    },
}

impl CheckKind {
    /// Whether a single row can violate the check (contract_violations and quarantine use
    /// these); the others are properties of the whole dataset.
    pub fn is_row_level(&self) -> bool {
        !matches!(
            self,
            CheckKind::Duplicate(_) | CheckKind::RowCount | CheckKind::Freshness { .. }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Null => "null_values",
            CheckKind::Missing(_) => "missing_values",
            CheckKind::Min { .. } => "minimum",
            CheckKind::Max { .. } => "maximum",
            CheckKind::MinLength(_) => "min_length",
            CheckKind::MaxLength(_) => "max_length",
            CheckKind::Pattern(_) => "pattern",
            CheckKind::ValidValues(_) => "valid_values",
            CheckKind::Duplicate(_) => "duplicate_values",
            CheckKind::RowCount => "row_count",
            CheckKind::Freshness { .. } => "freshness",
        }
    }
}

/// The comparison a measured value must satisfy (ODCS `mustBe...`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq(f64),
    Ne(f64),
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
    Between(f64, f64),
    NotBetween(f64, f64),
}

impl Op {
    pub fn holds(self, x: f64) -> bool {
        match self {
            Op::Eq(v) => x == v,
            Op::Ne(v) => x != v,
            Op::Gt(v) => x > v,
            Op::Ge(v) => x >= v,
            Op::Lt(v) => x < v,
            Op::Le(v) => x <= v,
            Op::Between(a, b) => x >= a && x <= b,
            Op::NotBetween(a, b) => x < a || x > b,
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Eq(v) => write!(f, "= {v}"),
            Op::Ne(v) => write!(f, "<> {v}"),
            Op::Gt(v) => write!(f, "> {v}"),
            Op::Ge(v) => write!(f, ">= {v}"),
            Op::Lt(v) => write!(f, "< {v}"),
            Op::Le(v) => write!(f, "<= {v}"),
            Op::Between(a, b) => write!(f, "between {a} and {b}"),
            Op::NotBetween(a, b) => write!(f, "not between {a} and {b}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Rows,
    Percent,
}

/// When a check passes: the measured count (failing rows, or the row count for `RowCount`)
/// in `unit` must satisfy `op`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub op: Op,
    pub unit: Unit,
}

impl Threshold {
    /// No failing row allowed: the default of declarative constraints.
    pub const NONE_FAIL: Threshold = Threshold {
        op: Op::Eq(0.0),
        unit: Unit::Rows,
    };
}

#[derive(Debug, Clone)]
pub struct Check {
    /// Stable id for results: `<column>.<kind>` or the ODCS quality `id`/`name`.
    pub id: String,
    pub column: Option<String>,
    pub kind: CheckKind,
    pub threshold: Threshold,
    pub severity: Severity,
    /// Where the check was declared in the contract (`schema[0].properties[2].required`).
    pub origin: String,
    /// A quality check (counts against `on_quality_violation`) or a schema one.
    pub quality: bool,
}

/// A parsed contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The file it came from, for messages.
    pub file: String,
    pub columns: Vec<ColumnSpec>,
    /// Extra columns are a schema violation.
    pub strict: bool,
    pub checks: Vec<Check>,
    pub on_schema_violation: Option<Handling>,
    pub on_quality_violation: Option<Handling>,
}

/// A DuckDB type's text with the double quotes removed from identifiers that need none
/// (`"from"` -> `from`): `any_case` also unquotes names with capitals (`"Name"` -> `Name`),
/// otherwise only lowercase ones, which is how staged types were written before reserved words
/// were quoted (schema fingerprints hash this form, so existing lakes keep theirs). Quoted names
/// with other characters and single-quoted literals (`ENUM('a"b')`) are kept as written.
pub fn unquote_identifiers(text: &str, any_case: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '"' && c != '\'' {
            out.push(c);
            continue;
        }
        // Up to the closing quote; a doubled quote is an escaped one.
        let mut content = String::new();
        let mut end = text.len();
        while let Some((i, d)) = chars.next() {
            if d == c {
                if chars.peek().is_some_and(|&(_, e)| e == c) {
                    chars.next();
                    content.push(c);
                    continue;
                }
                end = i + c.len_utf8();
                break;
            }
            content.push(d);
        }
        let plain = c == '"'
            && content.starts_with(|f: char| {
                // Staged types always quoted names starting with `_` (`"_id"`): the fingerprint
                // form keeps those quotes, as it keeps what was staged before.
                f.is_ascii_lowercase() || (any_case && (f == '_' || f.is_ascii_uppercase()))
            })
            && content.chars().all(|f| {
                f.is_ascii_lowercase()
                    || f.is_ascii_digit()
                    || f == '_'
                    || (any_case && f.is_ascii_uppercase())
            });
        if plain {
            out.push_str(&content);
        } else {
            out.push_str(&text[start..end]);
        }
    }
    out
}

/// Whether two DuckDB type texts name the same type: compared without identifier quotes that
/// are not needed, case-insensitively and ignoring spacing, so `STRUCT(value INTEGER, from
/// INTEGER)` (an old audit), `STRUCT(value INTEGER, "from" INTEGER)` (dw_staging today) and
/// `STRUCT("value" INTEGER, "from" INTEGER)` (DuckDB's typeof) all match.
pub fn same_type_text(a: &str, b: &str) -> bool {
    fn key(t: &str) -> String {
        let spaced = unquote_identifiers(t, true)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        spaced
            .replace("( ", "(")
            .replace(" )", ")")
            .replace(" ,", ",")
            .replace(", ", ",")
            .to_lowercase()
    }
    a.eq_ignore_ascii_case(b) || key(a) == key(b)
}

#[cfg(test)]
mod type_text_tests {
    use super::*;

    #[test]
    fn physical_types_match_whatever_the_identifier_quoting() {
        let spellings = [
            "STRUCT(value INTEGER, from INTEGER)",
            "STRUCT(value INTEGER, \"from\" INTEGER)",
            "STRUCT(\"value\" INTEGER, \"from\" INTEGER)",
            "struct(\"value\" integer,  \"from\" integer )",
        ];
        for a in spellings {
            for b in spellings {
                assert!(same_type_text(a, b), "{a} vs {b}");
            }
        }
        assert!(same_type_text(
            "STRUCT(\"Name\" VARCHAR)",
            "STRUCT(Name VARCHAR)"
        ));
        assert!(!same_type_text(
            "STRUCT(\"a b\" INTEGER)",
            "STRUCT(a b INTEGER)"
        ));
        assert!(!same_type_text("STRUCT(a INTEGER)", "STRUCT(b INTEGER)"));
        assert!(!same_type_text("BIGINT", "INTEGER"));
    }

    #[test]
    fn unquoting_for_fingerprints_gives_the_text_staged_before_keywords_were_quoted() {
        assert_eq!(
            unquote_identifiers("STRUCT(\"from\" INTEGER, \"Name\" VARCHAR)", false),
            "STRUCT(from INTEGER, \"Name\" VARCHAR)"
        );
        assert_eq!(
            unquote_identifiers("ENUM('a\"b', 'it''s')", false),
            "ENUM('a\"b', 'it''s')"
        );
        assert_eq!(
            unquote_identifiers("STRUCT(\"say \"\"hi\"\"\" INTEGER)", false),
            "STRUCT(\"say \"\"hi\"\"\" INTEGER)"
        );
    }
}
