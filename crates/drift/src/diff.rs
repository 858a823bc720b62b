//! Drift items, deltas and fingerprints.

use std::fmt;
use std::str::FromStr;

use fabric_gnmi::{Path, Value};
use sha2::{Digest, Sha256};

/// How a leaf or entry differs from the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriftKind {
    /// The device holds another value.
    Modified,
    /// The device lacks a leaf the intent sets (and the leaf's default is not the intended value).
    Missing,
    /// `strict` ownership: the device holds a list entry the intent does not name.
    Unexpected,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Modified => "Modified",
            DriftKind::Missing => "Missing",
            DriftKind::Unexpected => "Unexpected",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One drifted leaf (Modified, Missing) or list entry (Unexpected). Values are normalized for
/// the leaf's type (`TRUNK`, not `openconfig-vlan-types:TRUNK`), so the same drift reads the same
/// whichever form the device sent.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftItem {
    pub path: Path,
    pub kind: DriftKind,
    /// What the intent says; `None` for Unexpected.
    pub expected: Option<Value>,
    /// What the device holds; `None` for Missing, and for Unexpected entries (a subtree).
    pub actual: Option<Value>,
}

impl fmt::Display for DriftItem {
    /// One line of a readable diff: `~ path: actual -> expected`, `+ path: expected` (missing),
    /// `- path` (unexpected).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DriftKind::Modified => write!(
                f,
                "~ {}: {} -> {}",
                self.path,
                opt(self.actual.as_ref()),
                opt(self.expected.as_ref())
            ),
            DriftKind::Missing => write!(
                f,
                "+ {}: (absent) -> {}",
                self.path,
                opt(self.expected.as_ref())
            ),
            DriftKind::Unexpected => write!(f, "- {}: present, not in intent", self.path),
        }
    }
}

/// A value as JSON for status, events and webhooks: RFC 7951 shapes (numbers, strings, booleans,
/// arrays, `[null]` for `empty`), JSON_IETF documents parsed, binary as its display form.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::String(s) | Value::Ascii(s) => J::String(s.clone()),
        Value::Uint(u) => J::from(*u),
        Value::Int(i) => J::from(*i),
        Value::Bool(b) => J::Bool(*b),
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::Decimal(d) => J::String(d.to_string()),
        Value::LeafList(items) => J::Array(items.iter().map(value_to_json).collect()),
        Value::Json(t) | Value::JsonIetf(t) => {
            serde_json::from_str(t).unwrap_or_else(|_| J::String(t.clone()))
        }
        Value::Empty => J::Array(vec![J::Null]),
        other => J::String(other.to_string()),
    }
}

/// `{"path": "...", "kind": "Modified", "expected": 9214, "actual": 1500}` (absent values are
/// `null`), the shape DriftEvents and webhooks carry.
impl serde::Serialize for DriftItem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DriftItem", 4)?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("kind", self.kind.as_str())?;
        st.serialize_field("expected", &self.expected.as_ref().map(value_to_json))?;
        st.serialize_field("actual", &self.actual.as_ref().map(value_to_json))?;
        st.end()
    }
}

fn opt(v: Option<&Value>) -> String {
    v.map_or_else(|| "(none)".to_string(), Value::to_string)
}

/// A readable diff of a drift set, one item per line, sorted by path.
pub fn render(items: &[DriftItem]) -> String {
    let mut out = String::new();
    for i in items {
        out.push_str(&i.to_string());
        out.push('\n');
    }
    let count = |k| items.iter().filter(|i| i.kind == k).count();
    out.push_str(&format!(
        "{} drifted: {} modified, {} missing, {} unexpected\n",
        items.len(),
        count(DriftKind::Modified),
        count(DriftKind::Missing),
        count(DriftKind::Unexpected)
    ));
    out
}

/// What an update changed in a device's drift set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftDelta {
    /// Items that were not drifted before.
    pub added: Vec<DriftItem>,
    /// Items still drifted, with another kind or actual value.
    pub changed: Vec<DriftItem>,
    /// Paths that are no longer drifted.
    pub cleared: Vec<Path>,
}

