//! The Kubernetes port against an in-memory API server (kube-fake-client): DriftEvents are
//! created once per episode with their owner and labels, phases are written to the status
//! subresource, and device status is written by server-side apply only when it changes.

use std::{sync::Arc, time::Duration};

use fabric_api::{
    DriftEvent, FabricDevice,
    event::{DEVICE_LABEL, FINGERPRINT_LABEL, Phase as ApiPhase},
    kube::{Api, ResourceExt},
};
use fabric_drift::{DriftItem, DriftKind, Plan, policy::Mode};
use fabric_engine::{
    Decision, DecisionAction, DeviceKey, DeviceReport, EventRecord, EventUpdate, KnownEvent,
    Outcome, Phase, Port, Reachability, Stats, SyncState,
};
use fabric_operator::{k8s::port::KubePort, metrics::Metrics};
use kube_fake_client::ClientBuilder;

use crate::api_calls::ApiCalls;

const LEAF: &str = "
apiVersion: fabric.netops.dev/v1alpha1
kind: FabricDevice
metadata: {name: leaf1, namespace: lab, uid: 6f1c2d3e-0000-4000-8000-000000000001}
spec:
  target: {address: '127.0.0.1:16011', tls: {mode: insecure}}
";

fn record(fingerprint: &str) -> EventRecord {
    EventRecord {
        device: DeviceKey::new("lab", "leaf1"),
        policy: Some("leaves-approve".into()),
        mode: Mode::Approve,
        fingerprint: fingerprint.into(),
        detected_at: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        drift: vec![DriftItem {
            path: "/interfaces/interface[name=Ethernet1]/config/mtu"
                .parse()
                .unwrap(),
            kind: DriftKind::Modified,
            expected: Some(fabric_gnmi::Value::Uint(9214)),
            actual: Some(fabric_gnmi::Value::Uint(1500)),
        }],
        plan: Plan::default(),
        strategy: Default::default(),
        phase: Phase::Pending,
        keep: 20,
    }
}

/// A report of leaf1 (generation 1, no policy, alert) with `reachability` and `sync`; tests
/// change the fields they need with struct update syntax.
pub fn report(reachability: Reachability, sync: SyncState) -> DeviceReport {
    DeviceReport {
        generation: Some(1),
        reachability,
        sync,
        ..DeviceReport::default()
    }
}

/// The port on an in-memory API server holding leaf1; the calls are checked against the RBAC
/// rules when the returned recorder is dropped.
pub async fn setup() -> anyhow::Result<(kube::Client, Arc<KubePort>, Arc<Metrics>, ApiCalls)> {
    setup_with(ClientBuilder::new()).await
}

pub async fn setup_with(
    builder: ClientBuilder,
) -> anyhow::Result<(kube::Client, Arc<KubePort>, Arc<Metrics>, ApiCalls)> {
    let device: FabricDevice = serde_yaml::from_str(LEAF)?;
    let calls = ApiCalls::new();
    let client = builder
        .with_resource::<FabricDevice>()
        .with_status_subresource::<FabricDevice>()
        .with_resource::<DriftEvent>()
        .with_status_subresource::<DriftEvent>()
        .with_object(device)
        .build()
        .await?;
    let metrics = Arc::new(Metrics::new(Arc::new(Stats::default())));
    // The port's calls are recorded; the test's own reads are not the operator's.
    let port = KubePort::start(calls.wrap(client.clone()), metrics.clone());
    Ok((client, port, metrics, calls))
}

