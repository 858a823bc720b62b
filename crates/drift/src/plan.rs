//! Remediation plans: the one SetRequest that repairs a drift set.
//!
//! Two strategies (the policy's `remediation.strategy`):
//! - `minimal`: an update per Modified or Missing leaf, a delete per Unexpected entry;
//! - `replace`: a replace per drifted owned subtree (the leaf's `config` container), carrying every
//!   leaf the intent sets there, plus the excluded leaves as the device holds them (excluded
//!   leaves are never touched, and a replace would otherwise reset them).
//!
//! Ordering follows dependencies: a VRF before the interfaces bound to it, a VLAN before the
//! switched-vlan memberships and the VNI map that use it, a port-channel before its members, a
//! peer group before its neighbors. Deletes run in the reverse order (neighbors before their peer
//! group). gNMI applies a SetRequest's deletes, then replaces, then updates, atomically.

use std::collections::{BTreeMap, HashMap};

use fabric_gnmi::json::{JsonError, encode_json_ietf, flatten_json_ietf};
use fabric_gnmi::{KeyTable, Leaf, Path, Value};

use crate::desired::Desired;
use crate::diff::{DriftItem, DriftKind};
pub use crate::policy::Strategy;

/// One SetRequest: paths and JSON_IETF-able values. Replace values of whole subtrees are
/// [`Value::JsonIetf`] documents rooted at the replaced path; leaf values are scalars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub strategy: Strategy,
    pub deletes: Vec<Path>,
    pub replaces: Vec<Leaf>,
    pub updates: Vec<Leaf>,
    /// What the device holds now at each updated or replaced leaf, for the dry-run rendering.
    before: HashMap<Path, Value>,
}

/// Why a plan cannot be built or replayed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("replace of {path}: {source}")]
    Encode {
        path: Path,
        #[source]
        source: Box<JsonError>,
    },
}

/// Dependency rank of a path: lower goes first in replaces and updates, last in deletes.
pub fn rank(path: &Path) -> u8 {
    let names: Vec<&str> = path.elems.iter().map(|e| e.local_name()).collect();
    let has = |n: &str| names.contains(&n);
    match names.first().copied() {
        Some("system") => 0,
        Some("network-instances") => {
            if has("protocols") {
                if has("neighbors") {
                    90
                } else if has("peer-groups") {
                    80
                } else {
                    70
                }
            } else if has("vlans") {
                20
            } else if has("interfaces") {
                45
            } else if has("evpn") {
                55
            } else if has("connection-points") {
                52
            } else {
                10
            }
        }
        Some("interfaces") => {
            let name = path
                .elems
                .get(1)
                .and_then(|e| e.keys.get("name"))
                .map(|v| v.as_str())
                .unwrap_or_default();
            if has("arista-vxlan") {
                if has("vlan-to-vnis") || has("vrf-to-vnis") {
                    60
                } else {
                    58
                }
            } else if has("switched-vlan") {
                50
            } else if has("subinterfaces") || has("routed-vlan") {
                48
            } else if has("aggregate-id") {
                42
            } else if name.starts_with("Port-Channel") {
                30
            } else {
                35
            }
        }
        Some("arista") | Some("mclag") => 65,
        _ => 100,
    }
}

/// The subtree a `replace` rewrites for a drifted leaf: its innermost `config` container.
pub fn replace_root(leaf: &Path) -> Path {
    match leaf.elems.iter().rposition(|e| e.name == "config") {
        Some(i) => Path {
            origin: leaf.origin.clone(),
            elems: leaf.elems[..=i].to_vec(),
        },
        None => leaf.parent(),
    }
}

