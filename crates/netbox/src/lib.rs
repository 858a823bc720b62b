//! NetBox as a source of FabricDevice intent.
//!
//! - [`Client`]: the REST client (v1 and v2 tokens, pagination with pages in flight, `?fields=`
//!   selection, retries with backoff, request counters for metrics).
//! - [`sync()`]: one full sync of the devices a [`NetBoxSourceSpec`](fabric_api::netbox::NetBoxSourceSpec)
//!   selects, into [`SyncedDevice`]s (name, labels, `FabricDeviceSpec`) and per-object errors.
//! - [`mapping`]: the pure NetBox → intent mapping; conventions in docs/netbox-data-model.md.
//! - [`webhook`]: `X-Hook-Signature` verification and which devices an event touches.
//! - [`seed`]: writes a lab fabric (and bulk benchmark data) into NetBox, for tests and demos.
//!
//! The operator builds on this: it applies `SyncResult::devices` with server-side apply (field
//! manager `netbox-sync`), maps [`SyncError::reason`] to its conditions, and keeps the last
//! intent whenever a sync fails.

pub mod client;
pub mod mapping;
pub mod records;
pub mod seed;
pub mod sync;
pub mod webhook;

pub use client::{Client, ClientError, ClientOptions, RequestCounters, Token};
pub use mapping::{
    InvalidData, MappingConfig, NetBoxSets, ObjectRef, Snapshot, SyncedDevice, map_snapshot,
};
pub use sync::{
    SyncConfig, SyncError, SyncResult, devices_of, fetch_devices_snapshot, fetch_snapshot, sync,
    sync_devices,
};
pub use webhook::{Affected, Event, SharedObjects, SignatureError, parse_event, verify_signature};
