//! Platform mappers: typed intent → exact gNMI leaves and the lists the intent owns.
//!
//! Both platforms share the OpenConfig part (interfaces, switched-vlan, IP addresses, VLANs,
//! VRFs, BGP, hostname). They differ where OpenConfig and EOS differ:
//! - `eos`: VXLAN through Arista's `arista-exp-eos-vxlan` augment of the `Vxlan1` interface
//!   (`/interfaces/interface[name=Vxlan1]/arista-vxlan/config/...`, the layout of Arista's
//!   published YANG, aristanetworks/yang `arista-exp-eos-vxlan{,-config}.yang`) and MLAG through
//!   `arista-exp-eos-mlag` (`/arista/eos/mlag/config/...`);
//! - `openconfig`: VXLAN through openconfig-network-instance + openconfig-evpn (a VTEP endpoint
//!   of a connection point, EVPN instances with VXLAN encapsulation carrying the VNIs) and MLAG
//!   through openconfig-mclag (`/mclag/mclag-domains`); see `docs/yang-paths.md`.
//!
//! Paths are built in canonical form (no module prefixes, identity keys without prefix); values
//! are the JSON_IETF-ready form a Set would carry (identities with their module prefix).

use std::collections::BTreeSet;
use std::net::IpAddr;

use fabric_gnmi::{Path, PathElem, Value};

use crate::desired::IntentError;
use crate::intent::{
    AddressFamily, Bgp, DeviceIntent, Interface, Mlag, Platform, SwitchportMode, Vrf, Vxlan,
};
use crate::normalize::{LeafKind, vlan_ranges, vlan_ranges_value};

/// One leaf the intent sets.
#[derive(Debug, Clone)]
pub(crate) struct MappedLeaf {
    pub path: Path,
    pub value: Value,
    pub kind: LeafKind,
    /// The value the device holds when the leaf is absent (devices such as EOS omit defaults).
    pub default: Option<Value>,
    /// The intent field, for error messages (`interfaces[Ethernet1].mtu`).
    pub field: String,
}

/// Which entries of an owned list are the intent's business in `strict` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFilter {
    /// Every entry.
    Any,
    /// Interfaces a person can create and delete (Loopback, Vlan, Port-Channel, Vxlan); physical
    /// ports and management interfaces always exist and are never "unexpected".
    LogicalInterfaces,
    /// Every entry but the one whose key `key` has value `value` (the `default` network
    /// instance, VLAN 1, which always exist).
    Except {
        key: &'static str,
        value: &'static str,
    },
}

impl EntryFilter {
    pub fn applies(self, entry: &PathElem) -> bool {
        self.applies_to(entry.keys.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// [`EntryFilter::applies`] on an entry's keys, in key order.
    pub fn applies_to<'a>(self, mut keys: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        match self {
            EntryFilter::Any => true,
            EntryFilter::LogicalInterfaces => keys.next().is_some_and(|(_, name)| {
                ["Loopback", "Vlan", "Port-Channel", "Vxlan"]
                    .iter()
                    .any(|p| name.starts_with(p))
            }),
            EntryFilter::Except { key, value } => !keys.any(|(k, v)| k == key && v == value),
        }
    }
}

/// A list whose entries the intent owns: in `strict` mode an entry it does not name is drift.
#[derive(Debug, Clone)]
pub struct OwnedList {
    /// The container holding the list (`/network-instances/network-instance[name=default]/vlans`).
    pub container: Path,
    /// The list's name (`vlan`).
    pub list: String,
    pub filter: EntryFilter,
    /// The intent field the list comes from (`vlans`).
    pub field: String,
}

