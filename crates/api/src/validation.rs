//! Checks an object of our kinds the way the API server checks it on create and update, so the
//! lab (which has no API server) rejects what a cluster would, with the same kind of message.
//!
//! In order: schema defaults are applied; the OpenAPI schema is checked (types, enums, ranges,
//! patterns, lengths, required fields); unknown fields are reported (as `kubectl apply` does with
//! its default strict field validation); list-map keys and set items must be unique; then the
//! CEL rules (`x-kubernetes-validations`) run, transition rules against the old object if given.

use std::{collections::HashMap, fmt};

use kube::core::cel;
use serde_json::Value;

use crate::crds;

/// One thing wrong with an object, at a field path such as `spec.intent.vlans[2].id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Why an object was refused: what the API server would answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error(
        "object has no apiVersion/kind of a fabric.netops.dev resource (got {api_version:?}/{kind:?})"
    )]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} {name:?} is invalid: {}", render(problems))]
    Problems {
        kind: String,
        name: String,
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

struct Kind {
    schema: Value,
    structure: jsonschema::Validator,
    rules: cel::CompiledSchema,
}

/// Validates objects of the four fabric.netops.dev kinds. Build once, use many times.
pub struct Validator {
    kinds: HashMap<(String, String), Kind>,
    cel: cel::Validator,
}

impl Validator {
    pub fn new() -> Self {
        let mut kinds = HashMap::new();
        for crd in crds::all() {
            for version in &crd.spec.versions {
                let schema = version
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .map(|s| serde_json::to_value(s).expect("a JSONSchemaProps serializes"))
                    .expect("every derived CRD version has an openAPIV3Schema");
                let structure = jsonschema::validator_for(&schema)
                    .expect("the derived CRD schemas are valid JSON Schema; a test checks it");
                let rules = cel::compile_schema(&schema);
                let api_version = format!("{}/{}", crd.spec.group, version.name);
                kinds.insert(
                    (api_version, crd.spec.names.kind.clone()),
                    Kind {
                        schema,
                        structure,
                        rules,
                    },
                );
            }
        }
        Validator {
            kinds,
            cel: cel::Validator::new(),
        }
    }

    /// Checks `object` as a create (no `old`) or an update from `old`.
    pub fn validate(&self, object: &Value, old: Option<&Value>) -> Result<(), Invalid> {
        let field = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (api_version, kind_name) = (field("apiVersion"), field("kind"));
        let Some(kind) = self.kinds.get(&(api_version.clone(), kind_name.clone())) else {
            return Err(Invalid::UnknownKind {
                api_version,
                kind: kind_name,
            });
        };
        let object = cel::apply_defaults(&kind.schema, object);
        let mut problems: Vec<Problem> = kind
            .structure
            .iter_errors(&object)
            .map(|e| structural_problem(&e))
            .collect();
        walk(&kind.schema, &object, "", &mut problems);
        // CEL rules assume a well-typed object; the API server skips them too when the schema fails.
        if problems.is_empty()
            && let Err(errors) = self.cel.validate_compiled(&kind.rules, &object, old)
        {
            problems.extend(errors.into_vec().into_iter().map(|e| Problem {
                field: e.field_path,
                message: e.message,
            }));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Err(Invalid::Problems {
            kind: kind_name,
            name,
            problems,
        })
    }
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("kinds", &self.kinds.keys())
            .finish()
    }
}

/// `/spec/intent/vlans/2/id` → `spec.intent.vlans[2].id`, the API server's spelling.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    if out.is_empty() {
        "<root>".to_owned()
    } else {
        out
    }
}

/// The API server's wording for the failures people hit most; JSON Schema's for the rest.
fn structural_problem(error: &jsonschema::ValidationError<'_>) -> Problem {
    use jsonschema::error::ValidationErrorKind as K;
    let field = field_path(&error.instance_path().to_string());
    match error.kind() {
        K::Enum { options } => {
            let supported = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Problem {
                field,
                message: format!(
                    "Unsupported value: {}: supported values: {supported}",
                    error.instance()
                ),
            }
        }
        K::Required { property } => Problem {
            field: format!("{field}.{}", property.as_str().unwrap_or_default()),
            message: "Required value".to_owned(),
        },
        _ => Problem {
            field,
            message: format!("Invalid value: {}: {error}", error.instance()),
        },
    }
}

/// What JSON Schema does not check: unknown fields, and unique keys in list-maps and sets.
fn walk(schema: &Value, value: &Value, at: &str, problems: &mut Vec<Problem>) {
    let join = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (name, child) in fields {
                match (properties.and_then(|p| p.get(name)), additional) {
                    (Some(child_schema), _) => walk(child_schema, child, &join(name), problems),
                    (None, Some(Value::Object(_))) => {
                        walk(additional.expect("matched"), child, &join(name), problems)
                    }
                    // metadata is validated by the API server's own rules, not the CRD schema.
                    (None, _)
                        if at.is_empty()
                            && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) => {}
                    (None, _) if properties.is_some() => problems.push(Problem {
                        field: join(name),
                        message: "unknown field".to_owned(),
                    }),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return;
            };
            let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut seen: Vec<Value> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let identity = match list_type {
                    Some("map") => Value::Array(
                        keys.iter()
                            .map(|k| item.get(*k).cloned().unwrap_or(Value::Null))
                            .collect(),
                    ),
                    Some("set") => item.clone(),
                    _ => Value::Null,
                };
                if !identity.is_null() {
                    if seen.contains(&identity) {
                        let shown = match list_type {
                            Some("map") => keys
                                .iter()
                                .zip(identity.as_array().into_iter().flatten())
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(","),
                            _ => identity.to_string(),
                        };
                        problems.push(Problem {
                            field: format!("{at}[{i}]"),
                            message: format!("Duplicate value: {shown}"),
                        });
                    }
                    seen.push(identity);
                }
                walk(item_schema, item, &format!("{at}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_read_like_the_api_servers() {
        assert_eq!(
            field_path("/spec/intent/vlans/2/id"),
            "spec.intent.vlans[2].id"
        );
        assert_eq!(field_path(""), "<root>");
    }
}
