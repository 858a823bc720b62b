//! The in-memory port: what the lab shows and what the engine's end-to-end tests assert on.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    model::{DeviceKey, DeviceReport},
    port::{Decision, EventRecord, EventUpdate, KnownEvent, Outcome, Phase, Port, PortError},
};

/// A recorded DriftEvent.
#[derive(Debug, Clone)]
pub struct MemoryEvent {
    pub name: String,
    pub record: EventRecord,
    pub phase: Phase,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub decision: Option<Decision>,
    pub outcome: Option<Outcome>,
    pub superseded_by: Option<String>,
    /// Every phase the event went through, in order (the first is the one it was created in).
    pub phases: Vec<Phase>,
    pub created: Instant,
}

impl MemoryEvent {
    pub fn is_open(&self) -> bool {
        !self.phase.is_final()
    }
}

/// Everything the engine has told the port.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    pub reports: BTreeMap<DeviceKey, DeviceReport>,
    /// In creation order.
    pub events: Vec<MemoryEvent>,
    /// How many times each device's report was written.
    pub report_writes: BTreeMap<DeviceKey, u64>,
    /// Every event the engine asked to create, (device, fingerprint), in order, whether or not
    /// an open one with the fingerprint was found instead: a restart must ask for none.
    pub open_requests: Vec<(DeviceKey, String)>,
    next_event: u64,
}

impl MemoryState {
    pub fn events_of<'a>(
        &'a self,
        device: &DeviceKey,
    ) -> impl Iterator<Item = &'a MemoryEvent> + use<'a> {
        let device = device.clone();
        self.events
            .iter()
            .filter(move |e| e.record.device == device)
    }
}

/// An in-memory [`Port`], observable: [`MemoryPort::wait_for`] waits for a condition.
#[derive(Debug)]
pub struct MemoryPort {
    state: Mutex<MemoryState>,
    version: watch::Sender<u64>,
}

impl Default for MemoryPort {
    fn default() -> Self {
        MemoryPort {
            state: Mutex::new(MemoryState::default()),
            version: watch::Sender::new(0),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("timed out after {0:?} waiting for {1}")]
pub struct WaitTimeout(pub Duration, pub String);

impl MemoryPort {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> MemoryState {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the maps half-written: each change is one insert.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Waits until `condition` holds for the state, or `timeout` passes.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&MemoryState) -> bool,
    ) -> Result<MemoryState, WaitTimeout> {
        let mut changes = self.version.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let state = self.lock();
                if condition(&state) {
                    return Ok(state.clone());
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(WaitTimeout(timeout, what.to_owned())),
            }
        }
    }
}

impl Port for MemoryPort {
    async fn report(&self, device: &DeviceKey, report: &DeviceReport) {
        {
            let mut state = self.lock();
            state.reports.insert(device.clone(), report.clone());
            *state.report_writes.entry(device.clone()).or_default() += 1;
        }
        self.changed();
    }

    async fn known_events(&self, device: &DeviceKey) -> Result<Vec<KnownEvent>, PortError> {
        let state = self.lock();
        let newest = state.events_of(device).last().map(|e| e.name.clone());
        Ok(state
            .events_of(device)
            .filter(|e| e.is_open() || (Some(&e.name) == newest.as_ref() && e.phase.holds_drift()))
            .map(|e| KnownEvent {
                name: e.name.clone(),
                fingerprint: e.record.fingerprint.clone(),
                phase: e.phase,
                decision: e.decision.clone(),
            })
            .collect())
    }

    async fn open_event(&self, record: &EventRecord) -> Result<String, PortError> {
        let name = {
            let mut state = self.lock();
            state
                .open_requests
                .push((record.device.clone(), record.fingerprint.clone()));
            if let Some(open) = state
                .events_of(&record.device)
                .find(|e| e.is_open() && e.record.fingerprint == record.fingerprint)
            {
                return Ok(open.name.clone());
            }
            state.next_event += 1;
            let name = format!(
                "{}-{}-{}",
                record.device.name,
                &record.fingerprint[..8.min(record.fingerprint.len())],
                state.next_event
            );
            state.events.push(MemoryEvent {
                name: name.clone(),
                record: record.clone(),
                phase: record.phase,
                reason: None,
                message: None,
                decision: None,
                outcome: None,
                superseded_by: None,
                phases: vec![record.phase],
                created: Instant::now(),
            });
            // History retention: keep the newest `keep` closed events of the device.
            let closed: Vec<String> = state
                .events_of(&record.device)
                .filter(|e| !e.is_open())
                .map(|e| e.name.clone())
                .collect();
            let excess = closed.len().saturating_sub(record.keep as usize);
            let drop: Vec<&String> = closed.iter().take(excess).collect();
            state.events.retain(|e| !drop.contains(&&e.name));
            name
        };
        self.changed();
        Ok(name)
    }

    async fn update_event(
        &self,
        device: &DeviceKey,
        event: &str,
        _mode: fabric_drift::policy::Mode,
        update: &EventUpdate,
    ) -> Result<(), PortError> {
        {
            let mut state = self.lock();
            let Some(e) = state
                .events
                .iter_mut()
                .find(|e| &e.record.device == device && e.name == event)
            else {
                return Err(PortError(format!("no drift event {event} for {device}")));
            };
            if e.phase != update.phase {
                e.phases.push(update.phase);
            }
            e.phase = update.phase;
            e.reason = update.reason.clone();
            e.message = update.message.clone();
            if update.decision.is_some() {
                e.decision = update.decision.clone();
            }
            if update.outcome.is_some() {
                e.outcome = update.outcome.clone();
            }
            if update.superseded_by.is_some() {
                e.superseded_by = update.superseded_by.clone();
            }
        }
        self.changed();
        Ok(())
    }
}
