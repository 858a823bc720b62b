//! One test row per typed intent field and platform: the exact path, value, type and default.
//! The same rows generate the table of `docs/yang-paths.md`, so the document cannot drift from
//! the mappers (`FABRIC_UPDATE_DOCS=1 cargo test -p fabric-drift` rewrites it).

use fabric_gnmi::{Path, Value};

use crate::desired::Desired;
use crate::intent::{DeviceIntent, Ownership, Platform};
use crate::normalize::LeafKind;

/// An intent that sets every field once.
const EVERY_FIELD: &str = r#"
hostname: sw1
interfaces:
  - name: Ethernet1
    description: uplink
    enabled: false
    mtu: 9214
    ipv4Addresses: [10.0.0.1/31]
    ipv6Addresses: ["2001:db8::1/64"]
  - name: Ethernet2
    aggregateId: Port-Channel10
  - name: Ethernet3
    switchport: {mode: access, accessVlan: 10}
  - name: Port-Channel10
    switchport: {mode: trunk, nativeVlan: 99, trunkVlans: ["10", "20-30"]}
  - name: Vlan10
    vrf: gold
    ipv4Addresses: [10.1.10.1/24]
  - name: Vlan4094
    ipv4Addresses: [10.0.199.0/31]
vlans:
  - {id: 10, name: web}
  - {id: 99}
vrfs:
  - name: gold
    rd: "65000:1"
    importRouteTargets: ["65000:50001"]
    exportRouteTargets: ["65000:50002"]
vxlan:
  sourceInterface: Loopback1
  udpPort: 4789
  vlanVnis: [{vlan: 10, vni: 10010}]
  vrfVnis: [{vrf: gold, vni: 50001}]
bgp:
  asn: 65001
  routerId: 10.0.250.11
  peerGroups:
    - name: EVPN
      peerAs: 65000
      description: overlay
      updateSource: Loopback0
      ebgpMultihop: 3
      addressFamilies: [l2vpn-evpn]
  neighbors:
    - address: 10.0.250.1
      peerAs: 65000
      peerGroup: EVPN
      description: spine1
      enabled: false
      addressFamilies: [ipv4-unicast]
mlag:
  domainId: "7"
  localInterface: Vlan4094
  peerAddress: 10.0.199.1
  peerLink: Port-Channel10
"#;

const BGP: &str = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
const VX: &str = "/interfaces/interface[name=Vxlan1]/arista-vxlan/config";
const VTEP: &str = "/network-instances/network-instance[name=default]/connection-points/connection-point[connection-point-id=vxlan]/endpoints/endpoint[endpoint-id=vtep]";

/// (intent field, YANG type, default, eos path, openconfig path, value). A path of `-` means the
/// platform has no leaf for the field; `=` means the same path as eos.
struct Row {
    field: &'static str,
    yang: &'static str,
    kind: LeafKind,
    default: Option<Value>,
    eos: String,
    oc: String,
    value: Value,
}

fn row(
    field: &'static str,
    yang: &'static str,
    kind: LeafKind,
    default: Option<Value>,
    eos: impl Into<String>,
    oc: impl Into<String>,
    value: impl Into<Value>,
) -> Row {
    Row {
        field,
        yang,
        kind,
        default,
        eos: eos.into(),
        oc: oc.into(),
        value: value.into(),
    }
}

