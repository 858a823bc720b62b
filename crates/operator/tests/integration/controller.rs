//! The FabricDevice and DriftEvent controllers' reconcile against an in-memory API server
//! (kube-fake-client), with a real engine whose devices are unreachable addresses: the
//! finalizer, Secrets coming and going, approvals handed to the engine.

use std::{sync::Arc, time::Duration};

use fabric_api::{
    DriftPolicy, FabricDevice,
    conditions::find,
    k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::Time},
    kube::{
        Api, ResourceExt,
        api::{DeleteParams, Patch, PatchParams},
        runtime::{controller::Action, reflector, watcher},
    },
};
use fabric_engine::{
    DeviceKey, DeviceReport, EngineOptions, Port, Reachability, Stats, SyncState,
    model::UnreachableReason,
};
use fabric_operator::{
    k8s::{
        controller::{
            Context, FINALIZER, PolicyContext, approval, check_crds, devices_using_secret,
            reconcile_device, reconcile_event, reconcile_policy, stop_deleted,
        },
        port::KubePort,
    },
    metrics::Metrics,
};
use kube_fake_client::ClientBuilder;

use crate::{api_calls::ApiCalls, kube_port::report};

/// An address nothing listens on: connecting is refused at once.
pub fn refused_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

pub fn device(address: &str) -> FabricDevice {
    serde_yaml::from_str(&format!(
        "
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {{name: leaf1, namespace: lab, generation: 1, uid: 6f1c2d3e-0000-4000-8000-000000000002, finalizers: [{OTHER_FINALIZER}]}}
spec:
  target: {{address: '{address}', credentialsSecretRef: {{name: leaf1-creds}}, tls: {{mode: insecure}}}}
"
    ))
    .unwrap()
}

pub fn secret() -> Secret {
    serde_yaml::from_str(
        "
apiVersion: v1
kind: Secret
metadata: {name: leaf1-creds, namespace: lab}
stringData: {username: admin, password: admin}
",
    )
    .unwrap()
}

/// Another controller's finalizer every test device carries: with none, kube-runtime's
/// finalizer patch tests `/metadata/finalizers` for null, which a real API server's JSON patch
/// passes for a missing field and kube-fake-client's refuses (422).
pub const OTHER_FINALIZER: &str = "example.com/other";

pub struct Harness {
    /// The in-memory API server, for the test's own reads and writes.
    pub client: kube::Client,
    pub ctx: Arc<Context>,
    pub metrics: Arc<Metrics>,
    pub calls: ApiCalls,
}

impl Harness {
    pub async fn new(builder: ClientBuilder) -> anyhow::Result<Harness> {
        let calls = ApiCalls::new();
        let client = builder
            .with_resource::<FabricDevice>()
            .with_status_subresource::<FabricDevice>()
            .with_resource::<fabric_api::DriftEvent>()
            .with_status_subresource::<fabric_api::DriftEvent>()
            .with_resource::<DriftPolicy>()
            .build()
            .await?;
        // The operator's calls are recorded; the test's own (`devices()`) are not.
        let operator = calls.wrap(client.clone());
        let metrics = Arc::new(Metrics::new(Arc::new(Stats::default())));
        let port = KubePort::start(operator.clone(), metrics.clone());
        let stats = Arc::new(Stats::default());
        let engine = fabric_engine::Engine::with_stats(port, EngineOptions::default(), stats);
        let (policies, mut policy_writer) = reflector::store::<DriftPolicy>();
        policy_writer.apply_watcher_event(&watcher::Event::Init);
        policy_writer.apply_watcher_event(&watcher::Event::InitDone);
        let ctx = Arc::new(Context {
            client: operator,
            engine,
            policies,
        });
        Ok(Harness {
            client,
            ctx,
            metrics,
            calls,
        })
    }

