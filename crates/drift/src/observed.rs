//! The observed state of one device, as an interned tree, and the drift tracker built on it.
//!
//! Every notification of every device passes through [`DriftTracker::apply`], so the tree is
//! built for that: path elements are interned once per device (`interface[name=Ethernet1]` is
//! stored once, encoded in one byte arena, whatever its number of leaves), a node is 28 bytes
//! and a leaf's value 24 more. The initial sync finds or makes a leaf by one interner lookup
//! per path element plus a short sibling scan (or an index lookup under wide lists); a leaf
//! updated after the sync is put in a leaf index, so its next update is one hash of its path
//! and one lookup. A node knows the desired leaf it holds, so an update costs those lookups
//! plus one comparison, whatever the size of the device.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use fabric_gnmi::json::{JsonError, flatten_json_ietf};
use fabric_gnmi::{KeyTable, Leaf, Path, PathElem, Value};

use crate::desired::Desired;
use crate::diff::{DriftDelta, DriftItem, DriftKind, Fingerprint};
use crate::intent::Ownership;
use crate::normalize::{Obs, canonical_elem, canonical_origin, equal_fast, equal_obs, normalize};
use crate::plan::{Plan, Strategy};

const NONE: u32 = u32::MAX;
/// Children past which a node's children are found through the index.
const WIDE: usize = 16;
/// `Node::elem` of a node on the free list.
const FREED: u32 = u32::MAX - 1;

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

/// An observed value, stored in 24 bytes (a [`Value`] takes 56): most leaves are strings,
/// numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
enum Stored {
    Str(Box<str>),
    Uint(u64),
    Int(i64),
    Bool(bool),
    Other(Box<Value>),
}

impl Stored {
    fn from_value(v: &Value) -> Stored {
        match v {
            Value::String(s) => Stored::Str(s.as_str().into()),
            Value::Uint(u) => Stored::Uint(*u),
            Value::Int(i) => Stored::Int(*i),
            Value::Bool(b) => Stored::Bool(*b),
            other => Stored::Other(Box::new(other.clone())),
        }
    }

    fn obs(&self) -> Obs<'_> {
        match self {
            Stored::Str(s) => Obs::Text(s),
            Stored::Uint(u) => Obs::Uint(*u),
            Stored::Int(i) => Obs::Int(*i),
            Stored::Bool(b) => Obs::Bool(*b),
            Stored::Other(v) => Obs::Other(v),
        }
    }

    fn to_value(&self) -> Value {
        self.obs().to_value()
    }
}

#[derive(Debug)]
struct Node {
    parent: u32,
    elem: u32,
    first_child: u32,
    next: u32,
    prev: u32,
    /// Index of the evaluated desired leaf at this node, or NONE. A node with a desired leaf
    /// stays while empty (so does a root, and an owned list's container: `Tree::owned_at`).
    desired: u32,
    /// Index of the node's value in `Tree::values`, or NONE: most nodes are containers, and a
    /// value slot in every node would cost more than the index.
    value: u32,
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
            value: NONE,
        }
    }
}

/// Separators of an element's encoding: neither byte occurs in UTF-8, so `name 0xFE key 0xFF
/// value 0xFE key 0xFF value…` (keys sorted, as `PathElem` keeps them) is unambiguous.
const KEY_MARK: u8 = 0xfe;
const VALUE_MARK: u8 = 0xff;

fn elem_hash(e: &PathElem) -> u64 {
    let mut h = FxHasher::default();
    h.write(e.name.as_bytes());
    for (k, v) in &e.keys {
        h.write_u8(KEY_MARK);
        h.write(k.as_bytes());
        h.write_u8(VALUE_MARK);
        h.write(v.as_bytes());
    }
    h.finish()
}

