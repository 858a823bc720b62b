//! The NetBoxSource controller against the real NetBox of scripts/netbox.sh and an in-memory
//! API server (kube-fake-client): the lab fabric seeded through NetBox's API syncs into
//! FabricDevices equal to examples/fabric/manifests; NetBox changes are followed; the deletion
//! policy holds; a bad token is a condition and deletes nothing; webhooks need a good signature.
//!
//! Each test works in its own NetBox site and its own in-memory API server.

use crate::common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use fabric_api::{
    FabricDevice, NetBoxSource,
    conditions::{self, types},
    k8s_openapi::{ByteString, api::core::v1::Secret},
    kube::{
        Api, ResourceExt,
        api::{Patch, PatchParams, PostParams},
    },
};
use fabric_engine::Stats;
use fabric_netbox::{ClientOptions, SyncedDevice, seed, webhook::sign};
use fabric_operator::{
    http,
    k8s::netbox::{NetBoxSync, SOURCE_LABEL, SOURCE_NAMESPACE_LABEL, Scope, SourceKey, Webhooks},
    metrics::Metrics,
};
use kube_fake_client::ClientBuilder;
use serde_json::json;

const WEBHOOK_SECRET: &str = "webhook-secret-for-the-operator-tests";

async fn fake_api() -> kube::Client {
    ClientBuilder::new()
        .with_resource::<FabricDevice>()
        .with_status_subresource::<FabricDevice>()
        .with_resource::<NetBoxSource>()
        .with_status_subresource::<NetBoxSource>()
        .build()
        .await
        .expect("in-memory API server")
}

async fn put_secret(kube: &kube::Client, namespace: &str, name: &str, key: &str, value: &str) {
    let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let mut secret = Secret::default();
    secret.metadata.name = Some(name.into());
    secret.metadata.namespace = Some(namespace.into());
    secret.data = Some(
        [(key.to_owned(), ByteString(value.as_bytes().to_vec()))]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    );
    match api.get_opt(name).await.unwrap() {
        None => {
            api.create(&PostParams::default(), &secret).await.unwrap();
        }
        Some(old) => {
            secret.metadata.resource_version = old.metadata.resource_version;
            api.replace(name, &PostParams::default(), &secret)
                .await
                .unwrap();
        }
    }
}

