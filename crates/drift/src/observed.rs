//! The observed state of one device, as an interned tree, and the drift tracker built on it.
//!
//! Every notification of every device passes through [`DriftTracker::apply`], so the tree is
//! built for that: path elements are interned once (`interface[name=Ethernet1]` is stored once
//! per device, whatever its number of leaves), a node is 40 bytes plus its value, and a leaf
//! is found by one hash lookup per path element. A node knows the desired leaf it holds, so an
//! update costs the lookups of its path plus one comparison, whatever the size of the device.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use fabric_gnmi::{Leaf, Path, PathElem, Value};

use crate::desired::Desired;
use crate::diff::{DriftDelta, DriftItem, DriftKind, Fingerprint};
use crate::intent::Ownership;
use crate::normalize::{canonical_elem, canonical_origin, equal, normalize};
use crate::plan::{Plan, Strategy};

const NONE: u32 = u32::MAX;

/// FxHash (rustc's hasher): the keys are small integers and short names from one device, and
/// SipHash's DoS resistance would cost more than the rest of a lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

#[derive(Debug)]
struct Node {
    parent: u32,
    elem: u32,
    first_child: u32,
    next: u32,
    prev: u32,
    /// Index of the evaluated desired leaf at this node, or NONE.
    desired: u32,
    /// Index of the owned list whose container this node is (strict mode), or NONE.
    owned: u32,
    /// Kept while empty: a desired leaf or an owned list's container.
    pinned: bool,
    live: bool,
    value: Option<Value>,
}

impl Node {
    fn new(parent: u32, elem: u32) -> Node {
        Node {
            parent,
            elem,
            first_child: NONE,
            next: NONE,
            prev: NONE,
            desired: NONE,
            owned: NONE,
            pinned: false,
            live: true,
            value: None,
        }
    }
}

/// Interned path elements. Several spellings (`openconfig-interfaces:interface`, a prefixed
/// identity key) map to the id of the canonical one.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<PathElem, u32, FxBuild>,
    elems: Vec<PathElem>,
}

impl Interner {
    fn get(&self, e: &PathElem) -> Option<u32> {
        if let Some(&id) = self.ids.get(e) {
            return Some(id);
        }
        match canonical_elem(e) {
            std::borrow::Cow::Owned(c) => self.ids.get(&c).copied(),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }

    fn intern(&mut self, e: &PathElem) -> u32 {
        if let Some(id) = self.get(e) {
            // Remember a non-canonical spelling so the next lookup is one probe.
            if !self.ids.contains_key(e) && self.ids.len() < self.elems.len() * 4 + 64 {
                self.ids.insert(e.clone(), id);
            }
            return id;
        }
        let canonical = canonical_elem(e).into_owned();
        let id = self.elems.len() as u32;
        if canonical != *e {
            self.ids.insert(e.clone(), id);
        }
        self.ids.insert(canonical.clone(), id);
        self.elems.push(canonical);
        id
    }
}

/// The observed tree of one device.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    children: HashMap<(u32, u32), u32, FxBuild>,
    interner: Interner,
    roots: Vec<(Option<String>, u32)>,
    leaves: usize,
}

