//! The operator's core, with no Kubernetes types: one gNMI session per device, drift evaluated
//! incrementally by `fabric-drift`, drift episodes, and a [`port::Port`] through which an adapter
//! (Kubernetes, or the in-memory [`memory::MemoryPort`] of the lab and the tests) records what
//! the engine finds.

pub mod episode;
pub mod memory;
pub mod model;
pub mod port;
mod session;

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
    DeviceConfig, DeviceKey, DeviceReport, EffectivePolicy, EngineOptions, Reachability, SyncState,
    Target,
};
pub use port::{EventRecord, Phase, Port, PortError};
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
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

struct Handle {
    config: DeviceConfig,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

/// Runs one session per device it is given.
pub struct Engine<P: Port> {
    port: Arc<P>,
    options: EngineOptions,
    stats: Arc<Stats>,
    sessions: tokio::sync::Mutex<HashMap<DeviceKey, Handle>>,
}

impl<P: Port> Engine<P> {
    pub fn new(port: Arc<P>, options: EngineOptions) -> Self {
        Self::with_stats(port, options, Arc::new(Stats::default()))
    }

    /// An engine counting into `stats`, which a metrics exporter may already hold.
    pub fn with_stats(port: Arc<P>, options: EngineOptions, stats: Arc<Stats>) -> Self {
        Engine {
            port,
            options,
            stats,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn port(&self) -> &Arc<P> {
        &self.port
    }

    /// Starts watching a device, or hands its session a changed spec. An unchanged spec (a
    /// watch resync) costs nothing.
    pub async fn apply(&self, config: DeviceConfig) {
        let mut sessions = self.sessions.lock().await;
        if let Some(handle) = sessions.get_mut(&config.key) {
            if handle.config == config && !handle.task.is_finished() {
                return;
            }
            if !handle.task.is_finished()
                && handle
                    .commands
                    .send(Command::Update(Box::new(config.clone())))
                    .await
                    .is_ok()
            {
                handle.config = config;
                return;
            }
        }
        let (commands, receiver) = mpsc::channel(16);
        let span = tracing::info_span!("session", device = %config.key);
        let session = Session::new(
            config.clone(),
            self.port.clone(),
            self.options.clone(),
            self.stats.clone(),
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