/// A NetBoxSource in `namespace` for NetBox site `site`, with its token Secret (and webhook
/// Secret); `extra` is merged into the spec.
async fn create_source(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    site: &str,
    extra: serde_json::Value,
) -> SourceKey {
    let (url, token) = common::netbox_env();
    put_secret(kube, namespace, "netbox-token", "token", &token).await;
    put_secret(kube, namespace, "netbox-webhook", "secret", WEBHOOK_SECRET).await;
    let mut spec = json!({
        "url": url,
        "tokenSecretRef": {"name": "netbox-token", "key": "token"},
        "interval": "5m",
        "filters": {"site": [site]},
        "webhookSecretRef": {"name": "netbox-webhook", "key": "secret"},
        "credentialsSecretRef": {"name": "lab-gnmi-credentials"},
        "platform": "eos",
        "labelPrefix": "fabric.netops.dev/",
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let source: NetBoxSource = serde_json::from_value(json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "NetBoxSource",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .expect("a valid NetBoxSource");
    let api: Api<NetBoxSource> = Api::namespaced(kube.clone(), namespace);
    api.create(&PostParams::default(), &source).await.unwrap();
    SourceKey {
        namespace: namespace.into(),
        name: name.into(),
    }
}

async fn get_source(kube: &kube::Client, key: &SourceKey) -> NetBoxSource {
    Api::<NetBoxSource>::namespaced(kube.clone(), &key.namespace)
        .get(&key.name)
        .await
        .unwrap()
}

/// The controller's reconcile, as it runs on a change of the source.
async fn reconcile(sync: &NetBoxSync, kube: &kube::Client, key: &SourceKey) -> NetBoxSource {
    let source = get_source(kube, key).await;
    sync.reconcile(&source).await.expect("reconcile");
    get_source(kube, key).await
}

async fn devices(kube: &kube::Client, namespace: &str) -> BTreeMap<String, FabricDevice> {
    Api::<FabricDevice>::namespaced(kube.clone(), namespace)
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|d| (d.name_any(), d))
        .collect()
}

fn as_json(devices: &BTreeMap<String, FabricDevice>) -> serde_json::Value {
    serde_json::to_value(devices).unwrap()
}

fn setup(kube: &kube::Client) -> (Arc<NetBoxSync>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new(Arc::new(Stats::default())));
    (NetBoxSync::new(kube.clone(), metrics.clone()), metrics)
}

/// The value of one sample of the metrics text, 0 when absent.
fn sample(metrics: &Metrics, line_start: &str) -> u64 {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn condition(source: &NetBoxSource, type_: &str) -> (String, String, String) {
    let status = source.status.clone().unwrap_or_default();
    let c = conditions::find(&status.conditions, type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn description(device: &FabricDevice, interface: &str) -> Option<String> {
    device
        .spec
        .intent
        .interfaces
        .iter()
        .find(|i| i.name == interface)
        .and_then(|i| i.description.clone())
}

#[tokio::test]
async fn the_lab_fabric_syncs_into_the_example_manifests_and_coexists_with_git() {
    let netbox = common::ready_client().await;
    // Shared objects first (custom fields, roles), as the other tests of this binary do.
    common::fresh_site(&netbox, "lab").await;
    seed::lab(&netbox, "lab")
        .await
        .expect("seeding the lab fabric");
    let kube = fake_api().await;
    // leaf1 exists already, applied from Git with raw config and strict ownership.
    let git: FabricDevice = serde_json::from_value(json!({
        "apiVersion": "fabric.netops.dev/v1alpha1", "kind": "FabricDevice",
        "metadata": {"name": "leaf1", "namespace": "lab"},
        "spec": {"target": {"address": "10.9.9.9:6030"}, "ownership": "strict",
                 "config": [{"path": "/system/config/login-banner", "value": "managed by git"}]},
    }))
    .unwrap();
    Api::<FabricDevice>::namespaced(kube.clone(), "lab")
        .patch(
            "leaf1",
            &PatchParams::apply("argocd-controller"),
            &Patch::Apply(&git),
        )
        .await
        .unwrap();
    let key = create_source(&kube, "lab", "lab", "lab", json!({})).await;
    let (sync, metrics) = setup(&kube);

    let source = reconcile(&sync, &kube, &key).await;
    assert_eq!(
        condition(&source, types::READY).0,
        "True",
        "{:?}",
        source.status
    );
    assert_eq!(condition(&source, types::SYNCED).0, "True");
    let status = source.status.clone().unwrap();
    assert_eq!(status.devices_synced, 10);
    assert!(status.last_sync_time.is_some());
    assert!(status.errors.is_empty(), "{:?}", status.errors);

    let found = devices(&kube, "lab").await;
    let mut names: Vec<&str> = found.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "leaf1", "leaf2", "leaf3", "leaf4", "leaf5", "leaf6", "leaf7", "leaf8", "spine1",
            "spine2"
        ]
    );
    for device in found.values() {
        let mut labels = device.labels().clone();
        assert_eq!(labels.remove(SOURCE_LABEL).as_deref(), Some("lab"));
        assert_eq!(
            labels.remove(SOURCE_NAMESPACE_LABEL).as_deref(),
            Some("lab")
        );
        let got = SyncedDevice {
            name: device.name_any(),
            netbox_id: 0,
            labels,
            sets: Default::default(),
            spec: device.spec.clone(),
        };
        if got.name == "leaf1" {
            // Git's fields stay; NetBox's are NetBox's.
            let spec = &device.spec;
            assert_eq!(spec.ownership, fabric_drift::intent::Ownership::Strict);
            assert_eq!(spec.config.len(), 1);
            assert_eq!(spec.target.address, "127.0.0.1:16011");
            let mut as_git_left_it = got.clone();
            as_git_left_it.spec.ownership = Default::default();
            as_git_left_it.spec.config.clear();
            common::assert_matches_manifest(&as_git_left_it);
        } else {
            common::assert_matches_manifest(&got);
        }
    }
    let writes = |m: &Metrics| sample(m, "fabric_api_writes_total{kind=\"netbox-device\"}");
    assert_eq!(writes(&metrics), 10);
    let versions: Vec<Option<String>> = found
        .values()
        .map(|d| d.metadata.resource_version.clone())
        .collect();

    // Steady state: a full sync of unchanged NetBox data writes no FabricDevice.
    sync.sync_now(&key, Scope::Full).await.unwrap();
    assert_eq!(writes(&metrics), 10);
    let again: Vec<Option<String>> = devices(&kube, "lab")
        .await
        .values()
        .map(|d| d.metadata.resource_version.clone())
        .collect();
    assert_eq!(again, versions);
    // Lab syncs: 8 lists of one page each, per sync.
    assert_eq!(
        sample(&metrics, "fabric_netbox_requests_total{source=\"lab/lab\"}"),
        16
    );
}

#[tokio::test]
async fn an_interface_description_changed_in_netbox_is_followed() {
    let netbox = common::ready_client().await;
    let created = common::site_with_devices(
        &netbox,
        "t-op-desc",
        &[("t-op-desc-1", "192.0.2.101/32", 2)],
    )
    .await;
    let kube = fake_api().await;
    let key = create_source(
        &kube,
        "desc",
        "dc1",
        "t-op-desc",
        json!({"gnmiPort": 57400}),
    )
    .await;
    let (sync, _) = setup(&kube);
    reconcile(&sync, &kube, &key).await;
    let device = &devices(&kube, "desc").await["t-op-desc-1"];
    assert_eq!(description(device, "Ethernet1").as_deref(), Some("port 1"));
    assert_eq!(device.spec.target.address, "192.0.2.101:57400");
    assert_eq!(
        device.labels()["fabric.netops.dev/site"],
        "t-op-desc",
        "site → label"
    );

    let id = created.interfaces[&("t-op-desc-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/interfaces/{id}/"),
            &json!({"description": "to core1 Ethernet7"}),
        )
        .await
        .unwrap();
    sync.sync_now(&key, Scope::Full).await.unwrap();
    let device = &devices(&kube, "desc").await["t-op-desc-1"];
    assert_eq!(
        description(device, "Ethernet1").as_deref(),
        Some("to core1 Ethernet7")
    );
    assert_eq!(description(device, "Ethernet2").as_deref(), Some("port 2"));
}

#[tokio::test]
async fn a_device_deleted_in_netbox_is_deleted_or_orphaned_as_the_policy_says() {
    let netbox = common::ready_client().await;
    let created = common::site_with_devices(
        &netbox,
        "t-op-del",
        &[
            ("t-op-del-1", "192.0.2.111/32", 1),
            ("t-op-del-2", "192.0.2.112/32", 1),
        ],
    )
    .await;
    let kube = fake_api().await;
    // Two sources on the same site, each writing into its own namespace.
    let deleting = create_source(
        &kube,
        "del",
        "dc1",
        "t-op-del",
        json!({"deletionPolicy": "delete"}),
    )
    .await;
    let orphaning = create_source(&kube, "orphan", "dc1", "t-op-del", json!({})).await;
    let (sync, _) = setup(&kube);
    for key in [&deleting, &orphaning] {
        reconcile(&sync, &kube, key).await;
    }
    for ns in ["del", "orphan"] {
        assert_eq!(
            devices(&kube, ns).await.keys().collect::<Vec<_>>(),
            ["t-op-del-1", "t-op-del-2"],
            "{ns}"
        );
    }

    netbox
        .delete(
            &format!("api/dcim/devices/{}/", created.devices["t-op-del-1"]),
            None,
        )
        .await
        .unwrap();
    for key in [&deleting, &orphaning] {
        sync.sync_now(key, Scope::Full).await.unwrap();
    }
    let deleted = devices(&kube, "del").await;
    assert_eq!(deleted.keys().collect::<Vec<_>>(), ["t-op-del-2"]);
    let orphaned = devices(&kube, "orphan").await;
    assert_eq!(
        orphaned.keys().collect::<Vec<_>>(),
        ["t-op-del-1", "t-op-del-2"]
    );
    let left = &orphaned["t-op-del-1"];
    assert!(
        !left.labels().contains_key(SOURCE_LABEL),
        "an orphan is no longer the source's"
    );
    assert_eq!(
        left.spec.target.address, "192.0.2.111:6030",
        "its intent stays"
    );
    assert_eq!(description(left, "Ethernet1").as_deref(), Some("port 1"));
    assert!(orphaned["t-op-del-2"].labels().contains_key(SOURCE_LABEL));
    let status = get_source(&kube, &deleting).await.status.unwrap();
    assert_eq!(status.devices_synced, 1);
}

#[tokio::test]
async fn an_event_for_a_same_named_device_of_another_site_deletes_nothing() {
    let netbox = common::ready_client().await;
    common::site_with_devices(
        &netbox,
        "t-op-dup-a",
        &[("t-op-dup-1", "192.0.2.151/32", 1)],
    )
    .await;
    let other = common::site_with_devices(
        &netbox,
        "t-op-dup-b",
        &[("t-op-dup-1", "192.0.2.152/32", 1)],
    )
    .await;
    let kube = fake_api().await;
    let key = create_source(
        &kube,
        "dup",
        "dc1",
        "t-op-dup-a",
        json!({"deletionPolicy": "delete"}),
    )
    .await;
    let (sync, _) = setup(&kube);
    reconcile(&sync, &kube, &key).await;
    let before = devices(&kube, "dup").await;
    assert_eq!(before.keys().collect::<Vec<_>>(), ["t-op-dup-1"]);

    // What an interface event of site b's device gives: its name, and its id, which this
    // source's filters do not select.
    let scope = Scope::Devices {
        names: ["t-op-dup-1".to_owned()].into(),
        ids: [("t-op-dup-1".to_owned(), other.devices["t-op-dup-1"])].into(),
        shared: Default::default(),
    };
    sync.sync_now(&key, scope).await.unwrap();
    assert_eq!(
        as_json(&devices(&kube, "dup").await),
        as_json(&before),
        "site a's device is neither deleted nor changed"
    );
}

#[tokio::test]
async fn data_the_crd_refuses_is_invalid_data_naming_the_object_and_the_rest_syncs() {
    let netbox = common::ready_client().await;
    let created = common::site_with_devices(
        &netbox,
        "t-op-crd",
        &[
            ("t-op-crd-1", "192.0.2.161/32", 1),
            ("t-op-crd-2", "192.0.2.162/32", 1),
        ],
    )
    .await;
    // NetBox takes a VRF name with a space; the FabricDevice schema does not.
    let tag = seed::seed_tag("t-op-crd");
    let vrf = seed::ensure(
        &netbox,
        "api/ipam/vrfs/",
        &[("name", "Customer A".to_owned()), ("tag", tag.clone())],
        json!({"name": "Customer A", "tags": [{"slug": tag}]}),
    )
    .await
    .unwrap();
    let iface = created.interfaces[&("t-op-crd-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/interfaces/{iface}/"),
            &json!({"vrf": vrf}),
        )
        .await
        .unwrap();
    let kube = fake_api().await;
    let key = create_source(&kube, "crd", "dc1", "t-op-crd", json!({})).await;
    let (sync, _) = setup(&kube);
    let source = reconcile(&sync, &kube, &key).await;

    let (ready, _, _) = condition(&source, types::READY);
    assert_eq!(ready, "True", "NetBox was read");
    let (synced, reason, message) = condition(&source, types::SYNCED);
    assert_eq!((synced.as_str(), reason.as_str()), ("False", "InvalidData"));
    assert!(
        message.contains(&format!("ipam.vrf {vrf} (Customer A)")),
        "{message}"
    );
    assert_eq!(
        devices(&kube, "crd").await.keys().collect::<Vec<_>>(),
        ["t-op-crd-2"],
        "the other device is synced"
    );
    let status = source.status.unwrap();
    assert_eq!(status.devices_synced, 1);
    assert!(status.last_sync_time.is_some());
}

#[tokio::test]
async fn git_set_tls_and_interfaces_survive_syncs_that_then_write_nothing() {
    let netbox = common::ready_client().await;
    common::site_with_devices(&netbox, "t-op-git", &[("t-op-git-1", "192.0.2.171/32", 1)]).await;
    let kube = fake_api().await;
    let key = create_source(&kube, "git", "dc1", "t-op-git", json!({})).await;
    let (sync, metrics) = setup(&kube);
    reconcile(&sync, &kube, &key).await;
    let writes = |m: &Metrics| sample(m, "fabric_api_writes_total{kind=\"netbox-device\"}");
    assert_eq!(writes(&metrics), 1);

    // Git sets the TLS mode (NetBox's gnmi_tls is not set); another manager adds an interface
    // (a merge patch of the whole list: the in-memory API server merges apply bodies' lists as
    // a whole, where a real one merges map-lists by key).
    let git = json!({
        "apiVersion": "fabric.netops.dev/v1alpha1", "kind": "FabricDevice",
        "metadata": {"name": "t-op-git-1", "namespace": "git"},
        "spec": {"target": {"tls": {"mode": "insecure"}}},
    });
    let api = Api::<FabricDevice>::namespaced(kube.clone(), "git");
    api.patch(
        "t-op-git-1",
        &PatchParams::apply("argocd-controller"),
        &Patch::Apply(&git),
    )
    .await
    .unwrap();
    let mut interfaces =
        serde_json::to_value(&api.get("t-op-git-1").await.unwrap().spec.intent.interfaces).unwrap();
    interfaces
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Ethernet48", "description": "set from Git", "enabled": true}));
    api.patch(
        "t-op-git-1",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"spec": {"intent": {"interfaces": interfaces}}})),
    )
    .await
    .unwrap();
    let check = |d: &FabricDevice| {
        assert_eq!(
            d.spec.target.tls.mode,
            fabric_api::device::TlsMode::Insecure,
            "Git's TLS mode"
        );
        assert_eq!(
            description(d, "Ethernet48").as_deref(),
            Some("set from Git")
        );
        assert_eq!(description(d, "Ethernet1").as_deref(), Some("port 1"));
    };
    check(&api.get("t-op-git-1").await.unwrap());
    let version = api
        .get("t-op-git-1")
        .await
        .unwrap()
        .metadata
        .resource_version;

    sync.sync_now(&key, Scope::Full).await.unwrap();
    let after = api.get("t-op-git-1").await.unwrap();
    check(&after);
    assert_eq!(writes(&metrics), 1, "nothing to write");
    assert_eq!(after.metadata.resource_version, version);
}

