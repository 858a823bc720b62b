//! Status conditions with `metav1.Condition` semantics.
//!
//! Condition types and reasons live here as constants so that controllers, the lab view, tests and
//! kubectl-fabric spell them one way. [`set`] is pure: the caller passes `now`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types.
pub mod types {
    /// The object is fully handled: the device is reachable and watched, the source synced.
    pub const READY: &str = "Ready";
    /// The device's gNMI target answers.
    pub const REACHABLE: &str = "Reachable";
    /// The device's running configuration equals its intent.
    pub const IN_SYNC: &str = "InSync";
    /// A remediation Set is in flight or waiting for the device to confirm it.
    pub const REMEDIATING: &str = "Remediating";
    /// The flap guard stopped auto-remediation: something else keeps changing these paths.
    pub const CONTESTED: &str = "Contested";
    /// A NetBoxSource: every device its filters select was written from the last sync.
    pub const SYNCED: &str = "Synced";
}

/// Condition reasons (CamelCase, as the API conventions ask). Why a device is unreachable comes
/// from the engine (`UnreachableReason::as_str`), which has no Kubernetes types to share these.
pub mod reasons {
    pub const IN_SYNC: &str = "InSync";
    pub const DRIFTED: &str = "Drifted";
    pub const UNKNOWN: &str = "Unknown";
    pub const CONNECTED: &str = "Connected";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const NO_POLICY: &str = "NoPolicySelected";
    pub const SYNCED: &str = "Synced";
    pub const UNREACHABLE: &str = "Unreachable";
    pub const REMEDIATING: &str = "Remediating";
    pub const IDLE: &str = "Idle";
    pub const FLAPPING: &str = "Flapping";
    pub const NOT_CONTESTED: &str = "NotContested";
    // NetBoxSource: why a sync failed or was incomplete.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const INVALID_URL: &str = "InvalidURL";
    pub const SERVER_ERROR: &str = "ServerError";
    pub const REJECTED: &str = "Rejected";
    pub const INVALID_RESPONSE: &str = "InvalidResponse";
    pub const INVALID_DATA: &str = "InvalidData";
}

/// `status` of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(b: bool) -> Self {
        if b { Status::True } else { Status::False }
    }
}

/// Sets condition `type_` in `conditions`, the way the Kubernetes API conventions define it:
/// `lastTransitionTime` moves to `now` only when `status` changes (or the condition is new);
/// reason, message and `observedGeneration` are always updated. Returns whether anything changed,
/// so a caller can skip a status write when nothing did.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> bool {
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let before = existing.clone();
            if existing.status != status.as_str() {
                existing.status = status.as_str().to_owned();
                existing.last_transition_time = now;
            }
            existing.reason = reason.to_owned();
            existing.message = message;
            existing.observed_generation = observed_generation;
            *existing != before
        }
        None => {
            conditions.push(Condition {
                type_: type_.to_owned(),
                status: status.as_str().to_owned(),
                reason: reason.to_owned(),
                message,
                observed_generation,
                last_transition_time: now,
            });
            true
        }
    }
}

/// The condition of type `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether condition `type_` is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == Status::True.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    #[test]
    fn a_new_condition_gets_now_as_its_transition_time() {
        let mut conditions = vec![];
        let changed = set(
            &mut conditions,
            types::IN_SYNC,
            Status::True,
            reasons::IN_SYNC,
            "",
            Some(1),
            at(0),
        );
        assert!(changed);
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].status, "True");
        assert_eq!(conditions[0].last_transition_time, at(0));
        assert_eq!(conditions[0].observed_generation, Some(1));
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = vec![];
        set(
            &mut conditions,
            types::IN_SYNC,
            Status::False,
            reasons::DRIFTED,
            "2 paths",
            Some(1),
            at(0),
        );
        // Same status, new message and generation: the transition time stays.
        let changed = set(
            &mut conditions,
            types::IN_SYNC,
            Status::False,
            reasons::DRIFTED,
            "3 paths",
            Some(2),
            at(10),
        );
        assert!(changed);
        assert_eq!(conditions[0].last_transition_time, at(0));
        assert_eq!(conditions[0].message, "3 paths");
        assert_eq!(conditions[0].observed_generation, Some(2));
        // New status: it moves.
        set(
            &mut conditions,
            types::IN_SYNC,
            Status::True,
            reasons::IN_SYNC,
            "",
            Some(2),
            at(20),
        );
        assert_eq!(conditions[0].last_transition_time, at(20));
        assert_eq!(conditions[0].reason, "InSync");
    }

    #[test]
    fn setting_the_same_condition_again_changes_nothing() {
        let mut conditions = vec![];
        set(
            &mut conditions,
            types::REACHABLE,
            Status::True,
            reasons::CONNECTED,
            "ok",
            Some(3),
            at(0),
        );
        let snapshot = conditions.clone();
        let changed = set(
            &mut conditions,
            types::REACHABLE,
            Status::True,
            reasons::CONNECTED,
            "ok",
            Some(3),
            at(99),
        );
        assert!(!changed, "a steady state must not cause a status write");
        assert_eq!(conditions, snapshot);
    }

    #[test]
    fn conditions_are_found_by_type_not_position() {
        let mut conditions = vec![];
        set(
            &mut conditions,
            types::READY,
            Status::False,
            reasons::UNREACHABLE,
            "",
            None,
            at(0),
        );
        set(
            &mut conditions,
            types::REACHABLE,
            Status::True,
            reasons::CONNECTED,
            "",
            None,
            at(0),
        );
        set(
            &mut conditions,
            types::READY,
            Status::True,
            reasons::CONNECTED,
            "",
            None,
            at(1),
        );
        assert_eq!(conditions.len(), 2);
        assert!(is_true(&conditions, types::READY));
        assert!(is_true(&conditions, types::REACHABLE));
        assert!(!is_true(&conditions, types::IN_SYNC));
        assert_eq!(
            find(&conditions, types::READY)
                .unwrap()
                .last_transition_time,
            at(1)
        );
    }
}