#[tokio::test]
async fn an_episode_is_one_owned_labelled_event_and_opening_it_again_changes_nothing()
-> anyhow::Result<()> {
    let (client, port, metrics, _calls) = setup().await?;
    let fp = "ab".repeat(32);
    let name = port.open_event(&record(&fp)).await?;
    let again = port.open_event(&record(&fp)).await?;
    assert_eq!(name, again, "idempotent per fingerprint");

    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let list = events.list(&Default::default()).await?;
    assert_eq!(list.items.len(), 1);
    let event = &list.items[0];
    assert_eq!(event.labels()[DEVICE_LABEL], "leaf1");
    assert_eq!(event.labels()[FINGERPRINT_LABEL], &fp[..32]);
    let owner = &event.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("FabricDevice", "leaf1")
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(event.spec.fingerprint, fp);
    assert_eq!(event.spec.path_count, 1);
    assert_eq!(event.spec.drifts[0].expected, Some(serde_json::json!(9214)));
    assert_eq!(
        event.status.as_ref().and_then(|s| s.phase),
        None,
        "one write per episode: the phase of a new event is its mode's first"
    );

    let writes = metrics.render();
    assert!(
        writes.contains("fabric_api_writes_total{kind=\"driftevent\"} 1"),
        "{writes}"
    );
    assert!(!writes.contains("driftevent_status"), "{writes}");

    // Open events are what a restarted engine adopts.
    let key = DeviceKey::new("lab", "leaf1");
    let open = port.known_events(&key).await?;
    assert_eq!(
        open,
        vec![KnownEvent {
            name: name.clone(),
            fingerprint: fp.clone(),
            phase: Phase::Pending,
            decision: None
        }]
    );

    // Rewrites of the same phase (a new reason for waiting) are not a phase entered again.
    for reason in ["OutsideWindow", "RateLimited"] {
        let waiting = EventUpdate::phase(Phase::Pending).because(reason, "waiting");
        port.update_event(&key, &name, Mode::Approve, &waiting)
            .await?;
    }
    let update = EventUpdate::phase(Phase::Superseded).because(
        "DriftChanged",
        "the drift changed before the event was settled",
    );
    port.update_event(&key, &name, Mode::Approve, &update)
        .await?;
    let closed = events.get(&name).await?;
    let status = closed.status.expect("status");
    assert_eq!(status.phase, Some(ApiPhase::Superseded));
    assert_eq!(status.reason.as_deref(), Some("DriftChanged"));
    assert!(port.known_events(&key).await?.is_empty());
    let rendered = metrics.render();
    for line in [
        "fabric_drift_events_total{mode=\"approve\",phase=\"Pending\"} 1",
        "fabric_drift_events_total{mode=\"approve\",phase=\"Superseded\"} 1",
    ] {
        assert!(rendered.contains(line), "{line} in {rendered}");
    }
    Ok(())
}

#[tokio::test]
async fn device_status_is_applied_once_per_change() -> anyhow::Result<()> {
    let (client, port, metrics, _calls) = setup().await?;
    let key = DeviceKey::new("lab", "leaf1");
    let report = DeviceReport {
        policy_name: Some("leaves-approve".into()),
        mode: Mode::Approve,
        active_event: Some("leaf1-abababab".into()),
        // The notification that made the change arrived 300 ms before the engine reported it:
        // detection latency counts from there.
        received: Some(std::time::Instant::now() - Duration::from_millis(300)),
        ..report(
            Reachability::Reachable,
            SyncState::Drifted {
                count: 1,
                paths: vec!["/interfaces/interface[name=Ethernet1]/config/mtu".into()],
                fingerprint: "ab".repeat(32),
            },
        )
    };
    port.report(&key, &report).await;
    let devices: Api<FabricDevice> = Api::namespaced(client, "lab");
    let mut status = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = devices.get("leaf1").await?.status;
        if status.is_some() {
            break;
        }
    }
    let status = status.expect("status written");
    assert_eq!(status.drift_count, 1);
    assert_eq!(status.active_drift_event.as_deref(), Some("leaf1-abababab"));
    let in_sync = fabric_api::conditions::find(&status.conditions, "InSync").expect("InSync");
    assert_eq!(
        (in_sync.status.as_str(), in_sync.reason.as_str()),
        ("False", "Drifted")
    );

    // The same report again (a resync) writes nothing.
    port.report(&key, &report).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let rendered = metrics.render();
    let writes = rendered
        .lines()
        .find(|l| l.starts_with("fabric_api_writes_total{kind=\"status\"}"))
        .expect("status writes counted");
    assert!(writes.ends_with(" 1"), "{writes}");
    assert!(
        rendered.contains("fabric_detection_latency_seconds_count 1"),
        "{rendered}"
    );
    let latency: f64 = rendered
        .lines()
        .find_map(|l| l.strip_prefix("fabric_detection_latency_seconds_sum "))
        .expect("latency sum")
        .parse()?;
    assert!(
        latency >= 0.3,
        "latency {latency} s does not start at the notification"
    );
    Ok(())
}

