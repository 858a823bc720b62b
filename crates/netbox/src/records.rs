//! NetBox objects as the sync fetches them (only the fields it asks for with `?fields=`).
//!
//! Every field is lenient (`default`): a field NetBox leaves out or sets to null is absent here,
//! and the mapping decides whether that is an error.

use serde::{Deserialize, Deserializer, Serialize};

/// A nested reference: `{"id": 1, "name": "...", "slug": "..."}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Ref {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
}

/// A choice field: NetBox serializes it as `{"value": "...", "label": "..."}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Choice {
    #[serde(deserialize_with = "value_as_string")]
    pub value: String,
}

fn value_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// A choice that older NetBox versions or plugins serialize as a plain string.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ChoiceOrString {
    Choice(Choice),
    String(String),
}

impl ChoiceOrString {
    pub fn value(&self) -> &str {
        match self {
            Self::Choice(c) => &c.value,
            Self::String(s) => s,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IpRef {
    pub id: u64,
    /// `10.0.0.1/31`.
    pub address: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AsnRef {
    pub id: u64,
    pub asn: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VlanRef {
    pub id: u64,
    pub vid: u16,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET api/dcim/devices/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Device {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<ChoiceOrString>,
    #[serde(default)]
    pub site: Option<Ref>,
    #[serde(default)]
    pub role: Option<Ref>,
    #[serde(default)]
    pub platform: Option<Ref>,
    #[serde(default)]
    pub primary_ip4: Option<IpRef>,
    #[serde(default)]
    pub tags: Vec<Ref>,
    #[serde(default)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

/// `GET api/dcim/interfaces/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Interface {
    pub id: u64,
    pub device: Ref,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub mode: Option<ChoiceOrString>,
    #[serde(default)]
    pub untagged_vlan: Option<VlanRef>,
    #[serde(default)]
    pub tagged_vlans: Vec<VlanRef>,
    #[serde(default)]
    pub vrf: Option<Ref>,
    #[serde(default)]
    pub lag: Option<Ref>,
    #[serde(default)]
    pub mgmt_only: bool,
}

fn yes() -> bool {
    true
}

/// `GET api/ipam/ip-addresses/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IpAddress {
    pub id: u64,
    pub address: String,
    #[serde(default)]
    pub assigned_object_type: Option<String>,
    #[serde(default)]
    pub assigned_object_id: Option<u64>,
}

/// `GET api/ipam/vrfs/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Vrf {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub rd: Option<String>,
    #[serde(default)]
    pub import_targets: Vec<Ref>,
    #[serde(default)]
    pub export_targets: Vec<Ref>,
    #[serde(default)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

/// `GET api/ipam/vlans/` (to name the VLANs of SVIs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Vlan {
    pub id: u64,
    pub vid: u16,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub site: Option<Ref>,
}

/// The L2VPN a termination belongs to (brief form).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct L2vpnRef {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub identifier: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: Option<ChoiceOrString>,
}

/// `GET api/vpn/l2vpn-terminations/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct L2vpnTermination {
    pub id: u64,
    pub l2vpn: L2vpnRef,
    #[serde(default)]
    pub assigned_object_type: Option<String>,
    #[serde(default)]
    pub assigned_object_id: Option<u64>,
}

/// `GET api/plugins/bgp/session/` (netbox-bgp).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BgpSession {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub device: Option<Ref>,
    #[serde(default)]
    pub local_address: Option<IpRef>,
    #[serde(default)]
    pub remote_address: Option<IpRef>,
    #[serde(default)]
    pub local_as: Option<AsnRef>,
    #[serde(default)]
    pub remote_as: Option<AsnRef>,
    #[serde(default)]
    pub status: Option<ChoiceOrString>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub peer_group: Option<Ref>,
    #[serde(default)]
    pub extra_attributes: Option<serde_json::Value>,
}

/// `GET api/plugins/bgp/peer-group/` (netbox-bgp).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BgpPeerGroup {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub remote_as: Option<AsnRef>,
    #[serde(default)]
    pub extra_attributes: Option<serde_json::Value>,
}

/// `?fields=` of each list the sync reads: only what the mapping uses.
pub mod fields {
    pub const DEVICE: &str = "id,name,status,site,role,platform,primary_ip4,tags,custom_fields";
    pub const INTERFACE: &str =
        "id,device,name,description,enabled,mtu,mode,untagged_vlan,tagged_vlans,vrf,lag,mgmt_only";
    pub const IP_ADDRESS: &str = "id,address,assigned_object_type,assigned_object_id";
    pub const VRF: &str = "id,name,rd,import_targets,export_targets,custom_fields";
    pub const VLAN: &str = "id,vid,name,site";
    pub const L2VPN_TERMINATION: &str = "id,l2vpn,assigned_object_type,assigned_object_id";
    pub const BGP_SESSION: &str = "id,name,device,local_address,remote_address,local_as,remote_as,status,description,peer_group,extra_attributes";
    pub const BGP_PEER_GROUP: &str = "id,name,description,remote_as,extra_attributes";
}
