//! Normalization: equal things compare equal whichever form the device sent.
//!
//! Every mapped leaf carries a [`LeafKind`], the YANG type family of the leaf. The kind decides
//! how a value is canonicalized before comparison:
//! - identities compare without their module prefix (`openconfig-vlan-types:TRUNK` = `TRUNK`);
//! - numbers compare as numbers whether RFC 7951 sent them as strings or JSON numbers;
//! - IP addresses compare in their canonical text form (`2001:DB8::1` = `2001:db8:0::1`);
//! - trunk VLAN lists compare as sets of VLAN ids (`"10..20"` = `10-20` = `10, 11, ..., 20`);
//! - leaf-lists of strings (route targets) compare as sets.
//!
//! Paths are normalized too ([`canonical_elem`]): module prefixes are dropped from element names,
//! identity keys lose their prefix and IP keys are printed canonically, so an observed path and a
//! mapped path name the same node whatever spelling the device used.

use std::borrow::Cow;
use std::net::IpAddr;

use fabric_gnmi::{PathElem, Value};

/// The type family of a leaf, which decides how its values are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafKind {
    /// A string compared as is (descriptions, names).
    String,
    /// A YANG identityref or enumeration: compared without module prefix.
    Identity,
    /// An unsigned integer (uint8..uint64): RFC 7951 sends 64-bit values as strings.
    Uint,
    Bool,
    /// An IPv4 or IPv6 address, compared canonically.
    IpAddr,
    /// OpenConfig `trunk-vlans`: a leaf-list of VLAN ids and `a..b` ranges, compared as a set.
    VlanList,
    /// A leaf-list of strings whose order does not matter (route targets).
    StringSet,
    /// A raw `config` leaf of unknown type: compared semantically (numbers as numbers, identities
    /// without prefix).
    Auto,
}

impl LeafKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LeafKind::String => "string",
            LeafKind::Identity => "identityref",
            LeafKind::Uint => "uint",
            LeafKind::Bool => "boolean",
            LeafKind::IpAddr => "ip-address",
            LeafKind::VlanList => "trunk-vlans",
            LeafKind::StringSet => "leaf-list (set)",
            LeafKind::Auto => "any",
        }
    }
}

/// `module:name` → `name` when the prefix is a YANG module name (a letter first). A route target
/// (`65000:1`) or an IPv6 address keeps its colons.
pub fn strip_identity_prefix(s: &str) -> &str {
    match s.split_once(':') {
        Some((module, rest))
            if !rest.is_empty()
                && module.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && module
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !rest.contains(':') =>
        {
            rest
        }
        _ => s,
    }
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Uint(u) => Some(*u),
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::String(s) | Value::Ascii(s) => s.trim().parse().ok(),
        Value::Double(d) if d.fract() == 0.0 && *d >= 0.0 && *d < 1.8e19 => Some(*d as u64),
        Value::Decimal(d) if d.normalized().precision == 0 => {
            u64::try_from(d.normalized().digits).ok()
        }
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) | Value::Ascii(s) => match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Canonical text of an IP address, if `s` is one.
pub fn canonical_ip(s: &str) -> Option<String> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// VLAN ids of a trunk list as sorted, merged inclusive ranges. Accepts the OpenConfig forms
/// (`10`, `"10..20"`), the intent form (`"10-20"`) and comma lists; `None` if anything is not a
/// VLAN id.
pub fn vlan_ranges(v: &Value) -> Option<Vec<(u16, u16)>> {
    let mut ranges = Vec::new();
    fn push_text(s: &str, out: &mut Vec<(u16, u16)>) -> Option<()> {
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (a, b) = match part.split_once("..").or_else(|| part.split_once('-')) {
                Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                None => {
                    let n = part.parse().ok()?;
                    (n, n)
                }
            };
            if a == 0 || b > 4094 || a > b {
                return None;
            }
            out.push((a, b));
        }
        Some(())
    }
    fn push_one(v: &Value, out: &mut Vec<(u16, u16)>) -> Option<()> {
        match v {
            Value::String(s) | Value::Ascii(s) => push_text(s, out),
            other => {
                let n = u16::try_from(as_u64(other)?).ok()?;
                if n == 0 || n > 4094 {
                    return None;
                }
                out.push((n, n));
                Some(())
            }
        }
    }
    match v {
        Value::LeafList(items) => {
            for i in items {
                push_one(i, &mut ranges)?;
            }
        }
        other => push_one(other, &mut ranges)?,
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Some(merged)
}

