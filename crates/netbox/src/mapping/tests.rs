//! Unit tests of the mapping on NetBox records in the form the REST API returns them.

use super::*;
use serde_json::json;

fn config() -> MappingConfig {
    MappingConfig {
        gnmi_port: 6030,
        credentials_secret_ref: Some(SecretRef {
            name: "creds".into(),
        }),
        platform: Platform::Openconfig,
        label_prefix: "netbox.fabric.netops.dev/".into(),
    }
}

/// A leaf as the API returns it: every feature the mapping reads, once.
fn leaf() -> Snapshot {
    serde_json::from_value(json!({
        "devices": [{
            "id": 1, "name": "Leaf1", "status": {"value": "active", "label": "Active"},
            "site": {"id": 5, "name": "DC 1", "slug": "dc1"},
            "role": {"id": 2, "name": "Leaf", "slug": "leaf"},
            "platform": {"id": 3, "name": "EOS", "slug": "eos"},
            "primary_ip4": {"id": 100, "address": "192.0.2.11/24", "family": {"value": 4}},
            "tags": [{"id": 1, "name": "Prod", "slug": "prod"}],
            "custom_fields": {
                "gnmi_port": null, "gnmi_tls": "skip-verify", "hostname": null,
                "fabric_labels": {"mlag-pair": "1"}, "vtep_source_interface": "Loopback1",
                "mlag_domain": "pair1", "mlag_local_interface": "Vlan4094",
                "mlag_peer_address": "10.0.199.1", "mlag_peer_link": "Port-Channel10",
                "bgp_router_id": null
            }
        }],
        "interfaces": [
            {"id": 10, "device": {"id": 1, "name": "Leaf1"}, "name": "Ethernet10", "description": "",
             "enabled": false, "mtu": 9214, "mode": null, "untagged_vlan": null, "tagged_vlans": [],
             "vrf": null, "lag": null, "mgmt_only": false},
            {"id": 11, "device": {"id": 1, "name": "Leaf1"}, "name": "Ethernet2", "description": "to spine",
             "enabled": true, "mtu": null, "mode": {"value": "access", "label": "Access"},
             "untagged_vlan": {"id": 210, "vid": 10, "name": "web"}, "tagged_vlans": [],
             "vrf": null, "lag": {"id": 13, "name": "Port-Channel10"}, "mgmt_only": false},
            {"id": 12, "device": {"id": 1, "name": "Leaf1"}, "name": "Ethernet3", "description": "trunk",
             "enabled": true, "mtu": null, "mode": {"value": "tagged", "label": "Tagged"},
             "untagged_vlan": {"id": 201, "vid": 1, "name": "default"},
             "tagged_vlans": [{"id": 220, "vid": 20, "name": "app"}, {"id": 210, "vid": 10, "name": "web"}],
             "vrf": null, "lag": null, "mgmt_only": false},
            {"id": 13, "device": {"id": 1, "name": "Leaf1"}, "name": "Port-Channel10", "description": "",
             "enabled": true, "mtu": null, "mode": {"value": "tagged-all", "label": "Tagged (All)"},
             "untagged_vlan": null, "tagged_vlans": [], "vrf": null, "lag": null, "mgmt_only": false},
            {"id": 14, "device": {"id": 1, "name": "Leaf1"}, "name": "Loopback0", "description": "rid",
             "enabled": true, "mtu": null, "mode": null, "untagged_vlan": null, "tagged_vlans": [],
             "vrf": null, "lag": null, "mgmt_only": false},
            {"id": 15, "device": {"id": 1, "name": "Leaf1"}, "name": "Vlan4094", "description": "",
             "enabled": true, "mtu": null, "mode": null, "untagged_vlan": null, "tagged_vlans": [],
             "vrf": null, "lag": null, "mgmt_only": false},
            {"id": 16, "device": {"id": 1, "name": "Leaf1"}, "name": "Vlan10", "description": "gw",
             "enabled": true, "mtu": null, "mode": null, "untagged_vlan": null, "tagged_vlans": [],
             "vrf": {"id": 300, "name": "gold", "rd": "1.1.1.1:1"}, "lag": null, "mgmt_only": false},
            {"id": 17, "device": {"id": 1, "name": "Leaf1"}, "name": "Management1", "description": "oob",
             "enabled": true, "mtu": null, "mode": null, "untagged_vlan": null, "tagged_vlans": [],
             "vrf": null, "lag": null, "mgmt_only": true}
        ],
        "ip_addresses": [
            {"id": 100, "address": "192.0.2.11/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 17},
            {"id": 101, "address": "10.0.250.11/32", "assigned_object_type": "dcim.interface", "assigned_object_id": 14},
            {"id": 102, "address": "2001:db8::11/128", "assigned_object_type": "dcim.interface", "assigned_object_id": 14},
            {"id": 103, "address": "10.0.199.0/31", "assigned_object_type": "dcim.interface", "assigned_object_id": 15},
            {"id": 104, "address": "10.1.10.1/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 16},
            {"id": 105, "address": "10.0.1.1/31", "assigned_object_type": "dcim.interface", "assigned_object_id": 10}
        ],
        "vrfs": [{"id": 300, "name": "gold", "rd": "1.1.1.1:1",
                  "import_targets": [{"id": 1, "name": "65000:2"}, {"id": 2, "name": "65000:1"}],
                  "export_targets": [{"id": 2, "name": "65000:1"}],
                  "custom_fields": {"l3_vni": 50001}}],
        "vlans": [
            {"id": 994, "vid": 4094, "name": "other-site", "site": {"id": 6, "slug": "dc2"}},
            {"id": 4094, "vid": 4094, "name": "mlag-peer", "site": {"id": 5, "slug": "dc1"}},
            {"id": 210, "vid": 10, "name": "web", "site": {"id": 5, "slug": "dc1"}}
        ],
        "l2vpn_terminations": [
            {"id": 1, "l2vpn": {"id": 7, "name": "web", "identifier": 10010, "type": {"value": "vxlan-evpn"}},
             "assigned_object_type": "ipam.vlan", "assigned_object_id": 210},
            {"id": 2, "l2vpn": {"id": 8, "name": "vpls", "identifier": 999, "type": {"value": "vpls"}},
             "assigned_object_type": "ipam.vlan", "assigned_object_id": 220}
        ],
        "bgp_sessions": [
            {"id": 1, "device": {"id": 1, "name": "Leaf1"},
             "local_address": {"id": 105, "address": "10.0.1.1/31"},
             "remote_address": {"id": 900, "address": "10.0.1.0/31"},
             "local_as": {"id": 1, "asn": 65001}, "remote_as": {"id": 2, "asn": 65000},
             "status": {"value": "active"}, "description": "spine1 underlay",
             "peer_group": {"id": 50, "name": "UNDERLAY"}, "extra_attributes": {}},
            {"id": 2, "device": {"id": 1, "name": "Leaf1"},
             "local_address": {"id": 103, "address": "10.0.199.0/31"},
             "remote_address": {"id": 901, "address": "10.0.199.1/31"},
             "local_as": {"id": 1, "asn": 65001}, "remote_as": {"id": 1, "asn": 65001},
             "status": {"value": "offline"}, "description": "",
             "peer_group": {"id": 51, "name": "MLAG-IBGP"}, "extra_attributes": null},
            {"id": 3, "device": {"id": 1, "name": "Leaf1"},
             "local_address": {"id": 101, "address": "10.0.250.11/32"},
             "remote_address": {"id": 902, "address": "10.0.250.1/32"},
             "local_as": {"id": 1, "asn": 65001}, "remote_as": {"id": 3, "asn": 65100},
             "status": {"value": "active"}, "description": "external",
             "peer_group": null, "extra_attributes": {"address_families": ["l2vpn-evpn"]}}
        ],
        "bgp_peer_groups": [
            {"id": 50, "name": "UNDERLAY", "description": "to spines", "remote_as": {"id": 2, "asn": 65000},
             "extra_attributes": {"address_families": ["ipv4-unicast"], "update_source": "Loopback0", "ebgp_multihop": 3}},
            {"id": 51, "name": "MLAG-IBGP", "description": "", "remote_as": null,
             "extra_attributes": {"ibgp": true}}
        ]
    }))
    .unwrap()
}

fn map_one(s: &Snapshot) -> Result<SyncedDevice, InvalidData> {
    let (mut devices, mut errors) = map_snapshot(s, &config());
    match (devices.pop(), errors.pop()) {
        (Some(d), None) => Ok(d),
        (None, Some(e)) => Err(e),
        other => panic!("expected one device or one error, got {other:?}"),
    }
}

#[test]
fn device_target_platform_and_labels() {
    let d = map_one(&leaf()).unwrap();
    assert_eq!(d.name, "leaf1");
    assert_eq!(d.netbox_id, 1);
    assert_eq!(d.spec.target.address, "192.0.2.11:6030");
    assert_eq!(d.spec.target.tls.mode, TlsMode::SkipVerify);
    assert_eq!(
        d.spec.target.credentials_secret_ref.as_ref().unwrap().name,
        "creds"
    );
    assert_eq!(d.spec.platform, Platform::Eos, "the device's platform wins");
    assert_eq!(d.spec.intent.hostname.as_deref(), Some("Leaf1"));
    let labels: Vec<(&str, &str)> = d
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("netbox.fabric.netops.dev/mlag-pair", "1"),
            ("netbox.fabric.netops.dev/role", "leaf"),
            ("netbox.fabric.netops.dev/site", "dc1"),
            ("netbox.fabric.netops.dev/tag-prod", "true"),
        ]
    );
}

