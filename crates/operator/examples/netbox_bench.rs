//! NetBoxSource benchmark: full sync of a large NetBox site into FabricDevices, and webhook →
//! FabricDevice updated. Against the real NetBox of scripts/netbox.sh and an in-memory API
//! server (kube-fake-client); not part of the test suite.
//!
//!     scripts/netbox.sh
//!     DEVICES=500 PORTS=48 NETBOX_ROOT=target/netbox/root target/netbox/venv/bin/netbox shell \
//!         < scripts/netbox-bench-seed.py          # site `bench`, see crates/netbox/README.md
//!     cargo run --release -p fabric-operator --example netbox_bench -- --devices 500
//!
//! Prints each run, medians and maxima, and the NetBox requests per sync.

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
    /// Webhooks to time while a full sync runs.
    #[arg(long, default_value_t = 5)]
    during_full: usize,
}

const SECRET: &str = "bench-webhook-secret";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(what: &str, v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    let (n, max) = (v.len(), v.iter().max().copied().unwrap_or_default());
    println!(
        "{what}: median {:.0} ms, max {:.0} ms over {n}",
        median(v).as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0
    );
}

/// One timed webhook: an interface description changed in NetBox, the event NetBox sends for
/// it POSTed to /webhooks/netbox, timed until the FabricDevice shows the change.
struct Webhook<'a> {
    netbox: &'a fabric_netbox::Client,
    devices: &'a Api<FabricDevice>,
    http: &'a reqwest::Client,
    url: &'a str,
    count: usize,
}

impl Webhook<'_> {
    async fn time(&self, n: usize) -> anyhow::Result<Duration> {
        let device = format!("bench-{:04}", (n * 37) % self.count);
        let found: Vec<serde_json::Value> = self
            .netbox
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
        let _: serde_json::Value = self
            .netbox
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
        let t = Instant::now();
        let answer = self
            .http
            .post(self.url)
            .header("X-Hook-Signature", sign(SECRET.as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await?;
        if answer.status() != 200 {
            bail!("webhook answered {}", answer.status());
        }
        loop {
            let d = self.devices.get(&device).await?;
            let now = d
                .spec
                .intent
                .interfaces
                .iter()
                .find(|i| i.name == "Ethernet1")
                .and_then(|i| i.description.clone());
            if now.as_deref() == Some(description.as_str()) {
                return Ok(t.elapsed());
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("{device}: the webhook did not update the FabricDevice within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
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
    report("full sync (steady state)", times);

    // Webhooks: an interface description changed in NetBox, the event NetBox sends for it
    // POSTed to /webhooks/netbox, timed until the FabricDevice shows the change.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/webhooks/netbox", listener.local_addr()?);
    let router = http::netbox_router(Webhooks::start(sync.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let bench = Webhook {
        netbox: &netbox,
        devices: &devices,
        http: &http,
        url: &hook_url,
        count: args.devices,
    };
    let mut latencies = Vec::new();
    for n in 0..args.webhooks {
        let r0 = requests(&metrics);
        let took = bench.time(n).await?;
        println!(
            "webhook {n}: {:.0} ms, {} NetBox requests",
            took.as_secs_f64() * 1000.0,
            requests(&metrics) - r0
        );
        latencies.push(took);
    }
    report("webhook → FabricDevice updated", latencies);

    // The same while a full sync runs: the webhook's sync reads NetBox at once and waits for
    // the full sync only to apply.
    let mut during = Vec::new();
    for n in 0..args.during_full {
        let full = {
            let (sync, key) = (sync.clone(), key.clone());
            tokio::spawn(async move { sync.sync_now(&key, Scope::Full).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let took = bench.time(args.webhooks + n).await?;
        let finished = full.is_finished();
        full.await??;
        println!(
            "webhook during a full sync {n}: {:.0} ms (the full sync had {}ended by then)",
            took.as_secs_f64() * 1000.0,
            if finished { "" } else { "not " }
        );
        during.push(took);
    }
    report("webhook → FabricDevice updated during a full sync", during);
    Ok(())
}
