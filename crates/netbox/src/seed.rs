//! Writes fabrics into NetBox through its REST API: the lab fabric of examples/fabric (for the
//! integration tests and demos) and bulk data for the benchmark.
//!
//! Everything a seed creates in a site (its devices) or for it (addresses, VLANs, VRFs, L2VPNs,
//! BGP sessions, tagged `seed-<site>`) is removed again by [`reset_site`]; shared objects (custom fields, RIR, ASNs, route targets, roles, peer groups) are
//! created once and reused.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

use crate::client::{Client, ClientError};
use crate::mapping::custom_fields as cf;
use crate::sync::paths;

#[derive(Debug, thiserror::Error)]
#[error("seeding NetBox: {step}: {source}")]
pub struct SeedError {
    pub step: String,
    #[source]
    pub source: ClientError,
}

fn step(s: impl Into<String>) -> impl FnOnce(ClientError) -> SeedError {
    let step = s.into();
    move |source| SeedError { step, source }
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

/// Finds the object `lookup` selects and PATCHes it with `body`, or creates it from `body`.
pub async fn ensure(
    client: &Client,
    path: &str,
    lookup: &[(&str, String)],
    body: Value,
) -> Result<u64, SeedError> {
    let mut q = lookup.to_vec();
    q.push(("fields", "id".into()));
    let found: Vec<Id> = client
        .list(path, &q)
        .await
        .map_err(step(format!("looking up {path} {lookup:?}")))?;
    match found.first() {
        Some(o) => {
            let _: Value = client
                .patch(&format!("{path}{}/", o.id), &body)
                .await
                .map_err(step(format!("updating {path}{}", o.id)))?;
            Ok(o.id)
        }
        None => {
            let o: Id = client
                .post(path, &body)
                .await
                .map_err(step(format!("creating {path} {body}")))?;
            Ok(o.id)
        }
    }
}

/// Creates many objects with bulk POSTs of at most `batch` objects; returns their ids in order.
pub async fn bulk_create(
    client: &Client,
    path: &str,
    objects: Vec<Value>,
    batch: usize,
) -> Result<Vec<u64>, SeedError> {
    let mut ids = Vec::with_capacity(objects.len());
    for chunk in objects.chunks(batch.max(1)) {
        let created: Vec<Id> = client
            .post(path, &Value::Array(chunk.to_vec()))
            .await
            .map_err(step(format!(
                "bulk-creating {} objects in {path}",
                chunk.len()
            )))?;
        ids.extend(created.into_iter().map(|o| o.id));
    }
    Ok(ids)
}

async fn bulk_delete_where(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
) -> Result<usize, SeedError> {
    let mut q = query.to_vec();
    q.push(("fields", "id".into()));
    let found: Vec<Id> = client
        .list(path, &q)
        .await
        .map_err(step(format!("listing {path} to delete")))?;
    for chunk in found.chunks(500) {
        let body = Value::Array(chunk.iter().map(|o| json!({"id": o.id})).collect());
        client
            .delete(path, Some(&body))
            .await
            .map_err(step(format!("deleting from {path}")))?;
    }
    Ok(found.len())
}

/// The tag on everything seeded into `site`.
pub fn seed_tag(site: &str) -> String {
    format!("seed-{site}")
}

/// Removes everything a seed put into `site` (in dependency order), so seeding starts afresh.
pub async fn reset_site(client: &Client, site: &str) -> Result<(), SeedError> {
    let tag = vec![("tag", seed_tag(site))];
    let exists: Vec<Id> = client
        .list("api/extras/tags/", &[("slug", seed_tag(site))])
        .await
        .map_err(step("looking up the seed tag"))?;
    if exists.is_empty() {
        return Ok(());
    }
    bulk_delete_where(client, paths::BGP_SESSIONS, &tag).await?;
    // Devices are not tagged (tags become labels): everything in the site goes.
    bulk_delete_where(client, paths::DEVICES, &[("site", site.to_owned())]).await?;
    bulk_delete_where(client, paths::IP_ADDRESSES, &tag).await?;
    bulk_delete_where(client, "api/vpn/l2vpns/", &tag).await?;
    bulk_delete_where(client, paths::VRFS, &tag).await?;
    bulk_delete_where(client, paths::VLANS, &tag).await?;
    Ok(())
}

/// Ids of the objects every seed shares.
#[derive(Debug, Clone)]
pub struct Base {
    pub site: u64,
    pub site_slug: String,
    pub tag: u64,
    pub device_type: u64,
    pub roles: HashMap<&'static str, u64>,
    pub platform: u64,
    pub mgmt_vrf: u64,
    pub rir: u64,
}

/// Creates (or finds) the custom fields of docs/netbox-data-model.md, the site, its tag, the
/// device type, roles, platform, RIR and the management VRF.
pub async fn base(client: &Client, site: &str) -> Result<Base, SeedError> {
    let device_fields = [
        (cf::GNMI_PORT, "integer"),
        (cf::GNMI_TLS, "text"),
        (cf::HOSTNAME, "text"),
        (cf::BGP_ROUTER_ID, "text"),
        (cf::MLAG_DOMAIN, "text"),
        (cf::MLAG_LOCAL_INTERFACE, "text"),
        (cf::MLAG_PEER_ADDRESS, "text"),
        (cf::MLAG_PEER_LINK, "text"),
        (cf::VTEP_SOURCE_INTERFACE, "text"),
        (cf::VXLAN_UDP_PORT, "integer"),
        (cf::FABRIC_LABELS, "json"),
    ];
    for (name, kind) in device_fields {
        ensure(
            client,
            "api/extras/custom-fields/",
            &[("name", name.into())],
            json!({"name": name, "type": kind, "object_types": ["dcim.device"]}),
        )
        .await?;
    }
    ensure(
        client,
        "api/extras/custom-fields/",
        &[("name", cf::L3_VNI.into())],
        json!({"name": cf::L3_VNI, "type": "integer", "object_types": ["ipam.vrf"]}),
    )
    .await?;
    let tag_slug = seed_tag(site);
    let tag = ensure(
        client,
        "api/extras/tags/",
        &[("slug", tag_slug.clone())],
        json!({"name": tag_slug, "slug": tag_slug}),
    )
    .await?;
    let site_id = ensure(
        client,
        "api/dcim/sites/",
        &[("slug", site.into())],
        json!({"name": site, "slug": site, "status": "active"}),
    )
    .await?;
    let manufacturer = ensure(
        client,
        "api/dcim/manufacturers/",
        &[("slug", "arista".into())],
        json!({"name": "Arista", "slug": "arista"}),
    )
    .await?;
    let device_type = ensure(
        client,
        "api/dcim/device-types/",
        &[("slug", "dcs-7050sx3-48yc8".into())],
        json!({"manufacturer": manufacturer, "model": "DCS-7050SX3-48YC8", "slug": "dcs-7050sx3-48yc8"}),
    )
    .await?;
    let mut roles = HashMap::new();
    for role in ["spine", "leaf"] {
        let id = ensure(
            client,
            "api/dcim/device-roles/",
            &[("slug", role.into())],
            json!({"name": role, "slug": role, "color": "2196f3"}),
        )
        .await?;
        roles.insert(role, id);
    }
    let platform = ensure(
        client,
        "api/dcim/platforms/",
        &[("slug", "eos".into())],
        json!({"name": "EOS", "slug": "eos", "manufacturer": manufacturer}),
    )
    .await?;
    let mgmt_vrf = ensure(
        client,
        paths::VRFS,
        &[("name", "mgmt".into())],
        json!({"name": "mgmt", "enforce_unique": false, "description": "out-of-band management"}),
    )
    .await?;
    let rir = ensure(
        client,
        "api/ipam/rirs/",
        &[("slug", "private".into())],
        json!({"name": "private", "slug": "private", "is_private": true}),
    )
    .await?;
    Ok(Base {
        site: site_id,
        site_slug: site.into(),
        tag,
        device_type,
        roles,
        platform,
        mgmt_vrf,
        rir,
    })
}

/// Finds or creates an ASN.
pub async fn asn(client: &Client, base: &Base, asn: u32) -> Result<u64, SeedError> {
    ensure(
        client,
        "api/ipam/asns/",
        &[("asn", asn.to_string())],
        json!({"asn": asn, "rir": base.rir}),
    )
    .await
}

/// Finds or creates a netbox-bgp peer group by name and description.
pub async fn peer_group(
    client: &Client,
    name: &str,
    description: &str,
    remote_as: Option<u64>,
    extra: Value,
) -> Result<u64, SeedError> {
    ensure(
        client,
        paths::BGP_PEER_GROUPS,
        &[("name", name.into()), ("description", description.into())],
        json!({"name": name, "description": description, "remote_as": remote_as, "extra_attributes": extra}),
    )
    .await
}

/// One device to create: its interfaces in creation order (LAGs before their members).
#[derive(Debug, Clone)]
pub struct DeviceSeed {
    pub name: String,
    pub role: &'static str,
    pub custom_fields: Value,
    pub interfaces: Vec<InterfaceSeed>,
}

#[derive(Debug, Clone, Default)]
pub struct InterfaceSeed {
    pub name: String,
    /// NetBox interface type, e.g. `virtual`, `lag`, `10gbase-x-sfpp`.
    pub kind: &'static str,
    pub description: String,
    pub mtu: Option<u32>,
    pub mgmt_only: bool,
    /// `access`, `tagged`, `tagged-all`.
    pub mode: Option<&'static str>,
    pub untagged_vlan: Option<u64>,
    pub tagged_vlans: Vec<u64>,
    pub vrf: Option<u64>,
    pub lag: Option<String>,
    /// (address, VRF id, role): `("10.0.1.0/31", None, None)`.
    pub ips: Vec<(String, Option<u64>, Option<&'static str>)>,
    /// This interface's first address becomes the device's primary IPv4.
    pub primary: bool,
}

/// What [`create_devices`] made: device ids by name, IP address ids by (device, address).
#[derive(Debug, Default)]
pub struct Created {
    pub devices: HashMap<String, u64>,
    pub interfaces: HashMap<(String, String), u64>,
    pub ips: HashMap<(String, String), u64>,
}

/// Creates devices, their interfaces and addresses with bulk requests, and sets primary IPs.
pub async fn create_devices(
    client: &Client,
    base: &Base,
    devices: &[DeviceSeed],
) -> Result<Created, SeedError> {
    let mut created = Created::default();
    let bodies: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "name": d.name, "site": base.site, "role": base.roles[d.role],
                "device_type": base.device_type, "platform": base.platform, "status": "active",
                "custom_fields": d.custom_fields,
            })
        })
        .collect();
    let ids = bulk_create(client, paths::DEVICES, bodies, 100).await?;
    for (d, id) in devices.iter().zip(ids) {
        created.devices.insert(d.name.clone(), id);
    }
    // Interfaces in two rounds: LAGs first, then everything else (members name their LAG).
    for lag_round in [true, false] {
        let mut keys = Vec::new();
        let mut bodies = Vec::new();
        for d in devices {
            for i in d
                .interfaces
                .iter()
                .filter(|i| (i.kind == "lag") == lag_round)
            {
                let lag = i
                    .lag
                    .as_ref()
                    .map(|l| created.interfaces[&(d.name.clone(), l.clone())]);
                bodies.push(json!({
                    "device": created.devices[&d.name], "name": i.name, "type": i.kind,
                    "description": i.description, "mtu": i.mtu, "mgmt_only": i.mgmt_only,
                    "mode": i.mode, "untagged_vlan": i.untagged_vlan,
                    "tagged_vlans": i.tagged_vlans, "vrf": i.vrf, "lag": lag,
                }));
                keys.push((d.name.clone(), i.name.clone()));
            }
        }
        let ids = bulk_create(client, paths::INTERFACES, bodies, 500).await?;
        created.interfaces.extend(keys.into_iter().zip(ids));
    }
    let mut keys = Vec::new();
    let mut bodies = Vec::new();
    let mut primaries = Vec::new();
    for d in devices {
        for i in &d.interfaces {
            for (n, (address, vrf, role)) in i.ips.iter().enumerate() {
                bodies.push(json!({
                    "address": address, "vrf": vrf, "role": role, "status": "active",
                    "assigned_object_type": "dcim.interface",
                    "assigned_object_id": created.interfaces[&(d.name.clone(), i.name.clone())],
                    "tags": [base.tag],
                }));
                keys.push((d.name.clone(), address.clone()));
                if i.primary && n == 0 {
                    primaries.push((d.name.clone(), address.clone()));
                }
            }
        }
    }
    let ids = bulk_create(client, paths::IP_ADDRESSES, bodies, 500).await?;
    created.ips.extend(keys.into_iter().zip(ids));
    let patches: Vec<Value> = primaries
        .iter()
        .map(|(dev, addr)| {
            json!({"id": created.devices[dev], "primary_ip4": created.ips[&(dev.clone(), addr.clone())]})
        })
        .collect();
    for chunk in patches.chunks(100) {
        let _: Value = client
            .patch(paths::DEVICES, &Value::Array(chunk.to_vec()))
            .await
            .map_err(step("setting primary IPv4 addresses"))?;
    }
    Ok(created)
}

