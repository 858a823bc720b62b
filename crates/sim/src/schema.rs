//! Which paths a device knows, and the type of each leaf.
//!
//! A simulator has no YANG compiler, so "unknown path" needs a rule. Ours:
//! a leaf is known when its *shape* (the element names, keys removed, module
//! prefixes stripped) is the shape of a leaf of the device's initial tree, of
//! a leaf in the built-in catalogue of OpenConfig/EOS leaves the operator
//! writes ([`CATALOGUE`]), or of a topology `extraSchema` entry. List entries
//! with new keys are therefore fine (a new VLAN, a new neighbor), a typo in a
//! container or leaf name is not. A node (for Delete and Get) is known when
//! its shape is a known leaf or a prefix of one.
//!
//! Types come from the same sources: a leaf written with a value of another
//! kind (a string where the initial tree holds a number, ...) is a type
//! mismatch. RFC 7951 encodes 64-bit integers and decimals as strings, so a
//! numeric string is accepted for a number leaf and stored as a number.

use std::collections::{HashMap, HashSet};

use fabric_gnmi::{Path, Value};

/// The kind of a leaf's value, as far as type checks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Decimal,
    Bool,
    LeafList,
    Empty,
    /// Raw or binary values: anything goes.
    Opaque,
}

impl Kind {
    pub fn of(v: &Value) -> Kind {
        match v {
            Value::String(_) | Value::Ascii(_) => Kind::Text,
            Value::Int(_) | Value::Uint(_) => Kind::Integer,
            Value::Double(_) | Value::Decimal(_) => Kind::Decimal,
            Value::Bool(_) => Kind::Bool,
            Value::LeafList(_) => Kind::LeafList,
            Value::Empty => Kind::Empty,
            _ => Kind::Opaque,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Integer => "integer",
            Kind::Decimal => "decimal",
            Kind::Bool => "boolean",
            Kind::LeafList => "leaf-list",
            Kind::Empty => "empty",
            Kind::Opaque => "opaque",
        }
    }
}

/// Why a leaf or node was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown path {path}: no such node in the device schema")]
    Unknown { path: Path },
    #[error("type mismatch at {path}: expected {expected}, got {got} ({value})")]
    Type {
        path: Path,
        expected: &'static str,
        got: &'static str,
        value: String,
    },
}

/// OpenConfig and EOS leaves the operator may write that a device's initial
/// tree might not hold yet (e.g. an interface without an IPv4 address today).
pub const CATALOGUE: &[(&str, Kind)] = &[
    ("system/config/hostname", Kind::Text),
    ("system/config/domain-name", Kind::Text),
    ("interfaces/interface/name", Kind::Text),
    ("interfaces/interface/config/name", Kind::Text),
    ("interfaces/interface/config/description", Kind::Text),
    ("interfaces/interface/config/mtu", Kind::Integer),
    ("interfaces/interface/config/enabled", Kind::Bool),
    ("interfaces/interface/config/type", Kind::Text),
    (
        "interfaces/interface/ethernet/config/aggregate-id",
        Kind::Text,
    ),
    (
        "interfaces/interface/ethernet/switched-vlan/config/interface-mode",
        Kind::Text,
    ),
    (
        "interfaces/interface/ethernet/switched-vlan/config/access-vlan",
        Kind::Integer,
    ),
    (
        "interfaces/interface/ethernet/switched-vlan/config/native-vlan",
        Kind::Integer,
    ),
    (
        "interfaces/interface/ethernet/switched-vlan/config/trunk-vlans",
        Kind::LeafList,
    ),
    (
        "interfaces/interface/aggregation/switched-vlan/config/interface-mode",
        Kind::Text,
    ),
    (
        "interfaces/interface/aggregation/switched-vlan/config/access-vlan",
        Kind::Integer,
    ),
    (
        "interfaces/interface/aggregation/switched-vlan/config/native-vlan",
        Kind::Integer,
    ),
    (
        "interfaces/interface/aggregation/switched-vlan/config/trunk-vlans",
        Kind::LeafList,
    ),
    (
        "interfaces/interface/aggregation/config/lag-type",
        Kind::Text,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/index",
        Kind::Integer,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/config/index",
        Kind::Integer,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/config/description",
        Kind::Text,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address/ip",
        Kind::Text,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address/config/ip",
        Kind::Text,
    ),
    (
        "interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address/config/prefix-length",
        Kind::Integer,
    ),
    (
        "interfaces/interface/routed-vlan/ipv4/addresses/address/ip",
        Kind::Text,
    ),
    (
        "interfaces/interface/routed-vlan/ipv4/addresses/address/config/ip",
        Kind::Text,
    ),
    (
        "interfaces/interface/routed-vlan/ipv4/addresses/address/config/prefix-length",
        Kind::Integer,
    ),
    ("network-instances/network-instance/name", Kind::Text),
    ("network-instances/network-instance/config/name", Kind::Text),
    ("network-instances/network-instance/config/type", Kind::Text),
    (
        "network-instances/network-instance/config/route-distinguisher",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/config/description",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/interfaces/interface/id",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/interfaces/interface/config/id",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/interfaces/interface/config/interface",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/vlans/vlan/vlan-id",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/vlans/vlan/config/vlan-id",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/vlans/vlan/config/name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/vlans/vlan/config/status",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/identifier",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/config/identifier",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/config/name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/global/config/as",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/global/config/router-id",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/peer-group-name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/config/peer-group-name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/config/peer-as",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/config/description",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/transport/config/local-address",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/ebgp-multihop/config/enabled",
        Kind::Bool,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/ebgp-multihop/config/multihop-ttl",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/afi-safis/afi-safi/afi-safi-name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/afi-safis/afi-safi/config/afi-safi-name",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/peer-groups/peer-group/afi-safis/afi-safi/config/enabled",
        Kind::Bool,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/neighbor-address",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/neighbor-address",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/peer-as",
        Kind::Integer,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/peer-group",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/description",
        Kind::Text,
    ),
    (
        "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/enabled",
        Kind::Bool,
    ),
];

