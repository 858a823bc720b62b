//! From Kubernetes objects to what the engine watches: a FabricDevice, its credentials Secret, its
//! CA Secret and the policy in force become a [`DeviceConfig`]. Pure, shared by the Kubernetes
//! controller and the lab.

use fabric_api::{
    DriftPolicy, FabricDevice,
    device::TlsMode as ApiTlsMode,
    event::{CONTESTED_ANNOTATION, REMEDIATE_ANNOTATION},
    k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta},
    kube::ResourceExt,
};
use fabric_engine::{
    DeviceConfig, DeviceKey, EffectivePolicy, ManualRequest, Target, WebhookTarget,
};
use fabric_gnmi::client::{Credentials, TlsMode};

/// Why a device cannot be watched yet; shown in its Ready condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("Secret {0:?} (credentials) not found")]
    CredentialsSecretMissing(String),
    #[error("Secret {secret:?} has no key {key:?}")]
    SecretKeyMissing { secret: String, key: String },
    #[error("Secret {secret:?} key {key:?} is not UTF-8 text")]
    SecretKeyNotText { secret: String, key: String },
    #[error("Secret {0:?} (CA certificate) not found")]
    CaSecretMissing(String),
}

/// Reads `key` of a Secret, from `data` or (as kubectl apply leaves it before the API server
/// merges it) `stringData`.
pub(crate) fn secret_text(secret: &Secret, key: &str) -> Result<String, ConfigError> {
    let name = secret.name_any();
    if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return String::from_utf8(bytes.0.clone()).map_err(|_| ConfigError::SecretKeyNotText {
            secret: name,
            key: key.to_owned(),
        });
    }
    secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .cloned()
        .ok_or(ConfigError::SecretKeyMissing {
            secret: name,
            key: key.to_owned(),
        })
}

/// The engine's view of `device`. `find_secret` looks a Secret up by name in the device's
/// namespace; `policy` is the one in force (see `fabric_api::selection::policy_for`).
pub fn device_config(
    device: &FabricDevice,
    find_secret: impl Fn(&str) -> Option<Secret>,
    policy: Option<&DriftPolicy>,
) -> Result<DeviceConfig, ConfigError> {
    let spec = &device.spec;
    let credentials = match &spec.target.credentials_secret_ref {
        None => None,
        Some(r) => {
            let secret = find_secret(&r.name)
                .ok_or_else(|| ConfigError::CredentialsSecretMissing(r.name.clone()))?;
            Some(Credentials {
                username: secret_text(&secret, "username")?,
                password: secret_text(&secret, "password")?,
            })
        }
    };
    let tls = match spec.target.tls.mode {
        ApiTlsMode::Insecure => TlsMode::Plaintext,
        ApiTlsMode::SkipVerify => TlsMode::InsecureSkipVerify { client: None },
        ApiTlsMode::Tls => {
            let ca_pem = match &spec.target.tls.ca_secret_ref {
                Some(r) => {
                    let secret = find_secret(&r.name)
                        .ok_or_else(|| ConfigError::CaSecretMissing(r.name.clone()))?;
                    secret_text(&secret, &r.key)?.into_bytes()
                }
                // No CA given: verify against the system's roots.
                None => Vec::new(),
            };
            TlsMode::Tls {
                ca_pem,
                client: None,
                server_name: spec.target.tls.server_name.clone(),
            }
        }
    };
    Ok(DeviceConfig {
        key: DeviceKey::new(device.namespace().unwrap_or_default(), device.name_any()),
        generation: device.metadata.generation,
        target: Target {
            address: spec.target.address.clone(),
            credentials,
            tls,
        },
        platform: spec.platform,
        intent: spec.intent.clone(),
        raw: spec.config.clone(),
        ownership: spec.ownership,
        policy: EffectivePolicy {
            name: policy.map(|p| p.name_any()),
            rules: policy.map(|p| p.spec.rules.clone()).unwrap_or_default(),
            webhooks: policy
                .map(|p| webhooks(p, &find_secret))
                .unwrap_or_default(),
        },
        remediate_request: remediate_request(device),
        clear_contested: device
            .annotations()
            .get(CONTESTED_ANNOTATION)
            .map(String::as_str)
            == Some("clear"),
        contested: contested_paths(device),
    })
}

