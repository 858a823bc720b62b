//! `kubectl fabric diff EVENT`: what the intent says and what the device holds, path by path.

use fabric_api::{
    DriftEvent,
    event::{DriftKind, DriftedLeaf, Phase},
    kube::ResourceExt,
};
use serde::Serialize;

use crate::{
    Context, Error, Format, get, serialized,
    table::{self, Paint},
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiffView<'a> {
    event: String,
    device: &'a str,
    phase: Option<Phase>,
    path_count: u32,
    drifts: &'a [DriftedLeaf],
}

fn value(v: Option<&serde_json::Value>, absent: &str) -> String {
    v.map_or_else(|| absent.to_owned(), |v| v.to_string())
}

/// The readable diff. Pure; `paint` colours expected green and actual red.
pub fn render(event: &DriftEvent, now: jiff::Timestamp, paint: Paint) -> String {
    let spec = &event.spec;
    let phase = Some(event.phase());
    let mut out = format!(
        "{} {}/{}: device {}, mode {}, phase {}\n",
        paint.bold("DriftEvent"),
        event.namespace().unwrap_or_default(),
        event.name_any(),
        spec.device,
        spec.mode.as_str(),
        phase.map_or_else(|| "-".to_owned(), |p| format!("{p:?}")),
    );
    out.push_str(&format!(
        "detected {} ago ({}), {} drifted leaves, fingerprint {}\n\n",
        table::age(spec.detected_at.0, now),
        spec.detected_at.0,
        spec.path_count,
        &spec.fingerprint[..spec.fingerprint.len().min(12)],
    ));
    for leaf in &spec.drifts {
        let (mark, expected, actual) = match leaf.kind {
            DriftKind::Modified => (
                "~",
                value(leaf.expected.as_ref(), "-"),
                value(leaf.actual.as_ref(), "-"),
            ),
            DriftKind::Missing => ("+", value(leaf.expected.as_ref(), "-"), "(absent)".into()),
            DriftKind::Unexpected => (
                "-",
                "(not in intent)".into(),
                value(leaf.actual.as_ref(), "(present)"),
            ),
        };
        out.push_str(&format!("{mark} {}  ({:?})\n", leaf.path, leaf.kind));
        out.push_str(&format!("    expected  {}\n", paint.green(&expected)));
        out.push_str(&format!("    actual    {}\n", paint.red(&actual)));
    }
    let shown = spec.drifts.len() as u32;
    if spec.path_count > shown {
        out.push_str(&format!(
            "... and {} more (an event records at most {} leaves)\n",
            spec.path_count - shown,
            fabric_api::event::MAX_DRIFTED_LEAVES
        ));
    }
    let plan = &spec.plan;
    out.push_str(&format!(
        "\nRemediation: one SetRequest, {} deletes, {} replaces, {} updates.\n",
        plan.deletes.len(),
        plan.replaces.len(),
        plan.updates.len()
    ));
    if phase == Some(Phase::Pending) {
        let name = event.name_any();
        let ns = event.namespace().unwrap_or_default();
        out.push_str(&format!(
            "Decide: kubectl fabric approve {name} -n {ns}   (or: kubectl fabric reject {name} -n {ns})\n"
        ));
    }
    out
}

/// `kubectl fabric diff EVENT`.
pub async fn run(ctx: &Context, name: &str) -> Result<String, Error> {
    let namespace = ctx.scope.namespace()?;
    let api = ctx.scope.api::<DriftEvent>(&ctx.client);
    let event = get(&api, "DriftEvent", namespace, name).await?;
    match ctx.format {
        Format::Table => Ok(render(&event, ctx.now, Paint(ctx.color))),
        format => serialized(
            &DiffView {
                event: event.name_any(),
                device: &event.spec.device,
                phase: Some(event.phase()),
                path_count: event.spec.path_count,
                drifts: &event.spec.drifts,
            },
            format,
        ),
    }
}