#[tokio::test]
async fn a_decision_stays_on_the_event_through_later_phases_and_a_rejection_is_adopted()
-> anyhow::Result<()> {
    let (client, port, _, _calls) = setup().await?;
    let key = DeviceKey::new("lab", "leaf1");
    let fp = "cd".repeat(32);
    let name = port.open_event(&record(&fp)).await?;
    let decision = Decision {
        action: DecisionAction::Approve,
        by: "kubectl-annotate".into(),
        at: jiff::Timestamp::from_second(1_800_000_100).unwrap(),
    };
    let mut remediating = EventUpdate::phase(Phase::Remediating).because("SetSent", "attempt 1");
    remediating.decision = Some(decision.clone());
    remediating.outcome = Some(Outcome {
        started_at: Some(decision.at),
        attempts: 1,
        ..Outcome::default()
    });
    port.update_event(&key, &name, Mode::Approve, &remediating)
        .await?;
    // A restart in the middle finds the decision, so the remediation is carried on.
    assert_eq!(
        port.known_events(&key).await?,
        vec![KnownEvent {
            name: name.clone(),
            fingerprint: fp.clone(),
            phase: Phase::Remediating,
            decision: Some(decision.clone()),
        }]
    );
    let mut done = EventUpdate::phase(Phase::Remediated).because("Confirmed", "");
    done.outcome = Some(Outcome {
        started_at: Some(decision.at),
        finished_at: Some(jiff::Timestamp::from_second(1_800_000_101).unwrap()),
        attempts: 1,
        error: None,
        duration: Some(Duration::from_millis(42)),
    });
    port.update_event(&key, &name, Mode::Approve, &done).await?;
    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let status = events.get(&name).await?.status.expect("status");
    assert_eq!(status.phase, Some(ApiPhase::Remediated));
    assert_eq!(status.message, None, "the previous phase's message is gone");
    let recorded = status.decision.expect("the decision stays");
    assert_eq!(recorded.by, "kubectl-annotate");
    assert_eq!(recorded.action, fabric_api::event::DecisionAction::Approve);
    let result = status.result.expect("result");
    assert_eq!(result.duration_milliseconds, Some(42));
    assert_eq!(result.attempts, 1);
    assert!(port.known_events(&key).await?.is_empty(), "settled");

    // A rejected event, the device's newest, is still known: its drift is not proposed again.
    let other = "ef".repeat(32);
    let mut rejected_record = record(&other);
    rejected_record.detected_at = jiff::Timestamp::from_second(1_800_000_200).unwrap();
    let rejected = port.open_event(&rejected_record).await?;
    let mut reject = EventUpdate::phase(Phase::Rejected).because("Rejected", "");
    reject.decision = Some(Decision {
        action: DecisionAction::Reject,
        ..decision
    });
    port.update_event(&key, &rejected, Mode::Approve, &reject)
        .await?;
    let known = port.known_events(&key).await?;
    assert_eq!(known.len(), 1, "{known:?}");
    assert_eq!(
        (known[0].name.as_str(), known[0].phase),
        (rejected.as_str(), Phase::Rejected)
    );
    Ok(())
}

