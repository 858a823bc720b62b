//! Full-sync benchmark against a real NetBox (scripts/netbox.sh):
//!
//!     cargo run --release -p fabric-netbox --example bench -- --devices 500 --interfaces 48
//!
//! Seeds `--devices` devices with `--interfaces` ports each (plus a management port with the
//! primary address and a Loopback0 with an address; `--port-addresses` adds a /31 per port) into
//! site `bench` with bulk requests, then times `--runs` full syncs of that site and prints each run, the median and the
//! request count. `--skip-seed` reuses what an earlier run seeded.

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use fabric_api::netbox::Filters;
use fabric_drift::intent::Platform;
use fabric_netbox::{Client, ClientOptions, MappingConfig, SyncConfig, Token, seed, sync};

/// The test NetBox (target/netbox.env from scripts/netbox.sh), shared with the integration tests.
#[path = "../tests/common/mod.rs"]
mod common;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 500)]
    devices: usize,
    #[arg(long, default_value_t = 48)]
    interfaces: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 6)]
    concurrency: usize,
    #[arg(long)]
    skip_seed: bool,
    /// Also give every port a /31 (doubles the seeding time).
    #[arg(long)]
    port_addresses: bool,
    #[arg(long, default_value = "bench")]
    site: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let (url, token) = common::netbox_env();
    let options = ClientOptions {
        concurrency: args.concurrency,
        timeout: Duration::from_secs(300),
        ..ClientOptions::default()
    };
    let client = Client::with_options(&url, Token::parse(&token)?, options)?;
    if !args.skip_seed {
        let t = Instant::now();
        seed::bulk(
            &client,
            &args.site,
            args.devices,
            args.interfaces,
            args.port_addresses,
        )
        .await?;
        println!(
            "seeded {} devices x {} interfaces in {:.1} s ({} requests)",
            args.devices,
            args.interfaces,
            t.elapsed().as_secs_f64(),
            client.request_count()
        );
    }
    let config = SyncConfig {
        filters: Filters {
            site: vec![args.site.clone()],
            ..Filters::default()
        },
        mapping: MappingConfig {
            gnmi_port: 6030,
            credentials_secret_ref: None,
            platform: Platform::Eos,
            label_prefix: "netbox.fabric.netops.dev/".into(),
        },
    };
    let mut times = Vec::new();
    for run in 1..=args.runs {
        let t = Instant::now();
        let r = sync(&client, &config).await?;
        let elapsed = t.elapsed();
        let interfaces: usize = r
            .devices
            .iter()
            .map(|d| d.spec.intent.interfaces.len())
            .sum();
        println!(
            "run {run}: {:.2} s, {} devices, {} interfaces, {} errors, {} requests",
            elapsed.as_secs_f64(),
            r.devices.len(),
            interfaces,
            r.errors.len(),
            r.requests
        );
        if r.devices.len() != args.devices {
            bail!(
                "expected {} devices, synced {}",
                args.devices,
                r.devices.len()
            );
        }
        times.push(elapsed);
    }
    times.sort();
    if let Some(m) = times.get(times.len() / 2) {
        println!(
            "median full sync: {:.2} s over {} runs",
            m.as_secs_f64(),
            times.len()
        );
    }
    Ok(())
}