/// The paths the status says are contested, while the spec is the one that status was written
/// for: a restarted engine keeps the flap guard up on them. A newer generation may carry a
/// changed intent, which lifts the guard, so then there are none.
fn contested_paths(device: &FabricDevice) -> Vec<String> {
    device
        .status
        .as_ref()
        .filter(|s| s.observed_generation == device.metadata.generation)
        .map(|s| s.contested_paths.clone())
        .unwrap_or_default()
}

/// The policy's webhooks whose URL Secret can be read. One that cannot is left out (and logged;
/// the DriftPolicy's status says so) rather than keep the devices from being watched.
fn webhooks(
    policy: &DriftPolicy,
    find_secret: &impl Fn(&str) -> Option<Secret>,
) -> Vec<WebhookTarget> {
    policy
        .spec
        .rules
        .notifications
        .webhooks
        .iter()
        .filter_map(|w| {
            let secret = find_secret(&w.url_secret_ref.name);
            match secret.map(|s| secret_text(&s, &w.url_secret_ref.key)) {
                Some(Ok(url)) => Some(WebhookTarget {
                    name: w.name.clone(),
                    url: url.trim().to_owned(),
                    format: w.format,
                }),
                Some(Err(e)) => {
                    tracing::warn!(policy = %policy.name_any(), webhook = %w.name, error = %e, "webhook left out");
                    None
                }
                None => {
                    tracing::warn!(policy = %policy.name_any(), webhook = %w.name, secret = %w.url_secret_ref.name, "webhook left out: its Secret is not found");
                    None
                }
            }
        })
        .collect()
}

/// The remediate annotation, when its value is not the one the status says was handled.
fn remediate_request(device: &FabricDevice) -> Option<ManualRequest> {
    let token = device.annotations().get(REMEDIATE_ANNOTATION)?;
    let handled = device
        .status
        .as_ref()
        .and_then(|s| s.handled_remediate_request.as_ref());
    (handled != Some(token)).then(|| {
        let manager = annotation_manager(&device.metadata, REMEDIATE_ANNOTATION);
        ManualRequest {
            token: token.clone(),
            at: manager.as_ref().and_then(|(_, at)| *at),
            by: manager.map_or_else(|| "unknown".to_owned(), |(manager, _)| manager),
        }
    })
}

