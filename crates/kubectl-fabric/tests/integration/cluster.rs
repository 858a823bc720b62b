//! kubectl-fabric against an in-memory API server (kube-fake-client) holding a small fabric:
//! what a person sees for status, history and diff, and what approve, reject, remediate and
//! clear-contested write (and refuse).

use fabric_api::{
    DriftEvent, FabricDevice,
    event::{APPROVAL_ANNOTATION, CONTESTED_ANNOTATION, REMEDIATE_ANNOTATION},
    kube::{
        Api, ResourceExt,
        api::{Patch, PatchParams},
    },
};
use kube_fake_client::ClientBuilder;
use kubectl_fabric::{Context, Error, Format, Scope, decide, diff, history, status};

/// 2029-01-15T08:00:00Z: every age below is relative to it.
fn now() -> jiff::Timestamp {
    "2029-01-15T08:00:00Z".parse().unwrap()
}

const DEVICES: &str = r#"
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: leaf1, namespace: lab}
spec:
  target: {address: '127.0.0.1:16011', tls: {mode: insecure}}
status:
  conditions:
  - {type: Reachable, status: "True", reason: Connected, message: "", lastTransitionTime: "2029-01-15T07:00:00Z"}
  - {type: InSync, status: "True", reason: InSync, message: "", lastTransitionTime: "2029-01-15T07:00:00Z"}
  driftCount: 0
  policy: {name: leaves-approve, mode: approve}
---
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: leaf2, namespace: lab}
spec:
  target: {address: '127.0.0.1:16012', tls: {mode: insecure}}
status:
  conditions:
  - {type: Reachable, status: "True", reason: Connected, message: "", lastTransitionTime: "2029-01-15T07:00:00Z"}
  - {type: InSync, status: "False", reason: Drifted, message: "2 paths", lastTransitionTime: "2029-01-15T07:55:00Z"}
  driftCount: 2
  driftedPaths: ["/interfaces/interface[name=Ethernet1]/config/mtu", "/interfaces/interface[name=Ethernet2]/config/description"]
  activeDriftEvent: leaf2-6f2a9c1e-1
  policy: {name: leaves-approve, mode: approve}
  lastDriftTime: "2029-01-15T07:55:00Z"
---
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: spine1, namespace: lab}
spec:
  target: {address: '127.0.0.1:16001', tls: {mode: insecure}}
status:
  conditions:
  - {type: Reachable, status: "False", reason: ConnectionRefused, message: "tcp connect error: Connection refused", lastTransitionTime: "2029-01-15T07:58:00Z"}
  - {type: InSync, status: Unknown, reason: Unknown, message: "", lastTransitionTime: "2029-01-15T07:58:00Z"}
  policy: {mode: alert}
  lastDriftTime: "2029-01-13T08:00:00Z"
---
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: edge1, namespace: other}
spec:
  target: {address: '127.0.0.1:16050', tls: {mode: insecure}}
"#;

fn fp(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn events() -> String {
    format!(
        r#"
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftEvent
metadata: {{name: leaf2-6f2a9c1e-1, namespace: lab, labels: {{fabric.netops.dev/device: leaf2}}}}
spec:
  device: leaf2
  policy: leaves-approve
  mode: approve
  fingerprint: "{a}"
  detectedAt: "2029-01-15T07:55:00Z"
  pathCount: 2
  drifts:
  - {{path: "/interfaces/interface[name=Ethernet1]/config/mtu", kind: Modified, expected: 9214, actual: 1500}}
  - {{path: "/interfaces/interface[name=Ethernet2]/config/description", kind: Missing, expected: "to spine2 Ethernet2"}}
  plan:
    strategy: minimal
    updates:
    - {{path: "/interfaces/interface[name=Ethernet1]/config/mtu", value: 9214}}
    - {{path: "/interfaces/interface[name=Ethernet2]/config/description", value: "to spine2 Ethernet2"}}
status: {{phase: Pending}}
---
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftEvent
metadata: {{name: leaf1-0b7d33aa-1, namespace: lab, labels: {{fabric.netops.dev/device: leaf1}}}}
spec:
  device: leaf1
  policy: leaves-approve
  mode: approve
  fingerprint: "{b}"
  detectedAt: "2029-01-14T08:00:00Z"
  pathCount: 1
  drifts:
  - {{path: "/system/config/hostname", kind: Modified, expected: leaf1, actual: leaf-1}}
  plan:
    strategy: minimal
    updates: [{{path: "/system/config/hostname", value: leaf1}}]
status:
  phase: Remediated
  decision: {{action: approve, by: kubectl-fabric, at: "2029-01-14T08:03:00Z"}}
  result: {{startedAt: "2029-01-14T08:03:00Z", finishedAt: "2029-01-14T08:03:01Z", attempts: 1, durationMilliseconds: 1240}}
---
apiVersion: fabric.netops.dev/v1alpha1
kind: DriftEvent
metadata: {{name: spine1-c0ffee00-1, namespace: lab, labels: {{fabric.netops.dev/device: spine1}}}}
spec:
  device: spine1
  mode: alert
  fingerprint: "{c}"
  detectedAt: "2029-01-13T08:00:00Z"
  pathCount: 1
  drifts:
  - {{path: "/interfaces/interface[name=Ethernet1]/config/mtu", kind: Modified, expected: 9214, actual: 1500}}
  plan: {{strategy: minimal}}
status: {{phase: Alerted}}
"#,
        a = fp('a'),
        b = fp('b'),
        c = fp('c')
    )
}

fn parse<K: serde::de::DeserializeOwned>(yaml: &str) -> Vec<K> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("fixture parses"))
        .collect()
}

