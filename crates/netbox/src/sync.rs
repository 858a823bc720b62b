//! One full sync: fetch what the filters select, then map it (pure).

use std::collections::BTreeSet;
use std::time::Instant;

use fabric_api::netbox::{Filters, NetBoxSourceSpec};
use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use tracing::{info, instrument, warn};

use crate::client::{Client, ClientError};
use crate::mapping::{InvalidData, MappingConfig, Snapshot, SyncedDevice, map_snapshot};
use crate::records::{self, fields};

/// Devices whose components are fetched by one list request (`device_id=..` repeated): long
/// enough to need few requests, short enough for any proxy's URL limit.
const DEVICES_PER_QUERY: usize = 100;
/// Ids per `id=..` lookup.
const IDS_PER_QUERY: usize = 200;

pub mod paths {
    pub const DEVICES: &str = "api/dcim/devices/";
    pub const INTERFACES: &str = "api/dcim/interfaces/";
    pub const IP_ADDRESSES: &str = "api/ipam/ip-addresses/";
    pub const VRFS: &str = "api/ipam/vrfs/";
    pub const VLANS: &str = "api/ipam/vlans/";
    pub const L2VPN_TERMINATIONS: &str = "api/vpn/l2vpn-terminations/";
    pub const BGP_SESSIONS: &str = "api/plugins/bgp/session/";
    pub const BGP_PEER_GROUPS: &str = "api/plugins/bgp/peer-group/";
}

/// What one sync needs from a NetBoxSource.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncConfig {
    pub filters: Filters,
    pub mapping: MappingConfig,
}

impl From<&NetBoxSourceSpec> for SyncConfig {
    fn from(s: &NetBoxSourceSpec) -> Self {
        Self {
            filters: s.filters.clone(),
            mapping: MappingConfig::from(s),
        }
    }
}

/// The outcome of a sync that reached NetBox: the devices that map cleanly, and one entry per
/// device that does not (naming the offending object). The operator applies `devices` and
/// reports `errors`; a device in `errors` keeps its last applied intent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncResult {
    pub devices: Vec<SyncedDevice>,
    pub errors: Vec<InvalidData>,
    /// HTTP requests sent while this sync ran (from the client's counter: syncs running at
    /// the same time on clones of one client count each other's requests too).
    pub requests: u64,
}

impl SyncResult {
    /// Names of the devices the filters selected, whether they mapped or not: the operator
    /// must not delete FabricDevices of devices that are only in `errors`.
    pub fn selected_device_names(&self) -> BTreeSet<String> {
        self.devices
            .iter()
            .map(|d| d.name.clone())
            .chain(self.errors.iter().map(|e| e.device.to_ascii_lowercase()))
            .collect()
    }
}

/// A sync that did not get a full picture of NetBox. Nothing should be deleted or changed on
/// account of it.
#[derive(Debug, thiserror::Error)]
#[error("NetBox sync failed reading {what}: {source}")]
pub struct SyncError {
    pub what: &'static str,
    #[source]
    pub source: ClientError,
}

impl SyncError {
    /// Condition reason: Unauthorized, Unreachable, InvalidURL, ServerError, ...
    pub fn reason(&self) -> &'static str {
        self.source.reason()
    }
    pub fn is_transient(&self) -> bool {
        self.source.is_transient()
    }
}

fn filter_query(f: &Filters) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    q.extend(f.site.iter().map(|s| ("site", s.clone())));
    q.extend(f.role.iter().map(|s| ("role", s.clone())));
    q.extend(f.tag.iter().map(|s| ("tag", s.clone())));
    q.extend(f.status.iter().map(|s| ("status", s.clone())));
    q
}

async fn list_by<T: DeserializeOwned>(
    client: &Client,
    what: &'static str,
    path: &'static str,
    field_list: &'static str,
    key: &'static str,
    ids: &[u64],
    chunk: usize,
) -> Result<Vec<T>, SyncError> {
    let parts = ids.chunks(chunk).map(|c| {
        let mut q: Vec<(&str, String)> = vec![("fields", field_list.to_owned())];
        q.extend(c.iter().map(|id| (key, id.to_string())));
        async move {
            client
                .list::<T>(path, &q)
                .await
                .map_err(|source| SyncError { what, source })
        }
    });
    Ok(try_join_all(parts).await?.into_iter().flatten().collect())
}

