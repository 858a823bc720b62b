//! `kubectl fabric history [--device D]`: the drift episodes, oldest first, with what was decided
//! and how long the repair took.

use fabric_api::{
    DriftEvent, Mode,
    event::{DecisionAction, Phase},
    kube::{ResourceExt, api::ListParams},
};
use serde::Serialize;

use crate::{Context, Error, Format, Scope, list_error, serialized, table};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub namespace: String,
    pub event: String,
    pub device: String,
    pub detected_at: jiff::Timestamp,
    pub paths: u32,
    pub mode: Mode,
    pub phase: Option<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// From the Set's start to the device confirming the repair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_milliseconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event's row. Pure.
pub fn row(event: &DriftEvent) -> HistoryRow {
    let status = event.status.clone().unwrap_or_default();
    let result = status.result.as_ref();
    HistoryRow {
        namespace: event.namespace().unwrap_or_default(),
        event: event.name_any(),
        device: event.spec.device.clone(),
        detected_at: event.spec.detected_at.0,
        paths: event.spec.path_count,
        mode: event.spec.mode,
        phase: Some(event.phase()),
        reason: status.reason.clone(),
        decision: status.decision.as_ref().map(|d| d.action),
        decided_by: status.decision.as_ref().map(|d| d.by.clone()),
        duration_milliseconds: result.and_then(|r| r.duration_milliseconds).or_else(|| {
            // Older results carry only the times.
            let r = result?;
            let (start, end) = (r.started_at.as_ref()?, r.finished_at.as_ref()?);
            u64::try_from(end.0.as_millisecond() - start.0.as_millisecond()).ok()
        }),
        error: result.and_then(|r| r.error.clone()),
    }
}

/// Rows sorted by detection time (then name). Pure.
pub fn rows(events: &[DriftEvent]) -> Vec<HistoryRow> {
    let mut rows: Vec<HistoryRow> = events.iter().map(row).collect();
    rows.sort_by(|a, b| (a.detected_at, &a.event).cmp(&(b.detected_at, &b.event)));
    rows
}

fn action(a: DecisionAction) -> &'static str {
    match a {
        DecisionAction::Approve => "approve",
        DecisionAction::Reject => "reject",
        DecisionAction::Auto => "auto",
        DecisionAction::Manual => "manual",
    }
}

fn phase(p: Option<Phase>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:?}"))
}

/// The table. Pure.
pub fn render(rows: &[HistoryRow], all_namespaces: bool, now: jiff::Timestamp) -> String {
    if rows.is_empty() {
        return "No drift events.\n".to_owned();
    }
    let mut headers = vec![
        "EVENT", "DEVICE", "DETECTED", "PATHS", "MODE", "PHASE", "DECISION", "DURATION",
    ];
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let decision = match (&r.decision, &r.decided_by) {
                (Some(a), Some(by)) => format!("{} by {by}", action(*a)),
                _ => "-".to_owned(),
            };
            let mut phase = phase(r.phase);
            if let Some(reason) = &r.reason {
                phase = format!("{phase} ({reason})");
            }
            let mut cells = vec![
                r.event.clone(),
                r.device.clone(),
                table::age(r.detected_at, now) + " ago",
                r.paths.to_string(),
                r.mode.as_str().to_owned(),
                phase,
                decision,
                r.duration_milliseconds
                    .map_or_else(|| "-".to_owned(), table::duration_ms),
            ];
            if all_namespaces {
                cells.insert(0, r.namespace.clone());
            }
            cells
        })
        .collect();
    let mut out = table::render(&headers, &table_rows);
    for r in rows.iter().filter(|r| r.error.is_some()) {
        out.push_str(&format!(
            "  {} failed: {}\n",
            r.event,
            r.error.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// `kubectl fabric history`.
pub async fn run(ctx: &Context, device: Option<&str>) -> Result<String, Error> {
    let mut params = ListParams::default();
    if let Some(device) = device {
        // The operator's label value, which differs from the name past 63 characters.
        params = params.labels(&fabric_operator::k8s::mapping::device_selector(device));
    }
    let events = ctx
        .scope
        .api::<DriftEvent>(&ctx.client)
        .list(&params)
        .await
        .map_err(list_error("DriftEvents"))?;
    let rows = rows(&events.items);
    match ctx.format {
        Format::Table => Ok(render(&rows, ctx.scope == Scope::AllNamespaces, ctx.now)),
        format => serialized(&rows, format),
    }
}