impl DriftDelta {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.cleared.is_empty()
    }

    /// The delta from `old` to `new`, both sorted by path.
    pub(crate) fn between(old: &[DriftItem], new: &[DriftItem]) -> DriftDelta {
        let mut d = DriftDelta::default();
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if a.path == b.path => {
                    if a != b {
                        d.changed.push(b.clone());
                    }
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a.path < b.path => {
                    d.cleared.push(a.path.clone());
                    i += 1;
                }
                (Some(a), None) => {
                    d.cleared.push(a.path.clone());
                    i += 1;
                }
                (_, Some(b)) => {
                    d.added.push(b.clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        d
    }
}

/// The identity of a drift set: sha256 of its canonical encoding. Same drift, same fingerprint,
/// on any machine and in any order of arrival. An approval is bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `items`, which must be sorted by path (as [`crate::DriftTracker::drift`]
    /// returns them). Encoding per item: path, kind, expected, actual, each value with a type tag
    /// (so `"5"` and `5` differ only if the normalization kept them apart), fields separated by
    /// unit separators, items by record separators.
    pub fn of(items: &[DriftItem]) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(b"fabric-drift/v1\x1e");
        for i in items {
            h.update(i.path.to_string().as_bytes());
            h.update(b"\x1f");
            h.update(i.kind.as_str().as_bytes());
            h.update(b"\x1f");
            encode_value(&mut h, i.expected.as_ref());
            h.update(b"\x1f");
            encode_value(&mut h, i.actual.as_ref());
            h.update(b"\x1e");
        }
        Fingerprint(h.finalize().into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn encode_value(h: &mut Sha256, v: Option<&Value>) {
    match v {
        None => h.update(b"-"),
        Some(v) => {
            h.update(v.kind().as_bytes());
            h.update(b":");
            h.update(v.to_string().as_bytes());
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fingerprint {0:?} is not 64 lowercase hex digits")]
pub struct FingerprintError(String);

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FingerprintError(s.to_string());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            let hi = digit(chunk[0]).ok_or_else(bad)?;
            let lo = digit(chunk[1]).ok_or_else(bad)?;
            out[i] = hi << 4 | lo;
        }
        Ok(Fingerprint(out))
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, kind: DriftKind, e: Option<Value>, a: Option<Value>) -> DriftItem {
        DriftItem {
            path: path.parse().unwrap_or_default(),
            kind,
            expected: e,
            actual: a,
        }
    }

    #[test]
    fn fingerprint_is_64_hex_and_round_trips() {
        let items = vec![item(
            "/interfaces/interface[name=Ethernet1]/config/mtu",
            DriftKind::Modified,
            Some(Value::Uint(9214)),
            Some(Value::Uint(1500)),
        )];
        let f = Fingerprint::of(&items);
        let text = f.to_string();
        assert_eq!(text.len(), 64);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(text.parse::<Fingerprint>(), Ok(f));
        assert!("XYZ".parse::<Fingerprint>().is_err());
        assert!(text.to_uppercase().parse::<Fingerprint>().is_err());
        // Another actual value is another drift.
        let other = vec![item(
            "/interfaces/interface[name=Ethernet1]/config/mtu",
            DriftKind::Modified,
            Some(Value::Uint(9214)),
            Some(Value::Uint(1600)),
        )];
        assert_ne!(Fingerprint::of(&other), f);
        // Fixed encoding: the value does not depend on the machine. (Pinned so that a change of
        // encoding, which would supersede every pending approval, is a deliberate one.)
        assert_eq!(
            Fingerprint::of(&[]).to_string(),
            format!("{:x}", Sha256::digest(b"fabric-drift/v1\x1e"))
        );
    }

    #[test]
    fn delta_between_sorted_sets() {
        let a = item("/a", DriftKind::Missing, Some(Value::Uint(1)), None);
        let b = item(
            "/b",
            DriftKind::Modified,
            Some(Value::Uint(1)),
            Some(Value::Uint(2)),
        );
        let b2 = item(
            "/b",
            DriftKind::Modified,
            Some(Value::Uint(1)),
            Some(Value::Uint(3)),
        );
        let c = item("/c", DriftKind::Unexpected, None, None);
        let d = DriftDelta::between(&[a.clone(), b.clone()], &[b2.clone(), c.clone()]);
        assert_eq!(d.added, vec![c]);
        assert_eq!(d.changed, vec![b2]);
        assert_eq!(d.cleared, vec![a.path]);
        assert!(DriftDelta::between(std::slice::from_ref(&b), std::slice::from_ref(&b)).is_empty());
    }

    #[test]
    fn readable_lines() {
        let i = item(
            "/system/config/hostname",
            DriftKind::Modified,
            Some("leaf1".into()),
            Some("leafX".into()),
        );
        assert_eq!(
            i.to_string(),
            r#"~ /system/config/hostname: "leafX" -> "leaf1""#
        );
        assert!(render(&[i]).contains("1 drifted: 1 modified, 0 missing, 0 unexpected"));
    }
}
