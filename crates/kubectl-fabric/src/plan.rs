//! `kubectl fabric plan -f device.yaml`: read the live device by gNMI and print the SetRequest
//! that would bring it to its intent, without a cluster and without changing anything (what
//! `terraform plan` is to infrastructure).
//!
//! The device's Secrets and the policy in force come from the same files (`-f` repeats), resolved
//! exactly as the operator resolves them (`fabric_operator::config::device_config`), so the plan
//! is the one the operator would make: same intent compilation, same scope and exclusions, same
//! strategy. The device is read with one Subscribe ONCE over the operator's subscription roots.

use std::{path::PathBuf, time::Duration};

use fabric_api::{
    DriftPolicy, FabricDevice,
    k8s_openapi::{ByteString, api::core::v1::Secret},
    kube::ResourceExt,
    manifest::{self, Manifest},
    selection::policy_for,
    validation::Validator,
};
use fabric_drift::{Desired, DriftItem, DriftTracker, Plan};
use fabric_engine::DeviceConfig;
use fabric_gnmi::{
    client::{Client, ClientConfig, Credentials, SubscribeEvent},
    rpc::SubscribeRequest,
};
use fabric_operator::config::ConfigError;
use serde::Serialize;

/// What `plan` was given on the command line.
#[derive(Debug, Clone, Default)]
pub struct PlanArgs {
    /// Manifest files (`-` for standard input): the FabricDevice, and optionally its Secrets and
    /// the namespace's DriftPolicies.
    pub files: Vec<PathBuf>,
    /// Which FabricDevice, when the files hold several.
    pub device: Option<String>,
    /// Overrides the device's address (e.g. a port-forward).
    pub address: Option<String>,
    /// Credentials when the Secret is not among the files.
    pub credentials: Option<Credentials>,
    /// For connecting and for the whole read.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error(transparent)]
    Manifest(Box<manifest::ManifestError>),
    #[error("no FabricDevice in the files given with -f")]
    NoDevice,
    #[error("the files hold {0} FabricDevices ({1}); choose one with --device")]
    SeveralDevices(usize, String),
    #[error("no FabricDevice named {0:?} in the files given with -f")]
    DeviceNotFound(String),
    #[error(
        "{0}; add the Secret's manifest with another -f, or give --username and --password \
         (or FABRIC_GNMI_USERNAME and FABRIC_GNMI_PASSWORD)"
    )]
    Config(ConfigError),
    #[error("{0}; add the CA Secret's manifest with another -f")]
    CaSecret(ConfigError),
    #[error("the intent does not compile: {0}")]
    Intent(Box<fabric_drift::IntentError>),
    #[error("{address}: {error}")]
    Device {
        address: String,
        error: Box<fabric_gnmi::client::ClientError>,
    },
    #[error("{address}: the device did not finish sending its state within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("{address}: the device refused the subscription: {message} (code {code})")]
    Target {
        address: String,
        code: u32,
        message: String,
    },
}

/// The device, its Secrets and the policy in force, from manifest files.
pub struct Inputs {
    pub device: FabricDevice,
    pub secrets: Vec<Secret>,
    pub policy: Option<DriftPolicy>,
}

/// Reads and validates the files (as the API server would) and picks the device.
pub fn load(files: &[(String, String)], device: Option<&str>) -> Result<Inputs, PlanError> {
    let validator = Validator::new();
    let (mut devices, mut secrets, mut policies) = (Vec::new(), Vec::new(), Vec::new());
    for (name, text) in files {
        for m in
            manifest::parse(name, text, &validator).map_err(|e| PlanError::Manifest(Box::new(e)))?
        {
            match m {
                Manifest::FabricDevice(d) => devices.push(*d),
                Manifest::Secret(s) => secrets.push(*s),
                Manifest::DriftPolicy(p) => policies.push(*p),
                // Events and sources say nothing about a plan.
                Manifest::DriftEvent(_) | Manifest::NetBoxSource(_) => {}
            }
        }
    }
    let device = match (device, devices.len()) {
        (Some(name), _) => devices
            .into_iter()
            .find(|d| d.name_any() == name)
            .ok_or_else(|| PlanError::DeviceNotFound(name.to_owned()))?,
        (None, 0) => return Err(PlanError::NoDevice),
        (None, 1) => devices.remove(0),
        (None, n) => {
            let names: Vec<String> = devices.iter().map(ResourceExt::name_any).collect();
            return Err(PlanError::SeveralDevices(n, names.join(", ")));
        }
    };
    let policy = policy_for(&device, &policies).cloned();
    Ok(Inputs {
        device,
        secrets,
        policy,
    })
}

