//! The lab adapter (the engine's in-memory port), with a stopwatch: every call is passed on to
//! [`MemoryPort`] unchanged, and the moments the benchmark measures are noted on the way.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use fabric_drift::{DriftKind, policy::Mode};
use fabric_engine::memory::MemoryPort;
use fabric_engine::port::{EventUpdate, KnownEvent};
use fabric_engine::{
    DeviceKey, DeviceReport, EventRecord, Phase, Port, PortError, Reachability, SyncState,
};
use fabric_gnmi::Value;
use tokio::sync::mpsc;

/// The prefix of the values the latency scenario writes: `bench-<sequence>`.
pub const MARK: &str = "bench-";

/// What the engine told the port about a marked change, and when.
#[derive(Debug, Clone, Copy)]
pub struct Detection {
    pub device: usize,
    /// The `bench-<sequence>` value the drift showed; 0 for a remediation (which names none).
    pub sequence: u64,
    pub at: Instant,
    pub what: Seen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The drift was recorded (a DriftEvent opened).
    Drift,
    /// The event reached Remediated: the device showed its leaves back at intent.
    Remediated,
}

pub struct TimingPort {
    inner: MemoryPort,
    /// Devices whose last report is reachable and in sync.
    in_sync: Mutex<HashSet<usize>>,
    /// When all `expected` devices were first in sync.
    all_synced: Mutex<Option<Instant>>,
    expected: usize,
    detections: mpsc::UnboundedSender<Detection>,
}

/// `gen0042` → 41, the index `fabric_sim::topology::synthetic_name` was given.
pub fn device_index(key: &DeviceKey) -> Option<usize> {
    key.name
        .strip_prefix("gen")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

impl TimingPort {
    pub fn new(expected: usize) -> (TimingPort, mpsc::UnboundedReceiver<Detection>) {
        let (detections, rx) = mpsc::unbounded_channel();
        (
            TimingPort {
                inner: MemoryPort::new(),
                in_sync: Mutex::new(HashSet::new()),
                all_synced: Mutex::new(None),
                expected,
                detections,
            },
            rx,
        )
    }

    pub fn in_sync(&self) -> usize {
        self.in_sync.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn all_synced_at(&self) -> Option<Instant> {
        *self.all_synced.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Port for TimingPort {
    async fn report(&self, device: &DeviceKey, report: &DeviceReport) {
        if let Some(index) = device_index(device) {
            let synced =
                report.reachability == Reachability::Reachable && report.sync != SyncState::Unknown;
            let mut set = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
            if synced {
                set.insert(index);
            } else {
                set.remove(&index);
            }
            if set.len() >= self.expected {
                self.all_synced
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(Instant::now);
            }
        }
        self.inner.report(device, report).await
    }

    async fn known_events(&self, device: &DeviceKey) -> Result<Vec<KnownEvent>, PortError> {
        self.inner.known_events(device).await
    }

    async fn open_event(&self, record: &EventRecord) -> Result<String, PortError> {
        let at = Instant::now();
        if let Some(device) = device_index(&record.device) {
            for item in &record.drift {
                if item.kind != DriftKind::Modified {
                    continue;
                }
                if let Some(Value::String(s)) = &item.actual
                    && let Some(sequence) = s.strip_prefix(MARK).and_then(|n| n.parse().ok())
                {
                    let _ = self.detections.send(Detection {
                        device,
                        sequence,
                        at,
                        what: Seen::Drift,
                    });
                }
            }
        }
        self.inner.open_event(record).await
    }

    async fn update_event(
        &self,
        device: &DeviceKey,
        event: &str,
        mode: Mode,
        update: &EventUpdate,
    ) -> Result<(), PortError> {
        if update.phase == Phase::Remediated
            && let Some(index) = device_index(device)
        {
            let _ = self.detections.send(Detection {
                device: index,
                sequence: 0,
                at: Instant::now(),
                what: Seen::Remediated,
            });
        }
        self.inner.update_event(device, event, mode, update).await
    }
}
