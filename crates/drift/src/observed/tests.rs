use super::*;
use crate::desired::tests::{lab_devices, p};
use crate::intent::{DeviceIntent, Platform, RawConfig};

fn leaf1() -> (DeviceIntent, Vec<RawConfig>) {
    let (_, _, intent, raw, _) = lab_devices()
        .into_iter()
        .find(|d| d.0 == "leaf1")
        .unwrap_or_else(|| panic!("no leaf1"));
    (intent, raw)
}

fn desired(ownership: Ownership, exclusions: &[&str]) -> Desired {
    let (intent, raw) = leaf1();
    let ex: Vec<String> = exclusions.iter().map(|s| s.to_string()).collect();
    Desired::compile(Platform::Eos, &intent, &raw, ownership, &[], &ex)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The device state the intent describes, as a target would send it.
fn in_sync(d: &Desired) -> Vec<Leaf> {
    d.leaves()
        .map(|(p, v)| Leaf::new(p.clone(), v.clone()))
        .collect()
}

fn synced(d: Desired) -> DriftTracker {
    let leaves = in_sync(&d);
    let mut t = DriftTracker::new(d);
    assert!(
        t.apply(&leaves, &[]).is_empty(),
        "no deltas before the first full diff"
    );
    let delta = t.full_diff();
    assert!(delta.is_empty(), "{:?}", t.drift());
    t
}

const MTU: &str = "/interfaces/interface[name=Ethernet1]/config/mtu";
const DESC: &str = "/interfaces/interface[name=Ethernet1]/config/description";

#[test]
fn the_intended_state_has_no_drift() {
    for (name, platform, intent, raw, ownership) in lab_devices() {
        let d = Desired::compile(platform, &intent, &raw, ownership, &[], &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let t = synced(d);
        assert!(t.drift().is_empty(), "{name}: {:?}", t.drift());
        assert_eq!(t.fingerprint(), None);
    }
}

#[test]
fn eos_spellings_compare_equal() {
    let d = desired(Ownership::Strict, &[]);
    let mut t = DriftTracker::new(d.clone());
    let mut leaves = Vec::new();
    for l in d.desired_leaves() {
        let (path, value) = (&l.path, &l.value);
        let s = path.to_string();
        // EOS omits leaves holding their default (enabled=true, udp-port 4789, ...).
        if l.absent_ok() {
            continue;
        }
        // Identities without prefix, numbers as strings, module-prefixed path elements.
        let value = match value {
            Value::String(v) if v.contains(':') && !v.contains('.') => {
                Value::String(crate::normalize::strip_identity_prefix(v).to_string())
            }
            Value::Uint(u) => Value::String(u.to_string()),
            Value::LeafList(items) if s.ends_with("trunk-vlans") && items.len() == 2 => {
                Value::LeafList(vec![Value::from("10..10"), Value::Uint(20)])
            }
            other => other.clone(),
        };
        let mut path = path.clone();
        if path.elems[0].name == "interfaces" {
            path.elems[0].name = "openconfig-interfaces:interfaces".into();
        }
        if let Some(e) = path.elems.iter_mut().find(|e| e.name == "protocol") {
            e.keys.insert("identifier", "openconfig-policy-types:BGP");
        }
        leaves.push(Leaf::new(path, value));
    }
    t.apply(&leaves, &[]);
    t.full_diff();
    assert!(t.drift().is_empty(), "{}", crate::diff::render(t.drift()));
    // Explicitly disabled on the device while intended up: that is drift.
    let enabled = p("/interfaces/interface[name=Ethernet1]/config/enabled");
    let delta = t.apply(&[Leaf::new(enabled.clone(), false)], &[]);
    assert_eq!(delta.added.len(), 1);
    assert_eq!(delta.added[0].kind, DriftKind::Modified);
    assert_eq!(delta.added[0].path, enabled);
}

#[test]
fn incremental_updates_report_only_what_changed() {
    let mut t = synced(desired(Ownership::Merge, &[]));
    let delta = t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    assert_eq!(
        delta.added,
        vec![DriftItem {
            path: p(MTU),
            kind: DriftKind::Modified,
            expected: Some(Value::Uint(9214)),
            actual: Some(Value::Uint(1500)),
        }]
    );
    let first = t.fingerprint();
    assert!(first.is_some());
    assert_eq!(
        serde_json::to_value(&t.drift()[0]).unwrap_or_default(),
        serde_json::json!({"path": MTU, "kind": "Modified", "expected": 9214, "actual": 1500})
    );
    let text = t.plan(Strategy::Minimal).render();
    assert!(
        text.contains(&format!("~ update  {MTU}: 1500 -> 9214")),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to delete, 0 to replace, 1 to update."),
        "{text}"
    );
    let plan = serde_json::to_value(t.plan(Strategy::Minimal)).unwrap_or_default();
    assert_eq!(
        plan["updates"][0],
        serde_json::json!({"path": MTU, "value": 9214})
    );
    assert_eq!(plan["strategy"], "minimal");
    // Another wrong value: the same item changes.
    let delta = t.apply(&[Leaf::new(p(MTU), Value::from("9000"))], &[]);
    assert!(delta.added.is_empty() && delta.cleared.is_empty());
    assert_eq!(delta.changed.len(), 1);
    assert_eq!(delta.changed[0].actual, Some(Value::Uint(9000)));
    assert_ne!(t.fingerprint(), first);
    // The same value again: nothing changed.
    assert!(t.apply(&[Leaf::new(p(MTU), 9000u64)], &[]).is_empty());
    // Leaves the intent does not name are not drift in merge mode.
    let other = p("/interfaces/interface[name=Ethernet1]/config/load-interval");
    assert!(t.apply(&[Leaf::new(other, 5u64)], &[]).is_empty());
    // Repaired.
    let delta = t.apply(&[Leaf::new(p(MTU), "9214")], &[]);
    assert_eq!(delta.cleared, vec![p(MTU)]);
    assert!(t.drift().is_empty());
}

#[test]
fn deleting_a_subtree_reports_its_missing_leaves() {
    let mut t = synced(desired(Ownership::Merge, &[]));
    let before = t.observed_len();
    let delta = t.apply(&[], &[p("/interfaces/interface[name=Ethernet1]")]);
    let paths: Vec<String> = delta.added.iter().map(|i| i.path.to_string()).collect();
    assert!(paths.contains(&MTU.to_string()), "{paths:?}");
    assert!(paths.contains(&DESC.to_string()), "{paths:?}");
    // enabled=true is the default: an absent leaf holds it.
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with("Ethernet1]/config/enabled")),
        "{paths:?}"
    );
    assert!(
        delta
            .added
            .iter()
            .all(|i| i.kind == DriftKind::Missing && i.actual.is_none())
    );
    assert!(t.observed_len() < before);
    // A leaf-level delete of something never observed changes nothing.
    assert!(
        t.apply(&[], &[p("/interfaces/interface[name=Nope]/config/mtu")])
            .is_empty()
    );
    // Put it back.
    let d = t.desired().clone();
    let back: Vec<Leaf> = in_sync(&d)
        .into_iter()
        .filter(|l| {
            l.path
                .elems
                .get(1)
                .and_then(|e| e.keys.get("name"))
                .map(|v| v.as_str())
                == Some("Ethernet1")
        })
        .collect();
    let delta = t.apply(&back, &[]);
    assert_eq!(delta.cleared.len(), paths.len());
    assert!(t.drift().is_empty());
}