impl Tree {
    fn alloc(&mut self, parent: u32, elem: u32) -> u32 {
        let node = Node::new(parent, elem);
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn root_of(&self, origin: Option<&str>) -> Option<u32> {
        let origin = canonical_origin(origin);
        self.roots
            .iter()
            .find(|(o, _)| o.as_deref() == origin)
            .map(|(_, id)| *id)
    }

    fn root_or_create(&mut self, origin: Option<&str>) -> u32 {
        if let Some(id) = self.root_of(origin) {
            return id;
        }
        let id = self.alloc(NONE, NONE);
        self.nodes[id as usize].pinned = true;
        self.roots
            .push((canonical_origin(origin).map(str::to_string), id));
        id
    }

    fn child(&self, parent: u32, elem: u32) -> Option<u32> {
        self.children.get(&(parent, elem)).copied()
    }

    /// The child of `parent` for `elem`, created if needed; `true` when created.
    fn child_or_create(&mut self, parent: u32, elem: u32) -> (u32, bool) {
        if let Some(c) = self.child(parent, elem) {
            return (c, false);
        }
        let id = self.alloc(parent, elem);
        let first = self.nodes[parent as usize].first_child;
        self.nodes[id as usize].next = first;
        if first != NONE {
            self.nodes[first as usize].prev = id;
        }
        self.nodes[parent as usize].first_child = id;
        self.children.insert((parent, elem), id);
        (id, true)
    }

    /// Walks `path`, creating missing nodes; returns the node and the entries created directly
    /// under an owned container.
    fn insert_nodes(&mut self, path: &Path) -> (u32, Option<u32>) {
        let mut node = self.root_or_create(path.origin.as_deref());
        let mut new_entry = None;
        for e in &path.elems {
            let id = self.interner.intern(e);
            let (child, created) = self.child_or_create(node, id);
            if created && self.nodes[node as usize].owned != NONE {
                new_entry = Some(child);
            }
            node = child;
        }
        (node, new_entry)
    }

    /// The node at `path`, if it exists.
    fn find(&self, path: &Path) -> Option<u32> {
        let mut node = self.root_of(path.origin.as_deref())?;
        for e in &path.elems {
            let id = self.interner.get(e)?;
            node = self.child(node, id)?;
        }
        Some(node)
    }

    /// Frees `id` (empty, unpinned) and unlinks it from its parent.
    fn free_node(&mut self, id: u32) {
        let (parent, elem, prev, next) = {
            let n = &self.nodes[id as usize];
            (n.parent, n.elem, n.prev, n.next)
        };
        if prev != NONE {
            self.nodes[prev as usize].next = next;
        } else if parent != NONE {
            self.nodes[parent as usize].first_child = next;
        }
        if next != NONE {
            self.nodes[next as usize].prev = prev;
        }
        self.children.remove(&(parent, elem));
        let n = &mut self.nodes[id as usize];
        n.live = false;
        n.value = None;
        self.free.push(id);
    }

    fn is_empty_node(&self, id: u32) -> bool {
        let n = &self.nodes[id as usize];
        n.live && !n.pinned && n.value.is_none() && n.first_child == NONE && n.parent != NONE
    }

    /// The path of a node, rebuilt from its interned elements.
    fn path_of(&self, mut id: u32) -> Path {
        let mut elems = Vec::new();
        while self.nodes[id as usize].parent != NONE {
            elems.push(self.interner.elems[self.nodes[id as usize].elem as usize].clone());
            id = self.nodes[id as usize].parent;
        }
        elems.reverse();
        let origin = self
            .roots
            .iter()
            .find(|(_, r)| *r == id)
            .and_then(|(o, _)| o.clone());
        Path { origin, elems }
    }

    /// Node ids in the subtree of `id`, `id` first.
    fn subtree(&self, id: u32) -> Vec<u32> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let mut c = self.nodes[out[i] as usize].first_child;
            while c != NONE {
                out.push(c);
                c = self.nodes[c as usize].next;
            }
            i += 1;
        }
        out
    }

    fn live_nodes(&self) -> impl Iterator<Item = u32> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.live)
            .map(|(i, _)| i as u32)
    }
}

/// The observed tree and the current drift set of one device.
///
/// Life cycle: [`DriftTracker::new`], then the initial sync's notifications through
/// [`DriftTracker::apply`] (which only records state until the first full diff), then
/// [`DriftTracker::full_diff`] at `sync_response`; from then on `apply` returns the drift that
/// each notification changed. After a reconnect: [`DriftTracker::reset_observed`], the new initial
/// sync, `full_diff` again.
#[derive(Debug)]
pub struct DriftTracker {
    desired: Desired,
    tree: Tree,
    /// Node of each desired leaf (NONE when not evaluated).
    leaf_nodes: Vec<u32>,
    /// Absent is as good as intended (the leaf holds its default).
    absent_ok: Vec<bool>,
    /// Current drift state of each desired leaf.
    state: Vec<Option<(DriftKind, Option<Value>)>>,
    /// Per owned list (strict mode): the container node and the entry elements the intent names.
    owned: Vec<(u32, HashSet<u32, FxBuild>)>,
    /// Entry nodes currently reported as Unexpected.
    unexpected: HashSet<u32, FxBuild>,
    drift: Vec<DriftItem>,
    /// True from creation or `reset_observed` until the next `full_diff`.
    syncing: bool,
}

