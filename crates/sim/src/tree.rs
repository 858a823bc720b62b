//! A device's data tree: leaves keyed by their full path, in a persistent
//! ordered map so that snapshots are O(1) (Get and Subscribe read a snapshot
//! without holding the device lock) and devices built from one template
//! share their unchanged nodes (the scale target is 1,000 devices of 2,000
//! leaves in one process).

use std::sync::Arc;

use fabric_gnmi::{Path, PathElem, Value};

/// Leaves of one device. Paths carry no origin and no module prefixes.
///
/// Keys and values sit behind `Arc`s: a write copies the map nodes on its
/// path (copy-on-write), and copying a node of `Arc`s is reference counts,
/// where copying a node of `Path`s is hundreds of allocations per Set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree(imbl::OrdMap<Arc<Path>, Arc<Value>>);

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Sets a leaf; returns the value it had.
    pub fn insert(&mut self, path: Path, value: Value) -> Option<Arc<Value>> {
        self.0.insert(Arc::new(path), Arc::new(value))
    }

    /// Removes a leaf; returns the value it had.
    pub fn remove(&mut self, path: &Path) -> Option<Arc<Value>> {
        self.0.remove(path)
    }

    pub fn get(&self, path: &Path) -> Option<&Value> {
        self.0.get(path).map(|v| &**v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Value)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Leaves with their shared keys and values (cloning them is a reference count).
    pub fn iter_shared(&self) -> impl Iterator<Item = (&Arc<Path>, &Arc<Value>)> {
        self.0.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Path> {
        self.0.keys().map(|k| &**k)
    }

    /// Leaves from `start` on, in order.
    pub fn range_from(&self, start: Path) -> impl Iterator<Item = (&Path, &Value)> {
        self.0
            .range::<_, Path>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .map(|(k, v)| (&**k, &**v))
    }

    /// What changes from `self` to `other`: leaves added or modified, and
    /// leaves removed. Shared subtrees are skipped without being walked.
    pub fn diff(&self, other: &Tree) -> (Vec<(Path, Value)>, Vec<Path>) {
        let mut updates = Vec::new();
        let mut deletes = Vec::new();
        for item in self.0.diff(&other.0) {
            match item {
                imbl::ordmap::DiffItem::Add(p, v)
                | imbl::ordmap::DiffItem::Update { new: (p, v), .. } => {
                    updates.push(((**p).clone(), (**v).clone()));
                }
                imbl::ordmap::DiffItem::Remove(p, _) => deletes.push((**p).clone()),
            }
        }
        (updates, deletes)
    }
}

impl Extend<(Path, Value)> for Tree {
    fn extend<I: IntoIterator<Item = (Path, Value)>>(&mut self, iter: I) {
        for (p, v) in iter {
            self.insert(p, v);
        }
    }
}

/// `Get`'s data type, as far as the simulator distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    All,
    Config,
    State,
}

/// OpenConfig keeps operational data in `state` containers; everything else
/// is configuration. The simulator has no schema flags, so it uses this
/// convention for `GetRequest.type`.
pub fn is_state(path: &Path) -> bool {
    path.elems.iter().any(|e| e.name == "state")
}

impl DataKind {
    pub fn admits(self, path: &Path) -> bool {
        match self {
            DataKind::All => true,
            DataKind::Config => !is_state(path),
            DataKind::State => is_state(path),
        }
    }
}

/// Does pattern element `pat` match the concrete element `e`? A `*` name
/// matches any name; a key that is `*` or absent from the pattern matches any
/// value (gNMI: omitted keys are wildcards).
pub fn elem_matches(pat: &PathElem, e: &PathElem) -> bool {
    if pat.name != "*" && pat.local_name() != e.local_name() {
        return false;
    }
    pat.keys
        .iter()
        .all(|(k, v)| v == "*" || e.keys.get(k).is_some_and(|ev| ev == v || ev == "*"))
}

