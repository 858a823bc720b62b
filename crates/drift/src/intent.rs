//! The intended configuration of one device, as a network engineer writes it.
//!
//! The types are vendor-neutral; the platform mappers (`eos`, `openconfig`) turn them into gNMI
//! leaves. Field names are camelCase in YAML. Every list that a CEL rule walks has a `maxItems`, and
//! every string a rule reads has a `maxLength`, so the API server can bound the rules' cost.
//!
//! Lists that identify their entries by a key (interfaces by name, VLANs by id, ...) are
//! Kubernetes list-maps: the API server rejects a duplicate key, and server-side apply merges
//! entries from different managers (NetBox sync, Git) instead of replacing the whole list.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pattern of an IPv4 address in dotted-quad form.
pub const IPV4_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$";
/// Pattern of an IPv4 interface address with its prefix length (`10.0.0.1/31`).
pub const IPV4_PREFIX_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$";
/// Pattern of an IPv6 interface address with its prefix length (`2001:db8::1/64`); loose on the
/// address itself, which the mappers normalise.
pub const IPV6_PREFIX_PATTERN: &str =
    r"^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$";
/// Pattern of an IPv4 or IPv6 address (a BGP neighbor).
pub const IP_PATTERN: &str = r"^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$";
/// A VLAN or a range of VLANs on a trunk: `10` or `100-110`.
pub const VLAN_RANGE_PATTERN: &str = r"^[0-9]{1,4}(-[0-9]{1,4})?$";
/// A route distinguisher or route target: `ASN:nn` or `IPv4:nn`.
pub const ROUTE_DISTINGUISHER_PATTERN: &str = r"^([0-9]{1,10}|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])):[0-9]{1,10}$";

/// The most entries a device's lists may have; bounds the cost of the schema's CEL rules.
pub const MAX_INTERFACES: u32 = 1024;
pub const MAX_VLANS: u32 = 4094;
pub const MAX_NEIGHBORS: u32 = 512;

/// Everything the operator keeps in line on one device.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceIntent {
    /// The device's hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")
    )]
    pub hostname: Option<String>,

    /// Physical, port-channel, loopback and VLAN (SVI) interfaces, keyed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub interfaces: Vec<Interface>,

    /// Layer-2 VLANs, keyed by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4094))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["id"]))]
    pub vlans: Vec<Vlan>,

    /// Layer-3 VRFs (EVPN type-5 tenants), keyed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub vrfs: Vec<Vrf>,

    /// The VXLAN tunnel interface and its VNI maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<Vxlan>,

    /// BGP: the underlay and the EVPN overlay sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<Bgp>,

    /// MLAG peering, for leaves deployed in pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlag: Option<Mlag>,
}

/// One interface.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.switchport) || (!has(self.ipv4Addresses) && !has(self.ipv6Addresses))",
        "message": "a switchport (layer-2) interface cannot have IP addresses: remove switchport or the addresses",
    },
]))]
pub struct Interface {
    /// The interface name as the device spells it: `Ethernet1`, `Port-Channel10`, `Loopback0`, `Vlan10`.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9/.:-]*$")
    )]
    pub name: String,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 240))]
    pub description: Option<String>,

    /// Administrative state; an interface is up unless it says otherwise.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,

    /// Layer-2 MTU in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,

    /// Layer-2 membership. Absent on routed interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switchport: Option<Switchport>,

    /// The port-channel this interface is a member of, e.g. `Port-Channel10` (LACP bundle or MLAG
    /// peer link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub aggregate_id: Option<String>,

    /// The VRF a routed interface belongs to; absent for the default VRF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub vrf: Option<String>,

    /// IPv4 addresses with prefix length, e.g. `10.0.1.0/31`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(regex(pattern = IPV4_PREFIX_PATTERN)))]
    pub ipv4_addresses: Vec<String>,

    /// IPv6 addresses with prefix length, e.g. `2001:db8::1/64`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(regex(pattern = IPV6_PREFIX_PATTERN)))]
    pub ipv6_addresses: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// Layer-2 membership of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self.mode == 'access' || !has(self.accessVlan)",
        "message": "accessVlan applies to mode access only; a trunk uses trunkVlans and nativeVlan",
    },
    {
        "rule": "self.mode == 'trunk' || (!has(self.trunkVlans) && !has(self.nativeVlan))",
        "message": "trunkVlans and nativeVlan apply to mode trunk only; an access port uses accessVlan",
    },
]))]
pub struct Switchport {
    pub mode: SwitchportMode,