/// A BGP session to create.
#[derive(Debug, Clone)]
pub struct SessionSeed {
    pub device: String,
    pub local_address: String,
    /// (device, address) of the remote end's IP address object.
    pub remote: (String, String),
    pub local_as: u64,
    pub remote_as: u64,
    pub peer_group: Option<u64>,
    pub description: String,
    pub status: &'static str,
}

pub async fn create_sessions(
    client: &Client,
    base: &Base,
    created: &Created,
    sessions: &[SessionSeed],
) -> Result<(), SeedError> {
    let bodies: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "name": s.description, "device": created.devices[&s.device], "site": base.site,
                "local_address": created.ips[&(s.device.clone(), s.local_address.clone())],
                "remote_address": created.ips[&s.remote],
                "local_as": s.local_as, "remote_as": s.remote_as, "peer_group": s.peer_group,
                "description": s.description, "status": s.status, "tags": [base.tag],
            })
        })
        .collect();
    bulk_create(client, paths::BGP_SESSIONS, bodies, 200).await?;
    Ok(())
}

/// Finds or creates a VLAN of the base's site.
pub async fn vlan(client: &Client, base: &Base, vid: u16, name: &str) -> Result<u64, SeedError> {
    ensure(
        client,
        paths::VLANS,
        &[("site_id", base.site.to_string()), ("vid", vid.to_string())],
        json!({"vid": vid, "name": name, "site": base.site, "status": "active", "tags": [base.tag]}),
    )
    .await
}

