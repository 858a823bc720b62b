//! Conversions between the generated protobuf messages and the crate's
//! types. Crate-private functions; the trait impls become usable outside
//! when the `server` feature exposes the message types.

use std::collections::BTreeMap;

use crate::notification::{DecodeError, Notification, Update};
use crate::path::{Path, PathElem, PathError};
use crate::proto::gnmi as pb;
use crate::value::{Decimal64, Encoding, Value, ValueError};

impl TryFrom<&pb::Path> for Path {
    type Error = PathError;

    /// Only the `elem` form: the pre-0.4 `element` strings cannot carry keys
    /// unambiguously, and no target we support sends them.
    fn try_from(p: &pb::Path) -> Result<Self, PathError> {
        #[allow(deprecated)]
        if p.elem.is_empty() && !p.element.is_empty() {
            return Err(PathError::DeprecatedElementForm {
                elements: p.element.clone(),
            });
        }
        let mut elems = Vec::with_capacity(p.elem.len());
        for e in &p.elem {
            if e.name.is_empty() {
                return Err(PathError::EmptyName);
            }
            elems.push(PathElem {
                name: e.name.clone(),
                keys: e
                    .key
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
            });
        }
        Ok(Path {
            origin: (!p.origin.is_empty()).then(|| p.origin.clone()),
            elems,
        })
    }
}

impl TryFrom<pb::Path> for Path {
    type Error = PathError;
    fn try_from(p: pb::Path) -> Result<Self, PathError> {
        Path::try_from(&p)
    }
}

