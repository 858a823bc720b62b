//! NetBox records → FabricDevice intent: a pure function of what the sync fetched.
//!
//! The conventions (custom fields, which VLANs a device has, where VNIs and BGP settings live)
//! are documented in docs/netbox-data-model.md; keep the two in step.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::LazyLock;

use fabric_api::device::{FabricDeviceSpec, SecretRef, Target, Tls, TlsMode};
use fabric_api::netbox::NetBoxSourceSpec;
use fabric_api::validation::{Invalid, Validator};
use fabric_drift::intent::{
    AddressFamily, Bgp, DeviceIntent, Interface, Mlag, Neighbor, PeerGroup, Platform, Switchport,
    SwitchportMode, Vlan, VlanVni, Vrf, VrfVni, Vxlan,
};
use serde::{Deserialize, Serialize};

use crate::records;

/// Device custom fields the mapping reads (all optional).
pub mod custom_fields {
    /// Integer: the device's gNMI port; the source's `gnmiPort` when absent.
    pub const GNMI_PORT: &str = "gnmi_port";
    /// Selection `tls` | `skip-verify` | `insecure`: transport security to the device.
    pub const GNMI_TLS: &str = "gnmi_tls";
    /// Text: the hostname, when it differs from the device name's first label.
    pub const HOSTNAME: &str = "hostname";
    /// Text (IPv4): BGP router id; Loopback0's IPv4 address when absent.
    pub const BGP_ROUTER_ID: &str = "bgp_router_id";
    /// Text: MLAG domain id; MLAG is configured when it is set.
    pub const MLAG_DOMAIN: &str = "mlag_domain";
    /// Text: the SVI carrying the MLAG peering, e.g. `Vlan4094`.
    pub const MLAG_LOCAL_INTERFACE: &str = "mlag_local_interface";
    /// Text (IPv4): the MLAG peer's address on that SVI.
    pub const MLAG_PEER_ADDRESS: &str = "mlag_peer_address";
    /// Text: the port-channel to the MLAG peer, e.g. `Port-Channel10`.
    pub const MLAG_PEER_LINK: &str = "mlag_peer_link";
    /// Text: the VTEP source interface, e.g. `Loopback1`; VXLAN is configured when it is set.
    pub const VTEP_SOURCE_INTERFACE: &str = "vtep_source_interface";
    /// Integer: the VXLAN UDP port (4789 when absent).
    pub const VXLAN_UDP_PORT: &str = "vxlan_udp_port";
    /// JSON object of extra labels, `{"mlag-pair": "1"}`, each prefixed with the label prefix.
    pub const FABRIC_LABELS: &str = "fabric_labels";
    /// VRF custom field, integer: the VRF's L3 VNI (EVPN type-5).
    pub const L3_VNI: &str = "l3_vni";
}

/// The L2VPN type whose identifier is a VNI.
pub const L2VPN_VXLAN_EVPN: &str = "vxlan-evpn";

/// What the mapping takes from a NetBoxSource.
#[derive(Clone, Debug, PartialEq)]
pub struct MappingConfig {
    pub gnmi_port: u16,
    pub credentials_secret_ref: Option<SecretRef>,
    pub platform: Platform,
    pub label_prefix: String,
}

impl From<&NetBoxSourceSpec> for MappingConfig {
    fn from(s: &NetBoxSourceSpec) -> Self {
        Self {
            gnmi_port: s.gnmi_port,
            credentials_secret_ref: s.credentials_secret_ref.clone(),
            platform: s.platform,
            label_prefix: s.label_prefix.clone(),
        }
    }
}

/// A FabricDevice as NetBox describes it: what the operator applies with field manager
/// `netbox-sync`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncedDevice {
    /// The FabricDevice's name: the NetBox device name, lowercased.
    pub name: String,
    /// The NetBox device id (for annotations and webhook matching).
    pub netbox_id: u64,
    pub labels: BTreeMap<String, String>,
    /// Which of `spec.platform` and `spec.target.tls` NetBox decides; the others hold the
    /// source's defaults, for new FabricDevices only (values set from Git win).
    pub sets: NetBoxSets,
    pub spec: FabricDeviceSpec,
}

/// Fields of [`SyncedDevice::spec`] that come from NetBox rather than from the source's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetBoxSets {
    /// The device's NetBox platform maps to a FabricDevice platform.
    pub platform: bool,
    /// The device's `gnmi_tls` custom field is set.
    pub tls: bool,
}

/// The NetBox object an error is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// NetBox's object type, e.g. `dcim.device`, `dcim.interface`, `netbox_bgp.bgpsession`.
    pub kind: String,
    pub id: u64,
    /// A human name: `leaf1`, `leaf1 Ethernet5`.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind, self.id, self.name)
    }
}

/// One NetBox object that cannot be turned into intent; its device is left out of the result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("invalid data in NetBox {object}: {message}")]
pub struct InvalidData {
    pub object: ObjectRef,
    /// The device whose intent could not be built.
    pub device: String,
    pub message: String,
}

