//! deploy/grafana/fabric-operator.json queries only what the operator exports: every `fabric_*`
//! series a panel or variable names appears in `Metrics::render` (after each family was used
//! once), and every label it groups or filters by is one of that series' labels or a label
//! Prometheus adds to every scraped target.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::Arc,
};

use fabric_engine::Stats;
use fabric_operator::metrics::Metrics;

/// Labels Prometheus' Kubernetes service discovery puts on every series of the target.
const TARGET_LABELS: &[&str] = &["namespace"];

/// Sample names and their label names, from the exposition text.
fn exported() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = Metrics::new(Arc::new(Stats::default()));
    // Families show their series once used.
    metrics.api_write("status");
    metrics.drift_event("approve", "Pending");
    metrics.detection_latency.observe(0.02);
    let source = fabric_operator::k8s::netbox::SourceKey {
        namespace: "fabric".into(),
        name: "dc1".into(),
    };
    metrics.netbox.requests_sent(&source, 8, 1, 0);
    metrics
        .netbox
        .sync(&source, &fabric_operator::k8s::netbox::Scope::Full, "ok");
    metrics.netbox.webhook("accepted");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in metrics.render().lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..name_end].to_owned()).or_default();
        if let (Some(open), Some(close)) = (line.find('{'), line.find('}')) {
            for pair in line[open + 1..close].split(',') {
                if let Some((k, _)) = pair.split_once('=') {
                    labels.insert(k.to_owned());
                }
            }
        }
    }
    out
}

fn identifiers(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.starts_with("fabric_"))
}

/// Label names in `by (...)` clauses and `{...}` selectors.
fn labels_used(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("by (") {
        let inner = &rest[i + 4..];
        let end = inner.find(')').unwrap();
        out.extend(inner[..end].split(',').map(|l| l.trim().to_owned()));
        rest = &inner[end..];
    }
    let mut rest = expr;
    while let Some(i) = rest.find('{') {
        let inner = &rest[i + 1..];
        let end = inner.find('}').unwrap();
        // `{{mode}}` legend templates are not selectors.
        if !inner.starts_with('{') {
            for matcher in inner[..end].split(',') {
                let name: String = matcher
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
        rest = &inner[end..];
    }
    out
}

#[test]
fn every_queried_series_and_label_is_exported() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/fabric-operator.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let exported = exported();
    let mut exprs: Vec<String> = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_i64().unwrap()),
            "panel ids are unique"
        );
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = variable["definition"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    assert!(exprs.len() >= 10, "the dashboard has its queries");
    let mut queried = BTreeSet::new();
    for expr in &exprs {
        let series: Vec<&str> = identifiers(expr).collect();
        assert!(!series.is_empty(), "{expr} queries no fabric_ series");
        for name in &series {
            let labels = exported.get(*name).unwrap_or_else(|| {
                panic!(
                    "{expr}: {name} is not exported; exported: {:?}",
                    exported.keys()
                )
            });
            for label in labels_used(expr) {
                assert!(
                    labels.contains(&label) || TARGET_LABELS.contains(&label.as_str()),
                    "{expr}: {name} has no label {label:?} (it has {labels:?})"
                );
            }
            queried.insert(name.to_string());
        }
    }
    // Every metric family is on the dashboard (a histogram through its buckets).
    for name in exported.keys() {
        let family = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count")
            .to_owned();
        assert!(
            queried.iter().any(|q| q.starts_with(&family)),
            "{name} is exported but not on the dashboard"
        );
    }
}
