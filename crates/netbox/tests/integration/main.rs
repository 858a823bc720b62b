//! fabric-netbox's integration tests, one binary (one link instead of one per file keeps a cold
//! CI build's disk and time down).

#[path = "../common/mod.rs"]
mod common;

mod lab;
mod netbox;
mod recorded;