#[test]
fn gnmi_port_custom_field_overrides_the_source_default() {
    let mut s = leaf();
    s.devices[0]
        .custom_fields
        .insert("gnmi_port".into(), json!(57400));
    assert_eq!(map_one(&s).unwrap().spec.target.address, "192.0.2.11:57400");
}

#[test]
fn interfaces_in_natural_order_without_management() {
    let d = map_one(&leaf()).unwrap();
    let names: Vec<&str> = d
        .spec
        .intent
        .interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Ethernet2",
            "Ethernet3",
            "Ethernet10",
            "Loopback0",
            "Port-Channel10",
            "Vlan10",
            "Vlan4094"
        ]
    );
    let eth10 = &d.spec.intent.interfaces[2];
    assert!(!eth10.enabled);
    assert_eq!(eth10.mtu, Some(9214));
    assert_eq!(eth10.description, None, "an empty description is absent");
    assert_eq!(eth10.ipv4_addresses, ["10.0.1.1/31"]);
}

#[test]
fn switchports_lags_and_vrfs() {
    let d = map_one(&leaf()).unwrap();
    let by = |n: &str| {
        d.spec
            .intent
            .interfaces
            .iter()
            .find(|i| i.name == n)
            .unwrap()
    };
    let access = by("Ethernet2");
    assert_eq!(
        access.switchport,
        Some(Switchport {
            mode: SwitchportMode::Access,
            access_vlan: Some(10),
            native_vlan: None,
            trunk_vlans: vec![]
        })
    );
    assert_eq!(access.aggregate_id.as_deref(), Some("Port-Channel10"));
    let trunk = by("Ethernet3").switchport.clone().unwrap();
    assert_eq!(trunk.mode, SwitchportMode::Trunk);
    assert_eq!(trunk.native_vlan, Some(1));
    assert_eq!(trunk.trunk_vlans, ["10", "20"]);
    let all = by("Port-Channel10").switchport.clone().unwrap();
    assert_eq!(all.trunk_vlans, ["1-4094"]);
    assert_eq!(all.native_vlan, None);
    let lo0 = by("Loopback0");
    assert_eq!(lo0.ipv4_addresses, ["10.0.250.11/32"]);
    assert_eq!(lo0.ipv6_addresses, ["2001:db8::11/128"]);
    assert_eq!(by("Vlan10").vrf.as_deref(), Some("gold"));
    assert_eq!(
        d.spec.intent.vrfs,
        [Vrf {
            name: "gold".into(),
            rd: Some("1.1.1.1:1".into()),
            import_route_targets: vec!["65000:1".into(), "65000:2".into()],
            export_route_targets: vec!["65000:1".into()],
        }]
    );
}

