//! The generated CRDs are what a real API server (apiextensions.k8s.io/v1, Kubernetes 1.24+)
//! accepts: structural schemas, list-maps with required keys, CEL rules that compile within the
//! cost budget, status subresources, and the printer columns `kubectl get` shows.

use fabric_api::crds;
use kube::core::cel;
use serde_json::Value;

fn crd_json(kind: &str) -> Value {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    serde_json::to_value(crd).unwrap()
}

fn schema_of(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

/// Returns every violation of the structural-schema rules under `node`.
fn structural_violations(node: &Value, at: &str, out: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        out.push(format!("{at}: schema node is not an object"));
        return;
    };
    let untyped_ok = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if !map.contains_key("type") && !untyped_ok {
        out.push(format!("{at}: no type"));
    }
    if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
        out.push(format!("{at}: nullable without a type"));
    }
    for forbidden in [
        "$ref",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "definitions",
        "$schema",
    ] {
        if map.contains_key(forbidden) {
            out.push(format!("{at}: uses {forbidden}"));
        }
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        out.push(format!("{at}: both properties and additionalProperties"));
    }
    if map.get("type") == Some(&Value::String("array".into())) && !map.contains_key("items") {
        out.push(format!("{at}: array without items"));
    }
    match map.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("map") => {
            let keys = map["x-kubernetes-list-map-keys"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let item = &map["items"];
            let required: Vec<&str> = item["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if keys.is_empty() {
                out.push(format!("{at}: list-map without keys"));
            }
            for key in keys {
                let key = key.as_str().unwrap();
                let has_default = item["properties"][key].get("default").is_some();
                if !required.contains(&key) && !has_default {
                    out.push(format!(
                        "{at}: list-map key {key} is neither required nor defaulted"
                    ));
                }
                if item["properties"][key].get("nullable") == Some(&Value::Bool(true)) {
                    out.push(format!("{at}: list-map key {key} is nullable"));
                }
            }
        }
        Some("set") => {
            let item_type = map["items"]["type"].as_str();
            if !matches!(item_type, Some("string" | "integer" | "number" | "boolean")) {
                out.push(format!("{at}: set of non-scalars"));
            }
        }
        Some(other) if other != "atomic" => out.push(format!("{at}: unknown list type {other}")),
        _ => {}
    }
    if let Some(rules) = map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in rules {
            if rule
                .get("message")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(format!(
                    "{at}: CEL rule without a message: {}",
                    rule["rule"]
                ));
            }
            // Fields that need Kubernetes newer than 1.24 to be understood.
            for newer in [
                "messageExpression",
                "reason",
                "fieldPath",
                "optionalOldSelf",
            ] {
                if rule.get(newer).is_some() {
                    out.push(format!("{at}: CEL rule uses {newer}, unknown before 1.27"));
                }
            }
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            structural_violations(child, &format!("{at}.{name}"), out);
        }
    }
    if let Some(items) = map.get("items") {
        structural_violations(items, &format!("{at}[]"), out);
    }
    if let Some(additional @ Value::Object(_)) = map.get("additionalProperties") {
        structural_violations(additional, &format!("{at}{{}}"), out);
    }
}