    /// The untagged VLAN of an access port (default 1, as on the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4094))]
    pub access_vlan: Option<u16>,

    /// The native (untagged) VLAN of a trunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4094))]
    pub native_vlan: Option<u16>,

    /// VLANs allowed on a trunk: single ids and ranges, e.g. `["10", "20", "100-110"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 512), inner(length(max = 9), regex(pattern = VLAN_RANGE_PATTERN)))]
    pub trunk_vlans: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SwitchportMode {
    Access,
    Trunk,
}

/// A layer-2 VLAN. Its VNI, if it is stretched over EVPN, is in `vxlan.vlanVnis`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vlan {
    #[schemars(range(min = 1, max = 4094))]
    pub id: u16,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub name: Option<String>,
}

/// A VRF. Its L3 VNI (EVPN type-5) is in `vxlan.vrfVnis`, where the device configures it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vrf {
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    pub name: String,

    /// Route distinguisher, `ASN:nn` or `router-id:nn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = ROUTE_DISTINGUISHER_PATTERN))]
    pub rd: Option<String>,

    /// Route targets imported into the VRF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 32), regex(pattern = ROUTE_DISTINGUISHER_PATTERN)))]
    pub import_route_targets: Vec<String>,

    /// Route targets exported from the VRF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 32), regex(pattern = ROUTE_DISTINGUISHER_PATTERN)))]
    pub export_route_targets: Vec<String>,
}

/// The VXLAN tunnel interface (EOS `interface Vxlan1`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vxlan {
    /// The interface whose address sources the tunnels, usually `Loopback1`.
    #[schemars(length(min = 1, max = 64))]
    pub source_interface: String,

    /// VXLAN UDP port.
    #[serde(default = "vxlan_udp_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub udp_port: u16,

    /// VLAN to L2 VNI (EVPN type-2), keyed by VLAN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4094))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["vlan"]))]
    pub vlan_vnis: Vec<VlanVni>,

    /// VRF to L3 VNI (EVPN type-5), keyed by VRF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["vrf"]))]
    pub vrf_vnis: Vec<VrfVni>,
}

fn vxlan_udp_port() -> u16 {
    4789
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VlanVni {
    #[schemars(range(min = 1, max = 4094))]
    pub vlan: u16,
    #[schemars(range(min = 1, max = 16_777_215))]
    pub vni: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VrfVni {
    #[schemars(length(min = 1, max = 64))]
    pub vrf: String,
    #[schemars(range(min = 1, max = 16_777_215))]
    pub vni: u32,
}

/// BGP in the default VRF: underlay sessions and the EVPN overlay.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bgp {
    /// Local autonomous system number (4-byte ASNs allowed).
    #[schemars(range(min = 1, max = 4_294_967_294u32))]
    pub asn: u32,

    /// BGP router id, an IPv4 address (usually Loopback0's).
    #[schemars(length(max = 15), regex(pattern = IPV4_PATTERN))]
    pub router_id: String,

    /// Peer groups, keyed by name; neighbors inherit their settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peer_groups: Vec<PeerGroup>,

    /// Neighbors, keyed by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 512))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["address"]))]
    pub neighbors: Vec<Neighbor>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerGroup {
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    pub name: String,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4_294_967_294u32))]
    pub peer_as: Option<u32>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 240))]
    pub description: Option<String>,

    /// Source interface of the sessions, e.g. `Loopback0` for EVPN overlay peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub update_source: Option<String>,

    /// eBGP multihop TTL, for overlay sessions between loopbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 255))]
    pub ebgp_multihop: Option<u8>,

    /// Address families activated for the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub address_families: Vec<AddressFamily>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.peerAs) || has(self.peerGroup)",
        "message": "a BGP neighbor needs peerAs, or a peerGroup that sets it",
    },
]))]
pub struct Neighbor {
    /// The neighbor's IPv4 or IPv6 address.
    #[schemars(length(min = 2, max = 45), regex(pattern = IP_PATTERN))]
    pub address: String,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4_294_967_294u32))]
    pub peer_as: Option<u32>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub peer_group: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 240))]
    pub description: Option<String>,

    /// Administrative state of the session; a neighbor is up unless it says otherwise.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,

    /// Address families activated for this neighbor, on top of its peer group's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub address_families: Vec<AddressFamily>,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AddressFamily {
    Ipv4Unicast,
    Ipv6Unicast,
    L2vpnEvpn,
}

