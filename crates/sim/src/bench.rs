//! `fabric-sim bench`: the scale figures (RSS with N devices of ~2,000
//! leaves; notifications per second delivered to subscribers).
//!
//! Everything runs in this one process: the simulator, one gNMI client per
//! device with an ON_CHANGE subscription to the whole tree, and a driver
//! that changes one leaf per Set, `burst` Sets per device in turn, over the devices (in-process,
//! as if on each device's CLI, so the figure measures the target's fan-out
//! and not the driver's gRPC). Counted: notifications received and decoded
//! by the clients after their initial sync.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fabric_gnmi::client::{Client, ClientConfig, SubscribeEvent};
use fabric_gnmi::rpc::{SetRequest, SubscribeRequest, Subscription};
use fabric_gnmi::{Path, Value};
use futures::StreamExt;

use crate::{Sim, Topology};

/// Bench parameters.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub devices: usize,
    pub subscribers_per_device: usize,
    pub duration: Duration,
    /// Consecutive Sets on one device before the driver moves to the next
    /// (1 = strict round-robin).
    pub burst: usize,
}

/// What the bench measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub devices: usize,
    pub subscribers: usize,
    pub burst: usize,
    pub leaves: usize,
    pub start_secs: f64,
    pub sync_secs: f64,
    pub rss_after_start_mib: f64,
    pub rss_peak_mib: f64,
    pub sets: u64,
    /// CPU seconds the process used during the window (all threads).
    pub cpu: f64,
    /// Subscriptions the target ended during the run (fell behind).
    pub dropped: usize,
    pub notifications: u64,
    pub updates: u64,
    pub secs: f64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "devices                  {}", self.devices)?;
        writeln!(f, "subscribers              {}", self.subscribers)?;
        writeln!(f, "burst (Sets per device)  {}", self.burst)?;
        writeln!(f, "leaves (all devices)     {}", self.leaves)?;
        writeln!(f, "start (bind all)         {:.2} s", self.start_secs)?;
        writeln!(f, "subscribe + initial sync {:.2} s", self.sync_secs)?;
        writeln!(
            f,
            "RSS after start          {:.0} MiB",
            self.rss_after_start_mib
        )?;
        writeln!(f, "RSS peak                 {:.0} MiB", self.rss_peak_mib)?;
        writeln!(
            f,
            "Sets applied             {} ({:.0}/s)",
            self.sets,
            self.sets as f64 / self.secs
        )?;
        writeln!(
            f,
            "notifications received   {} in {:.1} s = {:.0}/s",
            self.notifications,
            self.secs,
            self.notifications as f64 / self.secs
        )?;
        writeln!(f, "subscribers dropped      {}", self.dropped)?;
        writeln!(
            f,
            "CPU used in the window   {:.1} s = {:.2} cores of {}",
            self.cpu,
            self.cpu / self.secs,
            std::thread::available_parallelism().map_or(0, usize::from)
        )?;
        write!(
            f,
            "updates received         {} = {:.0}/s",
            self.updates,
            self.updates as f64 / self.secs
        )
    }
}

/// `VmRSS` and `VmHWM` of this process, MiB (Linux; 0 elsewhere).
pub fn rss_mib() -> (f64, f64) {
    let (rss, peak) = rss_bytes();
    (rss as f64 / 1048576.0, peak as f64 / 1048576.0)
}

/// `VmRSS` and `VmHWM` of this process, bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) this process has used, seconds (Linux; 0
/// elsewhere).
pub fn cpu_secs() -> f64 {
    cpu_secs_of("self")
}

/// CPU time (user + system) process `pid` (or `self`) has used, seconds
/// (Linux; 0 elsewhere). Clock ticks are 1/100 s on Linux's usual `CLK_TCK`.
pub fn cpu_secs_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}

/// Errors of the bench.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Topology(#[from] crate::TopologyError),
    #[error(transparent)]
    Sim(#[from] crate::SimError),
    #[error("client of {device}: {message}")]
    Client { device: String, message: String },
}

