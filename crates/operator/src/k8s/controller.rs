//! `fabric-operator run`: the FabricDevice controller that hands devices to the engine, the
//! DriftEvent controller that hands it people's approvals and rejections, and the DriftPolicy
//! controller that reports which devices each policy is in force for.
//!
//! Reconcile is a pipeline: fetch (stores) → build (pure: `config::device_config`,
//! `selection::policy_for`) → apply (engine, or a status condition when the spec cannot be
//! watched). Invalid objects wait for a change; API failures back off.

use std::{sync::Arc, time::Duration};

use fabric_api::{
    DriftEvent, DriftPolicy, FIELD_MANAGER, FabricDevice,
    conditions::{self, Status, reasons, types},
    event::{APPROVAL_ANNOTATION, CONTESTED_ANNOTATION},
    k8s_openapi::{
        api::core::v1::Secret,
        apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        apimachinery::pkg::apis::meta::v1::Time,
    },
    kube::{
        Api, Client, ResourceExt,
        api::{PartialObjectMeta, Patch, PatchParams},
        runtime::{
            Controller,
            controller::Action,
            finalizer::{Event, finalizer},
            reflector::{ObjectRef, Store},
            watcher,
        },
    },
    selection::policy_for,
};
use fabric_engine::{Decision, DecisionAction, DeviceKey, Engine};
use futures::StreamExt;
use serde_json::json;
use tracing::{info, warn};

use super::port::KubePort;
use crate::{
    config::{ConfigError, annotation_manager, device_config},
    metrics::Metrics,
};

/// Finalizer that lets the operator close a device's session before the object goes.
pub const FINALIZER: &str = "fabric.netops.dev/session";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] fabric_api::kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error(
        "the CustomResourceDefinition {0} is not installed; install the CRDs first: \
         `fabric-operator crds | kubectl apply -f -` (or `kubectl apply -f deploy/crds/`)"
    )]
    CrdMissing(String),
}

pub struct Context {
    pub client: Client,
    pub engine: Engine<KubePort>,
    pub policies: Store<DriftPolicy>,
}

/// Fails with a message saying how to install the CRDs when any is missing.
pub async fn check_crds(client: &Client) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fabric_api::crds::all() {
        let name = crd.name_any();
        if api.get_opt(&name).await?.is_none() {
            return Err(Error::CrdMissing(name));
        }
    }
    Ok(())
}

fn key_of(device: &FabricDevice) -> DeviceKey {
    DeviceKey::new(device.namespace().unwrap_or_default(), device.name_any())
}

fn policies_in(store: &Store<DriftPolicy>, namespace: &str) -> Vec<DriftPolicy> {
    store
        .state()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace))
        .map(|p| (**p).clone())
        .collect()
}

