//! JSON and JSON_IETF (RFC 7951) trees to and from flattened leaves.
//!
//! The drift engine works on leaves: a full [`Path`] (list keys included)
//! and a scalar [`Value`]. Targets send subtrees as JSON_IETF blobs, so
//! [`flatten_json_ietf`] turns a blob attached at a path into leaves, and
//! [`encode_json_ietf`] turns leaves back into one blob for a SetRequest.
//!
//! RFC 7951 rules handled here: member names may be module-qualified
//! (`openconfig-interfaces:config`; flattening strips the prefix so paths
//! compare equal whichever form a target used), 64-bit integers and
//! decimal64 are strings, `[null]` is the YANG `empty` value, leaf-lists are
//! arrays of scalars and lists are arrays of objects. A list entry becomes a
//! keyed path element; the key names come from a [`KeyTable`], else from the
//! entry's own top-level scalar members (OpenConfig puts exactly the keys
//! there, everything else lives under `config`/`state`).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Number, Value as Json};

use crate::path::{CompactString, Path, PathElem};
use crate::value::Value;

/// Errors from flattening or encoding JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON at {path}: {message}")]
    Syntax { path: Path, message: String },
    #[error("{path}: array mixes objects and scalars")]
    MixedArray { path: Path },
    #[error("{path}: nested arrays are not valid YANG JSON")]
    NestedArray { path: Path },
    #[error("{path}: list entry has no key leaf {key:?}")]
    MissingListKey { path: Path, key: String },
    #[error("{path}: list key {key:?} is not a scalar")]
    NonScalarKey { path: Path, key: String },
    #[error("{path}: list entry has no keys (add the list to the KeyTable)")]
    NoKeys { path: Path },
    #[error("leaf {leaf} is not under the encoding base {base}")]
    NotUnderBase { leaf: Path, base: Path },
    #[error("{path}: conflicting values (a leaf and a subtree at the same node)")]
    Conflict { path: Path },
    #[error("{path}: value of type {kind} cannot be encoded as JSON")]
    Unencodable { path: Path, kind: &'static str },
    #[error("{path}: wildcard paths cannot be encoded")]
    Wildcard { path: Path },
    #[error(
        "{path}: member name {name:?} is not a YANG identifier, optionally module-qualified (RFC 7951)"
    )]
    MemberName { path: Path, name: String },
}

/// A flattened leaf: full path and scalar value. Serde: `{"path": "/a/b", "value": {"uint": 1}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Leaf {
    pub path: Path,
    pub value: Value,
}

impl Leaf {
    pub fn new(path: Path, value: impl Into<Value>) -> Self {
        Leaf {
            path,
            value: value.into(),
        }
    }
}

/// Key leaf names per YANG list, looked up by the list's path suffix
/// (local names, no keys). The longest matching suffix wins, so
/// `network-instance/interfaces/interface` (key `id`) can override
/// `interface` (key `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTable {
    lists: HashMap<String, Vec<String>>,
    /// Longest suffix (in elements) present, to bound lookups.
    max_depth: usize,
}

impl Default for KeyTable {
    /// The OpenConfig lists the operator uses (interfaces, VLANs, network
    /// instances, BGP, routing policy, ...).
    fn default() -> Self {
        KeyTable::openconfig()
    }
}

impl KeyTable {
    /// A table with no entries (data-driven keys only).
    pub fn empty() -> Self {
        KeyTable {
            lists: HashMap::new(),
            max_depth: 0,
        }
    }

    /// The default table for OpenConfig and the EOS lists we touch.
    pub fn openconfig() -> Self {
        let mut t = KeyTable::empty();
        for (list, keys) in [
            ("interface", &["name"][..]),
            ("subinterface", &["index"]),
            ("address", &["ip"]),
            ("vrrp-group", &["virtual-router-id"]),
            ("vlan", &["vlan-id"]),
            ("network-instance", &["name"]),
            ("network-instance/interfaces/interface", &["id"]),
            ("protocol", &["identifier", "name"]),
            ("neighbor", &["neighbor-address"]),
            ("peer-group", &["peer-group-name"]),
            ("afi-safi", &["afi-safi-name"]),
            ("table", &["protocol", "address-family"]),
            (
                "table-connection",
                &["src-protocol", "dst-protocol", "address-family"],
            ),
            ("static", &["prefix"]),
            ("next-hop", &["index"]),
            ("aggregate", &["prefix"]),
            ("policy-definition", &["name"]),
            ("statement", &["name"]),
            ("prefix-set", &["name"]),
            ("prefix", &["ip-prefix", "masklength-range"]),
            ("community-set", &["community-set-name"]),
            ("ext-community-set", &["ext-community-set-name"]),
            ("tag-set", &["name"]),
            ("route-distinguisher", &["route-distinguisher"]),
            ("vni", &["vni"]),
            ("endpoint", &["endpoint-id"]),
            ("server-group", &["name"]),
            ("server", &["address"]),
            ("user", &["username"]),
            ("component", &["name"]),
            ("acl-set", &["name", "type"]),
            ("acl-entry", &["sequence-id"]),
            ("ipv4-address", &["ip"]),
        ] {
            t.insert(list, keys.iter().copied());
        }
        t
    }

