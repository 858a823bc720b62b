//! The compiled intent of one device: what it should hold, leaf by leaf, and what the intent owns.
//!
//! [`Desired::compile`] runs once per spec change: it maps the typed intent for the platform,
//! joins the raw `config` entries (refusing those that contradict typed intent), parses the
//! policy's scope and exclusions, and decides which leaves are evaluated. Everything downstream
//! (the tracker, plans, the simulator's initial state) reads this value.

use std::collections::BTreeMap;

use fabric_gnmi::json::{JsonError, flatten_tree};
use fabric_gnmi::{Path, PathError, Value};

use crate::intent::{DeviceIntent, Ownership, Platform, RawConfig};
use crate::mapper::{self, OwnedList};
use crate::normalize::{LeafKind, canonical_path, equal, normalize};
use crate::pattern::{PathPattern, PatternError};

/// Why an intent cannot be compiled. Every variant names the offending field or path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntentError {
    #[error("intent field {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{field}: {source}")]
    Pattern {
        field: String,
        #[source]
        source: PatternError,
    },
    #[error("config[{index}].path {path:?}: {source}")]
    RawPath {
        index: usize,
        path: String,
        #[source]
        source: PathError,
    },
    #[error("config[{index}] ({path}): value is not a JSON_IETF tree: {source}")]
    RawValue {
        index: usize,
        path: String,
        /// Boxed: the codec's error carries a whole path, and this enum travels by value.
        #[source]
        source: Box<JsonError>,
    },
    /// Values are rendered as text: an error is for people, and it stays small.
    #[error(
        "{raw_entry} sets {leaf} to {raw}, but intent field {field} sets it to {typed}: remove one of them"
    )]
    RawContradicts {
        /// `config[2] (/interfaces/interface[name=Ethernet1]/config)`
        raw_entry: String,
        leaf: String,
        field: String,
        typed: String,
        raw: String,
    },
    #[error(
        "intent fields {first} and {second} both set {leaf}, to different values ({a} and {b})"
    )]
    Conflict {
        leaf: String,
        first: String,
        second: String,
        a: String,
        b: String,
    },
}

/// One leaf the device should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredLeaf {
    /// Canonical path (no module prefixes).
    pub path: Path,
    /// The value as a Set would carry it (JSON_IETF-ready, identities with module prefix).
    pub value: Value,
    pub kind: LeafKind,
    /// The value the device holds when it omits the leaf; absent + expected == default is no drift.
    pub default: Option<Value>,
    /// Where the leaf comes from: an intent field (`interfaces[Ethernet1].mtu`) or `config[2]`.
    pub field: String,
    /// In scope and not excluded: compared, reported and repaired.
    pub evaluated: bool,
    /// `value` normalized for comparison.
    pub(crate) expected: Value,
}

impl DesiredLeaf {
    /// The normalized expected value, as drift reports show it.
    pub fn expected(&self) -> &Value {
        &self.expected
    }

    /// Is an absent leaf as good as this one (the device omits leaves holding their default)?
    pub fn absent_ok(&self) -> bool {
        self.default
            .as_ref()
            .is_some_and(|d| equal(self.kind, &self.expected, d))
    }
}

/// An owned list, with where to watch it.
#[derive(Debug, Clone)]
pub struct OwnedListSpec {
    pub list: OwnedList,
    /// Subscription path covering every entry (`.../vlans/vlan[vlan-id=*]/config`).
    pub watch: Path,
}

/// Compiled intent: leaves by path, owned lists, exclusions and scope.
#[derive(Debug, Clone)]
pub struct Desired {
    platform: Platform,
    ownership: Ownership,
    leaves: Vec<DesiredLeaf>,
    owned: Vec<OwnedListSpec>,
    scope: Vec<PathPattern>,
    exclusions: Vec<PathPattern>,
}

