//! Reading YAML manifests (what `kubectl apply -f` reads) into typed objects, refusing what the
//! API server would refuse. The lab loads its fabric this way.

use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    DriftEvent, DriftPolicy, FabricDevice, NetBoxSource,
    validation::{Invalid, Validator},
};

/// One object of a manifest.
#[derive(Debug, Clone)]
pub enum Manifest {
    FabricDevice(Box<FabricDevice>),
    DriftPolicy(Box<DriftPolicy>),
    DriftEvent(Box<DriftEvent>),
    NetBoxSource(Box<NetBoxSource>),
    Secret(Box<Secret>),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{source_name}: document {index}: not YAML: {error}")]
    Yaml {
        source_name: String,
        index: usize,
        error: serde_yaml::Error,
    },
    #[error("{source_name}: document {index}: {error}")]
    Invalid {
        source_name: String,
        index: usize,
        error: Invalid,
    },
    #[error("{source_name}: document {index}: {kind:?} is not a kind fabric-operator reads")]
    UnsupportedKind {
        source_name: String,
        index: usize,
        kind: String,
    },
    #[error("{source_name}: document {index}: {error}")]
    Shape {
        source_name: String,
        index: usize,
        error: serde_json::Error,
    },
}

/// Parses every document of a YAML stream; `source_name` (a file name) prefixes errors.
/// Empty documents are skipped, as kubectl does.
pub fn parse(
    source_name: &str,
    text: &str,
    validator: &Validator,
) -> Result<Vec<Manifest>, ManifestError> {
    let mut out = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let object = Value::deserialize(document).map_err(|error| ManifestError::Yaml {
            source_name: source_name.to_owned(),
            index,
            error,
        })?;
        if object.is_null() {
            continue;
        }
        let shape = |error| ManifestError::Shape {
            source_name: source_name.to_owned(),
            index,
            error,
        };
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind == "Secret" && object.get("apiVersion").and_then(Value::as_str) == Some("v1") {
            out.push(Manifest::Secret(
                serde_json::from_value(object).map_err(shape)?,
            ));
            continue;
        }
        validator
            .validate(&object, None)
            .map_err(|error| match error {
                Invalid::UnknownKind { .. } => ManifestError::UnsupportedKind {
                    source_name: source_name.to_owned(),
                    index,
                    kind: kind.clone(),
                },
                error => ManifestError::Invalid {
                    source_name: source_name.to_owned(),
                    index,
                    error,
                },
            })?;
        out.push(match kind.as_str() {
            "FabricDevice" => {
                Manifest::FabricDevice(serde_json::from_value(object).map_err(shape)?)
            }
            "DriftPolicy" => Manifest::DriftPolicy(serde_json::from_value(object).map_err(shape)?),
            "DriftEvent" => Manifest::DriftEvent(serde_json::from_value(object).map_err(shape)?),
            _ => Manifest::NetBoxSource(serde_json::from_value(object).map_err(shape)?),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_document() {
        let validator = Validator::new();
        let text = "apiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: ok}\nspec: {mode: alert}\n\
                    ---\napiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: bad}\nspec: {mode: sometimes}\n";
        let err = parse("policies.yaml", text, &validator)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("policies.yaml: document 1: DriftPolicy \"bad\" is invalid"),
            "{err}"
        );

        let err = parse(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            &validator,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"ConfigMap\" is not a kind fabric-operator reads"),
            "{err}"
        );

        let err = parse("broken.yaml", "kind: [", &validator)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("broken.yaml: document 0: not YAML"),
            "{err}"
        );
    }

    #[test]
    fn empty_documents_are_skipped() {
        let validator = Validator::new();
        let text = "---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {username: a}\n";
        let parsed = parse("s.yaml", text, &validator).unwrap();
        assert!(matches!(parsed.as_slice(), [Manifest::Secret(_)]));
    }
}
