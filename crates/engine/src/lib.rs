//! The operator's core, with no Kubernetes types: one gNMI session per device, drift evaluated
//! incrementally by `fabric-drift`, drift episodes, and a [`port::Port`] through which an adapter
//! (Kubernetes, or the in-memory [`memory::MemoryPort`] of the lab and the tests) records what
//! the engine finds.

pub mod episode;
pub mod guard;
mod inbox;
pub mod memory;
pub mod model;
pub mod notify;
pub mod port;
pub mod remediation;
mod session;
pub mod window;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::{sync::mpsc, task::JoinHandle};
use tracing::Instrument;

pub use model::{
    Clock, DeviceConfig, DeviceKey, DeviceReport, EffectivePolicy, EngineOptions, ManualRequest,
    Reachability, SyncState, Target, WebhookTarget,
};
pub use port::{
    Decision, DecisionAction, EventRecord, EventUpdate, KnownEvent, Outcome, Phase, Port, PortError,
};
use session::{Command, Session};

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions running now.
    pub sessions: AtomicU64,
    /// Notifications received, all devices.
    pub notifications: AtomicU64,
    /// Notifications that could not be decoded (skipped).
    pub malformed: AtomicU64,
    /// Connections lost.
    pub reconnects: AtomicU64,
    /// DriftEvents opened.
    pub events_opened: AtomicU64,
    /// Devices reachable now.
    pub reachable: AtomicU64,
    /// Devices with reported drift now.
    pub drifted: AtomicU64,
    /// Remediation Sets sent (attempts).
    pub remediations: AtomicU64,
    /// Remediations the devices confirmed.
    pub remediated: AtomicU64,
    /// Remediation attempts that failed (Set refused, or not confirmed in time).
    pub remediation_failures: AtomicU64,
    /// Webhook notifications delivered.
    pub webhooks_sent: AtomicU64,
    /// Webhook delivery attempts that failed.
    pub webhook_failures: AtomicU64,
    /// Webhook notifications given up (retries exhausted, or the queue was full).
    pub webhooks_dropped: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What every session of an engine shares.
pub(crate) struct Shared {
    pub(crate) stats: Arc<Stats>,
    /// Remediations in flight across the fleet at most (`max_concurrent_remediations`).
    pub(crate) remediation_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) notifier: Option<notify::Notifier>,
}

struct Handle {
    /// Shared with the session, not copied: a device's intent is kept once.
    config: Arc<DeviceConfig>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

/// Runs one session per device it is given.
pub struct Engine<P: Port> {
    port: Arc<P>,
    options: EngineOptions,
    shared: Arc<Shared>,
    sessions: tokio::sync::Mutex<HashMap<DeviceKey, Handle>>,
}

impl<P: Port> Engine<P> {
    pub fn new(port: Arc<P>, options: EngineOptions) -> Self {
        Self::with_stats(port, options, Arc::new(Stats::default()))
    }

    /// An engine counting into `stats`, which a metrics exporter may already hold. Webhook
    /// notifications are delivered by a task started here (needs a Tokio runtime).
    pub fn with_stats(port: Arc<P>, options: EngineOptions, stats: Arc<Stats>) -> Self {
        let notifier = notify::Notifier::start(stats.clone(), options.webhook_delivery.clone());
        Engine {
            port,
            shared: Arc::new(Shared {
                stats,
                remediation_slots: Arc::new(tokio::sync::Semaphore::new(
                    options.max_concurrent_remediations.max(1),
                )),
                notifier: Some(notifier),
            }),
            options,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// A person approved or rejected `event` of `device`. False when the device is not watched.
    /// The session checks the event is the device's open one and waiting for a decision;
    /// otherwise the decision is ignored (and logged): a stale approval is never applied.
    pub async fn decide(&self, device: &DeviceKey, event: &str, decision: Decision) -> bool {
        // The sender is cloned so the lock is not held while a busy session's queue is full.
        let Some(commands) = self
            .sessions
            .lock()
            .await
            .get(device)
            .map(|h| h.commands.clone())
        else {
            return false;
        };
        commands
            .send(Command::Decide {
                event: event.to_owned(),
                decision,
            })
            .await
            .is_ok()
    }

    pub fn port(&self) -> &Arc<P> {
        &self.port
    }

    /// Starts watching a device, or hands its session a changed spec. An unchanged spec (a
    /// watch resync) costs nothing.
    pub async fn apply(&self, config: DeviceConfig) {
        let config = Arc::new(config);
        loop {
            let commands = {
                let mut sessions = self.sessions.lock().await;
                match sessions.get(&config.key) {
                    Some(handle) if !handle.task.is_finished() => {
                        if handle.config.same_for_running_session(&config) {
                            return;
                        }
                        handle.commands.clone()
                    }
                    _ => {
                        self.spawn(&mut sessions, config);
                        return;
                    }
                }
            };
            // Sent without the lock: a session slow to take commands (its queue full while it
            // waits on its device) holds up only its own device, never the fleet.
            let sent = commands.send(Command::Update(config.clone())).await.is_ok();
            let mut sessions = self.sessions.lock().await;
            let same = |h: &Handle| h.commands.same_channel(&commands);
            if sent {
                if let Some(handle) = sessions.get_mut(&config.key).filter(|h| same(h)) {
                    handle.config = config;
                }
                return;
            }
            // The session ended meanwhile: forget it, and start a new one on the next turn.
            if sessions.get(&config.key).is_some_and(same) {
                sessions.remove(&config.key);
            }
        }
    }

    fn spawn(&self, sessions: &mut HashMap<DeviceKey, Handle>, config: Arc<DeviceConfig>) {
        let (commands, receiver) = mpsc::channel(16);
        let span = tracing::info_span!("session", device = %config.key);
        let session = Session::new(
            config.clone(),
            self.port.clone(),
            self.options.clone(),
            self.shared.clone(),
        );
        let task = tokio::spawn(session.run(receiver).instrument(span));
        sessions.insert(
            config.key.clone(),
            Handle {
                config,
                commands,
                task,
            },
        );
    }

    /// Stops watching a device and waits until its session has closed its connection.
    pub async fn remove(&self, key: &DeviceKey) {
        let handle = self.sessions.lock().await.remove(key);
        if let Some(handle) = handle {
            stop(handle).await;
        }
    }

    /// Stops every session (graceful shutdown).
    pub async fn shutdown(&self) {
        let handles: Vec<Handle> = self.sessions.lock().await.drain().map(|(_, h)| h).collect();
        futures::future::join_all(handles.into_iter().map(stop)).await;
    }
}

async fn stop(handle: Handle) {
    // A session busy in a call sees the Stop when it returns; one that is gone needs nothing.
    let _ = handle.commands.send(Command::Stop).await;
    if let Err(e) = handle.task.await
        && e.is_panic()
    {
        tracing::error!(error = %e, "a session panicked");
    }
}