#[test]
fn strict_ownership_reports_unnamed_entries() {
    let mut t = synced(desired(Ownership::Strict, &[]));
    let vlan99 = p("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=99]");
    let vlan1 = p("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=1]");
    let nbr = p(
        "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.1]",
    );
    let eth9 = p("/interfaces/interface[name=Ethernet9]");
    let lo9 = p("/interfaces/interface[name=Loopback9]");
    let delta = t.apply(
        &[
            Leaf::new(
                vlan99.clone().push_name("config").push_name("vlan-id"),
                99u64,
            ),
            Leaf::new(
                vlan99.clone().push_name("config").push_name("name"),
                "rogue",
            ),
            Leaf::new(vlan1.clone().push_name("config").push_name("vlan-id"), 1u64),
            Leaf::new(
                nbr.clone().push_name("config").push_name("peer-as"),
                65099u64,
            ),
            Leaf::new(
                eth9.clone().push_name("config").push_name("name"),
                "Ethernet9",
            ),
            Leaf::new(
                lo9.clone().push_name("config").push_name("name"),
                "Loopback9",
            ),
        ],
        &[],
    );
    let paths: Vec<&Path> = delta.added.iter().map(|i| &i.path).collect();
    assert_eq!(
        paths,
        vec![&lo9, &nbr, &vlan99],
        "physical ports and VLAN 1 always exist"
    );
    assert!(delta.added.iter().all(|i| i.kind == DriftKind::Unexpected));
    let plan = t.plan(Strategy::Minimal);
    assert_eq!(plan.deletes.len(), 3);
    // The neighbor goes before the VLAN (reverse dependency order).
    assert_eq!(plan.deletes[0], nbr);
    // Deleting one of VLAN 99's leaves keeps the entry; deleting the entry clears it.
    assert!(
        t.apply(&[], &[vlan99.clone().push_name("config").push_name("name")])
            .is_empty()
    );
    let delta = t.apply(&[], std::slice::from_ref(&vlan99));
    assert_eq!(delta.cleared, vec![vlan99]);
    // Merge mode: the same entries are no one's business.
    let mut m = synced(desired(Ownership::Merge, &[]));
    assert!(
        m.apply(
            &[Leaf::new(
                nbr.push_name("config").push_name("peer-as"),
                1u64
            )],
            &[]
        )
        .is_empty()
    );
}

