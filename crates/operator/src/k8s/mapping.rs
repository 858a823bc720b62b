//! Pure mapping between the engine's reports and records and the Kubernetes objects that hold
//! them: a FabricDevice's status, a DriftEvent. No I/O here, so every rule has a plain unit test.

use std::collections::BTreeMap;

use fabric_api::{
    DriftEvent, DriftEventSpec, DriftPolicy, DriftPolicyStatus, FabricDevice, FabricDeviceStatus,
    conditions::{self, Status, reasons, types},
    device::{AppliedPolicy, MAX_STATUS_PATHS, SubscriptionMode, SubscriptionStatus},
    event::{
        self as api_event, DEVICE_LABEL, DriftKind, DriftedLeaf, FINGERPRINT_LABEL,
        MAX_DRIFTED_LEAVES, PlannedValue, RemediationPlan,
    },
    k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
    kube::{Resource, ResourceExt},
    selection::{self, policy_for},
};
use fabric_engine::{
    Decision, DecisionAction, DeviceReport, EventRecord, EventUpdate, KnownEvent, Phase,
    Reachability, SyncState,
};
use fabric_gnmi::Value;

/// A label value holds at most 63 characters; the first 32 hex digits (128 bits) of the
/// fingerprint find an event, and the spec holds all 64.
pub fn fingerprint_label(fingerprint: &str) -> String {
    fingerprint.chars().take(32).collect()
}

/// The value of an event's device label. A label value holds at most 63 characters; a device
/// name (a DNS subdomain) may hold 253, and an API server refuses the whole object (422) for a
/// longer label. A name up to 63 is its own value (a DNS subdomain is a valid label value); a
/// longer one becomes its first 52 characters and 10 hex digits of its SHA-256, so long names
/// that share a prefix stay apart. Creating and finding events use this same value.
pub fn device_label(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    let prefix: String = name.chars().take(52).collect();
    // A label value ends with an alphanumeric; a cut may leave a '-' or '.'.
    let prefix = prefix.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{prefix}-{}", &digest[..10])
}

/// The label selector of a device's events.
pub fn device_selector(name: &str) -> String {
    format!("{DEVICE_LABEL}={}", device_label(name))
}

/// Whether `event` is an open episode of `fingerprint` on `device` (not settled yet).
pub fn is_open_episode(event: &DriftEvent, device: &str, fingerprint: &str) -> bool {
    event.spec.device == device
        && event.spec.fingerprint == fingerprint
        && event.labels().get(FINGERPRINT_LABEL) == Some(&fingerprint_label(fingerprint))
        && !event
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(api_event::Phase::is_final)
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
    status.last_remediation_time = report
        .last_remediation
        .map(Time)
        .or(status.last_remediation_time);
    status.handled_remediate_request = report
        .remediate_handled
        .clone()
        .or(status.handled_remediate_request);

    let (remediating, reason, message) = if report.remediating {
        (
            Status::True,
            reasons::REMEDIATING,
            format!(
                "remediating {}",
                report.active_event.as_deref().unwrap_or("the drift")
            ),
        )
    } else {
        (Status::False, reasons::IDLE, String::new())
    };
    conditions::set(
        &mut status.conditions,
        types::REMEDIATING,
        remediating,
        reason,
        message,
        generation,
        now.clone(),
    );
    status.contested_paths = report.contested.clone();
    let (contested, reason, message) = if report.contested.is_empty() {
        (Status::False, reasons::NOT_CONTESTED, String::new())
    } else {
        (
            Status::True,
            reasons::FLAPPING,
            format!(
                "auto-remediation paused: {} path(s) keep being changed back ({}); annotate fabric.netops.dev/contested=clear to resume",
                report.contested.len(),
                report.contested.join(", ")
            ),
        )
    };
    conditions::set(
        &mut status.conditions,
        types::CONTESTED,
        contested,
        reason,
        message,
        generation,
        now,
    );
    status
}

fn api_phase(phase: Phase) -> api_event::Phase {
    match phase {
        Phase::Pending => api_event::Phase::Pending,
        Phase::Alerted => api_event::Phase::Alerted,
        Phase::Approved => api_event::Phase::Approved,
        Phase::Rejected => api_event::Phase::Rejected,
        Phase::Remediating => api_event::Phase::Remediating,
        Phase::Remediated => api_event::Phase::Remediated,
        Phase::Failed => api_event::Phase::Failed,
        Phase::Superseded => api_event::Phase::Superseded,
        Phase::Resolved => api_event::Phase::Resolved,
    }
}