/// A NetBox webhook with its event rule: interface updates of one device POSTed, signed with
/// `secret`, to `payload_url` (e.g. the operator's `/webhooks/netbox`). Replaces what an earlier
/// call with the same `name` left. Returns (webhook id, event rule id) for [`remove_webhook`].
pub async fn interface_webhook(
    client: &Client,
    name: &str,
    payload_url: &str,
    secret: &str,
    device: &str,
) -> Result<(u64, u64), SeedError> {
    for path in ["api/extras/event-rules/", "api/extras/webhooks/"] {
        bulk_delete_where(client, path, &[("name", name.to_owned())]).await?;
    }
    let hook = ensure(
        client,
        "api/extras/webhooks/",
        &[("name", name.to_owned())],
        json!({"name": name, "payload_url": payload_url, "http_method": "POST",
               "http_content_type": "application/json", "secret": secret}),
    )
    .await?;
    let rule = ensure(
        client,
        "api/extras/event-rules/",
        &[("name", name.to_owned())],
        json!({"name": name, "object_types": ["dcim.interface"], "event_types": ["object_updated"],
               "action_type": "webhook", "action_object_type": "extras.webhook", "action_object_id": hook,
               "conditions": {"attr": "device.name", "value": device}, "enabled": true}),
    )
    .await?;
    Ok((hook, rule))
}

