//! fabric-sim: serve simulated gNMI devices, or measure how many it can serve.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fabric_sim::bench::{self, BenchConfig};
use fabric_sim::{Sim, Topology};

#[derive(Debug, Parser)]
#[command(
    name = "fabric-sim",
    version,
    about = "gNMI target simulator for fabric-operator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every device of a topology (or N synthetic ones), each on its own port.
    Serve {
        /// Topology file (YAML); see crates/sim/README.md.
        #[arg(
            long,
            conflicts_with = "generate",
            required_unless_present = "generate"
        )]
        topology: Option<PathBuf>,
        /// Serve N synthetic leaf switches of about 2,000 config leaves each.
        #[arg(long, requires = "base_port")]
        generate: Option<usize>,
        /// First port of the synthetic devices (0 = ephemeral ports).
        #[arg(long)]
        base_port: Option<u16>,
        /// Address the devices listen on.
        #[arg(long, default_value = "127.0.0.1")]
        listen: IpAddr,
        /// Serve the HTTP fault-injection endpoint on this address.
        #[arg(long)]
        control: Option<SocketAddr>,
    },
    /// Scale benchmark: N synthetic devices, one ON_CHANGE subscriber each.
    Bench {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        #[arg(long, default_value_t = 1)]
        subscribers_per_device: usize,
        /// Seconds of changes to measure.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Consecutive Sets on one device before the next (1 = strict round-robin).
        #[arg(long, default_value_t = 1)]
        burst: usize,
    },
}

/// Waits for SIGINT or SIGTERM. Built (handlers installed) before `ready`
/// is printed: a supervisor may signal as soon as it reads the line, and a
/// handler installed later would let that signal kill the process.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn serve(
    topology: Option<PathBuf>,
    generate: Option<usize>,
    base_port: Option<u16>,
    listen: IpAddr,
    control: Option<SocketAddr>,
) -> Result<(), String> {
    let topo = match (topology, generate) {
        (Some(path), _) => Topology::load(&path).map_err(|e| e.to_string())?,
        (None, Some(n)) => {
            Topology::generate(n, base_port.unwrap_or(0)).map_err(|e| e.to_string())?
        }
        (None, None) => return Err("give --topology FILE or --generate N --base-port P".into()),
    };
    let stopped = shutdown_signal()?;
    let mut sim = Sim::start(topo, listen).await.map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for d in sim.devices() {
        let _ = writeln!(out, "{} {}", d.name(), d.addr());
    }
    if let Some(addr) = control {
        let bound = sim.serve_control(addr).await.map_err(|e| e.to_string())?;
        let _ = writeln!(out, "control http://{bound}");
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    drop(out);
    stopped.await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fabric-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve {
                topology,
                generate,
                base_port,
                listen,
                control,
            } => serve(topology, generate, base_port, listen, control).await,
            Command::Bench {
                devices,
                subscribers_per_device,
                seconds,
                burst,
            } => {
                let cfg = BenchConfig {
                    devices,
                    subscribers_per_device,
                    duration: Duration::from_secs(seconds),
                    burst,
                };
                bench::run(&cfg)
                    .await
                    .map(|r| println!("{r}"))
                    .map_err(|e| e.to_string())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fabric-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
