//! Retry policy: which failures are retried, and how long to wait (exponential backoff with
//! jitter, or the server's Retry-After).

use std::time::{Duration, SystemTime};

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The server answered with this status.
    Status(u16),
    /// No answer within the timeout.
    Timeout,
    /// Could not connect (refused, reset, DNS, TLS).
    Connect,
    /// The body could not be read completely.
    Body,
    /// The request was refused before or while it was sent, the same way every time (a
    /// redirect to another origin, a redirect loop, a request that cannot be built).
    Refused,
}

impl Failure {
    /// 408, 429 and 5xx are transient; other statuses (401, 403, 404, 400, ...) and refusals
    /// fail fast.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Status(s) => *s == 408 || *s == 429 || (500..=599).contains(s),
            Failure::Timeout | Failure::Connect | Failure::Body => true,
            Failure::Refused => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts per request, including the first (1 = no retries).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A Retry-After longer than this fails the request at once instead of waiting (a wait
    /// cannot be interrupted through the C API, so none may be longer than a cap).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Retry(Duration),
    GiveUp,
    /// The server asked to wait this long (Retry-After), more than `max_retry_after`.
    WaitTooLong(Duration),
}

impl RetryPolicy {
    /// After attempt number `attempt` (1-based) failed with `failure`: retry after a delay, or
    /// give up. `retry_after` is the server's Retry-After, if any; `random` is uniform in [0, 1).
    pub fn decide(
        &self,
        attempt: u32,
        failure: &Failure,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Decision {
        if !failure.is_retryable() {
            return Decision::GiveUp;
        }
        // A wait beyond the cap is named even on the last attempt ([U1]: "gave up after 1
        // attempt" alone never said that the server asked to wait).
        if let Some(wait) = retry_after
            && wait > self.max_retry_after
        {
            return Decision::WaitTooLong(wait);
        }
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        if let Some(wait) = retry_after {
            return Decision::Retry(wait);
        }
        Decision::Retry(self.backoff(attempt, random))
    }

    /// Exponential backoff with "equal jitter": half the step fixed, half random, capped.
    pub fn backoff(&self, attempt: u32, random: f64) -> Duration {
        let exp = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let step = (self.base_delay.as_secs_f64() * exp).min(self.max_delay.as_secs_f64());
        let random = random.clamp(0.0, 1.0);
        Duration::try_from_secs_f64(step / 2.0 + step / 2.0 * random).unwrap_or(self.max_delay)
    }
}

/// Why a request failed at once on a Retry-After above the cap (without the request's detail).
pub fn too_long_wait(asked: Duration, cap: Duration) -> String {
    format!(
        "the server asked to wait {} s (Retry-After) before retrying, more than max_retry_after ({} s); \
         raise max_retry_after to wait that long, or run the query later",
        seconds(asked),
        seconds(cap)
    )
}

/// Seconds as a short number: `300`, `2.5`; from 10 s on whole seconds, rounded up (an HTTP
/// date an hour ahead is `3600`, not `3599.412`).
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 || s.fract() == 0.0 {
        format!("{:.0}", s.ceil())
    } else {
        format!("{}", (s * 1000.0).round() / 1000.0)
    }
}

/// Parses a Retry-After header: delay seconds, or an HTTP date (past dates mean "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds: a wait longer than any cap, never ignored.
        return Some(Duration::MAX);
    }
    if let Ok(seconds) = value.parse::<f64>() {
        // Negative and NaN values are ignored; a finite wait too long for a Duration (1e20) or
        // +inf is longer than any cap. Never a panic.
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn transient_failures_are_retried_and_client_errors_are_not() {
        for f in [
            Failure::Status(429),
            Failure::Status(503),
            Failure::Status(408),
            Failure::Timeout,
            Failure::Connect,
        ] {
            assert!(
                matches!(policy().decide(1, &f, None, 0.5), Decision::Retry(_)),
                "{f:?}"
            );
        }
        assert_eq!(
            policy().decide(1, &Failure::Refused, None, 0.5),
            Decision::GiveUp,
            "a refused redirect fails the same way every time"
        );
        for s in [400, 401, 403, 404, 422] {
            assert_eq!(
                policy().decide(1, &Failure::Status(s), None, 0.5),
                Decision::GiveUp,
                "{s}"
            );
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert!(matches!(
            policy().decide(3, &Failure::Status(500), None, 0.0),
            Decision::Retry(_)
        ));
        assert_eq!(
            policy().decide(4, &Failure::Status(500), None, 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(9, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(9, 0.0), Duration::from_millis(250));
    }

    #[test]
    fn retry_after_is_honoured_exactly_unless_too_long() {
        let p = policy();
        assert_eq!(
            p.decide(1, &Failure::Status(429), Some(Duration::from_secs(2)), 0.9),
            Decision::Retry(Duration::from_secs(2))
        );
        assert_eq!(
            p.decide(
                1,
                &Failure::Status(429),
                Some(Duration::from_secs(3600)),
                0.9
            ),
            Decision::WaitTooLong(Duration::from_secs(3600))
        );
        // The last attempt names a wait beyond the cap too, and gives up as usual otherwise.
        assert_eq!(
            p.decide(
                4,
                &Failure::Status(429),
                Some(Duration::from_secs(3600)),
                0.9
            ),
            Decision::WaitTooLong(Duration::from_secs(3600))
        );
        assert_eq!(
            p.decide(4, &Failure::Status(429), Some(Duration::from_secs(2)), 0.9),
            Decision::GiveUp
        );
        // Waits too long for a u64 or a Duration are beyond the cap, not ignored.
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(Duration::MAX)
        );
        assert_eq!(parse_retry_after("1e20", now), Some(Duration::MAX));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }

    #[test]
    fn too_long_a_wait_is_described_with_the_asked_wait_the_cap_and_the_option() {
        let text = too_long_wait(Duration::from_secs(300), Duration::from_secs(60));
        assert!(text.contains("asked to wait 300 s (Retry-After)"), "{text}");
        assert!(text.contains("max_retry_after (60 s)"), "{text}");
        assert!(text.contains("raise max_retry_after"), "{text}");
        let text = too_long_wait(Duration::from_millis(2500), Duration::from_millis(500));
        assert!(text.contains("2.5 s") && text.contains("(0.5 s)"), "{text}");
        let text = too_long_wait(Duration::from_millis(3_599_412), Duration::from_secs(60));
        assert!(text.contains("asked to wait 3600 s"), "{text}");
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        // Beyond what a Duration holds: longer than any cap (it used to be ignored, and the
        // request retried at once).
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::MAX)
        );
        assert_eq!(parse_retry_after("1e30", now), Some(Duration::MAX));
    }
}
