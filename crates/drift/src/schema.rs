//! Schema fragments that plain schemars derives cannot express.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Any JSON value (a raw config value, an observed leaf). Kubernetes' structural schemas allow an
/// untyped field only when it says it keeps unknown fields.
pub fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