impl DriftTracker {
    pub fn new(desired: Desired) -> Self {
        let mut t = DriftTracker {
            desired,
            tree: Tree::default(),
            leaf_nodes: Vec::new(),
            absent_ok: Vec::new(),
            state: Vec::new(),
            owned: Vec::new(),
            unexpected: HashSet::default(),
            drift: Vec::new(),
            syncing: true,
        };
        t.pin_desired();
        t
    }

    /// Pins the desired leaves and owned containers into the tree and names the owned entries.
    fn pin_desired(&mut self) {
        let strict = self.desired.ownership() == Ownership::Strict;
        self.owned.clear();
        if strict {
            for (idx, o) in self.desired.owned_lists().iter().enumerate() {
                let node = self.tree.insert_nodes(&o.list.container).0;
                let n = &mut self.tree.nodes[node as usize];
                n.pinned = true;
                if n.owned == NONE {
                    n.owned = idx as u32;
                }
                self.owned.push((node, HashSet::default()));
            }
        }
        let leaves = self.desired.desired_leaves();
        self.leaf_nodes = vec![NONE; leaves.len()];
        self.absent_ok = leaves.iter().map(|l| l.absent_ok()).collect();
        self.state = vec![None; leaves.len()];
        for i in 0..leaves.len() {
            let path = self.desired.desired_leaves()[i].path.clone();
            let evaluated = self.desired.desired_leaves()[i].evaluated;
            if strict {
                self.name_owned_entries(&path);
            }
            if evaluated {
                let node = self.tree.insert_nodes(&path).0;
                let n = &mut self.tree.nodes[node as usize];
                n.pinned = true;
                n.desired = i as u32;
                self.leaf_nodes[i] = node;
            }
        }
    }

    /// Records which owned-list entries `path` (a desired leaf) names.
    fn name_owned_entries(&mut self, path: &Path) {
        let Some(mut node) = self.tree.root_of(path.origin.as_deref()) else {
            return;
        };
        for e in &path.elems {
            let owned = self.tree.nodes[node as usize].owned;
            let id = self.tree.interner.intern(e);
            if owned != NONE {
                let list = &self.desired.owned_lists()[owned as usize].list.list;
                if e.local_name() == list {
                    self.owned[owned as usize].1.insert(id);
                }
            }
            match self.tree.child(node, id) {
                Some(c) => node = c,
                None => return,
            }
        }
    }

    /// A new spec: the intent changed. Re-pins the tree and re-diffs everything.
    pub fn set_desired(&mut self, desired: Desired) -> DriftDelta {
        self.desired = desired;
        let ids: Vec<u32> = self.tree.live_nodes().collect();
        for id in &ids {
            let n = &mut self.tree.nodes[*id as usize];
            n.desired = NONE;
            n.owned = NONE;
            n.pinned = n.parent == NONE;
        }
        self.unexpected.clear();
        self.pin_desired();
        self.gc_all();
        if self.syncing {
            // The observed state is incomplete: the full diff at sync_response will report.
            self.drift.clear();
            return DriftDelta::default();
        }
        self.full_diff()
    }

    /// Forgets everything observed, before a resync. Drift stays as it was until the next
    /// [`DriftTracker::full_diff`]; `apply` only records state meanwhile.
    pub fn reset_observed(&mut self) {
        let ids: Vec<u32> = self.tree.live_nodes().collect();
        for id in ids {
            self.tree.nodes[id as usize].value = None;
        }
        self.tree.leaves = 0;
        self.gc_all();
        self.syncing = true;
    }

    /// Frees every empty, unpinned node.
    fn gc_all(&mut self) {
        let ids: Vec<u32> = self.tree.live_nodes().collect();
        for id in ids {
            let mut cur = id;
            while self.tree.is_empty_node(cur) {
                let parent = self.tree.nodes[cur as usize].parent;
                self.tree.free_node(cur);
                cur = parent;
            }
        }
    }

