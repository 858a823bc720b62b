//! The workspace's end-to-end tests (see Cargo.toml for why they are one binary).

mod chart;
mod engine;
mod gitops;
mod remediation;
