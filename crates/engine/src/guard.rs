//! The limits on remediation of one device: the flap guard (the operator never fights a person or
//! another system over a path) and the per-device rate limit. Pure: time is passed in.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    time::{Duration, Instant},
};

use fabric_drift::policy::FlapGuard as FlapRules;

/// Remembers when each path was remediated; a path remediated `threshold` times within `window`
/// is contested.
#[derive(Debug, Default)]
pub struct FlapGuard {
    history: HashMap<String, VecDeque<Instant>>,
    contested: BTreeSet<String>,
}

impl FlapGuard {
    /// Records a successful remediation of `paths`; returns the paths that became contested
    /// with it (empty when none did).
    pub fn record(&mut self, now: Instant, paths: &[String], rules: &FlapRules) -> Vec<String> {
        let window = rules.window.as_std();
        let mut newly = Vec::new();
        for path in paths {
            let times = self.history.entry(path.clone()).or_default();
            times.push_back(now);
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > window)
            {
                times.pop_front();
            }
            if times.len() >= rules.threshold as usize && self.contested.insert(path.clone()) {
                newly.push(path.clone());
            }
        }
        // Paths not remediated for a whole window are forgotten, so the map stays small.
        self.history.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) <= window)
        });
        newly
    }

    /// Paths that stop auto-remediation, sorted.
    pub fn contested(&self) -> &BTreeSet<String> {
        &self.contested
    }

    pub fn is_contested(&self) -> bool {
        !self.contested.is_empty()
    }

    /// Puts the guard up on `paths` found contested before (a restart): they stay contested
    /// until [`FlapGuard::clear`].
    pub fn restore(&mut self, paths: &[String]) {
        self.contested.extend(paths.iter().cloned());
    }

    /// Lifts the guard (the intent changed, or a person cleared it) and starts counting afresh.
    pub fn clear(&mut self) {
        self.contested.clear();
        self.history.clear();
    }
}

/// At most `max_per_hour` remediations of one device in any hour.
#[derive(Debug, Default)]
pub struct RateLimit {
    sent: VecDeque<Instant>,
}

const HOUR: Duration = Duration::from_secs(3600);

impl RateLimit {
    /// Ok when a remediation may start now; otherwise when the next one may.
    pub fn check(&mut self, now: Instant, max_per_hour: Option<u32>) -> Result<(), Instant> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            self.sent.pop_front();
        }
        match max_per_hour {
            Some(max) if self.sent.len() >= max as usize => {
                Err(self.sent[self.sent.len() - max as usize] + HOUR)
            }
            _ => Ok(()),
        }
    }

    /// A remediation Set was sent.
    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use fabric_drift::Duration as PolicyDuration;

    use super::*;

    fn rules(threshold: u32, window_secs: u64) -> FlapRules {
        FlapRules {
            threshold,
            window: PolicyDuration::from_secs(window_secs),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    const MTU: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";
    const DESC: &str = "/interfaces/interface[name=Ethernet1]/config/description";

    #[test]
    fn the_third_remediation_of_a_path_within_the_window_contests_it() {
        let t0 = Instant::now();
        let mut g = FlapGuard::default();
        let r = rules(3, 600);
        assert!(g.record(t0, &[MTU.into()], &r).is_empty());
        assert!(
            g.record(t0 + secs(60), &[MTU.into(), DESC.into()], &r)
                .is_empty()
        );
        assert_eq!(g.record(t0 + secs(120), &[MTU.into()], &r), [MTU]);
        assert!(g.is_contested());
        assert_eq!(g.contested().iter().collect::<Vec<_>>(), [MTU]);
        // Already contested: not reported again.
        assert!(g.record(t0 + secs(130), &[MTU.into()], &r).is_empty());
    }

    #[test]
    fn remediations_spread_wider_than_the_window_never_contest() {
        let t0 = Instant::now();
        let mut g = FlapGuard::default();
        let r = rules(2, 60);
        for i in 0..10 {
            assert!(g.record(t0 + secs(61 * i), &[MTU.into()], &r).is_empty());
        }
        assert!(!g.is_contested());
    }

    #[test]
    fn clearing_starts_the_count_afresh() {
        let t0 = Instant::now();
        let mut g = FlapGuard::default();
        let r = rules(2, 600);
        g.record(t0, &[MTU.into()], &r);
        assert_eq!(g.record(t0 + secs(1), &[MTU.into()], &r), [MTU]);
        g.clear();
        assert!(!g.is_contested());
        assert!(g.record(t0 + secs(2), &[MTU.into()], &r).is_empty());
    }

    #[test]
    fn the_rate_limit_says_when_the_next_slot_frees() {
        let t0 = Instant::now();
        let mut l = RateLimit::default();
        assert_eq!(l.check(t0, None), Ok(()));
        for i in 0..3 {
            assert_eq!(l.check(t0 + secs(i * 10), Some(3)), Ok(()));
            l.record(t0 + secs(i * 10));
        }
        assert_eq!(l.check(t0 + secs(100), Some(3)), Err(t0 + HOUR));
        assert_eq!(l.check(t0 + HOUR, Some(3)), Ok(()), "the first slot freed");
        assert_eq!(l.check(t0 + HOUR, None), Ok(()));
    }
}
