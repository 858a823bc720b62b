//! NetBoxSource benchmark: full sync of a large NetBox site into FabricDevices, and webhook →
//! FabricDevice updated. Against the real NetBox of scripts/netbox.sh and an in-memory API
//! server (kube-fake-client); not part of the test suite.
//!
//!     scripts/netbox.sh
//!     DEVICES=500 PORTS=48 NETBOX_ROOT=target/netbox/root target/netbox/venv/bin/netbox shell \
//!         < scripts/netbox-bench-seed.py          # site `bench`, see crates/netbox/README.md
//!     cargo run --release -p fabric-operator --example netbox_bench -- --devices 500
//!
//! Prints each run, the medians and the NetBox requests per sync.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use fabric_api::{
    FabricDevice, NetBoxSource,
    k8s_openapi::{ByteString, api::core::v1::Secret},
    kube::{Api, api::PostParams},
};
use fabric_netbox::webhook::sign;
use fabric_operator::{
    http,
    k8s::netbox::{NetBoxSync, Scope, SourceKey, Webhooks},
    metrics::Metrics,
};
use kube_fake_client::ClientBuilder;
use serde_json::json;

/// The test NetBox (target/netbox.env from scripts/netbox.sh), shared with the tests.
#[path = "../../netbox/tests/common/mod.rs"]
mod common;

#[derive(Parser)]
struct Args {
    /// Devices expected in the site (seeded beforehand).
    #[arg(long, default_value_t = 500)]
    devices: usize,
    #[arg(long, default_value = "bench")]
    site: String,
    /// Full syncs after the first (which creates every FabricDevice).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Webhooks to time.
    #[arg(long, default_value_t = 11)]
    webhooks: usize,
}

const SECRET: &str = "bench-webhook-secret";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn metric(metrics: &Metrics, start: &str) -> u64 {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with(start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fabric_gnmi::install_crypto_provider();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let (url, token) = common::netbox_env();
    let netbox = common::ready_client().await;

    let kube = ClientBuilder::new()
        .with_resource::<FabricDevice>()
        .with_status_subresource::<FabricDevice>()
        .with_resource::<NetBoxSource>()
        .with_status_subresource::<NetBoxSource>()
        .build()
        .await?;
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), "bench");
    for (name, key, value) in [
        ("netbox-token", "token", token.as_str()),
        ("netbox-webhook", "secret", SECRET),
    ] {
        let mut s = Secret::default();
        s.metadata.name = Some(name.into());
        s.metadata.namespace = Some("bench".into());
        s.data = Some(
            [(key.to_owned(), ByteString(value.as_bytes().to_vec()))]
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
        );
        secrets.create(&PostParams::default(), &s).await?;
    }
    let source: NetBoxSource = serde_json::from_value(json!({
        "apiVersion": "fabric.netops.dev/v1alpha1", "kind": "NetBoxSource",
        "metadata": {"name": "bench", "namespace": "bench"},
        "spec": {"url": url, "tokenSecretRef": {"name": "netbox-token", "key": "token"},
                 "filters": {"site": [args.site]},
                 "webhookSecretRef": {"name": "netbox-webhook", "key": "secret"}},
    }))?;
    let sources: Api<NetBoxSource> = Api::namespaced(kube.clone(), "bench");
    sources.create(&PostParams::default(), &source).await?;
    let key = SourceKey {
        namespace: "bench".into(),
        name: "bench".into(),
    };
    let metrics = Arc::new(Metrics::new(Arc::new(fabric_engine::Stats::default())));
    let sync = NetBoxSync::new(kube.clone(), metrics.clone());
    let requests = |m: &Metrics| metric(m, "fabric_netbox_requests_total{source=\"bench/bench\"}");
    let writes = |m: &Metrics| metric(m, "fabric_api_writes_total{kind=\"netbox-device\"}");
    let devices: Api<FabricDevice> = Api::namespaced(kube.clone(), "bench");

    // First sync: every FabricDevice is created.
    let t = Instant::now();
    sync.reconcile(&sources.get("bench").await?).await?;
    let first = t.elapsed();
    let status = sources.get("bench").await?.status.unwrap_or_default();
    if status.devices_synced as usize != args.devices {
        bail!(
            "synced {} devices, expected {} (status: {status:?}); seed site {} first (see the header of this file)",
            status.devices_synced,
            args.devices,
            args.site
        );
    }
    let interfaces: usize = devices
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(|d| d.spec.intent.interfaces.len())
        .sum();
    println!(
        "first full sync (creates {} FabricDevices, {interfaces} interfaces): {:.2} s, {} NetBox requests, {} writes",
        status.devices_synced,
        first.as_secs_f64(),
        requests(&metrics),
        writes(&metrics)
    );

    // Steady state: nothing changed in NetBox, nothing is written.
    let mut times = Vec::new();
    for run in 1..=args.runs {
        let (r0, w0) = (requests(&metrics), writes(&metrics));
        let t = Instant::now();
        sync.sync_now(&key, Scope::Full).await?;
        let took = t.elapsed();
        println!(
            "full sync {run}: {:.2} s, {} NetBox requests, {} writes",
            took.as_secs_f64(),
            requests(&metrics) - r0,
            writes(&metrics) - w0
        );
        times.push(took);
    }
    if !times.is_empty() {
        println!(
            "median full sync (steady state): {:.2} s over {} runs",
            median(times).as_secs_f64(),
            args.runs
        );
    }

    // Webhooks: an interface description changed in NetBox, the event NetBox sends for it
    // POSTed to /webhooks/netbox, timed until the FabricDevice shows the change.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/webhooks/netbox", listener.local_addr()?);
    let router = http::netbox_router(Webhooks::start(sync.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    for n in 0..args.webhooks {
        let device = format!("bench-{:04}", (n * 37) % args.devices);
        let found: Vec<serde_json::Value> = netbox
            .list(
                "api/dcim/interfaces/",
                &[
                    ("device", device.clone()),
                    ("name", "Ethernet1".into()),
                    ("fields", "id,device".into()),
                ],
            )
            .await?;
        let iface = found.first().context("Ethernet1 of a bench device")?;
        let description = format!("bench webhook {n} at {:?}", Instant::now());
        let _: serde_json::Value = netbox
            .patch(
                &format!("api/dcim/interfaces/{}/", iface["id"]),
                &json!({"description": description}),
            )
            .await?;
        let body = json!({
            "event": "updated", "object_type": "dcim.interface",
            "data": {"id": iface["id"], "name": "Ethernet1", "description": description,
                     "device": {"id": iface["device"]["id"], "name": device}},
        })
        .to_string();
        let r0 = requests(&metrics);
        let t = Instant::now();
        let answer = http
            .post(&hook_url)
            .header("X-Hook-Signature", sign(SECRET.as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await?;
        if answer.status() != 200 {
            bail!("webhook answered {}", answer.status());
        }
        loop {
            let d = devices.get(&device).await?;
            let now = d
                .spec
                .intent
                .interfaces
                .iter()
                .find(|i| i.name == "Ethernet1")
                .and_then(|i| i.description.clone());
            if now.as_deref() == Some(description.as_str()) {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("{device}: the webhook did not update the FabricDevice within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = t.elapsed();
        println!(
            "webhook {n} ({device}): {:.0} ms, {} NetBox requests",
            took.as_secs_f64() * 1000.0,
            requests(&metrics) - r0
        );
        latencies.push(took);
    }
    if !latencies.is_empty() {
        println!(
            "median webhook → FabricDevice updated: {:.0} ms over {} webhooks",
            median(latencies).as_secs_f64() * 1000.0,
            args.webhooks
        );
    }
    Ok(())
}
