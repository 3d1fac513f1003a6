//! A rate limiter shared by every request of one scan (all concurrent fetches and retries):
//! requests are spaced at least 1/rate apart (a token bucket with a burst of one).

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_free: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_second` > 0 requests per second.
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1e-6)),
            next_free: Mutex::new(None),
        }
    }

    /// Books the next slot at or after `now`; returns how long the caller must wait for it.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut next = match self.next_free.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot = match *next {
            Some(t) if t > now => t,
            _ => now,
        };
        *next = Some(slot + self.interval);
        slot - now
    }

    /// Waits for the next slot.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_by_the_interval() {
        let limiter = RateLimiter::new(10.0);
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(t0), Duration::ZERO);
        assert_eq!(limiter.reserve(t0), Duration::from_millis(100));
        assert_eq!(limiter.reserve(t0), Duration::from_millis(200));
        // After the booked slots have passed, there is no wait and no banked burst.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(limiter.reserve(later), Duration::ZERO);
        assert_eq!(limiter.reserve(later), Duration::from_millis(100));
    }

    #[test]
    fn concurrent_reservations_never_share_a_slot() {
        let limiter = std::sync::Arc::new(RateLimiter::new(1000.0));
        let t0 = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || (0..50).map(|_| l.reserve(t0)).collect::<Vec<_>>())
            })
            .collect();
        let mut waits: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        waits.sort();
        waits.dedup();
        assert_eq!(waits.len(), 200);
        assert_eq!(waits[199], Duration::from_millis(199));
    }
}
