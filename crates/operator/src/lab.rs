//! `fabric-operator lab`: the lab fabric, with no cluster.
//!
//! It loads the lab's manifests (embedded from examples/fabric, or a directory), refuses what an
//! API server would refuse, resolves each device's DriftPolicy, starts fabric-sim in-process
//! with the lab topology, and runs the engine against it through the in-memory port: the same
//! sessions, drift engine and episodes as in a cluster, shown as a live table.

use std::{
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
    Decision, DecisionAction, DeviceConfig, DeviceKey, Engine, EngineOptions, ManualRequest, Phase,
    Reachability, SyncState,
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
    pub control: Arc<LabControl>,
    pub port: Arc<MemoryPort>,
    pub lab: Lab,
}

/// What a person does to the lab's drift events and devices, in place of `kubectl annotate`:
/// approve or reject an event, trigger a remediation, lift the flap guard.
pub struct LabControl {
    pub engine: Engine<MemoryPort>,
    port: Arc<MemoryPort>,
    configs: tokio::sync::Mutex<std::collections::BTreeMap<String, DeviceConfig>>,
}

/// Why a lab request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabError {
    #[error("no drift event {0}")]
    NoEvent(String),
    #[error("drift event {event} is {phase}, not Pending: nothing to decide")]
    NotPending { event: String, phase: &'static str },
    #[error("no device {0}")]
    NoDevice(String),
}

/// Who decides in the lab (in a cluster: the field manager of the annotation).
const LAB_USER: &str = "lab-user";

impl LabControl {
    /// Approves (`approve: true`) or rejects a Pending event, as the approval annotation does.
    pub async fn decide(&self, event: &str, approve: bool) -> Result<(), LabError> {
        let (device, phase) = {
            let state = self.port.snapshot();
            let e = state
                .events
                .iter()
                .find(|e| e.name == event)
                .ok_or_else(|| LabError::NoEvent(event.to_owned()))?;
            (e.record.device.clone(), e.phase)
        };
        if phase != Phase::Pending {
            return Err(LabError::NotPending {
                event: event.to_owned(),
                phase: phase.as_str(),
            });
        }
        let decision = Decision {
            action: if approve {
                DecisionAction::Approve
            } else {
                DecisionAction::Reject
            },
            by: LAB_USER.to_owned(),
            at: jiff::Timestamp::now(),
        };
        self.engine.decide(&device, event, decision).await;
        Ok(())
    }

    /// Remediates the device's current drift once, in any mode (the remediate annotation).
    pub async fn remediate(&self, device: &str) -> Result<(), LabError> {
        self.edit(device, |c| {
            c.remediate_request = Some(ManualRequest {
                token: jiff::Timestamp::now().to_string(),
                by: LAB_USER.to_owned(),
                at: None,
            })
        })
        .await
    }

    /// Lifts the flap guard (the contested annotation set to `clear`).
    pub async fn clear_contested(&self, device: &str) -> Result<(), LabError> {
        self.edit(device, |c| c.clear_contested = true).await?;
        // Taken: the request is not repeated by later changes (the operator removes the annotation).
        self.edit(device, |c| c.clear_contested = false).await
    }

    async fn edit(
        &self,
        device: &str,
        change: impl FnOnce(&mut DeviceConfig),
    ) -> Result<(), LabError> {
        let mut configs = self.configs.lock().await;
        let config = configs
            .get_mut(device)
            .ok_or_else(|| LabError::NoDevice(device.to_owned()))?;
        change(config);
        self.engine.apply(config.clone()).await;
        Ok(())
    }
}

impl LiveLab {
    /// Serves `topology` and watches every device of `lab`. Each device's address is taken
    /// from the simulator (so a topology with ephemeral ports works too).
    pub async fn start(
        lab: Lab,
        topology: Topology,
        options: EngineOptions,
    ) -> anyhow::Result<LiveLab> {
        Self::start_with(lab, topology, options, |_| {}).await
    }

