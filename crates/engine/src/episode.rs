//! Drift episodes of one device: when drift becomes an event, when an event is superseded or
//! resolved. Pure: time is passed in, actions come out, the session carries them out.
//!
//! - Drift is reported once it has lasted the policy's dampening time; drift that goes away before
//!   that is never reported.
//! - One event per distinct fingerprint: when the drift set changes while an event is open, that
//!   event is superseded and a new one opens at once (the drift itself has already lasted).
//! - When the drift goes away, the open event is resolved.
//! - An event settled while its drift is still there (Rejected, Failed, or Remediated an instant
//!   before the device confirms) stays the device's event: the same fingerprint is not proposed
//!   again until the drift changes.
//! - After a restart the events found through the port are adopted, so the same drift is not
//!   reported twice and a decision in flight is carried out.

use std::time::{Duration, Instant};

use crate::port::{Decision, KnownEvent, Phase};

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

/// The event standing for the current drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub fingerprint: String,
    /// None until the port has created the event.
    pub event: Option<String>,
    pub phase: Phase,
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone)]
pub struct Episodes {
    dampening: Duration,
    /// The drift's current fingerprint, reported or not.
    current: Option<String>,
    /// When the current stretch of drift began.
    drifting_since: Option<Instant>,
    reported: Option<Reported>,
    /// Events of earlier runs not yet matched against the first full diff.
    adopted: Vec<KnownEvent>,
    /// After the port failed to create an event, when to try again.
    retry_at: Option<Instant>,
    /// The phase a new event starts in (Alerted in alert mode, Pending otherwise).
    initial: Phase,
}

/// How long to wait before asking the port again after it failed to create an event.
const OPEN_RETRY: Duration = Duration::from_secs(1);

impl Episodes {
    pub fn new(dampening: Duration, initial: Phase) -> Self {
        Episodes {
            dampening,
            current: None,
            drifting_since: None,
            reported: None,
            adopted: Vec::new(),
            retry_at: None,
            initial,
        }
    }

    pub fn configure(&mut self, dampening: Duration, initial: Phase) {
        self.dampening = dampening;
        self.initial = initial;
    }

    /// Events that a previous run left; settled by the next `observe`.
    pub fn adopt(&mut self, known: Vec<KnownEvent>) {
        self.adopted = known;
    }

