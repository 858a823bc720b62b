//! What the API server answers to bad input, checked without one: schema (types, enums, ranges),
//! unknown fields, list-map keys and CEL rules, through `fabric_api::validation::Validator`.

use std::sync::LazyLock;

use fabric_api::validation::{Invalid, Validator};
use serde_json::{Value, json};

static VALIDATOR: LazyLock<Validator> = LazyLock::new(Validator::new);

fn device(intent: Value) -> Value {
    json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "FabricDevice",
        "metadata": {"name": "leaf1"},
        "spec": {
            "target": {"address": "10.0.0.11:6030", "credentialsSecretRef": {"name": "gnmi"}},
            "intent": intent,
        },
    })
}

fn policy(spec: Value) -> Value {
    json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "DriftPolicy",
        "metadata": {"name": "leaves"},
        "spec": spec,
    })
}

/// The error text for an object that must be refused.
fn refused(object: &Value) -> String {
    match VALIDATOR.validate(object, None) {
        Ok(()) => panic!("accepted but should be refused: {object:#}"),
        Err(e) => {
            println!("{e}");
            e.to_string()
        }
    }
}

fn accepted(object: &Value) {
    if let Err(e) = VALIDATOR.validate(object, None) {
        panic!("refused but should be accepted: {e}\n{object:#}");
    }
}

#[test]
fn a_policy_with_an_unknown_mode_is_refused_naming_the_modes() {
    let err = refused(&policy(json!({"mode": "sometimes"})));
    assert!(err.contains("DriftPolicy \"leaves\" is invalid"), "{err}");
    assert!(err.contains("spec.mode"), "{err}");
    assert!(err.contains(r#"Unsupported value: "sometimes""#), "{err}");
    assert!(err.contains(r#""alert", "approve", "auto""#), "{err}");
    for mode in ["alert", "approve", "auto"] {
        accepted(&policy(json!({"mode": mode})));
    }
}

#[test]
fn a_policy_needs_a_mode() {
    let err = refused(&policy(json!({"priority": 10})));
    assert!(err.contains("spec.mode: Required value"), "{err}");
}

#[test]
fn vlan_ids_are_1_to_4094() {
    accepted(&device(json!({"vlans": [{"id": 1}, {"id": 4094}]})));
    for bad in [0, 4095] {
        let err = refused(&device(json!({"vlans": [{"id": bad}]})));
        assert!(err.contains("spec.intent.vlans[0].id"), "{err}");
    }
}

#[test]
fn vlan_ids_are_unique() {
    let err = refused(&device(
        json!({"vlans": [{"id": 10, "name": "web"}, {"id": 10, "name": "app"}]}),
    ));
    assert!(
        err.contains("spec.intent.vlans[1]: Duplicate value: id=10"),
        "{err}"
    );
}

#[test]
fn interface_names_are_unique() {
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet1"}, {"name": "Ethernet1", "mtu": 9214}]}),
    ));
    assert!(err.contains("Duplicate value: name=\"Ethernet1\""), "{err}");
}

#[test]
fn the_address_is_host_and_port() {
    for good in [
        "10.0.0.11:6030",
        "leaf1.dc1.example.net:6030",
        "[2001:db8::11]:6030",
        "127.0.0.1:65535",
    ] {
        let mut d = device(json!({}));
        d["spec"]["target"]["address"] = json!(good);
        accepted(&d);
    }
    for bad in [
        "10.0.0.11",
        "leaf1:",
        "leaf1:99999",
        "http://leaf1:6030",
        "leaf1:6030/x",
        "2001:db8::11:6030",
    ] {
        let mut d = device(json!({}));
        d["spec"]["target"]["address"] = json!(bad);
        let err = refused(&d);
        assert!(err.contains("address must be host:port"), "{bad}: {err}");
    }
}

#[test]
fn switchport_fields_follow_the_mode() {
    accepted(&device(
        json!({"interfaces": [{"name": "Ethernet5", "switchport": {"mode": "access", "accessVlan": 10}}]}),
    ));
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet5", "switchport": {"mode": "trunk", "accessVlan": 10}}]}),
    ));
    assert!(
        err.contains("accessVlan applies to mode access only"),
        "{err}"
    );
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet5", "switchport": {"mode": "access", "trunkVlans": ["10"]}}]}),
    ));
    assert!(
        err.contains("trunkVlans and nativeVlan apply to mode trunk only"),
        "{err}"
    );
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet5", "switchport": {"mode": "trunk", "trunkVlans": ["10-x"]}}]}),
    ));
    assert!(err.contains("trunkVlans[0]"), "{err}");
}

#[test]
fn a_layer2_interface_has_no_ip_addresses() {
    let err = refused(&device(json!({"interfaces": [{
        "name": "Ethernet5",
        "switchport": {"mode": "access"},
        "ipv4Addresses": ["10.0.0.1/24"],
    }]})));
    assert!(err.contains("cannot have IP addresses"), "{err}");
}

#[test]
fn addresses_carry_a_prefix_length() {
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet1", "ipv4Addresses": ["10.0.0.1"]}]}),
    ));
    assert!(
        err.contains("spec.intent.interfaces[0].ipv4Addresses[0]"),
        "{err}"
    );
    accepted(&device(
        json!({"interfaces": [{"name": "Ethernet1", "ipv6Addresses": ["2001:db8::1/64"]}]}),
    ));
}

