//! Contract YAML into a bounded tree (review items H3, C3, C1, U4, L7).
//!
//! - **Nesting.** libyaml (behind serde_yaml_ng) keeps one entry per open flow collection and
//!   walks them all for every token, and serde_yaml_ng loads a whole document's events before
//!   its own recursion limit (128) applies: 750 KB of `[[[[...` took 75 s. A first pass over
//!   libyaml's events stops at [`MAX_DEPTH`] nested collections, so the work stays linear.
//! - **Size.** Aliases expand (`*a` copies the anchored value): a "billion laughs" document of a
//!   few hundred bytes would grow without bound. The tree is built by a counting visitor that
//!   stops at [`MAX_NODES`] values and [`MAX_TEXT_BYTES`] of text.
//! - **Numbers.** Integers keep their exact value up to 128 bits (serde_yaml_ng's own `Value`
//!   refuses integers beyond 64 bits with a serde message, `... as u128`).

use super::model::Exact;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;
use unsafe_libyaml as unsafe_sys;

/// Deepest nesting of mappings and lists a contract may have (a contract needs about 6).
pub const MAX_DEPTH: usize = 64;
/// Most values (scalars, lists, mappings, aliases expanded) in one contract document.
pub const MAX_NODES: usize = 500_000;
/// Most text (keys and values, aliases expanded) in one contract document.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// A YAML number: an exact integer, or a float as YAML wrote it (read as the nearest double).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i128),
    /// Beyond i128 (up to u128): kept exact.
    BigUint(u128),
    Float(f64),
    /// A float written as a decimal numeral: the nearest double and the numeral's exact value
    /// (review L7: `le(99999999999999999.9999)` is not 1e17).
    Decimal(f64, Exact),
}

impl Number {
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::BigUint(u) => u as f64,
            Number::Float(f) | Number::Decimal(f, _) => f,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Number::Int(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::BigUint(u) => write!(f, "{u}"),
            Number::Float(x) if x.is_nan() => write!(f, ".nan"),
            Number::Float(x) if x.is_infinite() => {
                write!(f, "{}.inf", if *x < 0.0 { "-" } else { "" })
            }
            Number::Float(x) => write!(f, "{x:?}"),
            Number::Decimal(_, e) if e.int.is_some() => write!(f, "{e}"),
            Number::Decimal(x, _) => write!(f, "{x:?}"),
        }
    }
}

/// A YAML value (mapping keys keep their order; duplicate keys are refused).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Sequence(Vec<Value>),
    Mapping(Mapping),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping(pub Vec<(Value, Value)>);

impl Mapping {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(k, _)| k)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Value {
    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }
    pub fn is_mapping(&self) -> bool {
        matches!(self, Value::Mapping(_))
    }
    pub fn as_sequence(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_mapping()?.get(key)
    }
}

/// Why a text is not a contract document.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError(pub String);

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses one YAML document into a bounded [`Value`].
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let decimals = check_depth(text)?;
    let budget = Budget {
        nodes: Cell::new(0),
        bytes: Cell::new(0),
        decimals,
    };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let result = Seed(&budget).deserialize(de);
    match result {
        Ok(v) => Ok(v),
        // serde_yaml_ng's own guard against alias bombs, in its words.
        Err(e) if e.to_string().contains("repetition limit exceeded") => Err(YamlError(
            "the document's aliases (*name) expand more than 100 times its size (aliases \
             included); a contract is far smaller"
                .into(),
        )),
        Err(e) => Err(YamlError(format!("not valid YAML: {e}"))),
    }
}

/// The exact numerals of the document's plain scalars, by the bits of the double they read
/// as (serde_yaml_ng hands the visitor only the double); None when two different numerals
/// read as the same double.
type Decimals = HashMap<u64, Option<Exact>>;

