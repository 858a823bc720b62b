use super::*;
use crate::intent::{DeviceIntent, Ownership, Platform, RawConfig};

pub(crate) fn p(s: &str) -> Path {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The lab's device manifests: (name, platform, intent, raw config, ownership).
pub(crate) fn lab_devices() -> Vec<(String, Platform, DeviceIntent, Vec<RawConfig>, Ownership)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fabric/manifests/devices"
    );
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    entries.sort();
    for file in entries {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let doc: serde_json::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let spec = &doc["spec"];
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let platform: Platform =
            serde_json::from_value(spec["platform"].clone()).unwrap_or_default();
        let intent: DeviceIntent = serde_json::from_value(spec["intent"].clone())
            .unwrap_or_else(|e| panic!("{file:?}: intent: {e}"));
        let raw: Vec<RawConfig> = match spec.get("config") {
            Some(c) => serde_json::from_value(c.clone())
                .unwrap_or_else(|e| panic!("{file:?}: config: {e}")),
            None => Vec::new(),
        };
        let ownership: Ownership = spec
            .get("ownership")
            .map(|o| serde_json::from_value(o.clone()).unwrap_or_default())
            .unwrap_or_default();
        out.push((name, platform, intent, raw, ownership));
    }
    out
}

fn leaf1() -> (DeviceIntent, Vec<RawConfig>) {
    let (_, _, intent, raw, _) = lab_devices()
        .into_iter()
        .find(|d| d.0 == "leaf1")
        .unwrap_or_else(|| panic!("no leaf1 in the lab"));
    (intent, raw)
}

fn value_at<'a>(d: &'a Desired, path: &str) -> Option<&'a Value> {
    let path = p(path);
    d.leaves().find(|(lp, _)| *lp == path).map(|(_, v)| v)
}

#[test]
fn every_lab_device_compiles_on_both_platforms() {
    let devices = lab_devices();
    assert_eq!(devices.len(), 10, "2 spines and 8 leaves");
    for (name, platform, mut intent, raw, ownership) in devices {
        for platform in [platform, Platform::Eos, Platform::Openconfig] {
            let compiled = Desired::compile(platform, &intent, &raw, ownership, &[], &[]);
            // openconfig-mclag keys domains by number: the lab's names are refused, by name.
            if platform == Platform::Openconfig
                && let Some(m) = intent.mlag.as_mut()
            {
                let err = compiled.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(err.contains("mlag.domainId"), "{name}: {err}");
                m.domain_id = "1".into();
            }
            let d = Desired::compile(platform, &intent, &raw, ownership, &[], &[])
                .unwrap_or_else(|e| panic!("{name} ({platform:?}): {e}"));
            assert!(
                d.leaves().count() > 20,
                "{name}: {} leaves",
                d.leaves().count()
            );
            assert!(!d.subscription_roots().is_empty(), "{name}");
        }
    }
}

