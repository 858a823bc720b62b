//! What the end-to-end tests share: the lab fabric on fabric-sim (ephemeral ports), the engine
//! through the in-memory port, and out-of-band changes made the way a person makes them: a Set
//! from another gNMI client.

use std::{path::PathBuf, time::Duration};

use fabric_engine::{DeviceConfig, DeviceKey, Engine, EngineOptions, memory::MemoryPort};
use fabric_gnmi::{
    Path, Value,
    client::{Client, ClientConfig},
    rpc::SetRequest,
};
use fabric_operator::lab::{Lab, LiveLab};
use fabric_sim::topology::Topology;

/// The BGP subtree of the lab devices' default network instance.
pub const BGP: &str = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/fabric")
}

/// Short timeouts and a fast SAMPLE, so tests measure the engine rather than its defaults.
pub fn fast_options() -> EngineOptions {
    EngineOptions {
        connect_timeout: Duration::from_secs(2),
        call_timeout: Duration::from_secs(5),
        reconnect_initial: Duration::from_millis(100),
        reconnect_max: Duration::from_millis(500),
        sample_interval: Duration::from_millis(300),
        confirm_timeout: Duration::from_secs(3),
        max_concurrent_remediations: 4,
        webhook_delivery: fabric_engine::notify::DeliveryOptions {
            attempts: 3,
            backoff: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
        },
        sync_timeout: Duration::from_secs(10),
        ..EngineOptions::default()
    }
}

pub fn key(name: &str) -> DeviceKey {
    DeviceKey::new("lab", name)
}

/// The lab fabric served on ephemeral ports and watched by an engine; every device synced.
pub async fn start_lab() -> anyhow::Result<LiveLab> {
    start_lab_with(|_| {}).await
}

/// [`start_lab`], with each device's config passed through `edit` first.
pub async fn start_lab_with(edit: impl Fn(&mut DeviceConfig)) -> anyhow::Result<LiveLab> {
    start_lab_with_options(fast_options(), edit).await
}

/// [`start_lab_with`], with the engine tuned by `options`.
pub async fn start_lab_with_options(
    options: EngineOptions,
    edit: impl Fn(&mut DeviceConfig),
) -> anyhow::Result<LiveLab> {
    let lab = Lab::from_dir(&examples().join("manifests"))?;
    let topology = Topology::load(&examples().join("topology.yaml"))?.with_ephemeral_ports();
    let live = LiveLab::start_with(lab, topology, options, edit).await?;
    live.wait_synced(Duration::from_secs(30)).await?;
    Ok(live)
}

/// The lab's device config for `device`, pointed at its simulator, through `edit`.
pub fn lab_config(
    live: &LiveLab,
    device: &str,
    edit: impl Fn(&mut DeviceConfig),
) -> anyhow::Result<DeviceConfig> {
    let (_, config) = live
        .lab
        .device_configs()
        .into_iter()
        .find(|(n, _)| n == device)
        .ok_or_else(|| anyhow::anyhow!("no device {device}"))?;
    let mut config = config?;
    config.target.address = live
        .sim
        .addr(device)
        .ok_or_else(|| anyhow::anyhow!("{device} is not served"))?
        .to_string();
    edit(&mut config);
    Ok(config)
}

/// An operator restart: a new engine over the lab's recorded state (its port), watching every
/// lab device, each config passed through `edit` (what the restarted operator would read from
/// the objects and their status).
pub async fn restart_engine(
    live: &LiveLab,
    edit: impl Fn(&mut DeviceConfig),
) -> anyhow::Result<Engine<MemoryPort>> {
    live.control.engine.shutdown().await;
    let engine = Engine::new(live.port.clone(), fast_options());
    for (name, _) in live.lab.device_configs() {
        engine.apply(lab_config(live, &name, &edit)?).await;
    }
    Ok(engine)
}

/// An out-of-band change: a Set from another gNMI client, as a person at the CLI would make.
pub async fn set(
    live: &LiveLab,
    device: &str,
    path: &str,
    value: impl Into<Value>,
) -> anyhow::Result<()> {
    let addr = live
        .sim
        .addr(device)
        .ok_or_else(|| anyhow::anyhow!("no device {device}"))?;
    let client =
        Client::connect(ClientConfig::new(addr.to_string()).credentials("admin", "admin")).await?;
    let request = SetRequest {
        updates: vec![(path.parse::<Path>()?, value.into())],
        ..SetRequest::default()
    };
    client.set(&request).await?;
    Ok(())
}

/// Takes `device` off the network for `down` and waits until the engine reports it unreachable.
pub async fn make_unreachable(
    live: &LiveLab,
    device: &str,
    down: Duration,
) -> anyhow::Result<fabric_sim::DeviceHandle> {
    let handle = live
        .sim
        .device(device)
        .ok_or_else(|| anyhow::anyhow!("no device {device}"))?;
    handle.make_unreachable(down);
    live.port
        .wait_for(
            &format!("{device} unreachable"),
            Duration::from_secs(3),
            |s| {
                s.reports.get(&key(device)).is_some_and(|r| {
                    matches!(
                        r.reachability,
                        fabric_engine::Reachability::Unreachable { .. }
                    )
                })
            },
        )
        .await?;
    Ok(handle)
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every document of a YAML stream as JSON values, empty documents skipped (as kubectl does).
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("the YAML parses"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

/// Runs `scripts/<script>` with the Python of the test venv (built by scripts/python-deps.sh),
/// feeding `stdin`; what it prints, as JSON.
pub fn python_script(script: &str, args: &[&std::ffi::OsStr], stdin: &[u8]) -> serde_json::Value {
    use std::{
        io::Write,
        process::{Command, Stdio},
    };
    let python = repo_root().join(".venv-interop/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-deps.sh",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("the script reads its input");
    let out = child.wait_with_output().expect("the script ends");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