fn rows() -> Vec<Row> {
    use LeafKind as K;
    let e1 = "/interfaces/interface[name=Ethernet1]";
    let sub = format!("{e1}/subinterfaces/subinterface[index=0]");
    let pg = format!("{BGP}/peer-groups/peer-group[peer-group-name=EVPN]");
    let nb = format!("{BGP}/neighbors/neighbor[neighbor-address=10.0.250.1]");
    let gold = "/network-instances/network-instance[name=gold]";
    let evi = format!("{gold}/evpn/evpn-instances/evpn-instance[evi=50001]");
    let dflt = "/network-instances/network-instance[name=default]";
    vec![
        row(
            "hostname",
            "string",
            K::String,
            None,
            "/system/config/hostname",
            "=",
            "sw1",
        ),
        row(
            "interfaces[].name",
            "string",
            K::String,
            None,
            format!("{e1}/config/name"),
            "=",
            "Ethernet1",
        ),
        row(
            "interfaces[].name (Loopback*, Port-Channel*, Vlan*: type)",
            "identityref (iana-if-type)",
            K::Identity,
            None,
            "/interfaces/interface[name=Port-Channel10]/config/type",
            "=",
            "iana-if-type:ieee8023adLag",
        ),
        row(
            "interfaces[].description",
            "string",
            K::String,
            None,
            format!("{e1}/config/description"),
            "=",
            "uplink",
        ),
        row(
            "interfaces[].enabled",
            "boolean",
            K::Bool,
            Some(true.into()),
            format!("{e1}/config/enabled"),
            "=",
            false,
        ),
        row(
            "interfaces[].mtu",
            "uint16",
            K::Uint,
            Some(Value::Uint(1500)),
            format!("{e1}/config/mtu"),
            "=",
            Value::Uint(9214),
        ),
        row(
            "interfaces[].aggregateId",
            "string (leafref to a LAG)",
            K::String,
            None,
            "/interfaces/interface[name=Ethernet2]/ethernet/config/aggregate-id",
            "=",
            "Port-Channel10",
        ),
        row(
            "interfaces[].switchport.mode",
            "identityref (openconfig-vlan-types:vlan-mode-type)",
            K::Identity,
            None,
            "/interfaces/interface[name=Ethernet3]/ethernet/switched-vlan/config/interface-mode",
            "=",
            "openconfig-vlan-types:ACCESS",
        ),
        row(
            "interfaces[].switchport.accessVlan",
            "uint16 (vlan-id)",
            K::Uint,
            Some(Value::Uint(1)),
            "/interfaces/interface[name=Ethernet3]/ethernet/switched-vlan/config/access-vlan",
            "=",
            Value::Uint(10),
        ),
        row(
            "interfaces[].switchport.nativeVlan (Port-Channel: aggregation/...)",
            "uint16 (vlan-id)",
            K::Uint,
            Some(Value::Uint(1)),
            "/interfaces/interface[name=Port-Channel10]/aggregation/switched-vlan/config/native-vlan",
            "=",
            Value::Uint(99),
        ),
        row(
            "interfaces[].switchport.trunkVlans",
            "leaf-list of union (vlan-id | \"a..b\"), compared as a set",
            K::VlanList,
            None,
            "/interfaces/interface[name=Port-Channel10]/aggregation/switched-vlan/config/trunk-vlans",
            "=",
            Value::LeafList(vec![Value::Uint(10), Value::from("20..30")]),
        ),
        row(
            "interfaces[].vrf",
            "string",
            K::String,
            None,
            format!("{gold}/interfaces/interface[id=Vlan10]/config/interface"),
            "=",
            "Vlan10",
        ),
        row(
            "interfaces[].ipv4Addresses (ip)",
            "ip-address",
            K::IpAddr,
            None,
            format!("{sub}/ipv4/addresses/address[ip=10.0.0.1]/config/ip"),
            "=",
            "10.0.0.1",
        ),
        row(
            "interfaces[].ipv4Addresses (prefix length)",
            "uint8",
            K::Uint,
            None,
            format!("{sub}/ipv4/addresses/address[ip=10.0.0.1]/config/prefix-length"),
            "=",
            Value::Uint(31),
        ),
        row(
            "interfaces[].ipv4Addresses (Vlan* SVIs: routed-vlan)",
            "uint8",
            K::Uint,
            None,
            "/interfaces/interface[name=Vlan10]/routed-vlan/ipv4/addresses/address[ip=10.1.10.1]/config/prefix-length",
            "=",
            Value::Uint(24),
        ),
        row(
            "interfaces[].ipv6Addresses",
            "uint8",
            K::Uint,
            None,
            format!("{sub}/ipv6/addresses/address[ip=2001:db8::1]/config/prefix-length"),
            "=",
            Value::Uint(64),
        ),
        row(
            "vlans[].id",
            "uint16",
            K::Uint,
            None,
            format!("{dflt}/vlans/vlan[vlan-id=10]/config/vlan-id"),
            "=",
            Value::Uint(10),
        ),
        row(
            "vlans[].name",
            "string",
            K::String,
            None,
            format!("{dflt}/vlans/vlan[vlan-id=10]/config/name"),
            "=",
            "web",
        ),
        row(
            "vrfs[].name",
            "identityref (L3VRF)",
            K::Identity,
            None,
            format!("{gold}/config/type"),
            "=",
            "openconfig-network-instance-types:L3VRF",
        ),
        row(
            "vrfs[].rd",
            "route-distinguisher",
            K::String,
            None,
            format!("{gold}/config/route-distinguisher"),
            "=",
            "65000:1",
        ),
        row(
            "vrfs[].importRouteTargets (EVI = the VRF's L3 VNI)",
            "leaf-list, compared as a set",
            K::StringSet,
            None,
            format!("{evi}/import-export-policy/config/import-route-target"),
            "=",
            Value::LeafList(vec!["65000:50001".into()]),
        ),
        row(
            "vrfs[].exportRouteTargets",
            "leaf-list, compared as a set",
            K::StringSet,
            None,
            format!("{evi}/import-export-policy/config/export-route-target"),
            "=",
            Value::LeafList(vec!["65000:50002".into()]),
        ),
        row(
            "vxlan.sourceInterface",
            "string (interface)",
            K::String,
            None,
            format!("{VX}/src-ip-intf"),
            format!("{VTEP}/vxlan/config/source-interface"),
            "Loopback1",
        ),
        row(
            "vxlan.udpPort (openconfig: 4789 only)",
            "uint16",
            K::Uint,
            Some(Value::Uint(4789)),
            format!("{VX}/udp-port"),
            "-",
            Value::Uint(4789),
        ),
        row(
            "vxlan.vlanVnis[].vni (openconfig: EVI = VLAN)",
            "uint32",
            K::Uint,
            None,
            format!("{VX}/vlan-to-vnis/vlan-to-vni[vlan=10]/vni"),
            format!("{dflt}/evpn/evpn-instances/evpn-instance[evi=10]/vxlan/config/vni"),
            Value::Uint(10010),
        ),
        row(
            "vxlan.vrfVnis[].vni",
            "uint32",
            K::Uint,
            None,
            format!("{VX}/vrf-to-vnis/vrf-to-vni[vrf=gold]/vni"),
            format!("{evi}/vxlan/config/vni"),
            Value::Uint(50001),
        ),
        row(
            "bgp.asn",
            "uint32",
            K::Uint,
            None,
            format!("{BGP}/global/config/as"),
            "=",
            Value::Uint(65001),
        ),
        row(
            "bgp.routerId",
            "ipv4-address",
            K::IpAddr,
            None,
            format!("{BGP}/global/config/router-id"),
            "=",
            "10.0.250.11",
        ),
        row(
            "bgp.peerGroups[].name",
            "string",
            K::String,
            None,
            format!("{pg}/config/peer-group-name"),
            "=",
            "EVPN",
        ),
        row(
            "bgp.peerGroups[].peerAs",
            "uint32",
            K::Uint,
            None,
            format!("{pg}/config/peer-as"),
            "=",
            Value::Uint(65000),
        ),
        row(
            "bgp.peerGroups[].description",
            "string",
            K::String,
            None,
            format!("{pg}/config/description"),
            "=",
            "overlay",
        ),
        row(
            "bgp.peerGroups[].updateSource",
            "union (ip | interface)",
            K::String,
            None,
            format!("{pg}/transport/config/local-address"),
            "=",
            "Loopback0",
        ),
        row(
            "bgp.peerGroups[].ebgpMultihop",
            "uint8",
            K::Uint,
            None,
            format!("{pg}/ebgp-multihop/config/multihop-ttl"),
            "=",
            Value::Uint(3),
        ),
        row(
            "bgp.peerGroups[].addressFamilies",
            "boolean (afi-safi enabled)",
            K::Bool,
            None,
            format!("{pg}/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/config/enabled"),
            "=",
            true,
        ),
        row(
            "bgp.neighbors[].address",
            "ip-address",
            K::IpAddr,
            None,
            format!("{nb}/config/neighbor-address"),
            "=",
            "10.0.250.1",
        ),
        row(
            "bgp.neighbors[].peerAs",
            "uint32",
            K::Uint,
            None,
            format!("{nb}/config/peer-as"),
            "=",
            Value::Uint(65000),
        ),
        row(
            "bgp.neighbors[].peerGroup",
            "string",
            K::String,
            None,
            format!("{nb}/config/peer-group"),
            "=",
            "EVPN",
        ),
        row(
            "bgp.neighbors[].description",
            "string",
            K::String,
            None,
            format!("{nb}/config/description"),
            "=",
            "spine1",
        ),
        row(
            "bgp.neighbors[].enabled",
            "boolean",
            K::Bool,
            Some(true.into()),
            format!("{nb}/config/enabled"),
            "=",
            false,
        ),
        row(
            "bgp.neighbors[].addressFamilies",
            "boolean (afi-safi enabled)",
            K::Bool,
            None,
            format!("{nb}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/config/enabled"),
            "=",
            true,
        ),
        row(
            "mlag.domainId (openconfig: a number)",
            "string / uint32",
            K::String,
            None,
            "/arista/eos/mlag/config/domain-id",
            "/mclag/mclag-domains/mclag-domain[domain-id=7]/config/domain-id",
            "7",
        ),
        row(
            "mlag.localInterface (openconfig: its IPv4 address)",
            "interface / ip-address",
            K::String,
            None,
            "/arista/eos/mlag/config/local-intf",
            "/mclag/mclag-domains/mclag-domain[domain-id=7]/config/source-address",
            "Vlan4094",
        ),
        row(
            "mlag.peerAddress",
            "ipv4-address",
            K::IpAddr,
            None,
            "/arista/eos/mlag/config/peer-address",
            "/mclag/mclag-domains/mclag-domain[domain-id=7]/config/peer-address",
            "10.0.199.1",
        ),
        row(
            "mlag.peerLink",
            "interface",
            K::String,
            None,
            "/arista/eos/mlag/config/peer-link-intf",
            "/mclag/mclag-domains/mclag-domain[domain-id=7]/config/peer-link",
            "Port-Channel10",
        ),
    ]
}

