//! The mapping on NetBox records recorded from the lab fabric (no NetBox needed):
//! tests/data/lab-snapshot.json is what `sync` fetched from a NetBox seeded by `seed::lab`
//! (re-record with `cargo run -p fabric-netbox --example snapshot -- lab`).

use crate::common;

use fabric_netbox::{Snapshot, map_snapshot};

#[test]
fn recorded_lab_records_map_to_the_example_manifests() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab-snapshot.json");
    let text = std::fs::read_to_string(path).unwrap();
    let snapshot: Snapshot = serde_json::from_str(&text).unwrap();
    let (devices, errors) = map_snapshot(&snapshot, &common::config_for_site("lab").mapping);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(devices.len(), 10);
    for d in &devices {
        common::assert_matches_manifest(d);
    }
}

#[test]
fn a_recorded_record_broken_by_hand_is_reported_not_synced() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lab-snapshot.json");
    let mut snapshot: Snapshot =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // leaf3's Ethernet5 (access port) gets an address.
    let leaf3 = snapshot
        .devices
        .iter()
        .find(|d| d.name.as_deref() == Some("leaf3"))
        .unwrap()
        .id;
    let eth5 = snapshot
        .interfaces
        .iter()
        .find(|i| i.device.id == leaf3 && i.name == "Ethernet5")
        .unwrap()
        .id;
    let mut ip = snapshot.ip_addresses[0].clone();
    ip.id = 999_999;
    ip.address = "10.9.9.9/24".into();
    ip.assigned_object_id = Some(eth5);
    snapshot.ip_addresses.push(ip);
    let (devices, errors) = map_snapshot(&snapshot, &common::config_for_site("lab").mapping);
    assert_eq!(devices.len(), 9);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].object.name, "leaf3 Ethernet5");
}
