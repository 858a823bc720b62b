//! gNMI 0.10 for fabric-operator: typed paths and values, the JSON_IETF
//! codec, and (behind features) the protobuf conversions, a typed client and
//! the generated server trait.
//!
//! Features:
//! - none: [`path`], [`value`], [`json`], [`backoff`]; no tonic, no prost, so
//!   the drift engine can use the types without a network stack;
//! - `proto`: generated messages (private) and conversions in [`wire`];
//! - `client`: [`client`], a tonic client with TLS, auth, timeouts;
//! - `server`: [`server`], the generated service trait for targets (fabric-sim).

pub mod backoff;
#[doc(hidden)]
pub mod fuzzing;
pub mod json;
pub mod notification;
pub mod path;
pub mod rpc;
pub mod value;

#[cfg(feature = "proto")]
mod wire;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "server")]
pub mod server;

pub use json::{KeyTable, Leaf, encode_json_ietf, flatten_json, flatten_json_ietf};
pub use notification::{DecodeError, Notification, Update};
pub use path::{Path, PathElem, PathError};
pub use value::{Decimal64, Encoding, Value, ValueError};

/// Generated protobuf code. Private: the crate's own types are the API; the
/// `server` feature re-exports what a target implementation needs.
#[cfg(feature = "proto")]
#[allow(clippy::all, clippy::pedantic, missing_docs, deprecated)]
pub(crate) mod proto {
    pub mod gnmi_ext {
        include!(concat!(env!("OUT_DIR"), "/gnmi_ext.rs"));
    }
    pub mod gnmi {
        include!(concat!(env!("OUT_DIR"), "/gnmi.rs"));
    }
}
