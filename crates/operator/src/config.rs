//! From Kubernetes objects to what the engine watches: a FabricDevice, its credentials Secret, its
//! CA Secret and the policy in force become a [`DeviceConfig`]. Pure, shared by the Kubernetes
//! controller and the lab.

use fabric_api::{
    DriftPolicy, FabricDevice, device::TlsMode as ApiTlsMode, k8s_openapi::api::core::v1::Secret,
    kube::ResourceExt,
};
use fabric_engine::{DeviceConfig, DeviceKey, EffectivePolicy, Target};
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
        },
    })
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
}
