//! Remediation, the session's other half: who decides (the policy's `auto`, a person's approval or
//! rejection, a manual trigger), when it may run (maintenance windows, the flap guard, the rate
//! limit, the fleet-wide slots), the Set itself, and its confirmation by the device.
//!
//! - One atomic SetRequest from the plan of the drift the event describes. An approval applies
//!   only while the device's drift fingerprint equals the event's: when the drift changes the
//!   event is superseded (see `episode`) and the approval goes with it, so nothing stale is sent.
//! - Success is what the device shows: the subscription brings every planned leaf back to intent
//!   (the operator's own writes are its confirmation, never new drift). Until then drift changes
//!   do not make episodes. No confirmation within `confirm_timeout`, or a Set error, is a failed
//!   attempt, retried with backoff while the drift is the same; after the last, Failed.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use fabric_drift::{Plan, policy::Mode};
use fabric_gnmi::rpc::SetRequest;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, warn};

use crate::{
    notify::NoticeKind,
    port::{Decision, DecisionAction, EventUpdate, Outcome, Phase, Port},
    session::Session,
    window::WindowState,
};

/// A remediation under way.
pub(crate) struct InFlight {
    event: String,
    fingerprint: String,
    decision: Decision,
    attempt: u32,
    started: Instant,
    started_at: jiff::Timestamp,
    /// The planned paths, for the flap guard.
    paths: Vec<String>,
    /// Set sent: the device must confirm by then.
    confirm_by: Option<Instant>,
    /// The last attempt failed: the next one then.
    retry_at: Option<Instant>,
    last_error: Option<String>,
    /// One of the fleet's remediation slots, held until the remediation ends.
    _slot: OwnedSemaphorePermit,
}

/// How long to wait for a fleet-wide slot before looking again.
const SLOT_RETRY: Duration = Duration::from_millis(200);

/// The SetRequest for a plan: deletes, replaces, updates, already in dependency order.
pub fn set_request(plan: &Plan) -> SetRequest {
    SetRequest {
        deletes: plan.deletes.clone(),
        replaces: plan
            .replaces
            .iter()
            .map(|l| (l.path.clone(), l.value.clone()))
            .collect(),
        updates: plan
            .updates
            .iter()
            .map(|l| (l.path.clone(), l.value.clone()))
            .collect(),
        ..SetRequest::default()
    }
}

fn plan_paths(plan: &Plan) -> Vec<String> {
    plan.deletes
        .iter()
        .chain(plan.replaces.iter().map(|l| &l.path))
        .chain(plan.updates.iter().map(|l| &l.path))
        .map(ToString::to_string)
        .collect()
}

impl<P: Port> Session<P> {
    /// A person approved or rejected `event`. Decisions about an event this session does not
    /// know yet (it is still reading the events of an earlier run, or not synced) wait for it.
    pub(crate) async fn decide(&mut self, event: String, decision: Decision) {
        let is_active = self.episodes.active_event() == Some(event.as_str());
        if !is_active && !self.synced {
            self.decisions.retain(|(e, _)| e != &event);
            self.decisions.push((event, decision));
            return;
        }
        self.apply_decision(event, decision).await;
        self.consider().await;
        self.send_report().await;
    }

    async fn apply_decision(&mut self, event: String, decision: Decision) {
        let key = self.config.key.clone();
        let Some(active) = self
            .episodes
            .active()
            .filter(|a| a.event.as_deref() == Some(event.as_str()))
        else {
            info!(device = %key, event, action = decision.action.as_str(), "decision ignored: the event is not the device's open event (settled or superseded)");
            return;
        };
        if active.phase != Phase::Pending || active.decision.is_some() {
            info!(device = %key, event, phase = active.phase.as_str(), action = decision.action.as_str(), "decision ignored: the event is not waiting for one");
            return;
        }
        match decision.action {
            DecisionAction::Reject => {
                info!(device = %key, event, by = %decision.by, "drift event rejected");
                let mut update = EventUpdate::phase(Phase::Rejected).because(
                    "Rejected",
                    "rejected: the drift stays reported and is not proposed again until it changes",
                );
                update.decision = Some(decision.clone());
                self.update_event(&event, &update).await;
                self.episodes
                    .set_phase(&event, Phase::Rejected, Some(decision.clone()));
                self.waiting = None;
                self.notify(
                    NoticeKind::Rejected,
                    Some(&event),
                    format!("rejected by {}", decision.by),
                    Vec::new(),
                );
            }
            DecisionAction::Approve => {
                info!(device = %key, event, by = %decision.by, "drift event approved");
                self.notify(
                    NoticeKind::Approved,
                    Some(&event),
                    format!("approved by {}", decision.by),
                    Vec::new(),
                );
                self.episodes
                    .set_phase(&event, Phase::Pending, Some(decision));
            }
            DecisionAction::Auto | DecisionAction::Manual => {}
        }
    }

