//! Webhook notifications of drift transitions (detected, approved, rejected, remediated, failed,
//! contested), in a Slack-compatible format or as JSON carrying the diff.
//!
//! Sessions never wait on a webhook: a notice goes into a bounded queue (a full queue drops it
//! and counts it), and one task delivers each notice to each target on its own, retrying with
//! exponential backoff. Failures are counted in [`Stats`]; URLs are credentials and never logged.

use std::{sync::Arc, sync::atomic::Ordering, time::Duration};

use fabric_drift::{DriftItem, DriftKind, policy::Mode};
use serde_json::{Value as Json, json};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::{
    Stats,
    model::{DeviceKey, WebhookTarget},
};
use fabric_drift::policy::WebhookFormat;

/// The transitions announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Detected,
    Approved,
    Rejected,
    Remediated,
    Failed,
    Contested,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Detected => "detected",
            NoticeKind::Approved => "approved",
            NoticeKind::Rejected => "rejected",
            NoticeKind::Remediated => "remediated",
            NoticeKind::Failed => "failed",
            NoticeKind::Contested => "contested",
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            NoticeKind::Detected => ":warning:",
            NoticeKind::Approved => ":white_check_mark:",
            NoticeKind::Rejected => ":no_entry_sign:",
            NoticeKind::Remediated => ":wrench:",
            NoticeKind::Failed => ":x:",
            NoticeKind::Contested => ":rotating_light:",
        }
    }
}

/// One transition of one device.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    pub device: DeviceKey,
    pub event: Option<String>,
    pub policy: Option<String>,
    pub mode: Mode,
    pub fingerprint: Option<String>,
    /// One line for people.
    pub message: String,
    /// The drift (expected vs actual), for the JSON format; the Slack text lists the first paths.
    pub drift: Vec<DriftItem>,
    pub at: jiff::Timestamp,
}

/// The most drifted leaves a notice carries; the DriftEvent holds the rest.
const MAX_NOTICE_LEAVES: usize = 100;
/// The most paths a Slack message lists.
const SLACK_PATHS: usize = 10;

impl Notice {
    /// The body for `format`.
    pub fn body(&self, format: WebhookFormat) -> Json {
        match format {
            WebhookFormat::Json => self.json(),
            WebhookFormat::Slack => self.slack(),
        }
    }

    fn json(&self) -> Json {
        let value = |v: &Option<fabric_gnmi::Value>| {
            v.as_ref().map(|v| {
                fabric_gnmi::json::value_to_json(v).unwrap_or_else(|_| Json::String(v.to_string()))
            })
        };
        json!({
            "kind": self.kind.as_str(),
            "device": { "namespace": self.device.namespace, "name": self.device.name },
            "event": self.event,
            "policy": self.policy,
            "mode": self.mode.as_str(),
            "fingerprint": self.fingerprint,
            "message": self.message,
            "at": self.at.to_string(),
            "pathCount": self.drift.len(),
            "drift": self.drift.iter().take(MAX_NOTICE_LEAVES).map(|d| json!({
                "path": d.path.to_string(),
                "kind": kind_str(d.kind),
                "expected": value(&d.expected),
                "actual": value(&d.actual),
            })).collect::<Vec<_>>(),
        })
    }

    fn slack(&self) -> Json {
        let title = format!(
            "{} drift {} on {}",
            self.kind.emoji(),
            self.kind.as_str(),
            self.device
        );
        let mut lines = vec![format!("*{title}*"), self.message.clone()];
        let mut context = vec![format!("mode `{}`", self.mode.as_str())];
        if let Some(policy) = &self.policy {
            context.push(format!("policy `{policy}`"));
        }
        if let Some(event) = &self.event {
            context.push(format!("event `{event}`"));
        }
        lines.push(context.join(" · "));
        if !self.drift.is_empty() {
            let mut paths: Vec<String> = self
                .drift
                .iter()
                .take(SLACK_PATHS)
                .map(|d| format!("• `{}` ({})", d.path, kind_str(d.kind)))
                .collect();
            if self.drift.len() > SLACK_PATHS {
                paths.push(format!("… and {} more", self.drift.len() - SLACK_PATHS));
            }
            lines.push(paths.join("\n"));
        }
        let text = lines.join("\n");
        json!({
            "text": title,
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
        })
    }
}

fn kind_str(kind: DriftKind) -> &'static str {
    match kind {
        DriftKind::Modified => "modified",
        DriftKind::Missing => "missing",
        DriftKind::Unexpected => "unexpected",
    }
}

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    pub attempts: u32,
    /// Before the second attempt; doubled for each further one.
    pub backoff: Duration,
    pub timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            attempts: 5,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Notices waiting for delivery at most; more are dropped (and counted) rather than slow a session.