/// The engine's view of the device, with `args`' overrides. Pure.
pub fn device_config(inputs: &Inputs, args: &PlanArgs) -> Result<DeviceConfig, PlanError> {
    let credentials_ref = inputs
        .device
        .spec
        .target
        .credentials_secret_ref
        .as_ref()
        .map(|r| r.name.clone());
    let find_secret = |name: &str| -> Option<Secret> {
        if let (Some(c), Some(r)) = (&args.credentials, &credentials_ref)
            && r == name
        {
            // Flags stand in for the credentials Secret.
            let mut s = Secret::default();
            s.metadata.name = Some(name.to_owned());
            s.data = Some(
                [
                    ("username", c.username.as_bytes()),
                    ("password", c.password.as_bytes()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), ByteString(v.to_vec())))
                .collect(),
            );
            return Some(s);
        }
        inputs
            .secrets
            .iter()
            .find(|s| s.name_any() == name)
            .cloned()
    };
    let mut config =
        fabric_operator::config::device_config(&inputs.device, find_secret, inputs.policy.as_ref())
            .map_err(|e| match e {
                ConfigError::CaSecretMissing(_) => PlanError::CaSecret(e),
                e => PlanError::Config(e),
            })?;
    if credentials_ref.is_none() && args.credentials.is_some() {
        config.target.credentials = args.credentials.clone();
    }
    if let Some(address) = &args.address {
        config.target.address = address.clone();
    }
    Ok(config)
}

/// The outcome: what drifted and the Set that would repair it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub device: String,
    pub address: String,
    pub policy: Option<String>,
    pub leaves_read: usize,
    pub drift: Vec<DriftItem>,
    pub plan: Plan,
}

/// Reads the device once and diffs it against its intent. Changes nothing on the device.
pub async fn plan(config: &DeviceConfig, timeout: Duration) -> Result<Outcome, PlanError> {
    let rules = &config.policy.rules;
    let desired = Desired::compile(
        config.platform,
        &config.intent,
        &config.raw,
        config.ownership,
        &rules.scope,
        &rules.exclusions,
    )
    .map_err(|e| PlanError::Intent(Box::new(e)))?;
    let roots = desired.subscription_roots();
    let address = config.target.address.clone();
    let device_error = |error| PlanError::Device {
        address: address.clone(),
        error: Box::new(error),
    };
    let mut client_config = ClientConfig::new(address.clone()).tls(config.target.tls.clone());
    client_config.credentials = config.target.credentials.clone();
    client_config.connect_timeout = timeout;
    client_config.call_timeout = timeout;
    let mut tracker = DriftTracker::new(desired);
    let mut leaves_read = 0;
    if !roots.is_empty() {
        let client = Client::connect(client_config).await.map_err(device_error)?;
        let mut subscription = client
            .subscribe(&SubscribeRequest::once(roots))
            .await
            .map_err(device_error)?;
        let keys = fabric_drift::key_table();
        let read = async {
            while let Some(event) = subscription.next_event().await {
                match event.map_err(device_error)? {
                    SubscribeEvent::Notification(n) => {
                        let leaves = n.leaves(&keys).map_err(|e| {
                            device_error(fabric_gnmi::client::ClientError::Config(format!(
                                "undecodable notification: {e}"
                            )))
                        })?;
                        leaves_read += leaves.len();
                        tracker.apply(&leaves, &n.deletes);
                    }
                    SubscribeEvent::SyncResponse | SubscribeEvent::End => break,
                    // One bad message costs its leaves, as in the engine; they show as drift.
                    SubscribeEvent::Malformed(_) => {}
                    SubscribeEvent::TargetError { code, message } => {
                        return Err(PlanError::Target {
                            address: address.clone(),
                            code,
                            message,
                        });
                    }
                }
            }
            Ok(())
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| PlanError::Timeout {
                address: address.clone(),
                timeout,
            })??;
    }
    tracker.full_diff();
    let plan = tracker.plan(rules.remediation.strategy);
    Ok(Outcome {
        // Manifests often leave the namespace to `kubectl apply -n`.
        device: if config.key.namespace.is_empty() {
            config.key.name.clone()
        } else {
            config.key.to_string()
        },
        address,
        policy: config.policy.name.clone(),
        leaves_read,
        drift: tracker.drift().to_vec(),
        plan,
    })
}