    /// Whether a remediation should start now, and starts it. Called whenever something it
    /// depends on may have changed: drift, a decision, a timer.
    pub(crate) async fn consider(&mut self) {
        if !self.synced || self.client.is_none() || self.in_flight.is_some() {
            return;
        }
        for (event, decision) in std::mem::take(&mut self.decisions) {
            self.apply_decision(event, decision).await;
        }
        if let Some(manual) = self.manual.clone() {
            if self.episodes.current().is_none() {
                info!(device = %self.config.key, by = %manual.by, "manual remediation: nothing to do, the device matches its intent");
                self.manual = None;
                return;
            }
            if self.episodes.active().is_none_or(|a| a.phase.is_final())
                && let Some(action) = self.episodes.report_now()
            {
                self.carry_out(vec![action]).await;
            }
            let Some(event) = self
                .episodes
                .active()
                .filter(|a| !a.phase.is_final())
                .and_then(|a| a.event.clone())
            else {
                return; // the event could not be recorded yet: the next tick tries again
            };
            self.manual = None;
            self.notify(
                NoticeKind::Approved,
                Some(&event),
                format!("manual remediation requested by {}", manual.by),
                Vec::new(),
            );
            self.start(event, manual).await;
            return;
        }
        let Some(active) = self.episodes.active() else {
            return;
        };
        let event = active.event.clone().expect("active events have names");
        let open = matches!(
            active.phase,
            Phase::Pending | Phase::Approved | Phase::Remediating
        );
        let decision = match active.decision.clone() {
            // Decided earlier: just now, before a restart, or while waiting for a slot or the
            // rate limit. A person's decision does not wait for maintenance windows.
            Some(d) if open && d.action != DecisionAction::Reject => d,
            None if active.phase == Phase::Pending
                && self.config.policy.rules.mode == Mode::Auto =>
            {
                Decision {
                    action: DecisionAction::Auto,
                    by: match &self.config.policy.name {
                        Some(name) => format!("policy/{name}"),
                        None => "policy".to_owned(),
                    },
                    at: jiff::Timestamp::now(),
                }
            }
            _ => return,
        };
        if decision.action == DecisionAction::Auto
            && let Some((reason, until, message)) = self.auto_gate()
        {
            self.wait(&event, Phase::Pending, reason, until, message)
                .await;
            return;
        }
        self.start(event, decision).await;
    }

    /// Why `auto` may not act now: (reason, until when, message).
    fn auto_gate(&self) -> Option<(&'static str, Option<Instant>, String)> {
        if self.guard.is_contested() {
            let paths: Vec<&str> = self.guard.contested().iter().map(String::as_str).collect();
            return Some((
                "Contested",
                None,
                format!(
                    "auto-remediation paused: these paths keep being changed back ({}); set the annotation fabric.netops.dev/contested=clear on the FabricDevice to resume",
                    paths.join(", ")
                ),
            ));
        }
        match &self.windows {
            Err(e) => Some((
                "InvalidMaintenanceWindow",
                None,
                format!("the policy's maintenance windows cannot be used: {e}"),
            )),
            Ok(windows) => match windows.state(jiff::Timestamp::now()) {
                WindowState::Open { .. } => None,
                state @ WindowState::Closed { opens } => {
                    let until = opens.map(|t| {
                        let wait = jiff::Timestamp::now().duration_until(t);
                        Instant::now() + Duration::try_from(wait).unwrap_or_default()
                    });
                    Some(("OutsideWindow", until, state.to_string()))
                }
            },
        }
    }

    /// The event waits; its reason is written once per reason, not on every look.
    async fn wait(
        &mut self,
        event: &str,
        phase: Phase,
        reason: &str,
        until: Option<Instant>,
        message: String,
    ) {
        let unchanged = self.waiting.as_ref().is_some_and(|(r, _)| r == reason);
        self.waiting = Some((reason.to_owned(), until));
        if !unchanged {
            info!(device = %self.config.key, event, reason, %message, "remediation waits");
            let mut update = EventUpdate::phase(phase).because(reason, message);
            update.decision = self.episodes.active().and_then(|a| a.decision.clone());
            self.update_event(event, &update).await;
        }
    }