/// The field manager that last set annotation `key`, from managedFields, and when: who decided.
pub fn annotation_manager(
    meta: &ObjectMeta,
    key: &str,
) -> Option<(String, Option<jiff::Timestamp>)> {
    let field = format!("f:{key}");
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .and_then(|f| f.0.get("f:metadata"))
                .and_then(|m| m.get("f:annotations"))
                .is_some_and(|a| a.get(&field).is_some())
        })
        .max_by_key(|m| m.time.as_ref().map(|t| t.0))
        .and_then(|m| Some((m.manager.clone()?, m.time.as_ref().map(|t| t.0))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fabric_api::k8s_openapi::ByteString;

    use super::*;

    fn device(yaml: &str) -> FabricDevice {
        let mut d: FabricDevice = serde_yaml::from_str(yaml).unwrap();
        d.metadata.namespace = Some("lab".into());
        d
    }

    const LEAF: &str = "
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: leaf1}
spec:
  target: {address: '127.0.0.1:16011', credentialsSecretRef: {name: creds}, tls: {mode: insecure}}
";

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("creds".into());
        s.data = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        );
        s
    }

    #[test]
    fn credentials_come_from_the_secret() {
        let config = device_config(
            &device(LEAF),
            |_| Some(secret(&[("username", "admin"), ("password", "pw")])),
            None,
        )
        .unwrap();
        assert_eq!(config.key, DeviceKey::new("lab", "leaf1"));
        assert_eq!(config.target.credentials.unwrap().password, "pw");
        assert_eq!(config.target.tls, TlsMode::Plaintext);
        assert_eq!(config.policy.name, None, "no policy: alert");
        assert_eq!(config.policy.rules.mode, fabric_drift::policy::Mode::Alert);
    }

    #[test]
    fn contested_paths_alone_are_not_an_update_of_a_running_session() {
        let config = device_config(
            &device(LEAF),
            |_| Some(secret(&[("username", "admin"), ("password", "pw")])),
            None,
        )
        .unwrap();
        let mut contested = config.clone();
        contested.contested = vec!["/interfaces/interface[name=Ethernet1]/config/mtu".into()];
        assert!(config.same_for_running_session(&contested));
        let mut moved = contested.clone();
        moved.target.address = "127.0.0.1:16012".into();
        assert!(!config.same_for_running_session(&moved));
    }

    #[test]
    fn a_missing_secret_or_key_is_named() {
        let err = device_config(&device(LEAF), |_| None, None).unwrap_err();
        assert_eq!(err.to_string(), "Secret \"creds\" (credentials) not found");
        let err = device_config(
            &device(LEAF),
            |_| Some(secret(&[("username", "admin")])),
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "Secret \"creds\" has no key \"password\"");
    }

    fn annotated(pairs: &[(&str, &str)], managers: &[(&str, &str, i64)]) -> FabricDevice {
        use fabric_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{
            FieldsV1, ManagedFieldsEntry, Time,
        };
        let mut d = device(LEAF);
        d.metadata.annotations = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        d.metadata.managed_fields = Some(
            managers
                .iter()
                .map(|(manager, annotation, second)| ManagedFieldsEntry {
                    manager: Some(manager.to_string()),
                    operation: Some("Update".into()),
                    time: Some(Time(jiff::Timestamp::from_second(*second).unwrap())),
                    fields_v1: Some(FieldsV1(serde_json::json!({
                        "f:metadata": {"f:annotations": {format!("f:{annotation}"): {}}}
                    }))),
                    ..Default::default()
                })
                .collect(),
        );
        d
    }

    #[test]
    fn a_new_remediate_value_is_a_request_by_the_manager_that_set_it() {
        let d = annotated(
            &[(REMEDIATE_ANNOTATION, "2026-11-21T12:00:00Z")],
            &[
                (
                    "argocd-controller",
                    "fabric.netops.dev/other",
                    1_800_000_000,
                ),
                ("kubectl-fabric", REMEDIATE_ANNOTATION, 1_800_000_100),
            ],
        );
        let config = device_config(
            &d,
            |_| Some(secret(&[("username", "u"), ("password", "p")])),
            None,
        )
        .unwrap();
        assert_eq!(
            config.remediate_request,
            Some(ManualRequest {
                token: "2026-11-21T12:00:00Z".into(),
                by: "kubectl-fabric".into(),
                at: Some(jiff::Timestamp::from_second(1_800_000_100).unwrap()),
            })
        );
        // Once the status says the value was handled, it is no longer a request.
        let mut handled = d.clone();
        handled.status = Some(fabric_api::FabricDeviceStatus {
            handled_remediate_request: Some("2026-11-21T12:00:00Z".into()),
            ..Default::default()
        });
        let config = device_config(
            &handled,
            |_| Some(secret(&[("username", "u"), ("password", "p")])),
            None,
        )
        .unwrap();
        assert_eq!(config.remediate_request, None);
        assert!(!config.clear_contested);
    }

    #[test]
    fn the_newest_manager_of_an_annotation_is_who_decided() {
        let d = annotated(
            &[],
            &[
                ("alice", REMEDIATE_ANNOTATION, 1_800_000_000),
                ("bob", REMEDIATE_ANNOTATION, 1_800_000_200),
                ("carol", CONTESTED_ANNOTATION, 1_800_000_300),
            ],
        );
        assert_eq!(
            annotation_manager(&d.metadata, REMEDIATE_ANNOTATION).map(|(m, _)| m),
            Some("bob".into())
        );
        assert_eq!(
            annotation_manager(&d.metadata, "fabric.netops.dev/none"),
            None
        );
        let clear = annotated(&[(CONTESTED_ANNOTATION, "clear")], &[]);
        let config = device_config(
            &clear,
            |_| Some(secret(&[("username", "u"), ("password", "p")])),
            None,
        )
        .unwrap();
        assert!(config.clear_contested);
    }
}
