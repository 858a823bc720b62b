//! fabric-api's integration tests, one binary (each module links the whole crate; one link
//! instead of four keeps a cold CI build's disk and time down).

mod crds;
mod examples;
mod reference;
mod validation;
