//! The incremental filter: is a record's `cursor_column` value strictly older than the
//! `incremental_value` watermark? Values are compared as what they are, never as text when a
//! typed reading exists: numbers exactly (integers beyond 2^53 included), timestamps and dates
//! as instants, and a number against a timestamp as epoch seconds. Values that cannot be
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
        Some(if self.negative {
            -int
        } else {
            int + i128::from(has_frac)
        })
    }
}

/// Microseconds since the epoch of a timestamp or date.
fn instant(text: &str) -> Option<i64> {
    let t = text.trim();
    parse_timestamp(t)
        .map(|(us, _)| us)
        .or_else(|| parse_date(t).map(|d| i64::from(d) * 86_400_000_000))
}

/// Microseconds of epoch seconds (fractions kept to the microsecond).
fn epoch_seconds_micros(seconds: f64) -> Option<i64> {
    let us = seconds * 1e6;
    (us.is_finite() && us.abs() < 9.2e18).then_some(us.round() as i64)
}

/// Whether a record's cursor value is strictly older than the watermark `bound`. Missing or
/// null values are kept, so are values of a kind the watermark cannot be compared with.
pub fn older_than(value: Option<&Value>, bound: &str) -> bool {
    let bound_decimal = Decimal::parse(bound);
    let bound_number = number_text(bound);
    let bound_instant = || instant(bound);
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Number(n)) => {
            let integer = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
            if let (Some(c), Some(v)) = (bound_decimal.and_then(|b| b.ceil()), integer) {
                return v < c;
            }
            let Some(v) = n.as_f64() else { return false };
            if let Some(b) = bound_number {
                return v < b;
            }
            // A number against a timestamp watermark: epoch seconds.
            match (epoch_seconds_micros(v), bound_instant()) {
                (Some(v), Some(b)) => v < b,
                _ => false,
            }
        }
        Some(Value::String(s)) => {
            if let (Some(v), Some(b)) = (Decimal::parse(s), bound_decimal) {
                return v.cmp(&b) == Ordering::Less;
            }
            let v_number = number_text(s);
            if let (Some(v), Some(b)) = (v_number, bound_number) {
                return v < b;
            }
            let v_instant = instant(s);
            match (v_number, v_instant, bound_number, bound_instant()) {
                (_, Some(v), _, Some(b)) => v < b,
                // Epoch seconds as text against a timestamp watermark, or the reverse.
                (Some(v), None, _, Some(b)) => epoch_seconds_micros(v).is_some_and(|v| v < b),
                (None, Some(v), Some(b), None) => epoch_seconds_micros(b).is_some_and(|b| v < b),
                // Plain text on both sides (ids, ISO-like codes): text order.
                (None, None, None, None) => s.as_str() < bound,
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
}