#[tokio::test]
async fn an_unreachable_netbox_is_a_condition_and_changes_nothing() {
    let netbox = common::ready_client().await;
    common::site_with_devices(
        &netbox,
        "t-op-down",
        &[("t-op-down-1", "192.0.2.181/32", 1)],
    )
    .await;
    let kube = fake_api().await;
    let key = create_source(
        &kube,
        "down",
        "dc1",
        "t-op-down",
        json!({"deletionPolicy": "delete"}),
    )
    .await;
    let metrics = Arc::new(Metrics::new(Arc::new(Stats::default())));
    let sync = NetBoxSync::with_options(
        kube.clone(),
        metrics,
        ClientOptions {
            max_retries: 1,
            backoff: Duration::from_millis(10),
            ..ClientOptions::default()
        },
    );
    reconcile(&sync, &kube, &key).await;
    let before = devices(&kube, "down").await;
    assert_eq!(before.len(), 1);

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    Api::<NetBoxSource>::namespaced(kube.clone(), "down")
        .patch(
            "dc1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"url": format!("http://127.0.0.1:{port}")}})),
        )
        .await
        .unwrap();
    let source = reconcile(&sync, &kube, &key).await;
    for t in [types::READY, types::SYNCED] {
        let (status, reason, message) = condition(&source, t);
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", "Unreachable"),
            "{message}"
        );
        assert!(message.contains(&port.to_string()), "{message}");
    }
    assert_eq!(
        as_json(&devices(&kube, "down").await),
        as_json(&before),
        "nothing deleted or changed"
    );
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_deletes_nothing() {
    let netbox = common::ready_client().await;
    common::site_with_devices(&netbox, "t-op-tok", &[("t-op-tok-1", "192.0.2.121/32", 1)]).await;
    let kube = fake_api().await;
    let key = create_source(
        &kube,
        "tok",
        "dc1",
        "t-op-tok",
        json!({"deletionPolicy": "delete"}),
    )
    .await;
    let (sync, metrics) = setup(&kube);
    reconcile(&sync, &kube, &key).await;
    let before = devices(&kube, "tok").await;
    assert_eq!(before.len(), 1);

    for (token, reason) in [
        ("ffffffffffffffffffffffffffffffffffffffff", "Unauthorized"),
        ("nbt_abcdef123456.not-a-real-secret", "Unauthorized"),
        ("not a token", "Unauthorized"),
    ] {
        // A rotated Secret: the controller reconciles, and a new token means a sync now.
        put_secret(&kube, "tok", "netbox-token", "token", token).await;
        let source = reconcile(&sync, &kube, &key).await;
        for t in [types::READY, types::SYNCED] {
            let (status, got, message) = condition(&source, t);
            assert_eq!(
                (status.as_str(), got.as_str()),
                ("False", reason),
                "{token}: {message}"
            );
            assert!(
                !message.contains(token),
                "the token must not show: {message}"
            );
        }
        assert_eq!(
            as_json(&devices(&kube, "tok").await),
            as_json(&before),
            "nothing deleted or changed"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            "fabric_netbox_syncs_total{source=\"tok/dc1\",scope=\"full\",result=\"Unauthorized\"}"
        ),
        3
    );

    // The good token back: synced again at once.
    let (_, good) = common::netbox_env();
    put_secret(&kube, "tok", "netbox-token", "token", &good).await;
    let source = reconcile(&sync, &kube, &key).await;
    assert_eq!(condition(&source, types::READY).0, "True");

    // A missing Secret is named; restored, the source syncs at once (not at the next interval).
    Api::<Secret>::namespaced(kube.clone(), "tok")
        .delete("netbox-token", &Default::default())
        .await
        .unwrap();
    let source = reconcile(&sync, &kube, &key).await;
    let (_, reason, message) = condition(&source, types::READY);
    assert_eq!(reason, "SecretNotFound");
    assert!(message.contains("netbox-token"), "{message}");
    assert_eq!(as_json(&devices(&kube, "tok").await), as_json(&before));
    put_secret(&kube, "tok", "netbox-token", "token", &good).await;
    let source = reconcile(&sync, &kube, &key).await;
    assert_eq!(condition(&source, types::READY).0, "True");
    assert_eq!(condition(&source, types::SYNCED).0, "True");
}

