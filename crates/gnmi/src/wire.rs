//! Conversions between the generated protobuf messages and the crate's
//! types. Crate-private functions; the trait impls become usable outside
//! when the `server` feature exposes the message types.

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
                name: e.name.as_str().into(),
                keys: e
                    .key
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<crate::path::Keys>(),
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
                    name: e.name.to_string(),
                    key: e
                        .keys
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
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

// ---- requests and responses -------------------------------------------

use crate::rpc;

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
fn opt_prefix(p: &Option<Path>, target: Option<&str>) -> Option<pb::Path> {
    match (p, target) {
        (None, None) => None,
        (Some(p), t) => Some(path_with_target(p, t)),
        (None, Some(t)) => Some(path_with_target(&Path::root(), Some(t))),
    }
}

fn prefix_from(p: &Option<pb::Path>, field: &'static str) -> Result<Option<Path>, DecodeError> {
    p.as_ref()
        .map(|p| {
            Path::try_from(p).map_err(|source| DecodeError::RequestPath {
                field,
                index: 0,
                source,
            })
        })
        .transpose()
}

fn models_to_proto(m: &[rpc::ModelData]) -> Vec<pb::ModelData> {
    m.iter()
        .map(|m| pb::ModelData {
            name: m.name.clone(),
            organization: m.organization.clone(),
            version: m.version.clone(),
        })
        .collect()
}