pub async fn run(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    let t0 = Instant::now();
    let topo = Topology::generate(cfg.devices, 0)?;
    let leaves: usize = topo.devices.iter().map(|d| d.initial.len()).sum();
    let sim = Sim::start(topo, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    let start_secs = t0.elapsed().as_secs_f64();
    let (rss_after_start_mib, _) = rss_mib();

    let received = Arc::new(AtomicU64::new(0));
    let updates = Arc::new(AtomicU64::new(0));
    let synced = Arc::new(AtomicU64::new(0));
    let t1 = Instant::now();
    let mut readers = Vec::new();
    for dev in sim.devices() {
        for _ in 0..cfg.subscribers_per_device {
            let client = Client::connect(
                ClientConfig::new(dev.addr().to_string()).credentials("admin", "admin"),
            )
            .await
            .map_err(|e| BenchError::Client {
                device: dev.name().to_string(),
                message: e.to_string(),
            })?;
            let mut sub = client
                .subscribe(&SubscribeRequest::stream(vec![Subscription::on_change(
                    Path::root(),
                )]))
                .await
                .map_err(|e| BenchError::Client {
                    device: dev.name().to_string(),
                    message: e.to_string(),
                })?;
            let (received, updates, synced) = (received.clone(), updates.clone(), synced.clone());
            readers.push(tokio::spawn(async move {
                let mut in_sync = false;
                while let Some(Ok(ev)) = sub.next().await {
                    match ev {
                        SubscribeEvent::SyncResponse => {
                            in_sync = true;
                            synced.fetch_add(1, Ordering::Relaxed);
                        }
                        SubscribeEvent::Notification(n) if in_sync => {
                            received.fetch_add(1, Ordering::Relaxed);
                            updates.fetch_add(n.updates.len() as u64, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
                drop(client);
            }));
        }
    }
    let want = (cfg.devices * cfg.subscribers_per_device) as u64;
    while synced.load(Ordering::Relaxed) < want {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sync_secs = t1.elapsed().as_secs_f64();

    let devices = sim.devices();
    let paths: Vec<Path> = (1..=64)
        .map(|i| {
            format!("/interfaces/interface[name=Ethernet{i}]/config/description")
                .parse()
                .unwrap_or_default()
        })
        .collect();
    let t2 = Instant::now();
    let cpu0 = cpu_secs();
    let burst = cfg.burst.max(1);
    let duration = cfg.duration;
    // The driver runs on this thread, beside the runtime's workers (as a
    // task among the subscribers it measured 30% lower).
    let driver = async move {
        let mut sets = 0u64;
        let mut round = 0u64;
        'drive: loop {
            for dev in &devices {
                for b in 0..burst {
                    let req = SetRequest {
                        updates: vec![(
                            paths[b % paths.len()].clone(),
                            Value::String(format!("bench {round}")),
                        )],
                        ..Default::default()
                    };
                    if dev.apply(&req).is_ok() {
                        sets += 1;
                    }
                }
                // Let subscribers run: the driver shares the runtime with them.
                if sets.is_multiple_of(64) || burst > 1 {
                    tokio::task::yield_now().await;
                    if t2.elapsed() >= duration {
                        break 'drive;
                    }
                }
            }
            round += 1;
        }
        sets
    };
    let sets = driver.await;
    // Count what is delivered by the end of the window plus a short drain.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let secs = t2.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let (_, rss_peak_mib) = rss_mib();
    // A subscriber that fell too far behind was ended by the target: the
    // figure only counts if none was.
    let dropped = readers.iter().filter(|r| r.is_finished()).count();
    let report = BenchReport {
        devices: cfg.devices,
        subscribers: cfg.devices * cfg.subscribers_per_device,
        burst,
        leaves,
        start_secs,
        sync_secs,
        rss_after_start_mib,
        rss_peak_mib,
        sets,
        cpu,
        dropped,
        notifications: received.load(Ordering::Relaxed),
        updates: updates.load(Ordering::Relaxed),
        secs,
    };
    sim.shutdown().await;
    for r in readers {
        r.abort();
    }
    Ok(report)
}