/// Everything one sync fetched from NetBox.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub devices: Vec<records::Device>,
    pub interfaces: Vec<records::Interface>,
    pub ip_addresses: Vec<records::IpAddress>,
    pub vrfs: Vec<records::Vrf>,
    pub vlans: Vec<records::Vlan>,
    pub l2vpn_terminations: Vec<records::L2vpnTermination>,
    pub bgp_sessions: Vec<records::BgpSession>,
    pub bgp_peer_groups: Vec<records::BgpPeerGroup>,
}

/// Indexes over a snapshot, built once per sync.
struct Index<'a> {
    interfaces: HashMap<u64, Vec<&'a records::Interface>>,
    ips: HashMap<u64, Vec<&'a records::IpAddress>>,
    vrfs: HashMap<u64, &'a records::Vrf>,
    /// vid → VLANs with that vid.
    vlans: HashMap<u16, Vec<&'a records::Vlan>>,
    /// VLAN id → its vxlan-evpn terminations.
    vlan_vnis: HashMap<u64, Vec<&'a records::L2vpnTermination>>,
    sessions: HashMap<u64, Vec<&'a records::BgpSession>>,
    peer_groups: HashMap<u64, &'a records::BgpPeerGroup>,
}

impl<'a> Index<'a> {
    fn new(s: &'a Snapshot) -> Self {
        let mut interfaces: HashMap<u64, Vec<_>> = HashMap::new();
        for i in &s.interfaces {
            interfaces.entry(i.device.id).or_default().push(i);
        }
        let mut ips: HashMap<u64, Vec<_>> = HashMap::new();
        for ip in &s.ip_addresses {
            if ip.assigned_object_type.as_deref() == Some("dcim.interface")
                && let Some(id) = ip.assigned_object_id
            {
                ips.entry(id).or_default().push(ip);
            }
        }
        let mut vlans: HashMap<u16, Vec<_>> = HashMap::new();
        for v in &s.vlans {
            vlans.entry(v.vid).or_default().push(v);
        }
        let mut vlan_vnis: HashMap<u64, Vec<_>> = HashMap::new();
        for t in &s.l2vpn_terminations {
            let evpn = t
                .l2vpn
                .kind
                .as_ref()
                .is_some_and(|k| k.value() == L2VPN_VXLAN_EVPN);
            if evpn
                && t.assigned_object_type.as_deref() == Some("ipam.vlan")
                && let Some(id) = t.assigned_object_id
            {
                vlan_vnis.entry(id).or_default().push(t);
            }
        }
        let mut sessions: HashMap<u64, Vec<_>> = HashMap::new();
        for b in &s.bgp_sessions {
            if let Some(d) = &b.device {
                sessions.entry(d.id).or_default().push(b);
            }
        }
        Self {
            interfaces,
            ips,
            vrfs: s.vrfs.iter().map(|v| (v.id, v)).collect(),
            vlans,
            vlan_vnis,
            sessions,
            peer_groups: s.bgp_peer_groups.iter().map(|g| (g.id, g)).collect(),
        }
    }
}

/// Maps every device of the snapshot; a device with invalid data becomes an error entry
/// instead. Devices come out sorted by name.
pub fn map_snapshot(
    snapshot: &Snapshot,
    config: &MappingConfig,
) -> (Vec<SyncedDevice>, Vec<InvalidData>) {
    let index = Index::new(snapshot);
    let mut devices = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for d in &snapshot.devices {
        match map_device(d, &index, config).and_then(|dev| admissible(dev, d, &index)) {
            Ok(dev) => {
                if let Some(other) = seen.insert(dev.name.clone(), d.id) {
                    errors.push(InvalidData {
                        object: device_ref(d),
                        device: dev.name.clone(),
                        message: format!(
                            "another device (id {other}) has the same name; FabricDevice names must be unique"
                        ),
                    });
                    devices.retain(|x: &SyncedDevice| x.name != dev.name);
                    continue;
                }
                devices.push(dev);
            }
            Err(e) => errors.push(e),
        }
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    (devices, errors)
}

/// The API server's checks of a FabricDevice (schema patterns, lengths, CEL rules), once per
/// process: NetBox accepts names and values the CRD refuses (a VRF named `Customer A`).
static VALIDATOR: LazyLock<Validator> = LazyLock::new(Validator::new);

/// `dev` as the API server would take it, or the NetBox object its first refused field came
/// from. Applying a refused object would fail the apply; this way only the device is left out.
fn admissible(
    dev: SyncedDevice,
    d: &records::Device,
    index: &Index<'_>,
) -> Result<SyncedDevice, InvalidData> {
    let object = serde_json::json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "FabricDevice",
        "metadata": {"name": dev.name, "labels": dev.labels},
        "spec": dev.spec,
    });
    let problems = match VALIDATOR.validate(&object, None) {
        Ok(()) => return Ok(dev),
        Err(Invalid::Problems { problems, .. }) => problems,
        Err(other) => {
            return Err(InvalidData {
                object: device_ref(d),
                device: dev.name,
                message: other.to_string(),
            });
        }
    };
    let first = problems.first().map(|p| p.field.as_str()).unwrap_or("");
    let message = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    Err(InvalidData {
        object: source_of(first, &dev, d, index),
        device: d.name.clone().unwrap_or_default(),
        message: format!("the FabricDevice would be refused: {message}"),
    })
}