#[test]
fn every_crd_has_a_structural_schema() {
    for crd in crds::all() {
        let json = serde_json::to_value(&crd).unwrap();
        let mut violations = vec![];
        structural_violations(schema_of(&json), &crd.spec.names.kind, &mut violations);
        assert!(
            violations.is_empty(),
            "{}: {violations:#?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn every_cel_rule_compiles_and_fits_the_cost_budget() {
    for crd in crds::all() {
        let json = serde_json::to_value(&crd).unwrap();
        let compiled = cel::compile_schema(schema_of(&json));
        let errors: Vec<String> = compiled
            .compilation_errors()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", crd.spec.names.kind);

        let mut rules = vec![];
        collect_rules(schema_of(&json), &mut rules);
        assert!(!rules.is_empty(), "{} has CEL rules", crd.spec.names.kind);
        for (rule, node) in rules {
            let node_schema = cel::compile_schema(&node);
            // Only the cost and bounds analysis: kube-cel's scope check mistakes comprehension
            // variables (`p` in `self.all(p, ...)`) for free variables.
            let warnings = cel::estimate_rule_cost(&rule, &node_schema);
            assert!(
                warnings.is_empty(),
                "{}: {rule}: {warnings:#?}",
                crd.spec.names.kind
            );
        }
    }
}

fn collect_rules(node: &Value, out: &mut Vec<(String, Value)>) {
    if let Some(rules) = node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in rules {
            out.push((rule["rule"].as_str().unwrap().to_owned(), node.clone()));
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        props.values().for_each(|c| collect_rules(c, out));
    }
    if let Some(items) = node.get("items") {
        collect_rules(items, out);
    }
}

#[test]
fn names_categories_and_status_subresources() {
    for (kind, plural, short) in [
        ("FabricDevice", "fabricdevices", "fd"),
        ("DriftPolicy", "driftpolicies", "dp"),
        ("DriftEvent", "driftevents", "de"),
        ("NetBoxSource", "netboxsources", "nbs"),
    ] {
        let crd = crd_json(kind);
        assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(
            crd["metadata"]["name"],
            format!("{plural}.fabric.netops.dev")
        );
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        assert_eq!(
            crd["spec"]["names"]["shortNames"],
            serde_json::json!([short])
        );
        assert_eq!(
            crd["spec"]["names"]["categories"],
            serde_json::json!(["fabric"])
        );
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert_eq!(version["served"], true);
        assert_eq!(version["storage"], true);
        assert!(
            version["subresources"]["status"].is_object(),
            "{kind} has a status subresource"
        );
        let conditions = &schema_of(&crd)["properties"]["status"]["properties"]["conditions"];
        if !conditions.is_null() {
            assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
            assert_eq!(
                conditions["x-kubernetes-list-map-keys"],
                serde_json::json!(["type"]),
                "{kind}"
            );
        }
    }
}

#[test]
fn printer_columns_match_what_kubectl_get_should_show() {
    for (kind, columns) in [
        (
            "FabricDevice",
            vec![
                "Address",
                "Reachable",
                "Sync",
                "Drifts",
                "Policy",
                "Mode",
                "Age",
            ],
        ),
        (
            "DriftEvent",
            vec!["Device", "Paths", "Mode", "Phase", "Age"],
        ),
        ("DriftPolicy", vec!["Mode", "Priority", "Devices", "Age"]),
        ("NetBoxSource", vec!["URL", "Devices", "Last Sync", "Ready"]),
    ] {
        let crd = crd_json(kind);
        let printed: Vec<&str> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(printed, columns, "{kind}");
        // Every column points at a field the schema has (or metadata), so none prints empty forever.
        let schema = schema_of(&crd);
        for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
        {
            let path = column["jsonPath"].as_str().unwrap();
            if path.starts_with(".metadata") {
                continue;
            }
            // Drop filter expressions (`[?(@.type=="Ready")]`), which contain dots of their own.
            let mut cleaned = String::new();
            let mut depth = 0;
            for c in path.chars() {
                match c {
                    '[' => {
                        depth += 1;
                        if depth == 1 {
                            cleaned.push_str("[]");
                        }
                    }
                    ']' => depth -= 1,
                    _ if depth == 0 => cleaned.push(c),
                    _ => {}
                }
            }
            let mut node = schema;
            for segment in cleaned.trim_start_matches('.').split('.') {
                let name = segment.split('[').next().unwrap();
                node = &node["properties"][name];
                if node["type"] == "array" && segment.contains('[') {
                    node = &node["items"];
                }
            }
            assert!(
                node.is_object(),
                "{kind} column {path} names no field of the schema"
            );
        }
    }
}
