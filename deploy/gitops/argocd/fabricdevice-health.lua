-- Argo CD health of a FabricDevice (fabric.netops.dev/v1alpha1), from its status conditions:
--   no status yet, or status older than the spec  -> Progressing
--   Reachable False                               -> Degraded, with the condition's reason and message
--   InSync False                                  -> Degraded, with the drift count and the DriftEvent
--   otherwise                                     -> Healthy
-- Installed as resource.customizations.health.fabric.netops.dev_FabricDevice (argocd-cm.yaml).
local hs = {}
local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local reachable = condition("Reachable")
local insync = condition("InSync")
if reachable == nil and insync == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for fabric-operator to connect to the device"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "fabric-operator has not observed the latest spec yet"
  return hs
end
if reachable ~= nil and reachable.status == "False" then
  hs.status = "Degraded"
  hs.message = "Unreachable (" .. (reachable.reason or "") .. "): " .. (reachable.message or "")
  return hs
end
if insync ~= nil and insync.status == "False" then
  hs.status = "Degraded"
  local count = obj.status.driftCount or 0
  hs.message = "Drifted: " .. count .. " path(s) differ from intent"
  if obj.status.activeDriftEvent ~= nil then
    hs.message = hs.message .. "; DriftEvent " .. obj.status.activeDriftEvent
  end
  return hs
end
hs.status = "Healthy"
hs.message = "In sync with intent"
return hs
