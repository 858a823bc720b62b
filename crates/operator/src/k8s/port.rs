//! The engine's port on a Kubernetes API server: FabricDevice status by server-side apply,
//! DriftEvents created once per episode and moved through their phases.
//!
//! Write discipline: a report that changes nothing in the status writes nothing; bursts are
//! coalesced to at most one status write per device per [`MIN_STATUS_INTERVAL`]; an episode
//! costs one DriftEvent create and the device's status patch. Deciding and remediating it add
//! one status write to the event per phase.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use fabric_api::{
    DriftEvent, FIELD_MANAGER, FabricDevice, FabricDeviceStatus,
    event::{FINGERPRINT_LABEL, Phase as ApiPhase},
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    kube::{
        Api, Client, ResourceExt,
        api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    },
};
use fabric_engine::{
    DeviceKey, DeviceReport, EventRecord, EventUpdate, KnownEvent, Phase, Port, PortError,
};
use serde_json::json;
use tokio::sync::Notify;
use tracing::{debug, warn};

use fabric_api::{
    k8s_openapi::api::core::v1::ObjectReference,
    kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter},
};

use super::mapping::{
    device_selector, device_status, drift_event, event_status_patch, fingerprint_label,
    is_open_episode, known_event, transitions,
};
use crate::metrics::Metrics;

/// Names an event may take in one second (`name`, `name-2`, ...) before its create gives up.
const MAX_NAME_ATTEMPTS: u32 = 8;

/// How often failed DriftEvent phase writes are tried again.
pub const EVENT_RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// At most one status write per device per this interval.
pub const MIN_STATUS_INTERVAL: Duration = Duration::from_secs(1);

fn port_error(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError(format!("{what}: {e}"))
}

/// Per device: the newest report not yet written (and when the oldest change it carries
/// arrived), and the status last written.
#[derive(Default)]
struct DeviceSlot {
    pending: Option<(DeviceReport, tokio::time::Instant)>,
    written: Option<FabricDeviceStatus>,
}

pub struct KubePort {
    client: Client,
    recorder: Recorder,
    slots: Mutex<HashMap<DeviceKey, DeviceSlot>>,
    wake: Notify,
    metrics: Arc<Metrics>,
    /// Each open event's phase as last counted, so `fabric_drift_events_total` counts an
    /// event's phase once however often the engine rewrites it (a retry's message, a new
    /// reason for waiting). Final phases leave the map.
    counted: Mutex<HashMap<(String, String), Phase>>,
    /// Devices a status write found deleted (404), for the controller to stop their sessions.
    deleted: tokio::sync::mpsc::UnboundedSender<DeviceKey>,
    deleted_receiver: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<DeviceKey>>>,
    /// Event status writes that failed, newest per event, retried by the status writer.
    failed_updates: Mutex<FailedUpdates>,
    /// One lock per event being written, so a retry never lands after a newer update of the
    /// same event; other events (other devices' sessions) do not wait for it.
    event_writes: Mutex<EventLocks>,
}

/// Per (namespace, event name), the lock its writes take.
type EventLocks = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// Per (namespace, event): the policy mode (for metrics) and the update to write.
type FailedUpdates = HashMap<(String, String), (fabric_drift::policy::Mode, EventUpdate)>;

impl KubePort {
    /// Counts `phase` for the event unless it was the last one counted for it.
    fn count_phase(
        &self,
        namespace: &str,
        event: &str,
        mode: fabric_drift::policy::Mode,
        phase: Phase,
    ) {
        let key = (namespace.to_owned(), event.to_owned());
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        let entered = if phase.is_final() {
            counted.remove(&key) != Some(phase)
        } else {
            counted.insert(key, phase) != Some(phase)
        };
        if entered {
            self.metrics.drift_event(mode.as_str(), phase.as_str());
        }
    }