    /// The drift is now `fingerprint` (None: no drift).
    pub fn observe(&mut self, now: Instant, fingerprint: Option<&str>) -> Vec<Action> {
        let mut actions = Vec::new();
        // Events adopted from an earlier run: keep the one that still describes the drift.
        for known in std::mem::take(&mut self.adopted) {
            if Some(known.fingerprint.as_str()) == fingerprint && self.reported.is_none() {
                self.reported = Some(Reported {
                    fingerprint: known.fingerprint,
                    event: Some(known.name),
                    phase: known.phase,
                    decision: known.decision,
                });
                self.drifting_since = Some(now);
            } else if known.phase.is_final() {
                // A rejected or failed drift that is gone or changed: nothing to settle.
            } else if fingerprint.is_some() {
                actions.push(Action::Supersede { event: known.name });
            } else {
                actions.push(Action::Resolve { event: known.name });
            }
        }
        self.current = fingerprint.map(str::to_owned);
        match fingerprint {
            None => {
                self.drifting_since = None;
                if let Some(event) = self.reported.take().and_then(Reported::open_event) {
                    actions.push(Action::Resolve { event });
                }
            }
            Some(fp) => {
                let since = *self.drifting_since.get_or_insert(now);
                match &self.reported {
                    Some(r) if r.fingerprint == fp => {}
                    Some(_) => {
                        if let Some(event) = self.reported.take().and_then(Reported::open_event) {
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

    /// Reports the current drift now, dampening or not, or again after its event was settled
    /// (a manual trigger needs an event to record it). None when there is no drift, or its open
    /// event is already there or being created.
    pub fn report_now(&mut self) -> Option<Action> {
        let fp = self.current.clone()?;
        match &self.reported {
            Some(r) if !r.phase.is_final() => None,
            _ => self.open(&fp),
        }
    }

    fn open(&mut self, fingerprint: &str) -> Option<Action> {
        self.retry_at = None;
        self.reported = Some(Reported {
            fingerprint: fingerprint.to_owned(),
            event: None,
            phase: self.initial,
            decision: None,
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

    /// The active event moved to `phase` (with the decision that moved it, if any).
    pub fn set_phase(&mut self, event: &str, phase: Phase, decision: Option<Decision>) {
        if let Some(r) = &mut self.reported
            && r.event.as_deref() == Some(event)
        {
            r.phase = phase;
            if decision.is_some() {
                r.decision = decision;
            }
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

    /// The event standing for the current drift, once created.
    pub fn active(&self) -> Option<&Reported> {
        self.reported.as_ref().filter(|r| r.event.is_some())
    }

    /// The active event's name.
    pub fn active_event(&self) -> Option<&str> {
        self.active().and_then(|r| r.event.as_deref())
    }

    /// The current drift's fingerprint, reported or not.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }
}

impl Reported {
    /// The event's name, when it is still open (not settled).
    fn open_event(self) -> Option<String> {
        self.event.filter(|_| !self.phase.is_final())
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

    fn known(name: &str, fingerprint: &str, phase: Phase) -> KnownEvent {
        KnownEvent {
            name: name.into(),
            fingerprint: fingerprint.into(),
            phase,
            decision: None,
        }
    }

    #[test]
    fn without_dampening_drift_opens_an_event_at_once() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
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
        let mut e = Episodes::new(secs(5), Phase::Pending);
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
        let mut e = Episodes::new(secs(5), Phase::Pending);
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
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
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
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
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
        let mut e = Episodes::new(secs(30), Phase::Pending);
        e.adopt(vec![known("ev-a", FP_A, Phase::Pending)]);
        assert!(
            e.observe(t0, Some(FP_A)).is_empty(),
            "no duplicate, no dampening wait"
        );
        assert_eq!(e.active_event(), Some("ev-a"));
    }

    #[test]
    fn after_a_restart_other_drift_supersedes_and_no_drift_resolves() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.adopt(vec![known("ev-a", FP_A, Phase::Pending)]);
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
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.adopt(vec![known("ev-a", FP_A, Phase::Pending)]);
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
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
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

    #[test]
    fn a_rejected_drift_is_not_proposed_again_until_it_changes() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.observe(t0, Some(FP_A));
        e.opened(FP_A, "ev-a".into());
        e.set_phase("ev-a", Phase::Rejected, None);
        assert!(e.observe(t0 + secs(1), Some(FP_A)).is_empty());
        assert!(e.tick(t0 + secs(2)).is_empty());
        assert_eq!(e.active_event(), Some("ev-a"), "still the device's event");
        // The drift changes: a new event, and nothing to supersede (the old one is settled).
        assert_eq!(
            e.observe(t0 + secs(3), Some(FP_B)),
            [Action::Open {
                fingerprint: FP_B.into()
            }]
        );
        // After a restart, the rejection found through the port still holds.
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.adopt(vec![known("ev-a", FP_A, Phase::Rejected)]);
        assert!(e.observe(t0, Some(FP_A)).is_empty());
        assert_eq!(e.active().unwrap().phase, Phase::Rejected);
        // A settled event whose drift went away is left alone.
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.adopt(vec![known("ev-a", FP_A, Phase::Failed)]);
        assert!(e.observe(t0, None).is_empty());
    }

    #[test]
    fn a_remediated_event_is_not_resolved_when_the_drift_goes() {
        let t0 = Instant::now();
        let mut e = Episodes::new(Duration::ZERO, Phase::Pending);
        e.observe(t0, Some(FP_A));
        e.opened(FP_A, "ev-a".into());
        e.set_phase("ev-a", Phase::Remediated, None);
        assert!(e.observe(t0 + secs(1), None).is_empty());
        assert!(!e.is_reported());
    }

    #[test]
    fn report_now_skips_the_dampening_and_reopens_a_settled_drift() {
        let t0 = Instant::now();
        let mut e = Episodes::new(secs(60), Phase::Alerted);
        assert_eq!(e.report_now(), None, "no drift");
        assert!(e.observe(t0, Some(FP_A)).is_empty());
        assert_eq!(
            e.report_now(),
            Some(Action::Open {
                fingerprint: FP_A.into()
            })
        );
        assert_eq!(e.report_now(), None, "being created");
        e.opened(FP_A, "ev-a".into());
        assert_eq!(e.active().unwrap().phase, Phase::Alerted);
        e.set_phase("ev-a", Phase::Rejected, None);
        assert_eq!(
            e.report_now(),
            Some(Action::Open {
                fingerprint: FP_A.into()
            })
        );
    }
}