    /// Starts remediating `event` as `decision` says, once the rate limit and a fleet slot allow.
    async fn start(&mut self, event: String, decision: Decision) {
        let now = Instant::now();
        let phase = self
            .episodes
            .active()
            .map(|a| a.phase)
            .unwrap_or(Phase::Pending);
        let waiting_phase = if phase == Phase::Pending && decision.action == DecisionAction::Auto {
            Phase::Pending
        } else {
            Phase::Approved
        };
        if let Err(until) = self
            .rate
            .check(now, self.config.policy.rules.remediation.max_per_hour)
        {
            let message = format!(
                "at most {} remediations per hour for this device; the next may start in {}s",
                self.config
                    .policy
                    .rules
                    .remediation
                    .max_per_hour
                    .unwrap_or(0),
                until.saturating_duration_since(now).as_secs()
            );
            self.episodes
                .set_phase(&event, waiting_phase, Some(decision.clone()));
            self.wait(&event, waiting_phase, "RateLimited", Some(until), message)
                .await;
            return;
        }
        let Ok(slot) = self.shared.remediation_slots.clone().try_acquire_owned() else {
            // Busy fleet: look again shortly; nothing to write, this is a matter of milliseconds.
            self.episodes
                .set_phase(&event, waiting_phase, Some(decision.clone()));
            self.waiting = Some(("WaitingForSlot".to_owned(), Some(now + SLOT_RETRY)));
            return;
        };
        let Some(tracker) = &self.tracker else {
            return;
        };
        let plan = tracker.plan(self.config.policy.rules.remediation.strategy);
        self.waiting = None;
        self.in_flight = Some(InFlight {
            event: event.clone(),
            fingerprint: self.episodes.current().unwrap_or_default().to_owned(),
            decision: decision.clone(),
            attempt: 0,
            started: now,
            started_at: jiff::Timestamp::now(),
            paths: plan_paths(&plan),
            confirm_by: None,
            retry_at: None,
            last_error: None,
            _slot: slot,
        });
        self.episodes
            .set_phase(&event, Phase::Remediating, Some(decision));
        self.send_set(plan).await;
    }

