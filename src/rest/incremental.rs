//! The incremental filter: is a record's `cursor_column` value strictly older than the
//! `incremental_value` watermark? Values are compared as what they are, never as text when a
//! typed reading exists: numbers exactly (integers beyond 2^53 included), timestamps and dates
//! as instants, and a number against a timestamp as an epoch number (seconds, milliseconds,
//! microseconds or nanoseconds by magnitude). Values that cannot be
//! compared with the watermark are kept (a duplicate is recoverable, a lost record is not).

use super::schema::{number_text, parse_date, parse_timestamp};
use serde_json::Value;
use std::cmp::Ordering;

/// A decimal number as written: sign, integer digits (no leading zeros) and fraction digits
/// (no trailing zeros), borrowed from the text.
#[derive(Debug, Clone, Copy)]
struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl<'a> Decimal<'a> {
    /// `[-+]digits[.digits]` (surrounding whitespace allowed). Exponents are not read here.
    fn parse(text: &'a str) -> Option<Decimal<'a>> {
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        // -0 is 0
        let negative = negative && !(int.is_empty() && frac.is_empty());
        Some(Decimal {
            negative,
            int,
            frac,
        })
    }

    fn cmp_magnitude(&self, other: &Decimal<'_>) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(other.int))
            .then_with(|| self.frac.cmp(other.frac))
    }

    fn cmp(&self, other: &Decimal<'_>) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }

    /// The smallest integer >= self, when it fits.
    fn ceil(&self) -> Option<i128> {
        let int: i128 = if self.int.is_empty() {
            0
        } else {
            self.int.parse().ok()?
        };
        let has_frac = !self.frac.is_empty();
        if self.negative {
            Some(-int)
        } else {
            int.checked_add(i128::from(has_frac))
        }
    }
}

/// Microseconds since the epoch of a timestamp or date.
fn instant(text: &str) -> Option<i64> {
    let t = text.trim();
    parse_timestamp(t)
        .map(|(us, _)| us)
        .or_else(|| parse_date(t).map(|d| i64::from(d) * 86_400_000_000))
}

/// Microseconds per unit of an epoch number of this magnitude: seconds below 1e11 (year
/// 5138), milliseconds below 1e14, microseconds below 1e17, nanoseconds beyond (the usual
/// heuristic: 1700000000 s, 1700000000000 ms, 1700000000000000 us and
/// 1700000000000000000 ns are all 2023-11-14).
fn epoch_unit(magnitude: f64) -> f64 {
    match magnitude {
        m if m < 1e11 => 1e6,
        m if m < 1e14 => 1e3,
        m if m < 1e17 => 1.0,
        _ => 1e-3,
    }
}

/// Microseconds of an epoch number (seconds, milliseconds, microseconds or nanoseconds by
/// magnitude, see [`epoch_unit`]; fractions kept to the microsecond).
fn epoch_micros(n: f64) -> Option<i64> {
    let us = n * epoch_unit(n.abs());
    (us.is_finite() && us.abs() < 9.2e18).then_some(us.round() as i64)
}

/// [`epoch_micros`] of an integer, exactly.
fn epoch_micros_int(n: i128) -> Option<i64> {
    let us = match n.unsigned_abs() {
        m if m < 100_000_000_000 => n.checked_mul(1_000_000)?,
        m if m < 100_000_000_000_000 => n.checked_mul(1_000)?,
        m if m < 100_000_000_000_000_000 => n,
        // nanoseconds, rounded to the nearest microsecond (half away from zero, as f64 round)
        _ => n.checked_add(n.signum() * 500)? / 1_000,
    };
    i64::try_from(us).ok()
}

/// The `incremental_value` watermark, read once in every way a record's value may be
/// compared with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    text: String,
    /// `[-+]digits[.digits]`: sign, integer digits, fraction digits.
    decimal: Option<(bool, String, String)>,
    /// The smallest integer >= the watermark, when it is a decimal that fits.
    ceil: Option<i128>,
    /// The watermark as a number (also `1e3`).
    number: Option<f64>,
    /// The watermark as an instant (microseconds since the epoch): a timestamp or date, or
    /// an epoch number.
    instant: Option<i64>,
    /// The watermark is a timestamp or date (not a number).
    is_time: bool,
}

impl Watermark {
    pub fn new(text: &str) -> Watermark {
        let decimal = Decimal::parse(text);
        let number = number_text(text);
        let time = instant(text);
        let integer = decimal.filter(|d| d.frac.is_empty()).and_then(|d| d.ceil());
        Watermark {
            text: text.to_string(),
            decimal: decimal.map(|d| (d.negative, d.int.to_string(), d.frac.to_string())),
            ceil: decimal.and_then(|d| d.ceil()),
            number,
            instant: time.or_else(|| match integer {
                Some(i) => epoch_micros_int(i),
                None => number.and_then(epoch_micros),
            }),
            is_time: time.is_some(),
        }
    }

    fn decimal(&self) -> Option<Decimal<'_>> {
        self.decimal.as_ref().map(|(negative, int, frac)| Decimal {
            negative: *negative,
            int,
            frac,
        })
    }

    /// Whether a number value (as an instant when the watermark is a timestamp) is older.
    fn number_older(&self, integer: Option<i128>, float: Option<f64>) -> bool {
        if !self.is_time {
            if let (Some(c), Some(v)) = (self.ceil, integer) {
                return v < c;
            }
            return match (float, self.number) {
                (Some(v), Some(b)) => v < b,
                _ => false,
            };
        }
        // A number against a timestamp watermark: an epoch number.
        let v = match integer {
            Some(i) => epoch_micros_int(i),
            None => float.and_then(epoch_micros),
        };
        match (v, self.instant) {
            (Some(v), Some(b)) => v < b,
            _ => false,
        }
    }
}