/// Known leaf shapes and their kinds.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    leaves: HashMap<String, Kind>,
    /// Every proper prefix of a leaf shape (containers and lists).
    nodes: HashSet<String>,
}

/// `interfaces/interface/config/mtu` for `/interfaces/interface[name=E1]/config/mtu`.
pub fn shape(path: &Path) -> String {
    let mut s = String::with_capacity(path.len() * 12);
    for (i, e) in path.elems.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(e.local_name());
    }
    s
}

impl Schema {
    /// The schema of a device: its initial leaves, the catalogue, `extra`.
    pub fn new<'a>(
        initial: impl IntoIterator<Item = (&'a Path, &'a Value)>,
        extra: &[(String, Kind)],
    ) -> Schema {
        // The first source to name a shape sets its kind: the topology's
        // own declarations, then what the device holds, then the catalogue.
        let mut s = Schema::default();
        for (shape, kind) in extra {
            s.add(shape.trim_matches('/').to_string(), *kind);
        }
        for (p, v) in initial {
            s.add(shape(p), Kind::of(v));
        }
        for (shape, kind) in CATALOGUE {
            s.add((*shape).to_string(), *kind);
        }
        s
    }

    fn add(&mut self, shape: String, kind: Kind) {
        let mut idx = 0;
        while let Some(pos) = shape[idx..].find('/') {
            self.nodes.insert(shape[..idx + pos].to_string());
            idx += pos + 1;
        }
        self.leaves.entry(shape).or_insert(kind);
    }

    /// Number of known leaf shapes.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Is `path` (a leaf, a container or a list entry; wildcards allowed) a
    /// node of the schema? The root always is.
    pub fn knows_node(&self, path: &Path) -> bool {
        if path.is_root() || path.elems.iter().any(|e| e.name == "*" || e.name == "...") {
            return true;
        }
        let s = shape(path);
        self.leaves.contains_key(&s) || self.nodes.contains(&s)
    }

    /// Checks a leaf write and returns the value to store (numbers sent as
    /// RFC 7951 strings become numbers).
    pub fn check_leaf(&self, path: &Path, value: Value) -> Result<Value, SchemaError> {
        let Some(kind) = self.leaves.get(&shape(path)).copied() else {
            return Err(SchemaError::Unknown { path: path.clone() });
        };
        let got = Kind::of(&value);
        let mismatch = |value: &Value| SchemaError::Type {
            path: path.clone(),
            expected: kind.name(),
            got: got.name(),
            value: value.to_string(),
        };
        match (kind, &value) {
            (Kind::Opaque, _) => Ok(value),
            (k, _) if k == got => Ok(value),
            (Kind::Integer, Value::String(s)) => {
                if let Ok(u) = s.parse::<u64>() {
                    Ok(Value::Uint(u))
                } else if let Ok(i) = s.parse::<i64>() {
                    Ok(Value::Int(i))
                } else {
                    Err(mismatch(&value))
                }
            }
            (Kind::Decimal, Value::Int(_) | Value::Uint(_)) => Ok(value),
            (Kind::Decimal, Value::String(s)) if s.parse::<f64>().is_ok() => Ok(value),
            _ => Err(mismatch(&value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn known_shapes_types_and_new_list_entries() {
        let init = [(p("/vendor/x[id=1]/config/level"), Value::Uint(3))];
        let s = Schema::new(init.iter().map(|(p, v)| (p, v)), &[]);
        assert!(s.knows_node(&p("/vendor/x[id=9]")));
        assert!(s.knows_node(&p("/interfaces/interface[name=Et9]")));
        assert!(!s.knows_node(&p("/interfaces/interfaec")));
        assert_eq!(
            s.check_leaf(&p("/vendor/x[id=2]/config/level"), Value::from("7")),
            Ok(Value::Uint(7))
        );
        assert!(matches!(
            s.check_leaf(&p("/vendor/x[id=2]/config/level"), Value::from("seven")),
            Err(SchemaError::Type { .. })
        ));
        assert!(matches!(
            s.check_leaf(
                &p("/interfaces/interface[name=E1]/config/mtu"),
                Value::Bool(true)
            ),
            Err(SchemaError::Type { .. })
        ));
        let err = s
            .check_leaf(
                &p("/interfaces/interface[name=E1]/config/mtuu"),
                Value::Uint(1),
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("/interfaces/interface[name=E1]/config/mtuu"),
            "{err}"
        );
    }
}