    /// Applies one notification: updates (leaves) and deletes (a leaf or a whole subtree).
    /// Returns the drift it changed. Cost: the lookups of the touched paths, plus the leaves a
    /// subtree delete removes.
    pub fn apply(&mut self, updates: &[Leaf], deletes: &[Path]) -> DriftDelta {
        let mut touched: Vec<u32> = Vec::new();
        let mut log: Vec<(Path, Option<DriftItem>)> = Vec::new();
        for path in deletes {
            self.delete(path, &mut touched, &mut log);
        }
        for leaf in updates {
            let (node, new_entry) = self.tree.insert_nodes(&leaf.path);
            let n = &mut self.tree.nodes[node as usize];
            if n.value.is_none() {
                self.tree.leaves += 1;
            }
            n.value = Some(leaf.value.clone());
            if n.desired != NONE {
                touched.push(n.desired);
            }
            if let Some(entry) = new_entry
                && !self.syncing
            {
                self.entry_created(entry, &mut log);
            }
        }
        if self.syncing {
            return DriftDelta::default();
        }
        touched.sort_unstable();
        touched.dedup();
        for idx in touched {
            let new = self.evaluate(idx as usize);
            if new != self.state[idx as usize] {
                let path = self.desired.desired_leaves()[idx as usize].path.clone();
                let before = self.item_at(&path);
                log.push((path.clone(), before));
                self.state[idx as usize] = new.clone();
                let item = new.map(|(kind, actual)| self.leaf_item(idx as usize, kind, actual));
                self.put(&path, item);
            }
        }
        self.delta_from_log(log)
    }

    fn delete(
        &mut self,
        path: &Path,
        touched: &mut Vec<u32>,
        log: &mut Vec<(Path, Option<DriftItem>)>,
    ) {
        let Some(top) = self.tree.find(path) else {
            return;
        };
        for id in self.tree.subtree(top) {
            let n = &mut self.tree.nodes[id as usize];
            if n.value.take().is_some() {
                self.tree.leaves -= 1;
                if n.desired != NONE {
                    touched.push(n.desired);
                }
            }
        }
        // Free empty nodes bottom-up: the subtree in reverse BFS order, then the ancestors.
        let sub = self.tree.subtree(top);
        for &id in sub.iter().rev() {
            if self.tree.is_empty_node(id) {
                self.entry_freed(id, log);
                self.tree.free_node(id);
            }
        }
        let mut cur = self.tree.nodes[top as usize].parent;
        if !self.tree.nodes[top as usize].live {
            while cur != NONE && self.tree.is_empty_node(cur) {
                let parent = self.tree.nodes[cur as usize].parent;
                self.entry_freed(cur, log);
                self.tree.free_node(cur);
                cur = parent;
            }
        }
    }

    /// An entry appeared under an owned container: Unexpected unless the intent names it.
    fn entry_created(&mut self, entry: u32, log: &mut Vec<(Path, Option<DriftItem>)>) {
        if let Some(item) = self.unexpected_item(entry) {
            let before = self.item_at(&item.path);
            log.push((item.path.clone(), before));
            self.unexpected.insert(entry);
            let path = item.path.clone();
            self.put(&path, Some(item));
        }
    }

    /// A node is about to be freed: if it was an Unexpected entry, the drift clears.
    fn entry_freed(&mut self, id: u32, log: &mut Vec<(Path, Option<DriftItem>)>) {
        if self.unexpected.remove(&id) {
            let path = self.tree.path_of(id);
            let before = self.item_at(&path);
            log.push((path.clone(), before));
            self.put(&path, None);
        }
    }

    fn unexpected_item(&self, entry: u32) -> Option<DriftItem> {
        let n = &self.tree.nodes[entry as usize];
        let owned = self.tree.nodes[n.parent as usize].owned;
        if owned == NONE {
            return None;
        }
        let spec = &self.desired.owned_lists()[owned as usize].list;
        let elem = &self.tree.interner.elems[n.elem as usize];
        if elem.name != spec.list
            || !spec.filter.applies(elem)
            || self.owned[owned as usize].1.contains(&n.elem)
        {
            return None;
        }
        let path = self.tree.path_of(entry);
        if !self.desired.evaluates(&path) {
            return None;
        }
        Some(DriftItem {
            path,
            kind: DriftKind::Unexpected,
            expected: None,
            actual: None,
        })
    }

    fn evaluate(&self, idx: usize) -> Option<(DriftKind, Option<Value>)> {
        let node = self.leaf_nodes[idx];
        if node == NONE {
            return None;
        }
        let leaf = &self.desired.desired_leaves()[idx];
        match &self.tree.nodes[node as usize].value {
            None if self.absent_ok[idx] => None,
            None => Some((DriftKind::Missing, None)),
            Some(v) if equal(leaf.kind, &leaf.expected, v) => None,
            Some(v) => Some((DriftKind::Modified, Some(normalize(leaf.kind, v)))),
        }
    }