    /// Starts the status writer task with the port.
    pub fn start(client: Client, metrics: Arc<Metrics>) -> Arc<KubePort> {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let (deleted, deleted_receiver) = tokio::sync::mpsc::unbounded_channel();
        let port = Arc::new(KubePort {
            deleted,
            deleted_receiver: Mutex::new(Some(deleted_receiver)),
            failed_updates: Mutex::new(HashMap::new()),
            event_writes: Mutex::new(HashMap::new()),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            slots: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            metrics,
            counted: Mutex::new(HashMap::new()),
        });
        tokio::spawn(status_writer(port.clone()));
        port
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceKey, DeviceSlot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn events(&self, namespace: &str) -> Api<DriftEvent> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The metrics the port counts its writes into; the controllers count theirs there too.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Writes every pending report and failed event update now, whatever the interval
    /// (graceful shutdown: what the sessions last said reaches the API server).
    pub async fn flush(&self) {
        let pending: Vec<(DeviceKey, (DeviceReport, tokio::time::Instant))> = self
            .slots()
            .iter_mut()
            .filter_map(|(key, slot)| Some((key.clone(), slot.pending.take()?)))
            .collect();
        for (key, (report, since)) in pending {
            if let Err(e) = self.write_status(&key, report, since).await {
                warn!(device = %key, error = %e, "status not written at shutdown");
            }
        }
        self.retry_event_updates().await;
    }

    /// Forgets a deleted device's cached status.
    pub fn forget(&self, device: &DeviceKey) {
        self.slots().remove(device);
    }

    /// The devices whose status write found them deleted, each once per write that did; taken
    /// once, by whoever stops sessions (`controller::stop_deleted`).
    pub fn deleted_devices(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<DeviceKey>> {
        self.deleted_receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The device is gone from the API server (deleted without our finalizer running, e.g.
    /// removed by hand): its status is not retried, and its session is to be stopped.
    fn device_gone(&self, device: &DeviceKey) {
        warn!(device = %device, "the device is gone from the API server; stopping its session");
        self.forget(device);
        let _ = self.deleted.send(device.clone());
    }

    /// Writes the status for one device, if it differs from what was last written; the
    /// detection latency is observed from `since`, when the engine received the change.
    async fn write_status(
        &self,
        device: &DeviceKey,
        report: DeviceReport,
        since: tokio::time::Instant,
    ) -> Result<(), PortError> {
        let api: Api<FabricDevice> = Api::namespaced(self.client.clone(), &device.namespace);
        let written = self.slots().get(device).and_then(|s| s.written.clone());
        let current = match written {
            Some(status) => status,
            // First write since start: merge into what the API server has, keeping transition times.
            None => match api
                .get_opt(&device.name)
                .await
                .map_err(|e| port_error("reading the device", e))?
            {
                Some(d) => d.status.unwrap_or_default(),
                None => {
                    self.device_gone(device);
                    return Ok(());
                }
            },
        };
        let now = Time(jiff::Timestamp::now());
        let mut status = device_status(&report, &current, now);
        // A reconnect's new lastSyncTime alone is not worth a write.
        let mut compare = status.clone();
        compare.last_sync_time = current.last_sync_time.clone();
        if compare == current {
            status = current;
        } else {
            let patch = json!({
                "apiVersion": "fabric.netops.dev/v1alpha1",
                "kind": "FabricDevice",
                "status": status,
            });
            let params = PatchParams::apply(FIELD_MANAGER).force();
            match api
                .patch_status(&device.name, &params, &Patch::Apply(&patch))
                .await
            {
                Ok(_) => {}
                Err(fabric_api::kube::Error::Api(e)) if e.code == 404 => {
                    self.device_gone(device);
                    return Ok(());
                }
                Err(e) => return Err(port_error("writing the device status", e)),
            }
            self.metrics.api_write("status");
            self.metrics
                .detection_latency
                .observe(since.elapsed().as_secs_f64());
            debug!(device = %device, "status written");
            self.announce(device, &current, &status).await;
        }
        if let Some(slot) = self.slots().get_mut(device) {
            slot.written = Some(status);
        }
        Ok(())
    }

    /// Kubernetes Events for the transitions between two written statuses. An Event that
    /// cannot be published costs a log line; the status already says the same.
    async fn announce(
        &self,
        device: &DeviceKey,
        before: &FabricDeviceStatus,
        after: &FabricDeviceStatus,
    ) {
        let reference = ObjectReference {
            api_version: Some("fabric.netops.dev/v1alpha1".into()),
            kind: Some("FabricDevice".into()),
            name: Some(device.name.clone()),
            namespace: Some(device.namespace.clone()),
            ..ObjectReference::default()
        };
        for t in transitions(before, after) {
            let event = KubeEvent {
                type_: if t.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: t.reason.to_owned(),
                note: (!t.note.is_empty()).then_some(t.note),
                action: t.action.to_owned(),
                secondary: None,
            };
            match self.recorder.publish(&event, &reference).await {
                Ok(()) => self.metrics.api_write("event"),
                Err(e) => {
                    warn!(device = %device, error = %e, "could not publish a Kubernetes Event")
                }
            }
        }
    }

    /// Writes an event's status. A merge patch, not an apply: an update names only what it
    /// changes, and the decision recorded by an earlier one must stay.
    async fn write_event_status(
        &self,
        namespace: &str,
        name: &str,
        update: &EventUpdate,
    ) -> Result<(), fabric_api::kube::Error> {
        let patch = json!({ "status": event_status_patch(update) });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        self.events(namespace)
            .patch_status(name, &params, &Patch::Merge(&patch))
            .await?;
        self.metrics.api_write("driftevent_status");
        Ok(())
    }

    /// Writes an event's update, carrying on from a failed earlier one of the same event (the
    /// newest phase wins; a decision or result only the earlier one carried is kept). A failed
    /// write is kept for [`KubePort::retry_event_updates`]; one for an event that is gone is
    /// dropped. Writes of one event are serialized, so a retry never lands after a newer update.
    async fn write_event_update(
        &self,
        namespace: &str,
        name: &str,
        mode: fabric_drift::policy::Mode,
        update: EventUpdate,
    ) -> Result<(), fabric_api::kube::Error> {
        let key = (namespace.to_owned(), name.to_owned());
        let lock = self.event_writes().entry(key.clone()).or_default().clone();
        let serial = lock.lock_owned().await;
        let update = match self.failed_updates().remove(&key) {
            Some((_, older)) => merge_updates(older, update),
            None => update,
        };
        let written = self.write_event_status(namespace, name, &update).await;
        {
            // Nobody else waits for this event (the map's and our guard's are the only
            // handles): its lock goes, so the map holds only events being written.
            let mut locks = self.event_writes();
            if locks.get(&key).is_some_and(|l| Arc::strong_count(l) == 2) {
                locks.remove(&key);
            }
        }
        drop(serial);
        match written {
            Ok(()) => {
                self.count_phase(namespace, name, mode, update.phase);
                Ok(())
            }
            Err(fabric_api::kube::Error::Api(e)) if e.code == 404 => {
                Err(fabric_api::kube::Error::Api(e))
            }
            Err(e) => {
                self.failed_updates().insert(key, (mode, update));
                Err(e)
            }
        }
    }

    fn event_writes(&self) -> std::sync::MutexGuard<'_, EventLocks> {
        self.event_writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed_updates(&self) -> std::sync::MutexGuard<'_, FailedUpdates> {
        self.failed_updates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the event updates that failed, once each; the ones failing again stay.
    async fn retry_event_updates(&self) {
        let keys: Vec<(String, String)> = self.failed_updates().keys().cloned().collect();
        for (namespace, name) in keys {
            let taken = self
                .failed_updates()
                .remove(&(namespace.clone(), name.clone()));
            let Some((mode, update)) = taken else {
                continue; // written by a newer update meanwhile
            };
            match self
                .write_event_update(&namespace, &name, mode, update)
                .await
            {
                Ok(()) => debug!(event = %name, "drift event phase written on retry"),
                Err(e) => {
                    warn!(namespace = %namespace, event = %name, error = %e, "drift event phase write failed again; retrying")
                }
            }
        }
    }

    /// A Warning Event on a DriftEvent (bad input a person gave it). Costs a log line when it
    /// cannot be published.
    pub async fn warn(&self, event: &DriftEvent, reason: &str, note: String) {
        warn!(event = %event.name_any(), reason, %note, "drift event");
        let reference = ObjectReference {
            api_version: Some("fabric.netops.dev/v1alpha1".into()),
            kind: Some("DriftEvent".into()),
            name: Some(event.name_any()),
            namespace: event.namespace(),
            uid: event.uid(),
            ..ObjectReference::default()
        };
        let kube_event = KubeEvent {
            type_: EventType::Warning,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Decide".to_owned(),
            secondary: None,
        };
        match self.recorder.publish(&kube_event, &reference).await {
            Ok(()) => self.metrics.api_write("event"),
            Err(e) => warn!(error = %e, "could not publish a Kubernetes Event"),
        }
    }

    /// Deletes the device's oldest closed events beyond `keep`.
    async fn prune_history(&self, device: &DeviceKey, keep: u32) -> Result<(), PortError> {
        let api = self.events(&device.namespace);
        let list = api
            .list(&ListParams::default().labels(&device_selector(&device.name)))
            .await
            .map_err(|e| port_error("listing drift events", e))?;
        let mut closed: Vec<&DriftEvent> = list
            .items
            .iter()
            // A shortened label value is shared by nothing else in practice; the spec says.
            .filter(|e| e.spec.device == device.name)
            .filter(|e| {
                e.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .is_some_and(ApiPhase::is_final)
            })
            .collect();
        // Creation timestamps have one-second resolution; detection time breaks the ties.
        closed.sort_by_key(|e| (e.creation_timestamp(), e.spec.detected_at.0));
        let excess = closed.len().saturating_sub(keep as usize);
        for event in closed.into_iter().take(excess) {
            match api
                .delete(&event.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => self.metrics.api_write("driftevent_delete"),
                Err(e) => {
                    warn!(device = %device, event = %event.name_any(), error = %e, "could not prune an old drift event")
                }
            }
        }
        Ok(())
    }
}

/// Writes pending reports: at once when the device's last write is older than the interval,
/// otherwise when it is due. One task, so writes for a device never race each other.
async fn status_writer(strong: Arc<KubePort>) {
    let mut last_write: HashMap<DeviceKey, tokio::time::Instant> = HashMap::new();
    // When the failed DriftEvent writes are next tried: an interval after the first failure
    // seen, then every interval while some fail.
    let mut event_retry_at: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        let mut next_due: Option<tokio::time::Instant> = None;
        if strong.failed_updates().is_empty() {
            event_retry_at = None;
        } else {
            let at = *event_retry_at.get_or_insert(now + EVENT_RETRY_INTERVAL);
            if at <= now {
                strong.retry_event_updates().await;
                event_retry_at = (!strong.failed_updates().is_empty())
                    .then(|| tokio::time::Instant::now() + EVENT_RETRY_INTERVAL);
            }
            next_due = event_retry_at;
        }
        let mut due = Vec::new();
        {
            let mut slots = strong.slots();
            for (key, slot) in slots.iter_mut() {
                if slot.pending.is_none() {
                    continue;
                }
                let ready_at = last_write
                    .get(key)
                    .map_or(now, |t| *t + MIN_STATUS_INTERVAL);
                if ready_at <= now {
                    due.push((key.clone(), slot.pending.take().expect("checked")));
                } else {
                    next_due = Some(next_due.map_or(ready_at, |n| n.min(ready_at)));
                }
            }
        }
        for (key, (report, since)) in due {
            last_write.insert(key.clone(), now);
            if let Err(e) = strong.write_status(&key, report.clone(), since).await {
                warn!(device = %key, error = %e, "status write failed; retrying");
                // Keep the newest report: put this one back unless a newer one arrived.
                if let Some(slot) = strong.slots().get_mut(&key) {
                    slot.pending.get_or_insert((report, since));
                }
                let retry = now + MIN_STATUS_INTERVAL;
                next_due = Some(next_due.map_or(retry, |n| n.min(retry)));
            }
        }
        let wake = strong.wake.notified();
        match next_due {
            Some(at) => {
                tokio::select! {
                    _ = wake => {}
                    _ = tokio::time::sleep_until(at) => {}
                }
            }
            None => wake.await,
        }
    }
}

impl Port for KubePort {
    async fn report(&self, device: &DeviceKey, report: &DeviceReport) {
        {
            let mut slots = self.slots();
            let slot = slots.entry(device.clone()).or_default();
            // Detection latency runs from the notification that made the change (or from now
            // for a change that did not come from the device); coalesced reports keep the
            // oldest unwritten change's time.
            let since = match &slot.pending {
                Some((_, t)) => *t,
                None => report
                    .received
                    .map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std),
            };
            slot.pending = Some((report.clone(), since));
        }
        self.wake.notify_one();
    }

    async fn known_events(&self, device: &DeviceKey) -> Result<Vec<KnownEvent>, PortError> {
        let list = self
            .events(&device.namespace)
            .list(&ListParams::default().labels(&device_selector(&device.name)))
            .await
            .map_err(|e| port_error("listing drift events", e))?;
        let mut events = list.items;
        events.retain(|e| e.spec.device == device.name);
        // Newest by detection (creation timestamps have one-second resolution).
        events.sort_by_key(|e| e.spec.detected_at.0);
        let newest = events.last().map(ResourceExt::name_any);
        Ok(events
            .iter()
            .map(known_event)
            .filter(|k| {
                !k.phase.is_final() || (Some(&k.name) == newest.as_ref() && k.phase.holds_drift())
            })
            .collect())
    }

    async fn open_event(&self, record: &EventRecord) -> Result<String, PortError> {
        let device = &record.device;
        let api = self.events(&device.namespace);
        // Idempotent per fingerprint: an open event for the same drift is the same episode.
        let selector = format!(
            "{},{FINGERPRINT_LABEL}={}",
            device_selector(&device.name),
            fingerprint_label(&record.fingerprint)
        );
        let existing = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| port_error("listing drift events", e))?;
        if let Some(open) = existing
            .items
            .iter()
            .find(|e| is_open_episode(e, &device.name, &record.fingerprint))
        {
            return Ok(open.name_any());
        }
        let devices: Api<FabricDevice> = Api::namespaced(self.client.clone(), &device.namespace);
        let owner = devices
            .get(&device.name)
            .await
            .map_err(|e| port_error("reading the device for the event's owner", e))?;
        let mut event = drift_event(record, &owner);
        let base = event.name_any();
        let mut name = base.clone();
        let mut attempt = 1;
        loop {
            event.metadata.name = Some(name.clone());
            match api.create(&PostParams::default(), &event).await {
                Ok(_) => {
                    self.metrics.api_write("driftevent");
                    break;
                }
                // Names have a one-second resolution: the holder may be our own earlier attempt
                // (a create retried after a timeout), the same episode, or another episode of
                // the same second (a flap A→B→A, settled since). Only an open event of the same
                // drift is adopted; otherwise the next name is tried.
                Err(fabric_api::kube::Error::Api(e)) if e.code == 409 => {
                    let holder = api
                        .list(&ListParams::default().fields(&format!("metadata.name={name}")))
                        .await
                        .map_err(|e| port_error("reading the drift event holding the name", e))?;
                    if holder
                        .items
                        .iter()
                        .any(|e| is_open_episode(e, &device.name, &record.fingerprint))
                    {
                        break;
                    }
                    if attempt >= MAX_NAME_ATTEMPTS {
                        return Err(port_error(
                            "creating the drift event",
                            format!("{MAX_NAME_ATTEMPTS} names from {base} are taken"),
                        ));
                    }
                    attempt += 1;
                    name = format!("{base}-{attempt}");
                }
                Err(e) => return Err(port_error("creating the drift event", e)),
            }
        }
        // No status write: the status subresource ignores status on create, and a second write
        // per episode is over the budget (one DriftEvent, one device status). An event without
        // a phase is in its mode's first phase, Pending or Alerted (`mapping::known_event`);
        // its first decision writes the phase.
        self.count_phase(&device.namespace, &name, record.mode, record.phase);
        if let Err(e) = self.prune_history(device, record.keep).await {
            warn!(device = %device, error = %e, "could not prune drift event history");
        }
        Ok(name)
    }

    async fn update_event(
        &self,
        device: &DeviceKey,
        event: &str,
        mode: fabric_drift::policy::Mode,
        update: &EventUpdate,
    ) -> Result<(), PortError> {
        self.write_event_update(&device.namespace, event, mode, update.clone())
            .await
            .map_err(|e| match &e {
                fabric_api::kube::Error::Api(s) if s.code == 404 => {
                    port_error("writing the drift event status (the event is gone)", e)
                }
                _ => {
                    self.wake.notify_one();
                    port_error("writing the drift event status (kept; retried)", e)
                }
            })
    }
}

/// `newer` after `older`, which was never written: the newer phase, reason and message; a
/// decision, result or successor only the older one carried.
fn merge_updates(older: EventUpdate, newer: EventUpdate) -> EventUpdate {
    EventUpdate {
        decision: newer.decision.or(older.decision),
        outcome: newer.outcome.or(older.outcome),
        superseded_by: newer.superseded_by.or(older.superseded_by),
        ..newer
    }
}
