//! DriftEvent: one episode of drift on one device, and what was decided about it.

use fabric_drift::policy::{Mode, Strategy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Annotation a person sets to decide a Pending event: `approve` or `reject`.
pub const APPROVAL_ANNOTATION: &str = "fabric.netops.dev/approval";
/// Annotation on a FabricDevice: setting it to a new value remediates the current drift once, in
/// any mode (`kubectl annotate fd leaf1 fabric.netops.dev/remediate="$(date +%s)" --overwrite`).
pub const REMEDIATE_ANNOTATION: &str = "fabric.netops.dev/remediate";
/// Annotation on a FabricDevice: `clear` lifts the flap guard (condition Contested).
pub const CONTESTED_ANNOTATION: &str = "fabric.netops.dev/contested";
/// Label holding the drift set's fingerprint, so the operator finds an event again after a restart.
pub const FINGERPRINT_LABEL: &str = "fabric.netops.dev/fingerprint";
/// Label holding the device's name, for `kubectl get de -l fabric.netops.dev/device=leaf1`.
pub const DEVICE_LABEL: &str = "fabric.netops.dev/device";
/// The most drifted leaves one event records; an event stays well under etcd's object size limit.
pub const MAX_DRIFTED_LEAVES: usize = 1000;

/// A drift episode: created by the operator, owned by its FabricDevice, decided by its policy or
/// by a person (`kubectl annotate de NAME fabric.netops.dev/approval=approve`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    derive = "Default",
    group = "fabric.netops.dev",
    version = "v1alpha1",
    kind = "DriftEvent",
    namespaced,
    status = "DriftEventStatus",
    shortname = "de",
    category = "fabric",
    printcolumn = r#"{"name":"Device","type":"string","jsonPath":".spec.device"}"#,
    printcolumn = r#"{"name":"Paths","type":"integer","jsonPath":".spec.pathCount"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self == oldSelf",
    "message": "a DriftEvent's spec is immutable: it records what was detected; decide it with the fabric.netops.dev/approval annotation",
}]))]
pub struct DriftEventSpec {
    /// The FabricDevice's name.
    #[schemars(length(min = 1, max = 253))]
    pub device: String,

    /// The DriftPolicy in force when the drift was detected; absent when none selected the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub policy: Option<String>,

    pub mode: Mode,

    /// sha256 of the drift set's canonical encoding: an approval is bound to it.
    #[schemars(length(min = 64, max = 64), regex(pattern = r"^[0-9a-f]{64}$"))]
    pub fingerprint: String,

    pub detected_at: Time,

    /// Number of drifted leaves (may exceed the recorded `drifts` when truncated).
    pub path_count: u32,

    /// The drifted leaves, sorted by path; at most 1000.
    #[schemars(length(max = 1000))]
    pub drifts: Vec<DriftedLeaf>,

    /// The Set that would repair the drift.
    pub plan: RemediationPlan,
}

/// Needed by `DriftEvent: Default` (kube tooling builds objects field by field); an empty
/// spec is not a valid event and the schema refuses it.
impl Default for DriftEventSpec {
    fn default() -> Self {
        DriftEventSpec {
            device: String::new(),
            policy: None,
            mode: Mode::default(),
            fingerprint: String::new(),
            detected_at: Time(jiff::Timestamp::UNIX_EPOCH),
            path_count: 0,
            drifts: Vec::new(),
            plan: RemediationPlan::default(),
        }
    }
}

/// One leaf that differs from intent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftedLeaf {
    #[schemars(length(min = 1, max = 1024))]
    pub path: String,

    pub kind: DriftKind,

    /// The intended value; absent for Unexpected leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "fabric_drift::schema::any_json")]
    pub expected: Option<serde_json::Value>,

    /// The device's value; absent for Missing leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "fabric_drift::schema::any_json")]
    pub actual: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum DriftKind {
    /// The device holds another value.
    Modified,
    /// The device lacks the leaf.
    Missing,
    /// The device holds a list entry intent does not name (strict ownership).
    Unexpected,
}

/// One atomic gNMI SetRequest: deletes, then replaces, then updates, each in dependency order.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationPlan {
    #[serde(default)]
    pub strategy: Strategy,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(max = 1024)))]
    pub deletes: Vec<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub replaces: Vec<PlannedValue>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub updates: Vec<PlannedValue>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedValue {
    #[schemars(length(min = 1, max = 1024))]
    pub path: String,

    /// The JSON_IETF value to set.
    #[schemars(schema_with = "fabric_drift::schema::any_json")]
    pub value: serde_json::Value,
}

/// Where the episode stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEventStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Why the event is in its phase, e.g. OutsideWindow, FingerprintChanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// Who or what decided, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,

    /// The outcome of the remediation, once tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RemediationResult>,

    /// The event that replaced this one when the drift changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
}

impl DriftEvent {
    /// The event's phase. A new event has none written (one API write per episode: the create);
    /// it is then in its mode's first phase, Alerted for alert and Pending otherwise.
    pub fn phase(&self) -> Phase {
        self.status
            .as_ref()
            .and_then(|s| s.phase)
            .unwrap_or(match self.spec.mode {
                Mode::Alert => Phase::Alerted,
                Mode::Approve | Mode::Auto => Phase::Pending,
            })
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Phase {
    /// Waiting for an approval (approve mode), dampening, or a maintenance window.
    Pending,
    /// Reported only (alert mode).
    Alerted,
    Approved,
    Rejected,
    Remediating,
    Remediated,
    Failed,
    /// The drift changed before a decision was applied; a newer event carries it.
    Superseded,
    /// The drift went away by itself.
    Resolved,
}

impl Phase {
    /// Whether the episode is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Rejected
                | Phase::Remediated
                | Phase::Failed
                | Phase::Superseded
                | Phase::Resolved
        )
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub action: DecisionAction,

    /// What decided: `policy/<name>`, or the field manager that set the approval annotation.
    #[schemars(length(max = 253))]
    pub by: String,

    pub at: Time,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DecisionAction {
    Approve,
    Reject,
    /// The policy's auto mode.
    Auto,
    /// The FabricDevice's remediate annotation.
    Manual,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// The device's error, when the Set failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,

    #[serde(default)]
    pub attempts: u32,

    /// From the Set's start to the device confirming the leaves are back at intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_milliseconds: Option<u64>,
}