#[test]
fn excluded_leaves_are_never_reported_nor_touched() {
    let d = desired(
        Ownership::Strict,
        &[
            "/interfaces/interface[name=*]/config/description",
            "/network-instances/.../bgp/neighbors/...",
        ],
    );
    let mut t = synced(d);
    let nbr = p(
        "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.1]/config/peer-as",
    );
    let delta = t.apply(
        &[
            Leaf::new(p(DESC), "changed by hand"),
            Leaf::new(nbr, 65099u64),
            Leaf::new(p(MTU), 1500u64),
        ],
        &[],
    );
    assert_eq!(delta.added.len(), 1, "{:?}", delta.added);
    assert_eq!(delta.added[0].path, p(MTU));
    // A replace of Ethernet1's config carries the hand-made description through unchanged.
    let plan = t.plan(Strategy::Replace);
    assert_eq!(plan.replaces.len(), 1);
    assert_eq!(
        plan.replaces[0].path,
        p("/interfaces/interface[name=Ethernet1]/config")
    );
    let body = plan.replaces[0].value.to_string();
    assert!(body.contains("changed by hand"), "{body}");
    assert!(body.contains("9214"), "{body}");
    let (updates, deletes) = plan
        .effect(&crate::key_table())
        .unwrap_or_else(|e| panic!("{e}"));
    t.apply(&updates, &deletes);
    assert!(t.drift().is_empty(), "{:?}", t.drift());
    assert_eq!(t.observed(&p(DESC)), Some(Value::from("changed by hand")));
}

#[test]
fn fingerprints_do_not_depend_on_arrival_order() {
    let d = desired(Ownership::Strict, &[]);
    let mut leaves = in_sync(&d);
    leaves.retain(|l| !l.path.to_string().contains("Ethernet2") && l.path != p(MTU));
    leaves.push(Leaf::new(p(MTU), 1500u64));
    leaves.push(Leaf::new(
        p("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=99]/config/vlan-id"),
        99u64,
    ));
    let mut a = DriftTracker::new(d.clone());
    a.apply(&leaves, &[]);
    a.full_diff();
    let mut b = DriftTracker::new(d.clone());
    b.full_diff();
    for l in leaves.iter().rev() {
        b.apply(std::slice::from_ref(l), &[]);
    }
    assert!(a.fingerprint().is_some());
    assert_eq!(a.drift(), b.drift());
    assert_eq!(a.fingerprint(), b.fingerprint());
}