/// The NetBox object a FabricDevice field came from: `spec.intent.vrfs[2].rd` → that VRF.
fn source_of(field: &str, dev: &SyncedDevice, d: &records::Device, index: &Index<'_>) -> ObjectRef {
    let item = |list: &str| -> Option<usize> {
        let rest = field.strip_prefix(list)?.strip_prefix('[')?;
        rest[..rest.find(']')?].parse().ok()
    };
    let intent = &dev.spec.intent;
    let of = |kind: &str, id: u64, name: String| ObjectRef {
        kind: kind.into(),
        id,
        name,
    };
    let device_name = d.name.clone().unwrap_or_default();
    let vrf = |name: &str| {
        index
            .vrfs
            .values()
            .find(|r| r.name == name)
            .map(|r| of("ipam.vrf", r.id, r.name.clone()))
    };
    // A VRF's name also shows in its interfaces and VNIs: those fields name the VRF.
    let vrf_named_at = |list: &str, name: &dyn Fn(usize) -> Option<String>| {
        let i = item(list)?;
        let rest = field.strip_prefix(list)?;
        rest.ends_with("].vrf").then(|| name(i)).flatten()
    };
    let found = if let Some(v) = item("spec.intent.vrfs").and_then(|i| intent.vrfs.get(i)) {
        vrf(&v.name)
    } else if let Some(name) = vrf_named_at("spec.intent.interfaces", &|i| {
        intent.interfaces.get(i).and_then(|x| x.vrf.clone())
    })
    .or_else(|| {
        vrf_named_at("spec.intent.vxlan.vrfVnis", &|i| {
            intent
                .vxlan
                .as_ref()
                .and_then(|x| x.vrf_vnis.get(i))
                .map(|x| x.vrf.clone())
        })
    }) {
        vrf(&name)
    } else if let Some(i) = item("spec.intent.interfaces").and_then(|i| intent.interfaces.get(i)) {
        index
            .interfaces
            .get(&d.id)
            .and_then(|all| all.iter().find(|r| r.name == i.name))
            .map(|r| of("dcim.interface", r.id, format!("{device_name} {}", r.name)))
    } else if let Some(v) = item("spec.intent.vlans").and_then(|i| intent.vlans.get(i)) {
        index
            .vlans
            .get(&v.id)
            .and_then(|all| all.first())
            .map(|r| of("ipam.vlan", r.id, format!("VLAN {}", r.vid)))
    } else if let Some(g) = item("spec.intent.bgp.peerGroups")
        .and_then(|i| intent.bgp.as_ref().and_then(|b| b.peer_groups.get(i)))
    {
        index
            .peer_groups
            .values()
            .find(|r| r.name == g.name)
            .map(|r| of("netbox_bgp.bgppeergroup", r.id, r.name.clone()))
    } else if let Some(n) = item("spec.intent.bgp.neighbors")
        .and_then(|i| intent.bgp.as_ref().and_then(|b| b.neighbors.get(i)))
    {
        index.sessions.get(&d.id).and_then(|all| {
            all.iter()
                .find(|s| {
                    s.remote_address
                        .as_ref()
                        .is_some_and(|a| strip_len(&a.address) == n.address)
                })
                .map(|s| {
                    of(
                        "netbox_bgp.bgpsession",
                        s.id,
                        format!("{device_name} {}", n.address),
                    )
                })
        })
    } else {
        None
    };
    found.unwrap_or_else(|| device_ref(d))
}

fn device_ref(d: &records::Device) -> ObjectRef {
    ObjectRef {
        kind: "dcim.device".into(),
        id: d.id,
        name: d
            .name
            .clone()
            .unwrap_or_else(|| format!("unnamed device {}", d.id)),
    }
}

/// Builds errors about objects of one device.
struct Errs<'a> {
    device: &'a str,
}

impl Errs<'_> {
    fn err(&self, kind: &str, id: u64, name: &str, message: impl Into<String>) -> InvalidData {
        InvalidData {
            object: ObjectRef {
                kind: kind.into(),
                id,
                name: name.into(),
            },
            device: self.device.into(),
            message: message.into(),
        }
    }
}