/// Removes what [`interface_webhook`] made.
pub async fn remove_webhook(client: &Client, (hook, rule): (u64, u64)) -> Result<(), SeedError> {
    client
        .delete(&format!("api/extras/event-rules/{rule}/"), None)
        .await
        .map_err(step("deleting the event rule"))?;
    client
        .delete(&format!("api/extras/webhooks/{hook}/"), None)
        .await
        .map_err(step("deleting the webhook"))
}

/// What [`lab`] seeded.
#[derive(Debug)]
pub struct Lab {
    pub base: Base,
    pub created: Created,
}

/// The lab fabric of examples/fabric/manifests/devices: 2 spines (AS 65000) and 8 leaves in 4
/// MLAG pairs (AS 65001-65004), as a network engineer would enter it in NetBox. Replaces what
/// an earlier seed put into `site`. Per-device VRF route distinguishers are unique in NetBox,
/// so one NetBox holds the lab once.
pub async fn lab(client: &Client, site: &str) -> Result<Lab, SeedError> {
    reset_site(client, site).await?;
    let base = base(client, site).await?;
    let tag = base.tag;
    let vlan1 = vlan(client, &base, 1, "default").await?;
    let vlan10 = vlan(client, &base, 10, "web").await?;
    let vlan20 = vlan(client, &base, 20, "app").await?;
    vlan(client, &base, 4094, "mlag-peer").await?;
    for (name, vni, vlan_id) in [("web", 10010, vlan10), ("app", 10020, vlan20)] {
        let slug = format!("{site}-{name}");
        let l2vpn = ensure(
            client,
            "api/vpn/l2vpns/",
            &[("slug", slug.clone())],
            json!({"name": slug, "slug": slug, "type": "vxlan-evpn", "identifier": vni, "tags": [tag]}),
        )
        .await?;
        ensure(
            client,
            "api/vpn/l2vpn-terminations/",
            &[("l2vpn_id", l2vpn.to_string())],
            json!({"l2vpn": l2vpn, "assigned_object_type": "ipam.vlan", "assigned_object_id": vlan_id}),
        )
        .await?;
    }
    let rt = ensure(
        client,
        "api/ipam/route-targets/",
        &[("name", "65000:50001".into())],
        json!({"name": "65000:50001"}),
    )
    .await?;
    let mut asns = HashMap::new();
    for a in 65000..=65004u32 {
        asns.insert(a, asn(client, &base, a).await?);
    }
    let pg_spine_underlay = peer_group(
        client,
        "UNDERLAY",
        "point-to-point links to the leaves",
        None,
        json!({"address_families": ["ipv4-unicast"]}),
    )
    .await?;
    let pg_spine_overlay = peer_group(
        client,
        "EVPN-OVERLAY",
        "EVPN sessions to the leaves' loopbacks",
        None,
        json!({"update_source": "Loopback0", "ebgp_multihop": 3, "address_families": ["l2vpn-evpn"]}),
    )
    .await?;
    let pg_leaf_underlay = peer_group(
        client,
        "UNDERLAY",
        "point-to-point links to the spines",
        Some(asns[&65000]),
        json!({"address_families": ["ipv4-unicast"]}),
    )
    .await?;
    let pg_leaf_overlay = peer_group(
        client,
        "EVPN-OVERLAY",
        "EVPN sessions to the spines' loopbacks",
        Some(asns[&65000]),
        json!({"update_source": "Loopback0", "ebgp_multihop": 3, "address_families": ["l2vpn-evpn"]}),
    )
    .await?;
    let pg_mlag = peer_group(
        client,
        "MLAG-IBGP",
        "iBGP with the MLAG peer",
        None,
        json!({"ibgp": true, "address_families": ["ipv4-unicast"]}),
    )
    .await?;

    let mgmt = || InterfaceSeed {
        name: "Management1".into(),
        kind: "1000base-t",
        description: "out-of-band management".into(),
        mgmt_only: true,
        ips: vec![("127.0.0.1/32".into(), Some(base.mgmt_vrf), None)],
        primary: true,
        ..Default::default()
    };
    let routed = |name: String, description: String, address: String| InterfaceSeed {
        name,
        kind: "10gbase-x-sfpp",
        description,
        mtu: Some(9214),
        ips: vec![(address, None, None)],
        ..Default::default()
    };
    let loopback = |name: &str, description: String, address: String, role| InterfaceSeed {
        name: name.into(),
        kind: "virtual",
        description,
        ips: vec![(address, None, role)],
        ..Default::default()
    };

    let mut devices = Vec::new();
    let mut sessions = Vec::new();
    for s in 1..=2u16 {
        let name = format!("spine{s}");
        let mut interfaces = vec![
            mgmt(),
            loopback(
                "Loopback0",
                "router id, EVPN overlay source".into(),
                format!("10.0.250.{s}/32"),
                None,
            ),
        ];
        for l in 1..=8u16 {
            interfaces.push(routed(
                format!("Ethernet{l}"),
                format!("to leaf{l} Ethernet{s}"),
                format!("10.0.{s}.{}/31", 2 * (l - 1)),
            ));
            let pair = l.div_ceil(2);
            let leaf_as = asns[&(65000 + u32::from(pair))];
            sessions.push(SessionSeed {
                device: name.clone(),
                local_address: format!("10.0.{s}.{}/31", 2 * (l - 1)),
                remote: (
                    format!("leaf{l}"),
                    format!("10.0.{s}.{}/31", 2 * (l - 1) + 1),
                ),
                local_as: asns[&65000],
                remote_as: leaf_as,
                peer_group: Some(pg_spine_underlay),
                description: format!("leaf{l} underlay"),
                status: "active",
            });
            sessions.push(SessionSeed {
                device: name.clone(),
                local_address: format!("10.0.250.{s}/32"),
                remote: (format!("leaf{l}"), format!("10.0.250.{}/32", 10 + l)),
                local_as: asns[&65000],
                remote_as: leaf_as,
                peer_group: Some(pg_spine_overlay),
                description: format!("leaf{l} EVPN overlay"),
                status: "active",
            });
        }
        devices.push(DeviceSeed {
            name,
            role: "spine",
            custom_fields: json!({cf::GNMI_PORT: 16000 + s, cf::GNMI_TLS: "insecure"}),
            interfaces,
        });
    }
    let mut vrfs = HashMap::new();
    for l in 1..=8u16 {
        let vrf = ensure(
            client,
            paths::VRFS,
            &[("rd", format!("10.0.250.{}:1", 10 + l))],
            json!({
                "name": "gold", "rd": format!("10.0.250.{}:1", 10 + l), "enforce_unique": true,
                "import_targets": [rt], "export_targets": [rt],
                "custom_fields": {cf::L3_VNI: 50001}, "tags": [tag],
            }),
        )
        .await?;
        vrfs.insert(l, vrf);
    }
    for l in 1..=8u16 {
        let name = format!("leaf{l}");
        let pair = l.div_ceil(2);
        let peer = if l % 2 == 1 { l + 1 } else { l - 1 };
        let mlag_ip = |leaf: u16| format!("10.0.199.{}", 2 * (pair - 1) + (1 - leaf % 2));
        let my_as = asns[&(65000 + u32::from(pair))];
        let gold = vrfs[&l];
        let mut interfaces = vec![mgmt()];
        interfaces.push(InterfaceSeed {
            name: "Port-Channel10".into(),
            kind: "lag",
            description: format!("MLAG peer link to leaf{peer}"),
            mtu: Some(9214),
            mode: Some("tagged-all"),
            ..Default::default()
        });
        for s in 1..=2u16 {
            interfaces.push(routed(
                format!("Ethernet{s}"),
                format!("to spine{s} Ethernet{l}"),
                format!("10.0.{s}.{}/31", 2 * (l - 1) + 1),
            ));
        }
        for e in [3, 4] {
            interfaces.push(InterfaceSeed {
                name: format!("Ethernet{e}"),
                kind: "10gbase-x-sfpp",
                description: format!("MLAG peer link to leaf{peer} Ethernet{e}"),
                mtu: Some(9214),
                lag: Some("Port-Channel10".into()),
                ..Default::default()
            });
        }
        interfaces.push(InterfaceSeed {
            name: "Ethernet5".into(),
            kind: "10gbase-x-sfpp",
            description: format!("host{pair}a web server"),
            mode: Some("access"),
            untagged_vlan: Some(vlan10),
            ..Default::default()
        });
        interfaces.push(InterfaceSeed {
            name: "Ethernet6".into(),
            kind: "10gbase-x-sfpp",
            description: format!("host{pair}b hypervisor uplink"),
            mode: Some("tagged"),
            untagged_vlan: Some(vlan1),
            tagged_vlans: vec![vlan10, vlan20],
            ..Default::default()
        });
        interfaces.push(loopback(
            "Loopback0",
            "router id, EVPN overlay source".into(),
            format!("10.0.250.{}/32", 10 + l),
            None,
        ));
        interfaces.push(loopback(
            "Loopback1",
            format!("VTEP, shared with leaf{peer}"),
            format!("10.0.255.{}/32", 10 + pair),
            Some("anycast"),
        ));
        for (vid, what, subnet) in [(10, "web", 10), (20, "app", 20)] {
            interfaces.push(InterfaceSeed {
                name: format!("Vlan{vid}"),
                kind: "virtual",
                description: format!("{what} anycast gateway"),
                vrf: Some(gold),
                ips: vec![(format!("10.1.{subnet}.1/24"), Some(gold), Some("anycast"))],
                ..Default::default()
            });
        }
        interfaces.push(InterfaceSeed {
            name: "Vlan4094".into(),
            kind: "virtual",
            description: format!("MLAG peering with leaf{peer}"),
            mtu: Some(9214),
            ips: vec![(format!("{}/31", mlag_ip(l)), None, None)],
            ..Default::default()
        });
        for s in 1..=2u16 {
            sessions.push(SessionSeed {
                device: name.clone(),
                local_address: format!("10.0.{s}.{}/31", 2 * (l - 1) + 1),
                remote: (format!("spine{s}"), format!("10.0.{s}.{}/31", 2 * (l - 1))),
                local_as: my_as,
                remote_as: asns[&65000],
                peer_group: Some(pg_leaf_underlay),
                description: format!("spine{s} underlay"),
                status: "active",
            });
            sessions.push(SessionSeed {
                device: name.clone(),
                local_address: format!("10.0.250.{}/32", 10 + l),
                remote: (format!("spine{s}"), format!("10.0.250.{s}/32")),
                local_as: my_as,
                remote_as: asns[&65000],
                peer_group: Some(pg_leaf_overlay),
                description: format!("spine{s} EVPN overlay"),
                status: "active",
            });
        }
        sessions.push(SessionSeed {
            device: name.clone(),
            local_address: format!("{}/31", mlag_ip(l)),
            remote: (format!("leaf{peer}"), format!("{}/31", mlag_ip(peer))),
            local_as: my_as,
            remote_as: my_as,
            peer_group: Some(pg_mlag),
            description: format!("leaf{peer} over the MLAG peer link"),
            status: "active",
        });
        devices.push(DeviceSeed {
            name,
            role: "leaf",
            custom_fields: json!({
                cf::GNMI_PORT: 16010 + l, cf::GNMI_TLS: "insecure",
                cf::FABRIC_LABELS: {"mlag-pair": pair.to_string()},
                cf::VTEP_SOURCE_INTERFACE: "Loopback1",
                cf::MLAG_DOMAIN: format!("mlag-pair{pair}"),
                cf::MLAG_LOCAL_INTERFACE: "Vlan4094",
                cf::MLAG_PEER_ADDRESS: mlag_ip(peer),
                cf::MLAG_PEER_LINK: "Port-Channel10",
            }),
            interfaces,
        });
    }
    let created = create_devices(client, &base, &devices).await?;
    create_sessions(client, &base, &created, &sessions).await?;
    info!(
        site,
        devices = devices.len(),
        sessions = sessions.len(),
        "lab fabric seeded"
    );
    Ok(Lab { base, created })
}