#[test]
fn plans_repair_everything_in_dependency_order() {
    let d = desired(Ownership::Strict, &[]);
    // An empty device: everything is missing.
    for strategy in [Strategy::Minimal, Strategy::Replace] {
        let mut t = DriftTracker::new(d.clone());
        t.full_diff();
        assert!(!t.drift().is_empty());
        let plan = t.plan(strategy);
        let ranks: Vec<u8> = match strategy {
            Strategy::Minimal => plan
                .updates
                .iter()
                .map(|l| crate::plan::rank(&l.path))
                .collect(),
            Strategy::Replace => plan
                .replaces
                .iter()
                .map(|l| crate::plan::rank(&l.path))
                .collect(),
        };
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        let text = plan.render();
        assert!(text.contains("Plan: 0 to delete"), "{text}");
        let (updates, deletes) = plan
            .effect(&crate::key_table())
            .unwrap_or_else(|e| panic!("{e}"));
        t.apply(&updates, &deletes);
        assert!(
            t.drift().is_empty(),
            "{strategy:?}: {}",
            crate::diff::render(t.drift())
        );
        assert!(t.plan(strategy).is_empty());
    }
}

#[test]
fn resync_and_spec_change() {
    let d = desired(Ownership::Merge, &[]);
    let mut t = synced(d.clone());
    t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    assert_eq!(t.drift().len(), 1);
    // Reconnect: the device was repaired meanwhile.
    t.reset_observed();
    assert_eq!(t.observed_len(), 0);
    assert!(t.apply(&in_sync(&d), &[]).is_empty());
    let delta = t.full_diff();
    assert_eq!(delta.cleared, vec![p(MTU)]);
    // The intent changes its MTU: the device now differs.
    let (mut intent, raw) = leaf1();
    intent.interfaces[0].mtu = Some(1500);
    let d2 = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Merge, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let delta = t.set_desired(d2);
    assert_eq!(delta.added.len(), 1);
    assert_eq!(delta.added[0].expected, Some(Value::Uint(1500)));
    // Dropping a VLAN from a strict intent makes the device's VLAN unexpected.
    let (mut intent, raw) = leaf1();
    intent.vlans.retain(|v| v.id != 20);
    if let Some(vx) = intent.vxlan.as_mut() {
        vx.vlan_vnis.retain(|m| m.vlan != 20);
    }
    intent.interfaces.retain(|i| i.name != "Vlan20");
    for i in &mut intent.interfaces {
        if let Some(sp) = i.switchport.as_mut() {
            sp.trunk_vlans.retain(|v| v != "20");
        }
    }
    let d3 = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Strict, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let delta = t.set_desired(d3);
    let unexpected: Vec<String> = delta
        .added
        .iter()
        .filter(|i| i.kind == DriftKind::Unexpected)
        .map(|i| i.path.to_string())
        .collect();
    assert!(
        unexpected.contains(
            &"/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=20]".to_string()
        ),
        "{unexpected:?}"
    );
}

#[test]
fn json_subtrees_are_flattened_and_bad_ones_reported() {
    let mut t = synced(desired(Ownership::Merge, &[]));
    let blob = r#"{"openconfig-interfaces:mtu": 1500, "description": "to spine1 Ethernet1"}"#;
    let delta = t.apply(
        &[Leaf::new(
            p("/interfaces/interface[name=Ethernet1]/config"),
            Value::JsonIetf(blob.into()),
        )],
        &[],
    );
    assert_eq!(delta.added.len(), 1);
    assert_eq!(delta.added[0].path, p(MTU));
    let delta = t.apply(
        &[
            Leaf::new(
                p("/interfaces/interface[name=Ethernet1]/config"),
                Value::JsonIetf("{\"mtu\": ".into()),
            ),
            Leaf::new(p(MTU), 9214u64),
        ],
        &[],
    );
    // The bad blob is reported; the good leaf in the same notification still counts.
    assert_eq!(delta.cleared, vec![p(MTU)]);
    let (errors, total) = t.take_errors();
    assert_eq!(total, 1);
    assert!(
        errors[0]
            .to_string()
            .contains("/interfaces/interface[name=Ethernet1]/config"),
        "{}",
        errors[0]
    );
    assert_eq!(t.take_errors().1, 0);
}

