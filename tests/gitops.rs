//! The GitOps files under deploy/gitops: Argo CD's Lua health checks run on real object shapes
//! (lupa's Lua, through scripts/argocd-health.py, the way Argo CD calls them), their copies in
//! argocd-cm.yaml, the Flux Kustomization's CEL health expressions (the cel crate, optional syntax
//! on as in Flux), and the paths both point at.

use std::path::PathBuf;

use fabric_e2e::{python_script, repo_root, yaml_documents};

use serde_json::{Value, json};

fn gitops(file: &str) -> PathBuf {
    repo_root().join("deploy/gitops").join(file)
}

fn documents(path: &PathBuf) -> Vec<Value> {
    yaml_documents(&std::fs::read_to_string(path).unwrap())
}

/// Runs an Argo CD health script on each object; (status, message) per object.
fn argocd_health(script: &str, objects: &[Value]) -> Vec<(String, String)> {
    let results = python_script(
        "argocd-health.py",
        &[gitops(script).as_os_str()],
        &serde_json::to_vec(objects).unwrap(),
    );
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2029-01-15T07:00:00Z"})
}

fn device(status: Option<Value>) -> Value {
    let mut d = json!({
        "apiVersion": "fabric.netops.dev/v1alpha1", "kind": "FabricDevice",
        "metadata": {"name": "leaf1", "namespace": "lab", "generation": 3},
        "spec": {"target": {"address": "10.0.0.11:6030"}},
    });
    if let Some(s) = status {
        d["status"] = s;
    }
    d
}

/// The device shapes the operator writes, with what both health checks must say.
fn devices() -> Vec<(&'static str, Value)> {
    vec![
        ("new", device(None)),
        (
            "stale",
            device(Some(json!({"observedGeneration": 2, "conditions": [
                condition("Reachable", "True", "Connected", ""),
                condition("InSync", "True", "InSync", "")]}))),
        ),
        (
            "unreachable",
            device(Some(json!({"observedGeneration": 3, "conditions": [
                condition("Reachable", "False", "Unauthenticated", "gNMI login refused"),
                condition("InSync", "Unknown", "Unknown", "")]}))),
        ),
        (
            "drifted",
            device(Some(json!({"observedGeneration": 3, "driftCount": 2,
                "activeDriftEvent": "leaf1-6f2a9c1e-1", "conditions": [
                condition("Reachable", "True", "Connected", ""),
                condition("InSync", "False", "Drifted", "2 paths")]}))),
        ),
        (
            "in sync",
            device(Some(json!({"observedGeneration": 3, "conditions": [
                condition("Reachable", "True", "Connected", ""),
                condition("InSync", "True", "InSync", ""),
                condition("Remediating", "False", "Idle", "")]}))),
        ),
    ]
}

#[test]
fn argocd_fabricdevice_health_follows_reachable_and_insync() {
    let cases = devices();
    let objects: Vec<Value> = cases.iter().map(|(_, o)| o.clone()).collect();
    let results = argocd_health("argocd/fabricdevice-health.lua", &objects);
    let want = [
        (
            "Progressing",
            "Waiting for fabric-operator to connect to the device",
        ),
        (
            "Progressing",
            "fabric-operator has not observed the latest spec yet",
        ),
        (
            "Degraded",
            "Unreachable (Unauthenticated): gNMI login refused",
        ),
        (
            "Degraded",
            "Drifted: 2 path(s) differ from intent; DriftEvent leaf1-6f2a9c1e-1",
        ),
        ("Healthy", "In sync with intent"),
    ];
    for (((case, _), got), (status, message)) in cases.iter().zip(&results).zip(want) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (status, message),
            "{case}"
        );
    }
}