/// The DriftEvent the port would create for `record` (of leaf1), in `phase`.
fn stored_event(record: &EventRecord, phase: Option<ApiPhase>) -> anyhow::Result<DriftEvent> {
    let device: FabricDevice = serde_yaml::from_str(LEAF)?;
    let mut event = fabric_operator::k8s::mapping::drift_event(record, &device);
    event.status = phase.map(|phase| fabric_api::event::DriftEventStatus {
        phase: Some(phase),
        ..Default::default()
    });
    Ok(event)
}

#[tokio::test]
async fn a_name_held_by_another_episode_of_the_same_second_is_not_adopted() -> anyhow::Result<()> {
    // A flap A→B→A within one second: A's first event is settled (Superseded) under the name
    // A's second episode would take; B's open event shares the name's fingerprint prefix.
    let fp_a = "ab".repeat(32);
    let fp_b = format!("{}{}", "ab".repeat(5), "cd".repeat(27));
    let settled = stored_event(&record(&fp_a), Some(ApiPhase::Superseded))?;
    let taken = settled.name_any();
    let (client, port, metrics, _calls) =
        setup_with(ClientBuilder::new().with_object(settled)).await?;

    let name = port.open_event(&record(&fp_a)).await?;
    assert_eq!(
        name,
        format!("{taken}-2"),
        "a new event, not the settled one"
    );
    let other = port.open_event(&record(&fp_b)).await?;
    assert_eq!(other, format!("{taken}-3"), "B's drift is not A's episode");
    assert_eq!(port.open_event(&record(&fp_a)).await?, name, "idempotent");

    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let created = events.get(&name).await?;
    assert_eq!(created.spec.fingerprint, fp_a);
    assert_eq!(created.status.and_then(|s| s.phase), None);
    let key = DeviceKey::new("lab", "leaf1");
    let mut open: Vec<String> = port
        .known_events(&key)
        .await?
        .into_iter()
        .map(|k| k.name)
        .collect();
    open.sort();
    assert_eq!(open, vec![name, other]);
    assert!(
        metrics
            .render()
            .contains("fabric_api_writes_total{kind=\"driftevent\"} 2")
    );
    Ok(())
}

#[tokio::test]
async fn a_device_name_longer_than_a_label_value_still_gets_its_events() -> anyhow::Result<()> {
    let long = format!("leaf1-{}", "rack42-row7-hall3-".repeat(4));
    assert!(long.len() > 63);
    let mut device: FabricDevice = serde_yaml::from_str(LEAF)?;
    device.metadata.name = Some(long.clone());
    let (client, port, _, _calls) = setup_with(ClientBuilder::new().with_object(device)).await?;
    let fp = "ab".repeat(32);
    let mut rec = record(&fp);
    rec.device = DeviceKey::new("lab", &long);
    let name = port.open_event(&rec).await?;

    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let event = events.get(&name).await?;
    let label = &event.labels()[DEVICE_LABEL];
    // What an API server accepts as a label value (it refuses the whole object otherwise).
    assert!(label.len() <= 63, "{label}");
    assert!(
        label.starts_with(|c: char| c.is_ascii_alphanumeric())
            && label.ends_with(|c: char| c.is_ascii_alphanumeric())
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "{label}"
    );
    assert_eq!(event.spec.device, long);
    // Found again by the same label: a restart adopts it, a second open is the same episode.
    let key = DeviceKey::new("lab", &long);
    assert_eq!(port.known_events(&key).await?.len(), 1);
    assert_eq!(port.open_event(&rec).await?, name);
    Ok(())
}