#[test]
fn leaf1_has_the_expected_eos_paths() {
    let (intent, raw) = leaf1();
    let d = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let bgp = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
    let expect: Vec<(String, Value)> = vec![
        ("/system/config/hostname".into(), "leaf1".into()),
        ("/interfaces/interface[name=Ethernet1]/config/description".into(), "to spine1 Ethernet1".into()),
        ("/interfaces/interface[name=Ethernet1]/config/mtu".into(), Value::Uint(9214)),
        ("/interfaces/interface[name=Ethernet1]/config/enabled".into(), Value::Bool(true)),
        ("/interfaces/interface[name=Ethernet1]/subinterfaces/subinterface[index=0]/ipv4/addresses/address[ip=10.0.1.1]/config/ip".into(), "10.0.1.1".into()),
        ("/interfaces/interface[name=Ethernet1]/subinterfaces/subinterface[index=0]/ipv4/addresses/address[ip=10.0.1.1]/config/prefix-length".into(), Value::Uint(31)),
        ("/interfaces/interface[name=Ethernet3]/ethernet/config/aggregate-id".into(), "Port-Channel10".into()),
        ("/interfaces/interface[name=Ethernet5]/ethernet/switched-vlan/config/interface-mode".into(), "openconfig-vlan-types:ACCESS".into()),
        ("/interfaces/interface[name=Ethernet5]/ethernet/switched-vlan/config/access-vlan".into(), Value::Uint(10)),
        ("/interfaces/interface[name=Ethernet6]/ethernet/switched-vlan/config/native-vlan".into(), Value::Uint(1)),
        ("/interfaces/interface[name=Ethernet6]/ethernet/switched-vlan/config/trunk-vlans".into(), Value::LeafList(vec![Value::Uint(10), Value::Uint(20)])),
        ("/interfaces/interface[name=Port-Channel10]/aggregation/switched-vlan/config/trunk-vlans".into(), Value::LeafList(vec![Value::from("1..4094")])),
        ("/interfaces/interface[name=Port-Channel10]/config/type".into(), "iana-if-type:ieee8023adLag".into()),
        ("/interfaces/interface[name=Vlan10]/routed-vlan/ipv4/addresses/address[ip=10.1.10.1]/config/prefix-length".into(), Value::Uint(24)),
        ("/network-instances/network-instance[name=gold]/interfaces/interface[id=Vlan10]/config/interface".into(), "Vlan10".into()),
        ("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]/config/vlan-id".into(), Value::Uint(10)),
        ("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]/config/name".into(), "web".into()),
        ("/network-instances/network-instance[name=gold]/config/type".into(), "openconfig-network-instance-types:L3VRF".into()),
        ("/network-instances/network-instance[name=gold]/config/route-distinguisher".into(), "10.0.250.11:1".into()),
        ("/interfaces/interface[name=Vxlan1]/arista-vxlan/config/src-ip-intf".into(), "Loopback1".into()),
        ("/interfaces/interface[name=Vxlan1]/arista-vxlan/config/udp-port".into(), Value::Uint(4789)),
        ("/interfaces/interface[name=Vxlan1]/arista-vxlan/config/vlan-to-vnis/vlan-to-vni[vlan=10]/vni".into(), Value::Uint(10010)),
        ("/interfaces/interface[name=Vxlan1]/arista-vxlan/config/vrf-to-vnis/vrf-to-vni[vrf=gold]/vni".into(), Value::Uint(50001)),
        (format!("{bgp}/global/config/as"), Value::Uint(65001)),
        (format!("{bgp}/global/config/router-id"), "10.0.250.11".into()),
        (format!("{bgp}/peer-groups/peer-group[peer-group-name=EVPN-OVERLAY]/config/peer-as"), Value::Uint(65000)),
        (format!("{bgp}/peer-groups/peer-group[peer-group-name=EVPN-OVERLAY]/transport/config/local-address"), "Loopback0".into()),
        (format!("{bgp}/peer-groups/peer-group[peer-group-name=EVPN-OVERLAY]/ebgp-multihop/config/multihop-ttl"), Value::Uint(3)),
        (format!("{bgp}/peer-groups/peer-group[peer-group-name=EVPN-OVERLAY]/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/config/enabled"), Value::Bool(true)),
        (format!("{bgp}/neighbors/neighbor[neighbor-address=10.0.1.0]/config/peer-group"), "UNDERLAY".into()),
        (format!("{bgp}/neighbors/neighbor[neighbor-address=10.0.1.0]/config/description"), "spine1 underlay".into()),
        (format!("{bgp}/neighbors/neighbor[neighbor-address=10.0.1.0]/config/enabled"), Value::Bool(true)),
        ("/arista/eos/mlag/config/domain-id".into(), "mlag-pair1".into()),
        ("/arista/eos/mlag/config/local-intf".into(), "Vlan4094".into()),
        ("/arista/eos/mlag/config/peer-address".into(), "10.0.199.1".into()),
        ("/arista/eos/mlag/config/peer-link-intf".into(), "Port-Channel10".into()),
    ];
    for (path, value) in expect {
        assert_eq!(value_at(&d, &path), Some(&value), "{path}");
    }
    // Paths are unique and sorted.
    let paths: Vec<Path> = d.leaves().map(|(p, _)| p).collect();
    assert!(paths.windows(2).all(|w| w[0] < w[1]));
    // Nothing the intent leaves out is invented: Ethernet1 has no switchport.
    assert!(
        value_at(
            &d,
            "/interfaces/interface[name=Ethernet1]/ethernet/switched-vlan/config/interface-mode"
        )
        .is_none()
    );
}

