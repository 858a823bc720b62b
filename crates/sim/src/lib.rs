//! fabric-sim: many simulated gNMI targets in one process.
//!
//! Each device of a [`Topology`] is a full gNMI target (Capabilities, Get,
//! Set, Subscribe) on its own port, holding an OpenConfig tree. Tests and
//! the operator's `lab` command start it in-process with [`Sim::start`];
//! the `fabric-sim` binary serves a topology file or `--generate N`
//! synthetic devices. Faults are injected through [`DeviceHandle`] or the
//! HTTP control endpoint ([`SimHandle::serve_control`], routes in README.md).

pub mod bench;
pub mod churn;
pub mod control;
pub mod device;
pub mod schema;
pub mod service;
pub mod subscribe;
pub mod topology;
pub mod tree;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fabric_gnmi::rpc::{SetRequest, SetResponse};
use fabric_gnmi::server::GNmiServer;
use fabric_gnmi::{Path, Value};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::{Identity, Server, ServerTlsConfig, server::TcpIncoming};

pub use device::{Change, Device, Faults, SetError};
pub use topology::{Credentials, DeviceSpec, TlsSpec, Topology, TopologyError};

use service::DeviceService;
use topology::TlsSpec as Tls;

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("device {device}: cannot listen on {addr}: {source}")]
    Bind {
        device: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("device {device}: TLS: {message}")]
    Tls { device: String, message: String },
    #[error("control endpoint on {addr}: {source}")]
    Control {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Entry point of the library API.
pub struct Sim;

/// A running simulator. Dropping it leaves the devices running until the
/// runtime ends; call [`SimHandle::shutdown`] to stop them cleanly.
pub struct SimHandle {
    devices: BTreeMap<String, DeviceHandle>,
    order: Vec<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    control: Option<SocketAddr>,
}

/// One device of a running simulator: its address, counters and faults.
#[derive(Debug, Clone)]
pub struct DeviceHandle(Arc<Device>);

impl DeviceHandle {
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The bound address (the actual port when the topology said 0).
    pub fn addr(&self) -> SocketAddr {
        self.0
            .addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Sets applied since start (refused ones are not counted).
    pub fn set_count(&self) -> u64 {
        self.0.counters.sets_applied.load(Ordering::Relaxed)
    }

    /// Sets refused (validation or injected failure).
    pub fn sets_rejected(&self) -> u64 {
        self.0.counters.sets_rejected.load(Ordering::Relaxed)
    }

    /// Notifications sent by Subscribe streams that have ended.
    pub fn notifications_sent(&self) -> u64 {
        self.0.counters.notifications_sent.load(Ordering::Relaxed)
    }

    /// The certificate (PEM) the device serves, when it serves TLS.
    pub fn cert_pem(&self) -> Option<String> {
        self.0
            .cert_pem
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Ends every open Subscribe stream with UNAVAILABLE.
    pub fn drop_streams(&self) {
        self.0.drop_streams();
    }

    /// Closes the listener and drops streams for `d`; RPCs on connections
    /// still open fail with UNAVAILABLE. The listener comes back after `d`.
    pub fn make_unreachable(&self, d: Duration) {
        self.0.drop_streams();
        self.0.down.send_replace(Some(Instant::now() + d));
    }

    pub fn is_reachable(&self) -> bool {
        !self.0.is_down()
    }

    /// Delay added before answering every RPC (zero to clear).
    pub fn set_latency(&self, d: Duration) {
        self.0.update_faults(|f| f.latency = d);
    }

    /// The next `n` Sets fail with `code` (UNAVAILABLE if `None`).
    pub fn fail_next_sets(&self, n: u32, code: Option<tonic::Code>) {
        self.0.update_faults(|f| {
            f.fail_sets = n;
            f.fail_code = code;
        });
    }

    pub fn faults(&self) -> Faults {
        self.0.faults()
    }

    /// Back to the initial configuration; subscribers see the difference.
    pub fn reset(&self) {
        self.0.reset();
    }

    /// A Set applied in-process, as if made on the device's CLI: it counts
    /// and notifies subscribers like one received over gNMI.
    pub fn apply(&self, req: &SetRequest) -> Result<SetResponse, SetError> {
        self.0.apply_set(req)
    }

    /// The current value of a leaf.
    pub fn get(&self, path: &Path) -> Option<Value> {
        self.0.snapshot().get(path).cloned()
    }

    /// Every current leaf.
    pub fn leaves(&self) -> Vec<(Path, Value)> {
        self.0
            .snapshot()
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect()
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // The port comes back after an unreachable period: do not wait for
    // TIME_WAIT connections of the previous listener.
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}

/// The gNMI connections accepted on `listener`, with Nagle's algorithm off, as a target written
/// in Go has it (Go's net package sets TCP_NODELAY on every connection by default). With it on,
/// a Set response written just after the notification of that Set waits for the client's
/// delayed ACK (40 ms). `Server::tcp_nodelay` does not reach sockets of a stream handed to
/// `serve_with_incoming*`: the stream must set it.
fn gnmi_incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

fn tls_config(spec: &DeviceSpec, dev: &Device) -> Result<Option<ServerTlsConfig>, SimError> {
    fabric_gnmi::install_crypto_provider();
    let err = |message: String| SimError::Tls {
        device: spec.name.clone(),
        message,
    };
    let (cert, key) = match &spec.tls {
        None => return Ok(None),
        Some(Tls::Pem { cert_pem, key_pem }) => (cert_pem.clone(), key_pem.clone()),
        Some(Tls::Generate) => {
            let names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
                spec.name.clone(),
            ];
            let ck = rcgen::generate_simple_self_signed(names).map_err(|e| err(e.to_string()))?;
            (
                ck.cert.pem().into_bytes(),
                ck.signing_key.serialize_pem().into_bytes(),
            )
        }
    };
    if let Ok(mut g) = dev.cert_pem.lock() {
        *g = Some(String::from_utf8_lossy(&cert).into_owned());
    }
    Ok(Some(
        ServerTlsConfig::new().identity(Identity::from_pem(cert, key)),
    ))
}

async fn run_device(
    dev: Arc<Device>,
    first: TcpListener,
    addr: SocketAddr,
    tls: Option<ServerTlsConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let svc = DeviceService { dev: dev.clone() };
    let mut listener = Some(first);
    loop {
        let l = match listener.take() {
            Some(l) => l,
            None => match bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(device = %dev.name, %addr, error = %e, "rebind failed; retrying");
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            },
        };
        let mut down = dev.down.subscribe();
        down.borrow_and_update();
        let mut stop2 = stop.clone();
        let shutdown = async move {
            loop {
                if *stop2.borrow_and_update() || down.borrow_and_update().is_some() {
                    return;
                }
                tokio::select! {
                    r = stop2.changed() => if r.is_err() { return },
                    r = down.changed() => if r.is_err() { return },
                }
            }
        };
        let mut builder = Server::builder();
        if let Some(t) = &tls {
            builder = match builder.tls_config(t.clone()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(device = %dev.name, error = %e, "TLS configuration refused");
                    return;
                }
            };
        }
        let served = builder
            .add_service(GNmiServer::new(svc.clone()))
            .serve_with_incoming_shutdown(gnmi_incoming(l), shutdown)
            .await;
        if let Err(e) = served {
            tracing::warn!(device = %dev.name, error = %e, "gNMI server ended with an error");
        }
        // Stopped, or the handle is gone (start failed half-way): done.
        if *stop.borrow() || stop.has_changed().is_err() {
            return;
        }
        tracing::info!(device = %dev.name, "unreachable");
        // Sleep until the deadline, which may be extended meanwhile by
        // another `unreachable` request; clear it only once it has passed.
        loop {
            let until = *dev.down.borrow();
            match until {
                Some(until) if until > Instant::now() => {
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = tokio::time::sleep_until(until) => {}
                    }
                }
                _ => {
                    let cleared = dev.down.send_if_modified(|d| {
                        let expired = d.is_none_or(|u| u <= Instant::now());
                        if expired {
                            *d = None;
                        }
                        expired
                    });
                    if cleared || dev.down.borrow().is_none() {
                        break;
                    }
                }
            }
        }
        tracing::info!(device = %dev.name, "reachable again");
    }
}

