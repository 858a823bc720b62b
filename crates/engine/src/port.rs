//! The engine's one door to the outside. The Kubernetes adapter implements it with status patches
//! and DriftEvent objects; the in-memory [`crate::memory::MemoryPort`] with maps, for the lab and
//! the engine's own tests.

use std::future::Future;

use fabric_drift::{
    DriftItem, Plan,
    policy::{Mode, Strategy},
};

use crate::model::{DeviceKey, DeviceReport};

/// The phases of a DriftEvent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting: for an approval, a maintenance window, a rate limit, or the flap guard.
    Pending,
    /// Reported only (alert mode).
    Alerted,
    /// Decided (approval, auto, manual trigger); the Set is about to be sent.
    Approved,
    /// A person rejected it: the drift stays reported and is not proposed again until it changes.
    Rejected,
    /// The Set was sent; waiting for the device to confirm.
    Remediating,
    /// The device is back at intent.
    Remediated,
    /// Every attempt failed.
    Failed,
    /// The drift changed before the event was settled; a newer event carries it.
    Superseded,
    /// The drift went away by itself.
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Alerted => "Alerted",
            Phase::Approved => "Approved",
            Phase::Rejected => "Rejected",
            Phase::Remediating => "Remediating",
            Phase::Remediated => "Remediated",
            Phase::Failed => "Failed",
            Phase::Superseded => "Superseded",
            Phase::Resolved => "Resolved",
        }
    }

    /// Whether the episode is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Rejected
                | Phase::Remediated
                | Phase::Failed
                | Phase::Superseded
                | Phase::Resolved
        )
    }

    /// A final phase that still stands for drift that is there: its fingerprint is not proposed
    /// again until the drift changes.
    pub fn holds_drift(self) -> bool {
        matches!(self, Phase::Rejected | Phase::Failed)
    }
}

/// What decided that an event's plan is applied (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionAction {
    Approve,
    Reject,
    /// The policy's auto mode.
    Auto,
    /// The device's remediate annotation.
    Manual,
}

impl DecisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Approve => "approve",
            DecisionAction::Reject => "reject",
            DecisionAction::Auto => "auto",
            DecisionAction::Manual => "manual",
        }
    }
}

/// A decision: what, who or what made it (`policy/<name>`, or the field manager that set the
/// annotation), when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: DecisionAction,
    pub by: String,
    pub at: jiff::Timestamp,
}

/// The outcome of a remediation so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    /// The device's error (or the missing confirmation) of the last failed attempt.
    pub error: Option<String>,
    pub attempts: u32,
    /// From the first Set to the device confirming intent.
    pub duration: Option<std::time::Duration>,
}

/// A change to an event: its new phase, why, and what was decided and done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUpdate {
    pub phase: Phase,
    /// CamelCase: OutsideWindow, RateLimited, Contested, DriftChanged, DriftCleared, ...
    pub reason: Option<String>,
    pub message: Option<String>,
    pub decision: Option<Decision>,
    pub outcome: Option<Outcome>,
    /// The event that replaced this one (Superseded).
    pub superseded_by: Option<String>,
}

impl EventUpdate {
    pub fn phase(phase: Phase) -> Self {
        EventUpdate {
            phase,
            reason: None,
            message: None,
            decision: None,
            outcome: None,
            superseded_by: None,
        }
    }

    pub fn because(mut self, reason: &str, message: impl Into<String>) -> Self {
        self.reason = Some(reason.to_owned());
        let message = message.into();
        self.message = (!message.is_empty()).then_some(message);
        self
    }
}

/// An event a previous run left, as the port finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEvent {
    pub name: String,
    pub fingerprint: String,
    pub phase: Phase,
    pub decision: Option<Decision>,
}

/// A new drift episode, for the port to record.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub device: DeviceKey,
    pub policy: Option<String>,
    pub mode: Mode,
    pub fingerprint: String,
    pub detected_at: jiff::Timestamp,
    pub drift: Vec<DriftItem>,
    pub plan: Plan,
    pub strategy: Strategy,
    /// The phase it starts in: Alerted for alert mode, Pending otherwise.
    pub phase: Phase,
    /// How many events of this device to keep once closed (policy history).
    pub keep: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// What the engine needs from the outside world. Every method is called from the device's own
/// session task, so calls for one device never overlap.
pub trait Port: Send + Sync + 'static {
    /// The device's state changed. The port decides how and when to write it (coalescing).
    fn report(&self, device: &DeviceKey, report: &DeviceReport) -> impl Future<Output = ()> + Send;

    /// The device's open (not final) events, and its newest event if that one is Rejected or
    /// Failed. Read after every (re)start of a session, so that the same drift is never reported
    /// twice, a decision in flight is carried out, and a rejected drift is not proposed again.
    fn known_events(
        &self,
        device: &DeviceKey,
    ) -> impl Future<Output = Result<Vec<KnownEvent>, PortError>> + Send;

    /// Records a new episode and returns the event's name. Idempotent per (device, fingerprint)
    /// among open events.
    fn open_event(
        &self,
        record: &EventRecord,
    ) -> impl Future<Output = Result<String, PortError>> + Send;

    /// Moves an event to a new phase, with what was decided and done. `mode` is the device's
    /// policy mode, for metrics.
    fn update_event(
        &self,
        device: &DeviceKey,
        event: &str,
        mode: Mode,
        update: &EventUpdate,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