async fn context(scope: Scope, format: Format) -> Context {
    let client = ClientBuilder::new()
        .with_resource::<FabricDevice>()
        .with_status_subresource::<FabricDevice>()
        .with_resource::<DriftEvent>()
        .with_status_subresource::<DriftEvent>()
        .with_objects(parse::<FabricDevice>(DEVICES))
        .with_objects(parse::<DriftEvent>(&events()))
        .with_return_managed_fields()
        .build()
        .await
        .expect("fake client");
    Context {
        client,
        scope,
        now: now(),
        format,
        color: false,
    }
}

/// The field manager that owns annotation `key` (from managedFields).
fn manager_of(object: &impl ResourceExt, key: &str) -> Option<String> {
    object
        .managed_fields()
        .iter()
        .find(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.to_string().contains(key))
        })
        .and_then(|m| m.manager.clone())
}

fn lab() -> Scope {
    Scope::Namespace("lab".into())
}

#[tokio::test]
async fn status_shows_a_table_and_the_summary() {
    let ctx = context(lab(), Format::Table).await;
    let out = status::run(&ctx).await.unwrap();
    assert_eq!(
        out,
        "\
DEVICE   REACHABLE                   SYNC      DRIFTS   POLICY           MODE      EVENT              LAST DRIFT
leaf1    True                        InSync    0        leaves-approve   approve   -                  -
leaf2    True                        Drifted   2        leaves-approve   approve   leaf2-6f2a9c1e-1   5m ago
spine1   False (ConnectionRefused)   Unknown   0        <none>           alert     -                  2d ago

3 devices monitored, 1 drifted, 1 unreachable, 1 pending approvals
  spine1 unreachable: ConnectionRefused: tcp connect error: Connection refused
"
    );
}

#[tokio::test]
async fn status_across_namespaces_names_them_and_json_has_the_same_facts() {
    let ctx = context(Scope::AllNamespaces, Format::Table).await;
    let out = status::run(&ctx).await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE   DEVICE"), "{out}");
    assert!(
        lines[1].starts_with("lab         leaf1"),
        "sorted by namespace then name: {out}"
    );
    assert!(
        lines[4].starts_with("other       edge1    -"),
        "a device without status yet: {out}"
    );
    assert!(out.contains("4 devices monitored, 1 drifted"), "{out}");

    let ctx = context(lab(), Format::Json).await;
    let json: serde_json::Value = serde_json::from_str(&status::run(&ctx).await.unwrap()).unwrap();
    assert_eq!(json["summary"]["pendingApprovals"], 1);
    assert_eq!(json["devices"][1]["name"], "leaf2");
    assert_eq!(json["devices"][1]["lastDrift"], "2029-01-15T07:55:00Z");
    assert_eq!(json["devices"][1]["mode"], "approve");

    let ctx = context(lab(), Format::Yaml).await;
    let yaml: serde_json::Value = serde_yaml::from_str(&status::run(&ctx).await.unwrap()).unwrap();
    assert_eq!(yaml["summary"]["drifted"], 1);
}