/// The OpenConfig leaf-list form of VLAN ranges: single ids as numbers, ranges as `"a..b"`.
pub fn vlan_ranges_value(ranges: &[(u16, u16)]) -> Value {
    Value::LeafList(
        ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    Value::Uint(u64::from(a))
                } else {
                    Value::String(format!("{a}..{b}"))
                }
            })
            .collect(),
    )
}

/// The canonical form of `v` for a leaf of `kind`. Values that do not fit the kind are kept as
/// they are, so they compare unequal to any valid expectation (and are reported verbatim).
pub fn normalize(kind: LeafKind, v: &Value) -> Value {
    match kind {
        LeafKind::String => match text(v) {
            Some(s) => Value::String(s.to_string()),
            None => v.clone(),
        },
        LeafKind::Identity => match text(v) {
            Some(s) => Value::String(strip_identity_prefix(s).to_string()),
            None => v.clone(),
        },
        LeafKind::Uint => as_u64(v).map_or_else(|| v.clone(), Value::Uint),
        LeafKind::Bool => as_bool(v).map_or_else(|| v.clone(), Value::Bool),
        LeafKind::IpAddr => match text(v).and_then(canonical_ip) {
            Some(s) => Value::String(s),
            None => v.clone(),
        },
        LeafKind::VlanList => match vlan_ranges(v) {
            Some(r) => vlan_ranges_value(&r),
            None => v.clone(),
        },
        LeafKind::StringSet => {
            let items: Option<Vec<String>> = match v {
                Value::LeafList(items) => {
                    items.iter().map(|i| text(i).map(str::to_string)).collect()
                }
                other => text(other).map(|s| vec![s.to_string()]),
            };
            match items {
                Some(mut items) => {
                    items.sort();
                    items.dedup();
                    Value::LeafList(items.into_iter().map(Value::String).collect())
                }
                None => v.clone(),
            }
        }
        LeafKind::Auto => normalize_auto(v),
    }
}

fn normalize_auto(v: &Value) -> Value {
    match v {
        Value::String(s) | Value::Ascii(s) => match s.parse::<u64>() {
            Ok(u) => Value::Uint(u),
            Err(_) => Value::String(strip_identity_prefix(s).to_string()),
        },
        Value::Int(i) if *i >= 0 => Value::Uint(*i as u64),
        Value::LeafList(items) => Value::LeafList(items.iter().map(normalize_auto).collect()),
        other => other.clone(),
    }
}

/// Does the observed value equal the (already normalized) expected value? Fast paths avoid
/// allocating for the common kinds, because every notification passes through here.
pub fn equal(kind: LeafKind, expected_norm: &Value, observed: &Value) -> bool {
    match (kind, expected_norm) {
        (LeafKind::String, Value::String(e)) => text(observed) == Some(e.as_str()),
        (LeafKind::Identity, Value::String(e)) => {
            text(observed).map(strip_identity_prefix) == Some(e.as_str())
        }
        (LeafKind::Uint, Value::Uint(e)) => as_u64(observed) == Some(*e),
        (LeafKind::Bool, Value::Bool(e)) => as_bool(observed) == Some(*e),
        (LeafKind::IpAddr, Value::String(e)) => match text(observed) {
            Some(s) if s == e => true,
            Some(s) => canonical_ip(s).as_deref() == Some(e.as_str()),
            None => false,
        },
        (LeafKind::Auto, _) => {
            normalize_auto(observed) == *expected_norm || expected_norm.semantic_eq(observed)
        }
        _ => normalize(kind, observed) == *expected_norm,
    }
}