    /// Adds or replaces the keys of a list. `list` is a list name or a
    /// `/`-separated suffix of its schema path (`network-instance/interfaces/interface`).
    pub fn insert<I, S>(&mut self, list: &str, keys: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = list.trim_matches('/').to_string();
        self.max_depth = self.max_depth.max(list.split('/').count());
        self.lists
            .insert(list, keys.into_iter().map(Into::into).collect());
        self
    }

    /// Builder-style [`KeyTable::insert`].
    pub fn with<I, S>(mut self, list: &str, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insert(list, keys);
        self
    }

    /// Keys of the list at `path` (local names of the schema path, the list
    /// name last).
    pub fn lookup(&self, schema_path: &[&str]) -> Option<&[String]> {
        let n = schema_path.len().min(self.max_depth);
        for len in (1..=n).rev() {
            let suffix = schema_path[schema_path.len() - len..].join("/");
            if let Some(keys) = self.lists.get(&suffix) {
                return Some(keys);
            }
        }
        None
    }
}

fn local(name: &str) -> &str {
    name.split_once(':').map_or(name, |(_, l)| l)
}

/// A YANG identifier: a letter or underscore, then letters, digits, `_`, `-` and `.`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An RFC 7951 member name, `identifier` or `module:identifier`. Anything else cannot be a
/// path element that survives printing and parsing, so it is refused, not passed on.
fn is_member_name(name: &str) -> bool {
    match name.split_once(':') {
        Some((module, id)) => is_identifier(module) && is_identifier(id),
        None => is_identifier(name),
    }
}

/// Flattens an RFC 7951 JSON_IETF blob attached at `base` into leaves.
/// Module prefixes are stripped from member names.
pub fn flatten_json_ietf(
    base: &Path,
    json: &[u8],
    keys: &KeyTable,
) -> Result<Vec<Leaf>, JsonError> {
    flatten_bytes(base, json, keys)
}

/// Flattens a plain JSON (`Encoding::Json`) blob. The rules are those of
/// JSON_IETF; plain JSON simply has no module prefixes and uses numbers for
/// 64-bit integers, which decode the same way.
pub fn flatten_json(base: &Path, json: &[u8], keys: &KeyTable) -> Result<Vec<Leaf>, JsonError> {
    flatten_bytes(base, json, keys)
}

fn flatten_bytes(base: &Path, json: &[u8], keys: &KeyTable) -> Result<Vec<Leaf>, JsonError> {
    let tree: Node<'_> = serde_json::from_slice(json).map_err(|e| JsonError::Syntax {
        path: base.clone(),
        message: e.to_string(),
    })?;
    // RFC 7951 documents spend at least ~16 bytes per leaf (name, quotes,
    // colon, value, comma): a cheap upper bound for the output capacity.
    flatten_node(base, &tree, keys, json.len() / 16 + 1)
}

/// Flattens an already-parsed JSON tree attached at `base`.
pub fn flatten_tree(base: &Path, tree: &Json, keys: &KeyTable) -> Result<Vec<Leaf>, JsonError> {
    let node = Node::from_value(tree);
    let capacity = count_leaves(&node);
    flatten_node(base, &node, keys, capacity)
}

/// A JSON tree that borrows its strings from the input and keeps object
/// members in a vector: parsing a device config into it costs a fraction of
/// the allocations of `serde_json::Value` (whose objects are B-trees of
/// owned keys), which is what keeps flattening above a million leaves a
/// second.
#[derive(Debug)]
enum Node<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn from_value(v: &'a Json) -> Node<'a> {
        match v {
            Json::Null => Node::Null,
            Json::Bool(b) => Node::Bool(*b),
            Json::Number(n) => Node::Num(n.clone()),
            Json::String(s) => Node::Str(Cow::Borrowed(s)),
            Json::Array(items) => Node::Arr(items.iter().map(Node::from_value).collect()),
            Json::Object(m) => Node::Obj(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Node::from_value(v)))
                    .collect(),
            ),
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Node::Obj(_))
    }

    fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }
}