impl Plan {
    /// Builds the plan for `drift` (sorted, as the tracker holds it). `observed_under` returns the
    /// device's leaves under a path, to carry excluded leaves through a replace untouched.
    pub fn build(
        desired: &Desired,
        drift: &[DriftItem],
        strategy: Strategy,
        observed_under: impl Fn(&Path) -> Vec<Leaf>,
    ) -> Plan {
        let mut plan = Plan {
            strategy,
            ..Plan::default()
        };
        let mut units: BTreeMap<Path, ()> = BTreeMap::new();
        for item in drift {
            match item.kind {
                DriftKind::Unexpected => plan.deletes.push(item.path.clone()),
                DriftKind::Modified | DriftKind::Missing => {
                    if let Some(actual) = &item.actual {
                        plan.before.insert(item.path.clone(), actual.clone());
                    }
                    match strategy {
                        Strategy::Minimal => {
                            if let Some(i) = desired.index_of(&item.path) {
                                plan.updates.push(Leaf::new(
                                    item.path.clone(),
                                    desired.value_of(i).clone(),
                                ));
                            }
                        }
                        Strategy::Replace => {
                            units.insert(replace_root(&item.path), ());
                        }
                    }
                }
            }
        }
        for unit in units.into_keys() {
            let mut leaves: BTreeMap<Path, Value> = BTreeMap::new();
            // The excluded and out-of-scope leaves as the device holds them: never touched.
            for l in observed_under(&unit) {
                if !desired.evaluates(&l.path) {
                    leaves.insert(l.path, l.value);
                }
            }
            for i in (0..desired.len()).filter(|i| desired.is_evaluated(*i)) {
                let path = desired.path_of(i);
                if unit.is_prefix_of(&path) {
                    leaves.insert(path, desired.value_of(i).clone());
                }
            }
            let leaves: Vec<Leaf> = leaves.into_iter().map(|(p, v)| Leaf::new(p, v)).collect();
            match encode_json_ietf(&unit, &leaves) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    plan.replaces.push(Leaf::new(unit, Value::JsonIetf(text)));
                }
                // Encoding fails only for values JSON cannot hold (non-finite doubles, Any):
                // fall back to leaf updates for that unit rather than lose the repair.
                Err(_) => plan.updates.extend(leaves),
            }
        }
        plan.sort();
        plan
    }

    fn sort(&mut self) {
        self.deletes
            .sort_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| b.cmp(a)));
        self.replaces.sort_by(|a, b| {
            rank(&a.path)
                .cmp(&rank(&b.path))
                .then_with(|| a.path.cmp(&b.path))
        });
        self.updates.sort_by(|a, b| {
            rank(&a.path)
                .cmp(&rank(&b.path))
                .then_with(|| a.path.cmp(&b.path))
        });
    }

    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.replaces.is_empty() && self.updates.is_empty()
    }

    /// What a target ends up doing with this SetRequest, as notification content: the paths it
    /// deletes (deletes, and each replaced subtree) and the leaves it then sets. fabric-sim and
    /// the property tests replay plans with this.
    pub fn effect(&self, keys: &KeyTable) -> Result<(Vec<Leaf>, Vec<Path>), PlanError> {
        let mut deletes = self.deletes.clone();
        let mut updates = Vec::new();
        for r in &self.replaces {
            deletes.push(r.path.clone());
            updates.extend(flatten_value(r, keys)?);
        }
        for u in &self.updates {
            updates.extend(flatten_value(u, keys)?);
        }
        Ok((updates, deletes))
    }

    /// A dry-run rendering, in the manner of `terraform plan`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("No changes. The device matches its intent.\n");
            return out;
        }
        let strategy = match self.strategy {
            Strategy::Minimal => "minimal",
            Strategy::Replace => "replace",
        };
        out.push_str(&format!(
            "One atomic SetRequest (strategy {strategy}), in this order:\n\n"
        ));
        for d in &self.deletes {
            out.push_str(&format!("  - delete  {d}\n"));
        }
        for r in &self.replaces {
            out.push_str(&format!("  ± replace {}\n", r.path));
            if let Value::JsonIetf(text) = &r.value {
                let pretty = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| text.clone());
                for line in pretty.lines() {
                    out.push_str(&format!("        {line}\n"));
                }
            }
        }
        for u in &self.updates {
            match self.before.get(&u.path) {
                Some(before) => out.push_str(&format!(
                    "  ~ update  {}: {} -> {}\n",
                    u.path, before, u.value
                )),
                None => out.push_str(&format!("  + update  {}: {}\n", u.path, u.value)),
            }
        }
        out.push_str(&format!(
            "\nPlan: {} to delete, {} to replace, {} to update.\n",
            self.deletes.len(),
            self.replaces.len(),
            self.updates.len()
        ));
        out
    }
}

