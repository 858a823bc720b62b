//! The lab fabric entered into a real NetBox syncs back to exactly the intent of
//! examples/fabric/manifests/devices/*.yaml. Needs scripts/netbox.sh.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;

use fabric_api::device::FabricDevice;
use fabric_netbox::{seed, sync};

fn manifest(name: &str) -> FabricDevice {
    let path =
        common::workspace_root().join(format!("examples/fabric/manifests/devices/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares two keyed lists entry by entry, so a failure names the entry that differs.
fn same_by_key<T: Debug + PartialEq, K: Ord + Debug>(
    what: &str,
    got: &[T],
    want: &[T],
    key: impl Fn(&T) -> K,
) {
    let got: BTreeMap<K, &T> = got.iter().map(|t| (key(t), t)).collect();
    let want: BTreeMap<K, &T> = want.iter().map(|t| (key(t), t)).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: the keys differ"
    );
    for (k, w) in &want {
        assert_eq!(got[k], *w, "{what} {k:?}");
    }
}

#[tokio::test]
async fn lab_fabric_matches_the_example_manifests() {
    let client = common::ready_client().await;
    seed::lab(&client, "lab")
        .await
        .expect("seeding the lab fabric");
    let result = sync(&client, &common::config_for_site("lab"))
        .await
        .expect("sync");
    assert!(result.errors.is_empty(), "errors: {:#?}", result.errors);
    let names: Vec<&str> = result.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "leaf1", "leaf2", "leaf3", "leaf4", "leaf5", "leaf6", "leaf7", "leaf8", "spine1",
            "spine2"
        ]
    );
    for got in &result.devices {
        let want = manifest(&got.name);
        let d = &got.name;
        assert_eq!(
            Some(&got.labels),
            want.metadata.labels.as_ref(),
            "{d}: labels"
        );
        let (g, w) = (&got.spec, &want.spec);
        assert_eq!(g.target, w.target, "{d}: target");
        assert_eq!(g.platform, w.platform, "{d}: platform");
        assert_eq!(g.ownership, w.ownership, "{d}: ownership");
        assert_eq!(g.config, w.config, "{d}: raw config");
        let (gi, wi) = (&g.intent, &w.intent);
        assert_eq!(gi.hostname, wi.hostname, "{d}: hostname");
        same_by_key(
            &format!("{d}: interface"),
            &gi.interfaces,
            &wi.interfaces,
            |i| i.name.clone(),
        );
        same_by_key(&format!("{d}: VLAN"), &gi.vlans, &wi.vlans, |v| v.id);
        same_by_key(&format!("{d}: VRF"), &gi.vrfs, &wi.vrfs, |v| v.name.clone());
        match (&gi.vxlan, &wi.vxlan) {
            (Some(gv), Some(wv)) => {
                assert_eq!(gv.source_interface, wv.source_interface, "{d}: VTEP source");
                assert_eq!(gv.udp_port, wv.udp_port, "{d}: VXLAN UDP port");
                same_by_key(
                    &format!("{d}: VLAN VNI"),
                    &gv.vlan_vnis,
                    &wv.vlan_vnis,
                    |v| v.vlan,
                );
                same_by_key(&format!("{d}: VRF VNI"), &gv.vrf_vnis, &wv.vrf_vnis, |v| {
                    v.vrf.clone()
                });
            }
            (g, w) => assert_eq!(g, w, "{d}: vxlan"),
        }
        match (&gi.bgp, &wi.bgp) {
            (Some(gb), Some(wb)) => {
                assert_eq!(gb.asn, wb.asn, "{d}: BGP AS");
                assert_eq!(gb.router_id, wb.router_id, "{d}: router id");
                same_by_key(
                    &format!("{d}: peer group"),
                    &gb.peer_groups,
                    &wb.peer_groups,
                    |p| p.name.clone(),
                );
                same_by_key(
                    &format!("{d}: neighbor"),
                    &gb.neighbors,
                    &wb.neighbors,
                    |n| n.address.clone(),
                );
            }
            (g, w) => assert_eq!(g, w, "{d}: bgp"),
        }
        assert_eq!(gi.mlag, wi.mlag, "{d}: mlag");
        // Nothing left over: the whole intent is equal once lists are put in the same order.
        let sorted = |i: &fabric_drift::intent::DeviceIntent| {
            let mut i = i.clone();
            i.interfaces.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(b) = &mut i.bgp {
                b.peer_groups.sort_by(|x, y| x.name.cmp(&y.name));
                b.neighbors.sort_by(|x, y| x.address.cmp(&y.address));
            }
            i
        };
        assert_eq!(sorted(gi), sorted(wi), "{d}: intent");
    }
    assert_eq!(result.requests, 8, "eight lists, one page each");
}