/// Serves the operator's webhook route on a free loopback port.
async fn serve_webhooks(sync: Arc<NetBoxSync>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::netbox_router(Webhooks::start(sync));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/webhooks/netbox")
}

/// Polls until `check` holds for the device (10 s at most); returns how long it took.
async fn until(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    check: impl Fn(Option<&FabricDevice>) -> bool,
) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let d = devices(kube, namespace).await;
        if check(d.get(name)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{namespace}/{name}: still {:?}",
            d.get(name).map(|d| &d.spec.intent.interfaces)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn webhooks_need_a_good_signature_and_resync_their_devices() {
    let netbox = common::ready_client().await;
    let base = common::fresh_site(&netbox, "t-op-hook").await;
    let created = seed::create_devices(
        &netbox,
        &base,
        &[
            common::simple_device("t-op-hook-1", "192.0.2.131/32", 2, base.mgmt_vrf),
            common::simple_device("t-op-hook-2", "192.0.2.132/32", 2, base.mgmt_vrf),
        ],
    )
    .await
    .unwrap();
    let kube = fake_api().await;
    let key = create_source(
        &kube,
        "hook",
        "dc1",
        "t-op-hook",
        json!({"deletionPolicy": "delete"}),
    )
    .await;
    let (sync, metrics) = setup(&kube);
    // The first reconcile reads the webhook secret.
    reconcile(&sync, &kube, &key).await;
    let url = serve_webhooks(sync.clone()).await;
    let http = reqwest::Client::new();

    let iface = created.interfaces[&("t-op-hook-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/interfaces/{iface}/"),
            &json!({"description": "changed behind the sync"}),
        )
        .await
        .unwrap();
    // The body NetBox sends for that change (default body template).
    let body = json!({
        "event": "updated", "timestamp": "2026-11-21T22:00:00Z", "object_type": "dcim.interface",
        "username": "admin", "request_id": "5e2b0f3c-0000-4000-8000-000000000001",
        "data": {"id": iface, "name": "Ethernet1", "description": "changed behind the sync",
                 "device": {"id": created.devices["t-op-hook-1"], "name": "t-op-hook-1"}},
        "snapshots": {"prechange": {"description": "port 1"}, "postchange": {"description": "changed behind the sync"}},
    })
    .to_string();

    // Missing and bad signatures: 401, and nothing is synced.
    let missing = http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.text().await.unwrap().contains("X-Hook-Signature"));
    for bad in [
        sign(b"another secret", body.as_bytes()),
        "zz".to_owned(),
        sign(WEBHOOK_SECRET.as_bytes(), b"another body"),
    ] {
        let r = http
            .post(&url)
            .header("X-Hook-Signature", bad)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        description(&devices(&kube, "hook").await["t-op-hook-1"], "Ethernet1").as_deref(),
        Some("port 1"),
        "no sync after a refused webhook"
    );
    assert_eq!(
        sample(
            &metrics,
            "fabric_netbox_webhooks_total{result=\"unauthorized\"}"
        ),
        4
    );
    assert!(!metrics.render().contains("scope=\"devices\""));

    // A good signature: 200, and the device follows.
    let r = http
        .post(&url)
        .header(
            "X-Hook-Signature",
            sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("t-op-hook-1"));
    let took = until(&kube, "hook", "t-op-hook-1", |d| {
        d.and_then(|d| description(d, "Ethernet1")).as_deref() == Some("changed behind the sync")
    })
    .await;
    println!("webhook → FabricDevice updated: {took:?}");
    assert_eq!(
        sample(
            &metrics,
            "fabric_netbox_syncs_total{source=\"hook/dc1\",scope=\"devices\",result=\"Synced\"}"
        ),
        1
    );

    let post = |body: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .post(&url)
                .header(
                    "X-Hook-Signature",
                    sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let full_syncs = |m: &Metrics| {
        sample(
            m,
            "fabric_netbox_syncs_total{source=\"hook/dc1\",scope=\"full\",result=\"Synced\"}",
        )
    };

    // A BGP session created in NetBox (netbox-bgp), and the event NetBox sends for it.
    let device1 = created.devices["t-op-hook-1"];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/devices/{device1}/"),
            &json!({"custom_fields": {"bgp_router_id": "192.0.2.131"}}),
        )
        .await
        .unwrap();
    let id = |v: serde_json::Value| v["id"].as_u64().unwrap();
    let remote: serde_json::Value = netbox
        .post(
            "api/ipam/ip-addresses/",
            &json!({"address": "192.0.2.250/32", "vrf": base.mgmt_vrf, "tags": [base.tag]}),
        )
        .await
        .unwrap();
    let (local_as, remote_as) = (
        seed::asn(&netbox, &base, 65031).await.unwrap(),
        seed::asn(&netbox, &base, 65032).await.unwrap(),
    );
    let remote = id(remote);
    let session: serde_json::Value = netbox
        .post(
            "api/plugins/bgp/session/",
            &json!({
                "name": "to the route server", "device": device1, "site": base.site,
                "local_address": created.ips[&("t-op-hook-1".to_owned(), "192.0.2.131/32".to_owned())],
                "remote_address": remote, "local_as": local_as, "remote_as": remote_as,
                "status": "active", "description": "route server", "tags": [base.tag],
            }),
        )
        .await
        .unwrap();
    let session = id(session);
    let answer = post(
        json!({
            "event": "created", "object_type": "netbox_bgp.bgpsession",
            "data": {"id": session, "name": "to the route server",
                     "device": {"id": device1, "name": "t-op-hook-1"},
                     "remote_address": {"id": remote, "address": "192.0.2.250/32"}},
            "snapshots": {"prechange": null, "postchange": {"device": device1}},
        })
        .to_string(),
    )
    .await;
    assert!(answer.contains("t-op-hook-1"), "{answer}");
    let took = until(&kube, "hook", "t-op-hook-1", |d| {
        d.and_then(|d| d.spec.intent.bgp.as_ref()).is_some_and(|b| {
            b.asn == 65031
                && b.neighbors.iter().any(|n| {
                    n.address == "192.0.2.250"
                        && n.peer_as == Some(65032)
                        && n.description.as_deref() == Some("route server")
                })
        })
    })
    .await;
    println!("BGP session webhook → FabricDevice updated: {took:?}");

    // A VLAN on an access port; renamed in NetBox, its event re-syncs the devices that have
    // it (found through NetBox), without a full sync.
    let vlan = seed::vlan(&netbox, &base, 30, "blue").await.unwrap();
    let eth2 = created.interfaces[&("t-op-hook-1".to_owned(), "Ethernet2".to_owned())];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/interfaces/{eth2}/"),
            &json!({"mode": "access", "untagged_vlan": vlan}),
        )
        .await
        .unwrap();
    sync.sync_now(&key, Scope::Full).await.unwrap();
    let vlan_name = |d: Option<&FabricDevice>| {
        d.and_then(|d| d.spec.intent.vlans.iter().find(|v| v.id == 30))
            .and_then(|v| v.name.clone())
    };
    assert_eq!(
        vlan_name(devices(&kube, "hook").await.get("t-op-hook-1")).as_deref(),
        Some("blue")
    );
    let full_before = full_syncs(&metrics);
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/ipam/vlans/{vlan}/"),
            &json!({"name": "green"}),
        )
        .await
        .unwrap();
    post(
        json!({
            "event": "updated", "object_type": "ipam.vlan",
            "data": {"id": vlan, "vid": 30, "name": "green", "site": {"id": base.site}},
            "snapshots": {"prechange": {"vid": 30, "name": "blue"}, "postchange": {"vid": 30, "name": "green"}},
        })
        .to_string(),
    )
    .await;
    let took = until(&kube, "hook", "t-op-hook-1", |d| {
        vlan_name(d).as_deref() == Some("green")
    })
    .await;
    println!("VLAN webhook → FabricDevice updated: {took:?}");
    assert_eq!(full_syncs(&metrics), full_before, "no full sync for a VLAN");

    // A device deleted in NetBox: its webhook deletes the FabricDevice (policy delete), and
    // the other device is untouched.
    netbox
        .delete(
            &format!("api/dcim/devices/{}/", created.devices["t-op-hook-2"]),
            None,
        )
        .await
        .unwrap();
    let body = json!({
        "event": "deleted", "object_type": "dcim.device",
        "data": {"id": created.devices["t-op-hook-2"], "name": "t-op-hook-2"},
        "snapshots": {"prechange": {"name": "t-op-hook-2"}, "postchange": null},
    })
    .to_string();
    post(body).await;
    until(&kube, "hook", "t-op-hook-2", |d| d.is_none()).await;
    assert!(devices(&kube, "hook").await.contains_key("t-op-hook-1"));
}