impl From<&str> for Watermark {
    fn from(text: &str) -> Watermark {
        Watermark::new(text)
    }
}

/// Whether a record's cursor value is strictly older than the watermark `bound`. Missing or
/// null values are kept, so are values of a kind the watermark cannot be compared with.
pub fn older_than(value: Option<&Value>, bound: &Watermark) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Number(n)) => {
            let integer = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
            bound.number_older(integer, n.as_f64())
        }
        Some(Value::String(s)) => {
            if let Some(v) = instant(s) {
                // A timestamp value: against a timestamp, or an epoch number, watermark.
                return bound.instant.is_some_and(|b| v < b);
            }
            let decimal = Decimal::parse(s);
            if bound.is_time {
                let integer = decimal.filter(|d| d.frac.is_empty()).and_then(|d| d.ceil());
                return bound.number_older(integer, number_text(s));
            }
            if let (Some(v), Some(b)) = (decimal, bound.decimal()) {
                return v.cmp(&b) == Ordering::Less;
            }
            match (number_text(s), bound.number) {
                (Some(v), Some(b)) => v < b,
                // Plain text on both sides (ids, ISO-like codes): text order.
                (None, None) => s.as_str() < bound.text.as_str(),
                // text against a number: not comparable, kept
                _ => false,
            }
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn older_than(value: Option<&Value>, bound: &str) -> bool {
        super::older_than(value, &Watermark::new(bound))
    }

    #[test]
    fn older_than_compares_numbers_instants_and_text() {
        assert!(older_than(Some(&json!(5)), "6"));
        assert!(!older_than(Some(&json!(6)), "6"));
        assert!(older_than(
            Some(&json!("2026-01-01T00:00:00Z")),
            "2026-01-02"
        ));
        assert!(!older_than(
            Some(&json!("2026-01-02T00:00:00+00:00")),
            "2026-01-02"
        ));
        assert!(older_than(Some(&json!("abc")), "abd"));
        // numbers sent as strings compare as numbers, not as text
        assert!(!older_than(Some(&json!("1000")), "999"));
        // DuckDB renders TIMESTAMPTZ with an hour-only offset
        assert!(!older_than(
            Some(&json!("2026-01-01T21:00:00Z")),
            "2026-01-02 05:00:00+09"
        ));
        assert!(older_than(
            Some(&json!("2026-01-01T19:00:00Z")),
            "2026-01-02 05:00:00+09"
        ));
        assert!(!older_than(None, "x"));
        assert!(!older_than(Some(&Value::Null), "x"));
    }

    #[test]
    fn epoch_seconds_compare_with_timestamp_watermarks_as_instants() {
        // L8: 1767312000 is 2026-01-02 00:00:00 UTC; as text it sorts before "2026-...".
        let newer = "2026-01-01 00:00:00";
        assert!(!older_than(Some(&json!("1767312000")), newer));
        assert!(!older_than(Some(&json!(1767312000)), newer));
        assert!(older_than(Some(&json!("1767139200")), newer)); // 2025-12-31
        assert!(older_than(Some(&json!(1767139200.5)), newer));
        // an epoch watermark against timestamp values
        assert!(!older_than(
            Some(&json!("2026-01-02T00:00:00Z")),
            "1767225600"
        ));
        assert!(older_than(
            Some(&json!("2025-12-31T00:00:00Z")),
            "1767225600"
        ));
    }

    #[test]
    fn large_numbers_compare_exactly() {
        // L8 class: beyond 2^53 f64 cannot tell these apart.
        assert!(older_than(
            Some(&json!(9007199254740992u64)),
            "9007199254740993"
        ));
        assert!(!older_than(
            Some(&json!(9007199254740993u64)),
            "9007199254740993"
        ));
        assert!(older_than(
            Some(&json!("123456789012345678901234567889")),
            "123456789012345678901234567890"
        ));
        assert!(!older_than(
            Some(&json!("123456789012345678901234567891")),
            "123456789012345678901234567890"
        ));
        assert!(older_than(
            Some(&json!(18446744073709551614u64)),
            "18446744073709551615"
        ));
        assert!(older_than(Some(&json!(-3)), "-2.5"));
        assert!(!older_than(Some(&json!(-2)), "-2.5"));
        assert!(older_than(Some(&json!(2)), "2.5"));
        assert!(!older_than(Some(&json!(3)), "2.5"));
        assert!(older_than(Some(&json!("-10.50")), "-10.4"));
        assert!(!older_than(Some(&json!("007")), "7"));
        assert!(older_than(Some(&json!(1.5)), "2"));
        assert!(older_than(Some(&json!("1e3")), "1001"));
        // a watermark beyond i128 still compares (as f64)
        assert!(older_than(Some(&json!(5)), &format!("1{}", "0".repeat(40))));
    }

    #[test]
    fn values_that_cannot_be_compared_are_kept() {
        assert!(!older_than(Some(&json!("abc")), "5"));
        assert!(!older_than(Some(&json!(5)), "abc"));
        assert!(!older_than(Some(&json!(true)), "5"));
        assert!(!older_than(Some(&json!({"a": 1})), "5"));
    }

    #[test]
    fn epoch_numbers_against_timestamps_read_their_unit_from_their_magnitude() {
        // item 4: 1700000000000 is milliseconds (2023-11-14T22:13:20Z), not year ~55,800.
        let newer = json!("2025-12-01T00:00:00Z");
        let older = json!("2023-01-01T00:00:00Z");
        for bound in [
            "1700000000",
            "1700000000000",
            "1700000000000000",
            "1700000000000000000",
        ] {
            assert!(!older_than(Some(&newer), bound), "{bound}");
            assert!(older_than(Some(&older), bound), "{bound}");
            // the boundary instant itself is kept
            assert!(
                !older_than(Some(&json!("2023-11-14T22:13:20Z")), bound),
                "{bound}"
            );
        }
        // and the reverse: epoch values (numbers or numeric strings) against a timestamp
        let bound = "2023-11-14T22:13:20Z";
        for v in [
            json!(1700000000),
            json!(1700000000000u64),
            json!("1700000000000000"),
            json!(1700000000000000000u64),
        ] {
            assert!(!older_than(Some(&v), bound), "{v}");
        }
        for v in [
            json!(1699999999),
            json!(1699999999999u64),
            json!("1699999999999999"),
            json!(1699999999999999000u64),
            json!(1699999999999.5),
        ] {
            assert!(older_than(Some(&v), bound), "{v}");
        }
        // fractions of a millisecond watermark
        assert!(!older_than(
            Some(&json!("2023-11-14T22:13:20.0005Z")),
            "1700000000000.5"
        ));
        assert!(older_than(
            Some(&json!("2023-11-14T22:13:20.0004Z")),
            "1700000000000.5"
        ));
    }

    #[test]
    fn watermarks_at_the_edge_of_i128_do_not_overflow() {
        let max = i128::MAX.to_string();
        assert!(older_than(Some(&json!(5)), &format!("{max}.5")));
        assert!(!older_than(Some(&json!("2020-01-01T00:00:00Z")), &max));
        assert!(!older_than(Some(&json!(i64::MAX)), "2020-01-01"));
    }

    #[test]
    fn kinds_that_cannot_be_compared_keep_the_record() {
        // a timestamp value against a text or boolean-like watermark, and the reverse
        assert!(!older_than(Some(&json!("2020-01-01T00:00:00Z")), "abc"));
        assert!(!older_than(Some(&json!("abc")), "2030-01-01"));
        assert!(!older_than(Some(&json!(true)), "2030-01-01"));
        assert!(!older_than(Some(&json!([1])), "2030-01-01"));
        // an epoch number beyond any instant
        assert!(!older_than(Some(&json!(1e300)), "2030-01-01"));
        assert!(!older_than(Some(&json!("2020-01-01")), &"9".repeat(40)));
    }
}