    /// One attempt: the Set, then the device has `confirm_timeout` to show the leaves at intent.
    async fn send_set(&mut self, plan: Plan) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let key = self.config.key.clone();
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        flight.attempt += 1;
        flight.retry_at = None;
        let (event, attempt) = (flight.event.clone(), flight.attempt);
        let mut update = EventUpdate::phase(Phase::Remediating).because(
            "SetSent",
            format!(
                "attempt {attempt}: one SetRequest of {} paths",
                flight.paths.len()
            ),
        );
        update.decision = Some(flight.decision.clone());
        update.outcome = Some(self.outcome(None));
        // The phase first: if the operator stops mid-way, the next run knows a Set may have gone.
        self.update_event(&event, &update).await;
        let request = set_request(&plan);
        info!(device = %key, event, attempt, deletes = request.deletes.len(), replaces = request.replaces.len(), updates = request.updates.len(), "remediation Set");
        self.shared
            .stats
            .remediations
            .fetch_add(1, Ordering::Relaxed);
        if let Some(flight) = self.in_flight.as_mut() {
            self.rate.record(Instant::now());
            flight.confirm_by = Some(Instant::now() + self.options.confirm_timeout);
        }
        match client.set(&request).await {
            Ok(_) => self.confirm().await,
            Err(e) => {
                self.attempt_failed(format!("the device refused the Set: {e}"))
                    .await
            }
        }
    }

    fn outcome(&self, finished: Option<jiff::Timestamp>) -> Outcome {
        let Some(flight) = &self.in_flight else {
            return Outcome::default();
        };
        Outcome {
            started_at: Some(flight.started_at),
            finished_at: finished,
            error: flight.last_error.clone(),
            attempts: flight.attempt,
            duration: finished.map(|_| flight.started.elapsed()),
        }
    }

    /// The drift changed while a remediation is under way: done when nothing drifts any more.
    pub(crate) async fn confirm(&mut self) {
        let confirmed = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.confirm_by.is_some())
            && self.tracker.as_ref().is_some_and(|t| t.drift().is_empty());
        if !confirmed {
            return;
        }
        let now = jiff::Timestamp::now();
        let mut outcome = self.outcome(Some(now));
        outcome.error = None;
        let flight = self.in_flight.take().expect("checked");
        let duration = outcome.duration.unwrap_or_default();
        let mut update = EventUpdate::phase(Phase::Remediated).because(
            "Confirmed",
            format!(
                "the device shows every planned leaf back at intent, {} ms after the decision took effect",
                duration.as_millis()
            ),
        );
        update.decision = Some(flight.decision.clone());
        update.outcome = Some(outcome);
        info!(device = %self.config.key, event = %flight.event, ms = duration.as_millis() as u64, "remediated");
        self.update_event(&flight.event, &update).await;
        self.episodes
            .set_phase(&flight.event, Phase::Remediated, None);
        self.shared.stats.remediated.fetch_add(1, Ordering::Relaxed);
        self.last_remediation = Some(now);
        self.notify(
            NoticeKind::Remediated,
            Some(&flight.event),
            format!(
                "back at intent in {} ms ({})",
                duration.as_millis(),
                flight.decision.action.as_str()
            ),
            Vec::new(),
        );
        let contested = self.guard.record(
            Instant::now(),
            &flight.paths,
            &self.config.policy.rules.remediation.flap_guard,
        );
        if !contested.is_empty() {
            let rules = &self.config.policy.rules.remediation.flap_guard;
            let message = format!(
                "remediated {} times within {}: {}; auto-remediation of this device is paused",
                rules.threshold,
                rules.window,
                contested.join(", ")
            );
            warn!(device = %self.config.key, %message, "flap guard: contested");
            self.notify(
                NoticeKind::Contested,
                Some(&flight.event),
                message,
                Vec::new(),
            );
        }
        // The drift is gone: settle the episode (its event is already final).
        self.drift_changed_boxed().await;
    }

    async fn attempt_failed(&mut self, error: String) {
        let retry = self.config.policy.rules.remediation.retry.clone();
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        self.shared
            .stats
            .remediation_failures
            .fetch_add(1, Ordering::Relaxed);
        flight.last_error = Some(error.clone());
        flight.confirm_by = None;
        let (event, attempt, decision) = (
            flight.event.clone(),
            flight.attempt,
            flight.decision.clone(),
        );
        if attempt < retry.attempts {
            let delay = retry
                .backoff
                .as_std()
                .saturating_mul(1 << (attempt - 1).min(16));
            flight.retry_at = Some(Instant::now() + delay);
            warn!(device = %self.config.key, event, attempt, %error, "remediation attempt failed; retrying");
            let mut update = EventUpdate::phase(Phase::Remediating).because(
                "Retrying",
                format!(
                    "attempt {attempt} of {} failed: {error}; next in {}s",
                    retry.attempts,
                    delay.as_secs()
                ),
            );
            update.decision = Some(decision);
            update.outcome = Some(self.outcome(None));
            self.update_event(&event, &update).await;
            return;
        }
        warn!(device = %self.config.key, event, attempt, %error, "remediation failed");
        let mut update = EventUpdate::phase(Phase::Failed).because(
            "RemediationFailed",
            format!("{attempt} attempts failed; the last: {error}"),
        );
        update.decision = Some(decision);
        update.outcome = Some(self.outcome(Some(jiff::Timestamp::now())));
        self.update_event(&event, &update).await;
        self.in_flight = None;
        self.episodes.set_phase(&event, Phase::Failed, None);
        self.notify(NoticeKind::Failed, Some(&event), error, Vec::new());
        self.drift_changed_boxed().await;
    }

    /// When a remediation timer or a wait runs out.
    pub(crate) fn remediation_deadline(&self) -> Option<Instant> {
        match &self.in_flight {
            Some(f) => f.confirm_by.or(f.retry_at),
            None => self.waiting.as_ref().and_then(|(_, until)| *until),
        }
    }

    /// Timers: a confirmation that did not come, a retry that is due, a wait that is over.
    /// The caller runs `consider` afterwards.
    pub(crate) async fn remediation_timers(&mut self) {
        let now = Instant::now();
        let Some(flight) = &self.in_flight else {
            // A wait that is over: the session's timer step looks again (`consider`) right after
            // this. The reason stays, so a look that finds the same one writes nothing.
            if let Some((_, until)) = &mut self.waiting
                && until.is_some_and(|u| u <= now)
            {
                *until = None;
            }
            return;
        };
        if flight.confirm_by.is_some_and(|t| t <= now) {
            let drift = self.tracker.as_ref().map(|t| t.drift()).unwrap_or_default();
            let error = format!(
                "the device did not confirm within {}s: {} leaves still differ{}",
                self.options.confirm_timeout.as_secs(),
                drift.len(),
                drift
                    .first()
                    .map(|d| format!(", first {}", d.path))
                    .unwrap_or_default()
            );
            self.attempt_failed(error).await;
        } else if flight.retry_at.is_some_and(|t| t <= now) {
            if self.episodes.current() != Some(flight.fingerprint.as_str()) {
                // The drift changed: this event's plan is stale. The episode supersedes it.
                info!(device = %self.config.key, event = %flight.event, "drift changed before the retry; not retrying a stale plan");
                self.in_flight = None;
                self.drift_changed_boxed().await;
                return;
            }
            if let Some(tracker) = &self.tracker {
                let plan = tracker.plan(self.config.policy.rules.remediation.strategy);
                self.send_set(plan).await;
            }
        }
    }

    /// Drops the remediation under way without a verdict (the intent it repairs toward changed).
    pub(crate) fn abandon_in_flight(&mut self, why: &str) {
        if let Some(flight) = self.in_flight.take() {
            info!(device = %self.config.key, event = %flight.event, why, "remediation abandoned");
        }
    }

    /// `drift_changed` from inside the remediation code, which `drift_changed` itself calls.
    fn drift_changed_boxed(&mut self) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.drift_changed())
    }
}