/// Whether `stored`, an element's encoding, is `e`; compared in place, nothing built.
fn encodes(stored: &[u8], e: &PathElem) -> bool {
    let Some(mut rest) = stored.strip_prefix(e.name.as_bytes()) else {
        return false;
    };
    for (k, v) in &e.keys {
        let next = rest
            .strip_prefix(&[KEY_MARK])
            .and_then(|r| r.strip_prefix(k.as_bytes()))
            .and_then(|r| r.strip_prefix(&[VALUE_MARK]))
            .and_then(|r| r.strip_prefix(v.as_bytes()));
        match next {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Text between separators; it was copied from a `str` and cut only at bytes UTF-8 never uses.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("an interned element is cut at separators only")
}

/// An interned element, read from the interner's bytes.
struct ElemRef<'a> {
    name: &'a str,
    /// The encoding after the name: `0xFE key 0xFF value` per key.
    keys: &'a [u8],
}

impl<'a> ElemRef<'a> {
    fn keys(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.keys.split(|&b| b == KEY_MARK).skip(1).map(|kv| {
            let at = kv
                .iter()
                .position(|&b| b == VALUE_MARK)
                .expect("every key has a value");
            (text(&kv[..at]), text(&kv[at + 1..]))
        })
    }

    fn to_elem(&self) -> PathElem {
        let mut e = PathElem::new(self.name);
        for (k, v) in self.keys() {
            e.keys.insert(k, v);
        }
        e
    }
}

/// Interned path elements, found by hash and confirmed by comparison. Non-canonical spellings
/// (`openconfig-interfaces:interface`, a prefixed identity key) are looked up in their canonical
/// form.
///
/// Elements live encoded, one after another, in one byte vector, and an element's id is where
/// its encoding starts: a lookup reads the hash table and one run of bytes. (Boxed strings per
/// name, key and value cost five allocations an element, and a lookup touched each of them;
/// with a thousand devices none of them is in cache, so every one was a memory read.)
#[derive(Debug, Default)]
struct Interner {
    /// Hash of the canonical element → its id; hash collisions go to `collisions`.
    ids: HashMap<u64, u32, FxBuild>,
    collisions: HashMap<u64, Vec<u32>, FxBuild>,
    /// Per element: its encoding's length (u32, little-endian), then the encoding.
    bytes: Vec<u8>,
}

impl Interner {
    fn encoding(&self, id: u32) -> &[u8] {
        let at = id as usize;
        let len = u32::from_le_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        &self.bytes[at + 4..at + 4 + len]
    }

    fn elem(&self, id: u32) -> ElemRef<'_> {
        let encoding = self.encoding(id);
        let end = encoding
            .iter()
            .position(|&b| b == KEY_MARK)
            .unwrap_or(encoding.len());
        ElemRef {
            name: text(&encoding[..end]),
            keys: &encoding[end..],
        }
    }

    fn find_canonical(&self, e: &PathElem) -> Option<u32> {
        let h = elem_hash(e);
        let id = *self.ids.get(&h)?;
        if encodes(self.encoding(id), e) {
            return Some(id);
        }
        self.collisions
            .get(&h)?
            .iter()
            .copied()
            .find(|&c| encodes(self.encoding(c), e))
    }

    fn get(&self, e: &PathElem) -> Option<u32> {
        match canonical_elem(e) {
            std::borrow::Cow::Borrowed(c) => self.find_canonical(c),
            std::borrow::Cow::Owned(c) => self.find_canonical(&c),
        }
    }

    fn intern(&mut self, e: &PathElem) -> u32 {
        let canonical = canonical_elem(e);
        if let Some(id) = self.find_canonical(&canonical) {
            return id;
        }
        let id = u32::try_from(self.bytes.len())
            .ok()
            .filter(|&id| id < FREED)
            .expect("a device's path elements fit in 4 GiB");
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        self.bytes.extend_from_slice(canonical.name.as_bytes());
        for (k, v) in &canonical.keys {
            self.bytes.push(KEY_MARK);
            self.bytes.extend_from_slice(k.as_bytes());
            self.bytes.push(VALUE_MARK);
            self.bytes.extend_from_slice(v.as_bytes());
        }
        let len = (self.bytes.len() - len_at - 4) as u32;
        self.bytes[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        match self.ids.entry(elem_hash(&canonical)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let h = *o.key();
                self.collisions.entry(h).or_default().push(id);
            }
        }
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
    /// Leaf values, by `Node::value`; freed slots are reused.
    values: Vec<Stored>,
    free_values: Vec<u32>,
    /// Nodes whose children are indexed in `children` (more than WIDE of them).
    indexed: HashSet<u32, FxBuild>,
    /// Containers of owned lists (strict mode) → the owned list's index; kept while empty.
    owned_at: HashMap<u32, u32, FxBuild>,
    leaves: usize,
    /// Leaves updated since the initial sync, by [`LeafKey`]: the next update of the same leaf
    /// is one lookup instead of one per path element. A node is in it only while it holds a
    /// value (`take_value` removes it), so an entry never outlives its node.
    leaf_index: HashMap<LeafKey, u32, FxBuild>,
}

/// Fingerprint of a leaf's canonical path: two 64-bit SipHashes with keys drawn at random once
/// per process. It stands for the path without a comparison: two paths of one device sharing
/// 128 random-keyed bits is not going to happen, and a device cannot aim for it without the keys.
type LeafKey = [u64; 2];

/// Between path elements in a [`LeafKey`]'s input (a byte UTF-8 never uses, as are the
/// interner's marks).
const ELEM_MARK: u8 = 0xfd;

fn leaf_key(path: &Path) -> LeafKey {
    use std::hash::BuildHasher;
    static KEYS: std::sync::LazyLock<[std::hash::RandomState; 2]> =
        std::sync::LazyLock::new(|| [std::hash::RandomState::new(), std::hash::RandomState::new()]);
    let mut hashers = [KEYS[0].build_hasher(), KEYS[1].build_hasher()];
    let mut feed = |bytes: &[u8]| {
        for h in &mut hashers {
            h.write(bytes);
        }
    };
    feed(
        canonical_origin(path.origin.as_deref())
            .unwrap_or("")
            .as_bytes(),
    );
    for e in &path.elems {
        let e = canonical_elem(e);
        feed(&[ELEM_MARK]);
        feed(e.name.as_bytes());
        for (k, v) in &e.keys {
            feed(&[KEY_MARK]);
            feed(k.as_bytes());
            feed(&[VALUE_MARK]);
            feed(v.as_bytes());
        }
    }
    [hashers[0].finish(), hashers[1].finish()]
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
        self.roots
            .push((canonical_origin(origin).map(str::to_string), id));
        id
    }

    /// The child of `parent` named `elem`: an index lookup for wide nodes (lists), a scan of the
    /// few siblings otherwise (an index entry per node would cost more than the node's value).
    fn child(&self, parent: u32, elem: u32) -> Option<u32> {
        if self.indexed.contains(&parent) {
            return self.children.get(&(parent, elem)).copied();
        }
        let mut c = self.nodes[parent as usize].first_child;
        while c != NONE {
            let n = &self.nodes[c as usize];
            if n.elem == elem {
                return Some(c);
            }
            c = n.next;
        }
        None
    }

    /// The child of `parent` for `elem`, created if needed; `true` when created.
    fn child_or_create(&mut self, parent: u32, elem: u32) -> (u32, bool) {
        if let Some(c) = self.child(parent, elem) {
            return (c, false);
        }
        if !self.indexed.contains(&parent) {
            // Past WIDE children, a node's children get an index.
            let mut count = 0;
            let mut c = self.nodes[parent as usize].first_child;
            while c != NONE {
                count += 1;
                c = self.nodes[c as usize].next;
            }
            if count >= WIDE {
                self.indexed.insert(parent);
                let mut c = self.nodes[parent as usize].first_child;
                while c != NONE {
                    self.children
                        .insert((parent, self.nodes[c as usize].elem), c);
                    c = self.nodes[c as usize].next;
                }
            }
        }
        let id = self.alloc(parent, elem);
        let first = self.nodes[parent as usize].first_child;
        self.nodes[id as usize].next = first;
        if first != NONE {
            self.nodes[first as usize].prev = id;
        }
        self.nodes[parent as usize].first_child = id;
        if self.indexed.contains(&parent) {
            self.children.insert((parent, elem), id);
        }
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
            if created && self.owned_at.contains_key(&node) {
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
        if self.indexed.contains(&parent) {
            self.children.remove(&(parent, elem));
        }
        self.indexed.remove(&id);
        self.take_value(id);
        let n = &mut self.nodes[id as usize];
        n.elem = FREED;
        n.desired = NONE;
        self.owned_at.remove(&id);
        self.free.push(id);
    }

    fn value(&self, id: u32) -> Option<&Stored> {
        let v = self.nodes[id as usize].value;
        (v != NONE).then(|| &self.values[v as usize])
    }

    /// Sets a node's value; `true` if it had none.
    fn set_value(&mut self, id: u32, value: Stored) -> bool {
        let v = self.nodes[id as usize].value;
        if v != NONE {
            self.values[v as usize] = value;
            return false;
        }
        let slot = match self.free_values.pop() {
            Some(slot) => {
                self.values[slot as usize] = value;
                slot
            }
            None => {
                self.values.push(value);
                (self.values.len() - 1) as u32
            }
        };
        self.nodes[id as usize].value = slot;
        self.leaves += 1;
        true
    }

    /// Removes a node's value; `true` if it had one.
    fn take_value(&mut self, id: u32) -> bool {
        let v = self.nodes[id as usize].value;
        if v == NONE {
            return false;
        }
        if !self.leaf_index.is_empty() {
            let key = leaf_key(&self.path_of(id));
            if self.leaf_index.get(&key) == Some(&id) {
                self.leaf_index.remove(&key);
            }
        }
        // Drop the old value's heap now rather than when the slot is reused.
        self.values[v as usize] = Stored::Bool(false);
        self.free_values.push(v);
        self.nodes[id as usize].value = NONE;
        self.leaves -= 1;
        true
    }

    fn is_empty_node(&self, id: u32) -> bool {
        let n = &self.nodes[id as usize];
        n.elem != FREED
            && n.desired == NONE
            && n.value == NONE
            && n.first_child == NONE
            && n.parent != NONE
            && !self.owned_at.contains_key(&id)
    }

    /// The path of a node, rebuilt from its interned elements.
    fn path_of(&self, mut id: u32) -> Path {
        let mut elems = Vec::new();
        while self.nodes[id as usize].parent != NONE {
            elems.push(self.interner.elem(self.nodes[id as usize].elem).to_elem());
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

    fn shrink(&mut self) {
        self.nodes.shrink_to_fit();
        self.values.shrink_to_fit();
        self.free_values.shrink_to_fit();
        self.free.shrink_to_fit();
        self.children.shrink_to_fit();
        self.interner.ids.shrink_to_fit();
        self.interner.bytes.shrink_to_fit();
    }

    fn live_nodes(&self) -> impl Iterator<Item = u32> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.elem != FREED)
            .map(|(i, _)| i as u32)
    }
}

/// The drift of one desired leaf: kind and normalized actual value. Boxed: drift is the
/// exception, and in sync it costs one word.
type LeafState = Option<Box<(DriftKind, Option<Value>)>>;

/// What comparing one desired leaf needs.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Its node (NONE when the leaf is not evaluated).
    node: u32,
    kind: crate::normalize::LeafKind,
    /// Absent is as good as intended (the leaf holds its default).
    absent_ok: bool,
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
    /// Per desired leaf, what a comparison needs, packed so a full diff streams through it.
    slots: Vec<Slot>,
    /// Per desired leaf, the normalized expected value, compact (the full one is in `desired`).
    expected: Vec<Stored>,
    /// Current drift state of each desired leaf.
    state: Vec<LeafState>,
    /// Per owned list (strict mode): its container node.
    owned: Vec<u32>,
    /// (owned list, entry element) pairs the intent names.
    named: HashSet<(u32, u32), FxBuild>,
    /// Entry nodes currently reported as Unexpected.
    unexpected: HashSet<u32, FxBuild>,
    drift: Vec<DriftItem>,
    /// True from creation or `reset_observed` until the next `full_diff`.
    syncing: bool,
    keys: KeyTable,
    rejected: Vec<ObservedError>,
    rejected_total: u64,
}