impl OwnedList {
    /// Where a subscription sees every entry: `container/list[key=*]` narrowed to `config` when
    /// the list's entries have one (so state and counters do not stream).
    pub fn watch_path(&self, keys: &[&str], config: bool) -> Path {
        let mut elem = PathElem::new(self.list.clone());
        for k in keys {
            elem.keys.insert(*k, "*");
        }
        let p = self.container.clone().child(elem);
        if config { p.push_name("config") } else { p }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Mapping {
    pub leaves: Vec<MappedLeaf>,
    pub owned: Vec<(OwnedList, Path)>,
}

/// Path building shorthand.
fn root() -> Path {
    Path::root()
}

trait PathExt {
    fn e(self, name: &str) -> Path;
    fn k(self, name: &str, key: &str, value: &str) -> Path;
}

impl PathExt for Path {
    fn e(self, name: &str) -> Path {
        self.push_name(name)
    }
    fn k(self, name: &str, key: &str, value: &str) -> Path {
        self.child(PathElem::new(name).with_key(key, value))
    }
}

pub(crate) fn interface(name: &str) -> Path {
    root().e("interfaces").k("interface", "name", name)
}

pub(crate) fn network_instance(name: &str) -> Path {
    root()
        .e("network-instances")
        .k("network-instance", "name", name)
}

pub(crate) fn bgp_root() -> Path {
    network_instance("default").e("protocols").child(
        PathElem::new("protocol")
            .with_key("identifier", "BGP")
            .with_key("name", "BGP"),
    )
}

struct Emitter {
    out: Mapping,
}

impl Emitter {
    fn leaf(
        &mut self,
        path: Path,
        value: impl Into<Value>,
        kind: LeafKind,
        field: impl Into<String>,
    ) {
        self.out.leaves.push(MappedLeaf {
            path,
            value: value.into(),
            kind,
            default: None,
            field: field.into(),
        });
    }

    fn leaf_default(
        &mut self,
        path: Path,
        value: impl Into<Value>,
        kind: LeafKind,
        default: impl Into<Value>,
        field: impl Into<String>,
    ) {
        self.out.leaves.push(MappedLeaf {
            path,
            value: value.into(),
            kind,
            default: Some(default.into()),
            field: field.into(),
        });
    }

    fn own(
        &mut self,
        container: Path,
        list: &str,
        keys: &[&str],
        config: bool,
        filter: EntryFilter,
        field: &str,
    ) {
        let owned = OwnedList {
            container,
            list: list.to_string(),
            filter,
            field: field.to_string(),
        };
        let watch = owned.watch_path(keys, config);
        self.out.owned.push((owned, watch));
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> IntentError {
    IntentError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Maps `intent` for `platform`.
pub(crate) fn map(platform: Platform, intent: &DeviceIntent) -> Result<Mapping, IntentError> {
    let mut em = Emitter {
        out: Mapping::default(),
    };
    check_references(intent)?;
    if let Some(h) = &intent.hostname {
        em.leaf(
            root().e("system").e("config").e("hostname"),
            h.as_str(),
            LeafKind::String,
            "hostname",
        );
    }
    em.own(
        root().e("interfaces"),
        "interface",
        &["name"],
        true,
        EntryFilter::LogicalInterfaces,
        "interfaces",
    );
    for i in &intent.interfaces {
        map_interface(&mut em, i)?;
    }
    let default_ni = network_instance("default");
    if !intent.vlans.is_empty() {
        em.own(
            default_ni.clone().e("vlans"),
            "vlan",
            &["vlan-id"],
            true,
            EntryFilter::Except {
                key: "vlan-id",
                value: "1",
            },
            "vlans",
        );
    }
    for v in &intent.vlans {
        let field = format!("vlans[{}]", v.id);
        let base = default_ni
            .clone()
            .e("vlans")
            .k("vlan", "vlan-id", &v.id.to_string())
            .e("config");
        em.leaf(
            base.clone().e("vlan-id"),
            u64::from(v.id),
            LeafKind::Uint,
            format!("{field}.id"),
        );
        if let Some(n) = &v.name {
            em.leaf(
                base.e("name"),
                n.as_str(),
                LeafKind::String,
                format!("{field}.name"),
            );
        }
    }
    em.own(
        root().e("network-instances"),
        "network-instance",
        &["name"],
        true,
        EntryFilter::Except {
            key: "name",
            value: "default",
        },
        "vrfs",
    );
    for v in &intent.vrfs {
        map_vrf(&mut em, v, intent)?;
    }
    if let Some(vx) = &intent.vxlan {
        match platform {
            Platform::Eos => eos_vxlan(&mut em, vx),
            Platform::Openconfig => openconfig_vxlan(&mut em, vx)?,
        }
    }
    if let Some(b) = &intent.bgp {
        map_bgp(&mut em, b)?;
    }
    if let Some(m) = &intent.mlag {
        parse_ip(&m.peer_address, "mlag.peerAddress")?;
        match platform {
            Platform::Eos => eos_mlag(&mut em, m),
            Platform::Openconfig => openconfig_mlag(&mut em, m, intent)?,
        }
    }
    Ok(em.out)
}

/// Cross-references the schema cannot check: a VNI map needs its VLAN or VRF, an interface its
/// VRF, a neighbor its peer group. The error names the referring field.
fn check_references(intent: &DeviceIntent) -> Result<(), IntentError> {
    let vlans: BTreeSet<u16> = intent.vlans.iter().map(|v| v.id).collect();
    let vrfs: BTreeSet<&str> = intent.vrfs.iter().map(|v| v.name.as_str()).collect();
    for i in &intent.interfaces {
        if let Some(vrf) = &i.vrf
            && !vrfs.contains(vrf.as_str())
        {
            return Err(invalid(
                format!("interfaces[{}].vrf", i.name),
                format!("VRF {vrf:?} is not in vrfs"),
            ));
        }
    }
    if let Some(vx) = &intent.vxlan {
        for m in &vx.vlan_vnis {
            if !vlans.contains(&m.vlan) {
                return Err(invalid(
                    format!("vxlan.vlanVnis[{}]", m.vlan),
                    format!("VLAN {} is not in vlans", m.vlan),
                ));
            }
        }
        for m in &vx.vrf_vnis {
            if !vrfs.contains(m.vrf.as_str()) {
                return Err(invalid(
                    format!("vxlan.vrfVnis[{}]", m.vrf),
                    format!("VRF {:?} is not in vrfs", m.vrf),
                ));
            }
        }
    }
    if let Some(b) = &intent.bgp {
        let groups: BTreeSet<&str> = b.peer_groups.iter().map(|g| g.name.as_str()).collect();
        for n in &b.neighbors {
            if let Some(g) = &n.peer_group
                && !groups.contains(g.as_str())
            {
                return Err(invalid(
                    format!("bgp.neighbors[{}].peerGroup", n.address),
                    format!("peer group {g:?} is not in bgp.peerGroups"),
                ));
            }
        }
    }
    Ok(())
}

fn parse_ip(text: &str, field: &str) -> Result<IpAddr, IntentError> {
    text.parse::<IpAddr>()
        .map_err(|_| invalid(field, format!("{text:?} is not an IP address")))
}

fn parse_prefix(text: &str, field: &str, v6: bool) -> Result<(IpAddr, u8), IntentError> {
    let (ip, len) = text
        .split_once('/')
        .ok_or_else(|| invalid(field, format!("{text:?} has no prefix length (`/nn`)")))?;
    let ip = parse_ip(ip, field)?;
    let max = if ip.is_ipv6() { 128 } else { 32 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| invalid(field, format!("{text:?}: prefix length must be 0..={max}")))?;
    if ip.is_ipv6() != v6 {
        return Err(invalid(
            field,
            format!("{text:?} is not an IPv{} address", if v6 { 6 } else { 4 }),
        ));
    }
    Ok((ip, len))
}

/// The interface type identity a Set needs to create a logical interface; physical ports exist
/// already and their type is the device's business.
fn logical_type(name: &str) -> Option<&'static str> {
    if name.starts_with("Loopback") {
        Some("iana-if-type:softwareLoopback")
    } else if name.starts_with("Port-Channel") {
        Some("iana-if-type:ieee8023adLag")
    } else if name.starts_with("Vlan") {
        Some("iana-if-type:l3ipvlan")
    } else {
        None
    }
}

/// Where an interface's IP addresses live: SVIs under `routed-vlan`, everything else under
/// subinterface 0 (openconfig-if-ip, as EOS serves them).
pub(crate) fn addresses_base(name: &str) -> Path {
    if name.starts_with("Vlan") {
        interface(name).e("routed-vlan")
    } else {
        interface(name)
            .e("subinterfaces")
            .k("subinterface", "index", "0")
    }
}

/// EOS's default MTU for interfaces that do not set one.
pub const DEFAULT_MTU: u64 = 1500;

fn map_interface(em: &mut Emitter, i: &Interface) -> Result<(), IntentError> {
    let f = format!("interfaces[{}]", i.name);
    let base = interface(&i.name);
    let config = base.clone().e("config");
    em.leaf(
        config.clone().e("name"),
        i.name.as_str(),
        LeafKind::String,
        format!("{f}.name"),
    );
    if let Some(t) = logical_type(&i.name) {
        em.leaf(
            config.clone().e("type"),
            t,
            LeafKind::Identity,
            format!("{f}.name (type)"),
        );
    }
    if let Some(d) = &i.description {
        em.leaf(
            config.clone().e("description"),
            d.as_str(),
            LeafKind::String,
            format!("{f}.description"),
        );
    }
    em.leaf_default(
        config.clone().e("enabled"),
        i.enabled,
        LeafKind::Bool,
        true,
        format!("{f}.enabled"),
    );
    if let Some(mtu) = i.mtu {
        em.leaf_default(
            config.e("mtu"),
            u64::from(mtu),
            LeafKind::Uint,
            DEFAULT_MTU,
            format!("{f}.mtu"),
        );
    }
    if let Some(agg) = &i.aggregate_id {
        em.leaf(
            base.clone().e("ethernet").e("config").e("aggregate-id"),
            agg.as_str(),
            LeafKind::String,
            format!("{f}.aggregateId"),
        );
    }
    if let Some(sp) = &i.switchport {
        let holder = if i.name.starts_with("Port-Channel") {
            "aggregation"
        } else {
            "ethernet"
        };
        let sv = base.clone().e(holder).e("switched-vlan").e("config");
        let mode = match sp.mode {
            SwitchportMode::Access => "openconfig-vlan-types:ACCESS",
            SwitchportMode::Trunk => "openconfig-vlan-types:TRUNK",
        };
        em.leaf(
            sv.clone().e("interface-mode"),
            mode,
            LeafKind::Identity,
            format!("{f}.switchport.mode"),
        );
        if let Some(v) = sp.access_vlan {
            em.leaf_default(
                sv.clone().e("access-vlan"),
                u64::from(v),
                LeafKind::Uint,
                1u64,
                format!("{f}.switchport.accessVlan"),
            );
        }
        if let Some(v) = sp.native_vlan {
            em.leaf_default(
                sv.clone().e("native-vlan"),
                u64::from(v),
                LeafKind::Uint,
                1u64,
                format!("{f}.switchport.nativeVlan"),
            );
        }
        if !sp.trunk_vlans.is_empty() {
            let field = format!("{f}.switchport.trunkVlans");
            let list = Value::LeafList(
                sp.trunk_vlans
                    .iter()
                    .map(|s| Value::String(s.clone()))
                    .collect(),
            );
            let ranges = vlan_ranges(&list).ok_or_else(|| {
                invalid(
                    &field,
                    format!(
                        "{:?} are not VLAN ids or ranges (1..4094, `a-b`)",
                        sp.trunk_vlans
                    ),
                )
            })?;
            em.leaf(
                sv.e("trunk-vlans"),
                vlan_ranges_value(&ranges),
                LeafKind::VlanList,
                field,
            );
        }
    }
    let routed = i.switchport.is_none() && i.aggregate_id.is_none();
    let addr_base = addresses_base(&i.name);
    if !i.name.starts_with("Vlan") && (!i.ipv4_addresses.is_empty() || !i.ipv6_addresses.is_empty())
    {
        em.leaf(
            addr_base.clone().e("config").e("index"),
            0u64,
            LeafKind::Uint,
            format!("{f}.ipv4Addresses (subinterface 0)"),
        );
    }
    for (family, addrs, v6) in [
        ("ipv4", &i.ipv4_addresses, false),
        ("ipv6", &i.ipv6_addresses, true),
    ] {
        let container = addr_base.clone().e(family).e("addresses");
        let field = format!("{f}.{family}Addresses");
        // IPv6 addresses are owned only where the intent sets some: link-local addresses
        // appear on every IPv6-enabled interface.
        if routed && (family == "ipv4" || !addrs.is_empty()) {
            em.own(
                container.clone(),
                "address",
                &["ip"],
                true,
                EntryFilter::Any,
                &field,
            );
        }
        for a in addrs {
            let (ip, len) = parse_prefix(a, &field, v6)?;
            let ip = ip.to_string();
            let entry = container.clone().k("address", "ip", &ip).e("config");
            em.leaf(
                entry.clone().e("ip"),
                ip.as_str(),
                LeafKind::IpAddr,
                format!("{field}[{a}]"),
            );
            em.leaf(
                entry.e("prefix-length"),
                u64::from(len),
                LeafKind::Uint,
                format!("{field}[{a}]"),
            );
        }
    }
    if let Some(vrf) = &i.vrf {
        let entry = network_instance(vrf)
            .e("interfaces")
            .k("interface", "id", &i.name)
            .e("config");
        em.leaf(
            entry.clone().e("id"),
            i.name.as_str(),
            LeafKind::String,
            format!("{f}.vrf"),
        );
        em.leaf(
            entry.e("interface"),
            i.name.as_str(),
            LeafKind::String,
            format!("{f}.vrf"),
        );
    }
    Ok(())
}

/// The L3 VNI of a VRF, which keys its EVPN instance.
fn vrf_vni(intent: &DeviceIntent, vrf: &str) -> Option<u32> {
    intent
        .vxlan
        .as_ref()?
        .vrf_vnis
        .iter()
        .find(|m| m.vrf == vrf)
        .map(|m| m.vni)
}

fn map_vrf(em: &mut Emitter, v: &Vrf, intent: &DeviceIntent) -> Result<(), IntentError> {
    let f = format!("vrfs[{}]", v.name);
    let ni = network_instance(&v.name);
    let config = ni.clone().e("config");
    em.leaf(
        config.clone().e("name"),
        v.name.as_str(),
        LeafKind::String,
        format!("{f}.name"),
    );
    em.leaf(
        config.clone().e("type"),
        "openconfig-network-instance-types:L3VRF",
        LeafKind::Identity,
        format!("{f}.name (type)"),
    );
    if let Some(rd) = &v.rd {
        em.leaf(
            config.e("route-distinguisher"),
            rd.as_str(),
            LeafKind::String,
            format!("{f}.rd"),
        );
    }
    em.own(
        ni.clone().e("interfaces"),
        "interface",
        &["id"],
        true,
        EntryFilter::Any,
        &format!("{f} (interfaces)"),
    );
    if !v.import_route_targets.is_empty() || !v.export_route_targets.is_empty() {
        let vni = vrf_vni(intent, &v.name).ok_or_else(|| {
            invalid(
                format!("{f}.importRouteTargets"),
                format!(
                    "route targets are set on the VRF's EVPN instance, keyed by its L3 VNI: add vxlan.vrfVnis for {:?}",
                    v.name
                ),
            )
        })?;
        let evi = ni
            .e("evpn")
            .e("evpn-instances")
            .k("evpn-instance", "evi", &vni.to_string());
        em.leaf(
            evi.clone().e("config").e("evi"),
            vni.to_string(),
            LeafKind::String,
            format!("{f} (EVPN instance)"),
        );
        let iep = evi.e("import-export-policy").e("config");
        for (leaf, list, name) in [
            (
                "import-route-target",
                &v.import_route_targets,
                "importRouteTargets",
            ),
            (
                "export-route-target",
                &v.export_route_targets,
                "exportRouteTargets",
            ),
        ] {
            if !list.is_empty() {
                let value =
                    Value::LeafList(list.iter().map(|s| Value::String(s.clone())).collect());
                em.leaf(
                    iep.clone().e(leaf),
                    value,
                    LeafKind::StringSet,
                    format!("{f}.{name}"),
                );
            }
        }
    }
    Ok(())
}

/// EOS: `interface Vxlan1` through Arista's augment of the interface (arista-exp-eos-vxlan).
pub(crate) fn eos_vxlan_base() -> Path {
    interface("Vxlan1").e("arista-vxlan").e("config")
}

fn eos_vxlan(em: &mut Emitter, vx: &Vxlan) {
    em.leaf(
        interface("Vxlan1").e("config").e("name"),
        "Vxlan1",
        LeafKind::String,
        "vxlan (interface Vxlan1)",
    );
    let base = eos_vxlan_base();
    em.leaf(
        base.clone().e("src-ip-intf"),
        vx.source_interface.as_str(),
        LeafKind::String,
        "vxlan.sourceInterface",
    );
    em.leaf_default(
        base.clone().e("udp-port"),
        u64::from(vx.udp_port),
        LeafKind::Uint,
        4789u64,
        "vxlan.udpPort",
    );
    em.own(
        base.clone().e("vlan-to-vnis"),
        "vlan-to-vni",
        &["vlan"],
        false,
        EntryFilter::Any,
        "vxlan.vlanVnis",
    );
    em.own(
        base.clone().e("vrf-to-vnis"),
        "vrf-to-vni",
        &["vrf"],
        false,
        EntryFilter::Any,
        "vxlan.vrfVnis",
    );
    for m in &vx.vlan_vnis {
        em.leaf(
            base.clone()
                .e("vlan-to-vnis")
                .k("vlan-to-vni", "vlan", &m.vlan.to_string())
                .e("vni"),
            u64::from(m.vni),
            LeafKind::Uint,
            format!("vxlan.vlanVnis[{}].vni", m.vlan),
        );
    }
    for m in &vx.vrf_vnis {
        em.leaf(
            base.clone()
                .e("vrf-to-vnis")
                .k("vrf-to-vni", "vrf", &m.vrf)
                .e("vni"),
            u64::from(m.vni),
            LeafKind::Uint,
            format!("vxlan.vrfVnis[{}].vni", m.vrf),
        );
    }
}

/// EOS: MLAG through arista-exp-eos-mlag, `/arista/eos/mlag/config`.
pub(crate) fn eos_mlag_base() -> Path {
    root().e("arista").e("eos").e("mlag").e("config")
}

fn eos_mlag(em: &mut Emitter, m: &Mlag) {
    let base = eos_mlag_base();
    em.leaf(
        base.clone().e("domain-id"),
        m.domain_id.as_str(),
        LeafKind::String,
        "mlag.domainId",
    );
    em.leaf(
        base.clone().e("local-intf"),
        m.local_interface.as_str(),
        LeafKind::String,
        "mlag.localInterface",
    );
    em.leaf(
        base.clone().e("peer-address"),
        m.peer_address.as_str(),
        LeafKind::IpAddr,
        "mlag.peerAddress",
    );
    em.leaf(
        base.e("peer-link-intf"),
        m.peer_link.as_str(),
        LeafKind::String,
        "mlag.peerLink",
    );
}

/// OpenConfig: the VTEP is endpoint `vtep` of connection point `vxlan` in the default instance
/// (openconfig-network-instance + openconfig-evpn's `vxlan` endpoint container). Each VLAN's L2
/// VNI is a VLAN-based EVPN instance of the default instance, keyed by the VLAN id (EVI = VLAN);
/// each VRF's L3 VNI is an EVPN instance of the VRF keyed by the VNI. openconfig-evpn has no leaf
/// for the UDP port: only the IANA port 4789 can be expressed.
pub(crate) fn openconfig_vtep() -> Path {
    network_instance("default").e("connection-points").k(
        "connection-point",
        "connection-point-id",
        "vxlan",
    )
}

fn openconfig_vxlan(em: &mut Emitter, vx: &Vxlan) -> Result<(), IntentError> {
    if vx.udp_port != 4789 {
        return Err(invalid(
            "vxlan.udpPort",
            format!(
                "{} cannot be expressed in OpenConfig (openconfig-evpn has no UDP port leaf, 4789 is implied): use platform eos or a raw config entry",
                vx.udp_port
            ),
        ));
    }
    let cp = openconfig_vtep();
    em.leaf(
        cp.clone().e("config").e("connection-point-id"),
        "vxlan",
        LeafKind::String,
        "vxlan",
    );
    let ep = cp.e("endpoints").k("endpoint", "endpoint-id", "vtep");
    em.leaf(
        ep.clone().e("config").e("endpoint-id"),
        "vtep",
        LeafKind::String,
        "vxlan",
    );
    let vxc = ep.e("vxlan").e("config");
    em.leaf(
        vxc.clone().e("source-interface"),
        vx.source_interface.as_str(),
        LeafKind::String,
        "vxlan.sourceInterface",
    );
    em.leaf(vxc.e("enabled"), true, LeafKind::Bool, "vxlan");
    let l2 = network_instance("default").e("evpn").e("evpn-instances");
    em.own(
        l2.clone(),
        "evpn-instance",
        &["evi"],
        true,
        EntryFilter::Any,
        "vxlan.vlanVnis",
    );
    for m in &vx.vlan_vnis {
        let f = format!("vxlan.vlanVnis[{}]", m.vlan);
        let evi = l2.clone().k("evpn-instance", "evi", &m.vlan.to_string());
        let c = evi.clone().e("config");
        em.leaf(
            c.clone().e("evi"),
            m.vlan.to_string(),
            LeafKind::String,
            format!("{f}.vlan"),
        );
        em.leaf(
            c.clone().e("encapsulation-type"),
            "openconfig-network-instance-types:VXLAN",
            LeafKind::Identity,
            f.clone(),
        );
        em.leaf(
            c.e("service-type"),
            "openconfig-evpn-types:VLAN_BASED",
            LeafKind::Identity,
            f.clone(),
        );
        let v = evi.e("vxlan").e("config");
        em.leaf(
            v.clone().e("vni"),
            u64::from(m.vni),
            LeafKind::Uint,
            format!("{f}.vni"),
        );
        em.leaf(v.e("overlay-endpoint"), "vtep", LeafKind::String, f);
    }
    for m in &vx.vrf_vnis {
        let f = format!("vxlan.vrfVnis[{}]", m.vrf);
        let evi = network_instance(&m.vrf).e("evpn").e("evpn-instances").k(
            "evpn-instance",
            "evi",
            &m.vni.to_string(),
        );
        let c = evi.clone().e("config");
        em.leaf(
            c.clone().e("evi"),
            m.vni.to_string(),
            LeafKind::String,
            format!("{f}.vni"),
        );
        em.leaf(
            c.e("encapsulation-type"),
            "openconfig-network-instance-types:VXLAN",
            LeafKind::Identity,
            f.clone(),
        );
        let v = evi.e("vxlan").e("config");
        em.leaf(
            v.clone().e("vni"),
            u64::from(m.vni),
            LeafKind::Uint,
            format!("{f}.vni"),
        );
        em.leaf(
            v.clone().e("overlay-endpoint-network-instance"),
            "default",
            LeafKind::String,
            f.clone(),
        );
        em.leaf(v.e("overlay-endpoint"), "vtep", LeafKind::String, f);
    }
    Ok(())
}

/// OpenConfig: MLAG as an MC-LAG domain (openconfig-mclag, as SONiC and others serve it):
/// `/mclag/mclag-domains/mclag-domain[domain-id=N]/config`. The model keys domains by a number
/// and wants the local address rather than the interface, which is taken from the intent's
/// IPv4 address on `mlag.localInterface`.
fn openconfig_mlag(em: &mut Emitter, m: &Mlag, intent: &DeviceIntent) -> Result<(), IntentError> {
    let id: u32 = m.domain_id.parse().map_err(|_| {
        invalid(
            "mlag.domainId",
            format!(
                "{:?}: openconfig-mclag identifies a domain by a number (uint32); use a numeric domainId or platform eos",
                m.domain_id
            ),
        )
    })?;
    let source = intent
        .interfaces
        .iter()
        .find(|i| i.name == m.local_interface)
        .and_then(|i| i.ipv4_addresses.first())
        .and_then(|a| a.split_once('/'))
        .map(|(ip, _)| ip.to_string())
        .ok_or_else(|| {
            invalid(
                "mlag.localInterface",
                format!(
                    "{:?} has no IPv4 address in interfaces: openconfig-mclag needs the local address",
                    m.local_interface
                ),
            )
        })?;
    let base = root()
        .e("mclag")
        .e("mclag-domains")
        .k("mclag-domain", "domain-id", &id.to_string())
        .e("config");
    em.leaf(
        base.clone().e("domain-id"),
        u64::from(id),
        LeafKind::Uint,
        "mlag.domainId",
    );
    em.leaf(
        base.clone().e("source-address"),
        source,
        LeafKind::IpAddr,
        "mlag.localInterface",
    );
    em.leaf(
        base.clone().e("peer-address"),
        m.peer_address.as_str(),
        LeafKind::IpAddr,
        "mlag.peerAddress",
    );
    em.leaf(
        base.e("peer-link"),
        m.peer_link.as_str(),
        LeafKind::String,
        "mlag.peerLink",
    );
    Ok(())
}

fn afi_safi(af: AddressFamily) -> (&'static str, &'static str) {
    match af {
        AddressFamily::Ipv4Unicast => ("IPV4_UNICAST", "openconfig-bgp-types:IPV4_UNICAST"),
        AddressFamily::Ipv6Unicast => ("IPV6_UNICAST", "openconfig-bgp-types:IPV6_UNICAST"),
        AddressFamily::L2vpnEvpn => ("L2VPN_EVPN", "openconfig-bgp-types:L2VPN_EVPN"),
    }
}

/// Address families are checked leaf by leaf but their list is not owned: EOS activates IPv4
/// unicast on every neighbor by default and reports it, which strict ownership would flag.
fn map_afi_safis(em: &mut Emitter, base: &Path, families: &[AddressFamily], field: &str) {
    for af in families {
        let (key, identity) = afi_safi(*af);
        let c = base
            .clone()
            .e("afi-safis")
            .k("afi-safi", "afi-safi-name", key)
            .e("config");
        em.leaf(
            c.clone().e("afi-safi-name"),
            identity,
            LeafKind::Identity,
            field,
        );
        em.leaf(c.e("enabled"), true, LeafKind::Bool, field);
    }
}

fn map_bgp(em: &mut Emitter, b: &Bgp) -> Result<(), IntentError> {
    let proto = bgp_root();
    let pconf = proto.clone().e("config");
    em.leaf(
        pconf.clone().e("identifier"),
        "openconfig-policy-types:BGP",
        LeafKind::Identity,
        "bgp",
    );
    em.leaf(pconf.e("name"), "BGP", LeafKind::String, "bgp");
    let bgp = proto.e("bgp");
    let g = bgp.clone().e("global").e("config");
    em.leaf(
        g.clone().e("as"),
        u64::from(b.asn),
        LeafKind::Uint,
        "bgp.asn",
    );
    parse_ip(&b.router_id, "bgp.routerId")?;
    em.leaf(
        g.e("router-id"),
        b.router_id.as_str(),
        LeafKind::IpAddr,
        "bgp.routerId",
    );
    em.own(
        bgp.clone().e("peer-groups"),
        "peer-group",
        &["peer-group-name"],
        true,
        EntryFilter::Any,
        "bgp.peerGroups",
    );
    for pg in &b.peer_groups {
        let f = format!("bgp.peerGroups[{}]", pg.name);
        let base = bgp
            .clone()
            .e("peer-groups")
            .k("peer-group", "peer-group-name", &pg.name);
        let c = base.clone().e("config");
        em.leaf(
            c.clone().e("peer-group-name"),
            pg.name.as_str(),
            LeafKind::String,
            format!("{f}.name"),
        );
        if let Some(asn) = pg.peer_as {
            em.leaf(
                c.clone().e("peer-as"),
                u64::from(asn),
                LeafKind::Uint,
                format!("{f}.peerAs"),
            );
        }
        if let Some(d) = &pg.description {
            em.leaf(
                c.e("description"),
                d.as_str(),
                LeafKind::String,
                format!("{f}.description"),
            );
        }
        if let Some(src) = &pg.update_source {
            em.leaf(
                base.clone().e("transport").e("config").e("local-address"),
                src.as_str(),
                LeafKind::String,
                format!("{f}.updateSource"),
            );
        }
        if let Some(ttl) = pg.ebgp_multihop {
            let m = base.clone().e("ebgp-multihop").e("config");
            em.leaf(
                m.clone().e("enabled"),
                true,
                LeafKind::Bool,
                format!("{f}.ebgpMultihop"),
            );
            em.leaf(
                m.e("multihop-ttl"),
                u64::from(ttl),
                LeafKind::Uint,
                format!("{f}.ebgpMultihop"),
            );
        }
        map_afi_safis(
            em,
            &base,
            &pg.address_families,
            &format!("{f}.addressFamilies"),
        );
    }
    em.own(
        bgp.clone().e("neighbors"),
        "neighbor",
        &["neighbor-address"],
        true,
        EntryFilter::Any,
        "bgp.neighbors",
    );
    for n in &b.neighbors {
        let f = format!("bgp.neighbors[{}]", n.address);
        let ip = parse_ip(&n.address, &format!("{f}.address"))?.to_string();
        let base = bgp
            .clone()
            .e("neighbors")
            .k("neighbor", "neighbor-address", &ip);
        let c = base.clone().e("config");
        em.leaf(
            c.clone().e("neighbor-address"),
            ip.as_str(),
            LeafKind::IpAddr,
            format!("{f}.address"),
        );
        if let Some(asn) = n.peer_as {
            em.leaf(
                c.clone().e("peer-as"),
                u64::from(asn),
                LeafKind::Uint,
                format!("{f}.peerAs"),
            );
        }
        if let Some(g) = &n.peer_group {
            em.leaf(
                c.clone().e("peer-group"),
                g.as_str(),
                LeafKind::String,
                format!("{f}.peerGroup"),
            );
        }
        if let Some(d) = &n.description {
            em.leaf(
                c.clone().e("description"),
                d.as_str(),
                LeafKind::String,
                format!("{f}.description"),
            );
        }
        em.leaf_default(
            c.e("enabled"),
            n.enabled,
            LeafKind::Bool,
            true,
            format!("{f}.enabled"),
        );
        map_afi_safis(
            em,
            &base,
            &n.address_families,
            &format!("{f}.addressFamilies"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