fn models_from_proto(m: &[pb::ModelData]) -> Vec<rpc::ModelData> {
    m.iter()
        .map(|m| rpc::ModelData {
            name: m.name.clone(),
            organization: m.organization.clone(),
            version: m.version.clone(),
        })
        .collect()
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
pub(crate) fn capabilities_from_proto(c: &pb::CapabilityResponse) -> rpc::Capabilities {
    rpc::Capabilities {
        models: models_from_proto(&c.supported_models),
        encodings: c
            .supported_encodings
            .iter()
            .map(|e| Encoding::from_i32(*e))
            .collect(),
        version: c.g_nmi_version.clone(),
    }
}

impl From<&rpc::Capabilities> for pb::CapabilityResponse {
    fn from(c: &rpc::Capabilities) -> Self {
        pb::CapabilityResponse {
            supported_models: models_to_proto(&c.models),
            supported_encodings: c.encodings.iter().map(|e| e.as_i32()).collect(),
            g_nmi_version: c.version.clone(),
            extension: Vec::new(),
        }
    }
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
pub(crate) fn get_to_proto(r: &rpc::GetRequest, target: Option<&str>) -> pb::GetRequest {
    pb::GetRequest {
        prefix: opt_prefix(&r.prefix, target),
        path: r.paths.iter().map(pb::Path::from).collect(),
        r#type: match r.data_type {
            rpc::DataType::All => pb::get_request::DataType::All,
            rpc::DataType::Config => pb::get_request::DataType::Config,
            rpc::DataType::State => pb::get_request::DataType::State,
            rpc::DataType::Operational => pb::get_request::DataType::Operational,
        } as i32,
        encoding: r.encoding.as_i32(),
        use_models: models_to_proto(&r.use_models),
        extension: Vec::new(),
    }
}

impl TryFrom<&pb::GetRequest> for rpc::GetRequest {
    type Error = DecodeError;

    fn try_from(r: &pb::GetRequest) -> Result<Self, DecodeError> {
        let mut paths = Vec::with_capacity(r.path.len());
        for (index, p) in r.path.iter().enumerate() {
            paths.push(
                Path::try_from(p).map_err(|source| DecodeError::RequestPath {
                    field: "path",
                    index,
                    source,
                })?,
            );
        }
        Ok(rpc::GetRequest {
            prefix: prefix_from(&r.prefix, "prefix")?,
            paths,
            data_type: match r.r#type {
                1 => rpc::DataType::Config,
                2 => rpc::DataType::State,
                3 => rpc::DataType::Operational,
                _ => rpc::DataType::All,
            },
            encoding: Encoding::from_i32(r.encoding),
            use_models: models_from_proto(&r.use_models),
        })
    }
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
pub(crate) fn set_to_proto(r: &rpc::SetRequest, target: Option<&str>) -> pb::SetRequest {
    let ups = |v: &[(Path, Value)]| v.iter().map(|(p, v)| update_to_proto(p, v)).collect();
    pb::SetRequest {
        prefix: opt_prefix(&r.prefix, target),
        delete: r.deletes.iter().map(pb::Path::from).collect(),
        replace: ups(&r.replaces),
        update: ups(&r.updates),
        union_replace: ups(&r.union_replaces),
        extension: Vec::new(),
    }
}

impl TryFrom<&pb::SetRequest> for rpc::SetRequest {
    type Error = DecodeError;

    /// Paths stay relative to the prefix, as on the wire.
    fn try_from(r: &pb::SetRequest) -> Result<Self, DecodeError> {
        fn ups(field: &'static str, v: &[pb::Update]) -> Result<Vec<(Path, Value)>, DecodeError> {
            let mut out = Vec::with_capacity(v.len());
            for (index, u) in v.iter().enumerate() {
                let path = u
                    .path
                    .as_ref()
                    .map(Path::try_from)
                    .transpose()
                    .map_err(|source| DecodeError::RequestPath {
                        field,
                        index,
                        source,
                    })?
                    .unwrap_or_default();
                let value = update_value(u).map_err(|source| DecodeError::RequestValue {
                    field,
                    index,
                    path: path.clone(),
                    source,
                })?;
                out.push((path, value));
            }
            Ok(out)
        }
        let mut deletes = Vec::with_capacity(r.delete.len());
        for (index, p) in r.delete.iter().enumerate() {
            deletes.push(
                Path::try_from(p).map_err(|source| DecodeError::RequestPath {
                    field: "delete",
                    index,
                    source,
                })?,
            );
        }
        Ok(rpc::SetRequest {
            prefix: prefix_from(&r.prefix, "prefix")?,
            deletes,
            replaces: ups("replace", &r.replace)?,
            updates: ups("update", &r.update)?,
            union_replaces: ups("union_replace", &r.union_replace)?,
        })
    }
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
pub(crate) fn set_response_from_proto(
    r: &pb::SetResponse,
) -> Result<rpc::SetResponse, DecodeError> {
    let prefix = prefix_from(&r.prefix, "prefix")?.unwrap_or_default();
    let mut results = Vec::with_capacity(r.response.len());
    for (index, u) in r.response.iter().enumerate() {
        let rel = u
            .path
            .as_ref()
            .map(Path::try_from)
            .transpose()
            .map_err(|source| DecodeError::RequestPath {
                field: "response",
                index,
                source,
            })?
            .unwrap_or_default();
        let path = prefix
            .join(&rel)
            .map_err(|source| DecodeError::RequestPath {
                field: "response",
                index,
                source,
            })?;
        let op = match u.op {
            1 => rpc::SetOperation::Delete,
            2 => rpc::SetOperation::Replace,
            3 => rpc::SetOperation::Update,
            4 => rpc::SetOperation::UnionReplace,
            n => rpc::SetOperation::Invalid(n),
        };
        results.push(rpc::SetResult { path, op });
    }
    Ok(rpc::SetResponse {
        timestamp: r.timestamp,
        results,
    })
}

impl From<&rpc::SetResponse> for pb::SetResponse {
    fn from(r: &rpc::SetResponse) -> Self {
        #[allow(deprecated)]
        pb::SetResponse {
            prefix: None,
            response: r
                .results
                .iter()
                .map(|res| pb::UpdateResult {
                    timestamp: 0,
                    path: Some(pb::Path::from(&res.path)),
                    message: None,
                    op: match res.op {
                        rpc::SetOperation::Delete => 1,
                        rpc::SetOperation::Replace => 2,
                        rpc::SetOperation::Update => 3,
                        rpc::SetOperation::UnionReplace => 4,
                        rpc::SetOperation::Invalid(n) => n,
                    },
                })
                .collect(),
            message: None,
            timestamp: r.timestamp,
            extension: Vec::new(),
        }
    }
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
fn nanos(d: Option<std::time::Duration>) -> u64 {
    d.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg_attr(not(feature = "client"), allow(dead_code))] // used by the client
pub(crate) fn subscribe_to_proto(
    r: &rpc::SubscribeRequest,
    target: Option<&str>,
) -> pb::SubscribeRequest {
    let list = pb::SubscriptionList {
        prefix: opt_prefix(&r.prefix, target),
        subscription: r
            .subscriptions
            .iter()
            .map(|s| pb::Subscription {
                path: Some(pb::Path::from(&s.path)),
                mode: match s.mode {
                    rpc::StreamMode::TargetDefined => pb::SubscriptionMode::TargetDefined,
                    rpc::StreamMode::OnChange => pb::SubscriptionMode::OnChange,
                    rpc::StreamMode::Sample => pb::SubscriptionMode::Sample,
                } as i32,
                sample_interval: nanos(s.sample_interval),
                suppress_redundant: s.suppress_redundant,
                heartbeat_interval: nanos(s.heartbeat_interval),
            })
            .collect(),
        qos: r.qos.map(|marking| pb::QosMarking { marking }),
        mode: match r.mode {
            rpc::ListMode::Stream => pb::subscription_list::Mode::Stream,
            rpc::ListMode::Once => pb::subscription_list::Mode::Once,
            rpc::ListMode::Poll => pb::subscription_list::Mode::Poll,
        } as i32,
        allow_aggregation: r.allow_aggregation,
        use_models: models_to_proto(&r.use_models),
        encoding: r.encoding.as_i32(),
        updates_only: r.updates_only,
    };
    pb::SubscribeRequest {
        request: Some(pb::subscribe_request::Request::Subscribe(list)),
        extension: Vec::new(),
    }
}

impl TryFrom<&pb::SubscriptionList> for rpc::SubscribeRequest {
    type Error = DecodeError;

    fn try_from(l: &pb::SubscriptionList) -> Result<Self, DecodeError> {
        let dur = |n: u64| (n > 0).then(|| std::time::Duration::from_nanos(n));
        let mut subscriptions = Vec::with_capacity(l.subscription.len());
        for (index, s) in l.subscription.iter().enumerate() {
            let path = s
                .path
                .as_ref()
                .map(Path::try_from)
                .transpose()
                .map_err(|source| DecodeError::RequestPath {
                    field: "subscription",
                    index,
                    source,
                })?
                .unwrap_or_default();
            subscriptions.push(rpc::Subscription {
                path,
                mode: match s.mode {
                    1 => rpc::StreamMode::OnChange,
                    2 => rpc::StreamMode::Sample,
                    _ => rpc::StreamMode::TargetDefined,
                },
                sample_interval: dur(s.sample_interval),
                suppress_redundant: s.suppress_redundant,
                heartbeat_interval: dur(s.heartbeat_interval),
            });
        }
        Ok(rpc::SubscribeRequest {
            prefix: prefix_from(&l.prefix, "prefix")?,
            mode: match l.mode {
                1 => rpc::ListMode::Once,
                2 => rpc::ListMode::Poll,
                _ => rpc::ListMode::Stream,
            },
            subscriptions,
            encoding: Encoding::from_i32(l.encoding),
            updates_only: l.updates_only,
            allow_aggregation: l.allow_aggregation,
            qos: l.qos.as_ref().map(|q| q.marking),
            use_models: models_from_proto(&l.use_models),
        })
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    fn arb_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            ".{0,12}".prop_map(Value::String),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::Uint),
            any::<bool>().prop_map(Value::Bool),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
            any::<f64>()
                .prop_filter("NaN never equals itself", |f| !f.is_nan())
                .prop_map(Value::Double),
            (any::<i64>(), 0u32..=18)
                .prop_map(|(digits, precision)| Value::Decimal(Decimal64 { digits, precision })),
            "[ -~]{0,12}".prop_map(Value::Ascii),
            Just(Value::Empty),
        ]
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => arb_scalar(),
            1 => prop::collection::vec(arb_scalar().prop_filter("leaf-list elements are scalars", |v| *v != Value::Empty), 0..4)
                .prop_map(Value::LeafList),
            1 => r#"\{"[a-z]{1,4}":[0-9]{1,3}\}"#.prop_map(Value::JsonIetf),
            1 => (".{0,8}", prop::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(type_url, value)| Value::Any { type_url, value }),
        ]
    }

    proptest! {
        // Value -> TypedValue -> bytes -> TypedValue -> Value is the identity.
        #[test]
        fn typed_value_wire_round_trip(v in arb_value()) {
            let bytes = pb::TypedValue::from(&v).encode_to_vec();
            let back = pb::TypedValue::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Value::try_from(&back).map_err(|e| TestCaseError::fail(e.to_string()))?, v);
        }

        // Path -> proto -> bytes -> proto -> Path is the identity.
        #[test]
        fn path_wire_round_trip(path in crate::path::tests::arb_path()) {
            let bytes = pb::Path::from(&path).encode_to_vec();
            let back = pb::Path::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Path::try_from(&back).map_err(|e| TestCaseError::fail(e.to_string()))?, path);
        }
    }
}

