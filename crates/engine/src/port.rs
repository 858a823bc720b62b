//! The engine's one door to the outside. The Kubernetes adapter implements it with status patches
//! and DriftEvent objects; the in-memory [`crate::memory::MemoryPort`] with maps, for the lab and
//! the engine's own tests.

use std::future::Future;

use fabric_drift::{
    DriftItem, Plan,
    policy::{Mode, Strategy},
};

use crate::model::{DeviceKey, DeviceReport};

/// The phases of a DriftEvent the engine moves it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Pending,
    Alerted,
    Superseded,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Alerted => "Alerted",
            Phase::Superseded => "Superseded",
            Phase::Resolved => "Resolved",
        }
    }
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

    /// Open (not final) events of the device: (name, fingerprint). Read after every (re)start of
    /// a session so that the same drift is never reported twice.
    fn open_events(
        &self,
        device: &DeviceKey,
    ) -> impl Future<Output = Result<Vec<(String, String)>, PortError>> + Send;

    /// Records a new episode and returns the event's name. Idempotent per (device, fingerprint)
    /// among open events.
    fn open_event(
        &self,
        record: &EventRecord,
    ) -> impl Future<Output = Result<String, PortError>> + Send;

    /// Moves an event to a final phase (Superseded, Resolved) with a reason.
    fn close_event(
        &self,
        device: &DeviceKey,
        event: &str,
        phase: Phase,
        reason: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