#[test]
fn argocd_driftevent_health_follows_the_phase() {
    let event = |phase: Option<&str>, extra: Value| {
        let mut e = json!({
            "apiVersion": "fabric.netops.dev/v1alpha1", "kind": "DriftEvent",
            "metadata": {"name": "leaf1-6f2a9c1e-1", "namespace": "lab"},
            "spec": {"device": "leaf1", "mode": "approve"},
        });
        if let Some(p) = phase {
            e["status"] = json!({"phase": p});
            for (k, v) in extra.as_object().unwrap() {
                e["status"][k] = v.clone();
            }
        }
        e
    };
    let cases = [
        // A new event has no phase written: Pending in approve mode.
        (event(None, json!({})), "Suspended"),
        (event(Some("Pending"), json!({})), "Suspended"),
        (
            event(Some("Pending"), json!({"reason": "OutsideWindow"})),
            "Suspended",
        ),
        (event(Some("Approved"), json!({})), "Progressing"),
        (event(Some("Remediating"), json!({})), "Progressing"),
        (event(Some("Alerted"), json!({})), "Degraded"),
        (
            event(
                Some("Failed"),
                json!({"result": {"error": "Set refused: FAILED_PRECONDITION", "attempts": 3}}),
            ),
            "Degraded",
        ),
        (event(Some("Remediated"), json!({})), "Healthy"),
        (event(Some("Resolved"), json!({})), "Healthy"),
        (event(Some("Superseded"), json!({})), "Healthy"),
        (event(Some("Rejected"), json!({})), "Healthy"),
        // A new event in alert mode is Alerted before the operator writes it.
        (
            {
                let mut e = event(None, json!({}));
                e["spec"]["mode"] = json!("alert");
                e
            },
            "Degraded",
        ),
    ];
    let objects: Vec<Value> = cases.iter().map(|(o, _)| o.clone()).collect();
    let results = argocd_health("argocd/driftevent-health.lua", &objects);
    for ((object, want), (status, _)) in cases.iter().zip(&results) {
        assert_eq!(status, want, "{}", object["status"]);
    }
    assert_eq!(
        results[1].1,
        "Waiting: kubectl fabric approve leaf1-6f2a9c1e-1 (or reject)"
    );
    assert_eq!(
        results[2].1,
        "Waiting (OutsideWindow): kubectl fabric approve leaf1-6f2a9c1e-1 (or reject)"
    );
    assert_eq!(
        results[6].1,
        "Remediation of leaf1 failed: Set refused: FAILED_PRECONDITION"
    );
}

#[test]
fn argocd_cm_holds_the_same_scripts() {
    let cm = &documents(&gitops("argocd/argocd-cm.yaml"))[0];
    for (kind, script) in [
        ("FabricDevice", "argocd/fabricdevice-health.lua"),
        ("DriftEvent", "argocd/driftevent-health.lua"),
    ] {
        let key = format!("resource.customizations.health.fabric.netops.dev_{kind}");
        assert_eq!(
            cm["data"][&key].as_str(),
            Some(std::fs::read_to_string(gitops(script)).unwrap().as_str()),
            "argocd-cm.yaml's {key} differs from {script}"
        );
    }
}

#[test]
fn the_argocd_application_and_flux_kustomization_point_at_the_lab() {
    let app = &documents(&gitops("argocd/application.yaml"))[0];
    let flux = documents(&gitops("flux/fabric-lab.yaml"));
    let kustomization = flux.iter().find(|d| d["kind"] == "Kustomization").unwrap();
    for path in [
        app["spec"]["source"]["path"].as_str().unwrap(),
        kustomization["spec"]["path"].as_str().unwrap(),
    ] {
        let dir = repo_root().join(path);
        assert!(
            dir.join("devices/leaf1.yaml").exists(),
            "{path} is the lab's manifests"
        );
    }
    assert_eq!(app["spec"]["destination"]["namespace"], "lab");
    assert_eq!(kustomization["spec"]["targetNamespace"], "lab");
}

/// Flux's evaluation order: inProgress, then failed, then current; an expression that cannot be
/// evaluated (a field not there yet) keeps the object in progress.
fn flux_status(rule: &Value, object: &Value) -> &'static str {
    let eval = |key: &str| -> Option<bool> {
        let source = rule[key].as_str()?;
        let expr = cel::parser::Parser::new()
            .enable_optional_syntax(true)
            .parse(source)
            .unwrap_or_else(|e| panic!("{key}: {source}: {e:?}"));
        let mut ctx = cel::Context::default();
        for (k, v) in object.as_object().unwrap() {
            ctx.add_variable(k.as_str(), cel::to_value(v).unwrap())
                .unwrap();
        }
        match cel::Value::resolve(&expr, &ctx) {
            Ok(cel::Value::Bool(b)) => Some(b),
            _ => None,
        }
    };
    if eval("inProgress") != Some(false) && rule.get("inProgress").is_some() {
        return "InProgress";
    }
    if eval("failed") == Some(true) {
        return "Failed";
    }
    if eval("current") == Some(true) {
        return "Current";
    }
    "InProgress"
}

#[test]
fn flux_health_expressions_agree_with_the_argocd_check() {
    let flux = documents(&gitops("flux/fabric-lab.yaml"));
    let kustomization = flux.iter().find(|d| d["kind"] == "Kustomization").unwrap();
    let rule = kustomization["spec"]["healthCheckExprs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "FabricDevice")
        .unwrap();
    let got: Vec<(&str, &str)> = devices()
        .iter()
        .map(|(case, object)| (*case, flux_status(rule, object)))
        .collect();
    assert_eq!(
        got,
        [
            ("new", "InProgress"),
            // kstatus' observedGeneration rule is Flux's, not the expression's business.
            ("stale", "Current"),
            ("unreachable", "Failed"),
            ("drifted", "Failed"),
            ("in sync", "Current"),
        ]
    );
}