#[tokio::test]
async fn a_failed_phase_write_is_retried_and_the_newest_update_wins() -> anyhow::Result<()> {
    // The API server fails the first two DriftEvent status patches (a timeout, an etcd hiccup).
    let failures = Arc::new(std::sync::atomic::AtomicU32::new(2));
    let failing = failures.clone();
    let funcs = kube_fake_client::interceptor::Funcs::new().patch_status(move |ctx| {
        let event = ctx.name != "leaf1";
        let fail = event
            && failing
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok();
        if fail {
            Err(kube_fake_client::Error::Internal(
                "etcdserver: request timed out".into(),
            ))
        } else {
            Ok(None)
        }
    });
    let (client, port, metrics, _calls) =
        setup_with(ClientBuilder::new().with_interceptor_funcs(funcs)).await?;
    let key = DeviceKey::new("lab", "leaf1");
    let name = port.open_event(&record(&"ab".repeat(32))).await?;

    // Remediating carries the decision; Remediated (written after it) does not repeat it.
    let decision = Decision {
        action: DecisionAction::Approve,
        by: "kubectl-annotate".into(),
        at: jiff::Timestamp::from_second(1_800_000_100).unwrap(),
    };
    let mut remediating = EventUpdate::phase(Phase::Remediating).because("SetSent", "attempt 1");
    remediating.decision = Some(decision);
    assert!(
        port.update_event(&key, &name, Mode::Approve, &remediating)
            .await
            .is_err()
    );
    let done = EventUpdate::phase(Phase::Remediated).because("Confirmed", "");
    assert!(
        port.update_event(&key, &name, Mode::Approve, &done)
            .await
            .is_err()
    );
    assert_eq!(failures.load(std::sync::atomic::Ordering::SeqCst), 0);

    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let mut status = None;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = events.get(&name).await?.status;
        if status.as_ref().is_some_and(|s| s.phase.is_some()) {
            break;
        }
    }
    let status = status.expect("the phase is written on retry");
    assert_eq!(status.phase, Some(ApiPhase::Remediated), "the newest wins");
    assert_eq!(
        status.decision.map(|d| d.by).as_deref(),
        Some("kubectl-annotate"),
        "what only the older update carried is kept"
    );
    let rendered = metrics.render();
    assert!(
        rendered.contains("fabric_api_writes_total{kind=\"driftevent_status\"} 1"),
        "{rendered}"
    );
    assert!(
        rendered.contains("fabric_drift_events_total{mode=\"approve\",phase=\"Remediated\"} 1"),
        "{rendered}"
    );
    Ok(())
}