#[test]
fn subscription_roots_are_config_containers_without_overlap() {
    let (intent, raw) = leaf1();
    let d = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let roots = d.subscription_roots();
    assert!(roots.contains(&p("/system/config")));
    assert!(roots.contains(&p("/interfaces/interface[name=Ethernet1]/config")));
    assert!(roots.contains(&p("/arista/eos/mlag/config")));
    // The VXLAN maps live under arista-vxlan/config, which covers them.
    assert!(roots.contains(&p("/interfaces/interface[name=Vxlan1]/arista-vxlan/config")));
    for a in &roots {
        for b in &roots {
            assert!(a == b || !a.is_prefix_of(b), "{a} covers {b}");
        }
    }
    // Every evaluated leaf is under a root.
    for (leaf, _) in d.leaves() {
        assert!(
            roots.iter().any(|r| r.is_prefix_of(&leaf)),
            "{leaf} not subscribed"
        );
    }
    // Strict mode watches the owned lists with wildcard keys.
    let strict = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Strict, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let roots = strict.subscription_roots();
    assert!(roots.contains(&p(
        "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=*]/config"
    )));
    assert!(!roots.contains(&p(
        "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]/config"
    )));
}

#[test]
fn raw_config_joins_and_contradictions_name_both() {
    let (intent, _) = leaf1();
    let raw = vec![
        RawConfig {
            path: "/system/config/domain-name".into(),
            value: serde_json::json!("lab.example"),
        },
        RawConfig {
            path: "/interfaces/interface[name=Ethernet1]/config".into(),
            value: serde_json::json!({"load-interval": 5, "openconfig-interfaces:mtu": 9214}),
        },
    ];
    let d = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value_at(&d, "/system/config/domain-name"),
        Some(&Value::from("lab.example"))
    );
    assert_eq!(
        value_at(
            &d,
            "/interfaces/interface[name=Ethernet1]/config/load-interval"
        ),
        Some(&Value::Uint(5))
    );
    // The raw mtu agrees with the typed one: the typed leaf stays.
    let mtu = d.leaf(&p("/interfaces/interface[name=Ethernet1]/config/mtu"));
    // (A raw leaf would be of kind Auto.)
    assert_eq!(mtu.as_ref().map(|l| l.kind), Some(LeafKind::Uint));

    let bad = vec![RawConfig {
        path: "/interfaces/interface[name=Ethernet1]/config/mtu".into(),
        value: serde_json::json!("1500"),
    }];
    let err = Desired::compile(Platform::Eos, &intent, &bad, Ownership::Merge, &[], &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("config[0]"), "{err}");
    assert!(err.contains("interfaces[Ethernet1].mtu"), "{err}");
    assert!(
        err.contains("/interfaces/interface[name=Ethernet1]/config/mtu"),
        "{err}"
    );

    let unparsable = vec![RawConfig {
        path: "/interfaces/interface[name=Ethernet1".into(),
        value: serde_json::json!(1),
    }];
    let err = Desired::compile(
        Platform::Eos,
        &intent,
        &unparsable,
        Ownership::Merge,
        &[],
        &[],
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("config[0].path"), "{err}");
}

#[test]
fn exclusions_and_scope_decide_what_is_evaluated() {
    let (intent, raw) = leaf1();
    let d = Desired::compile(
        Platform::Eos,
        &intent,
        &raw,
        Ownership::Merge,
        &["/interfaces".to_string()],
        &["/interfaces/interface[name=*]/config/description".to_string()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let eval = |path: &str| d.leaf(&p(path)).map(|l| l.evaluated);
    assert_eq!(
        eval("/interfaces/interface[name=Ethernet1]/config/mtu"),
        Some(true)
    );
    assert_eq!(
        eval("/interfaces/interface[name=Ethernet1]/config/description"),
        Some(false)
    );
    assert_eq!(eval("/system/config/hostname"), Some(false));
    // Unevaluated leaves stay in leaves(): the device should still hold them.
    assert!(value_at(&d, "/system/config/hostname").is_some());
    assert!(!d.subscription_roots().contains(&p("/system/config")));

    let err = Desired::compile(
        Platform::Eos,
        &intent,
        &raw,
        Ownership::Merge,
        &[],
        &["interfaces//x".to_string()],
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("exclusions[0]"), "{err}");
}

#[test]
fn broken_references_name_the_field() {
    let (mut intent, raw) = leaf1();
    if let Some(vx) = intent.vxlan.as_mut() {
        vx.vlan_vnis.push(crate::intent::VlanVni {
            vlan: 30,
            vni: 10030,
        });
    }
    let err = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("vxlan.vlanVnis[30]"), "{err}");

    let (mut intent, raw) = leaf1();
    intent.interfaces[0].ipv4_addresses = vec!["10.0.1.1/33".into()];
    let err = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("interfaces[Ethernet1].ipv4Addresses"), "{err}");
}