    /// leaf1 (unreachable) and its credentials Secret, besides what `builder` holds.
    pub async fn leaf1(builder: ClientBuilder) -> anyhow::Result<Harness> {
        Harness::new(
            builder
                .with_object(device(&refused_address()))
                .with_object(secret()),
        )
        .await
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), "lab")
    }

    pub fn devices(&self) -> Api<FabricDevice> {
        Api::namespaced(self.client.clone(), "lab")
    }

    /// Reconciles the device as the API server has it now (as a watch event would hand it).
    pub async fn reconcile(&self, name: &str) -> anyhow::Result<()> {
        let device = self.devices().get(name).await?;
        reconcile_device(Arc::new(device), self.ctx.clone()).await?;
        Ok(())
    }

    /// Waits until the device's Ready condition has `reason`.
    pub async fn ready_reason(&self, name: &str, reason: &str) -> anyhow::Result<()> {
        let mut last = None;
        for _ in 0..100 {
            let status = self.devices().get(name).await?.status.unwrap_or_default();
            last = find(&status.conditions, "Ready").map(|c| (c.status.clone(), c.reason.clone()));
            if last.as_ref().is_some_and(|(_, r)| r == reason) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("Ready never had reason {reason}; last {last:?}")
    }

    pub fn sessions(&self) -> u64 {
        Stats::get(&self.ctx.engine.stats().sessions)
    }
}