#[tokio::test]
async fn history_lists_phase_decision_and_duration_oldest_first() {
    let ctx = context(lab(), Format::Table).await;
    let out = history::run(&ctx, None).await.unwrap();
    assert_eq!(
        out,
        "\
EVENT               DEVICE   DETECTED   PATHS   MODE      PHASE        DECISION                    DURATION
spine1-c0ffee00-1   spine1   2d ago     1       alert     Alerted      -                           -
leaf1-0b7d33aa-1    leaf1    24h ago    1       approve   Remediated   approve by kubectl-fabric   1.2s
leaf2-6f2a9c1e-1    leaf2    5m ago     2       approve   Pending      -                           -
"
    );

    let only_leaf1 = history::run(&ctx, Some("leaf1")).await.unwrap();
    assert_eq!(only_leaf1.lines().count(), 2, "{only_leaf1}");
    assert!(only_leaf1.contains("leaf1-0b7d33aa-1"));
    assert_eq!(
        history::run(&ctx, Some("leaf9")).await.unwrap(),
        "No drift events.\n"
    );
}

#[tokio::test]
async fn diff_prints_expected_and_actual_per_path() {
    let ctx = context(lab(), Format::Table).await;
    let out = diff::run(&ctx, "leaf2-6f2a9c1e-1").await.unwrap();
    assert_eq!(
        out,
        format!(
            "\
DriftEvent lab/leaf2-6f2a9c1e-1: device leaf2, mode approve, phase Pending
detected 5m ago (2029-01-15T07:55:00Z), 2 drifted leaves, fingerprint {}

~ /interfaces/interface[name=Ethernet1]/config/mtu  (Modified)
    expected  9214
    actual    1500
+ /interfaces/interface[name=Ethernet2]/config/description  (Missing)
    expected  \"to spine2 Ethernet2\"
    actual    (absent)

Remediation: one SetRequest, 0 deletes, 0 replaces, 2 updates.
Decide: kubectl fabric approve leaf2-6f2a9c1e-1 -n lab   (or: kubectl fabric reject leaf2-6f2a9c1e-1 -n lab)
",
            &fp('a')[..12]
        )
    );

    // On a terminal: expected in green, actual in red.
    let coloured = Context { color: true, ..ctx };
    let out = diff::run(&coloured, "leaf2-6f2a9c1e-1").await.unwrap();
    assert!(out.contains("expected  \x1b[32m9214\x1b[0m"), "{out:?}");
    assert!(out.contains("actual    \x1b[31m1500\x1b[0m"), "{out:?}");

    let missing = diff::run(&coloured, "nope").await.unwrap_err();
    assert_eq!(missing.to_string(), "DriftEvent lab/nope not found");
}

#[tokio::test]
async fn approve_sets_the_annotation_with_the_plugin_as_field_manager() {
    let ctx = context(lab(), Format::Table).await;
    let out = decide::decide(&ctx, "leaf2-6f2a9c1e-1", decide::Verdict::Approve)
        .await
        .unwrap();
    assert!(
        out.starts_with("driftevent lab/leaf2-6f2a9c1e-1 approved"),
        "{out}"
    );
    let events: Api<DriftEvent> = Api::namespaced(ctx.client.clone(), "lab");
    let event = events.get("leaf2-6f2a9c1e-1").await.unwrap();
    assert_eq!(event.annotations()[APPROVAL_ANNOTATION], "approve");
    assert_eq!(
        manager_of(&event, APPROVAL_ANNOTATION).as_deref(),
        Some("kubectl-fabric")
    );
    // The spec is untouched: the apply carried metadata only.
    assert_eq!(event.spec.path_count, 2);

    // Changing one's mind while still Pending is allowed: the same manager owns the key.
    decide::decide(&ctx, "leaf2-6f2a9c1e-1", decide::Verdict::Reject)
        .await
        .unwrap();
    let event = events.get("leaf2-6f2a9c1e-1").await.unwrap();
    assert_eq!(event.annotations()[APPROVAL_ANNOTATION], "reject");
}

#[tokio::test]
async fn only_a_pending_event_can_be_decided() {
    let ctx = context(lab(), Format::Table).await;
    let err = decide::decide(&ctx, "spine1-c0ffee00-1", decide::Verdict::Approve)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)));
    assert_eq!(
        err.to_string(),
        "DriftEvent lab/spine1-c0ffee00-1 is Alerted, not Pending: its policy's mode is alert, \
         which only reports; to repair this drift once, run `kubectl fabric remediate --device spine1`"
    );
    let err = decide::decide(&ctx, "leaf1-0b7d33aa-1", decide::Verdict::Reject)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "DriftEvent lab/leaf1-0b7d33aa-1 is Remediated, not Pending: the episode is over, there is nothing to reject"
    );
    let events: Api<DriftEvent> = Api::namespaced(ctx.client.clone(), "lab");
    for name in ["spine1-c0ffee00-1", "leaf1-0b7d33aa-1"] {
        let event = events.get(name).await.unwrap();
        assert!(
            !event.annotations().contains_key(APPROVAL_ANNOTATION),
            "a refused decision writes nothing"
        );
    }
    let err = decide::decide(
        &Context {
            scope: Scope::AllNamespaces,
            ..ctx
        },
        "leaf2-6f2a9c1e-1",
        decide::Verdict::Approve,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NeedsNamespace));
}

