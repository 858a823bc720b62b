//! The Kubernetes adapter: controllers, the engine's port on the API server, leader election.
//! Kept thin: watching, server-side apply and mapping are its whole job.

pub mod controller;
pub mod leader;
pub mod mapping;
pub mod netbox;
pub mod port;
