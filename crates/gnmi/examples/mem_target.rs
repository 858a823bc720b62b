//! Runs the small in-memory test target (tests/support) on a loopback
//! address for a bounded time, for interoperability checks with third-party
//! gNMI clients (pygnmi, gnmic). Credentials: admin / fabric, plaintext.
//!
//! cargo run -p fabric-gnmi --example mem_target -- 127.0.0.1:50051 60

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:50051".into())
        .parse()?;
    if !addr.ip().is_loopback() {
        return Err("mem_target only listens on loopback addresses".into());
    }
    // Bounded run time: it is a test fixture, not a service.
    let secs: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60)
        .min(600);
    let (bound, _target) = support::start_on(&addr.to_string(), None).await;
    println!(
        "gNMI test target on {bound} for {secs}s (user {}, password {})",
        support::USER,
        support::PASS
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Ok(())
}