const MAX_KEPT_ERRORS: usize = 16;

/// What could not be applied from a notification.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObservedError {
    #[error("update at {path}: JSON value cannot be decoded: {source}")]
    Undecodable {
        path: Path,
        #[source]
        source: Box<JsonError>,
    },
}

impl DriftTracker {
    pub fn new(desired: Desired) -> Self {
        let mut t = DriftTracker {
            desired,
            tree: Tree::default(),
            slots: Vec::new(),
            expected: Vec::new(),
            state: Vec::new(),
            owned: Vec::new(),
            named: HashSet::default(),
            unexpected: HashSet::default(),
            drift: Vec::new(),
            syncing: true,
            keys: crate::key_table(),
            rejected: Vec::new(),
            rejected_total: 0,
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
                self.tree.owned_at.entry(node).or_insert(idx as u32);
                self.owned.push(node);
            }
        }
        let d = &self.desired;
        let count = d.len();
        self.slots = (0..count)
            .map(|i| Slot {
                node: NONE,
                kind: d.kind_of(i),
                absent_ok: d.absent_ok(i),
            })
            .collect();
        self.expected = (0..count)
            .map(|i| Stored::from_value(d.expected_of(i)))
            .collect();
        self.state = vec![None; count];
        for i in 0..count {
            let path = self.desired.path_of(i);
            let evaluated = self.desired.is_evaluated(i);
            if strict {
                self.name_owned_entries(&path);
            }
            if evaluated {
                let node = self.tree.insert_nodes(&path).0;
                self.tree.nodes[node as usize].desired = i as u32;
                self.slots[i].node = node;
            }
        }
    }

    /// Records which owned-list entries `path` (a desired leaf) names.
    fn name_owned_entries(&mut self, path: &Path) {
        let Some(mut node) = self.tree.root_of(path.origin.as_deref()) else {
            return;
        };
        for e in &path.elems {
            let owned = self.tree.owned_at.get(&node).copied();
            let id = self.tree.interner.intern(e);
            if let Some(owned) = owned {
                let list = &self.desired.owned_lists()[owned as usize].list.list;
                if e.local_name() == list {
                    self.named.insert((owned, id));
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
        }
        self.tree.owned_at.clear();
        self.named.clear();
        self.unexpected.clear();
        self.pin_desired();
        self.gc_all();
        if self.syncing {
            // The observed state is incomplete: the full diff at sync_response reports, against
            // the drift reported so far.
            return DriftDelta::default();
        }
        self.full_diff()
    }

    /// Forgets everything observed, before a resync. Drift stays as it was until the next
    /// [`DriftTracker::full_diff`]; `apply` only records state meanwhile.
    pub fn reset_observed(&mut self) {
        let ids: Vec<u32> = self.tree.live_nodes().collect();
        for id in ids {
            self.tree.nodes[id as usize].value = NONE;
        }
        self.tree.values.clear();
        self.tree.free_values.clear();
        self.tree.leaf_index.clear();
        self.tree.leaves = 0;
        // Freed entries' ids will be reused; the full diff rebuilds this set.
        self.unexpected.clear();
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
            match &leaf.value {
                // A subtree as JSON: its leaves, decoded with the shared key table.
                Value::Json(text) | Value::JsonIetf(text) => {
                    match flatten_json_ietf(&leaf.path, text.as_bytes(), &self.keys) {
                        Ok(leaves) => {
                            for l in &leaves {
                                self.insert_leaf(&l.path, &l.value, &mut touched, &mut log);
                            }
                        }
                        Err(source) => self.reject(ObservedError::Undecodable {
                            path: leaf.path.clone(),
                            source: Box::new(source),
                        }),
                    }
                }
                value => self.insert_leaf(&leaf.path, value, &mut touched, &mut log),
            }
        }
        if self.syncing {
            return DriftDelta::default();
        }
        touched.sort_unstable();
        touched.dedup();
        let mut delta = self.delta_from_log(log);
        // Desired leaves: `touched` is deduplicated, so the state before the apply is the one
        // replaced here; no path is cloned unless the leaf's drift changed.
        for idx in touched {
            let idx = idx as usize;
            let new = self.evaluate(idx);
            if new.as_ref() == self.state[idx].as_deref() {
                continue;
            }
            let old = std::mem::replace(&mut self.state[idx], new.map(Box::new));
            let item = self.state[idx]
                .as_deref()
                .cloned()
                .map(|(kind, actual)| self.leaf_item(idx, kind, actual));
            match item {
                Some(item) => {
                    let path = item.path.clone();
                    self.put(&path, Some(item.clone()));
                    if old.is_some() {
                        delta.changed.push(item);
                    } else {
                        delta.added.push(item);
                    }
                }
                None => {
                    let path = self.desired.path_of(idx);
                    self.put(&path, None);
                    delta.cleared.push(path);
                }
            }
        }
        delta.added.sort_by(|a, b| a.path.cmp(&b.path));
        delta.changed.sort_by(|a, b| a.path.cmp(&b.path));
        delta.cleared.sort();
        delta
    }

    fn insert_leaf(
        &mut self,
        path: &Path,
        value: &Value,
        touched: &mut Vec<u32>,
        log: &mut Vec<(Path, Option<DriftItem>)>,
    ) {
        // The initial sync sets each leaf once: only later updates are worth an index entry.
        let key = (!self.syncing).then(|| leaf_key(path));
        let indexed = key.and_then(|k| self.tree.leaf_index.get(&k).copied());
        let (node, new_entry) = match indexed {
            Some(node) => (node, None),
            None => self.tree.insert_nodes(path),
        };
        self.tree.set_value(node, Stored::from_value(value));
        if let (Some(key), None) = (key, indexed) {
            self.tree.leaf_index.insert(key, node);
        }
        let desired = self.tree.nodes[node as usize].desired;
        if desired != NONE {
            touched.push(desired);
        }
        if let Some(entry) = new_entry
            && !self.syncing
        {
            self.entry_created(entry, log);
        }
    }

    /// Keeps a bounded record of what could not be applied; the caller logs and counts it.
    fn reject(&mut self, e: ObservedError) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_KEPT_ERRORS {
            self.rejected.push(e);
        }
    }

    /// Errors since the last call (at most 16 kept) and how many there were in total. A bad
    /// value costs its own leaves, never the notification or the session.
    pub fn take_errors(&mut self) -> (Vec<ObservedError>, u64) {
        let total = std::mem::take(&mut self.rejected_total);
        (std::mem::take(&mut self.rejected), total)
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
            if self.tree.take_value(id) {
                let desired = self.tree.nodes[id as usize].desired;
                if desired != NONE {
                    touched.push(desired);
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
        if self.tree.nodes[top as usize].elem == FREED {
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
        // While syncing the drift set is left alone: the full diff reports against it.
        if self.unexpected.remove(&id) && !self.syncing {
            let path = self.tree.path_of(id);
            let before = self.item_at(&path);
            log.push((path.clone(), before));
            self.put(&path, None);
        }
    }

    fn unexpected_item(&self, entry: u32) -> Option<DriftItem> {
        let parent = self.tree.nodes[entry as usize].parent;
        let owned = *self.tree.owned_at.get(&parent)?;
        self.unexpected_item_in(owned, entry)
    }

    /// `entry`, a child of owned list `owned`'s container, as an Unexpected item if it is one.
    fn unexpected_item_in(&self, owned: u32, entry: u32) -> Option<DriftItem> {
        let n = &self.tree.nodes[entry as usize];
        // Named entries first: in sync, that is every entry, and it needs no element.
        if self.named.contains(&(owned, n.elem)) {
            return None;
        }
        let spec = &self.desired.owned_lists()[owned as usize].list;
        let elem = self.tree.interner.elem(n.elem);
        if elem.name != spec.list || !spec.filter.applies_to(elem.keys()) {
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

    #[inline]
    fn evaluate(&self, idx: usize) -> Option<(DriftKind, Option<Value>)> {
        let slot = self.slots[idx];
        if slot.node == NONE {
            return None;
        }
        match self.tree.value(slot.node) {
            None if slot.absent_ok => None,
            None => Some((DriftKind::Missing, None)),
            Some(v)
                if equal_fast(slot.kind, self.expected[idx].obs(), v.obs()).unwrap_or_else(
                    || equal_obs(slot.kind, self.desired.expected_of(idx), v.obs()),
                ) =>
            {
                None
            }
            Some(v) => Some((
                DriftKind::Modified,
                Some(normalize(slot.kind, &v.to_value())),
            )),
        }
    }

    fn leaf_item(&self, idx: usize, kind: DriftKind, actual: Option<Value>) -> DriftItem {
        DriftItem {
            path: self.desired.path_of(idx),
            kind,
            expected: Some(self.desired.expected_of(idx).clone()),
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
            if new.as_ref() != self.state[idx].as_deref() {
                self.state[idx] = new.map(Box::new);
            }
        }
        self.unexpected.clear();
        for o in 0..self.owned.len() {
            let container = self.owned[o];
            // Two specs on one container: the first one speaks for it (as in `apply`).
            if self.tree.owned_at.get(&container) != Some(&(o as u32)) {
                continue;
            }
            let mut c = self.tree.nodes[container as usize].first_child;
            while c != NONE {
                if let Some(item) = self.unexpected_item_in(o as u32, c) {
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
        // After an initial sync the tree is about the size it keeps: give back the growth slack
        // of the node vector and the indexes (up to half of their memory).
        self.tree.shrink();
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
    pub fn observed(&self, path: &Path) -> Option<Value> {
        let id = self.tree.find(path)?;
        self.tree.value(id).map(Stored::to_value)
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
                self.tree
                    .value(id)
                    .map(|v| Leaf::new(self.tree.path_of(id), v.to_value()))
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// True from creation or `reset_observed` until the next `full_diff`: `apply` records state
    /// and reports nothing meanwhile.
    pub fn is_syncing(&self) -> bool {
        self.syncing
    }

    /// Number of observed leaves.
    pub fn observed_len(&self) -> usize {
        self.tree.leaves
    }
}

#[cfg(test)]
mod tests;
