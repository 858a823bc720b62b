//! Pure mapping between the engine's reports and records and the Kubernetes objects that hold
//! them: a FabricDevice's status, a DriftEvent. No I/O here, so every rule has a plain unit test.

use std::collections::BTreeMap;

use fabric_api::{
    DriftEvent, DriftEventSpec, FabricDevice, FabricDeviceStatus,
    conditions::{self, Status, reasons, types},
    device::{AppliedPolicy, MAX_STATUS_PATHS, SubscriptionMode, SubscriptionStatus},
    event::{
        DEVICE_LABEL, DriftKind, DriftedLeaf, FINGERPRINT_LABEL, MAX_DRIFTED_LEAVES, PlannedValue,
        RemediationPlan,
    },
    k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
    kube::{Resource, ResourceExt},
};
use fabric_engine::{DeviceReport, EventRecord, Reachability, SyncState};
use fabric_gnmi::Value;

/// A label value holds at most 63 characters; the first 32 hex digits (128 bits) of the
/// fingerprint find an event, and the spec holds all 64.
pub fn fingerprint_label(fingerprint: &str) -> String {
    fingerprint.chars().take(32).collect()
}

/// The FabricDevice status for `report`, merged into `current` so that conditions keep their
/// transition times. `now` is passed in.
pub fn device_status(
    report: &DeviceReport,
    current: &FabricDeviceStatus,
    now: Time,
) -> FabricDeviceStatus {
    let generation = report.generation;
    let mut status = current.clone();
    status.observed_generation = generation;
    let mut set = |type_: &str, s: Status, reason: &str, message: String| {
        conditions::set(
            &mut status.conditions,
            type_,
            s,
            reason,
            message,
            generation,
            now.clone(),
        );
    };

    let (reachable, reachable_reason, reachable_message) = match &report.reachability {
        Reachability::Reachable => (Status::True, reasons::CONNECTED, String::new()),
        Reachability::Unknown => (Status::Unknown, reasons::UNKNOWN, "connecting".to_owned()),
        Reachability::Unreachable { reason, message } => {
            (Status::False, reason.as_str(), message.clone())
        }
    };
    set(
        types::REACHABLE,
        reachable,
        reachable_reason,
        reachable_message.clone(),
    );

    let (in_sync, sync_reason, sync_message) = match &report.sync {
        SyncState::InSync => (Status::True, reasons::IN_SYNC, String::new()),
        SyncState::Unknown => (
            Status::Unknown,
            reasons::UNKNOWN,
            "not synced since the last connection".to_owned(),
        ),
        SyncState::Drifted { count, paths, .. } => (
            Status::False,
            reasons::DRIFTED,
            match paths.first() {
                Some(first) if *count > 1 => format!("{count} paths drifted, first {first}"),
                Some(first) => format!("1 path drifted: {first}"),
                None => format!("{count} paths drifted"),
            },
        ),
    };
    set(types::IN_SYNC, in_sync, sync_reason, sync_message);

    let no_policy = report.policy_name.is_none();
    let (ready, ready_reason, ready_message) = match (&report.reachability, &report.sync) {
        (Reachability::Unreachable { reason, .. }, _) => {
            (Status::False, reason.as_str(), reachable_message)
        }
        (Reachability::Reachable, SyncState::InSync | SyncState::Drifted { .. }) if no_policy => (
            Status::True,
            reasons::NO_POLICY,
            "watched; no DriftPolicy selects this device, so drift is only reported (mode alert)"
                .to_owned(),
        ),
        (Reachability::Reachable, SyncState::InSync | SyncState::Drifted { .. }) => {
            (Status::True, reasons::SYNCED, "watched".to_owned())
        }
        _ => (Status::Unknown, reasons::UNKNOWN, "connecting".to_owned()),
    };
    set(types::READY, ready, ready_reason, ready_message);

    match &report.sync {
        SyncState::Drifted { count, paths, .. } => {
            status.drift_count = u32::try_from(*count).unwrap_or(u32::MAX);
            status.drifted_paths = paths.iter().take(MAX_STATUS_PATHS).cloned().collect();
        }
        SyncState::InSync => {
            status.drift_count = 0;
            status.drifted_paths.clear();
        }
        // Unknown (reconnecting): keep what was last known rather than claim zero drift.
        SyncState::Unknown => {}
    }
    status.active_drift_event = report.active_event.clone();
    status.policy = Some(AppliedPolicy {
        name: report.policy_name.clone(),
        mode: report.mode,
    });
    status.subscriptions = report
        .roots
        .iter()
        .map(|r| SubscriptionStatus {
            root: r.root.clone(),
            mode: if r.on_change {
                SubscriptionMode::OnChange
            } else {
                SubscriptionMode::Sample
            },
            reason: r.reason.clone(),
        })
        .collect();
    status.last_sync_time = report.last_sync.map(Time).or(status.last_sync_time);
    status.last_drift_time = report.last_drift.map(Time).or(status.last_drift_time);
    status
}