#[test]
fn vlans_come_from_members_and_svis_without_vlan_1() {
    let d = map_one(&leaf()).unwrap();
    assert_eq!(
        d.spec.intent.vlans,
        [
            Vlan {
                id: 10,
                name: Some("web".into())
            },
            Vlan {
                id: 20,
                name: Some("app".into())
            },
            Vlan {
                id: 4094,
                name: Some("mlag-peer".into())
            },
        ],
        "VLAN 4094 is the site's, not the other site's"
    );
}

#[test]
fn vxlan_from_l2vpns_and_vrf_custom_field() {
    let d = map_one(&leaf()).unwrap();
    let v = d.spec.intent.vxlan.unwrap();
    assert_eq!(v.source_interface, "Loopback1");
    assert_eq!(v.udp_port, 4789);
    assert_eq!(
        v.vlan_vnis,
        [VlanVni {
            vlan: 10,
            vni: 10010
        }],
        "a vpls L2VPN is no VNI"
    );
    assert_eq!(
        v.vrf_vnis,
        [VrfVni {
            vrf: "gold".into(),
            vni: 50001
        }]
    );
}

#[test]
fn bgp_from_netbox_bgp_sessions_and_peer_groups() {
    let d = map_one(&leaf()).unwrap();
    let b = d.spec.intent.bgp.unwrap();
    assert_eq!(b.asn, 65001);
    assert_eq!(b.router_id, "10.0.250.11", "Loopback0's address");
    assert_eq!(
        b.peer_groups,
        [
            PeerGroup {
                name: "MLAG-IBGP".into(),
                peer_as: Some(65001),
                description: None,
                update_source: None,
                ebgp_multihop: None,
                address_families: vec![],
            },
            PeerGroup {
                name: "UNDERLAY".into(),
                peer_as: Some(65000),
                description: Some("to spines".into()),
                update_source: Some("Loopback0".into()),
                ebgp_multihop: Some(3),
                address_families: vec![AddressFamily::Ipv4Unicast],
            },
        ]
    );
    assert_eq!(
        b.neighbors,
        [
            Neighbor {
                address: "10.0.1.0".into(),
                peer_as: None,
                peer_group: Some("UNDERLAY".into()),
                description: Some("spine1 underlay".into()),
                enabled: true,
                address_families: vec![],
            },
            Neighbor {
                address: "10.0.199.1".into(),
                peer_as: None,
                peer_group: Some("MLAG-IBGP".into()),
                description: None,
                enabled: false,
                address_families: vec![],
            },
            Neighbor {
                address: "10.0.250.1".into(),
                peer_as: Some(65100),
                peer_group: None,
                description: Some("external".into()),
                enabled: true,
                address_families: vec![AddressFamily::L2vpnEvpn],
            },
        ]
    );
    let m = d.spec.intent.mlag.unwrap();
    assert_eq!(m.domain_id, "pair1");
    assert_eq!(m.peer_address, "10.0.199.1");
}