/// A borrowed view of an observed value: the tracker stores values compactly and compares them
/// through this view without rebuilding a [`Value`].
#[derive(Debug, Clone, Copy)]
pub enum Obs<'a> {
    Text(&'a str),
    Uint(u64),
    Int(i64),
    Bool(bool),
    Other(&'a Value),
}

impl<'a> Obs<'a> {
    pub fn of(v: &'a Value) -> Obs<'a> {
        match v {
            Value::String(s) | Value::Ascii(s) => Obs::Text(s),
            Value::Uint(u) => Obs::Uint(*u),
            Value::Int(i) => Obs::Int(*i),
            Value::Bool(b) => Obs::Bool(*b),
            other => Obs::Other(other),
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            Obs::Text(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(self) -> Option<u64> {
        match self {
            Obs::Text(s) => s.trim().parse().ok(),
            Obs::Uint(u) => Some(u),
            Obs::Int(i) => u64::try_from(i).ok(),
            Obs::Bool(_) => None,
            Obs::Other(v) => as_u64(v),
        }
    }

    fn as_bool(self) -> Option<bool> {
        match self {
            Obs::Bool(b) => Some(b),
            Obs::Text("true") => Some(true),
            Obs::Text("false") => Some(false),
            _ => None,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Obs::Text(s) => Value::String(s.to_string()),
            Obs::Uint(u) => Value::Uint(u),
            Obs::Int(i) => Value::Int(i),
            Obs::Bool(b) => Value::Bool(b),
            Obs::Other(v) => v.clone(),
        }
    }
}

/// Comparison of two borrowed views for the common kinds (no allocation); `None` when the kind
/// needs the full [`equal`].
#[inline]
pub fn equal_fast(kind: LeafKind, expected_norm: Obs<'_>, observed: Obs<'_>) -> Option<bool> {
    Some(match (kind, expected_norm) {
        (LeafKind::String, Obs::Text(e)) => observed.text() == Some(e),
        (LeafKind::Identity, Obs::Text(e)) => observed.text().map(strip_identity_prefix) == Some(e),
        (LeafKind::Uint, Obs::Uint(e)) => observed.as_u64() == Some(e),
        (LeafKind::Bool, Obs::Bool(e)) => observed.as_bool() == Some(e),
        (LeafKind::IpAddr, Obs::Text(e)) => match observed.text() {
            Some(s) if s == e => true,
            Some(s) => canonical_ip(s).as_deref() == Some(e),
            None => false,
        },
        _ => return None,
    })
}

/// [`equal`] on a borrowed view; the common kinds never allocate.
#[inline]
pub fn equal_obs(kind: LeafKind, expected_norm: &Value, observed: Obs<'_>) -> bool {
    if let Some(eq) = equal_fast(kind, Obs::of(expected_norm), observed) {
        return eq;
    }
    match observed {
        Obs::Other(v) => equal(kind, expected_norm, v),
        other => equal(kind, expected_norm, &other.to_value()),
    }
}

/// Key names whose values are identities (prefix dropped) or IP addresses (canonical form).
const IDENTITY_KEYS: &[&str] = &["identifier", "afi-safi-name"];
const IP_KEYS: &[&str] = &["neighbor-address", "ip", "peer-address", "vtep-ip"];

/// The canonical spelling of a path element: no module prefix on the name, identity keys without
/// prefix, IP keys in canonical form. Borrowed when already canonical (the common case).
pub fn canonical_elem(e: &PathElem) -> Cow<'_, PathElem> {
    let name_ok = !e.name.contains(':');
    let keys_ok = e.keys.iter().all(|(k, v)| key_is_canonical(k, v));
    if name_ok && keys_ok {
        return Cow::Borrowed(e);
    }
    let mut out = PathElem::new(e.local_name());
    for (k, v) in &e.keys {
        out.keys.insert(k.clone(), canonical_key_value(k, v));
    }
    Cow::Owned(out)
}

fn key_is_canonical(k: &str, v: &str) -> bool {
    if v == "*" {
        return true;
    }
    if IDENTITY_KEYS.contains(&k) {
        return strip_identity_prefix(v).len() == v.len();
    }
    if IP_KEYS.contains(&k) {
        return canonical_ip(v).is_none_or(|c| c == v);
    }
    true
}

fn canonical_key_value(k: &str, v: &str) -> String {
    if v == "*" {
        return v.to_string();
    }
    if IDENTITY_KEYS.contains(&k) {
        return strip_identity_prefix(v).to_string();
    }
    if IP_KEYS.contains(&k)
        && let Some(c) = canonical_ip(v)
    {
        return c;
    }
    v.to_string()
}

/// The canonical spelling of a whole path (see [`canonical_elem`]).
pub fn canonical_path(p: &fabric_gnmi::Path) -> fabric_gnmi::Path {
    fabric_gnmi::Path {
        origin: canonical_origin(p.origin.as_deref()).map(str::to_string),
        elems: p
            .elems
            .iter()
            .map(|e| canonical_elem(e).into_owned())
            .collect(),
    }
}

/// `openconfig` is the default origin of gNMI targets such as EOS: a path with it and one
/// without name the same node.
pub fn canonical_origin(origin: Option<&str>) -> Option<&str> {
    match origin {
        None | Some("") | Some("openconfig") => None,
        Some(o) => Some(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_compare_without_module_prefix() {
        let e = normalize(
            LeafKind::Identity,
            &Value::from("openconfig-vlan-types:TRUNK"),
        );
        assert_eq!(e, Value::from("TRUNK"));
        assert!(equal(LeafKind::Identity, &e, &Value::from("TRUNK")));
        assert!(equal(
            LeafKind::Identity,
            &e,
            &Value::from("openconfig-vlan-types:TRUNK")
        ));
        assert!(!equal(LeafKind::Identity, &e, &Value::from("ACCESS")));
        // Route targets and IPv6 addresses are not identities.
        assert_eq!(strip_identity_prefix("65000:1"), "65000:1");
        assert_eq!(strip_identity_prefix("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn numbers_as_strings_or_numbers() {
        let e = normalize(LeafKind::Uint, &Value::Uint(9214));
        assert!(equal(LeafKind::Uint, &e, &Value::from("9214")));
        assert!(equal(LeafKind::Uint, &e, &Value::Int(9214)));
        assert!(!equal(LeafKind::Uint, &e, &Value::Uint(1500)));
        assert!(!equal(LeafKind::Uint, &e, &Value::from("jumbo")));
    }

    #[test]
    fn ip_addresses_compare_canonically() {
        let e = normalize(LeafKind::IpAddr, &Value::from("2001:DB8:0::1"));
        assert_eq!(e, Value::from("2001:db8::1"));
        assert!(equal(LeafKind::IpAddr, &e, &Value::from("2001:db8::0:1")));
        assert!(!equal(LeafKind::IpAddr, &e, &Value::from("2001:db8::2")));
    }

    #[test]
    fn trunk_vlans_compare_as_sets() {
        let intent = normalize(
            LeafKind::VlanList,
            &Value::LeafList(vec![Value::from("10-20"), Value::from("30")]),
        );
        let device = Value::LeafList(vec![
            Value::from("10..15"),
            Value::Uint(30),
            Value::from("16..20"),
        ]);
        assert!(equal(LeafKind::VlanList, &intent, &device));
        let ids = Value::LeafList((10..=20).chain([30]).map(Value::Uint).collect());
        assert!(equal(LeafKind::VlanList, &intent, &ids));
        let missing = Value::LeafList(vec![Value::from("10..19"), Value::Uint(30)]);
        assert!(!equal(LeafKind::VlanList, &intent, &missing));
        assert_eq!(vlan_ranges(&Value::from("0")), None);
        assert_eq!(vlan_ranges(&Value::from("5000")), None);
    }

    #[test]
    fn canonical_elements() {
        let e = PathElem::new("openconfig-network-instance:protocol")
            .with_key("identifier", "openconfig-policy-types:BGP")
            .with_key("name", "BGP");
        let c = canonical_elem(&e);
        assert_eq!(c.name, "protocol");
        assert_eq!(c.keys["identifier"], "BGP");
        let n = PathElem::new("neighbor").with_key("neighbor-address", "2001:DB8::0:1");
        assert_eq!(canonical_elem(&n).keys["neighbor-address"], "2001:db8::1");
        let plain = PathElem::new("interface").with_key("name", "Ethernet1");
        assert!(matches!(canonical_elem(&plain), Cow::Borrowed(_)));
    }
}
