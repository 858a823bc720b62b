//! gNMI paths: the typed form of `origin:/a/b[k=v][k2=v2]/c`.
//!
//! A [`Path`] is validated once (parse or proto conversion) and then passed
//! around as a value, so the rest of the operator never handles path strings.
//! Keys are kept sorted by name ([`Keys`]), so two paths that name the same
//! node compare and hash equal whatever order the keys arrived in.
//!
//! String form (the one gnmic, pygnmi and the gNMI path conventions use):
//! - elements are separated by `/`; a leading `/` is optional when parsing
//!   and always printed;
//! - `origin:/...` sets the origin; a colon *not* followed by `/` is part of
//!   a module-prefixed name (`openconfig-interfaces:interfaces`);
//! - keys are `[name=value]`; inside a value, `\` escapes the next character,
//!   so `\]`, `\\`, `\/` and `\=` are literal. Printing escapes `\` and `]`
//!   (the only characters that are ambiguous inside brackets);
//! - wildcards: `*` as an element name or key value, `...` as an element
//!   (any number of elements).

use std::fmt;
use std::str::FromStr;

/// The string type of element names and keys: strings up to 24 bytes (almost
/// every YANG name, interface name or address) are stored inline, so
/// cloning a path, which happens for every leaf, does not allocate per element.
pub use compact_str::CompactString;

/// Errors from parsing or combining paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path {input:?}: empty element at byte {at}")]
    EmptyElement { input: String, at: usize },
    #[error("path {input:?}: unterminated key at byte {at} (missing `]`)")]
    UnterminatedKey { input: String, at: usize },
    #[error("path {input:?}: key at byte {at} has no `=`")]
    KeyWithoutValue { input: String, at: usize },
    #[error("path {input:?}: empty key name at byte {at}")]
    EmptyKeyName { input: String, at: usize },
    #[error("path {input:?}: key {key:?} repeated in one element")]
    DuplicateKey { input: String, key: String },
    #[error("path {input:?}: unexpected {ch:?} at byte {at}")]
    UnexpectedChar { input: String, at: usize, ch: char },
    #[error("path {input:?}: trailing `\\` escape")]
    TrailingEscape { input: String },
    #[error(
        "path uses the deprecated `element` form ({elements:?}); only `elem` (gNMI >= 0.4) is supported"
    )]
    DeprecatedElementForm { elements: Vec<String> },
    #[error("cannot join prefix with origin {prefix:?} and path with origin {path:?}")]
    OriginMismatch { prefix: String, path: String },
    #[error("path element name must not be empty")]
    EmptyName,
}

/// The keys of a list entry, sorted by name: a map with the `BTreeMap` API the
/// code uses (insert, get, iter, ...) in one boxed slice. Paths are cloned and
/// kept by the thousand per device, and a `BTreeMap` allocates a whole B-tree
/// node (over 500 bytes) for even one key; this holds one key in 48 bytes and
/// none in no allocation at all. Entries have one to three keys, so lookups
/// scan.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Keys(Box<[(CompactString, CompactString)]>);

impl Keys {
    pub fn new() -> Self {
        Keys::default()
    }

    /// Sets `name` to `value`; returns the value it replaces.
    pub fn insert(
        &mut self,
        name: impl Into<CompactString>,
        value: impl Into<CompactString>,
    ) -> Option<CompactString> {
        let (name, value) = (name.into(), value.into());
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.insert(i, (name, value));
                self.0 = v.into_boxed_slice();
                None
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&CompactString> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (name, value) pairs, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&CompactString, &CompactString)> + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &CompactString> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &CompactString> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Mutable values, in name order (names are fixed: they keep the order).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut CompactString> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Keys {
    type Output = CompactString;

    fn index(&self, name: &str) -> &CompactString {
        match self.get(name) {
            Some(v) => v,
            None => panic!("no key {name:?}"),
        }
    }
}

impl<'a> IntoIterator for &'a Keys {
    type Item = (&'a CompactString, &'a CompactString);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (CompactString, CompactString)>,
        fn(&'a (CompactString, CompactString)) -> (&'a CompactString, &'a CompactString),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Into<CompactString>, V: Into<CompactString>> FromIterator<(K, V)> for Keys {
    /// Sorted by name; of repeated names, the last value wins (as in a map).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(CompactString, CompactString)> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        v.reverse();
        // Stable: of equal names the last inserted (now first) is kept by dedup.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|later, earlier| later.0 == earlier.0);
        Keys(v.into_boxed_slice())
    }
}

/// One element of a path: a node name and, for list entries, its keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PathElem {
    /// Node name, possibly module-prefixed (`openconfig-interfaces:interfaces`),
    /// or a wildcard (`*`, `...`).
    pub name: CompactString,
    /// List keys; empty for containers and leaves.
    pub keys: Keys,
}

