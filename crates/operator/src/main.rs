//! `fabric-operator`: keeps network fabrics in line with their intent.

use std::{
    io::Write,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use fabric_api::kube;
use fabric_operator::{http, k8s, lab, metrics};
use tracing::info;

#[derive(Parser)]
#[command(
    version,
    about = "Keeps EVPN-VXLAN fabrics in line with their intent over gNMI"
)]
struct Cli {
    /// Log as JSON lines (for log collectors) instead of text.
    #[arg(long, global = true, env = "FABRIC_LOG_JSON")]
    log_json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator against the cluster of the current kubeconfig (or in-cluster).
    Run {
        /// Address of /metrics, /healthz and /readyz.
        #[arg(long, default_value = "0.0.0.0:8080", env = "FABRIC_HTTP_ADDR")]
        http_addr: SocketAddr,
        /// Hold a coordination.k8s.io Lease so that only one replica is active.
        #[arg(long, env = "FABRIC_LEADER_ELECT")]
        leader_elect: bool,
        /// Namespace of the Lease (defaults to the pod's, from POD_NAMESPACE).
        #[arg(long, env = "POD_NAMESPACE", default_value = "fabric-operator")]
        lease_namespace: String,
        /// This replica's identity in the Lease (defaults to the pod name).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Remediations in flight at once across the fleet; others wait for a slot.
        #[arg(long, default_value_t = 16, env = "FABRIC_MAX_CONCURRENT_REMEDIATIONS", value_parser = clap::value_parser!(u16).range(1..))]
        max_concurrent_remediations: u16,
    },
    /// The lab fabric (2 spines, 8 leaves) on a simulated fabric, no cluster needed.
    Lab {
        /// A directory of manifests to use instead of the built-in lab (examples/fabric/manifests).
        #[arg(long, requires = "topology")]
        manifests: Option<PathBuf>,
        /// fabric-sim topology for --manifests (the built-in lab's is examples/fabric/topology.yaml).
        #[arg(long)]
        topology: Option<PathBuf>,
        /// Address of fabric-sim's fault-injection endpoint.
        #[arg(long, default_value = "127.0.0.1:16000")]
        control: SocketAddr,
        /// Address of the lab's decision endpoint (approve, reject, remediate; see README).
        #[arg(long, default_value = "127.0.0.1:16100")]
        api: SocketAddr,
        /// Print the fabric once every device has synced, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Print the CustomResourceDefinitions as one YAML stream (for `kubectl apply -f -`).
    Crds,
}

/// Logs to stderr; `RUST_LOG` overrides `default` (the lab keeps its screen for the live view).
fn init_logging(json: bool, default: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init()
    } else {
        builder.init()
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(
    http_addr: SocketAddr,
    leader_elect: bool,
    lease_namespace: String,
    identity: Option<String>,
    max_concurrent_remediations: u16,
) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes configuration (in-cluster or kubeconfig)")?;
    let options = fabric_engine::EngineOptions {
        max_concurrent_remediations: max_concurrent_remediations.into(),
        ..Default::default()
    };
    let ready = Arc::new(AtomicBool::new(false));
    // The engine's counters are created with it; the metrics read them at scrape time.
    let stats = Arc::new(fabric_engine::Stats::default());
    let metrics = Arc::new(metrics::Metrics::new(stats.clone()));
    let state = http::HttpState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let netbox = k8s::netbox::NetBoxSync::new(client.clone(), metrics.clone());
    let routes = http::router(state).merge(http::leader_guard(
        http::netbox_router(k8s::netbox::Webhooks::start(netbox.clone())),
        metrics.clone(),
    ));
    tokio::spawn(async move {
        if let Err(e) = http::serve(http_addr, routes).await {
            tracing::error!(error = %e, %http_addr, "HTTP server stopped");
        }
    });

    // Serving: a standby is Ready (readiness is not leadership, or no rollout with replicas ≥ 2
    // would ever pass); a leader is Ready once its CRDs are found.
    ready.store(leader_elect, Ordering::Relaxed);
    let leadership = if leader_elect {
        let identity =
            identity.unwrap_or_else(|| format!("fabric-operator-{}", std::process::id()));
        let elector = Arc::new(k8s::leader::Elector::new(
            client.clone(),
            &lease_namespace,
            identity,
        ));
        elector.acquire().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let holder = elector.clone();
        tokio::spawn(async move {
            holder.hold().await;
            let _ = tx.send(());
        });
        Some((elector, rx))
    } else {
        None
    };
    let (elector, lost_leadership) = match leadership {
        Some((elector, rx)) => (Some(elector), Some(rx)),
        None => (None, None),
    };

    // Leading: not Ready until the CRDs are found.
    ready.store(false, Ordering::Relaxed);
    metrics.set_leader(true);
    k8s::controller::check_crds(&client).await?;
    ready.store(true, Ordering::Relaxed);
    let port = k8s::port::KubePort::start(client.clone(), metrics.clone());
    let leading = metrics.clone();
    let shutdown = futures::FutureExt::shared(Box::pin(async move {
        match lost_leadership {
            Some(lost) => tokio::select! {
                _ = shutdown_signal() => {}
                _ = lost => {
                    // From now on another replica may lead: no webhooks, no writes.
                    leading.set_leader(false);
                    tracing::warn!("leadership lost; stopping");
                }
            },
            None => shutdown_signal().await,
        }
    }));
    info!("fabric-operator running");
    let netbox_done = tokio::spawn(k8s::netbox::run(client.clone(), netbox, shutdown.clone()));
    k8s::controller::run(client, port, options, stats, shutdown).await?;
    netbox_done.await?;
    // Every session is closed and its last status written: a standby may take over now (a
    // replica that lost the Lease has nothing to release).
    if let Some(elector) = elector
        && metrics.is_leader()
        && let Err(e) = elector.release().await
    {
        tracing::warn!(error = %e, "could not release the lease; a standby takes over once it expires");
    }
    Ok(())
}

async fn run_lab(
    manifests: Option<PathBuf>,
    topology: Option<PathBuf>,
    control: SocketAddr,
    api: SocketAddr,
    once: bool,
) -> anyhow::Result<()> {
    let (lab, topology_path) = match (manifests, topology) {
        (Some(dir), Some(topology)) => (lab::Lab::from_dir(&dir)?, topology),
        _ => {
            let dir = std::env::temp_dir().join(format!("fabric-lab-{}", std::process::id()));
            let topology = lab::write_embedded(&dir)?;
            (lab::Lab::embedded()?, topology)
        }
    };
    let mut out = std::io::stdout();
    writeln!(
        out,
        "lab fabric: {} devices, {} policies; every manifest passed the CRD schemas and rules",
        lab.devices.len(),
        lab.policies.len()
    )?;
    let topology = fabric_sim::topology::Topology::load(&topology_path)
        .with_context(|| format!("loading {}", topology_path.display()))?;
    let options = fabric_engine::EngineOptions {
        // The lab's BGP subtrees refuse ON_CHANGE like EOS; sample them often enough to watch.
        sample_interval: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let mut live = lab::LiveLab::start(lab, topology, options).await?;
    let control = live.sim.serve_control(control).await?;
    for device in live.sim.devices() {
        writeln!(
            out,
            "  {:<8} gNMI {} (admin/admin, plaintext)",
            device.name(),
            device.addr()
        )?;
    }
    let api_listener = tokio::net::TcpListener::bind(api)
        .await
        .with_context(|| format!("binding the lab's decision endpoint on {api}"))?;
    let api = api_listener.local_addr()?;
    let router = lab::control_router(live.control.clone());
    tokio::spawn(async move { axum::serve(api_listener, router).await });
    writeln!(
        out,
        "fabric-sim fault injection: http://{control}/devices\n\
         decisions: curl -X POST http://{api}/events/<event>/approve (or reject), \
         http://{api}/devices/<device>/remediate\n"
    )?;
    let state = live.wait_synced(std::time::Duration::from_secs(60)).await?;
    if once {
        out.write_all(lab::render_live(&live.lab, &state).as_bytes())?;
        live.stop().await;
        return Ok(());
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut shown = String::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let view = lab::render_live(&live.lab, &live.port.snapshot());
        if view != shown {
            if tty {
                // Clear the screen and draw from the top.
                write!(out, "\x1b[2J\x1b[H")?;
            }
            writeln!(out, "{view}")?;
            if tty {
                writeln!(
                    out,
                    "(Ctrl-C to stop; change a device with any gNMI client, see README)"
                )?;
            }
            out.flush()?;
            shown = view;
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
        }
    }
    live.stop().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // One TLS crypto provider for the process (gNMI and the Kubernetes client), chosen here
    // rather than left to rustls, which cannot choose when a build links two.
    fabric_gnmi::install_crypto_provider();
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Crds => stdout.write_all(fabric_api::crds::yaml().as_bytes())?,
        Command::Run {
            http_addr,
            leader_elect,
            lease_namespace,
            identity,
            max_concurrent_remediations,
        } => {
            init_logging(cli.log_json, "info");
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(run(
                http_addr,
                leader_elect,
                lease_namespace,
                identity,
                max_concurrent_remediations,
            ))?;
        }
        Command::Lab {
            manifests,
            topology,
            control,
            api,
            once,
        } => {
            init_logging(cli.log_json, "warn");
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(run_lab(manifests, topology, control, api, once))?;
        }
    }
    Ok(())
}
