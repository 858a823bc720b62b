//! `kubectl fabric status`: every device at a glance, and how many need someone.

use fabric_api::{
    DriftEvent, FabricDevice, Mode,
    conditions::{self, types},
    event::Phase,
    kube::{ResourceExt, api::ListParams},
};
use serde::Serialize;

use crate::{Context, Error, Format, Scope, list_error, serialized, table};

/// One device, as the table shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRow {
    pub namespace: String,
    pub name: String,
    /// The Reachable condition's status (True, False, Unknown); `-` before the first status.
    pub reachable: String,
    /// Why not reachable, from the condition's reason and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    /// The InSync condition's reason (InSync, Drifted, Unknown).
    pub sync: String,
    pub drifts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub mode: Option<Mode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_drift: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub devices: usize,
    pub drifted: usize,
    pub unreachable: usize,
    /// DriftEvents waiting for `kubectl fabric approve|reject` (phase Pending, mode approve).
    pub pending_approvals: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub devices: Vec<DeviceRow>,
    pub summary: Summary,
}

/// The table's view of one device. Pure.
pub fn row(device: &FabricDevice) -> DeviceRow {
    let status = device.status.clone().unwrap_or_default();
    let reachable = conditions::find(&status.conditions, types::REACHABLE);
    let unreachable = reachable.filter(|c| c.status == "False").map(|c| {
        if c.message.is_empty() {
            c.reason.clone()
        } else {
            format!("{}: {}", c.reason, c.message)
        }
    });
    DeviceRow {
        namespace: device.namespace().unwrap_or_default(),
        name: device.name_any(),
        reachable: reachable.map_or_else(|| "-".to_owned(), |c| c.status.clone()),
        unreachable,
        sync: conditions::find(&status.conditions, types::IN_SYNC)
            .map_or_else(|| "-".to_owned(), |c| c.reason.clone()),
        drifts: status.drift_count,
        policy: status.policy.as_ref().and_then(|p| p.name.clone()),
        mode: status.policy.as_ref().map(|p| p.mode),
        active_event: status.active_drift_event.clone(),
        last_drift: status.last_drift_time.as_ref().map(|t| t.0),
    }
}

/// Rows sorted by namespace and name, and the summary over them. Pure.
pub fn summarize(devices: &[FabricDevice], events: &[DriftEvent]) -> Status {
    let mut rows: Vec<DeviceRow> = devices.iter().map(row).collect();
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let summary = Summary {
        devices: rows.len(),
        drifted: rows.iter().filter(|r| r.drifts > 0).count(),
        unreachable: rows.iter().filter(|r| r.reachable == "False").count(),
        pending_approvals: events
            .iter()
            .filter(|e| e.spec.mode == Mode::Approve && e.phase() == Phase::Pending)
            .count(),
    };
    Status {
        devices: rows,
        summary,
    }
}

/// The table and the summary line. Pure.
pub fn render(status: &Status, all_namespaces: bool, now: jiff::Timestamp) -> String {
    let mut headers = vec![
        "DEVICE",
        "REACHABLE",
        "SYNC",
        "DRIFTS",
        "POLICY",
        "MODE",
        "EVENT",
        "LAST DRIFT",
    ];
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = status
        .devices
        .iter()
        .map(|r| {
            let reachable = match &r.unreachable {
                Some(why) => format!("False ({})", why.split(':').next().unwrap_or(why)),
                None => r.reachable.clone(),
            };
            let mut cells = vec![
                r.name.clone(),
                reachable,
                r.sync.clone(),
                r.drifts.to_string(),
                r.policy.clone().unwrap_or_else(|| "<none>".into()),
                r.mode.map_or("-", Mode::as_str).to_owned(),
                r.active_event.clone().unwrap_or_else(|| "-".into()),
                r.last_drift
                    .map_or_else(|| "-".into(), |t| table::age(t, now) + " ago"),
            ];
            if all_namespaces {
                cells.insert(0, r.namespace.clone());
            }
            cells
        })
        .collect();
    let s = &status.summary;
    let mut out = table::render(&headers, &rows);
    out.push_str(&format!(
        "\n{} devices monitored, {} drifted, {} unreachable, {} pending approvals\n",
        s.devices, s.drifted, s.unreachable, s.pending_approvals
    ));
    // The unreachable devices' messages do not fit the table; they are what one needs next.
    for r in status.devices.iter().filter(|r| r.unreachable.is_some()) {
        out.push_str(&format!(
            "  {} unreachable: {}\n",
            r.name,
            r.unreachable.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// `kubectl fabric status`.
pub async fn run(ctx: &Context) -> Result<String, Error> {
    let devices = ctx
        .scope
        .api::<FabricDevice>(&ctx.client)
        .list(&ListParams::default())
        .await
        .map_err(list_error("FabricDevices"))?;
    let events = ctx
        .scope
        .api::<DriftEvent>(&ctx.client)
        .list(&ListParams::default())
        .await
        .map_err(list_error("DriftEvents"))?;
    let status = summarize(&devices.items, &events.items);
    match ctx.format {
        Format::Table => Ok(render(&status, ctx.scope == Scope::AllNamespaces, ctx.now)),
        format => serialized(&status, format),
    }
}