impl PathElem {
    /// An element without keys.
    pub fn new(name: impl Into<CompactString>) -> Self {
        PathElem {
            name: name.into(),
            keys: Keys::new(),
        }
    }

    /// Adds a key (builder style).
    pub fn with_key(
        mut self,
        name: impl Into<CompactString>,
        value: impl Into<CompactString>,
    ) -> Self {
        self.keys.insert(name, value);
        self
    }

    /// The name without its module prefix (`interfaces` for
    /// `openconfig-interfaces:interfaces`).
    pub fn local_name(&self) -> &str {
        match self.name.split_once(':') {
            Some((_, local)) => local,
            None => &self.name,
        }
    }

    /// True for `*`, `...`, or any key whose value is `*`.
    pub fn has_wildcard(&self) -> bool {
        self.name == "*" || self.name == "..." || self.keys.values().any(|v| v == "*")
    }

    /// Does this (pattern) element match `other` (concrete)? `*` matches any
    /// name or key value; a key absent from the pattern matches anything.
    fn matches(&self, other: &PathElem) -> bool {
        if self.name != "*" && self.local_name() != other.local_name() {
            return false;
        }
        self.keys
            .iter()
            .all(|(k, v)| v == "*" || other.keys.get(k) == Some(v))
    }
}

/// A gNMI path: optional origin and a sequence of elements.
///
/// `target` is deliberately not part of the path: it addresses a device, not
/// a node, and is set by the client on request prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Path {
    /// gNMI origin (`openconfig`, `eos_native`, `cli`...); `None` when unset.
    pub origin: Option<String>,
    pub elems: Vec<PathElem>,
}

impl Path {
    /// The root path `/`.
    pub fn root() -> Self {
        Path::default()
    }

    /// Builds a path from elements.
    pub fn new(elems: Vec<PathElem>) -> Self {
        Path {
            origin: None,
            elems,
        }
    }

