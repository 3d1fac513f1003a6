//! Circuit breaker: after N consecutive failed attempts against the API (across all concurrent
//! requests of a scan), stop sending requests and fail the query.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    consecutive: AtomicU32,
    open: AtomicBool,
}

impl CircuitBreaker {
    /// `threshold` consecutive failures open the breaker (0 disables it).
    pub fn new(threshold: u32) -> Self {
        CircuitBreaker {
            threshold,
            consecutive: AtomicU32::new(0),
            open: AtomicBool::new(false),
        }
    }

    pub fn record_success(&self) {
        self.consecutive.store(0, Ordering::SeqCst);
    }

    /// Returns true when this failure opened the breaker.
    pub fn record_failure(&self) -> bool {
        let n = self.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
        if self.threshold > 0 && n >= self.threshold && !self.open.swap(true, Ordering::SeqCst) {
            return true;
        }
        false
    }

    /// Closes the breaker (a new run of the same bound statement starts fresh).
    pub fn reset(&self) {
        self.consecutive.store(0, Ordering::SeqCst);
        self.open.store(false, Ordering::SeqCst);
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive.load(Ordering::SeqCst)
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures_only() {
        let b = CircuitBreaker::new(3);
        assert!(!b.record_failure());
        assert!(!b.record_failure());
        b.record_success();
        assert!(!b.record_failure());
        assert!(!b.record_failure());
        assert!(!b.is_open());
        assert!(b.record_failure());
        assert!(b.is_open());
        assert!(!b.record_failure(), "opening is reported once");
        b.reset();
        assert!(!b.is_open());
        assert_eq!(b.consecutive_failures(), 0);
    }

    #[test]
    fn zero_threshold_never_opens() {
        let b = CircuitBreaker::new(0);
        for _ in 0..100 {
            assert!(!b.record_failure());
        }
        assert!(!b.is_open());
    }
}