#[tokio::test]
async fn a_device_whose_secret_comes_back_is_watched_again_and_its_status_written()
-> anyhow::Result<()> {
    let h = Harness::leaf1(ClientBuilder::new()).await?;
    // The first reconcile adds the finalizer; the change it makes brings the second.
    h.reconcile("leaf1").await?;
    assert_eq!(
        h.devices().get("leaf1").await?.finalizers(),
        [OTHER_FINALIZER, FINALIZER]
    );
    let writes = h.calls.writes();
    assert_eq!(
        (writes[0].verb.as_str(), writes[0].rbac_resource()),
        ("patch", "fabricdevices".to_owned()),
        "the finalizer is added by a patch: {writes:?}"
    );
    h.reconcile("leaf1").await?;
    h.ready_reason("leaf1", "ConnectionRefused").await?;
    assert_eq!(h.sessions(), 1);

    h.secrets()
        .delete("leaf1-creds", &DeleteParams::default())
        .await?;
    h.reconcile("leaf1").await?;
    h.ready_reason("leaf1", "SecretNotFound").await?;
    assert_eq!(h.sessions(), 0, "no session without credentials");
    // Every write is counted, the controller's too: the finalizer patch, the port's status
    // write and not_ready's.
    let rendered = h.metrics.render();
    for line in [
        "fabric_api_writes_total{kind=\"finalizer\"} 1",
        "fabric_api_writes_total{kind=\"status\"} 2",
    ] {
        assert!(rendered.contains(line), "{line} in {rendered}");
    }
    let status_writes = h
        .calls
        .writes()
        .iter()
        .filter(|c| c.rbac_resource() == "fabricdevices/status")
        .count();
    assert_eq!(status_writes, 2, "the metric counts what was sent");

    // The new session's first report is what the port wrote before the Secret went; it must
    // still be written, since the API server holds SecretNotFound now.
    h.secrets().create(&Default::default(), &secret()).await?;
    h.reconcile("leaf1").await?;
    h.ready_reason("leaf1", "ConnectionRefused").await?;
    assert_eq!(h.sessions(), 1);
    h.ctx.engine.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_device_deleted_without_its_finalizer_has_its_session_stopped() -> anyhow::Result<()> {
    let h = Harness::leaf1(ClientBuilder::new()).await?;
    let gone = h.ctx.engine.port().deleted_devices().expect("taken once");
    tokio::spawn(stop_deleted(h.ctx.clone(), gone));
    h.reconcile("leaf1").await?;
    h.reconcile("leaf1").await?;
    h.ready_reason("leaf1", "ConnectionRefused").await?;
    assert_eq!(h.sessions(), 1);

    // Someone strips the finalizers and deletes the device: no Cleanup ever runs.
    let strip = serde_json::json!({"metadata": {"finalizers": null}});
    h.devices()
        .patch("leaf1", &PatchParams::default(), &Patch::Merge(&strip))
        .await?;
    h.devices()
        .delete("leaf1", &DeleteParams::default())
        .await?;
    assert!(h.devices().get_opt("leaf1").await?.is_none());

    // The session's next report (here: a new spec generation seen) meets a 404.
    let key = DeviceKey::new("lab", "leaf1");
    h.ctx
        .engine
        .port()
        .report(&key, &unreachable_report(2))
        .await;
    for _ in 0..100 {
        if h.sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.sessions(),
        0,
        "the session of a deleted device is stopped"
    );
    // And its status is not retried: one patch, answered 404, then nothing.
    let patches = || {
        h.calls
            .all()
            .into_iter()
            .filter(|c| c.rbac_resource() == "fabricdevices/status")
            .count()
    };
    let before = patches();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(patches(), before);
    Ok(())
}

fn unreachable_report(generation: i64) -> DeviceReport {
    DeviceReport {
        generation: Some(generation),
        ..report(
            Reachability::Unreachable {
                reason: UnreachableReason::ConnectionRefused,
                message: "connection refused".into(),
            },
            SyncState::Unknown,
        )
    }
}

#[test]
fn a_secret_change_reconciles_the_devices_that_read_it() {
    let mut other_ns = device("127.0.0.1:1");
    other_ns.metadata.namespace = Some("prod".into());
    let mut with_ca = device("127.0.0.1:1");
    with_ca.metadata.name = Some("leaf2".into());
    with_ca.metadata.labels = Some([("role".to_owned(), "leaf2".to_owned())].into());
    with_ca.spec.target.credentials_secret_ref = None;
    with_ca.spec.target.tls.ca_secret_ref =
        Some(serde_yaml::from_str("{name: leaf1-creds, key: ca.crt}").unwrap());
    let devices: Vec<Arc<FabricDevice>> = [device("127.0.0.1:1"), other_ns, with_ca]
        .into_iter()
        .map(Arc::new)
        .collect();
    // leaf2's policy (in force: it selects leaf2 only) sends webhooks to a URL in a Secret.
    let policy: DriftPolicy = serde_yaml::from_str(
        "
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftPolicy
metadata: {name: hooks, namespace: lab}
spec:
  selector: {matchLabels: {role: leaf2}}
  mode: alert
  notifications:
    webhooks: [{name: chat, urlSecretRef: {name: chat-url, key: url}}]
",
    )
    .unwrap();
    let names = |ns: &str, secret: &str| -> Vec<String> {
        devices_using_secret(&devices, std::slice::from_ref(&policy), Some(ns), secret)
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names("lab", "leaf1-creds"), ["leaf1", "leaf2"]);
    assert_eq!(names("prod", "leaf1-creds"), ["leaf1"]);
    assert_eq!(names("lab", "chat-url"), ["leaf2"]);
    assert!(names("prod", "chat-url").is_empty());
    assert!(names("lab", "unrelated").is_empty());
}

#[tokio::test]
async fn deleting_a_device_closes_its_session_and_removes_the_finalizer() -> anyhow::Result<()> {
    let h = Harness::leaf1(ClientBuilder::new()).await?;
    h.reconcile("leaf1").await?;
    h.reconcile("leaf1").await?;
    h.ready_reason("leaf1", "ConnectionRefused").await?;
    assert_eq!(h.sessions(), 1, "a session once the finalizer is there");

    // Deleting marks the device (finalizers hold it) and the watch hands the marked device to
    // reconcile. kube-fake-client removes an object at once whatever its finalizers, so the mark
    // is made here, as a real API server would make it.
    let mut marked = h.devices().get("leaf1").await?;
    marked.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
    reconcile_device(Arc::new(marked), h.ctx.clone()).await?;
    assert_eq!(h.sessions(), 0, "the session is closed");
    let left = h.devices().get_opt("leaf1").await?;
    // Only the other controller's finalizer is left (without it the device would be gone).
    assert_eq!(
        left.map(|d| d.finalizers().to_vec()),
        Some(vec![OTHER_FINALIZER.to_owned()])
    );
    assert!(
        h.metrics
            .render()
            .contains("fabric_api_writes_total{kind=\"finalizer\"} 2"),
        "added and removed"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_crd_stops_the_start_with_how_to_install_them() -> anyhow::Result<()> {
    let mut crds = fabric_api::crds::all();
    let missing = crds.pop().unwrap().name_any();
    let mut builder = ClientBuilder::new();
    for crd in crds.clone() {
        builder = builder.with_object(crd);
    }
    let calls = ApiCalls::new();
    let client = calls.wrap(builder.build().await?);
    let err = check_crds(&client).await.unwrap_err().to_string();
    assert!(err.contains(&missing), "{err}");
    assert!(
        err.contains("fabric-operator crds | kubectl apply -f -"),
        "{err}"
    );

    let mut builder = ClientBuilder::new();
    for crd in fabric_api::crds::all() {
        builder = builder.with_object(crd);
    }
    check_crds(&calls.wrap(builder.build().await?)).await?;
    Ok(())
}

#[tokio::test]
async fn an_approval_reaches_the_engine_with_who_set_it() -> anyhow::Result<()> {
    let event: fabric_api::DriftEvent = serde_yaml::from_str(
        "
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftEvent
metadata: {name: leaf1-ababababab-1800000000, namespace: lab}
spec:
  device: leaf1
  mode: approve
  fingerprint: abababababababababababababababababababababababababababababababab
  detectedAt: '2027-01-15T08:00:00Z'
  pathCount: 1
  drifts: []
  plan: {}
",
    )?;
    let h = Harness::leaf1(
        ClientBuilder::new()
            .with_object(event)
            .with_return_managed_fields(),
    )
    .await?;
    // A person annotates under their field manager. (kubectl annotate sends a merge patch;
    // kube-fake-client records managedFields for server-side apply only, so apply it is.)
    let events: Api<fabric_api::DriftEvent> = Api::namespaced(h.client.clone(), "lab");
    let annotate = serde_json::json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "DriftEvent",
        "metadata": {"annotations": {"fabric.netops.dev/approval": "approve"}}
    });
    events
        .patch(
            "leaf1-ababababab-1800000000",
            &PatchParams::apply("kubectl-annotate"),
            &Patch::Apply(&annotate),
        )
        .await?;
    let annotated = Arc::new(events.get("leaf1-ababababab-1800000000").await?);

    // What reconcile_event hands the engine: the decision, by the annotation's field manager.
    let decision = approval(&annotated)
        .expect("an approval")
        .expect("understood");
    assert_eq!(decision.by, "kubectl-annotate");
    assert_eq!(decision.action, fabric_engine::DecisionAction::Approve);

    // The device is not watched yet: the decision waits for it (requeued).
    let action = reconcile_event(annotated.clone(), h.ctx.clone()).await?;
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    // Watched: handed to its session.
    h.reconcile("leaf1").await?;
    h.reconcile("leaf1").await?;
    let action = reconcile_event(annotated, h.ctx.clone()).await?;
    assert_eq!(action, Action::await_change());
    h.ctx.engine.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_controllers_count_their_writes() -> anyhow::Result<()> {
    // A device whose contested=clear request is taken: the annotation is removed by a patch.
    let mut contested = device(&refused_address());
    contested.metadata.annotations = Some(
        [(
            fabric_api::event::CONTESTED_ANNOTATION.to_owned(),
            "clear".to_owned(),
        )]
        .into(),
    );
    let policy: DriftPolicy = serde_yaml::from_str(
        "
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftPolicy
metadata: {name: all-alert, namespace: lab}
spec: {selector: {}, mode: alert}
",
    )?;
    let h = Harness::new(
        ClientBuilder::new()
            .with_object(contested)
            .with_object(secret())
            .with_object(policy),
    )
    .await?;
    h.reconcile("leaf1").await?;
    h.reconcile("leaf1").await?;
    let annotations = h.devices().get("leaf1").await?.metadata.annotations;
    assert!(
        !annotations
            .unwrap_or_default()
            .contains_key(fabric_api::event::CONTESTED_ANNOTATION)
    );

    // The policy's status lists the device it is in force for.
    let (devices, mut device_writer) = reflector::store::<FabricDevice>();
    device_writer.apply_watcher_event(&watcher::Event::Init);
    device_writer.apply_watcher_event(&watcher::Event::InitApply(h.devices().get("leaf1").await?));
    device_writer.apply_watcher_event(&watcher::Event::InitDone);
    let (policies, mut policy_writer) = reflector::store::<DriftPolicy>();
    let policies_api: Api<DriftPolicy> = Api::namespaced(h.client.clone(), "lab");
    let stored = policies_api.get("all-alert").await?;
    policy_writer.apply_watcher_event(&watcher::Event::Init);
    policy_writer.apply_watcher_event(&watcher::Event::InitApply(stored.clone()));
    policy_writer.apply_watcher_event(&watcher::Event::InitDone);
    let policy_ctx = Arc::new(PolicyContext {
        client: h.ctx.client.clone(),
        devices,
        policies,
        metrics: h.metrics.clone(),
    });
    reconcile_policy(Arc::new(stored), policy_ctx).await?;
    let status = policies_api.get("all-alert").await?.status.expect("status");
    assert!(format!("{status:?}").contains("leaf1"), "{status:?}");

    let rendered = h.metrics.render();
    for line in [
        "fabric_api_writes_total{kind=\"annotation\"} 1",
        "fabric_api_writes_total{kind=\"policy_status\"} 1",
        "fabric_api_writes_total{kind=\"finalizer\"} 1",
    ] {
        assert!(rendered.contains(line), "{line} in {rendered}");
    }
    h.ctx.engine.shutdown().await;
    Ok(())
}