fn map_device(
    d: &records::Device,
    index: &Index<'_>,
    config: &MappingConfig,
) -> Result<SyncedDevice, InvalidData> {
    let dref = device_ref(d);
    let raw_name = d.name.as_deref().unwrap_or_default();
    let e = Errs { device: raw_name };
    let dev_err = |m: String| e.err("dcim.device", d.id, &dref.name, m);
    if raw_name.is_empty() {
        return Err(dev_err("the device has no name".into()));
    }
    let name = raw_name.to_ascii_lowercase();
    if !is_dns_subdomain(&name) {
        return Err(dev_err(format!(
            "{raw_name:?} cannot be a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253)"
        )));
    }
    let cf = CustomFields {
        map: &d.custom_fields,
        err: &dev_err,
    };

    // Target.
    let primary = d.primary_ip4.as_ref().ok_or_else(|| {
        dev_err("the device has no primary IPv4 address (the gNMI target's address)".into())
    })?;
    let port = match cf.uint(custom_fields::GNMI_PORT)? {
        None => config.gnmi_port,
        Some(p) if (1..=65535).contains(&p) => p as u16,
        Some(p) => {
            return Err(dev_err(format!(
                "custom field {} = {p} is not a port",
                custom_fields::GNMI_PORT
            )));
        }
    };
    let tls_field = cf.string(custom_fields::GNMI_TLS)?;
    let tls_mode = match tls_field.as_deref() {
        None | Some("tls") => TlsMode::Tls,
        Some("skip-verify" | "skipVerify") => TlsMode::SkipVerify,
        Some("insecure") => TlsMode::Insecure,
        Some(other) => {
            return Err(dev_err(format!(
                "custom field {} = {other:?}: expected tls, skip-verify or insecure",
                custom_fields::GNMI_TLS
            )));
        }
    };
    let target = Target {
        address: format!("{}:{port}", strip_len(&primary.address)),
        credentials_secret_ref: config.credentials_secret_ref.clone(),
        tls: Tls {
            mode: tls_mode,
            ..Tls::default()
        },
    };
    let netbox_platform = match d.platform.as_ref().and_then(|p| p.slug.as_deref()) {
        Some("eos" | "arista-eos") => Some(Platform::Eos),
        Some("openconfig") => Some(Platform::Openconfig),
        _ => None,
    };
    let platform = netbox_platform.unwrap_or(config.platform);

    // Labels.
    let mut labels = BTreeMap::new();
    let mut label = |key: String, value: String| -> Result<(), InvalidData> {
        let full = format!("{}{key}", config.label_prefix);
        if !is_label_key(&full) || !is_label_value(&value) {
            return Err(dev_err(format!(
                "label {full}={value:?} is not a valid Kubernetes label"
            )));
        }
        labels.insert(full, value);
        Ok(())
    };
    if let Some(slug) = d.site.as_ref().and_then(|s| s.slug.clone()) {
        label("site".into(), slug)?;
    }
    if let Some(slug) = d.role.as_ref().and_then(|s| s.slug.clone()) {
        label("role".into(), slug)?;
    }
    for t in &d.tags {
        if let Some(slug) = &t.slug {
            label(format!("tag-{slug}"), "true".into())?;
        }
    }
    match d.custom_fields.get(custom_fields::FABRIC_LABELS) {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(dev_err(format!(
                            "custom field {}: the value of {k:?} must be a string",
                            custom_fields::FABRIC_LABELS
                        )));
                    }
                };
                label(k.clone(), v)?;
            }
        }
        Some(_) => {
            return Err(dev_err(format!(
                "custom field {} must be a JSON object of labels",
                custom_fields::FABRIC_LABELS
            )));
        }
    }

    // Interfaces.
    let site_id = d.site.as_ref().map(|s| s.id);
    let empty = Vec::new();
    let mut nb_ifaces: Vec<&records::Interface> = index
        .interfaces
        .get(&d.id)
        .unwrap_or(&empty)
        .iter()
        .copied()
        .filter(|i| !i.mgmt_only)
        .collect();
    nb_ifaces.sort_by_key(|i| natural_key(&i.name));
    let mut interfaces = Vec::new();
    // vid → (NetBox VLAN id, name)
    let mut vlans: BTreeMap<u16, (u64, Option<String>)> = BTreeMap::new();
    let mut vrf_ids: BTreeSet<u64> = BTreeSet::new();
    for i in &nb_ifaces {
        let iname = format!("{raw_name} {}", i.name);
        let ierr = |m: String| e.err("dcim.interface", i.id, &iname, m);
        if !is_interface_name(&i.name) {
            return Err(ierr(
                "the interface name must start with a letter and hold only letters, digits and / . : -".into(),
            ));
        }
        let mut add_vlan = |v: &records::VlanRef| -> Result<(), InvalidData> {
            match vlans.get(&v.vid) {
                Some((id, _)) if *id != v.id => Err(ierr(format!(
                    "VLAN {} is NetBox VLAN {} here and VLAN {id} elsewhere on the device",
                    v.vid, v.id
                ))),
                _ => {
                    vlans.insert(v.vid, (v.id, v.name.clone()));
                    Ok(())
                }
            }
        };
        let mode = i.mode.as_ref().map(|m| m.value().to_owned());
        let switchport = match mode.as_deref() {
            None | Some("") => None,
            Some("access") => {
                if let Some(v) = &i.untagged_vlan {
                    add_vlan(v)?;
                }
                Some(Switchport {
                    mode: SwitchportMode::Access,
                    access_vlan: i.untagged_vlan.as_ref().map(|v| v.vid),
                    native_vlan: None,
                    trunk_vlans: Vec::new(),
                })
            }
            Some(m @ ("tagged" | "tagged-all")) => {
                if let Some(v) = &i.untagged_vlan {
                    add_vlan(v)?;
                }
                let trunk_vlans = if m == "tagged-all" {
                    vec!["1-4094".to_owned()]
                } else {
                    let mut vids: Vec<u16> = Vec::new();
                    for v in &i.tagged_vlans {
                        add_vlan(v)?;
                        vids.push(v.vid);
                    }
                    vids.sort_unstable();
                    vids.dedup();
                    vids.iter().map(u16::to_string).collect()
                };
                Some(Switchport {
                    mode: SwitchportMode::Trunk,
                    access_vlan: None,
                    native_vlan: i.untagged_vlan.as_ref().map(|v| v.vid),
                    trunk_vlans,
                })
            }
            Some(other) => {
                return Err(ierr(format!(
                    "802.1Q mode {other:?} is not supported (access, tagged, tagged-all)"
                )));
            }
        };
        let mut ipv4 = Vec::new();
        let mut ipv6 = Vec::new();
        for ip in index.ips.get(&i.id).unwrap_or(&Vec::new()) {
            if ip.address.contains(':') {
                ipv6.push(ip.address.clone());
            } else {
                ipv4.push(ip.address.clone());
            }
        }
        ipv4.sort_by_key(|a| sort_ip(a));
        ipv6.sort();
        if switchport.is_some() && !(ipv4.is_empty() && ipv6.is_empty()) {
            return Err(ierr(
                "an interface with an 802.1Q mode (layer 2) cannot have IP addresses".into(),
            ));
        }
        if let Some(mtu) = i.mtu
            && !(68..=65535).contains(&mtu)
        {
            return Err(ierr(format!("MTU {mtu} is outside 68..65535")));
        }
        if let Some(v) = &i.vrf {
            vrf_ids.insert(v.id);
        }
        // An SVI names its VLAN.
        if let Some(vid) = svi_vid(&i.name) {
            let found = resolve_vlan(index, vid, site_id);
            match (found, vlans.get(&vid)) {
                (_, Some(_)) => {}
                (Some(v), None) => {
                    vlans.insert(vid, (v.id, v.name.clone()));
                }
                (None, None) if vid == 1 => {}
                (None, None) => {
                    return Err(ierr(format!(
                        "SVI {} has no VLAN {vid} in NetBox (in the device's site or without a site)",
                        i.name
                    )));
                }
            }
        }
        interfaces.push(Interface {
            name: i.name.clone(),
            description: non_empty(&i.description),
            enabled: i.enabled,
            mtu: i.mtu,
            switchport,
            aggregate_id: i.lag.as_ref().and_then(|l| l.name.clone()),
            vrf: i.vrf.as_ref().and_then(|v| v.name.clone()),
            ipv4_addresses: ipv4,
            ipv6_addresses: ipv6,
        });
    }

    // VLANs (VLAN 1 exists on every switch and is never listed).
    let mut intent_vlans = Vec::new();
    for (vid, (id, vname)) in &vlans {
        if *vid == 1 {
            continue;
        }
        if let Some(n) = vname
            && n.len() > 32
        {
            return Err(e.err(
                "ipam.vlan",
                *id,
                n,
                "VLAN names on the device are at most 32 characters",
            ));
        }
        intent_vlans.push(Vlan {
            id: *vid,
            name: vname.clone().filter(|n| !n.is_empty()),
        });
    }

    // VRFs.
    let mut vrfs = Vec::new();
    let mut vrf_vnis = Vec::new();
    let mut vrf_names = BTreeSet::new();
    for id in &vrf_ids {
        let v = index.vrfs.get(id).ok_or_else(|| {
            e.err(
                "ipam.vrf",
                *id,
                &format!("VRF {id}"),
                "an interface of the device is in this VRF but the sync could not read it",
            )
        })?;
        if !vrf_names.insert(v.name.clone()) {
            return Err(e.err(
                "ipam.vrf",
                v.id,
                &v.name,
                "two VRFs with this name are on the device",
            ));
        }
        let vcf = CustomFields {
            map: &v.custom_fields,
            err: &|m| e.err("ipam.vrf", v.id, &v.name, m),
        };
        if let Some(vni) = vcf.uint(custom_fields::L3_VNI)? {
            if !(1..=16_777_215).contains(&vni) {
                return Err(e.err(
                    "ipam.vrf",
                    v.id,
                    &v.name,
                    format!("L3 VNI {vni} is outside 1..16777215"),
                ));
            }
            vrf_vnis.push(VrfVni {
                vrf: v.name.clone(),
                vni: vni as u32,
            });
        }
        let names = |rts: &[records::Ref]| {
            let mut n: Vec<String> = rts.iter().filter_map(|r| r.name.clone()).collect();
            n.sort();
            n
        };
        vrfs.push(Vrf {
            name: v.name.clone(),
            rd: non_empty(&v.rd),
            import_route_targets: names(&v.import_targets),
            export_route_targets: names(&v.export_targets),
        });
    }
    vrfs.sort_by(|a, b| a.name.cmp(&b.name));
    vrf_vnis.sort_by(|a, b| a.vrf.cmp(&b.vrf));

    // VXLAN.
    let mut vlan_vnis = Vec::new();
    for (vid, (id, _)) in &vlans {
        let terms = index.vlan_vnis.get(id).map(Vec::as_slice).unwrap_or(&[]);
        match terms {
            [] => {}
            [t] => {
                let vni = t.l2vpn.identifier.ok_or_else(|| {
                    e.err(
                        "vpn.l2vpn",
                        t.l2vpn.id,
                        t.l2vpn.name.as_deref().unwrap_or_default(),
                        "a vxlan-evpn L2VPN needs its identifier (the VNI)",
                    )
                })?;
                if !(1..=16_777_215).contains(&vni) {
                    return Err(e.err(
                        "vpn.l2vpn",
                        t.l2vpn.id,
                        t.l2vpn.name.as_deref().unwrap_or_default(),
                        format!("VNI {vni} is outside 1..16777215"),
                    ));
                }
                vlan_vnis.push(VlanVni {
                    vlan: *vid,
                    vni: vni as u32,
                });
            }
            [a, b, ..] => {
                return Err(e.err(
                    "ipam.vlan",
                    *id,
                    &format!("VLAN {vid}"),
                    format!(
                        "the VLAN is terminated on two vxlan-evpn L2VPNs ({} and {})",
                        a.l2vpn.id, b.l2vpn.id
                    ),
                ));
            }
        }
    }
    let vxlan = match cf.string(custom_fields::VTEP_SOURCE_INTERFACE)? {
        Some(source_interface) => {
            let udp_port = match cf.uint(custom_fields::VXLAN_UDP_PORT)? {
                None => 4789,
                Some(p) if (1..=65535).contains(&p) => p as u16,
                Some(p) => return Err(dev_err(format!("VXLAN UDP port {p} is not a port"))),
            };
            Some(Vxlan {
                source_interface,
                udp_port,
                vlan_vnis,
                vrf_vnis,
            })
        }
        None if vlan_vnis.is_empty() && vrf_vnis.is_empty() => None,
        None => {
            return Err(dev_err(format!(
                "the device has VNIs but no custom field {} (the VTEP source interface)",
                custom_fields::VTEP_SOURCE_INTERFACE
            )));
        }
    };

    // BGP.
    let bgp = map_bgp(d, raw_name, &cf, &e, &nb_ifaces, index)?;

    // MLAG.
    let mlag = match cf.string(custom_fields::MLAG_DOMAIN)? {
        None => {
            for f in [
                custom_fields::MLAG_LOCAL_INTERFACE,
                custom_fields::MLAG_PEER_ADDRESS,
                custom_fields::MLAG_PEER_LINK,
            ] {
                if cf.string(f)?.is_some() {
                    return Err(dev_err(format!(
                        "custom field {f} is set but {} is not",
                        custom_fields::MLAG_DOMAIN
                    )));
                }
            }
            None
        }
        Some(domain_id) => {
            let need = |f: &str| {
                cf.string(f)?.ok_or_else(|| {
                    dev_err(format!(
                        "custom field {} is set, so {f} is needed too",
                        custom_fields::MLAG_DOMAIN
                    ))
                })
            };
            let peer_address = need(custom_fields::MLAG_PEER_ADDRESS)?;
            if !is_ipv4(&peer_address) {
                return Err(dev_err(format!(
                    "custom field {} = {peer_address:?} is not an IPv4 address",
                    custom_fields::MLAG_PEER_ADDRESS
                )));
            }
            Some(Mlag {
                domain_id,
                local_interface: need(custom_fields::MLAG_LOCAL_INTERFACE)?,
                peer_address,
                peer_link: need(custom_fields::MLAG_PEER_LINK)?,
            })
        }
    };

    let hostname = match cf.string(custom_fields::HOSTNAME)? {
        Some(h) => h,
        None => raw_name.split('.').next().unwrap_or(raw_name).to_owned(),
    };
    if !is_hostname(&hostname) {
        return Err(dev_err(format!(
            "{hostname:?} is not a valid hostname (set custom field {})",
            custom_fields::HOSTNAME
        )));
    }

    Ok(SyncedDevice {
        name,
        netbox_id: d.id,
        labels,
        sets: NetBoxSets {
            platform: netbox_platform.is_some(),
            tls: tls_field.is_some(),
        },
        spec: FabricDeviceSpec {
            target,
            platform,
            intent: DeviceIntent {
                hostname: Some(hostname),
                interfaces,
                vlans: intent_vlans,
                vrfs,
                vxlan,
                bgp,
                mlag,
            },
            config: Vec::new(),
            ownership: Default::default(),
        },
    })
}