/// `{"strategy": "minimal", "deletes": [path], "replaces": [{"path", "value"}], "updates": [...]}`,
/// values as JSON (a replace's value is the subtree document): what a DriftEvent records.
impl serde::Serialize for Plan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let leaves = |ls: &[Leaf]| -> Vec<serde_json::Value> {
            ls.iter()
                .map(|l| {
                    serde_json::json!({
                        "path": l.path.to_string(),
                        "value": crate::diff::value_to_json(&l.value),
                    })
                })
                .collect()
        };
        let mut st = s.serialize_struct("Plan", 4)?;
        st.serialize_field(
            "strategy",
            match self.strategy {
                Strategy::Minimal => "minimal",
                Strategy::Replace => "replace",
            },
        )?;
        st.serialize_field("deletes", &self.deletes)?;
        st.serialize_field("replaces", &leaves(&self.replaces))?;
        st.serialize_field("updates", &leaves(&self.updates))?;
        st.end()
    }
}

fn flatten_value(leaf: &Leaf, keys: &KeyTable) -> Result<Vec<Leaf>, PlanError> {
    match &leaf.value {
        Value::JsonIetf(text) | Value::Json(text) => {
            flatten_json_ietf(&leaf.path, text.as_bytes(), keys).map_err(|source| {
                PlanError::Encode {
                    path: leaf.path.clone(),
                    source: Box::new(source),
                }
            })
        }
        _ => Ok(vec![leaf.clone()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn dependencies_order_the_ranks() {
        let vrf = p("/network-instances/network-instance[name=gold]/config/name");
        let binding = p(
            "/network-instances/network-instance[name=gold]/interfaces/interface[id=Vlan10]/config/id",
        );
        let svi = p("/interfaces/interface[name=Vlan10]/config/name");
        let addr = p(
            "/interfaces/interface[name=Vlan10]/routed-vlan/ipv4/addresses/address[ip=10.1.10.1]/config/ip",
        );
        let vlan = p(
            "/network-instances/network-instance[name=default]/vlans/vlan[vlan-id=10]/config/vlan-id",
        );
        let member =
            p("/interfaces/interface[name=Ethernet5]/ethernet/switched-vlan/config/access-vlan");
        let vni = p(
            "/interfaces/interface[name=Vxlan1]/arista-vxlan/config/vlan-to-vnis/vlan-to-vni[vlan=10]/vni",
        );
        let pc = p("/interfaces/interface[name=Port-Channel10]/config/name");
        let lag_member = p("/interfaces/interface[name=Ethernet3]/ethernet/config/aggregate-id");
        let bgp = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
        let pg = p(&format!(
            "{bgp}/peer-groups/peer-group[peer-group-name=UNDERLAY]/config/peer-group-name"
        ));
        let nbr = p(&format!(
            "{bgp}/neighbors/neighbor[neighbor-address=10.0.1.0]/config/peer-group"
        ));
        assert!(rank(&vrf) < rank(&binding));
        assert!(rank(&svi) < rank(&binding));
        assert!(rank(&binding) < rank(&addr));
        assert!(rank(&vlan) < rank(&member));
        assert!(rank(&vlan) < rank(&vni));
        assert!(rank(&vlan) < rank(&svi));
        assert!(rank(&pc) < rank(&lag_member));
        assert!(rank(&pg) < rank(&nbr));
    }

    #[test]
    fn replace_roots_are_config_containers() {
        assert_eq!(
            replace_root(&p("/interfaces/interface[name=Ethernet1]/config/mtu")),
            p("/interfaces/interface[name=Ethernet1]/config")
        );
        assert_eq!(
            replace_root(&p(
                "/interfaces/interface[name=Vxlan1]/arista-vxlan/config/vlan-to-vnis/vlan-to-vni[vlan=10]/vni"
            )),
            p("/interfaces/interface[name=Vxlan1]/arista-vxlan/config")
        );
    }
}