    /// Sets the origin (builder style); an empty origin means none.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        let o = origin.into();
        self.origin = if o.is_empty() { None } else { Some(o) };
        self
    }

    /// Appends an element (builder style).
    pub fn child(mut self, elem: PathElem) -> Self {
        self.elems.push(elem);
        self
    }

    /// Appends a key-less element by name (builder style).
    pub fn push_name(mut self, name: impl Into<CompactString>) -> Self {
        self.elems.push(PathElem::new(name));
        self
    }

    pub fn is_root(&self) -> bool {
        self.elems.is_empty()
    }

    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// The parent path (root's parent is root).
    pub fn parent(&self) -> Path {
        let mut p = self.clone();
        p.elems.pop();
        p
    }

    /// The last element, if any.
    pub fn last(&self) -> Option<&PathElem> {
        self.elems.last()
    }

    /// True if `self`'s elements are a prefix of `other`'s (same origin).
    pub fn is_prefix_of(&self, other: &Path) -> bool {
        self.origin == other.origin
            && self.elems.len() <= other.elems.len()
            && self.elems.iter().zip(&other.elems).all(|(a, b)| a == b)
    }

    /// `other` with `self` removed from its front, if `self` is a prefix.
    pub fn strip_prefix_of(&self, other: &Path) -> Option<Path> {
        if !self.is_prefix_of(other) {
            return None;
        }
        Some(Path {
            origin: None,
            elems: other.elems[self.elems.len()..].to_vec(),
        })
    }

    /// Joins a prefix (as in a Notification, GetRequest or SetRequest) and a
    /// path: elements concatenate, origins must agree if both are set.
    pub fn join(&self, path: &Path) -> Result<Path, PathError> {
        let origin = match (&self.origin, &path.origin) {
            (Some(a), Some(b)) if a != b => {
                return Err(PathError::OriginMismatch {
                    prefix: a.clone(),
                    path: b.clone(),
                });
            }
            (Some(a), _) => Some(a.clone()),
            (None, b) => b.clone(),
        };
        let mut elems = Vec::with_capacity(self.elems.len() + path.elems.len());
        elems.extend(self.elems.iter().cloned());
        elems.extend(path.elems.iter().cloned());
        Ok(Path { origin, elems })
    }

    /// True if any element is a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.elems.iter().any(PathElem::has_wildcard)
    }

    /// Does this path, read as a pattern, match the concrete path `other`?
    /// `*` matches one element (or any key value), `...` any number of
    /// elements (including none); module prefixes are ignored so that
    /// `openconfig-interfaces:interfaces` matches `interfaces`; keys not named
    /// in the pattern match anything. Origins must agree when both are set.
    pub fn matches(&self, other: &Path) -> bool {
        if let (Some(a), Some(b)) = (&self.origin, &other.origin)
            && a != b
        {
            return false;
        }
        match_elems(&self.elems, &other.elems)
    }

    /// Does this pattern cover `other`, i.e. match `other` or one of its
    /// ancestors? Subscription semantics: `/interfaces/interface[name=*]`
    /// covers every leaf under every interface.
    pub fn covers(&self, other: &Path) -> bool {
        if self.elems.iter().any(|e| e.name == "...") {
            // `...` can absorb any depth: try every ancestor.
            return (0..=other.elems.len()).any(|n| self.matches_head(other, n));
        }
        self.matches_head(other, self.elems.len())
    }

    /// [`Path::matches`] against the first `n` elements of `other`.
    fn matches_head(&self, other: &Path, n: usize) -> bool {
        if n > other.elems.len() {
            return false;
        }
        if let (Some(a), Some(b)) = (&self.origin, &other.origin)
            && a != b
        {
            return false;
        }
        match_elems(&self.elems, &other.elems[..n])
    }

    /// Same path with module prefixes removed from every element name.
    pub fn without_module_prefixes(&self) -> Path {
        Path {
            origin: self.origin.clone(),
            elems: self
                .elems
                .iter()
                .map(|e| PathElem {
                    name: e.local_name().into(),
                    keys: e.keys.clone(),
                })
                .collect(),
        }
    }
}

fn match_elems(pat: &[PathElem], val: &[PathElem]) -> bool {
    match pat.split_first() {
        None => val.is_empty(),
        Some((first, rest)) if first.name == "..." && first.keys.is_empty() => {
            // `...` absorbs 0..=n elements; paths are short, so the
            // backtracking is cheap.
            (0..=val.len()).any(|skip| match_elems(rest, &val[skip..]))
        }
        Some((first, rest)) => match val.split_first() {
            Some((v, vrest)) => first.matches(v) && match_elems(rest, vrest),
            None => false,
        },
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            f.write_str(o)?;
            f.write_str(":")?;
        }
        if self.elems.is_empty() {
            return f.write_str("/");
        }
        for e in &self.elems {
            f.write_str("/")?;
            write_escaped(f, &e.name, b"\\/[]=")?;
            for (k, v) in &e.keys {
                f.write_str("[")?;
                write_escaped(f, k, b"\\/[]=")?;
                f.write_str("=")?;
                write_escaped(f, v, b"\\]")?;
                f.write_str("]")?;
            }
        }
        Ok(())
    }
}