fn engine_phase(phase: api_event::Phase) -> Phase {
    match phase {
        api_event::Phase::Pending => Phase::Pending,
        api_event::Phase::Alerted => Phase::Alerted,
        api_event::Phase::Approved => Phase::Approved,
        api_event::Phase::Rejected => Phase::Rejected,
        api_event::Phase::Remediating => Phase::Remediating,
        api_event::Phase::Remediated => Phase::Remediated,
        api_event::Phase::Failed => Phase::Failed,
        api_event::Phase::Superseded => Phase::Superseded,
        api_event::Phase::Resolved => Phase::Resolved,
    }
}

fn api_action(action: DecisionAction) -> api_event::DecisionAction {
    match action {
        DecisionAction::Approve => api_event::DecisionAction::Approve,
        DecisionAction::Reject => api_event::DecisionAction::Reject,
        DecisionAction::Auto => api_event::DecisionAction::Auto,
        DecisionAction::Manual => api_event::DecisionAction::Manual,
    }
}

fn engine_action(action: api_event::DecisionAction) -> DecisionAction {
    match action {
        api_event::DecisionAction::Approve => DecisionAction::Approve,
        api_event::DecisionAction::Reject => DecisionAction::Reject,
        api_event::DecisionAction::Auto => DecisionAction::Auto,
        api_event::DecisionAction::Manual => DecisionAction::Manual,
    }
}

/// The JSON merge patch of a DriftEvent's status for `update`: phase, reason and message always
/// (a message of the previous phase is removed); decision, result and supersededBy when the
/// update carries them, so a decision once recorded stays.
pub fn event_status_patch(update: &EventUpdate) -> serde_json::Value {
    let mut status = serde_json::json!({
        "phase": api_phase(update.phase),
        "reason": update.reason,
        "message": update.message,
    });
    if let Some(d) = &update.decision {
        status["decision"] = serde_json::to_value(api_event::Decision {
            action: api_action(d.action),
            by: d.by.chars().take(253).collect(),
            at: Time(d.at),
        })
        .expect("a decision serializes");
    }
    if let Some(o) = &update.outcome {
        status["result"] = serde_json::to_value(api_event::RemediationResult {
            started_at: o.started_at.map(Time),
            finished_at: o.finished_at.map(Time),
            error: o.error.clone(),
            attempts: o.attempts,
            duration_milliseconds: o.duration.map(|d| d.as_millis() as u64),
        })
        .expect("a result serializes");
    }
    if let Some(by) = &update.superseded_by {
        status["supersededBy"] = serde_json::json!(by);
    }
    status
}

/// What the engine needs to know of an existing DriftEvent. One without a phase yet (created,
/// its first status write not done) is Pending or Alerted by its mode.
pub fn known_event(event: &DriftEvent) -> KnownEvent {
    let status = event.status.as_ref();
    let phase = engine_phase(event.phase());
    KnownEvent {
        name: event.name_any(),
        fingerprint: event.spec.fingerprint.clone(),
        phase,
        decision: status.and_then(|s| s.decision.as_ref()).map(|d| Decision {
            action: engine_action(d.action),
            by: d.by.clone(),
            at: d.at.0,
        }),
    }
}

/// The most device names a DriftPolicy's status lists.
pub const MAX_POLICY_DEVICES: usize = 100;

