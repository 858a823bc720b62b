//! One full sync: fetch what the filters select, then map it (pure).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use fabric_api::netbox::{Filters, NetBoxSourceSpec};
use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use tracing::{info, instrument, warn};

use crate::client::{Client, ClientError};
use crate::mapping::{InvalidData, MappingConfig, Snapshot, SyncedDevice, map_snapshot};
use crate::records::{self, fields};
use crate::webhook::SharedObjects;

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

/// Lists `path` for `values` of `key` (`device_id=1&device_id=2...`), `chunk` values a request,
/// all requests at once; `base` holds `fields` and other filters.
async fn list_by<T: DeserializeOwned, V: ToString>(
    client: &Client,
    what: &'static str,
    path: &'static str,
    base: Vec<(&'static str, String)>,
    key: &'static str,
    values: &[V],
    chunk: usize,
) -> Result<Vec<T>, SyncError> {
    let parts = values.chunks(chunk).map(|c| {
        let mut q: Vec<(&str, String)> = base.clone();
        q.extend(c.iter().map(|v| (key, v.to_string())));
        async move {
            client
                .list::<T>(path, &q)
                .await
                .map_err(|source| SyncError { what, source })
        }
    });
    Ok(try_join_all(parts).await?.into_iter().flatten().collect())
}

fn fields_only(field_list: &'static str) -> Vec<(&'static str, String)> {
    vec![("fields", field_list.to_owned())]
}

/// Which devices a sync reads.
#[derive(Clone, Copy, Debug)]
enum Select<'a> {
    /// Every device the filters select.
    All,
    /// The devices of these names (exact) that the filters select.
    Names(&'a BTreeSet<String>),
    /// The devices of these ids that the filters select. Devices and their components are
    /// read at once (the ids need no device request first); NetBox answers 400 when one of
    /// the ids no longer exists.
    Ids(&'a [u64]),
}

/// Fetches everything the mapping needs for the devices the filters select.
pub async fn fetch_snapshot(client: &Client, filters: &Filters) -> Result<Snapshot, SyncError> {
    fetch_snapshot_of(client, filters, Select::All).await
}

/// Like [`fetch_snapshot`], for the devices of `names` only (NetBox device names, exact) that
/// the filters select: what a webhook re-sync reads.
pub async fn fetch_devices_snapshot(
    client: &Client,
    filters: &Filters,
    names: &BTreeSet<String>,
) -> Result<Snapshot, SyncError> {
    if names.is_empty() {
        return Ok(Snapshot::default());
    }
    fetch_snapshot_of(client, filters, Select::Names(names)).await
}

/// The L2VPN terminations on VLANs (the VNIs) do not depend on the devices: they are read
/// while the device requests run, which saves one round trip per sync (a webhook's too).
#[instrument(skip_all, fields(netbox = %client.base_url()))]
async fn fetch_snapshot_of(
    client: &Client,
    filters: &Filters,
    select: Select<'_>,
) -> Result<Snapshot, SyncError> {
    let terminations = async {
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
    };
    // Both run to the end, so that a failure is reported the same way every time (the
    // devices' error first: a wrong URL or token fails both).
    let (snapshot, l2vpn_terminations) = futures::join!(
        fetch_devices_and_components(client, filters, select),
        terminations
    );
    let mut snapshot = snapshot?;
    let l2vpn_terminations = l2vpn_terminations?;
    if !snapshot.devices.is_empty() {
        snapshot.l2vpn_terminations = l2vpn_terminations;
    }
    Ok(snapshot)
}

type Components = (
    Vec<records::Interface>,
    Vec<records::IpAddress>,
    Vec<records::BgpSession>,
);

/// Interfaces, addresses and BGP sessions of the devices `ids`.
async fn components(client: &Client, ids: &[u64]) -> Result<Components, SyncError> {
    futures::try_join!(
        list_by::<records::Interface, _>(
            client,
            "interfaces",
            paths::INTERFACES,
            fields_only(fields::INTERFACE),
            "device_id",
            ids,
            DEVICES_PER_QUERY
        ),
        list_by::<records::IpAddress, _>(
            client,
            "IP addresses",
            paths::IP_ADDRESSES,
            fields_only(fields::IP_ADDRESS),
            "device_id",
            ids,
            DEVICES_PER_QUERY
        ),
        list_by::<records::BgpSession, _>(
            client,
            "BGP sessions (netbox-bgp plugin)",
            paths::BGP_SESSIONS,
            fields_only(fields::BGP_SESSION),
            "device_id",
            ids,
            DEVICES_PER_QUERY
        ),
    )
}

async fn fetch_devices_and_components(
    client: &Client,
    filters: &Filters,
    select: Select<'_>,
) -> Result<Snapshot, SyncError> {
    let mut q = filter_query(filters);
    q.push(("fields", fields::DEVICE.to_owned()));
    let (devices, (interfaces, ip_addresses, bgp_sessions)) = match select {
        Select::All | Select::Names(_) => {
            let devices: Vec<records::Device> = match select {
                Select::Names(names) => {
                    let names: Vec<&String> = names.iter().collect();
                    list_by(
                        client,
                        "devices",
                        paths::DEVICES,
                        q.clone(),
                        "name",
                        &names,
                        DEVICES_PER_QUERY,
                    )
                    .await?
                }
                _ => client
                    .list(paths::DEVICES, &q)
                    .await
                    .map_err(|source| SyncError {
                        what: "devices",
                        source,
                    })?,
            };
            if devices.is_empty() {
                return Ok(Snapshot::default());
            }
            let ids: Vec<u64> = devices.iter().map(|d| d.id).collect();
            let parts = components(client, &ids).await?;
            (devices, parts)
        }
        Select::Ids(ids) => {
            let devices = list_by::<records::Device, _>(
                client,
                "devices",
                paths::DEVICES,
                q.clone(),
                "id",
                ids,
                DEVICES_PER_QUERY,
            );
            let (devices, parts) = futures::try_join!(devices, components(client, ids))?;
            if devices.is_empty() {
                return Ok(Snapshot::default());
            }
            (devices, parts)
        }
    };

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
    let (vrfs, bgp_peer_groups, vlans) = futures::try_join!(
        list_by::<records::Vrf, _>(
            client,
            "VRFs",
            paths::VRFS,
            fields_only(fields::VRF),
            "id",
            &vrf_ids,
            IDS_PER_QUERY
        ),
        list_by::<records::BgpPeerGroup, _>(
            client,
            "BGP peer groups (netbox-bgp plugin)",
            paths::BGP_PEER_GROUPS,
            fields_only(fields::BGP_PEER_GROUP),
            "id",
            &group_ids,
            IDS_PER_QUERY
        ),
        list_by::<records::Vlan, _>(
            client,
            "VLANs",
            paths::VLANS,
            fields_only(fields::VLAN),
            "vid",
            &svi_vids,
            IDS_PER_QUERY
        ),
    )?;
    Ok(Snapshot {
        devices,
        interfaces,
        ip_addresses,
        vrfs,
        vlans,
        l2vpn_terminations: Vec::new(),
        bgp_sessions,
        bgp_peer_groups,
    })
}

#[derive(serde::Deserialize)]
struct OnDevice {
    device: records::Ref,
}

#[derive(serde::Deserialize)]
struct OnVlan {
    assigned_object: Option<VlanRef>,
}

#[derive(serde::Deserialize)]
struct VlanRef {
    id: u64,
    vid: Option<u16>,
}

/// The devices (NetBox name → id) whose intent a change of `shared` may change: those with an
/// interface that has one of the VLANs (untagged or tagged), or an SVI `Vlan<vid>` of one of
/// the vids, including the VLANs the L2VPNs terminate on. Not filtered: the re-sync of these
/// devices applies the source's filters. A webhook's first step for a VLAN or L2VPN event.
pub async fn devices_of(
    client: &Client,
    shared: &SharedObjects,
) -> Result<BTreeMap<String, u64>, SyncError> {
    let mut vlans = shared.vlans.clone();
    let mut vids = shared.vids.clone();
    let l2vpns: Vec<u64> = shared.l2vpns.iter().copied().collect();
    if !l2vpns.is_empty() {
        let base = vec![
            ("assigned_object_type", "ipam.vlan".to_owned()),
            ("fields", "assigned_object".to_owned()),
        ];
        match list_by::<OnVlan, _>(
            client,
            "L2VPN terminations",
            paths::L2VPN_TERMINATIONS,
            base,
            "l2vpn_id",
            &l2vpns,
            IDS_PER_QUERY,
        )
        .await
        {
            Ok(terminations) => {
                for v in terminations.into_iter().filter_map(|t| t.assigned_object) {
                    vlans.insert(v.id);
                    vids.extend(v.vid);
                }
            }
            // An L2VPN id NetBox no longer has: it was deleted, and its deletion event asks
            // for a full sync.
            Err(SyncError {
                source: ClientError::Rejected { status: 400, .. },
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    let fields = fields_only("device");
    // `vlan_id` takes one value (NetBox keeps the last of several): one request per VLAN.
    let by_vlan = try_join_all(vlans.iter().map(|id| {
        let mut q = fields.clone();
        q.push(("vlan_id", id.to_string()));
        async move {
            client
                .list::<OnDevice>(paths::INTERFACES, &q)
                .await
                .map_err(|source| SyncError {
                    what: "interfaces of a VLAN",
                    source,
                })
        }
    }));
    let svi_names: Vec<String> = vids.iter().map(|v| format!("vlan{v}")).collect();
    let svis = list_by::<OnDevice, _>(
        client,
        "SVIs of a VLAN",
        paths::INTERFACES,
        fields.clone(),
        "name__ie",
        &svi_names,
        IDS_PER_QUERY,
    );
    let (by_vlan, svis) = futures::try_join!(by_vlan, svis)?;
    Ok(by_vlan
        .into_iter()
        .flatten()
        .chain(svis)
        .filter_map(|i| Some((i.device.name?, i.device.id)))
        .collect())
}

/// One full sync: every device the filters select, mapped to FabricDevice specs.
///
/// Errors: an unreachable NetBox, a refused token, a wrong URL or a server error fail the whole
/// sync (the operator keeps the last intent and sets a condition); a device whose data cannot
/// be mapped is an entry of `SyncResult::errors` and does not stop the others.
pub async fn sync(client: &Client, config: &SyncConfig) -> Result<SyncResult, SyncError> {
    Ok(sync_of(client, config, Select::All).await?.0)
}

/// A sync of the devices named (NetBox names, exact) that the filters select: what a webhook
/// triggers. A name missing from [`SyncResult::selected_device_names`] (lowercased) is a device
/// that was deleted, renamed or left the filters.
///
/// `ids` are the NetBox ids a webhook payload gave for some of the names. When every name has
/// one, devices and their components are read in one round trip instead of two. That read
/// only counts when it finds every id under its name: an id NetBox no longer has (it answers
/// 400), one the filters do not select (a device of another site with the same name as one of
/// ours) or a renamed device sends the sync by names, so that a device missing from the
/// result is one the filters really do not select by that name.
pub async fn sync_devices(
    client: &Client,
    config: &SyncConfig,
    names: &BTreeSet<String>,
    ids: &BTreeMap<String, u64>,
) -> Result<SyncResult, SyncError> {
    if names.is_empty() {
        return Ok(SyncResult::default());
    }
    if names.iter().all(|n| ids.contains_key(n)) {
        let ids: Vec<u64> = names
            .iter()
            .filter_map(|n| ids.get(n).copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match sync_of(client, config, Select::Ids(&ids)).await {
            Err(SyncError {
                source: ClientError::Rejected { status: 400, .. },
                ..
            }) => {}
            Ok((result, read)) if read == ids.len() && selects_all(&result, names) => {
                return Ok(result);
            }
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sync_of(client, config, Select::Names(names)).await?.0)
}

/// Whether `result` holds every name of `names` (a device renamed since the event may hold
/// its id under another name).
fn selects_all(result: &SyncResult, names: &BTreeSet<String>) -> bool {
    let selected = result.selected_device_names();
    names
        .iter()
        .all(|n| selected.contains(&n.to_ascii_lowercase()))
}

/// The result, and how many devices NetBox returned.
async fn sync_of(
    client: &Client,
    config: &SyncConfig,
    select: Select<'_>,
) -> Result<(SyncResult, usize), SyncError> {
    let start = Instant::now();
    let before = client.request_count();
    let snapshot = fetch_snapshot_of(client, &config.filters, select).await?;
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
        partial = !matches!(select, Select::All),
        "NetBox sync done"
    );
    Ok((
        SyncResult {
            devices,
            errors,
            requests,
        },
        snapshot.devices.len(),
    ))
}