    /// [`LiveLab::start`], with each device's config passed through `edit` first (tests use it
    /// to point webhooks at a local server, or shorten a policy's timings).
    pub async fn start_with(
        lab: Lab,
        topology: Topology,
        options: EngineOptions,
        edit: impl Fn(&mut DeviceConfig),
    ) -> anyhow::Result<LiveLab> {
        let sim = Sim::start(topology, "127.0.0.1".parse().expect("an IP"))
            .await
            .context("starting fabric-sim (is another lab already running on the lab ports?)")?;
        let port = Arc::new(MemoryPort::new());
        let engine = Engine::new(port.clone(), options);
        let mut configs = std::collections::BTreeMap::new();
        for (name, config) in lab.device_configs() {
            let mut config = config.with_context(|| format!("device {name}"))?;
            let addr: SocketAddr = sim
                .addr(&name)
                .with_context(|| format!("the topology has no device {name}"))?;
            config.target.address = addr.to_string();
            edit(&mut config);
            engine.apply(config.clone()).await;
            configs.insert(name, config);
        }
        Ok(LiveLab {
            sim,
            control: Arc::new(LabControl {
                engine,
                port: port.clone(),
                configs: tokio::sync::Mutex::new(configs),
            }),
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
        self.control.engine.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// The lab's decision endpoint, for `curl`: `POST /events/{name}/approve`, `.../reject`,
/// `POST /devices/{name}/remediate`, `POST /devices/{name}/contested/clear`.
pub fn control_router(control: Arc<LabControl>) -> axum::Router {
    use axum::{
        extract::{Path as UrlPath, State},
        http::StatusCode,
        routing::post,
    };
    type Reply = (StatusCode, String);
    fn reply(result: Result<(), LabError>, done: String) -> Reply {
        match result {
            Ok(()) => (StatusCode::ACCEPTED, format!("{done}\n")),
            Err(e @ (LabError::NoEvent(_) | LabError::NoDevice(_))) => {
                (StatusCode::NOT_FOUND, format!("{e}\n"))
            }
            Err(e @ LabError::NotPending { .. }) => (StatusCode::CONFLICT, format!("{e}\n")),
        }
    }
    axum::Router::new()
        .route(
            "/events/{name}/approve",
            post(
                |State(c): State<Arc<LabControl>>, UrlPath(name): UrlPath<String>| async move {
                    reply(c.decide(&name, true).await, format!("{name}: approved"))
                },
            ),
        )
        .route(
            "/events/{name}/reject",
            post(
                |State(c): State<Arc<LabControl>>, UrlPath(name): UrlPath<String>| async move {
                    reply(c.decide(&name, false).await, format!("{name}: rejected"))
                },
            ),
        )
        .route(
            "/devices/{name}/remediate",
            post(
                |State(c): State<Arc<LabControl>>, UrlPath(name): UrlPath<String>| async move {
                    reply(
                        c.remediate(&name).await,
                        format!("{name}: remediation requested"),
                    )
                },
            ),
        )
        .route(
            "/devices/{name}/contested/clear",
            post(
                |State(c): State<Arc<LabControl>>, UrlPath(name): UrlPath<String>| async move {
                    reply(
                        c.clear_contested(&name).await,
                        format!("{name}: flap guard cleared"),
                    )
                },
            ),
        )
        .with_state(control)
}

/// The live view: one line per device, then the drift events, newest first.
pub fn render_live(lab: &Lab, state: &MemoryState) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for d in &lab.devices {
        let key = DeviceKey::new(d.namespace().unwrap_or_default(), d.name_any());
        let Some(r) = state.reports.get(&key) else {
            rows.push(vec![
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
            _ if r.remediating => ("Remediating", "-".to_owned()),
            SyncState::InSync => ("InSync", "0".to_owned()),
            SyncState::Unknown => ("Unknown", "-".to_owned()),
            SyncState::Drifted { count, .. } => ("Drifted", count.to_string()),
        };
        let sync = if r.contested.is_empty() {
            sync.to_owned()
        } else {
            format!("{sync} (Contested)")
        };
        rows.push(vec![
            d.name_any(),
            reachable,
            sync,
            drifts,
            r.policy_name.clone().unwrap_or_else(|| "<none>".into()),
            r.mode.as_str().to_owned(),
            r.active_event.clone().unwrap_or_default(),
        ]);
    }
    let mut out = crate::table::render(
        &[
            "DEVICE",
            "REACHABLE",
            "SYNC",
            "DRIFTS",
            "POLICY",
            "MODE",
            "EVENT",
        ],
        &rows,
    );
    if !state.events.is_empty() {
        let mut events: Vec<Vec<String>> = Vec::new();
        for e in state.events.iter().rev().take(15) {
            events.push(vec![
                e.name.clone(),
                e.record.device.name.clone(),
                e.record.drift.len().to_string(),
                e.record.mode.as_str().to_owned(),
                e.phase.as_str().to_owned(),
                e.reason.clone().unwrap_or_default(),
                e.decision
                    .as_ref()
                    .map(|d| format!("{} by {}", d.action.as_str(), d.by))
                    .unwrap_or_default(),
                e.record
                    .drift
                    .first()
                    .map(|d| d.path.to_string())
                    .unwrap_or_default(),
            ]);
        }
        out.push('\n');
        out.push_str(&crate::table::render(
            &[
                "EVENT",
                "DEVICE",
                "PATHS",
                "MODE",
                "PHASE",
                "REASON",
                "DECIDED",
                "FIRST PATH",
            ],
            &events,
        ));
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