/// Benchmark data: `devices` leaves in `site`, each with a management interface (its primary
/// IPv4), a Loopback0 with an address, and `interfaces` ports (with a /31 each when
/// `port_addresses`). Bulk requests throughout, two slices of 25 devices in flight.
pub async fn bulk(
    client: &Client,
    site: &str,
    devices: usize,
    interfaces: usize,
    port_addresses: bool,
) -> Result<Base, SeedError> {
    reset_site(client, site).await?;
    let base = base(client, site).await?;
    let mgmt_vrf = base.mgmt_vrf;
    let seeds: Vec<DeviceSeed> = (0..devices)
        .map(|d| {
            let mut ifs = vec![
                InterfaceSeed {
                    name: "Management1".into(),
                    kind: "1000base-t",
                    mgmt_only: true,
                    ips: vec![(
                        format!("172.16.{}.{}/32", d / 250, d % 250 + 1),
                        Some(mgmt_vrf),
                        None,
                    )],
                    primary: true,
                    ..Default::default()
                },
                InterfaceSeed {
                    name: "Loopback0".into(),
                    kind: "virtual",
                    description: "router id".into(),
                    ips: vec![(
                        format!("10.255.{}.{}/32", d / 250, d % 250 + 1),
                        Some(mgmt_vrf),
                        None,
                    )],
                    ..Default::default()
                },
            ];
            for i in 0..interfaces {
                // A /31 per port out of 10.{64+d/128}.x.y.
                let n = (d % 128) * interfaces + i;
                ifs.push(InterfaceSeed {
                    name: format!("Ethernet{}", i + 1),
                    kind: "10gbase-x-sfpp",
                    description: format!("bench port {} of device {d}", i + 1),
                    mtu: Some(9214),
                    ips: if port_addresses {
                        vec![(
                            format!("10.{}.{}.{}/31", 64 + d / 128, n * 2 / 256, n * 2 % 256),
                            Some(mgmt_vrf),
                            None,
                        )]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                });
            }
            DeviceSeed {
                name: format!("bench-{d:04}"),
                role: "leaf",
                custom_fields: json!({}),
                interfaces: ifs,
            }
        })
        .collect();
    // In slices of 25 devices, so that no request grows too large; two slices at once keep
    // two NetBox workers busy.
    futures::stream::iter(
        seeds
            .chunks(25)
            .map(|chunk| create_devices(client, &base, chunk)),
    )
    .buffer_unordered(2)
    .try_collect::<Vec<_>>()
    .await?;
    Ok(base)
}