/// MLAG basics for one member of a leaf pair.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mlag {
    /// MLAG domain id, the same on both peers.
    #[schemars(length(min = 1, max = 64))]
    pub domain_id: String,

    /// The SVI carrying the peer session, e.g. `Vlan4094`.
    #[schemars(length(min = 1, max = 64))]
    pub local_interface: String,

    /// The peer's address on that SVI.
    #[schemars(length(max = 15), regex(pattern = IPV4_PATTERN))]
    pub peer_address: String,

    /// The port-channel between the peers, e.g. `Port-Channel10`.
    #[schemars(length(min = 1, max = 64))]
    pub peer_link: String,
}

/// A raw leaf or subtree for what the typed intent does not cover: a gNMI path in its string
/// form and its value as JSON_IETF (RFC 7951) would encode it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RawConfig {
    /// A gNMI path, e.g. `/system/config/domain-name` or
    /// `/interfaces/interface[name=Ethernet1]/config/load-interval`.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^([A-Za-z0-9_.-]+:)?/.*")
    )]
    pub path: String,

    /// The value: a scalar for a leaf, an object for a container.
    #[schemars(schema_with = "crate::schema::any_json")]
    pub value: serde_json::Value,
}

/// The vendor dialect the device speaks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Platform {
    /// Arista EOS: OpenConfig plus the Arista-native paths EOS serves (VXLAN maps).
    #[default]
    Eos,
    /// Pure OpenConfig, EVPN/VXLAN through openconfig-network-instance.
    Openconfig,
}

/// How much of the device the intent owns.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Ownership {
    /// Only the leaves the intent names are checked and repaired.
    #[default]
    Merge,
    /// Entries of owned lists that the intent does not name (an extra VLAN, a hand-added BGP
    /// neighbor) are drift too, and their removal is part of the plan.
    Strict,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_engineers_leave_out() {
        let intent: DeviceIntent = serde_yaml::from_str(
            "
interfaces:
  - name: Ethernet1
vxlan:
  sourceInterface: Loopback1
bgp:
  asn: 65001
  routerId: 10.0.250.11
  neighbors:
    - address: 10.0.1.0
      peerAs: 65000
",
        )
        .unwrap();
        assert!(intent.interfaces[0].enabled);
        assert_eq!(intent.vxlan.as_ref().unwrap().udp_port, 4789);
        assert!(intent.bgp.as_ref().unwrap().neighbors[0].enabled);
    }

    #[test]
    fn unknown_enum_values_are_errors_that_name_the_choices() {
        let err = serde_yaml::from_str::<Switchport>("mode: hybrid").unwrap_err();
        assert!(err.to_string().contains("access"), "{err}");
        assert!(err.to_string().contains("trunk"), "{err}");
    }

    #[test]
    fn address_families_use_the_openconfig_spelling() {
        let families: Vec<AddressFamily> =
            serde_yaml::from_str("[ipv4-unicast, l2vpn-evpn]").unwrap();
        assert_eq!(
            families,
            [AddressFamily::Ipv4Unicast, AddressFamily::L2vpnEvpn]
        );
    }
}