#[test]
fn a_bgp_neighbor_needs_a_peer_as_or_a_peer_group() {
    let bgp = |neighbor: Value| {
        device(json!({"bgp": {"asn": 65001, "routerId": "10.0.250.11", "neighbors": [neighbor]}}))
    };
    accepted(&bgp(json!({"address": "10.0.1.0", "peerAs": 65000})));
    accepted(&bgp(
        json!({"address": "10.0.1.0", "peerGroup": "UNDERLAY"}),
    ));
    let err = refused(&bgp(json!({"address": "10.0.1.0"})));
    assert!(err.contains("needs peerAs, or a peerGroup"), "{err}");
    let err = refused(&bgp(json!({"address": "not-an-ip", "peerAs": 65000})));
    assert!(
        err.contains("spec.intent.bgp.neighbors[0].address"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_refused_like_kubectl_apply_does() {
    let err = refused(&device(
        json!({"interfaces": [{"name": "Ethernet1", "descripton": "typo"}]}),
    ));
    assert!(
        err.contains("spec.intent.interfaces[0].descripton: unknown field"),
        "{err}"
    );
}

#[test]
fn raw_config_values_may_be_any_json() {
    let mut d = device(json!({}));
    d["spec"]["config"] = json!([
        {"path": "/system/config/domain-name", "value": "lab.example.net"},
        {"path": "/interfaces/interface[name=Ethernet1]/config/mtu", "value": 9214},
        {"path": "/system/ntp", "value": {"config": {"enabled": true}, "servers": [{"address": "10.0.0.1"}]}},
    ]);
    accepted(&d);
}

#[test]
fn exclusion_patterns_must_parse() {
    accepted(&policy(json!({
        "mode": "alert",
        "exclusions": ["/interfaces/interface[name=*]/config/description", "/network-instances/.../bgp/neighbors/..."],
        "scope": ["/interfaces", "openconfig:/network-instances/network-instance[name=default]/vlans"],
    })));
    for bad in [
        "interfaces/interface",
        "/interfaces/interface[name=*",
        "/interfaces//config",
        "/a[=x]",
    ] {
        let err = refused(&policy(json!({"mode": "alert", "exclusions": [bad]})));
        assert!(
            err.contains("each exclusion must be a gNMI path pattern"),
            "{bad}: {err}"
        );
        assert!(
            !fabric_drift::policy::is_path_pattern(bad),
            "{bad}: the Rust check agrees with the CRD rule"
        );
    }
}

#[test]
fn durations_and_windows_are_checked() {
    let err = refused(&policy(json!({"mode": "auto", "dampening": "5 minutes"})));
    assert!(err.contains("spec.dampening"), "{err}");
    let window = |schedule: &str| {
        policy(
            json!({"mode": "auto", "remediation": {"maintenanceWindows": [{"schedule": schedule, "duration": "2h"}]}}),
        )
    };
    accepted(&window("0 2 * * 1-5"));
    let err = refused(&window("every night"));
    assert!(err.contains("five-field cron expression"), "{err}");
}

fn event(device: &str, phase: Option<&str>) -> Value {
    let mut e = json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "DriftEvent",
        "metadata": {"name": "leaf1-3f2a"},
        "spec": {
            "device": device,
            "policy": "leaves-approve",
            "mode": "approve",
            "fingerprint": "3f2a".repeat(16),
            "detectedAt": "2026-11-21T10:00:00Z",
            "pathCount": 1,
            "drifts": [{
                "path": "/interfaces/interface[name=Ethernet1]/config/mtu",
                "kind": "Modified",
                "expected": 9214,
                "actual": 1500,
            }],
            "plan": {"updates": [{"path": "/interfaces/interface[name=Ethernet1]/config/mtu", "value": 9214}]},
        },
    });
    if let Some(phase) = phase {
        e["status"] = json!({"phase": phase});
    }
    e
}

#[test]
fn a_drift_event_spec_is_immutable_but_its_status_moves() {
    let old = event("leaf1", Some("Pending"));
    accepted(&old);
    VALIDATOR
        .validate(&event("leaf1", Some("Approved")), Some(&old))
        .expect("a status change is an allowed update");
    let err = VALIDATOR
        .validate(&event("leaf2", Some("Pending")), Some(&old))
        .expect_err("a spec change is refused");
    assert!(err.to_string().contains("spec is immutable"), "{err}");
}

#[test]
fn a_drift_event_fingerprint_is_a_sha256() {
    let mut e = event("leaf1", None);
    e["spec"]["fingerprint"] = json!("abc");
    let err = refused(&e);
    assert!(err.contains("spec.fingerprint"), "{err}");
}

#[test]
fn a_netbox_source_url_is_http() {
    let source = |url: &str| {
        json!({
            "apiVersion": "fabric.netops.dev/v1alpha1",
            "kind": "NetBoxSource",
            "metadata": {"name": "dc1"},
            "spec": {"url": url, "tokenSecretRef": {"name": "netbox", "key": "token"}, "interval": "30s"},
        })
    };
    accepted(&source("https://netbox.example.net"));
    accepted(&source("http://127.0.0.1:8000/"));
    let err = refused(&source("netbox.example.net"));
    assert!(err.contains("url must be an http(s) URL"), "{err}");
}

#[test]
fn objects_of_other_kinds_are_not_ours_to_judge() {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    assert!(matches!(
        VALIDATOR.validate(&secret, None),
        Err(Invalid::UnknownKind { .. })
    ));
}
