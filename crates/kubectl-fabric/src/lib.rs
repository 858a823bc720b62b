//! `kubectl fabric`: the operator's resources the way a person on call reads and decides them.
//!
//! Every command except `plan` talks to the API server of the current kubeconfig and only reads
//! or annotates FabricDevices and DriftEvents; the operator does the rest. `plan` talks to a
//! device by gNMI and needs no cluster.
//!
//! Each command is a function that takes a [`Context`] and returns the text to print, so the
//! tests assert exactly what a person sees.

pub mod decide;
pub mod diff;
pub mod history;
pub mod plan;
pub mod status;
pub mod table;

use fabric_api::kube::{Api, Client, Resource};
use serde::Serialize;

/// Field manager of every write kubectl-fabric makes. The operator records the manager that set
/// the approval annotation as who decided (`status.decision.by`), so this name shows up there.
pub const FIELD_MANAGER: &str = "kubectl-fabric";

/// Which namespaces a command looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    AllNamespaces,
}

impl Scope {
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = fabric_api::k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match self {
            Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
            Scope::AllNamespaces => Api::all(client.clone()),
        }
    }

    /// The namespace single-object commands (diff, approve, ...) work in; `-A` names none.
    pub fn namespace(&self) -> Result<&str, Error> {
        match self {
            Scope::Namespace(ns) => Ok(ns),
            Scope::AllNamespaces => Err(Error::NeedsNamespace),
        }
    }
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Yaml,
}

/// What every command needs: the API server, where to look, when "now" is (ages are relative to
/// it), how to print, and whether to colour (a terminal, and `NO_COLOR` unset).
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub scope: Scope,
    pub now: jiff::Timestamp,
    pub format: Format,
    pub color: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kube(#[from] fabric_api::kube::Error),
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("this command works on one namespace: give -n NAMESPACE instead of -A")]
    NeedsNamespace,
    #[error(
        "the cluster does not serve {0} (fabric.netops.dev/v1alpha1): fabric-operator's CRDs \
         are not installed; install them with `kubectl apply -f deploy/crds/` or the Helm chart"
    )]
    NotInstalled(&'static str),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Output(String),
}

/// `value` as JSON or YAML, for `-o json|yaml`.
pub fn serialized(value: &impl Serialize, format: Format) -> Result<String, Error> {
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| Error::Output(e.to_string())),
        Format::Yaml | Format::Table => {
            serde_yaml::to_string(value).map_err(|e| Error::Output(e.to_string()))
        }
    }
}

/// A list error, with a 404 explained: the resource type itself is unknown to the API server.
pub(crate) fn list_error(kind: &'static str) -> impl Fn(fabric_api::kube::Error) -> Error {
    move |e| match e {
        fabric_api::kube::Error::Api(status) if status.code == 404 => Error::NotInstalled(kind),
        e => Error::Kube(e),
    }
}

/// A get that names what was missing.
pub(crate) async fn get<K>(
    api: &Api<K>,
    kind: &'static str,
    namespace: &str,
    name: &str,
) -> Result<K, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await?.ok_or_else(|| Error::NotFound {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}