fn covers_elems(pat: &[PathElem], leaf: &[PathElem]) -> bool {
    match pat.split_first() {
        None => true,
        Some((first, rest)) if first.name == "..." => {
            // `...` spans zero or more elements.
            (0..=leaf.len()).any(|skip| covers_elems(rest, &leaf[skip..]))
        }
        Some((first, rest)) => match leaf.split_first() {
            Some((l, lrest)) => elem_matches(first, l) && covers_elems(rest, lrest),
            None => false,
        },
    }
}

/// Is `leaf` at or below the node(s) that pattern `pat` names?
pub fn covers(pat: &Path, leaf: &Path) -> bool {
    covers_elems(&pat.elems, &leaf.elems)
}

/// The concrete node of `leaf` that `pat` selected (the first `pat.len()`
/// elements), used to group a wildcard Get's answer by instance. Patterns
/// with `...` have no fixed depth: the leaf itself is the node.
pub fn concrete_head(pat: &Path, leaf: &Path) -> Path {
    if pat.elems.iter().any(|e| e.name == "...") || pat.len() > leaf.len() {
        return leaf.clone();
    }
    Path::new(leaf.elems[..pat.len()].to_vec())
}

/// Leaves under `pat` (wildcards allowed) of the given kind. A keyless, non
/// wildcard first element bounds the scan to that top-level container, which
/// keeps subscriptions to one subtree from walking the whole device.
pub fn select<'a>(
    tree: &'a Tree,
    pat: &'a Path,
    kind: DataKind,
) -> Box<dyn Iterator<Item = (&'a Path, &'a Value)> + 'a> {
    let filter = move |(p, _): &(&Path, &Value)| covers(pat, p) && kind.admits(p);
    match pat.elems.first() {
        Some(first) if first.keys.is_empty() && first.name != "*" && first.name != "..." => {
            let start = Path::new(vec![PathElem::new(first.name.clone())]);
            let name = first.name.clone();
            Box::new(
                tree.range_from(start)
                    .take_while(move |(p, _)| p.elems.first().is_some_and(|e| e.name == name))
                    .filter(filter),
            )
        }
        _ => Box::new(tree.iter().filter(filter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn covers_handles_wildcards_omitted_keys_and_ellipsis() {
        let leaf = p("/interfaces/interface[name=Ethernet1]/config/mtu");
        assert!(covers(&p("/interfaces"), &leaf));
        assert!(covers(&p("/interfaces/interface[name=*]/config"), &leaf));
        assert!(covers(&p("/interfaces/interface/config/mtu"), &leaf));
        assert!(covers(&p("/interfaces/.../mtu"), &leaf));
        assert!(covers(&p("/"), &leaf));
        assert!(!covers(&p("/interfaces/interface[name=Ethernet2]"), &leaf));
        assert!(!covers(&p("/interfaces/interface/state"), &leaf));
        assert!(!covers(&leaf.clone().child(PathElem::new("x")), &leaf));
    }

    #[test]
    fn select_bounds_scan_by_top_container_and_filters_state() {
        let mut t = Tree::new();
        t.insert(
            p("/interfaces/interface[name=E1]/config/mtu"),
            Value::Uint(1),
        );
        t.insert(
            p("/interfaces/interface[name=E1]/state/oper-status"),
            Value::from("UP"),
        );
        t.insert(p("/system/config/hostname"), Value::from("h"));
        t.insert(p("/a/b"), Value::from("before"));
        let ifs = p("/interfaces");
        assert_eq!(select(&t, &ifs, DataKind::All).count(), 2);
        assert_eq!(select(&t, &ifs, DataKind::Config).count(), 1);
        assert_eq!(select(&t, &p("/"), DataKind::State).count(), 1);
        assert_eq!(select(&t, &p("/*"), DataKind::All).count(), 4);
    }

    #[test]
    fn head_groups_by_instance() {
        let leaf = p("/interfaces/interface[name=E1]/config/mtu");
        assert_eq!(
            concrete_head(&p("/interfaces/interface[name=*]"), &leaf),
            p("/interfaces/interface[name=E1]")
        );
    }
}
