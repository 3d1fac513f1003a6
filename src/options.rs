//! Typed options for every SQL surface, declared once (pure, no FFI).
//!
//! A SQL function declares its options as a table of [`OptionSpec`]s (name, kind, default, doc).
//! The glue layer turns what DuckDB hands over (named parameters of a table function, or the
//! options STRUCT of a COPY function) into [`OptionValue`]s; [`Options::parse`] then checks them
//! against the table, so unknown and ill-typed options fail at bind with an error that names the
//! function, the option, the value (secrets redacted) and what is accepted.

use std::collections::BTreeMap;
use std::fmt;

/// A value as DuckDB passed it, converted to plain Rust.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<OptionValue>),
    /// STRUCT and MAP values, keys in order.
    Struct(Vec<(String, OptionValue)>),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Null => write!(f, "NULL"),
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Int(i) => write!(f, "{i}"),
            OptionValue::Float(x) => write!(f, "{x}"),
            OptionValue::Text(s) => write!(f, "'{s}'"),
            OptionValue::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            OptionValue::Struct(fields) => {
                write!(f, "{{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "'{k}': {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

impl OptionValue {
    /// The value's structure without its contents: `{'api_key': text, 'ids': list}`.
    pub fn shape(&self) -> String {
        match self {
            OptionValue::Null => "NULL".to_string(),
            OptionValue::Bool(_) => "a boolean".to_string(),
            OptionValue::Int(_) | OptionValue::Float(_) => "a number".to_string(),
            OptionValue::Text(_) => "a text value".to_string(),
            OptionValue::List(_) => "a list".to_string(),
            OptionValue::Struct(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("'{k}': {}", v.shape()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

/// What an option accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionKind {
    Bool,
    /// A whole number within the given inclusive bounds.
    Int {
        min: i64,
        max: i64,
    },
    Float,
    Text,
    /// One of a fixed set of words (matched case-insensitively, stored lowercase).
    Choice(&'static [&'static str]),
    /// A list of text values (a single text value counts as a list of one).
    TextList,
    /// A STRUCT or MAP of scalar values, kept as (name, text) pairs in order.
    Map,
    /// Any value, kept as given (a JSON body, a column list).
    Any,
}

impl OptionKind {
    fn describe(&self) -> String {
        match self {
            OptionKind::Bool => "true or false".to_string(),
            OptionKind::Int { min, max } if *max == i64::MAX => format!("a whole number >= {min}"),
            OptionKind::Int { min, max } => format!("a whole number from {min} to {max}"),
            OptionKind::Float => "a number".to_string(),
            OptionKind::Text => "a text value".to_string(),
            OptionKind::Choice(words) => format!("one of {}", quoted_list(words)),
            OptionKind::TextList => "a text value or a list of text values".to_string(),
            OptionKind::Map => "a STRUCT or MAP such as {'name': 'value'}".to_string(),
            OptionKind::Any => "a value".to_string(),
        }
    }
}

/// One declared option.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    /// The default as documented (None: no default, the option is absent unless given).
    pub default: Option<&'static str>,
    pub required: bool,
    /// Secrets are never echoed back in errors.
    pub secret: bool,
    pub doc: &'static str,
}

impl OptionSpec {
    pub const fn new(name: &'static str, kind: OptionKind, doc: &'static str) -> Self {
        OptionSpec {
            name,
            kind,
            default: None,
            required: false,
            secret: false,
            doc,
        }
    }
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// A checked option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    TextList(Vec<String>),
    Map(Vec<(String, String)>),
    Value(OptionValue),
}

/// A bind-time option error. `Display` is the message the user sees.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionError {
    Unknown {
        function: String,
        option: String,
        accepted: Vec<&'static str>,
    },
    IllTyped {
        function: String,
        option: &'static str,
        value: String,
        expected: String,
    },
    Missing {
        function: String,
        option: &'static str,
        doc: &'static str,
    },
    Duplicate {
        function: String,
        option: &'static str,
    },
    /// A NUL character in a text value (or in a map's key or value): C strings would cut the
    /// value there, so it is refused rather than truncated.
    Nul {
        function: String,
        option: &'static str,
        key: Option<String>,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown {
                function,
                option,
                accepted,
            } => write!(
                f,
                "{function}: unknown option '{option}'; accepted options are {}",
                accepted.join(", ")
            ),
            OptionError::IllTyped {
                function,
                option,
                value,
                expected,
            } => write!(
                f,
                "{function}: option {option} got {value}, expected {expected}"
            ),
            OptionError::Missing {
                function,
                option,
                doc,
            } => write!(f, "{function}: option {option} is required ({doc})"),
            OptionError::Duplicate { function, option } => {
                write!(f, "{function}: option {option} is given more than once")
            }
            OptionError::Nul {
                function,
                option,
                key,
            } => match key {
                Some(key) => write!(
                    f,
                    "{function}: option {option}, entry '{}', contains a NUL character (chr(0)); \
                     it would be cut there: remove it",
                    key.replace('\0', "\\0")
                ),
                None => write!(
                    f,
                    "{function}: option {option} contains a NUL character (chr(0)); it would be cut \
                     there: remove it"
                ),
            },
        }
    }
}

impl std::error::Error for OptionError {}

fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Options after checking: only declared names, each with its declared type.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: BTreeMap<&'static str, Typed>,
    /// Names the caller gave (not filled from defaults).
    given: Vec<&'static str>,
}

impl Options {
    /// Checks `given` (name, value) pairs against `specs`. Names match case-insensitively (COPY
    /// options arrive uppercased). Declared defaults fill absent options.
    pub fn parse(
        function: &str,
        specs: &[OptionSpec],
        given: &[(String, OptionValue)],
    ) -> Result<Options, OptionError> {
        let mut values = BTreeMap::new();
        let mut explicit = Vec::new();
        for (name, value) in given {
            let spec = specs
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| OptionError::Unknown {
                    function: function.to_string(),
                    option: name.clone(),
                    accepted: specs.iter().map(|s| s.name).collect(),
                })?;
            if matches!(value, OptionValue::Null) {
                // An explicit NULL means "not given": the default applies.
                continue;
            }
            let typed = check(function, spec, value)?;
            refuse_nul(function, spec, &typed)?;
            explicit.push(spec.name);
            if values.insert(spec.name, typed).is_some() {
                return Err(OptionError::Duplicate {
                    function: function.to_string(),
                    option: spec.name,
                });
            }
        }
        for spec in specs {
            if values.contains_key(spec.name) {
                continue;
            }
            if let Some(default) = spec.default {
                let typed = check(function, spec, &OptionValue::Text(default.to_string()))?;
                values.insert(spec.name, typed);
            } else if spec.required {
                return Err(OptionError::Missing {
                    function: function.to_string(),
                    option: spec.name,
                    doc: spec.doc,
                });
            }
        }
        Ok(Options {
            values,
            given: explicit,
        })
    }

    /// Whether the caller gave this option (a default does not count).
    pub fn given(&self, name: &str) -> bool {
        self.given.contains(&name)
    }

    pub fn get(&self, name: &str) -> Option<&Typed> {
        self.values.get(name)
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(Typed::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Typed::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(Typed::Float(x)) => Some(*x),
            _ => None,
        }
    }
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Typed::Text(s)) => Some(s),
            _ => None,
        }
    }
    pub fn map(&self, name: &str) -> Option<&[(String, String)]> {
        match self.values.get(name) {
            Some(Typed::Map(v)) => Some(v),
            _ => None,
        }
    }
    pub fn value(&self, name: &str) -> Option<&OptionValue> {
        match self.values.get(name) {
            Some(Typed::Value(v)) => Some(v),
            _ => None,
        }
    }
    pub fn text_list(&self, name: &str) -> Option<&[String]> {
        match self.values.get(name) {
            Some(Typed::TextList(v)) => Some(v),
            _ => None,
        }
    }
}