#[cfg(test)]
mod rpc_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn subscribe_request_round_trips_through_proto() {
        let req = rpc::SubscribeRequest {
            prefix: Some("/interfaces".parse().unwrap_or_default()),
            mode: rpc::ListMode::Stream,
            subscriptions: vec![
                rpc::Subscription::on_change(
                    "/interface[name=*]/config".parse().unwrap_or_default(),
                ),
                rpc::Subscription {
                    suppress_redundant: true,
                    heartbeat_interval: Some(Duration::from_secs(60)),
                    ..rpc::Subscription::sample(
                        "/interface[name=*]/state".parse().unwrap_or_default(),
                        Duration::from_secs(10),
                    )
                },
            ],
            updates_only: true,
            qos: Some(46),
            ..Default::default()
        };
        let pbreq = subscribe_to_proto(&req, Some("leaf1"));
        let Some(pb::subscribe_request::Request::Subscribe(list)) = &pbreq.request else {
            panic!("expected a SubscriptionList");
        };
        assert_eq!(
            list.prefix.as_ref().map(|p| p.target.as_str()),
            Some("leaf1")
        );
        assert_eq!(list.subscription[1].sample_interval, 10_000_000_000);
        assert_eq!(rpc::SubscribeRequest::try_from(list).ok(), Some(req));
    }

    #[test]
    fn get_request_round_trips_with_type_encoding_and_target() {
        let req = rpc::GetRequest {
            prefix: Some("openconfig:/interfaces".parse().unwrap_or_default()),
            paths: vec![
                "/interface[name=Et1]/config".parse().unwrap_or_default(),
                "/interface[name=Et2]/state/counters"
                    .parse()
                    .unwrap_or_default(),
            ],
            data_type: rpc::DataType::Config,
            encoding: Encoding::Json,
            use_models: vec![rpc::ModelData {
                name: "openconfig-interfaces".into(),
                ..Default::default()
            }],
        };
        let pbreq = get_to_proto(&req, Some("leaf1"));
        assert_eq!(pbreq.r#type, 1);
        assert_eq!(pbreq.encoding, 0);
        assert_eq!(
            pbreq
                .prefix
                .as_ref()
                .map(|p| (p.origin.as_str(), p.target.as_str())),
            Some(("openconfig", "leaf1"))
        );
        assert_eq!(rpc::GetRequest::try_from(&pbreq).ok(), Some(req));
        // No prefix but a target: the prefix carries only the target.
        let bare = get_to_proto(&rpc::GetRequest::default(), Some("leaf1"));
        assert_eq!(
            bare.prefix.map(|p| (p.elem.len(), p.target)),
            Some((0, "leaf1".to_string()))
        );
        assert!(
            get_to_proto(&rpc::GetRequest::default(), None)
                .prefix
                .is_none()
        );
    }

    #[test]
    fn set_request_round_trips_and_response_joins_prefix() {
        let p = |s: &str| -> Path { s.parse().unwrap_or_default() };
        let req = rpc::SetRequest {
            prefix: Some(p("/interfaces")),
            deletes: vec![p("/interface[name=Et3]")],
            replaces: vec![(
                p("/interface[name=Et1]/config"),
                Value::JsonIetf("{\"mtu\":9214}".into()),
            )],
            updates: vec![(
                p("/interface[name=Et2]/config/description"),
                Value::from("x"),
            )],
            union_replaces: vec![],
        };
        let pbreq = set_to_proto(&req, None);
        assert_eq!(rpc::SetRequest::try_from(&pbreq).ok(), Some(req));

        let resp = pb::SetResponse {
            prefix: Some(pb::Path::from(&p("/interfaces"))),
            response: vec![pb::UpdateResult {
                path: Some(pb::Path::from(&p("/interface[name=Et3]"))),
                op: 1,
                ..Default::default()
            }],
            timestamp: 7,
            ..Default::default()
        };
        let typed = set_response_from_proto(&resp).unwrap_or_default();
        assert_eq!(typed.results[0].path, p("/interfaces/interface[name=Et3]"));
        assert_eq!(typed.results[0].op, rpc::SetOperation::Delete);
    }
}