    fn leaf_item(&self, idx: usize, kind: DriftKind, actual: Option<Value>) -> DriftItem {
        let leaf = &self.desired.desired_leaves()[idx];
        DriftItem {
            path: leaf.path.clone(),
            kind,
            expected: Some(leaf.expected.clone()),
            actual,
        }
    }

    fn item_at(&self, path: &Path) -> Option<DriftItem> {
        self.drift
            .binary_search_by(|i| i.path.cmp(path))
            .ok()
            .map(|i| self.drift[i].clone())
    }

    /// Sets or removes the item at `path`, keeping the set sorted.
    fn put(&mut self, path: &Path, item: Option<DriftItem>) {
        match (self.drift.binary_search_by(|i| i.path.cmp(path)), item) {
            (Ok(i), Some(item)) => self.drift[i] = item,
            (Ok(i), None) => {
                self.drift.remove(i);
            }
            (Err(i), Some(item)) => self.drift.insert(i, item),
            (Err(_), None) => {}
        }
    }

    fn delta_from_log(&self, log: Vec<(Path, Option<DriftItem>)>) -> DriftDelta {
        let mut delta = DriftDelta::default();
        if log.is_empty() {
            return delta;
        }
        // The state before the apply is the first logged one per path.
        let mut first: Vec<(Path, Option<DriftItem>)> = Vec::with_capacity(log.len());
        let mut seen: HashSet<Path> = HashSet::with_capacity(log.len());
        for (path, before) in log {
            if seen.insert(path.clone()) {
                first.push((path, before));
            }
        }
        first.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, before) in first {
            match (before, self.item_at(&path)) {
                (None, Some(now)) => delta.added.push(now),
                (Some(_), None) => delta.cleared.push(path),
                (Some(b), Some(now)) if b != now => delta.changed.push(now),
                _ => {}
            }
        }
        delta
    }

    /// Recomputes the whole drift set from the observed tree (after `sync_response`).
    pub fn full_diff(&mut self) -> DriftDelta {
        self.syncing = false;
        let mut items: Vec<DriftItem> = Vec::new();
        for idx in 0..self.state.len() {
            let new = self.evaluate(idx);
            if let Some((kind, actual)) = &new {
                items.push(self.leaf_item(idx, *kind, actual.clone()));
            }
            self.state[idx] = new;
        }
        self.unexpected.clear();
        for o in 0..self.owned.len() {
            let container = self.owned[o].0;
            let mut c = self.tree.nodes[container as usize].first_child;
            while c != NONE {
                if let Some(item) = self.unexpected_item(c) {
                    self.unexpected.insert(c);
                    items.push(item);
                }
                c = self.tree.nodes[c as usize].next;
            }
        }
        items.sort_by(|a, b| a.path.cmp(&b.path));
        items.dedup_by(|a, b| a.path == b.path);
        let delta = DriftDelta::between(&self.drift, &items);
        self.drift = items;
        delta
    }

    /// The current drift, sorted by path.
    pub fn drift(&self) -> &[DriftItem] {
        &self.drift
    }

    /// The fingerprint of the current drift; `None` when in sync.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        (!self.drift.is_empty()).then(|| Fingerprint::of(&self.drift))
    }

    /// The SetRequest that would repair the current drift.
    pub fn plan(&self, strategy: Strategy) -> Plan {
        Plan::build(&self.desired, &self.drift, strategy, |p| {
            self.observed_under(p)
        })
    }

    pub fn desired(&self) -> &Desired {
        &self.desired
    }

    /// The observed value of a leaf.
    pub fn observed(&self, path: &Path) -> Option<&Value> {
        let id = self.tree.find(path)?;
        self.tree.nodes[id as usize].value.as_ref()
    }

    /// Every observed leaf at or under `path`.
    pub fn observed_under(&self, path: &Path) -> Vec<Leaf> {
        let Some(top) = self.tree.find(path) else {
            return Vec::new();
        };
        let mut out: Vec<Leaf> = self
            .tree
            .subtree(top)
            .into_iter()
            .filter_map(|id| {
                self.tree.nodes[id as usize]
                    .value
                    .as_ref()
                    .map(|v| Leaf::new(self.tree.path_of(id), v.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Number of observed leaves.
    pub fn observed_len(&self) -> usize {
        self.tree.leaves
    }
}

#[cfg(test)]
mod tests;
