//! The Kubernetes permissions the operator needs, in one place. The Helm chart's and the
//! kustomize base's ClusterRole and Role grant exactly these (a test renders both and compares),
//! and charts/fabric-operator/README.md lists them. A new API call in the code means a new row
//! here, or the operator gets a 403 in a real cluster that no in-memory test shows.

/// Where a rule is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// ClusterRole: the operator watches every namespace.
    Cluster,
    /// Role in the operator's own namespace (the leader-election Lease).
    OwnNamespace,
}

/// One (apiGroup, resource, verbs) grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub group: &'static str,
    /// Plural resource name, with `/subresource` when it is one.
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    /// Names the rule is limited to; empty: any.
    pub names: &'static [&'static str],
    pub scope: Scope,
    /// Which code uses it.
    pub why: &'static str,
}

const GROUP: &str = fabric_api::GROUP;

/// Every grant, in the order the chart lists them.
pub const RULES: &[Rule] = &[
    Rule {
        group: "apiextensions.k8s.io",
        resource: "customresourcedefinitions",
        verbs: &["get"],
        names: &[
            "fabricdevices.fabric.netops.dev",
            "driftpolicies.fabric.netops.dev",
            "driftevents.fabric.netops.dev",
            "netboxsources.fabric.netops.dev",
        ],
        scope: Scope::Cluster,
        why: "k8s::controller::check_crds: refuse to start, with a message, when a CRD is missing",
    },
    Rule {
        group: GROUP,
        resource: "fabricdevices",
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        names: &[],
        scope: Scope::Cluster,
        why: "list/watch: the device controller and the policy controller's device watch; \
              get: k8s::port (status merge on first write, the DriftEvent's owner); \
              patch: the session finalizer and removing the contested=clear annotation once taken \
              (k8s::controller), and NetBoxSource sync's server-side \
              apply (field manager netbox-sync); create: that apply when the device is new; \
              delete: NetBoxSource sync when its deletion policy removes a device gone from NetBox",
    },
    Rule {
        group: GROUP,
        resource: "fabricdevices/status",
        verbs: &["patch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::port and k8s::controller::not_ready: status by server-side apply",
    },
    Rule {
        group: GROUP,
        resource: "fabricdevices/finalizers",
        verbs: &["update"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::mapping::drift_event sets blockOwnerDeletion on the DriftEvent's owner \
              reference, which clusters with the OwnerReferencesPermissionEnforcement admission \
              plugin (OpenShift) allow only to who may update the owner's finalizers",
    },
    Rule {
        group: GROUP,
        resource: "driftpolicies",
        verbs: &["list", "watch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::controller: the policy store and the DriftPolicy controller",
    },
    Rule {
        group: GROUP,
        resource: "driftpolicies/status",
        verbs: &["patch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::controller::reconcile_policy: matched devices by server-side apply",
    },
    Rule {
        group: GROUP,
        resource: "driftevents",
        verbs: &["list", "watch", "create", "delete"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::port: list (open events, idempotent create, history pruning), create (one per \
              episode), delete (history retention); watch: the DriftEvent controller \
              (k8s::controller::reconcile_event: approvals)",
    },
    Rule {
        group: GROUP,
        resource: "driftevents/status",
        verbs: &["patch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::port::write_event_status: phase, reason, decision and result (merge patch)",
    },
    Rule {
        group: GROUP,
        resource: "netboxsources",
        verbs: &["get", "list", "watch"],
        names: &[],
        scope: Scope::Cluster,
        why: "the NetBoxSource controller; get: k8s::netbox::sync_now reads the source again for \
              a webhook",
    },
    Rule {
        group: GROUP,
        resource: "netboxsources/status",
        verbs: &["patch"],
        names: &[],
        scope: Scope::Cluster,
        why: "the NetBoxSource controller: sync results by server-side apply",
    },
    Rule {
        group: "",
        resource: "secrets",
        verbs: &["get", "list", "watch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::controller: list/watch of Secrets' metadata only (PartialObjectMetadata), \
              so a changed Secret reconnects the devices that use it; get: a device's credentials \
              and CA and a policy's webhook URLs when reconciled, and k8s::netbox reads a \
              NetBoxSource's token and webhook Secrets",
    },
    Rule {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        names: &[],
        scope: Scope::Cluster,
        why: "k8s::port::announce through kube's Recorder: create, and patch for a repeated event",
    },
    Rule {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        names: &[],
        scope: Scope::OwnNamespace,
        why: "k8s::leader: read, create and renew (replace with resourceVersion) the Lease",
    },
];

/// The rules of one scope as Kubernetes PolicyRule objects (JSON), one rule per resource.
pub fn policy_rules(scope: Scope) -> Vec<serde_json::Value> {
    RULES
        .iter()
        .filter(|r| r.scope == scope)
        .map(|r| {
            let mut rule = serde_json::json!({
                "apiGroups": [r.group],
                "resources": [r.resource],
                "verbs": r.verbs,
            });
            if !r.names.is_empty() {
                rule["resourceNames"] = serde_json::json!(r.names);
            }
            rule
        })
        .collect()
}

/// The table for the chart's README: one line per rule.
pub fn markdown() -> String {
    let mut out =
        String::from("| API group | resource | verbs | scope | used by |\n|---|---|---|---|---|\n");
    for r in RULES {
        let group = if r.group.is_empty() {
            "\"\" (core)"
        } else {
            r.group
        };
        let scope = match r.scope {
            Scope::Cluster => "ClusterRole",
            Scope::OwnNamespace => "Role (release namespace)",
        };
        let resource = if r.names.is_empty() {
            r.resource.to_owned()
        } else {
            format!("{} ({})", r.resource, r.names.join(", "))
        };
        out.push_str(&format!(
            "| {group} | {resource} | {} | {scope} | {} |\n",
            r.verbs.join(", "),
            r.why
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_resource_and_no_wildcards() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert((r.group, r.resource)), "{} twice", r.resource);
            assert!(!r.verbs.contains(&"*") && r.resource != "*" && r.group != "*");
            assert!(!r.verbs.is_empty() && !r.why.is_empty());
        }
    }

    #[test]
    fn the_crd_rule_names_every_crd() {
        let mut names: Vec<String> = fabric_api::crds::all()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        let mut granted: Vec<String> = RULES[0].names.iter().map(|s| s.to_string()).collect();
        granted.sort();
        assert_eq!(RULES[0].resource, "customresourcedefinitions");
        assert_eq!(granted, names);
    }

    #[test]
    fn the_lease_is_the_only_namespaced_grant() {
        let own = policy_rules(Scope::OwnNamespace);
        assert_eq!(own.len(), 1);
        assert_eq!(own[0]["resources"][0], "leases");
        let crds = &policy_rules(Scope::Cluster)[0];
        assert_eq!(crds["resourceNames"].as_array().unwrap().len(), 4);
    }
}
