//! The NetBoxSource controller: NetBox devices become FabricDevices.
//!
//! One sync is a pipeline: read the source's Secrets (API token, webhook secret) → fetch and map
//! (`fabric_netbox::sync`, pure mapping) → render each device's apply body ([`render`], pure) →
//! apply the bodies that differ from what the object holds ([`up_to_date`], pure; server-side
//! apply, field manager `netbox-sync`, force) → deletion policy for the devices of this source
//! that NetBox no longer selects → status ([`synced_status`], pure).
//!
//! Full syncs run from the controller every `interval` (and when the spec or a Secret changes);
//! webhooks re-sync only the devices an event names ([`Webhooks`]). Syncs of one source never
//! overlap. An error never deletes anything and never changes a FabricDevice: the devices keep
//! their last intent and the source's conditions say what is wrong.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use fabric_api::{
    FIELD_MANAGER as OPERATOR_FIELD_MANAGER, FabricDevice, NetBoxSource,
    conditions::{self, Status, reasons, types},
    k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::Time},
    kube::{
        Api, Client, ResourceExt,
        api::{DeleteParams, ListParams, Patch, PatchParams},
        runtime::{Controller, controller::Action, reflector::ObjectRef, watcher},
    },
    netbox::{DeletionPolicy, NetBoxSourceStatus},
};
use fabric_drift::{intent::Platform, policy::SecretKeyRef};
use fabric_netbox::{
    Affected, ClientOptions, RequestCounters, SharedObjects, SignatureError, SyncConfig,
    SyncResult, SyncedDevice, Token,
};
use futures::StreamExt;
use prometheus_client::{
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{
    config::{ConfigError, secret_text},
    metrics::Metrics,
};

/// Field manager of every FabricDevice write made from NetBox: it owns only what NetBox
/// decides (target, platform, intent, its labels), so fields set from Git coexist.
pub const FIELD_MANAGER: &str = "netbox-sync";
/// Field manager of the source's defaults on a FabricDevice it creates ([`render_defaults`]).
pub const DEFAULTS_FIELD_MANAGER: &str = "netbox-sync-defaults";
/// Label on every FabricDevice a source writes: the source's name...
pub const SOURCE_LABEL: &str = "fabric.netops.dev/netbox-source";
/// ...and namespace (a source may write into another namespace).
pub const SOURCE_NAMESPACE_LABEL: &str = "fabric.netops.dev/netbox-source-namespace";
/// SHA-256 of the last apply body: a field NetBox stopped setting changes it, so the apply
/// that removes the field is not skipped.
pub const APPLIED_ANNOTATION: &str = "fabric.netops.dev/netbox-applied";
/// The NetBox device id.
pub const NETBOX_ID_ANNOTATION: &str = "fabric.netops.dev/netbox-id";
/// The shortest interval between full syncs, whatever the spec says.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Entries of `status.errors`.
const MAX_STATUS_ERRORS: usize = 20;
/// Reason of a NetBoxSource whose name cannot be a label value.
const INVALID_NAME: &str = "InvalidName";
/// Result of a webhook's sync not applied because a full sync read NetBox after it.
const SUPERSEDED: &str = "Superseded";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] fabric_api::kube::Error),
}

/// A NetBoxSource by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey {
    pub namespace: String,
    pub name: String,
}

impl SourceKey {
    pub fn of(source: &NetBoxSource) -> Self {
        Self {
            namespace: source.namespace().unwrap_or_default(),
            name: source.name_any(),
        }
    }

    /// Whether `device` carries this source's ownership labels.
    fn owns(&self, device: &FabricDevice) -> bool {
        owner_of(device).as_ref() == Some(self)
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The source whose ownership labels `device` carries.
fn owner_of(device: &FabricDevice) -> Option<SourceKey> {
    let labels = device.metadata.labels.as_ref()?;
    Some(SourceKey {
        name: labels.get(SOURCE_LABEL)?.clone(),
        namespace: labels.get(SOURCE_NAMESPACE_LABEL)?.clone(),
    })
}

/// The namespace a source writes its FabricDevices into.
pub fn target_namespace(source: &NetBoxSource) -> String {
    source
        .spec
        .target_namespace
        .clone()
        .unwrap_or_else(|| source.namespace().unwrap_or_default())
}

/// What a sync covers: every selected device, or the devices of a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Full,
    Devices {
        /// NetBox device names.
        names: BTreeSet<String>,
        /// The NetBox ids the webhooks gave for some of them.
        ids: BTreeMap<String, u64>,
        /// VLANs and L2VPNs whose devices NetBox is asked for first; they join `names`.
        shared: SharedObjects,
    },
}

// ---------------------------------------------------------------------------------------------
// Pure steps

/// The server-side apply body of one device: only what NetBox decides. `config` and
/// `ownership` are left out (Git's to set), and so are the platform and the TLS mode unless
/// NetBox names them (a platform that maps, the `gnmi_tls` custom field): with `force`, a
/// source default would overwrite what Git set. The ownership labels and the NetBox id go in.
pub fn render(device: &SyncedDevice, source: &SourceKey, namespace: &str) -> Value {
    let mut labels: BTreeMap<String, String> = device.labels.clone();
    labels.insert(SOURCE_LABEL.into(), source.name.clone());
    labels.insert(SOURCE_NAMESPACE_LABEL.into(), source.namespace.clone());
    let spec = &device.spec;
    let mut target = json!({"address": spec.target.address});
    if let Some(credentials) = &spec.target.credentials_secret_ref {
        target["credentialsSecretRef"] = json!(credentials);
    }
    if device.sets.tls {
        target["tls"] = json!({"mode": spec.target.tls.mode});
    }
    let mut body = json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": "FabricDevice",
        "metadata": {
            "name": device.name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {NETBOX_ID_ANNOTATION: device.netbox_id.to_string()},
        },
        "spec": {
            "target": target,
            "intent": spec.intent,
        },
    });
    if device.sets.platform {
        body["spec"]["platform"] = json!(spec.platform);
    }
    let hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
    body["metadata"]["annotations"][APPLIED_ANNOTATION] = Value::String(hash);
    body
}