/// Writes `s` with a `\` before every byte of `special` (all ASCII), in
/// runs. Names never contain these in practice, but escaping keeps Display
/// and FromStr inverse for any string the types can hold; in key values
/// only `\` and `]` are ambiguous.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str, special: &[u8]) -> fmt::Result {
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if special.contains(&b) {
            f.write_str(&s[run..i])?;
            f.write_str("\\")?;
            run = i;
        }
    }
    f.write_str(&s[run..])
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Parses the string form; see the module docs.
pub fn parse(input: &str) -> Result<Path, PathError> {
    let (origin, body, body_start) = split_origin(input);
    let mut elems = Vec::new();
    let bytes = body.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'/'));
    if i >= bytes.len() {
        // "/" or "" or "origin:/" is the root.
        return Ok(Path { origin, elems });
    }
    let err_input = || input.to_string();
    loop {
        // Element name: up to an unescaped `/` or `[`.
        let name_start = i;
        let (name, stop) = scan(body, i, b"/[]", input)?;
        i = stop;
        if bytes.get(i) == Some(&b']') {
            return Err(PathError::UnexpectedChar {
                input: err_input(),
                at: body_start + i,
                ch: ']',
            });
        }
        if name.is_empty() {
            return Err(PathError::EmptyElement {
                input: err_input(),
                at: body_start + name_start,
            });
        }
        let mut elem = PathElem::new(name);
        // Keys.
        while bytes.get(i) == Some(&b'[') {
            let key_start = i;
            let (kname, stop) = scan(body, i + 1, b"=]", input)?;
            i = stop;
            match bytes.get(i) {
                Some(b'=') => i += 1,
                Some(_) => {
                    return Err(PathError::KeyWithoutValue {
                        input: err_input(),
                        at: body_start + key_start,
                    });
                }
                None => {
                    return Err(PathError::UnterminatedKey {
                        input: err_input(),
                        at: body_start + key_start,
                    });
                }
            }
            if kname.is_empty() {
                return Err(PathError::EmptyKeyName {
                    input: err_input(),
                    at: body_start + key_start,
                });
            }
            let (kval, stop) = scan(body, i, b"]", input)?;
            i = stop;
            if bytes.get(i) != Some(&b']') {
                return Err(PathError::UnterminatedKey {
                    input: err_input(),
                    at: body_start + key_start,
                });
            }
            i += 1;
            if elem.keys.contains_key(&kname) {
                return Err(PathError::DuplicateKey {
                    input: err_input(),
                    key: kname.into(),
                });
            }
            elem.keys.insert(kname, kval);
        }
        elems.push(elem);
        match bytes.get(i) {
            None => break,
            Some(b'/') => {
                i += 1;
                // A single trailing slash ("/a/b/") is tolerated, as gnmic does.
                if i == bytes.len() {
                    break;
                }
            }
            Some(&b) => {
                return Err(PathError::UnexpectedChar {
                    input: err_input(),
                    at: body_start + i,
                    ch: b as char,
                });
            }
        }
    }
    Ok(Path { origin, elems })
}

/// Reads from `start` up to the first unescaped byte in `stops` (or the
/// end), resolving `\` escapes. Returns the text and the stop position.
/// Runs without escapes are copied as whole slices; all stop bytes are
/// ASCII, so slicing at them is always on a character boundary.
fn scan(
    body: &str,
    start: usize,
    stops: &[u8],
    input: &str,
) -> Result<(CompactString, usize), PathError> {
    let bytes = body.as_bytes();
    let mut out = CompactString::default();
    let mut run = start;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            out.push_str(&body[run..i]);
            let ch = body[i + 1..]
                .chars()
                .next()
                .ok_or_else(|| PathError::TrailingEscape {
                    input: input.to_string(),
                })?;
            out.push(ch);
            i += 1 + ch.len_utf8();
            run = i;
        } else if stops.contains(&b) {
            break;
        } else {
            i += 1;
        }
    }
    out.push_str(&body[run..i]);
    Ok((out, i))
}

/// Splits `origin:/rest` into origin and rest. Only a colon directly followed
/// by `/`, before any `/` or `[`, introduces an origin; otherwise the colon
/// belongs to a module-prefixed name.
fn split_origin(input: &str) -> (Option<String>, &str, usize) {
    for (i, b) in input.bytes().enumerate() {
        match b {
            b'/' | b'[' | b'\\' => break,
            b':' if input.as_bytes().get(i + 1) == Some(&b'/') => {
                let origin = &input[..i];
                let origin = (!origin.is_empty()).then(|| origin.to_string());
                return (origin, &input[i + 1..], i + 1);
            }
            _ => {}
        }
    }
    (None, input, 0)
}

