//! `fabric-operator lab`: the lab fabric, with no cluster.
//!
//! It loads the lab's manifests (embedded from examples/fabric, or a directory), refuses what an
//! API server would refuse, resolves each device's DriftPolicy, starts fabric-sim in-process
//! with the lab topology, and runs the engine against it through the in-memory port: the same
//! sessions, drift engine and episodes as in a cluster, shown as a live table.

use std::{
    fmt::Write as _,
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use fabric_api::{
    DriftPolicy, FabricDevice,
    k8s_openapi::api::core::v1::Secret,
    kube::ResourceExt,
    manifest::{self, Manifest},
    selection::policy_for,
    validation::Validator,
};
use fabric_engine::{
    DeviceConfig, Engine, EngineOptions, Reachability, SyncState,
    memory::{MemoryPort, MemoryState},
};
use fabric_sim::{Sim, SimHandle, topology::Topology};

use crate::config::{ConfigError, device_config};

include!(concat!(env!("OUT_DIR"), "/lab_manifests.rs"));

/// The objects of a lab, as `kubectl apply` would have created them in one namespace.
#[derive(Debug, Default)]
pub struct Lab {
    pub devices: Vec<FabricDevice>,
    pub policies: Vec<DriftPolicy>,
    pub secrets: Vec<Secret>,
}

/// Namespace the lab's objects live in (they carry none, like manifests applied to a context).
const LAB_NAMESPACE: &str = "lab";

impl Lab {
    /// The lab fabric built into the binary.
    pub fn embedded() -> anyhow::Result<Lab> {
        Lab::from_sources(
            LAB_MANIFESTS
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string())),
        )
    }

    /// Every YAML file under `dir`, recursively (what `kubectl apply -R -f DIR` reads).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Lab> {
        let mut files = vec![];
        collect_yaml(dir, &mut files).with_context(|| format!("reading {}", dir.display()))?;
        anyhow::ensure!(
            !files.is_empty(),
            "{} holds no YAML manifests",
            dir.display()
        );
        let sources = files
            .into_iter()
            .map(|f| {
                let text =
                    fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                Ok((f.display().to_string(), text))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Lab::from_sources(sources)
    }

    fn from_sources(sources: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Lab> {
        let validator = Validator::new();
        let mut lab = Lab::default();
        for (name, text) in sources {
            for object in manifest::parse(&name, &text, &validator)? {
                match object {
                    Manifest::FabricDevice(mut d) => {
                        d.metadata.namespace = Some(LAB_NAMESPACE.into());
                        lab.devices.push(*d);
                    }
                    Manifest::DriftPolicy(mut p) => {
                        p.metadata.namespace = Some(LAB_NAMESPACE.into());
                        lab.policies.push(*p);
                    }
                    Manifest::Secret(s) => lab.secrets.push(*s),
                    Manifest::DriftEvent(_) | Manifest::NetBoxSource(_) => {}
                }
            }
        }
        lab.devices.sort_by_key(|d| d.name_any());
        Ok(lab)
    }

    /// What the engine watches for each device (its address as the manifest says).
    pub fn device_configs(&self) -> Vec<(String, Result<DeviceConfig, ConfigError>)> {
        let find_secret = |name: &str| self.secrets.iter().find(|s| s.name_any() == name).cloned();
        self.devices
            .iter()
            .map(|d| {
                (
                    d.name_any(),
                    device_config(d, find_secret, policy_for(d, &self.policies)),
                )
            })
            .collect()
    }
}

/// The embedded lab written to a fresh directory, laid out as in the repository, so fabric-sim's
/// topology loader reads it like any other (its `fromFabricDevice` paths are relative).
pub fn write_embedded(dir: &Path) -> anyhow::Result<PathBuf> {
    for (name, text) in LAB_MANIFESTS {
        let path = dir.join("manifests").join(name);
        fs::create_dir_all(path.parent().expect("a file has a parent"))?;
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let topology = dir.join("topology.yaml");
    fs::write(&topology, LAB_TOPOLOGY)?;
    Ok(topology)
}

/// The lab running: fabric-sim serving the devices, the engine watching them.
pub struct LiveLab {
    pub sim: SimHandle,
    pub engine: Engine<MemoryPort>,
    pub port: Arc<MemoryPort>,
    pub lab: Lab,
}

impl LiveLab {
    /// Serves `topology` and watches every device of `lab`. Each device's address is taken
    /// from the simulator (so a topology with ephemeral ports works too).
    pub async fn start(
        lab: Lab,
        topology: Topology,
        options: EngineOptions,
    ) -> anyhow::Result<LiveLab> {
        let sim = Sim::start(topology, "127.0.0.1".parse().expect("an IP"))
            .await
            .context("starting fabric-sim (is another lab already running on the lab ports?)")?;
        let port = Arc::new(MemoryPort::new());
        let engine = Engine::new(port.clone(), options);
        for (name, config) in lab.device_configs() {
            let mut config = config.with_context(|| format!("device {name}"))?;
            let addr: SocketAddr = sim
                .addr(&name)
                .with_context(|| format!("the topology has no device {name}"))?;
            config.target.address = addr.to_string();
            engine.apply(config).await;
        }
        Ok(LiveLab {
            sim,
            engine,
            port,
            lab,
        })
    }

    /// Waits until every device has synced once.
    pub async fn wait_synced(&self, timeout: std::time::Duration) -> anyhow::Result<MemoryState> {
        let count = self.lab.devices.len();
        Ok(self
            .port
            .wait_for("every lab device reachable and synced", timeout, |s| {
                s.reports.len() == count && s.reports.values().all(|r| r.sync != SyncState::Unknown)
            })
            .await?)
    }

    pub async fn stop(self) {
        self.engine.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// The live view: one line per device, then the drift events, newest first.
pub fn render_live(lab: &Lab, state: &MemoryState) -> String {
    let mut rows = vec![
        [
            "DEVICE",
            "REACHABLE",
            "SYNC",
            "DRIFTS",
            "POLICY",
            "MODE",
            "EVENT",
        ]
        .map(str::to_owned),
    ];
    for d in &lab.devices {
        let key = fabric_engine::DeviceKey::new(d.namespace().unwrap_or_default(), d.name_any());
        let Some(r) = state.reports.get(&key) else {
            rows.push([
                d.name_any(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        };
        let reachable = match &r.reachability {
            Reachability::Reachable => "True".to_owned(),
            Reachability::Unknown => "Unknown".to_owned(),
            Reachability::Unreachable { reason, .. } => format!("False ({})", reason.as_str()),
        };
        let (sync, drifts) = match &r.sync {
            SyncState::InSync => ("InSync", "0".to_owned()),
            SyncState::Unknown => ("Unknown", "-".to_owned()),
            SyncState::Drifted { count, .. } => ("Drifted", count.to_string()),
        };
        rows.push([
            d.name_any(),
            reachable,
            sync.to_owned(),
            drifts,
            r.policy_name.clone().unwrap_or_else(|| "<none>".into()),
            r.mode.as_str().to_owned(),
            r.active_event.clone().unwrap_or_default(),
        ]);
    }
    let mut out = table(&rows);
    if !state.events.is_empty() {
        let mut events =
            vec![["EVENT", "DEVICE", "PATHS", "MODE", "PHASE", "FIRST PATH"].map(str::to_owned)];
        for e in state.events.iter().rev().take(15) {
            events.push([
                e.name.clone(),
                e.record.device.name.clone(),
                e.record.drift.len().to_string(),
                e.record.mode.as_str().to_owned(),
                e.phase.as_str().to_owned(),
                e.record
                    .drift
                    .first()
                    .map(|d| d.path.to_string())
                    .unwrap_or_default(),
            ]);
        }
        out.push('\n');
        out.push_str(&table(&events));
    }
    out
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn collect_yaml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_lab_is_the_example_fabric() {
        let lab = Lab::embedded().unwrap();
        assert_eq!(lab.devices.len(), 10);
        assert_eq!(lab.policies.len(), 3);
        assert_eq!(lab.secrets.len(), 1);
        let from_disk = Lab::from_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fabric/manifests"),
        )
        .unwrap();
        let specs = |l: &Lab| {
            l.devices
                .iter()
                .map(|d| (d.name_any(), d.spec.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            specs(&lab),
            specs(&from_disk),
            "the binary embeds the current examples"
        );
    }

    #[test]
    fn each_device_is_watched_with_the_policy_in_force_for_it() {
        let lab = Lab::embedded().unwrap();
        let configs = lab.device_configs();
        assert_eq!(configs.len(), 10);
        for (name, config) in configs {
            let config = config.unwrap();
            let expected = match name.as_str() {
                "spine1" | "spine2" => ("spines-alert", "alert"),
                "leaf1" | "leaf2" | "leaf3" | "leaf4" => ("leaves-approve", "approve"),
                _ => ("leaves-auto", "auto"),
            };
            let policy = &config.policy;
            assert_eq!(
                (policy.name.as_deref().unwrap(), policy.rules.mode.as_str()),
                expected,
                "{name}"
            );
            assert_eq!(
                config.target.credentials.unwrap().username,
                "admin",
                "{name}: from the lab Secret"
            );
        }
    }

    #[test]
    fn a_bad_manifest_is_refused_with_its_file_and_reason() {
        let dir = std::env::temp_dir().join(format!("fabric-lab-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("policy.yaml"),
            "apiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: p}\nspec: {mode: sometimes}\n",
        )
        .unwrap();
        let err = format!("{:#}", Lab::from_dir(&dir).unwrap_err());
        fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("policy.yaml: document 0: DriftPolicy \"p\" is invalid: spec.mode: Unsupported value"), "{err}");
    }
}