fn map_bgp(
    d: &records::Device,
    raw_name: &str,
    cf: &CustomFields<'_>,
    e: &Errs<'_>,
    ifaces: &[&records::Interface],
    index: &Index<'_>,
) -> Result<Option<Bgp>, InvalidData> {
    let Some(sessions) = index.sessions.get(&d.id).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut asn: Option<u64> = None;
    let mut neighbors: Vec<Neighbor> = Vec::new();
    let mut groups: BTreeMap<String, PeerGroup> = BTreeMap::new();
    let mut group_ids: HashMap<String, u64> = HashMap::new();
    for s in sessions {
        let sname = format!(
            "{raw_name} {}",
            s.name
                .clone()
                .or_else(|| s.remote_address.as_ref().map(|a| a.address.clone()))
                .unwrap_or_else(|| format!("session {}", s.id))
        );
        let serr = |m: String| e.err("netbox_bgp.bgpsession", s.id, &sname, m);
        let local_as = s
            .local_as
            .as_ref()
            .ok_or_else(|| serr("the session has no local AS".into()))?
            .asn;
        match asn {
            Some(a) if a != local_as => {
                return Err(serr(format!(
                    "local AS {local_as} differs from AS {a} of the device's other sessions"
                )));
            }
            _ => asn = Some(local_as),
        }
        let remote = s.remote_address.as_ref().ok_or_else(|| {
            serr("the session has no remote address (dynamic peering is not supported)".into())
        })?;
        let remote_as = s
            .remote_as
            .as_ref()
            .ok_or_else(|| serr("the session has no remote AS".into()))?
            .asn;
        let mut peer_group_as = None;
        let peer_group = match &s.peer_group {
            None => None,
            Some(r) => {
                let g = index
                    .peer_groups
                    .get(&r.id)
                    .ok_or_else(|| serr(format!("peer group {} could not be read", r.id)))?;
                let gerr = |m: String| e.err("netbox_bgp.bgppeergroup", g.id, &g.name, m);
                let extra = Extra::new(g.extra_attributes.as_ref(), &gerr)?;
                // `ibgp: true`: the group peers inside the device's own AS (one peer group
                // object serves every MLAG pair, each in its own AS).
                let peer_as = match (g.remote_as.as_ref(), extra.flag("ibgp")?) {
                    (Some(_), true) => {
                        return Err(gerr(
                            "set either remote AS or extra attribute ibgp, not both".into(),
                        ));
                    }
                    (Some(a), false) => Some(as_u32(a.asn).map_err(&gerr)?),
                    (None, true) => Some(as_u32(local_as).map_err(&gerr)?),
                    (None, false) => None,
                };
                let pg = PeerGroup {
                    name: g.name.clone(),
                    peer_as,
                    description: non_empty(&g.description),
                    update_source: extra.string("update_source")?,
                    ebgp_multihop: extra
                        .uint("ebgp_multihop")?
                        .map(|t| u8::try_from(t).ok().filter(|t| *t >= 1))
                        .map(|t| t.ok_or_else(|| gerr("ebgp_multihop must be 1..255".into())))
                        .transpose()?,
                    address_families: extra.families()?,
                };
                if let Some(other) = group_ids.get(&g.name)
                    && *other != g.id
                {
                    return Err(gerr(format!(
                        "the device's sessions use two peer groups named {} ({other} and {})",
                        g.name, g.id
                    )));
                }
                group_ids.insert(g.name.clone(), g.id);
                peer_group_as = pg.peer_as;
                groups.insert(g.name.clone(), pg);
                Some(g.name.clone())
            }
        };
        let extra = Extra::new(s.extra_attributes.as_ref(), &serr)?;
        let address = strip_len(&remote.address).to_owned();
        if neighbors.iter().any(|n| n.address == address) {
            return Err(serr(format!(
                "two sessions of the device have remote address {address}"
            )));
        }
        let remote_as = as_u32(remote_as).map_err(&serr)?;
        neighbors.push(Neighbor {
            address,
            peer_as: (peer_group_as != Some(remote_as)).then_some(remote_as),
            peer_group,
            description: non_empty(&s.description),
            enabled: s.status.as_ref().is_none_or(|st| st.value() == "active"),
            address_families: extra.families()?,
        });
    }
    neighbors.sort_by_key(|n| sort_ip(&n.address));
    let dev_err = |m: String| e.err("dcim.device", d.id, raw_name, m);
    let router_id = match cf.string(custom_fields::BGP_ROUTER_ID)? {
        Some(r) => r,
        None => {
            let lo0 = ifaces
                .iter()
                .find(|i| i.name.eq_ignore_ascii_case("Loopback0"))
                .and_then(|i| index.ips.get(&i.id))
                .and_then(|ips| {
                    let mut v4: Vec<&str> = ips
                        .iter()
                        .map(|ip| ip.address.as_str())
                        .filter(|a| !a.contains(':'))
                        .collect();
                    v4.sort_by_key(|a| sort_ip(a));
                    v4.first().map(|a| strip_len(a).to_owned())
                });
            lo0.ok_or_else(|| {
                dev_err(format!(
                    "BGP needs a router id: set custom field {} or give Loopback0 an IPv4 address",
                    custom_fields::BGP_ROUTER_ID
                ))
            })?
        }
    };
    if !is_ipv4(&router_id) {
        return Err(dev_err(format!(
            "router id {router_id:?} is not an IPv4 address"
        )));
    }
    let asn = asn.unwrap_or_default();
    Ok(Some(Bgp {
        asn: as_u32(asn).map_err(dev_err)?,
        router_id,
        peer_groups: groups.into_values().collect(),
        neighbors,
    }))
}

