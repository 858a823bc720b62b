//! Churn: out-of-band changes at a steady rate, made in-process on random
//! devices as a person at each device's CLI would make them, so that a
//! benchmark can load its subscribers (the operator's engine) without the
//! cost of making the changes counting against the process it measures.
//!
//! Each change picks a random device. If that device holds a leaf churn
//! changed, the change puts it back to its initial value; otherwise it sets a
//! random leaf matched by the churn's pattern (string leaves of the device's
//! initial tree) to `churn N`. So every change is a real change (one
//! notification per ON_CHANGE subscriber of that leaf), at most one leaf per
//! device differs from the initial tree at any time, and against an intent
//! that matches the initial tree, half of the changes make drift and half
//! undo it (or none does, for leaves outside the intent).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fabric_gnmi::backoff::{Jitter, SplitMix64};
use fabric_gnmi::rpc::SetRequest;
use fabric_gnmi::{Path, Value};
use tokio::task::JoinHandle;

use crate::DeviceHandle;

/// The leaves churn toggles on one device, with their initial values.
type Candidates = Vec<(Arc<Path>, Arc<Value>)>;

/// A running churn task; stopped when dropped.
pub struct Churn {
    rate: f64,
    changes: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Churn {
    /// Starts changing leaves that `pattern` covers (see [`crate::tree::covers`]) at `rate`
    /// per second over all `devices`.
    pub fn start(devices: Vec<DeviceHandle>, rate: f64, pattern: Path) -> Churn {
        let changes = Arc::new(AtomicU64::new(0));
        let counter = changes.clone();
        let task = tokio::spawn(async move { run(devices, rate, pattern, counter).await });
        Churn {
            rate,
            changes,
            task,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes applied so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The default pattern: every interface description.
pub const DEFAULT_PATTERN: &str = "/interfaces/interface[name=*]/config/description";

/// The string leaves of a device's initial tree that `pattern` covers.
fn candidates(device: &DeviceHandle, pattern: &Path) -> Candidates {
    device
        .0
        .initial()
        .iter_shared()
        .filter(|(p, v)| matches!(&***v, Value::String(_)) && crate::tree::covers(pattern, p))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect()
}

async fn run(devices: Vec<DeviceHandle>, rate: f64, pattern: Path, changes: Arc<AtomicU64>) {
    if devices.is_empty() || rate.is_nan() || rate <= 0.0 {
        return;
    }
    let mut cache: Vec<Option<Candidates>> = vec![None; devices.len()];
    // Per device, the candidate churn changed last and has not put back.
    let mut changed: Vec<Option<usize>> = vec![None; devices.len()];
    let mut rng = SplitMix64(0x5eed);
    let tick = Duration::from_millis(1);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = tokio::time::Instant::now();
    let mut done = 0u64;
    loop {
        interval.tick().await;
        // As many changes as the rate asks for by now (catching up after a slow tick).
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while done < due {
            done += 1;
            let d = rng.upto(devices.len() as u64 - 1) as usize;
            let list = cache[d].get_or_insert_with(|| candidates(&devices[d], &pattern));
            if list.is_empty() {
                continue;
            }
            let (pick, value) = match changed[d].take() {
                Some(i) => (i, (*list[i].1).clone()),
                None => {
                    let i = rng.upto(list.len() as u64 - 1) as usize;
                    changed[d] = Some(i);
                    (i, Value::String(format!("churn {done}")))
                }
            };
            let path = &list[pick].0;
            let req = SetRequest {
                updates: vec![((**path).clone(), value)],
                ..Default::default()
            };
            if devices[d].apply(&req).is_ok() {
                changes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
