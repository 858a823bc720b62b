//! FabricDevice: one network device, its gNMI target and its intended configuration.

use fabric_drift::{
    intent::{DeviceIntent, Ownership, Platform, RawConfig},
    policy::{Mode, SecretKeyRef},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most drifted paths a device's status lists; the DriftEvent holds them all.
pub const MAX_STATUS_PATHS: usize = 20;

/// A network device kept in line with its intent.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    derive = "Default",
    group = "fabric.netops.dev",
    version = "v1alpha1",
    kind = "FabricDevice",
    namespaced,
    status = "FabricDeviceStatus",
    shortname = "fd",
    category = "fabric",
    printcolumn = r#"{"name":"Address","type":"string","jsonPath":".spec.target.address"}"#,
    printcolumn = r#"{"name":"Reachable","type":"string","jsonPath":".status.conditions[?(@.type==\"Reachable\")].status"}"#,
    printcolumn = r#"{"name":"Sync","type":"string","jsonPath":".status.conditions[?(@.type==\"InSync\")].reason"}"#,
    printcolumn = r#"{"name":"Drifts","type":"integer","jsonPath":".status.driftCount"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".status.policy.name"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".status.policy.mode"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FabricDeviceSpec {
    /// Where and how to reach the device's gNMI server.
    pub target: Target,

    /// The vendor dialect: which paths the intent maps to.
    #[serde(default)]
    pub platform: Platform,

    /// The intended configuration, typed.
    #[serde(default)]
    pub intent: DeviceIntent,

    /// Raw leaves or subtrees for what `intent` does not cover (path + JSON_IETF value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024))]
    pub config: Vec<RawConfig>,

    /// merge: only what the intent names is checked. strict: unnamed entries of owned lists are
    /// drift too, and removed by remediation.
    #[serde(default)]
    pub ownership: Ownership,
}

/// The device's gNMI endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `host:port` of the gNMI server, e.g. `10.0.0.11:6030` or `leaf1.dc1.example.net:6030`.
    #[schemars(length(min = 3, max = 261))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": r"self.matches('^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$')",
        "message": "address must be host:port, e.g. 10.0.0.11:6030, leaf1.example.net:6030 or [2001:db8::11]:6030",
    }]))]
    pub address: String,

    /// A Secret in the same namespace with keys `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    #[serde(default)]
    pub tls: Tls,
}

/// A Secret in the object's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Transport security to the device.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.mode == 'tls' || !has(self.caSecretRef)",
    "message": "caSecretRef is used only with mode tls",
}]))]
pub struct Tls {
    #[serde(default)]
    pub mode: TlsMode,

    /// The CA that signed the device's certificate (PEM); the system roots when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,

    /// The name to verify the certificate against, when it differs from the address's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TlsMode {
    /// TLS with certificate verification.
    #[default]
    Tls,
    /// TLS without verifying the certificate: labs only.
    SkipVerify,
    /// Plaintext gRPC: labs only.
    Insecure,
}

/// What the operator observed and decided about the device.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FabricDeviceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready, Reachable, InSync, Remediating, Contested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Number of drifted leaves now.
    #[serde(default)]
    pub drift_count: u32,

    /// The first drifted paths (at most 20); the active DriftEvent lists them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted_paths: Vec<String>,

    /// Name of the DriftEvent for the current drift, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_drift_event: Option<String>,

    /// The DriftPolicy that applies, and its mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AppliedPolicy>,

    /// How each subscribed subtree is streamed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<SubscriptionStatus>,

    /// When the last full sync (sync_response) completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// When drift was last detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drift_time: Option<Time>,

    /// When a remediation last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_remediation_time: Option<Time>,

    /// The last value of the fabric.netops.dev/remediate annotation that was acted on; a new
    /// value is a new request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_remediate_request: Option<String>,

    /// Paths the flap guard found contested (remediated too often); auto-remediation of the
    /// device is paused while this is not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contested_paths: Vec<String>,
}

/// The policy in force for a device. A device no policy selects gets mode alert and no name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mode: Mode,
}

/// The stream of one subscribed subtree.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatus {
    /// The subscribed path.
    pub root: String,
    pub mode: SubscriptionMode,
    /// Why the mode is not ON_CHANGE, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SubscriptionMode {
    OnChange,
    /// Periodic samples: the target refused ON_CHANGE for this subtree.
    Sample,
}