#[test]
fn nodes_stay_small() {
    // The per-leaf memory budget (README, benches) rests on these sizes.
    assert!(
        std::mem::size_of::<Stored>() <= 24,
        "{}",
        std::mem::size_of::<Stored>()
    );
    assert!(
        std::mem::size_of::<Node>() <= 48,
        "{}",
        std::mem::size_of::<Node>()
    );
}

#[test]
fn wide_lists_use_the_index_and_agree_with_a_full_diff() {
    let (mut intent, raw) = leaf1();
    for id in 100..160u16 {
        intent.vlans.push(crate::intent::Vlan {
            id,
            name: Some(format!("v{id}")),
        });
    }
    let d = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Strict, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut t = synced(d.clone());
    let vlan = |id: u16| {
        p(&format!(
            "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id={id}]"
        ))
    };
    // Delete 20 entries (some before, some after the list got its index), add 30 unexpected ones,
    // put 10 of the deleted back, delete a few unexpected ones again.
    let deletes: Vec<Path> = (100..120).map(vlan).collect();
    t.apply(&[], &deletes);
    let extra: Vec<Leaf> = (200..230)
        .map(|id| {
            Leaf::new(
                vlan(id).push_name("config").push_name("vlan-id"),
                u64::from(id),
            )
        })
        .collect();
    t.apply(&extra, &[]);
    let back: Vec<Leaf> = in_sync(&d)
        .into_iter()
        .filter(|l| (100..110).any(|id| vlan(id).is_prefix_of(&l.path)))
        .collect();
    t.apply(&back, &[]);
    t.apply(&[], &[vlan(200), vlan(229)]);
    assert!(
        t.observed(&vlan(150).push_name("config").push_name("name"))
            .is_some()
    );
    // A fresh tracker fed the resulting state sees the same drift.
    let mut state: Vec<Leaf> = in_sync(&d)
        .into_iter()
        .filter(|l| !(110..120).any(|id| vlan(id).is_prefix_of(&l.path)))
        .collect();
    state.extend(
        extra
            .into_iter()
            .filter(|l| !vlan(200).is_prefix_of(&l.path) && !vlan(229).is_prefix_of(&l.path)),
    );
    let mut fresh = DriftTracker::new(d);
    fresh.apply(&state, &[]);
    fresh.full_diff();
    assert_eq!(t.drift(), fresh.drift());
    let kinds = |k: DriftKind| t.drift().iter().filter(|i| i.kind == k).count();
    assert_eq!(kinds(DriftKind::Unexpected), 28);
    assert_eq!(
        kinds(DriftKind::Missing),
        20,
        "vlan-id and name of 10 VLANs"
    );
    assert!(t.full_diff().is_empty());
}