/// The FabricDevice controller's reconcile (public for the adapter's tests).
pub async fn reconcile_device(
    device: Arc<FabricDevice>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // Before the first list of policies and Secrets, a device would look unselected or its
    // Secret missing: wait rather than write a wrong status.
    let _ = ctx.policies.wait_until_ready().await;
    let namespace = device.namespace().unwrap_or_default();
    let api: Api<FabricDevice> = Api::namespaced(ctx.client.clone(), &namespace);
    let metrics = ctx.engine.port().metrics().clone();
    // kube-runtime's finalizer() patches the device to add ours (not there, not deleting) or to
    // remove it after the cleanup (there, deleting); counted when it returns Ok.
    let has_finalizer = device.finalizers().iter().any(|f| f == FINALIZER);
    let patches_finalizer = has_finalizer == device.metadata.deletion_timestamp.is_some();
    let result = finalizer(&api, FINALIZER, device, |event| async {
        match event {
            Event::Apply(device) => {
                let policies = policies_in(&ctx.policies, &namespace);
                let policy = policy_for(&device, &policies);
                let secrets =
                    read_secrets(&ctx.client, &namespace, secrets_of(&device, policy)).await?;
                let find_secret = |name: &str| secrets.get(name).cloned();
                match device_config(&device, find_secret, policy) {
                    Ok(config) => {
                        let clear = config.clear_contested;
                        ctx.engine.apply(config).await;
                        if clear {
                            // Handed over: remove the request so it is not taken again later.
                            let patch =
                                json!({"metadata": {"annotations": {CONTESTED_ANNOTATION: null}}});
                            api.patch(
                                &device.name_any(),
                                &PatchParams::default(),
                                &Patch::Merge(&patch),
                            )
                            .await?;
                            ctx.engine.port().metrics().api_write("annotation");
                        }
                        Ok::<Action, Error>(Action::await_change())
                    }
                    Err(e) => {
                        // Permanent until the Secret or the spec changes; both are watched.
                        let key = key_of(&device);
                        ctx.engine.remove(&key).await;
                        // The status is written here, not by the port: what the port last wrote
                        // is no longer what the API server holds, and the next session's first
                        // report may equal it.
                        ctx.engine.port().forget(&key);
                        not_ready(&api, &device, &e, ctx.engine.port().metrics()).await?;
                        Ok(Action::await_change())
                    }
                }
            }
            Event::Cleanup(device) => {
                let key = key_of(&device);
                ctx.engine.remove(&key).await;
                ctx.engine.port().forget(&key);
                info!(device = %key, "device deleted; session closed");
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(e.to_string()))?;
    if patches_finalizer {
        metrics.api_write("finalizer");
    }
    Ok(result)
}

/// The Secrets a device's config reads: its credentials, its CA, its policy's webhook URLs.
pub fn secrets_of(device: &FabricDevice, policy: Option<&DriftPolicy>) -> Vec<String> {
    let target = &device.spec.target;
    let mut names: Vec<String> = target
        .credentials_secret_ref
        .iter()
        .map(|r| r.name.clone())
        .chain(target.tls.ca_secret_ref.iter().map(|r| r.name.clone()))
        .chain(
            policy
                .iter()
                .flat_map(|p| p.spec.rules.notifications.webhooks.iter())
                .map(|w| w.url_secret_ref.name.clone()),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Reads Secrets by name when they are needed, rather than keep every Secret of the cluster
/// in memory; a missing one is left out (the caller says what it misses).
async fn read_secrets(
    client: &Client,
    namespace: &str,
    names: Vec<String>,
) -> Result<std::collections::HashMap<String, Secret>, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found = std::collections::HashMap::new();
    for name in names {
        if let Some(secret) = api.get_opt(&name).await? {
            found.insert(name, secret);
        }
    }
    Ok(found)
}

/// The devices that read the Secret `name` of `namespace` ([`secrets_of`]: credentials, CA, or
/// a webhook URL of the policy in force, among `policies`): the ones to reconcile when it is
/// created, changed (rotation reconnects, a new webhook URL is used) or deleted.
pub fn devices_using_secret(
    devices: &[Arc<FabricDevice>],
    policies: &[DriftPolicy],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<FabricDevice>> {
    let policies: Vec<DriftPolicy> = policies
        .iter()
        .filter(|p| p.namespace().as_deref() == namespace)
        .cloned()
        .collect();
    devices
        .iter()
        .filter(|d| {
            d.namespace().as_deref() == namespace
                && secrets_of(d, policy_for(d, &policies))
                    .iter()
                    .any(|s| s == name)
        })
        .map(|d| ObjectRef::from_obj(&**d))
        .collect()
}

/// Stops the sessions of devices the port found gone (a status write answered 404). A device
/// deleted after its finalizer was removed by hand never reaches the finalizer's cleanup; its
/// session would otherwise run, and retry its status, forever. A device created again under the
/// same name since is left to its reconcile.
pub async fn stop_deleted(
    ctx: Arc<Context>,
    mut gone: tokio::sync::mpsc::UnboundedReceiver<DeviceKey>,
) {
    while let Some(key) = gone.recv().await {
        let api: Api<FabricDevice> = Api::namespaced(ctx.client.clone(), &key.namespace);
        // Ask until the API server answers: a passing error must not stop a live device's
        // session (its reconcile waits for a change and would not start it again).
        let exists = loop {
            match api.get_opt(&key.name).await {
                Ok(found) => break found.is_some(),
                Err(e) => {
                    warn!(device = %key, error = %e, "could not check whether the device is gone; asking again in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        if exists {
            continue;
        }
        ctx.engine.remove(&key).await;
        ctx.engine.port().forget(&key);
        info!(device = %key, "device gone; session closed");
    }
}

/// Ready=False with the reason the device cannot be watched.
async fn not_ready(
    api: &Api<FabricDevice>,
    device: &FabricDevice,
    error: &ConfigError,
    metrics: &Metrics,
) -> Result<(), Error> {
    let mut status = device.status.clone().unwrap_or_default();
    let changed = conditions::set(
        &mut status.conditions,
        types::READY,
        Status::False,
        reasons::SECRET_NOT_FOUND,
        error.to_string(),
        device.metadata.generation,
        Time(jiff::Timestamp::now()),
    );
    if changed {
        let patch = json!({"apiVersion": "fabric.netops.dev/v1alpha1", "kind": "FabricDevice", "status": status});
        api.patch_status(
            &device.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        metrics.api_write("status");
    }
    Ok(())
}

/// What a person decided about a DriftEvent, from its approval annotation: who (the field
/// manager that set it, from managedFields) and when. Err with a message for a value that is
/// neither approve nor reject; None without the annotation.
pub fn approval(event: &DriftEvent) -> Option<Result<Decision, String>> {
    let value = event.annotations().get(APPROVAL_ANNOTATION)?;
    let action = match value.trim() {
        "approve" => DecisionAction::Approve,
        "reject" => DecisionAction::Reject,
        other => {
            return Some(Err(format!(
                "{APPROVAL_ANNOTATION}={other:?} is not understood: use approve or reject"
            )));
        }
    };
    let (by, at) = match annotation_manager(&event.metadata, APPROVAL_ANNOTATION) {
        Some((manager, time)) => (manager, time),
        None => ("unknown".to_owned(), None),
    };
    Some(Ok(Decision {
        action,
        by,
        at: at.unwrap_or_else(jiff::Timestamp::now),
    }))
}

/// Hands an approval or rejection to the engine. The engine applies it only if the event is
/// the device's open event and still waiting, so replays (a restart, a resync) are harmless.
pub async fn reconcile_event(event: Arc<DriftEvent>, ctx: Arc<Context>) -> Result<Action, Error> {
    let phase = event.status.as_ref().and_then(|s| s.phase);
    if phase.is_some_and(fabric_api::event::Phase::is_final) {
        return Ok(Action::await_change());
    }
    let Some(decision) = approval(&event) else {
        return Ok(Action::await_change());
    };
    let name = event.name_any();
    let device = DeviceKey::new(
        event.namespace().unwrap_or_default(),
        event.spec.device.clone(),
    );
    match decision {
        Ok(decision) => {
            info!(device = %device, event = %name, action = decision.action.as_str(), by = %decision.by, "decision received");
            if !ctx.engine.decide(&device, &name, decision).await {
                warn!(device = %device, event = %name, "decision for a device that is not watched; it waits for the device");
                return Ok(Action::requeue(Duration::from_secs(30)));
            }
        }
        Err(message) => {
            ctx.engine
                .port()
                .warn(&event, "InvalidApproval", message)
                .await;
        }
    }
    Ok(Action::await_change())
}

fn on_event_error(event: Arc<DriftEvent>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(event = %event.name_any(), %error, "drift event reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// What the DriftPolicy controller reads: every device and policy, from the watches' stores.
pub struct PolicyContext {
    pub client: Client,
    pub devices: Store<FabricDevice>,
    pub policies: Store<DriftPolicy>,
    pub metrics: Arc<Metrics>,
}

/// Writes which devices a policy is in force for, when that changed. The DriftPolicy
/// controller's reconcile (public for the adapter's tests).
pub async fn reconcile_policy(
    policy: Arc<DriftPolicy>,
    ctx: Arc<PolicyContext>,
) -> Result<Action, Error> {
    let _ = ctx.devices.wait_until_ready().await;
    let namespace = policy.namespace().unwrap_or_default();
    let devices: Vec<FabricDevice> = ctx.devices.state().iter().map(|d| (**d).clone()).collect();
    let policies = policies_in(&ctx.policies, &namespace);
    let current = policy.status.clone().unwrap_or_default();
    let webhook_secrets = policy
        .spec
        .rules
        .notifications
        .webhooks
        .iter()
        .map(|w| w.url_secret_ref.name.clone())
        .collect();
    let secrets = read_secrets(&ctx.client, &namespace, webhook_secrets).await?;
    let has_secret_key = |r: &fabric_drift::policy::SecretKeyRef| {
        secrets.get(&r.name).is_some_and(|s| {
            s.data.as_ref().is_some_and(|d| d.contains_key(&r.key))
                || s.string_data
                    .as_ref()
                    .is_some_and(|d| d.contains_key(&r.key))
        })
    };
    let status = super::mapping::policy_status(
        &policy,
        &devices,
        &policies,
        has_secret_key,
        &current,
        Time(jiff::Timestamp::now()),
    );
    if status != current {
        let api: Api<DriftPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = json!({"apiVersion": "fabric.netops.dev/v1alpha1", "kind": "DriftPolicy", "status": status});
        api.patch_status(
            &policy.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        ctx.metrics.api_write("policy_status");
    }
    Ok(Action::await_change())
}

fn on_policy_error(policy: Arc<DriftPolicy>, error: &Error, _ctx: Arc<PolicyContext>) -> Action {
    warn!(policy = %policy.name_any(), %error, "policy status failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

fn on_error(device: Arc<FabricDevice>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(device = %device.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controllers until `shutdown` resolves; then closes every session.
pub async fn run(
    client: Client,
    port: Arc<KubePort>,
    options: fabric_engine::EngineOptions,
    stats: Arc<fabric_engine::Stats>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    check_crds(&client).await?;
    let devices: Api<FabricDevice> = Api::all(client.clone());
    let policies_api: Api<DriftPolicy> = Api::all(client.clone());

    // The store of policies, read by reconcile; kept by its own reflector.
    let (policies, policy_writer) = fabric_api::kube::runtime::reflector::store();
    tokio::spawn(
        fabric_api::kube::runtime::reflector(
            policy_writer,
            watcher(policies_api.clone(), watcher::Config::default()),
        )
        .for_each(|event| async move {
            if let Err(e) = event {
                warn!(error = %e, "watch error; the watcher retries");
            }
        }),
    );

    let engine = Engine::with_stats(port, options, stats);
    let ctx = Arc::new(Context {
        client: client.clone(),
        engine,
        policies: policies.clone(),
    });

    if let Some(gone) = ctx.engine.port().deleted_devices() {
        tokio::spawn(stop_deleted(ctx.clone(), gone));
    }

    let controller = Controller::new(devices, watcher::Config::default());
    let device_store = controller.store();
    let store_for_policies = device_store.clone();
    let store_for_secrets = device_store.clone();
    let policies_for_secrets = policies.clone();
    let controller = controller
        // A policy change can change the policy in force for any device of its namespace.
        .watches(
            policies_api.clone(),
            watcher::Config::default(),
            move |policy: DriftPolicy| {
                let namespace = policy.namespace();
                store_for_policies
                    .state()
                    .into_iter()
                    .filter(move |d| d.namespace() == namespace)
                    .map(|d| ObjectRef::from_obj(&*d))
            },
        )
        // A rotated Secret reconnects the devices that use it. The watch carries Secrets'
        // metadata only (`Api<PartialObjectMeta<_>>` asks for PartialObjectMetadata; a new
        // resourceVersion is a change): their data is read when a device needs it, not kept
        // for every Secret of the cluster.
        .watches(
            Api::<PartialObjectMeta<Secret>>::all(client.clone()),
            watcher::Config::default(),
            move |secret: PartialObjectMeta<Secret>| {
                let policies: Vec<DriftPolicy> = policies_for_secrets
                    .state()
                    .iter()
                    .map(|p| (**p).clone())
                    .collect();
                devices_using_secret(
                    &store_for_secrets.state(),
                    &policies,
                    secret.namespace().as_deref(),
                    &secret.name_any(),
                )
            },
        )
        .graceful_shutdown_on(shutdown.clone());

    // DriftPolicy status: re-evaluated when the policy or any device of its namespace changes.
    let policy_controller = Controller::new(policies_api.clone(), watcher::Config::default());
    let policy_store = policy_controller.store();
    let policies_for_devices = policy_store.clone();
    let policy_ctx = Arc::new(PolicyContext {
        metrics: ctx.engine.port().metrics().clone(),
        client: client.clone(),
        devices: device_store.clone(),
        policies: policy_store,
    });
    let policy_controller = policy_controller
        .watches(
            Api::<FabricDevice>::all(client.clone()),
            watcher::Config::default(),
            move |device: FabricDevice| {
                let namespace = device.namespace();
                policies_for_devices
                    .state()
                    .into_iter()
                    .filter(move |p| p.namespace() == namespace)
                    .map(|p| ObjectRef::from_obj(&*p))
            },
        )
        .graceful_shutdown_on(shutdown.clone());

    // Approvals: every DriftEvent change; the engine sorts out which are decisions to act on.
    let event_controller = Controller::new(
        Api::<DriftEvent>::all(client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown.clone());
    let events_done = event_controller
        .run(reconcile_event, on_event_error, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "drift event controller");
            }
        });

    let ctx_for_shutdown = ctx.clone();
    let devices_done =
        controller
            .run(reconcile_device, on_error, ctx)
            .for_each(|result| async move {
                if let Err(e) = result {
                    warn!(error = %e, "device controller");
                }
            });
    let policies_done = policy_controller
        .run(reconcile_policy, on_policy_error, policy_ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "policy controller");
            }
        });
    futures::join!(devices_done, policies_done, events_done);
    ctx_for_shutdown.engine.shutdown().await;
    // A replica that lost the Lease writes nothing more: the new leader owns the statuses.
    if ctx_for_shutdown.engine.port().metrics().is_leader() {
        ctx_for_shutdown.engine.port().flush().await;
        info!("all sessions closed; pending status written");
    } else {
        info!("all sessions closed; pending status left to the new leader");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use fabric_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        FieldsV1, ManagedFieldsEntry, Time,
    };

    use super::*;

    fn event(value: Option<&str>) -> DriftEvent {
        let mut e = DriftEvent::default();
        e.metadata.name = Some("leaf1-abc-1".into());
        if let Some(v) = value {
            e.metadata.annotations = Some([(APPROVAL_ANNOTATION.to_owned(), v.to_owned())].into());
            e.metadata.managed_fields = Some(vec![
                ManagedFieldsEntry {
                    manager: Some("fabric-operator".into()),
                    time: Some(Time(jiff::Timestamp::from_second(1_800_000_000).unwrap())),
                    fields_v1: Some(FieldsV1(serde_json::json!({"f:status": {"f:phase": {}}}))),
                    ..Default::default()
                },
                ManagedFieldsEntry {
                    manager: Some("kubectl-annotate".into()),
                    time: Some(Time(jiff::Timestamp::from_second(1_800_000_060).unwrap())),
                    fields_v1: Some(FieldsV1(serde_json::json!({
                        "f:metadata": {"f:annotations": {format!("f:{APPROVAL_ANNOTATION}"): {}}}
                    }))),
                    ..Default::default()
                },
            ]);
        }
        e
    }

    #[test]
    fn an_approval_names_who_set_the_annotation_and_when() {
        assert!(approval(&event(None)).is_none());
        let d = approval(&event(Some("approve"))).unwrap().unwrap();
        assert_eq!(d.action, DecisionAction::Approve);
        assert_eq!(d.by, "kubectl-annotate");
        assert_eq!(d.at, jiff::Timestamp::from_second(1_800_000_060).unwrap());
        let d = approval(&event(Some(" reject "))).unwrap().unwrap();
        assert_eq!(d.action, DecisionAction::Reject);
    }

    #[test]
    fn an_approval_value_that_is_not_understood_is_an_error_that_says_what_to_use() {
        let err = approval(&event(Some("yes"))).unwrap().unwrap_err();
        assert_eq!(
            err,
            "fabric.netops.dev/approval=\"yes\" is not understood: use approve or reject"
        );
    }
}
