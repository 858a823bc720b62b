//! Typed notifications: what a target reports in Get and Subscribe.
//!
//! Plain types without any protobuf dependency, so consumers such as the
//! drift engine can take them from a client session or build them in tests.

use crate::path::{Path, PathError};
use crate::value::{Value, ValueError};

/// One decoded update. `path` is the full path (notification prefix joined).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub path: Path,
    pub value: Value,
    /// Number of coalesced duplicates the target reported.
    pub duplicates: u32,
}

/// A decoded notification. Update and delete paths are already joined with
/// `prefix`, which is kept for callers that need it (e.g. to re-encode).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notification {
    /// Nanoseconds since the Unix epoch.
    pub timestamp: i64,
    pub prefix: Path,
    /// The prefix's `target` field, if the target set one.
    pub target: Option<String>,
    pub updates: Vec<Update>,
    pub deletes: Vec<Path>,
    pub atomic: bool,
}

/// Why a notification (or one of its parts) could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("notification prefix: {0}")]
    Prefix(#[source] PathError),
    #[error("update #{index}: path: {source}")]
    UpdatePath {
        index: usize,
        #[source]
        source: PathError,
    },
    #[error("update #{index} at {path}: value: {source}")]
    UpdateValue {
        index: usize,
        path: Path,
        #[source]
        source: ValueError,
    },
    #[error("update #{index}: missing path")]
    MissingPath { index: usize },
    #[error("delete #{index}: {source}")]
    DeletePath {
        index: usize,
        #[source]
        source: PathError,
    },
    #[error("{field} #{index}: {source}")]
    RequestPath {
        field: &'static str,
        index: usize,
        #[source]
        source: PathError,
    },
    #[error("{field} #{index} at {path}: value: {source}")]
    RequestValue {
        field: &'static str,
        index: usize,
        path: Path,
        #[source]
        source: ValueError,
    },
    #[error("response carries neither an update, a sync_response nor an error")]
    EmptyResponse,
}

impl Notification {
    /// All updates as flattened leaves: JSON and JSON_IETF values are
    /// flattened under their update path with `keys`; scalar values pass
    /// through. This is what a drift engine feeds on, whatever mix of typed
    /// scalars and JSON blobs a target sends.
    pub fn leaves(
        &self,
        keys: &crate::json::KeyTable,
    ) -> Result<Vec<crate::json::Leaf>, crate::json::JsonError> {
        leaves_of(&self.updates, keys)
    }
}

/// Flattens updates into leaves; see [`Notification::leaves`].
pub fn leaves_of(
    updates: &[Update],
    keys: &crate::json::KeyTable,
) -> Result<Vec<crate::json::Leaf>, crate::json::JsonError> {
    let mut out = Vec::with_capacity(updates.len());
    for u in updates {
        match &u.value {
            Value::JsonIetf(s) => {
                out.extend(crate::json::flatten_json_ietf(&u.path, s.as_bytes(), keys)?)
            }
            Value::Json(s) => out.extend(crate::json::flatten_json(&u.path, s.as_bytes(), keys)?),
            v => out.push(crate::json::Leaf {
                path: u.path.clone(),
                value: v.clone(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::KeyTable;

    #[test]
    fn leaves_mix_json_blobs_and_scalars() {
        let p = |s: &str| -> Path { s.parse().unwrap_or_default() };
        let n = Notification {
            updates: vec![
                Update {
                    path: p("/interfaces/interface[name=Et1]/config"),
                    value: Value::JsonIetf(
                        r#"{"openconfig-interfaces:mtu": 9214, "description": "x"}"#.into(),
                    ),
                    duplicates: 0,
                },
                Update {
                    path: p("/system/config/hostname"),
                    value: Value::from("leaf1"),
                    duplicates: 0,
                },
            ],
            ..Default::default()
        };
        let leaves = n.leaves(&KeyTable::default()).unwrap_or_default();
        let got: Vec<(String, Value)> = leaves
            .into_iter()
            .map(|l| (l.path.to_string(), l.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "/interfaces/interface[name=Et1]/config/mtu".to_string(),
                    Value::Uint(9214)
                ),
                (
                    "/interfaces/interface[name=Et1]/config/description".to_string(),
                    Value::from("x")
                ),
                ("/system/config/hostname".to_string(), Value::from("leaf1")),
            ]
        );
        let bad = Notification {
            updates: vec![Update {
                path: p("/a"),
                value: Value::JsonIetf("{".into()),
                duplicates: 0,
            }],
            ..Default::default()
        };
        assert!(bad.leaves(&KeyTable::default()).is_err());
    }
}