impl Sim {
    /// Starts every device of `topology` on `listen` (port 0 = ephemeral).
    /// Returns once every listener is bound.
    pub async fn start(topology: Topology, listen: IpAddr) -> Result<SimHandle, SimError> {
        let (stop, _) = watch::channel(false);
        let mut devices = BTreeMap::new();
        let mut order = Vec::with_capacity(topology.devices.len());
        let mut tasks = Vec::with_capacity(topology.devices.len());
        let result = Sim::start_devices(
            &topology,
            listen,
            &stop,
            &mut devices,
            &mut order,
            &mut tasks,
        );
        if let Err(e) = result {
            // Devices already listening stop with the ones that could not.
            stop.send_replace(true);
            return Err(e);
        }
        Ok(SimHandle {
            devices,
            order,
            stop,
            tasks,
            control: None,
        })
    }

    fn start_devices(
        topology: &Topology,
        listen: IpAddr,
        stop: &watch::Sender<bool>,
        devices: &mut BTreeMap<String, DeviceHandle>,
        order: &mut Vec<String>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<(), SimError> {
        for spec in &topology.devices {
            let dev = Arc::new(Device::new(spec));
            let want = SocketAddr::new(listen, spec.port);
            let listener = bind(want).map_err(|source| SimError::Bind {
                device: spec.name.clone(),
                addr: want,
                source,
            })?;
            let addr = listener.local_addr().map_err(|source| SimError::Bind {
                device: spec.name.clone(),
                addr: want,
                source,
            })?;
            if let Ok(mut g) = dev.addr.lock() {
                *g = Some(addr);
            }
            let tls = tls_config(spec, &dev)?;
            tasks.push(tokio::spawn(run_device(
                dev.clone(),
                listener,
                addr,
                tls,
                stop.subscribe(),
            )));
            order.push(spec.name.clone());
            devices.insert(spec.name.clone(), DeviceHandle(dev));
        }
        Ok(())
    }
}

impl SimHandle {
    /// Devices in topology order.
    pub fn devices(&self) -> Vec<DeviceHandle> {
        self.order
            .iter()
            .filter_map(|n| self.devices.get(n).cloned())
            .collect()
    }