#[test]
fn bgp_router_id_custom_field_wins() {
    let mut s = leaf();
    s.devices[0]
        .custom_fields
        .insert("bgp_router_id".into(), json!("192.0.2.1"));
    assert_eq!(
        map_one(&s).unwrap().spec.intent.bgp.unwrap().router_id,
        "192.0.2.1"
    );
}

#[test]
fn bad_data_names_the_object_and_spares_other_devices() {
    let mut s = leaf();
    // A second, valid device.
    let mut other = s.devices[0].clone();
    other.id = 2;
    other.name = Some("leaf2".into());
    other.custom_fields.remove("vtep_source_interface");
    other.custom_fields.remove("mlag_domain");
    other.custom_fields.remove("mlag_local_interface");
    other.custom_fields.remove("mlag_peer_address");
    other.custom_fields.remove("mlag_peer_link");
    s.devices.push(other);
    // Layer 2 with an address on leaf1.
    s.ip_addresses.push(serde_json::from_value(json!({
        "id": 200, "address": "10.9.9.9/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 12
    })).unwrap());
    let (devices, errors) = map_snapshot(&s, &config());
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "leaf2");
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.object.kind, "dcim.interface");
    assert_eq!(e.object.id, 12);
    assert_eq!(e.object.name, "Leaf1 Ethernet3");
    assert_eq!(e.device, "Leaf1");
    assert!(e.to_string().contains("cannot have IP addresses"), "{e}");
}

#[test]
fn each_kind_of_bad_data_is_reported() {
    type Change = Box<dyn Fn(&mut Snapshot)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "no primary IPv4",
            Box::new(|s| s.devices[0].primary_ip4 = None),
        ),
        (
            "not a port",
            Box::new(|s| {
                s.devices[0]
                    .custom_fields
                    .insert("gnmi_port".into(), json!(70000));
            }),
        ),
        (
            "expected tls",
            Box::new(|s| {
                s.devices[0]
                    .custom_fields
                    .insert("gnmi_tls".into(), json!("maybe"));
            }),
        ),
        (
            "q-in-q",
            Box::new(|s| {
                s.interfaces[0].mode = Some(records::ChoiceOrString::String("q-in-q".into()));
            }),
        ),
        (
            "has no VLAN 4094",
            Box::new(|s| s.vlans.retain(|v| v.vid != 4094)),
        ),
        (
            "mlag_peer_link is needed",
            Box::new(|s| {
                s.devices[0].custom_fields.remove("mlag_peer_link");
            }),
        ),
        (
            "differs from AS",
            Box::new(|s| s.bgp_sessions[2].local_as.as_mut().unwrap().asn = 65009),
        ),
        (
            "VNIs but no custom field vtep_source_interface",
            Box::new(|s| {
                s.devices[0].custom_fields.remove("vtep_source_interface");
            }),
        ),
        (
            "Kubernetes object name",
            Box::new(|s| s.devices[0].name = Some("leaf 1".into())),
        ),
        (
            "address_families",
            Box::new(|s| {
                s.bgp_sessions[0].extra_attributes = Some(json!({"address_families": ["ipv5"]}));
            }),
        ),
        (
            "not a valid Kubernetes label",
            Box::new(|s| {
                s.devices[0]
                    .custom_fields
                    .insert("fabric_labels".into(), json!({"bad key!": "x"}));
            }),
        ),
    ];
    for (expect, change) in cases {
        let mut s = leaf();
        change(&mut s);
        let e = map_one(&s).expect_err(expect);
        assert!(e.to_string().contains(expect), "expected {expect:?} in {e}");
    }
}

