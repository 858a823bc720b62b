//! fabric-operator's integration tests, one binary (each would link kube, tonic and the engine;
//! one link instead of six keeps a cold CI build's disk and time down).

/// The NetBox helpers crates/netbox's tests use, for the NetBoxSource tests.
#[path = "../../../netbox/tests/common/mod.rs"]
mod common;

mod api_calls;
mod controller;
mod crds;
mod dashboard;
mod deploy;
mod kube_port;
mod lab;
mod leader;
mod netbox_source;