const QUEUE: usize = 1024;
/// Deliveries in flight at most.
const IN_FLIGHT: usize = 32;

type Job = (Vec<WebhookTarget>, Arc<Notice>);

/// The sessions' handle on the delivery task.
#[derive(Clone)]
pub struct Notifier {
    queue: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl Notifier {
    /// Starts the delivery task (needs a Tokio runtime).
    pub fn start(stats: Arc<Stats>, options: DeliveryOptions) -> Notifier {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(deliver_all(jobs, stats.clone(), options));
        Notifier { queue, stats }
    }

    /// Queues `notice` for every target; returns at once.
    pub fn send(&self, targets: &[WebhookTarget], notice: Notice) {
        if targets.is_empty() {
            return;
        }
        if self
            .queue
            .try_send((targets.to_vec(), Arc::new(notice)))
            .is_err()
        {
            self.stats
                .webhooks_dropped
                .fetch_add(targets.len() as u64, Ordering::Relaxed);
            warn!("webhook queue full; a notification was dropped");
        }
    }
}

async fn deliver_all(mut jobs: mpsc::Receiver<Job>, stats: Arc<Stats>, options: DeliveryOptions) {
    let client = match reqwest::Client::builder().timeout(options.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook HTTP client; notifications are off");
            while let Some((targets, _)) = jobs.recv().await {
                stats
                    .webhooks_dropped
                    .fetch_add(targets.len() as u64, Ordering::Relaxed);
            }
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some((targets, notice)) = jobs.recv().await {
        for target in targets {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (client, stats, options, notice) = (
                client.clone(),
                stats.clone(),
                options.clone(),
                notice.clone(),
            );
            tokio::spawn(async move {
                deliver(&client, &target, &notice, &stats, &options).await;
                drop(permit);
            });
        }
    }
}

/// One notice to one target, retried; errors name the webhook, never its URL.
async fn deliver(
    client: &reqwest::Client,
    target: &WebhookTarget,
    notice: &Notice,
    stats: &Stats,
    options: &DeliveryOptions,
) {
    let body = notice.body(target.format);
    let mut backoff = options.backoff;
    for attempt in 1..=options.attempts.max(1) {
        let outcome = client.post(&target.url).json(&body).send().await;
        let error = match outcome {
            Ok(response) if response.status().is_success() => {
                stats.webhooks_sent.fetch_add(1, Ordering::Relaxed);
                debug!(webhook = %target.name, kind = notice.kind.as_str(), device = %notice.device, "notification delivered");
                return;
            }
            Ok(response) => format!("HTTP {}", response.status()),
            // Without the URL: reqwest puts it in its errors.
            Err(e) => e.without_url().to_string(),
        };
        stats.webhook_failures.fetch_add(1, Ordering::Relaxed);
        warn!(webhook = %target.name, attempt, %error, "notification not delivered");
        if attempt < options.attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    stats.webhooks_dropped.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use fabric_gnmi::{Path, Value};

    use super::*;

    fn notice() -> Notice {
        let path: Path = "/interfaces/interface[name=Ethernet1]/config/mtu"
            .parse()
            .unwrap();
        Notice {
            kind: NoticeKind::Detected,
            device: DeviceKey::new("fabric", "leaf1"),
            event: Some("leaf1-abcdef0123-1800000000".into()),
            policy: Some("leaves-approve".into()),
            mode: Mode::Approve,
            fingerprint: Some("ab".repeat(32)),
            message: "1 path drifted".into(),
            drift: vec![DriftItem {
                path,
                kind: DriftKind::Modified,
                expected: Some(Value::Uint(9214)),
                actual: Some(Value::Uint(1500)),
            }],
            at: "2026-11-21T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_json_format_carries_the_diff() {
        let body = notice().body(WebhookFormat::Json);
        assert_eq!(body["kind"], "detected");
        assert_eq!(body["device"]["name"], "leaf1");
        assert_eq!(body["mode"], "approve");
        assert_eq!(body["pathCount"], 1);
        assert_eq!(
            body["drift"][0],
            json!({
                "path": "/interfaces/interface[name=Ethernet1]/config/mtu",
                "kind": "modified",
                "expected": 9214,
                "actual": 1500,
            })
        );
    }

    #[test]
    fn the_slack_format_has_text_and_a_section_block() {
        let body = notice().body(WebhookFormat::Slack);
        assert_eq!(body["text"], ":warning: drift detected on fabric/leaf1");
        let text = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
        assert!(text.contains("policy `leaves-approve`"), "{text}");
        assert!(
            text.contains("• `/interfaces/interface[name=Ethernet1]/config/mtu` (modified)"),
            "{text}"
        );
    }
}
