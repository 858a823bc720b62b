//! The drift engine's model and logic, free of Kubernetes and of the network.
//!
//! [`intent`] is what a device should hold and [`policy`] is what to do when it does not. Both
//! are plain serde + schemars structs: the `fabric-api` crate embeds them in the FabricDevice and
//! DriftPolicy custom resources, so the CRD schema and the engine share one definition.
//!
//! The engine itself: [`desired`] compiles an intent for a platform (the [`mapper`]s), [`observed`]
//! keeps a device's state in an interned tree and tracks drift incrementally, [`diff`] holds the
//! drift items and their fingerprint, [`plan`] turns drift into one ordered SetRequest.

pub mod desired;
pub mod diff;
pub mod duration;
pub mod intent;
pub mod mapper;
pub mod normalize;
pub mod observed;
pub mod pattern;
pub mod plan;
pub mod policy;
#[cfg(test)]
mod proptests;
pub mod schema;

pub use desired::{Desired, DesiredLeaf, IntentError};
pub use diff::{DriftDelta, DriftItem, DriftKind, Fingerprint};
pub use duration::Duration;
pub use observed::{DriftTracker, ObservedError};
pub use plan::{Plan, Strategy};

use fabric_gnmi::KeyTable;

/// The key table of every list the mappers use: OpenConfig's plus the EOS-native lists (VXLAN
/// maps and flood lists), whose entries carry non-key scalars next to the key and so cannot rely
/// on the "top-level scalars are keys" convention. The engine and fabric-sim decode JSON_IETF
/// with this table, so both see the same paths.
pub fn key_table() -> KeyTable {
    KeyTable::openconfig()
        // arista-exp-eos-vxlan-config
        .with("vlan-to-vni", ["vlan"])
        .with("vrf-to-vni", ["vrf"])
        .with("flood-vtep", ["vtep-ip"])
        .with("vlan-flood-vtep", ["vlan-id"])
        .with("vlan-mac-learn-mode", ["vlan-id"])
        .with("learn-prefix", ["prefix"])
        .with("mcast-grp-decap", ["mcast-grp"])
        // openconfig-network-instance / openconfig-evpn
        .with("evpn-instance", ["evi"])
        .with("connection-point", ["connection-point-id"])
        // openconfig-mclag
        .with("mclag-domain", ["domain-id"])
}