fn refuse_nul(function: &str, spec: &OptionSpec, typed: &Typed) -> Result<(), OptionError> {
    let nul = |key: Option<&String>| OptionError::Nul {
        function: function.to_string(),
        option: spec.name,
        key: key.cloned(),
    };
    match typed {
        Typed::Text(s) if s.contains('\0') => Err(nul(None)),
        Typed::TextList(items) if items.iter().any(|s| s.contains('\0')) => Err(nul(None)),
        Typed::Map(pairs) => match pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            Some((k, _)) => Err(nul(Some(k))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn ill_typed(function: &str, spec: &OptionSpec, value: &OptionValue) -> OptionError {
    OptionError::IllTyped {
        function: function.to_string(),
        option: spec.name,
        value: if spec.secret {
            "'***'".to_string()
        } else if spec.kind == OptionKind::Map {
            // Maps carry headers and parameters, often credentials: show their shape only.
            value.shape()
        } else {
            value.to_string()
        },
        expected: spec.kind.describe(),
    }
}

/// Parses a boolean the way DuckDB's COPY options do: true/false, 1/0, on/off, yes/no.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" | "t" => Some(true),
        "false" | "0" | "off" | "no" | "f" => Some(false),
        _ => None,
    }
}

fn check(function: &str, spec: &OptionSpec, value: &OptionValue) -> Result<Typed, OptionError> {
    let bad = || ill_typed(function, spec, value);
    match spec.kind {
        OptionKind::Bool => match value {
            OptionValue::Bool(b) => Ok(Typed::Bool(*b)),
            OptionValue::Int(0) => Ok(Typed::Bool(false)),
            OptionValue::Int(1) => Ok(Typed::Bool(true)),
            OptionValue::Text(s) => parse_bool(s).map(Typed::Bool).ok_or_else(bad),
            _ => Err(bad()),
        },
        OptionKind::Int { min, max } => {
            let i = match value {
                OptionValue::Int(i) => *i,
                OptionValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => *x as i64,
                OptionValue::Text(s) => s.trim().parse::<i64>().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            if i < min || i > max {
                return Err(bad());
            }
            Ok(Typed::Int(i))
        }
        OptionKind::Float => match value {
            OptionValue::Int(i) => Ok(Typed::Float(*i as f64)),
            OptionValue::Float(x) => Ok(Typed::Float(*x)),
            OptionValue::Text(s) => s.trim().parse::<f64>().map(Typed::Float).map_err(|_| bad()),
            _ => Err(bad()),
        },
        OptionKind::Text => match value {
            OptionValue::Text(s) => Ok(Typed::Text(s.clone())),
            _ => Err(bad()),
        },
        OptionKind::Choice(words) => match value {
            OptionValue::Text(s) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(s.trim()))
                .map(|w| Typed::Text(w.to_string()))
                .ok_or_else(bad),
            _ => Err(bad()),
        },
        OptionKind::TextList => match value {
            OptionValue::Text(s) => Ok(Typed::TextList(vec![s.clone()])),
            OptionValue::List(items) => items
                .iter()
                .map(|item| match item {
                    OptionValue::Text(s) => Ok(s.clone()),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Typed::TextList),
            _ => Err(bad()),
        },
        OptionKind::Map => match value {
            OptionValue::Struct(fields) => fields
                .iter()
                .map(|(k, v)| match v {
                    OptionValue::Text(s) => Ok((k.clone(), s.clone())),
                    OptionValue::Int(_) | OptionValue::Float(_) | OptionValue::Bool(_) => {
                        Ok((k.clone(), v.to_string()))
                    }
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Typed::Map),
            _ => Err(bad()),
        },
        OptionKind::Any => Ok(Typed::Value(value.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec::new("SOURCE", OptionKind::Text, "name of the source").required(),
        OptionSpec::new(
            "MODE",
            OptionKind::Choice(&["append", "replace"]),
            "write mode",
        )
        .default("append"),
        OptionSpec::new(
            "ROWS",
            OptionKind::Int {
                min: 1,
                max: 1_000_000,
            },
            "rows",
        ),
        OptionSpec::new("HEADER", OptionKind::Bool, "header").default("true"),
        OptionSpec::new("TOKEN", OptionKind::Text, "api token").secret(),
        OptionSpec::new("COLUMNS", OptionKind::TextList, "names"),
    ];

    fn given(pairs: &[(&str, OptionValue)]) -> Vec<(String, OptionValue)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_absent_options_and_names_match_case_insensitively() {
        let o = Options::parse(
            "f",
            SPECS,
            &given(&[("source", OptionValue::Text("users".into()))]),
        )
        .unwrap();
        assert_eq!(o.text("SOURCE"), Some("users"));
        assert_eq!(o.text("MODE"), Some("append"));
        assert_eq!(o.bool("HEADER"), Some(true));
        assert_eq!(o.int("ROWS"), None);
    }

    #[test]
    fn unknown_option_error_names_function_option_and_accepted_names() {
        let err = Options::parse(
            "dw_staging",
            SPECS,
            &given(&[
                ("SOURCE", OptionValue::Text("u".into())),
                ("SOURCES", OptionValue::Text("u".into())),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dw_staging: unknown option 'SOURCES'; accepted options are SOURCE, MODE, ROWS, HEADER, TOKEN, COLUMNS"
        );
    }

    #[test]
    fn choice_error_lists_accepted_values_and_choice_is_case_insensitive() {
        let err = Options::parse(
            "f",
            SPECS,
            &given(&[
                ("SOURCE", OptionValue::Text("u".into())),
                ("MODE", OptionValue::Text("upsert".into())),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "f: option MODE got 'upsert', expected one of 'append', 'replace'"
        );
        let o = Options::parse(
            "f",
            SPECS,
            &given(&[
                ("SOURCE", OptionValue::Text("u".into())),
                ("MODE", OptionValue::Text("REPLACE".into())),
            ]),
        )
        .unwrap();
        assert_eq!(o.text("MODE"), Some("replace"));
    }

    #[test]
    fn int_bounds_and_text_numbers_are_checked() {
        let parse = |v: OptionValue| {
            Options::parse(
                "f",
                SPECS,
                &given(&[("SOURCE", OptionValue::Text("u".into())), ("ROWS", v)]),
            )
        };
        assert_eq!(
            parse(OptionValue::Text("25".into())).unwrap().int("ROWS"),
            Some(25)
        );
        assert_eq!(parse(OptionValue::Int(7)).unwrap().int("ROWS"), Some(7));
        let err = parse(OptionValue::Int(0)).unwrap_err().to_string();
        assert_eq!(
            err,
            "f: option ROWS got 0, expected a whole number from 1 to 1000000"
        );
        assert!(parse(OptionValue::Text("many".into())).is_err());
        assert!(parse(OptionValue::Float(2.5)).is_err());
    }

    #[test]
    fn missing_required_option_is_named() {
        let err = Options::parse("dw_staging", SPECS, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dw_staging: option SOURCE is required (name of the source)"
        );
    }

    #[test]
    fn secret_values_are_redacted_in_errors() {
        let err = Options::parse(
            "rest_scan",
            SPECS,
            &given(&[
                ("SOURCE", OptionValue::Text("u".into())),
                ("TOKEN", OptionValue::Int(123456789)),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("123456789"), "{err}");
        assert!(err.contains("TOKEN got '***'"), "{err}");
    }

    #[test]
    fn booleans_accept_duckdb_spellings() {
        for (text, want) in [("TRUE", true), ("0", false), ("on", true), ("no", false)] {
            assert_eq!(parse_bool(text), Some(want), "{text}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn text_list_accepts_single_text_or_list_only_of_text() {
        let parse = |v: OptionValue| {
            Options::parse(
                "f",
                SPECS,
                &given(&[("SOURCE", OptionValue::Text("u".into())), ("COLUMNS", v)]),
            )
        };
        let o = parse(OptionValue::List(vec![
            OptionValue::Text("a".into()),
            OptionValue::Text("b".into()),
        ]))
        .unwrap();
        assert_eq!(
            o.text_list("COLUMNS"),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(
            parse(OptionValue::Text("a".into()))
                .unwrap()
                .text_list("COLUMNS")
                .map(|l| l.len()),
            Some(1)
        );
        assert!(parse(OptionValue::List(vec![OptionValue::Int(1)])).is_err());
    }

    #[test]
    fn map_options_take_structs_of_scalars() {
        const MAP: &[OptionSpec] = &[OptionSpec::new("params", OptionKind::Map, "query")];
        let o = Options::parse(
            "f",
            MAP,
            &given(&[(
                "params",
                OptionValue::Struct(vec![
                    ("q".into(), OptionValue::Text("duck".into())),
                    ("n".into(), OptionValue::Int(5)),
                ]),
            )]),
        )
        .unwrap();
        assert_eq!(
            o.map("params"),
            Some(
                &[
                    ("q".to_string(), "duck".to_string()),
                    ("n".to_string(), "5".to_string())
                ][..]
            )
        );
        let err = Options::parse(
            "f",
            MAP,
            &given(&[("params", OptionValue::Text("q=1".into()))]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "f: option params got a text value, expected a STRUCT or MAP such as {'name': 'value'}"
        );
        // a map with a credential and an ill-typed member never shows the credential
        let err = Options::parse(
            "f",
            MAP,
            &given(&[(
                "params",
                OptionValue::Struct(vec![
                    ("api_key".into(), OptionValue::Text("sk_live_123456".into())),
                    ("ids".into(), OptionValue::List(vec![OptionValue::Int(1)])),
                ]),
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("sk_live"), "{err}");
        assert!(
            err.contains("{'api_key': a text value, 'ids': a list}"),
            "{err}"
        );
    }

    #[test]
    fn explicit_null_means_default_and_is_not_given() {
        let o = Options::parse(
            "f",
            SPECS,
            &given(&[
                ("SOURCE", OptionValue::Text("u".into())),
                ("MODE", OptionValue::Null),
            ]),
        )
        .unwrap();
        assert_eq!(o.text("MODE"), Some("append"));
        // `given` tells explicit options from defaults
        assert!(o.given("SOURCE"));
        assert!(!o.given("MODE"), "NULL means not given");
        assert!(!o.given("HEADER"), "a default is not given");
    }

    #[test]
    fn nul_characters_are_refused_not_truncated() {
        let parse = |name: &str, v: OptionValue| {
            Options::parse(
                "f",
                SPECS,
                &given(&[("SOURCE", OptionValue::Text("u".into())), (name, v)]),
            )
        };
        let e = parse("TOKEN", OptionValue::Text("abc\0def".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f: option TOKEN contains a NUL character (chr(0)); it would be cut there: remove it"
        );
        assert!(
            !e.to_string().contains("abc"),
            "a secret's value is never shown"
        );
        let e = parse(
            "COLUMNS",
            OptionValue::List(vec![OptionValue::Text("a\0".into())]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("option COLUMNS contains a NUL"),
            "{e}"
        );
        let specs = [OptionSpec::new("HEADERS", OptionKind::Map, "headers")];
        let map = |k: &str, v: &str| {
            Options::parse(
                "f",
                &specs,
                &given(&[(
                    "HEADERS",
                    OptionValue::Struct(vec![(k.into(), OptionValue::Text(v.into()))]),
                )]),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            map("X-A", "v\0w"),
            "f: option HEADERS, entry 'X-A', contains a NUL character (chr(0)); it would be cut there: remove it"
        );
        assert!(map("X\0B", "v").contains("entry 'X\\0B'"));
    }
}
