//! Prometheus metrics (prefix `fabric_`). Labels are bounded: kinds of writes, modes, phases,
//! reasons; never an error's text.

use std::sync::{Arc, atomic::Ordering};

use fabric_engine::Stats;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{
        counter::ConstCounter, counter::Counter, family::Family, gauge::ConstGauge, gauge::Gauge,
        histogram::Histogram,
    },
    registry::Registry,
};

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    api_writes: Family<Vec<(String, String)>, Counter>,
    drift_events: Family<Vec<(String, String)>, Counter>,
    /// A device change reaching the port (right after its notification is evaluated) → its
    /// status written, seconds.
    pub detection_latency: Histogram,
    /// The NetBoxSource controller's.
    pub netbox: crate::k8s::netbox::NetboxMetrics,
    /// 1 while this replica leads (runs the controllers), 0 on a standby.
    leader: Gauge,
}

/// Exposes the engine's counters at scrape time, so the hot path only bumps atomics.
#[derive(Debug)]
struct EngineCollector(Arc<Stats>);

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = &self.0;
        for (name, help, value) in [
            ("fabric_sessions", "gNMI sessions running", &stats.sessions),
            (
                "fabric_devices_reachable",
                "devices whose gNMI target answers",
                &stats.reachable,
            ),
            (
                "fabric_devices_drifted",
                "devices with reported drift",
                &stats.drifted,
            ),
        ] {
            let gauge = ConstGauge::new(value.load(Ordering::Relaxed) as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        for (name, help, value) in [
            (
                "fabric_notifications",
                "gNMI notifications processed",
                &stats.notifications,
            ),
            (
                "fabric_notifications_malformed",
                "notifications that could not be decoded and were skipped",
                &stats.malformed,
            ),
            (
                "fabric_reconnects",
                "gNMI connections lost",
                &stats.reconnects,
            ),
            (
                "fabric_drift_events_opened",
                "DriftEvents opened",
                &stats.events_opened,
            ),
            (
                "fabric_remediation_attempts",
                "remediation SetRequests sent",
                &stats.remediations,
            ),
            (
                "fabric_remediations_confirmed",
                "remediations the devices confirmed (leaves back at intent)",
                &stats.remediated,
            ),
            (
                "fabric_remediation_failures",
                "remediation attempts that failed (Set refused or not confirmed in time)",
                &stats.remediation_failures,
            ),
            (
                "fabric_webhooks_delivered",
                "webhook notifications delivered",
                &stats.webhooks_sent,
            ),
            (
                "fabric_webhook_failures",
                "webhook delivery attempts that failed",
                &stats.webhook_failures,
            ),
            (
                "fabric_webhooks_dropped",
                "webhook notifications given up after their retries, or dropped on a full queue",
                &stats.webhooks_dropped,
            ),
        ] {
            let counter = ConstCounter::new(value.load(Ordering::Relaxed));
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

impl Metrics {
    pub fn new(engine: Arc<Stats>) -> Metrics {
        let mut registry = Registry::default();
        let api_writes = Family::<Vec<(String, String)>, Counter>::default();
        registry.register(
            "fabric_api_writes",
            "writes to the Kubernetes API by kind",
            api_writes.clone(),
        );
        let drift_events = Family::<Vec<(String, String)>, Counter>::default();
        registry.register(
            "fabric_drift_events",
            "DriftEvents entering a phase, by policy mode and phase",
            drift_events.clone(),
        );
        let detection_latency =
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register(
            "fabric_detection_latency_seconds",
            "time from the gNMI notification that changed a device's drift to its status write",
            detection_latency.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "fabric_leader",
            "1 while this replica leads (runs the controllers and takes webhooks), 0 on a standby",
            leader.clone(),
        );
        registry.register_collector(Box::new(EngineCollector(engine)));
        let netbox = crate::k8s::netbox::NetboxMetrics::register(&mut registry);
        Metrics {
            registry,
            api_writes,
            drift_events,
            detection_latency,
            netbox,
            leader,
        }
    }

    /// This replica leads now (`true`) or waits as a standby.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    pub fn api_write(&self, kind: &str) {
        self.api_writes
            .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
            .inc();
    }

    /// A DriftEvent entered `phase`.
    pub fn drift_event(&self, mode: &str, phase: &str) {
        self.drift_events
            .get_or_create(&vec![
                ("mode".to_owned(), mode.to_owned()),
                ("phase".to_owned(), phase.to_owned()),
            ])
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
