//! What goes into the engine (devices and their policies) and what comes out (reports, episodes).

use std::{fmt, time::Duration};

use fabric_drift::{
    intent::{DeviceIntent, Ownership, Platform, RawConfig},
    policy::{PolicyRules, WebhookFormat},
};
use fabric_gnmi::client::{Credentials, TlsMode};

/// Identifies a device: namespace and name (the lab uses one namespace).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceKey {
    pub namespace: String,
    pub name: String,
}

impl DeviceKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        DeviceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Where and how to reach a device, with its secrets already resolved by the adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub address: String,
    pub credentials: Option<Credentials>,
    pub tls: TlsMode,
}

/// The policy in force for a device, resolved by the adapter (selectors are Kubernetes' business).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EffectivePolicy {
    /// None when no DriftPolicy selects the device: it is then treated as `alert`.
    pub name: Option<String>,
    pub rules: PolicyRules,
    /// The policy's webhooks with their URLs read from their Secrets.
    pub webhooks: Vec<WebhookTarget>,
}

/// Where a policy's notifications go.
#[derive(Clone, PartialEq)]
pub struct WebhookTarget {
    pub name: String,
    /// A credential (a Slack incoming-webhook URL is one): never logged.
    pub url: String,
    pub format: WebhookFormat,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("name", &self.name)
            .field("url", &"<redacted>")
            .field("format", &self.format)
            .finish()
    }
}

/// Everything the engine needs to watch one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    pub key: DeviceKey,
    /// The object's generation, echoed back as observedGeneration.
    pub generation: Option<i64>,
    pub target: Target,
    pub platform: Platform,
    pub intent: DeviceIntent,
    pub raw: Vec<RawConfig>,
    pub ownership: Ownership,
    pub policy: EffectivePolicy,
    /// A manual remediation request not handled yet (the remediate annotation's value, when it
    /// differs from the one the status says was handled).
    pub remediate_request: Option<ManualRequest>,
    /// A person asked to lift the flap guard (the contested annotation is `clear`).
    pub clear_contested: bool,
    /// The paths the flap guard found contested, as last reported (the status), when the intent
    /// has not changed since: a new session starts with the guard up on them, so a restart
    /// does not resume fighting a person. Read at a session's start only; afterwards the
    /// session's own guard is the truth.
    pub contested: Vec<String>,
}

/// The remediate annotation: its value (a new value is a new request) and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualRequest {
    pub token: String,
    pub by: String,
    /// When the annotation was set (from managedFields), if known: the decision's time.
    pub at: Option<jiff::Timestamp>,
}

impl DeviceConfig {
    /// Whether `other` describes the same intended configuration (what the flap guard resumes on).
    pub fn same_intent(&self, other: &DeviceConfig) -> bool {
        self.platform == other.platform
            && self.intent == other.intent
            && self.raw == other.raw
            && self.ownership == other.ownership
    }

    /// Whether `other` asks nothing new of a session already running this config. `contested`
    /// only seeds a new session, and it follows the session's own status writes: a change of it
    /// alone is not an update.
    pub fn same_for_running_session(&self, other: &DeviceConfig) -> bool {
        if self.contested == other.contested {
            return self == other;
        }
        *self
            == DeviceConfig {
                contested: self.contested.clone(),
                ..other.clone()
            }
    }
}

/// Why a device cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnreachableReason {
    ConnectionRefused,
    Unauthenticated,
    TlsError,
    Timeout,
    StreamClosed,
    /// The spec cannot be turned into a session (bad intent, bad address).
    InvalidSpec,
}

impl UnreachableReason {
    /// The CamelCase reason written into the Reachable condition.
    pub fn as_str(self) -> &'static str {
        match self {
            UnreachableReason::ConnectionRefused => "ConnectionRefused",
            UnreachableReason::Unauthenticated => "Unauthenticated",
            UnreachableReason::TlsError => "TlsError",
            UnreachableReason::Timeout => "Timeout",
            UnreachableReason::StreamClosed => "StreamClosed",
            UnreachableReason::InvalidSpec => "InvalidSpec",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Reachability {
    /// No attempt finished yet.
    #[default]
    Unknown,
    Reachable,
    Unreachable {
        reason: UnreachableReason,
        message: String,
    },
}

/// How one subscribed root is streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootMode {
    pub root: String,
    pub on_change: bool,
    /// Why SAMPLE is used, when it is.
    pub reason: Option<String>,
}

/// The drift part of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SyncState {
    /// Not synced since the last (re)connect.
    #[default]
    Unknown,
    InSync,
    /// Drift that has lasted the dampening time.
    Drifted {
        count: usize,
        /// The first drifted paths, sorted.
        paths: Vec<String>,
        fingerprint: String,
    },
}

/// The state of one device as the engine sees it; sent to the port when it changes. The default
/// is a device nothing is known of yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceReport {
    pub generation: Option<i64>,
    pub reachability: Reachability,
    pub sync: SyncState,
    pub policy_name: Option<String>,
    pub mode: fabric_drift::policy::Mode,
    pub roots: Vec<RootMode>,
    /// Name of the open DriftEvent, if any.
    pub active_event: Option<String>,
    pub last_sync: Option<jiff::Timestamp>,
    pub last_drift: Option<jiff::Timestamp>,
    /// A remediation Set is in flight or waiting to be confirmed.
    pub remediating: bool,
    /// Paths the flap guard found contested; auto-remediation is paused while any are.
    pub contested: Vec<String>,
    pub last_remediation: Option<jiff::Timestamp>,
    /// The last manual request handled (the remediate annotation's value).
    pub remediate_handled: Option<String>,
    /// When the session received the notification that made this change; None when the change
    /// did not come from the device (a timer, a new spec, a reconnect). Detection latency is
    /// measured from it.
    pub received: Option<std::time::Instant>,
}

/// What an engine run can be tuned with; defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
    /// First reconnect delay and cap (exponential, full jitter).
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    /// Interval of SAMPLE subscriptions where ON_CHANGE is refused.
    pub sample_interval: Duration,
    /// How long the device has to show a remediation's leaves back at intent.
    pub confirm_timeout: Duration,
    /// Remediations in flight at once across the fleet.
    pub max_concurrent_remediations: usize,
    pub webhook_delivery: crate::notify::DeliveryOptions,
    /// How long the initial sync (up to every root's sync_response, including a subscription's
    /// first answer) may take before the device counts as unreachable (Timeout).
    pub sync_timeout: Duration,
    /// The wall clock that maintenance windows are read against (tests inject one).
    pub clock: Clock,
}

/// A source of wall-clock time: the system's, or one a test moves.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(std::sync::Arc::new(jiff::Timestamp::now))
    }

    /// A clock that reads `now()` from `f`.
    pub fn from_fn(f: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) -> Self {
        Clock(std::sync::Arc::new(f))
    }

    pub fn now(&self) -> jiff::Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(60),
            sample_interval: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(10),
            max_concurrent_remediations: 16,
            webhook_delivery: Default::default(),
            sync_timeout: Duration::from_secs(60),
            clock: Clock::system(),
        }
    }
}
