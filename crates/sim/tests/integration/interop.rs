//! Third-party gNMI clients against fabric-sim: pygnmi (Get, Set, ON_CHANGE
//! Subscribe receiving another client's Set) and gnmi-py (Capabilities, Get).
//!
//! The clients live in the venv that scripts/python-deps.sh builds (the
//! suite, scripts/test.sh, runs it first). Without it these tests fail and
//! say so: an interop test that skips itself proves nothing.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path as FsPath, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fabric_gnmi::client::{Client, ClientConfig};
use fabric_gnmi::rpc::SetRequest;
use fabric_gnmi::{Path, Value};
use fabric_sim::{Sim, SimHandle, Topology};

fn root() -> PathBuf {
    FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let py = root().join(".venv-interop/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/python-deps.sh (it installs pygnmi and gnmi-py)",
        py.display()
    );
    py
}

fn script(name: &str) -> PathBuf {
    FsPath::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

async fn lab() -> SimHandle {
    let topo = Topology::load(&root().join("examples/fabric/topology.yaml")).expect("lab topology");
    Sim::start(topo.with_ephemeral_ports(), IpAddr::V4(Ipv4Addr::LOCALHOST))
        .await
        .expect("sim")
}

fn args(sim: &SimHandle) -> Vec<String> {
    let addr = sim.addr("leaf1").expect("leaf1");
    vec![
        addr.ip().to_string(),
        addr.port().to_string(),
        "admin".into(),
        "admin".into(),
    ]
}

/// Runs a script to completion off the runtime (the sim keeps serving).
async fn run(name: &str, args: Vec<String>, pure_python_protobuf: bool) -> Output {
    let py = python();
    let path = script(name);
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(py);
        cmd.arg(path).args(args);
        if pure_python_protobuf {
            // gnmi-py's generated code predates protobuf 4 (see scripts/python-deps.sh).
            cmd.env("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python");
        }
        cmd.output().expect("run python")
    })
    .await
    .expect("join")
}

fn check(name: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ModuleNotFoundError") {
        panic!("{name}: Python packages missing: run scripts/python-deps.sh\n{stderr}");
    }
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "OK"),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygnmi_get_and_set() {
    let sim = lab().await;
    let out = run("pygnmi_get_set.py", args(&sim), false).await;
    check("pygnmi_get_set.py", &out);
    let dev = sim.device("leaf1").expect("leaf1");
    assert_eq!(
        dev.set_count(),
        1,
        "pygnmi's valid Set applied, the invalid one refused"
    );
    assert_eq!(
        dev.get(
            &"/interfaces/interface[name=Ethernet1]/config/description"
                .parse()
                .expect("path")
        ),
        Some(Value::from("set by pygnmi"))
    );
    sim.shutdown().await;
}

async fn next_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygnmi_on_change_receives_another_clients_set() {
    let sim = lab().await;
    let mut child = Command::new(python())
        .arg(script("pygnmi_subscribe.py"))
        .args(args(&sim))
        .arg("changed by fabric-gnmi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = next_line(&mut rx).await;
    if first.as_deref() != Some("SYNCED") {
        let _ = child.kill();
        let err = child
            .wait_with_output()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
        panic!(
            "pygnmi_subscribe.py did not sync: {first:?}\n{err:?}\n(run scripts/python-deps.sh if packages are missing)"
        );
    }
    let addr = sim.addr("leaf1").expect("leaf1");
    let other = Client::connect(ClientConfig::new(addr.to_string()).credentials("admin", "admin"))
        .await
        .expect("connect");
    let path: Path = "/interfaces/interface[name=Ethernet1]/config/description"
        .parse()
        .expect("path");
    other
        .set(&SetRequest {
            updates: vec![(path, Value::from("changed by fabric-gnmi"))],
            ..Default::default()
        })
        .await
        .expect("set");
    let got = next_line(&mut rx).await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join");
    assert_eq!(got.as_deref(), Some("GOT changed by fabric-gnmi"));
    assert!(status.map(|s| s.success()).unwrap_or(false));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnmi_py_capabilities_and_get() {
    let sim = lab().await;
    let out = run("gnmipy_caps_get.py", args(&sim), true).await;
    check("gnmipy_caps_get.py", &out);
    sim.shutdown().await;
}
