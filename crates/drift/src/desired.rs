//! The compiled intent of one device: what it should hold, leaf by leaf, and what the intent owns.
//!
//! [`Desired::compile`] runs once per spec change: it maps the typed intent for the platform,
//! joins the raw `config` entries (refusing those that contradict typed intent), parses the
//! policy's scope and exclusions, and decides which leaves are evaluated. Everything downstream
//! (the tracker, plans, the simulator's initial state) reads this value.

use std::collections::BTreeMap;

use fabric_gnmi::json::{JsonError, flatten_tree};
use fabric_gnmi::{Path, PathElem, PathError, Value};

use crate::intent::{DeviceIntent, Ownership, Platform, RawConfig};
use crate::mapper::{self, EntryFilter, OwnedList};
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
///
/// Kept compact, as an operator holds one per device for as long as it watches it: leaf paths
/// live in a [`PathTable`] (a device's ~2,000 leaf paths share a few hundred distinct elements
/// and containers), and a leaf is its node, value, kind and flags. [`DesiredLeaf`] is the
/// materialized form, built on demand.
#[derive(Debug, Clone)]
pub struct Desired {
    platform: Platform,
    ownership: Ownership,
    paths: PathTable,
    /// Sorted by path.
    leaves: Vec<Compiled>,
    owned: Vec<OwnedListSpec>,
    scope: Vec<PathPattern>,
    exclusions: Vec<PathPattern>,
}

/// One compiled leaf, as [`Desired`] stores it.
#[derive(Debug, Clone)]
struct Compiled {
    node: u32,
    kind: LeafKind,
    evaluated: bool,
    value: Value,
    /// The normalized value, when it differs from `value`.
    expected: Option<Box<Value>>,
    default: Option<Box<Value>>,
}

/// A leaf while the intent compiles: where it comes from names it in errors (not kept after).
struct Pending {
    path: Path,
    value: Value,
    kind: LeafKind,
    default: Option<Value>,
    /// The intent field (`interfaces[Ethernet1].mtu`) or `config[2]`.
    field: String,
    expected: Value,
}

const NO_NODE: u32 = u32::MAX;

/// Paths as a trie of interned elements. A node is (parent, element); a root node stands for an
/// origin (its "element" indexes `origins`).
#[derive(Debug, Clone, Default)]
struct PathTable {
    origins: Vec<Option<String>>,
    elems: Vec<PathElem>,
    /// Element ids sorted by element, for lookups.
    elems_sorted: Vec<u32>,
    nodes: Vec<(u32, u32)>,
    /// (parent, element, node), sorted, for lookups.
    children: Vec<(u32, u32, u32)>,
}

