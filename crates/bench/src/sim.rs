//! fabric-sim for the benchmark: a child process (the default, so the engine's figures exclude
//! it) or in-process (quick runs and the smoke test; its CPU and memory then count too).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fabric_sim::churn::Churn;
use fabric_sim::{Sim, SimHandle, Topology};

pub enum SimProcess {
    Child {
        child: Child,
        control: SocketAddr,
    },
    InProcess {
        runtime: tokio::runtime::Runtime,
        sim: Option<SimHandle>,
        churn: Option<Churn>,
    },
}

/// Device name → gNMI address.
pub type Addresses = BTreeMap<String, String>;

/// The `fabric-sim` binary: `explicit`, else the one built beside this binary.
pub fn sim_binary(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let me = std::env::current_exe().context("locating fabric-bench")?;
    let sibling = me.with_file_name(format!("fabric-sim{}", std::env::consts::EXE_SUFFIX));
    if sibling.is_file() {
        return Ok(sibling);
    }
    bail!(
        "fabric-sim not found beside fabric-bench ({}): build it with \
         `cargo build --release -p fabric-sim` (same target directory), pass --sim PATH, \
         or run the simulator in this process with --in-process",
        sibling.display()
    )
}

impl SimProcess {
    /// Starts `fabric-sim serve --generate devices --base-port base_port` and waits for `ready`.
    pub fn spawn(
        binary: PathBuf,
        devices: usize,
        base_port: u16,
    ) -> anyhow::Result<(SimProcess, Addresses)> {
        let mut child = Command::new(&binary)
            .args(["serve", "--generate", &devices.to_string()])
            .args(["--base-port", &base_port.to_string()])
            .args(["--control", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("fabric-sim's stdout")?;
        let mut addresses = Addresses::new();
        let mut control = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading fabric-sim's stdout")?;
            if line == "ready" {
                break;
            }
            if let Some(url) = line.strip_prefix("control http://") {
                control = Some(url.parse().context("fabric-sim's control address")?);
            } else if let Some((name, addr)) = line.split_once(' ') {
                addresses.insert(name.to_string(), addr.to_string());
            }
        }
        let Some(control) = control else {
            let _ = child.kill();
            let status = child.wait()?;
            bail!(
                "fabric-sim ended ({status}) before it was ready; see its errors above (ports {base_port}.. in use? try --base-port)"
            );
        };
        if addresses.len() != devices {
            let _ = child.kill();
            bail!(
                "fabric-sim announced {} devices, expected {devices}",
                addresses.len()
            );
        }
        Ok((SimProcess::Child { child, control }, addresses))
    }

    /// The simulator in this process, on its own runtime thread.
    pub fn in_process(devices: usize) -> anyhow::Result<(SimProcess, Addresses)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sim")
            .enable_all()
            .build()?;
        let topology = Topology::generate(devices, 0)?;
        let sim = runtime.block_on(Sim::start(topology, "127.0.0.1".parse()?))?;
        let addresses = sim
            .devices()
            .iter()
            .map(|d| (d.name().to_string(), d.addr().to_string()))
            .collect();
        Ok((
            SimProcess::InProcess {
                runtime,
                sim: Some(sim),
                churn: None,
            },
            addresses,
        ))
    }

    /// Out-of-band changes per second over all devices, to the leaves `pattern` covers, made
    /// inside the simulator (rate 0 stops).
    pub fn set_churn(&mut self, rate: f64, pattern: &str) -> anyhow::Result<()> {
        match self {
            SimProcess::Child { control, .. } => {
                let body = serde_json::json!({ "rate": rate, "pattern": pattern }).to_string();
                let status = http_post(*control, "/churn", &body)?;
                if status != 200 {
                    bail!("fabric-sim refused churn rate {rate}: HTTP {status}");
                }
                Ok(())
            }
            SimProcess::InProcess {
                runtime,
                sim,
                churn,
            } => {
                let devices = sim.as_ref().map(|s| s.devices()).unwrap_or_default();
                let pattern: fabric_gnmi::Path = pattern
                    .parse()
                    .with_context(|| format!("churn pattern {pattern}"))?;
                let _guard = runtime.enter();
                *churn = (rate > 0.0).then(|| Churn::start(devices, rate, pattern));
                Ok(())
            }
        }
    }

    /// CPU seconds the child simulator has used (None in-process: it is in ours).
    pub fn cpu(&self) -> Option<f64> {
        match self {
            SimProcess::Child { child, .. } => Some(crate::proc::pid_cpu(child.id())),
            SimProcess::InProcess { .. } => None,
        }
    }

    pub fn stop(mut self) {
        match &mut self {
            SimProcess::Child { child, .. } => {
                // SIGTERM lets it close its listeners; kill if it lingers.
                // SAFETY: kill(2) on our own child's pid.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                }
                for _ in 0..50 {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            SimProcess::InProcess {
                runtime,
                sim,
                churn,
            } => {
                churn.take();
                if let Some(sim) = sim.take() {
                    runtime.block_on(sim.shutdown());
                }
            }
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if let SimProcess::Child { child, .. } = self
            && let Ok(None) = child.try_wait()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A JSON POST over HTTP/1.1; returns the status code.
fn http_post(addr: SocketAddr, path: &str, body: &str) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to fabric-sim's control endpoint {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("unreadable answer from {addr}: {response:?}"))
}