#[test]
fn a_resync_reports_against_the_drift_reported_before() {
    let d = desired(Ownership::Strict, &[]);
    let mut t = synced(d.clone());
    let vlan99 = p("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=99]");
    let rogue = [Leaf::new(
        vlan99.clone().push_name("config").push_name("vlan-id"),
        99u64,
    )];
    assert_eq!(t.apply(&rogue, &[]).added.len(), 1);
    t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    // Reconnect; during the initial sync the device deletes VLAN 99 and sends everything else.
    t.reset_observed();
    let mut sync = in_sync(&d);
    sync.extend(rogue.iter().cloned());
    assert!(t.apply(&sync, &[]).is_empty());
    assert!(t.apply(&[], std::slice::from_ref(&vlan99)).is_empty());
    // Until the full diff, the drift reported before stands.
    assert_eq!(t.drift().len(), 2);
    let delta = t.full_diff();
    assert_eq!(delta.cleared, vec![p(MTU), vlan99]);
    assert!(t.drift().is_empty());
    // A spec change while syncing reports at the full diff, against the set reported before.
    t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    t.reset_observed();
    let (mut intent, raw) = leaf1();
    intent.interfaces[0].mtu = Some(1500);
    let d2 = Desired::compile(Platform::Eos, &intent, &raw, Ownership::Strict, &[], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(t.set_desired(d2).is_empty());
    t.apply(&sync, &[]);
    t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    let delta = t.full_diff();
    assert_eq!(delta.cleared, vec![p(MTU)], "1500 is now intended");
    assert_eq!(delta.added.len(), 1, "VLAN 99 is back: {:?}", delta.added);
}

#[test]
fn a_delete_spelled_with_module_prefixes_finds_the_leaf() {
    let mut t = synced(desired(Ownership::Merge, &[]));
    let prefixed = p(
        "/openconfig-interfaces:interfaces/interface[name=Ethernet1]/config/openconfig-interfaces:description",
    );
    let delta = t.apply(&[], &[prefixed]);
    assert_eq!(delta.added.len(), 1, "{:?}", delta.added);
    assert_eq!(delta.added[0].path, p(DESC));
    assert_eq!(delta.added[0].kind, DriftKind::Missing);
}

/// Leaves updated after the sync are found through `Tree::leaf_index`; an entry must go with its
/// leaf, so a freed node that is reused for another path is never reached through an old entry.
#[test]
fn updated_leaves_are_indexed_and_their_entries_go_with_them() {
    let mut t = synced(desired(Ownership::Merge, &[]));
    let stray = "/interfaces/interface[name=Ethernet1]/config/stray";
    t.apply(&[Leaf::new(p(MTU), 1500u64), Leaf::new(p(stray), "x")], &[]);
    assert_eq!(t.tree.leaf_index.len(), 2);
    let mtu = t.tree.find(&p(MTU)).unwrap_or(NONE);
    assert_eq!(t.tree.leaf_index.get(&leaf_key(&p(MTU))), Some(&mtu));
    // The module-prefixed spelling is the same leaf and the same entry.
    let prefixed = "/openconfig-interfaces:interfaces/interface[name=Ethernet1]/config/mtu";
    assert_eq!(leaf_key(&p(prefixed)), leaf_key(&p(MTU)));
    let delta = t.apply(&[Leaf::new(p(prefixed), 9214u64)], &[]);
    assert_eq!(delta.cleared.len(), 1, "{delta:?}");
    assert_eq!(t.tree.leaf_index.len(), 2);

    // Deleted: the stray leaf's node is freed and its entry removed.
    let stray_node = t.tree.find(&p(stray)).unwrap_or(NONE);
    t.apply(&[], &[p(stray)]);
    assert!(t.tree.find(&p(stray)).is_none());
    assert_eq!(t.tree.leaf_index.len(), 1);
    // The freed node is reused for a new leaf; the old path is then created afresh.
    let other = "/interfaces/interface[name=Ethernet1]/config/other";
    t.apply(&[Leaf::new(p(other), "y")], &[]);
    assert_eq!(t.tree.find(&p(other)), Some(stray_node));
    t.apply(&[Leaf::new(p(stray), "z")], &[]);
    let stray_again = t.tree.find(&p(stray)).unwrap_or(NONE);
    assert_ne!(stray_again, stray_node);
    assert_eq!(
        t.tree.leaf_index.get(&leaf_key(&p(stray))),
        Some(&stray_again)
    );
    assert_eq!(t.tree.value(stray_again), Some(&Stored::Str("z".into())));
    assert_eq!(t.tree.value(stray_node), Some(&Stored::Str("y".into())));

    // A subtree delete takes its leaves' entries; a resync forgets them all.
    t.apply(&[], &[p("/interfaces/interface[name=Ethernet1]")]);
    assert!(t.tree.leaf_index.is_empty());
    assert!(!t.drift().is_empty());
    // What the updates reported incrementally is what a full diff finds.
    assert!(t.full_diff().is_empty(), "{:?}", t.drift());
    t.apply(&[Leaf::new(p(MTU), 1500u64)], &[]);
    assert_eq!(t.tree.leaf_index.len(), 1);
    t.reset_observed();
    assert!(t.tree.leaf_index.is_empty());
}
