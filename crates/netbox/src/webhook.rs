//! NetBox webhooks: signature check and which devices an event touches.
//!
//! NetBox signs the request body with the webhook's secret: header `X-Hook-Signature` holds the
//! lowercase hex HMAC-SHA512 of the exact body bytes. Its default body (no body template) is
//! `{"event", "timestamp", "object_type": "dcim.interface", "data", "snapshots", "request"}`;
//! NetBox before 4.0 sent `"model": "interface"` instead of `object_type`, which is accepted too.

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha512;

/// The header NetBox puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hook-Signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "the webhook request has no {SIGNATURE_HEADER} header (is a secret set on the NetBox webhook?)"
    )]
    Missing,
    #[error("the {SIGNATURE_HEADER} header is not a hex HMAC-SHA512 (128 hex characters)")]
    Malformed,
    #[error("the {SIGNATURE_HEADER} does not match the body: wrong webhook secret or altered body")]
    Mismatch,
    #[error("the webhook secret is empty")]
    EmptySecret,
}

/// Checks `X-Hook-Signature` (`header`, `None` when the request has none) against the body.
/// The comparison is constant-time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let header = header.ok_or(SignatureError::Missing)?.trim();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let expected = hex::decode(header).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret).map_err(|_| SignatureError::EmptySecret)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature NetBox would send for `body` (for tests and for tools that replay events).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha512>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is unreachable.
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a NetBox webhook payload: {0}")]
pub struct PayloadError(pub String);

/// A parsed webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// `created`, `updated`, `deleted` (or a job event).
    pub event: String,
    /// `app_label.model`, e.g. `dcim.interface`, `netbox_bgp.bgpsession`.
    pub object_type: String,
    pub data: serde_json::Value,
    pub prechange: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawEvent {
    event: String,
    #[serde(default)]
    object_type: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
    #[serde(default)]
    snapshots: Option<Snapshots>,
}

#[derive(Deserialize)]
struct Snapshots {
    #[serde(default)]
    prechange: Option<serde_json::Value>,
}

/// Which devices an event concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    /// These devices (by NetBox name; both old and new name on a rename).
    Devices(BTreeSet<String>),
    /// The devices that have these VLANs or VLANs of these L2VPNs, which NetBox is asked for
    /// (`fabric_netbox::devices_of`) before the re-sync.
    Shared(SharedObjects),
    /// An object shared by devices that cannot be looked up cheaply (a VRF, a peer group, a
    /// site, a deleted VLAN or L2VPN): run a full sync.
    All,
    /// Nothing the sync reads.
    Nothing,
}

/// VLANs and L2VPNs whose devices a webhook re-syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedObjects {
    /// VLANs by NetBox id: devices with an interface that has one untagged or tagged.
    pub vlans: BTreeSet<u64>,
    /// VLAN ids (802.1Q): devices with an SVI `Vlan<vid>` (which takes its VLAN by vid).
    pub vids: BTreeSet<u16>,
    /// L2VPNs by NetBox id: the devices of the VLANs they terminate on.
    pub l2vpns: BTreeSet<u64>,
}

impl SharedObjects {
    pub fn is_empty(&self) -> bool {
        self.vlans.is_empty() && self.vids.is_empty() && self.l2vpns.is_empty()
    }

    pub fn extend(&mut self, other: &SharedObjects) {
        self.vlans.extend(&other.vlans);
        self.vids.extend(&other.vids);
        self.l2vpns.extend(&other.l2vpns);
    }
}

/// Parses a webhook body.
pub fn parse_event(body: &[u8]) -> Result<Event, PayloadError> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(|e| PayloadError(e.to_string()))?;
    let object_type = match (raw.object_type, raw.model) {
        (Some(t), _) => t,
        (None, Some(m)) => legacy_object_type(&m),
        (None, None) => return Err(PayloadError("missing field `object_type`".into())),
    };
    Ok(Event {
        event: raw.event,
        object_type,
        data: raw.data,
        prechange: raw.snapshots.and_then(|s| s.prechange),
    })
}