#[tokio::test]
async fn a_real_netbox_webhook_resyncs_the_device() {
    let netbox = common::ready_client().await;
    let created = common::site_with_devices(
        &netbox,
        "t-op-real",
        &[("t-op-real-1", "192.0.2.141/32", 1)],
    )
    .await;
    let kube = fake_api().await;
    let key = create_source(&kube, "real", "dc1", "t-op-real", json!({})).await;
    let (sync, _) = setup(&kube);
    reconcile(&sync, &kube, &key).await;
    let url = serve_webhooks(sync.clone()).await;

    // A NetBox webhook and event rule for this device's interfaces, posting to our endpoint.
    let hook = seed::interface_webhook(
        &netbox,
        "fabric-operator-test",
        &url,
        WEBHOOK_SECRET,
        "t-op-real-1",
    )
    .await
    .unwrap();
    let iface = created.interfaces[&("t-op-real-1".to_owned(), "Ethernet1".to_owned())];
    let _: serde_json::Value = netbox
        .patch(
            &format!("api/dcim/interfaces/{iface}/"),
            &json!({"description": "changed in NetBox", "enabled": false}),
        )
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let mut followed = false;
    while start.elapsed() < Duration::from_secs(180) {
        let d = devices(&kube, "real").await;
        let eth1 = d["t-op-real-1"]
            .spec
            .intent
            .interfaces
            .iter()
            .find(|i| i.name == "Ethernet1")
            .cloned()
            .unwrap();
        if eth1.description.as_deref() == Some("changed in NetBox") {
            assert!(!eth1.enabled);
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seed::remove_webhook(&netbox, hook).await.unwrap();
    assert!(
        followed,
        "NetBox's webhook did not re-sync the device within 180 s: is NetBox's worker running \
         (scripts/netbox.sh starts `netbox rqworker`)?"
    );
}