fn as_u32(asn: u64) -> Result<u32, String> {
    u32::try_from(asn)
        .ok()
        .filter(|a| (1..=4_294_967_294).contains(a))
        .ok_or_else(|| format!("AS {asn} is outside 1..4294967294"))
}

/// Reads typed custom fields; a wrong type is invalid data.
struct CustomFields<'a> {
    map: &'a serde_json::Map<String, serde_json::Value>,
    err: &'a dyn Fn(String) -> InvalidData,
}

impl CustomFields<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, InvalidData> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err((self.err)(format!(
                "custom field {key} must be text, not {other}"
            ))),
        }
    }

    fn uint(&self, key: &str) -> Result<Option<u64>, InvalidData> {
        match self.map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
                Ok(s.trim().parse().ok())
            }
            Some(other) => Err((self.err)(format!(
                "custom field {key} must be a positive integer, not {other}"
            ))),
        }
    }
}

/// netbox-bgp's `extra_attributes` JSON of a session or peer group.
struct Extra<'a> {
    map: Option<&'a serde_json::Map<String, serde_json::Value>>,
    err: &'a dyn Fn(String) -> InvalidData,
}

impl<'a> Extra<'a> {
    fn new(
        v: Option<&'a serde_json::Value>,
        err: &'a dyn Fn(String) -> InvalidData,
    ) -> Result<Self, InvalidData> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(Self { map: None, err }),
            Some(serde_json::Value::Object(m)) => Ok(Self { map: Some(m), err }),
            Some(_) => Err(err("extra_attributes must be a JSON object".into())),
        }
    }

    fn cf(&self) -> Option<CustomFields<'_>> {
        self.map.map(|map| CustomFields { map, err: self.err })
    }

    fn string(&self, key: &str) -> Result<Option<String>, InvalidData> {
        self.cf()
            .map(|c| c.string(key))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| (self.err)(e.message.replace("custom field", "extra attribute")))
    }

    fn uint(&self, key: &str) -> Result<Option<u64>, InvalidData> {
        self.cf()
            .map(|c| c.uint(key))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| (self.err)(e.message.replace("custom field", "extra attribute")))
    }

    fn flag(&self, key: &str) -> Result<bool, InvalidData> {
        match self.map.and_then(|m| m.get(key)) {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(other) => Err((self.err)(format!(
                "extra attribute {key} must be true or false, not {other}"
            ))),
        }
    }

    fn families(&self) -> Result<Vec<AddressFamily>, InvalidData> {
        let Some(v) = self.map.and_then(|m| m.get("address_families")) else {
            return Ok(Vec::new());
        };
        if v.is_null() {
            return Ok(Vec::new());
        }
        let mut f: Vec<AddressFamily> = serde_json::from_value(v.clone()).map_err(|e| {
            (self.err)(format!(
                "extra attribute address_families: {e} (a list of ipv4-unicast, ipv6-unicast, l2vpn-evpn)"
            ))
        })?;
        f.sort();
        f.dedup();
        Ok(f)
    }
}