/// Walks libyaml's events once, failing as soon as collections nest deeper than [`MAX_DEPTH`],
/// and notes the exact value of every plain scalar written as a decimal numeral.
/// Syntax errors are left to the real parse (which words them with line and column).
fn check_depth(text: &str) -> Result<Decimals, YamlError> {
    struct Parser(Box<MaybeUninit<unsafe_sys::yaml_parser_t>>);
    impl Drop for Parser {
        fn drop(&mut self) {
            // SAFETY: the parser was initialised (the value exists only after a successful
            // yaml_parser_initialize) and is deleted once.
            unsafe { unsafe_sys::yaml_parser_delete(self.0.as_mut_ptr()) }
        }
    }
    let mut raw = Box::new(MaybeUninit::<unsafe_sys::yaml_parser_t>::uninit());
    // SAFETY: raw points to writable memory for a parser; initialize zeroes and sets it up.
    if unsafe { unsafe_sys::yaml_parser_initialize(raw.as_mut_ptr()) }.fail {
        return Err(YamlError("not valid YAML: out of memory".into()));
    }
    let mut parser = Parser(raw);
    let p = parser.0.as_mut_ptr();
    // SAFETY: p is an initialised parser; `text` outlives it (the parser is dropped at the end
    // of this function, before `text`'s borrow ends).
    unsafe {
        unsafe_sys::yaml_parser_set_encoding(p, unsafe_sys::YAML_UTF8_ENCODING);
        unsafe_sys::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
    }
    let mut depth = 0usize;
    let mut values = 0usize;
    let mut decimals = Decimals::new();
    loop {
        let mut event = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: p is an initialised parser whose input is alive; on success the event is
        // initialised and deleted below exactly once.
        let (kind, line) = unsafe {
            if unsafe_sys::yaml_parser_parse(p, event.as_mut_ptr()).fail {
                return Ok(decimals);
            }
            let e = event.as_mut_ptr();
            let kind = (*e).type_;
            let line = (*addr_of_mut!((*e).start_mark)).line;
            if kind == unsafe_sys::YAML_SCALAR_EVENT {
                let scalar = (*e).data.scalar;
                if scalar.style == unsafe_sys::YAML_PLAIN_SCALAR_STYLE && !scalar.value.is_null() {
                    // SAFETY: a scalar event's value points to `length` bytes owned by the
                    // event, alive until yaml_event_delete below.
                    let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                    note_decimal(&mut decimals, bytes);
                }
            }
            unsafe_sys::yaml_event_delete(e);
            (kind, line)
        };
        // serde_yaml_ng keeps every event of a document in memory before building values.
        // Values are counted (scalars, aliases, lists, mappings), not the events that close
        // them: 70,000 columns of 3 keys are 500,000 events but fewer values.
        if matches!(
            kind,
            unsafe_sys::YAML_SCALAR_EVENT
                | unsafe_sys::YAML_ALIAS_EVENT
                | unsafe_sys::YAML_SEQUENCE_START_EVENT
                | unsafe_sys::YAML_MAPPING_START_EVENT
        ) {
            values += 1;
        }
        if values > MAX_NODES {
            return Err(YamlError(format!(
                "the document has more than {MAX_NODES} values (line {}); a contract is far \
                 smaller",
                line + 1
            )));
        }
        match kind {
            unsafe_sys::YAML_SEQUENCE_START_EVENT | unsafe_sys::YAML_MAPPING_START_EVENT => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError(format!(
                        "lists and mappings nest more than {MAX_DEPTH} deep (line {}); a \
                         contract needs only a few levels",
                        line + 1
                    )));
                }
            }
            unsafe_sys::YAML_SEQUENCE_END_EVENT | unsafe_sys::YAML_MAPPING_END_EVENT => {
                depth = depth.saturating_sub(1)
            }
            unsafe_sys::YAML_STREAM_END_EVENT => return Ok(decimals),
            _ => {}
        }
    }
}

/// Writes a text that two keys share exactly when they are equal (`==`); false when the key
/// holds a NaN, which equals nothing (so it never repeats).
fn canonical_key(v: &Value, out: &mut String) -> bool {
    use std::fmt::Write;
    match v {
        Value::Null => out.push('~'),
        Value::Bool(b) => out.push_str(if *b { "T" } else { "F" }),
        Value::Number(Number::Int(i)) => {
            let _ = write!(out, "i{i};");
        }
        Value::Number(Number::BigUint(u)) => {
            let _ = write!(out, "u{u};");
        }
        Value::Number(Number::Float(x)) if x.is_nan() => return false,
        // 0.0 == -0.0; as keys, numerals are their doubles (YAML's floats).
        Value::Number(Number::Float(x) | Number::Decimal(x, _)) => {
            let _ = write!(out, "f{};", (x + 0.0).to_bits());
        }
        Value::String(s) => {
            let _ = write!(out, "s{}:{s}", s.len());
        }
        Value::Sequence(items) => {
            let _ = write!(out, "[{}:", items.len());
            for item in items {
                if !canonical_key(item, out) {
                    return false;
                }
            }
        }
        Value::Mapping(m) => {
            let _ = write!(out, "{{{}:", m.len());
            for (k, v) in m.iter() {
                if !canonical_key(k, out) || !canonical_key(v, out) {
                    return false;
                }
            }
        }
    }
    true
}