/// A string that borrows from the input when it has no escapes.
struct BorrowedStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for BorrowedStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = BorrowedStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::Deserialize<'de> for Node<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Node<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Node::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Node::Num(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Node::Num(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Number::from_f64(v)
                    .map(Node::Num)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Node::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Node::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Node::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<Node<'de>>()? {
                    items.push(item);
                }
                Ok(Node::Arr(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(BorrowedStr(k)) = map.next_key::<BorrowedStr<'de>>()? {
                    let v = map.next_value::<Node<'de>>()?;
                    members.push((k, v));
                }
                Ok(Node::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

fn flatten_node(
    base: &Path,
    tree: &Node<'_>,
    keys: &KeyTable,
    capacity: usize,
) -> Result<Vec<Leaf>, JsonError> {
    let mut f = Flattener {
        keys,
        origin: base.origin.clone(),
        stack: base.elems.clone(),
        // Sizing the output once matters: growing a vector of thousands of
        // leaves while many small allocations are live makes the allocator
        // consolidate its free lists on every doubling.
        out: Vec::with_capacity(capacity),
    };
    match tree {
        Node::Obj(members) => {
            // Targets answer a Get on a keyless list path (`/interfaces/interface`)
            // with `{"openconfig-interfaces:interface": [...]}`: unwrap it so
            // the entries become keyed elements of that list.
            if let (Some(last), [(name, Node::Arr(items))]) =
                (base.elems.last(), members.as_slice())
                && last.keys.is_empty()
                && local(name) == last.local_name()
                && items.iter().all(Node::is_object)
            {
                f.stack.pop();
                f.list(name, items)?;
            } else {
                f.object(members)?;
            }
        }
        Node::Arr(items) if !items.is_empty() && items.iter().all(Node::is_object) => {
            // An array of entries attached at the list path itself.
            match f.stack.pop() {
                Some(last) if last.keys.is_empty() => f.list(&last.name, items)?,
                _ => return Err(JsonError::NestedArray { path: base.clone() }),
            }
        }
        other => {
            if let Some(v) = f.scalar_or_leaflist(other)? {
                f.emit(v);
            }
        }
    }
    Ok(f.out)
}

/// Upper bound of the leaves `tree` flattens to (scalars and leaf-lists).
fn count_leaves(tree: &Node<'_>) -> usize {
    match tree {
        Node::Obj(m) => m.iter().map(|(_, v)| count_leaves(v)).sum(),
        Node::Arr(items) if items.iter().any(Node::is_object) => {
            items.iter().map(count_leaves).sum()
        }
        _ => 1,
    }
}

struct Flattener<'a> {
    keys: &'a KeyTable,
    origin: Option<String>,
    stack: Vec<PathElem>,
    out: Vec<Leaf>,
}

impl Flattener<'_> {
    fn current(&self) -> Path {
        Path {
            origin: self.origin.clone(),
            elems: self.stack.clone(),
        }
    }

    fn emit(&mut self, value: Value) {
        let path = self.current();
        self.out.push(Leaf { path, value });
    }

    fn object(&mut self, members: &[(Cow<'_, str>, Node<'_>)]) -> Result<(), JsonError> {
        for (name, child) in members {
            if !is_member_name(name) {
                return Err(JsonError::MemberName {
                    path: self.current(),
                    name: name.to_string(),
                });
            }
            match child {
                Node::Obj(inner) => {
                    self.stack.push(PathElem::new(local(name)));
                    let r = self.object(inner);
                    self.stack.pop();
                    r?;
                }
                Node::Arr(items) if !items.is_empty() && items.iter().all(Node::is_object) => {
                    self.list(name, items)?;
                }
                other => {
                    self.stack.push(PathElem::new(local(name)));
                    let v = self.scalar_or_leaflist(other);
                    if let Ok(Some(v)) = v {
                        self.emit(v);
                        self.stack.pop();
                    } else {
                        self.stack.pop();
                        v?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A YANG list: one keyed element per entry.
    fn list(&mut self, name: &str, items: &[Node<'_>]) -> Result<(), JsonError> {
        let list_name = local(name);
        let table_keys: Option<Vec<String>> = {
            let mut schema: Vec<&str> = self.stack.iter().map(PathElem::local_name).collect();
            schema.push(list_name);
            self.keys.lookup(&schema).map(<[String]>::to_vec)
        };
        for item in items {
            let Node::Obj(entry) = item else {
                return Err(JsonError::MixedArray {
                    path: self.current().push_name(list_name),
                });
            };
            let mut keys = crate::path::Keys::new();
            match &table_keys {
                Some(names) => {
                    for k in names {
                        let v = entry
                            .iter()
                            .find(|(m, _)| local(m) == k)
                            .map(|(_, v)| v)
                            .ok_or_else(|| JsonError::MissingListKey {
                                path: self.current().push_name(list_name),
                                key: k.clone(),
                            })?;
                        let s = key_string(v).ok_or_else(|| JsonError::NonScalarKey {
                            path: self.current().push_name(list_name),
                            key: k.clone(),
                        })?;
                        keys.insert(CompactString::from(k.as_str()), s);
                    }
                }
                None => {
                    for (m, v) in entry {
                        if let Some(s) = key_string(v) {
                            keys.insert(CompactString::from(local(m)), s);
                        }
                    }
                    if keys.is_empty() {
                        return Err(JsonError::NoKeys {
                            path: self.current().push_name(list_name),
                        });
                    }
                }
            }
            self.stack.push(PathElem {
                name: list_name.into(),
                keys,
            });
            let r = self.object(entry);
            self.stack.pop();
            r?;
        }
        Ok(())
    }

    /// `Ok(None)` for values that produce no leaf (an empty array: RFC 7951
    /// never encodes an empty list or leaf-list, so there is nothing there).
    fn scalar_or_leaflist(&self, v: &Node<'_>) -> Result<Option<Value>, JsonError> {
        Ok(Some(match v {
            Node::Arr(items) => {
                if items.is_empty() {
                    return Ok(None);
                }
                if items.len() == 1 && items[0].is_null() {
                    return Ok(Some(Value::Empty));
                }
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        Node::Arr(_) => {
                            return Err(JsonError::NestedArray {
                                path: self.current(),
                            });
                        }
                        // `null` is only valid as the whole `[null]` (empty).
                        Node::Obj(_) | Node::Null => {
                            return Err(JsonError::MixedArray {
                                path: self.current(),
                            });
                        }
                        s => out.push(scalar(s)),
                    }
                }
                Value::LeafList(out)
            }
            s => scalar(s),
        }))
    }
}

fn scalar(v: &Node<'_>) -> Value {
    match v {
        Node::Str(s) => Value::String(s.to_string()),
        Node::Bool(b) => Value::Bool(*b),
        Node::Num(n) => number(n),
        // A lone null is not valid RFC 7951, but some targets send it for
        // `empty` leaves; treat it as such rather than failing the message.
        Node::Null => Value::Empty,
        // Callers filter arrays and objects out before calling.
        Node::Arr(_) | Node::Obj(_) => Value::Empty,
    }
}

fn number(n: &Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::Uint(u)
    } else if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else {
        Value::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn key_string(v: &Node<'_>) -> Option<CompactString> {
    match v {
        Node::Str(s) => Some(CompactString::from(s.as_ref())),
        Node::Num(n) => Some(CompactString::from(n.to_string())),
        Node::Bool(b) => Some(CompactString::from(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Does the entry member `j` hold the key value `v` (path form)? Used to
/// find list entries while encoding, without allocating for the common
/// string and integer keys.
fn json_key_eq(j: &Json, v: &str) -> bool {
    match j {
        Json::String(s) => s == v,
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => is_canonical_int(v) && v.parse::<u64>().is_ok_and(|x| x == u),
            (None, Some(i)) => is_canonical_int(v) && v.parse::<i64>().is_ok_and(|x| x == i),
            _ => n.to_string() == v,
        },
        Json::Bool(b) => v == if *b { "true" } else { "false" },
        _ => false,
    }
}

/// Encodes leaves under `base` into one RFC 7951 JSON_IETF document, ready
/// for `TypedValue.json_ietf_val` of an Update at `base`.
///
/// Type rules (no schema is available, so they follow the value variant):
/// `Int` within i32 and `Uint` within u32 are JSON numbers, wider ones
/// strings (RFC 7951 int64/uint64); `Decimal` is a string; `Bytes` base64;
/// `Empty` is `[null]`; raw `Json`/`JsonIetf` values are parsed and merged.
/// List entries get their key leaves from the path keys; a numeric-looking
/// key value is written as a number unless a leaf for that key says
/// otherwise. Member names are written as the paths spell them, so
/// module-qualified names pass through unchanged.
pub fn encode_json_ietf(base: &Path, leaves: &[Leaf]) -> Result<Vec<u8>, JsonError> {
    let tree = encode_json_ietf_tree(base, leaves)?;
    // Serializing a serde_json::Value cannot fail (string keys only).
    Ok(serde_json::to_vec(&tree).unwrap_or_default())
}

/// Like [`encode_json_ietf`], with every top-level member name that has no
/// module prefix qualified with `module` (`mtu` becomes
/// `openconfig-interfaces:mtu`). RFC 7951 requires top-level members to be
/// namespace-qualified; lenient targets (EOS) accept bare names, strict
/// ones need this.
pub fn encode_json_ietf_qualified(
    base: &Path,
    leaves: &[Leaf],
    module: &str,
) -> Result<Vec<u8>, JsonError> {
    let mut tree = encode_json_ietf_tree(base, leaves)?;
    if let Json::Object(map) = &mut tree {
        let members = std::mem::take(map);
        for (k, v) in members {
            let k = if k.contains(':') {
                k
            } else {
                format!("{module}:{k}")
            };
            map.insert(k, v);
        }
    }
    Ok(serde_json::to_vec(&tree).unwrap_or_default())
}

/// Like [`encode_json_ietf`], returning the tree.
pub fn encode_json_ietf_tree(base: &Path, leaves: &[Leaf]) -> Result<Json, JsonError> {
    let mut root = Json::Object(Map::new());
    for leaf in leaves {
        if leaf.path.has_wildcards() {
            return Err(JsonError::Wildcard {
                path: leaf.path.clone(),
            });
        }
        let rel = base
            .strip_prefix_of(&leaf.path)
            .or_else(|| under_keyless_list(base, &leaf.path))
            .ok_or_else(|| JsonError::NotUnderBase {
                leaf: leaf.path.clone(),
                base: base.clone(),
            })?;
        let value = to_json(&leaf.path, &leaf.value)?;
        insert(&mut root, &rel.elems, value, &leaf.path)?;
    }
    Ok(root)
}

/// A base that names a list without keys (`/interfaces/interface`) holds
/// its entries wrapped as `{"interface": [...]}`, the form targets answer a
/// Get on such a path with (and [`flatten_json_ietf`] unwraps): the leaf's
/// path relative to the base's parent, starting at the keyed list element.
fn under_keyless_list(base: &Path, leaf: &Path) -> Option<Path> {
    let last = base.last().filter(|e| e.keys.is_empty())?;
    let rel = base.parent().strip_prefix_of(leaf)?;
    let first = rel.elems.first()?;
    (first.name == last.name && !first.keys.is_empty()).then_some(rel)
}

fn insert(node: &mut Json, rel: &[PathElem], value: Json, full: &Path) -> Result<(), JsonError> {
    let Some((first, rest)) = rel.split_first() else {
        return merge(node, value, full);
    };
    let Json::Object(map) = node else {
        return Err(JsonError::Conflict { path: full.clone() });
    };
    if first.keys.is_empty() {
        let child = member(map, &first.name, || Json::Object(Map::new()))
            .ok_or_else(|| JsonError::Conflict { path: full.clone() })?;
        if rest.is_empty() {
            // A leaf: replace whatever placeholder is there, unless a subtree
            // already holds data.
            return match child {
                Json::Object(m) if m.is_empty() => {
                    *child = value;
                    Ok(())
                }
                Json::Object(_) => merge(child, value, full),
                _ => {
                    *child = value;
                    Ok(())
                }
            };
        }
        return insert(child, rest, value, full);
    }
    // A list entry: find it by keys or create it.
    let list = member(map, &first.name, || Json::Array(Vec::new()))
        .ok_or_else(|| JsonError::Conflict { path: full.clone() })?;
    let Json::Array(entries) = list else {
        return Err(JsonError::Conflict { path: full.clone() });
    };
    // Search from the end: leaves usually arrive grouped by entry (sorted
    // paths), so the entry is almost always the last one created, and a
    // large list stays linear instead of quadratic.
    let idx = entries.iter().rposition(|e| {
        first
            .keys
            .iter()
            .all(|(k, v)| e.get(k.as_str()).is_some_and(|j| json_key_eq(j, v)))
    });
    let idx = match idx {
        Some(i) => i,
        None => {
            let mut entry = Map::new();
            for (k, v) in &first.keys {
                entry.insert(k.to_string(), key_json(v));
            }
            entries.push(Json::Object(entry));
            entries.len() - 1
        }
    };
    insert(&mut entries[idx], rest, value, full)
}

/// The member `name` of `map`, created with `init` if absent. Looks up by
/// `&str` first: `Map::entry` would allocate the key for every leaf.
fn member<'m>(
    map: &'m mut Map<String, Json>,
    name: &str,
    init: impl FnOnce() -> Json,
) -> Option<&'m mut Json> {
    if !map.contains_key(name) {
        map.insert(name.to_string(), init());
    }
    map.get_mut(name)
}

/// Merges `value` into `node`: objects merge member-wise, anything else
/// replaces an empty placeholder and conflicts with existing data.
fn merge(node: &mut Json, value: Json, full: &Path) -> Result<(), JsonError> {
    match (node, value) {
        (Json::Object(dst), Json::Object(src)) => {
            for (k, v) in src {
                match dst.get_mut(&k) {
                    Some(existing) => merge(existing, v, full)?,
                    None => {
                        dst.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        (node @ Json::Object(_), v) if node.as_object().is_some_and(Map::is_empty) => {
            *node = v;
            Ok(())
        }
        (node, v) if *node == v => Ok(()),
        _ => Err(JsonError::Conflict { path: full.clone() }),
    }
}

/// `-?(0|[1-9][0-9]*)` without `-0`: the only spelling an integer key has
/// after a round trip through a JSON number.
fn is_canonical_int(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && v != "-0"
}

fn key_json(v: &str) -> Json {
    // Keys such as vlan-id or subinterface index are integers in YANG; a
    // string there is rejected by strict targets. Names are rarely numeric.
    // Only the canonical decimal form: "010" or "+1" must stay strings, or
    // the key would change on the way back.
    if is_canonical_int(v)
        && let Ok(u) = v.parse::<u32>()
    {
        return Json::Number(u.into());
    }
    Json::String(v.to_string())
}

/// One value as RFC 7951 JSON (64-bit integers as strings, decimal64 as a string, `empty` as
/// `[null]`), for callers that store or show values as JSON, such as a DriftEvent.
pub fn value_to_json(v: &Value) -> Result<Json, JsonError> {
    to_json(&Path::root(), v)
}

fn to_json(path: &Path, v: &Value) -> Result<Json, JsonError> {
    Ok(match v {
        Value::String(s) | Value::Ascii(s) => Json::String(s.clone()),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => Json::Number(small.into()),
            Err(_) => Json::String(i.to_string()),
        },
        Value::Uint(u) => match u32::try_from(*u) {
            Ok(small) => Json::Number(small.into()),
            Err(_) => Json::String(u.to_string()),
        },
        Value::Bool(b) => Json::Bool(*b),
        Value::Double(d) => Json::Number(Number::from_f64(*d).ok_or(JsonError::Unencodable {
            path: path.clone(),
            kind: "non-finite double",
        })?),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Bytes(b) => Json::String(base64(b)),
        Value::Empty => Json::Array(vec![Json::Null]),
        Value::LeafList(items) => Json::Array(
            items
                .iter()
                .map(|i| to_json(path, i))
                .collect::<Result<_, _>>()?,
        ),
        Value::Json(s) | Value::JsonIetf(s) => {
            serde_json::from_str(s).map_err(|e| JsonError::Syntax {
                path: path.clone(),
                message: e.to_string(),
            })?
        }
        Value::Any { .. } | Value::ProtoBytes(_) => {
            return Err(JsonError::Unencodable {
                path: path.clone(),
                kind: v.kind(),
            });
        }
    })
}

/// Standard base64 with padding (RFC 4648), as RFC 7951 requires for binary.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Decimal64;
    use proptest::prelude::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn find<'a>(leaves: &'a [Leaf], path: &str) -> Option<&'a Value> {
        let path = p(path);
        leaves.iter().find(|l| l.path == path).map(|l| &l.value)
    }

    const EOS_INTERFACES: &str = r#"{
      "openconfig-interfaces:interface": [
        {"name": "Ethernet1",
         "config": {"name": "Ethernet1", "description": "to spine1", "mtu": 9214,
                    "enabled": true, "openconfig-vlan:tpid": "openconfig-vlan-types:TPID_0X8100"},
         "subinterfaces": {"subinterface": [
            {"index": 0, "config": {"index": 0},
             "openconfig-if-ip:ipv4": {"addresses": {"address": [
                {"ip": "10.0.0.1", "config": {"ip": "10.0.0.1", "prefix-length": 31}}]}}}]},
         "state": {"counters": {"in-octets": "18446744073709551615"}}},
        {"name": "Ethernet2", "config": {"name": "Ethernet2", "loopback-mode": [null],
                    "arista-intf-augments:fallback-vlans": [10, 20]}}
      ]
    }"#;

    #[test]
    fn flattens_eos_style_list_with_prefixes() {
        let leaves = flatten_json_ietf(
            &p("/interfaces/interface"),
            EOS_INTERFACES.as_bytes(),
            &KeyTable::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            find(&leaves, "/interfaces/interface[name=Ethernet1]/config/mtu"),
            Some(&Value::Uint(9214))
        );
        assert_eq!(
            find(
                &leaves,
                "/interfaces/interface[name=Ethernet1]/config/description"
            ),
            Some(&Value::String("to spine1".into()))
        );
        assert_eq!(
            find(&leaves, "/interfaces/interface[name=Ethernet1]/config/tpid"),
            Some(&Value::String("openconfig-vlan-types:TPID_0X8100".into()))
        );
        assert_eq!(
            find(
                &leaves,
                "/interfaces/interface[name=Ethernet1]/subinterfaces/subinterface[index=0]/ipv4/addresses/address[ip=10.0.0.1]/config/prefix-length"
            ),
            Some(&Value::Uint(31))
        );
        // uint64 counter as a string: semantic comparison sees the number.
        let counter = find(
            &leaves,
            "/interfaces/interface[name=Ethernet1]/state/counters/in-octets",
        );
        assert!(counter.is_some_and(|v| v.semantic_eq(&Value::Uint(u64::MAX))));
        assert_eq!(
            find(
                &leaves,
                "/interfaces/interface[name=Ethernet2]/config/loopback-mode"
            ),
            Some(&Value::Empty)
        );
        assert_eq!(
            find(
                &leaves,
                "/interfaces/interface[name=Ethernet2]/config/fallback-vlans"
            ),
            Some(&Value::LeafList(vec![Value::Uint(10), Value::Uint(20)]))
        );
        // Key leaves are data too.
        assert_eq!(
            find(&leaves, "/interfaces/interface[name=Ethernet2]/name"),
            Some(&Value::String("Ethernet2".into()))
        );
        assert_eq!(leaves.len(), 16);
    }

    #[test]
    fn multi_key_lists_and_suffix_lookup() {
        let json = r#"{"network-instance": [{"name": "default",
            "interfaces": {"interface": [{"id": "Vlan10", "config": {"id": "Vlan10"}}]},
            "protocols": {"protocol": [{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
               "bgp": {"neighbors": {"neighbor": [{"neighbor-address": "10.0.0.0",
                   "config": {"peer-group": "SPINES", "peer-as": 65000}}]}}}]}}]}"#;
        let leaves = flatten_json_ietf(
            &p("/network-instances"),
            json.as_bytes(),
            &KeyTable::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(find(&leaves, "/network-instances/network-instance[name=default]/interfaces/interface[id=Vlan10]/config/id").is_some());
        assert_eq!(
            find(
                &leaves,
                "/network-instances/network-instance[name=default]/protocols/protocol[identifier=openconfig-policy-types:BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=10.0.0.0]/config/peer-as"
            ),
            Some(&Value::Uint(65000))
        );
    }

    #[test]
    fn unknown_lists_use_data_keys_or_caller_table() {
        let json = br#"{"widget": [{"serial": "A1", "config": {"color": "red"}}]}"#;
        let leaves =
            flatten_json_ietf(&p("/widgets"), json, &KeyTable::empty()).unwrap_or_default();
        assert!(find(&leaves, "/widgets/widget[serial=A1]/config/color").is_some());
        // A table entry wins, and a missing key is a clear error.
        let t = KeyTable::empty().with("widget", ["id"]);
        let err = flatten_json_ietf(&p("/widgets"), json, &t);
        assert!(matches!(err, Err(JsonError::MissingListKey { ref key, .. }) if key == "id"));
        let keyless = br#"{"widget": [{"config": {"color": "red"}}]}"#;
        assert!(matches!(
            flatten_json_ietf(&p("/widgets"), keyless, &KeyTable::empty()),
            Err(JsonError::NoKeys { .. })
        ));
    }

    #[test]
    fn scalars_at_base_and_bad_input() {
        let base = p("/interfaces/interface[name=Et1]/config/mtu");
        let leaves = flatten_json_ietf(&base, b"1500", &KeyTable::default()).unwrap_or_default();
        assert_eq!(leaves, vec![Leaf::new(base.clone(), 1500u64)]);
        assert!(matches!(
            flatten_json_ietf(&base, b"{\"a\": ", &KeyTable::default()),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            flatten_json_ietf(&p("/a"), br#"{"b": [1, {"c": 2}]}"#, &KeyTable::default()),
            Err(JsonError::MixedArray { .. })
        ));
        assert!(matches!(
            flatten_json_ietf(&p("/a"), br#"{"b": [[1]]}"#, &KeyTable::default()),
            Err(JsonError::NestedArray { .. })
        ));
    }

    #[test]
    fn encodes_leaves_per_rfc7951() {
        let base = p("/interfaces");
        let leaves = vec![
            Leaf::new(
                p("/interfaces/interface[name=Ethernet1]/config/description"),
                "uplink",
            ),
            Leaf::new(
                p("/interfaces/interface[name=Ethernet1]/config/mtu"),
                9214u64,
            ),
            Leaf::new(
                p(
                    "/interfaces/interface[name=Ethernet1]/subinterfaces/subinterface[index=0]/config/index",
                ),
                0u64,
            ),
            Leaf::new(
                p("/interfaces/interface[name=Ethernet2]/config/counter"),
                Value::Uint(1 << 40),
            ),
            Leaf::new(
                p("/interfaces/interface[name=Ethernet2]/config/ratio"),
                Decimal64 {
                    digits: 150,
                    precision: 2,
                },
            ),
            Leaf::new(
                p("/interfaces/interface[name=Ethernet2]/config/flag"),
                Value::Empty,
            ),
            Leaf::new(
                p("/interfaces/interface[name=Ethernet2]/config/blob"),
                Value::Bytes(b"hi!?".to_vec()),
            ),
        ];
        let tree = encode_json_ietf_tree(&base, &leaves).unwrap_or_default();
        let expected = serde_json::json!({
            "interface": [
                {"name": "Ethernet1", "config": {"description": "uplink", "mtu": 9214},
                 "subinterfaces": {"subinterface": [{"index": 0, "config": {"index": 0}}]}},
                {"name": "Ethernet2", "config": {"counter": "1099511627776", "ratio": "1.50",
                  "flag": [null], "blob": "aGkhPw=="}}
            ]
        });
        assert_eq!(tree, expected);
        assert!(matches!(
            encode_json_ietf(&p("/system"), &leaves),
            Err(JsonError::NotUnderBase { .. })
        ));
        assert!(matches!(
            encode_json_ietf(
                &base,
                &[
                    Leaf::new(p("/interfaces/a"), 1u64),
                    Leaf::new(p("/interfaces/a/b"), 2u64)
                ]
            ),
            Err(JsonError::Conflict { .. })
        ));
    }

    #[test]
    fn qualified_encoding_prefixes_top_level_members_only() {
        let base = p("/interfaces/interface[name=Et1]/config");
        let leaves = vec![
            Leaf::new(p("/interfaces/interface[name=Et1]/config/mtu"), 9214u64),
            Leaf::new(
                p("/interfaces/interface[name=Et1]/config/openconfig-vlan:tpid"),
                "TPID_0X8100",
            ),
            Leaf::new(
                p("/interfaces/interface[name=Et1]/config/nested/leaf"),
                true,
            ),
        ];
        let bytes =
            encode_json_ietf_qualified(&base, &leaves, "openconfig-interfaces").unwrap_or_default();
        let tree: Json = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(
            tree,
            serde_json::json!({
                "openconfig-interfaces:mtu": 9214,
                "openconfig-vlan:tpid": "TPID_0X8100",
                "openconfig-interfaces:nested": {"leaf": true}
            })
        );
        // Flattening strips the prefixes again.
        let back = flatten_json_ietf(&base, &bytes, &KeyTable::default()).unwrap_or_default();
        assert_eq!(back.len(), 3);
        assert!(
            back.iter()
                .any(|l| l.path == p("/interfaces/interface[name=Et1]/config/tpid"))
        );
    }

    #[test]
    fn encoding_at_a_keyless_list_path_wraps_the_entries() {
        let base = p("/interfaces/interface");
        let leaves = vec![
            Leaf::new(p("/interfaces/interface[name=Et1]/config/mtu"), 9214u64),
            Leaf::new(p("/interfaces/interface[name=Et2]/config/mtu"), 1500u64),
        ];
        let tree = encode_json_ietf_tree(&base, &leaves).unwrap_or_default();
        assert_eq!(
            tree,
            serde_json::json!({"interface": [
                {"name": "Et1", "config": {"mtu": 9214}},
                {"name": "Et2", "config": {"mtu": 1500}}
            ]})
        );
        let bytes = serde_json::to_vec(&tree).unwrap_or_default();
        let back = flatten_json_ietf(&base, &bytes, &KeyTable::default()).unwrap_or_default();
        assert_eq!(back.len(), 4, "two mtu leaves and two key leaves: {back:?}");
        // Entries whose key spelling differs from the JSON number stay apart.
        let odd = vec![
            Leaf::new(p("/vlans/vlan[vlan-id=10]/config/name"), "ten"),
            Leaf::new(p("/vlans/vlan[vlan-id=010]/config/name"), "zero-ten"),
        ];
        let tree = encode_json_ietf_tree(&p("/vlans"), &odd).unwrap_or_default();
        assert_eq!(tree["vlan"].as_array().map(Vec::len), Some(2));
        assert_eq!(tree["vlan"][0]["vlan-id"], serde_json::json!(10));
        assert_eq!(tree["vlan"][1]["vlan-id"], serde_json::json!("010"));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    fn arb_leaf_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-zA-Z0-9 _.-]{0,12}"
                .prop_filter("non-numeric strings", |s| s.parse::<f64>().is_err())
                .prop_map(Value::String),
            any::<u32>().prop_map(|u| Value::Uint(u64::from(u))),
            (-1_000_000i64..0).prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Empty),
        ]
    }

    proptest! {
        // Encode then flatten gives the same leaves back (OpenConfig-shaped
        // trees: keyed entries under a keyless container).
        #[test]
        fn encode_flatten_round_trip(
            entries in prop::collection::btree_map("[A-Z][a-z]{1,6}[0-9]{1,2}", prop::collection::btree_map("[a-z]{1,6}", arb_leaf_value(), 1..4), 1..4)
        ) {
            let base = p("/interfaces");
            let mut leaves = Vec::new();
            for (name, leafs) in &entries {
                leaves.push(Leaf::new(p(&format!("/interfaces/interface[name={name}]/name")), name.as_str()));
                for (leaf, v) in leafs {
                    leaves.push(Leaf::new(p(&format!("/interfaces/interface[name={name}]/config/{leaf}")), v.clone()));
                }
            }
            let bytes = encode_json_ietf(&base, &leaves).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut back = flatten_json_ietf(&base, &bytes, &KeyTable::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            back.sort_by(|a, b| a.path.cmp(&b.path));
            leaves.sort_by(|a, b| a.path.cmp(&b.path));
            prop_assert_eq!(back.len(), leaves.len());
            for (a, b) in back.iter().zip(&leaves) {
                prop_assert_eq!(&a.path, &b.path);
                prop_assert!(a.value.semantic_eq(&b.value), "{} vs {}", a.value, b.value);
            }
        }

        #[test]
        fn flatten_never_panics(s in "\\PC{0,64}") {
            let _ = flatten_json_ietf(&p("/a"), s.as_bytes(), &KeyTable::default());
        }
    }
}
