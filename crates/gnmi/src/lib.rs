//! gNMI 0.10 for fabric-operator: typed paths and values, the JSON_IETF
//! codec, and (behind features) the protobuf conversions, a typed client and
//! the generated server trait.
//!
//! Features:
//! - none: [`path`], [`value`], [`json`], [`notification`], [`rpc`],
//!   [`backoff`]; no tonic, no prost, so
//!   the drift engine can use the types without a network stack;
//! - `proto`: generated messages (private) and the conversions between them
//!   and the crate's types;
//! - `client`: [`client`], a tonic client with TLS, auth, timeouts;
//! - `server`: [`server`], the generated service trait for targets (fabric-sim).
//!
//! ```
//! use fabric_gnmi::{KeyTable, Path, Value, encode_json_ietf, flatten_json_ietf};
//!
//! let base: Path = "/interfaces".parse()?;
//! let blob = br#"{"openconfig-interfaces:interface": [
//!     {"name": "Ethernet1", "config": {"mtu": 9214, "description": "to spine1"}}]}"#;
//! let leaves = flatten_json_ietf(&base, blob, &KeyTable::default())?;
//! let mtu: Path = "/interfaces/interface[name=Ethernet1]/config/mtu".parse()?;
//! assert!(leaves.iter().any(|l| l.path == mtu && l.value == Value::Uint(9214)));
//!
//! // And back, for a SetRequest at `base`.
//! let json = encode_json_ietf(&base, &leaves)?;
//! assert_eq!(flatten_json_ietf(&base, &json, &KeyTable::default())?.len(), leaves.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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

pub use json::{
    KeyTable, Leaf, encode_json_ietf, encode_json_ietf_qualified, flatten_json, flatten_json_ietf,
};
pub use notification::{DecodeError, Notification, Update};
pub use path::{Keys, Path, PathElem, PathError};
pub use value::{Decimal64, Encoding, Value, ValueError};

/// Generated protobuf code. Private: the crate's own types are the API; the
/// `server` feature re-exports what a target implementation needs.
#[cfg(feature = "proto")]
// dead_code: with `proto` alone nothing outside the conversions uses the
// generated messages.
#[allow(clippy::all, clippy::pedantic, missing_docs, deprecated, dead_code)]
pub(crate) mod proto {
    pub mod gnmi_ext {
        include!(concat!(env!("OUT_DIR"), "/gnmi_ext.rs"));
    }
    pub mod gnmi {
        include!(concat!(env!("OUT_DIR"), "/gnmi.rs"));
    }
}

/// Makes ring rustls's process-wide crypto provider, once. tonic builds its TLS configs with
/// rustls's process default, which rustls cannot choose by itself when a build also links
/// aws-lc-rs (some dependency trees do); then every TLS connection would panic. Called before
/// any TLS use by the client and by targets built on the `server` feature; harmless if the
/// program already installed a provider.
#[cfg(any(feature = "client", feature = "server"))]
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