/// Notes a plain scalar's exact value when it is a decimal numeral that is not an integer of
/// up to 128 bits (those reach the visitor exactly; larger ones as a double).
fn note_decimal(decimals: &mut Decimals, bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let integer = !text.contains(['.', 'e', 'E']);
    if text.len() > 1000
        || integer && (text.parse::<i128>().is_ok() || text.parse::<u128>().is_ok())
    {
        return;
    }
    let (Some(exact), Ok(x)) = (
        Exact::parse(text),
        text.strip_prefix('+').unwrap_or(text).parse::<f64>(),
    ) else {
        return;
    };
    match decimals.entry((x + 0.0).to_bits()) {
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(Some(exact));
        }
        std::collections::hash_map::Entry::Occupied(mut o) => {
            if o.get().is_some_and(|seen| seen != exact) {
                o.insert(None);
            }
        }
    }
}

struct Budget {
    nodes: Cell<usize>,
    bytes: Cell<usize>,
    decimals: Decimals,
}

impl Budget {
    fn node<E: de::Error>(&self, text: usize) -> Result<(), E> {
        self.nodes.set(self.nodes.get() + 1);
        self.bytes.set(self.bytes.get().saturating_add(text));
        if self.nodes.get() > MAX_NODES {
            return Err(E::custom(format_args!(
                "the document expands to more than {MAX_NODES} values (aliases included); \
                 a contract is far smaller"
            )));
        }
        if self.bytes.get() > MAX_TEXT_BYTES {
            return Err(E::custom(format_args!(
                "the document expands to more than {} MiB of text (aliases included); a \
                 contract is far smaller",
                MAX_TEXT_BYTES / (1024 * 1024)
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Seed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.0.node(0)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.visit_i128(v as i128)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.visit_i128(v as i128)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        self.0.node(0)?;
        Ok(Value::Number(Number::Int(v)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.0.node(0)?;
        Ok(Value::Number(match i128::try_from(v) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::BigUint(v),
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.0.node(0)?;
        if !v.is_finite() {
            return Ok(Value::Number(Number::Float(v)));
        }
        Ok(Value::Number(
            match self.0.decimals.get(&(v + 0.0).to_bits()) {
                Some(Some(exact)) => Number::Decimal(v, *exact),
                Some(None) => {
                    return Err(E::custom(format_args!(
                        "two different numbers in the document read as the same double ({v:?}), \
                     so they cannot be told apart; write them with at most 15 significant \
                     digits, or as 'quoted text' where text is meant"
                    )));
                }
                None => Number::Float(v),
            },
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.node(v.len())?;
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.0.node(v.len())?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.node(0)?;
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.node(0)?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Sequence(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.node(0)?;
        let mut out: Vec<(Value, Value)> = Vec::new();
        // Keys are looked up in a set by a canonical form (a mapping may have many thousands
        // of keys, text or not: a scan over the keys seen was quadratic, review H3).
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut canon = String::new();
        while let Some(k) = map.next_key_seed(self)? {
            canon.clear();
            let repeated = canonical_key(&k, &mut canon) && !seen.insert(canon.clone());
            if repeated {
                let shown = match &k {
                    Value::String(s) => format!("'{s}'"),
                    Value::Number(n) => n.to_string(),
                    _ => "a key".to_string(),
                };
                return Err(de::Error::custom(format_args!(
                    "the key {shown} appears twice in one mapping"
                )));
            }
            let v = map.next_value_seed(self)?;
            out.push((k, v));
        }
        Ok(Value::Mapping(Mapping(out)))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(
            "YAML tags (!name) are not used by contracts; remove the tag",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn integers_beyond_64_bits_stay_exact() {
        let v = parse("a: 123456789012345678901234567890\nb: -9007199254740993\nc: 0.5\n").unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Value::Number(Number::Int(123456789012345678901234567890)))
        );
        assert_eq!(
            v.get("b"),
            Some(&Value::Number(Number::Int(-9007199254740993)))
        );
        assert_eq!(
            v.get("c"),
            Some(&Value::Number(Number::Decimal(
                0.5,
                Exact::parse("0.5").unwrap()
            )))
        );
        let big = parse("a: 300000000000000000000000000000000000000").unwrap();
        assert_eq!(
            big.get("a"),
            Some(&Value::Number(Number::BigUint(
                300000000000000000000000000000000000000
            )))
        );
    }

    #[test]
    fn deep_flow_nesting_fails_fast_with_the_depth() {
        // 750 KB of '[' took 75 s before (quadratic in libyaml before the recursion limit).
        let text = "[".repeat(750_000);
        let start = Instant::now();
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        assert!(err.contains("nest more than 64 deep"), "{err}");
        let deep_maps = format!("{}1{}", "{a: ".repeat(100_000), "}".repeat(100_000));
        assert!(
            parse(&deep_maps)
                .unwrap_err()
                .0
                .contains("nest more than 64")
        );
        let block = "- ".repeat(200_000) + "x";
        assert!(parse(&block).unwrap_err().0.contains("nest more than 64"));
        // 64 levels are fine.
        let ok = format!("{}1{}", "[".repeat(64), "]".repeat(64));
        assert!(parse(&ok).is_ok());
        assert!(parse(&format!("{}1{}", "[".repeat(65), "]".repeat(65))).is_err());
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            text.push_str(&format!(
                "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                w[1],
                w[1],
                p = w[0]
            ));
        }
        let start = Instant::now();
        let err = parse(&text).unwrap_err().to_string();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(err.contains("aliases included"), "{err}");
        // Padded so that serde_yaml_ng's repetition guard (100 x the events) is far away: the
        // value budget stops it.
        let padded = format!("pad: [{}]\n{text}", "1, ".repeat(200_000));
        let err = parse(&padded).unwrap_err().to_string();
        assert!(err.contains("more than 500000 values"), "{err}");
        // A long string aliased many times hits the text limit.
        let long = "x".repeat(1 << 20);
        let mut t = format!("a: &a {long}\nb: [");
        for _ in 0..100 {
            t.push_str("*a, ");
        }
        t.push_str("*a]\n");
        let err = parse(&t).unwrap_err().to_string();
        assert!(err.contains("MiB of text"), "{err}");
    }

    #[test]
    fn many_non_text_keys_parse_in_linear_time() {
        // 80,000 integer keys took 14.5 s (each key compared with every key seen).
        let mut t = String::from("x:\n");
        for i in 0..80_000 {
            t.push_str(&format!("  {i}: 1\n"));
        }
        let start = Instant::now();
        let v = parse(&t).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            v.get("x").and_then(Value::as_mapping).map(Mapping::len),
            Some(80_000)
        );
    }

    #[test]
    fn repeated_non_text_keys_are_refused_by_value() {
        let dup = |t: &str| parse(t).unwrap_err().0;
        assert!(dup("1: a\n2: b\n1: c\n").contains("the key 1 appears twice"));
        assert!(dup("0.5: a\n0.50: b\n").contains("appears twice"));
        assert!(dup("0.0: a\n-0.0: b\n").contains("appears twice"));
        assert!(dup("true: a\ntrue: b\n").contains("appears twice"));
        assert!(dup("~: a\nnull: b\n").contains("appears twice"));
        assert!(dup("? [1, x]\n: a\n? [1, x]\n: b\n").contains("appears twice"));
        assert!(dup("? {a: 1}\n: a\n? {a: 1}\n: b\n").contains("appears twice"));
        // Different keys that print alike are different.
        assert!(parse("1: a\n'1': b\n1.0: c\ntrue: d\n'true': e\n").is_ok());
        assert!(parse("? [1, 2]\n: a\n? [12]\n: b\n? ['1', 2]\n: c\n").is_ok());
        assert!(parse("? [ab]\n: a\n? [a, b]\n: b\n").is_ok());
        // NaN equals nothing.
        assert!(parse(".nan: a\n.nan: b\n").is_ok());
    }

    #[test]
    fn the_value_limit_counts_values_not_closing_events() {
        // 70,000 columns of 3 keys are 490,000 values (560,000 events with the closing ones):
        // refused as "more than 500000 values" before.
        let mut t = String::from("columns:\n");
        for i in 0..70_000 {
            t.push_str(&format!(
                "  - {{name: c{i}, type: integer, required: true}}\n"
            ));
        }
        assert!(parse(&t).is_ok());
        let mut t = String::from("columns:\n");
        for i in 0..72_000 {
            t.push_str(&format!(
                "  - {{name: c{i}, type: integer, required: true}}\n"
            ));
        }
        assert!(parse(&t).unwrap_err().0.contains("more than 500000 values"));
    }

    #[test]
    fn duplicate_keys_and_tags_are_refused() {
        assert!(
            parse("a: 1\na: 2\n")
                .unwrap_err()
                .0
                .contains("the key 'a' appears twice")
        );
        assert!(parse("a: !foo 1\n").unwrap_err().0.contains("YAML tags"));
        assert!(parse("a: [").unwrap_err().0.starts_with("not valid YAML"));
    }
}
