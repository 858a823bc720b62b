//! The drift engine's model and logic, free of Kubernetes and of the network.
//!
//! [`intent`] is what a device should hold and [`policy`] is what to do when it does not. Both
//! are plain serde + schemars structs: the `fabric-api` crate embeds them in the FabricDevice and
//! DriftPolicy custom resources, so the CRD schema and the engine share one definition.

pub mod duration;
pub mod intent;
pub mod policy;
pub mod schema;

pub use duration::Duration;