#[tokio::test]
async fn remediate_stamps_the_device_and_refuses_one_in_sync() {
    let ctx = context(lab(), Format::Table).await;
    let out = decide::remediate(&ctx, "leaf2").await.unwrap();
    assert_eq!(
        out,
        "fabricdevice lab/leaf2: remediation requested (fabric.netops.dev/remediate=2029-01-15T08:00:00Z); \
         follow it with `kubectl fabric history --device leaf2`\n"
    );
    let devices: Api<FabricDevice> = Api::namespaced(ctx.client.clone(), "lab");
    let leaf2 = devices.get("leaf2").await.unwrap();
    assert_eq!(
        leaf2.annotations()[REMEDIATE_ANNOTATION],
        "2029-01-15T08:00:00Z"
    );
    assert_eq!(
        leaf2.spec.target.address, "127.0.0.1:16012",
        "spec untouched"
    );

    let err = decide::remediate(&ctx, "leaf1").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "FabricDevice lab/leaf1 is in sync (InSync=True, 0 drifts): nothing to remediate"
    );
    let leaf1 = devices.get("leaf1").await.unwrap();
    assert!(!leaf1.annotations().contains_key(REMEDIATE_ANNOTATION));

    let err = decide::remediate(&ctx, "leaf9").await.unwrap_err();
    assert_eq!(err.to_string(), "FabricDevice lab/leaf9 not found");
}

#[tokio::test]
async fn clear_contested_annotates_a_contested_device_and_refuses_one_that_is_not() {
    let ctx = context(lab(), Format::Table).await;
    let devices: Api<FabricDevice> = Api::namespaced(ctx.client.clone(), "lab");

    // leaf1 has no Contested condition: nothing to clear, nothing written.
    let err = decide::clear_contested(&ctx, "leaf1").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "FabricDevice lab/leaf1 is not contested (Contested is not True): \
         auto-remediation is not paused, there is nothing to clear"
    );
    let leaf1 = devices.get("leaf1").await.unwrap();
    assert!(!leaf1.annotations().contains_key(CONTESTED_ANNOTATION));

    // The flap guard paused leaf2 (the condition the operator writes, mapping::device_status).
    let mut leaf2 = devices.get("leaf2").await.unwrap();
    let mut status = leaf2.status.take().unwrap();
    status.conditions.push(
        serde_json::from_value(serde_json::json!({
            "type": "Contested", "status": "True", "reason": "Flapping",
            "message": "auto-remediation paused: 1 path(s) keep being changed back",
            "lastTransitionTime": "2029-01-15T07:58:00Z",
        }))
        .unwrap(),
    );
    devices
        .patch_status(
            "leaf2",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": status})),
        )
        .await
        .unwrap();

    let out = decide::clear_contested(&ctx, "leaf2").await.unwrap();
    assert_eq!(
        out,
        "fabricdevice lab/leaf2: flap guard cleared (fabric.netops.dev/contested=clear); \
         auto-remediation resumes, and pauses again if the paths keep being changed back\n"
    );
    let leaf2 = devices.get("leaf2").await.unwrap();
    assert_eq!(leaf2.annotations()[CONTESTED_ANNOTATION], "clear");
    assert_eq!(
        manager_of(&leaf2, CONTESTED_ANNOTATION).as_deref(),
        Some("kubectl-fabric")
    );

    let err = decide::clear_contested(&ctx, "leaf9").await.unwrap_err();
    assert_eq!(err.to_string(), "FabricDevice lab/leaf9 not found");
}

#[tokio::test]
async fn a_cluster_without_the_crds_is_told_how_to_install_them() {
    let client = ClientBuilder::new().build().await.expect("fake client");
    let ctx = Context {
        client,
        scope: lab(),
        now: now(),
        format: Format::Table,
        color: false,
    };
    let err = status::run(&ctx).await.unwrap_err();
    assert!(
        matches!(err, Error::NotInstalled("FabricDevices")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("install them with `kubectl apply -f deploy/crds/`"),
        "{err}"
    );
    let err = history::run(&ctx, None).await.unwrap_err();
    assert!(matches!(err, Error::NotInstalled("DriftEvents")), "{err:?}");
}