/// The source's defaults for a FabricDevice it creates (the source's `platform` where NetBox's
/// platform does not map one), applied once with field manager [`DEFAULTS_FIELD_MANAGER`] and
/// without `force`, so that a value set from Git later is not overwritten. `None`: NetBox
/// decides everything, or the default is the CRD's own (the API server fills it in).
pub fn render_defaults(device: &SyncedDevice, namespace: &str) -> Option<Value> {
    (!device.sets.platform && device.spec.platform != Platform::default()).then(|| {
        json!({
            "apiVersion": "fabric.netops.dev/v1alpha1",
            "kind": "FabricDevice",
            "metadata": {"name": device.name, "namespace": namespace},
            "spec": {"platform": device.spec.platform},
        })
    })
}

/// Whether `live` already holds everything of `rendered` (and so was last applied from the
/// same NetBox data): then nothing is written. Extra fields on `live` (defaults, fields of
/// other managers, status) do not count.
pub fn up_to_date(live: &FabricDevice, rendered: &Value) -> bool {
    serde_json::to_value(live).is_ok_and(|live| contains(&live, rendered))
}

/// Every field of `part` is in `whole` with the same value. A map-list (items are objects)
/// holds every item of `part` by its key fields, wherever it is: items another manager added
/// (an interface set from Git) do not count. A list of scalars is atomic (addresses, VLANs,
/// route targets: NetBox's whole) and must be equal, so an address added by hand is written
/// over; the two `set` lists (address families) are held to that too, so an address family
/// added to a NetBox neighbor by another manager costs a write per sync. A change of NetBox's
/// order or of what it removed shows in the hash annotation instead.
fn contains(whole: &Value, part: &Value) -> bool {
    match (whole, part) {
        (Value::Object(w), Value::Object(p)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| contains(wv, v))),
        (Value::Array(w), Value::Array(p)) => {
            // The usual case first: the same items in the same order.
            (w.len() == p.len() && w.iter().zip(p).all(|(a, b)| contains(a, b)))
                || (p.iter().all(Value::is_object)
                    && p.iter().all(|b| w.iter().any(|a| contains(a, b))))
        }
        _ => whole == part,
    }
}

/// Why a sync could not run or failed: a condition reason and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: &'static str,
    pub message: String,
}

/// What a full sync that reached NetBox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// FabricDevices written by this sync.
    pub written: usize,
    /// FabricDevices that already held NetBox's data.
    pub unchanged: usize,
    /// FabricDevices deleted (deletion policy `delete`).
    pub deleted: Vec<String>,
    /// FabricDevices released (deletion policy `orphan`).
    pub orphaned: Vec<String>,
    /// Devices not written, each with why (invalid NetBox data, owned by another source).
    pub errors: Vec<String>,
}

impl Applied {
    pub fn synced(&self) -> usize {
        self.written + self.unchanged
    }
}

/// The source's status after a full sync (`Ok`) or a failure. Pure: `now` is passed in, and
/// conditions keep their transition time when their status does not change.
pub fn synced_status(
    current: &NetBoxSourceStatus,
    generation: Option<i64>,
    outcome: Result<&Applied, &Failure>,
    now: Time,
) -> NetBoxSourceStatus {
    let mut status = current.clone();
    status.observed_generation = generation;
    let mut set = |type_: &str, s: Status, reason: &str, message: &str| {
        conditions::set(
            &mut status.conditions,
            type_,
            s,
            reason,
            message,
            generation,
            now.clone(),
        );
    };
    match outcome {
        Ok(applied) => {
            let n = applied.synced();
            set(
                types::READY,
                Status::True,
                reasons::SYNCED,
                &format!("{n} devices synced"),
            );
            match applied.errors.first() {
                None => set(
                    types::SYNCED,
                    Status::True,
                    reasons::SYNCED,
                    &format!("{n} devices synced"),
                ),
                Some(first) => {
                    let more = applied.errors.len() - 1;
                    let message = if more == 0 {
                        first.clone()
                    } else {
                        format!("{first} (and {more} more in status.errors)")
                    };
                    set(
                        types::SYNCED,
                        Status::False,
                        reasons::INVALID_DATA,
                        &message,
                    );
                }
            }
            status.last_sync_time = Some(now.clone());
            status.devices_synced = u32::try_from(n).unwrap_or(u32::MAX);
            status.errors = applied
                .errors
                .iter()
                .take(MAX_STATUS_ERRORS)
                .cloned()
                .collect();
        }
        Err(failure) => {
            // The devices keep their last intent; lastSyncTime and devicesSynced still describe
            // the last sync that worked.
            set(
                types::READY,
                Status::False,
                failure.reason,
                &failure.message,
            );
            set(
                types::SYNCED,
                Status::False,
                failure.reason,
                &failure.message,
            );
            status.errors = vec![failure.message.clone()];
        }
    }
    status
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// NetBox metrics (prefix `fabric_netbox_`), labelled by source (`namespace/name`).
#[derive(Debug)]
pub struct NetboxMetrics {
    requests: Family<Vec<(String, String)>, Counter>,
    retries: Family<Vec<(String, String)>, Counter>,
    failures: Family<Vec<(String, String)>, Counter>,
    syncs: Family<Vec<(String, String)>, Counter>,
    webhooks: Family<Vec<(String, String)>, Counter>,
    /// Duration of full syncs, seconds.
    pub full_sync_seconds: Histogram,
    /// A webhook received → its devices applied, seconds.
    pub webhook_latency_seconds: Histogram,
}

impl NetboxMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let family = |registry: &mut Registry, name: &str, help: &str| {
            let f = Family::<Vec<(String, String)>, Counter>::default();
            registry.register(name, help, f.clone());
            f
        };
        let requests = family(
            registry,
            "fabric_netbox_requests",
            "HTTP requests sent to NetBox (each attempt), by source",
        );
        let retries = family(
            registry,
            "fabric_netbox_request_retries",
            "NetBox requests that were retries, by source",
        );
        let failures = family(
            registry,
            "fabric_netbox_request_failures",
            "NetBox requests that failed after their retries, by source",
        );
        let syncs = family(
            registry,
            "fabric_netbox_syncs",
            "NetBox syncs by source, scope (full, devices) and result (ok or a condition reason)",
        );
        let webhooks = family(
            registry,
            "fabric_netbox_webhooks",
            "NetBox webhooks received, by result (accepted, ignored, unauthorized, invalid)",
        );
        let full_sync_seconds =
            Histogram::new([0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0]);
        registry.register(
            "fabric_netbox_full_sync_seconds",
            "duration of full NetBox syncs",
            full_sync_seconds.clone(),
        );
        let webhook_latency_seconds =
            Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        registry.register(
            "fabric_netbox_webhook_latency_seconds",
            "time from a NetBox webhook received to its devices applied",
            webhook_latency_seconds.clone(),
        );
        Self {
            requests,
            retries,
            failures,
            syncs,
            webhooks,
            full_sync_seconds,
            webhook_latency_seconds,
        }
    }

    fn source(key: &SourceKey) -> Vec<(String, String)> {
        vec![("source".to_owned(), key.to_string())]
    }

    /// A sync of `key` ended with `result` (ok, or a condition reason).
    pub fn sync(&self, key: &SourceKey, scope: &Scope, result: &str) {
        let mut labels = Self::source(key);
        let scope = match scope {
            Scope::Full => "full",
            Scope::Devices { .. } => "devices",
        };
        labels.push(("scope".to_owned(), scope.to_owned()));
        labels.push(("result".to_owned(), result.to_owned()));
        self.syncs.get_or_create(&labels).inc();
    }

    /// A webhook was answered with `result` (accepted, ignored, unauthorized, invalid).
    pub fn webhook(&self, result: &str) {
        self.webhooks
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .inc();
    }
}

