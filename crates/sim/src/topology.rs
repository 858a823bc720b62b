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
    /// leaves. The devices differ in hostname and router id and share every
    /// other node of one template tree (see [`Tree`]), as the leaves of a real
    /// fabric share most of their configuration.
    pub fn generate(n: usize, base_port: u16) -> Result<Topology, TopologyError> {
        let template = synthetic_template();
        let schema = Arc::new(Schema::new(template.iter(), &[]));
        let refused = vec![parse_pattern("generated", BGP_NEIGHBOR_STATE)?];
        let mut devices = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("gen{:04}", i + 1);
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
                Value::String(format!("10.255.{}.{}", (i / 250) % 256, i % 250 + 1)),
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

/// The synthetic leaf switch: 64 Ethernet ports, 200 VLANs, 100 BGP
/// neighbors (1,930 config leaves, 228 state leaves).
fn synthetic_template() -> Tree {
    let mut t = Tree::new();
    t.insert(p_str("/system/config/hostname"), Value::from("template"));
    for i in 1..=64u64 {
        let name = format!("Ethernet{i}");
        let base = Path::new(vec![
            elem("interfaces", &[]),
            elem("interface", &[("name", &name)]),
        ]);
        let leaf = |rest: &[&str]| {
            let mut p = base.clone();
            for r in rest {
                p = p.push_name(*r);
            }
            p
        };
        t.insert(leaf(&["name"]), Value::String(name.clone()));
        t.insert(leaf(&["config", "name"]), Value::String(name.clone()));
        t.insert(
            leaf(&["config", "description"]),
            Value::String(format!("server port {i}")),
        );
        t.insert(leaf(&["config", "mtu"]), Value::Uint(9214));
        t.insert(leaf(&["config", "enabled"]), Value::Bool(true));
        t.insert(
            leaf(&["config", "type"]),
            Value::from("iana-if-type:ethernetCsmacd"),
        );
        let sv = ["ethernet", "switched-vlan", "config"];
        t.insert(
            leaf(&[sv[0], sv[1], sv[2], "interface-mode"]),
            Value::from("ACCESS"),
        );
        t.insert(
            leaf(&[sv[0], sv[1], sv[2], "access-vlan"]),
            Value::Uint(10 + (i % 200)),
        );
        t.insert(leaf(&["state", "oper-status"]), Value::from("UP"));
        t.insert(leaf(&["state", "admin-status"]), Value::from("UP"));
    }
    let ni = Path::new(vec![
        elem("network-instances", &[]),
        elem("network-instance", &[("name", "default")]),
    ]);
    t.insert(ni.clone().push_name("name"), Value::from("default"));
    t.insert(
        ni.clone().push_name("config").push_name("name"),
        Value::from("default"),
    );
    t.insert(
        ni.clone().push_name("config").push_name("type"),
        Value::from("openconfig-network-instance-types:DEFAULT_INSTANCE"),
    );
    for v in 10..210u64 {
        let id = v.to_string();
        let base = ni
            .clone()
            .push_name("vlans")
            .child(elem("vlan", &[("vlan-id", &id)]));
        t.insert(base.clone().push_name("vlan-id"), Value::Uint(v));
        t.insert(
            base.clone().push_name("config").push_name("vlan-id"),
            Value::Uint(v),
        );
        t.insert(
            base.clone().push_name("config").push_name("name"),
            Value::String(format!("vlan{v}")),
        );
        t.insert(
            base.push_name("config").push_name("status"),
            Value::from("ACTIVE"),
        );
    }
    let proto = bgp_path(&[]).parent();
    t.insert(proto.clone().push_name("identifier"), Value::from("BGP"));
    t.insert(proto.clone().push_name("name"), Value::from("BGP"));
    t.insert(
        proto.clone().push_name("config").push_name("identifier"),
        Value::from("BGP"),
    );
    t.insert(
        proto.push_name("config").push_name("name"),
        Value::from("BGP"),
    );
    t.insert(bgp_path(&["global", "config", "as"]), Value::Uint(65001));
    t.insert(
        bgp_path(&["global", "config", "router-id"]),
        Value::from("10.255.0.1"),
    );
    for n in 0..100u64 {
        let addr = format!("10.{}.{}.{}", 1 + n / 64, (n % 64) * 4 / 256, (n % 64) * 4);
        let base = bgp_path(&["neighbors"]).child(elem("neighbor", &[("neighbor-address", &addr)]));
        let c = |leaf: &str| base.clone().push_name("config").push_name(leaf);
        t.insert(
            base.clone().push_name("neighbor-address"),
            Value::String(addr.clone()),
        );
        t.insert(c("neighbor-address"), Value::String(addr.clone()));
        t.insert(c("peer-as"), Value::Uint(65100 + n));
        t.insert(c("peer-group"), Value::from("UNDERLAY"));
        t.insert(c("description"), Value::String(format!("peer {n}")));
        t.insert(c("enabled"), Value::Bool(true));
        t.insert(
            base.push_name("state").push_name("session-state"),
            Value::from("ESTABLISHED"),
        );
    }
    t
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
        let config = d.initial.keys().filter(|p| !is_state(p)).count();
        assert!((1900..=2100).contains(&config), "{config} config leaves");
        assert_ne!(topo.devices[0].initial, topo.devices[1].initial);
        assert_eq!(p_str(BGP_NEIGHBOR_STATE).len(), 8);
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