impl PathTable {
    /// Builds the table of `paths` and returns each path's node.
    fn build<'a>(paths: impl Iterator<Item = &'a Path>) -> (PathTable, Vec<u32>) {
        use std::collections::HashMap;
        let mut t = PathTable::default();
        let mut elem_ids: HashMap<PathElem, u32> = HashMap::new();
        let mut child_ids: HashMap<(u32, u32), u32> = HashMap::new();
        let mut out = Vec::new();
        for path in paths {
            let origin = match t.origins.iter().position(|o| *o == path.origin) {
                Some(i) => i,
                None => {
                    t.origins.push(path.origin.clone());
                    t.origins.len() - 1
                }
            } as u32;
            let mut node = *child_ids.entry((NO_NODE, origin)).or_insert_with(|| {
                t.nodes.push((NO_NODE, origin));
                (t.nodes.len() - 1) as u32
            });
            for e in &path.elems {
                let id = match elem_ids.get(e) {
                    Some(id) => *id,
                    None => {
                        t.elems.push(e.clone());
                        let id = (t.elems.len() - 1) as u32;
                        elem_ids.insert(e.clone(), id);
                        id
                    }
                };
                node = *child_ids.entry((node, id)).or_insert_with(|| {
                    t.nodes.push((node, id));
                    (t.nodes.len() - 1) as u32
                });
            }
            out.push(node);
        }
        t.elems_sorted = (0..t.elems.len() as u32).collect();
        t.elems_sorted
            .sort_by(|a, b| t.elems[*a as usize].cmp(&t.elems[*b as usize]));
        t.children = child_ids
            .into_iter()
            .filter(|((parent, _), _)| *parent != NO_NODE)
            .map(|((parent, elem), node)| (parent, elem, node))
            .collect();
        t.children.sort_unstable();
        t.origins.shrink_to_fit();
        t.elems.shrink_to_fit();
        t.nodes.shrink_to_fit();
        (t, out)
    }

    fn path(&self, mut node: u32) -> Path {
        let mut depth = 0;
        let mut n = node;
        while self.nodes[n as usize].0 != NO_NODE {
            depth += 1;
            n = self.nodes[n as usize].0;
        }
        let mut elems = vec![PathElem::default(); depth];
        while self.nodes[node as usize].0 != NO_NODE {
            let (parent, elem) = self.nodes[node as usize];
            depth -= 1;
            elems[depth] = self.elems[elem as usize].clone();
            node = parent;
        }
        Path {
            origin: self.origins[self.nodes[node as usize].1 as usize].clone(),
            elems,
        }
    }

    /// The subscription root of a leaf's node: its innermost `config` container (the leaf
    /// itself if it is named `config`), else its parent.
    fn root_of(&self, leaf: u32) -> u32 {
        let mut n = leaf;
        while self.nodes[n as usize].0 != NO_NODE {
            let (parent, elem) = self.nodes[n as usize];
            if self.elems[elem as usize].name == "config" {
                return n;
            }
            n = parent;
        }
        match self.nodes[leaf as usize].0 {
            NO_NODE => leaf,
            parent => parent,
        }
    }

    fn find(&self, path: &Path) -> Option<u32> {
        let origin = self.origins.iter().position(|o| *o == path.origin)? as u32;
        let mut node = self
            .nodes
            .iter()
            .position(|&(p, e)| p == NO_NODE && e == origin)? as u32;
        for e in &path.elems {
            let at = self
                .elems_sorted
                .binary_search_by(|id| self.elems[*id as usize].cmp(e))
                .ok()?;
            let id = self.elems_sorted[at];
            let i = self
                .children
                .binary_search_by(|&(p, el, _)| (p, el).cmp(&(node, id)))
                .ok()?;
            node = self.children[i].2;
        }
        Some(node)
    }
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
        let mut by_path: BTreeMap<Path, Pending> = BTreeMap::new();
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
                Pending {
                    path: m.path,
                    value: m.value,
                    kind: m.kind,
                    default: m.default,
                    field: m.field,
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
                    Pending {
                        path,
                        value: leaf.value,
                        kind: LeafKind::Auto,
                        default: None,
                        field: format!("config[{index}]"),
                        expected,
                    },
                );
            }
        }

        let (paths, nodes) = PathTable::build(by_path.keys());
        let leaves = by_path
            .into_values()
            .zip(nodes)
            .map(|(l, node)| Compiled {
                node,
                kind: l.kind,
                evaluated: in_scope(&scope, &l.path) && !excluded(&exclusions, &l.path),
                expected: (l.expected != l.value).then(|| Box::new(l.expected)),
                value: l.value,
                default: l.default.map(Box::new),
            })
            .collect();
        let owned = mapping
            .owned
            .into_iter()
            .map(|(list, watch)| OwnedListSpec { list, watch })
            .collect();
        Ok(Desired {
            platform,
            ownership,
            paths,
            leaves,
            owned,
            scope,
            exclusions,
        })
    }

    /// How many leaves the intent sets.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The path of leaf `i` (in path order).
    pub fn path_of(&self, i: usize) -> Path {
        self.paths.path(self.leaves[i].node)
    }

    /// The value of leaf `i` as a Set would carry it.
    pub fn value_of(&self, i: usize) -> &Value {
        &self.leaves[i].value
    }

    /// The normalized expected value of leaf `i`, as drift reports show it.
    pub fn expected_of(&self, i: usize) -> &Value {
        let l = &self.leaves[i];
        l.expected.as_deref().unwrap_or(&l.value)
    }

    pub fn kind_of(&self, i: usize) -> LeafKind {
        self.leaves[i].kind
    }

    /// Is leaf `i` in scope and not excluded?
    pub fn is_evaluated(&self, i: usize) -> bool {
        self.leaves[i].evaluated
    }

    /// Is an absent leaf `i` as good as intended (the device omits leaves holding their default)?
    pub fn absent_ok(&self, i: usize) -> bool {
        let l = &self.leaves[i];
        l.default
            .as_deref()
            .is_some_and(|d| equal(l.kind, l.expected.as_deref().unwrap_or(&l.value), d))
    }

    /// The index of the leaf at `path`, if the intent sets it.
    pub fn index_of(&self, path: &Path) -> Option<usize> {
        let node = self.paths.find(path)?;
        // The table numbers nodes as it first meets them, walking the sorted paths: leaf nodes
        // increase with the leaf index.
        self.leaves.binary_search_by(|l| l.node.cmp(&node)).ok()
    }

    /// Leaf `i`, materialized.
    pub fn leaf_at(&self, i: usize) -> DesiredLeaf {
        let l = &self.leaves[i];
        DesiredLeaf {
            path: self.path_of(i),
            value: l.value.clone(),
            kind: l.kind,
            default: l.default.as_deref().cloned(),
            evaluated: l.evaluated,
            expected: self.expected_of(i).clone(),
        }
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    /// What the device should hold, sorted by path (every leaf, evaluated or not: the simulator
    /// builds a lab's initial state from this). Paths are rebuilt as they are iterated.
    pub fn leaves(&self) -> impl Iterator<Item = (Path, &Value)> {
        self.leaves
            .iter()
            .map(|l| (self.paths.path(l.node), &l.value))
    }

    /// The leaves with their kind, default and evaluation flag, materialized.
    pub fn desired_leaves(&self) -> Vec<DesiredLeaf> {
        (0..self.leaves.len()).map(|i| self.leaf_at(i)).collect()
    }

    /// The leaf at `path`, if the intent sets it.
    pub fn leaf(&self, path: &Path) -> Option<DesiredLeaf> {
        self.index_of(path).map(|i| self.leaf_at(i))
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
        let mut owned_lists: Vec<&OwnedListSpec> = Vec::new();
        if self.ownership == Ownership::Strict {
            for o in &self.owned {
                if self.in_scope(&o.list.container) || self.scope.iter().any(|s| s.covers(&o.watch))
                {
                    wild.push(o.watch.clone());
                    owned_lists.push(o);
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
        // Strict mode owns every entry of an owned list: a root inside one entry is watched in
        // every entry (`interface[name=*]/ethernet/switched-vlan/config`), so a device costs a
        // root per container shape rather than one per entry (64 ports, one root).
        // Distinct root nodes first (a few hundred for thousands of leaves), paths after.
        let mut nodes: Vec<u32> = self
            .leaves
            .iter()
            .filter(|l| l.evaluated)
            .map(|l| self.paths.root_of(l.node))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        let mut concrete: Vec<Path> = nodes
            .into_iter()
            .map(|node| {
                let exact = self.paths.path(node);
                let mut root = exact.clone();
                for o in &owned_lists {
                    let at = o.list.container.elems.len();
                    let Some(entry) = exact.elems.get(at) else {
                        continue;
                    };
                    // The entry a list always has and does not own (the default network
                    // instance) stays concrete: its subtrees are other lists' business.
                    let unowned = matches!(o.list.filter, EntryFilter::Except { .. })
                        && !o.list.filter.applies(entry);
                    if o.list.container.is_prefix_of(&exact)
                        && entry.local_name() == o.list.list
                        && !unowned
                    {
                        root.elems[at]
                            .keys
                            .values_mut()
                            .for_each(|v| *v = "*".into());
                    }
                }
                root
            })
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

fn in_scope(scope: &[PathPattern], path: &Path) -> bool {
    scope.is_empty() || scope.iter().any(|s| s.covers(path))
}

fn excluded(exclusions: &[PathPattern], path: &Path) -> bool {
    exclusions.iter().any(|x| x.covers(path))
}

#[cfg(test)]
pub(crate) mod tests;