#[test]
fn key_table_decodes_eos_vxlan_maps() {
    let json = br#"{"arista-exp-eos-vxlan:arista-vxlan": {"config": {"src-ip-intf": "Loopback1",
        "vlan-to-vnis": {"vlan-to-vni": [{"vlan": 10, "vni": 10010}]}}}}"#;
    let leaves = fabric_gnmi::flatten_json_ietf(
        &p("/interfaces/interface[name=Vxlan1]"),
        json,
        &crate::key_table(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(leaves.iter().any(|l| l.path
        == p("/interfaces/interface[name=Vxlan1]/arista-vxlan/config/vlan-to-vnis/vlan-to-vni[vlan=10]/vni")
        && l.value == Value::Uint(10010)));
}

/// fabric-sim builds a lab's state from `leaves()` and serves it as JSON_IETF; the engine decodes
/// it with `key_table()`. Both directions must give back the same leaves on both platforms.
#[test]
fn leaves_round_trip_through_json_ietf_with_the_key_table() {
    for (name, _, mut intent, raw, ownership) in lab_devices() {
        if let Some(m) = intent.mlag.as_mut() {
            m.domain_id = "1".into();
        }
        for platform in [Platform::Eos, Platform::Openconfig] {
            let d = Desired::compile(platform, &intent, &raw, ownership, &[], &[])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let leaves: Vec<fabric_gnmi::Leaf> = d
                .leaves()
                .map(|(p, v)| fabric_gnmi::Leaf::new(p.clone(), v.clone()))
                .collect();
            let bytes = fabric_gnmi::encode_json_ietf(&Path::root(), &leaves)
                .unwrap_or_else(|e| panic!("{name} {platform:?}: {e}"));
            let back = fabric_gnmi::flatten_json_ietf(&Path::root(), &bytes, &crate::key_table())
                .unwrap_or_else(|e| panic!("{name} {platform:?}: {e}"));
            for l in &leaves {
                let found = back.iter().find(|b| b.path == l.path);
                assert!(
                    found.is_some_and(|b| b.value.semantic_eq(&l.value)),
                    "{name} {platform:?}: {} = {} came back as {:?}",
                    l.path,
                    l.value,
                    found.map(|b| &b.value)
                );
            }
        }
    }
}

#[test]
fn strict_roots_watch_every_entry_of_an_owned_list_once() {
    let intent: DeviceIntent = serde_yaml::from_str(
        "
interfaces:
  - {name: Ethernet1, switchport: {mode: access, accessVlan: 10}}
  - {name: Ethernet2, switchport: {mode: access, accessVlan: 10}}
vlans: [{id: 10, name: ten}, {id: 20, name: twenty}]
bgp:
  asn: 65001
  routerId: 10.0.0.1
  neighbors:
    - {address: 10.1.0.0, peerAs: 65000, addressFamilies: [ipv4-unicast]}
    - {address: 10.1.0.2, peerAs: 65000, addressFamilies: [ipv4-unicast]}
",
    )
    .unwrap();
    let d = Desired::compile(
        Platform::Openconfig,
        &intent,
        &[],
        Ownership::Strict,
        &[],
        &[],
    )
    .unwrap();
    let roots: Vec<String> = d
        .subscription_roots()
        .iter()
        .map(|r| r.to_string())
        .collect();
    // One root for both ports' switched-vlan, one for both neighbors' address family.
    assert!(
        roots.contains(&"/interfaces/interface[name=*]/ethernet/switched-vlan/config".to_string()),
        "{roots:#?}"
    );
    let bgp = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
    assert!(
        roots.contains(&format!(
            "{bgp}/neighbors/neighbor[neighbor-address=*]/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/config"
        )),
        "{roots:#?}"
    );
    // The default network instance is not owned: it stays concrete.
    assert!(
        !roots
            .iter()
            .any(|r| r.contains("network-instance[name=*]/protocols")),
        "{roots:#?}"
    );
    assert!(roots.len() <= 12, "{roots:#?}");
    // Every evaluated leaf is still under a root.
    for (leaf, _) in d.leaves() {
        assert!(
            d.subscription_roots().iter().any(|r| r.covers(&leaf)),
            "{leaf}"
        );
    }
}