fn legacy_object_type(model: &str) -> String {
    let app = match model {
        "device" | "interface" | "site" | "platform" | "devicerole" => "dcim",
        "vlan" | "vrf" | "ipaddress" | "routetarget" | "asn" | "vlangroup" => "ipam",
        "l2vpn" | "l2vpntermination" => "vpn",
        "bgpsession" | "bgppeergroup" => "netbox_bgp",
        "tag" => "extras",
        _ => "",
    };
    if app.is_empty() {
        model.to_owned()
    } else {
        format!("{app}.{model}")
    }
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str()
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_u64()
}

impl Event {
    /// NetBox ids of the devices [`Event::affected`] names, where the payload gives them (as
    /// the object is now: a deleted device has no id to look up). Lets the re-sync read a
    /// device and its components in one round trip (`fabric_netbox::sync_devices`).
    pub fn device_ids(&self) -> BTreeMap<String, u64> {
        let path: &[&str] = match self.object_type.as_str() {
            "dcim.device" if self.event != "deleted" => &[],
            "dcim.interface" | "netbox_bgp.bgpsession" => &["device"],
            "ipam.ipaddress" | "vpn.l2vpntermination" => &["assigned_object", "device"],
            _ => return BTreeMap::new(),
        };
        let at = |leaf: &'static str| [path, &[leaf]].concat();
        let (name, id) = (at("name"), at("id"));
        match (str_at(&self.data, &name), u64_at(&self.data, &id)) {
            (Some(n), Some(i)) => [(n.to_owned(), i)].into(),
            _ => BTreeMap::new(),
        }
    }

