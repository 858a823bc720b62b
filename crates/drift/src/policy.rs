//! What to do about drift: the body of a DriftPolicy, without its Kubernetes selector.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;

/// A gNMI path pattern: an optional `origin:`, then elements that may be `*` (any element) or
/// `...` (any depth), each with optional keys whose value may be `*`.
/// `/interfaces/interface[name=*]/config/description`, `/network-instances/.../bgp/neighbors`.
/// Kept as one regular expression so the CRD's CEL rule and [`is_path_pattern`] accept the same set.
macro_rules! path_pattern_regex {
    () => {
        r"^([A-Za-z0-9_.-]+:)?(/(\.\.\.|\*|[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?)(\[[A-Za-z_][A-Za-z0-9_.:-]*=([^\]\\]|\\.)*\])*)+$"
    };
}
pub const PATH_PATTERN_REGEX: &str = path_pattern_regex!();

/// Whether `text` is a path pattern [`PATH_PATTERN_REGEX`] accepts. A hand-written matcher, so the
/// crate needs no regex engine; the tests check it against the examples the CRD rule is tested on.
pub fn is_path_pattern(text: &str) -> bool {
    let rest = match text.find('/') {
        Some(0) => text,
        Some(i) if is_origin(&text[..i]) => &text[i..],
        _ => return false,
    };
    let mut chars = rest.chars().peekable();
    let mut elements = 0;
    while let Some(c) = chars.next() {
        if c != '/' {
            return false;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '/' || c == '[' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if !(name == "..." || name == "*" || is_qualified_name(&name)) {
            return false;
        }
        while chars.peek() == Some(&'[') {
            chars.next();
            let mut key = String::new();
            loop {
                match chars.next() {
                    Some('=') => break,
                    Some(c) => key.push(c),
                    None => return false,
                }
            }
            if !is_key_name(&key) {
                return false;
            }
            loop {
                match chars.next() {
                    Some('\\') => {
                        if chars.next().is_none() {
                            return false;
                        }
                    }
                    Some(']') => break,
                    Some(_) => {}
                    None => return false,
                }
            }
        }
        elements += 1;
    }
    elements > 0
}

fn is_origin(s: &str) -> bool {
    s.len() > 1
        && s.ends_with(':')
        && s[..s.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_qualified_name(s: &str) -> bool {
    match s.split_once(':') {
        Some((module, name)) => is_identifier(module) && is_identifier(name),
        None => is_identifier(s),
    }
}

fn is_key_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
}

/// What the operator does once drift is confirmed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Report the drift; never touch the device.
    #[default]
    Alert,
    /// Propose the repair; apply it once a person approves the DriftEvent.
    Approve,
    /// Repair the drift as soon as it has lasted the dampening time.
    Auto,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Alert => "alert",
            Mode::Approve => "approve",
            Mode::Auto => "auto",
        }
    }
}

/// The rules of a policy, applied to every device it selects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRules {
    /// alert, approve or auto.
    pub mode: Mode,

    /// Limit drift detection to these subtrees (path patterns). Empty: everything the intent owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(min = 1, max = 512)))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": concat!("self.all(p, p.matches(r'", path_pattern_regex!(), "'))"),
        "message": "each scope entry must be a gNMI path pattern such as /interfaces or /network-instances/network-instance[name=*]/vlans",
    }]))]
    pub scope: Vec<String>,

    /// Leaves and subtrees never reported and never touched, as path patterns with wildcard keys:
    /// `/interfaces/interface[name=*]/config/description`, `/network-instances/.../bgp/neighbors/...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(min = 1, max = 512)))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": concat!("self.all(p, p.matches(r'", path_pattern_regex!(), "'))"),
        "message": "each exclusion must be a gNMI path pattern such as /interfaces/interface[name=*]/config/description (keys in [name=value], * for any value, ... for any depth)",
    }]))]
    pub exclusions: Vec<String>,

    /// Drift must persist this long before it is reported; a blip shorter than this never is.
    #[serde(default)]
    pub dampening: Duration,

    #[serde(default)]
    pub remediation: RemediationRules,

    #[serde(default)]
    pub notifications: Notifications,

    #[serde(default)]
    pub history: History,
}

/// How repairs are made and limited.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationRules {
    #[serde(default)]
    pub strategy: Strategy,

    /// At most this many remediations per device per hour; absent means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub max_per_hour: Option<u32>,

    #[serde(default)]
    pub flap_guard: FlapGuard,

    #[serde(default)]
    pub retry: Retry,

    /// When `auto` may act. Empty: at any time. Outside every window, events wait as Pending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

