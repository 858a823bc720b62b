//! Remediation, the session's other half: who decides (the policy's `auto`, a person's approval or
//! rejection, a manual trigger), when it may run (maintenance windows, the flap guard, the rate
//! limit, the fleet-wide slots), the Set itself, and its confirmation by the device.
//!
//! - One atomic SetRequest from the plan of the drift the event describes. An approval applies
//!   only while the device's drift fingerprint equals the event's: when the drift changes the
//!   event is superseded (see `episode`) and the approval goes with it, so nothing stale is sent.
//! - Success is what the device shows: every planned leaf back at intent, read with a Get right
//!   after the Set is accepted, or brought by the subscription (the operator's own writes are its
//!   confirmation, never new drift). Only the planned leaves count: another leaf changing
//!   meanwhile is new drift, not a failed remediation. Until then drift changes do not make
//!   episodes. No confirmation within `confirm_timeout`, or a Set error, is a failed attempt,
//!   retried with backoff; a confirmation that comes while the retry waits still counts. A retry
//!   is sent only while the drift is the one that was decided on: if it changed, nothing is
//!   sent, the event is superseded and the new drift is a new event.
//! - A fleet-wide slot is held only while an attempt is under way, not through retry backoff.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use fabric_drift::{DriftItem, Plan, policy::Mode};
use fabric_gnmi::{
    Path,
    client::Client,
    rpc::{GetRequest, SetRequest},
};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn};

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
    /// The planned paths: what must be back at intent, and what the flap guard counts.
    planned: Vec<Path>,
    /// The drift decided on, for notifications.
    drift: Vec<DriftItem>,
    /// A Set of this remediation was accepted by the device: its leaves may show up at intent
    /// at any time, even after a confirmation timed out.
    set_accepted: bool,
    /// Set sent: the device must confirm by then.
    confirm_by: Option<Instant>,
    /// The last attempt failed: the next one then.
    retry_at: Option<Instant>,
    last_error: Option<String>,
    /// One of the fleet's remediation slots, held while an attempt is under way (released
    /// when it fails, taken again before the retry).
    slot: Option<OwnedSemaphorePermit>,
}

/// How long to wait for a fleet-wide slot before looking again.
const SLOT_RETRY: Duration = Duration::from_millis(200);

/// The longest an event waiting for a maintenance window sleeps before the window is read again.
const WINDOW_RECHECK: Duration = Duration::from_secs(1);

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

fn plan_paths(plan: &Plan) -> Vec<Path> {
    plan.deletes
        .iter()
        .chain(plan.replaces.iter().map(|l| &l.path))
        .chain(plan.updates.iter().map(|l| &l.path))
        .cloned()
        .collect()
}

