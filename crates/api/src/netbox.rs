//! NetBoxSource: where FabricDevices are synced from.

use fabric_drift::{Duration, intent::Platform, policy::SecretKeyRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::SecretRef;

/// A NetBox instance whose devices become FabricDevices (field manager `netbox-sync`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    derive = "Default",
    group = "fabric.netops.dev",
    version = "v1alpha1",
    kind = "NetBoxSource",
    namespaced,
    status = "NetBoxSourceStatus",
    shortname = "nbs",
    category = "fabric",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Devices","type":"integer","jsonPath":".status.devicesSynced"}"#,
    printcolumn = r#"{"name":"Last Sync","type":"date","jsonPath":".status.lastSyncTime"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct NetBoxSourceSpec {
    /// NetBox's base URL, e.g. `https://netbox.example.net`.
    #[schemars(length(min = 8, max = 2048))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": r"self.matches('^https?://[^/\\s]+(/\\S*)?$')",
        "message": "url must be an http(s) URL such as https://netbox.example.net",
    }]))]
    pub url: String,

    /// The API token: a v1 token (40 hex characters) or a v2 token (`nbt_<id>.<secret>`).
    pub token_secret_ref: SecretKeyRef,

    /// How often the full sync runs; webhooks make it react sooner.
    #[serde(default = "default_interval")]
    pub interval: Duration,

    /// Which NetBox devices to sync; each list is OR-ed, the lists AND-ed.
    #[serde(default)]
    pub filters: Filters,

    /// The secret NetBox signs its webhooks with (`X-Hook-Signature`, HMAC-SHA512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_ref: Option<SecretKeyRef>,

    /// Namespace of the FabricDevices; the NetBoxSource's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,

    /// gNMI port when the device has no `gnmi_port` custom field.
    #[serde(default = "default_gnmi_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub gnmi_port: u16,

    /// Credentials Secret put on every synced device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// Platform put on synced devices.
    #[serde(default)]
    pub platform: Platform,

    /// Prefix of the labels made from site, role and tags, so DriftPolicy selectors can use them.
    #[serde(default = "default_label_prefix")]
    #[schemars(length(min = 1, max = 200))]
    pub label_prefix: String,

    /// What happens to a FabricDevice whose device left NetBox (or the filters).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The defaults the API server fills in; `url` and `tokenSecretRef` are empty (required).
impl Default for NetBoxSourceSpec {
    fn default() -> Self {
        Self {
            url: String::new(),
            token_secret_ref: SecretKeyRef {
                name: String::new(),
                key: String::new(),
            },
            interval: default_interval(),
            filters: Filters::default(),
            webhook_secret_ref: None,
            target_namespace: None,
            gnmi_port: default_gnmi_port(),
            credentials_secret_ref: None,
            platform: Platform::default(),
            label_prefix: default_label_prefix(),
            deletion_policy: DeletionPolicy::default(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_gnmi_port() -> u16 {
    6030
}

fn default_label_prefix() -> String {
    "netbox.fabric.netops.dev/".to_owned()
}

/// NetBox query filters, by slug or name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 100)))]
    pub site: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 100)))]
    pub role: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 100)))]
    pub tag: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 50)))]
    pub status: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeletionPolicy {
    /// Leave the FabricDevice; it is no longer synced.
    #[default]
    Orphan,
    /// Delete the FabricDevice.
    Delete,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetBoxSourceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready, Synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// FabricDevices written or confirmed by the last sync.
    #[serde(default)]
    pub devices_synced: u32,

    /// What failed in the last sync (at most 20 entries), naming the NetBox object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_what_serde_fills_in() {
        let parsed: NetBoxSourceSpec = serde_json::from_value(serde_json::json!({
            "url": "", "tokenSecretRef": {"name": "", "key": ""}
        }))
        .unwrap();
        assert_eq!(parsed, NetBoxSourceSpec::default());
    }
}
