//! Reconnect delays: exponential backoff with full jitter, a cap, and a
//! reset once a connection has stayed up for a stable period.
//!
//! Full jitter (delay uniform in `[0, min(cap, base * 2^attempt)]`) spreads
//! the reconnects of many sessions after a fabric-wide event instead of
//! having them retry in lock-step. The type is pure: the caller passes the
//! current instant and the random source is injectable, so the behaviour is
//! unit-tested without sleeping.

use std::time::{Duration, Instant};

/// Errors from building a backoff policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    #[error("backoff base must be > 0")]
    ZeroBase,
    #[error("backoff cap {cap:?} is below the base {base:?}")]
    CapBelowBase { base: Duration, cap: Duration },
}

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Upper bound of the first delay.
    pub base: Duration,
    /// Upper bound of any delay.
    pub cap: Duration,
    /// A connection that stayed up at least this long resets the attempt count.
    pub stable_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl BackoffConfig {
    pub fn validate(&self) -> Result<(), BackoffError> {
        if self.base.is_zero() {
            return Err(BackoffError::ZeroBase);
        }
        if self.cap < self.base {
            return Err(BackoffError::CapBelowBase {
                base: self.base,
                cap: self.cap,
            });
        }
        Ok(())
    }
}

/// A source of uniform random numbers: `below(n)` returns a value in `0..=n`.
pub trait Jitter {
    fn upto(&mut self, n: u64) -> u64;
}

impl<F: FnMut(u64) -> u64> Jitter for F {
    fn upto(&mut self, n: u64) -> u64 {
        self(n).min(n)
    }
}

/// A small non-cryptographic PRNG (SplitMix64), enough for jitter; seed it
/// per session (e.g. from the device name hash and the clock).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Jitter for SplitMix64 {
    fn upto(&mut self, n: u64) -> u64 {
        match n.checked_add(1) {
            Some(m) => self.next() % m,
            None => self.next(),
        }
    }
}

/// Backoff state for one session.
#[derive(Debug, Clone)]
pub struct Backoff<J: Jitter> {
    config: BackoffConfig,
    attempt: u32,
    connected_at: Option<Instant>,
    jitter: J,
}

impl<J: Jitter> Backoff<J> {
    pub fn new(config: BackoffConfig, jitter: J) -> Result<Self, BackoffError> {
        config.validate()?;
        Ok(Backoff {
            config,
            attempt: 0,
            connected_at: None,
            jitter,
        })
    }

    /// Failed attempts since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling of the next delay: `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.config
            .base
            .checked_mul(factor)
            .map_or(self.config.cap, |d| d.min(self.config.cap))
    }

    /// Delay before the next connection attempt, after a failure.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_nanos(self.jitter.upto(nanos))
    }

    /// Records a successful connection at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
    }

    /// Records that the connection dropped at `now` and returns the delay
    /// before reconnecting. A connection that had been stable resets the
    /// attempt count first, so one drop after hours of uptime retries fast.
    pub fn disconnected(&mut self, now: Instant) -> Duration {
        if let Some(at) = self.connected_at.take()
            && now.saturating_duration_since(at) >= self.config.stable_after
        {
            self.attempt = 0;
        }
        self.next_delay()
    }

    /// Forgets all failures.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.connected_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BackoffConfig {
        BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            stable_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn ceilings_grow_exponentially_to_the_cap() {
        // Always the maximum: delays equal the ceilings.
        let mut b = Backoff::new(cfg(), |n: u64| n).unwrap_or_else(|e| panic!("{e}"));
        let delays: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        // Huge attempt counts neither overflow nor exceed the cap.
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
    }

    #[test]
    fn full_jitter_spans_zero_to_ceiling() {
        let mut b = Backoff::new(cfg(), |_n: u64| 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.next_delay(), Duration::ZERO);
        let mut r = Backoff::new(cfg(), SplitMix64(7)).unwrap_or_else(|e| panic!("{e}"));
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..200 {
            r.reset();
            for _ in 0..5 {
                r.next_delay();
            }
            // Sixth attempt: ceiling 2s (capped).
            let d = r.next_delay();
            assert!(d <= Duration::from_secs(2));
            seen_low |= d < Duration::from_millis(500);
            seen_high |= d > Duration::from_millis(1500);
        }
        assert!(seen_low && seen_high, "jitter should cover the range");
    }

    #[test]
    fn stable_connection_resets_attempts() {
        let mut b = Backoff::new(cfg(), |n: u64| n).unwrap_or_else(|e| panic!("{e}"));
        let t0 = Instant::now();
        for _ in 0..4 {
            b.next_delay();
        }
        assert_eq!(b.attempt(), 4);
        // Short-lived connection: keeps backing off.
        b.connected(t0);
        let d = b.disconnected(t0 + Duration::from_secs(1));
        assert_eq!(d, Duration::from_millis(1600));
        // Stable connection: back to the base delay.
        b.connected(t0 + Duration::from_secs(2));
        let d = b.disconnected(t0 + Duration::from_secs(13));
        assert_eq!(d, Duration::from_millis(100));
        assert_eq!(b.attempt(), 1);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let zero = BackoffConfig {
            base: Duration::ZERO,
            ..cfg()
        };
        assert_eq!(
            Backoff::new(zero, |n: u64| n).err(),
            Some(BackoffError::ZeroBase)
        );
        let low = BackoffConfig {
            cap: Duration::from_millis(1),
            ..cfg()
        };
        assert!(matches!(
            Backoff::new(low, |n: u64| n),
            Err(BackoffError::CapBelowBase { .. })
        ));
    }
}