impl serde::Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Path {
        match s.parse() {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn keys_are_a_sorted_map_in_one_allocation() {
        let mut a = Keys::new();
        assert_eq!(a.insert("name", "BGP"), None);
        assert_eq!(a.insert("identifier", "BGP"), None);
        assert_eq!(a.insert("name", "bgp2"), Some(CompactString::from("BGP")));
        let b: Keys = [("name", "x"), ("identifier", "BGP"), ("name", "bgp2")]
            .into_iter()
            .collect();
        // Same keys in any order of arrival, the last value of a repeated name: equal.
        assert_eq!(a, b);
        assert_eq!(
            a.keys().map(CompactString::as_str).collect::<Vec<_>>(),
            ["identifier", "name"]
        );
        assert_eq!(a.get("name").map(CompactString::as_str), Some("bgp2"));
        assert!(a.contains_key("identifier") && !a.contains_key("x"));
        assert_eq!((a.len(), Keys::new().is_empty()), (2, true));
        assert_eq!(format!("{a:?}"), r#"{"identifier": "BGP", "name": "bgp2"}"#);
        // Ordered as the map it replaces: pair by pair, then shorter first.
        let one: Keys = [("identifier", "BGP")].into_iter().collect();
        assert!(one < a);
        assert_eq!(std::mem::size_of::<PathElem>(), 40);
    }

    #[test]
    fn parses_keys_origin_and_module_prefix() {
        let path = p(
            "openconfig:/openconfig-interfaces:interfaces/interface[name=Ethernet1/1]/config/mtu",
        );
        assert_eq!(path.origin.as_deref(), Some("openconfig"));
        assert_eq!(path.elems.len(), 4);
        assert_eq!(path.elems[0].name, "openconfig-interfaces:interfaces");
        assert_eq!(path.elems[0].local_name(), "interfaces");
        assert_eq!(
            path.elems[1].keys.get("name").map(CompactString::as_str),
            Some("Ethernet1/1")
        );
        // A module prefix alone is not an origin.
        let q = p("openconfig-interfaces:interfaces/interface");
        assert_eq!(q.origin, None);
        assert_eq!(q.elems[0].name, "openconfig-interfaces:interfaces");
    }

    #[test]
    fn key_order_does_not_matter() {
        let a = p(
            "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]",
        );
        let b = p(
            "/network-instances/network-instance[name=default]/protocols/protocol[name=BGP][identifier=BGP]",
        );
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
    }

    #[test]
    fn escapes_in_key_values() {
        let path = p(r"/a[k=x\]y\\z\/w\=v]/b");
        assert_eq!(path.elems[0].keys["k"], r"x]y\z/w=v");
        let printed = path.to_string();
        assert_eq!(printed, r"/a[k=x\]y\\z/w=v]/b");
        assert_eq!(p(&printed), path);
        // Unescaped `=` and `/` inside brackets are plain characters.
        assert_eq!(p("/a[k=a=b/c]").elems[0].keys["k"], "a=b/c");
    }

    #[test]
    fn wildcards_and_matching() {
        let pat = p("/interfaces/interface[name=*]/config/description");
        assert!(pat.has_wildcards());
        assert!(pat.matches(&p(
            "/interfaces/interface[name=Ethernet1]/config/description"
        )));
        assert!(!pat.matches(&p("/interfaces/interface[name=Ethernet1]/config/mtu")));
        let deep = p("/interfaces/.../counters");
        assert!(deep.matches(&p("/interfaces/interface[name=Et1]/state/counters")));
        assert!(deep.matches(&p("/interfaces/counters")));
        assert!(!deep.matches(&p("/interfaces/interface[name=Et1]/state")));
        assert!(
            p("/*/interface").matches(&p("/openconfig-interfaces:interfaces/interface[name=x]"))
        );
    }

    #[test]
    fn covers_subtrees() {
        let sub = p("/interfaces/interface[name=*]");
        assert!(sub.covers(&p("/interfaces/interface[name=Et1]/config/mtu")));
        assert!(sub.covers(&p("/interfaces/interface[name=Et1]")));
        assert!(!sub.covers(&p("/interfaces")));
        assert!(!sub.covers(&p("/system/config/hostname")));
        assert!(Path::root().covers(&p("/system")));
        let deep = p("/.../config/mtu");
        assert!(deep.covers(&p("/interfaces/interface[name=Et1]/config/mtu")));
        assert!(!deep.covers(&p("/interfaces/interface[name=Et1]/config/description")));
    }

    #[test]
    fn root_and_trailing_slash() {
        assert!(p("/").is_root());
        assert!(p("").is_root());
        assert_eq!(p("/").to_string(), "/");
        let o = p("eos_native:/");
        assert!(o.is_root());
        assert_eq!(o.to_string(), "eos_native:/");
        assert_eq!(p("/a/b/"), p("/a/b"));
    }

    #[test]
    fn errors_are_specific() {
        assert!(matches!(
            "/a//b".parse::<Path>(),
            Err(PathError::EmptyElement { .. })
        ));
        assert!(matches!(
            "/a[k=v".parse::<Path>(),
            Err(PathError::UnterminatedKey { .. })
        ));
        assert!(matches!(
            "/a[k]".parse::<Path>(),
            Err(PathError::KeyWithoutValue { .. })
        ));
        assert!(matches!(
            "/a[=v]".parse::<Path>(),
            Err(PathError::EmptyKeyName { .. })
        ));
        assert!(matches!(
            "/a[k=1][k=2]".parse::<Path>(),
            Err(PathError::DuplicateKey { .. })
        ));
        assert!(matches!(
            "/a[k=1]x".parse::<Path>(),
            Err(PathError::UnexpectedChar { .. })
        ));
        assert!(matches!(
            "/a]".parse::<Path>(),
            Err(PathError::UnexpectedChar { .. })
        ));
        assert!(matches!(
            r"/a\".parse::<Path>(),
            Err(PathError::TrailingEscape { .. })
        ));
    }

    #[test]
    fn join_prefix_and_path() {
        let prefix = p("openconfig:/interfaces");
        let path = p("/interface[name=Et1]/config");
        let joined = prefix.join(&path).unwrap_or_default();
        assert_eq!(
            joined,
            p("openconfig:/interfaces/interface[name=Et1]/config")
        );
        assert!(prefix.join(&p("cli:/x")).is_err());
        assert_eq!(Path::root().join(&path).ok(), Some(path.clone()));
        assert!(prefix.is_prefix_of(&joined));
        assert_eq!(prefix.strip_prefix_of(&joined), Some(path.clone()));
    }

    #[test]
    fn serde_uses_string_form() {
        let path = p("/system/config/hostname");
        let json = serde_json::to_string(&path).unwrap_or_default();
        assert_eq!(json, "\"/system/config/hostname\"");
        let back: Path = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, path);
        assert!(serde_json::from_str::<Path>("\"/a[\"").is_err());
    }

    pub(crate) fn arb_path() -> impl Strategy<Value = Path> {
        let name = "[a-zA-Z][a-zA-Z0-9_:.-]{0,12}|\\*|\\.\\.\\.";
        let kname = "[a-z][a-z0-9-]{0,8}";
        // Key values: anything printable, including the characters that need
        // escaping.
        let kval = "[ -~]{0,10}|[\\]\\[\\\\/=]{1,4}";
        let elem = (name, prop::collection::btree_map(kname, kval, 0..3)).prop_map(
            |(name, keys): (String, std::collections::BTreeMap<String, String>)| PathElem {
                name: name.into(),
                keys: keys
                    .into_iter()
                    .map(|(k, v)| (CompactString::from(k), CompactString::from(v)))
                    .collect(),
            },
        );
        (
            prop::option::of("[a-z][a-z_]{0,8}"),
            prop::collection::vec(elem, 0..6),
        )
            .prop_map(|(origin, elems)| Path { origin, elems })
    }

    proptest! {
        #[test]
        fn print_parse_round_trip(path in arb_path()) {
            let s = path.to_string();
            let back: Path = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(&back, &path);
            prop_assert_eq!(back.to_string(), s);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Path>();
        }
    }
}