/// JSON for a DriftEvent: gNMI values as their RFC 7951 JSON; what cannot be encoded (a protobuf
/// `Any`) as its text, so nothing is silently dropped.
fn json_of(value: &Value) -> serde_json::Value {
    fabric_gnmi::json::value_to_json(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()))
}

/// The name of an episode's DriftEvent. Deterministic, so a create retried after a timeout
/// finds the first one (409) instead of making a duplicate, as `generateName` would.
pub fn event_name(device: &str, fingerprint: &str, detected_at: jiff::Timestamp) -> String {
    let device: String = device.chars().take(220).collect();
    let short: String = fingerprint.chars().take(10).collect();
    format!("{device}-{short}-{}", detected_at.as_second())
}

/// The DriftEvent object for a new episode, owned by its FabricDevice (deleted with it).
pub fn drift_event(record: &EventRecord, device: &FabricDevice) -> DriftEvent {
    let labels = BTreeMap::from([
        (DEVICE_LABEL.to_owned(), device.name_any()),
        (
            FINGERPRINT_LABEL.to_owned(),
            fingerprint_label(&record.fingerprint),
        ),
    ]);
    let owner = OwnerReference {
        api_version: FabricDevice::api_version(&()).into_owned(),
        kind: FabricDevice::kind(&()).into_owned(),
        name: device.name_any(),
        uid: device.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let drifts = record
        .drift
        .iter()
        .take(MAX_DRIFTED_LEAVES)
        .map(|d| DriftedLeaf {
            path: d.path.to_string(),
            kind: match d.kind {
                fabric_drift::DriftKind::Modified => DriftKind::Modified,
                fabric_drift::DriftKind::Missing => DriftKind::Missing,
                fabric_drift::DriftKind::Unexpected => DriftKind::Unexpected,
            },
            expected: d.expected.as_ref().map(json_of),
            actual: d.actual.as_ref().map(json_of),
        })
        .collect();
    let planned = |entries: &[fabric_gnmi::Leaf]| -> Vec<PlannedValue> {
        entries
            .iter()
            .take(MAX_DRIFTED_LEAVES)
            .map(|leaf| PlannedValue {
                path: leaf.path.to_string(),
                value: json_of(&leaf.value),
            })
            .collect()
    };
    DriftEvent {
        metadata: ObjectMeta {
            name: Some(event_name(
                &device.name_any(),
                &record.fingerprint,
                record.detected_at,
            )),
            namespace: device.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: DriftEventSpec {
            device: device.name_any(),
            policy: record.policy.clone(),
            mode: record.mode,
            fingerprint: record.fingerprint.clone(),
            detected_at: Time(record.detected_at),
            path_count: u32::try_from(record.drift.len()).unwrap_or(u32::MAX),
            drifts,
            plan: RemediationPlan {
                strategy: record.strategy,
                deletes: record
                    .plan
                    .deletes
                    .iter()
                    .take(MAX_DRIFTED_LEAVES)
                    .map(ToString::to_string)
                    .collect(),
                replaces: planned(&record.plan.replaces),
                updates: planned(&record.plan.updates),
            },
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use fabric_api::conditions::find;
    use fabric_drift::policy::Mode;
    use fabric_engine::model::{RootMode, UnreachableReason};

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn report(reachability: Reachability, sync: SyncState) -> DeviceReport {
        DeviceReport {
            generation: Some(3),
            reachability,
            sync,
            policy_name: Some("leaves-auto".into()),
            mode: Mode::Auto,
            roots: vec![
                RootMode {
                    root: "/interfaces".into(),
                    on_change: true,
                    reason: None,
                },
                RootMode {
                    root: "/network-instances/network-instance[name=default]/protocols".into(),
                    on_change: false,
                    reason: Some("ON_CHANGE refused".into()),
                },
            ],
            active_event: None,
            last_sync: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
            last_drift: None,
        }
    }

    fn drifted(count: usize) -> SyncState {
        SyncState::Drifted {
            count,
            paths: (0..count)
                .map(|i| format!("/interfaces/interface[name=Ethernet{i}]/config/mtu"))
                .collect(),
            fingerprint: "ab".repeat(32),
        }
    }

    #[test]
    fn an_in_sync_device_is_ready_reachable_and_in_sync() {
        let status = device_status(
            &report(Reachability::Reachable, SyncState::InSync),
            &Default::default(),
            at(0),
        );
        for t in [types::READY, types::REACHABLE, types::IN_SYNC] {
            assert_eq!(find(&status.conditions, t).unwrap().status, "True", "{t}");
        }
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.drift_count, 0);
        assert_eq!(status.policy.as_ref().unwrap().mode, Mode::Auto);
        assert_eq!(status.subscriptions[1].mode, SubscriptionMode::Sample);
        assert_eq!(
            status.subscriptions[1].reason.as_deref(),
            Some("ON_CHANGE refused")
        );
    }

    #[test]
    fn drift_shows_its_count_first_paths_and_event() {
        let mut r = report(Reachability::Reachable, drifted(25));
        r.active_event = Some("leaf5-abab".into());
        let status = device_status(&r, &Default::default(), at(0));
        let in_sync = find(&status.conditions, types::IN_SYNC).unwrap();
        assert_eq!(
            (in_sync.status.as_str(), in_sync.reason.as_str()),
            ("False", "Drifted")
        );
        assert!(
            in_sync
                .message
                .starts_with("25 paths drifted, first /interfaces"),
            "{}",
            in_sync.message
        );
        assert_eq!(status.drift_count, 25);
        assert_eq!(status.drifted_paths.len(), MAX_STATUS_PATHS);
        assert_eq!(status.active_drift_event.as_deref(), Some("leaf5-abab"));
    }

    #[test]
    fn unreachable_carries_its_reason_and_keeps_the_last_known_drift() {
        let before = device_status(
            &report(Reachability::Reachable, drifted(2)),
            &Default::default(),
            at(0),
        );
        let r = report(
            Reachability::Unreachable {
                reason: UnreachableReason::Unauthenticated,
                message: "bad password".into(),
            },
            SyncState::Unknown,
        );
        let status = device_status(&r, &before, at(10));
        let reachable = find(&status.conditions, types::REACHABLE).unwrap();
        assert_eq!(
            (reachable.status.as_str(), reachable.reason.as_str()),
            ("False", "Unauthenticated")
        );
        assert_eq!(reachable.message, "bad password");
        assert_eq!(reachable.last_transition_time, at(10));
        assert_eq!(
            find(&status.conditions, types::READY).unwrap().status,
            "False"
        );
        assert_eq!(status.drift_count, 2, "not claimed fixed while unknown");
    }

    #[test]
    fn the_same_report_again_leaves_the_status_unchanged() {
        let r = report(Reachability::Reachable, drifted(1));
        let first = device_status(&r, &Default::default(), at(0));
        let second = device_status(&r, &first, at(60));
        assert_eq!(first, second, "steady state writes nothing");
    }

    #[test]
    fn a_device_no_policy_selects_says_so() {
        let mut r = report(Reachability::Reachable, SyncState::InSync);
        r.policy_name = None;
        r.mode = Mode::Alert;
        let status = device_status(&r, &Default::default(), at(0));
        let ready = find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.reason, "NoPolicySelected");
        assert!(ready.message.contains("mode alert"), "{}", ready.message);
        assert_eq!(
            status.policy,
            Some(AppliedPolicy {
                name: None,
                mode: Mode::Alert
            })
        );
    }
}