impl Desired {
    /// Compiles an intent for a platform. `scope` and `exclusions` are a policy's path patterns.
    pub fn compile(
        platform: Platform,
        intent: &DeviceIntent,
        raw: &[RawConfig],
        ownership: Ownership,
        scope: &[String],
        exclusions: &[String],
    ) -> Result<Desired, IntentError> {
        let parse_all = |list: &[String], name: &str| -> Result<Vec<PathPattern>, IntentError> {
            list.iter()
                .enumerate()
                .map(|(i, t)| {
                    PathPattern::parse(t).map_err(|source| IntentError::Pattern {
                        field: format!("{name}[{i}]"),
                        source,
                    })
                })
                .collect()
        };
        let scope = parse_all(scope, "scope")?;
        let exclusions = parse_all(exclusions, "exclusions")?;

        let mapping = mapper::map(platform, intent)?;
        let mut by_path: BTreeMap<Path, DesiredLeaf> = BTreeMap::new();
        for m in mapping.leaves {
            let expected = normalize(m.kind, &m.value);
            if let Some(prev) = by_path.get(&m.path) {
                if equal(prev.kind, &prev.expected, &m.value) {
                    continue;
                }
                return Err(IntentError::Conflict {
                    leaf: m.path.to_string(),
                    first: prev.field.clone(),
                    second: m.field,
                    a: prev.value.to_string(),
                    b: m.value.to_string(),
                });
            }
            by_path.insert(
                m.path.clone(),
                DesiredLeaf {
                    path: m.path,
                    value: m.value,
                    kind: m.kind,
                    default: m.default,
                    field: m.field,
                    evaluated: true,
                    expected,
                },
            );
        }

        let keys = crate::key_table();
        for (index, r) in raw.iter().enumerate() {
            let base: Path = r.path.parse().map_err(|source| IntentError::RawPath {
                index,
                path: r.path.clone(),
                source,
            })?;
            let base = canonical_path(&base);
            let leaves =
                flatten_tree(&base, &r.value, &keys).map_err(|source| IntentError::RawValue {
                    index,
                    path: r.path.clone(),
                    source: Box::new(source),
                })?;
            for leaf in leaves {
                let path = canonical_path(&leaf.path);
                if let Some(typed) = by_path.get(&path) {
                    if equal(typed.kind, &typed.expected, &leaf.value) {
                        continue;
                    }
                    return Err(if typed.field.starts_with("config[") {
                        IntentError::Conflict {
                            leaf: path.to_string(),
                            first: typed.field.clone(),
                            second: format!("config[{index}]"),
                            a: typed.value.to_string(),
                            b: leaf.value.to_string(),
                        }
                    } else {
                        IntentError::RawContradicts {
                            raw_entry: format!("config[{index}] ({})", r.path),
                            leaf: path.to_string(),
                            field: typed.field.clone(),
                            typed: typed.value.to_string(),
                            raw: leaf.value.to_string(),
                        }
                    });
                }
                let expected = normalize(LeafKind::Auto, &leaf.value);
                by_path.insert(
                    path.clone(),
                    DesiredLeaf {
                        path,
                        value: leaf.value,
                        kind: LeafKind::Auto,
                        default: None,
                        field: format!("config[{index}]"),
                        evaluated: true,
                        expected,
                    },
                );
            }
        }

        let mut leaves: Vec<DesiredLeaf> = by_path.into_values().collect();
        for l in &mut leaves {
            l.evaluated = in_scope(&scope, &l.path) && !excluded(&exclusions, &l.path);
        }
        let owned = mapping
            .owned
            .into_iter()
            .map(|(list, watch)| OwnedListSpec { list, watch })
            .collect();
        Ok(Desired {
            platform,
            ownership,
            leaves,
            owned,
            scope,
            exclusions,
        })
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    /// What the device should hold, sorted by path (every leaf, evaluated or not: the simulator
    /// builds a lab's initial state from this).
    pub fn leaves(&self) -> impl Iterator<Item = (&Path, &Value)> {
        self.leaves.iter().map(|l| (&l.path, &l.value))
    }

    /// The leaves with their kind, default, origin field and evaluation flag.
    pub fn desired_leaves(&self) -> &[DesiredLeaf] {
        &self.leaves
    }

    /// The leaf at `path`, if the intent sets it.
    pub fn leaf(&self, path: &Path) -> Option<&DesiredLeaf> {
        self.leaves
            .binary_search_by(|l| l.path.cmp(path))
            .ok()
            .map(|i| &self.leaves[i])
    }

    /// The lists whose unnamed entries are drift in `strict` mode.
    pub fn owned_lists(&self) -> &[OwnedListSpec] {
        &self.owned
    }

    /// Is `path` covered by an exclusion (never reported, never touched)?
    pub fn is_excluded(&self, path: &Path) -> bool {
        excluded(&self.exclusions, path)
    }

    /// Is `path` in the policy's scope (everything when the scope is empty)?
    pub fn in_scope(&self, path: &Path) -> bool {
        in_scope(&self.scope, path)
    }

    /// Is `path` evaluated: in scope and not excluded?
    pub fn evaluates(&self, path: &Path) -> bool {
        self.in_scope(path) && !self.is_excluded(path)
    }

    /// The minimal set of subtree roots to Subscribe to: the `config` container of every
    /// evaluated leaf (not the whole entry, so counters and state do not stream), and in `strict`
    /// mode the wildcard watch path of every owned list; roots covered by another are dropped.
    pub fn subscription_roots(&self) -> Vec<Path> {
        let mut wild: Vec<Path> = Vec::new();
        if self.ownership == Ownership::Strict {
            for o in &self.owned {
                if self.in_scope(&o.list.container) || self.scope.iter().any(|s| s.covers(&o.watch))
                {
                    wild.push(o.watch.clone());
                }
            }
        }
        wild.sort();
        wild.dedup();
        let wild_patterns: Vec<Path> = wild.iter().map(subtree_pattern).collect();
        // A wildcard root covered by another wildcard root goes too.
        let kept_wild: Vec<(Path, Path)> = wild
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                !wild_patterns
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != *i && other.matches(w))
            })
            .map(|(i, w)| (w.clone(), wild_patterns[i].clone()))
            .collect();
        let mut concrete: Vec<Path> = self
            .leaves
            .iter()
            .filter(|l| l.evaluated)
            .map(|l| subscription_root_of(&l.path))
            .collect();
        concrete.sort();
        concrete.dedup();
        let mut out: Vec<Path> = Vec::new();
        for c in concrete {
            if out.last().is_some_and(|last: &Path| last.is_prefix_of(&c)) {
                continue;
            }
            if kept_wild.iter().any(|(_, wp)| wp.matches(&c)) {
                continue;
            }
            out.push(c);
        }
        out.extend(kept_wild.into_iter().map(|(w, _)| w));
        out.sort();
        out
    }
}

/// The pattern `p/...`: `p` and everything below it.
fn subtree_pattern(p: &Path) -> Path {
    p.clone().push_name("...")
}

/// The innermost `config` container holding a leaf, else its parent.
fn subscription_root_of(leaf: &Path) -> Path {
    match leaf.elems.iter().rposition(|e| e.name == "config") {
        Some(i) => Path {
            origin: leaf.origin.clone(),
            elems: leaf.elems[..=i].to_vec(),
        },
        None => leaf.parent(),
    }
}

fn in_scope(scope: &[PathPattern], path: &Path) -> bool {
    scope.is_empty() || scope.iter().any(|s| s.covers(path))
}

fn excluded(exclusions: &[PathPattern], path: &Path) -> bool {
    exclusions.iter().any(|x| x.covers(path))
}

#[cfg(test)]
pub(crate) mod tests;
