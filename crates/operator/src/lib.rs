//! fabric-operator as a library: the Kubernetes adapter, the lab, and what both share. The
//! binary (`src/main.rs`) only parses the command line; the workspace's end-to-end tests drive
//! these modules directly.

pub mod config;
pub mod http;
pub mod k8s;
pub mod lab;
pub mod metrics;
pub mod rbac;