/// What a remediation Set contains.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Only the drifted leaves.
    #[default]
    Minimal,
    /// Each owned subtree that drifted, replaced whole.
    Replace,
}

/// Stops the operator from fighting a person or another system over the same path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlapGuard {
    /// A path remediated this many times within `window` marks the device Contested.
    #[serde(default = "flap_threshold")]
    #[schemars(range(min = 2, max = 100))]
    pub threshold: u32,

    #[serde(default = "flap_window")]
    pub window: Duration,
}

fn flap_threshold() -> u32 {
    3
}

fn flap_window() -> Duration {
    Duration::from_secs(600)
}

impl Default for FlapGuard {
    fn default() -> Self {
        FlapGuard {
            threshold: flap_threshold(),
            window: flap_window(),
        }
    }
}

/// How a remediation whose Set fails (or is not confirmed by the device) is tried again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// Attempts in all, the first included; after the last one the event is Failed.
    #[serde(default = "retry_attempts")]
    #[schemars(range(min = 1, max = 10))]
    pub attempts: u32,

    /// Wait before the second attempt; doubled for each further one.
    #[serde(default = "retry_backoff")]
    pub backoff: Duration,
}

fn retry_attempts() -> u32 {
    3
}

fn retry_backoff() -> Duration {
    Duration::from_secs(5)
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: retry_attempts(),
            backoff: retry_backoff(),
        }
    }
}

/// A recurring window in which `auto` remediation may run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// Start times as a five-field cron expression (minute hour day-of-month month day-of-week),
    /// e.g. `0 2 * * 1-5` for 02:00 on weekdays.
    #[schemars(length(min = 9, max = 128))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": r"self.matches('^\\S+( \\S+){4}$')",
        "message": "schedule must be a five-field cron expression such as '0 2 * * 1-5'",
    }]))]
    pub schedule: String,

    /// How long the window stays open after each start.
    pub duration: Duration,

    /// IANA time zone of the schedule, e.g. `Europe/Paris`; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
}

/// Where transitions are announced.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub webhooks: Vec<Webhook>,
}

/// A webhook called on drift detected, approved, rejected, remediated, failed and contested.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// The Secret key holding the URL (a Slack incoming-webhook URL is itself a credential).
    pub url_secret_ref: SecretKeyRef,

    #[serde(default)]
    pub format: WebhookFormat,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookFormat {
    /// Slack-compatible `text` and `blocks`.
    #[default]
    Slack,
    /// The event as JSON, diff included.
    Json,
}

/// How many DriftEvents to keep.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// Closed DriftEvents kept per device; older ones are deleted.
    #[serde(default = "history_keep")]
    #[schemars(range(min = 1, max = 1000))]
    pub keep: u32,
}

fn history_keep() -> u32 {
    20
}

impl Default for History {
    fn default() -> Self {
        History {
            keep: history_keep(),
        }
    }
}

/// A key in a Secret of the object's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD_PATTERNS: &[&str] = &[
        "",
        "interfaces",
        "/interfaces/interface[name=*",
        "/interfaces/interface[=x]",
        "/interfaces//config",
        "/interfaces/interface name",
        "/a[k=v]x",
    ];

    // The patterns it accepts are tested with the parser, in pattern.rs.
    #[test]
    fn path_patterns_that_do_not() {
        for p in BAD_PATTERNS {
            assert!(!is_path_pattern(p), "{p} should be rejected");
        }
    }

    #[test]
    fn the_crd_rule_uses_the_documented_regex() {
        let schema = serde_json::to_string(&schemars::schema_for!(PolicyRules)).unwrap();
        let escaped = serde_json::to_string(PATH_PATTERN_REGEX).unwrap();
        let escaped = escaped.trim_matches('"');
        assert_eq!(
            schema.matches(escaped).count(),
            2,
            "scope and exclusions rules"
        );
    }

    #[test]
    fn policy_defaults_are_safe() {
        let rules: PolicyRules = serde_yaml::from_str("mode: auto").unwrap();
        assert_eq!(rules.dampening, Duration::ZERO);
        assert_eq!(rules.remediation.flap_guard.threshold, 3);
        assert_eq!(rules.remediation.strategy, Strategy::Minimal);
        assert_eq!(rules.history.keep, 20);
        assert!(serde_yaml::from_str::<PolicyRules>("mode: sometimes").is_err());
    }
}
