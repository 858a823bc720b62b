//! fabric-bench: how fast the operator's engine notices drift, and how many devices one process
//! carries. The engine runs here with the lab adapter (its in-memory port); fabric-sim serves
//! N synthetic devices, by default as a child process so that CPU and memory figures are the
//! engine's own. Scenarios and figures: BENCHMARKS.md at the repository root.

mod driver;
mod port;
mod proc;
mod sim;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fabric_drift::policy::{Mode, PolicyRules};
use fabric_engine::{
    DeviceConfig, DeviceKey, EffectivePolicy, Engine, EngineOptions, Stats, Target,
};
use fabric_gnmi::client::{Credentials, TlsMode};
use fabric_sim::topology::{
    SYNTHETIC_OWNERSHIP, SYNTHETIC_PLATFORM, synthetic_intent, synthetic_name,
};
use serde_json::{Map, Value as Json, json};

use crate::port::TimingPort;
use crate::sim::SimProcess;

#[derive(Debug, Parser)]
#[command(
    name = "fabric-bench",
    version,
    about = "Benchmarks of fabric-operator's engine against fabric-sim"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Option<Scenario>,
    /// Devices to simulate and watch (each about 1,900 intended leaves).
    #[arg(long, global = true, default_value_t = 1000)]
    devices: usize,
    /// Print the summary as JSON on stdout (the table goes to stderr).
    #[arg(long, global = true)]
    json: bool,
    /// Run fabric-sim in this process (its CPU and memory then count in the figures).
    #[arg(long, global = true)]
    in_process: bool,
    /// The fabric-sim binary (default: the one beside fabric-bench).
    #[arg(long, global = true)]
    sim: Option<PathBuf>,
    /// First gNMI port of the child simulator's devices.
    #[arg(long, global = true, default_value_t = 21000)]
    base_port: u16,
    /// Worker threads of the engine's runtime.
    #[arg(long, global = true, default_value_t = 2)]
    engine_threads: usize,
    /// Give up waiting for every device to be in sync after this many seconds.
    #[arg(long, global = true, default_value_t = 120)]
    sync_timeout: u64,
}

