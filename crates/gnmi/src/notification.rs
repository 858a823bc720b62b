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