/// The readable plan. Pure.
pub fn render(outcome: &Outcome, config: &DeviceConfig) -> String {
    let mode = config.policy.rules.mode.as_str();
    let policy = match &outcome.policy {
        Some(name) => format!("policy {name} (mode {mode})"),
        None => "no policy selects it in these files (mode alert)".to_owned(),
    };
    let platform = serde_json::to_value(config.platform)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut out = format!(
        "FabricDevice {} at {} ({platform}), {policy}\nRead {} leaves from the device.\n\n",
        outcome.device, outcome.address, outcome.leaves_read
    );
    if !outcome.drift.is_empty() {
        out.push_str(&fabric_drift::diff::render(&outcome.drift));
        out.push('\n');
    }
    out.push_str(&outcome.plan.render());
    out.push_str("\nDry run: nothing was sent to the device.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: leaf1}
spec:
  target:
    address: 10.0.0.11:6030
    credentialsSecretRef: {name: creds}
    tls: {mode: tls, caSecretRef: {name: fabric-ca, key: ca.crt}}
";
    const SECRET: &str = "
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {username: admin, password: pw}
";

    fn files(texts: &[&str]) -> Vec<(String, String)> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("f{i}.yaml"), t.to_string()))
            .collect()
    }

    #[test]
    fn the_device_is_chosen_by_name_when_the_files_hold_several() {
        let other = DEVICE.replace("leaf1", "leaf2");
        let err = load(&files(&[DEVICE, &other]), None).err().unwrap();
        assert_eq!(
            err.to_string(),
            "the files hold 2 FabricDevices (leaf1, leaf2); choose one with --device"
        );
        let inputs = load(&files(&[DEVICE, &other]), Some("leaf2")).unwrap();
        assert_eq!(inputs.device.name_any(), "leaf2");
        let err = load(&files(&[DEVICE]), Some("leaf9")).err().unwrap();
        assert_eq!(
            err.to_string(),
            "no FabricDevice named \"leaf9\" in the files given with -f"
        );
        let err = load(&files(&[SECRET]), None).err().unwrap();
        assert_eq!(
            err.to_string(),
            "no FabricDevice in the files given with -f"
        );
    }

    #[test]
    fn missing_secrets_say_what_to_add() {
        let args = PlanArgs::default();
        let inputs = load(&files(&[DEVICE]), None).unwrap();
        let err = device_config(&inputs, &args).err().unwrap().to_string();
        assert!(
            err.starts_with("Secret \"creds\" (credentials) not found; add the Secret's manifest"),
            "{err}"
        );
        let inputs = load(&files(&[DEVICE, SECRET]), None).unwrap();
        let err = device_config(&inputs, &args).err().unwrap().to_string();
        assert_eq!(
            err,
            "Secret \"fabric-ca\" (CA certificate) not found; add the CA Secret's manifest with another -f"
        );
    }

    #[test]
    fn flags_stand_in_for_the_credentials_and_the_address() {
        let device = DEVICE.replace(
            "    tls: {mode: tls, caSecretRef: {name: fabric-ca, key: ca.crt}}\n",
            "    tls: {mode: insecure}\n",
        );
        let inputs = load(&files(&[&device]), None).unwrap();
        let args = PlanArgs {
            credentials: Some(Credentials {
                username: "ops".into(),
                password: "secret".into(),
            }),
            address: Some("127.0.0.1:16011".into()),
            ..PlanArgs::default()
        };
        let config = device_config(&inputs, &args).unwrap();
        assert_eq!(config.target.address, "127.0.0.1:16011");
        assert_eq!(config.target.credentials, args.credentials);
        assert_eq!(config.policy.name, None, "no policy in the files: alert");
    }
}
