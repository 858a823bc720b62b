//! Server side for gNMI targets (fabric-sim), behind the `server` feature.
//!
//! A deliberately narrow window onto the generated code: the service trait
//! ([`GNmi`]) and its tower service ([`GNmiServer`]), the message types its
//! methods take and return, and conversions to the crate's own types
//! (`Path::try_from(&pb::Path)`, `pb::Path::from(&Path)`,
//! `Value::try_from(&TypedValue)`, `TypedValue::from(&Value)`,
//! `Notification::try_from(&pb::Notification)`, `pb::Notification::from(&Notification)`).

pub use crate::proto::gnmi::g_nmi_server::{GNmi, GNmiServer};
pub use crate::proto::gnmi::{
    CapabilityRequest, CapabilityResponse, Decimal64, Encoding as ProtoEncoding, GetRequest,
    GetResponse, ModelData, Notification, Path, PathElem, Poll, ScalarArray, SetRequest,
    SetResponse, SubscribeRequest, SubscribeResponse, Subscription, SubscriptionList,
    SubscriptionMode, TypedValue, Update, UpdateResult, get_request, subscribe_request,
    subscribe_response, subscription_list, typed_value, update_result,
};
/// Deprecated wire messages, still exported so a simulator can inject what
/// old or broken targets send (fault injection): the in-band `Error` and the
/// pre-0.3 untyped `Value`.
#[allow(deprecated)]
pub use crate::proto::gnmi::{Error as ProtoError, QosMarking, Value as ProtoValue};
pub use crate::proto::gnmi_ext;

/// gNMI service version this crate implements (the `gnmi_service` option of
/// proto/gnmi.proto), for `CapabilityResponse.gNMI_version`.
pub const GNMI_VERSION: &str = "0.10.0";

/// The `username` / `password` call metadata a client sent, the way EOS,
/// gnmic, pygnmi and this crate's client send credentials.
pub fn credentials<T>(req: &tonic::Request<T>) -> Option<(&str, &str)> {
    let md = req.metadata();
    let user = md.get("username")?.to_str().ok()?;
    let pass = md.get("password")?.to_str().ok()?;
    Some((user, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_metadata() {
        let mut req = tonic::Request::new(());
        assert_eq!(credentials(&req), None);
        req.metadata_mut().insert(
            "username",
            tonic::metadata::MetadataValue::from_static("admin"),
        );
        req.metadata_mut().insert(
            "password",
            tonic::metadata::MetadataValue::from_static("pw"),
        );
        assert_eq!(credentials(&req), Some(("admin", "pw")));
    }
}
