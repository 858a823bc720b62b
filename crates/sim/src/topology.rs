//! Topologies: which devices to serve, on which ports, with which
//! credentials, TLS, ON_CHANGE refusals and initial tree.
//!
//! The file format (YAML) is documented in crates/sim/README.md; a device's
//! initial tree is JSON_IETF, inline or in a file relative to the topology.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use fabric_gnmi::json::flatten_tree;
use fabric_gnmi::{Path, PathElem, Value};
use serde::Deserialize;

use crate::schema::{Kind, Schema};
use crate::tree::Tree;

/// Errors loading or building a topology.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("device {device}: config {what}: {message}")]
    Config {
        device: String,
        what: String,
        message: String,
    },
    #[error("device {device}: invalid path {path:?}: {message}")]
    BadPath {
        device: String,
        path: String,
        message: String,
    },
    #[error("device {device}: {message}")]
    Invalid { device: String, message: String },
    #[error("duplicate device name {0}")]
    Duplicate(String),
}

/// Username and password a device requires (metadata `username`/`password`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// TLS for a device's gNMI listener.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsSpec {
    /// A self-signed certificate for `localhost`, 127.0.0.1 and ::1, made at start.
    Generate,
    /// A provided certificate chain and key (PEM).
    Pem { cert_pem: Vec<u8>, key_pem: Vec<u8> },
}

impl std::fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsSpec::Generate => f.write_str("Generate"),
            TlsSpec::Pem { .. } => f.write_str("Pem(<redacted>)"),
        }
    }
}

/// One simulated device, resolved and ready to serve.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub name: String,
    /// 0 = an ephemeral port (tests).
    pub port: u16,
    pub credentials: Option<Credentials>,
    /// Subscription paths for which ON_CHANGE is refused (trailing `...` stripped).
    pub on_change_refused: Vec<Path>,
    pub tls: Option<TlsSpec>,
    pub initial: Tree,
    pub schema: Arc<Schema>,
}

impl DeviceSpec {
    /// A plaintext device holding `leaves` (e.g. from
    /// [`leaves_from_fabric_device_yaml`]), its schema derived as a
    /// topology file's would be. Set `tls` and the other fields as needed.
    pub fn from_leaves(
        name: impl Into<String>,
        port: u16,
        credentials: Option<Credentials>,
        leaves: impl IntoIterator<Item = (Path, Value)>,
    ) -> DeviceSpec {
        let mut initial = Tree::new();
        initial.extend(
            leaves
                .into_iter()
                .map(|(p, v)| (p.without_module_prefixes(), v)),
        );
        let schema = Arc::new(Schema::new(initial.iter(), &[]));
        DeviceSpec {
            name: name.into(),
            port,
            credentials,
            on_change_refused: Vec::new(),
            tls: None,
            initial,
            schema,
        }
    }

    /// ON_CHANGE refused at these paths (gNMI path strings; trailing `...` allowed).
    pub fn refuse_on_change(mut self, patterns: &[&str]) -> Result<DeviceSpec, TopologyError> {
        for s in patterns {
            self.on_change_refused.push(parse_pattern(&self.name, s)?);
        }
        Ok(self)
    }
}