#[tokio::test]
async fn reports_100_ms_apart_are_one_write_and_a_flush_writes_the_pending_one()
-> anyhow::Result<()> {
    let (client, port, metrics, _calls) = setup().await?;
    let key = DeviceKey::new("lab", "leaf1");
    let drifted = |count: usize| {
        report(
            Reachability::Reachable,
            SyncState::Drifted {
                count,
                paths: vec!["/interfaces/interface[name=Ethernet1]/config/mtu".into()],
                fingerprint: "ab".repeat(32),
            },
        )
    };
    let status_writes = || {
        metrics
            .render()
            .lines()
            .find(|l| l.starts_with("fabric_api_writes_total{kind=\"status\"}"))
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
            .unwrap_or_else(|| "0".into())
    };
    // The first write goes at once; then a burst within the interval is held back.
    port.report(&key, &drifted(1)).await;
    for _ in 0..50 {
        if status_writes() == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status_writes(), "1");
    port.report(&key, &drifted(2)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    port.report(&key, &drifted(3)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(status_writes(), "1", "coalesced: not written yet");

    // Shutdown: what is pending is written now, the newest report only.
    port.flush().await;
    assert_eq!(status_writes(), "2");
    let devices: Api<FabricDevice> = Api::namespaced(client, "lab");
    assert_eq!(devices.get("leaf1").await?.status.unwrap().drift_count, 3);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(status_writes(), "2", "nothing left to write");
    Ok(())
}

#[tokio::test]
async fn history_keeps_the_last_closed_event_with_keep_1() -> anyhow::Result<()> {
    let (client, port, metrics, _calls) = setup().await?;
    let key = DeviceKey::new("lab", "leaf1");
    let events: Api<DriftEvent> = Api::namespaced(client, "lab");
    let mut names = Vec::new();
    for (i, fp) in ["a1", "b2", "c3"].into_iter().enumerate() {
        let mut rec = record(&fp.repeat(32));
        rec.keep = 1;
        rec.detected_at = jiff::Timestamp::from_second(1_800_000_000 + i as i64).unwrap();
        let name = port.open_event(&rec).await?;
        let settle = EventUpdate::phase(Phase::Superseded).because("DriftChanged", "");
        port.update_event(&key, &name, Mode::Approve, &settle)
            .await?;
        names.push(name);
    }
    // Opening the third found two closed events beyond the open one: the oldest went.
    let left: Vec<String> = events
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(|e| e.name_any())
        .collect();
    assert!(!left.contains(&names[0]), "{left:?}");
    assert!(
        left.contains(&names[1]) && left.contains(&names[2]),
        "{left:?}"
    );
    assert!(
        metrics
            .render()
            .contains("fabric_api_writes_total{kind=\"driftevent_delete\"} 1")
    );
    Ok(())
}

#[tokio::test]
async fn the_status_is_a_server_side_apply_of_fabric_operator() -> anyhow::Result<()> {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record_patch = seen.clone();
    let funcs = kube_fake_client::interceptor::Funcs::new().patch_status(move |ctx| {
        record_patch.lock().unwrap().push((
            ctx.patch.clone(),
            ctx.params.field_manager.clone(),
            ctx.params.force,
            format!("{:?}", ctx.patch_type),
        ));
        Ok(None)
    });
    let (_client, port, _, _calls) =
        setup_with(ClientBuilder::new().with_interceptor_funcs(funcs)).await?;
    let key = DeviceKey::new("lab", "leaf1");
    port.report(&key, &report(Reachability::Reachable, SyncState::InSync))
        .await;
    for _ in 0..50 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.lock().unwrap();
    let (patch, manager, force, kind) = seen.first().expect("a status patch");
    assert_eq!(patch["apiVersion"], "fabric.netops.dev/v1alpha1");
    assert_eq!(patch["kind"], "FabricDevice");
    assert_eq!(manager.as_deref(), Some("fabric-operator"));
    assert!(*force, "the operator owns the status: apply with force");
    assert!(kind.contains("Apply"), "{kind}");
    let ready = patch["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(patch["status"]["observedGeneration"], 1);
    Ok(())
}

#[tokio::test]
async fn a_drift_episode_costs_one_event_create_and_one_status_write() -> anyhow::Result<()> {
    let (_client, port, _, calls) = setup().await?;
    let key = DeviceKey::new("lab", "leaf1");
    let in_sync = DeviceReport {
        policy_name: Some("leaves-approve".into()),
        mode: Mode::Approve,
        ..report(Reachability::Reachable, SyncState::InSync)
    };
    port.report(&key, &in_sync).await;
    port.flush().await;
    let before = calls.writes().len();

    // The episode, as a session drives it: the event is opened, then the drifted status.
    let fp = "ab".repeat(32);
    let name = port.open_event(&record(&fp)).await?;
    let drifted = DeviceReport {
        sync: SyncState::Drifted {
            count: 1,
            paths: vec!["/interfaces/interface[name=Ethernet1]/config/mtu".into()],
            fingerprint: fp,
        },
        active_event: Some(name),
        last_drift: Some(jiff::Timestamp::now()),
        ..in_sync
    };
    port.report(&key, &drifted).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    port.flush().await;
    let episode: Vec<_> = calls.writes().into_iter().skip(before).collect();
    let resources: Vec<String> = episode
        .iter()
        .filter(|c| c.group != "events.k8s.io")
        .map(|c| format!("{} {}", c.verb, c.rbac_resource()))
        .collect();
    assert_eq!(
        resources,
        ["create driftevents", "patch fabricdevices/status"],
        "{episode:#?}"
    );
    // Beyond the budget, and counted apart: the Kubernetes Event of the transition (Drifted).
    let announced = episode
        .iter()
        .filter(|c| c.group == "events.k8s.io")
        .count();
    assert_eq!(announced, 1, "{episode:#?}");
    Ok(())
}