/// Whether the planned paths are back at intent: no drift at or under any of them. Drift
/// elsewhere (a leaf changed while the remediation was under way) does not count against it.
pub(crate) fn planned_back_at_intent(drift: &[DriftItem], planned: &[Path]) -> bool {
    !drift
        .iter()
        .any(|d| planned.iter().any(|p| p.is_prefix_of(&d.path)))
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
                    self.current_drift(),
                );
            }
            DecisionAction::Approve => {
                info!(device = %key, event, by = %decision.by, "drift event approved");
                self.notify(
                    NoticeKind::Approved,
                    Some(&event),
                    format!("approved by {}", decision.by),
                    self.current_drift(),
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
        if let Some((token, manual)) = self.manual.clone() {
            if self.episodes.current().is_none() {
                info!(device = %self.config.key, by = %manual.by, "manual remediation: nothing to do, the device matches its intent");
                self.manual = None;
                self.manual_handled = Some(token);
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
            self.manual_handled = Some(token);
            self.notify(
                NoticeKind::Approved,
                Some(&event),
                format!("manual remediation requested by {}", manual.by),
                self.current_drift(),
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
            Ok(windows) => match windows.state(self.options.clock.now()) {
                WindowState::Open { .. } => None,
                state @ WindowState::Closed { opens } => {
                    // Looked at again at least every WINDOW_RECHECK: the wall clock may jump
                    // (NTP, a test's clock) while the monotonic timer runs.
                    let until = opens.map(|t| {
                        let wait = self.options.clock.now().duration_until(t);
                        Instant::now()
                            + Duration::try_from(wait)
                                .unwrap_or_default()
                                .min(WINDOW_RECHECK)
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
        let drift = tracker.drift().to_vec();
        self.waiting = None;
        let planned = plan_paths(&plan);
        info!(device = %self.config.key, event, action = decision.action.as_str(), by = %decision.by, at = %decision.at, paths = planned.len(), "remediation started");
        self.in_flight = Some(InFlight {
            event: event.clone(),
            fingerprint: self.episodes.current().unwrap_or_default().to_owned(),
            decision: decision.clone(),
            attempt: 0,
            started: now,
            started_at: jiff::Timestamp::now(),
            planned,
            drift,
            set_accepted: false,
            confirm_by: None,
            retry_at: None,
            last_error: None,
            slot: Some(slot),
        });
        self.episodes
            .set_phase(&event, Phase::Remediating, Some(decision));
        // The status says Remediating (and whatever else changed, a lifted guard) before the Set,
        // which may take as long as the device does.
        self.send_report().await;
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
                flight.planned.len()
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
            Ok(_) => {
                if let Some(flight) = self.in_flight.as_mut() {
                    flight.set_accepted = true;
                }
                self.read_back(&client, &plan).await;
                self.confirm().await
            }
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

    /// Reads the planned paths back with a Get right after the Set, into the observed tree: a
    /// root streamed by SAMPLE would otherwise show them only at its next interval, which may
    /// come after the confirmation timeout. A failed Get costs a log line; the subscription
    /// still confirms.
    async fn read_back(&mut self, client: &Client, plan: &Plan) {
        let written: Vec<Path> = plan
            .replaces
            .iter()
            .chain(&plan.updates)
            .map(|l| l.path.clone())
            .collect();
        // The written leaves in one Get: they exist, the Set just wrote them.
        let mut requests: Vec<(Vec<Path>, bool)> = Vec::new();
        if !written.is_empty() {
            requests.push((written, false));
        }
        // A deleted path alone: a target answers NOT_FOUND for the whole request when one of
        // its paths has no data, and a deleted one should have none.
        requests.extend(plan.deletes.iter().map(|p| (vec![p.clone()], true)));
        let mut leaves = Vec::new();
        for (paths, deleted) in requests {
            let request = GetRequest {
                paths,
                ..GetRequest::default()
            };
            match client.get_leaves(&request, &self.keys).await {
                Ok(got) => leaves.extend(got),
                Err(e) if deleted && e.code() == Some(tonic::Code::NotFound) => {}
                Err(e) => {
                    debug!(device = %self.config.key, error = %e, "reading the remediated paths back failed; the subscription will confirm");
                    return;
                }
            }
        }
        // The deleted subtrees are emptied first, then filled with whatever the Get still found.
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.apply(&leaves, &plan.deletes);
        }
    }

    /// The drift as it is now, for notifications.
    fn current_drift(&self) -> Vec<DriftItem> {
        self.tracker
            .as_ref()
            .map(|t| t.drift().to_vec())
            .unwrap_or_default()
    }

    /// The drift changed while a remediation is under way: done when the planned paths are back
    /// at intent (after a Set the device accepted, even if its confirmation timed out since).
    pub(crate) async fn confirm(&mut self) {
        let confirmed = self.in_flight.as_ref().is_some_and(|f| {
            f.set_accepted
                && self
                    .tracker
                    .as_ref()
                    .is_some_and(|t| planned_back_at_intent(t.drift(), &f.planned))
        });
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
            flight.drift.clone(),
        );
        let paths: Vec<String> = flight.planned.iter().map(ToString::to_string).collect();
        let contested = self.guard.record(
            Instant::now(),
            &paths,
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
                flight.drift.clone(),
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
        // Another device may remediate while this one waits to retry.
        flight.slot = None;
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
        let drift = self.in_flight.take().map(|f| f.drift).unwrap_or_default();
        self.episodes.set_phase(&event, Phase::Failed, None);
        self.notify(NoticeKind::Failed, Some(&event), error, drift);
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
            // What the device drifts by now, not what the episodes last saw: while a
            // remediation is under way drift changes do not reach them.
            let now_fingerprint = self
                .tracker
                .as_ref()
                .and_then(|t| t.fingerprint())
                .map(|f| f.to_string());
            if now_fingerprint.as_deref() != Some(flight.fingerprint.as_str()) {
                // The drift changed: the decision was about other drift, and a retry would
                // send more (or other) than was approved. Nothing is sent; the episode
                // supersedes the event and the new drift becomes a new event.
                info!(device = %self.config.key, event = %flight.event, "drift changed before the retry; nothing sent, the event is superseded");
                self.in_flight = None;
                self.drift_changed_boxed().await;
                return;
            }
            if flight.slot.is_none() {
                match self.shared.remediation_slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        if let Some(flight) = self.in_flight.as_mut() {
                            flight.slot = Some(slot);
                        }
                    }
                    Err(_) => {
                        if let Some(flight) = self.in_flight.as_mut() {
                            flight.retry_at = Some(now + SLOT_RETRY);
                        }
                        return;
                    }
                }
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

#[cfg(test)]
mod tests {
    use fabric_drift::DriftKind;
    use fabric_gnmi::Value;

    use super::*;

    fn item(path: &str) -> DriftItem {
        DriftItem {
            path: path.parse().unwrap(),
            kind: DriftKind::Modified,
            expected: Some(Value::Uint(9214)),
            actual: Some(Value::Uint(1500)),
        }
    }

    const MTU1: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";
    const MTU2: &str = "/interfaces/interface[name=Ethernet2]/config/mtu";

    #[test]
    fn only_the_planned_paths_must_be_back_at_intent() {
        let planned: Vec<Path> = vec![MTU1.parse().unwrap()];
        assert!(planned_back_at_intent(&[], &planned));
        assert!(!planned_back_at_intent(&[item(MTU1)], &planned));
        // Another leaf changed meanwhile: new drift, not a failed remediation.
        assert!(planned_back_at_intent(&[item(MTU2)], &planned));
        // A planned delete covers what drifts under it.
        let deleted: Vec<Path> = vec!["/interfaces/interface[name=Ethernet2]".parse().unwrap()];
        assert!(!planned_back_at_intent(&[item(MTU2)], &deleted));
    }
}