    pub fn device(&self, name: &str) -> Option<DeviceHandle> {
        self.devices.get(name).cloned()
    }

    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.devices.get(name).map(DeviceHandle::addr)
    }

    pub fn set_count(&self, name: &str) -> Option<u64> {
        self.devices.get(name).map(DeviceHandle::set_count)
    }

    /// The control endpoint's address, once served.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    /// Serves the HTTP control endpoint on `addr` (port 0 = ephemeral).
    pub async fn serve_control(&mut self, addr: SocketAddr) -> Result<SocketAddr, SimError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Control { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| SimError::Control { addr, source })?;
        let router = control::router(self.devices.clone());
        let mut stop = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "control endpoint ended with an error");
            }
        }));
        self.control = Some(bound);
        Ok(bound)
    }

    /// Stops every device (streams end with UNAVAILABLE) and the control
    /// endpoint, waiting up to 5 s for listeners to close.
    pub async fn shutdown(self) {
        for d in self.devices.values() {
            d.drop_streams();
        }
        self.stop.send_replace(true);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .is_err()
        {
            tracing::warn!("some listeners did not close within 5 s");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn accepted_gnmi_connections_have_nagle_off() {
        let listener = bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        let addr = listener.local_addr().expect("bound");
        let mut incoming = gnmi_incoming(listener);
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let accepted = incoming
            .next()
            .await
            .expect("a connection")
            .expect("accepted");
        assert!(accepted.nodelay().expect("TCP_NODELAY readable"));
        drop(client);
    }
}