/// The VLAN an SVI named `Vlan<vid>` routes: the device's site's VLAN, else a VLAN without site.
fn resolve_vlan<'a>(index: &Index<'a>, vid: u16, site: Option<u64>) -> Option<&'a records::Vlan> {
    let candidates = index.vlans.get(&vid)?;
    candidates
        .iter()
        .find(|v| v.site.is_some() && v.site.as_ref().map(|s| s.id) == site)
        .or_else(|| candidates.iter().find(|v| v.site.is_none()))
        .copied()
}

fn svi_vid(name: &str) -> Option<u16> {
    let rest = name
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("vlan"))
        .map(|_| &name[4..])?;
    rest.parse::<u16>().ok().filter(|v| (1..=4094).contains(v))
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}

fn strip_len(address: &str) -> &str {
    address.split('/').next().unwrap_or(address)
}

/// Sort key of an address: IPv4 numerically, others after, as text.
fn sort_ip(a: &str) -> (u8, u32, String) {
    let host = strip_len(a);
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => (0, u32::from(ip), a.to_owned()),
        Err(_) => (1, 0, a.to_owned()),
    }
}

/// `Ethernet2` before `Ethernet10`: text runs compare as text, digit runs as numbers.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).saturating_mul(10).saturating_add(d as u64));
        } else {
            if let Some(n) = num.take() {
                out.push((std::mem::take(&mut text), n));
            }
            text.push(c.to_ascii_lowercase());
        }
    }
    out.push((text, num.unwrap_or(0)));
    out
}

fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_interface_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.:-".contains(&b))
}

fn is_dns_subdomain(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn is_label_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_label_key(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

#[cfg(test)]
mod tests;
