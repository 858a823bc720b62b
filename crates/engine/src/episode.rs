//! Drift episodes of one device: when drift becomes an event, when an event is superseded or
//! resolved. Pure: time is passed in, actions come out, the session carries them out.
//!
//! - Drift is reported once it has lasted the policy's dampening time; drift that goes away before
//!   that is never reported.
//! - One event per distinct fingerprint: when the drift set changes while an event is open, that
//!   event is superseded and a new one opens at once (the drift itself has already lasted).
//! - When the drift goes away, the open event is resolved.
//! - After a restart the open events found through the port are adopted, so the same drift is
//!   not reported twice.

use std::time::{Duration, Instant};

/// What the session must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create an event for this fingerprint (or find the open one with it).
    Open { fingerprint: String },
    /// The event's drift changed before it was settled.
    Supersede { event: String },
    /// The event's drift went away.
    Resolve { event: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reported {
    fingerprint: String,
    /// None until the port has created the event.
    event: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Episodes {
    dampening: Duration,
    /// The drift's current fingerprint, reported or not.
    current: Option<String>,
    /// When the current stretch of drift began.
    drifting_since: Option<Instant>,
    reported: Option<Reported>,
    /// Open events of earlier runs not yet matched against the first full diff.
    adopted: Vec<(String, String)>,
    /// After the port failed to create an event, when to try again.
    retry_at: Option<Instant>,
}

/// How long to wait before asking the port again after it failed to create an event.
const OPEN_RETRY: Duration = Duration::from_secs(1);

impl Episodes {
    pub fn new(dampening: Duration) -> Self {
        Episodes {
            dampening,
            current: None,
            drifting_since: None,
            reported: None,
            adopted: Vec::new(),
            retry_at: None,
        }
    }

    pub fn set_dampening(&mut self, dampening: Duration) {
        self.dampening = dampening;
    }

    /// Open events (name, fingerprint) that a previous run left; settled by the next `observe`.
    pub fn adopt(&mut self, open_events: Vec<(String, String)>) {
        self.adopted = open_events;
    }

    /// The drift is now `fingerprint` (None: no drift).
    pub fn observe(&mut self, now: Instant, fingerprint: Option<&str>) -> Vec<Action> {
        let mut actions = Vec::new();
        // Events adopted from an earlier run: keep the one that still describes the drift.
        for (event, fp) in std::mem::take(&mut self.adopted) {
            if Some(fp.as_str()) == fingerprint && self.reported.is_none() {
                self.reported = Some(Reported {
                    fingerprint: fp,
                    event: Some(event),
                });
                self.drifting_since = Some(now);
            } else if fingerprint.is_some() {
                actions.push(Action::Supersede { event });
            } else {
                actions.push(Action::Resolve { event });
            }
        }
        self.current = fingerprint.map(str::to_owned);
        match fingerprint {
            None => {
                self.drifting_since = None;
                if let Some(Reported {
                    event: Some(event), ..
                }) = self.reported.take()
                {
                    actions.push(Action::Resolve { event });
                }
            }
            Some(fp) => {
                let since = *self.drifting_since.get_or_insert(now);
                match &self.reported {
                    Some(r) if r.fingerprint == fp => {}
                    Some(_) => {
                        if let Some(Reported {
                            event: Some(event), ..
                        }) = self.reported.take()
                        {
                            actions.push(Action::Supersede { event });
                        }
                        actions.extend(self.open(fp));
                    }
                    None if now.duration_since(since) >= self.dampening
                        && self.retry_at.is_none_or(|at| now >= at) =>
                    {
                        actions.extend(self.open(fp))
                    }
                    None => {}
                }
            }
        }
        actions
    }

    /// Time passed: drift that has now lasted the dampening time is reported.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        if self.retry_at.is_some_and(|at| now < at) {
            return Vec::new();
        }
        match (&self.current, self.reported.is_none(), self.drifting_since) {
            (Some(fp), true, Some(since)) if now.duration_since(since) >= self.dampening => {
                let fp = fp.clone();
                self.open(&fp).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    fn open(&mut self, fingerprint: &str) -> Option<Action> {
        self.retry_at = None;
        self.reported = Some(Reported {
            fingerprint: fingerprint.to_owned(),
            event: None,
        });
        Some(Action::Open {
            fingerprint: fingerprint.to_owned(),
        })
    }

    /// The port created (or found) the event for `fingerprint`.
    pub fn opened(&mut self, fingerprint: &str, event: String) {
        if let Some(r) = &mut self.reported
            && r.fingerprint == fingerprint
        {
            r.event = Some(event);
        }
    }

    /// The port failed to create the event: forget it was reported so `tick` tries again a
    /// little later (nothing is lost, and a failing API server is not hammered).
    pub fn open_failed(&mut self, fingerprint: &str, now: Instant) {
        if self
            .reported
            .as_ref()
            .is_some_and(|r| r.fingerprint == fingerprint && r.event.is_none())
        {
            self.reported = None;
            self.retry_at = Some(now + OPEN_RETRY);
        }
    }

    /// When `tick` may next have something to do.
    pub fn deadline(&self) -> Option<Instant> {
        match (&self.current, &self.reported, self.drifting_since) {
            (Some(_), None, Some(since)) => {
                Some((since + self.dampening).max(self.retry_at.unwrap_or(since)))
            }
            _ => None,
        }
    }

    /// Whether the drift is reported (it lasted the dampening time).
    pub fn is_reported(&self) -> bool {
        self.reported.is_some()
    }

    /// The open event's name, once created.
    pub fn active_event(&self) -> Option<&str> {
        self.reported.as_ref().and_then(|r| r.event.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP_A: &str = "aaaa";
    const FP_B: &str = "bbbb";

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn without_dampening_drift_opens_an_event_at_once() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO);
        assert_eq!(
            e.observe(t0, Some(FP_A)),
            [Action::Open {
                fingerprint: FP_A.into()
            }]
        );
        e.opened(FP_A, "leaf1-aaaa".into());
        assert_eq!(e.active_event(), Some("leaf1-aaaa"));
        // The same drift again: nothing new.
        assert!(e.observe(t0 + secs(1), Some(FP_A)).is_empty());
    }

    #[test]
    fn a_blip_shorter_than_the_dampening_is_never_reported() {
        let t0 = Instant::now();
        let mut e = Episodes::new(secs(5));
        assert!(e.observe(t0, Some(FP_A)).is_empty());
        assert_eq!(e.deadline(), Some(t0 + secs(5)));
        assert!(e.tick(t0 + secs(2)).is_empty());
        assert!(e.observe(t0 + secs(3), None).is_empty());
        assert!(e.tick(t0 + secs(10)).is_empty());
        assert!(!e.is_reported());
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn drift_that_lasts_is_reported_when_the_dampening_ends() {
        let t0 = Instant::now();
        let mut e = Episodes::new(secs(5));
        assert!(e.observe(t0, Some(FP_A)).is_empty());
        // The drift set changes during dampening: the clock does not restart.
        assert!(e.observe(t0 + secs(3), Some(FP_B)).is_empty());
        assert_eq!(
            e.tick(t0 + secs(5)),
            [Action::Open {
                fingerprint: FP_B.into()
            }]
        );
    }

    #[test]
    fn changed_drift_supersedes_the_open_event() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO);
        e.observe(t0, Some(FP_A));
        e.opened(FP_A, "ev-a".into());
        let actions = e.observe(t0 + secs(1), Some(FP_B));
        assert_eq!(
            actions,
            [
                Action::Supersede {
                    event: "ev-a".into()
                },
                Action::Open {
                    fingerprint: FP_B.into()
                }
            ]
        );
    }

    #[test]
    fn drift_that_goes_away_resolves_the_event() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO);
        e.observe(t0, Some(FP_A));
        e.opened(FP_A, "ev-a".into());
        assert_eq!(
            e.observe(t0 + secs(1), None),
            [Action::Resolve {
                event: "ev-a".into()
            }]
        );
        assert!(!e.is_reported());
    }

    #[test]
    fn after_a_restart_the_same_drift_keeps_its_event() {
        let t0 = Instant::now();
        let mut e = Episodes::new(secs(30));
        e.adopt(vec![("ev-a".into(), FP_A.into())]);
        assert!(
            e.observe(t0, Some(FP_A)).is_empty(),
            "no duplicate, no dampening wait"
        );
        assert_eq!(e.active_event(), Some("ev-a"));
    }

    #[test]
    fn after_a_restart_other_drift_supersedes_and_no_drift_resolves() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO);
        e.adopt(vec![("ev-a".into(), FP_A.into())]);
        assert_eq!(
            e.observe(t0, Some(FP_B)),
            [
                Action::Supersede {
                    event: "ev-a".into()
                },
                Action::Open {
                    fingerprint: FP_B.into()
                }
            ]
        );
        let mut e = Episodes::new(Duration::ZERO);
        e.adopt(vec![("ev-a".into(), FP_A.into())]);
        assert_eq!(
            e.observe(t0, None),
            [Action::Resolve {
                event: "ev-a".into()
            }]
        );
    }

    #[test]
    fn a_failed_open_is_retried_on_the_next_tick() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO);
        assert_eq!(e.observe(t0, Some(FP_A)).len(), 1);
        e.open_failed(FP_A, t0);
        assert_eq!(e.deadline(), Some(t0 + OPEN_RETRY), "not a busy loop");
        assert!(e.tick(t0).is_empty());
        assert_eq!(
            e.tick(t0 + OPEN_RETRY),
            [Action::Open {
                fingerprint: FP_A.into()
            }]
        );
    }
}