#[derive(Debug, Clone, Subcommand)]
enum Scenario {
    /// Out-of-band Sets on random devices at a rate; time from each Set's response to the
    /// engine recording the drift.
    Latency {
        /// Changes per second across the fleet.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Sync of every device at start, then churn (changes per second made inside the
    /// simulator): notifications handled, engine CPU, memory, dropped sessions.
    Scale {
        /// Changes per second across the fleet (each is one notification to the engine).
        #[arg(long, default_value_t = 1000.0)]
        churn: f64,
        /// The leaves churn changes (default: the management port's description, which no
        /// intent owns: notifications the engine handles without drift). With
        /// `/interfaces/interface[name=*]/config/description` nearly every change opens or
        /// resolves a drift episode.
        #[arg(long, default_value = BENIGN)]
        churn_pattern: String,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Auto mode: out-of-band Sets on random devices at a rate; time from each Set's response
    /// to the engine recording the event Remediated (its repair Set applied and the device seen
    /// back at intent through the subscription).
    Remediation {
        /// Changes per second across the fleet.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// scale, then latency, on the same engine (the default).
    All {
        #[arg(long, default_value_t = 1000.0)]
        churn: f64,
        #[arg(long, default_value = BENIGN)]
        churn_pattern: String,
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

/// Churn that no intent owns: the generated devices' management port.
const BENIGN: &str = "/interfaces/interface[name=Management1]/config/description";

fn device_config(index: usize, address: &str, mode: Mode) -> DeviceConfig {
    DeviceConfig {
        key: DeviceKey::new("bench", synthetic_name(index)),
        generation: Some(1),
        target: Target {
            address: address.to_string(),
            credentials: Some(Credentials {
                username: "admin".into(),
                password: "admin".into(),
            }),
            tls: TlsMode::Plaintext,
        },
        platform: SYNTHETIC_PLATFORM,
        intent: synthetic_intent(index),
        raw: Vec::new(),
        ownership: SYNTHETIC_OWNERSHIP,
        policy: EffectivePolicy {
            name: Some("bench".into()),
            rules: PolicyRules {
                mode,
                remediation: fabric_drift::policy::RemediationRules {
                    // Random changes hit the same leaf again now and then: the flap guard would
                    // (rightly) stop remediating it, which is not what this measures.
                    flap_guard: fabric_drift::policy::FlapGuard {
                        threshold: 100,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                // One closed event kept per device: the in-memory port scans its event list on
                // every open and close, and that scan is the lab's cost, not the engine's.
                history: fabric_drift::policy::History { keep: 1 },
                ..PolicyRules::default()
            },
            webhooks: Vec::new(),
        },
        remediate_request: None,
        clear_contested: false,
        contested: Vec::new(),
    }
}

/// The table and the JSON are built from the same pairs.
struct Summary {
    fields: Vec<(&'static str, Json, String)>,
}

impl Summary {
    fn put(&mut self, key: &'static str, value: Json, shown: String) {
        self.fields.push((key, value, shown));
    }

    fn num(&mut self, key: &'static str, value: f64, unit: &str, digits: usize) {
        let shown = format!("{value:.digits$}{unit}");
        self.put(key, json!(round(value, digits)), shown);
    }

    fn int(&mut self, key: &'static str, value: u64) {
        self.put(key, json!(value), value.to_string());
    }

    fn json(&self) -> Json {
        let mut m = Map::new();
        for (k, v, _) in &self.fields {
            m.insert((*k).to_string(), v.clone());
        }
        Json::Object(m)
    }

    fn table(&self) -> String {
        let width = self.fields.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
        self.fields
            .iter()
            .map(|(k, _, shown)| format!("{k:width$}  {shown}\n"))
            .collect()
    }
}

fn round(v: f64, digits: usize) -> f64 {
    let f = 10f64.powi(digits as i32);
    (v * f).round() / f
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(summary) => {
            if cli.json {
                eprint!("{}", summary.table());
                println!("{}", summary.json());
            } else {
                print!("{}", summary.table());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fabric-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<Summary> {
    if cli.devices == 0 {
        bail!("--devices must be at least 1");
    }
    let scenario = cli.scenario.clone().unwrap_or(Scenario::All {
        churn: 1000.0,
        churn_pattern: BENIGN.into(),
        rate: 1000.0,
        seconds: 20,
    });
    let mut s = Summary { fields: Vec::new() };
    s.int("devices", cli.devices as u64);
    s.put(
        "sim",
        json!(if cli.in_process {
            "in-process"
        } else {
            "child process"
        }),
        if cli.in_process {
            "in-process (its CPU and memory count below)".into()
        } else {
            "child process (excluded from the figures)".into()
        },
    );
    s.num("load_average_start", proc::load_average(), "", 2);

    let (mut sim, addresses) = if cli.in_process {
        SimProcess::in_process(cli.devices)?
    } else {
        SimProcess::spawn(
            sim::sim_binary(cli.sim.clone())?,
            cli.devices,
            cli.base_port,
        )?
    };
    let addresses: Vec<String> = (0..cli.devices)
        .map(|i| {
            addresses
                .get(&synthetic_name(i))
                .cloned()
                .with_context(|| format!("the simulator has no device {}", synthetic_name(i)))
        })
        .collect::<anyhow::Result<_>>()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.engine_threads.max(1))
        .thread_name("engine")
        .enable_all()
        .build()?;
    let (rss_before, _) = proc::rss();
    let (port, detections) = TimingPort::new(cli.devices);
    let port = Arc::new(port);
    // The engine starts tasks of its own (webhook delivery): inside its runtime.
    let engine = {
        let _runtime = runtime.enter();
        Engine::new(port.clone(), EngineOptions::default())
    };

    // Start: every device applied at once, then wait until every one has reported in sync.
    let configs: Vec<DeviceConfig> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mode = match scenario {
                Scenario::Remediation { .. } => Mode::Auto,
                _ => Mode::Alert,
            };
            device_config(i, a, mode)
        })
        .collect();
    let cpu0 = proc::process_cpu();
    let sim_cpu0 = sim.cpu();
    let started = Instant::now();
    runtime.block_on(async {
        for c in configs {
            engine.apply(c).await;
        }
    });
    let deadline = started + Duration::from_secs(cli.sync_timeout);
    while port.all_synced_at().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let synced = port.in_sync();
    match port.all_synced_at() {
        Some(at) => s.num("sync_all_seconds", (at - started).as_secs_f64(), " s", 2),
        None => s.put(
            "sync_all_seconds",
            Json::Null,
            format!(
                "not all in sync after {} s ({synced} were)",
                cli.sync_timeout
            ),
        ),
    }
    s.int("synced_devices", synced as u64);
    s.num("sync_cpu_seconds", proc::process_cpu() - cpu0, " s", 2);
    if let (Some(a), Some(b)) = (sim_cpu0, sim.cpu()) {
        s.num("sync_sim_cpu_seconds", b - a, " s (the simulator's)", 2);
    }
    // Let the allocator and the sessions settle after the initial syncs.
    std::thread::sleep(Duration::from_secs(1));
    let (rss, _) = proc::rss();
    s.put(
        "rss_bytes",
        json!(rss),
        format!(
            "{:.0} MiB ({:.0} MiB before the engine started)",
            mib(rss),
            mib(rss_before)
        ),
    );
    let per_device = rss.saturating_sub(rss_before) as f64 / cli.devices as f64;
    s.put(
        "bytes_per_device",
        json!(per_device.round()),
        format!("{:.0} KiB", per_device / 1024.0),
    );

    let stats = engine.stats();
    // What to run: churn (scale), then a driver (latency or remediation), as the scenario says.
    let (churn_step, driver_step) = match scenario {
        Scenario::Scale {
            churn,
            churn_pattern,
            seconds,
        } => (Some((churn, churn_pattern, seconds)), None),
        Scenario::Latency { rate, seconds } => {
            (None, Some((rate, seconds, driver::Measure::Detection)))
        }
        Scenario::Remediation { rate, seconds } => {
            (None, Some((rate, seconds, driver::Measure::Remediation)))
        }
        Scenario::All {
            churn,
            churn_pattern,
            rate,
            seconds,
        } => (
            Some((churn, churn_pattern, seconds)),
            Some((rate, seconds, driver::Measure::Detection)),
        ),
    };
    let mut result = Ok(());
    if let Some((churn, pattern, seconds)) = churn_step {
        result = scale(
            &mut s,
            &mut sim,
            stats,
            cli.devices,
            churn,
            &pattern,
            seconds,
        );
    }
    if let (Ok(()), Some((rate, seconds, measure))) = (&result, driver_step) {
        result = driver::latency(&mut s, &addresses, detections, rate, seconds, measure);
    }
    let (_, peak) = proc::rss();
    s.put(
        "rss_peak_bytes",
        json!(peak),
        format!("{:.0} MiB", mib(peak)),
    );
    s.num("load_average_end", proc::load_average(), "", 2);
    runtime.block_on(engine.shutdown());
    sim.stop();
    result.map(|()| s)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Churn made inside the simulator for `seconds`; what the engine handled, at what cost.
fn scale(
    s: &mut Summary,
    sim: &mut SimProcess,
    stats: &Stats,
    devices: usize,
    churn: f64,
    pattern: &str,
    seconds: u64,
) -> anyhow::Result<()> {
    let n0 = Stats::get(&stats.notifications);
    let reconnects0 = Stats::get(&stats.reconnects);
    let cpu0 = proc::process_cpu();
    let sim_cpu0 = sim.cpu();
    let t0 = Instant::now();
    sim.set_churn(churn, pattern)?;
    std::thread::sleep(Duration::from_secs(seconds));
    let handled = Stats::get(&stats.notifications) - n0;
    let cpu = proc::process_cpu() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let sim_cpu = sim.cpu().zip(sim_cpu0).map(|(b, a)| b - a);
    sim.set_churn(0.0, pattern)?;
    let (rss, _) = proc::rss();
    s.num("churn_rate", churn, " changes/s", 0);
    s.put("churn_pattern", json!(pattern), pattern.to_string());
    s.num("window_seconds", wall, " s", 2);
    s.int("notifications", handled);
    s.num("notifications_per_second", handled as f64 / wall, "/s", 0);
    s.num("cpu_seconds", cpu, " s", 2);
    s.num("cpu_percent", 100.0 * cpu / wall, " % (100 = one core)", 1);
    s.num(
        "notifications_per_cpu_second",
        if cpu > 0.0 { handled as f64 / cpu } else { 0.0 },
        "",
        0,
    );
    if let Some(c) = sim_cpu {
        s.num(
            "sim_cpu_percent",
            100.0 * c / wall,
            " % (the simulator's)",
            1,
        );
    }
    s.int(
        "sessions_dropped",
        Stats::get(&stats.reconnects) - reconnects0,
    );
    s.int(
        "devices_unreachable",
        devices as u64 - Stats::get(&stats.reachable).min(devices as u64),
    );
    s.put(
        "rss_after_churn_bytes",
        json!(rss),
        format!("{:.0} MiB", mib(rss)),
    );
    Ok(())
}
