-- Argo CD health of a DriftEvent (fabric.netops.dev/v1alpha1), from status.phase:
--   Pending                        -> Suspended: waiting for an approval, dampening or a window
--   (none written yet: a new event is in its mode's first phase, Alerted or Pending)
--   Approved, Remediating          -> Progressing
--   Alerted                        -> Degraded: drift reported, not repaired (alert mode)
--   Failed                         -> Degraded, with the device's error
--   Remediated, Resolved,
--   Superseded, Rejected           -> Healthy: the episode is over
-- DriftEvents are created by the operator, owned by their FabricDevice: Argo CD shows them as the
-- device's children. Installed as resource.customizations.health.fabric.netops.dev_DriftEvent.
local hs = {}
local phase = nil
if obj.status ~= nil then
  phase = obj.status.phase
end
local device = obj.spec.device or "?"
if phase == nil then
  if obj.spec.mode == "alert" then phase = "Alerted" else phase = "Pending" end
end
if phase == "Pending" then
  hs.status = "Suspended"
  hs.message = "Waiting: kubectl fabric approve " .. obj.metadata.name .. " (or reject)"
  if obj.status ~= nil and obj.status.reason ~= nil then
    hs.message = "Waiting (" .. obj.status.reason .. "): kubectl fabric approve " .. obj.metadata.name .. " (or reject)"
  end
elseif phase == "Approved" or phase == "Remediating" then
  hs.status = "Progressing"
  hs.message = phase .. ": repairing " .. device
elseif phase == "Alerted" then
  hs.status = "Degraded"
  hs.message = "Drift on " .. device .. " reported, not repaired (alert mode)"
elseif phase == "Failed" then
  hs.status = "Degraded"
  local err = ""
  if obj.status.result ~= nil and obj.status.result.error ~= nil then
    err = ": " .. obj.status.result.error
  end
  hs.message = "Remediation of " .. device .. " failed" .. err
else
  hs.status = "Healthy"
  hs.message = phase
end
return hs