impl From<&Path> for pb::Path {
    fn from(p: &Path) -> Self {
        #[allow(deprecated)]
        pb::Path {
            element: Vec::new(),
            origin: p.origin.clone().unwrap_or_default(),
            elem: p
                .elems
                .iter()
                .map(|e| pb::PathElem {
                    name: e.name.clone(),
                    key: e.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect(),
            target: String::new(),
        }
    }
}

impl From<Path> for pb::Path {
    fn from(p: Path) -> Self {
        pb::Path::from(&p)
    }
}

/// Proto path with the `target` field set (request prefixes).
pub(crate) fn path_with_target(p: &Path, target: Option<&str>) -> pb::Path {
    let mut out = pb::Path::from(p);
    out.target = target.unwrap_or_default().to_string();
    out
}

impl TryFrom<&pb::TypedValue> for Value {
    type Error = ValueError;

    fn try_from(tv: &pb::TypedValue) -> Result<Self, ValueError> {
        use pb::typed_value::Value as V;
        #[allow(deprecated)]
        let v = match tv.value.as_ref().ok_or(ValueError::Missing)? {
            V::StringVal(s) => Value::String(s.clone()),
            V::IntVal(i) => Value::Int(*i),
            V::UintVal(u) => Value::Uint(*u),
            V::BoolVal(b) => Value::Bool(*b),
            V::BytesVal(b) => Value::Bytes(b.clone()),
            V::FloatVal(f) => Value::Double(f64::from(*f)),
            V::DoubleVal(d) => Value::Double(*d),
            V::DecimalVal(d) => Value::Decimal(Decimal64::new(d.digits, d.precision)?),
            V::LeaflistVal(arr) => {
                let mut out = Vec::with_capacity(arr.element.len());
                for e in &arr.element {
                    let v = Value::try_from(e)?;
                    if !v.is_scalar() {
                        return Err(ValueError::NonScalarLeafListElement(v.kind().to_string()));
                    }
                    out.push(v);
                }
                Value::LeafList(out)
            }
            V::AnyVal(a) => Value::Any {
                type_url: a.type_url.clone(),
                value: a.value.clone(),
            },
            V::JsonVal(b) => Value::Json(utf8(b)?),
            V::JsonIetfVal(b) => {
                // `[null]` is the RFC 7951 form of YANG `empty`.
                if is_null_array(b) {
                    Value::Empty
                } else {
                    Value::JsonIetf(utf8(b)?)
                }
            }
            V::AsciiVal(s) => Value::Ascii(s.clone()),
            V::ProtoBytes(b) => Value::ProtoBytes(b.clone()),
        };
        Ok(v)
    }
}

fn is_null_array(b: &[u8]) -> bool {
    let s: Vec<u8> = b
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    s == b"[null]"
}

fn utf8(b: &[u8]) -> Result<String, ValueError> {
    String::from_utf8(b.to_vec()).map_err(|e| ValueError::JsonNotUtf8(e.to_string()))
}

impl From<&Value> for pb::TypedValue {
    fn from(v: &Value) -> Self {
        use pb::typed_value::Value as V;
        #[allow(deprecated)]
        let inner = match v {
            Value::String(s) => V::StringVal(s.clone()),
            Value::Int(i) => V::IntVal(*i),
            Value::Uint(u) => V::UintVal(*u),
            Value::Bool(b) => V::BoolVal(*b),
            Value::Bytes(b) => V::BytesVal(b.clone()),
            Value::Double(d) => V::DoubleVal(*d),
            // decimal_val is deprecated in 0.10 in favour of double_val, but
            // it is the only exact form and targets still decode it.
            Value::Decimal(d) => V::DecimalVal(pb::Decimal64 {
                digits: d.digits,
                precision: d.precision,
            }),
            Value::LeafList(items) => V::LeaflistVal(pb::ScalarArray {
                element: items.iter().map(pb::TypedValue::from).collect(),
            }),
            Value::Json(s) => V::JsonVal(s.clone().into_bytes()),
            Value::JsonIetf(s) => V::JsonIetfVal(s.clone().into_bytes()),
            Value::Ascii(s) => V::AsciiVal(s.clone()),
            Value::Any { type_url, value } => V::AnyVal(prost_types::Any {
                type_url: type_url.clone(),
                value: value.clone(),
            }),
            Value::ProtoBytes(b) => V::ProtoBytes(b.clone()),
            Value::Empty => V::JsonIetfVal(b"[null]".to_vec()),
        };
        pb::TypedValue { value: Some(inner) }
    }
}

impl From<Value> for pb::TypedValue {
    fn from(v: Value) -> Self {
        pb::TypedValue::from(&v)
    }
}

/// Decodes an Update's value: `val`, or the deprecated `value` (pre-0.3
/// targets) with its encoding.
#[allow(deprecated)]
pub(crate) fn update_value(u: &pb::Update) -> Result<Value, ValueError> {
    if let Some(tv) = &u.val {
        return Value::try_from(tv);
    }
    let Some(old) = &u.value else {
        return Err(ValueError::Missing);
    };
    Ok(match Encoding::from_i32(old.r#type) {
        Encoding::Json => Value::Json(utf8(&old.value)?),
        Encoding::JsonIetf => Value::JsonIetf(utf8(&old.value)?),
        Encoding::Bytes => Value::Bytes(old.value.clone()),
        Encoding::Proto => Value::ProtoBytes(old.value.clone()),
        Encoding::Ascii => Value::Ascii(String::from_utf8_lossy(&old.value).into_owned()),
        Encoding::Unknown(n) => return Err(ValueError::UnknownEncoding(n)),
    })
}

/// Proto Update from a path and value.
pub(crate) fn update_to_proto(path: &Path, value: &Value) -> pb::Update {
    #[allow(deprecated)]
    pb::Update {
        path: Some(path.into()),
        value: None,
        val: Some(value.into()),
        duplicates: 0,
    }
}

impl TryFrom<&pb::Notification> for Notification {
    type Error = DecodeError;

    fn try_from(n: &pb::Notification) -> Result<Self, DecodeError> {
        let (prefix, target) = match &n.prefix {
            Some(p) => (
                Path::try_from(p).map_err(DecodeError::Prefix)?,
                (!p.target.is_empty()).then(|| p.target.clone()),
            ),
            None => (Path::root(), None),
        };
        let mut updates = Vec::with_capacity(n.update.len());
        for (index, u) in n.update.iter().enumerate() {
            let rel = u.path.as_ref().ok_or(DecodeError::MissingPath { index })?;
            let rel =
                Path::try_from(rel).map_err(|source| DecodeError::UpdatePath { index, source })?;
            let path = prefix
                .join(&rel)
                .map_err(|source| DecodeError::UpdatePath { index, source })?;
            let value = update_value(u).map_err(|source| DecodeError::UpdateValue {
                index,
                path: path.clone(),
                source,
            })?;
            updates.push(Update {
                path,
                value,
                duplicates: u.duplicates,
            });
        }
        let mut deletes = Vec::with_capacity(n.delete.len());
        for (index, d) in n.delete.iter().enumerate() {
            let rel =
                Path::try_from(d).map_err(|source| DecodeError::DeletePath { index, source })?;
            deletes.push(
                prefix
                    .join(&rel)
                    .map_err(|source| DecodeError::DeletePath { index, source })?,
            );
        }
        Ok(Notification {
            timestamp: n.timestamp,
            prefix,
            target,
            updates,
            deletes,
            atomic: n.atomic,
        })
    }
}

impl From<&Notification> for pb::Notification {
    /// Encodes with paths relative to the notification's prefix when they
    /// are under it, full otherwise.
    fn from(n: &Notification) -> Self {
        let rel = |p: &Path| n.prefix.strip_prefix_of(p).unwrap_or_else(|| p.clone());
        pb::Notification {
            timestamp: n.timestamp,
            prefix: (!n.prefix.is_root() || n.prefix.origin.is_some() || n.target.is_some())
                .then(|| path_with_target(&n.prefix, n.target.as_deref())),
            update: n
                .updates
                .iter()
                .map(|u| {
                    let mut up = update_to_proto(&rel(&u.path), &u.value);
                    up.duplicates = u.duplicates;
                    up
                })
                .collect(),
            delete: n.deletes.iter().map(|d| pb::Path::from(&rel(d))).collect(),
            atomic: n.atomic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn p(s: &str) -> Path {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn path_proto_round_trip_and_wire_bytes() {
        let path = p("openconfig:/interfaces/interface[name=Et1]/config/mtu");
        let proto = pb::Path::from(&path);
        assert_eq!(proto.origin, "openconfig");
        assert_eq!(
            proto.elem[1].key.get("name").map(String::as_str),
            Some("Et1")
        );
        // Field numbers: encode and decode through bytes.
        let bytes = proto.encode_to_vec();
        let decoded = pb::Path::decode(bytes.as_slice()).unwrap_or_default();
        assert_eq!(Path::try_from(&decoded).ok(), Some(path));
        // origin (field 2, string) is tag 0x12 and comes first on the wire.
        assert_eq!(bytes[0], 0x12);
    }

    #[test]
    fn deprecated_element_form_is_rejected() {
        #[allow(deprecated)]
        let old = pb::Path {
            element: vec!["interfaces".into(), "interface".into()],
            ..Default::default()
        };
        let err = Path::try_from(&old);
        assert!(matches!(err, Err(PathError::DeprecatedElementForm { .. })));
        assert!(err.is_err_and(|e| e.to_string().contains("deprecated `element`")));
    }

    #[test]
    fn typed_values_round_trip() {
        let values = vec![
            Value::String("x".into()),
            Value::Int(-3),
            Value::Uint(u64::MAX),
            Value::Bool(true),
            Value::Bytes(vec![0, 1]),
            Value::Double(2.5),
            Value::Decimal(Decimal64 {
                digits: 150,
                precision: 2,
            }),
            Value::LeafList(vec![Value::Uint(1), Value::String("a".into())]),
            Value::Json("{\"a\":1}".into()),
            Value::JsonIetf("{\"m:a\":\"1\"}".into()),
            Value::Ascii("show".into()),
            Value::Any {
                type_url: "t".into(),
                value: vec![9],
            },
            Value::ProtoBytes(vec![7]),
            Value::Empty,
        ];
        for v in values {
            let tv = pb::TypedValue::from(&v);
            let bytes = tv.encode_to_vec();
            let back = pb::TypedValue::decode(bytes.as_slice()).unwrap_or_default();
            assert_eq!(Value::try_from(&back).ok(), Some(v));
        }
        // double_val is field 14 (tag 0x71), not the deprecated float field 6.
        assert_eq!(
            pb::TypedValue::from(&Value::Double(1.0)).encode_to_vec()[0],
            0x71
        );
        assert_eq!(
            Value::try_from(&pb::TypedValue { value: None }),
            Err(ValueError::Missing)
        );
    }

    #[test]
    fn notification_decode_joins_prefix_and_reports_bad_parts() {
        let n = pb::Notification {
            timestamp: 42,
            prefix: Some(path_with_target(
                &p("/interfaces/interface[name=Et1]"),
                Some("leaf1"),
            )),
            update: vec![update_to_proto(&p("/config/mtu"), &Value::Uint(9214))],
            delete: vec![pb::Path::from(&p("/config/description"))],
            atomic: false,
        };
        let d = Notification::try_from(&n).unwrap_or_default();
        assert_eq!(d.target.as_deref(), Some("leaf1"));
        assert_eq!(
            d.updates[0].path,
            p("/interfaces/interface[name=Et1]/config/mtu")
        );
        assert_eq!(
            d.deletes[0],
            p("/interfaces/interface[name=Et1]/config/description")
        );
        // Encoding back gives the same decoded notification.
        let again = Notification::try_from(&pb::Notification::from(&d)).unwrap_or_default();
        assert_eq!(again, d);

        let mut bad = n.clone();
        bad.update[0].val = Some(pb::TypedValue { value: None });
        assert!(matches!(
            Notification::try_from(&bad),
            Err(DecodeError::UpdateValue {
                index: 0,
                source: ValueError::Missing,
                ..
            })
        ));
        #[allow(deprecated)]
        {
            bad.update[0].val = None;
            bad.update[0].value = Some(pb::Value {
                value: b"x".to_vec(),
                r#type: 17,
            });
        }
        assert!(matches!(
            Notification::try_from(&bad),
            Err(DecodeError::UpdateValue {
                source: ValueError::UnknownEncoding(17),
                ..
            })
        ));
    }
}
