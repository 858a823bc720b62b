//! Typed gNMI requests and responses (Capabilities, Get, Set, Subscribe).
//!
//! Plain types, no protobuf: a remediation plan can build a [`SetRequest`]
//! without a network stack, and the client converts it on the way out.

use std::time::Duration;

use crate::path::Path;
use crate::value::{Encoding, Value};

/// A schema model (`ModelData`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ModelData {
    pub name: String,
    pub organization: String,
    pub version: String,
}

/// What a target reported in its CapabilityResponse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub models: Vec<ModelData>,
    pub encodings: Vec<Encoding>,
    /// `gNMI_version`, e.g. "0.10.0".
    pub version: String,
}

/// `GetRequest.DataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataType {
    #[default]
    All,
    Config,
    State,
    Operational,
}

/// A Get: several paths under an optional prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct GetRequest {
    pub prefix: Option<Path>,
    pub paths: Vec<Path>,
    pub data_type: DataType,
    pub encoding: Encoding,
    pub use_models: Vec<ModelData>,
}

impl Default for GetRequest {
    fn default() -> Self {
        GetRequest {
            prefix: None,
            paths: Vec::new(),
            data_type: DataType::All,
            encoding: Encoding::JsonIetf,
            use_models: Vec::new(),
        }
    }
}

impl GetRequest {
    /// Get of the given paths, JSON_IETF, all data.
    pub fn paths(paths: impl IntoIterator<Item = Path>) -> Self {
        GetRequest {
            paths: paths.into_iter().collect(),
            ..Default::default()
        }
    }
}

/// A Set transaction. The target applies deletes, then replaces, then
/// updates, atomically (spec 3.4.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SetRequest {
    pub prefix: Option<Path>,
    pub deletes: Vec<Path>,
    pub replaces: Vec<(Path, Value)>,
    pub updates: Vec<(Path, Value)>,
    pub union_replaces: Vec<(Path, Value)>,
}

impl SetRequest {
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty()
            && self.replaces.is_empty()
            && self.updates.is_empty()
            && self.union_replaces.is_empty()
    }
}

impl std::fmt::Display for SetRequest {
    /// One line per operation, in the order the target applies them
    /// (deletes, replaces, updates, union-replaces); paths joined with the
    /// prefix. For plans and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = self.prefix.clone().unwrap_or_default();
        let full = |p: &Path| prefix.join(p).unwrap_or_else(|_| p.clone());
        for d in &self.deletes {
            writeln!(f, "delete        {}", full(d))?;
        }
        for (label, ops) in [
            ("replace      ", &self.replaces),
            ("update       ", &self.updates),
            ("union_replace", &self.union_replaces),
        ] {
            for (p, v) in ops {
                writeln!(f, "{label} {} = {v}", full(p))?;
            }
        }
        Ok(())
    }
}

/// The operation an `UpdateResult` reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperation {
    Delete,
    Replace,
    Update,
    UnionReplace,
    /// `INVALID` (0) or a number this crate does not know.
    Invalid(i32),
}

/// Result of one operation of a Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetResult {
    /// Full path (response prefix joined).
    pub path: Path,
    pub op: SetOperation,
}

/// A SetResponse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetResponse {
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    pub results: Vec<SetResult>,
}

/// `SubscriptionList.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ListMode {
    #[default]
    Stream,
    Once,
    Poll,
}

/// Per-subscription mode of a STREAM subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StreamMode {
    #[default]
    TargetDefined,
    OnChange,
    Sample,
}

/// One subscription of a SubscriptionList.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub path: Path,
    pub mode: StreamMode,
    /// SAMPLE interval; `None` lets the target pick.
    pub sample_interval: Option<Duration>,
    pub suppress_redundant: bool,
    pub heartbeat_interval: Option<Duration>,
}

impl Subscription {
    pub fn on_change(path: Path) -> Self {
        Subscription {
            path,
            mode: StreamMode::OnChange,
            ..Default::default()
        }
    }

    pub fn sample(path: Path, interval: Duration) -> Self {
        Subscription {
            path,
            mode: StreamMode::Sample,
            sample_interval: Some(interval),
            ..Default::default()
        }
    }

    pub fn target_defined(path: Path) -> Self {
        Subscription {
            path,
            ..Default::default()
        }
    }
}

/// A Subscribe request (the first message of the RPC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    pub prefix: Option<Path>,
    pub mode: ListMode,
    pub subscriptions: Vec<Subscription>,
    pub encoding: Encoding,
    pub updates_only: bool,
    pub allow_aggregation: bool,
    /// DSCP marking.
    pub qos: Option<u32>,
    pub use_models: Vec<ModelData>,
}

impl Default for SubscribeRequest {
    fn default() -> Self {
        SubscribeRequest {
            prefix: None,
            mode: ListMode::Stream,
            subscriptions: Vec::new(),
            encoding: Encoding::JsonIetf,
            updates_only: false,
            allow_aggregation: false,
            qos: None,
            use_models: Vec::new(),
        }
    }
}

impl SubscribeRequest {
    pub fn stream(subscriptions: Vec<Subscription>) -> Self {
        SubscribeRequest {
            subscriptions,
            ..Default::default()
        }
    }

    pub fn once(paths: impl IntoIterator<Item = Path>) -> Self {
        SubscribeRequest {
            mode: ListMode::Once,
            subscriptions: paths
                .into_iter()
                .map(Subscription::target_defined)
                .collect(),
            ..Default::default()
        }
    }

    pub fn poll(paths: impl IntoIterator<Item = Path>) -> Self {
        SubscribeRequest {
            mode: ListMode::Poll,
            subscriptions: paths
                .into_iter()
                .map(Subscription::target_defined)
                .collect(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_request_prints_one_line_per_operation() {
        let p = |s: &str| -> Path { s.parse().unwrap_or_default() };
        let req = SetRequest {
            prefix: Some(p("/interfaces")),
            deletes: vec![p("/interface[name=Et3]")],
            replaces: vec![(
                p("/interface[name=Et1]/config"),
                Value::JsonIetf("{\"mtu\":9214}".into()),
            )],
            updates: vec![(
                p("/interface[name=Et2]/config/description"),
                Value::from("uplink"),
            )],
            union_replaces: vec![],
        };
        assert_eq!(
            req.to_string(),
            "delete        /interfaces/interface[name=Et3]\n\
             replace       /interfaces/interface[name=Et1]/config = {\"mtu\":9214}\n\
             update        /interfaces/interface[name=Et2]/config/description = \"uplink\"\n"
        );
    }
}