/// The devices to serve.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub devices: Vec<DeviceSpec>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileDefaults {
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    on_change_refused: Vec<String>,
    tls: Option<FileTls>,
    /// Leaves every device holds beyond its intent (JSON_IETF).
    extra: Option<FileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileTls {
    #[serde(default)]
    generate: bool,
    cert_file: Option<String>,
    key_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileConfig {
    /// A JSON_IETF file, relative to the topology file.
    File(String),
    /// An inline JSON_IETF tree (YAML or JSON syntax).
    Inline(serde_json::Value),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSchemaEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileDevice {
    name: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    on_change_refused: Option<Vec<String>>,
    tls: Option<FileTls>,
    /// Initial tree (JSON_IETF).
    config: Option<FileConfig>,
    /// A FabricDevice manifest (relative to the topology file) whose intent,
    /// compiled by the drift engine's mapper, becomes initial leaves.
    from_fabric_device: Option<String>,
    /// More initial leaves beyond the intent (management interface, state).
    extra: Option<FileConfig>,
    #[serde(default)]
    extra_schema: Vec<FileSchemaEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TopologyFile {
    #[serde(default)]
    defaults: FileDefaults,
    devices: Vec<FileDevice>,
}

fn parse_pattern(device: &str, s: &str) -> Result<Path, TopologyError> {
    let mut p: Path = s
        .parse()
        .map_err(|e: fabric_gnmi::PathError| TopologyError::BadPath {
            device: device.to_string(),
            path: s.to_string(),
            message: e.to_string(),
        })?;
    // `a/b/...` names the node a/b and all below it: coverage already means that.
    while p.elems.last().is_some_and(|e| e.name == "...") {
        p.elems.pop();
    }
    Ok(p.without_module_prefixes())
}

fn kind_from_name(device: &str, s: &str) -> Result<Kind, TopologyError> {
    Ok(match s {
        "string" => Kind::Text,
        "integer" => Kind::Integer,
        "decimal" => Kind::Decimal,
        "boolean" => Kind::Bool,
        "leaf-list" => Kind::LeafList,
        "empty" => Kind::Empty,
        "opaque" => Kind::Opaque,
        other => {
            return Err(TopologyError::Invalid {
                device: device.to_string(),
                message: format!(
                    "extraSchema type {other:?}: expected string, integer, decimal, boolean, leaf-list, empty or opaque"
                ),
            });
        }
    })
}

/// Leaves of a JSON_IETF tree attached at the root, module prefixes stripped.
pub fn leaves_from_json(tree: &serde_json::Value) -> Result<Vec<(Path, Value)>, String> {
    let leaves =
        flatten_tree(&Path::root(), tree, &fabric_drift::key_table()).map_err(|e| e.to_string())?;
    Ok(leaves
        .into_iter()
        .map(|l| (l.path.without_module_prefixes(), l.value))
        .collect())
}

/// The leaves the drift engine expects on a device described by a
/// FabricDevice manifest: `Desired::compile(..).leaves()` of its spec
/// (platform, intent, raw config, ownership; no policy scope). The manifest
/// is read as plain YAML so the simulator needs no Kubernetes types.
pub fn leaves_from_fabric_device(
    device: &str,
    file: &FsPath,
) -> Result<Vec<(Path, Value)>, TopologyError> {
    let text = read(file)?;
    leaves_from_fabric_device_yaml(device, &file.display().to_string(), &text)
}

/// [`leaves_from_fabric_device`] on a manifest's text, for callers that
/// embed their manifests (the operator's `lab`); `origin` names it in errors.
pub fn leaves_from_fabric_device_yaml(
    device: &str,
    origin: &str,
    text: &str,
) -> Result<Vec<(Path, Value)>, TopologyError> {
    let desired = desired_from_fabric_device_yaml(device, origin, text)?;
    Ok(desired
        .leaves()
        .map(|(p, v)| (p.without_module_prefixes(), v.clone()))
        .collect())
}

/// The drift engine's compiled intent of a FabricDevice manifest (platform,
/// intent, raw config, ownership; no policy scope or exclusions).
pub fn desired_from_fabric_device_yaml(
    device: &str,
    origin: &str,
    text: &str,
) -> Result<fabric_drift::Desired, TopologyError> {
    use fabric_drift::intent::{DeviceIntent, Ownership, Platform, RawConfig};
    let err = |message: String| TopologyError::Config {
        device: device.to_string(),
        what: format!("fromFabricDevice {origin}"),
        message,
    };
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
    if doc.get("kind").and_then(serde_yaml::Value::as_str) != Some("FabricDevice") {
        return Err(err("not a FabricDevice manifest".into()));
    }
    let spec = doc.get("spec").cloned().unwrap_or(serde_yaml::Value::Null);
    fn field<T: serde::de::DeserializeOwned + Default>(
        spec: &serde_yaml::Value,
        name: &str,
    ) -> Result<T, String> {
        match spec.get(name) {
            None | Some(serde_yaml::Value::Null) => Ok(T::default()),
            Some(v) => serde_yaml::from_value(v.clone()).map_err(|e| format!("spec.{name}: {e}")),
        }
    }
    let platform: Platform = field(&spec, "platform").map_err(err)?;
    let intent: DeviceIntent = field(&spec, "intent").map_err(err)?;
    let raw: Vec<RawConfig> = field(&spec, "config").map_err(err)?;
    let ownership: Ownership = field(&spec, "ownership").map_err(err)?;
    fabric_drift::Desired::compile(platform, &intent, &raw, ownership, &[], &[])
        .map_err(|e| err(e.to_string()))
}

fn read(path: &FsPath) -> Result<String, TopologyError> {
    std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Topology {
    /// Loads a topology file; relative paths inside resolve against its directory.
    pub fn load(path: &FsPath) -> Result<Topology, TopologyError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(FsPath::new("."));
        Topology::from_yaml(&text, base).map_err(|e| match e {
            TopologyError::Yaml { source, .. } => TopologyError::Yaml {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Parses a topology; `base` resolves relative file names.
    pub fn from_yaml(text: &str, base: &FsPath) -> Result<Topology, TopologyError> {
        let file: TopologyFile =
            serde_yaml::from_str(text).map_err(|source| TopologyError::Yaml {
                path: PathBuf::from("<topology>"),
                source,
            })?;
        let mut devices: Vec<DeviceSpec> = Vec::with_capacity(file.devices.len());
        for d in file.devices {
            if devices.iter().any(|x| x.name == d.name) {
                return Err(TopologyError::Duplicate(d.name));
            }
            let name = d.name.clone();
            let username = d.username.or_else(|| file.defaults.username.clone());
            let password = d.password.or_else(|| file.defaults.password.clone());
            let credentials = match (username, password) {
                (Some(username), Some(password)) => Some(Credentials { username, password }),
                (None, None) => None,
                _ => {
                    return Err(TopologyError::Invalid {
                        device: name,
                        message: "username and password go together".into(),
                    });
                }
            };
            let refused_src = d
                .on_change_refused
                .unwrap_or_else(|| file.defaults.on_change_refused.clone());
            let on_change_refused = refused_src
                .iter()
                .map(|s| parse_pattern(&name, s))
                .collect::<Result<Vec<_>, _>>()?;
            let tls = match d.tls.as_ref().or(file.defaults.tls.as_ref()) {
                None => None,
                Some(t) => Some(resolve_tls(&name, t, base)?),
            };
            let mut initial = Tree::new();
            if let Some(f) = &d.from_fabric_device {
                initial.extend(leaves_from_fabric_device(&name, &base.join(f))?);
            }
            for (what, src) in [
                ("config", &d.config),
                ("defaults.extra", &file.defaults.extra),
                ("extra", &d.extra),
            ] {
                let Some(src) = src else { continue };
                let json = match src {
                    FileConfig::Inline(v) => v.clone(),
                    FileConfig::File(f) => {
                        let text = read(&base.join(f))?;
                        serde_json::from_str(&text).map_err(|e| TopologyError::Config {
                            device: name.clone(),
                            what: format!("{what} file {f}"),
                            message: e.to_string(),
                        })?
                    }
                };
                let leaves = leaves_from_json(&json).map_err(|message| TopologyError::Config {
                    device: name.clone(),
                    what: what.to_string(),
                    message,
                })?;
                initial.extend(leaves);
            }
            let extra = d
                .extra_schema
                .iter()
                .map(|e| {
                    let p = parse_pattern(&name, &e.path)?;
                    Ok((crate::schema::shape(&p), kind_from_name(&name, &e.kind)?))
                })
                .collect::<Result<Vec<_>, TopologyError>>()?;
            let schema = Arc::new(Schema::new(initial.iter(), &extra));
            devices.push(DeviceSpec {
                name,
                port: d.port,
                credentials,
                on_change_refused,
                tls,
                initial,
                schema,
            });
        }
        Ok(Topology { devices })
    }

    /// Every device on an ephemeral port (tests run in parallel).
    pub fn with_ephemeral_ports(mut self) -> Topology {
        for d in &mut self.devices {
            d.port = 0;
        }
        self
    }

    /// `n` synthetic leaf switches, ports `base_port..base_port+n` (0 = all
    /// ephemeral), credentials admin/admin, each holding about 2,000 config
    /// leaves: exactly the leaves the drift engine compiles from
    /// [`synthetic_intent`] for that device (so an operator given those
    /// intents starts in sync), plus entry keys and some state. The devices
    /// differ in hostname and router id and share every other node of one
    /// template tree (see [`Tree`]), as the leaves of a real fabric share most
    /// of their configuration.
    pub fn generate(n: usize, base_port: u16) -> Result<Topology, TopologyError> {
        let template = synthetic_template()?;
        let schema = Arc::new(Schema::new(template.iter(), &[]));
        let refused = vec![parse_pattern("generated", BGP_NEIGHBOR_STATE)?];
        let mut devices = Vec::with_capacity(n);
        for i in 0..n {
            let name = synthetic_name(i);
            let port = if base_port == 0 {
                0
            } else {
                u16::try_from(usize::from(base_port) + i).map_err(|_| TopologyError::Invalid {
                    device: name.clone(),
                    message: format!("port {} is out of range", usize::from(base_port) + i),
                })?
            };
            let mut initial = template.clone();
            initial.insert(
                p_str("/system/config/hostname"),
                Value::String(name.clone()),
            );
            initial.insert(
                bgp_path(&["global", "config", "router-id"]),
                Value::String(synthetic_router_id(i)),
            );
            devices.push(DeviceSpec {
                name,
                port,
                credentials: Some(Credentials {
                    username: "admin".into(),
                    password: "admin".into(),
                }),
                on_change_refused: refused.clone(),
                tls: None,
                initial,
                schema: schema.clone(),
            });
        }
        Ok(Topology { devices })
    }
}

fn resolve_tls(device: &str, t: &FileTls, base: &FsPath) -> Result<TlsSpec, TopologyError> {
    match (t.generate, &t.cert_file, &t.key_file) {
        (true, None, None) => Ok(TlsSpec::Generate),
        (false, Some(c), Some(k)) => Ok(TlsSpec::Pem {
            cert_pem: read(&base.join(c))?.into_bytes(),
            key_pem: read(&base.join(k))?.into_bytes(),
        }),
        _ => Err(TopologyError::Invalid {
            device: device.to_string(),
            message: "tls: give either `generate: true` or both certFile and keyFile".into(),
        }),
    }
}

/// Where EOS refuses ON_CHANGE in the generated topology (BGP neighbor state).
pub const BGP_NEIGHBOR_STATE: &str = "/network-instances/network-instance[name=*]/protocols/protocol[identifier=BGP][name=*]/bgp/neighbors/neighbor[neighbor-address=*]/state";

fn p_str(s: &str) -> Path {
    // Only called on the literals of this module, which the tests parse.
    s.parse().unwrap_or_default()
}

fn elem(name: &str, keys: &[(&str, &str)]) -> PathElem {
    let mut e = PathElem::new(name);
    for (k, v) in keys {
        e = e.with_key(*k, *v);
    }
    e
}

fn bgp_path(rest: &[&str]) -> Path {
    let mut p = Path::new(vec![
        elem("network-instances", &[]),
        elem("network-instance", &[("name", "default")]),
        elem("protocols", &[]),
        elem("protocol", &[("identifier", "BGP"), ("name", "BGP")]),
        elem("bgp", &[]),
    ]);
    for r in rest {
        p = p.push_name(*r);
    }
    p
}

/// The name of the `index`th (0-based) generated device: `gen0001`, ...
pub fn synthetic_name(index: usize) -> String {
    format!("gen{:04}", index + 1)
}

fn synthetic_router_id(index: usize) -> String {
    format!("10.255.{}.{}", (index / 250) % 256, index % 250 + 1)
}

/// The platform and ownership of the generated devices' intents.
pub const SYNTHETIC_PLATFORM: fabric_drift::intent::Platform =
    fabric_drift::intent::Platform::Openconfig;
pub const SYNTHETIC_OWNERSHIP: fabric_drift::intent::Ownership =
    fabric_drift::intent::Ownership::Strict;

/// The intent of the `index`th (0-based) device of [`Topology::generate`]: a
/// leaf switch with 64 access ports, 300 VLANs and 100 BGP neighbors in one
/// peer group (about 1,900 leaves once compiled for [`SYNTHETIC_PLATFORM`]).
/// Devices differ in hostname and router id only.
pub fn synthetic_intent(index: usize) -> fabric_drift::intent::DeviceIntent {
    use fabric_drift::intent::{
        AddressFamily, Bgp, DeviceIntent, Interface, Neighbor, PeerGroup, Switchport,
        SwitchportMode, Vlan,
    };
    let interfaces = (1..=SYNTHETIC_PORTS)
        .map(|i| Interface {
            name: format!("Ethernet{i}"),
            description: Some(format!("server port {i}")),
            enabled: true,
            mtu: Some(9214),
            switchport: Some(Switchport {
                mode: SwitchportMode::Access,
                access_vlan: Some(10 + (i % 300) as u16),
                native_vlan: None,
                trunk_vlans: Vec::new(),
            }),
            aggregate_id: None,
            vrf: None,
            ipv4_addresses: Vec::new(),
            ipv6_addresses: Vec::new(),
        })
        .collect();
    let vlans = (10..310u16)
        .map(|id| Vlan {
            id,
            name: Some(format!("vlan{id}")),
        })
        .collect();
    let neighbors = (0..100u32)
        .map(|n| Neighbor {
            address: format!("10.{}.{}.{}", 1 + n / 64, 0, (n % 64) * 4),
            peer_as: Some(65100 + n),
            peer_group: Some("UNDERLAY".into()),
            description: Some(format!("peer {n}")),
            enabled: true,
            address_families: vec![AddressFamily::Ipv4Unicast, AddressFamily::L2vpnEvpn],
        })
        .collect();
    DeviceIntent {
        hostname: Some(synthetic_name(index)),
        interfaces,
        vlans,
        vrfs: Vec::new(),
        vxlan: None,
        bgp: Some(Bgp {
            asn: 65001,
            router_id: synthetic_router_id(index),
            peer_groups: vec![PeerGroup {
                name: "UNDERLAY".into(),
                peer_as: None,
                description: Some("leaf-spine underlay".into()),
                update_source: None,
                ebgp_multihop: None,
                address_families: Vec::new(),
            }],
            neighbors,
        }),
        mlag: None,
    }
}

/// Ethernet ports of a generated device.
pub const SYNTHETIC_PORTS: u64 = 64;

/// The generated devices' management interface: outside the intent, so changes to it are
/// streamed to an operator subscribed to every interface's `config` but are never drift.
pub const MANAGEMENT: &str = "Management1";

/// The synthetic leaf switch: the leaves compiled from [`synthetic_intent`],
/// the list keys a device holds beside each entry's `config`, and some
/// operational state (which the operator does not subscribe to).
fn synthetic_template() -> Result<Tree, TopologyError> {
    let desired = fabric_drift::Desired::compile(
        SYNTHETIC_PLATFORM,
        &synthetic_intent(0),
        &[],
        SYNTHETIC_OWNERSHIP,
        &[],
        &[],
    )
    .map_err(|e| TopologyError::Invalid {
        device: "generated".into(),
        message: e.to_string(),
    })?;
    let mut t = Tree::new();
    t.extend(
        desired
            .leaves()
            .map(|(p, v)| (p.without_module_prefixes(), v.clone())),
    );
    // Each list entry holds its key leaves beside `config` too (`interface/name`).
    let entries: Vec<(Path, Value)> = t
        .iter()
        .filter(|(p, _)| p.elems.len() >= 2 && p.elems[p.elems.len() - 2].name == "config")
        .filter_map(|(p, v)| {
            let entry = p.elems.len().checked_sub(3)?;
            let leaf = p.elems.last()?.name.as_str();
            p.elems[entry].keys.contains_key(leaf).then(|| {
                (
                    Path::new(p.elems[..=entry].to_vec()).push_name(leaf),
                    v.clone(),
                )
            })
        })
        .collect();
    t.extend(entries);
    // The management port, which every switch has and no intent names.
    let mgmt = Path::new(vec![
        elem("interfaces", &[]),
        elem("interface", &[("name", MANAGEMENT)]),
    ]);
    t.insert(mgmt.clone().push_name("name"), Value::from(MANAGEMENT));
    let mgmt_config = mgmt.clone().push_name("config");
    t.insert(
        mgmt_config.clone().push_name("name"),
        Value::from(MANAGEMENT),
    );
    t.insert(
        mgmt_config.clone().push_name("description"),
        Value::from("out-of-band management"),
    );
    t.insert(mgmt_config.push_name("enabled"), Value::Bool(true));
    for i in 1..=SYNTHETIC_PORTS {
        let base = Path::new(vec![
            elem("interfaces", &[]),
            elem("interface", &[("name", &format!("Ethernet{i}"))]),
        ]);
        for leaf in ["oper-status", "admin-status"] {
            t.insert(
                base.clone().push_name("state").push_name(leaf),
                Value::from("UP"),
            );
        }
    }
    let neighbors: Vec<Path> = t
        .keys()
        .filter(|p| p.elems.last().is_some_and(|e| e.name == "neighbor-address"))
        .filter(|p| p.elems.len() >= 2 && p.elems[p.elems.len() - 2].name == "neighbor")
        .map(Path::parent)
        .collect();
    for n in neighbors {
        t.insert(
            n.push_name("state").push_name("session-state"),
            Value::from("ESTABLISHED"),
        );
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::is_state;

    #[test]
    fn generated_devices_hold_about_2000_config_leaves_and_differ() {
        let topo = Topology::generate(2, 17000).unwrap_or_default();
        assert_eq!(topo.devices.len(), 2);
        let d = &topo.devices[1];
        assert_eq!((d.name.as_str(), d.port), ("gen0002", 17001));
        // The intended leaves, their entries' keys, and no more state than config.
        let config = d.initial.keys().filter(|p| !is_state(p)).count();
        assert!((2400..=2700).contains(&config), "{config} config leaves");
        assert!(
            d.initial.len() - config < config / 4,
            "{} leaves",
            d.initial.len()
        );
        assert_ne!(topo.devices[0].initial, topo.devices[1].initial);
        assert_eq!(p_str(BGP_NEIGHBOR_STATE).len(), 8);
    }

    #[test]
    fn generated_devices_hold_exactly_their_synthetic_intent() {
        let topo = Topology::generate(3, 0).unwrap_or_default();
        for (i, d) in topo.devices.iter().enumerate() {
            let desired = fabric_drift::Desired::compile(
                SYNTHETIC_PLATFORM,
                &synthetic_intent(i),
                &[],
                SYNTHETIC_OWNERSHIP,
                &[],
                &[],
            )
            .expect("the synthetic intent compiles");
            let mut count = 0;
            for (path, value) in desired.leaves() {
                let path = path.without_module_prefixes();
                assert_eq!(d.initial.get(&path), Some(value), "{}: {path}", d.name);
                count += 1;
            }
            assert_eq!(count, 1891, "intended leaves");
            // Every config leaf the device holds under a `config` container is intended, but
            // the management port's.
            let under_config = d
                .initial
                .keys()
                .filter(|p| p.elems.iter().any(|e| e.name == "config"))
                .filter(|p| p.elems[1].keys.get("name").map(|n| n.as_str()) != Some(MANAGEMENT))
                .count();
            assert_eq!(under_config, count, "{}", d.name);
        }
    }

    #[test]
    fn yaml_topology_inline_config_defaults_and_errors() {
        let yaml = r#"
defaults: {username: admin, password: pw, onChangeRefused: ["/a/b/..."]}
devices:
  - name: d1
    port: 0
    config:
      openconfig-system:system: {config: {hostname: d1}}
      openconfig-interfaces:interfaces:
        interface:
          - name: Ethernet1
            config: {name: Ethernet1, mtu: 9214}
  - name: d2
    port: 0
    username: other
    password: x
    onChangeRefused: []
"#;
        let topo = Topology::from_yaml(yaml, FsPath::new(".")).unwrap_or_default();
        assert_eq!(topo.devices.len(), 2);
        let d1 = &topo.devices[0];
        assert_eq!(
            d1.initial
                .get(&p_str("/interfaces/interface[name=Ethernet1]/config/mtu")),
            Some(&Value::Uint(9214))
        );
        assert_eq!(d1.on_change_refused, vec![p_str("/a/b")]);
        assert_eq!(
            d1.credentials.as_ref().map(|c| c.password.as_str()),
            Some("pw")
        );
        assert!(topo.devices[1].on_change_refused.is_empty());
        let dup = "devices: [{name: a, port: 1}, {name: a, port: 2}]";
        assert!(matches!(
            Topology::from_yaml(dup, FsPath::new(".")),
            Err(TopologyError::Duplicate(_))
        ));
        let typo = "devices: [{name: a, prot: 1}]";
        assert!(Topology::from_yaml(typo, FsPath::new(".")).is_err());
    }
}
