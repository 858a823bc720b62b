//! kubectl-fabric's integration tests, one binary (one link instead of one per file keeps a cold
//! CI build's disk and time down).

mod cluster;
mod plan;
