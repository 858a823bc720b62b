//! Property tests over generated intents and device states:
//! - applying a plan (either strategy) to the observed tree leaves zero drift, and leaves every
//!   excluded leaf as it was;
//! - the drift set and its fingerprint do not depend on the order notifications arrive in, nor on
//!   whether they are applied one by one or diffed in full.

use proptest::prelude::*;

use fabric_gnmi::{Leaf, Path, Value};

use crate::intent::{
    Bgp, DeviceIntent, Interface, Neighbor, Ownership, Platform, Switchport, SwitchportMode, Vlan,
};
use crate::{Desired, DriftTracker, Strategy as PlanStrategy};

fn arb_intent() -> impl Strategy<Value = DeviceIntent> {
    let vlans = prop::collection::btree_map(2u16..60, prop::option::of("[a-z]{1,6}"), 0..6);
    let ifaces = prop::collection::vec(
        (
            prop::option::of("[a-z ]{1,10}"),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec![1500u32, 9000, 9214])),
            0u8..3,
        ),
        1..6,
    );
    let neighbors = prop::collection::btree_map(
        1u8..200,
        (
            64512u32..65000,
            prop::option::of("[a-z]{1,8}"),
            any::<bool>(),
        ),
        0..4,
    );
    (
        vlans,
        ifaces,
        neighbors,
        prop::option::of("[a-z][a-z0-9]{0,8}"),
    )
        .prop_map(|(vlans, ifaces, neighbors, hostname)| {
            let vlan_ids: Vec<u16> = vlans.keys().copied().collect();
            let interfaces = ifaces
                .into_iter()
                .enumerate()
                .map(|(i, (description, enabled, mtu, role))| {
                    let mut iface = Interface {
                        name: format!("Ethernet{}", i + 1),
                        description,
                        enabled,
                        mtu,
                        switchport: None,
                        aggregate_id: None,
                        vrf: None,
                        ipv4_addresses: Vec::new(),
                        ipv6_addresses: Vec::new(),
                    };
                    match (role, vlan_ids.first()) {
                        (1, Some(v)) => {
                            iface.switchport = Some(Switchport {
                                mode: SwitchportMode::Access,
                                access_vlan: Some(*v),
                                native_vlan: None,
                                trunk_vlans: Vec::new(),
                            })
                        }
                        (2, _) => {
                            iface.switchport = Some(Switchport {
                                mode: SwitchportMode::Trunk,
                                access_vlan: None,
                                native_vlan: None,
                                trunk_vlans: vlan_ids.iter().map(u16::to_string).collect(),
                            })
                        }
                        _ => iface.ipv4_addresses = vec![format!("10.0.{i}.1/31")],
                    }
                    iface
                })
                .collect();
            DeviceIntent {
                hostname,
                interfaces,
                vlans: vlans
                    .into_iter()
                    .map(|(id, name)| Vlan { id, name })
                    .collect(),
                vrfs: Vec::new(),
                vxlan: None,
                bgp: Some(Bgp {
                    asn: 65001,
                    router_id: "10.0.250.11".into(),
                    peer_groups: Vec::new(),
                    neighbors: neighbors
                        .into_iter()
                        .map(|(n, (asn, description, enabled))| Neighbor {
                            address: format!("10.0.9.{n}"),
                            peer_as: Some(asn),
                            peer_group: None,
                            description,
                            enabled,
                            address_families: Vec::new(),
                        })
                        .collect(),
                }),
                mlag: None,
            }
        })
}

/// A different value of the same shape.
fn mutate(v: &Value) -> Value {
    match v {
        Value::Uint(u) => Value::Uint(u + 1),
        Value::Bool(b) => Value::Bool(!b),
        Value::String(s) => Value::String(format!("{s}-x")),
        Value::LeafList(items) if items.len() > 1 => Value::LeafList(items[1..].to_vec()),
        Value::LeafList(_) => Value::LeafList(vec![Value::Uint(4000)]),
        other => other.clone(),
    }
}

/// Per desired leaf: 0 keep, 1 drop, 2 modify. Plus extra VLANs and neighbors, and hand-made
/// descriptions (excluded when `exclude` is set).
#[derive(Debug, Clone)]
struct Scenario {
    intent: DeviceIntent,
    strict: bool,
    exclude: bool,
    edits: Vec<u8>,
    extra_vlans: Vec<u16>,
    extra_neighbor: bool,
    hand_descriptions: Vec<String>,
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        arb_intent(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]), 200),
        prop::collection::vec(100u16..110, 0..3),
        any::<bool>(),
        prop::collection::vec("[a-z]{1,8}", 6),
    )
        .prop_map(
            |(intent, strict, exclude, edits, extra_vlans, extra_neighbor, hand_descriptions)| {
                Scenario {
                    intent,
                    strict,
                    exclude,
                    edits,
                    extra_vlans,
                    extra_neighbor,
                    hand_descriptions,
                }
            },
        )
}

