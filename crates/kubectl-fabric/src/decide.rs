//! `approve`, `reject`, `remediate` and `clear-contested`: the annotations a person sets, written by server-side
//! apply with field manager [`FIELD_MANAGER`](crate::FIELD_MANAGER), so the operator can record
//! who decided. kubectl-fabric never changes a phase itself: the operator acts on the annotation.

use fabric_api::{
    DriftEvent, FabricDevice,
    conditions::{self, types},
    event::{APPROVAL_ANNOTATION, CONTESTED_ANNOTATION, Phase, REMEDIATE_ANNOTATION},
    kube::{
        Api, ResourceExt,
        api::{Patch, PatchParams},
    },
};
use serde_json::json;

use crate::{Context, Error, FIELD_MANAGER, get};

/// A person's decision on a Pending DriftEvent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    /// The annotation's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
}

/// Why an event cannot be decided now, or `None` when it can. Pure.
pub fn refusal(event: &DriftEvent, verdict: Verdict) -> Option<String> {
    let name = format!(
        "DriftEvent {}/{}",
        event.namespace().unwrap_or_default(),
        event.name_any()
    );
    let verb = verdict.as_str();
    match event.phase() {
        Phase::Pending => None,
        Phase::Alerted => Some(format!(
            "{name} is Alerted, not Pending: its policy's mode is alert, which only reports; \
             to repair this drift once, run `kubectl fabric remediate --device {}`",
            event.spec.device
        )),
        p if p.is_final() => Some(format!(
            "{name} is {p:?}, not Pending: the episode is over, there is nothing to {verb}"
        )),
        p => Some(format!(
            "{name} is {p:?}, not Pending: it was already decided, there is nothing to {verb}"
        )),
    }
}

fn annotate(name: &str, kind: &str, key: &str, value: &str) -> serde_json::Value {
    json!({
        "apiVersion": "fabric.netops.dev/v1alpha1",
        "kind": kind,
        "metadata": { "name": name, "annotations": { key: value } },
    })
}

/// Server-side apply of one annotation. `force`: the person's explicit command wins over an
/// earlier `kubectl annotate` of the same key.
fn params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// `kubectl fabric approve|reject EVENT`.
pub async fn decide(ctx: &Context, name: &str, verdict: Verdict) -> Result<String, Error> {
    let namespace = ctx.scope.namespace()?;
    let api: Api<DriftEvent> = Api::namespaced(ctx.client.clone(), namespace);
    let event = get(&api, "DriftEvent", namespace, name).await?;
    if let Some(why) = refusal(&event, verdict) {
        return Err(Error::Refused(why));
    }
    let patch = annotate(name, "DriftEvent", APPROVAL_ANNOTATION, verdict.as_str());
    api.patch(name, &params(), &Patch::Apply(&patch)).await?;
    let done = match verdict {
        Verdict::Approve => "approved: the operator applies its plan if the drift is unchanged",
        Verdict::Reject => "rejected: the operator leaves the device as it is",
    };
    Ok(format!(
        "driftevent {namespace}/{name} {done}\n  ({APPROVAL_ANNOTATION}={}, field manager {FIELD_MANAGER})\n",
        verdict.as_str()
    ))
}

/// Sets `key=value` on a FabricDevice unless `refusal` finds a reason not to; returns its
/// namespace.
async fn annotate_device<'a>(
    ctx: &'a Context,
    device: &str,
    refusal: fn(&FabricDevice) -> Option<String>,
    key: &str,
    value: &str,
) -> Result<&'a str, Error> {
    let namespace = ctx.scope.namespace()?;
    let api: Api<FabricDevice> = Api::namespaced(ctx.client.clone(), namespace);
    let object = get(&api, "FabricDevice", namespace, device).await?;
    if let Some(why) = refusal(&object) {
        return Err(Error::Refused(why));
    }
    let patch = annotate(device, "FabricDevice", key, value);
    api.patch(device, &params(), &Patch::Apply(&patch)).await?;
    Ok(namespace)
}

/// Why a device needs no manual remediation, or `None`. Pure.
pub fn remediate_refusal(device: &FabricDevice) -> Option<String> {
    let status = device.status.as_ref()?;
    let in_sync = conditions::is_true(&status.conditions, types::IN_SYNC);
    (in_sync && status.drift_count == 0).then(|| {
        format!(
            "FabricDevice {}/{} is in sync (InSync=True, 0 drifts): nothing to remediate",
            device.namespace().unwrap_or_default(),
            device.name_any()
        )
    })
}

/// `kubectl fabric remediate --device D`: a new value of the remediate annotation (now, RFC 3339)
/// makes the operator repair the current drift once, whatever the policy's mode.
pub async fn remediate(ctx: &Context, device: &str) -> Result<String, Error> {
    let value = ctx.now.to_string();
    let namespace =
        annotate_device(ctx, device, remediate_refusal, REMEDIATE_ANNOTATION, &value).await?;
    Ok(format!(
        "fabricdevice {namespace}/{device}: remediation requested ({REMEDIATE_ANNOTATION}={value}); \
         follow it with `kubectl fabric history --device {device}`\n"
    ))
}

/// Why a device's flap guard has nothing to clear, or `None` when its `Contested` condition is
/// True. Pure.
pub fn clear_contested_refusal(device: &FabricDevice) -> Option<String> {
    let contested = device
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, types::CONTESTED));
    (!contested).then(|| {
        format!(
            "FabricDevice {}/{} is not contested (Contested is not True): \
             auto-remediation is not paused, there is nothing to clear",
            device.namespace().unwrap_or_default(),
            device.name_any()
        )
    })
}

/// `kubectl fabric clear-contested --device D`: `fabric.netops.dev/contested=clear` lifts the
/// flap guard; the operator resumes auto-remediation of the contested paths and removes the
/// annotation once it has taken it.
pub async fn clear_contested(ctx: &Context, device: &str) -> Result<String, Error> {
    let namespace = annotate_device(
        ctx,
        device,
        clear_contested_refusal,
        CONTESTED_ANNOTATION,
        "clear",
    )
    .await?;
    Ok(format!(
        "fabricdevice {namespace}/{device}: flap guard cleared ({CONTESTED_ANNOTATION}=clear); \
         auto-remediation resumes, and pauses again if the paths keep being changed back\n"
    ))
}