    /// The devices whose intent this event may change.
    pub fn affected(&self) -> Affected {
        let mut names = BTreeSet::new();
        let snaps = [Some(&self.data), self.prechange.as_ref()];
        let mut collect = |path: &[&str]| {
            for s in snaps.iter().flatten() {
                if let Some(n) = str_at(s, path) {
                    names.insert(n.to_owned());
                }
            }
        };
        match self.object_type.as_str() {
            "dcim.device" => collect(&["name"]),
            "dcim.interface" | "netbox_bgp.bgpsession" => collect(&["device", "name"]),
            "ipam.ipaddress" => {
                // An address on an interface; also the device whose primary address it is.
                collect(&["assigned_object", "device", "name"]);
            }
            "vpn.l2vpntermination" => {
                // On an interface: its device; on a VLAN: every device with that VLAN. The
                // payload's data is the REST form (`assigned_object` nested, with the VLAN's
                // vid); the prechange snapshot holds the raw `assigned_object_id`.
                let on_vlan = [Some(&self.data), self.prechange.as_ref()]
                    .iter()
                    .flatten()
                    .any(|s| str_at(s, &["assigned_object_type"]) != Some("dcim.interface"));
                if on_vlan {
                    let mut shared = SharedObjects::default();
                    shared
                        .vlans
                        .extend(u64_at(&self.data, &["assigned_object", "id"]));
                    shared
                        .vlans
                        .extend(u64_at(&self.data, &["assigned_object_id"]));
                    if let Some(p) = &self.prechange {
                        shared.vlans.extend(u64_at(p, &["assigned_object_id"]));
                    }
                    shared.vids.extend(
                        u64_at(&self.data, &["assigned_object", "vid"])
                            .and_then(|v| u16::try_from(v).ok()),
                    );
                    return if shared.vlans.is_empty() {
                        Affected::All
                    } else {
                        Affected::Shared(shared)
                    };
                }
                collect(&["assigned_object", "device", "name"]);
            }
            // A deleted VLAN or L2VPN has nothing left to look its devices up by.
            "ipam.vlan" | "vpn.l2vpn" if self.event == "deleted" => return Affected::All,
            "ipam.vlan" => {
                let mut shared = SharedObjects::default();
                shared.vlans.extend(u64_at(&self.data, &["id"]));
                for s in [Some(&self.data), self.prechange.as_ref()].iter().flatten() {
                    shared
                        .vids
                        .extend(u64_at(s, &["vid"]).and_then(|v| u16::try_from(v).ok()));
                }
                return if shared.vlans.is_empty() {
                    Affected::All
                } else {
                    Affected::Shared(shared)
                };
            }
            "vpn.l2vpn" => {
                return match u64_at(&self.data, &["id"]) {
                    Some(id) => Affected::Shared(SharedObjects {
                        l2vpns: [id].into(),
                        ..SharedObjects::default()
                    }),
                    None => Affected::All,
                };
            }
            "ipam.vrf"
            | "ipam.routetarget"
            | "ipam.asn"
            | "netbox_bgp.bgppeergroup"
            | "dcim.site"
            | "dcim.devicerole"
            | "dcim.platform"
            | "extras.tag" => return Affected::All,
            _ => return Affected::Nothing,
        }
        if names.is_empty() {
            // The payload did not carry the device (a custom body template, an unassigned
            // address): a full sync is the safe answer.
            Affected::All
        } else {
            Affected::Devices(names)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"webhook-secret";

    #[test]
    fn a_good_signature_passes_and_any_change_fails() {
        let body = br#"{"event":"updated"}"#;
        let sig = sign(SECRET, body);
        assert_eq!(sig.len(), 128);
        assert_eq!(verify_signature(SECRET, body, Some(&sig)), Ok(()));
        assert_eq!(
            verify_signature(SECRET, body, Some(&sig.to_uppercase())),
            Ok(())
        );
        assert_eq!(
            verify_signature(SECRET, br#"{"event":"deleted"}"#, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, body, Some("zz")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, body, Some(&sig[..64])),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(b"", body, Some(&sig)),
            Err(SignatureError::EmptySecret)
        );
    }

    #[test]
    fn signature_matches_a_known_hmac_sha512() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    fn affected(body: serde_json::Value) -> Affected {
        parse_event(body.to_string().as_bytes()).unwrap().affected()
    }

    fn devices(names: &[&str]) -> Affected {
        Affected::Devices(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn device_events_name_old_and_new_names() {
        let a = affected(serde_json::json!({
            "event": "updated", "object_type": "dcim.device",
            "data": {"id": 1, "name": "leaf1-new"},
            "snapshots": {"prechange": {"name": "leaf1"}, "postchange": {"name": "leaf1-new"}}
        }));
        assert_eq!(a, devices(&["leaf1", "leaf1-new"]));
    }

    #[test]
    fn component_events_name_their_device() {
        assert_eq!(
            affected(serde_json::json!({
                "event": "updated", "object_type": "dcim.interface",
                "data": {"id": 7, "name": "Ethernet1", "device": {"id": 1, "name": "leaf3"}}
            })),
            devices(&["leaf3"])
        );
        assert_eq!(
            affected(serde_json::json!({
                "event": "deleted", "object_type": "netbox_bgp.bgpsession",
                "data": {"id": 9, "device": {"id": 2, "name": "spine1"}}
            })),
            devices(&["spine1"])
        );
        assert_eq!(
            affected(serde_json::json!({
                "event": "created", "object_type": "ipam.ipaddress",
                "data": {"address": "10.0.0.1/31", "assigned_object_type": "dcim.interface",
                         "assigned_object": {"name": "Ethernet1", "device": {"name": "leaf2"}}}
            })),
            devices(&["leaf2"])
        );
        // NetBox 3 payloads say "model".
        assert_eq!(
            affected(serde_json::json!({
                "event": "updated", "model": "interface",
                "data": {"device": {"name": "leaf4"}}
            })),
            devices(&["leaf4"])
        );
    }

    #[test]
    fn device_ids_come_from_the_payload_as_it_is_now() {
        let ids = |body: serde_json::Value| {
            parse_event(body.to_string().as_bytes())
                .unwrap()
                .device_ids()
        };
        assert_eq!(
            ids(serde_json::json!({
                "event": "updated", "object_type": "dcim.interface",
                "data": {"id": 7, "device": {"id": 3, "name": "leaf3"}}
            })),
            [("leaf3".to_owned(), 3)].into()
        );
        assert_eq!(
            ids(serde_json::json!({
                "event": "updated", "object_type": "dcim.device",
                "data": {"id": 1, "name": "leaf1-new"},
                "snapshots": {"prechange": {"name": "leaf1"}}
            })),
            [("leaf1-new".to_owned(), 1)].into(),
            "the old name has no id: the re-sync goes by names"
        );
        assert!(
            ids(serde_json::json!({
                "event": "deleted", "object_type": "dcim.device",
                "data": {"id": 1, "name": "leaf1"}
            }))
            .is_empty()
        );
        assert!(
            ids(serde_json::json!({"event": "updated", "object_type": "ipam.vlan", "data": {"id": 4}}))
                .is_empty()
        );
    }

    #[test]
    fn vlans_and_l2vpns_name_the_objects_to_find_devices_by() {
        let shared = |vlans: &[u64], vids: &[u16], l2vpns: &[u64]| {
            Affected::Shared(SharedObjects {
                vlans: vlans.iter().copied().collect(),
                vids: vids.iter().copied().collect(),
                l2vpns: l2vpns.iter().copied().collect(),
            })
        };
        assert_eq!(
            affected(serde_json::json!({
                "event": "updated", "object_type": "ipam.vlan",
                "data": {"id": 180, "vid": 11, "name": "web"},
                "snapshots": {"prechange": {"vid": 10, "name": "web"}}
            })),
            shared(&[180], &[10, 11], &[]),
            "both vids: SVIs of the old and the new"
        );
        assert_eq!(
            affected(serde_json::json!({
                "event": "updated", "object_type": "vpn.l2vpn",
                "data": {"id": 123, "identifier": 10011}
            })),
            shared(&[], &[], &[123])
        );
        assert_eq!(
            affected(serde_json::json!({
                "event": "created", "object_type": "vpn.l2vpntermination",
                "data": {"assigned_object_type": "ipam.vlan", "assigned_object_id": 181,
                         "assigned_object": {"id": 181, "vid": 20}}
            })),
            shared(&[181], &[20], &[])
        );
        for t in ["ipam.vlan", "vpn.l2vpn"] {
            assert_eq!(
                affected(
                    serde_json::json!({"event": "deleted", "object_type": t, "data": {"id": 4}})
                ),
                Affected::All,
                "deleted {t}"
            );
        }
    }

    #[test]
    fn shared_objects_ask_for_a_full_sync() {
        for t in [
            "ipam.vrf",
            "netbox_bgp.bgppeergroup",
            "ipam.vlan",
            "vpn.l2vpn",
        ] {
            assert_eq!(
                affected(serde_json::json!({"event": "updated", "object_type": t, "data": {}})),
                Affected::All,
                "{t} without an id"
            );
        }
        assert_eq!(
            affected(serde_json::json!({
                "event": "created", "object_type": "vpn.l2vpntermination",
                "data": {"assigned_object_type": "ipam.vlan", "assigned_object": {"vid": 10}}
            })),
            Affected::All
        );
        assert_eq!(
            affected(serde_json::json!({
                "event": "created", "object_type": "vpn.l2vpntermination",
                "data": {"assigned_object_type": "dcim.interface",
                         "assigned_object": {"name": "Ethernet5", "device": {"name": "leaf1"}}}
            })),
            devices(&["leaf1"])
        );
        assert_eq!(
            affected(
                serde_json::json!({"event": "updated", "object_type": "circuits.circuit", "data": {}})
            ),
            Affected::Nothing
        );
    }

    #[test]
    fn garbage_is_a_payload_error() {
        assert!(parse_event(b"not json").is_err());
        assert!(parse_event(br#"{"event":"updated","data":{}}"#).is_err());
    }
}