const DESCRIPTIONS: &str = "/interfaces/interface[name=*]/config/description";

fn build(s: &Scenario) -> Result<(Desired, Vec<Leaf>), TestCaseError> {
    let ownership = if s.strict {
        Ownership::Strict
    } else {
        Ownership::Merge
    };
    let exclusions: Vec<String> = if s.exclude {
        vec![DESCRIPTIONS.into()]
    } else {
        Vec::new()
    };
    let d = Desired::compile(Platform::Eos, &s.intent, &[], ownership, &[], &exclusions)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut observed = Vec::new();
    for (i, (path, value)) in d.leaves().enumerate() {
        match s.edits.get(i % s.edits.len()).copied().unwrap_or(0) {
            1 => {}
            2 => observed.push(Leaf::new(path.clone(), mutate(value))),
            _ => observed.push(Leaf::new(path.clone(), value.clone())),
        }
    }
    for v in &s.extra_vlans {
        let p: Path = format!("/network-instances/network-instance[name=default]/vlans/vlan[vlan-id={v}]/config/vlan-id")
            .parse()
            .map_err(|e: fabric_gnmi::PathError| TestCaseError::fail(e.to_string()))?;
        observed.push(Leaf::new(p, Value::Uint(u64::from(*v))));
    }
    if s.extra_neighbor {
        let p: Path = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.1]/config/peer-as"
            .parse()
            .map_err(|e: fabric_gnmi::PathError| TestCaseError::fail(e.to_string()))?;
        observed.push(Leaf::new(p, Value::Uint(65099)));
    }
    for (i, text) in s
        .hand_descriptions
        .iter()
        .enumerate()
        .take(s.intent.interfaces.len())
    {
        if i % 2 == 0 {
            let p: Path = format!(
                "/interfaces/interface[name=Ethernet{}]/config/description",
                i + 1
            )
            .parse()
            .map_err(|e: fabric_gnmi::PathError| TestCaseError::fail(e.to_string()))?;
            observed.retain(|l| l.path != p);
            observed.push(Leaf::new(p, Value::String(text.clone())));
        }
    }
    Ok((d, observed))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn applying_the_plan_leaves_no_drift(s in arb_scenario(), replace in any::<bool>()) {
        let (d, observed) = build(&s)?;
        let mut t = DriftTracker::new(d.clone());
        t.apply(&observed, &[]);
        t.full_diff();
        let excluded_before: Vec<Leaf> = observed
            .iter()
            .filter(|l| d.is_excluded(&l.path))
            .cloned()
            .collect();
        let strategy = if replace { PlanStrategy::Replace } else { PlanStrategy::Minimal };
        let plan = t.plan(strategy);
        prop_assert_eq!(plan.is_empty(), t.drift().is_empty());
        // Nothing in the plan touches an excluded leaf directly.
        for u in plan.updates.iter().chain(&plan.replaces) {
            prop_assert!(!d.is_excluded(&u.path), "plan touches excluded {}", u.path);
        }
        for del in &plan.deletes {
            prop_assert!(!d.is_excluded(del), "plan deletes excluded {}", del);
        }
        let (updates, deletes) = plan
            .effect(&crate::key_table())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        t.apply(&updates, &deletes);
        prop_assert!(t.drift().is_empty(), "{}\n{}", plan.render(), crate::diff::render(t.drift()));
        prop_assert_eq!(t.fingerprint(), None);
        for l in excluded_before {
            prop_assert_eq!(t.observed(&l.path), Some(l.value.clone()), "excluded {} was touched", l.path);
        }
        // A full re-diff agrees with the incremental result.
        prop_assert!(t.full_diff().is_empty());
    }

    #[test]
    fn drift_does_not_depend_on_arrival_order(
        s in arb_scenario(),
        order in any::<u64>(),
        chunk in 1usize..8,
    ) {
        let (d, observed) = build(&s)?;
        let mut all_at_once = DriftTracker::new(d.clone());
        all_at_once.apply(&observed, &[]);
        all_at_once.full_diff();

        // The same leaves, shuffled, applied incrementally in chunks after an empty sync.
        let mut shuffled = observed.clone();
        let mut state = order | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = (state % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let mut incremental = DriftTracker::new(d);
        incremental.full_diff();
        for c in shuffled.chunks(chunk) {
            incremental.apply(c, &[]);
        }
        prop_assert_eq!(all_at_once.drift(), incremental.drift());
        prop_assert_eq!(all_at_once.fingerprint(), incremental.fingerprint());
    }
}