/// A DriftPolicy's status: the devices (of its namespace) it is in force for, i.e. it matches
/// them and wins over the other policies that do; Ready=False when its selector or maintenance
/// windows cannot be used, or a webhook's URL Secret key is missing (`has_secret_key`).
pub fn policy_status(
    policy: &DriftPolicy,
    devices: &[FabricDevice],
    policies: &[DriftPolicy],
    has_secret_key: impl Fn(&fabric_drift::policy::SecretKeyRef) -> bool,
    current: &DriftPolicyStatus,
    now: Time,
) -> DriftPolicyStatus {
    let mut names: Vec<String> = devices
        .iter()
        .filter(|d| d.namespace() == policy.namespace())
        .filter(|d| policy_for(d, policies).is_some_and(|p| p.name_any() == policy.name_any()))
        .map(|d| d.name_any())
        .collect();
    names.sort();
    let mut status = current.clone();
    status.observed_generation = policy.metadata.generation;
    status.matched_devices = u32::try_from(names.len()).unwrap_or(u32::MAX);
    let valid = selection::matches(&policy.spec.selector, &Default::default())
        .map_err(|e| e.to_string())
        .and_then(|_| {
            fabric_engine::window::Windows::parse(
                &policy.spec.rules.remediation.maintenance_windows,
            )
            .map_err(|e| format!("{e}; auto-remediation waits until it is fixed"))
        })
        .and_then(|_| {
            let missing: Vec<String> = policy
                .spec
                .rules
                .notifications
                .webhooks
                .iter()
                .filter(|w| !has_secret_key(&w.url_secret_ref))
                .map(|w| {
                    format!(
                        "webhook {}: Secret {:?} has no key {:?}",
                        w.name, w.url_secret_ref.name, w.url_secret_ref.key
                    )
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{}; those notifications are not sent",
                    missing.join("; ")
                ))
            }
        });
    let (state, reason, message) = match valid {
        Err(e) => (Status::False, reasons::INVALID_SPEC, e),
        Ok(_) => (
            Status::True,
            reasons::SYNCED,
            format!("in force for {} devices", names.len()),
        ),
    };
    conditions::set(
        &mut status.conditions,
        types::READY,
        state,
        reason,
        message,
        policy.metadata.generation,
        now,
    );
    names.truncate(MAX_POLICY_DEVICES);
    status.devices = names;
    status
}

/// A Kubernetes Event worth publishing: the status crossed a line a person cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub warning: bool,
    /// CamelCase, as `kubectl describe` shows it: Drifted, InSync, Unreachable, Reachable.
    pub reason: &'static str,
    /// What the operator did: a verb.
    pub action: &'static str,
    pub note: String,
}

