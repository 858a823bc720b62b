//! DriftPolicy: which devices it covers and what to do about their drift.

use fabric_drift::policy::PolicyRules;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Drift handling for the FabricDevices its selector matches. When several policies match a
/// device, the highest priority wins, ties broken by name.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "fabric.netops.dev",
    version = "v1alpha1",
    kind = "DriftPolicy",
    namespaced,
    status = "DriftPolicyStatus",
    shortname = "dp",
    category = "fabric",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Priority","type":"integer","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Devices","type":"integer","jsonPath":".status.matchedDevices"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DriftPolicySpec {
    /// FabricDevices in this namespace the policy applies to; an empty selector matches all.
    #[serde(default)]
    pub selector: LabelSelector,

    /// Higher wins when several policies select a device.
    #[serde(default)]
    pub priority: i32,

    #[serde(flatten)]
    pub rules: PolicyRules,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftPolicyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// How many devices this policy is in force for (it matches and wins).
    #[serde(default)]
    pub matched_devices: u32,

    /// Their names, sorted; at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}