/// Fetches everything the mapping needs for the devices the filters select.
#[instrument(skip_all, fields(netbox = %client.base_url()))]
pub async fn fetch_snapshot(client: &Client, filters: &Filters) -> Result<Snapshot, SyncError> {
    let mut q = filter_query(filters);
    q.push(("fields", fields::DEVICE.to_owned()));
    let devices: Vec<records::Device> =
        client
            .list(paths::DEVICES, &q)
            .await
            .map_err(|source| SyncError {
                what: "devices",
                source,
            })?;
    if devices.is_empty() {
        return Ok(Snapshot::default());
    }
    let ids: Vec<u64> = devices.iter().map(|d| d.id).collect();
    let (interfaces, ip_addresses, bgp_sessions) = futures::try_join!(
        list_by::<records::Interface>(
            client,
            "interfaces",
            paths::INTERFACES,
            fields::INTERFACE,
            "device_id",
            &ids,
            DEVICES_PER_QUERY
        ),
        list_by::<records::IpAddress>(
            client,
            "IP addresses",
            paths::IP_ADDRESSES,
            fields::IP_ADDRESS,
            "device_id",
            &ids,
            DEVICES_PER_QUERY
        ),
        list_by::<records::BgpSession>(
            client,
            "BGP sessions (netbox-bgp plugin)",
            paths::BGP_SESSIONS,
            fields::BGP_SESSION,
            "device_id",
            &ids,
            DEVICES_PER_QUERY
        ),
    )?;

    let vrf_ids: Vec<u64> = interfaces
        .iter()
        .filter_map(|i| i.vrf.as_ref().map(|v| v.id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let group_ids: Vec<u64> = bgp_sessions
        .iter()
        .filter_map(|s| s.peer_group.as_ref().map(|g| g.id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let svi_vids: Vec<u64> = interfaces
        .iter()
        .filter_map(|i| {
            let n = &i.name;
            (n.len() > 4 && n[..4].eq_ignore_ascii_case("vlan"))
                .then(|| n[4..].parse::<u64>().ok())
                .flatten()
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (vrfs, bgp_peer_groups, vlans, l2vpn_terminations) = futures::try_join!(
        list_by::<records::Vrf>(
            client,
            "VRFs",
            paths::VRFS,
            fields::VRF,
            "id",
            &vrf_ids,
            IDS_PER_QUERY
        ),
        list_by::<records::BgpPeerGroup>(
            client,
            "BGP peer groups (netbox-bgp plugin)",
            paths::BGP_PEER_GROUPS,
            fields::BGP_PEER_GROUP,
            "id",
            &group_ids,
            IDS_PER_QUERY
        ),
        list_by::<records::Vlan>(
            client,
            "VLANs",
            paths::VLANS,
            fields::VLAN,
            "vid",
            &svi_vids,
            IDS_PER_QUERY
        ),
        async {
            client
                .list::<records::L2vpnTermination>(
                    paths::L2VPN_TERMINATIONS,
                    &[
                        ("assigned_object_type", "ipam.vlan".to_owned()),
                        ("fields", fields::L2VPN_TERMINATION.to_owned()),
                    ],
                )
                .await
                .map_err(|source| SyncError {
                    what: "L2VPN terminations",
                    source,
                })
        },
    )?;
    Ok(Snapshot {
        devices,
        interfaces,
        ip_addresses,
        vrfs,
        vlans,
        l2vpn_terminations,
        bgp_sessions,
        bgp_peer_groups,
    })
}

/// One full sync: every device the filters select, mapped to FabricDevice specs.
///
/// Errors: an unreachable NetBox, a refused token, a wrong URL or a server error fail the whole
/// sync (the operator keeps the last intent and sets a condition); a device whose data cannot
/// be mapped is an entry of `SyncResult::errors` and does not stop the others.
pub async fn sync(client: &Client, config: &SyncConfig) -> Result<SyncResult, SyncError> {
    let start = Instant::now();
    let before = client.request_count();
    let snapshot = fetch_snapshot(client, &config.filters).await?;
    let (devices, errors) = map_snapshot(&snapshot, &config.mapping);
    for e in &errors {
        warn!(device = %e.device, object = %e.object, "{}", e.message);
    }
    let requests = client.request_count() - before;
    info!(
        devices = devices.len(),
        errors = errors.len(),
        requests,
        elapsed_ms = start.elapsed().as_millis() as u64,
        "NetBox sync done"
    );
    Ok(SyncResult {
        devices,
        errors,
        requests,
    })
}
