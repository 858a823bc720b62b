//! fabric-operator's Kubernetes API: the custom resources of group `fabric.netops.dev`, their
//! status conditions, the CRD manifests, and an API-server-like validator for the lab.
//!
//! The intent and policy models come from `fabric-drift` (no Kubernetes types there); this crate
//! wraps them in resources. `kube` and `k8s_openapi` are re-exported so other crates use the
//! same versions.

pub mod conditions;
pub mod crds;
pub mod device;
pub mod event;
pub mod manifest;
pub mod netbox;
pub mod policy;
pub mod reference;
pub mod selection;
pub mod validation;

pub use device::{FabricDevice, FabricDeviceSpec, FabricDeviceStatus};
pub use event::{DriftEvent, DriftEventSpec, DriftEventStatus};
pub use fabric_drift::{intent, policy::Mode};
pub use netbox::{NetBoxSource, NetBoxSourceSpec, NetBoxSourceStatus};
pub use policy::{DriftPolicy, DriftPolicySpec, DriftPolicyStatus};
pub use {k8s_openapi, kube};

/// The API group of every resource here.
pub const GROUP: &str = "fabric.netops.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Field manager of every write the operator makes (server-side apply).
pub const FIELD_MANAGER: &str = "fabric-operator";