/// The transitions from `before` to `after`; none in steady state, so Events are emitted only
/// when something changed.
pub fn transitions(before: &FabricDeviceStatus, after: &FabricDeviceStatus) -> Vec<Transition> {
    let status_of = |s: &FabricDeviceStatus, t: &str| {
        conditions::find(&s.conditions, t).map(|c| (c.status.clone(), c.message.clone()))
    };
    let mut out = Vec::new();
    match (
        status_of(before, types::REACHABLE),
        status_of(after, types::REACHABLE),
    ) {
        (b, Some((now, message))) if b.as_ref().map(|(s, _)| s) != Some(&now) => {
            if now == "False" {
                out.push(Transition {
                    warning: true,
                    reason: "Unreachable",
                    action: "Connect",
                    note: message,
                });
            } else if now == "True" && b.is_some() {
                out.push(Transition {
                    warning: false,
                    reason: "Reachable",
                    action: "Connect",
                    note: String::new(),
                });
            }
        }
        _ => {}
    }
    match (
        status_of(before, types::IN_SYNC),
        status_of(after, types::IN_SYNC),
    ) {
        (b, Some((now, message))) if b.as_ref().map(|(s, _)| s) != Some(&now) => {
            if now == "False" {
                out.push(Transition {
                    warning: true,
                    reason: "Drifted",
                    action: "DetectDrift",
                    note: message,
                });
            } else if now == "True" && b.as_ref().is_some_and(|(s, _)| s == "False") {
                out.push(Transition {
                    warning: false,
                    reason: "InSync",
                    action: "DetectDrift",
                    note: "running configuration matches the intent again".to_owned(),
                });
            }
        }
        _ => {}
    }
    match (
        status_of(before, types::CONTESTED),
        status_of(after, types::CONTESTED),
    ) {
        (b, Some((now, message))) if b.as_ref().map(|(s, _)| s) != Some(&now) => {
            if now == "True" {
                out.push(Transition {
                    warning: true,
                    reason: "Contested",
                    action: "Remediate",
                    note: message,
                });
            } else if b.as_ref().is_some_and(|(s, _)| s == "True") {
                out.push(Transition {
                    warning: false,
                    reason: "ContestCleared",
                    action: "Remediate",
                    note: "auto-remediation resumed".to_owned(),
                });
            }
        }
        _ => {}
    }
    if let (b, Some((now, message))) = (
        status_of(before, types::REMEDIATING),
        status_of(after, types::REMEDIATING),
    ) && now == "True"
        && b.as_ref().map(|(s, _)| s) != Some(&now)
    {
        out.push(Transition {
            warning: false,
            reason: "Remediating",
            action: "Remediate",
            note: message,
        });
    }
    out
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
        (DEVICE_LABEL.to_owned(), device_label(&device.name_any())),
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
            last_sync: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
            ..DeviceReport::default()
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

    fn lab_policy_status(name: &str) -> DriftPolicyStatus {
        let lab = crate::lab::Lab::embedded().unwrap();
        let policy = lab.policies.iter().find(|p| p.name_any() == name).unwrap();
        policy_status(
            policy,
            &lab.devices,
            &lab.policies,
            |_| true,
            &Default::default(),
            at(0),
        )
    }

    #[test]
    fn a_policy_status_lists_the_devices_it_is_in_force_for() {
        let status = lab_policy_status("leaves-auto");
        assert_eq!(status.matched_devices, 4);
        assert_eq!(status.devices, ["leaf5", "leaf6", "leaf7", "leaf8"]);
        assert_eq!(
            find(&status.conditions, types::READY).unwrap().message,
            "in force for 4 devices"
        );
        assert_eq!(
            lab_policy_status("spines-alert").devices,
            ["spine1", "spine2"]
        );
    }

    #[test]
    fn events_are_emitted_on_transitions_only() {
        let in_sync = device_status(
            &report(Reachability::Reachable, SyncState::InSync),
            &Default::default(),
            at(0),
        );
        // First sync of a healthy device: nothing to announce.
        assert!(transitions(&Default::default(), &in_sync).is_empty());
        let drifted = device_status(
            &report(Reachability::Reachable, drifted(2)),
            &in_sync,
            at(1),
        );
        let t = transitions(&in_sync, &drifted);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].reason, t[0].warning), ("Drifted", true));
        assert!(t[0].note.starts_with("2 paths drifted"), "{}", t[0].note);
        assert!(
            transitions(&drifted, &drifted).is_empty(),
            "steady state emits nothing"
        );
        let back = device_status(
            &report(Reachability::Reachable, SyncState::InSync),
            &drifted,
            at(2),
        );
        assert_eq!(transitions(&drifted, &back)[0].reason, "InSync");
        let down = device_status(
            &report(
                Reachability::Unreachable {
                    reason: UnreachableReason::ConnectionRefused,
                    message: "refused".into(),
                },
                SyncState::Unknown,
            ),
            &back,
            at(3),
        );
        let t = transitions(&back, &down);
        assert_eq!(
            (t[0].reason, t[0].note.as_str()),
            ("Unreachable", "refused")
        );
        let up = device_status(
            &report(Reachability::Reachable, SyncState::InSync),
            &down,
            at(4),
        );
        assert_eq!(transitions(&down, &up)[0].reason, "Reachable");
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

    #[test]
    fn remediation_and_the_flap_guard_show_as_conditions_and_events() {
        let mut r = report(Reachability::Reachable, drifted(1));
        r.active_event = Some("leaf5-ev".into());
        let idle = device_status(&r, &Default::default(), at(0));
        let cond = |s: &FabricDeviceStatus, t: &str| {
            let c = find(&s.conditions, t).unwrap();
            (c.status.clone(), c.reason.clone())
        };
        assert_eq!(
            cond(&idle, types::REMEDIATING),
            ("False".into(), "Idle".into())
        );
        assert_eq!(
            cond(&idle, types::CONTESTED),
            ("False".into(), "NotContested".into())
        );

        r.remediating = true;
        let busy = device_status(&r, &idle, at(1));
        assert_eq!(
            cond(&busy, types::REMEDIATING),
            ("True".into(), "Remediating".into())
        );
        assert_eq!(
            transitions(&idle, &busy)
                .iter()
                .map(|t| t.reason)
                .collect::<Vec<_>>(),
            ["Remediating"]
        );

        r.remediating = false;
        r.sync = SyncState::InSync;
        r.contested = vec!["/interfaces/interface[name=Ethernet1]/config/mtu".into()];
        r.last_remediation = Some(jiff::Timestamp::from_second(1_800_000_002).unwrap());
        r.remediate_handled = Some("2026-11-21T12:00:00Z".into());
        let contested = device_status(&r, &busy, at(2));
        let c = find(&contested.conditions, types::CONTESTED).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Flapping"));
        assert!(
            c.message.contains("Ethernet1") && c.message.contains("contested=clear"),
            "{}",
            c.message
        );
        assert_eq!(contested.contested_paths, r.contested);
        assert_eq!(contested.last_remediation_time, Some(at(2)));
        assert_eq!(
            contested.handled_remediate_request.as_deref(),
            Some("2026-11-21T12:00:00Z")
        );
        let t = transitions(&busy, &contested);
        let contested_event = t
            .iter()
            .find(|t| t.reason == "Contested")
            .expect("a Contested Event");
        assert!(contested_event.warning);

        r.contested.clear();
        let cleared = device_status(&r, &contested, at(3));
        assert!(
            transitions(&contested, &cleared)
                .iter()
                .any(|t| t.reason == "ContestCleared")
        );
        assert!(cleared.contested_paths.is_empty());
        // The handled request is kept when a later report does not carry one.
        assert!(cleared.handled_remediate_request.is_some());
    }

    #[test]
    fn a_device_label_is_a_valid_label_value_unique_per_name() {
        assert_eq!(device_label("leaf1"), "leaf1");
        let exact = "a".repeat(63);
        assert_eq!(device_label(&exact), exact);
        // Cut after a '-': the value still ends with an alphanumeric.
        let a = format!("{}-{}", "b".repeat(51), "x".repeat(30));
        let b = format!("{}-{}", "b".repeat(51), "y".repeat(30));
        let (la, lb) = (device_label(&a), device_label(&b));
        assert_ne!(la, lb);
        for l in [&la, &lb] {
            assert!(l.len() <= 63, "{l}");
            assert!(l.starts_with('b') && !l.contains("--"), "{l}");
        }
    }

    #[test]
    fn an_event_status_patch_names_only_what_the_update_carries() {
        let update = EventUpdate::phase(Phase::Superseded).because("DriftChanged", "");
        let patch = event_status_patch(&update);
        assert_eq!(
            patch,
            serde_json::json!({"phase": "Superseded", "reason": "DriftChanged", "message": null}),
            "no decision or result: a merge patch leaves those as they were"
        );
        let mut update = EventUpdate::phase(Phase::Remediated).because("Confirmed", "done");
        update.decision = Some(Decision {
            action: DecisionAction::Manual,
            by: "kubectl-fabric".into(),
            at: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        });
        update.outcome = Some(fabric_engine::Outcome {
            attempts: 1,
            duration: Some(std::time::Duration::from_millis(37)),
            ..Default::default()
        });
        update.superseded_by = None;
        let patch = event_status_patch(&update);
        assert_eq!(patch["decision"]["action"], "manual");
        assert_eq!(patch["decision"]["by"], "kubectl-fabric");
        assert_eq!(patch["result"]["durationMilliseconds"], 37);
        assert_eq!(patch["result"]["attempts"], 1);
    }

    #[test]
    fn a_known_event_without_a_phase_takes_its_modes_first_phase() {
        let record = EventRecord {
            device: fabric_engine::DeviceKey::new("lab", "spine1"),
            policy: None,
            mode: Mode::Alert,
            fingerprint: "ab".repeat(32),
            detected_at: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            drift: vec![],
            plan: Default::default(),
            strategy: Default::default(),
            phase: Phase::Alerted,
            keep: 20,
        };
        let mut device = FabricDevice::default();
        device.metadata.name = Some("spine1".into());
        device.metadata.namespace = Some("lab".into());
        let event = drift_event(&record, &device);
        let known = known_event(&event);
        assert_eq!(known.phase, Phase::Alerted);
        assert_eq!(known.fingerprint, record.fingerprint);
        assert_eq!(known.decision, None);
    }

    #[test]
    fn a_policy_with_a_bad_maintenance_window_is_not_ready_and_says_why() {
        let mut policy: DriftPolicy = serde_yaml::from_str(
            "apiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: p, namespace: lab}\nspec:\n  mode: auto\n  remediation:\n    maintenanceWindows:\n    - {schedule: '0 2 * * *', duration: 1h, timeZone: Mars/Olympus}\n",
        )
        .unwrap();
        policy.metadata.generation = Some(1);
        let status = policy_status(
            &policy,
            &[],
            std::slice::from_ref(&policy),
            |_| true,
            &Default::default(),
            at(0),
        );
        let ready = find(&status.conditions, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "InvalidSpec")
        );
        assert!(ready.message.contains("Mars/Olympus"), "{}", ready.message);

        let policy: DriftPolicy = serde_yaml::from_str(
            "apiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: p, namespace: lab}\nspec:\n  mode: auto\n  notifications:\n    webhooks:\n    - {name: slack, urlSecretRef: {name: hooks, key: slack}}\n",
        )
        .unwrap();
        let status = policy_status(
            &policy,
            &[],
            std::slice::from_ref(&policy),
            |_| false,
            &Default::default(),
            at(0),
        );
        let ready = find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(
            ready.message,
            "webhook slack: Secret \"hooks\" has no key \"slack\"; those notifications are not sent"
        );
    }
}
