//! Which DriftPolicy is in force for a device: the highest-priority policy whose selector matches
//! the device's labels, ties broken by name (so the choice is stable across restarts).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use crate::{DriftPolicy, FabricDevice};

/// A selector Kubernetes itself would refuse; such a policy selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector: operator {operator:?} on key {key:?}: {reason}")]
pub struct InvalidSelector {
    pub key: String,
    pub operator: String,
    pub reason: &'static str,
}

/// Whether `selector` matches `labels`, with `metav1.LabelSelector` semantics: every matchLabels
/// pair and every matchExpressions requirement must hold; an empty selector matches everything.
pub fn matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, InvalidSelector> {
    let pairs_hold = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let mut expressions_hold = true;
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.as_deref().unwrap_or_default();
        let invalid = |reason| InvalidSelector {
            key: expr.key.clone(),
            operator: expr.operator.clone(),
            reason,
        };
        let value = labels.get(&expr.key);
        let holds = match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => return Err(invalid("In and NotIn need values")),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(invalid("Exists and DoesNotExist take no values"));
            }
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => {
                return Err(invalid(
                    "operator must be In, NotIn, Exists or DoesNotExist",
                ));
            }
        };
        expressions_hold &= holds;
    }
    Ok(pairs_hold && expressions_hold)
}

/// The policy in force for `device` among `policies` (same namespace): highest priority first,
/// then the alphabetically first name. Policies with invalid selectors are skipped.
pub fn policy_for<'a>(
    device: &FabricDevice,
    policies: &'a [DriftPolicy],
) -> Option<&'a DriftPolicy> {
    policies
        .iter()
        .filter(|p| p.namespace() == device.namespace())
        .filter(|p| matches(&p.spec.selector, device.labels()).unwrap_or(false))
        .min_by(|a, b| {
            b.spec
                .priority
                .cmp(&a.spec.priority)
                .then_with(|| a.name_any().cmp(&b.name_any()))
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::{DriftPolicySpec, FabricDeviceSpec, device::Target};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn policy(name: &str, priority: i32, selector: LabelSelector) -> DriftPolicy {
        let mut p = DriftPolicy::new(
            name,
            DriftPolicySpec {
                selector,
                priority,
                rules: Default::default(),
            },
        );
        p.metadata.namespace = Some("lab".into());
        p
    }

    fn device(pairs: &[(&str, &str)]) -> FabricDevice {
        let mut d = FabricDevice::new(
            "leaf1",
            FabricDeviceSpec {
                target: Target {
                    address: "127.0.0.1:6030".into(),
                    credentials_secret_ref: None,
                    tls: Default::default(),
                },
                platform: Default::default(),
                intent: Default::default(),
                config: vec![],
                ownership: Default::default(),
            },
        );
        d.metadata.namespace = Some("lab".into());
        d.metadata.labels = Some(labels(pairs));
        d
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches(&LabelSelector::default(), &labels(&[])).unwrap());
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("role", "leaf")])),
            match_expressions: Some(vec![requirement("pair", "In", &["1", "2"])]),
        };
        assert!(matches(&selector, &labels(&[("role", "leaf"), ("pair", "2")])).unwrap());
        assert!(!matches(&selector, &labels(&[("role", "leaf"), ("pair", "3")])).unwrap());
        assert!(!matches(&selector, &labels(&[("role", "spine"), ("pair", "1")])).unwrap());
        assert!(!matches(&selector, &labels(&[("role", "leaf")])).unwrap());
    }

    #[test]
    fn each_operator() {
        let l = labels(&[("role", "leaf")]);
        let one = |r| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![r]),
        };
        assert!(matches(&one(requirement("role", "NotIn", &["spine"])), &l).unwrap());
        assert!(matches(&one(requirement("zone", "NotIn", &["a"])), &l).unwrap());
        assert!(matches(&one(requirement("role", "Exists", &[])), &l).unwrap());
        assert!(!matches(&one(requirement("role", "DoesNotExist", &[])), &l).unwrap());
        assert!(matches(&one(requirement("role", "In", &[])), &l).is_err());
        assert!(matches(&one(requirement("role", "Equals", &["leaf"])), &l).is_err());
    }

    #[test]
    fn highest_priority_wins_then_first_name() {
        let all = LabelSelector::default();
        let leaves = LabelSelector {
            match_labels: Some(labels(&[("role", "leaf")])),
            match_expressions: None,
        };
        let policies = vec![
            policy("b-leaves", 10, leaves.clone()),
            policy("a-leaves", 10, leaves),
            policy("fallback", 0, all),
        ];
        let leaf = device(&[("role", "leaf")]);
        assert_eq!(policy_for(&leaf, &policies).unwrap().name_any(), "a-leaves");
        let spine = device(&[("role", "spine")]);
        assert_eq!(
            policy_for(&spine, &policies).unwrap().name_any(),
            "fallback"
        );
        assert!(policy_for(&spine, &policies[..2]).is_none());
    }

    #[test]
    fn policies_of_other_namespaces_do_not_apply() {
        let mut p = policy("all", 0, LabelSelector::default());
        p.metadata.namespace = Some("elsewhere".into());
        assert!(policy_for(&device(&[]), &[p]).is_none());
    }
}