#[test]
fn a_device_without_sessions_or_vnis_has_no_bgp_or_vxlan() {
    let mut s = leaf();
    s.bgp_sessions.clear();
    s.l2vpn_terminations.clear();
    s.vrfs[0].custom_fields.clear();
    s.devices[0].custom_fields.remove("vtep_source_interface");
    let d = map_one(&s).unwrap();
    assert_eq!(d.spec.intent.bgp, None);
    assert_eq!(d.spec.intent.vxlan, None);
}

#[test]
fn duplicate_names_are_errors_not_overwrites() {
    let mut s = leaf();
    let mut twin = s.devices[0].clone();
    twin.id = 2;
    twin.name = Some("leaf1".into());
    s.devices.push(twin);
    let (devices, errors) = map_snapshot(&s, &config());
    assert!(devices.is_empty(), "{devices:?}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("same name"));
}

#[test]
fn natural_order() {
    let mut v = vec![
        "Ethernet10",
        "Ethernet2",
        "Ethernet1/10",
        "Ethernet1/2",
        "Loopback0",
    ];
    v.sort_by_key(|s| natural_key(s));
    assert_eq!(
        v,
        [
            "Ethernet1/2",
            "Ethernet1/10",
            "Ethernet2",
            "Ethernet10",
            "Loopback0"
        ]
    );
}

#[test]
fn data_the_crd_refuses_names_its_netbox_object_and_spares_other_devices() {
    type Change = Box<dyn Fn(&mut Snapshot)>;
    let cases: Vec<(&str, (&str, u64, &str), Change)> = vec![
        (
            "spec.intent.vrfs[0].name",
            ("ipam.vrf", 300, "Customer A"),
            Box::new(|s| s.vrfs[0].name = "Customer A".into()),
        ),
        (
            "spec.intent.vrfs[0].rd",
            ("ipam.vrf", 300, "gold"),
            Box::new(|s| s.vrfs[0].rd = Some("not an RD".into())),
        ),
        (
            "spec.intent.vrfs[0].importRouteTargets",
            ("ipam.vrf", 300, "gold"),
            Box::new(|s| s.vrfs[0].import_targets[0].name = Some("target:1:2".into())),
        ),
        (
            "spec.intent.bgp.peerGroups[0].name",
            ("netbox_bgp.bgppeergroup", 51, "MLAG IBGP"),
            Box::new(|s| {
                s.bgp_peer_groups[1].name = "MLAG IBGP".into();
                s.bgp_sessions[1].peer_group.as_mut().unwrap().name = Some("MLAG IBGP".into());
            }),
        ),
    ];
    for (field, (kind, id, name), change) in cases {
        let mut s = leaf();
        // The interface in the VRF refers to it by name too.
        change(&mut s);
        let vrf_name = s.vrfs[0].name.clone();
        s.interfaces[6].vrf.as_mut().unwrap().name = Some(vrf_name);
        let mut other = s.devices[0].clone();
        other.id = 2;
        other.name = Some("leaf2".into());
        for f in [
            "vtep_source_interface",
            "mlag_domain",
            "mlag_local_interface",
            "mlag_peer_address",
            "mlag_peer_link",
        ] {
            other.custom_fields.remove(f);
        }
        s.devices.push(other);
        let (devices, errors) = map_snapshot(&s, &config());
        assert_eq!(
            devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["leaf2"],
            "{field}: the other device still maps"
        );
        assert_eq!(errors.len(), 1, "{field}: {errors:?}");
        let e = &errors[0];
        assert_eq!(
            (e.object.kind.as_str(), e.object.id, e.object.name.as_str()),
            (kind, id, name),
            "{e}"
        );
        assert_eq!(e.device, "Leaf1");
        assert!(e.message.contains(field), "{field} not in {e}");
        assert!(e.message.contains("would be refused"), "{e}");
    }
}