fn compile(platform: Platform) -> Desired {
    let intent: DeviceIntent = serde_yaml::from_str(EVERY_FIELD).unwrap_or_else(|e| panic!("{e}"));
    Desired::compile(platform, &intent, &[], Ownership::Strict, &[], &[])
        .unwrap_or_else(|e| panic!("{platform:?}: {e}"))
}

fn p(s: &str) -> Path {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn every_field_maps_to_its_documented_path_on_both_platforms() {
    let eos = compile(Platform::Eos);
    let oc = compile(Platform::Openconfig);
    for r in rows() {
        for (platform, d, path) in [("eos", &eos, &r.eos), ("openconfig", &oc, &r.oc)] {
            let path = match path.as_str() {
                "-" => continue,
                "=" => &r.eos,
                other => &other.to_string(),
            };
            let leaf = d
                .leaf(&p(path))
                .unwrap_or_else(|| panic!("{platform}: {} does not map to {path}", r.field));
            // The openconfig MLAG leaves carry other types than the eos ones.
            if platform == "openconfig" && r.field.starts_with("mlag.") {
                continue;
            }
            assert_eq!(leaf.value, r.value, "{platform}: {} at {path}", r.field);
            assert_eq!(leaf.kind, r.kind, "{platform}: {} at {path}", r.field);
            assert_eq!(leaf.default, r.default, "{platform}: {} at {path}", r.field);
        }
    }
    // The openconfig MLAG values: a numeric domain and the local address.
    let m = "/mclag/mclag-domains/mclag-domain[domain-id=7]/config";
    let v = |path: String| oc.leaf(&p(&path)).map(|l| l.value.clone());
    assert_eq!(v(format!("{m}/domain-id")), Some(Value::Uint(7)));
    assert_eq!(
        v(format!("{m}/source-address")),
        Some(Value::from("10.0.199.0"))
    );
    // Platform-specific leaves do not leak into the other platform.
    assert!(oc.leaf(&p(&format!("{VX}/src-ip-intf"))).is_none());
    assert!(
        eos.leaf(&p(&format!("{VTEP}/vxlan/config/source-interface")))
            .is_none()
    );
    assert!(oc.leaf(&p("/arista/eos/mlag/config/domain-id")).is_none());
}

#[test]
fn openconfig_refuses_what_it_cannot_express() {
    let mut intent: DeviceIntent =
        serde_yaml::from_str(EVERY_FIELD).unwrap_or_else(|e| panic!("{e}"));
    if let Some(vx) = intent.vxlan.as_mut() {
        vx.udp_port = 8472;
    }
    let err = Desired::compile(
        Platform::Openconfig,
        &intent,
        &[],
        Ownership::Merge,
        &[],
        &[],
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("vxlan.udpPort"), "{err}");
    assert!(Desired::compile(Platform::Eos, &intent, &[], Ownership::Merge, &[], &[]).is_ok());
}

#[test]
fn strict_mode_owns_the_lists_of_named_things() {
    let d = compile(Platform::Eos);
    let lists: Vec<String> = d
        .owned_lists()
        .iter()
        .map(|o| format!("{}/{}", o.list.container, o.list.list))
        .collect();
    for expected in [
        "/interfaces/interface",
        "/network-instances/network-instance[name=default]/vlans/vlan",
        "/network-instances/network-instance",
        "/network-instances/network-instance[name=gold]/interfaces/interface",
        &format!("{VX}/vlan-to-vnis/vlan-to-vni"),
        &format!("{VX}/vrf-to-vnis/vrf-to-vni"),
        &format!("{BGP}/peer-groups/peer-group"),
        &format!("{BGP}/neighbors/neighbor"),
        "/interfaces/interface[name=Ethernet1]/subinterfaces/subinterface[index=0]/ipv4/addresses/address",
    ] {
        assert!(
            lists.iter().any(|l| l == expected),
            "{expected} not owned: {lists:#?}"
        );
    }
    // Not owned: address families (EOS reports default-activated ones) and IPv6 addresses of
    // interfaces without intended IPv6 (link-local addresses).
    assert!(
        !lists.iter().any(|l| l.ends_with("/afi-safi")),
        "{lists:#?}"
    );
    assert!(
        !lists
            .iter()
            .any(|l| l.contains("Vlan10") && l.contains("ipv6")),
        "{lists:#?}"
    );
    assert!(
        lists
            .iter()
            .any(|l| l.contains("Ethernet1") && l.contains("ipv6")),
        "{lists:#?}"
    );
}

/// The generated table of docs/yang-paths.md.
fn table() -> String {
    let mut out = String::new();
    out.push_str("| intent field | eos path | openconfig path | type | default |\n");
    out.push_str("|---|---|---|---|---|\n");
    let short = |s: &str| -> String {
        s.replace(BGP, "$BGP")
            .replace(VX, "$VXLAN")
            .replace(VTEP, "$VTEP")
    };
    for r in rows() {
        let oc = match r.oc.as_str() {
            "=" => "same".to_string(),
            "-" => "(none)".to_string(),
            other => format!("`{}`", short(other)),
        };
        let default = r
            .default
            .as_ref()
            .map_or_else(|| "-".to_string(), Value::to_string);
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            r.field,
            short(&r.eos),
            oc,
            r.yang,
            default
        ));
    }
    out
}

#[test]
fn docs_table_matches_the_mappers() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/yang-paths.md");
    let begin = "<!-- BEGIN GENERATED: mapper::tests::table -->\n";
    let end = "<!-- END GENERATED -->";
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let generated = table();
    let current = text
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table.to_string());
    if std::env::var_os("FABRIC_UPDATE_DOCS").is_some() {
        let (head, tail) = match (text.split_once(begin), text.split_once(end)) {
            (Some((head, _)), Some((_, tail))) => (head.to_string(), tail.to_string()),
            _ => (text.clone(), "\n".to_string()),
        };
        let new = format!("{head}{begin}{generated}{end}{tail}");
        std::fs::write(file, new).unwrap_or_else(|e| panic!("{file}: {e}"));
        return;
    }
    assert_eq!(
        current.as_deref(),
        Some(generated.as_str()),
        "docs/yang-paths.md is out of date: run FABRIC_UPDATE_DOCS=1 cargo test -p fabric-drift docs_table"
    );
}