/// Request counts read before a sync, to add what it sent to the metrics.
struct CountsBefore([u64; 3]);

impl CountsBefore {
    fn of(c: &RequestCounters) -> Self {
        Self([c.requests(), c.retries(), c.failures()])
    }

    fn record(self, c: &RequestCounters, m: &NetboxMetrics, key: &SourceKey) {
        let now = [c.requests(), c.retries(), c.failures()];
        let [requests, retries, failures] =
            std::array::from_fn(|i| now[i].saturating_sub(self.0[i]));
        m.requests_sent(key, requests, retries, failures);
    }
}

impl NetboxMetrics {
    /// Requests a sync of `key` sent, the retries among them, and those that failed.
    pub fn requests_sent(&self, key: &SourceKey, requests: u64, retries: u64, failures: u64) {
        let labels = Self::source(key);
        for (family, n) in [
            (&self.requests, requests),
            (&self.retries, retries),
            (&self.failures, failures),
        ] {
            family.get_or_create(&labels).inc_by(n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The syncer

/// Per source: the NetBox client (rebuilt when URL or token change), when the next full sync
/// is due, the webhook secret. The `inner` mutex serializes full syncs; `writes` serializes
/// applies. Syncs read NetBox without holding `writes`, so a webhook's sync does not wait for
/// a full sync's read, only for its apply.
#[derive(Default)]
struct SourceState {
    inner: tokio::sync::Mutex<Inner>,
    writes: tokio::sync::Mutex<Writes>,
    /// URL, token and the clients made of them; read without waiting for a running sync.
    client: Mutex<Option<(String, Token, Clients)>>,
    /// Set when the client was rebuilt (new URL or token): a full sync is due at once.
    client_changed: AtomicBool,
    /// Read by the webhook handler without waiting for a running sync.
    webhook_secret: RwLock<Option<Vec<u8>>>,
    /// Outlive clients, so the request metric never goes back.
    counters: Arc<RequestCounters>,
}

/// A source's NetBox clients: one for full syncs, and one that every webhook sync shares, with
/// its own limit of requests in flight (so a webhook's few requests do not queue behind a full
/// sync's pages, and a burst of webhooks still sends at most that many at once).
#[derive(Clone)]
struct Clients {
    sync: fabric_netbox::Client,
    webhooks: fabric_netbox::Client,
}

/// What the applies of a source know about the age of what they write: syncs read NetBox
/// concurrently, and an older read must not overwrite a newer one.
#[derive(Default)]
struct Writes {
    /// When the last full sync that applied began reading NetBox.
    last_full_read: Option<Instant>,
    /// FabricDevices a webhook's sync applied (or found gone) since, with when its read began.
    device_reads: HashMap<String, Instant>,
}

impl Writes {
    /// The devices a sync whose read began at `read` must leave alone: a later read applied.
    fn newer_than(&self, read: Instant) -> BTreeSet<String> {
        self.device_reads
            .iter()
            .filter(|(_, t)| **t > read)
            .map(|(d, _)| d.clone())
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    /// `None`: due now (never synced, or the source could not be read last time).
    next_full_sync: Option<Instant>,
    /// The source's generation at the last full sync: a new one means a new spec.
    synced_generation: Option<i64>,
    /// Full syncs failed in a row with a transient error (for the backoff).
    transient_failures: u32,
}

/// Runs syncs for every NetBoxSource; shared by the controller and the webhook endpoint.
pub struct NetBoxSync {
    kube: Client,
    metrics: Arc<Metrics>,
    options: ClientOptions,
    sources: Mutex<HashMap<SourceKey, Arc<SourceState>>>,
}

impl NetBoxSync {
    pub fn new(kube: Client, metrics: Arc<Metrics>) -> Arc<Self> {
        Self::with_options(kube, metrics, ClientOptions::default())
    }

    /// With NetBox client options (timeouts, retries, pages in flight).
    pub fn with_options(kube: Client, metrics: Arc<Metrics>, options: ClientOptions) -> Arc<Self> {
        Arc::new(Self {
            kube,
            metrics,
            options,
            sources: Mutex::new(HashMap::new()),
        })
    }

    fn state(&self, key: &SourceKey) -> Arc<SourceState> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.entry(key.clone()).or_default().clone()
    }

    fn forget(&self, key: &SourceKey) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.remove(key);
    }

    /// One Secret value, or why it cannot be read (a condition).
    async fn secret_value(
        &self,
        namespace: &str,
        what: &str,
        r: &SecretKeyRef,
    ) -> Result<Result<String, Failure>, Error> {
        let api: Api<Secret> = Api::namespaced(self.kube.clone(), namespace);
        let Some(secret) = api.get_opt(&r.name).await? else {
            return Ok(Err(Failure {
                reason: reasons::SECRET_NOT_FOUND,
                message: format!("{what} Secret {:?} not found", r.name),
            }));
        };
        Ok(
            secret_text(&secret, &r.key).map_err(|e: ConfigError| Failure {
                reason: reasons::SECRET_NOT_FOUND,
                message: format!("{what}: {e}"),
            }),
        )
    }

    /// Reads the Secrets and (re)builds the NetBox client when URL or token changed (then
    /// `state.client_changed` is set: a full sync is due now). Returns the clients.
    async fn prepare(
        &self,
        source: &NetBoxSource,
        state: &SourceState,
    ) -> Result<Result<Clients, Failure>, Error> {
        let key = SourceKey::of(source);
        if key.name.len() > 63 {
            return Ok(Err(Failure {
                reason: INVALID_NAME,
                message: format!(
                    "the NetBoxSource name is {} characters long; at most 63 fit in the label {SOURCE_LABEL}",
                    key.name.len()
                ),
            }));
        }
        let spec = &source.spec;
        let webhook = match &spec.webhook_secret_ref {
            None => None,
            Some(r) => match self.secret_value(&key.namespace, "webhook", r).await? {
                Ok(s) if s.is_empty() => {
                    return Ok(Err(Failure {
                        reason: reasons::SECRET_NOT_FOUND,
                        message: format!("webhook Secret {:?} key {:?} is empty", r.name, r.key),
                    }));
                }
                Ok(s) => Some(s.into_bytes()),
                Err(f) => return Ok(Err(f)),
            },
        };
        *state
            .webhook_secret
            .write()
            .unwrap_or_else(|e| e.into_inner()) = webhook;
        let raw = match self
            .secret_value(&key.namespace, "API token", &spec.token_secret_ref)
            .await?
        {
            Ok(t) => t,
            Err(f) => return Ok(Err(f)),
        };
        let token = match Token::parse(&raw) {
            Ok(t) => t,
            Err(e) => {
                return Ok(Err(Failure {
                    reason: e.reason(),
                    message: format!("Secret {:?}: {e}", spec.token_secret_ref.name),
                }));
            }
        };
        let mut current = state.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((url, t, clients)) = &*current
            && *url == spec.url
            && *t == token
        {
            return Ok(Ok(clients.clone()));
        }
        match fabric_netbox::Client::with_options(&spec.url, token.clone(), self.options.clone()) {
            Ok(client) => {
                let sync = client.with_counters(state.counters.clone());
                let clients = Clients {
                    webhooks: sync.with_own_permits(),
                    sync,
                };
                *current = Some((spec.url.clone(), token, clients.clone()));
                state.client_changed.store(true, Ordering::SeqCst);
                Ok(Ok(clients))
            }
            Err(e) => Ok(Err(Failure {
                reason: e.reason(),
                message: e.to_string(),
            })),
        }
    }

    /// The controller's reconcile: a full sync when one is due (interval passed, spec or
    /// Secret changed), else a requeue at the due time.
    pub async fn reconcile(&self, source: &NetBoxSource) -> Result<Action, Error> {
        let key = SourceKey::of(source);
        let state = self.state(&key);
        let mut inner = state.inner.lock().await;
        let interval = source.spec.interval.as_std().max(MIN_INTERVAL);
        let client = match self.prepare(source, &state).await? {
            Ok(clients) => clients.sync,
            Err(failure) => {
                warn!(source = %key, reason = failure.reason, "{}", failure.message);
                self.metrics.netbox.sync(&key, &Scope::Full, failure.reason);
                self.write_status(source, Err(&failure)).await?;
                // Waits for a change of the spec or a Secret (both watched), then syncs at
                // once; the interval is the safety net.
                inner.next_full_sync = None;
                return Ok(Action::requeue(interval));
            }
        };
        let spec_changed = inner.synced_generation != source.metadata.generation;
        let now = Instant::now();
        let fresh = state.client_changed.swap(false, Ordering::SeqCst);
        let due = fresh || spec_changed || inner.next_full_sync.is_none_or(|t| t <= now);
        if !due {
            let wait = inner
                .next_full_sync
                .map_or(interval, |t| t.saturating_duration_since(now));
            return Ok(Action::requeue(wait));
        }
        self.full_sync(source, &state, &mut inner, &client).await
    }

    /// A full sync now, with its status; returns when the next one is due.
    async fn full_sync(
        &self,
        source: &NetBoxSource,
        state: &SourceState,
        inner: &mut Inner,
        client: &fabric_netbox::Client,
    ) -> Result<Action, Error> {
        let key = SourceKey::of(source);
        let interval = source.spec.interval.as_std().max(MIN_INTERVAL);
        // This sync uses the newest client: the one it was due for is covered.
        state.client_changed.store(false, Ordering::SeqCst);
        let started = Instant::now();
        let before = CountsBefore::of(&state.counters);
        let result = fabric_netbox::sync(client, &SyncConfig::from(&source.spec)).await;
        inner.synced_generation = source.metadata.generation;
        before.record(&state.counters, &self.metrics.netbox, &key);
        // Due again after the interval even if applying fails below: the controller's error
        // requeue must not turn a failing apply into a full sync every few seconds.
        inner.next_full_sync = Some(Instant::now() + interval);
        let wait = match result {
            Ok(result) => {
                let applied = {
                    let mut writes = state.writes.lock().await;
                    let newer = writes.newer_than(started);
                    let applied = self.apply(source, &result, &Scope::Full, &newer).await?;
                    writes.last_full_read = Some(started);
                    writes.device_reads.retain(|_, t| *t > started);
                    applied
                };
                self.metrics
                    .netbox
                    .full_sync_seconds
                    .observe(started.elapsed().as_secs_f64());
                let outcome = if applied.errors.is_empty() {
                    reasons::SYNCED
                } else {
                    reasons::INVALID_DATA
                };
                self.metrics.netbox.sync(&key, &Scope::Full, outcome);
                info!(
                    source = %key,
                    written = applied.written,
                    unchanged = applied.unchanged,
                    deleted = applied.deleted.len(),
                    orphaned = applied.orphaned.len(),
                    errors = applied.errors.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "NetBoxSource synced"
                );
                self.write_status(source, Ok(&applied)).await?;
                inner.transient_failures = 0;
                interval
            }
            Err(e) => {
                let failure = Failure {
                    reason: e.reason(),
                    message: e.to_string(),
                };
                warn!(source = %key, reason = failure.reason, "{}", failure.message);
                self.metrics.netbox.sync(&key, &Scope::Full, failure.reason);
                self.write_status(source, Err(&failure)).await?;
                if e.is_transient() {
                    // 5 s, 10 s, 20 s, ... up to the interval.
                    inner.transient_failures = inner.transient_failures.saturating_add(1);
                    let factor = 1u32 << inner.transient_failures.min(8).saturating_sub(1);
                    (Duration::from_secs(5) * factor).min(interval)
                } else {
                    // A refused token or a wrong URL waits for the Secret or the spec to
                    // change (both trigger a reconcile); the interval is the safety net.
                    interval
                }
            }
        };
        inner.next_full_sync = Some(Instant::now() + wait);
        Ok(Action::requeue(wait))
    }

    /// Writes the status when it changed (server-side apply on the status subresource).
    async fn write_status(
        &self,
        source: &NetBoxSource,
        outcome: Result<&Applied, &Failure>,
    ) -> Result<(), Error> {
        let current = source.status.clone().unwrap_or_default();
        let status = synced_status(
            &current,
            source.metadata.generation,
            outcome,
            Time(jiff::Timestamp::now()),
        );
        if status == current {
            return Ok(());
        }
        let api: Api<NetBoxSource> =
            Api::namespaced(self.kube.clone(), &source.namespace().unwrap_or_default());
        let patch = json!({
            "apiVersion": "fabric.netops.dev/v1alpha1",
            "kind": "NetBoxSource",
            "status": status,
        });
        api.patch_status(
            &source.name_any(),
            &PatchParams::apply(OPERATOR_FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        self.metrics.api_write("netbox-source-status");
        Ok(())
    }

    /// Applies what a sync found, then the deletion policy to the source's devices that NetBox
    /// no longer selects (within `scope`). Devices with invalid data are neither written nor
    /// deleted: they keep their last intent; so are the devices of `newer` (FabricDevice
    /// names), which a sync that read NetBox later has applied.
    async fn apply(
        &self,
        source: &NetBoxSource,
        result: &SyncResult,
        scope: &Scope,
        newer: &BTreeSet<String>,
    ) -> Result<Applied, Error> {
        let key = SourceKey::of(source);
        let namespace = target_namespace(source);
        let api: Api<FabricDevice> = Api::namespaced(self.kube.clone(), &namespace);
        // The FabricDevices this sync may touch: the namespace's for a full sync; the named
        // ones for a webhook's (a few GETs rather than a list of a large namespace).
        let mut live: BTreeMap<String, FabricDevice> = BTreeMap::new();
        let scoped: BTreeSet<String> = match scope {
            Scope::Full => {
                for d in api.list(&ListParams::default()).await?.items {
                    live.insert(d.name_any(), d);
                }
                live.keys().cloned().collect()
            }
            Scope::Devices { names, .. } => {
                let scoped: BTreeSet<String> =
                    names.iter().map(|n| n.to_ascii_lowercase()).collect();
                let wanted: BTreeSet<&String> = scoped
                    .iter()
                    .chain(result.devices.iter().map(|d| &d.name))
                    .collect();
                for name in wanted {
                    if let Some(d) = api.get_opt(name).await? {
                        live.insert(name.clone(), d);
                    }
                }
                scoped
            }
        };
        let mut applied = Applied {
            errors: result.errors.iter().map(ToString::to_string).collect(),
            ..Applied::default()
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        for device in &result.devices {
            if newer.contains(&device.name) {
                // Written from a later read of NetBox.
                applied.unchanged += 1;
                continue;
            }
            let existing = live.get(&device.name);
            if let Some(other) = existing.and_then(owner_of).filter(|o| *o != key) {
                applied.errors.push(format!(
                    "FabricDevice {namespace}/{} is synced from NetBoxSource {other}; not written",
                    device.name
                ));
                continue;
            }
            if let Some(label) = device
                .labels
                .keys()
                .find(|k| *k == SOURCE_LABEL || *k == SOURCE_NAMESPACE_LABEL)
            {
                applied.errors.push(format!(
                    "device {}: the NetBox label {label} is the operator's own; not written",
                    device.name
                ));
                continue;
            }
            let body = render(device, &key, &namespace);
            if existing.is_some_and(|e| up_to_date(e, &body)) {
                applied.unchanged += 1;
                continue;
            }
            match api.patch(&device.name, &params, &Patch::Apply(&body)).await {
                Ok(_) => {
                    self.metrics.api_write("netbox-device");
                    applied.written += 1;
                    if existing.is_none()
                        && let Some(defaults) = render_defaults(device, &namespace)
                    {
                        self.apply_defaults(&api, &device.name, &defaults).await?;
                    }
                }
                // Refused for this device alone (the mapping checks the schema, but a webhook
                // or an admission policy may still say no): the others go on.
                Err(fabric_api::kube::Error::Api(e)) if (400..500).contains(&e.code) => {
                    warn!(source = %key, device = %device.name, "apply refused: {}", e.message);
                    applied.errors.push(format!(
                        "FabricDevice {namespace}/{} (NetBox dcim.device {}) was refused: {}",
                        device.name, device.netbox_id, e.message
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let selected = result.selected_device_names();
        let gone: Vec<&FabricDevice> = scoped
            .iter()
            .filter(|n| !selected.contains(*n) && !newer.contains(*n))
            .filter_map(|n| live.get(n))
            .filter(|d| key.owns(d))
            .collect();
        for device in gone {
            let name = device.name_any();
            match source.spec.deletion_policy {
                DeletionPolicy::Delete => {
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(fabric_api::kube::Error::Api(e)) if e.code == 404 => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.metrics.api_write("netbox-device-delete");
                    info!(source = %key, device = %name, "device left NetBox: FabricDevice deleted");
                    applied.deleted.push(name);
                }
                DeletionPolicy::Orphan => {
                    // The labels go, so the device no longer counts as this source's; its
                    // intent stays as last synced.
                    let patch = json!({"metadata": {"labels": {SOURCE_LABEL: null, SOURCE_NAMESPACE_LABEL: null}}});
                    let params = PatchParams {
                        field_manager: Some(FIELD_MANAGER.to_owned()),
                        ..PatchParams::default()
                    };
                    api.patch(&name, &params, &Patch::Merge(&patch)).await?;
                    self.metrics.api_write("netbox-device-orphan");
                    info!(source = %key, device = %name, "device left NetBox: FabricDevice orphaned");
                    applied.orphaned.push(name);
                }
            }
        }
        Ok(applied)
    }

    /// The source's defaults on a FabricDevice just created. A conflict means another manager
    /// (Git) set the field meanwhile: its value stays.
    async fn apply_defaults(
        &self,
        api: &Api<FabricDevice>,
        name: &str,
        defaults: &Value,
    ) -> Result<(), Error> {
        match api
            .patch(
                name,
                &PatchParams::apply(DEFAULTS_FIELD_MANAGER),
                &Patch::Apply(defaults),
            )
            .await
        {
            Ok(_) => {
                self.metrics.api_write("netbox-device-defaults");
                Ok(())
            }
            Err(fabric_api::kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A sync of `scope` now, for a webhook. The source is read again (it may have changed or
    /// gone). A webhook sync writes no status; when it fails, the periodic sync reports.
    /// NetBox is read without waiting for a running full sync; only the apply waits for it.
    pub async fn sync_now(&self, key: &SourceKey, scope: Scope) -> Result<(), Error> {
        let api: Api<NetBoxSource> = Api::namespaced(self.kube.clone(), &key.namespace);
        let Some(source) = api.get_opt(&key.name).await? else {
            self.forget(key);
            return Ok(());
        };
        let state = self.state(key);
        let clients = match self.prepare(&source, &state).await? {
            Ok(clients) => clients,
            Err(failure) => {
                warn!(source = %key, reason = failure.reason, "webhook sync skipped: {}", failure.message);
                self.metrics.netbox.sync(key, &scope, failure.reason);
                return Ok(());
            }
        };
        let Scope::Devices { names, ids, shared } = &scope else {
            let mut inner = state.inner.lock().await;
            self.full_sync(&source, &state, &mut inner, &clients.sync)
                .await?;
            return Ok(());
        };
        let client = clients.webhooks;
        let read_started = Instant::now();
        let before = CountsBefore::of(&state.counters);
        let config = SyncConfig::from(&source.spec);
        let result = async {
            let (mut names, mut ids) = (names.clone(), ids.clone());
            if !shared.is_empty() {
                for (name, id) in fabric_netbox::devices_of(&client, shared).await? {
                    names.insert(name.clone());
                    ids.insert(name, id);
                }
            }
            let result = fabric_netbox::sync_devices(&client, &config, &names, &ids).await?;
            Ok::<_, fabric_netbox::SyncError>((result, names))
        }
        .await;
        before.record(&state.counters, &self.metrics.netbox, key);
        match result {
            Ok((result, names)) => {
                let mut writes = state.writes.lock().await;
                if writes.last_full_read.is_some_and(|t| t > read_started) {
                    // A full sync read NetBox after this sync did and has applied: its data is
                    // newer than ours.
                    self.metrics.netbox.sync(key, &scope, SUPERSEDED);
                    return Ok(());
                }
                let newer = writes.newer_than(read_started);
                let touched: BTreeSet<String> = names
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .chain(result.selected_device_names())
                    .collect();
                let scope = Scope::Devices {
                    names,
                    ids: BTreeMap::new(),
                    shared: SharedObjects::default(),
                };
                let applied = self.apply(&source, &result, &scope, &newer).await?;
                for device in touched.into_iter().filter(|d| !newer.contains(d)) {
                    writes.device_reads.insert(device, read_started);
                }
                drop(writes);
                for e in &applied.errors {
                    warn!(source = %key, "{e}");
                }
                let outcome = if applied.errors.is_empty() {
                    reasons::SYNCED
                } else {
                    reasons::INVALID_DATA
                };
                self.metrics.netbox.sync(key, &scope, outcome);
            }
            Err(e) => {
                warn!(source = %key, reason = e.reason(), "webhook sync failed: {e}");
                self.metrics.netbox.sync(key, &scope, e.reason());
            }
        }
        Ok(())
    }

    /// The sources whose webhook secret verifies `body`. A request without signature, or one
    /// no secret verifies, is refused.
    pub fn verify(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Vec<SourceKey>, WebhookError> {
        if signature.is_none_or(|s| s.trim().is_empty()) {
            return Err(WebhookError::Signature(SignatureError::Missing));
        }
        let sources: Vec<(SourceKey, Arc<SourceState>)> = {
            let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            sources
                .iter()
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        let mut matched = Vec::new();
        let mut last_error = None;
        for (key, state) in sources {
            let secret = state
                .webhook_secret
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let Some(secret) = secret else { continue };
            match fabric_netbox::verify_signature(&secret, body, signature) {
                Ok(()) => matched.push(key),
                Err(e) => last_error = Some(e),
            }
        }
        match (matched.is_empty(), last_error) {
            (false, _) => Ok(matched),
            (true, Some(e)) => Err(WebhookError::Signature(e)),
            (true, None) => Err(WebhookError::NoSecret),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Signature(SignatureError),
    #[error(
        "no NetBoxSource has a webhookSecretRef (or its Secret was not read yet): webhooks are refused"
    )]
    NoSecret,
}

/// A verified webhook: which sources, which devices (and their ids), when it arrived.
#[derive(Debug)]
struct Trigger {
    sources: Vec<SourceKey>,
    affected: Affected,
    ids: BTreeMap<String, u64>,
    received: Instant,
}

/// The `/webhooks/netbox` endpoint's logic: verify, work out the devices, queue their re-sync.
pub struct Webhooks {
    sync: Arc<NetBoxSync>,
    tx: mpsc::UnboundedSender<Trigger>,
}

/// What the endpoint answers: HTTP status and a short text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub message: String,
}

impl Webhooks {
    /// Starts the worker that runs the re-syncs (on the current tokio runtime).
    pub fn start(sync: Arc<NetBoxSync>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(worker(sync.clone(), rx));
        Arc::new(Self { sync, tx })
    }

    /// Handles one request: 401 (and nothing happens) unless a source's secret verifies the
    /// signature; 400 for a body that is not a NetBox event; else 200 and the re-sync is queued.
    pub fn receive(&self, body: &[u8], signature: Option<&str>) -> Answer {
        let received = Instant::now();
        let metrics = &self.sync.metrics.netbox;
        let sources = match self.sync.verify(body, signature) {
            Ok(s) => s,
            Err(e) => {
                metrics.webhook("unauthorized");
                warn!(error = %e, "NetBox webhook refused");
                return Answer {
                    status: 401,
                    message: e.to_string(),
                };
            }
        };
        let event = match fabric_netbox::parse_event(body) {
            Ok(e) => e,
            Err(e) => {
                metrics.webhook("invalid");
                return Answer {
                    status: 400,
                    message: e.to_string(),
                };
            }
        };
        let affected = event.affected();
        let message = match &affected {
            Affected::Nothing => {
                metrics.webhook("ignored");
                return Answer {
                    status: 200,
                    message: format!("{} events are not synced; ignored", event.object_type),
                };
            }
            Affected::All => "full sync queued".to_owned(),
            Affected::Shared(_) => "re-sync queued: the devices of the VLANs and L2VPNs".to_owned(),
            Affected::Devices(names) => format!(
                "re-sync queued: {}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        metrics.webhook("accepted");
        let _ = self.tx.send(Trigger {
            sources,
            ids: event.device_ids(),
            affected,
            received,
        });
        Answer {
            status: 200,
            message,
        }
    }
}

/// Runs queued re-syncs. Events that arrive together (a bulk edit sends one per object) are
/// merged per source into one sync.
async fn worker(sync: Arc<NetBoxSync>, mut rx: mpsc::UnboundedReceiver<Trigger>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(t) = rx.try_recv() {
            batch.push(t);
        }
        let mut work: BTreeMap<SourceKey, (Scope, Instant)> = BTreeMap::new();
        for t in batch {
            for key in t.sources {
                let entry = work.entry(key).or_insert_with(|| {
                    let scope = Scope::Devices {
                        names: BTreeSet::new(),
                        ids: BTreeMap::new(),
                        shared: SharedObjects::default(),
                    };
                    (scope, t.received)
                });
                entry.1 = entry.1.min(t.received);
                match (&mut entry.0, &t.affected) {
                    (Scope::Full, _) | (_, Affected::Nothing) => {}
                    (scope, Affected::All) => *scope = Scope::Full,
                    (Scope::Devices { names, ids, .. }, Affected::Devices(more)) => {
                        names.extend(more.iter().cloned());
                        ids.extend(t.ids.iter().map(|(n, i)| (n.clone(), *i)));
                    }
                    (Scope::Devices { shared, .. }, Affected::Shared(more)) => {
                        shared.extend(more);
                    }
                }
            }
        }
        for (key, (scope, received)) in work {
            let sync = sync.clone();
            tokio::spawn(async move {
                match sync.sync_now(&key, scope).await {
                    Ok(()) => sync
                        .metrics
                        .netbox
                        .webhook_latency_seconds
                        .observe(received.elapsed().as_secs_f64()),
                    Err(e) => warn!(source = %key, error = %e, "webhook sync failed"),
                }
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The controller

fn on_error(source: Arc<NetBoxSource>, error: &Error, _sync: Arc<NetBoxSync>) -> Action {
    warn!(source = %source.name_any(), %error, "NetBoxSource reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the NetBoxSource controller until `shutdown` resolves. A change of a source or of a
/// Secret it references reconciles it; so does the due time of its next full sync.
pub async fn run(
    client: Client,
    sync: Arc<NetBoxSync>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let sources: Api<NetBoxSource> = Api::all(client.clone());
    let controller = Controller::new(sources, watcher::Config::default());
    let store = controller.store();
    controller
        .watches(
            Api::<Secret>::all(client),
            watcher::Config::default(),
            move |secret: Secret| {
                let (namespace, name) = (secret.namespace(), secret.name_any());
                store
                    .state()
                    .into_iter()
                    .filter(move |s| {
                        s.namespace() == namespace
                            && (s.spec.token_secret_ref.name == name
                                || s.spec
                                    .webhook_secret_ref
                                    .as_ref()
                                    .is_some_and(|r| r.name == name))
                    })
                    .map(|s| ObjectRef::from_obj(&*s))
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(
            |source, sync: Arc<NetBoxSync>| async move { sync.reconcile(&source).await },
            on_error,
            sync,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "NetBoxSource controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_api::{
        FabricDeviceSpec,
        device::{Target, TlsMode},
    };
    use fabric_netbox::NetBoxSets;

    fn synced(name: &str, description: Option<&str>) -> SyncedDevice {
        let mut spec = FabricDeviceSpec {
            target: Target {
                address: "192.0.2.1:6030".into(),
                ..Target::default()
            },
            ..FabricDeviceSpec::default()
        };
        spec.intent
            .interfaces
            .push(fabric_drift::intent::Interface {
                name: "Ethernet1".into(),
                description: description.map(str::to_owned),
                enabled: true,
                mtu: Some(9214),
                switchport: None,
                aggregate_id: None,
                vrf: None,
                ipv4_addresses: vec![],
                ipv6_addresses: vec![],
            });
        SyncedDevice {
            name: name.into(),
            netbox_id: 7,
            sets: NetBoxSets::default(),
            labels: [("netbox.fabric.netops.dev/site".to_owned(), "lab".to_owned())].into(),
            spec,
        }
    }

    fn key() -> SourceKey {
        SourceKey {
            namespace: "fabric".into(),
            name: "dc1".into(),
        }
    }

    /// What the API server holds after applying `body`, plus fields of others and defaults.
    fn live_after(body: &Value) -> FabricDevice {
        let mut v = body.clone();
        v["spec"]["ownership"] = json!("merge");
        v["spec"]["config"] = json!([{"path": "/system/config/login-banner", "value": "git"}]);
        v["metadata"]["labels"]["team"] = json!("neteng");
        v["metadata"]["resourceVersion"] = json!("12");
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_apply_body_holds_only_what_netbox_decides() {
        let body = render(&synced("leaf1", Some("uplink")), &key(), "lab");
        let spec = body["spec"].as_object().unwrap();
        assert_eq!(spec.keys().collect::<Vec<_>>(), ["intent", "target"]);
        assert_eq!(
            body["spec"]["target"],
            json!({"address": "192.0.2.1:6030"}),
            "no TLS mode NetBox did not set"
        );
        let labels = &body["metadata"]["labels"];
        assert_eq!(labels[SOURCE_LABEL], "dc1");
        assert_eq!(labels[SOURCE_NAMESPACE_LABEL], "fabric");
        assert_eq!(labels["netbox.fabric.netops.dev/site"], "lab");
        assert_eq!(body["metadata"]["annotations"][NETBOX_ID_ANNOTATION], "7");
        assert_eq!(body["metadata"]["namespace"], "lab");
        assert_eq!(
            body["metadata"]["annotations"][APPLIED_ANNOTATION]
                .as_str()
                .unwrap()
                .len(),
            64
        );
        // The same data renders the same body (the hash is stable).
        assert_eq!(
            body,
            render(&synced("leaf1", Some("uplink")), &key(), "lab")
        );
    }

    #[test]
    fn platform_and_tls_are_applied_only_when_netbox_sets_them() {
        let mut device = synced("leaf1", Some("uplink"));
        device.spec.platform = Platform::Openconfig;
        device.spec.target.tls.mode = TlsMode::Insecure;
        // The source's defaults: not in the forced apply, in the create-time one.
        let body = render(&device, &key(), "lab");
        assert!(body["spec"].get("platform").is_none());
        assert!(body["spec"]["target"].get("tls").is_none());
        assert_eq!(
            render_defaults(&device, "lab").unwrap()["spec"],
            json!({"platform": "openconfig"})
        );
        // NetBox's own: forced, and nothing left to default.
        device.sets = NetBoxSets {
            platform: true,
            tls: true,
        };
        let body = render(&device, &key(), "lab");
        assert_eq!(body["spec"]["platform"], "openconfig");
        assert_eq!(body["spec"]["target"]["tls"], json!({"mode": "insecure"}));
        assert_eq!(render_defaults(&device, "lab"), None);
    }

    #[test]
    fn items_other_managers_add_to_a_list_do_not_make_a_device_stale() {
        let mut device = synced("leaf1", Some("uplink"));
        device.spec.intent.interfaces[0].ipv4_addresses = vec!["10.0.0.0/31".into()];
        let body = render(&device, &key(), "lab");
        let mut live = live_after(&body);
        live.spec.intent.interfaces.insert(
            0,
            fabric_drift::intent::Interface {
                name: "Ethernet48".into(),
                description: Some("set from Git".into()),
                enabled: true,
                mtu: None,
                switchport: None,
                aggregate_id: None,
                vrf: None,
                ipv4_addresses: vec![],
                ipv6_addresses: vec![],
            },
        );
        assert!(up_to_date(&live, &body));
        // An address added to a NetBox interface's (atomic) list is written over.
        let mut edited = live.clone();
        edited.spec.intent.interfaces[1]
            .ipv4_addresses
            .push("10.99.0.1/31".into());
        assert!(!up_to_date(&edited, &body));
        // NetBox's own item changed by someone else still counts.
        live.spec.intent.interfaces[1].mtu = Some(1500);
        assert!(!up_to_date(&live, &body));
    }

    #[test]
    fn an_applied_device_is_up_to_date_until_netbox_changes() {
        let body = render(&synced("leaf1", Some("uplink")), &key(), "lab");
        let live = live_after(&body);
        assert!(
            up_to_date(&live, &body),
            "fields of other managers do not count"
        );
        let changed = render(&synced("leaf1", Some("to spine1")), &key(), "lab");
        assert!(!up_to_date(&live, &changed));
        // A field NetBox no longer sets: the rest is still in the object, but the hash tells.
        let removed = render(&synced("leaf1", None), &key(), "lab");
        assert!(!up_to_date(&live, &removed));
        // Someone else overwrote an owned field: applied again.
        let mut tampered = live.clone();
        tampered.spec.intent.interfaces[0].mtu = Some(1500);
        assert!(!up_to_date(&tampered, &body));
    }

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    #[test]
    fn status_reports_success_invalid_data_and_failure() {
        let ok = Applied {
            written: 2,
            unchanged: 8,
            ..Applied::default()
        };
        let s1 = synced_status(&NetBoxSourceStatus::default(), Some(3), Ok(&ok), at(0));
        assert_eq!(s1.devices_synced, 10);
        assert_eq!(s1.last_sync_time, Some(at(0)));
        assert_eq!(s1.observed_generation, Some(3));
        assert!(conditions::is_true(&s1.conditions, types::READY));
        assert!(conditions::is_true(&s1.conditions, types::SYNCED));

        let failure = Failure {
            reason: reasons::UNAUTHORIZED,
            message: "NetBox refused the API token".into(),
        };
        let s2 = synced_status(&s1, Some(3), Err(&failure), at(10));
        for t in [types::READY, types::SYNCED] {
            let c = conditions::find(&s2.conditions, t).unwrap();
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "Unauthorized")
            );
            assert_eq!(c.last_transition_time, at(10));
        }
        assert_eq!(s2.last_sync_time, Some(at(0)), "the last sync that worked");
        assert_eq!(s2.devices_synced, 10);

        let partial = Applied {
            unchanged: 9,
            errors: vec![
                "invalid data in NetBox dcim.interface 5 (leaf3 Ethernet5): bad".into(),
                "x".into(),
            ],
            ..Applied::default()
        };
        let s3 = synced_status(&s2, Some(3), Ok(&partial), at(20));
        let synced = conditions::find(&s3.conditions, types::SYNCED).unwrap();
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "InvalidData")
        );
        assert!(
            synced.message.contains("leaf3 Ethernet5"),
            "{}",
            synced.message
        );
        assert!(synced.message.contains("1 more"), "{}", synced.message);
        assert!(conditions::is_true(&s3.conditions, types::READY));
        assert_eq!(s3.errors.len(), 2);

        // The same outcome again changes nothing but the sync time.
        let s4 = synced_status(&s3, Some(3), Ok(&partial), at(30));
        assert_eq!(s4.conditions, s3.conditions);
        assert_eq!(s4.last_sync_time, Some(at(30)));
    }
}
